//! Bad input is refused at the edge with a message that says what is wrong, before any AWS call.

use aws_sdk_cloudformation::operation::validate_template::ValidateTemplateOutput;
use aws_sdk_cloudformation::Client as Cfn;
use aws_sdk_sts::Client as Sts;
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use stackfleet_aws::{CfnStacks, StsAssumer};
use stackfleet_core::lifecycle::{run_target, DriveOptions, Job, TokioClock};
use stackfleet_core::preflight::preflight;
use stackfleet_core::spec::MAX_INLINE_TEMPLATE_BYTES;
use stackfleet_core::{Rollout, RunId, Target};

/// What a caller hands over: an execution input's spec and its targets, unparsed.
struct RawRollout {
    spec_json: String,
    targets: Vec<&'static str>,
}

fn spec_json(stack_name: &str, body: &str) -> String {
    serde_json::json!({ "stackName": stack_name, "template": { "body": body } }).to_string()
}

const GOOD_BODY: &str = "Resources:\n  Topic:\n    Type: AWS::SNS::Topic\n";

/// Parses everything first, as every entry point does, and only then calls AWS.
async fn roll_out(raw: &RawRollout, validate: &Rule, assume: &Rule) -> Result<usize, String> {
    let spec = Rollout::parse(&raw.spec_json)
        .and_then(|document| document.resolve())
        .map_err(|e| e.to_string())?
        .spec;
    let targets = raw
        .targets
        .iter()
        .map(|t| t.parse::<Target>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    let cfn = mock_client!(aws_sdk_cloudformation, RuleMode::MatchAny, [validate]);
    preflight(&CfnStacks::new(cfn.clone()), &spec)
        .await
        .map_err(|e| e.to_string())?;
    let assumer = StsAssumer::from_clients(
        mock_client!(aws_sdk_sts, RuleMode::MatchAny, [assume]),
        cfn.config().clone(),
    );
    let run: RunId = "bad-input".parse().unwrap();
    for target in &targets {
        let job = Job {
            target,
            spec: &spec,
            run: &run,
            new_account: false,
        };
        run_target(&assumer, &job, &TokioClock::new(), DriveOptions::default()).await;
    }
    Ok(targets.len())
}

#[tokio::test]
async fn bad_input_gets_a_clear_error_and_no_aws_call() {
    let oversized = format!(
        "Description: {}\nResources: {{}}\n",
        "x".repeat(MAX_INLINE_TEMPLATE_BYTES)
    );
    let cases = [
        (
            spec_json("org-baseline", GOOD_BODY),
            vec!["12345678901:us-east-1"],
            "invalid account ID \"12345678901\": must be exactly 12 digits",
        ),
        (
            spec_json("org-baseline", GOOD_BODY),
            vec!["123456789012:us-east"],
            "invalid region \"us-east\"",
        ),
        (
            spec_json("org_baseline", GOOD_BODY),
            vec!["123456789012:us-east-1"],
            "invalid stack name \"org_baseline\"",
        ),
        (
            spec_json("org-baseline", "Resources: [unclosed\n  - {"),
            vec!["123456789012:us-east-1"],
            "neither JSON nor YAML",
        ),
        (
            spec_json("org-baseline", &oversized),
            vec!["123456789012:us-east-1"],
            "upload it to S3",
        ),
    ];
    for (spec_json, targets, expected) in cases {
        let validate =
            mock!(Cfn::validate_template).then_output(|| ValidateTemplateOutput::builder().build());
        let assume = mock!(Sts::assume_role).then_error(|| unreachable!("no call may reach STS"));
        let error = roll_out(&RawRollout { spec_json, targets }, &validate, &assume)
            .await
            .unwrap_err();
        assert!(error.contains(expected), "expected {expected:?} in {error:?}");
        assert_eq!((validate.num_calls(), assume.num_calls()), (0, 0), "{error}");
    }
}
