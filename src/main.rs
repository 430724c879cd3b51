//! The `stackfleet` command line: thin, over `stackfleet-core` and `stackfleet-aws`.

mod apply;
mod cli;
mod deploy;
mod inputs;
mod live_report;
mod manual;
mod operate;
mod output;
mod outputs;
mod plan;
mod preflight;
mod progress;
mod resume;
mod signals;

use std::process::ExitCode;

use clap::Parser;
use stackfleet_core::escape::terminal_text;

/// How a command failed: input the user must fix (exit 2) or a run that could not go on (exit 1).
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Input(#[from] inputs::InputError),
    #[error("{0}")]
    Runtime(String),
}

impl From<stackfleet_core::preflight::PreflightError> for CliError {
    fn from(error: stackfleet_core::preflight::PreflightError) -> Self {
        use stackfleet_core::preflight::PreflightError;
        match error {
            PreflightError::Spec(_) | PreflightError::Template(_) => {
                Self::Input(inputs::InputError::new(error.to_string()))
            }
            PreflightError::Unreachable(_) => Self::Runtime(error.to_string()),
        }
    }
}

impl From<stackfleet_core::targeting::TargetingError> for CliError {
    fn from(error: stackfleet_core::targeting::TargetingError) -> Self {
        match error {
            stackfleet_core::targeting::TargetingError::Aws(_) => Self::Runtime(error.to_string()),
            other => Self::Input(inputs::InputError::new(other.to_string())),
        }
    }
}

/// Logs on stderr, as `RUST_LOG` asks; the SDK's TRACE events (whole request bodies, parameter
/// values among them) never.
fn init_tracing() {
    use tracing_subscriber::filter::{filter_fn, FilterExt};
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::Layer;
    let asked = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into());
    let logs = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_filter(asked.and(filter_fn(stackfleet_aws::logs::loggable)));
    tracing_subscriber::registry().with(logs).init();
}

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    init_tracing();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("stackfleet: cannot start: {error}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            cli::Command::Deploy(args) => deploy::deploy(args).await,
            cli::Command::Plan(args) => plan::plan(args).await,
            cli::Command::Apply(args) => apply::apply(args).await,
            cli::Command::Start(args) => operate::start(args).await,
            cli::Command::Status(args) => operate::status(args).await,
            cli::Command::Watch(args) => operate::watch(args).await,
            cli::Command::Rerun(args) => operate::rerun(args).await,
            cli::Command::Report(args) => operate::report(args).await,
            cli::Command::Outputs(args) => outputs::outputs(args).await,
            cli::Command::Approve(args) => outputs::approve(args).await,
            cli::Command::Schema => {
                print!("{}", stackfleet_core::document::json_schema());
                Ok(ExitCode::SUCCESS)
            }
            cli::Command::Completions { shell } => {
                manual::completions(shell);
                Ok(ExitCode::SUCCESS)
            }
            cli::Command::Man { out_dir } => manual::man(out_dir.as_deref()),
        }
    });
    // An error may quote AWS (a refused call, an execution's cause): escaped for the terminal.
    match result {
        Ok(code) => code,
        Err(CliError::Input(error)) => {
            eprintln!("stackfleet: {}", terminal_text(&error.to_string()));
            ExitCode::from(2)
        }
        Err(CliError::Runtime(error)) => {
            eprintln!("stackfleet: {}", terminal_text(&error));
            ExitCode::from(1)
        }
    }
}
