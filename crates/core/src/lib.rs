//! stackfleet's vocabulary and decisions. No AWS SDK type appears here: adapters in
//! `stackfleet-aws` translate, and fakes there stand in for AWS in tests.

pub mod approving;
pub mod document;
pub mod errors;
pub mod escape;
pub mod executions;
pub mod ids;
pub mod lifecycle;
pub mod operator;
pub mod outcome;
pub mod outputs;
pub mod paced;
pub mod pinned;
pub mod plan;
pub mod policy;
pub mod ports;
pub mod preflight;
pub mod remembered;
pub mod report;
pub mod rollout;
pub mod run_ids;
pub mod run_keys;
pub mod secrets;
pub mod spec;
pub mod stack;
pub mod started;
pub mod targeting;
pub mod template;
pub mod waves;
pub mod window;
pub mod wire;

pub use document::{Rollout, Targets};
pub use errors::ErrorName;
pub use ids::{AccountId, InvalidId, Region, RunId, StackName, Target};
pub use outcome::{Failure, Outcome, OutcomeKind, RootCause, Verdict};
pub use spec::{RolloutSpec, TemplateSource};
