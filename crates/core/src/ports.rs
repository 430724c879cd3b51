//! The ports: what core needs from AWS, one trait per capability, each method one AWS call
//! returning core's values. `stackfleet-aws` implements them with the SDK and with in-memory fakes.

use std::future::Future;
use std::time::Duration;

use crate::errors::ErrorName;
use crate::ids::{RunId, Target};
use crate::spec::{DeployRole, TemplateSource};
use crate::stack::{
    ChangeSetCreated, ChangeSetDescription, ChangeSetEvent, ChangeSetRequest, EventPage, NamedKind,
    StackDescription, StackRequest, StackResource, UpdateStarted,
};

/// How an AWS call failed, in the terms the lifecycle decides on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PortError {
    #[error("access denied: {0}")]
    AccessDenied(String),
    #[error("account not ready: {0}")]
    AccountNotReady(String),
    /// The account has not enabled the target's region (an opt-in region), or has turned STS off
    /// in it: the target is Skipped, at once.
    #[error("region not enabled: {0}")]
    RegionNotEnabled(String),
    #[error("throttled beyond the SDK's retries: {0}")]
    Throttled(String),
    #[error("template invalid: {0}")]
    TemplateInvalid(String),
    #[error("stack already exists: {0}")]
    AlreadyExists(String),
    /// An operation is running on the stack; it cannot take another now.
    #[error("stack busy: {0}")]
    StackBusy(String),
    /// AWS understood and refused the request, for a reason we do not handle specially.
    #[error("{code}: {message}")]
    Rejected { code: String, message: String },
    /// No usable answer: a network failure, a timeout, a 5xx after retries.
    #[error("transport: {0}")]
    Transport(String),
}

impl PortError {
    /// The contract name this error becomes when nothing handles it.
    pub fn name(&self) -> ErrorName {
        match self {
            Self::AccessDenied(_) | Self::RegionNotEnabled(_) => ErrorName::AccessDenied,
            Self::AccountNotReady(_) => ErrorName::AccountNotReady,
            Self::Throttled(_) => ErrorName::Throttled,
            Self::TemplateInvalid(_) => ErrorName::TemplateInvalid,
            Self::StackBusy(_) => ErrorName::StackBusy,
            Self::AlreadyExists(_) | Self::Rejected { .. } => ErrorName::StackFailed,
            Self::Transport(_) => ErrorName::Internal,
        }
    }
}

pub type PortResult<T> = Result<T, PortError>;

/// What AssumeRole needs to open a session in one target.
#[derive(Debug, Clone, Copy)]
pub struct AssumeRequest<'a> {
    pub target: &'a Target,
    pub role: &'a DeployRole,
    pub run: &'a RunId,
    pub session_duration_seconds: Option<u32>,
    /// The account joined the Organization moments ago: its deploy role may not exist yet, so an
    /// AccessDenied means "not ready", worth retrying, rather than "misconfigured".
    pub new_account: bool,
}

/// Opens a session scoped to one target: its stacks, and read-only lookups of its named IAM
/// resources (the pre-flight).
pub trait AssumeRole: Send + Sync {
    type Session: StackOperations + NamedResources;

    fn assume(&self, request: AssumeRequest<'_>) -> impl Future<Output = PortResult<Self::Session>> + Send;

    /// True when a throttled call keeps its target waiting until the caller's quota has room
    /// again (a local run's adaptive pacing, `paced::Paced`): the throttle is the caller's, not
    /// the target's, so retrying it does not spend the target's own retries.
    fn waits_out_throttles(&self) -> bool {
        false
    }
}

/// Operates the stacks of one target (one account, one region). `stack` is a name or a stack ID.
pub trait StackOperations: Send + Sync {
    /// `Ok(None)` when no such stack exists.
    fn describe_stack(
        &self,
        stack: &str,
    ) -> impl Future<Output = PortResult<Option<StackDescription>>> + Send;

    /// Returns the new stack's ID.
    fn create_stack(&self, request: &StackRequest) -> impl Future<Output = PortResult<String>> + Send;

    fn update_stack(&self, request: &StackRequest) -> impl Future<Output = PortResult<UpdateStarted>> + Send;

    fn continue_update_rollback(
        &self,
        stack: &str,
        skip_resources: &[String],
        token: &str,
    ) -> impl Future<Output = PortResult<()>> + Send;

    fn delete_stack(&self, stack: &str, token: &str) -> impl Future<Output = PortResult<()>> + Send;

