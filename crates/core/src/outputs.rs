//! The fleet's stack outputs: `{account: {region: {key: value}}}`, gathered from a report's
//! successful outcomes, for the next step of a pipeline (a role ARN, a bucket name from every
//! account). A local run writes it with `--outputs-json`, Reduce writes it next to the report,
//! and `stackfleet outputs` prints it, or one key of it.

use std::collections::BTreeMap;

use crate::outcome::Outcome;

/// Outputs by account, region and key.
pub type OutputsMap = BTreeMap<String, BTreeMap<String, BTreeMap<String, String>>>;

/// The outputs of every target that succeeded (created, updated or unchanged) and has any.
pub fn outputs_map<'a>(outcomes: impl IntoIterator<Item = &'a Outcome>) -> OutputsMap {
    let mut map = OutputsMap::new();
    for outcome in outcomes {
        if outcome.outputs.is_empty() || !outcome.kind().is_success() {
            continue;
        }
        map.entry(outcome.target.account.to_string())
            .or_default()
            .insert(outcome.target.region.to_string(), outcome.outputs.clone());
    }
    map
}

/// One output of every target that has it: `{account: {region: value}}`.
pub fn one_output(map: &OutputsMap, key: &str) -> BTreeMap<String, BTreeMap<String, String>> {
    map.iter()
        .filter_map(|(account, regions)| {
            let values: BTreeMap<String, String> = regions
                .iter()
                .filter_map(|(region, outputs)| Some((region.clone(), outputs.get(key)?.clone())))
                .collect();
            (!values.is_empty()).then(|| (account.clone(), values))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::errors::ErrorName;
    use crate::outcome::{RootCause, Verdict};

    fn with_outputs(target: &str, verdict: Verdict, outputs: &[(&str, &str)]) -> Outcome {
        Outcome {
            verdict,
            outputs: outputs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            ..Outcome::skipped(target.parse().unwrap(), "")
        }
    }

    #[test]
    fn the_map_holds_each_successful_targets_outputs_by_account_and_region() {
        let outcomes = [
            with_outputs(
                "111111111111:us-east-1",
                Verdict::Created,
                &[("RoleArn", "arn:1e"), ("Bucket", "b1")],
            ),
            with_outputs(
                "111111111111:eu-west-1",
                Verdict::Unchanged,
                &[("RoleArn", "arn:1w")],
            ),
            with_outputs("222222222222:us-east-1", Verdict::Updated, &[]),
            Outcome {
                outputs: [("RoleArn".to_owned(), "stale".to_owned())].into(),
                ..Outcome::failed(
                    "333333333333:us-east-1".parse().unwrap(),
                    ErrorName::StackFailed,
                    RootCause::message("no"),
                    0,
                    0,
                )
            },
        ];
        let map = outputs_map(&outcomes);
        let json = serde_json::to_value(&map).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"111111111111": {
                "eu-west-1": {"RoleArn": "arn:1w"},
                "us-east-1": {"Bucket": "b1", "RoleArn": "arn:1e"}
            }})
        );
        let roles = serde_json::to_value(one_output(&map, "RoleArn")).unwrap();
        assert_eq!(
            roles,
            serde_json::json!({"111111111111": {"eu-west-1": "arn:1w", "us-east-1": "arn:1e"}})
        );
        assert!(one_output(&map, "Nothing").is_empty());
    }
}
