//! The operator commands: `start`, `status`, `watch`, `rerun` and `report`, over the deployed
//! state machine. The decisions live in `stackfleet_core::operator`; this is flags and printing.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use aws_config::SdkConfig;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{json, Value};
use stackfleet_aws::{S3Store, SfnExecutions};
use stackfleet_core::approving::PlanStatus;
use stackfleet_core::escape::{self, terminal_line};
use stackfleet_core::executions::{self, Status};
use stackfleet_core::operator::{self, OperatorError, RunStatus, Submitted};
use stackfleet_core::report::{targets_count, Report};
use stackfleet_core::run_ids;
use stackfleet_core::secrets;
use stackfleet_core::started::{accepted_fields, await_discovery, Discovery};
use stackfleet_core::template::TemplateRef;
use stackfleet_core::{AccountId, ErrorName, InvalidId, Rollout, RunId, StackName};

use crate::cli::{ExecutionArgs, ReportArgs, ReportFormat, RerunArgs, StartArgs, StatusArgs, WatchArgs};
use crate::inputs::{self, InputError};
use crate::output::{list_targets, write_file};
use crate::CliError;

/// Failed looks in a row that `watch` sits out (after the SDK's own retries) before giving up.
const WATCH_MISSES: u32 = 5;
/// Step Functions refuses execution inputs over 256 KiB.
const MAX_INPUT_BYTES: usize = 256 * 1024;

impl From<OperatorError> for CliError {
    fn from(error: OperatorError) -> Self {
        match error {
            OperatorError::Refused(message) => Self::Input(InputError::new(message)),
            OperatorError::Aws(error) => Self::Runtime(error.to_string()),
        }
    }
}

/// The execution input `start` submits: the rollout document as the `--spec` file and the flags
/// give it, and nothing else. The lister lays it over the stored default spec, which fills in
/// the rest: its deploy role above all, the only one the worker may assume. A template file is
/// sent as its body.
fn execution_input(args: &StartArgs) -> Result<Rollout, InputError> {
    let document = inputs::document(
        &args.spec,
        &args.targets,
        Some(&args.pace),
        inputs::RoleDefault::Stored,
    )?;
    // The state machine keeps its input: a NoEcho value in plaintext is refused before it is
    // sent, when the template is here to say which parameters are NoEcho (else the lister does).
    if let Some(TemplateRef::Body(body)) = &document.template {
        secrets::refuse_plaintext_no_echo_in(
            &document.parameters,
            &document.parameter_overrides,
            &secrets::no_echo_declared(body.as_str()),
        )
        .map_err(|e| InputError::new(e.to_string()))?;
    }
    let size = serde_json::to_string(&document).map_or(0, |text| text.len());
    if size > MAX_INPUT_BYTES {
        return Err(InputError::new(format!(
            "the execution input is {size} bytes, over Step Functions' 256 KiB: pass the template with --template-url"
        )));
    }
    Ok(document)
}

/// A name the user chose: the run ID is the name as it is and the execution's start time, or
/// the name is refused.
fn chosen_name(name: &str) -> Result<String, InputError> {
    if run_ids::name_fits(name) {
        Ok(name.to_owned())
    } else {
        Err(InputError::new(format!(
            "{name:?} cannot name an execution: use 1-{} letters, digits and hyphens, starting with a letter or digit (the run ID is the name and the time the execution starts)",
            run_ids::NAME_ROOM
        )))
    }
}

fn check_state_machine(arn: &str) -> Result<(), InputError> {
    executions::execution_arn(arn, "x").map(|_| ()).ok_or_else(|| {
        InputError::new(format!(
            "{arn:?} is not a state machine ARN (arn:aws:states:REGION:ACCOUNT:stateMachine:NAME)"
        ))
    })
}

fn announce(submitted: &Submitted) {
    match &submitted.existing {
        None => eprintln!("started {}", submitted.name),
        Some(existing) => eprintln!(
            "{} was already started with this input ({}): nothing new started. To roll the same \
             input out again, pass --name.",
            submitted.name, existing.status
        ),
    }
    eprintln!("follow it: stackfleet watch {}", submitted.arn);
    println!("{}", submitted.arn);
}

