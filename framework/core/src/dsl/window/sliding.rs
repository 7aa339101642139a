//! The aggregation of sliding windows: Kafka Streams'
//! `KStreamSlidingWindowAggregate`, as it runs over stores that iterate
//! backwards (every Weir store does).

use std::collections::HashSet;
use std::sync::Arc;

use crate::dsl::window::emit::{ClosedWindows, WindowEmit};
use crate::dsl::window::spec::SlidingWindows;
use crate::dsl::Change;
use crate::error::Result;
use crate::headers::Headers;
use crate::processor::{Data, Processor, ProcessorContext};
use crate::record::Record;
use crate::store::ValueAndTimestamp;
use crate::window::{Window, Windowed};

/// Keeps, for each key, the windows `[t - d, t]` ending at a record and
/// `[t + 1, t + 1 + d]` starting right after one (when a later record
/// falls in it): every distinct set of records within `d` of each other.
pub(crate) struct SlidingWindowAggregate<K, VA, F> {
    pub(crate) emit: WindowEmit<K, VA>,
    pub(crate) windows: SlidingWindows,
    pub(crate) step: Arc<F>,
}

type Ctx<'a, K, VA> = dyn ProcessorContext<Windowed<K>, Change<VA>> + 'a;

/// The record being aggregated.
struct Input<'r, K, V> {
    key: &'r K,
    value: V,
    timestamp: i64,
    headers: &'r Headers,
    close_time: i64,
}

/// What the scan of a key's windows around a record found.
struct Found<VA> {
    starts: HashSet<i64>,
    left: Option<ValueAndTimestamp<VA>>,
    right: Option<ValueAndTimestamp<VA>>,
    left_exists: bool,
    right_exists: bool,
    previous: Option<i64>,
}

impl<VA> Default for Found<VA> {
    fn default() -> Self {
        Found {
            starts: HashSet::new(),
            left: None,
            right: None,
            left_exists: false,
            right_exists: false,
            previous: None,
        }
    }
}

impl<K: Data, V: Data, VA: Data, F> Processor<K, V, Windowed<K>, Change<VA>>
    for SlidingWindowAggregate<K, VA, F>
where
    F: Fn(&K, V, Option<VA>) -> VA + Send + Sync,
{
    fn init(&mut self, ctx: &mut Ctx<'_, K, VA>) -> Result<()> {
        let (d, grace) = (self.windows.time_difference_ms(), self.windows.grace_ms());
        self.emit.init(
            ctx,
            d.saturating_mul(2),
            (grace, d),
            |stream_time, grace, d| {
                ClosedWindows::StartingUpTo(closed_up_to(stream_time.saturating_sub(grace), d))
            },
        )
    }

    fn punctuate(
        &mut self,
        ctx: &mut Ctx<'_, K, VA>,
        punctuation: crate::processor::Punctuation,
    ) -> Result<()> {
        self.emit.punctuate(ctx, punctuation.timestamp)
    }

    fn flush(&mut self, ctx: &mut Ctx<'_, K, VA>) -> Result<()> {
        self.emit.flush(ctx)
    }

    fn process(&mut self, ctx: &mut Ctx<'_, K, VA>, record: Record<K, V>) -> Result<()> {
        let Some(key) = record.key else {
            return self.emit.drop_null_key(ctx);
        };
        let d = self.windows.time_difference_ms();
        let timestamp = record.timestamp;
        let close_time = self
            .emit
            .observe(ctx, timestamp)
            .saturating_sub(self.windows.grace_ms());
        let closed = self.emit.closed_now();
        self.emit.emit_closed(ctx, closed, &record.headers)?;
        let Some(value) = record.value else {
            return Ok(());
        };
        let end = timestamp.saturating_add(d);
        if end < close_time {
            let window = Window::new(timestamp, end);
            return self.emit.drop_late(ctx, timestamp, window, close_time);
        }
        let input = Input {
            key: &key,
            value,
            timestamp,
            headers: &record.headers,
            close_time,
        };
        if timestamp < d {
            self.process_early(ctx, input)
        } else {
            self.process_backward(ctx, input)
        }
    }
}

