//! How a windowed aggregation over time or sliding windows keeps its
//! stream time and forwards its results: every update, or each window's
//! final result once it closes (`EmitStrategy::on_window_close`).

use crate::dsl::window::idle::IdleClose;
use crate::dsl::window::late;
use crate::dsl::Change;
use crate::error::{Error, Result};
use crate::headers::Headers;
use crate::processor::{Data, ProcessorContext};
use crate::record::Record;
use crate::store::{FlushedEntries, MeteredWindowStore, ValueAndTimestamp};
use crate::window::Windowed;

/// Which windows have closed: those starting at or before a time.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ClosedWindows {
    /// Every window whose start is at most this.
    StartingUpTo(i64),
}

/// Emitting on close, at init: up to where the node had emitted as of the
/// offsets it starts from, kept in the task's processor metadata under its
/// store's name (as Kafka Streams keeps it, KIP-825); `derived` (from the
/// store's newest timestamp) when nothing was committed there yet, and then
/// recorded for the next commit.
///
/// The store alone cannot say: under at-least-once it is restored from a
/// changelog that may be ahead of the committed offsets, so a window whose
/// final result was lost in a crash (sent, never acknowledged) would look
/// emitted, and the records processed again would not emit it again. From
/// the committed value, they do. It also keeps what idle close emitted
/// past the newest record (the store cannot show that stream time).
pub(crate) fn emitted_as_committed<KO, VO>(
    ctx: &mut dyn ProcessorContext<KO, VO>,
    store: &str,
    derived: Option<i64>,
) -> Option<i64> {
    match ctx.processor_metadata(store) {
        Some(committed) => Some(committed),
        None => {
            if let Some(done) = derived {
                ctx.set_processor_metadata(store, done);
            }
            derived
        }
    }
}

/// The stream time and emission state of one windowed aggregation node.
pub(crate) struct WindowEmit<K, VA> {
    /// The window store, of `ValueAndTimestamp<VA>` values.
    pub(crate) store: String,
    on_close: bool,
    /// The highest timestamp this node has seen (its own stream time, as
    /// in Kafka Streams: it moves only with the records it processes).
    observed: i64,
    /// Emitting on close: windows starting at or before this were emitted.
    emitted_up_to: Option<i64>,
    /// With a cache (and emitting every update): what the cache wrote down
    /// since the last drain, forwarded then (Kafka Streams forwards a
    /// cached window aggregation's updates when its cache flushes).
    flushed: Option<FlushedEntries>,
    /// The late-record router in front of the node, if there is one.
    pub(crate) late: Option<late::LateSlot>,
    /// Closing windows on an idle input, if asked.
    pub(crate) idle: Option<IdleClose>,
    /// Which windows are closed at a stream time (set at init).
    closed: fn(i64, i64, i64) -> ClosedWindows,
    /// The grace and the window length the `closed` rule takes.
    grace: i64,
    length: i64,
    _types: std::marker::PhantomData<fn() -> (K, VA)>,
}

impl<K, VA> Clone for WindowEmit<K, VA> {
    fn clone(&self) -> Self {
        let mut emit = WindowEmit::new(self.store.clone(), self.on_close);
        emit.late = self.late.clone();
        emit.idle = self.idle;
        emit
    }
}

impl<K, VA> WindowEmit<K, VA> {
    pub(crate) fn new(store: String, on_close: bool) -> Self {
        WindowEmit {
            store,
            on_close,
            observed: i64::MIN,
            emitted_up_to: None,
            flushed: None,
            late: None,
            idle: None,
            closed: |_, _, _| ClosedWindows::StartingUpTo(i64::MIN),
            grace: 0,
            length: 0,
            _types: std::marker::PhantomData,
        }
    }
}

