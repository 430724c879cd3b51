//! The trust boundary of the serverless path, through the real handlers on the fakes: the
//! stored default spec is the policy an execution input is held to, a new account gets the
//! default exactly, the bootstrap machine takes new-account events only, and every target of a
//! run deploys the template version Discover pinned.

mod support;

use serde_json::{json, Value};
use stackfleet_aws::fake::{FakeCloud, FakeOrganization, FakeStore, ROOT};
use stackfleet_core::policy::InputPolicy;
use stackfleet_core::report::Report;
use stackfleet_core::run_keys::RunKeys;
use stackfleet_core::{ErrorName, OutcomeKind};
use stackfleet_lambda::error::LambdaError;
use stackfleet_lambda::input::Acceptance;
use stackfleet_lambda::lister::{Discovered, ListerSettings};
use support::{
    account, discover_on, fixture, rollout, run_of, target, templates, Machine, TEMPLATE, TEMPLATE_URL,
};

const PROD: &str = "ou-ab12-prod0001";
const SANDBOX: &str = "ou-ab12-sand0001";

/// Accounts 0-3 in Prod, 4-5 in Sandbox, all tagged env=prod but account 2 (env=dev); the
/// management account 999999999999 (tagged env=prod) under the root.
fn organization() -> FakeOrganization {
    let org = FakeOrganization::new(&"999999999999".parse().unwrap());
    org.add_ou(PROD, ROOT);
    org.add_ou(SANDBOX, ROOT);
    for n in 0..6 {
        org.add_account(
            &account(n),
            &format!("member-{n}"),
            "ACTIVE",
            if n < 4 { PROD } else { SANDBOX },
        );
        org.tag(&account(n), "env", if n == 2 { "dev" } else { "prod" });
    }
    let management = "999999999999".parse().unwrap();
    org.add_account(&management, "management", "ACTIVE", ROOT);
    org.tag(&management, "env", "prod");
    org
}

/// The platform team's stored default: the Prod OU, tagged env=prod, in us-east-1.
fn default_spec() -> Value {
    json!({
        "stackName": "org-federation",
        "template": {"url": TEMPLATE_URL},
        "parameters": {"SamlMetadataDocument": "<corporate-idp/>"},
        "deployRole": {"name": "stackfleet-deploy"},
        "targets": {"ous": [PROD], "tags": {"env": "prod"}, "regions": ["us-east-1"]},
    })
}

struct Bench {
    org: FakeOrganization,
    cloud: FakeCloud,
    store: FakeStore,
    templates: stackfleet_aws::fake::FakeTemplates,
    settings: ListerSettings,
}

impl Bench {
    fn new(acceptance: Acceptance) -> Self {
        Self {
            org: organization(),
            cloud: FakeCloud::new(),
            store: FakeStore::new(),
            templates: templates(),
            settings: ListerSettings {
                default_spec: default_spec(),
                acceptance,
                worker_concurrency: None,
            },
        }
    }

    async fn discover(&self, name: &str, input: Value) -> Result<Discovered, LambdaError> {
        discover_on(
            &self.org,
            &self.cloud,
            &self.store,
            &self.templates,
            &self.settings,
            name,
            input,
        )
        .await
    }

    /// A refusal leaves nothing behind: no record of the run, no AWS call in any target.
    fn nothing_written(&self, name: &str) {
        let prefix = format!("runs/{}/", run_of(name));
        assert!(
            self.store.keys().iter().all(|k| !k.starts_with(&prefix)),
            "{:?}",
            self.store.keys()
        );
        for n in 0..6 {
            assert!(self.cloud.operations(&target(n)).is_empty());
        }
    }
}

fn new_account_event(account: &str) -> Value {
    let mut event = fixture("event-create-account-result.json");
    event["detail"]["serviceEventDetails"]["createAccountStatus"]["accountId"] = json!(account);
    event
}

