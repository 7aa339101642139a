//! The processors of a stream-stream join (Kafka Streams'
//! `KStreamJoinWindow` and `KStreamKStreamJoin{Left,Right}Side`).
//!
//! Each side has two nodes: a *windowed* node that writes the side's
//! records into its window store, and a *join* node that looks the record
//! up in the other side's store and forwards the joined results. For a
//! left or outer join, a record that found no partner goes to the store
//! both sides share (see [`stream_stream_outer`](super::stream_stream_outer))
//! and is forwarded, joined with `None`, once its window has closed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use super::stream_stream_outer::{OuterKey, Side};
use super::windows::JoinWindows;
use crate::error::Result;
use crate::headers::Headers;
use crate::processor::{Data, Processor, ProcessorContext};
use crate::record::Record;
use crate::store::KeyValueStore;
use crate::task::TaskId;

/// The user's joiner, by kind of join. `apply` takes the left and the right
/// value; `None` when the kind of join cannot be called with what is
/// missing (which the join nodes never ask for).
pub(crate) enum JoinFn<V1, V2, VR> {
    Inner(InnerFn<V1, V2, VR>),
    Left(LeftFn<V1, V2, VR>),
    Outer(OuterFn<V1, V2, VR>),
}

/// An inner join's joiner.
pub(crate) type InnerFn<V1, V2, VR> = Arc<dyn Fn(&V1, &V2) -> VR + Send + Sync>;
/// A left join's joiner.
pub(crate) type LeftFn<V1, V2, VR> = Arc<dyn Fn(&V1, Option<&V2>) -> VR + Send + Sync>;
/// An outer join's joiner.
pub(crate) type OuterFn<V1, V2, VR> = Arc<dyn Fn(Option<&V1>, Option<&V2>) -> VR + Send + Sync>;

/// Entries of the shared store: a key and the records waiting under it.
type Waiting<K, V1, V2> = Vec<(OuterKey<K>, Vec<Side<V1, V2>>)>;

impl<V1, V2, VR> Clone for JoinFn<V1, V2, VR> {
    fn clone(&self) -> Self {
        match self {
            JoinFn::Inner(f) => JoinFn::Inner(f.clone()),
            JoinFn::Left(f) => JoinFn::Left(f.clone()),
            JoinFn::Outer(f) => JoinFn::Outer(f.clone()),
        }
    }
}

impl<V1, V2, VR> JoinFn<V1, V2, VR> {
    pub(crate) fn apply(&self, left: Option<&V1>, right: Option<&V2>) -> Option<VR> {
        match self {
            JoinFn::Inner(f) => Some(f(left?, right?)),
            JoinFn::Left(f) => Some(f(left?, right)),
            JoinFn::Outer(f) => Some(f(left, right)),
        }
    }
}

/// The time both join nodes of a task share (Kafka Streams'
/// `TimeTracker`): the highest timestamp either side has seen, and a lower
/// bound of the timestamps in the shared store (`i64::MAX` when empty).
#[derive(Debug)]
pub(crate) struct Tracker {
    stream_time: i64,
    min_time: i64,
}

/// The trackers of one join, per task.
#[derive(Debug, Clone, Default)]
pub(crate) struct SharedTrackers(Arc<Mutex<HashMap<TaskId, Arc<Mutex<Tracker>>>>>);

impl SharedTrackers {
    fn get(&self, task: TaskId) -> Arc<Mutex<Tracker>> {
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        map.entry(task)
            .or_insert_with(|| {
                Arc::new(Mutex::new(Tracker {
                    stream_time: -1,
                    min_time: i64::MAX,
                }))
            })
            .clone()
    }

    fn remove(&self, task: TaskId) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&task);
    }
}

fn lock(tracker: &Mutex<Tracker>) -> std::sync::MutexGuard<'_, Tracker> {
    tracker.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Writes each record with a key into the side's window store (Kafka
/// Streams' `KStreamJoinWindow`) and forwards every record to the side's
/// join node. A put the store drops because the record is older than its
/// retention counts in the task's `dropped-records`, as in Kafka Streams.
pub(crate) struct JoinWindow {
    pub(crate) store: String,
}

impl<K: Data, V: Data> Processor<K, V> for JoinWindow {
    fn process(
        &mut self,
        ctx: &mut dyn ProcessorContext<K, V>,
        record: Record<K, V>,
    ) -> Result<()> {
        // Writing before forwarding is the same as Kafka Streams' forward
        // first: the join node behind reads the other side's store only.
        if let (Some(key), Some(value)) = (&record.key, &record.value) {
            if record.timestamp >= 0 {
                let store = ctx.window_store::<K, V>(&self.store)?;
                let expired = store.expired_puts();
                store.put(key, Some(value), record.timestamp)?;
                if store.expired_puts() > expired {
                    tracing::warn!(
                        store = %self.store,
                        timestamp = record.timestamp,
                        "skipping a record older than the join store's retention"
                    );
                    ctx.record_dropped();
                }
            }
        }
        ctx.forward(record)
    }
}

