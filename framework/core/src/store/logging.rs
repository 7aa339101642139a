//! The change-logging layer: records every write for the store's changelog topic.

use super::bytes::{BytesIter, ChangelogEntry, FlushListener, KeyValueBytesStore, WriteBatch};
use crate::error::Result;

/// A bytes layer that records every put and delete written through it as a
/// [`ChangelogEntry`], in write order, then passes the write down.
///
/// The layer does no I/O: the entries wait in a buffer until the task drains
/// it with [`take_changelog`](KeyValueBytesStore::take_changelog) and sends
/// them to `<application.id>-<store>-changelog` through its record
/// collector. A pull seam keeps the layer free of the runtime; the task
/// drains it after every record and punctuation it processes (so the buffer
/// holds one record's writes, and a changelog record leaves with the output
/// of its write) and once more at commit, after the cache above has flushed.
///
/// Restoration writes ([`restore`](KeyValueBytesStore::restore)) come from
/// the changelog and are not logged again.
///
/// ```
/// use weir_core::store::{ChangeLoggingLayer, InMemoryBytesStore, KeyValueBytesStore, WriteBatch};
///
/// let mut store = ChangeLoggingLayer::new(Box::new(InMemoryBytesStore::new("counts")));
/// let mut batch = WriteBatch::new();
/// batch.put(b"a".to_vec(), b"1".to_vec()).delete(b"b".to_vec());
/// store.write(batch)?;
/// let logged = store.take_changelog();
/// assert_eq!(logged.len(), 2);
/// assert_eq!(logged[1].value, None); // a tombstone
/// assert!(store.take_changelog().is_empty());
/// # Ok::<(), weir_core::Error>(())
/// ```
#[derive(Debug)]
pub struct ChangeLoggingLayer {
    inner: Box<dyn KeyValueBytesStore>,
    buffer: Vec<ChangelogEntry>,
}

impl ChangeLoggingLayer {
    /// Logs the writes made to `inner`.
    pub fn new(inner: Box<dyn KeyValueBytesStore>) -> Self {
        ChangeLoggingLayer {
            inner,
            buffer: Vec::new(),
        }
    }

    /// How many entries wait to be drained.
    pub fn pending(&self) -> usize {
        self.buffer.len()
    }
}

impl KeyValueBytesStore for ChangeLoggingLayer {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn persistent(&self) -> bool {
        self.inner.persistent()
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.inner.get(key)
    }

    fn write(&mut self, batch: WriteBatch) -> Result<()> {
        let entries: Vec<ChangelogEntry> = batch
            .ops()
            .iter()
            .map(|(key, value)| ChangelogEntry {
                key: key.clone(),
                value: value.clone(),
            })
            .collect();
        // Log only what the store below accepted.
        self.inner.write(batch)?;
        self.buffer.extend(entries);
        Ok(())
    }

    fn committed_offset(&self) -> Result<Option<i64>> {
        self.inner.committed_offset()
    }

    fn range(
        &self,
        from: Option<&[u8]>,
        to: Option<&[u8]>,
        reverse: bool,
    ) -> Result<BytesIter<'_>> {
        self.inner.range(from, to, reverse)
    }

    fn prefix_scan(&self, prefix: &[u8]) -> Result<BytesIter<'_>> {
        self.inner.prefix_scan(prefix)
    }

    fn approximate_count(&self) -> Result<u64> {
        self.inner.approximate_count()
    }

    fn flush(&mut self) -> Result<()> {
        self.inner.flush()
    }

    fn close(&mut self) -> Result<()> {
        self.inner.close()
    }

    fn restore(&mut self, batch: WriteBatch) -> Result<()> {
        self.inner.restore(batch)
    }

    fn take_changelog(&mut self) -> Vec<ChangelogEntry> {
        let mut below = self.inner.take_changelog();
        if below.is_empty() {
            return std::mem::take(&mut self.buffer);
        }
        below.append(&mut self.buffer);
        below
    }

    fn set_flush_listener(&mut self, listener: FlushListener) -> bool {
        self.inner.set_flush_listener(listener)
    }
}
