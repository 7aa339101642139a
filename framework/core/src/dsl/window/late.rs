//! What a windowed aggregation does with a record that arrives after its
//! windows closed: a warning, the task's `dropped-records` count, and, if
//! the topology asked for one (`late_records_to`), the late-record sink: a
//! router node in front of the aggregation sends the records the
//! aggregation dropped to a topic, with headers saying why.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use crate::error::Result;
use crate::processor::{Data, Processor, ProcessorContext};
use crate::record::Record;
use crate::task::TaskId;
use crate::window::Window;

/// Header of a late record sent to the late-record sink: the start of the
/// (last) window it was too late for, as a decimal string.
pub const LATE_WINDOW_START: &str = "weir.late.window.start";
/// Header: the end of that window, as a decimal string.
pub const LATE_WINDOW_END: &str = "weir.late.window.end";
/// Header: the aggregation's stream time when it dropped the record.
pub const LATE_STREAM_TIME: &str = "weir.late.stream.time";
/// Header: the close time (stream time minus grace, minus the gap for
/// sessions): windows ending before it (at or before it for time windows)
/// take no more records.
pub const LATE_CLOSE_TIME: &str = "weir.late.close.time";
/// Header: the aggregation's grace, in milliseconds.
pub const LATE_GRACE_MS: &str = "weir.late.grace.ms";

/// Why a record was too late.
#[derive(Debug, Clone, Copy)]
struct Lateness {
    window: Window,
    stream_time: i64,
    close_time: i64,
}

#[derive(Debug, Default)]
struct Verdict {
    late: Option<Lateness>,
    aggregated: bool,
}

/// Shared by a late-record router and the aggregation behind it, per
/// task: what the aggregation did with the record the router just passed
/// it (processing is depth-first, so the answer is there when the
/// router's forward returns).
#[derive(Debug, Clone, Default)]
pub(crate) struct LateSlot(Arc<Mutex<HashMap<TaskId, Verdict>>>);

impl LateSlot {
    fn with<T>(&self, f: impl FnOnce(&mut HashMap<TaskId, Verdict>) -> T) -> T {
        f(&mut self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// The aggregation folded the current record into a window.
    pub(crate) fn aggregated(&self, task: TaskId) {
        self.with(|m| m.entry(task).or_default().aggregated = true);
    }

    fn dropped(&self, task: TaskId, lateness: Lateness) {
        self.with(|m| m.entry(task).or_default().late = Some(lateness));
    }

    fn take(&self, task: TaskId) -> Verdict {
        self.with(|m| m.remove(&task).unwrap_or_default())
    }
}

/// Drops a record at `timestamp` that is too late for `window` (closed at
/// `close_time`, stream time `stream_time`): logs it, counts it, and tells
/// the late-record router, if there is one.
pub(crate) fn drop_late<KO, VO>(
    ctx: &mut dyn ProcessorContext<KO, VO>,
    slot: Option<&LateSlot>,
    timestamp: i64,
    window: Window,
    close_time: i64,
    stream_time: i64,
) -> Result<()> {
    let (topic, partition, offset) = match ctx.record_metadata() {
        Some(m) => (m.topic.clone(), m.partition, m.offset),
        None => (String::new(), -1, -1),
    };
    tracing::warn!(
        node = ctx.node_name(),
        topic,
        partition,
        offset,
        timestamp,
        window_start = window.start(),
        window_end = window.end(),
        expiration = close_time,
        stream_time,
        "skipping record for expired window"
    );
    ctx.record_dropped();
    if let Some(slot) = slot {
        let lateness = Lateness {
            window,
            stream_time,
            close_time,
        };
        slot.dropped(ctx.task_id(), lateness);
    }
    Ok(())
}

/// Drops a record without a key (a windowed aggregation needs one): logs it
/// and counts it.
pub(crate) fn drop_null_key<KO, VO>(ctx: &mut dyn ProcessorContext<KO, VO>) -> Result<()> {
    let (topic, partition, offset) = match ctx.record_metadata() {
        Some(m) => (m.topic.clone(), m.partition, m.offset),
        None => (String::new(), -1, -1),
    };
    tracing::warn!(
        node = ctx.node_name(),
        topic,
        partition,
        offset,
        "skipping record due to null key"
    );
    ctx.record_dropped();
    Ok(())
}

/// Passes each record to the aggregation `aggregate`; a record it dropped
/// as late (and folded into no window) goes on to the sink node `sink`,
/// with the `weir.late.*` headers.
pub(crate) struct LateRouter {
    pub(crate) slot: LateSlot,
    pub(crate) aggregate: String,
    pub(crate) sink: String,
    pub(crate) grace_ms: i64,
}

impl<K: Data, V: Data> Processor<K, V> for LateRouter {
    fn process(
        &mut self,
        ctx: &mut dyn ProcessorContext<K, V>,
        record: Record<K, V>,
    ) -> Result<()> {
        let task = ctx.task_id();
        self.slot.take(task);
        ctx.forward_to(&self.aggregate, record.clone())?;
        let verdict = self.slot.take(task);
        let Some(late) = verdict.late.filter(|_| !verdict.aggregated) else {
            return Ok(());
        };
        let mut record = record;
        let header = |n: i64| Some(n.to_string().into_bytes());
        record
            .headers
            .add(LATE_WINDOW_START, header(late.window.start()))
            .add(LATE_WINDOW_END, header(late.window.end()))
            .add(LATE_STREAM_TIME, header(late.stream_time))
            .add(LATE_CLOSE_TIME, header(late.close_time))
            .add(LATE_GRACE_MS, header(self.grace_ms));
        ctx.forward_to(&self.sink, record)
    }
}
