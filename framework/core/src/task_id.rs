//! The identity of a task, shared by the task engine and the stores it owns
//! (a store knows its task without depending on the task module).

use std::fmt;

/// Identifies a task: `<sub-topology>_<partition>`, as in Kafka Streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaskId {
    /// The sub-topology it runs.
    pub subtopology: u32,
    /// The partition of the sub-topology's source topics it reads.
    pub partition: i32,
}

impl TaskId {
    /// Task `subtopology`_`partition`.
    pub fn new(subtopology: u32, partition: i32) -> Self {
        TaskId {
            subtopology,
            partition,
        }
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}_{}", self.subtopology, self.partition)
    }
}