impl<K: Data, VA: Data> WindowEmit<K, VA> {
    /// Recovers the node's stream time from its store: the newest
    /// timestamp among the windows it holds, which is the highest timestamp
    /// the node processed (every record lands in a window that keeps its
    /// timestamp, unless it was late). Kafka Streams starts again from
    /// nothing after a restart, and may then accept records its windows
    /// already refused; Weir does not. `closed` gives the windows that
    /// were closed (and, emitting on close, emitted) at that stream time.
    /// `span`: how far before the newest window start the windows holding
    /// the newest record may start (the size; twice the time difference for
    /// sliding windows). `closed(stream time, grace, length)` gives the
    /// windows closed at a stream time, for windows `length` long.
    pub(crate) fn init<KO, VO>(
        &mut self,
        ctx: &mut dyn ProcessorContext<KO, VO>,
        span: i64,
        (grace, length): (i64, i64),
        closed: fn(i64, i64, i64) -> ClosedWindows,
    ) -> Result<()> {
        self.closed = closed;
        self.grace = grace;
        self.length = length;
        let name = self.store.clone();
        let Some(store) = ctx
            .state_store(&name)?
            .downcast_mut::<MeteredWindowStore<K, ValueAndTimestamp<VA>>>()
        else {
            return Err(Error::Store {
                store: name,
                message: "not the window store the DSL built".to_string(),
            });
        };
        self.flushed = None;
        if !self.on_close {
            let flushed = FlushedEntries::default();
            let installed = store.set_flush_listener(flushed.listener());
            self.flushed = installed.then_some(flushed);
        }
        // Only the windows near the newest start can hold the newest
        // record; a store reopened from disk does not know its newest start
        // until it reads everything once.
        let entries = match store.observed_stream_time() {
            Some(newest_start) => {
                use crate::store::ReadOnlyWindowStore;
                store.fetch_all(newest_start.saturating_sub(span), newest_start)?
            }
            None => crate::store::ReadOnlyWindowStore::all(store)?,
        };
        let mut newest = i64::MIN;
        for entry in entries {
            let (_, value) = entry?;
            newest = newest.max(value.timestamp);
        }
        self.observed = newest;
        self.emitted_up_to = None;
        if newest != i64::MIN {
            let ClosedWindows::StartingUpTo(upper) = closed(newest, grace, length);
            self.emitted_up_to = Some(upper);
        }
        if self.on_close {
            self.emitted_up_to = emitted_as_committed(ctx, &self.store, self.emitted_up_to);
        }
        if let Some(idle) = &mut self.idle {
            idle.start(ctx, newest)?;
        }
        Ok(())
    }

    /// The windows closed at the node's stream time.
    pub(crate) fn closed_now(&self) -> ClosedWindows {
        (self.closed)(self.observed, self.grace, self.length)
    }

    /// Takes `timestamp` into the node's stream time; returns the new stream time.
    pub(crate) fn observe<KO, VO>(
        &mut self,
        ctx: &dyn ProcessorContext<KO, VO>,
        timestamp: i64,
    ) -> i64 {
        self.observed = self.observed.max(timestamp);
        if let Some(idle) = &mut self.idle {
            idle.saw_record(ctx.wall_clock_time(), self.observed);
        }
        self.observed
    }

    /// Idle close: at wall-clock time `now`, if the input has been idle
    /// long enough, moves the stream time on with the wall clock and emits
    /// (on close) the windows that closed.
    pub(crate) fn punctuate(
        &mut self,
        ctx: &mut dyn ProcessorContext<Windowed<K>, Change<VA>>,
        now: i64,
    ) -> Result<()> {
        let Some(stream_time) = self.idle.and_then(|idle| idle.stream_time_at(now)) else {
            return Ok(());
        };
        if stream_time <= self.observed {
            return Ok(());
        }
        self.observed = stream_time;
        let closed = self.closed_now();
        self.emit_closed(ctx, closed, &Headers::new())
    }

    /// Drops a record without a key, as Kafka Streams does.
    pub(crate) fn drop_null_key<KO, VO>(
        &self,
        ctx: &mut dyn ProcessorContext<KO, VO>,
    ) -> Result<()> {
        late::drop_null_key(ctx)
    }