#[tokio::test(start_paused = true)]
async fn an_input_may_change_only_the_allow_listed_fields() {
    let bench = Bench::new(Acceptance::default());
    // The federation attack: only the SAML metadata swapped, the same template and role.
    let swap = json!({"parameters": {"SamlMetadataDocument": "<outside-idp/>"}});
    let error = bench.discover("swap", swap).await.unwrap_err();
    assert_eq!(error.name, ErrorName::InvalidInput);
    assert!(
        error
            .message
            .contains("may not change parameters.SamlMetadataDocument"),
        "{error}"
    );
    assert!(
        error
            .message
            .contains("accepts changes to: concurrency, failureTolerance, targets, waves"),
        "{error}"
    );
    bench.nothing_written("swap");

    for (name, input, field) in [
        (
            "template",
            json!({"template": {"url": "https://evil.s3.amazonaws.com/t.yaml"}}),
            "template",
        ),
        (
            "role",
            json!({"deployRole": {"name": "OrganizationAccountAccessRole"}}),
            "deployRole",
        ),
        (
            "caps",
            json!({"capabilities": ["CAPABILITY_NAMED_IAM"]}),
            "capabilities",
        ),
    ] {
        let error = bench.discover(name, input).await.unwrap_err();
        assert!(
            error.message.contains(&format!("may not change {field}")),
            "{name}: {error}"
        );
        bench.nothing_written(name);
    }

    // What the allow-list names, and a whole document equal to the default, pass.
    let narrower = json!({"targets": {"accounts": [account(0), account(1)]}, "concurrency": 2,
                          "failureTolerance": "50%", "waves": [{"count": 1}]});
    assert_eq!(bench.discover("narrow", narrower).await.unwrap().targets, 2);
    assert_eq!(bench.discover("same", default_spec()).await.unwrap().targets, 3);

    // A deployment may allow one parameter alone.
    let mut one = Bench::new(Acceptance {
        policy: InputPolicy::parse("targets parameters.SamlMetadataDocument").unwrap(),
        new_accounts_only: false,
    });
    one.settings.default_spec["parameters"]["Other"] = json!("x");
    let swap = json!({"parameters": {"SamlMetadataDocument": "<next-idp/>"}});
    assert!(one.discover("allowed", swap).await.is_ok());
}

#[tokio::test(start_paused = true)]
async fn an_input_narrows_the_default_targets_and_never_widens_them() {
    let bench = Bench::new(Acceptance::default());
    for (name, targets, why) in [
        (
            "sandbox",
            json!({"ous": [SANDBOX]}),
            "outside the stored default spec's targets",
        ),
        ("region", json!({"regions": ["eu-west-1"]}), "regions"),
        (
            "retagged",
            json!({"tags": {"env": "dev"}, "accounts": [account(2)]}),
            "tag filter",
        ),
        (
            "list",
            json!({"list": [target(4).to_string()]}),
            "outside the stored default spec's targets",
        ),
        (
            "management",
            json!({"accounts": ["999999999999"], "includeManagementAccount": true}),
            "management account",
        ),
    ] {
        let error = bench
            .discover(name, json!({ "targets": targets }))
            .await
            .unwrap_err();
        assert_eq!(error.name, ErrorName::InvalidInput, "{name}");
        assert!(
            error.message.contains("never widen") && error.message.contains(why),
            "{name}: {error}"
        );
        bench.nothing_written(name);
    }
}

