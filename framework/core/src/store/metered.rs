//! The typed outer layer: serdes and operation counts over a bytes stack.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::bytes::{FlushListener, KeyValueBytesStore, WriteBatch};
use super::codec::Codec;
use super::delegate::delegate_to;
use super::kv::{KeyValueIter, KeyValueStore, ReadOnlyKeyValueStore};
use super::StateStore;
use crate::error::Result;
use crate::serde::SharedSerde;

/// Operation counts of one store instance, shared so that a metrics
/// reporter on another thread can read them.
#[derive(Debug, Default)]
pub struct StoreMetrics {
    pub(super) gets: AtomicU64,
    pub(super) puts: AtomicU64,
    pub(super) deletes: AtomicU64,
    pub(super) scans: AtomicU64,
    pub(super) flushes: AtomicU64,
}

impl StoreMetrics {
    /// Point reads (`get`, and the read of `put_if_absent`).
    pub fn gets(&self) -> u64 {
        self.gets.load(Ordering::Relaxed)
    }
    /// Entries written (`put`, `put_if_absent` that wrote, each entry of `put_all`).
    pub fn puts(&self) -> u64 {
        self.puts.load(Ordering::Relaxed)
    }
    /// `delete` calls.
    pub fn deletes(&self) -> u64 {
        self.deletes.load(Ordering::Relaxed)
    }
    /// Range, prefix and full scans started.
    pub fn scans(&self) -> u64 {
        self.scans.load(Ordering::Relaxed)
    }
    /// Flushes.
    pub fn flushes(&self) -> u64 {
        self.flushes.load(Ordering::Relaxed)
    }
}

pub(super) fn bump(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

/// The outermost layer of a key-value store: turns typed keys and values
/// into bytes with the store's serdes (the only layer that sees types), and
/// counts operations in [`StoreMetrics`].
///
/// Serdes see the store's name as their topic. Errors:
/// - a key or value that cannot be serialized is an [`Error::Serialization`](crate::Error::Serialization)
///   (the caller's data is at fault); a key that serializes to null too;
/// - stored bytes that the serdes cannot read are an [`Error::Store`](crate::Error::Store) naming
///   the store (the store or its serdes are at fault): never a panic.
///
/// This is the type [`KeyValueStoreBuilder`](super::KeyValueStoreBuilder)
/// builds, whatever layers lie below.
pub struct MeteredKeyValueStore<K, V> {
    codec: Codec<K, V>,
    inner: Box<dyn KeyValueBytesStore>,
    metrics: Arc<StoreMetrics>,
}

impl<K, V> fmt::Debug for MeteredKeyValueStore<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MeteredKeyValueStore")
            .field("name", &self.codec.name)
            .field("inner", &self.inner)
            .field("metrics", &self.metrics)
            .finish()
    }
}

impl<K, V> MeteredKeyValueStore<K, V> {
    /// A typed store called `name` over the bytes stack `inner`.
    pub fn new(
        name: impl Into<String>,
        inner: Box<dyn KeyValueBytesStore>,
        key_serde: SharedSerde<K>,
        value_serde: SharedSerde<V>,
    ) -> Self {
        MeteredKeyValueStore {
            codec: Codec::new(name.into(), key_serde, value_serde),
            inner,
            metrics: Arc::default(),
        }
    }

    /// This instance's operation counts.
    pub fn metrics(&self) -> Arc<StoreMetrics> {
        Arc::clone(&self.metrics)
    }

    /// The bytes stack below the serdes.
    pub fn bytes_store(&self) -> &dyn KeyValueBytesStore {
        self.inner.as_ref()
    }

    /// Installs a listener for the entries the cache writes down; `false`
    /// when the store has no cache (every write then goes straight down).
    pub fn set_flush_listener(&mut self, listener: FlushListener) -> bool {
        self.inner.set_flush_listener(listener)
    }

    /// The store's name (also [`StateStore::name`]).
    pub(super) fn store_name(&self) -> &str {
        &self.codec.name
    }

    /// Writes `batch` (bytes already serialized), counting its entries as puts.
    pub(super) fn write_counted(&mut self, batch: WriteBatch) -> Result<()> {
        bump(
            &self.metrics.puts,
            u64::try_from(batch.len()).unwrap_or(u64::MAX),
        );
        self.inner.write(batch)
    }

    fn key_bytes(&self, key: &K) -> Result<Vec<u8>> {
        self.codec.key_bytes(key)
    }

    fn value_bytes(&self, value: &V) -> Result<Option<Vec<u8>>> {
        self.codec.value_bytes(value)
    }

    fn read_key(&self, bytes: &[u8]) -> Result<K> {
        self.codec.read_key(bytes)
    }

    fn read_value(&self, bytes: &[u8]) -> Result<V> {
        self.codec.read_value(bytes)
    }

