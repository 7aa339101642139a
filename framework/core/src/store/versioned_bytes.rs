//! The versions of a versioned store as bytes: puts, as-of reads, history
//! pruning and restoration over a key-value bytes stack (layout in
//! `versioned_layout`).

use super::bytes::{KeyValueBytesStore, WriteBatch};
use super::versioned::VersionedPut;
use super::versioned_layout::{self as layout, RawVersion, OPEN};
use crate::error::{Error, Result};

/// A version read back: value bytes, timestamp, valid-to (`None`: latest).
pub(super) type RawRecord = (Vec<u8>, i64, Option<i64>);

/// The versions of every key of one store instance, over its bytes stack,
/// with the store's observed stream time.
#[derive(Debug)]
pub(super) struct VersionedBytes {
    pub(super) inner: Box<dyn KeyValueBytesStore>,
    history_ms: i64,
    observed: Option<i64>,
}

impl VersionedBytes {
    /// The versions in `inner`, keeping `history_ms` of history; a reopened
    /// persistent store keeps its observed stream time.
    pub(super) fn open(inner: Box<dyn KeyValueBytesStore>, history_ms: i64) -> Result<Self> {
        let observed = match inner.get(layout::STREAM_TIME_KEY)? {
            Some(raw) => Some(
                layout::parse_stream_time(&raw)
                    .ok_or_else(|| malformed(inner.name(), "stream time", &raw))?,
            ),
            None => None,
        };
        Ok(VersionedBytes {
            inner,
            history_ms,
            observed,
        })
    }

    pub(super) fn history_ms(&self) -> i64 {
        self.history_ms
    }

    pub(super) fn observed(&self) -> Option<i64> {
        self.observed
    }

    /// The oldest time the history answers for: observed - history retention.
    fn cutoff(&self) -> Option<i64> {
        self.observed.map(|o| o.saturating_sub(self.history_ms))
    }

    /// Whether a write at `ts` is past the grace period (= history retention).
    pub(super) fn expired(&self, ts: i64) -> bool {
        self.cutoff().is_some_and(|c| ts < c)
    }

    fn latest(&self, key: &[u8]) -> Result<Option<(i64, Vec<u8>)>> {
        match self.inner.get(&layout::latest_key(key))? {
            Some(raw) => layout::parse_latest(&raw)
                .map(Some)
                .ok_or_else(|| malformed(self.inner.name(), "latest value", &raw)),
            None => Ok(None),
        }
    }

    /// The first history row of `key` in `[from, to]`, in `reverse` order if asked.
    fn first_version(
        &self,
        key: &[u8],
        from: i64,
        to: i64,
        reverse: bool,
    ) -> Result<Option<RawVersion>> {
        if from > to {
            return Ok(None);
        }
        let lower = layout::history_key(key, from);
        let upper = layout::history_key(key, to);
        match self
            .inner
            .range(Some(&lower), Some(&upper), reverse)?
            .next()
        {
            None => Ok(None),
            Some(kv) => {
                let (k, v) = kv?;
                layout::parse_history(key, &k, &v)
                    .map(Some)
                    .ok_or_else(|| malformed(self.inner.name(), "history row", &k))
            }
        }
    }

    /// The history version valid at `t`: the one with the largest timestamp <= `t`.
    fn version_at(&self, key: &[u8], t: i64) -> Result<Option<RawVersion>> {
        self.first_version(key, i64::MIN, t, true)
    }

    /// The timestamp of the first history version after `t`.
    fn version_after(&self, key: &[u8], t: i64) -> Result<Option<i64>> {
        if t == i64::MAX {
            return Ok(None);
        }
        Ok(self
            .first_version(key, t + 1, i64::MAX, false)?
            .map(|v| v.from))
    }

    /// The latest version of `key`, if it has a value.
    pub(super) fn get(&self, key: &[u8]) -> Result<Option<RawRecord>> {
        Ok(self.latest(key)?.map(|(ts, v)| (v, ts, None)))
    }

    /// The version of `key` valid at `as_of`, if it has a value (see
    /// [`VersionedKeyValueStore::get_as_of`](super::VersionedKeyValueStore::get_as_of)).
    pub(super) fn get_as_of(&self, key: &[u8], as_of: i64) -> Result<Option<RawRecord>> {
        if let Some((ts, v)) = self.latest(key)? {
            if ts <= as_of {
                return Ok(Some((v, ts, None)));
            }
        }
        if self.expired(as_of) {
            return Ok(None);
        }
        Ok(self.version_at(key, as_of)?.and_then(|v| {
            let valid_to = (v.to != OPEN).then_some(v.to);
            match v.value {
                Some(value) if v.to > as_of => Some((value, v.from, valid_to)),
                _ => None,
            }
        }))
    }

