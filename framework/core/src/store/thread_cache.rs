//! The record cache budget of one stream thread, shared by the caching
//! stores of all the thread's tasks.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

/// The record cache of one stream thread (Kafka Streams' `ThreadCache`):
/// one byte budget that every [`CachingLayer`](super::CachingLayer) of the
/// thread's tasks counts its entries against.
///
/// `statestore.cache.max.bytes` is divided evenly over the stream threads;
/// each thread creates one `ThreadCache` and gives it to the stores of its
/// tasks ([`TaskConfig::thread_cache`](crate::task::TaskConfig::thread_cache)).
/// When the thread's stores together hold more than the budget, the store
/// being written evicts its least recently written entries (writing dirty
/// ones down and forwarding them, in order) until the thread is back under
/// the budget or the store holds nothing; at commit each store writes its
/// dirty entries down and keeps them, clean, for reads. As in Kafka Streams,
/// eviction happens in the store being written (another task's store is
/// never touched from here), so the thread's stores together never hold
/// more than the budget once a write returns.
///
/// ```
/// use weir_core::store::{CachingLayer, InMemoryBytesStore, KeyValueBytesStore, ThreadCache, WriteBatch};
///
/// let thread = ThreadCache::new(1 << 20);
/// let mut a = CachingLayer::with_thread_cache(Box::new(InMemoryBytesStore::new("a")), thread.clone());
/// let mut b = CachingLayer::with_thread_cache(Box::new(InMemoryBytesStore::new("b")), thread.clone());
/// let mut batch = WriteBatch::new();
/// batch.put(b"k".to_vec(), b"v".to_vec());
/// a.write(batch.clone())?;
/// b.write(batch)?;
/// assert_eq!(thread.used_bytes(), a.cached_bytes() + b.cached_bytes());
/// # Ok::<(), weir_core::Error>(())
/// ```
#[derive(Debug)]
pub struct ThreadCache {
    max_bytes: usize,
    used: AtomicUsize,
    evictions: AtomicU64,
}

impl ThreadCache {
    /// A cache budget of `max_bytes` for one thread's stores, to share.
    pub fn new(max_bytes: usize) -> Arc<Self> {
        Arc::new(ThreadCache {
            max_bytes,
            used: AtomicUsize::new(0),
            evictions: AtomicU64::new(0),
        })
    }

    /// The budget, in bytes (key and value bytes plus
    /// [`CACHE_ENTRY_OVERHEAD`](super::CACHE_ENTRY_OVERHEAD) per entry).
    pub fn max_bytes(&self) -> usize {
        self.max_bytes
    }

    /// Bytes the thread's stores hold in their caches, together.
    pub fn used_bytes(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    /// Entries evicted to stay within the budget, since the cache was created.
    pub fn evictions(&self) -> u64 {
        self.evictions.load(Ordering::Relaxed)
    }

    /// Whether the stores together hold more than the budget.
    pub(crate) fn over_budget(&self) -> bool {
        self.used_bytes() > self.max_bytes
    }

    pub(crate) fn charge(&self, bytes: usize) {
        self.used.fetch_add(bytes, Ordering::Relaxed);
    }

    pub(crate) fn release(&self, bytes: usize) {
        // Never below zero, whatever the order of calls.
        let _ = self
            .used
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |used| {
                Some(used.saturating_sub(bytes))
            });
    }

    pub(crate) fn count_eviction(&self) {
        self.evictions.fetch_add(1, Ordering::Relaxed);
    }
}
