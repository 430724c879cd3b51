//! In-memory fakes of core's ports, for tests anywhere in the workspace (feature `test-util`).
//!
//! A `FakeCloud` holds every account's stacks. Stack operations take scripted *virtual* time
//! (tokio's clock: run tests under `tokio::time::pause()`), end in any status, and can fail with
//! AWS errors on demand. Every call is recorded so tests can assert what AWS would have seen.

mod alarms;
mod change_sets;
mod executions;
mod iam;
mod organization;
mod outputs;
mod secrets;
mod stack_state;
mod stacks;
mod store;
mod templates;
mod throttles;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use stackfleet_core::ids::{AccountId, Target};
use stackfleet_core::ports::{
    AssumeRequest, AssumeRole, PortError, PortResult, ValidateTemplate, ValidatedTemplate,
};
use stackfleet_core::spec::TemplateSource;
use stackfleet_core::stack::{StackEvent, StackStatus, MANAGED_BY_TAG, MANAGED_BY_VALUE};
use tokio::time::Instant;

pub use alarms::FakeAlarms;
pub use executions::{FakeExecutions, StartCall};
pub use iam::Refusal;
pub use organization::{FakeOrganization, ROOT};
pub use secrets::FakeSecrets;
pub use stacks::FakeSession;
pub use store::FakeStore;
pub use templates::FakeTemplates;

/// The AWS calls a fake answers, as CloudTrail would name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Call {
    AssumeRole,
    ValidateTemplate,
    DescribeStacks,
    CreateStack,
    UpdateStack,
    ContinueUpdateRollback,
    DeleteStack,
    DescribeStackEvents,
    CreateChangeSet,
    DescribeChangeSet,
    DeleteChangeSet,
    ExecuteChangeSet,
    /// DescribeEvents of a change set (its failed events).
    DescribeEvents,
    DescribeStackResources,
    /// GetRole, GetPolicy, GetUser, GetGroup or GetInstanceProfile.
    GetIamResource,
}

/// How the next stack operation in a target goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    pub duration: Duration,
    pub end: ScriptEnd,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScriptEnd {
    Succeed,
    /// One resource fails with this reason; the operation rolls back (or, for a delete or a
    /// continued rollback, ends failed).
    Fail {
        logical_id: String,
        resource_type: String,
        reason: String,
    },
}

impl Script {
    pub fn succeed_after(duration: Duration) -> Self {
        Self {
            duration,
            end: ScriptEnd::Succeed,
        }
    }

    pub fn fail_after(duration: Duration, logical_id: &str, resource_type: &str, reason: &str) -> Self {
        Self {
            duration,
            end: ScriptEnd::Fail {
                logical_id: logical_id.into(),
                resource_type: resource_type.into(),
                reason: reason.into(),
            },
        }
    }
}

/// How long an unscripted operation takes.
pub const DEFAULT_OPERATION: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpKind {
    Create,
    Update,
    Delete,
    ContinueRollback,
}

impl OpKind {
    fn running(self) -> StackStatus {
        match self {
            Self::Create => StackStatus::CreateInProgress,
            Self::Update => StackStatus::UpdateInProgress,
            Self::Delete => StackStatus::DeleteInProgress,
            Self::ContinueRollback => StackStatus::UpdateRollbackInProgress,
        }
    }

    fn succeeded(self) -> StackStatus {
        match self {
            Self::Create => StackStatus::CreateComplete,
            Self::Update => StackStatus::UpdateComplete,
            Self::Delete => StackStatus::DeleteComplete,
            Self::ContinueRollback => StackStatus::UpdateRollbackComplete,
        }
    }

    fn failed(self) -> StackStatus {
        match self {
            Self::Create => StackStatus::RollbackComplete,
            Self::Update => StackStatus::UpdateRollbackComplete,
            Self::Delete => StackStatus::DeleteFailed,
            Self::ContinueRollback => StackStatus::UpdateRollbackFailed,
        }
    }

