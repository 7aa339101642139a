//! The in-memory bytes store: a `BTreeMap` and the changelog offset beside it.

use std::collections::BTreeMap;
use std::ops::Bound;

use super::bytes::{BytesIter, KeyValueBytesStore, WriteBatch};
use crate::error::{Error, Result};

/// A [`KeyValueBytesStore`] in a `BTreeMap`, ordered by key bytes.
///
/// A batch is applied under `&mut self` and nothing in it can fail, so its
/// operations and its offset land together: that is the in-memory
/// equivalent of one RocksDB write batch. The data is lost with the
/// process; a logged store is rebuilt from its changelog.
#[derive(Debug, Default)]
pub struct InMemoryBytesStore {
    name: String,
    map: BTreeMap<Vec<u8>, Vec<u8>>,
    offset: Option<i64>,
    closed: bool,
}

impl InMemoryBytesStore {
    /// An empty, open store called `name`.
    pub fn new(name: impl Into<String>) -> Self {
        InMemoryBytesStore {
            name: name.into(),
            ..Self::default()
        }
    }

    /// Removes the keys in `[from, to)`: when nothing lies below `from` (a
    /// window store dropping its oldest segments) by splitting the map, not
    /// key by key.
    fn remove_range(&mut self, from: &[u8], to: &[u8]) {
        if from >= to {
            return;
        }
        let nothing_below = self
            .map
            .first_key_value()
            .is_none_or(|(first, _)| first.as_slice() >= from);
        if nothing_below {
            self.map = self.map.split_off(to);
            return;
        }
        let doomed: Vec<Vec<u8>> = self
            .map
            .range::<[u8], _>((Bound::Included(from), Bound::Excluded(to)))
            .map(|(k, _)| k.clone())
            .collect();
        for key in doomed {
            self.map.remove(&key);
        }
    }

    fn check_open(&self) -> Result<()> {
        if self.closed {
            return Err(Error::Store {
                store: self.name.clone(),
                message: "the store is closed".to_string(),
            });
        }
        Ok(())
    }
}

/// Lower and upper bounds of a key range.
type KeyBounds<'k> = (Bound<&'k [u8]>, Bound<&'k [u8]>);

/// The bounds of an inclusive range, or `None` when it is empty (`from > to`).
pub(super) fn bounds<'k>(from: Option<&'k [u8]>, to: Option<&'k [u8]>) -> Option<KeyBounds<'k>> {
    if let (Some(f), Some(t)) = (from, to) {
        if f > t {
            return None;
        }
    }
    let lower = from.map_or(Bound::Unbounded, Bound::Included);
    let upper = to.map_or(Bound::Unbounded, Bound::Included);
    Some((lower, upper))
}

impl KeyValueBytesStore for InMemoryBytesStore {
    fn name(&self) -> &str {
        &self.name
    }

    fn persistent(&self) -> bool {
        false
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.check_open()?;
        Ok(self.map.get(key).cloned())
    }

    fn write(&mut self, mut batch: WriteBatch) -> Result<()> {
        self.check_open()?;
        for (from, to) in batch.take_range_deletes() {
            self.remove_range(&from, &to);
        }
        let (ops, offset) = batch.into_parts();
        for (key, value) in ops {
            match value {
                Some(v) => {
                    self.map.insert(key, v);
                }
                None => {
                    self.map.remove(&key);
                }
            }
        }
        if offset.is_some() {
            self.offset = offset;
        }
        Ok(())
    }

    fn committed_offset(&self) -> Result<Option<i64>> {
        self.check_open()?;
        Ok(self.offset)
    }

    fn range(
        &self,
        from: Option<&[u8]>,
        to: Option<&[u8]>,
        reverse: bool,
    ) -> Result<BytesIter<'_>> {
        self.check_open()?;
        let Some(b) = bounds(from, to) else {
            return Ok(Box::new(std::iter::empty()));
        };
        let iter = self
            .map
            .range::<[u8], _>(b)
            .map(|(k, v)| Ok((k.clone(), v.clone())));
        if reverse {
            Ok(Box::new(iter.rev()))
        } else {
            Ok(Box::new(iter))
        }
    }

    fn approximate_count(&self) -> Result<u64> {
        self.check_open()?;
        Ok(u64::try_from(self.map.len()).unwrap_or(u64::MAX))
    }

    fn flush(&mut self) -> Result<()> {
        self.check_open()
    }

    fn close(&mut self) -> Result<()> {
        self.map.clear();
        self.offset = None;
        self.closed = true;
        Ok(())
    }
}
