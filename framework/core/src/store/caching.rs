//! The caching layer: folds repeated writes of a key until flush or eviction.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

use super::bytes::{BytesIter, FlushListener, FlushedEntry, KeyValueBytesStore, WriteBatch};
use super::delegate::delegate_to;
use super::memory::bounds;
use super::overlay::{Overlay, OverlayEntries};
use super::thread_cache::ThreadCache;
use crate::error::Result;

/// What an entry costs the budget beyond its key and value bytes.
pub const CACHE_ENTRY_OVERHEAD: usize = 64;

#[derive(Debug)]
struct Entry {
    /// `None`: the key is deleted (a tombstone not yet written, or known absent).
    value: Option<Vec<u8>>,
    /// Position in the recency order.
    lru: u64,
    /// Position in the dirty order; `None` when the store below agrees.
    dirty: Option<u64>,
}

fn cost(key: &[u8], value: Option<&Vec<u8>>) -> usize {
    key.len() + value.map_or(0, Vec::len) + CACHE_ENTRY_OVERHEAD
}

/// A bytes layer that keeps written entries in memory and writes them down
/// only on [`flush`](KeyValueBytesStore::flush) (called before every
/// commit) or when the cache exceeds its byte budget, so that ten updates of
/// a key between two commits reach the store below, the changelog, and
/// (later) the DSL's downstream operators as one.
///
/// - Writes fold per key; a flush writes every dirty entry in ONE
///   [`WriteBatch`], in the order of each key's latest update (as Kafka
///   Streams' cache does).
/// - The budget counts key and value bytes plus [`CACHE_ENTRY_OVERHEAD`] per
///   entry, and belongs to a [`ThreadCache`] that every caching store of a
///   stream thread shares ([`with_thread_cache`](Self::with_thread_cache);
///   [`new`](Self::new) gives the store a budget of its own). When the
///   thread's stores together exceed it, the store being written evicts its
///   least recently written entries until the thread fits again (or the
///   store is empty); if an evicted entry is dirty, every dirty entry of the
///   store is flushed first, so the store below never sees updates out of
///   order. A flush keeps the entries (clean) for reads.
/// - Reads look in the cache, then below; they do not fill the cache.
///   Range scans merge the cache with the store below.
/// - A batch that carries a changelog offset flushes the cache, so the
///   offset is written together with all the data it covers.
/// - [`commit`](KeyValueBytesStore::commit) (the runtime records at every
///   commit how far the changelog was written) passes down and keeps the
///   cache, dirty entries included: they are not in the changelog yet.
///   [`restore`](KeyValueBytesStore::restore) drops the cached entries of
///   the batch's keys.
/// - [`set_flush_listener`](KeyValueBytesStore::set_flush_listener) receives
///   every flushed or evicted dirty entry with the value it replaced below:
///   what the DSL forwards downstream.
/// - A range delete ([`KeyValueBytesStore::delete_range`]) drops the
///   cached entries in the range, dirty ones too (they are never written
///   down nor given to the listener), and passes the range delete down.
/// - `close` drops what was not flushed: a clean close follows a commit.
///
/// ```
/// use weir_core::store::{CachingLayer, ChangeLoggingLayer, InMemoryBytesStore, KeyValueBytesStore, WriteBatch};
///
/// let logged = ChangeLoggingLayer::new(Box::new(InMemoryBytesStore::new("counts")));
/// let mut store = CachingLayer::new(Box::new(logged), 1 << 20);
/// for n in 1..=3u8 {
///     let mut batch = WriteBatch::new();
///     batch.put(b"apple".to_vec(), vec![n]);
///     store.write(batch)?;
/// }
/// assert_eq!(store.get(b"apple")?, Some(vec![3]));
/// assert!(store.take_changelog().is_empty()); // still folded in the cache
/// store.flush()?;
/// assert_eq!(store.take_changelog().len(), 1); // one update reached the log
/// # Ok::<(), weir_core::Error>(())
/// ```
pub struct CachingLayer {
    inner: Box<dyn KeyValueBytesStore>,
    cache: Arc<ThreadCache>,
    /// This store's share of the thread's cache.
    bytes: usize,
    entries: BTreeMap<Vec<u8>, Entry>,
    recency: BTreeMap<u64, Vec<u8>>,
    dirty: BTreeMap<u64, Vec<u8>>,
    next_seq: u64,
    listener: Option<FlushListener>,
}

