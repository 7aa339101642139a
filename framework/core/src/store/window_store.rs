//! The typed window store: serdes, segments and retention over a bytes
//! stack.

use std::cmp::Ordering;
use std::fmt;
use std::ops::Bound;
use std::sync::Arc;

use super::bytes::{BytesIter, FlushListener, FlushedEntry, KeyValueBytesStore, WriteBatch};
use super::codec::Codec;
use super::delegate::delegate_to;
use super::held_windows::{HeldWindows, WriteDown};
use super::kv::KeyValueIter;
use super::metered::{bump, StoreMetrics};
use super::overlay::Overlay;
use super::packed_windows;
use super::segmented::{scan_segment, Merge, Reach, SegmentedState, Source};
use super::segments;
use super::windowed::{ReadOnlyWindowStore, WindowStore, WindowStoreIter};
use super::StateStore;
use crate::error::Result;
use crate::serde::SharedSerde;
use crate::window::{Window, Windowed};

/// A window read from the bytes: serialized key, start, sequence number,
/// value bytes.
type RawWindow = (Vec<u8>, i64, u32, Vec<u8>);

/// The windows of one key read from the bytes: start, value bytes.
type KeyScan<'a> = Box<dyn Iterator<Item = Result<(i64, Vec<u8>)>> + 'a>;

fn by_key_then_start(a: &RawWindow, b: &RawWindow) -> Ordering {
    (&a.0, a.1, a.2).cmp(&(&b.0, b.1, b.2))
}

/// The window store that [`WindowStoreBuilder`](super::WindowStoreBuilder)
/// builds: the typed outer layer of a stack of bytes layers (caching,
/// change-logging, uncommitted writes, a bytes store), as
/// [`MeteredKeyValueStore`](super::MeteredKeyValueStore) is for key-value
/// stores.
///
/// - Keys are laid out by segment (see the [store module](super) docs):
///   `segment(start) | key | start | seq`, all times 8 bytes big-endian,
///   `seq` 4 bytes (0 unless the store retains duplicates). The changelog
///   carries the same keys.
/// - Observed stream time is the newest window start put or restored. A
///   window starting at or before `observed - retention` is expired: reads
///   skip it, a put into it is dropped (counted by
///   [`expired_puts`](WindowStore::expired_puts)), and whole segments older
///   than the live ones are dropped with one range delete.
/// - Window starts must be >= 0: a negative one is an [`Error::Store`](crate::Error::Store).
/// - A store that retains duplicates (the stores of stream-stream joins)
///   adds an entry at each put, numbered by a per-instance counter that
///   starts at 0 when the store opens, and ignores deletes.
/// - A store that retains duplicates holds its recent windows in memory
///   (up to 2 MiB) and reads them there: reads of the times it holds every
///   window of (all of them, for a store that opened empty) read nothing
///   below. Its puts reach the changelog in batches: those held a whole
///   tick (100 ms) at the next put, and all of them at each
///   [`flush`](StateStore::flush) (the commit's), packed up to 64 KiB to a
///   changelog record (see `packed_windows`). Over a change-logged
///   stack they reach the store below later: when the memory is full, when
///   the changelog offset the store below records would otherwise lag 10 s
///   behind, and when the store closes after a commit. A window that
///   expired before then is never written below: at a commit, the store
///   below records the newest changelog offset that every window logged up
///   to it is below or expired by, and restoration replays the rest.
///   Kafka Streams writes each put of a join to RocksDB and its changelog
///   at once, and reads every join's matches with a RocksDB iterator.
///   Such a store also tells the bytes store below its writes are
///   short-lived ([`KeyValueBytesStore::expect_short_lived_writes`]):
///   RocksDB then keeps a small memtable for it.
pub struct MeteredWindowStore<K, V> {
    codec: Codec<K, V>,
    inner: Box<dyn KeyValueBytesStore>,
    state: SegmentedState,
    window_size_ms: i64,
    retain_duplicates: bool,
    seq: u32,
    /// The recent windows of a store that retains duplicates.
    held: Option<HeldWindows>,
    metrics: Arc<StoreMetrics>,
}

