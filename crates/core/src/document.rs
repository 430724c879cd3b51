//! The rollout document: everything a rollout is, in one shape. It is the CLI's `--spec` file,
//! the state machine's execution input and the CDK app's stored default spec; `stackfleet schema`
//! prints its JSON Schema. Every field may be left out, so that a document can also be laid over
//! another (`over`): flags over a file, an execution input over the stored default. `resolve`
//! then checks the whole and fills in the defaults.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::ids::{AccountId, Region, RunId, StackName, Target};
use crate::rollout::FailureTolerance;
use crate::spec::{defaults, Capability, DeployRole, RecoveryPolicy, RolloutSpec, SpecError};
use crate::targeting::Selection;
use crate::template::TemplateRef;
use crate::waves::{self, WaveSpec};

/// Targets deployed to at once when the document does not say.
pub const DEFAULT_CONCURRENCY: u32 = 50;
/// Step Functions' ceiling for a Distributed Map's child executions at once; a local run takes
/// no more either.
pub const MAX_CONCURRENCY: u32 = 10_000;

/// A rollout, as people write it in git and review it in pull requests.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(
    title = "stackfleet rollout",
    description = "One CloudFormation stack rolled out to the accounts of an AWS Organization: \
                   `stackfleet deploy|plan|start --spec FILE`, the state machine's execution \
                   input, and the CDK app's default spec."
)]
pub struct Rollout {
    /// The JSON Schema this document follows (for editors); ignored otherwise.
    #[serde(rename = "$schema", default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// The stack in every target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack_name: Option<StackName>,
    /// The template: `{body}`, `{url}` (S3, https) or `{file}` (relative to this document; CLI only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<TemplateRef>,
    /// Stack parameters, by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub parameters: BTreeMap<String, String>,
    /// Parameters for some targets only, keyed by an account ID (`123456789012`) or a target
    /// (`123456789012:eu-west-1`); a target's own entry wins over its account's, which wins over
    /// `parameters`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend("propertyNames" = {
        "pattern": "^[0-9]{12}(:[a-z]+(-[a-z]+)+-[0-9]{1,2})?$"
    }))]
    pub parameter_overrides: BTreeMap<String, BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capabilities: Option<Vec<Capability>>,
    /// Stack tags (at most 49; keys 1-128 characters, values at most 256). stackfleet adds its
    /// own `stackfleet:managed-by: stackfleet`, which may not be given here.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend(
        "maxProperties" = 49,
        "propertyNames" = {"minLength": 1, "maxLength": 128, "not": {"const": "stackfleet:managed-by"}},
        "additionalProperties" = {"type": "string", "maxLength": 256}
    ))]
    pub tags: BTreeMap<String, String>,
    /// The role assumed in every target. Default: OrganizationAccountAccessRole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deploy_role: Option<DeployRole>,
    /// DurationSeconds of the assumed session (900-43200); role chaining caps it at one hour.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 900, max = 43200))]
    pub session_duration_seconds: Option<u32>,
    /// Termination protection on stacks this rollout creates. Default: false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub termination_protection: Option<bool>,
    /// A stack only a delete can recover (ROLLBACK_COMPLETE, ...): `recreate` (default) or `stop`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery: Option<RecoveryPolicy>,
    /// When continuing a failed update rollback, skip the resources whose rollback failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip_failed_rollback_resources: Option<bool>,
    /// Take over an existing stack of this name that stackfleet did not create (it lacks the
    /// `stackfleet:managed-by` tag): update or recover it as stackfleet's own, tagging it.
    /// Default: false: such a stack is left alone and its target fails with NeedsAttention.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adopt: Option<bool>,
    /// Create a stack whose template names resources that already exist in the account (a
    /// role made by hand, say) by importing them into it: a CREATE change set with
    /// CloudFormation's ImportExistingResources, instead of failing on the name. Only resources
    /// the template keeps with `DeletionPolicy: Retain` and a fixed name can be imported; the
    /// outcome lists what was. Default: false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adopt_existing: Option<bool>,
    /// Which groups of a reviewed plan `apply --auto` may apply without a person: those whose
    /// changes replace nothing, remove nothing, and touch none of `denyResourceTypes`. Without
    /// it, `--auto` approves nothing. `apply` reads the rules recorded in the plan (what was
    /// reviewed), never a newer file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_approve: Option<AutoApprove>,
    /// How long one stack operation (or a wait for somebody else's) may take. Default: 3600.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub operation_timeout_seconds: Option<u64>,
    /// Seconds between two looks at a running operation once its early looks (at once, then at
    /// this interval's halves down to 1 s) are over. Serverless, an operation older than 45 s is looked at through
    /// the state machine, each wait as long as its age so far, up to 30 of these. Default: 10.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub poll_interval_seconds: Option<u64>,
    /// Which accounts and regions.
    #[serde(default, skip_serializing_if = "Targets::is_empty")]
    pub targets: Targets,
    /// Targets deployed to at once (1-10000). Default: 50.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 10000))]
    pub concurrency: Option<u32>,
    /// Failures tolerated: past it no new target starts, and the rollout fails. Default: 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_tolerance: Option<FailureTolerance>,
    /// The rollout in steps: canaries (accounts or OUs) first, then waves sized by `percent` or
    /// `count`, each with its bake time and tolerance; targets no wave takes go last, in `rest`.
    /// Default: one wave of every target.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 50))]
    pub waves: Vec<WaveSpec>,
    /// CloudWatch alarm names in the caller's account and region: any of them in ALARM after a
    /// wave or during its bake halts the rollout. A name that does not exist halts it too.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 100), inner(length(min = 1, max = 255)))]
    pub alarms: Vec<String>,
    /// State machine only: resume this halted (or failed) run. Its waves are kept, the targets
    /// it deployed successfully are left alone, and the rest run wave by wave from the first
    /// unfinished one. Reduce writes a ready input with it (`resumeInputKey`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume: Option<RunId>,
    /// State machine only: `plan` plans every target first (change sets kept for review), writes
    /// the plan (plan.json, plan.md) to the run bucket and waits for a person's approval
    /// (`stackfleet approve EXECUTION --group ID`), then applies the approved groups only, in the
    /// waves. Default: `deploy`. Locally: `stackfleet plan --out`, then `apply`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<Mode>,
    /// With `mode: plan`: how long the plan waits for approval before the execution discards its
    /// change sets and fails (60 s to 30 days). Default: 86400 (a day).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 60, max = 2592000))]
    pub approval_timeout_seconds: Option<u64>,
}