    /// One page of events, newest first.
    fn stack_events(
        &self,
        stack: &str,
        page: Option<&str>,
    ) -> impl Future<Output = PortResult<EventPage>> + Send;

    /// Returns the change set's ID.
    fn create_change_set(
        &self,
        request: &ChangeSetRequest,
    ) -> impl Future<Output = PortResult<ChangeSetCreated>> + Send;

    /// `Ok(None)` when no such change set exists (deleted, or never made).
    fn describe_change_set(
        &self,
        change_set_id: &str,
    ) -> impl Future<Output = PortResult<Option<ChangeSetDescription>>> + Send;

    fn delete_change_set(&self, change_set_id: &str) -> impl Future<Output = PortResult<()>> + Send;

    /// ExecuteChangeSet: starts the stack operation the change set describes. `token` is its
    /// ClientRequestToken: the operation's events carry it, and a retried call with the same
    /// token is the same request.
    fn execute_change_set(
        &self,
        change_set_id: &str,
        token: &str,
    ) -> impl Future<Output = PortResult<()>> + Send;

    /// One page of a change set's failed events (DescribeEvents with FailedEvents): what
    /// CloudFormation's validation refused in it. Endpoints without the API (emulators) answer
    /// an error, which the caller takes as "no events".
    fn change_set_failures(
        &self,
        change_set_id: &str,
        page: Option<&str>,
    ) -> impl Future<Output = PortResult<Page<ChangeSetEvent>>> + Send;

    /// The resources a stack has now, with their physical IDs (DescribeStackResources).
    fn stack_resources(&self, stack: &str) -> impl Future<Output = PortResult<Vec<StackResource>>> + Send;
}

/// Read-only lookups of a target account's named IAM resources: whether a name a template would
/// create is taken already (the pre-flight, where CloudFormation gives no validation events).
pub trait NamedResources: Send + Sync {
    /// Whether a `kind` resource exists under `name` (GetRole, GetPolicy by `name` as an ARN,
    /// GetUser, GetGroup, GetInstanceProfile): `Ok(false)` for NoSuchEntity.
    fn named_resource_exists(
        &self,
        kind: NamedKind,
        name: &str,
    ) -> impl Future<Output = PortResult<bool>> + Send;
}

/// What CloudFormation's validation says of a template that stackfleet acts on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ValidatedTemplate {
    /// The parameters declared `NoEcho`: never written out in plaintext.
    pub no_echo: std::collections::BTreeSet<String>,
}

/// CloudFormation's own check of a template, made once before any target is touched.
pub trait ValidateTemplate: Send + Sync {
    fn validate_template(
        &self,
        template: &TemplateSource,
    ) -> impl Future<Output = PortResult<ValidatedTemplate>> + Send;
}

/// Reads secrets in the caller's own account: SSM Parameter Store (decrypted) and Secrets Manager.
pub trait Secrets: Send + Sync {
    /// The text `reference` points at: a parameter's value, or a secret's whole SecretString (a
    /// JSON key is picked by core). `Ok(None)` when no such parameter, secret or version exists.
    fn read(
        &self,
        reference: &crate::secrets::SecretRef,
    ) -> impl Future<Output = PortResult<Option<crate::secrets::SecretValue>>> + Send;
}

/// For processes that were given no way to read secrets: every reference is refused, by name.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoSecrets;

impl Secrets for NoSecrets {
    async fn read(
        &self,
        reference: &crate::secrets::SecretRef,
    ) -> PortResult<Option<crate::secrets::SecretValue>> {
        Err(PortError::Rejected {
            code: "NoSecrets".into(),
            message: format!("this process cannot read secrets, so {reference} stays unresolved"),
        })
    }
}

/// An account as Organizations lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgAccount {
    pub id: crate::ids::AccountId,
    pub name: String,
    /// ACTIVE, SUSPENDED, PENDING_CLOSURE, ...
    pub status: String,
}

impl OrgAccount {
    pub fn is_active(&self) -> bool {
        self.status == "ACTIVE"
    }
}

/// One page of a listing. Organizations may answer an empty page that still has a next one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_page: Option<String>,
}