impl<K, V> fmt::Debug for MeteredWindowStore<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MeteredWindowStore")
            .field("name", &self.codec.name)
            .field("inner", &self.inner)
            .field("state", &self.state)
            .field("window_size_ms", &self.window_size_ms)
            .field("retain_duplicates", &self.retain_duplicates)
            .finish()
    }
}

impl<K, V> MeteredWindowStore<K, V> {
    /// A typed window store called `name` over the bytes stack `inner`,
    /// keeping windows `retention_ms` (>= 0) behind the newest start, each
    /// `window_size_ms` long (what [`Windowed`] ends report). Reads the
    /// first and last key of `inner` (a reopened persistent store) to know
    /// its segments.
    pub fn new(
        name: impl Into<String>,
        mut inner: Box<dyn KeyValueBytesStore>,
        key_serde: SharedSerde<K>,
        value_serde: SharedSerde<V>,
        retention_ms: i64,
        window_size_ms: i64,
        retain_duplicates: bool,
    ) -> Result<Self> {
        let state = SegmentedState::open(inner.as_ref(), retention_ms, "window")?;
        if retain_duplicates {
            // Lookups read the recent windows held here; below, the windows
            // wait only for expiry.
            inner.expect_short_lived_writes()?;
        }
        let held = retain_duplicates.then(|| HeldWindows::new(state.end_of_data(), inner.as_ref()));
        Ok(MeteredWindowStore {
            codec: Codec::new(name.into(), key_serde, value_serde),
            inner,
            state,
            window_size_ms,
            retain_duplicates,
            seq: 0,
            held,
            metrics: Arc::default(),
        })
    }

    /// The store with its logged windows written below once they would
    /// hold the recorded changelog offset back `max_lag` (10 s otherwise).
    #[cfg(test)]
    pub(crate) fn with_logged_max_lag(mut self, max_lag: std::time::Duration) -> Self {
        self.held = self.held.map(|held| held.with_max_lag(max_lag));
        self
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

    /// The windows' size, in milliseconds.
    pub fn window_size_ms(&self) -> i64 {
        self.window_size_ms
    }

    /// The newest window start put or restored (`None` before any).
    pub fn observed_stream_time(&self) -> Option<i64> {
        self.state.observed()
    }

    /// Installs a listener for the entries the cache writes down; `false`
    /// when the store has no cache. Decode them with
    /// [`decode_flushed`](Self::decode_flushed).
    pub fn set_flush_listener(&mut self, listener: FlushListener) -> bool {
        self.inner.set_flush_listener(listener)
    }

    /// A cache's flushed entry as the window, its new value and its old one.
    pub fn decode_flushed(
        &self,
        entry: &FlushedEntry,
    ) -> Result<(Windowed<K>, Option<V>, Option<V>)> {
        let (key, start) = self.parse(&entry.key)?;
        let value =
            |v: &Option<Vec<u8>>| v.as_deref().map(|b| self.codec.read_value(b)).transpose();
        Ok((
            self.windowed(self.codec.read_key(&key)?, start),
            value(&entry.new_value)?,
            value(&entry.old_value)?,
        ))
    }

    fn windowed(&self, key: K, start: i64) -> Windowed<K> {
        Windowed::new(
            key,
            Window::new(start, start.saturating_add(self.window_size_ms)),
        )
    }

    fn parse(&self, raw: &[u8]) -> Result<(Vec<u8>, i64)> {
        let k = segments::parse_window_key(raw)
            .ok_or_else(|| segments::malformed(&self.codec.name, "window", raw))?;
        Ok((k.key.to_vec(), k.start))
    }

    /// The windows of the serialized key `key` starting in `[from, to]`,
    /// ascending (descending if `reverse`).
    fn scan_key(&self, key: &[u8], from: i64, to: i64, reverse: bool) -> Result<KeyScan<'_>> {
        let Some((from, to)) = self.state.live_times(from, to) else {
            return Ok(Box::new(std::iter::empty()));
        };
        let mut scans: Vec<KeyScan<'_>> = Vec::new();
        for segment in self.state.segments_for(from, to) {
            let lower = segments::window_key(segment, key, from, 0);
            let upper = segments::window_key(segment, key, to, u32::MAX);
            let len = lower.len();
            let key = key.to_vec();
            let iter = self.read_segment(segment, Some(&lower), Some(&upper), from, reverse)?;
            // Same length and prefix: the same key ("a" never matches "ab").
            scans.push(Box::new(iter.filter_map(move |kv| match kv {
                Ok((raw, v)) if raw.len() == len => match segments::parse_window_key(&raw) {
                    Some(k) if k.key == key.as_slice() => Some(Ok((k.start, v))),
                    _ => None,
                },
                Ok(_) => None,
                Err(e) => Some(Err(e)),
            })));
        }
        if reverse {
            scans.reverse();
        }
        bump(&self.metrics.scans, 1);
        Ok(Box::new(scans.into_iter().flatten()))
    }

