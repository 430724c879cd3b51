//! An in-memory `RunStore`, listed in small pages.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use stackfleet_core::ports::{Page, PortResult, RunStore};

const KEYS_PER_PAGE: usize = 4;

#[derive(Debug, Clone, Default)]
pub struct FakeStore {
    objects: Arc<Mutex<BTreeMap<String, String>>>,
}

impl FakeStore {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn keys(&self) -> Vec<String> {
        self.objects().keys().cloned().collect()
    }

    fn objects(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, String>> {
        self.objects
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl RunStore for FakeStore {
    async fn put(&self, key: &str, body: String, _content_type: &str) -> PortResult<()> {
        self.objects().insert(key.to_owned(), body);
        Ok(())
    }

    async fn get(&self, key: &str) -> PortResult<Option<String>> {
        Ok(self.objects().get(key).cloned())
    }

    async fn list(&self, prefix: &str, page: Option<&str>) -> PortResult<Page<String>> {
        let skip: usize = page.and_then(|p| p.parse().ok()).unwrap_or(0);
        let keys: Vec<String> = self
            .objects()
            .keys()
            .filter(|k| k.starts_with(prefix))
            .cloned()
            .collect();
        let next = (keys.len() > skip + KEYS_PER_PAGE).then(|| (skip + KEYS_PER_PAGE).to_string());
        Ok(Page {
            items: keys.into_iter().skip(skip).take(KEYS_PER_PAGE).collect(),
            next_page: next,
        })
    }
}
