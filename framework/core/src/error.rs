//! The error type of weir-core and its classification.

use std::fmt;

/// How the runtime should react to an [`Error`].
///
/// Every error in Weir falls in one of these classes; the runtime decides
/// whether to retry, to rejoin the group, or to stop from the class alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The user's mistake: bad configuration, an invalid topology, bad input
    /// that the configured handler refuses. Retrying cannot help.
    User,
    /// A passing condition (a broker away, a timeout): retry after a pause.
    Retriable,
    /// This instance lost ownership (fenced producer, migrated task): close the
    /// affected tasks without committing and rejoin.
    Fenced,
    /// Anything else: stop after closing what can be closed.
    Fatal,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            ErrorKind::User => "user error",
            ErrorKind::Retriable => "retriable",
            ErrorKind::Fenced => "fenced",
            ErrorKind::Fatal => "fatal",
        };
        f.write_str(s)
    }
}

/// Errors raised by weir-core: serdes, topology building, and the task engine.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A key or value could not be serialized.
    #[error("cannot serialize {what} for topic '{topic}': {message}")]
    Serialization {
        /// The topic the bytes were meant for.
        topic: String,
        /// `"key"` or `"value"`.
        what: &'static str,
        /// What went wrong.
        message: String,
    },
    /// Bytes read from a topic could not be deserialized.
    #[error("cannot deserialize {what} from topic '{topic}': {message}")]
    Deserialization {
        /// The topic the bytes came from.
        topic: String,
        /// `"key"` or `"value"`.
        what: &'static str,
        /// What went wrong.
        message: String,
    },
    /// The topology is invalid; the message names the node at fault.
    #[error("invalid topology: {0}")]
    Topology(String),
    /// A record's timestamp is negative or otherwise unusable and the policy is to fail.
    #[error("invalid timestamp {timestamp} in record at {topic}-{partition} offset {offset}")]
    InvalidTimestamp {
        /// Source topic.
        topic: String,
        /// Source partition.
        partition: i32,
        /// Offset of the record.
        offset: i64,
        /// The timestamp that was refused.
        timestamp: i64,
    },
    /// A processor failed while handling a record or a punctuation.
    #[error("processor '{node}' failed: {message}")]
    Processor {
        /// Name of the processor node.
        node: String,
        /// What went wrong.
        message: String,
    },
    /// A state store operation failed.
    #[error("state store '{store}': {message}")]
    Store {
        /// Name of the store.
        store: String,
        /// What went wrong.
        message: String,
    },
    /// A configuration value is missing or invalid; `key` names it.
    #[error("invalid configuration '{key}': {message}")]
    Config {
        /// The configuration key at fault.
        key: String,
        /// What went wrong.
        message: String,
    },
    /// A task was used in a way its topology does not allow (for example
    /// records for a partition it does not own).
    #[error("task {task}: {message}")]
    Task {
        /// The task id, `<sub-topology>_<partition>`.
        task: String,
        /// What went wrong.
        message: String,
    },
    /// An error of the application's own code (a processor, a punctuator, a
    /// fallible closure), kept whole: its chain of sources stays readable
    /// and its type can be recovered with `downcast_ref` on the source.
    /// Build it with [`Error::application`].
    #[error("{context}: {source}")]
    Application {
        /// Where it happened (a node name, an operation).
        context: String,
        /// The application's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
    /// The instance stopped in the middle of an operation (the test
    /// driver's simulated crash): nothing more of its work may be written
    /// or committed. Classified as fenced: never retried.
    #[error("stopped: {reason}")]
    Stopped {
        /// Why, and what to do next.
        reason: String,
    },
    /// Application code panicked in a processor node (a processor, a
    /// punctuator, a DSL closure); the panic was caught at the node.
    #[error("processor '{node}' panicked: {message}")]
    Panic {
        /// Name of the processor node.
        node: String,
        /// The panic's message.
        message: String,
    },
    /// A record failed at a processor node and the error handler of its
    /// stage said fail: the task stops. `source` is the original error.
    #[error("{stage} of {at} failed at processor '{node}' and the handler said fail: {source}")]
    RecordFailed {
        /// `processing` or `production`.
        stage: &'static str,
        /// The node that failed.
        node: String,
        /// The record: `record <topic>-<partition> offset <offset>`, or `a punctuation`.
        at: String,
        /// What went wrong.
        #[source]
        source: Box<Error>,
    },
    /// Writing a record to the record collector failed.
    #[error("cannot send record to topic '{topic}': {message}")]
    Send {
        /// Destination topic.
        topic: String,
        /// What went wrong.
        message: String,
        /// Class of the underlying failure.
        kind: ErrorKind,
    },
}

impl Error {
    /// The application's own error `source`, raised at `context` (a node
    /// name, an operation), kept whole rather than turned into text:
    ///
    /// ```
    /// use std::error::Error as _;
    ///
    /// #[derive(Debug, thiserror::Error)]
    /// #[error("unknown currency {0}")]
    /// struct UnknownCurrency(String);
    ///
    /// let err = weir_core::Error::application("convert", UnknownCurrency("XTS".into()));
    /// assert_eq!(err.to_string(), "convert: unknown currency XTS");
    /// let source = err.source().and_then(|s| s.downcast_ref::<UnknownCurrency>());
    /// assert_eq!(source.map(|c| c.0.as_str()), Some("XTS"));
    /// ```
    pub fn application(
        context: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Error::Application {
            context: context.into(),
            source: Box::new(source),
        }
    }

    /// The class of this error, which decides how the runtime reacts.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Serialization { .. }
            | Error::Deserialization { .. }
            | Error::Topology(_)
            | Error::InvalidTimestamp { .. }
            | Error::Config { .. } => ErrorKind::User,
            Error::Processor { .. }
            | Error::Store { .. }
            | Error::Task { .. }
            | Error::Application { .. }
            | Error::Panic { .. } => ErrorKind::Fatal,
            Error::RecordFailed { source, .. } => source.kind(),
            Error::Stopped { .. } => ErrorKind::Fenced,
            Error::Send { kind, .. } => *kind,
        }
    }
}

/// Result alias used across weir-core.
pub type Result<T, E = Error> = std::result::Result<T, E>;
