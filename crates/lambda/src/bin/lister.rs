use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use stackfleet_aws::{AwsSettings, CfnStacks, CloudWatchAlarms, OrgClient, S3Store};
use stackfleet_lambda::lister::{list, ListerRequest};
use stackfleet_lambda::runtime::{init_tracing, now_ms, Settings};

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_tracing();
    let settings = Settings::from_env()?;
    let config = AwsSettings::default().sdk_config().await;
    let (org, validator) = (OrgClient::from_config(&config), CfnStacks::from_config(&config));
    let store = S3Store::from_config(&config, &settings.bucket);
    let alarms = CloudWatchAlarms::from_config(&config);
    let (org, validator, alarms, store, default_spec) =
        (&org, &validator, &alarms, &store, &settings.default_spec);
    run(service_fn(move |event: LambdaEvent<ListerRequest>| async move {
        list(
            org,
            validator,
            alarms,
            store,
            default_spec,
            event.payload,
            now_ms(),
        )
        .await
    }))
    .await
}