pub async fn start(args: StartArgs) -> Result<ExitCode, CliError> {
    check_state_machine(&args.state_machine_arn)?;
    let document = execution_input(&args)?;
    let input = serde_json::to_value(&document)
        .map_err(|e| InputError::new(format!("the rollout document does not serialise: {e}")))?;
    let name = match args
        .name
        .as_deref()
        .or(args.spec.run_id.as_ref().map(RunId::as_str))
    {
        Some(name) => chosen_name(name)?,
        None => {
            // Named after the stack when the document names one, else after the tool.
            let stack: StackName = match &document.stack_name {
                Some(stack) => stack.clone(),
                None => "stackfleet"
                    .parse()
                    .map_err(|e: InvalidId| InputError::new(e.to_string()))?,
            };
            operator::execution_name(&stack, &input)
        }
    };
    let executions = SfnExecutions::from_config(&inputs::aws_settings(&args.aws).sdk_config().await);
    let submitted = operator::submit(&executions, &args.state_machine_arn, &name, &input).await?;
    announce(&submitted);
    if args.no_wait || submitted.existing.is_some() {
        return Ok(ExitCode::SUCCESS);
    }
    discovered(&executions, &args.state_machine_arn, &submitted.arn).await
}

/// How long `start` waits for Discover's verdict, and how often it looks.
const DISCOVERY_PATIENCE: Duration = Duration::from_secs(120);
const DISCOVERY_STEP: Duration = Duration::from_secs(2);

/// Waits for Discover to take or refuse the input, and says which. A refused field is named
/// by the machine; the fields it accepts come from its tags.
async fn discovered(executions: &SfnExecutions, machine: &str, arn: &str) -> Result<ExitCode, CliError> {
    match await_discovery(executions, arn, DISCOVERY_PATIENCE, DISCOVERY_STEP).await? {
        Discovery::Listed {
            targets,
            waves,
            skipped,
        } => {
            eprintln!(
                "discovered {targets} targets in {waves} wave{} ({skipped} skipped at once)",
                if waves == 1 { "" } else { "s" }
            );
            Ok(ExitCode::SUCCESS)
        }
        Discovery::Finished => {
            eprintln!("the execution has already succeeded: stackfleet status {arn}");
            Ok(ExitCode::SUCCESS)
        }
        Discovery::Pending => {
            eprintln!(
                "still discovering after {} s: follow it with stackfleet watch {arn}",
                DISCOVERY_PATIENCE.as_secs()
            );
            Ok(ExitCode::SUCCESS)
        }
        Discovery::Refused { error, cause } => {
            let mut message = format!(
                "the execution ended at Discover: {}: {}",
                terminal_line(&error),
                terminal_line(&cause)
            );
            if error == ErrorName::InvalidInput.as_str() {
                if let Some(accepted) = accepted_fields(executions, machine).await {
                    message.push_str(&format!("\nthis state machine accepts {accepted}"));
                }
                return Err(InputError::new(message).into());
            }
            Err(CliError::Runtime(message))
        }
    }
}

pub async fn rerun(args: RerunArgs) -> Result<ExitCode, CliError> {
    let name = args.name.as_deref().map(chosen_name).transpose()?;
    let (config, executions) = connect(&args.execution).await?;
    let store = store(&config, &executions, &args.execution).await?;
    let submitted = operator::rerun(
        &executions,
        &store,
        &args.execution.execution_arn,
        name.as_deref(),
    )
    .await?;
    announce(&submitted);
    if args.no_wait || submitted.existing.is_some() {
        return Ok(ExitCode::SUCCESS);
    }
    let machine = state_machine_of(&args.execution.execution_arn)?;
    discovered(&executions, &machine, &submitted.arn).await
}

fn state_machine_of(execution_arn: &str) -> Result<String, InputError> {
    executions::state_machine_arn(execution_arn).ok_or_else(|| {
        InputError::new(format!(
            "{execution_arn:?} is not an execution ARN (arn:aws:states:REGION:ACCOUNT:execution:MACHINE:NAME)"
        ))
    })
}

/// The clients of a command about one execution, from one configuration: the ARN checked first.
pub(crate) async fn connect(args: &ExecutionArgs) -> Result<(SdkConfig, SfnExecutions), CliError> {
    state_machine_of(&args.execution_arn)?;
    let config = inputs::aws_settings(&args.aws).sdk_config().await;
    let executions = SfnExecutions::from_config(&config);
    Ok((config, executions))
}

/// The run store of the execution's state machine.
pub(crate) async fn store(
    config: &SdkConfig,
    executions: &SfnExecutions,
    args: &ExecutionArgs,
) -> Result<S3Store, CliError> {
    let machine = state_machine_of(&args.execution_arn)?;
    let bucket = operator::bucket(executions, &machine, args.bucket.as_deref()).await?;
    // The bucket must be the state machine's account's: a tag or a --bucket naming another
    // account's bucket gets a 403 from S3, not that account's records.
    let owner: AccountId = machine
        .split(':')
        .nth(4)
        .and_then(|account| account.parse().ok())
        .ok_or_else(|| {
            InputError::new(format!(
                "{machine} names no account: the run bucket's owner is unknown"
            ))
        })?;
    Ok(S3Store::from_config(config, bucket).with_expected_owner(owner.as_str()))
}

