//! Versioned key-value stores (Kafka Streams' KIP-889): the typed
//! interface, the record a read returns and what a put reports.

use crate::error::Result;

/// One version of a key's value, as a versioned store returns it (Kafka
/// Streams' `VersionedRecord`): the value, the timestamp it became valid
/// at, and the timestamp it stopped being valid at (`None` for the latest
/// version, which is valid until further notice).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionedRecord<V> {
    /// The value.
    pub value: V,
    /// When this version became valid (the timestamp it was put with).
    pub timestamp: i64,
    /// When the next version replaced it (exclusive); `None` for the latest.
    pub valid_to: Option<i64>,
}

/// What a [`VersionedKeyValueStore::put`] did (Kafka Streams returns the
/// same three outcomes as a `long`: `-1`, the valid-to timestamp, or
/// `Long.MIN_VALUE`; see [`to_kafka_streams_code`](Self::to_kafka_streams_code)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionedPut {
    /// The record is the key's latest version (its valid-to is undefined).
    Latest,
    /// The record was put as an older version, valid until this timestamp
    /// (exclusive), when the next version of the key begins.
    ValidTo(i64),
    /// The record was not put: its timestamp is older than the store's
    /// observed stream time minus its history retention.
    NotPut,
}

impl VersionedPut {
    /// Kafka Streams' return code: `-1` (`PUT_RETURN_CODE_VALID_TO_UNDEFINED`)
    /// for [`Latest`](Self::Latest), the timestamp for
    /// [`ValidTo`](Self::ValidTo), `i64::MIN` (`PUT_RETURN_CODE_NOT_PUT`)
    /// for [`NotPut`](Self::NotPut).
    ///
    /// ```
    /// use weir_core::store::VersionedPut;
    ///
    /// assert_eq!(VersionedPut::Latest.to_kafka_streams_code(), -1);
    /// assert_eq!(VersionedPut::ValidTo(20).to_kafka_streams_code(), 20);
    /// assert_eq!(VersionedPut::NotPut.to_kafka_streams_code(), i64::MIN);
    /// ```
    pub fn to_kafka_streams_code(self) -> i64 {
        match self {
            VersionedPut::Latest => -1,
            VersionedPut::ValidTo(t) => t,
            VersionedPut::NotPut => i64::MIN,
        }
    }

    /// Whether the record was stored (as the latest version or an older one).
    pub fn was_put(self) -> bool {
        self != VersionedPut::NotPut
    }
}

/// A key-value store keeping, per key, the versions of its value over time
/// (Kafka Streams' `VersionedKeyValueStore`): each put is a version valid
/// from its timestamp until the next version's; a null value (a delete) is
/// a version too, during which the key has no value. One version per key
/// and timestamp: a second put at the same timestamp replaces the first.
///
/// The store has a history retention, which is also its grace period: it
/// answers [`get_as_of`](Self::get_as_of) exactly for timestamps no older
/// than its observed stream time (the newest timestamp put) minus the
/// history retention, and it refuses writes older than that. The latest
/// version of a key never expires.
///
/// Built by [`VersionedKeyValueStoreBuilder`](super::VersionedKeyValueStoreBuilder);
/// reached from a processor with `ctx.versioned_key_value_store::<K, V>(name)`.
///
/// ```
/// use std::time::Duration;
/// use weir_core::serde::Serdes;
/// use weir_core::store::{VersionedKeyValueStore, VersionedKeyValueStoreBuilder, VersionedPut};
/// use weir_core::task::TaskId;
///
/// let builder = VersionedKeyValueStoreBuilder::new(
///     "prices", Serdes::string(), Serdes::i64(), Duration::from_secs(60),
/// );
/// let mut store = builder.build(TaskId::new(0, 0))?;
/// let key = "apple".to_string();
/// assert_eq!(store.put(&key, Some(&10), 1_000)?, VersionedPut::Latest);
/// assert_eq!(store.put(&key, Some(&12), 5_000)?, VersionedPut::Latest);
/// assert_eq!(store.put(&key, Some(&11), 3_000)?, VersionedPut::ValidTo(5_000)); // out of order
/// assert_eq!(store.get(&key)?.map(|r| r.value), Some(12));
/// let then = store.get_as_of(&key, 4_000)?.unwrap();
/// assert_eq!((then.value, then.timestamp, then.valid_to), (11, 3_000, Some(5_000)));
/// assert_eq!(store.get_as_of(&key, 999)?, None);
/// # Ok::<(), weir_core::Error>(())
/// ```
pub trait VersionedKeyValueStore<K, V> {
    /// Puts `value` (`None`: a delete) as the version of `key` valid from
    /// `timestamp`; see [`VersionedPut`] for the outcomes. A put older than
    /// the observed stream time minus the history retention is not stored.
    fn put(&mut self, key: &K, value: Option<&V>, timestamp: i64) -> Result<VersionedPut>;

    /// Deletes `key` as of `timestamp` (a put of `None`) and returns the
    /// version that was valid at `timestamp` (inclusive), if any. Older than
    /// the grace period: nothing is deleted and `None` is returned.
    fn delete(&mut self, key: &K, timestamp: i64) -> Result<Option<VersionedRecord<V>>>;

    /// The latest version of `key`, if it has a value (`None` if it has
    /// none, or its latest version is a delete).
    fn get(&self, key: &K) -> Result<Option<VersionedRecord<V>>>;

    /// The version of `key` valid at `as_of` (the one with the largest
    /// timestamp <= `as_of`), if it has a value. For `as_of` older than the
    /// observed stream time minus the history retention, only the latest
    /// version can answer (if its timestamp is <= `as_of`); otherwise `None`.
    fn get_as_of(&self, key: &K, as_of: i64) -> Result<Option<VersionedRecord<V>>>;

    /// The store's history retention, in milliseconds.
    fn history_retention_ms(&self) -> i64;

    /// The newest timestamp the store has been given (by a put or by
    /// restoration), `None` before any.
    fn observed_stream_time(&self) -> Option<i64>;
}
