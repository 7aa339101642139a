//! A queue of its own for each input partition of a stream thread, and
//! back-pressure that keeps what was fetched.
//!
//! librdkafka stops fetching a partition while its queue holds
//! `queued.min.messages`. By default every partition's queue forwards to
//! the consumer's, and the check then counts the whole consumer's queue:
//! once a stream thread fell behind, every partition left the fetch list
//! and came back in the same order, and the first one back got the whole
//! next fetch response (a record batch larger than
//! `max.partition.fetch.bytes`, as librdkafka producers write, is only sent
//! to the first partition of a response). The last partitions of the list
//! went unfetched for as long as the first had data, and a join whose task
//! waited for them (the fetch lag) stalled. With a queue per partition each
//! partition's threshold is its own, the fetch list stays as it is, and
//! librdkafka's round robin serves every partition in turn.
//!
//! It also lets back-pressure keep fetched records: a held partition's
//! queue is not read, and librdkafka stops fetching it once the queue is
//! full; a pause would drop what was fetched and fetch it again.
//!
//! The queues are split off in the rebalance callback, before the
//! assignment starts fetching: no record of a partition ever goes to the
//! consumer's queue, so none is read out of order from two queues. The
//! consumer's queue carries the rebalances and errors; an error does not
//! end a turn's poll (after a broker outage thousands can be queued).

use std::cell::Cell;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use rdkafka::consumer::base_consumer::PartitionQueue;
use rdkafka::consumer::{BaseConsumer, ConsumerContext};
use rdkafka::error::KafkaError;
use rdkafka::message::BorrowedMessage;
use weir_core::record::TopicPartition;

/// Records taken from one partition's queue per turn, so that one busy
/// partition does not fill a poll batch alone.
const PER_PARTITION_TURN: usize = 500;

/// Which input partitions have their own queue and which are held; kept
/// with the thread's tasks, so the engine's ports can hold and release.
#[derive(Debug, Default)]
pub(crate) struct Flow {
    /// Partitions read from their own queue.
    split: HashSet<TopicPartition>,
    /// Partitions held for back-pressure whose own queue is not read.
    held: HashSet<TopicPartition>,
    /// Partitions held without a queue of their own: paused in librdkafka.
    paused: HashSet<TopicPartition>,
}

impl Flow {
    /// Sorts `partitions` to hold: those with their own queue are held here
    /// (their queue is no longer read); the others are returned, to be
    /// paused.
    pub(crate) fn hold(&mut self, partitions: &[TopicPartition]) -> Vec<TopicPartition> {
        let mut pause = Vec::new();
        for tp in partitions {
            if self.split.contains(tp) {
                self.held.insert(tp.clone());
            } else if self.paused.insert(tp.clone()) {
                pause.push(tp.clone());
            }
        }
        pause
    }

    /// Releases `partitions`; returns those that were paused, to be resumed.
    pub(crate) fn release(&mut self, partitions: &[TopicPartition]) -> Vec<TopicPartition> {
        let mut resume = Vec::new();
        for tp in partitions {
            self.held.remove(tp);
            if self.paused.remove(tp) {
                resume.push(tp.clone());
            }
        }
        resume
    }

    /// The partitions whose own queue is held.
    pub(crate) fn held(&self) -> &HashSet<TopicPartition> {
        &self.held
    }
}

/// A change of a thread's partition queues made by a rebalance callback;
/// the thread loop applies them in order after its poll.
pub(crate) enum QueueChange<C: ConsumerContext + 'static> {
    /// Partitions assigned, with the queues split off for them before the
    /// assignment started fetching (a partition librdkafka gave no queue is
    /// missing: its records come through the consumer's queue).
    Assigned(Vec<(TopicPartition, PartitionQueue<C>)>),
    /// Partitions revoked: their queues are dropped.
    Revoked(Vec<TopicPartition>),
}

/// Splits a queue off for each of `partitions`. Called before they are
/// assigned: librdkafka then never forwards their records to the
/// consumer's queue (a partition's queue stays split for the life of the
/// consumer, across reassignments), so no record of a partition is read
/// from two queues out of order.
pub(crate) fn split<C: ConsumerContext + 'static>(
    consumer: &Arc<BaseConsumer<C>>,
    partitions: &[TopicPartition],
) -> QueueChange<C> {
    let mut queues = Vec::with_capacity(partitions.len());
    for tp in partitions {
        match consumer.split_partition_queue(&tp.topic, tp.partition) {
            Some(queue) => queues.push((tp.clone(), queue)),
            // Its records keep coming through the consumer's queue.
            None => tracing::warn!(partition = %tp, "no queue of its own for a partition"),
        }
    }
    QueueChange::Assigned(queues)
}

/// Wakes the idle thread loop when a partition's queue gets records.
#[derive(Debug, Default)]
struct Wake {
    ready: AtomicBool,
    lock: Mutex<()>,
    signal: Condvar,
}