/// Status without the store is still status: the live failure count is then unknown. Said once.
async fn optional_store(
    config: &SdkConfig,
    executions: &SfnExecutions,
    args: &ExecutionArgs,
) -> Option<S3Store> {
    match store(config, executions, args).await {
        Ok(store) => Some(store),
        Err(error) => {
            eprintln!(
                "stackfleet: failures so far unknown: {}",
                terminal_line(&error.to_string())
            );
            None
        }
    }
}

fn elapsed(status: &RunStatus) -> String {
    let end = status.execution.stopped_at_ms.unwrap_or_else(|| {
        stackfleet_core::lifecycle::Clock::now_ms(&stackfleet_core::lifecycle::SystemClock)
    });
    let seconds = end.saturating_sub(status.execution.started_at_ms) / 1000;
    format!("{}m {:02}s", seconds / 60, seconds % 60)
}

/// Failed targets: the reduced summary once there, else the markers counted so far.
fn failed(status: &RunStatus) -> Option<u64> {
    match (&status.reduced, status.failed) {
        (Some(reduced), _) => Some(reduced.summary.failed as u64),
        (None, Some(markers)) => Some(markers as u64),
        (None, None) => None,
    }
}

fn progress_line(status: &RunStatus) -> String {
    let failed = failed(status).map_or_else(|| "? failed".to_owned(), |n| format!("{n} failed"));
    match &status.items {
        None if status.execution.status == Status::Running => "discovering the targets".to_owned(),
        None => "no target reached the map".to_owned(),
        Some(items) => format!(
            "{}: {} done ({failed}), {} running, {} pending",
            items.total,
            items.finished(),
            items.running,
            items.pending
        ),
    }
}

fn print_status(status: &RunStatus) {
    let execution = &status.execution;
    println!("execution  {}", execution.arn);
    println!(
        "run        {} (its records: runs/{}/ in the run bucket)",
        status.run, status.run
    );
    let when = if execution.status.is_finished() {
        "ran"
    } else {
        "running for"
    };
    println!("state      {} ({when} {})", execution.status, elapsed(status));
    println!("targets    {}", progress_line(status));
    if let Some(plan) = &status.plan {
        print_plan(plan, status);
    }
    if let Some(reduced) = &status.reduced {
        let s = &reduced.summary;
        println!(
            "result     {} created, {} updated, {} unchanged, {} failed, {} skipped",
            s.created, s.updated, s.unchanged, s.failed, s.skipped
        );
        for group in &reduced.failures {
            println!(
                "failed     {}  {}: {}",
                targets_count(group.count),
                group.error,
                terminal_line(&group.cause)
            );
            println!("             {}", list_targets(&group.targets));
        }
        if reduced.resume_input_key.is_some() {
            println!("re-run     stackfleet rerun {}", execution.arn);
        }
    } else if let (Some(error), true) = (&execution.error, execution.status.is_finished()) {
        println!(
            "error      {}: {}",
            terminal_line(error),
            terminal_line(execution.cause.as_deref().unwrap_or(""))
        );
    }
}

/// A plan-first run's plan: its groups, and what to do while it waits.
fn print_plan(plan: &PlanStatus, status: &RunStatus) {
    let digest = &plan.digest;
    let state = match (plan.decided, status.execution.status.is_finished()) {
        (true, _) => "decided: the waves apply what was approved".to_owned(),
        (false, true) => "not approved".to_owned(),
        (false, false) => format!(
            "waiting for approval, until {} (stackfleet approve {} --group ID, or --all)",
            time_of(digest.expires_at_ms),
            status.execution.arn
        ),
    };
    println!(
        "plan       {} in {} group{}: {state}",
        targets_count(digest.targets),
        digest.group_count,
        if digest.group_count == 1 { "" } else { "s" }
    );
    for group in &digest.groups {
        println!(
            "  group    {}  {}: {}",
            group.id,
            targets_count(group.targets),
            terminal_line(&group.headline)
        );
    }
    if digest.group_count > digest.groups.len() {
        println!(
            "  ...      {} more groups in {}",
            digest.group_count - digest.groups.len(),
            digest.plan_md_key
        );
    }
}

