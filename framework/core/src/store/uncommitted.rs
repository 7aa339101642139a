//! The exactly-once layer: a store's writes wait in memory until the
//! transaction that carries their changelog records commits.

use std::collections::BTreeMap;
use std::ops::Bound;

use super::bytes::{BatchOp, BytesIter, KeyValueBytesStore, WriteBatch};
use super::delegate::delegate_to;
use super::memory::bounds;
use super::overlay::{Overlay, OverlayEntries};
use crate::error::{Error, Result};

/// The fewest writes a batch needs to be merged whole (see
/// `UncommittedWritesLayer::hold`); smaller ones are held one by one.
const MERGE_MIN_BATCH: usize = 16;
/// A batch is merged whole only while at most this many writes are held per
/// write of the batch: the merge rebuilds the held map.
const MERGE_MAX_HELD_PER_WRITE: usize = 8;

/// A bytes layer that keeps every write made through it in memory, visible
/// to reads through the layer, until the task's transaction commits; only
/// then does it write them to the store below, in one batch together with
/// the changelog offset they reach.
///
/// Under exactly-once this is what keeps a persistent store crash-safe: the
/// store below only ever holds committed state plus the matching changelog
/// offset, so after a crash (even mid-transaction) a task resumes from what
/// was committed and restores the rest from the changelog, read
/// `read_committed`. When a transaction aborts, the task is dropped and the
/// writes held here are dropped with it.
///
/// The commit arrives as a [`commit`](KeyValueBytesStore::commit) call
/// (with the changelog offset reached, if the store is logged).
/// [`restore`](KeyValueBytesStore::restore) is restoration from the
/// changelog and goes straight down; it is only accepted while no write is
/// held.
///
/// Range deletes ([`KeyValueBytesStore::delete_range`], how window stores
/// drop expired segments) are held back too: until the commit, reads
/// through the layer hide the keys of the store below in a held range, and
/// the held writes in it are dropped; the commit applies the range deletes
/// first, then the held writes, in the one batch. An aborted transaction
/// (the task closed without a commit) leaves the committed data whole, as
/// the changelog replay after it needs.
///
/// ```
/// use weir_core::store::{InMemoryBytesStore, KeyValueBytesStore, UncommittedWritesLayer, WriteBatch};
///
/// let mut store = UncommittedWritesLayer::new(Box::new(InMemoryBytesStore::new("counts")));
/// let mut batch = WriteBatch::new();
/// batch.put(b"a".to_vec(), b"1".to_vec());
/// store.write(batch)?;
/// assert_eq!(store.get(b"a")?, Some(b"1".to_vec())); // visible through the layer
/// assert_eq!(store.pending(), 1);
/// store.commit(Some(9))?; // the transaction committed: written below
/// assert_eq!(store.pending(), 0);
/// assert_eq!(store.committed_offset()?, Some(9));
/// # Ok::<(), weir_core::Error>(())
/// ```
#[derive(Debug)]
pub struct UncommittedWritesLayer {
    inner: Box<dyn KeyValueBytesStore>,
    /// The writes since the last commit: `None` deletes.
    pending: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    /// The range deletes since the last commit, `[from, to)`, applied
    /// before `pending` (a held write in a range came after it).
    ranges: Vec<(Vec<u8>, Vec<u8>)>,
}

impl UncommittedWritesLayer {
    /// Holds the writes made to `inner` until they are committed.
    pub fn new(inner: Box<dyn KeyValueBytesStore>) -> Self {
        UncommittedWritesLayer {
            inner,
            pending: BTreeMap::new(),
            ranges: Vec::new(),
        }
    }

    /// How many keys have uncommitted writes.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// How many range deletes wait for the commit.
    pub fn pending_range_deletes(&self) -> usize {
        self.ranges.len()
    }

    /// Whether a held range delete covers `key`.
    fn hidden(&self, key: &[u8]) -> bool {
        self.ranges
            .iter()
            .any(|(from, to)| from.as_slice() <= key && key < to.as_slice())
    }

