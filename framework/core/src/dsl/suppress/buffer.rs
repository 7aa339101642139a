//! What the suppress buffer keeps per key, as bytes in its store, and the
//! in-memory index that orders the buffered keys by buffer time.
//!
//! The store is the truth (it is change-logged and restored); the index is
//! rebuilt from it whenever the processor starts, so it never holds anything
//! the store does not.

use std::collections::{BTreeSet, HashMap};

use crate::error::{Error, Result};
use crate::headers::Headers;

/// The first byte of every stored entry: the format of what follows.
const FORMAT: u8 = 1;
const HAS_NEW: u8 = 1;
const HAS_PRIOR: u8 = 2;

/// One buffered key: its slot in time, the latest update, and the value
/// downstream saw before the key was buffered.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Entry {
    /// The buffer time: the first buffered update's record time
    /// (`until_time_limit`, non-resetting) or the window's end
    /// (`until_window_closes`).
    pub(super) time: i64,
    /// The timestamp of the latest update: what the emitted record carries.
    pub(super) timestamp: i64,
    /// The latest value, serialized (`None`: the key was deleted).
    pub(super) new: Option<Vec<u8>>,
    /// The key's value before its first buffered update, serialized.
    pub(super) prior: Option<Vec<u8>>,
    /// The latest update's headers.
    pub(super) headers: Headers,
}

/// Appends `bytes` with a 4-byte big-endian length.
fn put_bytes(out: &mut Vec<u8>, bytes: &[u8], store: &str) -> Result<()> {
    let len = u32::try_from(bytes.len()).map_err(|_| Error::Store {
        store: store.to_string(),
        message: "a buffered value or header longer than 4 GiB".to_string(),
    })?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(bytes);
    Ok(())
}

impl Entry {
    /// The entry as the store keeps it: format byte, buffer time and record
    /// timestamp (8 bytes big-endian each), a flags byte, the new and the
    /// prior value (each length-prefixed, present per the flags), then the
    /// number of headers and each header (key, a presence byte, value).
    pub(super) fn encode(&self, store: &str) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(
            26 + self.new.as_ref().map_or(0, Vec::len) + self.prior.as_ref().map_or(0, Vec::len),
        );
        out.push(FORMAT);
        out.extend_from_slice(&self.time.to_be_bytes());
        out.extend_from_slice(&self.timestamp.to_be_bytes());
        let mut flags = 0;
        if self.new.is_some() {
            flags |= HAS_NEW;
        }
        if self.prior.is_some() {
            flags |= HAS_PRIOR;
        }
        out.push(flags);
        put_bytes(&mut out, self.new.as_deref().unwrap_or_default(), store)?;
        put_bytes(&mut out, self.prior.as_deref().unwrap_or_default(), store)?;
        let count = u32::try_from(self.headers.len()).map_err(|_| Error::Store {
            store: store.to_string(),
            message: "more than 2^32 headers".to_string(),
        })?;
        out.extend_from_slice(&count.to_be_bytes());
        for (key, value) in &self.headers {
            put_bytes(&mut out, key.as_bytes(), store)?;
            out.push(u8::from(value.is_some()));
            put_bytes(&mut out, value.unwrap_or_default(), store)?;
        }
        Ok(out)
    }

    /// Reads an entry [`encode`](Self::encode) wrote; anything else is an
    /// error naming the store.
    pub(super) fn decode(bytes: &[u8], store: &str) -> Result<Entry> {
        let bad = || Error::Store {
            store: store.to_string(),
            message: "not a suppress buffer entry (corrupt, or written by another format)"
                .to_string(),
        };
        let mut r = Reader(bytes);
        if r.take(1).ok_or_else(bad)? != [FORMAT] {
            return Err(bad());
        }
        let time = r.i64().ok_or_else(bad)?;
        let timestamp = r.i64().ok_or_else(bad)?;
        let flags = r.take(1).ok_or_else(bad)?[0];
        if flags & !(HAS_NEW | HAS_PRIOR) != 0 {
            return Err(bad());
        }
        let new = r.bytes().ok_or_else(bad)?;
        let prior = r.bytes().ok_or_else(bad)?;
        let count = r.u32().ok_or_else(bad)?;
        let mut headers = Headers::new();
        for _ in 0..count {
            let key = String::from_utf8(r.bytes().ok_or_else(bad)?.to_vec()).map_err(|_| bad())?;
            let present = r.take(1).ok_or_else(bad)?[0] != 0;
            let value = r.bytes().ok_or_else(bad)?;
            headers.add(key, present.then(|| value.to_vec()));
        }
        if !r.0.is_empty() {
            return Err(bad());
        }
        Ok(Entry {
            time,
            timestamp,
            new: (flags & HAS_NEW != 0).then(|| new.to_vec()),
            prior: (flags & HAS_PRIOR != 0).then(|| prior.to_vec()),
            headers,
        })
    }
}

