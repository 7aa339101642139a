//! The typed session store: serdes, segments and retention over a bytes
//! stack.

use std::cmp::Ordering;
use std::fmt;
use std::sync::Arc;

use super::bytes::{FlushListener, FlushedEntry, KeyValueBytesStore, WriteBatch};
use super::codec::Codec;
use super::delegate::delegate_to;
use super::kv::KeyValueIter;
use super::metered::{bump, StoreMetrics};
use super::segmented::{scan_segment, Merge, Reach, SegmentedState, Source};
use super::segments;
use super::window_store::restore_segmented;
use super::windowed::{ReadOnlySessionStore, SessionStore};
use super::StateStore;
use crate::error::Result;
use crate::serde::SharedSerde;
use crate::window::{Window, Windowed};

/// A session read from the bytes: serialized key, end, start, value bytes.
type RawSession = (Vec<u8>, i64, i64, Vec<u8>);

fn by_key_then_end(a: &RawSession, b: &RawSession) -> Ordering {
    (&a.0, a.1, a.2).cmp(&(&b.0, b.1, b.2))
}

/// The session store that [`SessionStoreBuilder`](super::SessionStoreBuilder)
/// builds: the typed outer layer of a stack of bytes layers, as
/// [`MeteredWindowStore`](super::MeteredWindowStore) is for window stores.
///
/// - Keys are `segment(end) | key | end | start`, times 8 bytes
///   big-endian (see the [store module](super) docs); the changelog carries
///   the same keys.
/// - Observed stream time is the newest session end put or restored. A
///   session ending at or before `observed - retention` is expired: reads
///   skip it, a put of it is dropped (counted by
///   [`expired_puts`](SessionStore::expired_puts)), and whole segments older
///   than the live ones are dropped with one range delete.
/// - Session times must be >= 0: a negative start is an
///   [`Error::Store`](crate::Error::Store).
pub struct MeteredSessionStore<K, V> {
    codec: Codec<K, V>,
    inner: Box<dyn KeyValueBytesStore>,
    state: SegmentedState,
    metrics: Arc<StoreMetrics>,
}

impl<K, V> fmt::Debug for MeteredSessionStore<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MeteredSessionStore")
            .field("name", &self.codec.name)
            .field("inner", &self.inner)
            .field("state", &self.state)
            .finish()
    }
}

impl<K, V> MeteredSessionStore<K, V> {
    /// A typed session store called `name` over the bytes stack `inner`,
    /// keeping sessions `retention_ms` (>= 0) behind the newest end. Reads
    /// the first and last key of `inner` (a reopened persistent store) to
    /// know its segments.
    pub fn new(
        name: impl Into<String>,
        inner: Box<dyn KeyValueBytesStore>,
        key_serde: SharedSerde<K>,
        value_serde: SharedSerde<V>,
        retention_ms: i64,
    ) -> Result<Self> {
        let state = SegmentedState::open(inner.as_ref(), retention_ms, "session")?;
        Ok(MeteredSessionStore {
            codec: Codec::new(name.into(), key_serde, value_serde),
            inner,
            state,
            metrics: Arc::default(),
        })
    }

    /// This instance's operation counts.
    pub fn metrics(&self) -> Arc<StoreMetrics> {
        Arc::clone(&self.metrics)
    }

    /// The bytes stack below the serdes.
    pub fn bytes_store(&self) -> &dyn KeyValueBytesStore {
        self.inner.as_ref()
    }

    /// The store's retention, in milliseconds.
    pub fn retention_ms(&self) -> i64 {
        self.state.segments.retention_ms()
    }

    /// The newest session end put or restored (`None` before any).
    pub fn observed_stream_time(&self) -> Option<i64> {
        self.state.observed()
    }

    /// Installs a listener for the entries the cache writes down; `false`
    /// when the store has no cache. Decode them with
    /// [`decode_flushed`](Self::decode_flushed).
    pub fn set_flush_listener(&mut self, listener: FlushListener) -> bool {
        self.inner.set_flush_listener(listener)
    }

