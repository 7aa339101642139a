//! Dead-letter records: the failed source record as read (raw key and value
//! bytes, headers, timestamp) plus Kafka Streams' `__streams.errors.*`
//! headers saying what failed and where.

use std::sync::Arc;

use crate::error::Error;
use crate::handler::ErrorContext;
use crate::headers::Headers;
use crate::record::OutputRecord;

/// The names of the headers a dead-letter record carries (Kafka Streams'
/// names, KIP-1034); values are UTF-8 text.
pub mod headers {
    /// The error's type (`weir_core::Error::<variant>`).
    pub const EXCEPTION: &str = "__streams.errors.exception";
    /// The error's message.
    pub const MESSAGE: &str = "__streams.errors.message";
    /// The error chain: the error, then each cause, one per line.
    pub const STACKTRACE: &str = "__streams.errors.stacktrace";
    /// The source record's topic.
    pub const TOPIC: &str = "__streams.errors.topic";
    /// The source record's partition, in decimal.
    pub const PARTITION: &str = "__streams.errors.partition";
    /// The source record's offset, in decimal.
    pub const OFFSET: &str = "__streams.errors.offset";
}

/// The type name written in [`headers::EXCEPTION`]: `weir_core::Error::`
/// and the variant (`Deserialization`, `Processor`, `Panic`, ...).
pub fn error_type_name(error: &Error) -> String {
    let debug = format!("{error:?}");
    let variant: String = debug
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    format!("weir_core::Error::{variant}")
}

/// The error and its chain of causes, one per line (what
/// [`headers::STACKTRACE`] holds: Rust errors carry no stack trace).
pub fn error_chain(error: &Error) -> String {
    let mut out = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        out.push('\n');
        out.push_str("caused by: ");
        out.push_str(&cause.to_string());
        source = cause.source();
    }
    out
}

/// The dead-letter record for the failure in `context`, or `None` when no
/// dead-letter topic is set or there is no source record (a punctuation has
/// none). Key, value, headers and timestamp are the source record's as
/// read; the `__streams.errors.*` headers are added. Custom handlers can
/// call it too.
pub fn dead_letter_record(context: &ErrorContext<'_>, error: &Error) -> Option<OutputRecord> {
    let topic = context.dead_letter_topic?;
    let source = context.source?;
    let mut h: Headers = source.headers.clone();
    h.add(
        headers::EXCEPTION,
        Some(error_type_name(error).into_bytes()),
    );
    h.add(headers::MESSAGE, Some(error.to_string().into_bytes()));
    h.add(headers::STACKTRACE, Some(error_chain(error).into_bytes()));
    h.add(headers::TOPIC, Some(source.topic.as_bytes().to_vec()));
    h.add(
        headers::PARTITION,
        Some(source.partition.to_string().into_bytes()),
    );
    h.add(
        headers::OFFSET,
        Some(source.offset.to_string().into_bytes()),
    );
    Some(OutputRecord {
        topic: Arc::from(topic),
        partition: None,
        key: source.key.map(<[u8]>::to_vec),
        value: source.value.map(<[u8]>::to_vec),
        timestamp: source.timestamp,
        headers: h,
    })
}