    fn typed<'a>(&'a self, iter: super::BytesIter<'a>) -> KeyValueIter<'a, K, V> {
        bump(&self.metrics.scans, 1);
        Box::new(iter.map(move |kv| {
            let (k, v) = kv?;
            Ok((self.read_key(&k)?, self.read_value(&v)?))
        }))
    }

    fn bounds(&self, from: Option<&K>, to: Option<&K>) -> Result<[Option<Vec<u8>>; 2]> {
        let from = from.map(|k| self.key_bytes(k)).transpose()?;
        let to = to.map(|k| self.key_bytes(k)).transpose()?;
        Ok([from, to])
    }

    fn write_one(&mut self, key: Vec<u8>, value: Option<Vec<u8>>) -> Result<()> {
        let mut batch = WriteBatch::new();
        batch.write(key, value);
        self.inner.write(batch)
    }
}

impl<K, V> ReadOnlyKeyValueStore<K, V> for MeteredKeyValueStore<K, V> {
    fn get(&self, key: &K) -> Result<Option<V>> {
        bump(&self.metrics.gets, 1);
        let key = self.key_bytes(key)?;
        let mut value = None;
        self.inner.get_with(&key, &mut |bytes| {
            value = bytes.map(|v| self.read_value(v)).transpose()?;
            Ok(())
        })?;
        Ok(value)
    }

    fn range(&self, from: Option<&K>, to: Option<&K>) -> Result<KeyValueIter<'_, K, V>> {
        let [from, to] = self.bounds(from, to)?;
        let iter = self.inner.range(from.as_deref(), to.as_deref(), false)?;
        Ok(self.typed(iter))
    }

    fn reverse_range(&self, from: Option<&K>, to: Option<&K>) -> Result<KeyValueIter<'_, K, V>> {
        let [from, to] = self.bounds(from, to)?;
        let iter = self.inner.range(from.as_deref(), to.as_deref(), true)?;
        Ok(self.typed(iter))
    }

    fn prefix_scan(&self, prefix: &K) -> Result<KeyValueIter<'_, K, V>> {
        let prefix = self.key_bytes(prefix)?;
        self.prefix_scan_bytes(&prefix)
    }

    fn prefix_scan_bytes(&self, prefix: &[u8]) -> Result<KeyValueIter<'_, K, V>> {
        let iter = self.inner.prefix_scan(prefix)?;
        Ok(self.typed(iter))
    }

    fn all(&self) -> Result<KeyValueIter<'_, K, V>> {
        let iter = self.inner.all()?;
        Ok(self.typed(iter))
    }

    fn approximate_num_entries(&self) -> Result<u64> {
        self.inner.approximate_count()
    }
}

impl<K, V> KeyValueStore<K, V> for MeteredKeyValueStore<K, V> {
    fn put(&mut self, key: &K, value: &V) -> Result<()> {
        bump(&self.metrics.puts, 1);
        let key = self.key_bytes(key)?;
        let value = self.value_bytes(value)?;
        self.write_one(key, value)
    }

    fn put_if_absent(&mut self, key: &K, value: &V) -> Result<Option<V>> {
        bump(&self.metrics.gets, 1);
        let key = self.key_bytes(key)?;
        if let Some(old) = self.inner.get(&key)? {
            return self.read_value(&old).map(Some);
        }
        bump(&self.metrics.puts, 1);
        let value = self.value_bytes(value)?;
        self.write_one(key, value)?;
        Ok(None)
    }

    fn put_all(&mut self, entries: &[(K, Option<V>)]) -> Result<()> {
        let mut batch = WriteBatch::new();
        for (key, value) in entries {
            let value = match value {
                Some(v) => self.value_bytes(v)?,
                None => None,
            };
            batch.write(self.key_bytes(key)?, value);
        }
        bump(
            &self.metrics.puts,
            u64::try_from(batch.len()).unwrap_or(u64::MAX),
        );
        self.inner.write(batch)
    }

    fn delete(&mut self, key: &K) -> Result<Option<V>> {
        bump(&self.metrics.deletes, 1);
        let key = self.key_bytes(key)?;
        let Some(old) = self.inner.get(&key)? else {
            return Ok(None);
        };
        let old = self.read_value(&old)?;
        self.write_one(key, None)?;
        Ok(Some(old))
    }
}

impl<K: 'static, V: 'static> StateStore for MeteredKeyValueStore<K, V> {
    delegate_to!(inner:
        persistent,
        close,
        take_changelog,
        committed_offset,
        restore,
        commit,
    );

    fn name(&self) -> &str {
        &self.codec.name
    }

    fn flush(&mut self) -> Result<()> {
        bump(&self.metrics.flushes, 1);
        self.inner.flush()
    }

    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }
}
