//! The CloudWatch adapter behind core's `Alarms` port, at the SDK seam: `aws-smithy-mocks` answers
//! DescribeAlarms as CloudWatch would, throttling included at the wire (the Query protocol).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_cloudwatch::config::retry::RetryConfig;
use aws_sdk_cloudwatch::operation::describe_alarms::{DescribeAlarmsInput, DescribeAlarmsOutput};
use aws_sdk_cloudwatch::types::{AlarmType, CompositeAlarm, MetricAlarm, StateValue};
use aws_sdk_cloudwatch::Client as CloudWatch;
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use stackfleet_aws::CloudWatchAlarms;
use stackfleet_core::ports::{Alarms, PortError};
use stackfleet_core::waves::AlarmState;

fn adapter(rules: &[&Rule]) -> CloudWatchAlarms {
    CloudWatchAlarms::new(mock_client!(
        aws_sdk_cloudwatch,
        RuleMode::MatchAny,
        rules,
        |config| {
            config.retry_config(
                RetryConfig::standard()
                    .with_max_attempts(3)
                    .with_initial_backoff(Duration::from_millis(1)),
            )
        }
    ))
}

fn names(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| (*n).to_owned()).collect()
}

fn metric(name: &str, state: &str) -> MetricAlarm {
    MetricAlarm::builder()
        .alarm_name(name)
        .state_value(StateValue::from(state))
        .build()
}

fn composite(name: &str, state: &str) -> CompositeAlarm {
    CompositeAlarm::builder()
        .alarm_name(name)
        .state_value(StateValue::from(state))
        .build()
}

/// Both kinds of alarm asked for, at most 100 names and 100 answers a page.
fn well_formed(input: &DescribeAlarmsInput) -> bool {
    let types = input.alarm_types();
    types.contains(&AlarmType::MetricAlarm)
        && types.contains(&AlarmType::CompositeAlarm)
        && (1..=100).contains(&input.alarm_names().len())
        && input.max_records() == Some(100)
}

fn state_map(pairs: &[(&str, AlarmState)]) -> BTreeMap<String, AlarmState> {
    pairs.iter().map(|(n, s)| ((*n).to_owned(), *s)).collect()
}

#[tokio::test]
async fn metric_and_composite_alarm_states_are_mapped() {
    let describe = mock!(CloudWatch::describe_alarms)
        .match_requests(|r| well_formed(r) && r.alarm_names() == ["errors", "latency", "service-health"])
        .then_output(|| {
            DescribeAlarmsOutput::builder()
                .metric_alarms(metric("errors", "OK"))
                .metric_alarms(metric("latency", "INSUFFICIENT_DATA"))
                .composite_alarms(composite("service-health", "ALARM"))
                .build()
        });

    let states = adapter(&[&describe])
        .states(&names(&["errors", "latency", "service-health"]))
        .await
        .unwrap();
    assert_eq!(
        states,
        state_map(&[
            ("errors", AlarmState::Ok),
            ("latency", AlarmState::InsufficientData),
            ("service-health", AlarmState::Alarm),
        ])
    );
    assert_eq!(describe.num_calls(), 1);
}

#[tokio::test]
async fn a_name_that_does_not_exist_is_absent_from_the_answer() {
    let describe = mock!(CloudWatch::describe_alarms)
        .match_requests(|r| well_formed(r) && r.alarm_names() == ["errors", "deleted-last-week"])
        .then_output(|| {
            DescribeAlarmsOutput::builder()
                .metric_alarms(metric("errors", "OK"))
                .build()
        });

    let states = adapter(&[&describe])
        .states(&names(&["errors", "deleted-last-week"]))
        .await
        .unwrap();
    assert_eq!(states, state_map(&[("errors", AlarmState::Ok)]));
    assert!(!states.contains_key("deleted-last-week"));
}

#[tokio::test]
async fn next_token_is_followed_to_the_last_page() {
    let first = mock!(CloudWatch::describe_alarms)
        .match_requests(|r| well_formed(r) && r.next_token().is_none())
        .then_output(|| {
            DescribeAlarmsOutput::builder()
                .metric_alarms(metric("errors", "OK"))
                .next_token("page-2")
                .build()
        });
    let second = mock!(CloudWatch::describe_alarms)
        .match_requests(|r| well_formed(r) && r.next_token() == Some("page-2"))
        .then_output(|| {
            DescribeAlarmsOutput::builder()
                .composite_alarms(composite("service-health", "ALARM"))
                .next_token("page-3")
                .build()
        });
    // A last page can be empty and still carry no token.
    let third = mock!(CloudWatch::describe_alarms)
        .match_requests(|r| well_formed(r) && r.next_token() == Some("page-3"))
        .then_output(|| DescribeAlarmsOutput::builder().build());

    let states = adapter(&[&first, &second, &third])
        .states(&names(&["errors", "service-health"]))
        .await
        .unwrap();
    assert_eq!(
        states,
        state_map(&[("errors", AlarmState::Ok), ("service-health", AlarmState::Alarm)])
    );
    assert_eq!(
        (first.num_calls(), second.num_calls(), third.num_calls()),
        (1, 1, 1)
    );
}

