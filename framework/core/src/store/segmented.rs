//! What window and session stores share: observed stream time, the live
//! segments, bulk expiry by range delete, and the merge of per-segment
//! scans.

use std::cmp::Ordering;

use super::bytes::{BytesIter, KeyValueBytesStore, WriteBatch};
use super::segments::{self, Segments};
use crate::error::Result;

/// The time-keeping of one window or session store instance.
///
/// `observed` is the newest window start (window stores) or session end
/// (session stores) the store has been given, by a put or by restoration;
/// `None` until then, as Kafka Streams' `observedStreamTime = -1`: nothing
/// is taken for expired. `segments` bounds what reads visit: the lowest and
/// highest segment that may hold data (from the store's first and last key
/// when it opens, then from puts, restoration and expiry).
#[derive(Debug)]
pub(super) struct SegmentedState {
    pub(super) segments: Segments,
    observed: Option<i64>,
    lowest: Option<i64>,
    highest: Option<i64>,
    expired_puts: u64,
}

impl SegmentedState {
    /// The state of a store over `inner` keeping `retention_ms`: the
    /// segments `inner` already holds (a persistent store reopened).
    pub(super) fn open(
        inner: &dyn KeyValueBytesStore,
        retention_ms: i64,
        what: &str,
    ) -> Result<Self> {
        let edge = |reverse: bool| -> Result<Option<i64>> {
            match inner.range(None, None, reverse)?.next() {
                None => Ok(None),
                Some(kv) => {
                    let (k, _) = kv?;
                    segments::segment_of(&k)
                        .map(Some)
                        .ok_or_else(|| segments::malformed(inner.name(), what, &k))
                }
            }
        };
        Ok(SegmentedState {
            segments: Segments::new(retention_ms),
            observed: None,
            lowest: edge(false)?,
            highest: edge(true)?,
            expired_puts: 0,
        })
    }

    /// The newest time observed, if any.
    pub(super) fn observed(&self) -> Option<i64> {
        self.observed
    }

    /// The first time after the newest segment that may hold data
    /// (`i64::MIN` when no segment may).
    pub(super) fn end_of_data(&self) -> i64 {
        self.highest
            .map_or(i64::MIN, |h| self.segments.start_of(h.saturating_add(1)))
    }

    /// Puts dropped because their window had expired.
    pub(super) fn expired_puts(&self) -> u64 {
        self.expired_puts
    }

    /// Counts a dropped put.
    pub(super) fn count_expired_put(&mut self) {
        self.expired_puts += 1;
    }

    /// Whether a window starting (session ending) at `t` is expired:
    /// `t <= observed - retention`.
    pub(super) fn is_expired(&self, t: i64) -> bool {
        self.observed
            .is_some_and(|o| t < self.segments.first_live_time(o))
    }

    /// Takes in time `t` of segment `segment`, put or restored.
    pub(super) fn observe(&mut self, t: i64, segment: i64) {
        self.observed = Some(self.observed.map_or(t, |o| o.max(t)));
        self.lowest = Some(self.lowest.map_or(segment, |l| l.min(segment)));
        self.highest = Some(self.highest.map_or(segment, |h| h.max(segment)));
    }

    /// The oldest live segment, if the store has a stream time.
    pub(super) fn min_live(&self) -> Option<i64> {
        self.observed.map(|o| self.segments.min_live(o))
    }

    /// The range delete dropping every segment older than the live ones,
    /// if there are any: `[prefix(lowest), prefix(min_live))`. Afterwards
    /// the store counts them as gone.
    pub(super) fn expire(&mut self) -> Option<WriteBatch> {
        let min_live = self.min_live()?;
        let lowest = self.lowest?;
        if lowest >= min_live {
            return None;
        }
        self.lowest = Some(min_live);
        let mut batch = WriteBatch::new();
        batch.delete_range(
            segments::prefix(lowest).to_vec(),
            segments::prefix(min_live).to_vec(),
        );
        Some(batch)
    }

    /// The times to read for `[from, to]`: clamped to the live ones (Kafka
    /// Streams: `max(from, observed - retention + 1)`) and to >= 0; `None`
    /// when nothing is left.
    pub(super) fn live_times(&self, from: i64, to: i64) -> Option<(i64, i64)> {
        let floor = self
            .observed
            .map_or(0, |o| self.segments.first_live_time(o).max(0));
        let from = from.max(floor);
        (from <= to).then_some((from, to))
    }

