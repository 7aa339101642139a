//! The change-logging layer: records every write for the store's changelog topic.

use super::bytes::{ChangelogEntry, KeyValueBytesStore, WriteBatch};
use super::delegate::delegate_to;
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
/// Range deletes ([`KeyValueBytesStore::delete_range`]) pass down and are
/// not logged: they drop the expired segments of window and session stores,
/// whose changelog topics are `compact,delete` and expire by time on their
/// own.
///
/// A store may also log a batch ahead of writing it
/// ([`log_ahead`](KeyValueBytesStore::log_ahead)) and write it below later
/// without logging it again ([`write_logged`](KeyValueBytesStore::write_logged)):
/// the recent windows of a join store, most of which expire before they
/// need to be anywhere but in the changelog.
///
/// Restoration writes ([`restore`](KeyValueBytesStore::restore)) come from
/// the changelog and are not logged again; everything but the writes and
/// `take_changelog` passes straight through.
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
    delegate_to!(inner:
        name,
        persistent,
        get,
        committed_offset,
        range,
        prefix_scan,
        approximate_count,
        flush,
        close,
        restore,
        commit,
        set_flush_listener,
        expect_short_lived_writes,
    );

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

    fn logs_ahead(&self) -> bool {
        true
    }

    /// Logs the batch's puts and deletes without writing them below; its
    /// range deletes (never logged) go below at once.
    fn log_ahead(&mut self, mut batch: WriteBatch) -> Result<()> {
        let ranges = batch.take_range_deletes();
        if !ranges.is_empty() {
            let mut below = WriteBatch::new();
            for (from, to) in ranges {
                below.delete_range(from, to);
            }
            self.inner.write(below)?;
        }
        let (ops, _) = batch.into_parts();
        self.buffer.extend(
            ops.into_iter()
                .map(|(key, value)| ChangelogEntry { key, value }),
        );
        Ok(())
    }

    fn write_logged(&mut self, batch: WriteBatch) -> Result<()> {
        self.inner.write(batch)
    }

    fn take_changelog(&mut self) -> Vec<ChangelogEntry> {
        let mut below = self.inner.take_changelog();
        if below.is_empty() {
            return std::mem::take(&mut self.buffer);
        }
        below.append(&mut self.buffer);
        below
    }
}
