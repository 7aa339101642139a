//! The innermost store layer: ordered byte keys to byte values, written in
//! atomic batches that may carry the changelog offset the data reaches.

use std::fmt;

use crate::error::Result;

/// An iterator over `(key, value)` byte pairs, in key order (or reverse key
/// order), borrowing the store it reads.
pub type BytesIter<'a> = Box<dyn Iterator<Item = Result<(Vec<u8>, Vec<u8>)>> + 'a>;

/// One update recorded for a store's changelog topic: the key bytes and the
/// value bytes, or `None` for a tombstone (a delete).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangelogEntry {
    /// The key, as the store holds it.
    pub key: Vec<u8>,
    /// The new value; `None` deletes the key (a tombstone in the changelog).
    pub value: Option<Vec<u8>>,
}

/// A dirty entry that a [`CachingLayer`](super::CachingLayer) wrote
/// downstream, on flush or when evicted: what the DSL forwards later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlushedEntry {
    /// The key.
    pub key: Vec<u8>,
    /// The value written; `None` for a delete.
    pub new_value: Option<Vec<u8>>,
    /// The value the store below held before this write.
    pub old_value: Option<Vec<u8>>,
}

/// Receives the entries a cache writes downstream, in the order written.
pub type FlushListener = Box<dyn FnMut(&[FlushedEntry]) + Send>;

/// Collects what a cache writes down, for the processor that forwards it
/// later: install [`listener`](Self::listener) on the store, then
/// [`take`](Self::take) the entries after each write or flush.
///
/// ```
/// use weir_core::store::{FlushedEntries, FlushedEntry};
///
/// let flushed = FlushedEntries::default();
/// let mut listener = flushed.listener();
/// let entry = FlushedEntry { key: b"k".to_vec(), new_value: Some(b"1".to_vec()), old_value: None };
/// listener(&[entry.clone()]);
/// assert_eq!(flushed.take(), vec![entry]);
/// assert!(flushed.take().is_empty());
/// ```
#[derive(Debug, Clone, Default)]
pub struct FlushedEntries(std::sync::Arc<std::sync::Mutex<Vec<FlushedEntry>>>);

impl FlushedEntries {
    /// A listener appending to these entries.
    pub fn listener(&self) -> FlushListener {
        let sink = self.clone();
        Box::new(move |entries| sink.lock().extend_from_slice(entries))
    }

    /// The entries collected since the last call, in the order written.
    pub fn take(&self) -> Vec<FlushedEntry> {
        std::mem::take(&mut *self.lock())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<FlushedEntry>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// One operation of a [`WriteBatch`]: `(key, Some(value))` puts,
/// `(key, None)` deletes.
pub type BatchOp = (Vec<u8>, Option<Vec<u8>>);

/// An ordered list of puts and deletes, plus an optional changelog offset,
/// that a [`KeyValueBytesStore`] applies all together or not at all.
///
/// Operations apply in the order they were added, so a later write of a key
/// wins over an earlier one in the same batch. A batch may also carry range
/// deletes ([`delete_range`](Self::delete_range)): they apply first, before
/// every put and delete of the batch, so a put in the same batch survives a
/// range that covers its key. (Window and session stores drop expired
/// segments with them, in bulk.)
///
/// ```
/// use weir_core::store::WriteBatch;
///
/// let mut batch = WriteBatch::new();
/// batch.put(b"a".to_vec(), b"1".to_vec()).delete(b"b".to_vec()).set_offset(41);
/// assert_eq!(batch.len(), 2);
/// assert_eq!(batch.offset(), Some(41));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteBatch {
    ops: Vec<BatchOp>,
    range_deletes: Vec<(Vec<u8>, Vec<u8>)>,
    offset: Option<i64>,
}

impl WriteBatch {
    /// An empty batch with no offset.
    pub const fn new() -> Self {
        WriteBatch {
            ops: Vec::new(),
            range_deletes: Vec::new(),
            offset: None,
        }
    }

