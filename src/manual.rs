//! `stackfleet completions SHELL` and `stackfleet man`: generated from the clap definitions, so
//! they never drift from the commands.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use clap::CommandFactory;

use crate::cli::Cli;
use crate::CliError;

/// The script on stdout. Written whole from memory: clap_complete panics when its writer fails,
/// and a reader that stops early (`| head`) is not an error.
pub fn completions(shell: clap_complete::Shell) {
    let mut command = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, "stackfleet", &mut script);
    let _ = std::io::stdout().write_all(&script);
}

/// stackfleet(1) on stdout; or, into `out_dir`, it and a page per command (stackfleet-deploy(1)
/// ...), each file named as man looks it up.
pub fn man(out_dir: Option<&Path>) -> Result<ExitCode, CliError> {
    let command = Cli::command();
    match out_dir {
        None => clap_mangen::Man::new(command)
            .render(&mut std::io::stdout())
            .map_err(|e| CliError::Runtime(format!("cannot write the man page: {e}")))?,
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .map_err(|e| CliError::Runtime(format!("cannot make {}: {e}", dir.display())))?;
            clap_mangen::generate_to(command, dir).map_err(|e| {
                CliError::Runtime(format!("cannot write the man pages into {}: {e}", dir.display()))
            })?;
            eprintln!("stackfleet: man pages written to {}", dir.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}
