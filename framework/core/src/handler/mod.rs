//! What to do with a record that fails: the three error-handler stages of
//! Kafka Streams (KIP-1033, KIP-1034) and the dead-letter queue.
//!
//! - [`DeserializationHandler`]: a source record's key or value cannot be
//!   deserialized (`deserialization.exception.handler`).
//! - [`ProcessingHandler`]: a processor, a punctuator or a fallible DSL
//!   closure returned an error or panicked (`processing.exception.handler`).
//! - [`ProductionHandler`]: a sink could not serialize its record, or the
//!   record was refused for good when sent, too large for instance
//!   (`production.exception.handler`).
//!
//! Each handler answers with a [`HandlerResponse`]: fail, continue or retry,
//! plus dead-letter records to write. The built-ins [`LogAndFail`] and
//! [`LogAndContinue`] serve every stage; when the context names a
//! dead-letter topic (`errors.dead.letter.queue.topic.name`), they also write
//! the failed record there (see [`dead_letter_record`]). The task writes the
//! dead-letter records through its record collector, so under exactly-once
//! they are in the same transaction as the offsets that skip the bad record.

mod builtin;
mod dead_letter;

use std::sync::Arc;

pub use builtin::{LogAndContinue, LogAndFail};
pub use dead_letter::{
    dead_letter_record, error_chain, error_type_name, headers as dead_letter_headers,
};

use crate::error::Error;
use crate::record::{OutputRecord, RawRecordRef, RecordMetadata};
use crate::task_id::TaskId;

/// What a handler decides for the failed record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandlerAction {
    /// Stop processing with the error (the task fails; nothing past the
    /// record commits).
    Fail,
    /// Skip the record (its offset is still committed) and go on.
    Continue,
    /// Try again. Only a production failure the runtime can retry (a broker
    /// away) is retried; elsewhere, as in Kafka Streams for a non-retriable
    /// error, a retry is treated as [`Fail`](Self::Fail).
    Retry,
}

/// The answer of a handler: an action, and dead-letter records to write
/// (whatever the action; with [`HandlerAction::Fail`] they are written only
/// where the task still writes, see `docs/errors.md`).
#[derive(Debug, Clone, PartialEq)]
pub struct HandlerResponse {
    /// Fail, continue or retry.
    pub action: HandlerAction,
    /// Records to write, usually to the dead-letter topic.
    pub dead_letters: Vec<OutputRecord>,
}

impl HandlerResponse {
    /// Fail, without dead-letter records.
    pub fn fail() -> Self {
        Self::of(HandlerAction::Fail)
    }

    /// Continue (skip the record), without dead-letter records.
    pub fn resume() -> Self {
        Self::of(HandlerAction::Continue)
    }

    /// Retry, without dead-letter records.
    pub fn retry() -> Self {
        Self::of(HandlerAction::Retry)
    }

    /// `action`, without dead-letter records.
    pub fn of(action: HandlerAction) -> Self {
        HandlerResponse {
            action,
            dead_letters: Vec::new(),
        }
    }

    /// The same answer, writing `records` as well.
    pub fn with_dead_letters(mut self, records: impl IntoIterator<Item = OutputRecord>) -> Self {
        self.dead_letters.extend(records);
        self
    }
}

/// The stage where a record failed; it names the reason in the metrics
/// (`deserialization`, `processing`, `production`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorStage {
    /// The source record's key or value could not be deserialized.
    Deserialization,
    /// A processor or a punctuator failed.
    Processing,
    /// A sink's record could not be serialized or was refused when sent.
    Production,
}

impl ErrorStage {
    /// The stage's name in metrics and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorStage::Deserialization => "deserialization",
            ErrorStage::Processing => "processing",
            ErrorStage::Production => "production",
        }
    }

    /// Every stage, in order.
    pub const ALL: [ErrorStage; 3] = [
        ErrorStage::Deserialization,
        ErrorStage::Processing,
        ErrorStage::Production,
    ];
}

