//! Counting AWS calls as a decorator around the ports, in the manner of mountpoint-s3's
//! `FailureClient`: an outcome's `aws_calls` comes from wrapping the port once, not from an
//! increment next to every call, which a new call site would forget.

use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::ports::{AssumeRequest, AssumeRole, NamedResources, Page, PortResult, StackOperations};
use crate::stack::{
    ChangeSetCreated, ChangeSetDescription, ChangeSetEvent, ChangeSetRequest, EventPage, NamedKind,
    StackDescription, StackRequest, StackResource, UpdateStarted,
};

/// A port whose every call is counted, whether it succeeds or not: a refused or throttled call
/// was still made (the SDK's own retries of one call count once, as the adapters see one call).
#[derive(Debug)]
pub struct Counted<P> {
    inner: P,
    calls: AtomicU32,
}

impl<P> Counted<P> {
    pub fn new(inner: P) -> Self {
        Self {
            inner,
            calls: AtomicU32::new(0),
        }
    }

    /// Calls made through this wrapper so far.
    pub fn calls(&self) -> u32 {
        self.calls.load(Ordering::Relaxed)
    }

    fn count(&self) -> &P {
        self.calls.fetch_add(1, Ordering::Relaxed);
        &self.inner
    }
}

// The calls are counted when made, and the inner futures returned as they are: no extra
// future wraps them, so a decorated session nests no deeper than a bare one.

impl<S: StackOperations> StackOperations for Counted<S> {
    fn describe_stack(
        &self,
        stack: &str,
    ) -> impl Future<Output = PortResult<Option<StackDescription>>> + Send {
        self.count().describe_stack(stack)
    }

    fn create_stack(&self, request: &StackRequest) -> impl Future<Output = PortResult<String>> + Send {
        self.count().create_stack(request)
    }

    fn update_stack(&self, request: &StackRequest) -> impl Future<Output = PortResult<UpdateStarted>> + Send {
        self.count().update_stack(request)
    }

    fn continue_update_rollback(
        &self,
        stack: &str,
        skip_resources: &[String],
        token: &str,
    ) -> impl Future<Output = PortResult<()>> + Send {
        self.count()
            .continue_update_rollback(stack, skip_resources, token)
    }

    fn delete_stack(&self, stack: &str, token: &str) -> impl Future<Output = PortResult<()>> + Send {
        self.count().delete_stack(stack, token)
    }

    fn stack_events(
        &self,
        stack: &str,
        page: Option<&str>,
    ) -> impl Future<Output = PortResult<EventPage>> + Send {
        self.count().stack_events(stack, page)
    }

    fn create_change_set(
        &self,
        request: &ChangeSetRequest,
    ) -> impl Future<Output = PortResult<ChangeSetCreated>> + Send {
        self.count().create_change_set(request)
    }

    fn describe_change_set(
        &self,
        change_set_id: &str,
    ) -> impl Future<Output = PortResult<Option<ChangeSetDescription>>> + Send {
        self.count().describe_change_set(change_set_id)
    }

    fn delete_change_set(&self, change_set_id: &str) -> impl Future<Output = PortResult<()>> + Send {
        self.count().delete_change_set(change_set_id)
    }

    fn execute_change_set(
        &self,
        change_set_id: &str,
        token: &str,
    ) -> impl Future<Output = PortResult<()>> + Send {
        self.count().execute_change_set(change_set_id, token)
    }

    fn change_set_failures(
        &self,
        change_set_id: &str,
        page: Option<&str>,
    ) -> impl Future<Output = PortResult<Page<ChangeSetEvent>>> + Send {
        self.count().change_set_failures(change_set_id, page)
    }

    fn stack_resources(&self, stack: &str) -> impl Future<Output = PortResult<Vec<StackResource>>> + Send {
        self.count().stack_resources(stack)
    }
}