/// The last start of a sliding window (both ends inclusive, `d` long) that
/// is closed when windows ending before `close_time` are.
fn closed_up_to(close_time: i64, d: i64) -> i64 {
    close_time.saturating_sub(d).saturating_sub(1)
}

impl<K: Data, VA: Data, F> SlidingWindowAggregate<K, VA, F> {
    fn window(&self, start: i64) -> Window {
        Window::new(
            start,
            start.saturating_add(self.windows.time_difference_ms()),
        )
    }

    /// The windows of `key` starting in `[from, to]`, descending or not.
    fn scan(
        &self,
        ctx: &mut Ctx<'_, K, VA>,
        key: &K,
        from: i64,
        to: i64,
        backward: bool,
    ) -> Result<Vec<(i64, ValueAndTimestamp<VA>)>> {
        let store = ctx.window_store::<K, ValueAndTimestamp<VA>>(&self.emit.store)?;
        let iter = if backward {
            store.backward_fetch_range(key, from, to)?
        } else {
            store.fetch_range(key, from, to)?
        };
        iter.collect()
    }

    /// A record at or after `d`: scans the key's windows from the newest.
    fn process_backward<V>(
        &mut self,
        ctx: &mut Ctx<'_, K, VA>,
        input: Input<'_, K, V>,
    ) -> Result<()>
    where
        F: Fn(&K, V, Option<VA>) -> VA,
        V: Clone,
    {
        let d = self.windows.time_difference_ms();
        let ts = input.timestamp;
        let from = ts.saturating_sub(d.saturating_mul(2)).max(0);
        let mut found = Found::default();
        for (start, agg) in self.scan(ctx, input.key, from, ts.saturating_add(1), true)? {
            found.starts.insert(start);
            let end = start.saturating_add(d);
            let newest = agg.timestamp;
            if start == ts.saturating_add(1) {
                found.right_exists = true;
            } else if end > ts {
                if found.right.is_none() {
                    found.right = Some(agg.clone());
                }
                self.update(ctx, &input, self.window(start), Some(agg), true)?;
            } else if end == ts {
                found.left_exists = true;
                self.update(ctx, &input, self.window(start), Some(agg), true)?;
                if newest < ts {
                    found.previous = Some(newest);
                } else {
                    // Every window this record makes already exists.
                    return Ok(());
                }
            } else {
                found.left = Some(agg);
                found.previous = Some(newest);
                break;
            }
        }
        self.create_windows(ctx, &input, found)
    }

    /// A record before `d`: it belongs to the window `[0, d]` that all
    /// early records share, and maybe to right windows of earlier ones.
    fn process_early<V>(&mut self, ctx: &mut Ctx<'_, K, VA>, input: Input<'_, K, V>) -> Result<()>
    where
        F: Fn(&K, V, Option<VA>) -> VA,
        V: Clone,
    {
        let ts = input.timestamp;
        let mut combined: Option<ValueAndTimestamp<VA>> = None;
        let mut found = Found::default();
        for (start, agg) in self.scan(ctx, input.key, 0, ts.saturating_add(1), false)? {
            found.starts.insert(start);
            if start == 0 {
                if agg.timestamp < ts {
                    found.previous = Some(agg.timestamp);
                }
                combined = Some(agg);
            } else if start <= ts {
                found.right = Some(agg.clone());
                self.update(ctx, &input, self.window(start), Some(agg), true)?;
            } else if start == ts.saturating_add(1) {
                found.right_exists = true;
            }
        }
        if found.right.is_none() {
            found.right = combined.clone().filter(|c| c.timestamp > ts);
        }
        if !found.right_exists {
            self.create_right_window(ctx, &input, found.right.take())?;
        }
        if let Some(previous) = found.previous {
            let start = previous.saturating_add(1);
            if !found.starts.contains(&start) {
                self.update(ctx, &input, self.window(start), None, false)?;
            }
        }
        let exists = combined.is_some();
        self.update(ctx, &input, self.window(0), combined, exists)
    }

