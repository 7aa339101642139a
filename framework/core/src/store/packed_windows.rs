//! A join store's windows packed many to a changelog record, and unpacked
//! at restoration.
//!
//! A packed record's key is `0xff | nonce (8) | counter (8)`: a window key
//! begins with its segment id, a non-negative big-endian `i64`, so never
//! with `0xff`; the nonce is drawn when the store opens and the counter
//! numbers its records, so no two packed records share a key and
//! compaction never drops one. The value is the windows one after the
//! other, each as `key length (4) | key | value length (4) | value`,
//! lengths big-endian.

use std::hash::{BuildHasher, RandomState};
use std::time::{SystemTime, UNIX_EPOCH};

use super::bytes::WriteBatch;
use crate::error::{Error, Result};

/// The first byte of a packed record's key.
const MARKER: u8 = 0xff;

/// A packed record's key length: the marker, the nonce, the counter.
const KEY_LEN: usize = 17;

/// The most bytes of windows one packed record carries (the broker's
/// default message size is 1 MB).
const MAX_BYTES: usize = 64 << 10;

/// Packs the windows a store logs into records of up to 64 KiB: a join
/// sends one record per few hundred windows instead of one per window.
#[derive(Debug)]
pub(super) struct Packer {
    nonce: [u8; 8],
    counter: u64,
}

impl Packer {
    /// A packer with a nonce of its own.
    pub(super) fn new() -> Self {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        Packer {
            nonce: RandomState::new().hash_one(now).to_be_bytes(),
            counter: 0,
        }
    }

    fn next_key(&mut self) -> Vec<u8> {
        self.counter += 1;
        let mut key = Vec::with_capacity(KEY_LEN);
        key.push(MARKER);
        key.extend_from_slice(&self.nonce);
        key.extend_from_slice(&self.counter.to_be_bytes());
        key
    }

    /// `batch`'s puts packed into records, in order (deletes, which a join
    /// store never logs, are kept as they are); its range deletes and
    /// offset are kept.
    pub(super) fn pack(&mut self, mut batch: WriteBatch) -> WriteBatch {
        let mut packed = WriteBatch::new();
        for (from, to) in batch.take_range_deletes() {
            packed.delete_range(from, to);
        }
        let (ops, offset) = batch.into_parts();
        let mut value: Vec<u8> = Vec::new();
        for (key, window) in ops {
            let Some(window) = window else {
                packed.delete(key);
                continue;
            };
            let size = 8 + key.len() + window.len();
            if !value.is_empty() && value.len() + size > MAX_BYTES {
                packed.put(self.next_key(), std::mem::take(&mut value));
            }
            value.reserve(size);
            for part in [&key, &window] {
                // A window key or value of 4 GiB or more cannot be written.
                let len = u32::try_from(part.len()).unwrap_or(u32::MAX);
                value.extend_from_slice(&len.to_be_bytes());
                value.extend_from_slice(part);
            }
        }
        if !value.is_empty() {
            packed.put(self.next_key(), value);
        }
        if let Some(o) = offset {
            packed.set_offset(o);
        }
        packed
    }
}

/// Whether `key` is a packed record's.
fn is_packed(key: &[u8]) -> bool {
    key.len() == KEY_LEN && key[0] == MARKER
}

/// `batch` (read from a changelog) with every packed record replaced by
/// its windows, in order; the same batch when it has none. A packed record
/// that does not read back whole is an [`Error::Store`] naming `store`.
pub(super) fn unpack(batch: WriteBatch, store: &str) -> Result<WriteBatch> {
    if !batch.ops().iter().any(|(key, _)| is_packed(key)) {
        return Ok(batch);
    }
    let mut batch = batch;
    let mut unpacked = WriteBatch::new();
    for (from, to) in batch.take_range_deletes() {
        unpacked.delete_range(from, to);
    }
    let (ops, offset) = batch.into_parts();
    for (key, value) in ops {
        match value {
            Some(value) if is_packed(&key) => {
                let mut rest = value.as_slice();
                while !rest.is_empty() {
                    let window = take(&mut rest).ok_or_else(|| malformed(store, &key))?;
                    let value = take(&mut rest).ok_or_else(|| malformed(store, &key))?;
                    unpacked.put(window.to_vec(), value.to_vec());
                }
            }
            value => {
                unpacked.write(key, value);
            }
        }
    }
    if let Some(o) = offset {
        unpacked.set_offset(o);
    }
    Ok(unpacked)
}

/// The next length-prefixed part of `rest`, moving past it.
fn take<'a>(rest: &mut &'a [u8]) -> Option<&'a [u8]> {
    let (len, after) = rest.split_first_chunk::<4>()?;
    let len = usize::try_from(u32::from_be_bytes(*len)).ok()?;
    let part = after.get(..len)?;
    *rest = &after[len..];
    Some(part)
}

fn malformed(store: &str, key: &[u8]) -> Error {
    Error::Store {
        store: store.to_string(),
        message: format!(
            "a packed changelog record of windows does not read back whole (key {key:02x?})"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn windows(n: usize, value_len: usize) -> WriteBatch {
        let mut batch = WriteBatch::new();
        for i in 0..n {
            batch.put(format!("w{i:05}").into_bytes(), vec![7; value_len]);
        }
        batch
    }

    #[test]
    fn windows_pack_into_few_records_and_unpack_in_order() {
        let original = windows(3000, 40);
        let mut packer = Packer::new();
        let packed = packer.pack(original.clone());
        // 3000 windows of 8 + 6 + 40 bytes: 162,000 bytes, 3 records.
        assert_eq!(packed.len(), 3);
        assert!(packed
            .ops()
            .iter()
            .all(|(k, v)| is_packed(k) && v.as_ref().is_some_and(|v| v.len() <= MAX_BYTES)));
        let mut with_offset = packed;
        with_offset.set_offset(9);
        let unpacked = unpack(with_offset, "s").unwrap();
        assert_eq!(unpacked.ops(), original.ops());
        assert_eq!(unpacked.offset(), Some(9));
    }

    #[test]
    fn packed_keys_never_repeat_nor_look_like_window_keys() {
        let mut a = Packer::new();
        let mut b = Packer::new();
        let keys: Vec<Vec<u8>> = (0..3)
            .flat_map(|_| [a.pack(windows(1, 1)), b.pack(windows(1, 1))])
            .map(|batch| batch.ops()[0].0.clone())
            .collect();
        let mut unique = keys.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), keys.len());
        let window_key = super::super::segments::window_key(i64::MAX / 2, b"k", 0, 0);
        assert!(!is_packed(&window_key));
    }

    #[test]
    fn plain_records_pass_through_and_a_torn_packed_record_is_an_error() {
        let mut mixed = windows(2, 3);
        let mut packed = Packer::new().pack(windows(2, 3));
        let (ops, _) = std::mem::take(&mut packed).into_parts();
        for (k, v) in ops {
            mixed.write(k, v);
        }
        let unpacked = unpack(mixed, "s").unwrap();
        assert_eq!(unpacked.len(), 4);
        assert_eq!(unpack(windows(2, 3), "s").unwrap(), windows(2, 3));

        let mut torn = Packer::new().pack(windows(2, 3));
        let (mut ops, _) = std::mem::take(&mut torn).into_parts();
        if let Some(v) = ops[0].1.as_mut() {
            v.pop();
        }
        let mut batch = WriteBatch::new();
        for (k, v) in ops {
            batch.write(k, v);
        }
        let err = unpack(batch, "s").unwrap_err();
        assert!(
            err.to_string().contains("does not read back whole"),
            "{err}"
        );
    }
}