    /// The status a failing resource gets.
    fn resource_failed(self) -> &'static str {
        match self {
            Self::Create => "CREATE_FAILED",
            Self::Update | Self::ContinueRollback => "UPDATE_FAILED",
            Self::Delete => "DELETE_FAILED",
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Running {
    pub kind: OpKind,
    pub token: String,
    pub finish_at: Instant,
    pub end: ScriptEnd,
}

#[derive(Debug, Clone)]
pub(crate) struct FakeStack {
    pub stack_id: String,
    pub name: String,
    pub status: StackStatus,
    pub reason: Option<String>,
    pub template: String,
    pub parameters: Vec<(String, String)>,
    /// Oldest first.
    pub events: Vec<StackEvent>,
    pub running: Option<Running>,
    pub creation_token: Option<String>,
    /// As the last CreateStack or UpdateStack gave them.
    pub tags: Vec<(String, String)>,
    /// CreationTime and LastUpdatedTime, in the fake's milliseconds (`World::stamp`).
    pub created_ms: i64,
    pub updated_ms: Option<i64>,
}

#[derive(Debug, Default)]
pub(crate) struct World {
    pub stacks: BTreeMap<(Target, String), FakeStack>,
    /// Deleted stacks stay readable by stack ID, as in CloudFormation.
    pub deleted: BTreeMap<String, FakeStack>,
    pub scripts: BTreeMap<Target, VecDeque<Script>>,
    pub faults: BTreeMap<Target, VecDeque<(Call, PortError)>>,
    /// Calls that take effect and whose answer is then lost to the error.
    pub lost_answers: BTreeMap<Target, VecDeque<(Call, PortError)>>,
    pub denied_accounts: BTreeSet<AccountId>,
    pub not_ready: BTreeMap<AccountId, u32>,
    pub rejected_template: Option<String>,
    pub calls: Vec<(Option<Target>, Call)>,
    pub operations: Vec<(Target, Call)>,
    pub next_id: u64,
    pub assume_requests: Vec<(Target, String, Option<String>)>,
    pub change_sets: BTreeMap<String, change_sets::FakeChangeSet>,
    pub throttles: throttles::Throttles,
    /// IAM resources made by hand: (account, kind, name).
    pub iam_names: BTreeSet<(AccountId, stackfleet_core::stack::NamedKind, String)>,
    /// Change sets early validation will refuse, per target, in order.
    pub refusals: BTreeMap<Target, VecDeque<iam::Refusal>>,
    /// Change sets list every resource of the template as Add (`list_every_resource_as_added`).
    pub every_resource_added: bool,
    /// Outputs a stack shows once an operation completes it (`set_outputs`).
    pub outputs: outputs::Outputs,
}

impl World {
    /// Records a call and returns the fault injected for it, if any.
    pub fn call(&mut self, target: Option<&Target>, call: Call) -> PortResult<()> {
        self.calls.push((target.cloned(), call));
        if let Some(queue) = target.and_then(|t| self.faults.get_mut(t)) {
            if let Some(index) = queue.iter().position(|(kind, _)| *kind == call) {
                return Err(queue
                    .remove(index)
                    .map(|(_, error)| error)
                    .expect("index is in range"));
            }
        }
        self.throttles.check(call)
    }

    /// The error that replaces the answer of this call, which took effect, if one is queued.
    pub fn lost_answer(&mut self, target: &Target, call: Call) -> Option<PortError> {
        let queue = self.lost_answers.get_mut(target)?;
        let index = queue.iter().position(|(kind, _)| *kind == call)?;
        queue.remove(index).map(|(_, error)| error)
    }

    pub fn next_script(&mut self, target: &Target) -> Script {
        self.scripts
            .get_mut(target)
            .and_then(VecDeque::pop_front)
            .unwrap_or_else(|| Script::succeed_after(DEFAULT_OPERATION))
    }

    pub fn fresh_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// A time for CreationTime or LastUpdatedTime: later than any before it, as AWS's are
    /// for operations one after the other (virtual time alone may not move between two).
    pub fn stamp(&mut self) -> i64 {
        stamp_of(self.fresh_id())
    }
}

/// The fake's clock for stack times: milliseconds since the epoch, a second per ID.
pub(crate) fn stamp_of(id: u64) -> i64 {
    const START_MS: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z
    START_MS + i64::try_from(id).unwrap_or(i64::MAX / 1000) * 1000
}

/// What somebody else does right after one of our calls (a race, played deterministically).
type Hook = Box<dyn FnOnce(&FakeCloud) + Send>;

#[derive(Default)]
struct Hooks(Vec<(Target, Call, Hook)>);

impl std::fmt::Debug for Hooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} hooks", self.0.len())
    }
}