    /// Emitting on close: forwards the final result of every window that
    /// closed since the last call, ordered by window start (then key), each
    /// stamped with its newest record's timestamp and carrying `headers`
    /// (the record that closed it), as Kafka Streams does.
    pub(crate) fn emit_closed(
        &mut self,
        ctx: &mut dyn ProcessorContext<Windowed<K>, Change<VA>>,
        closed: ClosedWindows,
        headers: &Headers,
    ) -> Result<()> {
        if !self.on_close {
            return Ok(());
        }
        let ClosedWindows::StartingUpTo(upper) = closed;
        let lower = match self.emitted_up_to {
            Some(done) => done.saturating_add(1),
            None => {
                // Nothing emitted yet (windows start at 0 or later): recorded,
                // so that a restart from these offsets does not take the
                // windows its restored store holds for emitted.
                self.emitted_up_to = Some(-1);
                ctx.set_processor_metadata(&self.store, -1);
                0
            }
        };
        if upper < lower {
            return Ok(());
        }
        let name = self.store.clone();
        let store = ctx
            .state_store(&name)?
            .as_store::<MeteredWindowStore<K, ValueAndTimestamp<VA>>>()?;
        let mut closed: Vec<(Windowed<K>, ValueAndTimestamp<VA>)> =
            store.fetch_all_held(lower, upper)?.collect::<Result<_>>()?;
        // Kafka Streams reads closed windows from a time-ordered store.
        closed.sort_by_key(|(k, _)| k.window().start());
        for (key, value) in closed {
            ctx.forward(Record::from_parts(
                Some(key),
                Some(Change::new(Some(value.value), None)),
                value.timestamp,
                headers.clone(),
            ))?;
        }
        self.emitted_up_to = Some(upper);
        ctx.set_processor_metadata(&self.store, upper);
        Ok(())
    }

    /// Drops a record too late for `window`.
    pub(crate) fn drop_late<KO, VO>(
        &self,
        ctx: &mut dyn ProcessorContext<KO, VO>,
        timestamp: i64,
        window: crate::window::Window,
        close_time: i64,
    ) -> Result<()> {
        late::drop_late(
            ctx,
            self.late.as_ref(),
            timestamp,
            window,
            close_time,
            self.observed,
        )
    }

    /// Forwards an update of a window, unless results wait for the close;
    /// with a cache, forwards what the cache wrote down instead.
    pub(crate) fn updated(
        &mut self,
        ctx: &mut dyn ProcessorContext<Windowed<K>, Change<VA>>,
        key: Windowed<K>,
        change: Change<VA>,
        timestamp: i64,
        headers: &Headers,
    ) -> Result<()> {
        if let Some(slot) = &self.late {
            slot.aggregated(ctx.task_id());
        }
        if self.on_close {
            return Ok(());
        }
        if self.flushed.is_some() {
            return self.drain(ctx);
        }
        ctx.forward(Record::from_parts(
            Some(key),
            Some(change),
            timestamp,
            headers.clone(),
        ))
    }

    /// Forwards what the cache wrote down since the last call, each entry
    /// stamped with the timestamp its value keeps.
    fn drain(&mut self, ctx: &mut dyn ProcessorContext<Windowed<K>, Change<VA>>) -> Result<()> {
        let Some(flushed) = &self.flushed else {
            return Ok(());
        };
        let entries = flushed.take();
        if entries.is_empty() {
            return Ok(());
        }
        let name = self.store.clone();
        let mut decoded = Vec::with_capacity(entries.len());
        {
            let store = ctx
                .state_store(&name)?
                .as_store::<MeteredWindowStore<K, ValueAndTimestamp<VA>>>()?;
            for entry in &entries {
                decoded.push(store.decode_flushed(entry)?);
            }
        }
        for (key, new, old) in decoded {
            let timestamp = match (&new, &old) {
                (Some(v), _) | (None, Some(v)) => v.timestamp,
                (None, None) => continue,
            };
            let change = Change::new(new.map(|v| v.value), old.map(|v| v.value));
            ctx.forward(Record::from_parts(
                Some(key),
                Some(change),
                timestamp,
                Headers::new(),
            ))?;
        }
        Ok(())
    }

    /// Flushes the store's cache and forwards what it wrote down.
    pub(crate) fn flush(
        &mut self,
        ctx: &mut dyn ProcessorContext<Windowed<K>, Change<VA>>,
    ) -> Result<()> {
        if self.flushed.is_none() {
            return Ok(());
        }
        ctx.state_store(&self.store)?.flush()?;
        self.drain(ctx)
    }
}
