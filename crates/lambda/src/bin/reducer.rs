use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use stackfleet_aws::{AwsSettings, CloudWatchAlarms, S3Store};
use stackfleet_lambda::error::LambdaError;
use stackfleet_lambda::gate::gate;
use stackfleet_lambda::reducer::{reduce, ReducerRequest};
use stackfleet_lambda::review;
use stackfleet_lambda::runtime::{init_tracing, now_ms, Settings};

/// The Gate step between waves and the Reduce step at the end: both read the whole run; and a
/// plan-first run's Plan and Approval steps.
#[tokio::main]
async fn main() -> Result<(), Error> {
    init_tracing();
    let settings = Settings::from_env()?;
    let config = AwsSettings::default().sdk_config().await;
    let store = S3Store::from_config(&config, &settings.bucket);
    let alarms = CloudWatchAlarms::from_config(&config);
    let (store, alarms) = (&store, &alarms);
    run(service_fn(move |event: LambdaEvent<ReducerRequest>| async move {
        let answer = match event.payload {
            ReducerRequest::Gate(request) => {
                serde_json::to_value(gate(store, alarms, request, now_ms()).await?)
            }
            ReducerRequest::Reduce(request) => serde_json::to_value(reduce(store, request, now_ms()).await?),
            ReducerRequest::Plan(request) => {
                serde_json::to_value(review::plan(store, request, now_ms()).await?)
            }
            ReducerRequest::Approval(request) => {
                serde_json::to_value(review::approval(store, request, now_ms()).await?)
            }
        };
        answer.map_err(|e| LambdaError::new(stackfleet_core::ErrorName::Internal, e.to_string()))
    }))
    .await
}
