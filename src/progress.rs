//! Progress a user can see: a bar on a terminal, one plain line per target otherwise.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};
use stackfleet_core::{Outcome, OutcomeKind};

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
        let detail = match (outcome.failure(), outcome.skipped_reason()) {
            (Some(failure), _) => format!(": {}: {}", failure.error, failure.root_cause),
            (None, Some(reason)) => format!(": {reason}"),
            (None, None) => String::new(),
        };
        let line = format!(
            "[{}/{}] {} {} ({:.1} s){detail}",
            self.done,
            self.total,
            outcome.target,
            outcome.kind(),
            outcome.duration_ms as f64 / 1000.0
        );
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

    /// A line of its own (a wave begins, a bake), above the bar when there is one.
    pub fn say(&self, line: &str) {
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