    /// Adds a delete of every key in `[from, to_exclusive)`, applied before
    /// the batch's puts and deletes. An empty range (`from >= to_exclusive`)
    /// deletes nothing.
    ///
    /// ```
    /// use weir_core::store::{InMemoryBytesStore, KeyValueBytesStore, WriteBatch};
    ///
    /// let mut store = InMemoryBytesStore::new("s");
    /// let mut batch = WriteBatch::new();
    /// batch.put(b"a".to_vec(), b"1".to_vec()).put(b"b".to_vec(), b"2".to_vec());
    /// store.write(batch)?;
    /// let mut batch = WriteBatch::new();
    /// batch.delete_range(b"a".to_vec(), b"c".to_vec()).put(b"b".to_vec(), b"3".to_vec());
    /// store.write(batch)?;
    /// assert_eq!(store.get(b"a")?, None); // deleted by the range
    /// assert_eq!(store.get(b"b")?, Some(b"3".to_vec())); // written after it
    /// # Ok::<(), weir_core::Error>(())
    /// ```
    pub fn delete_range(&mut self, from: Vec<u8>, to_exclusive: Vec<u8>) -> &mut Self {
        if from < to_exclusive {
            self.range_deletes.push((from, to_exclusive));
        }
        self
    }

    /// The range deletes, `[from, to_exclusive)`, in the order added; they
    /// apply before [`ops`](Self::ops).
    pub fn range_deletes(&self) -> &[(Vec<u8>, Vec<u8>)] {
        &self.range_deletes
    }

    /// Takes the range deletes out of the batch, leaving its puts, deletes
    /// and offset.
    pub fn take_range_deletes(&mut self) -> Vec<(Vec<u8>, Vec<u8>)> {
        std::mem::take(&mut self.range_deletes)
    }

    /// Adds a put of `value` under `key`.
    pub fn put(&mut self, key: Vec<u8>, value: Vec<u8>) -> &mut Self {
        self.ops.push((key, Some(value)));
        self
    }

    /// Adds a delete of `key`.
    pub fn delete(&mut self, key: Vec<u8>) -> &mut Self {
        self.ops.push((key, None));
        self
    }

    /// Adds a put (`Some`) or a delete (`None`).
    pub fn write(&mut self, key: Vec<u8>, value: Option<Vec<u8>>) -> &mut Self {
        self.ops.push((key, value));
        self
    }

    /// Records that, once this batch is applied, the store holds the
    /// changelog up to and including `offset`. A batch may carry only an
    /// offset and no operations.
    pub fn set_offset(&mut self, offset: i64) -> &mut Self {
        self.offset = Some(offset);
        self
    }

    /// The changelog offset this batch carries, if any.
    pub fn offset(&self) -> Option<i64> {
        self.offset
    }

    /// The operations, in order: `(key, Some(value))` puts, `(key, None)` deletes.
    pub fn ops(&self) -> &[BatchOp] {
        &self.ops
    }

    /// Number of operations (the offset does not count, nor do range deletes).
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Whether the batch has no operations and no range deletes (it may
    /// still carry an offset).
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty() && self.range_deletes.is_empty()
    }

