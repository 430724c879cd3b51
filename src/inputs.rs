//! Flags into core's values: every check that can be made without AWS is made here, so a typo
//! costs no AWS call.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use aws_config::SdkConfig;
use serde::Deserialize;
use stackfleet_aws::{AwsSecrets, AwsSettings, CfnStacks, OrgClient};
use stackfleet_core::document::Resolved;
use stackfleet_core::preflight::preflight;
use stackfleet_core::remembered::Remembered;
use stackfleet_core::rollout::FailureTolerance;
use stackfleet_core::secrets;
use stackfleet_core::spec::{Capability, DeployRole, RecoveryPolicy, TemplateBody, TemplateUrl};
use stackfleet_core::targeting::{
    admit, resolve as resolve_targets, wave_choices, within_scope_of, Resolution, Selection,
};
use stackfleet_core::template::TemplateRef;
use stackfleet_core::waves::{assign, Wave};
use stackfleet_core::{Outcome, Region, Rollout, RolloutSpec, RunId, Target, Targets};

use crate::cli::{AwsArgs, PaceArgs, Recovery, SpecArgs, TargetArgs};
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

/// Reads a rollout document (YAML or JSON), with a `template.file` read relative to it.
pub fn read_document(path: &Path) -> Result<Rollout, InputError> {
    let text = read(path, "rollout document")?;
    let mut document =
        Rollout::parse(&text).map_err(|e| InputError::new(format!("{}: {e}", path.display())))?;
    if let Some(template) = document.template.take() {
        let base = path.parent().unwrap_or_else(|| Path::new("."));
        document.template = Some(
            template
                .read_file(base)
                .map_err(|e| InputError::new(format!("{}: {e}", path.display())))?,
        );
    }
    Ok(document)
}

/// What the flags say, as a document of its own: only the flags given appear in it.
fn flags_document(
    args: &SpecArgs,
    targets: &TargetArgs,
    pace: Option<&PaceArgs>,
    underneath: &Rollout,
    role: RoleDefault,
) -> Result<Rollout, InputError> {
    let template = match (&args.template, &args.template_url) {
        (Some(path), _) => {
            let body = read(path, "template")?;
            Some(TemplateRef::Body(TemplateBody::parse(body).map_err(|e| {
                InputError::new(format!("{}: {e}", path.display()))
            })?))
        }
        (None, Some(url)) => Some(TemplateRef::Url(
            TemplateUrl::parse(url.clone()).map_err(|e| InputError::new(e.to_string()))?,
        )),
        (None, None) => None,
    };
    let mut parameters = match &args.parameters_file {
        Some(path) => parameters_file(path)?,
        None => BTreeMap::new(),
    };
    parameters.extend(args.parameters.iter().cloned());
    let capabilities = if args.capabilities.is_empty() {
        None
    } else {
        Some(
            args.capabilities
                .iter()
                .map(|c| Capability::parse(c))
                .collect::<Result<_, _>>()
                .map_err(|e| InputError::new(e.to_string()))?,
        )
    };
    let role_name = |name: &str| {
        name.parse()
            .map_err(|e: stackfleet_core::InvalidId| InputError::new(e.to_string()))
    };
    let deploy_role = match (&args.role_name, &args.external_id) {
        (Some(name), external_id) => Some(DeployRole {
            name: role_name(name)?,
            external_id: external_id.clone(),
        }),
        // An external ID alone goes with the role the document names, or the default one; for
        // `start` only with a role named here: the default would replace the stored spec's.
        (None, Some(external_id)) => {
            let name = match (&underneath.deploy_role, role) {
                (Some(named), _) => named.name.clone(),
                (None, RoleDefault::Organizations) => DeployRole::default().name,
                (None, RoleDefault::Stored) => {
                    return Err(InputError::new(
                        "--external-id needs --role-name (or deployRole.name in --spec): the \
                         state machine's stored default spec names its own role",
                    ))
                }
            };
            Some(DeployRole {
                name,
                external_id: Some(external_id.clone()),
            })
        }
        (None, None) => None,
    };
    Ok(Rollout {
        schema: None,
        stack_name: args.stack_name.clone(),
        template,
        parameters,
        parameter_overrides: BTreeMap::new(),
        capabilities,
        tags: args.tags.iter().cloned().collect(),
        deploy_role,
        session_duration_seconds: None,
        termination_protection: args.termination_protection.then_some(true),
        recovery: args.recovery.map(|recovery| match recovery {
            Recovery::Recreate => RecoveryPolicy::Recreate,
            Recovery::Stop => RecoveryPolicy::Stop,
        }),
        skip_failed_rollback_resources: args.skip_failed_rollback_resources.then_some(true),
        adopt: args.adopt.then_some(true),
        adopt_existing: args.adopt_existing.then_some(true),
        // Rules a reviewer reads in the document (and the plan records), not a flag.
        auto_approve: None,
        operation_timeout_seconds: args.operation_timeout,
        poll_interval_seconds: args.poll_interval,
        targets: Targets {
            accounts: targets.accounts.clone(),
            ous: targets.ous.clone(),
            tags: targets.tag_filters.iter().cloned().collect(),
            exclude: targets.exclude.clone(),
            include_management_account: targets.include_management_account.then_some(true),
            regions: targets.regions.clone(),
            list: Vec::new(),
        },
        concurrency: pace.and_then(|pace| pace.concurrency),
        failure_tolerance: pace.and_then(|pace| pace.failure_tolerance),
        // Waves, alarms, a resume and a plan-first mode are written in a document, never
        // given as flags.
        waves: Vec::new(),
        alarms: Vec::new(),
        resume: None,
        mode: None,
        approval_timeout_seconds: None,
    })
}