/// Listing APIs are throttled hard (Organizations: a few calls a second); past the SDK's own
/// retries a listing call waits and tries again this many times.
const LISTING_RETRIES: u32 = 5;
const LISTING_BACKOFF: Duration = Duration::from_secs(2);
/// One call, retried while throttled.
pub async fn patiently<T, F, Fut>(mut call: F) -> PortResult<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = PortResult<T>>,
{
    let mut attempt = 0;
    loop {
        match call().await {
            Err(PortError::Throttled(_)) if attempt < LISTING_RETRIES => {
                tokio::time::sleep(LISTING_BACKOFF.saturating_mul(2u32.pow(attempt))).await;
                attempt += 1;
            }
            other => return other,
        }
    }
}

/// Every item of a paged listing, each page call retried while throttled. An empty page with a
/// next token is not the end.
pub async fn all_pages<T, F, Fut>(mut fetch: F) -> PortResult<Vec<T>>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: Future<Output = PortResult<Page<T>>>,
{
    let mut items = Vec::new();
    let mut page = None;
    loop {
        let answer = patiently(|| fetch(page.clone())).await?;
        items.extend(answer.items);
        match answer.next_page {
            Some(next) => page = Some(next),
            None => return Ok(items),
        }
    }
}

/// Reads the Organization: who is in it, where, and with which tags.
pub trait Organization: Send + Sync {
    /// The management account's ID (DescribeOrganization).
    fn management_account(&self) -> impl Future<Output = PortResult<crate::ids::AccountId>> + Send;

    fn list_accounts(&self, page: Option<&str>) -> impl Future<Output = PortResult<Page<OrgAccount>>> + Send;

    /// One account (DescribeAccount); `None` when it is not a member of the Organization.
    fn describe_account(
        &self,
        account: &crate::ids::AccountId,
    ) -> impl Future<Output = PortResult<Option<OrgAccount>>> + Send;

    /// Accounts directly under a root or OU.
    fn list_accounts_for_parent(
        &self,
        parent: &str,
        page: Option<&str>,
    ) -> impl Future<Output = PortResult<Page<OrgAccount>>> + Send;

    /// OU IDs directly under a root or OU.
    fn list_child_ous(
        &self,
        parent: &str,
        page: Option<&str>,
    ) -> impl Future<Output = PortResult<Page<String>>> + Send;

    fn list_account_tags(
        &self,
        account: &crate::ids::AccountId,
        page: Option<&str>,
    ) -> impl Future<Output = PortResult<Page<(String, String)>>> + Send;
}

/// Where a serverless run keeps its records (S3 in AWS): the spec, the target list, each
/// target's final outcome, the report. Keys are `/`-separated paths.
pub trait RunStore: Send + Sync {
    fn put(&self, key: &str, body: String, content_type: &str)
        -> impl Future<Output = PortResult<()>> + Send;

    /// Writes `key` only if no object is there (S3's conditional write, `If-None-Match: *`):
    /// `Ok(false)`, writing nothing, when one is. For what is written once, whoever races.
    fn put_new(
        &self,
        key: &str,
        body: String,
        content_type: &str,
    ) -> impl Future<Output = PortResult<bool>> + Send;

    /// `Ok(None)` when there is no such key.
    fn get(&self, key: &str) -> impl Future<Output = PortResult<Option<String>>> + Send;

    /// One page of the keys under `prefix`.
    fn list(&self, prefix: &str, page: Option<&str>)
        -> impl Future<Output = PortResult<Page<String>>> + Send;
}

/// CloudWatch alarms in the caller's account: the gates between waves.
pub trait Alarms: Send + Sync {
    /// The state of each named alarm that exists (DescribeAlarms), by name. A name missing from
    /// the answer does not exist.
    fn states(
        &self,
        names: &[String],
    ) -> impl Future<Output = PortResult<std::collections::BTreeMap<String, crate::waves::AlarmState>>> + Send;
}

/// For runs that name no alarm: never asked.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoAlarms;

impl Alarms for NoAlarms {
    async fn states(
        &self,
        _: &[String],
    ) -> PortResult<std::collections::BTreeMap<String, crate::waves::AlarmState>> {
        Ok(std::collections::BTreeMap::new())
    }
}

/// Template objects in S3, read once per run to pin the version every target deploys.
pub trait TemplateObjects: Send + Sync {
    /// The object at `location` as it is now (the version it names, if it names one). A missing
    /// bucket or key is `Rejected` with S3's code.
    fn read(
        &self,
        location: &crate::pinned::S3Location,
    ) -> impl Future<Output = PortResult<crate::pinned::TemplateObject>> + Send;
}
