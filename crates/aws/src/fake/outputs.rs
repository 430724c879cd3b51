//! Stack outputs, scripted: the fake evaluates no template, so a test says what a stack's
//! Outputs come to, and DescribeStacks shows them once an operation has completed the stack.

use std::collections::BTreeMap;

use stackfleet_core::ids::Target;
use stackfleet_core::stack::StackStatus;

use super::FakeCloud;

pub(crate) type Outputs = BTreeMap<(Target, String), BTreeMap<String, String>>;

impl FakeCloud {
    /// The outputs stack `name` in `target` shows while complete (created or updated).
    pub fn set_outputs<'a>(
        &self,
        target: &Target,
        name: &str,
        outputs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) {
        let outputs = outputs
            .into_iter()
            .map(|(key, value)| (key.to_owned(), value.to_owned()))
            .collect();
        self.world()
            .outputs
            .insert((target.clone(), name.to_owned()), outputs);
    }
}

/// What DescribeStacks shows of stack `name`'s outputs in `status`.
pub(crate) fn of(
    outputs: &Outputs,
    target: &Target,
    name: &str,
    status: &StackStatus,
) -> BTreeMap<String, String> {
    let complete = matches!(status, StackStatus::CreateComplete | StackStatus::UpdateComplete);
    outputs
        .get(&(target.clone(), name.to_owned()))
        .filter(|_| complete)
        .cloned()
        .unwrap_or_default()
}
