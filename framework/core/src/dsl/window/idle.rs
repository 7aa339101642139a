//! Idle close (`close_when_idle`): a windowed node whose input has been
//! idle on the wall clock lets its stream time move on with the wall
//! clock, so its windows close even when no record comes to close them.
//! Kafka Streams' windows never close on an idle partition; this is Weir's
//! opt-in answer, deterministic under the test driver's wall clock.

use std::time::Duration;

use crate::error::Result;
use crate::processor::{ProcessorContext, PunctuationType};

/// How often an idle node checks the wall clock, at most.
const CHECK_EVERY_MS: i64 = 1_000;

/// The wall-clock state of a node that closes its windows when idle.
#[derive(Debug, Clone, Copy)]
pub(crate) struct IdleClose {
    /// How long the node waits without a record before its stream time
    /// follows the wall clock.
    after_ms: i64,
    /// The wall-clock time of the last record (or of the node's start).
    last_wall: Option<i64>,
    /// The node's stream time then.
    stream_then: i64,
}

impl IdleClose {
    pub(crate) fn new(after_ms: i64) -> Self {
        IdleClose {
            after_ms: after_ms.max(0),
            last_wall: None,
            stream_then: i64::MIN,
        }
    }

    /// Schedules the wall-clock checks; the node starts its idle time now,
    /// at stream time `stream_time` (recovered from its store, or none).
    pub(crate) fn start<KO, VO>(
        &mut self,
        ctx: &mut dyn ProcessorContext<KO, VO>,
        stream_time: i64,
    ) -> Result<()> {
        let every = self.after_ms.clamp(1, CHECK_EVERY_MS);
        let every = Duration::from_millis(u64::try_from(every).unwrap_or(1));
        ctx.schedule(every, PunctuationType::WallClockTime)?;
        self.last_wall = Some(ctx.wall_clock_time());
        self.stream_then = stream_time;
        Ok(())
    }

    /// A record arrived at wall-clock time `now`; the node's stream time
    /// is now `stream_time`.
    pub(crate) fn saw_record(&mut self, now: i64, stream_time: i64) {
        self.last_wall = Some(now);
        self.stream_then = stream_time;
    }

    /// The stream time the node moves to at wall-clock time `now`, if its
    /// input has been idle for long enough: its stream time at the last
    /// record plus the wall-clock time since. `None` while not idle, or
    /// before the node has a stream time at all.
    pub(crate) fn stream_time_at(&self, now: i64) -> Option<i64> {
        let last = self.last_wall?;
        let idle = now.saturating_sub(last);
        if idle < self.after_ms || self.stream_then == i64::MIN {
            return None;
        }
        Some(self.stream_then.saturating_add(idle))
    }
}