    /// The times to read for `[from, to]` with `reach`: the live ones (see
    /// [`live_times`](Self::live_times)), or every one still held.
    pub(super) fn times(&self, from: i64, to: i64, reach: Reach) -> Option<(i64, i64)> {
        match reach {
            Reach::Live => self.live_times(from, to),
            Reach::Held => {
                let from = from.max(0);
                (from <= to).then_some((from, to))
            }
        }
    }

    /// The segments that may hold times in `[from, to]`, ascending.
    pub(super) fn segments_for(&self, from: i64, to: i64) -> std::ops::Range<i64> {
        let (Some(lowest), Some(highest)) = (self.lowest, self.highest) else {
            return 0..0;
        };
        let first = self.segments.id(from).max(lowest);
        let last = self.segments.id(to).min(highest);
        first..last.saturating_add(1)
    }
}

/// Every entry of segment `segment` with `from <= key <= to` (`None`: the
/// segment's first key, its last key), in `reverse` order if asked.
pub(super) fn scan_segment<'a>(
    inner: &'a dyn KeyValueBytesStore,
    segment: i64,
    from: Option<&[u8]>,
    to: Option<&[u8]>,
    reverse: bool,
) -> Result<BytesIter<'a>> {
    let prefix = segments::prefix(segment);
    let lower = from.map_or_else(|| prefix.to_vec(), <[u8]>::to_vec);
    match to {
        Some(to) => inner.range(Some(&lower), Some(to), reverse),
        None => {
            // No inclusive bound ends a segment: read to the end of the
            // store and stop at the next segment.
            let within = move |kv: &Result<(Vec<u8>, Vec<u8>)>| match kv {
                Ok((k, _)) => k.starts_with(&prefix),
                Err(_) => true,
            };
            if reverse {
                let after = segments::prefix(segment.saturating_add(1));
                let iter = inner.range(Some(&lower), Some(&after), true)?;
                Ok(Box::new(iter.skip_while(move |kv| !within(kv))))
            } else {
                let iter = inner.range(Some(&lower), None, false)?;
                Ok(Box::new(iter.take_while(within)))
            }
        }
    }
}

/// One source of a [`Merge`].
pub(super) type Source<'a, T> = Box<dyn Iterator<Item = Result<T>> + 'a>;

/// A k-way merge of sources each ordered by `cmp` (descending if
/// `reverse`): the per-segment scans of a window or session store, a few at
/// most. An error is yielded as soon as a source reaches it.
pub(super) struct Merge<'a, T> {
    sources: Vec<Source<'a, T>>,
    /// The next item of each source, once read.
    heads: Vec<Option<T>>,
    /// Which sources must be read again before the next pick.
    stale: Vec<bool>,
    cmp: fn(&T, &T) -> Ordering,
    reverse: bool,
}

impl<'a, T> Merge<'a, T> {
    pub(super) fn new(
        sources: Vec<Source<'a, T>>,
        cmp: fn(&T, &T) -> Ordering,
        reverse: bool,
    ) -> Self {
        let n = sources.len();
        Merge {
            sources,
            heads: (0..n).map(|_| None).collect(),
            stale: vec![true; n],
            cmp,
            reverse,
        }
    }
}

impl<T> Iterator for Merge<'_, T> {
    type Item = Result<T>;

    fn next(&mut self) -> Option<Result<T>> {
        for i in 0..self.sources.len() {
            if !self.stale[i] {
                continue;
            }
            self.stale[i] = false;
            match self.sources[i].next() {
                Some(Ok(item)) => self.heads[i] = Some(item),
                Some(Err(e)) => {
                    self.stale[i] = true;
                    return Some(Err(e));
                }
                None => self.heads[i] = None,
            }
        }
        let mut best: Option<(usize, &T)> = None;
        for (i, head) in self.heads.iter().enumerate() {
            let Some(item) = head else { continue };
            let better = best.is_none_or(|(_, current)| {
                let o = (self.cmp)(item, current);
                if self.reverse {
                    o == Ordering::Greater
                } else {
                    o == Ordering::Less
                }
            });
            if better {
                best = Some((i, item));
            }
        }
        let (b, _) = best?;
        self.stale[b] = true;
        self.heads[b].take().map(Ok)
    }
}

/// What a read of a segmented store sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reach {
    /// The live windows (sessions) only, as every query.
    Live,
    /// Every window (session) still held, expired ones too, until their
    /// segment is dropped: what an aggregation emitting on close reads
    /// (Kafka Streams' emit-final reads its time-ordered store unfiltered
    /// too), since a window expires as it closes when the retention is
    /// size + grace, and after a restart the restored store's stream time
    /// may be past windows whose emission was lost.
    Held,
}
