//! The error type of a running application.

use weir_core::ErrorKind;

/// Errors from starting, running and closing an application.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StreamsError {
    /// The configuration is missing a key or has a bad value; the message names the key.
    #[error(transparent)]
    Config(#[from] weir_config::Error),
    /// The Kafka runtime failed (a missing topic, a broker error, a failed commit,
    /// or a processing error inside a task).
    #[error(transparent)]
    Kafka(#[from] weir_kafka::Error),
    /// The topology or a processor failed.
    #[error(transparent)]
    Core(#[from] weir_core::Error),
    /// The application was used out of order (started twice, closed before start).
    #[error("{0}")]
    Lifecycle(String),
    /// Installing the SIGTERM / Ctrl-C handler failed.
    #[error("cannot install signal handler: {0}")]
    Signal(#[from] std::io::Error),
}

impl StreamsError {
    /// The class of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            StreamsError::Config(e) => e.kind(),
            StreamsError::Kafka(e) => e.kind(),
            StreamsError::Core(e) => e.kind(),
            StreamsError::Lifecycle(_) => ErrorKind::User,
            StreamsError::Signal(_) => ErrorKind::Fatal,
        }
    }
}
