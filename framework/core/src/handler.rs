//! What to do when a source record cannot be deserialized.

use std::sync::Arc;

use crate::error::Error;
use crate::record::RawRecord;

/// The answer of a [`DeserializationHandler`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandlerResponse {
    /// Stop processing with the error.
    Fail,
    /// Skip the record (its offset is still committed) and go on.
    Continue,
}

/// Decides what happens to a record whose key or value cannot be
/// deserialized. The two built-ins log a line naming topic, partition, offset
/// and the error. (A dead-letter-queue handler can implement this trait too.)
pub trait DeserializationHandler: Send + Sync {
    /// Handles the failure of `record` with `error`.
    fn handle(&self, record: &RawRecord, error: &Error) -> HandlerResponse;
}

/// Logs the error and stops processing (the default, as in Kafka Streams).
#[derive(Debug, Default, Clone, Copy)]
pub struct LogAndFail;

impl DeserializationHandler for LogAndFail {
    fn handle(&self, record: &RawRecord, error: &Error) -> HandlerResponse {
        tracing::error!(
            topic = %record.topic,
            partition = record.partition,
            offset = record.offset,
            %error,
            "deserialization failed; stopping (deserialization handler: log and fail)"
        );
        HandlerResponse::Fail
    }
}

/// Logs the error and skips the record.
#[derive(Debug, Default, Clone, Copy)]
pub struct LogAndContinue;

impl DeserializationHandler for LogAndContinue {
    fn handle(&self, record: &RawRecord, error: &Error) -> HandlerResponse {
        tracing::warn!(
            topic = %record.topic,
            partition = record.partition,
            offset = record.offset,
            %error,
            "deserialization failed; skipping the record (deserialization handler: log and continue)"
        );
        HandlerResponse::Continue
    }
}

/// A shared deserialization handler.
pub type SharedDeserializationHandler = Arc<dyn DeserializationHandler>;
