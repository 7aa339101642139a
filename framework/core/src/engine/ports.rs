//! The ports through which the engine reaches the outside: the input
//! (consumer positions), the output (sends and their acknowledgements), the
//! committer (offsets, or a transaction), restoration (changelog reads) and
//! the wall clock. The Kafka runtime implements them over rdkafka; the test
//! driver implements them in memory.

use std::fmt;

use crate::collector::RecordCollector;
use crate::error::ErrorKind;
use crate::record::{OffsetAndMetadata, TopicPartition};
use crate::task::{Task, TaskId};

/// A task's failure, with the task it happened in.
#[derive(Debug, thiserror::Error)]
#[error("task {task}: {source}")]
pub struct TaskFailure {
    /// The task that failed.
    pub task: TaskId,
    /// What failed.
    #[source]
    pub source: crate::Error,
}

/// The error type shared by a runtime's ports, which the engine returns:
/// it wraps a task's failure and says how serious an error is.
pub trait PortError: From<TaskFailure> + fmt::Display + fmt::Debug {
    /// The class of the error: the user's mistake, retriable, fenced, or fatal.
    fn kind(&self) -> ErrorKind;

    /// Whether, under exactly-once, the error is handled by aborting the
    /// transaction and processing again from the last commit (rather than
    /// stopping): a transaction step or a send that failed for a reason
    /// other than the user's mistake. Errors of the application's own code
    /// (processors, serdes) and of configuration stop the thread.
    fn aborts_transaction(&self) -> bool;

    /// Whether the instance stopped where the error struck (the test
    /// driver's simulated crash): nothing more may be written or committed,
    /// so no step is retried.
    fn stops_the_instance(&self) -> bool {
        false
    }
}

impl From<TaskFailure> for crate::Error {
    /// The test driver reports a task's error as the task raised it.
    fn from(failure: TaskFailure) -> Self {
        failure.source
    }
}

impl PortError for crate::Error {
    fn kind(&self) -> ErrorKind {
        crate::Error::kind(self)
    }

    fn aborts_transaction(&self) -> bool {
        matches!(self, crate::Error::Send { kind, .. } if *kind != ErrorKind::User)
    }

    fn stops_the_instance(&self) -> bool {
        matches!(self, crate::Error::Stopped { .. })
    }
}

/// The consumer side: which partitions are fetched, and from where.
pub trait Input {
    /// The error of every port of this runtime.
    type Error: PortError;

    /// Stops fetching `partitions` (back-pressure, or while their task restores).
    fn pause(&mut self, partitions: &[TopicPartition]) -> Result<(), Self::Error>;

    /// Fetches `partitions` again.
    fn resume(&mut self, partitions: &[TopicPartition]) -> Result<(), Self::Error>;

    /// Moves each of `partitions` back to its committed offset (the
    /// beginning when none is committed): records fetched since are read
    /// again.
    fn rewind_to_committed(&mut self, partitions: &[TopicPartition]) -> Result<(), Self::Error>;

    /// The metadata committed with the offsets of `partitions`, one string
    /// per partition (empty when nothing or no metadata is committed).
    fn committed_metadata(
        &mut self,
        partitions: &[TopicPartition],
    ) -> Result<Vec<String>, Self::Error>;
}

/// The producer side: where tasks send records, and what the broker acknowledged.
pub trait Output: Input {
    /// Where tasks send their records.
    fn collector(&mut self) -> &mut dyn RecordCollector;

    /// Waits until every record sent so far is acknowledged; fails on the
    /// first one that could not be written (no offset past it may commit).
    fn flush(&mut self) -> Result<(), Self::Error>;

    /// The highest acknowledged offset of changelog partition `tp`.
    fn changelog_offset(&self, tp: &TopicPartition) -> Option<i64>;
}

/// How consumed offsets are committed: on their own (at-least-once, after
/// the output is acknowledged), or in a transaction with the output
/// (exactly-once).
pub trait Committer: Input {
    /// Whether commits are transactions (exactly-once).
    fn is_transactional(&self) -> bool;

    /// Whether a transaction is open (something was sent since the last commit).
    fn in_transaction(&self) -> bool;

    /// Commits `offsets` (the next offset to consume of each partition,
    /// with its metadata): at-least-once, the consumer's offsets;
    /// exactly-once, the offsets are added to the open transaction (one is
    /// begun when none is open and `offsets` is not empty), which commits
    /// with every record sent since the last commit.
    fn commit(
        &mut self,
        offsets: &[(TopicPartition, OffsetAndMetadata)],
    ) -> Result<(), Self::Error>;

    /// Exactly-once, after a failure of kind `cause`: aborts the open
    /// transaction, so nothing it wrote is visible, or (when `cause` is not
    /// retriable, or the abort fails) replaces the producer the failure left
    /// unusable. Errors only when neither is possible.
    fn abort(&mut self, cause: ErrorKind) -> Result<(), Self::Error>;

    /// Exactly-once, when the thread shuts down after a failure: aborts the
    /// open transaction and nothing more (a producer is never replaced while
    /// closing: that would fence whoever holds the `transactional.id` now).
    fn abort_on_close(&mut self) -> Result<(), Self::Error> {
        self.abort(ErrorKind::Retriable)
    }
}

/// Bringing a new task's stores up to date from their changelogs.
pub trait Restoration: Input {
    /// Takes `task` in: returns it at once when none of its stores is behind
    /// its changelog, else keeps it until [`poll_restore`](Self::poll_restore)
    /// has restored it.
    fn start_restore(&mut self, task: Task) -> Result<Option<Task>, Self::Error>;

    /// Restores for up to `budget_ms` of wall-clock time; returns the tasks
    /// whose stores are now all up to date.
    fn poll_restore(&mut self, budget_ms: u64) -> Result<Vec<Task>, Self::Error>;

    /// Stops restoring the tasks reading any of `partitions` (all with
    /// `None`) and returns them.
    fn stop_restore(&mut self, partitions: Option<&[TopicPartition]>) -> Vec<Task>;

    /// Whether tasks are being restored.
    fn is_restoring(&self) -> bool;

    /// Whether task `id` is being restored.
    fn is_restoring_task(&self, id: TaskId) -> bool;
}

/// Wall-clock time, read once per engine call (for punctuation, idling and
/// how long commits have been failing).
pub trait WallClock {
    /// Milliseconds since the epoch (or the mock clock's time).
    fn now_ms(&self) -> i64;
}

/// Everything the engine needs from a runtime.
pub trait Ports: Output + Committer + Restoration + WallClock {}

impl<T: Output + Committer + Restoration + WallClock> Ports for T {}
