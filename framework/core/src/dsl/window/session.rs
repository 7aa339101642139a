//! The aggregation of session windows: Kafka Streams'
//! `KStreamSessionWindowAggregate`.

use std::sync::Arc;

use crate::dsl::window::emit::emitted_as_committed;
use crate::dsl::window::idle::IdleClose;
use crate::dsl::window::late::{drop_late, drop_null_key, LateSlot};
use crate::dsl::window::spec::SessionWindows;
use crate::dsl::Change;
use crate::error::{Error, Result};
use crate::headers::Headers;
use crate::processor::{Data, Processor, ProcessorContext};
use crate::record::Record;
use crate::store::{FlushedEntries, MeteredSessionStore, ReadOnlySessionStore};
use crate::window::{Window, Windowed};

type Ctx<'a, K, VA> = dyn ProcessorContext<Windowed<K>, Change<VA>> + 'a;

/// Merges each record with every session of its key within the inactivity
/// gap into one session, in the session store `store`. Forwards the
/// sessions merged away as deletes and the merged session as an update,
/// each stamped with its session's end; or, emitting on window close, each
/// session's final value once it closes.
pub(crate) struct SessionWindowAggregate<K, VA, F, M> {
    pub(crate) store: String,
    pub(crate) windows: SessionWindows,
    pub(crate) on_close: bool,
    pub(crate) step: Arc<F>,
    pub(crate) merge: Arc<M>,
    /// The node's stream time (moves only with its records).
    pub(crate) observed: i64,
    /// Emitting on close: sessions ending at or before this were emitted.
    pub(crate) emitted_up_to: Option<i64>,
    /// With a cache (and emitting every update): what the cache wrote down
    /// since the last drain.
    pub(crate) flushed: Option<FlushedEntries>,
    /// The late-record router in front of the node, if there is one.
    pub(crate) late: Option<LateSlot>,
    /// Closing sessions on an idle input, if asked.
    pub(crate) idle: Option<IdleClose>,
    pub(crate) _types: std::marker::PhantomData<fn() -> (K, VA)>,
}

impl<K: Data, V: Data, VA: Data, F, M> Processor<K, V, Windowed<K>, Change<VA>>
    for SessionWindowAggregate<K, VA, F, M>
where
    F: Fn(&K, V, Option<VA>) -> VA + Send + Sync,
    M: Fn(&K, Option<VA>, VA) -> VA + Send + Sync,
{
    /// Recovers the node's stream time from its store: the newest session
    /// end is the highest timestamp it processed (see the time windows'
    /// recovery).
    fn init(&mut self, ctx: &mut Ctx<'_, K, VA>) -> Result<()> {
        let name = self.store.clone();
        let Some(store) = ctx
            .state_store(&name)?
            .downcast_mut::<MeteredSessionStore<K, VA>>()
        else {
            return Err(Error::Store {
                store: name,
                message: "not the session store the DSL built".to_string(),
            });
        };
        self.flushed = None;
        if !self.on_close {
            let flushed = FlushedEntries::default();
            let installed = store.set_flush_listener(flushed.listener());
            self.flushed = installed.then_some(flushed);
        }
        // The newest session end is the newest timestamp; a store reopened
        // from disk learns it by reading everything once.
        let newest = match store.observed_stream_time() {
            Some(end) => end,
            None => {
                let mut newest = i64::MIN;
                for entry in store.find_sessions_in_key_range(None, None, i64::MIN, i64::MAX)? {
                    let (session, _) = entry?;
                    newest = newest.max(session.window().end());
                }
                newest
            }
        };
        self.observed = newest;
        self.emitted_up_to = None;
        if newest != i64::MIN {
            self.emitted_up_to = Some(self.close_time(newest).saturating_sub(1));
        }
        if self.on_close {
            self.emitted_up_to = emitted_as_committed(ctx, &self.store, self.emitted_up_to);
        }
        if let Some(idle) = &mut self.idle {
            idle.start(ctx, newest)?;
        }
        Ok(())
    }

    /// Idle close: moves the stream time on with the wall clock once the
    /// input has been idle long enough, and emits (on close) what closed.
    fn punctuate(
        &mut self,
        ctx: &mut Ctx<'_, K, VA>,
        punctuation: crate::processor::Punctuation,
    ) -> Result<()> {
        let now = punctuation.timestamp;
        let Some(stream_time) = self.idle.and_then(|idle| idle.stream_time_at(now)) else {
            return Ok(());
        };
        if stream_time <= self.observed {
            return Ok(());
        }
        self.observed = stream_time;
        let close_time = self.close_time(stream_time);
        self.emit_closed(ctx, close_time, &Headers::new())
    }

    fn flush(&mut self, ctx: &mut Ctx<'_, K, VA>) -> Result<()> {
        if self.flushed.is_none() {
            return Ok(());
        }
        ctx.state_store(&self.store)?.flush()?;
        self.drain(ctx)
    }

    fn process(&mut self, ctx: &mut Ctx<'_, K, VA>, record: Record<K, V>) -> Result<()> {
        let Some(key) = record.key else {
            return drop_null_key(ctx);
        };
        let ts = record.timestamp;
        self.observed = self.observed.max(ts);
        if let Some(idle) = &mut self.idle {
            idle.saw_record(ctx.wall_clock_time(), self.observed);
        }
        let close_time = self.close_time(self.observed);
        // Sessions that close now are emitted before this record merges:
        // a merge never takes a session that closed before it.
        self.emit_closed(ctx, close_time, &record.headers)?;
        let Some(value) = record.value else {
            return Ok(());
        };
        let gap = self.windows.inactivity_gap_ms();
        let store = ctx.session_store::<K, VA>(&self.store)?;
        let overlapping: Vec<(Windowed<K>, VA)> = store
            .find_sessions(&key, ts.saturating_sub(gap), ts.saturating_add(gap))?
            .collect::<Result<_>>()?;
        let mut merged = Window::new(ts, ts);
        let mut agg: Option<VA> = None;
        for (session, value) in &overlapping {
            agg = Some((self.merge)(&key, agg, value.clone()));
            let w = session.window();
            merged = Window::new(merged.start().min(w.start()), merged.end().max(w.end()));
        }
        if merged.end() < close_time {
            return drop_late(
                ctx,
                self.late.as_ref(),
                ts,
                merged,
                close_time,
                self.observed,
            );
        }
        if merged != Window::new(ts, ts) {
            for (session, value) in overlapping {
                ctx.session_store::<K, VA>(&self.store)?.remove(&session)?;
                let end = session.window().end();
                self.forward(ctx, session, Change::new(None, Some(value)), end, None)?;
            }
        }
        if let Some(slot) = &self.late {
            slot.aggregated(ctx.task_id());
        }
        let agg = (self.step)(&key, value, agg);
        let session = Windowed::new(key, merged);
        ctx.session_store::<K, VA>(&self.store)?
            .put(&session, &agg)?;
        self.forward(
            ctx,
            session,
            Change::new(Some(agg), None),
            merged.end(),
            None,
        )
    }
}