/// What an execution does with the rollout (`Rollout::mode`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema, strum::Display)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum Mode {
    /// Create or update every target.
    #[default]
    Deploy,
    /// Plan every target, wait for approval, apply what was approved.
    Plan,
}

/// How long a plan waits for approval by default, and at most.
pub const DEFAULT_APPROVAL_TIMEOUT_SECONDS: u64 = 86_400;
pub const MAX_APPROVAL_TIMEOUT_SECONDS: u64 = 30 * 86_400;

/// The rules of `apply --auto` (`Rollout::auto_approve`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AutoApprove {
    /// Resource types a person must approve whatever the change: a type (`AWS::KMS::Key`), or a
    /// prefix ending in `*` (`AWS::IAM::*`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 100), inner(length(min = 1, max = 256)))]
    pub deny_resource_types: Vec<String>,
}

/// Which accounts and regions a rollout touches. Without `accounts`, `ous` or `list`: the whole
/// Organization.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Targets {
    /// Only these accounts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accounts: Vec<AccountId>,
    /// Accounts under these OUs or roots (`ou-...`, `r-...`), child OUs included.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(inner(regex(pattern = r"^(r-[0-9a-z]{4,32}|ou-[0-9a-z]{4,32}-[0-9a-z]{8,32})$")))]
    pub ous: Vec<String>,
    /// Only accounts carrying every one of these tags.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    /// Never these accounts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<AccountId>,
    /// The management account is left out (and reported skipped) unless this is true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_management_account: Option<bool>,
    /// Every selected account, in each of these regions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub regions: Vec<Region>,
    /// Exactly these targets (a re-run's); `accounts` and `ous` are then not used.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub list: Vec<Target>,
}