    /// The operations and the offset, by value. A store that applies a batch
    /// takes its range deletes first ([`take_range_deletes`](Self::take_range_deletes)).
    pub fn into_parts(self) -> (Vec<BatchOp>, Option<i64>) {
        (self.ops, self.offset)
    }
}

/// The innermost layer of every key-value store: byte keys in lexicographic
/// order mapped to byte values. Serdes never reach this layer.
///
/// Writes come in a [`WriteBatch`] applied atomically together with the
/// changelog offset it may carry, which [`committed_offset`](Self::committed_offset)
/// reads back: restoration resumes from there, and exactly-once recovery
/// compares it with the committed changelog. The in-memory store is
/// [`InMemoryBytesStore`](super::InMemoryBytesStore); a RocksDB store maps a
/// batch to one RocksDB `WriteBatch` with the offset under a reserved key or
/// column family.
///
/// Layers ([`CachingLayer`](super::CachingLayer),
/// [`ChangeLoggingLayer`](super::ChangeLoggingLayer)) implement this trait
/// too, over the layer below; the methods with defaults exist so that calls
/// reach through the stack (a plain bytes store keeps the defaults).
///
/// ```
/// use weir_core::store::{InMemoryBytesStore, KeyValueBytesStore, WriteBatch};
///
/// let mut store = InMemoryBytesStore::new("counts");
/// let mut batch = WriteBatch::new();
/// batch.put(b"apple".to_vec(), b"1".to_vec()).put(b"pear".to_vec(), b"2".to_vec());
/// batch.set_offset(7);
/// store.write(batch)?;
/// assert_eq!(store.get(b"apple")?, Some(b"1".to_vec()));
/// assert_eq!(store.committed_offset()?, Some(7));
/// let keys: Vec<Vec<u8>> = store
///     .range(Some(b"a"), Some(b"pear"), false)?
///     .map(|kv| kv.map(|(k, _)| k))
///     .collect::<Result<_, _>>()?;
/// assert_eq!(keys, [b"apple".to_vec(), b"pear".to_vec()]);
/// # Ok::<(), weir_core::Error>(())
/// ```
pub trait KeyValueBytesStore: Send {
    /// The store's name.
    fn name(&self) -> &str;

    /// Whether the data lives on disk and survives a restart.
    fn persistent(&self) -> bool;

    /// The value under `key`, if any.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>>;

    /// Hands the value under `key` (if any) to `read`, and returns what it
    /// returns: the same value [`get`](Self::get) gives, lent instead of
    /// returned, so a store that holds its values in memory of its own
    /// (RocksDB's pinned blocks) can let it be decoded without a copy. The
    /// default calls `get`.
    fn get_with(
        &self,
        key: &[u8],
        read: &mut dyn FnMut(Option<&[u8]>) -> Result<()>,
    ) -> Result<()> {
        let value = self.get(key)?;
        read(value.as_deref())
    }

    /// Applies `batch` atomically: all its operations, in order, and its
    /// offset (if it has one), or none of them.
    fn write(&mut self, batch: WriteBatch) -> Result<()>;

    /// The changelog offset stored by the last batch that carried one;
    /// `None` if no batch ever did (restore from the beginning).
    fn committed_offset(&self) -> Result<Option<i64>>;

    /// Entries with `from <= key <= to` (both inclusive, as Kafka Streams'
    /// `range`; `None` is unbounded), ascending, or descending if `reverse`.
    /// `from > to` gives no entries.
    fn range(&self, from: Option<&[u8]>, to: Option<&[u8]>, reverse: bool)
        -> Result<BytesIter<'_>>;

    /// Deletes every key in `[from, to_exclusive)` in one operation (a
    /// RocksDB range tombstone; never a delete per key), through the layers:
    /// a cache drops its entries in the range, dirty ones too, without
    /// writing them down; the change-logging layer logs nothing (window
    /// changelogs expire by time); under exactly-once the delete waits for
    /// the commit like every other write. The default writes a batch
    /// carrying only the range delete (see [`WriteBatch::delete_range`]).
    fn delete_range(&mut self, from: &[u8], to_exclusive: &[u8]) -> Result<()> {
        let mut batch = WriteBatch::new();
        batch.delete_range(from.to_vec(), to_exclusive.to_vec());
        if batch.is_empty() {
            return Ok(());
        }
        self.write(batch)
    }

    /// Entries whose key starts with `prefix`, ascending.
    fn prefix_scan(&self, prefix: &[u8]) -> Result<BytesIter<'_>> {
        let prefix = prefix.to_vec();
        let from = prefix.clone();
        let iter = self.range(Some(&from), None, false)?;
        Ok(Box::new(iter.take_while(move |kv| match kv {
            Ok((k, _)) => k.starts_with(&prefix),
            Err(_) => true,
        })))
    }