    /// The windows of the serialized keys in `[key_from, key_to]` starting
    /// in `[from, to]`, by key then start (reversed if `reverse`).
    fn scan_keys(
        &self,
        key_from: Option<Vec<u8>>,
        key_to: Option<Vec<u8>>,
        (from, to): (i64, i64),
        reverse: bool,
        reach: Reach,
    ) -> Result<KeyValueIter<'_, Windowed<K>, V>> {
        let Some((from, to)) = self.state.times(from, to, reach) else {
            return Ok(Box::new(std::iter::empty()));
        };
        if let (Some(f), Some(t)) = (&key_from, &key_to) {
            if f > t {
                return Ok(Box::new(std::iter::empty()));
            }
        }
        let mut sources: Vec<Source<'_, RawWindow>> = Vec::new();
        for segment in self.state.segments_for(from, to) {
            let lower = key_from.as_ref().map(|k| {
                let mut l = segments::prefix(segment).to_vec();
                l.extend_from_slice(k);
                l
            });
            let upper = key_to
                .as_ref()
                .map(|k| segments::key_range_upper(segment, k, segments::WINDOW_SUFFIX));
            let iter =
                self.read_segment(segment, lower.as_deref(), upper.as_deref(), from, reverse)?;
            let (kf, kt) = (key_from.clone(), key_to.clone());
            sources.push(Box::new(iter.filter_map(move |kv| {
                let (raw, v) = match kv {
                    Ok(kv) => kv,
                    Err(e) => return Some(Err(e)),
                };
                let k = segments::parse_window_key(&raw)?;
                let in_keys = kf.as_deref().is_none_or(|f| k.key >= f)
                    && kt.as_deref().is_none_or(|t| k.key <= t);
                (in_keys && k.start >= from && k.start <= to)
                    .then(|| Ok((k.key.to_vec(), k.start, k.seq, v)))
            })));
        }
        bump(&self.metrics.scans, 1);
        let merged = Merge::new(sources, by_key_then_start, reverse);
        Ok(Box::new(merged.map(move |w| {
            let (key, start, _, value) = w?;
            Ok((
                self.windowed(self.codec.read_key(&key)?, start),
                self.codec.read_value(&value)?,
            ))
        })))
    }

    /// The entries of segment `segment` with `lower <= key <= upper` (see
    /// [`scan_segment`]) read for times from `from`: the recent windows
    /// over the bytes below, or the recent windows alone when they hold
    /// every window from `from`.
    fn read_segment(
        &self,
        segment: i64,
        lower: Option<&[u8]>,
        upper: Option<&[u8]>,
        from: i64,
        reverse: bool,
    ) -> Result<BytesIter<'_>> {
        let Some(recent) = self.held.as_ref().map(HeldWindows::recent) else {
            return scan_segment(self.inner.as_ref(), segment, lower, upper, reverse);
        };
        let first = segments::prefix(segment);
        let after = segments::prefix(segment.saturating_add(1));
        let held = recent.range(
            lower.unwrap_or(&first),
            upper.map_or(Bound::Excluded(after.as_slice()), Bound::Included),
            reverse,
        );
        if recent.covers(from) {
            return Ok(Box::new(
                held.filter_map(|(k, v)| v.map(|v| Ok((k.to_vec(), v.to_vec())))),
            ));
        }
        let below = scan_segment(self.inner.as_ref(), segment, lower, upper, reverse)?;
        Ok(Box::new(Overlay::new(held, below, reverse)))
    }

    /// Every window starting in `[time_from, time_to]`, by key then start,
    /// expired ones still held too (see [`Reach::Held`]): what an
    /// aggregation emitting on close reads.
    pub(crate) fn fetch_all_held(
        &self,
        time_from: i64,
        time_to: i64,
    ) -> Result<KeyValueIter<'_, Windowed<K>, V>> {
        self.scan_keys(None, None, (time_from, time_to), false, Reach::Held)
    }

    /// The start of the first live window (`i64::MIN` before any put).
    fn first_live(&self) -> i64 {
        self.state
            .observed()
            .map_or(i64::MIN, |o| self.state.segments.first_live_time(o))
    }

    /// Logs the held windows not logged yet and still live, and writes
    /// the logged ones below when due (see [`HeldWindows::write_down`]).
    fn write_down(&mut self, when: WriteDown) -> Result<()> {
        let first_live = self.first_live();
        match &mut self.held {
            Some(held) => held.write_down(when, first_live, self.inner.as_mut()),
            None => Ok(()),
        }
    }

    fn typed_scan(
        &self,
        key: &K,
        from: i64,
        to: i64,
        reverse: bool,
    ) -> Result<WindowStoreIter<'_, V>> {
        let key = self.codec.key_bytes(key)?;
        let iter = self.scan_key(&key, from, to, reverse)?;
        Ok(Box::new(iter.map(move |w| {
            let (start, value) = w?;
            Ok((start, self.codec.read_value(&value)?))
        })))
    }

    fn bounds(&self, from: Option<&K>, to: Option<&K>) -> Result<[Option<Vec<u8>>; 2]> {
        let from = from.map(|k| self.codec.key_bytes(k)).transpose()?;
        let to = to.map(|k| self.codec.key_bytes(k)).transpose()?;
        Ok([from, to])
    }
}