/// A cursor over an entry's bytes; every read is `None` past the end.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    fn u32(&mut self) -> Option<u32> {
        let mut b = [0u8; 4];
        b.copy_from_slice(self.take(4)?);
        Some(u32::from_be_bytes(b))
    }

    fn i64(&mut self) -> Option<i64> {
        let mut b = [0u8; 8];
        b.copy_from_slice(self.take(8)?);
        Some(i64::from_be_bytes(b))
    }

    fn bytes(&mut self) -> Option<&'a [u8]> {
        let len = usize::try_from(self.u32()?).ok()?;
        self.take(len)
    }
}

/// Where a buffered key sits: its buffer time and the bytes it holds.
#[derive(Debug, Clone, Copy)]
struct Slot {
    time: i64,
    size: u64,
}

/// The buffered keys (serialized) by buffer time, and the bytes they hold
/// in the store (key plus entry), which `max_bytes` bounds.
#[derive(Debug, Default)]
pub(super) struct Index {
    by_key: HashMap<Vec<u8>, Slot>,
    by_time: BTreeSet<(i64, Vec<u8>)>,
    bytes: u64,
}

impl Index {
    /// The buffer time of `key`, if it is buffered.
    pub(super) fn time_of(&self, key: &[u8]) -> Option<i64> {
        self.by_key.get(key).map(|s| s.time)
    }

    /// Records that `key` is buffered at `time` with an entry of
    /// `entry_len` bytes (replacing what it held if it was buffered).
    pub(super) fn insert(&mut self, key: Vec<u8>, time: i64, entry_len: usize) {
        let size = (key.len() + entry_len) as u64;
        if let Some(old) = self.by_key.insert(key.clone(), Slot { time, size }) {
            self.bytes = self.bytes.saturating_sub(old.size);
            if old.time != time {
                self.by_time.remove(&(old.time, key.clone()));
            }
        }
        self.bytes += size;
        self.by_time.insert((time, key));
    }

    /// Forgets `key`.
    pub(super) fn remove(&mut self, key: &[u8]) {
        if let Some(slot) = self.by_key.remove(key) {
            self.bytes = self.bytes.saturating_sub(slot.size);
            self.by_time.remove(&(slot.time, key.to_vec()));
        }
    }

    /// The key with the earliest buffer time (ties by key bytes), and that time.
    pub(super) fn oldest(&self) -> Option<(i64, Vec<u8>)> {
        self.by_time.first().cloned()
    }

    /// How many keys are buffered.
    pub(super) fn len(&self) -> u64 {
        self.by_key.len() as u64
    }

    /// The bytes the buffered keys hold in the store.
    pub(super) fn bytes(&self) -> u64 {
        self.bytes
    }
}

#[cfg(test)]
#[path = "buffer_proptests.rs"]
mod proptests;

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip() {
        let mut headers = Headers::new();
        headers.add("a", Some(b"1".to_vec())).add("b", None);
        for entry in [
            Entry {
                time: -5,
                timestamp: 7,
                new: Some(b"new".to_vec()),
                prior: None,
                headers: headers.clone(),
            },
            Entry {
                time: i64::MAX,
                timestamp: i64::MIN,
                new: None,
                prior: Some(Vec::new()),
                headers: Headers::new(),
            },
        ] {
            let bytes = entry.encode("s").unwrap();
            assert_eq!(Entry::decode(&bytes, "s").unwrap(), entry);
            // Any truncation or trailing garbage is an error, not a panic.
            for cut in 0..bytes.len() {
                assert!(Entry::decode(&bytes[..cut], "s").is_err());
            }
            let mut longer = bytes.clone();
            longer.push(0);
            assert!(Entry::decode(&longer, "s").is_err());
        }
    }

    #[test]
    fn the_index_orders_by_time_then_key_and_counts_bytes() {
        let mut index = Index::default();
        index.insert(b"b".to_vec(), 5, 10);
        index.insert(b"a".to_vec(), 5, 10);
        index.insert(b"c".to_vec(), 1, 10);
        assert_eq!(index.oldest(), Some((1, b"c".to_vec())));
        assert_eq!((index.len(), index.bytes()), (3, 33));
        index.insert(b"c".to_vec(), 1, 20);
        assert_eq!((index.len(), index.bytes()), (3, 43));
        index.remove(b"c");
        assert_eq!(index.oldest(), Some((5, b"a".to_vec())));
        assert_eq!(index.time_of(b"b"), Some(5));
        index.remove(b"a");
        index.remove(b"b");
        assert_eq!((index.len(), index.bytes(), index.oldest()), (0, 0, None));
    }
}