/// One side's join node (`VT` this side's values, `VO` the other's;
/// `V1`/`V2` the left's and the right's).
pub(crate) struct JoinSide<K, VT, VO, V1, V2, VR> {
    /// Whether this is the left side.
    pub(crate) left: bool,
    /// Whether this side's unmatched records are forwarded with `None`.
    pub(crate) outer: bool,
    pub(crate) windows: JoinWindows,
    /// The other side's window store.
    pub(crate) other_store: String,
    /// The shared store of a left or outer join.
    pub(crate) outer_store: Option<String>,
    pub(crate) joiner: JoinFn<V1, V2, VR>,
    /// Calls `joiner` with this side's and the other side's value.
    pub(crate) join: JoinThese<VT, VO, V1, V2, VR>,
    /// This side's value as a shared-store entry.
    pub(crate) to_side: fn(VT) -> Side<V1, V2>,
    pub(crate) trackers: SharedTrackers,
    /// This task's tracker, from `init`.
    pub(crate) tracker: Option<Arc<Mutex<Tracker>>>,
    /// Whether the shared store's oldest entry has been read since `init`.
    pub(crate) primed: bool,
    /// The other side's matches of the record being processed (reused).
    pub(crate) matches: Vec<(i64, VO)>,
    pub(crate) _types: std::marker::PhantomData<fn() -> (K, VT)>,
}

/// Calls a joiner with the value of one side (`this`) and of the other.
pub(crate) type JoinThese<VT, VO, V1, V2, VR> =
    fn(&JoinFn<V1, V2, VR>, Option<&VT>, Option<&VO>) -> Option<VR>;

type OuterStore<'a, K, V1, V2> = &'a mut dyn KeyValueStore<OuterKey<K>, Vec<Side<V1, V2>>>;

impl<K, VT, VO, V1, V2, VR> JoinSide<K, VT, VO, V1, V2, VR>
where
    K: Data,
    VT: Data,
    VO: Data,
    V1: Data,
    V2: Data,
    VR: Data,
{
    /// How far before this side's record the other side's records match.
    fn before(&self) -> i64 {
        if self.left {
            self.windows.before_ms()
        } else {
            self.windows.after_ms()
        }
    }

    /// How far after this side's record the other side's records match.
    fn after(&self) -> i64 {
        if self.left {
            self.windows.after_ms()
        } else {
            self.windows.before_ms()
        }
    }

    fn tracker(&self) -> Result<&Arc<Mutex<Tracker>>> {
        self.tracker.as_ref().ok_or_else(|| {
            crate::error::Error::Topology("a stream-stream join node ran before init".into())
        })
    }

    fn outer_store<'c>(
        ctx: &'c mut dyn ProcessorContext<K, VR>,
        name: &str,
    ) -> Result<OuterStore<'c, K, V1, V2>> {
        ctx.key_value_store::<OuterKey<K>, Vec<Side<V1, V2>>>(name)
    }

    /// After a restart the tracker starts empty: take the oldest record the
    /// shared store kept as the lower bound, so its window closes on time.
    fn prime(&mut self, ctx: &mut dyn ProcessorContext<K, VR>) -> Result<()> {
        self.primed = true;
        let Some(name) = &self.outer_store else {
            return Ok(());
        };
        let first = match Self::outer_store(ctx, name)?.all()?.next() {
            Some(entry) => Some(entry?.0.timestamp),
            None => None,
        };
        if let Some(oldest) = first {
            let mut t = lock(self.tracker()?);
            t.min_time = t.min_time.min(oldest);
        }
        Ok(())
    }

    /// Forwards, joined with `None`, the shared store's records whose
    /// window has closed, oldest first, and removes them (Kafka Streams'
    /// `emitNonJoinedOuterRecords`, checked at every record that does not
    /// move stream time backwards, with no wall-clock throttle).
    fn emit_non_joined(
        &mut self,
        ctx: &mut dyn ProcessorContext<K, VR>,
        store: &str,
        headers: &Headers,
    ) -> Result<()> {
        let tracker = self.tracker()?.clone();
        let mut t = lock(&tracker);
        // Java's long arithmetic wraps: an empty store (min time MAX)
        // scans whenever after + grace > 0, as in Kafka Streams.
        let grace = self.windows.grace_ms();
        if t.min_time.wrapping_add(self.after()).wrapping_add(grace) >= t.stream_time {
            return Ok(());
        }
        t.min_time = i64::MAX;
        let mut closed: Waiting<K, V1, V2> = Vec::new();
        {
            let outer = Self::outer_store(ctx, store)?;
            let (mut left_open, mut right_open) = (false, false);
            for entry in outer.all()? {
                let (key, values) = entry?;
                t.min_time = key.timestamp;
                if left_open && right_open {
                    break;
                }
                let look_back = if key.left {
                    self.windows.after_ms()
                } else {
                    self.windows.before_ms()
                };
                if t.min_time.wrapping_add(look_back).wrapping_add(grace) >= t.stream_time {
                    if key.left {
                        left_open = true;
                    } else {
                        right_open = true;
                    }
                    continue;
                }
                closed.push((key, values));
            }
        }
        drop(t);
        for (key, values) in closed {
            for value in &values {
                let joined = match value {
                    Side::Left(v) => self.joiner.apply(Some(v), None),
                    Side::Right(v) => self.joiner.apply(None, Some(v)),
                };
                if let Some(joined) = joined {
                    ctx.forward(Record::from_parts(
                        Some(key.key.clone()),
                        Some(joined),
                        key.timestamp,
                        headers.clone(),
                    ))?;
                }
            }
            Self::outer_store(ctx, store)?.delete(&key)?;
        }
        Ok(())
    }
}

