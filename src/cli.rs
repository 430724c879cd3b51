//! The command line, as clap reads it. Values are parsed into core's types here, at the edge.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use stackfleet_core::rollout::FailureTolerance;
use stackfleet_core::{AccountId, Region, RunId, StackName};

/// The version and the commit it was built from (build.rs).
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("STACKFLEET_COMMIT"),
    ")"
);

#[derive(Debug, Parser)]
#[command(
    name = "stackfleet",
    version = VERSION,
    about = "Roll one CloudFormation stack out to every account of an AWS Organization, in parallel"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create or update the stack in every target, recover stuck stacks, report per target.
    Deploy(DeployArgs),
    /// Show what a deploy would change in each target, from change sets; changes nothing. With
    /// --out, keeps the change sets for review and writes the plan that `apply` executes.
    Plan(PlanArgs),
    /// Execute the reviewed change sets of a plan (plan --out), group by group: each only while
    /// it and its stack are as planned (else the target is Stale); deletes the rest.
    Apply(ApplyArgs),
    /// Start a rollout on the deployed state machine; prints the execution ARN. Starting the
    /// same input again finds the execution it started instead of starting a second one.
    Start(StartArgs),
    /// An execution's state and its targets: done, failed, running.
    Status(StatusArgs),
    /// An execution's status, live, until it ends: exit 0 if it succeeded, 1 if not.
    Watch(WatchArgs),
    /// Start a new execution for exactly the targets that failed in an execution.
    Rerun(RerunArgs),
    /// Approve groups of a plan-first execution's plan (`mode: plan`): it then applies their
    /// reviewed change sets, in its waves, and deletes the others'. Once per plan.
    Approve(ApproveArgs),
    /// Print an execution's report, as Markdown, JSON or JUnit XML.
    Report(ReportArgs),
    /// Print the stack outputs of every target that succeeded, as JSON {account: {region: {key:
    /// value}}}: an execution's (EXECUTION_ARN) or a local run's (--report).
    Outputs(OutputsArgs),
    /// Print the JSON Schema of the rollout document (--spec), for editors and reviews.
    Schema,
    /// Print the shell completion script for SHELL (see the README's Install).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page stackfleet(1); with --out-dir, write it and one page per command there.
    Man {
        #[arg(long, value_name = "DIR")]
        out_dir: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
pub struct StartArgs {
    /// The stackfleet state machine (the CDK app's StateMachineArn output).
    #[arg(long, env = "STACKFLEET_STATE_MACHINE_ARN")]
    pub state_machine_arn: String,
    #[command(flatten)]
    pub spec: SpecArgs,
    #[command(flatten)]
    pub targets: TargetArgs,
    #[command(flatten)]
    pub aws: AwsArgs,
    #[command(flatten)]
    pub pace: PaceArgs,
    /// The execution's name, at most 47 characters (its run ID is the name and the time it
    /// starts). Default: the stack name and a hash of the input.
    #[arg(long, conflicts_with = "run_id")]
    pub name: Option<String>,
    /// Return once the execution is started, without waiting (up to 2 minutes) for its
    /// Discover step to accept or refuse the input.
    #[arg(long)]
    pub no_wait: bool,
}

#[derive(Debug, Args)]
pub struct ExecutionArgs {
    /// The execution, as `start` printed it.
    #[arg(value_name = "EXECUTION_ARN")]
    pub execution_arn: String,
    /// The bucket of the run records. Default: the state machine's stackfleet:bucket tag.
    #[arg(long)]
    pub bucket: Option<String>,
    #[command(flatten)]
    pub aws: AwsArgs,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub execution: ExecutionArgs,
    /// The status as one JSON object.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    #[command(flatten)]
    pub execution: ExecutionArgs,
    /// Seconds between two looks.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    pub interval: u64,
    /// Plain lines instead of a progress bar (always plain when not on a terminal).
    #[arg(long)]
    pub no_progress: bool,
}

#[derive(Debug, Args)]
pub struct RerunArgs {
    #[command(flatten)]
    pub execution: ExecutionArgs,
    /// The new execution's name. Default: the stack name and a hash of the re-run's input.
    #[arg(long)]
    pub name: Option<String>,
    /// Return once the execution is started, without waiting for its Discover step's verdict.
    #[arg(long)]
    pub no_wait: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Md,
    Json,
    Junit,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    #[command(flatten)]
    pub execution: ExecutionArgs,
    #[arg(long, value_enum, default_value_t = ReportFormat::Md)]
    pub format: ReportFormat,
    /// Write the report here instead of printing it.
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("which").required(true).multiple(true).args(["groups", "all"])))]
pub struct ApproveArgs {
    #[command(flatten)]
    pub execution: ExecutionArgs,
    /// Approve this group of the plan (its ID, as `status` or plan.md lists it); repeatable.
    #[arg(long = "group", value_name = "ID")]
    pub groups: Vec<String>,
    /// Approve every group of the plan.
    #[arg(long, conflicts_with = "groups")]
    pub all: bool,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["execution_arn", "report"])))]