    /// Holds the range delete `[from, to)`: the held writes in it are moot.
    fn hold_range(&mut self, from: Vec<u8>, to: Vec<u8>) {
        let doomed: Vec<Vec<u8>> = self
            .pending
            .range::<[u8], _>((
                Bound::Included(from.as_slice()),
                Bound::Excluded(to.as_slice()),
            ))
            .map(|(k, _)| k.clone())
            .collect();
        for key in doomed {
            self.pending.remove(&key);
        }
        self.ranges.push((from, to));
    }

    /// Holds the writes `ops`, in their order (a later write of a key
    /// replaces an earlier one).
    ///
    /// A batch in strictly ascending key order (what a window store writes
    /// down from the windows it holds, a commit's worth at a time) is built
    /// into a map of its own in one pass and merged in, instead of one
    /// search of the held map per write: the merge is linear in both, so it
    /// is only taken when the batch is not small, nor small beside what is
    /// held.
    fn hold(&mut self, ops: Vec<BatchOp>) {
        let large = ops.len() >= MERGE_MIN_BATCH
            && ops.len().saturating_mul(MERGE_MAX_HELD_PER_WRITE) >= self.pending.len();
        if large && ops.windows(2).all(|pair| pair[0].0 < pair[1].0) {
            // No key repeats in the batch, so the map keeps every write.
            let mut batch: BTreeMap<Vec<u8>, Option<Vec<u8>>> = ops.into_iter().collect();
            // `append` keeps the batch's value of a key held already.
            self.pending.append(&mut batch);
            return;
        }
        for (key, value) in ops {
            self.pending.insert(key, value);
        }
    }
}