    /// Creates the windows the record makes that the scan did not find:
    /// the previous record's right window (if this record falls in it),
    /// this record's left window, and its right window (if a later record
    /// falls in it).
    fn create_windows<V>(
        &mut self,
        ctx: &mut Ctx<'_, K, VA>,
        input: &Input<'_, K, V>,
        found: Found<VA>,
    ) -> Result<()>
    where
        F: Fn(&K, V, Option<VA>) -> VA,
        V: Clone,
    {
        let d = self.windows.time_difference_ms();
        let ts = input.timestamp;
        if let Some(previous) = found.previous {
            let start = previous.saturating_add(1);
            if !found.starts.contains(&start) && start.saturating_add(d) >= ts {
                self.update(ctx, input, self.window(start), None, false)?;
            }
        }
        if !found.left_exists {
            let left_not_empty = found
                .previous
                .is_some_and(|previous| ts.saturating_sub(d) <= previous);
            let base = found
                .left
                .filter(|_| left_not_empty)
                .map(|agg| ValueAndTimestamp::new(agg.value, ts));
            let start = ts.saturating_sub(d);
            self.update(ctx, input, Window::new(start, ts), base, false)?;
        }
        if !found.right_exists {
            self.create_right_window(ctx, input, found.right)?;
        }
        Ok(())
    }

    /// Writes the record's right window `[ts + 1, ts + 1 + d]` holding
    /// `right` (the records after it within `d`), if there are any.
    fn create_right_window<V>(
        &mut self,
        ctx: &mut Ctx<'_, K, VA>,
        input: &Input<'_, K, V>,
        right: Option<ValueAndTimestamp<VA>>,
    ) -> Result<()> {
        let ts = input.timestamp;
        let Some(right) = right.filter(|r| r.timestamp > ts) else {
            return Ok(());
        };
        let window = self.window(ts.saturating_add(1));
        let store = ctx.window_store::<K, ValueAndTimestamp<VA>>(&self.emit.store)?;
        store.put(input.key, Some(&right), window.start())?;
        self.emit.updated(
            ctx,
            Windowed::new(input.key.clone(), window),
            Change::new(Some(right.value), None),
            right.timestamp,
            input.headers,
        )
    }

    /// Folds the record into `window`, whose aggregate so far is `base`
    /// (`existed`: the window is in the store), if the window is still
    /// open; forwards the update.
    fn update<V>(
        &mut self,
        ctx: &mut Ctx<'_, K, VA>,
        input: &Input<'_, K, V>,
        window: Window,
        base: Option<ValueAndTimestamp<VA>>,
        existed: bool,
    ) -> Result<()>
    where
        F: Fn(&K, V, Option<VA>) -> VA,
        V: Clone,
    {
        let ts = input.timestamp;
        if window.end() < input.close_time {
            return self.emit.drop_late(ctx, ts, window, input.close_time);
        }
        let (base, new_timestamp) = match base {
            Some(agg) => (Some(agg.value), ts.max(agg.timestamp)),
            None => (None, ts),
        };
        let old = if existed { base.clone() } else { None };
        let new = (self.step)(input.key, input.value.clone(), base);
        let store = ctx.window_store::<K, ValueAndTimestamp<VA>>(&self.emit.store)?;
        store.put(
            input.key,
            Some(&ValueAndTimestamp::new(new.clone(), new_timestamp)),
            window.start(),
        )?;
        self.emit.updated(
            ctx,
            Windowed::new(input.key.clone(), window),
            Change::new(Some(new), old),
            new_timestamp,
            input.headers,
        )
    }
}