impl Targets {
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }

    /// Says where to look: accounts, OUs or an exact list. Filters and regions alone do not.
    pub fn names_scope(&self) -> bool {
        !self.accounts.is_empty() || !self.ous.is_empty() || !self.list.is_empty()
    }

    /// `self` over `base`. Where to look (`accounts`, `ous`, `list`) replaces the base's as a
    /// whole, so that a narrower choice is not widened by the base's; the filters only ever
    /// narrow: `exclude` adds to the base's, `tags` merge key by key (all must match). So a
    /// choice laid over a document never escapes that document's exclusions or tag filter.
    /// `includeManagementAccount` and `regions` replace the base's when given.
    pub fn over(self, base: Self) -> Self {
        // Destructured whole: a field added here and forgotten below does not compile.
        let Self {
            accounts,
            ous,
            tags,
            exclude,
            include_management_account,
            regions,
            list,
        } = self;
        let names_scope = !accounts.is_empty() || !ous.is_empty() || !list.is_empty();
        let (accounts, ous, list) = if names_scope {
            (accounts, ous, list)
        } else {
            (base.accounts, base.ous, base.list)
        };
        let mut excluded = base.exclude;
        excluded.extend(
            exclude
                .into_iter()
                .filter(|id| !excluded.contains(id))
                .collect::<Vec<_>>(),
        );
        Self {
            accounts,
            ous,
            tags: merged(base.tags, tags),
            exclude: excluded,
            include_management_account: include_management_account.or(base.include_management_account),
            regions: if regions.is_empty() { base.regions } else { regions },
            list,
        }
    }

    /// What these targets allow, as a bound on other documents' (the state machine's default
    /// spec bounds every execution input).
    pub fn scope(&self) -> crate::targeting::Scope {
        if self.list.is_empty() {
            crate::targeting::Scope::Selection(self.selection())
        } else {
            crate::targeting::Scope::List(self.list.iter().cloned().collect())
        }
    }

    /// What targeting resolves against the Organization.
    pub fn selection(&self) -> Selection {
        Selection {
            accounts: self.accounts.clone(),
            ous: self.ous.clone(),
            tag_filters: self.tags.clone().into_iter().collect(),
            exclude: self.exclude.clone(),
            include_management_account: self.include_management_account.unwrap_or(false),
            regions: self.regions.clone(),
        }
    }
}

/// A document checked whole, its defaults filled in: what a runner acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub spec: RolloutSpec,
    pub targets: Targets,
    pub concurrency: u32,
    pub tolerance: FailureTolerance,
    pub waves: Vec<WaveSpec>,
    pub alarms: Vec<String>,
    pub resume: Option<RunId>,
    /// `mode: plan`: how long the plan waits for approval. None: a deploy.
    pub approval_timeout_seconds: Option<u64>,
}

fn merged<V>(mut base: BTreeMap<String, V>, over: BTreeMap<String, V>) -> BTreeMap<String, V> {
    base.extend(over);
    base
}

impl Rollout {
    /// Reads a document written as YAML or JSON. The error names the field that is wrong.
    pub fn parse(text: &str) -> Result<Self, SpecError> {
        if text.trim_start().starts_with('{') {
            return serde_json::from_str(text).map_err(|e| SpecError::Invalid(e.to_string()));
        }
        // Through a JSON value: YAML's own reading of an enum is a `!tag`, and the document's
        // `template: {body: ...}` is the JSON form, the same in both languages.
        let value: serde_json::Value =
            serde_norway::from_str(text).map_err(|e| SpecError::Invalid(format!("not YAML or JSON: {e}")))?;
        if value.is_null() {
            return Ok(Self::default());
        }
        serde_json::from_value(value).map_err(|e| SpecError::Invalid(e.to_string()))
    }

