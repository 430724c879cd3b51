//! Where a run keeps its records in the run store: everything under `runs/<run>/`. The Lambda
//! functions write them; the operator commands read them; the CDK app's IAM grants follow them.

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

    /// One empty object per failed target: what `stackfleet status` counts while the run goes on,
    /// with one LIST call per thousand failures instead of a GET per outcome.
    pub fn failed(&self) -> String {
        format!("{}failed/", self.prefix)
    }

    pub fn failed_marker(&self, target: &Target) -> String {
        format!("{}{}-{}", self.failed(), target.account, target.region)
    }

    pub fn report_json(&self) -> String {
        format!("{}report.json", self.prefix)
    }

    pub fn report_md(&self) -> String {
        format!("{}report.md", self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
                "failedMarker": keys.failed_marker(&target),
                "reportJson": keys.report_json(),
                "reportMd": keys.report_md(),
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
