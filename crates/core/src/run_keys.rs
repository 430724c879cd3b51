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

    pub fn spec(&self) -> String {
        format!("{}spec.json", self.prefix)
    }

    /// The merged execution input, which a re-run narrows.
    pub fn input(&self) -> String {
        format!("{}input.json", self.prefix)
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
