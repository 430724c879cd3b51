//! In-memory template objects: versioned buckets that keep every version written, so that a
//! test can change a template mid-run and see which version each target got.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use stackfleet_core::pinned::{S3Location, TemplateObject};
use stackfleet_core::ports::{PortError, PortResult, TemplateObjects};

/// One version of an object: its ID (none without versioning) and its body.
type Version = (Option<String>, String);

#[derive(Debug, Default)]
struct Objects {
    /// (bucket, key) -> versions, oldest first.
    versions: BTreeMap<(String, String), Vec<Version>>,
    written: u32,
}

#[derive(Debug, Clone, Default)]
pub struct FakeTemplates {
    objects: Arc<Mutex<Objects>>,
}

impl FakeTemplates {
    pub fn new() -> Self {
        Self::default()
    }

    fn objects(&self) -> std::sync::MutexGuard<'_, Objects> {
        self.objects
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Writes a new version of `bucket/key`; returns its version ID.
    pub fn put(&self, bucket: &str, key: &str, body: &str) -> String {
        let mut objects = self.objects();
        objects.written += 1;
        let version = format!("v{}", objects.written);
        objects
            .versions
            .entry((bucket.to_owned(), key.to_owned()))
            .or_default()
            .push((Some(version.clone()), body.to_owned()));
        version
    }

    /// Writes `bucket/key` as a bucket without versioning would: no version ID.
    pub fn put_unversioned(&self, bucket: &str, key: &str, body: &str) {
        self.objects()
            .versions
            .entry((bucket.to_owned(), key.to_owned()))
            .or_default()
            .push((None, body.to_owned()));
    }

    /// The body of one version of `bucket/key`, as CloudFormation would read it.
    pub fn body(&self, location: &S3Location) -> Option<String> {
        self.version(location).map(|(_, body)| body)
    }

    /// The version `location` names, or the latest when it names none.
    fn version(&self, location: &S3Location) -> Option<Version> {
        let objects = self.objects();
        let versions = objects
            .versions
            .get(&(location.bucket.clone(), location.key.clone()))?;
        match &location.version_id {
            Some(wanted) => versions.iter().find(|(v, _)| v.as_ref() == Some(wanted)),
            None => versions.last(),
        }
        .cloned()
    }
}

impl TemplateObjects for FakeTemplates {
    async fn read(&self, location: &S3Location) -> PortResult<TemplateObject> {
        let (version_id, body) = self.version(location).ok_or_else(|| PortError::Rejected {
            code: "NoSuchKey".into(),
            message: format!(
                "s3://{}/{}: The specified key does not exist.",
                location.bucket, location.key
            ),
        })?;
        Ok(TemplateObject {
            version_id,
            body: body.into_bytes(),
        })
    }
}
