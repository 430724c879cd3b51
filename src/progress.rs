//! Progress a user can see: a bar on a terminal, one plain line per target otherwise.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};
use stackfleet_core::escape::terminal_line;
use stackfleet_core::{Outcome, OutcomeKind};

/// `[done/total] target kind (seconds)`, and why for a failure or a skip: its cause is AWS's
/// and the member account's text, escaped for a terminal.
fn landed_line(done: usize, total: usize, outcome: &Outcome) -> String {
    let detail = match (
        outcome.failure(),
        outcome.skipped_reason().or(outcome.stale_reason()),
    ) {
        (Some(failure), _) => format!(": {}: {}", failure.error, failure.root_cause),
        (None, Some(reason)) => format!(": {reason}"),
        (None, None) => String::new(),
    };
    format!(
        "[{done}/{total}] {} {} ({:.1} s){}",
        outcome.target,
        outcome.kind(),
        outcome.duration_ms as f64 / 1000.0,
        terminal_line(&detail)
    )
}

#[derive(Debug)]
pub struct Progress {
    bar: Option<ProgressBar>,
    total: usize,
    done: usize,
    failed: usize,
}

impl Progress {
    pub fn new(total: usize, verb: &str, plain: bool) -> Self {
        let bar = (!plain && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::new(total as u64);
            let style = ProgressStyle::with_template(&format!(
                "{{spinner}} {verb} [{{elapsed_precise}}] {{bar:30}} {{pos}}/{{len}} {{msg}}"
            ))
            .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
            bar.enable_steady_tick(std::time::Duration::from_millis(200));
            bar
        });
        Self {
            bar,
            total,
            done: 0,
            failed: 0,
        }
    }

    pub fn landed(&mut self, outcome: &Outcome) {
        self.done += 1;
        if outcome.kind() == OutcomeKind::Failed {
            self.failed += 1;
        }
        let line = landed_line(self.done, self.total, outcome);
        match &self.bar {
            Some(bar) => {
                if outcome.kind() == OutcomeKind::Failed {
                    bar.println(line);
                }
                bar.set_message(format!("{} failed", self.failed));
                bar.inc(1);
            }
            None => eprintln!("{line}"),
        }
    }

    /// A line of its own (a wave begins, a bake, a halt and its reason), above the bar when
    /// there is one.
    pub fn say(&self, line: &str) {
        let line = terminal_line(line);
        match &self.bar {
            Some(bar) => bar.println(line),
            None => eprintln!("{line}"),
        }
    }

    /// One more target done, nothing to say about it.
    pub fn tick(&mut self) {
        self.done += 1;
        match &self.bar {
            Some(bar) => bar.inc(1),
            None if self.done.is_multiple_of(10) || self.done == self.total => {
                eprintln!("[{}/{}] planned", self.done, self.total);
            }
            None => {}
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use stackfleet_core::{ErrorName, RootCause};

    use super::*;

    #[test]
    fn a_landed_target_is_one_line_with_no_escape_sequence() {
        let mut cause = RootCause::message(
            "already exists\u{1b}[2K\r\u{1b}[32m[3/3] 333333333333:us-east-1 Created\u{1b}[0m\u{7}",
        );
        cause.logical_id = Some("Role\u{1b}]0;owned\u{7}".into());
        cause.resource_type = Some("AWS::IAM::Role".into());
        cause.status = Some("CREATE_FAILED".into());
        let outcome = Outcome::failed(
            "111111111111:us-east-1".parse().unwrap(),
            ErrorName::StackFailed,
            cause,
            1500,
            4,
        );
        assert_eq!(
            landed_line(1, 3, &outcome),
            "[1/3] 111111111111:us-east-1 Failed (1.5 s): StackFailed: Role (AWS::IAM::Role) CREATE_FAILED: already exists [3/3] 333333333333:us-east-1 Created"
        );
    }
}
