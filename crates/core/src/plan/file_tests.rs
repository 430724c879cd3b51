use super::*;
use crate::plan::Reviewed;
use crate::rollout::FailureTolerance;
use crate::stack::ResourceChange;

fn target(n: u64) -> Target {
    format!("{n:012}:us-east-1").parse().unwrap()
}

fn change(action: &str, id: &str) -> ResourceChange {
    ResourceChange {
        action: action.into(),
        logical_id: id.into(),
        resource_type: "AWS::IAM::Role".into(),
        replacement: (action == "Modify").then(|| "False".into()),
    }
}

fn update(n: u64, changes: Vec<ResourceChange>) -> TargetPlan {
    TargetPlan {
        target: target(n),
        verdict: PlanVerdict::WouldUpdate { changes },
        adopts: false,
        reviewed: Some(Reviewed {
            change_set_id: Some(format!(
                "arn:aws:cloudformation:us-east-1:{n:012}:changeSet/p/{n}"
            )),
            stack_id: format!("arn:aws:cloudformation:us-east-1:{n:012}:stack/s/{n}"),
            stack_status: StackStatus::UpdateComplete,
            stack_last_updated_ms: Some(1_700_000_000_000),
        }),
    }
}

fn plan() -> PlanFile {
    let modify = vec![change("Modify", "ReadOnly"), change("Add", "Audit")];
    let plans = vec![
        update(1, modify.clone()),
        // The same changes listed in another order: the same plan.
        update(2, modify.iter().rev().cloned().collect()),
        update(3, vec![change("Remove", "Legacy")]),
        TargetPlan {
            target: target(4),
            verdict: PlanVerdict::NoChanges,
            adopts: false,
            reviewed: None,
        },
    ];
    let waves = vec![Wave {
        name: "all".into(),
        bake_seconds: 0,
        failure_tolerance: FailureTolerance::Count(0),
        targets: (1..=4).map(target).collect(),
    }];
    PlanFile::new(
        "p1".parse().unwrap(),
        5,
        Rollout::default(),
        waves,
        &plans,
        Vec::new(),
    )
}

#[test]
fn targets_with_the_same_changes_in_any_order_form_one_group_with_a_short_digest_id() {
    let plan = plan();
    assert_eq!(plan.groups.len(), 3);
    let first = &plan.groups[0];
    assert_eq!(first.targets, vec![target(1), target(2)]);
    assert_eq!(first.id.len(), 12);
    assert!(first.change_digest.starts_with(&first.id));
    assert_eq!(plan.targets[0].change_digest, plan.targets[1].change_digest);
    assert_ne!(plan.targets[0].change_digest, plan.targets[2].change_digest);
    // Adopting the same changes is another decision, so another group.
    assert_ne!(
        change_digest(&first.verdict, false),
        change_digest(&first.verdict, true)
    );
    let text = serde_json::to_string_pretty(&plan).unwrap();
    assert_eq!(PlanFile::parse(&text).unwrap(), plan);
}

#[test]
fn a_plan_file_edited_to_show_other_changes_is_refused() {
    let honest = plan();
    let mut json = serde_json::to_value(&honest).unwrap();
    // A reviewer would read "Add" where the change set removes.
    json["groups"][1]["changes"][0]["action"] = "Add".into();
    let error = PlanFile::parse(&json.to_string()).unwrap_err();
    assert!(
        matches!(&error, PlanError::Altered(text) if text.contains("changeDigest and id are not those")),
        "{error}"
    );
    assert!(error.to_string().ends_with("plan again"), "{error}");

    // A target moved into another group, digest and all, is caught by its group's list.
    let mut moved = honest.clone();
    moved.targets[2].group = moved.groups[0].id.clone();
    moved.targets[2].change_digest = moved.groups[0].change_digest.clone();
    assert!(matches!(moved.check(), Err(PlanError::Altered(_))));

    // A target dropped from the waves would never run, nor be reported.
    let mut unwaved = honest.clone();
    unwaved.waves[0].targets.pop();
    assert!(matches!(unwaved.check(), Err(PlanError::Altered(_))));

    // A change set given to a target whose plan has none.
    let mut smuggled = honest;
    smuggled.targets[3].change_set_id = Some("arn:aws:cloudformation:x".into());
    assert!(matches!(smuggled.check(), Err(PlanError::Altered(_))));
}

#[test]
fn another_version_or_another_document_is_refused_by_name() {
    let mut json = serde_json::to_value(plan()).unwrap();
    json["version"] = 2.into();
    assert_eq!(
        PlanFile::parse(&json.to_string()).unwrap_err(),
        PlanError::Version { found: 2 }
    );
    let report = r#"{"run": "r1", "outcomes": []}"#;
    assert!(matches!(
        PlanFile::parse(report),
        Err(PlanError::Unreadable(text)) if text.contains("version")
    ));
}

#[test]
fn groups_are_selected_by_id_and_an_unknown_one_names_the_known() {
    let plan = plan();
    let all = plan.select(&[]).unwrap();
    assert_eq!(all.len(), 3);
    let one = plan.select(&[plan.groups[1].id.clone()]).unwrap();
    assert_eq!(
        one.into_iter().collect::<Vec<_>>(),
        vec![plan.groups[1].id.clone()]
    );
    let error = plan.select(&["deadbeef0000".into()]).unwrap_err();
    let text = error.to_string();
    assert!(
        text.starts_with("no group deadbeef0000 in this plan; its groups are "),
        "{text}"
    );
    assert!(plan.groups.iter().all(|g| text.contains(&g.id)), "{text}");
}

#[test]
fn the_committed_plan_schema_is_the_one_the_types_make() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../schema/plan.schema.json");
    if std::env::var_os("STACKFLEET_WRITE_FIXTURES").is_some() {
        std::fs::write(path, json_schema()).unwrap();
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == json_schema(),
        "schema/plan.schema.json is out of date: run STACKFLEET_WRITE_FIXTURES=1 cargo test -p \
         stackfleet-core the_committed_plan_schema"
    );
}

#[test]
fn the_recorded_document_keeps_references_and_masks_plaintext_no_echo_values() {
    let document = Rollout::parse(
        "stackName: s\nparameters: {Db: hunter2, Token: '{{resolve:ssm-secure:/stackfleet/t}}', Env: prod}\n\
         parameterOverrides: {'111111111111': {Db: other-secret}}\nresume: r0\n",
    )
    .unwrap();
    let no_echo: BTreeSet<String> = ["Db", "Token"].map(str::to_owned).into();
    let recorded = recorded_document(document, &no_echo);
    let text = serde_json::to_string(&recorded).unwrap();
    assert!(
        !text.contains("hunter2") && !text.contains("other-secret"),
        "{text}"
    );
    assert_eq!(recorded.parameters["Db"], "****");
    assert_eq!(
        recorded.parameters["Token"],
        "{{resolve:ssm-secure:/stackfleet/t}}"
    );
    assert_eq!(recorded.parameters["Env"], "prod");
    assert_eq!(recorded.parameter_overrides["111111111111"]["Db"], "****");
    assert_eq!(recorded.resume, None);
}