pub struct OutputsArgs {
    /// The execution, as `start` printed it: its Reduce wrote the outputs to the run bucket.
    #[arg(value_name = "EXECUTION_ARN")]
    pub execution_arn: Option<String>,
    /// A local run's JSON report (deploy or apply --report-json) instead of an execution.
    #[arg(long, value_name = "REPORT.json", conflicts_with_all = ["execution_arn", "bucket"])]
    pub report: Option<PathBuf>,
    /// Only this output: {account: {region: value}}, for the targets that have it.
    #[arg(long, value_name = "KEY")]
    pub key: Option<String>,
    /// The bucket of the run records. Default: the state machine's stackfleet:bucket tag.
    #[arg(long)]
    pub bucket: Option<String>,
    #[command(flatten)]
    pub aws: AwsArgs,
}

#[derive(Debug, Args)]
pub struct DeployArgs {
    #[command(flatten)]
    pub spec: SpecArgs,
    #[command(flatten)]
    pub targets: TargetArgs,
    #[command(flatten)]
    pub aws: AwsArgs,
    #[command(flatten)]
    pub pace: PaceArgs,
    /// Deploy, under a new run ID, to the targets that failed or were not started in this
    /// earlier JSON report, in that report's waves.
    #[arg(long, value_name = "REPORT.json", conflicts_with_all = ["accounts", "ous", "tag_filters", "exclude", "regions"])]
    pub rerun_failed: Option<PathBuf>,
    /// Finish the halted, interrupted or killed rollout of this JSON report: under its run ID,
    /// every target without a success, in its waves, from the first unfinished one; operations
    /// a killed run left running are followed, not started again. The document (--spec, flags)
    /// may have changed, its stack name not.
    #[arg(
        long,
        value_name = "REPORT.json",
        conflicts_with_all = ["rerun_failed", "run_id", "accounts", "ous", "tag_filters", "exclude", "regions", "include_management_account"]
    )]
    pub resume: Option<PathBuf>,
    /// The report as JSON, what --resume and --rerun-failed read, kept up to date as targets
    /// land (a killed run leaves what landed). Without it the run keeps one in
    /// .stackfleet/RUN/report.json, left there when the run halts or is interrupted.
    #[arg(long, value_name = "FILE")]
    pub report_json: Option<PathBuf>,
    #[arg(long, value_name = "FILE")]
    pub report_md: Option<PathBuf>,
    /// JUnit XML: one test case per target, named ACCOUNT:REGION.
    #[arg(long, value_name = "FILE")]
    pub report_junit: Option<PathBuf>,
    /// The stack outputs of every target that succeeded, as JSON {account: {region: {key:
    /// value}}} (`stackfleet outputs --report` prints the same from the JSON report).
    #[arg(long, value_name = "FILE")]
    pub outputs_json: Option<PathBuf>,
    /// Plain lines instead of a progress bar (always plain when not on a terminal).
    #[arg(long)]
    pub no_progress: bool,
    /// Check every target before anything starts, as `plan` does (a change set made and
    /// deleted; the template's named IAM resources looked up): `strict` starts nothing when any
    /// target is blocked; `skip-blocked` deploys the others and reports the blocked ones failed
    /// (NeedsAttention). Costs a change set per target.
    #[arg(long, value_enum, default_value_t = PreflightMode::Off)]
    pub preflight: PreflightMode,
}

