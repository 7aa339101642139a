//! Per-partition record queues of a task, and the choice of the next record:
//! the queued head with the lowest timestamp across the task's partitions.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::processor::ErasedRecord;
use crate::record::TopicPartition;
use crate::topology::SourceDecoder;

/// A queued record, or the offset of one that was skipped on arrival (bad
/// bytes or an invalid timestamp, by policy) so its offset commits in order.
pub(crate) struct Queued {
    pub(crate) record: Option<ErasedRecord>,
    pub(crate) offset: i64,
}

pub(crate) struct PartitionQueue {
    pub(crate) tp: TopicPartition,
    /// Local index of the source node that reads this partition.
    pub(crate) source: usize,
    pub(crate) decoder: Arc<dyn SourceDecoder>,
    pub(crate) records: VecDeque<Queued>,
    /// Highest timestamp that arrived on this partition; -1 before the first.
    pub(crate) partition_time: i64,
    /// Highest offset processed or skipped; the commit offset is this + 1.
    pub(crate) consumed: Option<i64>,
    /// The runtime says there is nothing more to fetch right now.
    pub(crate) caught_up: bool,
    /// Since when (wall clock) the queue has been empty while other queues had data.
    pub(crate) empty_since: Option<i64>,
}

impl PartitionQueue {
    pub(crate) fn new(tp: TopicPartition, source: usize, decoder: Arc<dyn SourceDecoder>) -> Self {
        PartitionQueue {
            tp,
            source,
            decoder,
            records: VecDeque::new(),
            partition_time: -1,
            consumed: None,
            caught_up: false,
            empty_since: None,
        }
    }

    /// Advances past skipped records at the head.
    pub(crate) fn drop_skipped_heads(&mut self) {
        while let Some(head) = self.records.front() {
            if head.record.is_some() {
                break;
            }
            self.consumed = Some(head.offset);
            self.records.pop_front();
        }
    }

    pub(crate) fn head_timestamp(&self) -> Option<i64> {
        self.records
            .front()
            .and_then(|q| q.record.as_ref())
            .map(|r| r.timestamp)
    }

    /// Records waiting (skipped markers excluded).
    pub(crate) fn len(&self) -> usize {
        self.records.iter().filter(|q| q.record.is_some()).count()
    }
}

/// Whether the task may process now, given `max_task_idle_ms`: every
/// partition has data, or each empty one is caught up, or has been empty for
/// at least the idle time (then processing is enforced, as in Kafka Streams).
pub(crate) fn ready(queues: &mut [PartitionQueue], now: i64, max_idle_ms: i64) -> bool {
    let mut any = false;
    for q in queues.iter_mut() {
        if q.head_timestamp().is_some() {
            any = true;
            q.empty_since = None;
        }
    }
    if !any {
        return false;
    }
    for q in queues.iter_mut() {
        if q.head_timestamp().is_some() || q.caught_up || max_idle_ms < 0 {
            continue;
        }
        let since = *q.empty_since.get_or_insert(now);
        if now.saturating_sub(since) < max_idle_ms {
            return false;
        }
        tracing::debug!(partition = %q.tp, idle_ms = now - since, "enforcing processing while a partition is empty");
    }
    true
}

/// The queue whose head has the lowest timestamp (ties: the first queue).
pub(crate) fn next_queue(queues: &[PartitionQueue]) -> Option<usize> {
    let mut best: Option<(usize, i64)> = None;
    for (i, q) in queues.iter().enumerate() {
        if let Some(ts) = q.head_timestamp() {
            if best.is_none_or(|(_, b)| ts < b) {
                best = Some((i, ts));
            }
        }
    }
    best.map(|(i, _)| i)
}
