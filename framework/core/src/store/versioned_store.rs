//! The typed versioned store: serdes, operation counts and its changelog
//! over the versions kept as bytes.

use std::fmt;
use std::sync::Arc;

use super::bytes::{ChangelogEntry, KeyValueBytesStore, WriteBatch};
use super::codec::Codec;
use super::metered::{bump, StoreMetrics};
use super::versioned::{VersionedKeyValueStore, VersionedPut, VersionedRecord};
use super::versioned_bytes::{RawRecord, VersionedBytes};
use super::versioned_layout as layout;
use super::StateStore;
use crate::error::Result;
use crate::serde::SharedSerde;

/// The versioned store that
/// [`VersionedKeyValueStoreBuilder`](super::VersionedKeyValueStoreBuilder)
/// builds (Kafka Streams' `MeteredVersionedKeyValueStore` over a
/// change-logging layer over `RocksDBVersionedStore`): the typed outer
/// layer over a bytes stack (uncommitted writes under exactly-once, then
/// the backend), never cached (as Kafka Streams: versioned stores have no
/// cache).
///
/// - The bytes layout is in the [store module](super) docs: a latest row
///   per key and a history row per older version, keyed by the version's
///   timestamp.
/// - Logged, each accepted put or delete is one changelog record: the key,
///   and the version's timestamp, a tag (value or delete) and the value.
///   Restoration replays them as puts. (Kafka Streams' changelog records
///   carry the timestamp as the record timestamp and the plain value, a
///   delete as a tombstone; Weir's carry it in the value, as its
///   timestamped stores do, so that a restore needs nothing but keys and
///   values. A delete is therefore not a Kafka tombstone: compaction keeps
///   one small record of a deleted key.)
/// - History is pruned per key when the key is written: the versions no
///   read can reach (older than the one valid at observed stream time
///   minus the history retention) are dropped with one range delete. A key
///   never written again keeps its older versions on disk; reads still
///   honour the history retention.
pub struct MeteredVersionedKeyValueStore<K, V> {
    codec: Codec<K, V>,
    bytes: VersionedBytes,
    logging: bool,
    changelog: Vec<ChangelogEntry>,
    metrics: Arc<StoreMetrics>,
}

impl<K, V> fmt::Debug for MeteredVersionedKeyValueStore<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MeteredVersionedKeyValueStore")
            .field("name", &self.codec.name)
            .field("bytes", &self.bytes)
            .field("logging", &self.logging)
            .finish()
    }
}

impl<K, V> MeteredVersionedKeyValueStore<K, V> {
    /// A typed versioned store called `name` over the bytes stack `inner`
    /// (which must not log nor cache: this layer logs), keeping
    /// `history_retention_ms` of history, logging its writes if `logging`.
    /// A reopened persistent store keeps its observed stream time.
    pub fn new(
        name: impl Into<String>,
        inner: Box<dyn KeyValueBytesStore>,
        key_serde: SharedSerde<K>,
        value_serde: SharedSerde<V>,
        history_retention_ms: i64,
        logging: bool,
    ) -> Result<Self> {
        Ok(MeteredVersionedKeyValueStore {
            codec: Codec::new(name.into(), key_serde, value_serde),
            bytes: VersionedBytes::open(inner, history_retention_ms)?,
            logging,
            changelog: Vec::new(),
            metrics: Arc::default(),
        })
    }

    /// This instance's operation counts.
    pub fn metrics(&self) -> Arc<StoreMetrics> {
        Arc::clone(&self.metrics)
    }

    /// The bytes stack below the serdes.
    pub fn bytes_store(&self) -> &dyn KeyValueBytesStore {
        self.bytes.inner.as_ref()
    }

    fn record(&self, raw: Option<RawRecord>) -> Result<Option<VersionedRecord<V>>> {
        raw.map(|(value, timestamp, valid_to)| {
            Ok(VersionedRecord {
                value: self.codec.read_value(&value)?,
                timestamp,
                valid_to,
            })
        })
        .transpose()
    }

    fn put_bytes(&mut self, key: Vec<u8>, value: Option<Vec<u8>>, ts: i64) -> Result<VersionedPut> {
        let outcome = self.bytes.put(&key, value.as_deref(), ts, false)?;
        if self.logging && outcome.was_put() {
            let value = layout::changelog_value(ts, value.as_deref());
            self.changelog.push(ChangelogEntry {
                key,
                value: Some(value),
            });
        }
        Ok(outcome)
    }
}

impl<K, V> VersionedKeyValueStore<K, V> for MeteredVersionedKeyValueStore<K, V> {
    fn put(&mut self, key: &K, value: Option<&V>, timestamp: i64) -> Result<VersionedPut> {
        bump(&self.metrics.puts, 1);
        let key = self.codec.key_bytes(key)?;
        let value = match value {
            Some(v) => self.codec.value_bytes(v)?,
            None => None,
        };
        self.put_bytes(key, value, timestamp)
    }

    fn delete(&mut self, key: &K, timestamp: i64) -> Result<Option<VersionedRecord<V>>> {
        bump(&self.metrics.deletes, 1);
        if self.bytes.expired(timestamp) {
            return Ok(None);
        }
        let key = self.codec.key_bytes(key)?;
        let existing = self.bytes.get_as_of(&key, timestamp)?;
        self.put_bytes(key, None, timestamp)?;
        self.record(existing)
    }

    fn get(&self, key: &K) -> Result<Option<VersionedRecord<V>>> {
        bump(&self.metrics.gets, 1);
        let key = self.codec.key_bytes(key)?;
        self.record(self.bytes.get(&key)?)
    }

    fn get_as_of(&self, key: &K, as_of: i64) -> Result<Option<VersionedRecord<V>>> {
        bump(&self.metrics.gets, 1);
        let key = self.codec.key_bytes(key)?;
        self.record(self.bytes.get_as_of(&key, as_of)?)
    }

    fn history_retention_ms(&self) -> i64 {
        self.bytes.history_ms()
    }

    fn observed_stream_time(&self) -> Option<i64> {
        self.bytes.observed()
    }
}

impl<K: 'static, V: 'static> StateStore for MeteredVersionedKeyValueStore<K, V> {
    fn name(&self) -> &str {
        &self.codec.name
    }

    fn persistent(&self) -> bool {
        self.bytes.inner.persistent()
    }

    fn flush(&mut self) -> Result<()> {
        bump(&self.metrics.flushes, 1);
        self.bytes.inner.flush()
    }

    fn close(&mut self) -> Result<()> {
        self.bytes.inner.close()
    }

    fn take_changelog(&mut self) -> Vec<ChangelogEntry> {
        let mut below = self.bytes.inner.take_changelog();
        below.append(&mut self.changelog);
        below
    }

    fn committed_offset(&self) -> Result<Option<i64>> {
        self.bytes.inner.committed_offset()
    }

    /// Restores a batch of changelog records: each is replayed as a put at
    /// its timestamp, then the batch's offset is recorded.
    fn restore(&mut self, batch: WriteBatch) -> Result<()> {
        self.bytes.restore(batch)
    }

    fn commit(&mut self, changelog_offset: Option<i64>) -> Result<()> {
        self.bytes.inner.commit(changelog_offset)
    }

    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }
}
