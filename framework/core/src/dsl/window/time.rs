//! The aggregation of time windows (tumbling and hopping): Kafka Streams'
//! `KStreamWindowAggregate`.

use std::sync::Arc;

use crate::dsl::window::emit::{ClosedWindows, WindowEmit};
use crate::dsl::window::spec::TimeWindows;
use crate::dsl::Change;
use crate::error::Result;
use crate::processor::{Data, Processor, ProcessorContext};
use crate::record::Record;
use crate::store::ValueAndTimestamp;
use crate::window::{Window, Windowed};

/// Folds each record into every time window it falls in that is still
/// open, in the store `emit.store` (values with the timestamp of the
/// newest record folded in). Forwards each update (old value: what the
/// window held, `None` for a new window), stamped with that timestamp, or,
/// emitting on window close, each window's final value once it closes.
pub(crate) struct TimeWindowAggregate<K, VA, F> {
    pub(crate) emit: WindowEmit<K, VA>,
    pub(crate) windows: TimeWindows,
    pub(crate) step: Arc<F>,
}

impl<K: Data, V: Data, VA: Data, F> Processor<K, V, Windowed<K>, Change<VA>>
    for TimeWindowAggregate<K, VA, F>
where
    F: Fn(&K, V, Option<VA>) -> VA + Send + Sync,
{
    fn init(&mut self, ctx: &mut dyn ProcessorContext<Windowed<K>, Change<VA>>) -> Result<()> {
        let (size, grace) = (self.windows.size_ms(), self.windows.grace_ms());
        self.emit.init(ctx, size, (grace, size), closed_windows)
    }

    fn punctuate(
        &mut self,
        ctx: &mut dyn ProcessorContext<Windowed<K>, Change<VA>>,
        punctuation: crate::processor::Punctuation,
    ) -> Result<()> {
        self.emit.punctuate(ctx, punctuation.timestamp)
    }

    fn flush(&mut self, ctx: &mut dyn ProcessorContext<Windowed<K>, Change<VA>>) -> Result<()> {
        self.emit.flush(ctx)
    }

    fn process(
        &mut self,
        ctx: &mut dyn ProcessorContext<Windowed<K>, Change<VA>>,
        record: Record<K, V>,
    ) -> Result<()> {
        let Some(key) = record.key else {
            return self.emit.drop_null_key(ctx);
        };
        let timestamp = record.timestamp;
        let close_time = self
            .emit
            .observe(ctx, timestamp)
            .saturating_sub(self.windows.grace_ms());
        // Windows that close now are emitted before this record's windows
        // are written: they are disjoint, and a write may expire old ones.
        let closed = self.emit.closed_now();
        self.emit.emit_closed(ctx, closed, &record.headers)?;
        let Some(value) = record.value else {
            return Ok(());
        };
        let windows = self.windows.windows_for(timestamp);
        let last = windows.len().saturating_sub(1);
        let mut value = Some(value);
        for (i, window) in windows.into_iter().enumerate() {
            if window.end() <= close_time {
                self.emit.drop_late(ctx, timestamp, window, close_time)?;
                continue;
            }
            let v = if i == last {
                value.take()
            } else {
                value.clone()
            };
            let Some(v) = v else { continue };
            self.update(ctx, &key, window, v, timestamp, &record.headers)?;
        }
        Ok(())
    }
}

/// Time windows closed at `stream_time`: those ending at or before
/// `stream_time - grace`, i.e. starting at or before that minus the size.
fn closed_windows(stream_time: i64, grace: i64, size: i64) -> ClosedWindows {
    ClosedWindows::StartingUpTo(stream_time.saturating_sub(grace).saturating_sub(size))
}

impl<K: Data, VA: Data, F> TimeWindowAggregate<K, VA, F> {
    fn update<V>(
        &mut self,
        ctx: &mut dyn ProcessorContext<Windowed<K>, Change<VA>>,
        key: &K,
        window: Window,
        value: V,
        timestamp: i64,
        headers: &crate::headers::Headers,
    ) -> Result<()>
    where
        F: Fn(&K, V, Option<VA>) -> VA,
    {
        let store = ctx.window_store::<K, ValueAndTimestamp<VA>>(&self.emit.store)?;
        let old = store.fetch(key, window.start())?;
        let (old_value, new_timestamp) = match old {
            Some(old) => (Some(old.value), timestamp.max(old.timestamp)),
            None => (None, timestamp),
        };
        let new = (self.step)(key, value, old_value.clone());
        store.put(
            key,
            Some(&ValueAndTimestamp::new(new.clone(), new_timestamp)),
            window.start(),
        )?;
        self.emit.updated(
            ctx,
            Windowed::new(key.clone(), window),
            Change::new(Some(new), old_value),
            new_timestamp,
            headers,
        )
    }
}