impl<K, V> ReadOnlyWindowStore<K, V> for MeteredWindowStore<K, V> {
    fn fetch(&self, key: &K, window_start: i64) -> Result<Option<V>> {
        bump(&self.metrics.gets, 1);
        if window_start < 0 || self.state.is_expired(window_start) {
            return Ok(None);
        }
        let key = self.codec.key_bytes(key)?;
        let raw = if self.retain_duplicates {
            self.scan_key(&key, window_start, window_start, false)?
                .next()
                .transpose()?
                .map(|(_, v)| v)
        } else {
            let segment = self.state.segments.id(window_start);
            self.inner
                .get(&segments::window_key(segment, &key, window_start, 0))?
        };
        raw.map(|v| self.codec.read_value(&v)).transpose()
    }

    fn fetch_range(&self, key: &K, time_from: i64, time_to: i64) -> Result<WindowStoreIter<'_, V>> {
        self.typed_scan(key, time_from, time_to, false)
    }

    fn backward_fetch_range(
        &self,
        key: &K,
        time_from: i64,
        time_to: i64,
    ) -> Result<WindowStoreIter<'_, V>> {
        self.typed_scan(key, time_from, time_to, true)
    }

    fn fetch_key_range(
        &self,
        key_from: Option<&K>,
        key_to: Option<&K>,
        time_from: i64,
        time_to: i64,
    ) -> Result<KeyValueIter<'_, Windowed<K>, V>> {
        let [from, to] = self.bounds(key_from, key_to)?;
        self.scan_keys(from, to, (time_from, time_to), false, Reach::Live)
    }

    fn backward_fetch_key_range(
        &self,
        key_from: Option<&K>,
        key_to: Option<&K>,
        time_from: i64,
        time_to: i64,
    ) -> Result<KeyValueIter<'_, Windowed<K>, V>> {
        let [from, to] = self.bounds(key_from, key_to)?;
        self.scan_keys(from, to, (time_from, time_to), true, Reach::Live)
    }

    fn fetch_all(&self, time_from: i64, time_to: i64) -> Result<KeyValueIter<'_, Windowed<K>, V>> {
        self.scan_keys(None, None, (time_from, time_to), false, Reach::Live)
    }

    fn backward_fetch_all(
        &self,
        time_from: i64,
        time_to: i64,
    ) -> Result<KeyValueIter<'_, Windowed<K>, V>> {
        self.scan_keys(None, None, (time_from, time_to), true, Reach::Live)
    }
}