/// Every account of a fake Organization, and their stacks.
#[derive(Debug, Clone, Default)]
pub struct FakeCloud {
    world: Arc<Mutex<World>>,
    hooks: Arc<Mutex<Hooks>>,
}

impl FakeCloud {
    pub fn new() -> Self {
        Self::default()
    }

    pub(crate) fn world(&self) -> MutexGuard<'_, World> {
        self.world
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The next stack operations in `target` go as scripted, in order; later ones succeed after
    /// `DEFAULT_OPERATION`.
    pub fn script(&self, target: &Target, scripts: impl IntoIterator<Item = Script>) {
        self.world()
            .scripts
            .entry(target.clone())
            .or_default()
            .extend(scripts);
    }

    /// Right after the next `call` in `target` has been answered, `hook` runs: somebody else's
    /// doing between two of ours.
    pub fn after_next(&self, target: &Target, call: Call, hook: impl FnOnce(&FakeCloud) + Send + 'static) {
        self.hooks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .0
            .push((target.clone(), call, Box::new(hook)));
    }

    /// Runs the hook waiting for this call, if any, with no lock held.
    pub(crate) fn run_hook(&self, target: &Target, call: Call) {
        let hook = {
            let mut hooks = self
                .hooks
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let index = hooks.0.iter().position(|(t, c, _)| t == target && *c == call);
            index.map(|i| hooks.0.remove(i).2)
        };
        if let Some(hook) = hook {
            hook(self);
        }
    }

    /// The next `call` in `target` fails with `error` (after the SDK's retries, as it were).
    pub fn fail_next(&self, target: &Target, call: Call, error: PortError) {
        self.world()
            .faults
            .entry(target.clone())
            .or_default()
            .push_back((call, error));
    }

    /// The next `call` in `target` takes effect, and its answer is lost to `error` on the way
    /// back: a read timeout after CloudFormation took the call.
    pub fn lose_next_answer(&self, target: &Target, call: Call, error: PortError) {
        self.world()
            .lost_answers
            .entry(target.clone())
            .or_default()
            .push_back((call, error));
    }

    /// The deploy role is missing in this account.
    pub fn deny_role(&self, account: &AccountId) {
        self.world().denied_accounts.insert(account.clone());
    }

    /// The next `attempts` AssumeRole calls into this account find it not ready yet.
    pub fn not_ready_for(&self, account: &AccountId, attempts: u32) {
        self.world().not_ready.insert(account.clone(), attempts);
    }

    /// ValidateTemplate refuses every template with this message.
    pub fn reject_templates(&self, message: &str) {
        self.world().rejected_template = Some(message.into());
    }

    /// A stack that stackfleet made earlier (it carries the `stackfleet:managed-by` tag),
    /// left in `status`.
    pub fn put_stack(&self, target: &Target, name: &str, status: StackStatus) {
        let managed_by = (MANAGED_BY_TAG.to_owned(), MANAGED_BY_VALUE.to_owned());
        self.put(target, name, status, vec![managed_by]);
    }

    /// A stack somebody else made (the console, another tool): it lacks stackfleet's tag and
    /// carries these instead.
    pub fn put_unmanaged_stack(
        &self,
        target: &Target,
        name: &str,
        status: StackStatus,
        tags: &[(&str, &str)],
    ) {
        let tags = tags
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect();
        self.put(target, name, status, tags);
    }

    fn put(&self, target: &Target, name: &str, status: StackStatus, tags: Vec<(String, String)>) {
        let mut world = self.world();
        let id = world.fresh_id();
        let opening = status.as_str().to_owned();
        let mut stack = FakeStack::new(target, name, id, status, "{}".into(), Vec::new());
        stack.tags = tags;
        stack.push_event(name, "AWS::CloudFormation::Stack", &opening, None, None);
        world.stacks.insert((target.clone(), name.to_owned()), stack);
    }

    /// The tags of a live stack, as the last CreateStack or UpdateStack gave them.
    pub fn stack_tags(&self, target: &Target, name: &str) -> Option<Vec<(String, String)>> {
        let world = self.world();
        let stack = world.stacks.get(&(target.clone(), name.to_owned()))?;
        Some(stack.tags.clone())
    }