    /// `self` laid over `base`, field by field: what `self` says wins; maps (parameters, tags,
    /// parameter overrides) merge key by key; `targets` as `Targets::over` says.
    pub fn over(self, base: Rollout) -> Rollout {
        // Destructured whole on both sides: a field added to the document and forgotten here
        // does not compile.
        let Rollout {
            schema: _,
            stack_name,
            template,
            parameters,
            parameter_overrides,
            capabilities,
            tags,
            deploy_role,
            session_duration_seconds,
            termination_protection,
            recovery,
            skip_failed_rollback_resources,
            adopt,
            adopt_existing,
            auto_approve,
            operation_timeout_seconds,
            poll_interval_seconds,
            targets,
            concurrency,
            failure_tolerance,
            waves,
            alarms,
            resume,
            mode,
            approval_timeout_seconds,
        } = self;
        let Rollout {
            schema: _,
            stack_name: base_stack_name,
            template: base_template,
            parameters: base_parameters,
            parameter_overrides: base_parameter_overrides,
            capabilities: base_capabilities,
            tags: base_tags,
            deploy_role: base_deploy_role,
            session_duration_seconds: base_session_duration_seconds,
            termination_protection: base_termination_protection,
            recovery: base_recovery,
            skip_failed_rollback_resources: base_skip_failed_rollback_resources,
            adopt: base_adopt,
            adopt_existing: base_adopt_existing,
            auto_approve: base_auto_approve,
            operation_timeout_seconds: base_operation_timeout_seconds,
            poll_interval_seconds: base_poll_interval_seconds,
            targets: base_targets,
            concurrency: base_concurrency,
            failure_tolerance: base_failure_tolerance,
            waves: base_waves,
            alarms: base_alarms,
            resume: base_resume,
            mode: base_mode,
            approval_timeout_seconds: base_approval_timeout_seconds,
        } = base;
        let mut overrides = base_parameter_overrides;
        for (key, values) in parameter_overrides {
            let entry = overrides.remove(&key).unwrap_or_default();
            overrides.insert(key, merged(entry, values));
        }
        Rollout {
            schema: None,
            stack_name: stack_name.or(base_stack_name),
            template: template.or(base_template),
            parameters: merged(base_parameters, parameters),
            parameter_overrides: overrides,
            capabilities: capabilities.or(base_capabilities),
            tags: merged(base_tags, tags),
            deploy_role: match (deploy_role, base_deploy_role) {
                // The same role named again keeps the external ID its trust policy wants.
                (Some(role), Some(base)) if role.name == base.name => Some(DeployRole {
                    external_id: role.external_id.or(base.external_id),
                    ..role
                }),
                (role, base) => role.or(base),
            },
            session_duration_seconds: session_duration_seconds.or(base_session_duration_seconds),
            termination_protection: termination_protection.or(base_termination_protection),
            recovery: recovery.or(base_recovery),
            skip_failed_rollback_resources: skip_failed_rollback_resources
                .or(base_skip_failed_rollback_resources),
            adopt: adopt.or(base_adopt),
            adopt_existing: adopt_existing.or(base_adopt_existing),
            auto_approve: auto_approve.or(base_auto_approve),
            operation_timeout_seconds: operation_timeout_seconds.or(base_operation_timeout_seconds),
            poll_interval_seconds: poll_interval_seconds.or(base_poll_interval_seconds),
            targets: targets.over(base_targets),
            concurrency: concurrency.or(base_concurrency),
            failure_tolerance: failure_tolerance.or(base_failure_tolerance),
            waves: if waves.is_empty() { base_waves } else { waves },
            // Gates only add up: a document laid over another never drops one of its alarms.
            alarms: {
                let mut all = base_alarms;
                all.extend(
                    alarms
                        .into_iter()
                        .filter(|a| !all.contains(a))
                        .collect::<Vec<_>>(),
                );
                all
            },
            resume: resume.or(base_resume),
            mode: mode.or(base_mode),
            approval_timeout_seconds: approval_timeout_seconds.or(base_approval_timeout_seconds),
        }
    }

