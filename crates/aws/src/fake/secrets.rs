//! Fake SSM Parameter Store and Secrets Manager: values a test puts, access denied on demand,
//! and a count of the reads.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};

use stackfleet_core::ports::{PortError, PortResult, Secrets};
use stackfleet_core::secrets::{SecretRef, SecretSource, SecretValue};

#[derive(Debug, Default)]
struct Vault {
    /// SSM parameters by name, every version (1 first).
    parameters: BTreeMap<String, Vec<String>>,
    /// Secrets Manager secrets by name: their current SecretString.
    secrets: BTreeMap<String, String>,
    denied: BTreeSet<String>,
    reads: Vec<String>,
}

/// Clones share the same values.
#[derive(Debug, Clone, Default)]
pub struct FakeSecrets {
    vault: Arc<Mutex<Vault>>,
}

impl FakeSecrets {
    pub fn new() -> Self {
        Self::default()
    }

    fn vault(&self) -> MutexGuard<'_, Vault> {
        self.vault
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// PutParameter (a SecureString): a new version of `name`.
    pub fn put_parameter(&self, name: &str, value: &str) {
        self.vault()
            .parameters
            .entry(name.into())
            .or_default()
            .push(value.into());
    }

    /// CreateSecret, or PutSecretValue on an existing one.
    pub fn put_secret(&self, name: &str, value: &str) {
        self.vault().secrets.insert(name.into(), value.into());
    }

    /// Reading this parameter or secret is not allowed to the caller.
    pub fn deny(&self, name: &str) {
        self.vault().denied.insert(name.into());
    }

    /// The names read so far, in order.
    pub fn reads(&self) -> Vec<String> {
        self.vault().reads.clone()
    }
}

impl Secrets for FakeSecrets {
    async fn read(&self, reference: &SecretRef) -> PortResult<Option<SecretValue>> {
        let mut vault = self.vault();
        let name = match &reference.source {
            SecretSource::SsmSecure { name, .. } => name,
            SecretSource::SecretsManager { secret_id, .. } => secret_id,
        };
        vault.reads.push(name.clone());
        if vault.denied.contains(name) {
            return Err(PortError::AccessDenied(format!(
                "User: arn:aws:sts::000000000000:assumed-role/stackfleet-worker is not authorized \
                 to read {name}"
            )));
        }
        let value = match &reference.source {
            SecretSource::SsmSecure { name, version } => vault.parameters.get(name).and_then(|versions| {
                match version {
                    Some(v) => usize::try_from(*v)
                        .ok()
                        .and_then(|v| v.checked_sub(1))
                        .and_then(|index| versions.get(index)),
                    None => versions.last(),
                }
                .cloned()
            }),
            // Versions and stages are not kept: the current value is the only one.
            SecretSource::SecretsManager { secret_id, .. } => vault.secrets.get(secret_id).cloned(),
        };
        Ok(value.map(SecretValue::new))
    }
}