impl<K, V> WindowStore<K, V> for MeteredWindowStore<K, V> {
    fn put(&mut self, key: &K, value: Option<&V>, window_start: i64) -> Result<()> {
        segments::check_time(&self.codec.name, "window start", window_start)?;
        if self.retain_duplicates && value.is_none() {
            return Ok(());
        }
        bump(&self.metrics.puts, 1);
        if let Some(held) = &mut self.held {
            held.touch();
        }
        let segment = self.state.segments.id(window_start);
        self.state.observe(window_start, segment);
        if self.state.is_expired(window_start) {
            self.state.count_expired_put();
            return Ok(());
        }
        if let Some(expiry) = self.state.expire() {
            self.inner.write(expiry)?;
            if let (Some(held), Some(min_live)) = (&mut self.held, self.state.min_live()) {
                held.recent_mut().drop_segments_before(min_live);
            }
        }
        let seq = if self.retain_duplicates {
            self.seq = self.seq.wrapping_add(1) & 0x7fff_ffff;
            self.seq
        } else {
            0
        };
        let raw = segments::window_key(segment, &self.codec.key_bytes(key)?, window_start, seq);
        let value = value
            .map(|v| self.codec.value_bytes(v))
            .transpose()?
            .flatten();
        let first_live = self.first_live();
        let value = match (&mut self.held, value) {
            (Some(held), Some(value)) => {
                return held.put(raw, value, first_live, self.inner.as_mut());
            }
            (_, value) => value,
        };
        let mut batch = WriteBatch::new();
        batch.write(raw, value);
        self.inner.write(batch)
    }

    fn expired_puts(&self) -> u64 {
        self.state.expired_puts()
    }
}

impl<K: 'static, V: 'static> StateStore for MeteredWindowStore<K, V> {
    delegate_to!(inner: persistent, take_changelog, committed_offset);

    fn name(&self) -> &str {
        &self.codec.name
    }

    fn flush(&mut self) -> Result<()> {
        bump(&self.metrics.flushes, 1);
        self.write_down(WriteDown::Commit)?;
        self.inner.flush()
    }

    /// Commits the stack below; a store that logs its recent windows ahead
    /// records the newest changelog offset every window logged up to it is
    /// below or expired by (see `LoggedOffsets`).
    fn commit(&mut self, changelog_offset: Option<i64>) -> Result<()> {
        let offset = match &mut self.held {
            Some(held) => held.commit_offset(changelog_offset),
            None => changelog_offset,
        };
        self.inner.commit(offset)
    }

