//! Per-partition record queues of a task, and the choice of the next record:
//! the queued head with the lowest timestamp across the task's partitions.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::processor::ErasedRecord;
use crate::record::TopicPartition;
use crate::topology::SourceDecoder;

/// How long an empty partition whose lag is unknown or unfetched may hold a
/// task back: a safety bound (Kafka Streams has none), long against a fetch
/// round trip even on a starved machine (2 s proved too short with the CPU
/// oversubscribed: a join's events went ahead of their table).
pub(crate) const BEHIND_BOUND_MS: i64 = 30_000;

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
    /// What the runtime last said about records of this partition not yet fetched.
    pub(crate) fetch: FetchLag,
    /// Since when (wall clock) the queue has been empty and caught up while
    /// other queues had data.
    pub(crate) empty_since: Option<i64>,
    /// Since when (wall clock) the queue has been empty with records still
    /// to fetch (or an unknown lag) while other queues had data.
    pub(crate) behind_since: Option<i64>,
    /// The wait for this partition's unfetched records passed the bound.
    pub(crate) behind_given_up: bool,
}

/// How far a partition's fetch is behind the end of its log, as the runtime
/// last saw it (Kafka Streams' "fetched lag", KIP-695).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchLag {
    /// Not known yet (no fetch response since the assignment), or records
    /// arrived since the runtime last looked.
    Unknown,
    /// The log has records the consumer has not handed over yet.
    Behind,
    /// Everything in the log (up to its stable end) has been handed over.
    CaughtUp,
}

impl FetchLag {
    /// The state for a lag in records: `None` when unknown.
    pub fn of(lag: Option<i64>) -> FetchLag {
        match lag {
            None => FetchLag::Unknown,
            Some(l) if l > 0 => FetchLag::Behind,
            Some(_) => FetchLag::CaughtUp,
        }
    }
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
            fetch: FetchLag::Unknown,
            empty_since: None,
            behind_since: None,
            behind_given_up: false,
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

/// Whether the task may process now, as Kafka Streams decides it (KIP-695):
/// every partition has data; or each empty one is caught up (nothing left to
/// fetch) and has been empty for `max_idle_ms` (0: at once). An empty
/// partition still behind, or whose lag is unknown, holds the task back,
/// whatever `max_idle_ms` (unless it is negative: never wait), for at most
/// `behind_bound_ms` — a bound Kafka Streams does not have, against a lag
/// that cannot be fetched (an open transaction at the end of a topic read
/// `read_committed`, whose records the consumer may not hand over yet).
pub(crate) fn ready(
    queues: &mut [PartitionQueue],
    now: i64,
    max_idle_ms: i64,
    behind_bound_ms: i64,
) -> bool {
    let mut any = false;
    for q in queues.iter_mut() {
        if q.head_timestamp().is_some() {
            any = true;
            q.empty_since = None;
            q.behind_since = None;
            q.behind_given_up = false;
        }
    }
    if !any {
        return false;
    }
    if max_idle_ms < 0 {
        return true;
    }
    for q in queues.iter_mut() {
        if q.head_timestamp().is_some() {
            continue;
        }
        if q.fetch != FetchLag::CaughtUp {
            q.empty_since = None;
            let since = *q.behind_since.get_or_insert(now);
            if now.saturating_sub(since) < behind_bound_ms {
                return false;
            }
            if !q.behind_given_up {
                q.behind_given_up = true;
                tracing::info!(
                    partition = %q.tp,
                    fetch = ?q.fetch,
                    waited_ms = now - since,
                    "an empty input partition's records are still not fetched; processing the task's other partitions"
                );
            }
            continue;
        }
        q.behind_since = None;
        q.behind_given_up = false;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{RawRecordRef, Record};

    struct NoDecoder;

    impl SourceDecoder for NoDecoder {
        fn decode(
            &self,
            _raw: &RawRecordRef<'_>,
            _partition_time: i64,
        ) -> crate::error::Result<Option<ErasedRecord>> {
            Ok(None)
        }
    }

    fn queues() -> Vec<PartitionQueue> {
        ["events", "table"]
            .into_iter()
            .map(|t| PartitionQueue::new(TopicPartition::new(t, 0), 0, Arc::new(NoDecoder)))
            .collect()
    }

    fn push(q: &mut PartitionQueue, ts: i64) {
        q.records.push_back(Queued {
            record: Some(ErasedRecord::erase(Record::new(1u32, 1u32, ts))),
            offset: 0,
        });
    }

    #[test]
    fn an_empty_partition_behind_or_unknown_holds_the_task_back_even_with_idle_zero() {
        for lag in [FetchLag::Unknown, FetchLag::Behind] {
            let mut qs = queues();
            push(&mut qs[0], 10);
            qs[1].fetch = lag;
            assert!(!ready(&mut qs, 1_000, 0, 2_000), "{lag:?}");
            assert!(!ready(&mut qs, 2_999, 0, 2_000), "{lag:?}");
            // The safety bound: processing goes on after it.
            assert!(ready(&mut qs, 3_000, 0, 2_000), "{lag:?}");
            // A record on the waited-for partition resets the wait.
            push(&mut qs[1], 5);
            assert!(ready(&mut qs, 3_001, 0, 2_000));
            qs[1].records.clear();
            assert!(!ready(&mut qs, 3_002, 0, 2_000));
        }
    }

    #[test]
    fn a_caught_up_empty_partition_waits_only_max_task_idle() {
        let mut qs = queues();
        push(&mut qs[0], 10);
        qs[1].fetch = FetchLag::CaughtUp;
        assert!(ready(&mut qs, 1_000, 0, 2_000));
        assert!(!ready(&mut qs, 1_000, 50, 2_000));
        assert!(!ready(&mut qs, 1_049, 50, 2_000));
        assert!(ready(&mut qs, 1_050, 50, 2_000));
    }

    #[test]
    fn negative_idle_never_waits_and_no_data_is_never_ready() {
        let mut qs = queues();
        assert!(!ready(&mut qs, 1_000, -1, 2_000));
        push(&mut qs[0], 10);
        assert!(ready(&mut qs, 1_000, -1, 2_000));
    }

    #[test]
    fn fetch_lag_of_a_count() {
        assert_eq!(FetchLag::of(None), FetchLag::Unknown);
        assert_eq!(FetchLag::of(Some(3)), FetchLag::Behind);
        assert_eq!(FetchLag::of(Some(0)), FetchLag::CaughtUp);
        assert_eq!(FetchLag::of(Some(-1)), FetchLag::CaughtUp);
    }
}