impl Wake {
    fn notify(&self) {
        if !self.ready.swap(true, Ordering::AcqRel) {
            let _guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
            self.signal.notify_one();
        }
    }

    /// Waits up to `timeout` unless records came since the last wait.
    fn wait(&self, timeout: Duration) {
        let guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        if !self.ready.load(Ordering::Acquire) {
            let _ = self
                .signal
                .wait_timeout(guard, timeout)
                .unwrap_or_else(|e| e.into_inner());
        }
        self.ready.store(false, Ordering::Release);
    }
}

/// The thread's partition queues, read in turn.
pub(crate) struct PartitionQueues<C: ConsumerContext + 'static> {
    queues: Vec<(TopicPartition, PartitionQueue<C>)>,
    next: Cell<usize>,
    wake: Arc<Wake>,
}

impl<C: ConsumerContext + 'static> Default for PartitionQueues<C> {
    fn default() -> Self {
        PartitionQueues {
            queues: Vec::new(),
            next: Cell::new(0),
            wake: Arc::default(),
        }
    }
}

/// What one round of reading the partition queues found.
pub(crate) struct Polled {
    /// Every queue read was emptied.
    pub(crate) drained: bool,
    /// An error a queue reported (fetch errors are per partition).
    pub(crate) error: Option<KafkaError>,
}

impl<C: ConsumerContext + 'static> PartitionQueues<C> {
    /// Applies the changes the rebalance callbacks made, in order, and
    /// records in `flow` which partitions now have a queue of their own.
    pub(crate) fn apply(&mut self, changes: Vec<QueueChange<C>>, flow: &mut Flow) {
        if changes.is_empty() {
            return;
        }
        for change in changes {
            match change {
                QueueChange::Revoked(partitions) => {
                    let gone: HashSet<&TopicPartition> = partitions.iter().collect();
                    self.queues.retain(|(tp, _)| !gone.contains(tp));
                }
                QueueChange::Assigned(split) => {
                    for (tp, mut queue) in split {
                        self.queues.retain(|(have, _)| *have != tp);
                        let wake = Arc::clone(&self.wake);
                        queue.set_nonempty_callback(move || wake.notify());
                        self.queues.push((tp, queue));
                    }
                }
            }
        }
        flow.split = self.queues.iter().map(|(tp, _)| tp.clone()).collect();
        self.next.set(0);
        // Records may have come before the callbacks were set.
        self.wake.notify();
    }

    /// Waits up to `timeout` for records, unless some came since the last wait.
    pub(crate) fn wait(&self, timeout: Duration) {
        self.wake.wait(timeout);
    }

    /// Reads the queues not held, each in turn from where the last round
    /// stopped, into `batch` until it holds `max` records.
    pub(crate) fn poll_into<'q>(
        &'q self,
        held: &HashSet<TopicPartition>,
        batch: &mut Vec<BorrowedMessage<'q>>,
        max: usize,
    ) -> Polled {
        let n = self.queues.len();
        let mut polled = Polled {
            drained: true,
            error: None,
        };
        let start = self.next.get() % n.max(1);
        for i in 0..n {
            let (tp, queue) = &self.queues[(start + i) % n];
            if held.contains(tp) {
                continue;
            }
            if batch.len() >= max {
                polled.drained = false;
                self.next.set((start + i) % n);
                return polled;
            }
            let mut taken = 0;
            loop {
                if taken >= PER_PARTITION_TURN || batch.len() >= max {
                    polled.drained = false;
                    break;
                }
                match queue.poll(Duration::ZERO) {
                    None => break,
                    Some(Ok(msg)) => {
                        batch.push(msg);
                        taken += 1;
                    }
                    Some(Err(e)) => {
                        polled.error = Some(e);
                        break;
                    }
                }
            }
        }
        self.next.set((start + 1) % n.max(1));
        polled
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tp(p: i32) -> TopicPartition {
        TopicPartition::new("in", p)
    }

    #[test]
    fn partitions_with_their_own_queue_are_held_the_others_paused() {
        let mut flow = Flow::default();
        flow.split.insert(tp(0));
        assert_eq!(flow.hold(&[tp(0), tp(1)]), vec![tp(1)]);
        assert!(flow.held().contains(&tp(0)));
        // Holding again pauses nothing twice.
        assert!(flow.hold(&[tp(1)]).is_empty());
        assert_eq!(flow.release(&[tp(0), tp(1)]), vec![tp(1)]);
        assert!(!flow.held().contains(&tp(0)));
        assert!(flow.release(&[tp(1)]).is_empty());
    }

    #[test]
    fn a_wake_before_the_wait_is_not_lost() {
        let wake = Wake::default();
        wake.notify();
        let start = std::time::Instant::now();
        wake.wait(Duration::from_secs(5));
        assert!(start.elapsed() < Duration::from_secs(1));
        // Consumed: the next wait times out.
        let start = std::time::Instant::now();
        wake.wait(Duration::from_millis(50));
        assert!(start.elapsed() >= Duration::from_millis(40));
    }
}