impl<S: NamedResources> NamedResources for Counted<S> {
    fn named_resource_exists(
        &self,
        kind: NamedKind,
        name: &str,
    ) -> impl Future<Output = PortResult<bool>> + Send {
        self.count().named_resource_exists(kind, name)
    }
}

/// Counts the AssumeRole calls only; the session it opens is the inner one, for the lifecycle
/// to count with a wrapper of its own.
impl<A: AssumeRole> AssumeRole for Counted<A> {
    type Session = A::Session;

    fn assume(&self, request: AssumeRequest<'_>) -> impl Future<Output = PortResult<A::Session>> + Send {
        self.count().assume(request)
    }

    fn waits_out_throttles(&self) -> bool {
        self.inner.waits_out_throttles()
    }
}

// A decorator usually wraps a port it borrows (one assumer serves every target of a rollout; a
// step borrows its session): ports behind a shared reference are ports too.

impl<S: StackOperations + ?Sized> StackOperations for &S {
    fn describe_stack(
        &self,
        stack: &str,
    ) -> impl Future<Output = PortResult<Option<StackDescription>>> + Send {
        (**self).describe_stack(stack)
    }

    fn create_stack(&self, request: &StackRequest) -> impl Future<Output = PortResult<String>> + Send {
        (**self).create_stack(request)
    }

    fn update_stack(&self, request: &StackRequest) -> impl Future<Output = PortResult<UpdateStarted>> + Send {
        (**self).update_stack(request)
    }

    fn continue_update_rollback(
        &self,
        stack: &str,
        skip_resources: &[String],
        token: &str,
    ) -> impl Future<Output = PortResult<()>> + Send {
        (**self).continue_update_rollback(stack, skip_resources, token)
    }

    fn delete_stack(&self, stack: &str, token: &str) -> impl Future<Output = PortResult<()>> + Send {
        (**self).delete_stack(stack, token)
    }

    fn stack_events(
        &self,
        stack: &str,
        page: Option<&str>,
    ) -> impl Future<Output = PortResult<EventPage>> + Send {
        (**self).stack_events(stack, page)
    }

    fn create_change_set(
        &self,
        request: &ChangeSetRequest,
    ) -> impl Future<Output = PortResult<ChangeSetCreated>> + Send {
        (**self).create_change_set(request)
    }

    fn describe_change_set(
        &self,
        change_set_id: &str,
    ) -> impl Future<Output = PortResult<Option<ChangeSetDescription>>> + Send {
        (**self).describe_change_set(change_set_id)
    }

    fn delete_change_set(&self, change_set_id: &str) -> impl Future<Output = PortResult<()>> + Send {
        (**self).delete_change_set(change_set_id)
    }

    fn execute_change_set(
        &self,
        change_set_id: &str,
        token: &str,
    ) -> impl Future<Output = PortResult<()>> + Send {
        (**self).execute_change_set(change_set_id, token)
    }

    fn change_set_failures(
        &self,
        change_set_id: &str,
        page: Option<&str>,
    ) -> impl Future<Output = PortResult<Page<ChangeSetEvent>>> + Send {
        (**self).change_set_failures(change_set_id, page)
    }

    fn stack_resources(&self, stack: &str) -> impl Future<Output = PortResult<Vec<StackResource>>> + Send {
        (**self).stack_resources(stack)
    }
}

impl<S: NamedResources + ?Sized> NamedResources for &S {
    fn named_resource_exists(
        &self,
        kind: NamedKind,
        name: &str,
    ) -> impl Future<Output = PortResult<bool>> + Send {
        (**self).named_resource_exists(kind, name)
    }
}

impl<A: AssumeRole + ?Sized> AssumeRole for &A {
    type Session = A::Session;

    fn assume(&self, request: AssumeRequest<'_>) -> impl Future<Output = PortResult<A::Session>> + Send {
        (**self).assume(request)
    }

    fn waits_out_throttles(&self) -> bool {
        (**self).waits_out_throttles()
    }
}
