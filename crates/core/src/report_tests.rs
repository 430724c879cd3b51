use super::*;
use crate::outcome::RootCause;

fn failed(target: &str, reason: &str) -> Outcome {
    Outcome::failed(
        target.parse().unwrap(),
        ErrorName::StackFailed,
        RootCause::message(reason),
        10,
        3,
    )
}

#[test]
fn one_cause_in_many_accounts_is_one_group() {
    let outcomes = vec![
        failed(
            "111111111111:us-east-1",
            "Role arn:aws:iam::111111111111:role/X already exists",
        ),
        failed(
            "222222222222:us-east-1",
            "Role arn:aws:iam::222222222222:role/X already exists",
        ),
        failed("333333333333:us-east-1", "Bucket name taken"),
        Outcome::skipped("444444444444:us-east-1".parse().unwrap(), "account is SUSPENDED"),
    ];
    let groups = group_failures(&outcomes, &"r1".parse().unwrap());
    assert_eq!(groups.len(), 2);
    assert_eq!(
        groups[0].cause,
        "Role arn:aws:iam::<account>:role/X already exists"
    );
    assert_eq!(groups[0].targets.len(), 2);
    let summary = Summary::of(&outcomes);
    assert_eq!((summary.total, summary.failed, summary.skipped), (4, 3, 1));
}

#[test]
fn request_ids_timestamps_and_this_run_do_not_split_a_cause() {
    let run: RunId = "deploy-7".parse().unwrap();
    let text = |account: &str, id: &str, at: &str| {
        format!(
            "Resource handler returned message: \"Access denied for arn:aws:iam::{account}:role/x \
             (Service: Iam, Status Code: 403, Request ID: {id})\" at {at} token stackfleet-deploy-7-ab"
        )
    };
    let a = text(
        "111111111111",
        "6f1c2a4e-0b7d-4c53-9a61-6f6f1d2a9b11",
        "2026-11-22T10:01:02.123Z",
    );
    let b = text(
        "222222222222",
        "0a2b3c4d-1111-2222-3333-444455556666",
        "2026-11-22T10:09:59Z",
    );
    assert_eq!(normalised(&a, &run), normalised(&b, &run));
    assert!(
        normalised(&a, &run).contains("Request ID: <id>"),
        "{}",
        normalised(&a, &run)
    );
    assert!(normalised(&a, &run).contains("stackfleet-<run>-ab"));
    let outcomes = vec![
        failed("111111111111:us-east-1", &a),
        failed("222222222222:us-east-1", &b),
    ];
    assert_eq!(group_failures(&outcomes, &run).len(), 1);
    // The raw text stays with each target.
    assert!(outcomes[0]
        .failure()
        .unwrap()
        .root_cause
        .reason
        .contains("6f1c2a4e"));
}

#[test]
fn a_rerun_takes_the_failed_and_the_not_started() {
    let outcomes = vec![
        failed("111111111111:us-east-1", "x"),
        Outcome::not_started("222222222222:us-east-1".parse().unwrap(), "not started: halted"),
        Outcome::skipped("444444444444:us-east-1".parse().unwrap(), "account is SUSPENDED"),
    ];
    let report = Report::new("r1".parse().unwrap(), "s".parse().unwrap(), 0, 5, false, outcomes);
    let back = Report::from_json(&serde_json::to_string(&report).unwrap()).unwrap();
    assert_eq!(
        back.rerun_targets(),
        vec![
            "111111111111:us-east-1".parse().unwrap(),
            "222222222222:us-east-1".parse().unwrap()
        ]
    );
}

#[test]
fn stale_targets_are_counted_grouped_and_shown_in_every_format() {
    let stale = |account: &str, at: &str| {
        Outcome::stale(
            format!("{account}:us-east-1").parse().unwrap(),
            format!("the stack changed since the plan: last updated {at}"),
            5,
            2,
        )
    };
    let outcomes = vec![
        stale("111111111111", "2026-11-22T10:01:02Z"),
        stale("222222222222", "2026-11-22T10:09:59Z"),
        failed("333333333333:us-east-1", "x"),
    ];
    let report = Report::new("r1".parse().unwrap(), "s".parse().unwrap(), 0, 5, true, outcomes);
    assert_eq!((report.summary.stale, report.summary.failed), (2, 1));
    assert_eq!(report.stale_groups.len(), 1, "{:?}", report.stale_groups);
    assert_eq!(
        report.stale_groups[0].reason,
        "the stack changed since the plan: last updated <time>"
    );
    assert_eq!(report.failure_groups.len(), 1, "stale is no failure");
    let back = Report::from_json(&serde_json::to_string(&report).unwrap()).unwrap();
    assert_eq!(back, report);
    assert_eq!(
        back.rerun_targets().len(),
        3,
        "a re-run plans the stale targets again"
    );
    let md = report.to_markdown();
    assert!(md.contains("1 failed, 0 skipped, 2 stale**"), "{md}");
    assert!(md.contains("## Stale: not applied, plan again"), "{md}");
    assert!(
        md.contains("- **2 targets**: the stack changed since the plan"),
        "{md}"
    );
    let xml = report.to_junit();
    assert!(xml.contains("Stale: the stack changed since the plan"), "{xml}");
    // A deploy's report, which has no stale target, is written as before.
    let deploy = Report::new(
        "r1".parse().unwrap(),
        "s".parse().unwrap(),
        0,
        5,
        true,
        Vec::new(),
    );
    let json = serde_json::to_value(&deploy).unwrap();
    assert!(json["summary"].get("stale").is_none() && json.get("staleGroups").is_none());
}

#[test]
fn counts_read_as_english() {
    assert_eq!(targets_count(0), "0 targets");
    assert_eq!(targets_count(1), "1 target");
    assert_eq!(targets_count(412), "412 targets");
}

#[test]
fn the_json_report_gives_back_exactly_the_failed_targets() {
    let outcomes = vec![
        failed("111111111111:us-east-1", "x"),
        Outcome::skipped("444444444444:us-east-1".parse().unwrap(), "account is SUSPENDED"),
    ];
    let report = Report::new("r1".parse().unwrap(), "s".parse().unwrap(), 0, 5, false, outcomes);
    let json = serde_json::to_string_pretty(&report).unwrap();
    let back = Report::from_json(&json).unwrap();
    assert_eq!(back, report);
    assert_eq!(
        back.rerun_targets(),
        vec!["111111111111:us-east-1".parse().unwrap()]
    );
    assert!(report.to_markdown().contains("1 target**, StackFailed: x"));
}
