//! The built-in handlers: log and fail (the default), log and continue.
//! Both write the failed record to the dead-letter topic when one is set.

use crate::error::Error;
use crate::handler::{
    dead_letter_record, DeserializationHandler, ErrorContext, HandlerResponse, ProcessingHandler,
    ProductionHandler,
};

/// Logs the error and stops processing (the default of every stage, as in
/// Kafka Streams). With a dead-letter topic, writes the record there too.
#[derive(Debug, Default, Clone, Copy)]
pub struct LogAndFail;

/// Logs the error and skips the record. With a dead-letter topic, writes the
/// record there too.
#[derive(Debug, Default, Clone, Copy)]
pub struct LogAndContinue;

fn log(context: &ErrorContext<'_>, error: &Error, fail: bool) {
    let stage = context.stage.as_str();
    let node = context.node.unwrap_or("-");
    let (topic, partition, offset) = context
        .metadata
        .map_or(("-", -1, -1), |m| (m.topic.as_str(), m.partition, m.offset));
    if fail {
        tracing::error!(
            stage, node, topic, partition, offset, %error,
            "record failed; stopping (handler: log and fail)"
        );
    } else {
        tracing::warn!(
            stage, node, topic, partition, offset, %error,
            "record failed; skipping it (handler: log and continue)"
        );
    }
}

fn respond(context: &ErrorContext<'_>, error: &Error, fail: bool) -> HandlerResponse {
    log(context, error, fail);
    let response = if fail {
        HandlerResponse::fail()
    } else {
        HandlerResponse::resume()
    };
    response.with_dead_letters(dead_letter_record(context, error))
}

impl DeserializationHandler for LogAndFail {
    fn handle(&self, context: &ErrorContext<'_>, error: &Error) -> HandlerResponse {
        respond(context, error, true)
    }
}

impl ProcessingHandler for LogAndFail {
    fn handle(&self, context: &ErrorContext<'_>, error: &Error) -> HandlerResponse {
        respond(context, error, true)
    }
}

impl ProductionHandler for LogAndFail {
    fn handle(
        &self,
        context: &ErrorContext<'_>,
        _: Option<&crate::record::OutputRecord>,
        error: &Error,
    ) -> HandlerResponse {
        respond(context, error, true)
    }
}

impl DeserializationHandler for LogAndContinue {
    fn handle(&self, context: &ErrorContext<'_>, error: &Error) -> HandlerResponse {
        respond(context, error, false)
    }
}

impl ProcessingHandler for LogAndContinue {
    fn handle(&self, context: &ErrorContext<'_>, error: &Error) -> HandlerResponse {
        respond(context, error, false)
    }
}

impl ProductionHandler for LogAndContinue {
    fn handle(
        &self,
        context: &ErrorContext<'_>,
        _: Option<&crate::record::OutputRecord>,
        error: &Error,
    ) -> HandlerResponse {
        respond(context, error, false)
    }
}