/// Milliseconds since the epoch, as UTC to the minute.
fn time_of(ms: u64) -> String {
    stackfleet_core::run_ids::start_time_text(ms)
}

fn status_json(status: &RunStatus) -> Value {
    let e = &status.execution;
    json!({
        "executionArn": e.arn,
        "name": e.name,
        "run": status.run,
        "status": e.status.to_string(),
        "startedAtMs": e.started_at_ms,
        "stoppedAtMs": e.stopped_at_ms,
        "targets": status.items.map(|i| json!({
            "total": i.total,
            "done": i.finished(),
            "running": i.running,
            "pending": i.pending,
            "failed": failed(status),
        })),
        "summary": status.reduced.as_ref().map(|r| json!(r.summary)),
        "plan": status.plan.as_ref().map(|p| json!({
            "digest": p.digest,
            "waitingForApproval": !p.decided && !e.status.is_finished(),
        })),
        "error": e.error,
        "cause": e.cause,
    })
}

pub async fn status(args: StatusArgs) -> Result<ExitCode, CliError> {
    let (config, executions) = connect(&args.execution).await?;
    let store = optional_store(&config, &executions, &args.execution).await;
    let status = operator::status(&executions, store.as_ref(), &args.execution.execution_arn).await?;
    if args.json {
        println!("{}", status_json(&status));
    } else {
        print_status(&status);
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn watch(args: WatchArgs) -> Result<ExitCode, CliError> {
    let (config, executions) = connect(&args.execution).await?;
    let store = optional_store(&config, &executions, &args.execution).await;
    let terminal = !args.no_progress && std::io::stderr().is_terminal();
    let mut bar: Option<ProgressBar> = None;
    let mut last_line = String::new();
    let mut misses = 0;
    let status = loop {
        let status = match operator::status(&executions, store.as_ref(), &args.execution.execution_arn).await
        {
            Ok(status) => {
                misses = 0;
                status
            }
            // A long watch outlives a network blip: look again, up to a few times in a row.
            Err(OperatorError::Aws(error)) if misses < WATCH_MISSES => {
                misses += 1;
                eprintln!(
                    "stackfleet: could not look ({}); trying again",
                    terminal_line(&error.to_string())
                );
                tokio::time::sleep(Duration::from_secs(args.interval)).await;
                continue;
            }
            Err(error) => return Err(error.into()),
        };
        let line = progress_line(&status);
        match (&status.items, terminal) {
            (Some(items), true) => {
                let bar = bar.get_or_insert_with(|| {
                    let bar = ProgressBar::new(items.total);
                    let style = ProgressStyle::with_template(
                        "{spinner} rolling out [{elapsed_precise}] {bar:30} {pos}/{len} {msg}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar());
                    bar.set_style(style);
                    bar.enable_steady_tick(Duration::from_millis(200));
                    bar
                });
                bar.set_length(items.total);
                bar.set_position(items.finished());
                let failed = failed(&status).map_or_else(|| "?".to_owned(), |n| n.to_string());
                bar.set_message(format!("{failed} failed, {} running", items.running));
            }
            _ if line != last_line => eprintln!("{} {line}", status.execution.status),
            _ => {}
        }
        last_line = line;
        if status.execution.status.is_finished() {
            break status;
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(args.interval)) => {}
            _ = tokio::signal::ctrl_c() => {
                if let Some(bar) = &bar { bar.abandon(); }
                eprintln!("stackfleet: stopped watching; the execution goes on");
                return Ok(ExitCode::from(130));
            }
        }
    };
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    print_status(&status);
    Ok(if status.execution.status == Status::Succeeded {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

pub async fn report(args: ReportArgs) -> Result<ExitCode, CliError> {
    let (config, executions) = connect(&args.execution).await?;
    let store = store(&config, &executions, &args.execution).await?;
    let report: Report = operator::report(&executions, &store, &args.execution.execution_arn).await?;
    let text = match args.format {
        ReportFormat::Md => report.to_markdown(),
        // The same value, with what a terminal would act on written as escapes.
        ReportFormat::Json => serde_json::to_string_pretty(&report)
            .map(|json| escape::json(&json))
            .map_err(|e| CliError::Runtime(format!("cannot write the report as JSON: {e}")))?,
        ReportFormat::Junit => report.to_junit(),
    };
    match &args.output {
        Some(path) => write_file(path, &text).map_err(CliError::Runtime)?,
        None => println!("{text}"),
    }
    Ok(ExitCode::SUCCESS)
}
