//! The engine's ports over rdkafka: the thread's consumer is the input (and
//! commits offsets at-least-once), its producer collector the output (and
//! commits transactions exactly-once), the restorer reads changelogs.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext};
use rdkafka::{Offset, TopicPartitionList};
use weir_core::collector::{Clock, RecordCollector, SystemClock};
use weir_core::engine::{Committer, Input, Output, PortError, Restoration, TaskFailure, WallClock};
use weir_core::record::{OffsetAndMetadata, TopicPartition};
use weir_core::task::{Task, TaskId};
use weir_core::ErrorKind;

use crate::error::{classify, retry_retriable, Error, Result};
use crate::runtime::collector::ProducerCollector;
use crate::runtime::restore::Restorer;
use crate::runtime::AppShared;

impl From<TaskFailure> for Error {
    fn from(failure: TaskFailure) -> Self {
        Error::Processing {
            task: failure.task.to_string(),
            source: failure.source,
        }
    }
}

impl PortError for Error {
    fn kind(&self) -> ErrorKind {
        Error::kind(self)
    }

    fn aborts_transaction(&self) -> bool {
        match self {
            Error::Transaction { .. } => true,
            Error::Produce { kind, .. } => *kind != ErrorKind::User,
            Error::Processing {
                source: weir_core::Error::Send { kind, .. },
                ..
            } => *kind != ErrorKind::User,
            _ => false,
        }
    }
}

/// The ports of one stream thread, borrowed for one engine call.
pub(crate) struct KafkaPorts<'a, C: ConsumerContext> {
    pub(crate) consumer: &'a BaseConsumer<C>,
    pub(crate) collector: &'a mut ProducerCollector,
    pub(crate) restorer: &'a mut Restorer,
    pub(crate) app: &'a AppShared,
}

fn list(partitions: &[TopicPartition]) -> TopicPartitionList {
    let mut tpl = TopicPartitionList::with_capacity(partitions.len());
    for tp in partitions {
        tpl.add_partition(&tp.topic, tp.partition);
    }
    tpl
}

pub(crate) fn consume_error(e: &rdkafka::error::KafkaError) -> Error {
    Error::Consume {
        topic: String::new(),
        message: format!("moving the consumer: {e}"),
        kind: classify(e),
    }
}

/// How long rewinding retries while the broker is away.
const REWIND_RETRY: Duration = Duration::from_secs(120);

impl<C: ConsumerContext> Input for KafkaPorts<'_, C> {
    type Error = Error;

    fn pause(&mut self, partitions: &[TopicPartition]) -> Result<()> {
        self.consumer
            .pause(&list(partitions))
            .map_err(|e| consume_error(&e))
    }

    fn resume(&mut self, partitions: &[TopicPartition]) -> Result<()> {
        self.consumer
            .resume(&list(partitions))
            .map_err(|e| consume_error(&e))
    }

    /// Seeks each partition to its committed offset (or the beginning,
    /// `auto.offset.reset=earliest`, when nothing is committed), retrying
    /// while the broker is away.
    fn rewind_to_committed(&mut self, partitions: &[TopicPartition]) -> Result<()> {
        let timeout = Duration::from_secs(30);
        let tpl = list(partitions);
        let committed = retry_retriable("reading the committed offsets", REWIND_RETRY, || {
            self.consumer.committed_offsets(tpl.clone(), timeout)
        })
        .map_err(|e| consume_error(&e))?;
        for e in committed.elements() {
            let offset = match e.offset() {
                Offset::Offset(o) => Offset::Offset(o),
                _ => Offset::Beginning,
            };
            retry_retriable("rewinding to the committed offsets", REWIND_RETRY, || {
                self.consumer
                    .seek(e.topic(), e.partition(), offset, timeout)
            })
            .map_err(|err| consume_error(&err))?;
        }
        Ok(())
    }

    /// Reads the committed offsets of `partitions` (retrying while the
    /// broker is away) for their metadata. Under exactly-once the consumer
    /// reads committed (`isolation.level=read_committed`), so librdkafka
    /// asks for stable offsets: a transaction still open on them is waited
    /// for.
    fn committed_metadata(&mut self, partitions: &[TopicPartition]) -> Result<Vec<String>> {
        let timeout = Duration::from_secs(30);
        let tpl = list(partitions);
        let committed = retry_retriable("reading the committed offsets", REWIND_RETRY, || {
            self.consumer.committed_offsets(tpl.clone(), timeout)
        })
        .map_err(|e| consume_error(&e))?;
        Ok(partitions
            .iter()
            .map(|tp| {
                committed
                    .find_partition(&tp.topic, tp.partition)
                    .map(|e| e.metadata().to_string())
                    .unwrap_or_default()
            })
            .collect())
    }
}

