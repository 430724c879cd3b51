//! STS's answers, as the SDK mocks give them to the adapters.

use aws_sdk_sts::operation::assume_role::AssumeRoleOutput;
use aws_sdk_sts::types::Credentials;
use aws_smithy_types::DateTime;

/// A role assumed: credentials that expire in 2100.
pub fn assumed() -> AssumeRoleOutput {
    let credentials = Credentials::builder()
        .access_key_id("ASIAFAKE")
        .secret_access_key("secret")
        .session_token("token")
        .expiration(DateTime::from_secs(4_102_444_800))
        .build()
        .unwrap();
    AssumeRoleOutput::builder().credentials(credentials).build()
}
