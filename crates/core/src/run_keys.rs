//! Where a run keeps its records in the run store: everything under `runs/<run>/`. The Lambda
//! functions write them; the operator commands read them; the CDK app's IAM grants follow them.

use crate::window::parts::{Heard, Tally};
use crate::{RunId, Target};

#[derive(Debug, Clone)]
pub struct RunKeys {
    prefix: String,
}

impl RunKeys {
    pub fn new(run: &RunId) -> Self {
        Self {
            prefix: format!("runs/{run}/"),
        }
    }

    pub fn record(&self) -> String {
        format!("{}run.json", self.prefix)
    }

    /// The run's rollout document (the execution input over the stored default): what every
    /// worker deploys, and what a re-run narrows.
    pub fn spec(&self) -> String {
        format!("{}spec.json", self.prefix)
    }

    pub fn outcomes(&self) -> String {
        format!("{}outcomes/", self.prefix)
    }

    pub fn outcome(&self, target: &Target) -> String {
        format!("{}{}-{}.json", self.outcomes(), target.account, target.region)
    }

    /// The target whose outcome `key` is (`outcome`'s inverse); `None` for any other key.
    pub fn outcome_target(&self, key: &str) -> Option<Target> {
        let name = key.strip_prefix(&self.outcomes())?.strip_suffix(".json")?;
        // An account ID holds no '-': the first one ends it.
        let (account, region) = name.split_once('-')?;
        Some(Target::new(account.parse().ok()?, region.parse().ok()?))
    }

    /// One empty object per failed target, under its wave: what `stackfleet status` counts
    /// while the run goes on, and what a wave's budget is checked against, with one LIST call
    /// per thousand failures instead of a GET per outcome.
    pub fn failed(&self) -> String {
        format!("{}failed/", self.prefix)
    }

    pub fn failed_in_wave(&self, wave: usize) -> String {
        format!("{}{wave}/", self.failed())
    }

    pub fn failed_marker(&self, wave: usize, target: &Target) -> String {
        format!(
            "{}{}-{}",
            self.failed_in_wave(wave),
            target.account,
            target.region
        )
    }

    /// One empty object per worker invocation that the caller's APIs (STS, the run bucket)
    /// throttled, under its wave, its tally in its name: the Gate lists them after a part to set
    /// the next part's concurrency (`window::parts`), one LIST call per thousand, no GET.
    pub fn throttled_in_wave(&self, wave: usize) -> String {
        format!("{}throttled/{wave}/", self.prefix)
    }

    /// `at_ms`: when the invocation ended; `heard`: its calls to the caller's APIs.
    pub fn throttled_marker(&self, wave: usize, target: &Target, at_ms: u64, heard: Heard) -> String {
        let Heard { sts, bucket } = heard;
        format!(
            "{}{at_ms}_{}-{}_{}_{}_{}_{}",
            self.throttled_in_wave(wave),
            target.account,
            target.region,
            sts.calls,
            sts.throttled,
            bucket.calls,
            bucket.throttled
        )
    }

    /// A throttled marker's time, target and tally (`throttled_marker`'s inverse); `None` for
    /// any other key.
    pub fn throttled_tally(&self, wave: usize, key: &str) -> Option<(u64, Target, Heard)> {
        let name = key.strip_prefix(&self.throttled_in_wave(wave))?;
        let fields: Vec<&str> = name.split('_').collect();
        let [at, target, counts @ ..] = fields.as_slice() else {
            return None;
        };
        let counts: Vec<u64> = counts.iter().map(|n| n.parse().ok()).collect::<Option<_>>()?;
        let [sts_calls, sts_throttled, bucket_calls, bucket_throttled] = counts[..] else {
            return None;
        };
        let (account, region) = target.split_once('-')?;
        let heard = Heard {
            sts: Tally {
                calls: sts_calls,
                throttled: sts_throttled,
            },
            bucket: Tally {
                calls: bucket_calls,
                throttled: bucket_throttled,
            },
        };
        let target = Target::new(account.parse().ok()?, region.parse().ok()?);
        Some((at.parse().ok()?, target, heard))
    }

    /// The targets of wave `index`, as a JSON list.
    pub fn wave(&self, index: usize) -> String {
        format!("{}waves/{index}.json", self.prefix)
    }

    /// Written once failures pass a wave's budget (`{wave, reason}`): no worker starts a new
    /// target after it.
    pub fn stop(&self) -> String {
        format!("{}stop.json", self.prefix)
    }

    /// Written by a worker before it first touches a target: a retried Start of a target already
    /// touched follows it through, even after the stop.
    pub fn started_marker(&self, target: &Target) -> String {
        format!("{}started/{}-{}", self.prefix, target.account, target.region)
    }

    /// Written by the Gate step when the rollout halts between waves.
    pub fn halt(&self) -> String {
        format!("{}halt.json", self.prefix)
    }

    /// A resumed run's successes (outcomes), carried into this run's report.
    pub fn inherited(&self) -> String {
        format!("{}inherited.json", self.prefix)
    }

    /// The ready execution input that re-runs or resumes this run.
    pub fn resume_input(&self) -> String {
        format!("{}resume-input.json", self.prefix)
    }

