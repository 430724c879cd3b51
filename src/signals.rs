//! Ctrl-C and SIGTERM (what a CI system sends to cancel a job) stop a run alike: the first
//! starts nothing new and lets the targets in flight finish, reported; a second abandons them at
//! once, after a last write of the JSON report.

use stackfleet_core::rollout::{StopReason, StopSignal};
use tokio::signal::unix::{signal, Signal, SignalKind};

use crate::live_report::KeptReport;
use crate::CliError;

/// Exit code of a run stopped by Ctrl-C or SIGTERM, as shells expect of an interrupt.
pub const INTERRUPTED: u8 = 130;

fn listen(kind: SignalKind, name: &str) -> Result<Signal, CliError> {
    signal(kind).map_err(|e| CliError::Runtime(format!("cannot listen for {name}: {e}")))
}

/// Listens from now on: a signal that arrives before the task first runs is kept.
pub fn stop_on_signals(
    stop: StopSignal,
    report: KeptReport,
) -> Result<tokio::task::JoinHandle<()>, CliError> {
    let mut interrupts = listen(SignalKind::interrupt(), "Ctrl-C")?;
    let mut terminations = listen(SignalKind::terminate(), "SIGTERM")?;
    Ok(tokio::spawn(async move {
        let what = tokio::select! {
            Some(()) = interrupts.recv() => "interrupted",
            Some(()) = terminations.recv() => "terminated (SIGTERM)",
            else => return,
        };
        stop.stop(StopReason::Interrupted);
        eprintln!(
            "stackfleet: {what}: starting nothing new, waiting for the targets in flight (Ctrl-C \
             or SIGTERM again abandons them; {} keeps what has landed)",
            report.path().display()
        );
        tokio::select! {
            Some(()) = interrupts.recv() => {}
            Some(()) = terminations.recv() => {}
            else => return,
        }
        if let Err(error) = report.flush() {
            eprintln!("stackfleet: {error}");
        }
        eprintln!(
            "stackfleet: abandoned the targets in flight; {} has what landed: --resume {0} \
             finishes the run, following the operations left running",
            report.path().display()
        );
        std::process::exit(i32::from(INTERRUPTED));
    }))
}