    /// A cache's flushed entry as the session, its new value and its old one.
    pub fn decode_flushed(
        &self,
        entry: &FlushedEntry,
    ) -> Result<(Windowed<K>, Option<V>, Option<V>)> {
        let k = segments::parse_session_key(&entry.key)
            .ok_or_else(|| segments::malformed(&self.codec.name, "session", &entry.key))?;
        let value =
            |v: &Option<Vec<u8>>| v.as_deref().map(|b| self.codec.read_value(b)).transpose();
        Ok((
            Windowed::new(self.codec.read_key(k.key)?, Window::new(k.start, k.end)),
            value(&entry.new_value)?,
            value(&entry.old_value)?,
        ))
    }

    /// The sessions of the serialized keys in `[key_from, key_to]` with
    /// `end >= earliest_end` and `start <= latest_start`, by key, end, start
    /// (reversed if `reverse`).
    fn scan(
        &self,
        key_from: Option<Vec<u8>>,
        key_to: Option<Vec<u8>>,
        (earliest_end, latest_start): (i64, i64),
        reverse: bool,
        reach: Reach,
    ) -> Result<KeyValueIter<'_, Windowed<K>, V>> {
        let Some((end_from, _)) = self.state.times(earliest_end, i64::MAX, reach) else {
            return Ok(Box::new(std::iter::empty()));
        };
        if let (Some(f), Some(t)) = (&key_from, &key_to) {
            if f > t {
                return Ok(Box::new(std::iter::empty()));
            }
        }
        let one_key = key_from.is_some() && key_from == key_to;
        let mut sources: Vec<Source<'_, RawSession>> = Vec::new();
        for segment in self.state.segments_for(end_from, i64::MAX) {
            let lower = key_from.as_ref().map(|k| {
                if one_key {
                    segments::session_key(segment, k, 0, end_from)
                } else {
                    let mut l = segments::prefix(segment).to_vec();
                    l.extend_from_slice(k);
                    l
                }
            });
            let upper = key_to.as_ref().map(|k| {
                if one_key {
                    segments::session_key(segment, k, i64::MAX, i64::MAX)
                } else {
                    segments::key_range_upper(segment, k, segments::SESSION_SUFFIX)
                }
            });
            let iter = scan_segment(
                self.inner.as_ref(),
                segment,
                lower.as_deref(),
                upper.as_deref(),
                reverse,
            )?;
            let (kf, kt) = (key_from.clone(), key_to.clone());
            sources.push(Box::new(iter.filter_map(move |kv| {
                let (raw, v) = match kv {
                    Ok(kv) => kv,
                    Err(e) => return Some(Err(e)),
                };
                let k = segments::parse_session_key(&raw)?;
                let in_keys = kf.as_deref().is_none_or(|f| k.key >= f)
                    && kt.as_deref().is_none_or(|t| k.key <= t);
                (in_keys && k.end >= end_from && k.start <= latest_start)
                    .then(|| Ok((k.key.to_vec(), k.end, k.start, v)))
            })));
        }
        bump(&self.metrics.scans, 1);
        let merged = Merge::new(sources, by_key_then_end, reverse);
        Ok(Box::new(merged.map(move |s| {
            let (key, end, start, value) = s?;
            Ok((
                Windowed::new(self.codec.read_key(&key)?, Window::new(start, end)),
                self.codec.read_value(&value)?,
            ))
        })))
    }

    /// Every session ending at `earliest_end` or later and starting at
    /// `latest_start` or earlier, by key, end, start, expired ones still
    /// held too (see [`Reach::Held`]): what an aggregation emitting on
    /// close reads.
    pub(crate) fn find_sessions_held(
        &self,
        earliest_end: i64,
        latest_start: i64,
    ) -> Result<KeyValueIter<'_, Windowed<K>, V>> {
        self.scan(None, None, (earliest_end, latest_start), false, Reach::Held)
    }

    fn find(
        &self,
        key: &K,
        earliest_end: i64,
        latest_start: i64,
        reverse: bool,
    ) -> Result<KeyValueIter<'_, Windowed<K>, V>> {
        let key = self.codec.key_bytes(key)?;
        self.scan(
            Some(key.clone()),
            Some(key),
            (earliest_end, latest_start),
            reverse,
            Reach::Live,
        )
    }

    fn write(&mut self, session: &Windowed<K>, value: Option<&V>) -> Result<()> {
        let (start, end) = (session.window().start(), session.window().end());
        segments::check_time(&self.codec.name, "session start", start)?;
        let segment = self.state.segments.id(end);
        self.state.observe(end, segment);
        if self.state.is_expired(end) {
            self.state.count_expired_put();
            return Ok(());
        }
        if let Some(expiry) = self.state.expire() {
            self.inner.write(expiry)?;
        }
        let raw = segments::session_key(segment, &self.codec.key_bytes(session.key())?, start, end);
        let value = value
            .map(|v| self.codec.value_bytes(v))
            .transpose()?
            .flatten();
        let mut batch = WriteBatch::new();
        batch.write(raw, value);
        self.inner.write(batch)
    }
}

