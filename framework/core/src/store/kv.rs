//! The typed key-value store traits that processors program against.

use crate::error::Result;

/// An iterator over typed `(key, value)` pairs in key-byte order, borrowing
/// the store: the borrow checker ends every scan before the next write, which
/// Kafka Streams can only ask of its users. Each item is a `Result` because
/// reading and deserializing happen lazily, one entry at a time.
pub type KeyValueIter<'a, K, V> = Box<dyn Iterator<Item = Result<(K, V)>> + 'a>;

/// Read access to a key-value store: what interactive queries may use.
///
/// Order is the order of the SERIALIZED keys (lexicographic bytes), as in
/// Kafka Streams: with the built-in string serde that is string order; with
/// the big-endian integer serdes it is numeric order for non-negative numbers
/// only (negative ones sort after them).
pub trait ReadOnlyKeyValueStore<K, V> {
    /// The value under `key`, if any.
    fn get(&self, key: &K) -> Result<Option<V>>;

    /// Entries with `from <= key <= to`, both ends inclusive, ascending;
    /// `None` leaves that end open. `from > to` gives no entries.
    fn range(&self, from: Option<&K>, to: Option<&K>) -> Result<KeyValueIter<'_, K, V>>;

    /// The same entries as [`range`](Self::range), descending.
    fn reverse_range(&self, from: Option<&K>, to: Option<&K>) -> Result<KeyValueIter<'_, K, V>>;

    /// Entries whose serialized key starts with the serialized `prefix`,
    /// ascending. As in Kafka Streams' `prefixScan`, the prefix goes through
    /// the KEY serde, so it works where a key's serialized form begins with a
    /// shorter key's (strings: `"user:"` finds `"user:1"`, `"user:2"`).
    /// For other key formats use [`prefix_scan_bytes`](Self::prefix_scan_bytes).
    fn prefix_scan(&self, prefix: &K) -> Result<KeyValueIter<'_, K, V>>;

    /// Entries whose serialized key starts with the raw bytes `prefix`,
    /// ascending: for composite keys whose leading part you serialize
    /// yourself.
    fn prefix_scan_bytes(&self, prefix: &[u8]) -> Result<KeyValueIter<'_, K, V>>;

    /// Every entry, ascending.
    fn all(&self) -> Result<KeyValueIter<'_, K, V>>;

    /// Every entry, descending.
    fn reverse_all(&self) -> Result<KeyValueIter<'_, K, V>> {
        self.reverse_range(None, None)
    }

    /// An estimate of the number of entries (exact for in-memory stores
    /// without a cache; a cache's unflushed entries are not counted).
    fn approximate_num_entries(&self) -> Result<u64>;
}

/// A key-value store a processor reads and writes.
///
/// Get one in a processor with `ctx.key_value_store::<K, V>(name)`;
/// build one with [`KeyValueStoreBuilder`](super::KeyValueStoreBuilder).
///
/// ```
/// use weir_core::serde::Serdes;
/// use weir_core::store::{KeyValueStore, KeyValueStoreBuilder, ReadOnlyKeyValueStore};
/// use weir_core::task::TaskId;
///
/// let builder = KeyValueStoreBuilder::new("counts", Serdes::string(), Serdes::i64());
/// let mut store = builder.build(TaskId::new(0, 0))?;
/// store.put(&"apple".to_string(), &3)?;
/// assert_eq!(store.put_if_absent(&"apple".to_string(), &5)?, Some(3));
/// store.put(&"pear".to_string(), &1)?;
/// assert_eq!(store.delete(&"pear".to_string())?, Some(1));
/// let all: Vec<(String, i64)> = store.all()?.collect::<Result<_, _>>()?;
/// assert_eq!(all, [("apple".to_string(), 3)]);
/// # Ok::<(), weir_core::Error>(())
/// ```
pub trait KeyValueStore<K, V>: ReadOnlyKeyValueStore<K, V> {
    /// Writes `value` under `key`, replacing any value. A value whose serde
    /// writes null deletes the key, as a tombstone does.
    fn put(&mut self, key: &K, value: &V) -> Result<()>;

    /// Writes `value` under `key` only if the key has no value. Returns the
    /// value already there (and writes nothing), or `None` if it wrote.
    fn put_if_absent(&mut self, key: &K, value: &V) -> Result<Option<V>>;

    /// Writes every entry, in order, as one batch: `Some` puts, `None` deletes.
    fn put_all(&mut self, entries: &[(K, Option<V>)]) -> Result<()>;

    /// Deletes `key`; returns the value it had.
    fn delete(&mut self, key: &K) -> Result<Option<V>>;
}

impl<K, V> std::fmt::Debug for dyn KeyValueStore<K, V> + '_ {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyValueStore")
    }
}