impl<K, VT, VO, V1, V2, VR> Processor<K, VT, K, VR> for JoinSide<K, VT, VO, V1, V2, VR>
where
    K: Data,
    VT: Data,
    VO: Data,
    V1: Data,
    V2: Data,
    VR: Data,
{
    fn init(&mut self, ctx: &mut dyn ProcessorContext<K, VR>) -> Result<()> {
        self.tracker = Some(self.trackers.get(ctx.task_id()));
        self.primed = false;
        Ok(())
    }

    fn process(
        &mut self,
        ctx: &mut dyn ProcessorContext<K, VR>,
        record: Record<K, VT>,
    ) -> Result<()> {
        if !self.primed {
            self.prime(ctx)?;
        }
        let ts = record.timestamp;
        let stream_time = {
            let mut t = lock(self.tracker()?);
            t.stream_time = t.stream_time.max(ts);
            t.stream_time
        };
        let Record {
            key,
            value,
            timestamp,
            headers,
        } = record;
        let (key, value) = match (key, value) {
            (Some(key), Some(value)) => (key, value),
            (None, Some(value)) if self.outer => {
                // A record without a key joins nothing: a left or outer
                // join forwards it at once (KIP-962).
                let joined = (self.join)(&self.joiner, Some(&value), None);
                if let Some(joined) = joined {
                    ctx.forward(Record::from_parts(None, Some(joined), timestamp, headers))?;
                }
                return Ok(());
            }
            _ => {
                tracing::warn!(
                    node = ctx.node_name(),
                    "skipping a record with a null key or value"
                );
                ctx.record_dropped();
                return Ok(());
            }
        };
        if ts == stream_time {
            // Taken out for the call, not cloned: no allocation per record.
            if let Some(store) = self.outer_store.take() {
                let emitted = self.emit_non_joined(ctx, &store, &headers);
                self.outer_store = Some(store);
                emitted?;
            }
        }
        let from = ts.saturating_sub(self.before()).max(0);
        let to = ts.saturating_add(self.after()).max(0);
        let mut matches = std::mem::take(&mut self.matches);
        matches.clear();
        {
            let other = ctx.window_store::<K, VO>(&self.other_store)?;
            for found in other.fetch_range(&key, from, to)? {
                matches.push(found?);
            }
        }
        let need_outer = self.outer && matches.is_empty();
        for (other_ts, other_value) in &matches {
            if let Some(store) = &self.outer_store {
                let partner = OuterKey {
                    timestamp: *other_ts,
                    left: !self.left,
                    key: key.clone(),
                };
                let outer = Self::outer_store(ctx, store)?;
                if outer.get(&partner)?.is_some() {
                    outer.delete(&partner)?;
                }
            }
            let joined = (self.join)(&self.joiner, Some(&value), Some(other_value));
            if let Some(joined) = joined {
                ctx.forward(Record::from_parts(
                    Some(key.clone()),
                    Some(joined),
                    ts.max(*other_ts),
                    headers.clone(),
                ))?;
            }
        }
        self.matches = matches;
        if need_outer {
            match &self.outer_store {
                Some(store) if to >= stream_time => {
                    {
                        let mut t = lock(self.tracker()?);
                        t.min_time = t.min_time.min(ts);
                    }
                    let side = (self.to_side)(value);
                    let outer = Self::outer_store(ctx, store)?;
                    let waiting = OuterKey {
                        timestamp: ts,
                        left: self.left,
                        key,
                    };
                    let mut values = outer.get(&waiting)?.unwrap_or_default();
                    values.push(side);
                    outer.put(&waiting, &values)?;
                }
                _ => {
                    // No shared store, or a record whose window closed
                    // already (it arrived out of order): forward it now.
                    let joined = (self.join)(&self.joiner, Some(&value), None);
                    if let Some(joined) = joined {
                        ctx.forward(Record::from_parts(Some(key), Some(joined), ts, headers))?;
                    }
                }
            }
        }
        Ok(())
    }

    fn close(&mut self, ctx: &mut dyn ProcessorContext<K, VR>) -> Result<()> {
        self.trackers.remove(ctx.task_id());
        self.tracker = None;
        Ok(())
    }
}