impl std::fmt::Debug for CachingLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachingLayer")
            .field("inner", &self.inner)
            .field("thread_max_bytes", &self.cache.max_bytes())
            .field("thread_used_bytes", &self.cache.used_bytes())
            .field("bytes", &self.bytes)
            .field("entries", &self.entries.len())
            .field("dirty", &self.dirty.len())
            .finish()
    }
}

impl CachingLayer {
    /// Caches writes to `inner` within `max_bytes` of its own (a
    /// [`ThreadCache`] for this store alone).
    pub fn new(inner: Box<dyn KeyValueBytesStore>, max_bytes: usize) -> Self {
        Self::with_thread_cache(inner, ThreadCache::new(max_bytes))
    }

    /// Caches writes to `inner` within the budget of `cache`, shared with
    /// the other caching stores of the thread.
    pub fn with_thread_cache(inner: Box<dyn KeyValueBytesStore>, cache: Arc<ThreadCache>) -> Self {
        CachingLayer {
            inner,
            cache,
            bytes: 0,
            entries: BTreeMap::new(),
            recency: BTreeMap::new(),
            dirty: BTreeMap::new(),
            next_seq: 0,
            listener: None,
        }
    }

    /// Bytes this store's cache holds, by the budget's measure.
    pub fn cached_bytes(&self) -> usize {
        self.bytes
    }

    /// The thread cache whose budget this store shares.
    pub fn thread_cache(&self) -> &Arc<ThreadCache> {
        &self.cache
    }

    fn charge(&mut self, bytes: usize) {
        self.bytes += bytes;
        self.cache.charge(bytes);
    }

    fn release(&mut self, bytes: usize) {
        let bytes = bytes.min(self.bytes);
        self.bytes -= bytes;
        self.cache.release(bytes);
    }

    /// Entries the cache holds (clean and dirty).
    pub fn cached_entries(&self) -> usize {
        self.entries.len()
    }

    /// Entries not yet written to the store below.
    pub fn dirty_entries(&self) -> usize {
        self.dirty.len()
    }

    fn seq(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq
    }

    /// Caches a dirty write of `key`.
    fn put_dirty(&mut self, key: Vec<u8>, value: Option<Vec<u8>>) {
        let lru = self.seq();
        let dirty = self.seq();
        self.charge(cost(&key, value.as_ref()));
        let new = Entry {
            value,
            lru,
            dirty: Some(dirty),
        };
        if let Some(old) = self.entries.insert(key.clone(), new) {
            self.release(cost(&key, old.value.as_ref()));
            self.recency.remove(&old.lru);
            if let Some(d) = old.dirty {
                self.dirty.remove(&d);
            }
        }
        self.recency.insert(lru, key.clone());
        self.dirty.insert(dirty, key);
    }

    /// Writes every dirty entry (and `offset`, if any) below in one batch.
    fn flush_dirty(&mut self, offset: Option<i64>) -> Result<()> {
        if self.dirty.is_empty() && offset.is_none() {
            return Ok(());
        }
        let mut batch = WriteBatch::new();
        let mut flushed = Vec::new();
        for key in self.dirty.values() {
            let value = self.entries.get(key).and_then(|e| e.value.clone());
            if self.listener.is_some() {
                flushed.push(FlushedEntry {
                    key: key.clone(),
                    new_value: value.clone(),
                    old_value: self.inner.get(key)?,
                });
            }
            batch.write(key.clone(), value);
        }
        if let Some(o) = offset {
            batch.set_offset(o);
        }
        self.inner.write(batch)?;
        for key in std::mem::take(&mut self.dirty).into_values() {
            if let Some(e) = self.entries.get_mut(&key) {
                e.dirty = None;
            }
        }
        if let Some(listener) = self.listener.as_mut() {
            if !flushed.is_empty() {
                listener(&flushed);
            }
        }
        Ok(())
    }

    /// Evicts this store's least recently written entries while the
    /// thread's stores together exceed the budget.
    fn evict(&mut self) -> Result<()> {
        while self.cache.over_budget() {
            let Some((&seq, key)) = self.recency.first_key_value() else {
                break;
            };
            let key = key.clone();
            if self.entries.get(&key).is_some_and(|e| e.dirty.is_some()) {
                self.flush_dirty(None)?;
            }
            self.recency.remove(&seq);
            if let Some(old) = self.entries.remove(&key) {
                self.release(cost(&key, old.value.as_ref()));
            }
            self.cache.count_eviction();
        }
        Ok(())
    }