#[tokio::test(start_paused = true)]
async fn a_new_account_gets_the_default_exactly_and_only_within_its_targeting() {
    let bench = Bench::new(Acceptance::default());
    let inside = bench
        .discover("joined-prod", new_account_event(account(1).as_ref()))
        .await
        .unwrap();
    assert_eq!((inside.targets, inside.skipped), (1, 0));

    // In Sandbox, or in Prod without the tag: reported Skipped with the reason, not deployed.
    for (name, n, why) in [
        ("joined-sandbox", 4, "outside"),
        ("joined-untagged", 2, "tag filter"),
    ] {
        let run = bench
            .discover(name, new_account_event(account(n).as_ref()))
            .await
            .unwrap();
        assert_eq!((run.targets, run.skipped), (0, 1), "{name}");
        let outcome = bench.store.object(&RunKeys::new(&run.run).outcome(&target(n)));
        assert!(
            outcome.contains("a new account not deployed to") && outcome.contains(why),
            "{outcome}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn the_bootstrap_machine_takes_new_account_events_only() {
    let bench = Bench::new(Acceptance {
        policy: InputPolicy::default(),
        new_accounts_only: true,
    });
    let error = bench
        .discover("doc", json!({"concurrency": 1}))
        .await
        .unwrap_err();
    assert_eq!(error.name, ErrorName::InvalidInput);
    assert!(
        error
            .message
            .contains("accepts only the EventBridge events of new accounts"),
        "{error}"
    );
    bench.nothing_written("doc");
    assert_eq!(
        bench
            .discover("event", new_account_event(account(0).as_ref()))
            .await
            .unwrap()
            .targets,
        1
    );
}

#[tokio::test(start_paused = true)]
async fn a_template_written_mid_run_reaches_no_later_target() {
    let mut machine = Machine::new(6);
    machine.rewrite_after_first_wave = Some("Resources:\n  Evil:\n    Type: AWS::IAM::User\n".into());
    let waves = json!([{"name": "canary", "accounts": [account(0)], "bakeSeconds": 60}]);
    let ended = machine.execute("pinned", rollout(&waves)).await;
    assert_eq!(ended.reduced.summary.created, 6);

    let report: Report = machine.report(&ended.reduced).await;
    let pinned = report.template.expect("the report names the template version");
    assert_eq!(pinned.url.as_str(), TEMPLATE_URL);
    assert_eq!(pinned.sha256, sha256_hex(TEMPLATE));
    let deployed = format!("{TEMPLATE_URL}?versionId={}", pinned.version_id);
    for n in 0..6 {
        assert_eq!(
            machine.cloud.stack_template(&target(n), "org-baseline"),
            Some(deployed.clone()),
            "target {n}"
        );
    }
    let location = stackfleet_core::pinned::s3_location(&pinned.deployed_url().unwrap()).unwrap();
    assert_eq!(
        machine.templates.body(&location).as_deref(),
        Some(TEMPLATE),
        "that version is the first"
    );
    let latest = stackfleet_core::pinned::s3_location(&pinned.url).unwrap();
    assert_ne!(
        machine.templates.body(&latest).as_deref(),
        Some(TEMPLATE),
        "the key was rewritten mid-run"
    );

    // The run record keeps the pin too.
    let stored = machine.store.object(&RunKeys::new(&ended.reduced.run).record());
    assert!(stored.contains(&pinned.sha256), "{stored}");
}

#[tokio::test(start_paused = true)]
async fn unpinnable_templates_are_refused_before_anything_is_touched() {
    let machine = Machine::new(2);
    machine.templates.put_unversioned("plain", "t.yaml", TEMPLATE);
    for (name, template, why) in [
        ("body", json!({"body": TEMPLATE}), "from S3 only"),
        (
            "unversioned",
            json!({"url": "https://plain.s3.amazonaws.com/t.yaml"}),
            "turn versioning on",
        ),
        (
            "missing",
            json!({"url": "https://plain.s3.amazonaws.com/nope.yaml"}),
            "NoSuchKey",
        ),
        (
            "elsewhere",
            json!({"url": "https://example.com/t.yaml"}),
            "S3 object",
        ),
    ] {
        let mut input = rollout(&json!([]));
        input["template"] = template;
        let error = machine.discover(name, input).await.unwrap_err();
        assert_eq!(error.name, ErrorName::InvalidInput, "{name}");
        assert!(error.message.contains(why), "{name}: {error}");
        assert!(machine
            .store
            .keys()
            .iter()
            .all(|k| !k.starts_with(&format!("runs/{name}-"))));
    }
    assert!(!machine.touched(&target(0)));
}

#[tokio::test(start_paused = true)]
async fn a_resume_deploys_nothing_the_default_no_longer_admits() {
    let mut machine = Machine::new(4);
    machine.cloud.deny_role(&account(3));
    let input = json!({"stackName": "org-baseline", "template": {"url": TEMPLATE_URL},
                       "targets": {"regions": ["us-east-1"]}, "failureTolerance": "100%"});
    let first = machine.execute("first", input).await;
    assert_eq!(first.reduced.summary.failed, 1);
    let resume = machine.resume_input(&first.reduced).await;

    // Since then, the platform team took account 3 out of the machine's scope.
    machine.settings = ListerSettings {
        default_spec: json!({"stackName": "org-baseline", "template": {"url": TEMPLATE_URL},
                             "targets": {"regions": ["us-east-1"], "exclude": [account(3)]}}),
        acceptance: Acceptance::default(),
        worker_concurrency: None,
    };
    let second = machine.execute("second", resume).await;
    let report = machine.report(&second.reduced).await;
    let outcome = report.outcomes.iter().find(|o| o.target == target(3)).unwrap();
    assert_eq!(outcome.kind(), OutcomeKind::Skipped);
    assert!(format!("{outcome:?}").contains("not resumed"), "{outcome:?}");
    assert_eq!(machine.cloud.operations(&target(3)).len(), 0);
}

fn sha256_hex(text: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_resume_after_the_default_changed_is_held_to_the_new_default() {
    let mut machine = Machine::new(3);
    machine.cloud.deny_role(&account(2));
    let default = |env: &str| {
        json!({"stackName": "org-baseline", "template": {"url": TEMPLATE_URL},
               "parameters": {"Env": env}, "targets": {"regions": ["us-east-1"]}})
    };
    machine.settings = ListerSettings {
        default_spec: default("wrong"),
        acceptance: Acceptance::default(),
        worker_concurrency: None,
    };
    let first = machine
        .execute("before-fix", json!({"failureTolerance": "100%"}))
        .await;
    assert_eq!(first.reduced.summary.failed, 1);
    let resume = machine.resume_input(&first.reduced).await;
    assert_eq!(
        resume,
        json!({"failureTolerance": "100%", "resume": first.reduced.run}),
        "the input as given"
    );

    // The platform team fixes the parameter in the default (a cdk deploy): the resume, which
    // repeats only what the input said, is not refused for the old value and deploys the new.
    machine.settings.default_spec = default("right");
    let second = machine.discover("after-fix", resume).await.unwrap();
    assert_eq!(second.targets, 1, "only what is left");
    let spec = machine.store.object(&RunKeys::new(&second.run).spec());
    assert!(spec.contains(r#""Env":"right""#), "{spec}");
}