impl KeyValueBytesStore for UncommittedWritesLayer {
    // `flush` flushes the store below; the held writes stay held until the
    // commit.
    delegate_to!(inner: name, persistent, committed_offset, flush, expect_short_lived_writes);

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        match self.pending.get(key) {
            Some(value) => Ok(value.clone()),
            None if self.hidden(key) => Ok(None),
            None => self.inner.get(key),
        }
    }

    fn get_with(
        &self,
        key: &[u8],
        read: &mut dyn FnMut(Option<&[u8]>) -> Result<()>,
    ) -> Result<()> {
        match self.pending.get(key) {
            Some(value) => read(value.as_deref()),
            None if self.hidden(key) => read(None),
            None => self.inner.get_with(key, read),
        }
    }

    fn write(&mut self, mut batch: WriteBatch) -> Result<()> {
        if batch.offset().is_none() {
            for (from, to) in batch.take_range_deletes() {
                self.hold_range(from, to);
            }
        }
        let (ops, offset) = batch.into_parts();
        if offset.is_some() {
            return Err(Error::Store {
                store: self.inner.name().to_string(),
                message: "a write carrying a changelog offset reached the uncommitted-writes \
                          layer; offsets are recorded at commit"
                    .to_string(),
            });
        }
        self.hold(ops);
        Ok(())
    }

    fn range(
        &self,
        from: Option<&[u8]>,
        to: Option<&[u8]>,
        reverse: bool,
    ) -> Result<BytesIter<'_>> {
        let mut below = self.inner.range(from, to, reverse)?;
        if !self.ranges.is_empty() {
            below = Box::new(below.filter(|kv| match kv {
                Ok((k, _)) => !self.hidden(k),
                Err(_) => true,
            }));
        }
        let Some(b) = bounds(from, to) else {
            return Ok(below);
        };
        let held = self
            .pending
            .range::<[u8], _>(b)
            .map(|(k, v)| (k.as_slice(), v.as_deref()));
        let held: OverlayEntries<'_> = if reverse {
            Box::new(held.rev())
        } else {
            Box::new(held)
        };
        Ok(Box::new(Overlay::new(held, below, reverse)))
    }

    fn approximate_count(&self) -> Result<u64> {
        let puts = self.pending.values().filter(|v| v.is_some()).count();
        Ok(self
            .inner
            .approximate_count()?
            .saturating_add(u64::try_from(puts).unwrap_or(u64::MAX)))
    }

    /// Drops the held (uncommitted) writes and range deletes and closes the
    /// store below.
    fn close(&mut self) -> Result<()> {
        self.pending.clear();
        self.ranges.clear();
        self.inner.close()
    }

    /// Writes every held range delete, then every held write, below, with
    /// `changelog_offset`, in one batch.
    fn commit(&mut self, changelog_offset: Option<i64>) -> Result<()> {
        let mut batch = WriteBatch::new();
        for (from, to) in std::mem::take(&mut self.ranges) {
            batch.delete_range(from, to);
        }
        for (key, value) in std::mem::take(&mut self.pending) {
            batch.write(key, value);
        }
        if let Some(o) = changelog_offset {
            batch.set_offset(o);
        }
        if batch.is_empty() && changelog_offset.is_none() {
            return Ok(());
        }
        self.inner.write(batch)
    }

    fn restore(&mut self, batch: WriteBatch) -> Result<()> {
        if !self.pending.is_empty() || !self.ranges.is_empty() {
            return Err(Error::Store {
                store: self.inner.name().to_string(),
                message: format!(
                    "cannot restore from the changelog while {} uncommitted writes and {} range \
                     deletes are held",
                    self.pending.len(),
                    self.ranges.len()
                ),
            });
        }
        self.inner.restore(batch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::InMemoryBytesStore;

    fn kv(k: &str, v: &str) -> (Vec<u8>, Vec<u8>) {
        (k.as_bytes().to_vec(), v.as_bytes().to_vec())
    }

    fn layer_with(committed: &[(&str, &str)]) -> UncommittedWritesLayer {
        let mut below = InMemoryBytesStore::new("s");
        let mut batch = WriteBatch::new();
        for (k, v) in committed {
            batch.put(k.as_bytes().to_vec(), v.as_bytes().to_vec());
        }
        batch.set_offset(3);
        assert!(below.write(batch).is_ok());
        UncommittedWritesLayer::new(Box::new(below))
    }

    fn write(layer: &mut UncommittedWritesLayer, k: &str, v: Option<&str>) {
        let mut batch = WriteBatch::new();
        batch.write(k.as_bytes().to_vec(), v.map(|v| v.as_bytes().to_vec()));
        layer.write(batch).unwrap();
    }

    fn collect(iter: BytesIter<'_>) -> Vec<(Vec<u8>, Vec<u8>)> {
        iter.collect::<Result<_>>().unwrap()
    }

    #[test]
    fn reads_merge_held_writes_over_the_store_below_both_ways() {
        let mut layer = layer_with(&[("a", "1"), ("c", "3"), ("e", "5")]);
        write(&mut layer, "b", Some("2"));
        write(&mut layer, "c", Some("30"));
        write(&mut layer, "e", None);
        write(&mut layer, "f", Some("6"));
        assert_eq!(layer.get(b"c").unwrap(), Some(b"30".to_vec()));
        assert_eq!(layer.get(b"e").unwrap(), None);
        let forward = collect(layer.all().unwrap());
        assert_eq!(
            forward,
            [kv("a", "1"), kv("b", "2"), kv("c", "30"), kv("f", "6")]
        );
        let backward = collect(layer.range(Some(b"b"), Some(b"e"), true).unwrap());
        assert_eq!(backward, [kv("c", "30"), kv("b", "2")]);
        let prefixed = collect(layer.prefix_scan(b"f").unwrap());
        assert_eq!(prefixed, [kv("f", "6")]);
    }

    #[test]
    fn commit_writes_everything_with_the_offset_and_close_drops_what_was_not() {
        let mut layer = layer_with(&[("a", "1")]);
        write(&mut layer, "a", None);
        write(&mut layer, "b", Some("2"));
        layer.commit(Some(10)).unwrap();
        assert_eq!(layer.pending(), 0);
        assert_eq!(layer.committed_offset().unwrap(), Some(10));
        assert_eq!(collect(layer.inner.all().unwrap()), [kv("b", "2")]);

        write(&mut layer, "c", Some("3"));
        assert_eq!(layer.pending(), 1);
        // Nothing uncommitted reached the store below.
        assert_eq!(layer.inner.get(b"c").unwrap(), None);
        assert_eq!(layer.inner.committed_offset().unwrap(), Some(10));
    }

    #[test]
    fn restoring_goes_below_but_not_while_writes_are_held() {
        let mut layer = layer_with(&[]);
        let mut restored = WriteBatch::new();
        restored.put(b"k".to_vec(), b"v".to_vec()).set_offset(7);
        layer.restore(restored.clone()).unwrap();
        assert_eq!(layer.inner.get(b"k").unwrap(), Some(b"v".to_vec()));
        write(&mut layer, "x", Some("1"));
        assert!(layer.restore(restored).is_err());
    }

    #[test]
    fn restore_only_restores_and_commit_without_an_offset_writes_what_was_held() {
        let mut layer = layer_with(&[]);
        write(&mut layer, "x", Some("1"));
        // An empty restore batch is no commit (it is refused while writes are held).
        assert!(layer.restore(WriteBatch::new()).is_err());
        assert_eq!(layer.pending(), 1);
        layer.commit(None).unwrap();
        assert_eq!(layer.pending(), 0);
        assert_eq!(layer.inner.get(b"x").unwrap(), Some(b"1".to_vec()));
        // The offset below is the one it had.
        assert_eq!(layer.committed_offset().unwrap(), Some(3));
    }

    #[test]
    fn large_batches_merged_whole_or_held_one_by_one_keep_the_latest_write_of_each_key() {
        let key = |i: u32| format!("k{i:03}").into_bytes();
        let mut layer = layer_with(&[("k000", "below")]);
        // Held one by one (small): k010..k019.
        for i in 10..20 {
            write(&mut layer, &format!("k{i:03}"), Some("first"));
        }
        // Ascending and large: built whole and merged over what is held.
        let mut ascending = WriteBatch::new();
        for i in (0..40).filter(|i| i % 2 == 0) {
            ascending.put(key(i), b"second".to_vec());
        }
        ascending.delete(key(41));
        layer.write(ascending).unwrap();
        // Large but with a repeated key: held one by one, the last wins.
        let mut repeated = WriteBatch::new();
        for i in 30..50 {
            repeated.put(key(i), b"third".to_vec());
        }
        repeated.put(key(30), b"fourth".to_vec());
        layer.write(repeated).unwrap();

        let value = |i: u32| layer.get(&key(i)).unwrap();
        assert_eq!(value(0), Some(b"second".to_vec()));
        assert_eq!(value(11), Some(b"first".to_vec()));
        assert_eq!(value(12), Some(b"second".to_vec()));
        assert_eq!(value(30), Some(b"fourth".to_vec()));
        assert_eq!(value(41), Some(b"third".to_vec()));
        assert_eq!(value(50), None);
        let held = collect(layer.all().unwrap());
        // k000..k038 even (20), k011..k019 odd (5), k030..k049 (20) less
        // the even ones among them counted already (k030..k038: 5).
        assert_eq!(held.len(), 20 + 5 + 20 - 5);
        layer.commit(Some(4)).unwrap();
        assert_eq!(collect(layer.inner.all().unwrap()), held);
    }

    #[test]
    fn a_write_carrying_an_offset_is_refused() {
        let mut layer = layer_with(&[]);
        let mut batch = WriteBatch::new();
        batch.put(b"k".to_vec(), b"v".to_vec()).set_offset(1);
        assert!(layer.write(batch).is_err());
    }
}