impl<K: Data, VA: Data, F, M> SessionWindowAggregate<K, VA, F, M> {
    /// Sessions ending before this no longer accept records.
    fn close_time(&self, stream_time: i64) -> i64 {
        stream_time
            .saturating_sub(self.windows.grace_ms())
            .saturating_sub(self.windows.inactivity_gap_ms())
    }

    /// Forwards an update, unless results wait for the close; with a
    /// cache, forwards what the cache wrote down instead.
    fn forward(
        &mut self,
        ctx: &mut Ctx<'_, K, VA>,
        session: Windowed<K>,
        change: Change<VA>,
        timestamp: i64,
        headers: Option<&Headers>,
    ) -> Result<()> {
        if self.on_close {
            return Ok(());
        }
        if self.flushed.is_some() {
            return self.drain(ctx);
        }
        ctx.forward(Record::from_parts(
            Some(session),
            Some(change),
            timestamp,
            headers.cloned().unwrap_or_default(),
        ))
    }

    /// Forwards what the cache wrote down since the last call, each entry
    /// stamped with its session's end.
    fn drain(&mut self, ctx: &mut Ctx<'_, K, VA>) -> Result<()> {
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
                .as_store::<MeteredSessionStore<K, VA>>()?;
            for entry in &entries {
                decoded.push(store.decode_flushed(entry)?);
            }
        }
        for (session, new, old) in decoded {
            if new.is_none() && old.is_none() {
                continue;
            }
            let end = session.window().end();
            ctx.forward(Record::from_parts(
                Some(session),
                Some(Change::new(new, old)),
                end,
                Headers::new(),
            ))?;
        }
        Ok(())
    }

    /// Emitting on close: forwards every session that closed since the last
    /// call (ends before `close_time`), by end, then start, then key, each
    /// stamped with its end and carrying `headers`.
    fn emit_closed(
        &mut self,
        ctx: &mut Ctx<'_, K, VA>,
        close_time: i64,
        headers: &Headers,
    ) -> Result<()> {
        if !self.on_close {
            return Ok(());
        }
        let upper = close_time.saturating_sub(1);
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
            .as_store::<MeteredSessionStore<K, VA>>()?;
        let mut closed: Vec<(Windowed<K>, VA)> = store
            .find_sessions_held(lower, upper)?
            .filter(|entry| match entry {
                Ok((session, _)) => session.window().end() <= upper,
                Err(_) => true,
            })
            .collect::<Result<_>>()?;
        closed.sort_by_key(|(s, _)| (s.window().end(), s.window().start()));
        for (session, value) in closed {
            let end = session.window().end();
            ctx.forward(Record::from_parts(
                Some(session),
                Some(Change::new(Some(value), None)),
                end,
                headers.clone(),
            ))?;
        }
        self.emitted_up_to = Some(upper);
        ctx.set_processor_metadata(&self.store, upper);
        Ok(())
    }
}