    /// Drops the cached entry of `key`, if any (it must not be dirty).
    fn forget(&mut self, key: &[u8]) {
        if let Some(old) = self.entries.remove(key) {
            self.recency.remove(&old.lru);
            if let Some(d) = old.dirty {
                self.dirty.remove(&d);
            }
            self.release(cost(key, old.value.as_ref()));
        }
    }

    /// Drops every cached entry in `[from, to)`, dirty ones too: a range
    /// delete makes them moot, so they are never written down.
    fn forget_range(&mut self, from: &[u8], to: &[u8]) {
        if from >= to {
            return;
        }
        let doomed: Vec<Vec<u8>> = self
            .entries
            .range::<[u8], _>((Bound::Included(from), Bound::Excluded(to)))
            .map(|(k, _)| k.clone())
            .collect();
        for key in doomed {
            self.forget(&key);
        }
    }

    fn clear(&mut self) {
        self.entries.clear();
        self.recency.clear();
        self.dirty.clear();
        let bytes = self.bytes;
        self.release(bytes);
    }
}

impl KeyValueBytesStore for CachingLayer {
    // The commit records the changelog offset below and keeps the cache:
    // the dirty entries are not in the changelog yet, so the store below
    // agrees with the offset without them.
    delegate_to!(inner:
        name,
        persistent,
        committed_offset,
        approximate_count,
        take_changelog,
        commit,
        expect_short_lived_writes,
    );

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        match self.entries.get(key) {
            Some(e) => Ok(e.value.clone()),
            None => self.inner.get(key),
        }
    }

    fn get_with(
        &self,
        key: &[u8],
        read: &mut dyn FnMut(Option<&[u8]>) -> Result<()>,
    ) -> Result<()> {
        match self.entries.get(key) {
            Some(e) => read(e.value.as_deref()),
            None => self.inner.get_with(key, read),
        }
    }

    fn write(&mut self, mut batch: WriteBatch) -> Result<()> {
        let ranges = batch.take_range_deletes();
        if !ranges.is_empty() {
            // Range deletes go down at once (they apply before the batch's
            // writes); the cache forgets what they cover.
            let mut down = WriteBatch::new();
            for (from, to) in ranges {
                self.forget_range(&from, &to);
                down.delete_range(from, to);
            }
            self.inner.write(down)?;
        }
        let (ops, offset) = batch.into_parts();
        for (key, value) in ops {
            self.put_dirty(key, value);
        }
        if offset.is_some() {
            self.flush_dirty(offset)?;
        }
        self.evict()
    }

    fn range(
        &self,
        from: Option<&[u8]>,
        to: Option<&[u8]>,
        reverse: bool,
    ) -> Result<BytesIter<'_>> {
        let below = self.inner.range(from, to, reverse)?;
        let Some(b) = bounds(from, to) else {
            return Ok(below);
        };
        let cached = self
            .entries
            .range::<[u8], _>(b)
            .map(|(k, e)| (k.as_slice(), e.value.as_deref()));
        let cached: OverlayEntries<'_> = if reverse {
            Box::new(cached.rev())
        } else {
            Box::new(cached)
        };
        Ok(Box::new(Overlay::new(cached, below, reverse)))
    }

    fn flush(&mut self) -> Result<()> {
        self.flush_dirty(None)?;
        self.inner.flush()
    }

    fn close(&mut self) -> Result<()> {
        self.clear();
        self.inner.close()
    }

    fn restore(&mut self, batch: WriteBatch) -> Result<()> {
        self.flush_dirty(None)?;
        for (from, to) in batch.range_deletes() {
            self.forget_range(from, to);
        }
        for (key, _) in batch.ops() {
            self.forget(key);
        }
        self.inner.restore(batch)
    }

    fn set_flush_listener(&mut self, listener: FlushListener) -> bool {
        self.listener = Some(listener);
        true
    }
}

impl Drop for CachingLayer {
    fn drop(&mut self) {
        // Give the thread's budget back, whether or not the store was closed.
        self.cache.release(self.bytes);
    }
}