    /// Checks the document whole and fills in the defaults. A `{file}` template must have been
    /// read by then (`TemplateRef::read_file`).
    pub fn resolve(&self) -> Result<Resolved, SpecError> {
        let stack_name = self.stack_name.clone().ok_or_else(|| {
            SpecError::Invalid("stackName is missing: name the stack (--stack-name)".into())
        })?;
        let template = self
            .template
            .as_ref()
            .ok_or_else(|| {
                SpecError::Invalid(
                    "template is missing: give template.body, template.url or template.file \
                     (--template, --template-url)"
                        .into(),
                )
            })?
            .source()?;
        let spec = RolloutSpec {
            stack_name,
            template,
            parameters: self.parameters.clone(),
            parameter_overrides: self.parameter_overrides.clone(),
            capabilities: self.capabilities.clone().unwrap_or_default(),
            tags: self.tags.clone(),
            deploy_role: self.deploy_role.clone().unwrap_or_default(),
            session_duration_seconds: self.session_duration_seconds,
            termination_protection: self.termination_protection.unwrap_or(false),
            recovery: self.recovery.unwrap_or_default(),
            skip_failed_rollback_resources: self.skip_failed_rollback_resources.unwrap_or(false),
            adopt: self.adopt.unwrap_or(false),
            adopt_existing: self.adopt_existing.unwrap_or(false),
            operation_timeout_seconds: self
                .operation_timeout_seconds
                .unwrap_or_else(defaults::operation_timeout_seconds),
            poll_interval_seconds: self
                .poll_interval_seconds
                .unwrap_or_else(defaults::poll_interval_seconds),
        };
        spec.validate()?;
        let concurrency = self.concurrency.unwrap_or(DEFAULT_CONCURRENCY);
        if !(1..=MAX_CONCURRENCY).contains(&concurrency) {
            return Err(SpecError::Invalid(format!(
                "concurrency {concurrency}: give 1 to {MAX_CONCURRENCY}"
            )));
        }
        waves::check(&self.waves, &self.alarms)?;
        let timeout = self
            .approval_timeout_seconds
            .unwrap_or(DEFAULT_APPROVAL_TIMEOUT_SECONDS);
        if !(60..=MAX_APPROVAL_TIMEOUT_SECONDS).contains(&timeout) {
            return Err(SpecError::Invalid(format!(
                "approvalTimeoutSeconds {timeout}: give 60 to {MAX_APPROVAL_TIMEOUT_SECONDS} (30 days)"
            )));
        }
        if self.approval_timeout_seconds.is_some() && self.mode != Some(Mode::Plan) {
            return Err(SpecError::Invalid(
                "approvalTimeoutSeconds is for `mode: plan`: a deploy waits for no approval".into(),
            ));
        }
        Ok(Resolved {
            spec,
            targets: self.targets.clone(),
            concurrency,
            tolerance: self.failure_tolerance.unwrap_or_default(),
            waves: self.waves.clone(),
            alarms: self.alarms.clone(),
            resume: self.resume.clone(),
            approval_timeout_seconds: (self.mode == Some(Mode::Plan)).then_some(timeout),
        })
    }
}