    /// Every entry, ascending.
    fn all(&self) -> Result<BytesIter<'_>> {
        self.range(None, None, false)
    }

    /// An estimate of the number of entries (exact for the in-memory store).
    fn approximate_count(&self) -> Result<u64>;

    /// Makes written data durable (and, in a cache, writes dirty entries down).
    fn flush(&mut self) -> Result<()>;

    /// Releases the store; later calls fail.
    fn close(&mut self) -> Result<()>;

    /// Writes a batch read from the changelog during restoration. Layers pass
    /// it straight down: it is neither cached nor logged again. Restoring is
    /// all it does: commits go through [`commit`](Self::commit).
    fn restore(&mut self, batch: WriteBatch) -> Result<()> {
        self.write(batch)
    }

    /// Commits the store: what it holds back since the last commit (the
    /// writes an [`UncommittedWritesLayer`](super::UncommittedWritesLayer)
    /// keeps until the transaction commits) becomes its committed data, and
    /// its changelog is known written up to `changelog_offset` (inclusive),
    /// both in the same atomic batch. `None`: no new offset to record.
    ///
    /// A cache above keeps its dirty entries (they are not in the
    /// changelog yet, so the offset does not cover them). The default, for
    /// a plain bytes store that holds nothing back, writes a batch carrying
    /// only the offset.
    fn commit(&mut self, changelog_offset: Option<i64>) -> Result<()> {
        match changelog_offset {
            Some(offset) => {
                let mut batch = WriteBatch::new();
                batch.set_offset(offset);
                self.write(batch)
            }
            None => Ok(()),
        }
    }

    /// Drains the changelog entries recorded since the last call (see
    /// [`ChangeLoggingLayer`](super::ChangeLoggingLayer)); empty when the
    /// stack has no logging layer.
    fn take_changelog(&mut self) -> Vec<ChangelogEntry> {
        Vec::new()
    }

    /// Whether [`log_ahead`](Self::log_ahead) records a batch for the
    /// changelog and leaves the store below without it, for
    /// [`write_logged`](Self::write_logged) to write later: true when a
    /// change-logging layer is the top of the stack. The default is false.
    fn logs_ahead(&self) -> bool {
        false
    }

    /// Records `batch` for the changelog as [`write`](Self::write) does,
    /// but, when the stack [`logs_ahead`](Self::logs_ahead), does not write
    /// it below: the caller writes it later with
    /// [`write_logged`](Self::write_logged), or never (what expired before
    /// then). The default writes it.
    fn log_ahead(&mut self, batch: WriteBatch) -> Result<()> {
        self.write(batch)
    }

    /// Writes below the change-logging layer, without logging it again, a
    /// batch [`log_ahead`](Self::log_ahead) logged. Only for a stack that
    /// [`logs_ahead`](Self::logs_ahead); the default writes it.
    fn write_logged(&mut self, batch: WriteBatch) -> Result<()> {
        self.write(batch)
    }

    /// Installs `listener` on the stack's cache, if it has one; returns
    /// whether it did (see [`CachingLayer`](super::CachingLayer)).
    fn set_flush_listener(&mut self, listener: FlushListener) -> bool {
        let _ = listener;
        false
    }

    /// Tells the store below every layer that what is written here is
    /// seldom read back from it and expires within seconds (the side
    /// stores of a stream-stream join, whose lookups read the windows they
    /// hold in memory): a backend that buffers writes in memory before
    /// writing them to disk can keep that buffer small, so the dead
    /// windows leave memory soon. The default does nothing.
    fn expect_short_lived_writes(&mut self) -> Result<()> {
        Ok(())
    }
}

impl fmt::Debug for dyn KeyValueBytesStore + '_ {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyValueBytesStore")
            .field("name", &self.name())
            .field("persistent", &self.persistent())
            .finish()
    }
}
