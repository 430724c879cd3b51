//! The state machine played on the fakes and paused time: `Machine` runs Discover, the Gate's
//! loop, the Deploy Map's children (Start, Wait and Poll, RecordFailure), Bake and Reduce
//! exactly as statemachine.asl.json sequences them, through the real handlers.

#![allow(dead_code)] // Each test binary uses its own part.

use std::time::Duration;

use serde_json::{json, Value};
use stackfleet_aws::fake::{FakeAlarms, FakeCloud, FakeOrganization, FakeStore, FakeTemplates, ROOT};
use stackfleet_core::lifecycle::{Clock, TokioClock};
use stackfleet_core::ports::RunStore;
use stackfleet_core::wire::gate::{GateAction, GateRequest};
use stackfleet_core::wire::reduce::Reduced;
use stackfleet_core::wire::review::{Approval, ApprovalAction, ApprovalRequest, PlanDigest, PlanRequest};
use stackfleet_core::wire::worker::CaughtError;
use stackfleet_core::{AccountId, Outcome, RunId, Target};
use stackfleet_lambda::error::LambdaError;
use stackfleet_lambda::gate::gate;
use stackfleet_lambda::input::Acceptance;
use stackfleet_lambda::lister::{list, Discovered, ListerPorts, ListerRequest, ListerSettings};
use stackfleet_lambda::reducer::{reduce, ReduceRequest};
use stackfleet_lambda::review;
use stackfleet_lambda::worker::{Worker, WorkerRequest, WorkerResponse};

/// The bucket and key of the template `rollout` deploys.
pub const TEMPLATE_BUCKET: &str = "templates";
pub const TEMPLATE_KEY: &str = "baseline.yaml";
pub const TEMPLATE_URL: &str = "https://templates.s3.us-east-1.amazonaws.com/baseline.yaml";
pub const TEMPLATE: &str = "Resources:\n  T:\n    Type: AWS::CloudFormation::WaitConditionHandle\n";
/// The template of tests/fixtures/default-spec.json, at its URL.
pub const BASELINE: &str = "Resources:\n  Marker:\n    Type: AWS::SSM::Parameter\n    Properties:\n      Name: /stackfleet/baseline\n      Type: String\n      Value: !Ref Env\nParameters:\n  Env:\n    Type: String\n";

/// When `discover_on`'s executions start (`$$.Execution.StartTime`): their runs end in
/// `-20261121T101413Z`.
pub const START_TIME: &str = "2026-11-21T10:14:13.192Z";

/// The run Discover gives the execution `name` started at `START_TIME`.
pub fn run_of(name: &str) -> stackfleet_core::RunId {
    let started = stackfleet_core::run_ids::start_time_ms(START_TIME).unwrap();
    stackfleet_core::run_ids::of_execution(name, started)
}

