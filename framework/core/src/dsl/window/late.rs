//! What a windowed aggregation does with a record that arrives after its
//! windows closed: a warning, the task's `dropped-records` count, and, if
//! the topology asked for one, the late-record sink.

use crate::error::Result;
use crate::processor::ProcessorContext;
use crate::window::Window;

/// Drops a record at `timestamp` that is too late for `window` (closed at
/// `close_time`, stream time `stream_time`): logs it and counts it.
pub(crate) fn drop_late<KO, VO>(
    ctx: &mut dyn ProcessorContext<KO, VO>,
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
