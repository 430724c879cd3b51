use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use stackfleet_aws::{AwsSettings, CfnStacks, CloudWatchAlarms, OrgClient, S3Store, S3Templates};
use stackfleet_lambda::lister::{list, ListerPorts, ListerRequest, ListerSettings};
use stackfleet_lambda::runtime::{
    acceptance_from_env, init_tracing, now_ms, worker_concurrency_from_env, Settings,
};

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_tracing();
    let settings = Settings::from_env()?;
    let lister = ListerSettings {
        default_spec: settings.default_spec.clone(),
        acceptance: acceptance_from_env()?,
        worker_concurrency: worker_concurrency_from_env()?,
    };
    let config = AwsSettings::default().sdk_config().await;
    let (org, validator) = (OrgClient::from_config(&config), CfnStacks::from_config(&config));
    let store = S3Store::from_config(&config, &settings.bucket);
    let alarms = CloudWatchAlarms::from_config(&config);
    let templates = S3Templates::from_config(&config);
    let ports = ListerPorts {
        org: &org,
        validator: &validator,
        alarms: &alarms,
        templates: &templates,
        store: &store,
    };
    let lister = &lister;
    run(service_fn(move |event: LambdaEvent<ListerRequest>| async move {
        list(ports, lister, event.payload, now_ms()).await
    }))
    .await
}