/// Which deploy role fills in for a role the user did not name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleDefault {
    /// OrganizationAccountAccessRole, as `deploy` and `plan` assume.
    Organizations,
    /// The state machine's stored default spec's, as `start` leaves it.
    Stored,
}

/// The rollout as the user gave it: the `--spec` document, with the flags laid over it field by
/// field (`pace` for the commands that roll out). Nothing is defaulted yet: `Rollout::resolve`
/// does that, or the state machine's stored default spec for `start`.
pub fn document(
    args: &SpecArgs,
    targets: &TargetArgs,
    pace: Option<&PaceArgs>,
    role: RoleDefault,
) -> Result<Rollout, InputError> {
    let file = match &args.spec {
        Some(path) => read_document(path)?,
        None => Rollout::default(),
    };
    let flags = flags_document(args, targets, pace, &file, role)?;
    Ok(flags.over(file))
}

/// The document resolved for a local run: complete, checked, defaults filled in.
pub fn resolve(document: &Rollout) -> Result<Resolved, InputError> {
    document.resolve().map_err(|e| InputError::new(e.to_string()))
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

/// What targeting resolves: the document's targets, in the caller's region when it names none.
pub fn selection(targets: &Targets, default_region: Option<&str>) -> Result<Selection, InputError> {
    let mut selection = targets.selection();
    if selection.regions.is_empty() {
        let region = default_region.ok_or_else(|| {
            InputError::new("no region: pass --regions or --region, or give targets.regions")
        })?;
        selection.regions = vec![region
            .parse::<Region>()
            .map_err(|e| InputError::new(e.to_string()))?];
    }
    Ok(selection)
}

pub fn aws_settings(args: &AwsArgs) -> AwsSettings {
    AwsSettings {
        region: args.region.clone(),
        profile: args.profile.clone(),
        endpoint_url: args.endpoint_url.clone(),
        ..AwsSettings::default()
    }
}

/// The document of a local run (`deploy`, `plan`), resolved: `resume:` is the state machine's
/// way to resume, refused here with the local one.
pub fn local_document(
    spec_args: &SpecArgs,
    target_args: &TargetArgs,
    pace: Option<&PaceArgs>,
) -> Result<Resolved, InputError> {
    local_rollout(spec_args, target_args, pace).map(|(_, resolved)| resolved)
}

/// `local_document`, with the document as given (the flags laid over `--spec`): what a plan
/// for review records.
pub fn local_rollout(
    spec_args: &SpecArgs,
    target_args: &TargetArgs,
    pace: Option<&PaceArgs>,
) -> Result<(Rollout, Resolved), InputError> {
    let given = document(spec_args, target_args, pace, RoleDefault::Organizations)?;
    let resolved = resolve(&given)?;
    if let Some(run) = &resolved.resume {
        return Err(InputError::new(format!(
            "the rollout document says `resume: {run}`, which only the state machine reads \
             (stackfleet start); to resume a local run, leave it out and pass --resume REPORT.json \
             with the JSON report that run wrote"
        )));
    }
    if resolved.approval_timeout_seconds.is_some() {
        return Err(InputError::new(
            "the rollout document says `mode: plan`, which only the state machine reads (stackfleet              start); locally, review with `stackfleet plan --out plan.json`, then `stackfleet apply              plan.json --group ID`",
        ));
    }
    Ok((given, resolved))
}

/// Targets taken from an earlier report (`--resume`, `--rerun-failed`) instead of the
/// Organization: already in their waves, and, for a resume, under that report's run ID.
#[derive(Debug, Clone)]
pub struct Carried {
    pub waves: Vec<Wave>,
    pub run: Option<RunId>,
}

/// Everything a command needs before it touches a target.
#[derive(Debug)]
pub struct Prepared {
    /// Its references resolved: parameters in plaintext, for CloudFormation only.
    pub spec: RolloutSpec,
    /// The template's NoEcho parameters: masked wherever parameters are shown.
    pub no_echo: BTreeSet<String>,
    pub run: RunId,
    pub config: SdkConfig,
    pub resolution: Resolution,
    pub concurrency: u32,
    pub tolerance: FailureTolerance,
    /// The targets of `resolution` in the order they roll out: the document's waves as
    /// assigned (one wave `all` without any), or the carried ones.
    pub waves: Vec<Wave>,
    pub alarms: Vec<String>,
}

/// Validates the template once with CloudFormation, resolves the secrets the parameters refer
/// to (in the caller's account), resolves the targets from the Organization (unless `carried`,
/// or the document lists them) and assigns them to the document's waves. A reference that
/// cannot be resolved ends the run here, before any target. Nothing here changes a stack.
pub async fn prepare(
    resolved: Resolved,
    spec_args: &SpecArgs,
    aws_args: &AwsArgs,
    carried: Option<Carried>,
) -> Result<Prepared, CliError> {
    let Resolved {
        spec,
        targets,
        concurrency,
        tolerance,
        waves: written_waves,
        alarms,
        resume: _,
        approval_timeout_seconds: _,
    } = resolved;
    let config = aws_settings(aws_args).sdk_config().await;
    let selection = selection(&targets, config.region().map(|r| r.as_ref()))?;
    let template = preflight(&CfnStacks::from_config(&config), &spec).await?;
    let spec = secrets::resolve(&AwsSecrets::from_config(&config), &spec)
        .await
        .map_err(|e| match e.name() {
            stackfleet_core::ErrorName::InvalidInput => CliError::Input(InputError::new(e.to_string())),
            _ => CliError::Runtime(e.to_string()),
        })?;
    // Every part of the targeting asks the Organization through this one: each question once.
    let org_client = OrgClient::from_config(&config);
    let org = Remembered::new(&org_client);
    let (run, resolution, waves) = match carried {
        Some(Carried { mut waves, run }) => {
            // A report names the targets, but the Organization still decides: an account that
            // left, was suspended or excluded since (or was written into the report) is Skipped.
            // And so does the document: a report names no target its targets would not reach.
            let listed: Vec<Target> = waves.iter().flat_map(|w| w.targets.iter().cloned()).collect();
            let mut resolution = admit(&org, &selection, &listed).await?;
            let (inside, outside) =
                within_scope_of(&org, &targets.scope(), resolution.targets, "the document's").await?;
            resolution.targets = inside;
            resolution.skipped.extend(
                outside
                    .into_iter()
                    .map(|(target, why)| Outcome::skipped(target, why)),
            );
            let admitted: BTreeSet<&Target> = resolution.targets.iter().collect();
            for wave in &mut waves {
                wave.targets.retain(|t| admitted.contains(t));
            }
            let run = run.unwrap_or_else(|| run_id(spec_args.run_id.as_ref()));
            (run, resolution, waves)
        }
        None => {
            let resolution = if targets.list.is_empty() {
                resolve_targets(&org, &selection).await?
            } else {
                admit(&org, &selection, &targets.list).await?
            };
            let chosen = wave_choices(&org, &written_waves).await?;
            let waves = assign(&written_waves, &chosen, tolerance, &resolution.targets);
            (run_id(spec_args.run_id.as_ref()), resolution, waves)
        }
    };
    Ok(Prepared {
        spec,
        no_echo: template.no_echo,
        run,
        config,
        resolution,
        concurrency,
        tolerance,
        waves,
        alarms,
    })
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command};

    fn deploy_args(args: &[&str]) -> crate::cli::DeployArgs {
        let argv = ["stackfleet", "deploy"].iter().chain(args).copied();
        match Cli::try_parse_from(argv).unwrap().command {
            Command::Deploy(args) => args,
            _ => unreachable!("parsed a deploy"),
        }
    }

    #[test]
    fn flags_override_the_document_field_by_field() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("t.yaml"),
            "Resources:\n  Topic:\n    Type: AWS::SNS::Topic\n",
        )
        .unwrap();
        let spec = dir.path().join("rollout.yaml");
        std::fs::write(
            &spec,
            "stackName: from-file\ntemplate: {file: t.yaml}\nparameters: {A: '1', B: '2'}\n\
             recovery: stop\nconcurrency: 16\ntags: {team: platform}\n\
             targets: {ous: [ou-ab12-prod0001], tags: {env: prod}, regions: [us-east-1]}\n",
        )
        .unwrap();
        let spec = spec.to_str().unwrap();

        let args = deploy_args(&["--spec", spec]);
        let file = document(
            &args.spec,
            &args.targets,
            Some(&args.pace),
            RoleDefault::Organizations,
        )
        .unwrap();
        assert_eq!(file.stack_name.unwrap().as_str(), "from-file");
        assert!(
            matches!(file.template, Some(TemplateRef::Body(_))),
            "the file is read"
        );
        assert_eq!(file.adopt, None, "no --adopt: the document's word (none) stands");
        assert_eq!(file.adopt_existing, None);

        let args = deploy_args(&[
            "--spec",
            spec,
            "--parameter",
            "B=3",
            "--recovery",
            "recreate",
            "--accounts",
            "111111111111",
            "--regions",
            "eu-west-1",
            "--tag",
            "cost=shared",
            "--adopt",
            "--adopt-existing",
        ]);
        let merged = document(
            &args.spec,
            &args.targets,
            Some(&args.pace),
            RoleDefault::Organizations,
        )
        .unwrap();
        assert_eq!(merged.stack_name.as_ref().unwrap().as_str(), "from-file");
        assert_eq!(
            (&merged.parameters["A"][..], &merged.parameters["B"][..]),
            ("1", "3")
        );
        assert_eq!(merged.recovery, Some(RecoveryPolicy::Recreate));
        assert_eq!(merged.adopt, Some(true));
        assert_eq!(merged.adopt_existing, Some(true));
        assert_eq!(merged.concurrency, Some(16), "not given: the document's");
        assert_eq!(merged.tags.len(), 2, "tags add up");
        assert_eq!(merged.targets.accounts.len(), 1);
        assert!(
            merged.targets.ous.is_empty(),
            "accounts on the command line replace the document's OUs"
        );
        assert_eq!(
            merged.targets.tags.len(),
            1,
            "the document's tag filter still narrows: flags never widen a document's scope"
        );
        assert_eq!(merged.targets.regions, vec!["eu-west-1".parse().unwrap()]);
        let resolved = resolve(&merged).unwrap();
        assert_eq!(
            resolved.spec.deploy_role.name.as_str(),
            "OrganizationAccountAccessRole"
        );
        assert!(resolved.spec.adopt);
        assert!(resolved.spec.adopt_existing);
    }
}