    /// Puts `value` (`None`: a delete) as `key`'s version from `ts`, then
    /// prunes the key's expired history. `restoring`: written as
    /// restoration (neither held back nor logged).
    pub(super) fn put(
        &mut self,
        key: &[u8],
        value: Option<&[u8]>,
        ts: i64,
        restoring: bool,
    ) -> Result<VersionedPut> {
        if self.expired(ts) {
            return Ok(VersionedPut::NotPut);
        }
        let mut batch = WriteBatch::new();
        if self.observed.is_none_or(|o| ts > o) {
            self.observed = Some(ts);
            batch.put(
                layout::STREAM_TIME_KEY.to_vec(),
                layout::stream_time_value(ts),
            );
        }
        let outcome = match self.latest(key)? {
            Some((lts, lv)) if ts >= lts => {
                if ts > lts {
                    batch.put(
                        layout::history_key(key, lts),
                        layout::history_value(ts, Some(&lv)),
                    );
                }
                put_latest(&mut batch, key, value, ts);
                VersionedPut::Latest
            }
            Some((lts, _)) => self.put_older(&mut batch, key, value, ts, Some(lts))?,
            None => match self.first_version(key, i64::MIN, i64::MAX, true)? {
                Some(last) if ts >= last.from => {
                    // The latest version is a delete (an open history row).
                    if ts > last.from {
                        batch.put(
                            layout::history_key(key, last.from),
                            layout::history_value(ts, last.value.as_deref()),
                        );
                    } else {
                        batch.delete(layout::history_key(key, last.from));
                    }
                    put_latest(&mut batch, key, value, ts);
                    VersionedPut::Latest
                }
                Some(_) => self.put_older(&mut batch, key, value, ts, None)?,
                None => {
                    put_latest(&mut batch, key, value, ts);
                    VersionedPut::Latest
                }
            },
        };
        self.apply(batch, restoring)?;
        self.prune(key, restoring)?;
        Ok(outcome)
    }

    /// Puts a version older than the key's latest one (whose timestamp is
    /// `latest`, if it has a value).
    fn put_older(
        &self,
        batch: &mut WriteBatch,
        key: &[u8],
        value: Option<&[u8]>,
        ts: i64,
        latest: Option<i64>,
    ) -> Result<VersionedPut> {
        let at = self.version_at(key, ts)?;
        if let Some(at) = &at {
            if at.from == ts {
                batch.put(
                    layout::history_key(key, ts),
                    layout::history_value(at.to, value),
                );
                return Ok(outcome_for(at.to));
            }
        }
        let Some(next) = self.version_after(key, ts)?.or(latest) else {
            return Err(malformed(self.inner.name(), "history of key", key));
        };
        if let Some(at) = at {
            if at.to > ts {
                batch.put(
                    layout::history_key(key, at.from),
                    layout::history_value(ts, at.value.as_deref()),
                );
            }
        }
        batch.put(
            layout::history_key(key, ts),
            layout::history_value(next, value),
        );
        Ok(VersionedPut::ValidTo(next))
    }

    /// Drops `key`'s history rows no read can reach any more: every version
    /// before the one valid at observed - history retention (and that one
    /// too, if it ended by then).
    fn prune(&mut self, key: &[u8], restoring: bool) -> Result<()> {
        let Some(cutoff) = self.cutoff() else {
            return Ok(());
        };
        let Some(at) = self.version_at(key, cutoff)? else {
            return Ok(());
        };
        let upper = if at.to <= cutoff {
            at.from.saturating_add(1)
        } else {
            at.from
        };
        let oldest = self.first_version(key, i64::MIN, i64::MAX, false)?;
        if oldest.is_none_or(|o| o.from >= upper) {
            return Ok(());
        }
        let mut batch = WriteBatch::new();
        batch.delete_range(
            layout::history_key(key, i64::MIN),
            layout::history_key(key, upper),
        );
        self.apply(batch, restoring)
    }

    fn apply(&mut self, batch: WriteBatch, restoring: bool) -> Result<()> {
        if restoring {
            self.inner.restore(batch)
        } else {
            self.inner.write(batch)
        }
    }

    /// Restores a batch of changelog records (`key -> timestamp | tag |
    /// value`), each replayed as a put (those past the grace period of the
    /// restored stream time are left out, as Kafka Streams), then records
    /// the batch's offset.
    pub(super) fn restore(&mut self, mut batch: WriteBatch) -> Result<()> {
        let _ = batch.take_range_deletes();
        let (ops, offset) = batch.into_parts();
        for (key, value) in ops {
            let Some(raw) = value else { continue };
            let (ts, value) = layout::parse_changelog(&raw)
                .ok_or_else(|| malformed(self.inner.name(), "changelog record", &raw))?;
            self.put(&key, value.as_deref(), ts, true)?;
        }
        if let Some(offset) = offset {
            let mut batch = WriteBatch::new();
            batch.set_offset(offset);
            self.inner.restore(batch)?;
        }
        Ok(())
    }
}

/// Writes `value` as the key's latest version at `ts`: the latest row, or
/// for a delete, an open history row in place of the latest row.
fn put_latest(batch: &mut WriteBatch, key: &[u8], value: Option<&[u8]>, ts: i64) {
    match value {
        Some(v) => {
            batch.put(layout::latest_key(key), layout::latest_value(ts, v));
        }
        None => {
            batch.delete(layout::latest_key(key));
            batch.put(
                layout::history_key(key, ts),
                layout::history_value(OPEN, None),
            );
        }
    }
}

fn outcome_for(valid_to: i64) -> VersionedPut {
    if valid_to == OPEN {
        VersionedPut::Latest
    } else {
        VersionedPut::ValidTo(valid_to)
    }
}

fn malformed(store: &str, what: &str, raw: &[u8]) -> Error {
    Error::Store {
        store: store.to_string(),
        message: format!("malformed versioned store {what}: {raw:02x?}"),
    }
}