pub fn fixture(name: &str) -> Value {
    let path = format!("{}/../../tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Versioned template buckets holding `TEMPLATE` and the fixtures' default template.
pub fn templates() -> FakeTemplates {
    let templates = FakeTemplates::new();
    templates.put(TEMPLATE_BUCKET, TEMPLATE_KEY, TEMPLATE);
    templates.put("stackfleet-templates", "baseline.yaml", BASELINE);
    templates
}

/// Settings that let an input change every field, over `default_spec`.
pub fn open_settings(default_spec: Value) -> ListerSettings {
    ListerSettings {
        default_spec,
        acceptance: Acceptance {
            policy: stackfleet_core::policy::InputPolicy::everything(),
            new_accounts_only: false,
        },
        worker_concurrency: None,
    }
}

/// Discover over these fakes (no alarms).
pub async fn discover_on(
    org: &FakeOrganization,
    cloud: &FakeCloud,
    store: &FakeStore,
    templates: &FakeTemplates,
    settings: &ListerSettings,
    name: &str,
    input: Value,
) -> Result<Discovered, LambdaError> {
    let ports = ListerPorts {
        org,
        validator: cloud,
        alarms: &FakeAlarms::new(),
        templates,
        store,
    };
    let request = ListerRequest {
        execution: name.into(),
        start_time: Some(START_TIME.into()),
        input,
    };
    list(ports, settings, request, 1_000).await
}

pub fn account(n: u64) -> AccountId {
    format!("{:012}", 100_000_000_000 + n).parse().unwrap()
}

pub fn target(n: u64) -> Target {
    format!("{}:us-east-1", account(n)).parse().unwrap()
}

pub struct Machine {
    pub org: FakeOrganization,
    pub cloud: FakeCloud,
    pub alarms: FakeAlarms,
    pub templates: FakeTemplates,
    pub store: FakeStore,
    pub clock: TokioClock,
    pub worker: Worker<FakeCloud, FakeStore, TokioClock>,
    /// Targets whose child execution is aborted before its Start (the Map run's fault).
    pub aborted: Vec<Target>,
    /// The lister's settings: by default an empty default spec that lets an input change every
    /// field (`inputFields: *`), so that these tests' inputs say what they need.
    pub settings: ListerSettings,
    /// Written to the template's key once the first wave has been deployed.
    pub rewrite_after_first_wave: Option<String>,
    /// A plan-first run: the groups a person approves (`stackfleet approve`) at the first look
    /// for the approval; None: nobody approves, and the plan expires.
    pub approve: Option<fn(&PlanDigest) -> Vec<String>>,
    /// Called once the plan is written, before anybody approves it.
    pub after_plan: Option<fn(&Machine)>,
}

/// How an execution ended.
pub struct Ended {
    pub reduced: Reduced,
    pub gate_actions: Vec<GateAction>,
    /// Each Deploy the Gate answered: the Map's MaxConcurrency, and how many targets it held.
    pub parts: Vec<(u32, usize)>,
}

/// The state machine's Retry of a worker task that failed `Throttled`: 8 more tries, the first
/// after 5 s, doubling (its jitter left out).
const THROTTLED_RETRIES: u32 = 8;

impl Machine {
    pub fn new(accounts: u64) -> Self {
        let org = FakeOrganization::new(&"999999999999".parse().unwrap());
        for n in 0..accounts {
            org.add_account(&account(n), &format!("member-{n}"), "ACTIVE", ROOT);
        }
        let (cloud, store, clock) = (FakeCloud::new(), FakeStore::new(), TokioClock::new());
        Self {
            worker: Worker::new(cloud.clone(), store.clone(), clock),
            org,
            cloud,
            alarms: FakeAlarms::new(),
            templates: templates(),
            store,
            clock,
            aborted: Vec::new(),
            settings: open_settings(json!({})),
            rewrite_after_first_wave: None,
            approve: None,
            after_plan: None,
        }
    }

    /// One child execution: Start, then Wait and Poll until done; any error is caught into
    /// RecordFailure. Children run one at a time here (MaxConcurrency 1).
    async fn child(&self, run: &stackfleet_core::RunId, wave: usize, target: &Target) {
        let deadline = || self.clock.now_ms() + 150_000;
        let mut request = WorkerRequest::Start {
            run: run.clone(),
            target: target.clone(),
            wave,
            new_account: false,
        };
        let mut throttled = 0;
        loop {
            match self.worker.handle(request.clone(), deadline()).await {
                Ok(response) if response.done => return,
                Ok(response) => {
                    throttled = 0;
                    tokio::time::sleep(Duration::from_secs(response.wait_seconds)).await;
                    request = poll_of(response, 0);
                }
                Err(error) if error.name.to_string() == "Throttled" && throttled < THROTTLED_RETRIES => {
                    tokio::time::sleep(Duration::from_secs(5 << throttled)).await;
                    throttled += 1;
                    if let WorkerRequest::Poll { retried, .. } = &mut request {
                        *retried = throttled;
                    }
                }
                Err(error) => {
                    let fail = WorkerRequest::Fail {
                        run: run.clone(),
                        target: target.clone(),
                        wave,
                        error: CaughtError {
                            error: error.name.to_string(),
                            cause: error.message,
                        },
                    };
                    self.worker.handle(fail, deadline()).await.unwrap();
                    return;
                }
            }
        }
    }

    /// Discover alone.
    pub async fn discover(&self, name: &str, input: Value) -> Result<Discovered, LambdaError> {
        let ports = ListerPorts {
            org: &self.org,
            validator: &self.cloud,
            alarms: &self.alarms,
            templates: &self.templates,
            store: &self.store,
        };
        // Started now: the same name discovered again later is another run, as in AWS.
        let request = ListerRequest {
            execution: name.into(),
            start_time: Some(stackfleet_core::run_ids::start_time_text(self.clock.now_ms())),
            input,
        };
        list(ports, &self.settings, request, self.clock.now_ms()).await
    }

    pub async fn execute(&self, name: &str, input: Value) -> Ended {
        let discovered = self.discover(name, input).await.unwrap();
        let run = discovered.run;
        let (mut gate_actions, mut parts) = (Vec::new(), Vec::new());
        let mut request = GateRequest {
            run: run.clone(),
            cursor: None,
            map_error: None,
        };
        loop {
            let response = gate(&self.store, &self.alarms, request.clone(), self.clock.now_ms())
                .await
                .unwrap();
            gate_actions.push(response.action);
            match response.action {
                GateAction::Deploy => {
                    parts.push((response.concurrency, response.items.len()));
                    for target in &response.items {
                        if !self.aborted.contains(target) {
                            self.child(&run, response.wave, target).await;
                        }
                    }
                    if let Some(body) = self
                        .rewrite_after_first_wave
                        .as_ref()
                        .filter(|_| response.wave == 0)
                    {
                        self.templates.put(TEMPLATE_BUCKET, TEMPLATE_KEY, body);
                    }
                }
                GateAction::Bake => tokio::time::sleep(Duration::from_secs(response.wait_seconds)).await,
                GateAction::Plan => self.await_approval(&run).await,
                GateAction::Halt | GateAction::Done => break,
            }
            request = GateRequest {
                run: run.clone(),
                cursor: response.cursor,
                map_error: None,
            };
        }
        let reduced = reduce(&self.store, ReduceRequest { run }, self.clock.now_ms())
            .await
            .unwrap();
        Ended {
            reduced,
            gate_actions,
            parts,
        }
    }

    /// Plan, then Approval and its Wait until it says apply; a person approves at the first
    /// look, if this machine has one.
    async fn await_approval(&self, run: &stackfleet_core::RunId) {
        let digest = review::plan(&self.store, PlanRequest { run: run.clone() }, self.clock.now_ms())
            .await
            .unwrap();
        if let Some(after_plan) = self.after_plan {
            after_plan(self);
        }
        let mut approver = self.approve;
        loop {
            if let Some(approve) = approver.take() {
                let approval = Approval {
                    groups: approve(&digest),
                    approved_by: "arn:aws:iam::999999999999:user/reviewer".into(),
                    approved_at_ms: self.clock.now_ms(),
                    expired: false,
                };
                let key = stackfleet_core::run_keys::RunKeys::new(run).approval();
                self.store
                    .put(
                        &key,
                        serde_json::to_string(&approval).unwrap(),
                        "application/json",
                    )
                    .await
                    .unwrap();
            }
            let request = ApprovalRequest {
                run: run.clone(),
                expires_at_ms: digest.expires_at_ms,
            };
            let answer = review::approval(&self.store, request, self.clock.now_ms())
                .await
                .unwrap();
            match answer.action {
                ApprovalAction::Apply => return,
                ApprovalAction::Wait => tokio::time::sleep(Duration::from_secs(answer.wait_seconds)).await,
            }
        }
    }

    pub async fn resume_input(&self, reduced: &Reduced) -> Value {
        let key = reduced.resume_input_key.as_ref().expect("a resume input");
        serde_json::from_str(&self.store.get(key).await.unwrap().unwrap()).unwrap()
    }

    pub async fn report(&self, reduced: &Reduced) -> stackfleet_core::report::Report {
        serde_json::from_str(&self.store.get(&reduced.report_key).await.unwrap().unwrap()).unwrap()
    }

    pub fn clock_ms(&self) -> u64 {
        self.clock.now_ms()
    }

    pub fn touched(&self, target: &Target) -> bool {
        !self.cloud.operations(target).is_empty()
    }
}

pub fn rollout(waves: &Value) -> Value {
    json!({
        "stackName": "org-baseline",
        "template": {"url": TEMPLATE_URL},
        "targets": {"regions": ["us-east-1"]},
        "concurrency": 5,
        "waves": waves,
    })
}

/// The worker's first step for `target` of wave 0.
pub fn start(run: &stackfleet_core::RunId, target: &Target) -> WorkerRequest {
    WorkerRequest::Start {
        run: run.clone(),
        target: target.clone(),
        wave: 0,
        new_account: false,
    }
}

/// The Poll the state machine sends after a pending answer: its state handed back, `retried`
/// Step Functions' RetryCount.
pub fn poll_of(response: WorkerResponse, retried: u32) -> WorkerRequest {
    WorkerRequest::Poll {
        run: response.run,
        target: response.target,
        wave: response.wave,
        new_account: response.new_account,
        state: response.state.expect("a pending response carries its state"),
        retried,
    }
}

/// The one target of the worker's tests.
pub fn lone_target() -> Target {
    "111111111111:us-east-1".parse().unwrap()
}

/// A run of `lone_target` alone, discovered as the state machine's first state would under the
/// execution `name`, polled every 10 s, with the fixtures' stored default spec (recovery:
/// recreate); `cloud` validates its template.
pub async fn lone_run(cloud: &FakeCloud, store: &FakeStore, name: &str) -> RunId {
    let org = FakeOrganization::new(&"123456789012".parse().unwrap());
    org.add_account(&lone_target().account, "member-1", "ACTIVE", ROOT);
    let input = json!({ "targets": { "list": [lone_target().to_string()] }, "pollIntervalSeconds": 10 });
    let settings = open_settings(fixture("default-spec.json"));
    discover_on(&org, cloud, store, &templates(), &settings, name, input)
        .await
        .unwrap()
        .run
}

/// The outcome the worker stored for `lone_target` in `run`, if any.
pub async fn stored_outcome(store: &FakeStore, run: &RunId) -> Option<Outcome> {
    let key = format!("runs/{run}/outcomes/111111111111-us-east-1.json");
    let text = store.get(&key).await.unwrap()?;
    Some(serde_json::from_str(&text).unwrap())
}
