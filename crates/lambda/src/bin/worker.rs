// The lifecycle's nested futures are deeper than rustc's default layout query depth.
#![recursion_limit = "256"]

use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use stackfleet_aws::{AwsSettings, S3Store, StsAssumer};
use stackfleet_core::lifecycle::SystemClock;
use stackfleet_lambda::runtime::{init_tracing, Settings};
use stackfleet_lambda::worker::{Worker, WorkerRequest};

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_tracing();
    let settings = Settings::from_env()?;
    let config = AwsSettings::default().sdk_config().await;
    let store = S3Store::from_config(&config, &settings.bucket);
    let worker = Worker::new(StsAssumer::new(&config), store, SystemClock, settings.poll_budget);
    let worker = &worker;
    run(service_fn(move |event: LambdaEvent<WorkerRequest>| async move {
        worker.handle(event.payload).await
    }))
    .await
}