/// The rollout document's JSON Schema, as `stackfleet schema` prints it and
/// `schema/rollout.schema.json` keeps it.
pub fn json_schema() -> String {
    let schema = schemars::schema_for!(Rollout);
    crate::wire::pretty(schema.as_value())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::TemplateSource;

    const YAML: &str = "\
stackName: org-federation
template:
  body: |
    Resources:
      Role:
        Type: AWS::IAM::Role
parameters:
  Env: prod
  Size: s
capabilities: [CAPABILITY_NAMED_IAM]
recovery: stop
targets:
  ous: [ou-ab12-prod0001]
  regions: [us-east-1, eu-west-1]
concurrency: 20
failureTolerance: 5%
";

    #[test]
    fn a_yaml_document_resolves_with_its_defaults_filled_in() {
        let resolved = Rollout::parse(YAML).unwrap().resolve().unwrap();
        assert_eq!(resolved.spec.stack_name.as_str(), "org-federation");
        assert!(matches!(resolved.spec.template, TemplateSource::Body(_)));
        assert_eq!(resolved.spec.recovery, RecoveryPolicy::Stop);
        assert_eq!(resolved.spec.capabilities, vec![Capability::NamedIam]);
        assert_eq!(
            resolved.spec.deploy_role.name.as_str(),
            "OrganizationAccountAccessRole"
        );
        assert_eq!(resolved.spec.poll_interval_seconds, 10);
        assert_eq!(resolved.concurrency, 20);
        assert_eq!(resolved.tolerance, FailureTolerance::Percent(5));
        assert_eq!(resolved.targets.regions.len(), 2);
    }

    #[test]
    fn json_reads_the_same_and_round_trips() {
        let yaml = Rollout::parse(YAML).unwrap();
        let json = serde_json::to_string(&yaml).unwrap();
        assert_eq!(Rollout::parse(&json).unwrap(), yaml);
        assert!(json.contains(r#""failureTolerance":"5%""#), "{json}");
        let counted = Rollout::parse(r#"{"failureTolerance": 3}"#).unwrap();
        assert_eq!(counted.failure_tolerance, Some(FailureTolerance::Count(3)));
    }

    #[test]
    fn a_misspelt_field_is_an_error_that_names_it() {
        for (text, field) in [
            ("stackName: s\nrecover: stop\n", "recover"),
            ("targets:\n  regoins: [us-east-1]\n", "regoins"),
            (
                r#"{"deployRole": {"name": "r", "externalID": "x"}}"#,
                "externalID",
            ),
            ("template:\n  path: t.yaml\n", "path"),
        ] {
            let error = Rollout::parse(text).unwrap_err().to_string();
            assert!(error.contains(field), "{text:?}: {error}");
        }
    }

    #[test]
    fn bad_values_are_refused_with_the_rule() {
        let error = Rollout::parse("stackName: 9lives\n").unwrap_err().to_string();
        assert!(error.contains("stack name"), "{error}");
        let error = Rollout::parse("failureTolerance: 101%\n")
            .unwrap_err()
            .to_string();
        assert!(error.contains("101%"), "{error}");
        let missing = Rollout::parse("stackName: s\n").unwrap().resolve().unwrap_err();
        assert!(missing.to_string().contains("template is missing"), "{missing}");
        let file = Rollout::parse("stackName: s\ntemplate: {file: t.yaml}\n").unwrap();
        let error = file.resolve().unwrap_err().to_string();
        assert!(error.contains("template.url"), "{error}");
        let mut crowded = Rollout::parse(YAML).unwrap();
        crowded.concurrency = Some(MAX_CONCURRENCY + 1);
        assert!(crowded.resolve().unwrap_err().to_string().contains("concurrency"));
    }

    #[test]
    fn adopt_is_off_unless_a_document_says_so_and_the_managed_by_tag_is_refused() {
        let base = Rollout::parse(YAML).unwrap();
        assert!(!base.resolve().unwrap().spec.adopt);
        let adopting = Rollout::parse("adopt: true\n").unwrap().over(base.clone());
        assert!(adopting.resolve().unwrap().spec.adopt);
        assert_eq!(
            Rollout::default().over(adopting).adopt,
            Some(true),
            "kept under a document that does not say"
        );

        let tagged = Rollout::parse("tags: {\"stackfleet:managed-by\": me}\n")
            .unwrap()
            .over(base);
        let error = tagged.resolve().unwrap_err().to_string();
        assert!(error.contains("tag \"stackfleet:managed-by\""), "{error}");
    }

    #[test]
    fn the_committed_schema_is_the_one_the_types_make() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../schema/rollout.schema.json");
        if std::env::var_os("STACKFLEET_WRITE_FIXTURES").is_some() {
            std::fs::write(path, json_schema()).unwrap();
        }
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            committed == json_schema(),
            "schema/rollout.schema.json is out of date: run `cargo run -- schema > schema/rollout.schema.json`"
        );
    }

    #[test]
    fn a_document_over_another_wins_field_by_field() {
        let base = Rollout::parse(YAML).unwrap();
        let over =
            Rollout::parse("parameters: {Size: l}\nconcurrency: 5\ntargets: {accounts: ['111111111111']}\n")
                .unwrap();
        let merged = over.over(base.clone());
        assert_eq!(merged.parameters["Size"], "l");
        assert_eq!(merged.parameters["Env"], "prod", "maps merge key by key");
        assert_eq!(merged.concurrency, Some(5));
        assert_eq!(
            merged.recovery,
            Some(RecoveryPolicy::Stop),
            "unset fields keep the base's"
        );
        assert!(
            merged.targets.ous.is_empty(),
            "a selection replaces the base's whole"
        );
        assert_eq!(
            merged.targets.regions, base.targets.regions,
            "regions stay the base's"
        );
        assert_eq!(Rollout::default().over(base.clone()), base);
    }
}