    pub fn report_json(&self) -> String {
        format!("{}report.json", self.prefix)
    }

    pub fn report_md(&self) -> String {
        format!("{}report.md", self.prefix)
    }

    /// A plan-first run (`mode: plan`): each target's plan (`plan::TargetPlan`), written by the
    /// worker that planned it.
    pub fn planned(&self) -> String {
        format!("{}planned/", self.prefix)
    }

    pub fn planned_target(&self, target: &Target) -> String {
        format!("{}{}-{}.json", self.planned(), target.account, target.region)
    }

    /// The plan for review (`plan::PlanFile`) and its Markdown, written when every target is
    /// planned: what a person approves, and what the workers apply.
    pub fn plan_json(&self) -> String {
        format!("{}plan.json", self.prefix)
    }

    pub fn plan_md(&self) -> String {
        format!("{}plan.md", self.prefix)
    }

    /// The approval of a plan (`wire::review::Approval`): the groups to apply. Written once, by
    /// `stackfleet approve`, or by the state machine when the plan expires (no group).
    pub fn approval(&self) -> String {
        format!("{}approval.json", self.prefix)
    }

    /// The stack outputs of every target that succeeded: `outputs::OutputsMap`.
    pub fn outputs_json(&self) -> String {
        format!("{}outputs.json", self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outcome_key_names_its_target_and_no_other_key_does() {
        let keys = RunKeys::new(&"r1".parse().unwrap());
        let target: Target = "111111111111:us-gov-west-1".parse().unwrap();
        assert_eq!(keys.outcome_target(&keys.outcome(&target)), Some(target));
        for other in [
            "runs/r1/outcomes/notes.txt",
            "runs/r1/outcomes/111111111111-us-east-1.json.bak",
            "runs/r2/outcomes/111111111111-us-east-1.json",
            "runs/r1/outcomes/11111111111-us-east-1.json",
        ] {
            assert_eq!(keys.outcome_target(other), None, "{other}");
        }
    }

    #[test]
    fn a_throttled_marker_carries_its_tally_and_no_other_key_does() {
        let keys = RunKeys::new(&"r1".parse().unwrap());
        let target: Target = "111111111111:us-gov-west-1".parse().unwrap();
        let heard = Heard {
            sts: Tally {
                calls: 2,
                throttled: 1,
            },
            bucket: Tally {
                calls: 7,
                throttled: 3,
            },
        };
        let key = keys.throttled_marker(2, &target, 1_790_000_000_123, heard);
        assert_eq!(
            keys.throttled_tally(2, &key),
            Some((1_790_000_000_123, target, heard))
        );
        assert_eq!(keys.throttled_tally(1, &key), None, "another wave's");
        for other in [
            "runs/r1/throttled/2/1790000000123_111111111111-us-east-1_2_1_7",
            "runs/r1/throttled/2/1790000000123_111111111111-us-east-1_2_1_7_3_1",
            "runs/r1/throttled/2/x_111111111111-us-east-1_2_1_7_3",
            "runs/r1/throttled/2/1790000000123_111111111111-us-east-1_2_x_7_3",
            "runs/r1/failed/2/111111111111-us-east-1",
        ] {
            assert_eq!(keys.throttled_tally(2, other), None, "{other}");
        }
    }

    /// tests/fixtures/run-keys.json is what the CDK app's IAM grants are checked against (jest):
    /// the layout is written here, in Rust, and read there.
    #[test]
    fn the_run_keys_fixture_is_the_layout() {
        let run: RunId = "deploy-2026-11-21-1".parse().unwrap();
        let target: Target = "111111111111:us-east-1".parse().unwrap();
        let keys = RunKeys::new(&run);
        let layout = serde_json::json!({
            "run": run,
            "target": target,
            "keys": {
                "record": keys.record(),
                "spec": keys.spec(),
                "outcome": keys.outcome(&target),
                "failedMarker": keys.failed_marker(0, &target),
                "throttledMarker": keys.throttled_marker(0, &target, 1_790_000_000_000, Heard {
                    sts: Tally { calls: 1, throttled: 1 },
                    bucket: Tally { calls: 4, throttled: 0 },
                }),
                "wave": keys.wave(0),
                "stop": keys.stop(),
                "startedMarker": keys.started_marker(&target),
                "halt": keys.halt(),
                "inherited": keys.inherited(),
                "resumeInput": keys.resume_input(),
                "reportJson": keys.report_json(),
                "reportMd": keys.report_md(),
                "outputsJson": keys.outputs_json(),
                "plannedTarget": keys.planned_target(&target),
                "planJson": keys.plan_json(),
                "planMd": keys.plan_md(),
                "approval": keys.approval(),
            },
        });
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/run-keys.json");
        let written = crate::wire::pretty(&layout);
        if std::env::var_os("STACKFLEET_WRITE_FIXTURES").is_some() {
            std::fs::write(path, &written).unwrap();
        }
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            committed == written,
            "tests/fixtures/run-keys.json is not the layout RunKeys makes: rerun this test with \
             STACKFLEET_WRITE_FIXTURES=1, then update infra/lib/permissions.ts if a key moved"
        );
    }
}
