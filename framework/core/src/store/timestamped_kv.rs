//! [`TimestampedKeyValueStore`]: a key-value store whose values carry the
//! timestamp of the newest record that made them, as the DSL's aggregations
//! keep their results (Kafka Streams' `TimestampedKeyValueStore`).

use std::fmt;

use super::bytes::WriteBatch;
use super::codec::Codec;
use super::kv::{KeyValueIter, KeyValueStore, ReadOnlyKeyValueStore};
use super::metered::MeteredKeyValueStore;
use super::timestamped::ValueAndTimestamp;
use super::StateStore;
use crate::error::Result;
use crate::serde::SharedSerde;

/// The timestamp a plain [`KeyValueStore::put`] on a
/// [`TimestampedKeyValueStore`] writes: none, `-1` (Kafka Streams' test
/// driver writes `ConsumerRecord.NO_TIMESTAMP` the same way). The next
/// aggregate update of the key then takes its record's timestamp.
pub const NO_TIMESTAMP: i64 = -1;

/// A key-value store of [`ValueAndTimestamp`]s, as the DSL's aggregations
/// (`count`, `reduce`, `aggregate` of grouped streams and tables) keep their
/// results: each value with the timestamp of the newest record folded into
/// it, so the update an aggregation forwards carries max(record timestamp,
/// the stored aggregate's timestamp), as in Kafka Streams.
///
/// It is two stores in one:
/// - [`timestamped`](Self::timestamped) gives the store of
///   `ValueAndTimestamp<V>` (the DSL's processors use it);
/// - as a [`KeyValueStore<K, V>`] it shows plain values, so a processor's
///   `ctx.key_value_store::<K, V>(name)`, an interactive query and the test
///   driver's `key_value_store::<K, V>(name)` read an aggregation's store
///   with its plain types. Reads drop the timestamps; a plain write stores
///   its value with [`NO_TIMESTAMP`].
///
/// The stored bytes are Kafka Streams' timestamped format: the timestamp,
/// 8 bytes big-endian, then the value serde's bytes
/// ([`TimestampedSerde`](super::TimestampedSerde)); the changelog carries
/// the same bytes.
///
/// ```
/// use weir_core::serde::Serdes;
/// use weir_core::store::{
///     KeyValueStore, KeyValueStoreBuilder, ReadOnlyKeyValueStore, TimestampedKeyValueStore,
///     ValueAndTimestamp,
/// };
/// use weir_core::task::TaskId;
///
/// let builder = KeyValueStoreBuilder::new("counts", Serdes::string(), Serdes::i64())
///     .with_timestamps(true);
/// let mut store: TimestampedKeyValueStore<String, i64> =
///     builder.build_timestamped(TaskId::new(0, 0))?;
/// let key = "apple".to_string();
/// store.timestamped().put(&key, &ValueAndTimestamp::new(3, 42))?;
/// assert_eq!(store.get(&key)?, Some(3)); // the plain view
/// store.put(&key, &4)?;
/// assert_eq!(store.timestamped().get(&key)?, Some(ValueAndTimestamp::new(4, -1)));
/// # Ok::<(), weir_core::Error>(())
/// ```
pub struct TimestampedKeyValueStore<K, V> {
    inner: MeteredKeyValueStore<K, ValueAndTimestamp<V>>,
    /// The plain serdes, for plain writes (no clone of the value needed).
    plain: Codec<K, V>,
}

impl<K, V> fmt::Debug for TimestampedKeyValueStore<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimestampedKeyValueStore")
            .field("inner", &self.inner)
            .finish()
    }
}

impl<K, V> TimestampedKeyValueStore<K, V> {
    /// The store over `inner`, whose value serde reads and writes
    /// [`ValueAndTimestamp`]s of `value_serde`'s values in Kafka Streams'
    /// format (see [`TimestampedSerde`](super::TimestampedSerde)); plain
    /// writes use `key_serde` and `value_serde`. [`KeyValueStoreBuilder`](super::KeyValueStoreBuilder)
    /// `.with_timestamps(true)` builds one.
    pub fn new(
        inner: MeteredKeyValueStore<K, ValueAndTimestamp<V>>,
        key_serde: SharedSerde<K>,
        value_serde: SharedSerde<V>,
    ) -> Self {
        let plain = Codec::new(inner.store_name().to_string(), key_serde, value_serde);
        TimestampedKeyValueStore { inner, plain }
    }

