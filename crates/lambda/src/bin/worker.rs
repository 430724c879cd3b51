use futures::FutureExt;
use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use stackfleet_aws::{AwsSecrets, AwsSettings, S3Store, StsAssumer};
use stackfleet_core::lifecycle::SystemClock;
use stackfleet_lambda::runtime::{init_tracing, Settings};
use stackfleet_lambda::worker::{Worker, WorkerRequest};

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_tracing();
    let settings = Settings::from_env()?;
    let config = AwsSettings::default().sdk_config().await;
    let store = S3Store::from_config(&config, &settings.bucket);
    // References in a run's parameters are read in the worker's own account, with its role.
    let worker = Worker::new(StsAssumer::new(&config), store, SystemClock)
        .with_secrets(AwsSecrets::from_config(&config));
    let worker = &worker;
    run(service_fn(move |event: LambdaEvent<WorkerRequest>| {
        // The invocation's own deadline decides when the target goes back to the state machine.
        // Boxed: the handler's future holds the STS, CloudFormation and S3 clients' futures, and
        // rustc would otherwise lay it out inside `main`'s own, past its default query depth
        // (with tokio's test-util, as `cargo test` builds this binary, by some way).
        worker.handle(event.payload, event.context.deadline).boxed()
    }))
    .await
}
