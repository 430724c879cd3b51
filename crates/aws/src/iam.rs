//! IAM behind core's `NamedResources`: read-only lookups (GetRole, GetPolicy, GetUser, GetGroup,
//! GetInstanceProfile) of names a template would create, in a target, for the pre-flight.

use aws_sdk_iam::Client;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use stackfleet_core::ports::{NamedResources, PortResult};
use stackfleet_core::stack::NamedKind;

use crate::errors::classify;

/// The IAM of one account (the client's credentials say which; IAM is global).
#[derive(Debug, Clone)]
pub struct IamNames {
    client: Client,
}

impl IamNames {
    pub fn new(client: Client) -> Self {
        Self { client }
    }
}

/// Found, not found (NoSuchEntity), or the call's own failure.
fn found<T, E>(answer: Result<T, SdkError<E, HttpResponse>>, missing: impl Fn(&E) -> bool) -> PortResult<bool>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match answer {
        Ok(_) => Ok(true),
        Err(error) if error.as_service_error().is_some_and(missing) => Ok(false),
        Err(error) => Err(classify(&error)),
    }
}

impl NamedResources for IamNames {
    async fn named_resource_exists(&self, kind: NamedKind, name: &str) -> PortResult<bool> {
        let iam = &self.client;
        match kind {
            NamedKind::Role => found(iam.get_role().role_name(name).send().await, |e| {
                e.is_no_such_entity_exception()
            }),
            NamedKind::ManagedPolicy => found(iam.get_policy().policy_arn(name).send().await, |e| {
                e.is_no_such_entity_exception()
            }),
            NamedKind::User => found(iam.get_user().user_name(name).send().await, |e| {
                e.is_no_such_entity_exception()
            }),
            NamedKind::Group => found(iam.get_group().group_name(name).send().await, |e| {
                e.is_no_such_entity_exception()
            }),
            NamedKind::InstanceProfile => found(
                iam.get_instance_profile()
                    .instance_profile_name(name)
                    .send()
                    .await,
                |e| e.is_no_such_entity_exception(),
            ),
        }
    }
}
