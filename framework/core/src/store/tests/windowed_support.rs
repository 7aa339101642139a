//! Helpers of the window and session store tests: a bytes store that
//! outlives the stack built over it (a stand-in for a persistent store, so
//! a test can look below every layer and reopen), and builders.

use std::sync::{Arc, Mutex};

use crate::error::Result;
use crate::serde::Serdes;
use crate::store::{
    BytesIter, BytesStoreSupplier, InMemoryBytesStore, KeyValueBytesStore, SessionStoreBuilder,
    StoreContext, ThreadCache, WindowStoreBuilder, WriteBatch,
};
use crate::task::TaskId;

/// An [`InMemoryBytesStore`] shared between the test and the stacks built
/// over it; `close` leaves the data (as a persistent store keeps it).
#[derive(Clone, Debug, Default)]
pub(super) struct SharedBytes(pub(super) Arc<Mutex<InMemoryBytesStore>>);

impl SharedBytes {
    pub(super) fn new() -> Self {
        SharedBytes(Arc::new(Mutex::new(InMemoryBytesStore::new("shared"))))
    }

    pub(super) fn supplier(&self) -> BytesStoreSupplier {
        let this = self.clone();
        Arc::new(move |_| Ok(Box::new(this.clone()) as Box<dyn KeyValueBytesStore>))
    }

    /// Every key held, with its segment id.
    pub(super) fn keys(&self) -> Vec<Vec<u8>> {
        let store = self.0.lock().unwrap();
        store
            .all()
            .unwrap()
            .map(|kv| kv.unwrap().0)
            .collect::<Vec<_>>()
    }

    /// The segment ids of the keys held, deduplicated.
    pub(super) fn segments(&self) -> Vec<i64> {
        let mut segments: Vec<i64> = self
            .keys()
            .iter()
            .map(|k| i64::from_be_bytes(k[..8].try_into().unwrap()))
            .collect();
        segments.dedup();
        segments
    }

    pub(super) fn offset(&self) -> Option<i64> {
        self.0.lock().unwrap().committed_offset().unwrap()
    }
}

impl KeyValueBytesStore for SharedBytes {
    fn name(&self) -> &str {
        "shared"
    }
    fn persistent(&self) -> bool {
        true
    }
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.0.lock().unwrap().get(key)
    }
    fn write(&mut self, batch: WriteBatch) -> Result<()> {
        self.0.lock().unwrap().write(batch)
    }
    fn committed_offset(&self) -> Result<Option<i64>> {
        self.0.lock().unwrap().committed_offset()
    }
    fn range(
        &self,
        from: Option<&[u8]>,
        to: Option<&[u8]>,
        reverse: bool,
    ) -> Result<BytesIter<'_>> {
        let items: Vec<_> = self.0.lock().unwrap().range(from, to, reverse)?.collect();
        Ok(Box::new(items.into_iter()))
    }
    fn approximate_count(&self) -> Result<u64> {
        self.0.lock().unwrap().approximate_count()
    }
    fn flush(&mut self) -> Result<()> {
        Ok(())
    }
    fn close(&mut self) -> Result<()> {
        Ok(())
    }
}

pub(super) const MINUTE: i64 = 60_000;

/// A window store of 1-minute windows kept 2 minutes (1-minute segments).
pub(super) fn windows() -> WindowStoreBuilder<String, i64> {
    WindowStoreBuilder::from_key_value(
        crate::store::KeyValueStoreBuilder::new("w", Serdes::string(), Serdes::i64()),
        2 * MINUTE,
        MINUTE,
        false,
    )
}

/// A session store keeping sessions 2 minutes (1-minute segments).
pub(super) fn sessions() -> SessionStoreBuilder<String, i64> {
    SessionStoreBuilder::from_key_value(
        crate::store::KeyValueStoreBuilder::new("s", Serdes::string(), Serdes::i64()),
        2 * MINUTE,
    )
}

pub(super) fn task() -> StoreContext {
    StoreContext::new(TaskId::new(0, 0))
}

pub(super) fn cached_task() -> StoreContext {
    task().with_thread_cache(ThreadCache::new(1 << 20))
}

pub(super) fn s(x: &str) -> String {
    x.to_string()
}
