//! `stackfleet outputs`: the stack outputs of a rollout's targets, as JSON on stdout, from an
//! execution's run (outputs.json, as Reduce wrote it) or from a local run's JSON report.

use std::process::ExitCode;

use serde::Serialize;
use stackfleet_core::escape;
use stackfleet_core::operator;
use stackfleet_core::outputs::{one_output, outputs_map, OutputsMap};

use crate::cli::{ExecutionArgs, OutputsArgs};
use crate::operate::{connect, store};
use crate::resume::read_report;
use crate::CliError;

pub async fn outputs(args: OutputsArgs) -> Result<ExitCode, CliError> {
    let map = match (&args.report, args.execution_arn) {
        (Some(path), _) => outputs_map(&read_report(path)?.outcomes),
        (None, Some(execution_arn)) => {
            let execution = ExecutionArgs {
                execution_arn,
                bucket: args.bucket,
                aws: args.aws,
            };
            let (config, executions) = connect(&execution).await?;
            let store = store(&config, &executions, &execution).await?;
            operator::outputs(&executions, &store, &execution.execution_arn).await?
        }
        // clap requires one of the two.
        (None, None) => OutputsMap::new(),
    };
    match &args.key {
        Some(key) => print(&one_output(&map, key))?,
        None => print(&map)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// As JSON, with what a terminal would act on written as escapes: outputs are the template's.
fn print(value: &impl Serialize) -> Result<(), CliError> {
    let json = serde_json::to_string_pretty(value)
        .map_err(|e| CliError::Runtime(format!("cannot write the outputs as JSON: {e}")))?;
    println!("{}", escape::json(&json));
    Ok(())
}
