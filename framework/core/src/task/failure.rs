//! Failures of records inside a task: a node's error or panic goes to the
//! processing or the production handler of the task, whose dead-letter
//! records go out through the task's record collector.

use std::any::Any;
use std::sync::Arc;

use crate::collector::RecordCollector;
use crate::error::{Error, Result};
use crate::handler::{
    ErrorContext, ErrorCounts, ErrorStage, HandlerAction, HandlerResponse, SharedProcessingHandler,
    SharedProductionHandler,
};
use crate::record::OutputRecord;
use crate::task::TaskState;

/// The processing and production handlers of a task, and its dead-letter topic.
#[derive(Clone)]
pub(crate) struct Handling {
    pub(crate) processing: SharedProcessingHandler,
    pub(crate) production: SharedProductionHandler,
    pub(crate) dead_letter_topic: Option<Arc<str>>,
    /// Whether each source record's bytes are kept while it is processed.
    pub(crate) keep_source: bool,
}

/// The text of a caught panic.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_string()
    }
}

/// The stage whose handler decides about `error` of a node, or `None` when
/// the error is not about the record (a store, the broker, a fenced task:
/// those stop the task whatever the handlers say) or was already handled
/// further down.
fn stage_of(error: &Error, sink: bool) -> Option<ErrorStage> {
    match error {
        Error::Processor { .. } | Error::Application { .. } | Error::Panic { .. } => {
            Some(ErrorStage::Processing)
        }
        Error::Serialization { .. } if sink => Some(ErrorStage::Production),
        Error::Serialization { .. } | Error::Deserialization { .. } => Some(ErrorStage::Processing),
        Error::Send { kind, .. } if sink && *kind == crate::ErrorKind::User => {
            Some(ErrorStage::Production)
        }
        _ => None,
    }
}

/// Where a failure happened, for [`Error::RecordFailed`].
fn at(state: &TaskState) -> String {
    match state.metadata.as_ref().filter(|_| state.in_record) {
        Some(m) => format!("record {}-{} offset {}", m.topic, m.partition, m.offset),
        None => "a punctuation".to_string(),
    }
}

/// Hands `error` of node `idx` to the handler of its stage: `Ok` when the
/// handler said continue (the record goes no further down this node),
/// else [`Error::RecordFailed`]. Errors no handler decides about come back
/// unchanged.
pub(crate) fn handle_node_error(
    state: &mut TaskState,
    io: &mut dyn RecordCollector,
    idx: usize,
    error: Error,
) -> Result<()> {
    let Some(stage) = stage_of(&error, state.nodes[idx].sink) else {
        return Err(error);
    };
    let response = {
        let metadata = state.metadata.as_ref().filter(|_| state.in_record);
        let source = state
            .source_raw
            .as_ref()
            .filter(|_| state.in_record)
            .map(|s| s.record.as_ref());
        let context = ErrorContext {
            stage,
            task: Some(state.id),
            node: Some(&state.nodes[idx].name),
            metadata,
            source,
            dead_letter_topic: state.handling.dead_letter_topic.as_deref(),
        };
        // The refused record was moved into the collector: a handler has
        // the source record and the error's text.
        match stage {
            ErrorStage::Production => state.handling.production.handle(&context, None, &error),
            _ => state.handling.processing.handle(&context, &error),
        }
    };
    let HandlerResponse {
        action,
        dead_letters,
    } = response;
    send_dead_letters(io, &mut state.errors, stage, dead_letters)?;
    match action {
        HandlerAction::Continue => {
            state.errors.stage_mut(stage).dropped += 1;
            Ok(())
        }
        HandlerAction::Fail | HandlerAction::Retry => {
            if action == HandlerAction::Retry {
                tracing::warn!(
                    stage = stage.as_str(),
                    "the handler said retry for an error that cannot be retried; failing"
                );
            }
            Err(Error::RecordFailed {
                stage: stage.as_str(),
                node: state.nodes[idx].name.clone(),
                at: at(state),
                source: Box::new(error),
            })
        }
    }
}

/// Writes a handler's dead-letter records through `io`, counting them.
pub(crate) fn send_dead_letters(
    io: &mut dyn RecordCollector,
    errors: &mut ErrorCounts,
    stage: ErrorStage,
    records: Vec<OutputRecord>,
) -> Result<()> {
    for record in records {
        let topic = record.topic.to_string();
        io.send(record).map_err(|e| Error::Send {
            topic: topic.clone(),
            message: format!(
                "cannot write a dead-letter record (is the dead-letter topic created? Kafka \
                 Streams and Weir do not create it): {e}"
            ),
            kind: e.kind(),
        })?;
        errors.stage_mut(stage).dead_lettered += 1;
    }
    Ok(())
}