    /// The bytes of a plain value written with [`NO_TIMESTAMP`].
    fn stamped_bytes(&self, value: &V) -> Result<Option<Vec<u8>>> {
        Ok(self.plain.value_bytes(value)?.map(|v| {
            let mut bytes = Vec::with_capacity(8 + v.len());
            bytes.extend_from_slice(&NO_TIMESTAMP.to_be_bytes());
            bytes.extend_from_slice(&v);
            bytes
        }))
    }

    /// The store of values with their timestamps.
    pub fn timestamped(&mut self) -> &mut MeteredKeyValueStore<K, ValueAndTimestamp<V>> {
        &mut self.inner
    }

    /// The store of values with their timestamps, read-only.
    pub fn timestamped_ref(&self) -> &MeteredKeyValueStore<K, ValueAndTimestamp<V>> {
        &self.inner
    }
}

/// Drops the timestamps of a scan's values.
fn plain<'a, K: 'a, V: 'a>(
    iter: KeyValueIter<'a, K, ValueAndTimestamp<V>>,
) -> KeyValueIter<'a, K, V> {
    Box::new(iter.map(|kv| kv.map(|(k, v)| (k, v.value))))
}

impl<K, V> ReadOnlyKeyValueStore<K, V> for TimestampedKeyValueStore<K, V> {
    fn get(&self, key: &K) -> Result<Option<V>> {
        Ok(self.inner.get(key)?.map(|v| v.value))
    }

    fn range(&self, from: Option<&K>, to: Option<&K>) -> Result<KeyValueIter<'_, K, V>> {
        Ok(plain(self.inner.range(from, to)?))
    }

    fn reverse_range(&self, from: Option<&K>, to: Option<&K>) -> Result<KeyValueIter<'_, K, V>> {
        Ok(plain(self.inner.reverse_range(from, to)?))
    }

    fn prefix_scan(&self, prefix: &K) -> Result<KeyValueIter<'_, K, V>> {
        Ok(plain(self.inner.prefix_scan(prefix)?))
    }

    fn prefix_scan_bytes(&self, prefix: &[u8]) -> Result<KeyValueIter<'_, K, V>> {
        Ok(plain(self.inner.prefix_scan_bytes(prefix)?))
    }

    fn all(&self) -> Result<KeyValueIter<'_, K, V>> {
        Ok(plain(self.inner.all()?))
    }

    fn approximate_num_entries(&self) -> Result<u64> {
        self.inner.approximate_num_entries()
    }
}

impl<K, V> KeyValueStore<K, V> for TimestampedKeyValueStore<K, V> {
    fn put(&mut self, key: &K, value: &V) -> Result<()> {
        let mut batch = WriteBatch::new();
        batch.write(self.plain.key_bytes(key)?, self.stamped_bytes(value)?);
        self.inner.write_counted(batch)
    }

    fn put_if_absent(&mut self, key: &K, value: &V) -> Result<Option<V>> {
        if let Some(old) = self.inner.get(key)? {
            return Ok(Some(old.value));
        }
        self.put(key, value)?;
        Ok(None)
    }

    fn put_all(&mut self, entries: &[(K, Option<V>)]) -> Result<()> {
        let mut batch = WriteBatch::new();
        for (key, value) in entries {
            let value = match value {
                Some(v) => self.stamped_bytes(v)?,
                None => None,
            };
            batch.write(self.plain.key_bytes(key)?, value);
        }
        self.inner.write_counted(batch)
    }

    fn delete(&mut self, key: &K) -> Result<Option<V>> {
        Ok(self.inner.delete(key)?.map(|v| v.value))
    }
}

impl<K: 'static, V: 'static> StateStore for TimestampedKeyValueStore<K, V> {
    fn name(&self) -> &str {
        self.inner.store_name()
    }

    fn persistent(&self) -> bool {
        self.inner.persistent()
    }

    fn flush(&mut self) -> Result<()> {
        self.inner.flush()
    }

    fn close(&mut self) -> Result<()> {
        self.inner.close()
    }

    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }

    fn take_changelog(&mut self) -> Vec<super::ChangelogEntry> {
        self.inner.take_changelog()
    }

    fn committed_offset(&self) -> Result<Option<i64>> {
        self.inner.committed_offset()
    }

    fn restore(&mut self, batch: WriteBatch) -> Result<()> {
        self.inner.restore(batch)
    }

    fn commit(&mut self, changelog_offset: Option<i64>) -> Result<()> {
        self.inner.commit(changelog_offset)
    }
}
