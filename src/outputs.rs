//! Two operator commands over an execution's run bucket: `stackfleet outputs`, the stack
//! outputs of a rollout's targets as JSON on stdout, from an execution's run (outputs.json, as
//! Reduce wrote it) or from a local run's JSON report; and `stackfleet approve`, the approval of
//! a plan-first execution's plan.

use std::process::ExitCode;

use serde::Serialize;
use stackfleet_core::escape;
use stackfleet_core::operator;
use stackfleet_core::outputs::{one_output, outputs_map, OutputsMap};

use crate::cli::{ApproveArgs, ExecutionArgs, OutputsArgs};
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

pub async fn approve(args: ApproveArgs) -> Result<ExitCode, CliError> {
    let (config, executions) = connect(&args.execution).await?;
    let store = store(&config, &executions, &args.execution).await?;
    let approver = stackfleet_aws::sts::caller_arn(&config)
        .await
        .map_err(|e| CliError::Runtime(format!("cannot tell who is approving (GetCallerIdentity): {e}")))?;
    let now = stackfleet_core::lifecycle::Clock::now_ms(&stackfleet_core::lifecycle::SystemClock);
    let approval = stackfleet_core::approving::approve(
        &executions,
        &store,
        &args.execution.execution_arn,
        &args.groups,
        &approver,
        now,
    )
    .await?;
    println!(
        "approved {} as {}: the execution applies {} at its next look (within a minute), and \
         deletes the other groups' change sets",
        approval.groups.join(", "),
        escape::terminal_text(&approval.approved_by),
        if approval.groups.len() == 1 { "it" } else { "them" }
    );
    Ok(ExitCode::SUCCESS)
}

/// As JSON, with what a terminal would act on written as escapes: outputs are the template's.
fn print(value: &impl Serialize) -> Result<(), CliError> {
    let json = serde_json::to_string_pretty(value)
        .map_err(|e| CliError::Runtime(format!("cannot write the outputs as JSON: {e}")))?;
    println!("{}", escape::json(&json));
    Ok(())
}