/// What a handler knows about a failure (Kafka Streams' `ErrorHandlerContext`).
#[derive(Debug, Clone, Copy)]
pub struct ErrorContext<'a> {
    /// The stage that failed.
    pub stage: ErrorStage,
    /// The task; `None` in a global table's thread.
    pub task: Option<TaskId>,
    /// The processor node that failed; `None` at deserialization.
    pub node: Option<&'a str>,
    /// Where the source record came from; `None` during a punctuation.
    pub metadata: Option<&'a RecordMetadata>,
    /// The source record as read, in bytes. Always there at
    /// deserialization; at the other stages, kept only when a dead-letter
    /// topic is set or a handler asks for it
    /// ([`ProcessingHandler::needs_source_bytes`]), and `None` during a
    /// punctuation.
    pub source: Option<RawRecordRef<'a>>,
    /// `errors.dead.letter.queue.topic.name`, if set.
    pub dead_letter_topic: Option<&'a str>,
}

/// Decides what happens to a record whose key or value cannot be
/// deserialized.
pub trait DeserializationHandler: Send + Sync {
    /// Handles the failure of the record in `context` with `error`.
    fn handle(&self, context: &ErrorContext<'_>, error: &Error) -> HandlerResponse;
}

/// Decides what happens when a processor or a punctuator fails on a record
/// (an error it returned, or a panic caught at the node).
pub trait ProcessingHandler: Send + Sync {
    /// Handles `error` of the node in `context`.
    fn handle(&self, context: &ErrorContext<'_>, error: &Error) -> HandlerResponse;

    /// Whether the task must keep each source record's bytes for
    /// [`ErrorContext::source`] even without a dead-letter topic.
    fn needs_source_bytes(&self) -> bool {
        false
    }
}

/// Decides what happens when a sink's record cannot be serialized or is
/// refused for good when sent.
pub trait ProductionHandler: Send + Sync {
    /// Handles `error` of the sink in `context`; `record` is the record as
    /// it was to be sent, when it got that far (not on a serialization
    /// failure).
    fn handle(
        &self,
        context: &ErrorContext<'_>,
        record: Option<&OutputRecord>,
        error: &Error,
    ) -> HandlerResponse;

    /// Whether the task must keep each source record's bytes for
    /// [`ErrorContext::source`] even without a dead-letter topic.
    fn needs_source_bytes(&self) -> bool {
        false
    }
}

/// A shared deserialization handler.
pub type SharedDeserializationHandler = Arc<dyn DeserializationHandler>;
/// A shared processing handler.
pub type SharedProcessingHandler = Arc<dyn ProcessingHandler>;
/// A shared production handler.
pub type SharedProductionHandler = Arc<dyn ProductionHandler>;

/// Records dropped and dead-lettered at one stage.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct StageCounts {
    /// Records skipped because the handler said continue.
    pub dropped: u64,
    /// Dead-letter records written.
    pub dead_lettered: u64,
}

/// Records dropped and dead-lettered per stage (the metrics' reasons).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ErrorCounts {
    /// Records that could not be deserialized.
    pub deserialization: StageCounts,
    /// Records a processor or a punctuator failed on.
    pub processing: StageCounts,
    /// Records a sink could not serialize or send.
    pub production: StageCounts,
}

impl ErrorCounts {
    /// The counts of `stage`.
    pub fn stage(&self, stage: ErrorStage) -> StageCounts {
        match stage {
            ErrorStage::Deserialization => self.deserialization,
            ErrorStage::Processing => self.processing,
            ErrorStage::Production => self.production,
        }
    }

    /// The counts of `stage`, to update.
    pub fn stage_mut(&mut self, stage: ErrorStage) -> &mut StageCounts {
        match stage {
            ErrorStage::Deserialization => &mut self.deserialization,
            ErrorStage::Processing => &mut self.processing,
            ErrorStage::Production => &mut self.production,
        }
    }

    /// Adds `other`'s counts to these.
    pub fn add(&mut self, other: &ErrorCounts) {
        for stage in ErrorStage::ALL {
            let theirs = other.stage(stage);
            let mine = self.stage_mut(stage);
            mine.dropped += theirs.dropped;
            mine.dead_lettered += theirs.dead_lettered;
        }
    }
}

#[cfg(test)]
mod tests;