impl<K, V> ReadOnlySessionStore<K, V> for MeteredSessionStore<K, V> {
    fn find_sessions(
        &self,
        key: &K,
        earliest_session_end: i64,
        latest_session_start: i64,
    ) -> Result<KeyValueIter<'_, Windowed<K>, V>> {
        self.find(key, earliest_session_end, latest_session_start, false)
    }

    fn backward_find_sessions(
        &self,
        key: &K,
        earliest_session_end: i64,
        latest_session_start: i64,
    ) -> Result<KeyValueIter<'_, Windowed<K>, V>> {
        self.find(key, earliest_session_end, latest_session_start, true)
    }

    fn find_sessions_in_key_range(
        &self,
        key_from: Option<&K>,
        key_to: Option<&K>,
        earliest_session_end: i64,
        latest_session_start: i64,
    ) -> Result<KeyValueIter<'_, Windowed<K>, V>> {
        let from = key_from.map(|k| self.codec.key_bytes(k)).transpose()?;
        let to = key_to.map(|k| self.codec.key_bytes(k)).transpose()?;
        self.scan(
            from,
            to,
            (earliest_session_end, latest_session_start),
            false,
            Reach::Live,
        )
    }

    fn fetch_session(&self, key: &K, start: i64, end: i64) -> Result<Option<V>> {
        bump(&self.metrics.gets, 1);
        if start < 0 || end < start || self.state.is_expired(end) {
            return Ok(None);
        }
        let key = self.codec.key_bytes(key)?;
        let raw = segments::session_key(self.state.segments.id(end), &key, start, end);
        self.inner
            .get(&raw)?
            .map(|v| self.codec.read_value(&v))
            .transpose()
    }
}

impl<K, V> SessionStore<K, V> for MeteredSessionStore<K, V> {
    fn put(&mut self, session: &Windowed<K>, value: &V) -> Result<()> {
        bump(&self.metrics.puts, 1);
        self.write(session, Some(value))
    }

    fn remove(&mut self, session: &Windowed<K>) -> Result<()> {
        bump(&self.metrics.deletes, 1);
        self.write(session, None)
    }

    fn expired_puts(&self) -> u64 {
        self.state.expired_puts()
    }
}

impl<K: 'static, V: 'static> StateStore for MeteredSessionStore<K, V> {
    delegate_to!(inner: persistent, close, take_changelog, committed_offset, commit);

    fn name(&self) -> &str {
        &self.codec.name
    }

    fn flush(&mut self) -> Result<()> {
        bump(&self.metrics.flushes, 1);
        self.inner.flush()
    }

    /// Restores a changelog batch: every key advances observed stream time;
    /// keys of expired sessions are left out, and segments expired by the
    /// batch are dropped after it.
    fn restore(&mut self, batch: WriteBatch) -> Result<()> {
        let name = &self.codec.name;
        restore_segmented(self.inner.as_mut(), &mut self.state, batch, |raw| {
            segments::parse_session_key(raw)
                .filter(|k| 0 <= k.start && k.start <= k.end)
                .map(|k| (k.end, k.segment))
                .ok_or_else(|| segments::malformed(name, "session", raw))
        })
    }

    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }
}
