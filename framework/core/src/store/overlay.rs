//! Reading a layer's own entries over the store below it (the cache over
//! the store, uncommitted writes over committed data).

use std::cmp::Ordering;
use std::iter::Peekable;

use super::bytes::BytesIter;
use crate::error::Result;

/// A layer's entries in iteration order: `(key, Some(value))`, or
/// `(key, None)` for a delete the layer holds.
pub(super) type OverlayEntries<'a> = Box<dyn Iterator<Item = (&'a [u8], Option<&'a [u8]>)> + 'a>;

/// Merges a layer's entries over the store's: on equal keys the layer wins,
/// and a delete it holds hides the key.
pub(super) struct Overlay<'a> {
    over: Peekable<OverlayEntries<'a>>,
    below: Peekable<BytesIter<'a>>,
    reverse: bool,
}

impl<'a> Overlay<'a> {
    /// `over` and `below` must both iterate ascending, or both descending
    /// when `reverse`.
    pub(super) fn new(over: OverlayEntries<'a>, below: BytesIter<'a>, reverse: bool) -> Self {
        Overlay {
            over: over.peekable(),
            below: below.peekable(),
            reverse,
        }
    }
}

impl Iterator for Overlay<'_> {
    type Item = Result<(Vec<u8>, Vec<u8>)>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let order = match (self.over.peek(), self.below.peek()) {
                (None, None) => return None,
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) | (Some(_), Some(Err(_))) => Ordering::Greater,
                (Some((ok, _)), Some(Ok((bk, _)))) => {
                    let o = (*ok).cmp(bk.as_slice());
                    if self.reverse {
                        o.reverse()
                    } else {
                        o
                    }
                }
            };
            if order == Ordering::Greater {
                return self.below.next();
            }
            if order == Ordering::Equal {
                self.below.next();
            }
            if let Some((k, Some(v))) = self.over.next() {
                return Some(Ok((k.to_vec(), v.to_vec())));
            }
        }
    }
}
