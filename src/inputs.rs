//! Flags into core's values: every check that can be made without AWS is made here, so a typo
//! costs no AWS call.

use std::collections::BTreeMap;
use std::path::Path;

use aws_config::SdkConfig;
use serde::Deserialize;
use stackfleet_aws::{AwsSettings, CfnStacks, OrgClient};
use stackfleet_core::preflight::preflight;
use stackfleet_core::spec::{DeployRole, RecoveryPolicy, TemplateBody, TemplateSource, TemplateUrl};
use stackfleet_core::targeting::Selection;
use stackfleet_core::targeting::{resolve, Resolution};
use stackfleet_core::{Region, RolloutSpec, RunId};

use crate::cli::{AwsArgs, Recovery, SpecArgs, TargetArgs};
use crate::CliError;

/// Input the user has to fix; the message says what and where. Exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct InputError(pub String);

impl InputError {
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

/// The role `deploy` and `plan` assume when none is named: the one Organizations creates.
const DEFAULT_ROLE: &str = "OrganizationAccountAccessRole";

fn read(path: &Path, what: &str) -> Result<String, InputError> {
    std::fs::read_to_string(path)
        .map_err(|e| InputError::new(format!("cannot read the {what} {}: {e}", path.display())))
}

/// A parameters file: `{"Key": "Value"}` or CloudFormation's own list form.
fn parameters_file(path: &Path) -> Result<BTreeMap<String, String>, InputError> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum File {
        Map(BTreeMap<String, String>),
        List(Vec<Entry>),
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Entry {
        parameter_key: String,
        parameter_value: String,
    }
    let text = read(path, "parameters file")?;
    let parsed: File = serde_json::from_str(&text).map_err(|e| {
        InputError::new(format!(
            "{}: expected {{\"Key\": \"Value\"}} or [{{\"ParameterKey\": ..., \"ParameterValue\": ...}}]: {e}",
            path.display()
        ))
    })?;
    Ok(match parsed {
        File::Map(map) => map,
        File::List(entries) => entries
            .into_iter()
            .map(|e| (e.parameter_key, e.parameter_value))
            .collect(),
    })
}

pub fn spec(args: &SpecArgs) -> Result<RolloutSpec, InputError> {
    let template = match (&args.template, &args.template_url) {
        (Some(path), _) => {
            let body = read(path, "template")?;
            TemplateSource::Body(
                TemplateBody::parse(body).map_err(|e| InputError::new(format!("{}: {e}", path.display())))?,
            )
        }
        (None, Some(url)) => {
            TemplateSource::Url(TemplateUrl::parse(url.clone()).map_err(|e| InputError::new(e.to_string()))?)
        }
        (None, None) => return Err(InputError::new("give --template FILE or --template-url URL")),
    };
    let mut spec = RolloutSpec::new(args.stack_name.clone(), template);
    if let Some(path) = &args.parameters_file {
        spec.parameters = parameters_file(path)?;
    }
    spec.parameters.extend(args.parameters.iter().cloned());
    spec.capabilities = args
        .capabilities
        .iter()
        .map(|c| c.parse())
        .collect::<Result<_, _>>()
        .map_err(|e: stackfleet_core::spec::SpecError| InputError::new(e.to_string()))?;
    spec.tags = args.tags.iter().cloned().collect();
    spec.deploy_role = DeployRole {
        name: args
            .role_name
            .as_deref()
            .unwrap_or(DEFAULT_ROLE)
            .parse()
            .map_err(|e: stackfleet_core::InvalidId| InputError::new(e.to_string()))?,
        external_id: args.external_id.clone(),
    };
    spec.recovery = match args.recovery {
        Recovery::Recreate => RecoveryPolicy::Recreate,
        Recovery::Stop => RecoveryPolicy::Stop,
    };
    spec.skip_failed_rollback_resources = args.skip_failed_rollback_resources;
    spec.termination_protection = args.termination_protection;
    spec.operation_timeout_seconds = args.operation_timeout;
    spec.poll_interval_seconds = args.poll_interval;
    spec.validate().map_err(|e| InputError::new(e.to_string()))?;
    Ok(spec)
}

/// The run's ID: the one given, or one made from the clock.
pub fn run_id(given: Option<&RunId>) -> RunId {
    given.cloned().unwrap_or_else(|| {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        RunId::from_lossy(&format!("sf-{}-{:03}", now.as_secs(), now.subsec_millis()))
    })
}

pub fn selection(args: &TargetArgs, default_region: Option<&str>) -> Result<Selection, InputError> {
    let regions = if args.regions.is_empty() {
        let region =
            default_region.ok_or_else(|| InputError::new("no region: pass --regions or --region"))?;
        vec![region
            .parse::<Region>()
            .map_err(|e| InputError::new(e.to_string()))?]
    } else {
        args.regions.clone()
    };
    Ok(Selection {
        accounts: args.accounts.clone(),
        ous: args.ous.clone(),
        tag_filters: args.tag_filters.clone(),
        exclude: args.exclude.clone(),
        include_management_account: args.include_management_account,
        regions,
    })
}

pub fn aws_settings(args: &AwsArgs) -> AwsSettings {
    AwsSettings {
        region: args.region.clone(),
        profile: args.profile.clone(),
        endpoint_url: args.endpoint_url.clone(),
        ..AwsSettings::default()
    }
}

/// Everything a command needs before it touches a target.
#[derive(Debug)]
pub struct Prepared {
    pub spec: RolloutSpec,
    pub run: RunId,
    pub config: SdkConfig,
    pub resolution: Resolution,
}

/// Parses the flags, validates the template once with CloudFormation, and resolves the targets
/// from the Organization (unless `given`, as by `--rerun-failed`). Nothing here changes a stack.
pub async fn prepare(
    spec_args: &SpecArgs,
    target_args: &TargetArgs,
    aws_args: &AwsArgs,
    given: Option<Resolution>,
) -> Result<Prepared, CliError> {
    let spec = spec(spec_args)?;
    let run = run_id(spec_args.run_id.as_ref());
    let config = aws_settings(aws_args).sdk_config().await;
    let selection = selection(target_args, config.region().map(|r| r.as_ref()))?;
    preflight(&CfnStacks::from_config(&config), &spec).await?;
    let resolution = match given {
        Some(resolution) => resolution,
        None => resolve(&OrgClient::from_config(&config), &selection).await?,
    };
    Ok(Prepared {
        spec,
        run,
        config,
        resolution,
    })
}