/// `deploy --preflight`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PreflightMode {
    /// No pre-flight: each target's deploy meets what it meets.
    Off,
    /// Any target blocked: nothing starts, the run ends non-zero.
    Strict,
    /// The blocked targets are reported failed and left alone; the others are deployed.
    SkipBlocked,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub spec: SpecArgs,
    #[command(flatten)]
    pub targets: TargetArgs,
    #[command(flatten)]
    pub aws: AwsArgs,
    /// Targets planned at once.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u16).range(1..))]
    pub concurrency: u16,
    /// Also write every target's plan as JSON.
    #[arg(long, value_name = "FILE")]
    pub report_json: Option<PathBuf>,
    /// Keep the change sets (named stackfleet-plan-RUN) and write the plan for review here:
    /// what `stackfleet apply FILE` executes.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// The plan as Markdown, for a pull-request comment (group IDs, changes, targets).
    #[arg(long, value_name = "FILE", requires = "out")]
    pub report_md: Option<PathBuf>,
    /// Print the plan on stdout as JSON instead of text: the plan file's shape
    /// (schema/plan.schema.json), change set IDs only with --out.
    #[arg(long)]
    pub json: bool,
    /// Plan, under a new run ID, the targets that failed, were stale or were not started in
    /// this earlier JSON report (of a deploy or an apply), in that report's waves.
    #[arg(long, value_name = "REPORT.json", conflicts_with_all = ["accounts", "ous", "tag_filters", "exclude", "regions"])]
    pub rerun_failed: Option<PathBuf>,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("which").required(true).multiple(true).args(["groups", "all", "auto"])))]
