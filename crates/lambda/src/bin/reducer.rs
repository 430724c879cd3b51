use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use stackfleet_aws::{AwsSettings, S3Store};
use stackfleet_lambda::reducer::{reduce, ReduceRequest};
use stackfleet_lambda::runtime::{init_tracing, now_ms, Settings};

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_tracing();
    let settings = Settings::from_env()?;
    let config = AwsSettings::default().sdk_config().await;
    let store = S3Store::from_config(&config, &settings.bucket);
    let store = &store;
    run(service_fn(move |event: LambdaEvent<ReduceRequest>| async move {
        reduce(store, event.payload, now_ms()).await
    }))
    .await
}