impl<C: ConsumerContext> Output for KafkaPorts<'_, C> {
    fn collector(&mut self) -> &mut dyn RecordCollector {
        self.collector
    }

    fn flush(&mut self) -> Result<()> {
        self.collector.flush()
    }

    fn changelog_offset(&self, tp: &TopicPartition) -> Option<i64> {
        self.collector.changelog_offset(&tp.topic, tp.partition)
    }
}

impl<C: ConsumerContext> Committer for KafkaPorts<'_, C> {
    fn is_transactional(&self) -> bool {
        self.collector.is_transactional()
    }

    fn in_transaction(&self) -> bool {
        self.collector.in_transaction()
    }

    fn commit(&mut self, offsets: &[(TopicPartition, OffsetAndMetadata)]) -> Result<()> {
        let mut tpl = TopicPartitionList::with_capacity(offsets.len());
        for (tp, to) in offsets {
            let mut entry = tpl.add_partition(&tp.topic, tp.partition);
            entry
                .set_offset(Offset::Offset(to.offset))
                .map_err(|e| Error::Commit {
                    message: e.to_string(),
                    kind: ErrorKind::Fatal,
                })?;
            if let Some(metadata) = &to.metadata {
                entry.set_metadata(&**metadata);
            }
        }
        if self.collector.is_transactional() {
            let group = self.consumer.group_metadata();
            return self.collector.commit_transaction(&tpl, group.as_ref());
        }
        self.consumer
            .commit(&tpl, CommitMode::Sync)
            .map_err(|e| Error::Commit {
                // librdkafka's error does not say which partition failed
                // (a deleted source topic, a denied one): name them all.
                message: format!("{e}, committing {}", partition_list(offsets)),
                kind: classify(&e),
            })
    }

    fn abort(&mut self, cause: ErrorKind) -> Result<()> {
        self.app.metrics.aborts.fetch_add(1, Ordering::Relaxed);
        self.collector.recover(cause)
    }

    fn abort_on_close(&mut self) -> Result<()> {
        self.collector.abort_transaction()
    }
}

impl<C: ConsumerContext> Restoration for KafkaPorts<'_, C> {
    fn start_restore(&mut self, task: Task) -> Result<Option<Task>> {
        self.restorer.add(task, &self.app.config)
    }

    fn poll_restore(&mut self, budget_ms: u64) -> Result<Vec<Task>> {
        // Restore time is the wall-clock time spent restoring (tasks restore
        // together, so their own durations overlap): rate = records / time.
        let start = Instant::now();
        let ready = self.restorer.poll(Duration::from_millis(budget_ms))?;
        let records = ready.iter().map(|(_, restored, _)| restored).sum();
        self.app.metrics.record_restore(records, start.elapsed());
        Ok(ready.into_iter().map(|(task, _, _)| task).collect())
    }

    fn stop_restore(&mut self, partitions: Option<&[TopicPartition]>) -> Vec<Task> {
        self.restorer.remove(partitions)
    }

    fn is_restoring(&self) -> bool {
        self.restorer.is_restoring()
    }

    fn is_restoring_task(&self, id: TaskId) -> bool {
        self.restorer.contains(&id)
    }
}

impl<C: ConsumerContext> WallClock for KafkaPorts<'_, C> {
    fn now_ms(&self) -> i64 {
        SystemClock.now_ms()
    }
}

/// `offsets`' partitions by topic, as `topic[0,1], other[2]`.
fn partition_list<T>(offsets: &[(TopicPartition, T)]) -> String {
    let mut by_topic: std::collections::BTreeMap<&str, Vec<i32>> = Default::default();
    for (tp, _) in offsets {
        by_topic.entry(&tp.topic).or_default().push(tp.partition);
    }
    by_topic
        .iter()
        .map(|(topic, partitions)| {
            let list: Vec<String> = partitions.iter().map(i32::to_string).collect();
            format!("{topic}[{}]", list.join(","))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_lists_group_by_topic() {
        let tp = |t: &str, p| (TopicPartition::new(t, p), 0);
        let offsets = [tp("in", 1), tp("other", 2), tp("in", 0)];
        assert_eq!(partition_list(&offsets), "in[1,0], other[2]");
        assert_eq!(partition_list::<i64>(&[]), "");
    }
}