pub struct ApplyArgs {
    /// The plan for review, as `plan --out` wrote it. It holds the rollout document: no --spec.
    #[arg(value_name = "PLAN.json")]
    pub plan: PathBuf,
    /// Apply this group of the plan (its ID, as the plan lists it); repeatable.
    #[arg(long = "group", value_name = "ID")]
    pub groups: Vec<String>,
    /// Apply every group of the plan.
    #[arg(long, conflicts_with_all = ["groups", "auto"])]
    pub all: bool,
    /// Apply the groups the plan's autoApprove rules approve (they replace nothing, remove
    /// nothing, touch no denied type), with any --group named; the others are left, their change
    /// sets kept, for a person.
    #[arg(long)]
    pub auto: bool,
    #[command(flatten)]
    pub aws: AwsArgs,
    #[command(flatten)]
    pub pace: PaceArgs,
    /// Names this apply in tokens and role session names. Default: one made from the time.
    #[arg(long)]
    pub run_id: Option<RunId>,
    /// The report as JSON, kept up to date as targets land; `plan --rerun-failed` reads it.
    /// Without it the run keeps one in .stackfleet/RUN/report.json when it halts or is
    /// interrupted.
    #[arg(long, value_name = "FILE")]
    pub report_json: Option<PathBuf>,
    #[arg(long, value_name = "FILE")]
    pub report_md: Option<PathBuf>,
    /// JUnit XML: one test case per target, named ACCOUNT:REGION.
    #[arg(long, value_name = "FILE")]
    pub report_junit: Option<PathBuf>,
    /// The stack outputs of every target that succeeded, as JSON {account: {region: {key:
    /// value}}}.
    #[arg(long, value_name = "FILE")]
    pub outputs_json: Option<PathBuf>,
    /// Plain lines instead of a progress bar (always plain when not on a terminal).
    #[arg(long)]
    pub no_progress: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Recovery {
    /// Delete a stack only a delete can recover (ROLLBACK_COMPLETE, ...), then create it.
    Recreate,
    /// Leave such stacks alone and report them as needing attention.
    Stop,
}

/// How many targets at once, and how many failures: flags over the document's fields, as any.
#[derive(Debug, Args)]
pub struct PaceArgs {
    /// Targets deployed to at once [document: concurrency; for `start`, else the stored default
    /// spec's; default: 50].
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub concurrency: Option<u32>,
    /// Failures tolerated before no new target starts: a count (3) or a percentage (5%)
    /// [document: failureTolerance; for `start`, else the stored default spec's; default: 0].
    #[arg(long)]
    pub failure_tolerance: Option<FailureTolerance>,
}

/// The rollout: a document (--spec), and flags that override it field by field.
#[derive(Debug, Args)]
pub struct SpecArgs {
    /// The rollout document, YAML or JSON (`stackfleet schema` prints its shape). Every flag
    /// below overrides the document's field of the same meaning.
    #[arg(long, value_name = "FILE")]
    pub spec: Option<PathBuf>,
    /// The stack in every target [document: stackName].
    #[arg(long)]
    pub stack_name: Option<StackName>,
    /// The template, JSON or YAML, at most 51,200 bytes [document: template.file or .body].
    #[arg(long, value_name = "FILE", conflicts_with = "template_url")]
    pub template: Option<PathBuf>,
    /// An https:// URL of the template in S3, for templates over 51,200 bytes [document: template.url].
    #[arg(long, value_name = "URL")]
    pub template_url: Option<String>,
    /// A stack parameter; wins over --parameters-file, which wins over the document's parameters.
    #[arg(long = "parameter", value_name = "KEY=VALUE", value_parser = key_value)]
    pub parameters: Vec<(String, String)>,
    /// Parameters as JSON: {"Key": "Value"} or CloudFormation's [{"ParameterKey", "ParameterValue"}].
    #[arg(long, value_name = "FILE")]
    pub parameters_file: Option<PathBuf>,
    /// CAPABILITY_IAM, CAPABILITY_NAMED_IAM, CAPABILITY_AUTO_EXPAND (comma-separated)
    /// [document: capabilities].
    #[arg(long, value_delimiter = ',')]
    pub capabilities: Vec<String>,
    /// A stack tag, added to the document's tags.
    #[arg(long = "tag", value_name = "KEY=VALUE", value_parser = key_value)]
    pub tags: Vec<(String, String)>,
    /// The role assumed in every target account [document: deployRole.name; default:
    /// OrganizationAccountAccessRole; for `start`, the stored default spec's].
    #[arg(long)]
    pub role_name: Option<String>,
    /// Passed to AssumeRole [document: deployRole.externalId].
    #[arg(long)]
    pub external_id: Option<String>,
    /// What to do with a stack only a delete can recover [document: recovery; default: recreate].
    #[arg(long, value_enum)]
    pub recovery: Option<Recovery>,
    /// When continuing a failed update rollback, skip the resources whose rollback failed.
    #[arg(long)]
    pub skip_failed_rollback_resources: bool,
    /// Enable termination protection on stacks this run creates.
    #[arg(long)]
    pub termination_protection: bool,
    /// Take over an existing stack of the stack name that stackfleet did not create (it lacks
    /// the stackfleet:managed-by tag): update or recover it, adding the tag. Without it such a
    /// stack is left alone and its target fails with NeedsAttention [document: adopt; default: false].
    #[arg(long)]
    pub adopt: bool,
    /// Create stacks by importing the resources their template names that already exist in the
    /// account (each kept with DeletionPolicy: Retain) instead of failing on them: a CREATE
    /// change set with ImportExistingResources; the outcome lists what was adopted
    /// [document: adoptExisting; default: false].
    #[arg(long)]
    pub adopt_existing: bool,
    /// Seconds one stack operation (or a wait for somebody else's) may take
    /// [document: operationTimeoutSeconds; default: 3600].
    #[arg(long, value_name = "SECONDS")]
    pub operation_timeout: Option<u64>,
    /// Seconds between two looks at a running operation once its early looks (at once, then at
    /// this interval's halves down to 1 s) are over [document: pollIntervalSeconds; default: 10].
    #[arg(long, value_name = "SECONDS")]
    pub poll_interval: Option<u64>,
    /// Names this rollout in tokens and role session names; a pipeline that retries with the
    /// same ID adopts the operations it already started. Default: one made from the time.
    #[arg(long)]
    pub run_id: Option<RunId>,
}

/// Targeting flags: any selector given replaces the document's whole selection (targets.*);
/// --regions replaces its regions.
#[derive(Debug, Args)]
pub struct TargetArgs {
    /// Only these accounts (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub accounts: Vec<AccountId>,
    /// Accounts under these OUs or roots, child OUs included (repeatable, comma-separated).
    #[arg(long = "ou", value_delimiter = ',')]
    pub ous: Vec<String>,
    /// Only accounts with this tag (repeatable: all must match).
    #[arg(long = "tag-filter", value_name = "KEY=VALUE", value_parser = key_value)]
    pub tag_filters: Vec<(String, String)>,
    /// Never these accounts (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub exclude: Vec<AccountId>,
    /// The management account is left out unless this is given.
    #[arg(long)]
    pub include_management_account: bool,
    /// Regions to deploy to in every account (comma-separated) [document: targets.regions;
    /// default: the --region].
    #[arg(long, value_delimiter = ',')]
    pub regions: Vec<Region>,
}

#[derive(Debug, Args)]
pub struct AwsArgs {
    /// A named profile of the AWS config files; default: the usual credential chain.
    #[arg(long, global = true)]
    pub profile: Option<String>,
    /// The region of the calls made from this account (Organizations, STS, validation).
    #[arg(long, global = true)]
    pub region: Option<String>,
    /// Send every AWS call here (a local emulator, a VPC endpoint). AWS_ENDPOINT_URL works too.
    #[arg(long, global = true)]
    pub endpoint_url: Option<String>,
}

fn key_value(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), value.to_owned())),
        _ => Err(format!("{text:?} is not KEY=VALUE")),
    }
}
