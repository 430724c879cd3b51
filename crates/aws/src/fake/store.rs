//! An in-memory `RunStore`, listed in small pages.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use stackfleet_core::ports::{Page, PortError, PortResult, RunStore};

/// Small pages by default, so that every test walks the paging.
const KEYS_PER_PAGE: usize = 4;

#[derive(Debug, Clone)]
pub struct FakeStore {
    objects: Arc<Mutex<BTreeMap<String, String>>>,
    keys_per_page: usize,
    /// Puts still to be throttled (S3's SlowDown, past the SDK's retries).
    throttled_puts: Arc<AtomicU32>,
}

impl Default for FakeStore {
    fn default() -> Self {
        Self {
            objects: Arc::default(),
            keys_per_page: KEYS_PER_PAGE,
            throttled_puts: Arc::default(),
        }
    }
}

impl FakeStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Pages of S3's size (1,000 keys), for tests at fleet scale.
    pub fn with_s3_pages() -> Self {
        Self {
            keys_per_page: 1_000,
            ..Self::default()
        }
    }

    /// The object at `key`; a test that reads one that is not there fails here.
    pub fn object(&self, key: &str) -> String {
        // One guard: taking the lock again to list the keys would deadlock instead of failing.
        let objects = self.objects();
        objects
            .get(key)
            .cloned()
            .unwrap_or_else(|| panic!("no object {key} in {:?}", objects.keys().collect::<Vec<_>>()))
    }

    /// The next `count` puts are throttled, whoever makes them.
    pub fn throttle_puts(&self, count: u32) {
        self.throttled_puts.store(count, Ordering::SeqCst);
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
        let throttled = self
            .throttled_puts
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| left.checked_sub(1));
        if throttled.is_ok() {
            return Err(PortError::Throttled(format!(
                "SlowDown: Please reduce your request rate ({key})"
            )));
        }
        self.objects().insert(key.to_owned(), body);
        Ok(())
    }

    async fn put_new(&self, key: &str, body: String, _content_type: &str) -> PortResult<bool> {
        let mut objects = self.objects();
        if objects.contains_key(key) {
            return Ok(false);
        }
        objects.insert(key.to_owned(), body);
        Ok(true)
    }

    async fn get(&self, key: &str) -> PortResult<Option<String>> {
        Ok(self.objects().get(key).cloned())
    }

    /// Keys in order from `prefix`; the page token is the last key of the page before (as S3's
    /// StartAfter), so that listing at scale costs a range scan, not a scan of everything.
    async fn list(&self, prefix: &str, page: Option<&str>) -> PortResult<Page<String>> {
        use std::ops::Bound;
        let objects = self.objects();
        let from = match page {
            Some(after) => Bound::Excluded(after.to_owned()),
            None => Bound::Included(prefix.to_owned()),
        };
        let mut keys: Vec<String> = objects
            .range((from, Bound::Unbounded))
            .map(|(key, _)| key)
            .take_while(|key| key.starts_with(prefix))
            .take(self.keys_per_page + 1)
            .cloned()
            .collect();
        let more = keys.len() > self.keys_per_page;
        keys.truncate(self.keys_per_page);
        Ok(Page {
            next_page: if more { keys.last().cloned() } else { None },
            items: keys,
        })
    }
}