#[tokio::test]
async fn more_than_a_hundred_names_are_asked_a_hundred_at_a_time() {
    let asked: Vec<String> = (0..250).map(|i| format!("alarm-{i:03}")).collect();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let describe = mock!(CloudWatch::describe_alarms)
        .match_requests({
            let seen = Arc::clone(&seen);
            move |r| {
                seen.lock().unwrap().push(r.alarm_names().to_vec());
                well_formed(r)
            }
        })
        .then_compute_output(|r| {
            // Every asked alarm exists, in OK.
            let alarms = r.alarm_names().iter().map(|n| metric(n, "OK")).collect();
            DescribeAlarmsOutput::builder()
                .set_metric_alarms(Some(alarms))
                .build()
        });

    let states = adapter(&[&describe]).states(&asked).await.unwrap();
    assert_eq!(states.len(), 250);
    assert!(states.values().all(|s| *s == AlarmState::Ok));
    let seen = seen.lock().unwrap();
    let sizes: Vec<usize> = seen.iter().map(Vec::len).collect();
    assert_eq!(sizes, [100, 100, 50]);
    assert_eq!(seen.concat(), asked, "every name asked once, in order");
}

#[tokio::test]
async fn no_names_asks_nothing() {
    let describe = mock!(CloudWatch::describe_alarms).then_output(|| DescribeAlarmsOutput::builder().build());
    let states = adapter(&[&describe]).states(&[]).await.unwrap();
    assert!(states.is_empty());
    assert_eq!(describe.num_calls(), 0);
}

/// A throttled DescribeAlarms as CloudWatch sends it over the Query protocol (the one the
/// pinned SDK speaks: see the workspace Cargo.toml).
fn throttled_response() -> HttpResponse {
    let body = "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>\
                <Message>Rate exceeded</Message></Error><RequestId>r1</RequestId></ErrorResponse>";
    let mut response = HttpResponse::new(StatusCode::try_from(400).unwrap(), SdkBody::from(body));
    response.headers_mut().insert("content-type", "text/xml");
    response
}

#[tokio::test(start_paused = true)]
async fn throttling_is_retried_by_the_sdk_then_answers() {
    let describe = mock!(CloudWatch::describe_alarms)
        .sequence()
        .http_response(throttled_response)
        .times(2)
        .output(|| {
            DescribeAlarmsOutput::builder()
                .metric_alarms(metric("errors", "ALARM"))
                .build()
        })
        .build();

    let states = adapter(&[&describe]).states(&names(&["errors"])).await.unwrap();
    assert_eq!(states, state_map(&[("errors", AlarmState::Alarm)]));
    assert_eq!(describe.num_calls(), 3, "two throttled attempts, then the answer");
}

#[tokio::test(start_paused = true)]
async fn throttling_that_outlasts_the_retries_is_throttled() {
    let describe = mock!(CloudWatch::describe_alarms)
        .sequence()
        .http_response(throttled_response)
        .repeatedly()
        .build();

    let error = adapter(&[&describe])
        .states(&names(&["errors"]))
        .await
        .unwrap_err();
    match error {
        PortError::Throttled(message) => assert_eq!(message, "Rate exceeded"),
        other => panic!("expected Throttled, got {other:?}"),
    }
    assert_eq!(describe.num_calls(), 3, "the SDK's three attempts");
}

#[tokio::test]
async fn a_state_stackfleet_does_not_know_is_an_error_not_a_guess() {
    let describe = mock!(CloudWatch::describe_alarms).then_output(|| {
        DescribeAlarmsOutput::builder()
            .metric_alarms(metric("errors", "MUTED"))
            .build()
    });

    let error = adapter(&[&describe])
        .states(&names(&["errors"]))
        .await
        .unwrap_err();
    match error {
        PortError::Transport(message) => assert!(message.contains("\"errors\"") && message.contains("MUTED")),
        other => panic!("expected Transport, got {other:?}"),
    }
}
