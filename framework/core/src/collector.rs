//! The seams through which a task talks to the outside world: a record
//! collector for output, and a clock. The Kafka runtime implements them over
//! its producer; the test driver implements them in memory.

use std::sync::Arc;

use crate::error::Result;
use crate::record::{OutputRecord, SourceRecord};

/// Receives every record a task writes: sink output, and (with state) changelog
/// and repartition writes.
pub trait RecordCollector: Send {
    /// Sends one record. Errors are classified (see [`crate::ErrorKind`]); the
    /// runtime decides whether to retry.
    fn send(&mut self, record: OutputRecord) -> Result<()>;

    /// Sends one record a sink wrote while its task processed `source`. A
    /// runtime whose sends can fail after they left (in a delivery report)
    /// keeps `source` (shared, not copied) until the record's delivery is
    /// reported, so that the production handler gets the source record
    /// then too; the default forgets it and sends.
    fn send_from(&mut self, record: OutputRecord, source: &Arc<SourceRecord>) -> Result<()> {
        let _ = source;
        self.send(record)
    }

    /// The number of partitions of `topic`, if known. Sinks with a custom
    /// partitioner need it; `None` means unknown.
    fn partition_count(&mut self, topic: &str) -> Result<Option<i32>>;
}

/// Wall-clock time in milliseconds since the epoch.
pub trait Clock: Send + Sync {
    /// The current wall-clock time.
    fn now_ms(&self) -> i64;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        use std::time::{SystemTime, UNIX_EPOCH};
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0)
    }
}