    fn close(&mut self) -> Result<()> {
        let first_live = self.first_live();
        let written = match &mut self.held {
            Some(held) => held.write_down_to_close(first_live, self.inner.as_mut()),
            None => Ok(()),
        };
        let closed = self.inner.close();
        written.and(closed)
    }

    /// Restores a changelog batch: every key advances observed stream time;
    /// keys of segments already expired are left out, and segments expired
    /// by the batch are dropped after it. A store that retains duplicates
    /// first unpacks the records it packed many windows to (see
    /// `packed_windows`).
    fn restore(&mut self, batch: WriteBatch) -> Result<()> {
        let name = &self.codec.name;
        let batch = if self.retain_duplicates {
            packed_windows::unpack(batch, name)?
        } else {
            batch
        };
        restore_segmented(self.inner.as_mut(), &mut self.state, batch, |raw| {
            segments::parse_window_key(raw)
                .filter(|k| k.start >= 0)
                .map(|k| (k.start, k.segment))
                .ok_or_else(|| segments::malformed(name, "window", raw))
        })?;
        if let Some(held) = &mut self.held {
            held.recent_mut()
                .stored_below_until(self.state.end_of_data());
        }
        Ok(())
    }

    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }
}

/// Restores a changelog batch into a segmented store's bytes stack: every
/// key (its time and segment from `parse`) advances the observed stream
/// time; a key filed under another segment than its time's (a changelog
/// written under another retention, or corrupt) is filed under its own, so
/// the store's segments stay those of its times; keys already expired are
/// left out, and the segments the batch expires are dropped after it.
/// Shared by window and session stores.
pub(super) fn restore_segmented(
    inner: &mut dyn KeyValueBytesStore,
    state: &mut SegmentedState,
    batch: WriteBatch,
    parse: impl Fn(&[u8]) -> Result<(i64, i64)>,
) -> Result<()> {
    // Each operation's time, and its own segment if it is filed elsewhere.
    let mut parsed = Vec::with_capacity(batch.len());
    for (raw, _) in batch.ops() {
        let (time, segment) = parse(raw)?;
        let own = state.segments.id(time);
        state.observe(time, own);
        parsed.push((time, (segment != own).then_some(own)));
    }
    inner.restore(refile(batch, state, &parsed))?;
    match state.expire() {
        Some(expiry) => inner.restore(expiry),
        None => Ok(()),
    }
}

/// `batch` without the operations of segments already dropped, and with
/// every key filed under its own segment (`parsed`: each operation's time,
/// and its own segment if it is filed elsewhere); the same batch if nothing
/// is to change. Expired windows of a live segment are kept, as Kafka
/// Streams' restoration keeps them: reads do not see them, but an
/// aggregation emitting on close reads windows as they expire
/// ([`Reach::Held`]), and after a restart the restored stream time may be
/// past windows it has yet to emit.
fn refile(batch: WriteBatch, state: &SegmentedState, parsed: &[(i64, Option<i64>)]) -> WriteBatch {
    let min_live = state.min_live();
    let expired = |&(time, _): &(i64, Option<i64>)| {
        min_live.is_some_and(|live| state.segments.id(time) < live)
    };
    if !parsed.iter().any(|p| expired(p) || p.1.is_some()) {
        return batch;
    }
    let mut batch = batch;
    let mut kept = WriteBatch::new();
    for (from, to) in batch.take_range_deletes() {
        kept.delete_range(from, to);
    }
    let offset = batch.offset();
    let (ops, _) = batch.into_parts();
    for ((mut key, value), p) in ops.into_iter().zip(parsed) {
        if expired(p) {
            continue;
        }
        if let (Some(own), Some(prefix)) = (p.1, key.get_mut(..segments::PREFIX)) {
            prefix.copy_from_slice(&segments::prefix(own));
        }
        kept.write(key, value);
    }
    if let Some(o) = offset {
        kept.set_offset(o);
    }
    kept
}
