//! A call to a server that accepts the connection and never answers ends as a transport error
//! (which every caller retries as a passing cause), within the configured timeouts: never a hang.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use aws_credential_types::provider::SharedCredentialsProvider;
use aws_credential_types::Credentials;
use stackfleet_aws::{AwsSettings, OrgClient, RetryMode, Timeouts};
use stackfleet_core::ports::{Organization, PortError};

/// Accepts every connection and keeps it open without a byte in answer.
fn silent_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    format!("http://{address}")
}

#[tokio::test]
async fn a_call_that_never_gets_an_answer_ends_as_a_transport_error() {
    let timeouts = Timeouts {
        connect: Duration::from_millis(500),
        read: Duration::from_millis(300),
        attempt: Duration::from_millis(600),
        operation: Duration::from_secs(3),
    };
    let settings = AwsSettings {
        region: Some("us-east-1".into()),
        endpoint_url: Some(silent_server()),
        retry_mode: RetryMode::Standard,
        max_attempts: 2,
        timeouts,
        ..AwsSettings::default()
    };
    let config = settings
        .sdk_config()
        .await
        .into_builder()
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "k", "s", None, None, "test",
        )))
        .build();
    let org = OrgClient::from_config(&config);
    let began = Instant::now();
    // The outer bound only turns a hang into a failure; the call ends long before it.
    let answer = tokio::time::timeout(Duration::from_secs(60), org.management_account())
        .await
        .expect("the call hung");
    assert!(matches!(answer, Err(PortError::Transport(_))), "{answer:?}");
    assert!(
        began.elapsed() < timeouts.operation + Duration::from_secs(2),
        "{:?}",
        began.elapsed()
    );
}