    /// Somebody else (the console, another pipeline) starts an operation on an existing stack.
    pub fn begin_foreign_update(&self, target: &Target, name: &str, duration: Duration) {
        let mut world = self.world();
        let stamp = world.stamp();
        let stack = world
            .stacks
            .get_mut(&(target.clone(), name.to_owned()))
            .expect("begin_foreign_update needs an existing stack");
        stack.updated_ms = Some(stamp);
        stack.begin(
            OpKind::Update,
            "Console-UpdateStack-7f3a".into(),
            duration,
            ScriptEnd::Succeed,
        );
    }

    pub fn stack_status(&self, target: &Target, name: &str) -> Option<StackStatus> {
        let mut world = self.world();
        let stack = world.stacks.get_mut(&(target.clone(), name.to_owned()))?;
        stack.settle(Instant::now());
        (stack.status != StackStatus::DeleteComplete).then(|| stack.status.clone())
    }

    /// The template a stack was last created or updated with: the body, or the URL (with its
    /// `versionId`) as given to CloudFormation.
    pub fn stack_template(&self, target: &Target, name: &str) -> Option<String> {
        self.world()
            .stacks
            .get(&(target.clone(), name.to_owned()))
            .map(|stack| stack.template.clone())
    }

    /// The parameters the stack was last created or updated with, as CloudFormation got them.
    pub fn stack_parameters(&self, target: &Target, name: &str) -> Option<Vec<(String, String)>> {
        self.world()
            .stacks
            .get(&(target.clone(), name.to_owned()))
            .map(|stack| stack.parameters.clone())
    }

    /// The stack operations that actually began in `target` (CreateStack, UpdateStack, ...), in
    /// order: a call answered idempotently from an earlier one with the same token is not one.
    pub fn operations(&self, target: &Target) -> Vec<Call> {
        self.world()
            .operations
            .iter()
            .filter(|(t, _)| t == target)
            .map(|(_, call)| *call)
            .collect()
    }

    /// How many calls of this kind were made, across all targets.
    pub fn count(&self, call: Call) -> usize {
        self.world().calls.iter().filter(|(_, c)| *c == call).count()
    }

    /// Every call made, across all targets.
    pub fn total_calls(&self) -> usize {
        self.world().calls.len()
    }

    /// (target, session name, external ID) of each AssumeRole.
    pub fn assume_requests(&self) -> Vec<(Target, String, Option<String>)> {
        self.world().assume_requests.clone()
    }
}

impl AssumeRole for FakeCloud {
    type Session = FakeSession;

    async fn assume(&self, request: AssumeRequest<'_>) -> PortResult<FakeSession> {
        let mut world = self.world();
        let target = request.target;
        world.call(Some(target), Call::AssumeRole)?;
        world.assume_requests.push((
            target.clone(),
            crate::sts::role_session_name(request.run),
            request.role.external_id.clone(),
        ));
        if let Some(left) = world.not_ready.get_mut(&target.account) {
            if *left > 0 {
                *left -= 1;
                return Err(PortError::AccountNotReady(format!(
                    "account {} is still being set up",
                    target.account
                )));
            }
        }
        if world.denied_accounts.contains(&target.account) {
            let message = format!(
                "User: arn:aws:sts::000000000000:assumed-role/stackfleet is not authorized to perform: \
                 sts:AssumeRole on resource: {}",
                request.role.arn(target)
            );
            return Err(if request.new_account {
                PortError::AccountNotReady(message)
            } else {
                PortError::AccessDenied(message)
            });
        }
        Ok(FakeSession::new(self.clone(), target.clone()))
    }
}

/// Answers the NoEcho parameters an inline body declares, as CloudFormation would; a template
/// by URL, whose object the fake cannot read, declares none.
impl ValidateTemplate for FakeCloud {
    async fn validate_template(&self, template: &TemplateSource) -> PortResult<ValidatedTemplate> {
        let mut world = self.world();
        world.call(None, Call::ValidateTemplate)?;
        if let Some(message) = &world.rejected_template {
            return Err(PortError::TemplateInvalid(message.clone()));
        }
        Ok(ValidatedTemplate {
            no_echo: match template {
                TemplateSource::Body(body) => stackfleet_core::secrets::no_echo_declared(body.as_str()),
                TemplateSource::Url(_) => BTreeSet::new(),
            },
        })
    }
}
