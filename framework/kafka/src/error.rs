//! The error type of weir-kafka and its classification.

use std::time::Duration;

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use weir_core::ErrorKind;

/// Errors raised by weir-kafka's clients (admin, producers, readers).
///
/// Each error knows its [`ErrorKind`], from which the runtime decides to
/// retry, rejoin or stop.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A client setting is missing or invalid; `key` names it.
    #[error("invalid Kafka client configuration '{key}': {message}")]
    Config {
        /// The configuration key at fault.
        key: String,
        /// What went wrong.
        message: String,
    },
    /// A topic exists with another partition count than the one asked for.
    #[error("topic '{topic}' exists with {actual} partitions, but {expected} were requested")]
    PartitionCountMismatch {
        /// The topic.
        topic: String,
        /// The partition count that was asked for.
        expected: i32,
        /// The partition count the topic has.
        actual: i32,
    },
    /// A topic that should exist does not.
    #[error("topic '{topic}' does not exist")]
    UnknownTopic {
        /// The topic.
        topic: String,
    },
    /// An admin operation (creating or describing topics) failed.
    #[error("admin operation on topic '{topic}' failed: {message}")]
    Admin {
        /// The topic the operation was about.
        topic: String,
        /// What went wrong.
        message: String,
        /// Class of the failure.
        kind: ErrorKind,
    },
    /// Producing records failed.
    #[error("cannot produce to topic '{topic}': {message}")]
    Produce {
        /// The destination topic.
        topic: String,
        /// What went wrong.
        message: String,
        /// Class of the failure.
        kind: ErrorKind,
    },
    /// A transaction step (`init`, `begin`, `commit`, `abort`) failed.
    #[error("transaction {operation} failed for transactional.id '{transactional_id}': {message}")]
    Transaction {
        /// The step that failed.
        operation: &'static str,
        /// The producer's `transactional.id`.
        transactional_id: String,
        /// What went wrong.
        message: String,
        /// Class of the failure; [`ErrorKind::Retriable`] here means the
        /// transaction can be aborted and retried.
        kind: ErrorKind,
    },
    /// Consuming records failed.
    #[error("cannot consume from topic '{topic}': {message}")]
    Consume {
        /// The source topic.
        topic: String,
        /// What went wrong.
        message: String,
        /// Class of the failure.
        kind: ErrorKind,
    },
    /// An operation did not finish within its time bound.
    #[error("{operation} did not finish within {after:?}")]
    Timeout {
        /// What was being done, naming the topic when there is one.
        operation: String,
        /// The bound that was exceeded.
        after: Duration,
    },
    /// A source topic of the topology does not exist.
    #[error("source topic '{topic}' does not exist; create it before starting the application")]
    MissingSourceTopic {
        /// The topic.
        topic: String,
    },
    /// A topic the topology's sinks write to does not exist. Weir's
    /// producers never have the broker create a topic (a topic created by
    /// the broker's defaults would be wrongly partitioned and configured).
    #[error("sink topic '{topic}' does not exist; create it before starting the application")]
    MissingSinkTopic {
        /// The topic.
        topic: String,
    },
    /// The source topics of one sub-topology have different partition counts,
    /// so partition i of each cannot be processed together.
    #[error("sub-topology {subtopology} reads topics that are not co-partitioned: {detail}")]
    CoPartitioning {
        /// The sub-topology.
        subtopology: u32,
        /// Each topic with its partition count.
        detail: String,
    },
    /// A feature the configuration asks for is not available yet.
    #[error("'{key}' = '{value}' is not supported yet: {message}")]
    Unsupported {
        /// The configuration key.
        key: String,
        /// The value asked for.
        value: String,
        /// Why, and what to use instead.
        message: String,
    },
    /// Committing consumed offsets failed.
    #[error("offset commit failed: {message}")]
    Commit {
        /// What went wrong.
        message: String,
        /// Class of the failure.
        kind: ErrorKind,
    },
    /// Processing failed inside the topology (a processor, a serde, a timestamp).
    #[error("processing failed in task {task}: {source}")]
    Processing {
        /// The task, `<sub-topology>_<partition>`.
        task: String,
        /// The error from the task engine.
        #[source]
        source: weir_core::Error,
    },
    /// A client could not be created.
    #[error("cannot create Kafka client: {message}")]
    Client {
        /// What went wrong.
        message: String,
        /// Class of the failure.
        kind: ErrorKind,
    },
}

impl Error {
    /// A client that could not be created or configured, classified.
    pub(crate) fn client(e: &KafkaError) -> Self {
        Error::Client {
            message: e.to_string(),
            kind: classify(e),
        }
    }

    /// The class of this error, which decides how the runtime reacts.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Config { .. }
            | Error::PartitionCountMismatch { .. }
            | Error::UnknownTopic { .. }
            | Error::MissingSourceTopic { .. }
            | Error::MissingSinkTopic { .. }
            | Error::CoPartitioning { .. }
            | Error::Unsupported { .. } => ErrorKind::User,
            Error::Processing { source, .. } => source.kind(),
            Error::Timeout { .. } => ErrorKind::Retriable,
            Error::Admin { kind, .. }
            | Error::Produce { kind, .. }
            | Error::Transaction { kind, .. }
            | Error::Consume { kind, .. }
            | Error::Commit { kind, .. }
            | Error::Client { kind, .. } => *kind,
        }
    }
}

/// Result alias used across weir-kafka.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Calls `call` again while it fails with a retriable error (a broker
/// restarting, a leader moving), for up to `within`; returns the last error
/// otherwise.
pub(crate) fn retry_retriable<T>(
    what: &str,
    within: Duration,
    mut call: impl FnMut() -> rdkafka::error::KafkaResult<T>,
) -> Result<T, KafkaError> {
    let start = std::time::Instant::now();
    loop {
        match call() {
            Ok(v) => return Ok(v),
            Err(e) if classify(&e) == ErrorKind::Retriable && start.elapsed() < within => {
                tracing::warn!(error = %e, "{what} failed; retrying");
                std::thread::sleep(Duration::from_millis(250));
            }
            Err(e) => return Err(e),
        }
    }
}

/// Classifies a client error.
pub(crate) fn classify(err: &KafkaError) -> ErrorKind {
    if let KafkaError::Transaction(e) = err {
        if e.is_fatal() {
            return fenced_or_fatal(e.code());
        }
        if e.is_retriable() || e.txn_requires_abort() {
            return ErrorKind::Retriable;
        }
    }
    match err {
        KafkaError::ClientConfig(..) => ErrorKind::User,
        KafkaError::Canceled => ErrorKind::Retriable,
        _ => match err.rdkafka_error_code() {
            Some(code) => classify_code(code),
            None => ErrorKind::Fatal,
        },
    }
}

/// Classifies a broker or client error code.
pub(crate) fn classify_code(code: RDKafkaErrorCode) -> ErrorKind {
    use RDKafkaErrorCode as C;
    match code {
        C::ProducerFenced
        | C::InvalidProducerEpoch
        | C::Fenced
        | C::FencedInstanceId
        | C::FencedLeaderEpoch
        | C::UnknownMemberId
        | C::IllegalGeneration
        | C::RebalanceInProgress
        | C::AssignmentLost => ErrorKind::Fenced,
        C::InvalidConfig
        | C::InvalidArgument
        | C::InvalidPartitions
        | C::InvalidReplicationFactor
        | C::InvalidTopic
        | C::TopicAuthorizationFailed
        | C::GroupAuthorizationFailed
        | C::TransactionalIdAuthorizationFailed
        | C::ClusterAuthorizationFailed
        | C::MessageSizeTooLarge
        | C::UnknownTopicOrPartition
        | C::UnknownTopic
        | C::UnknownPartition => ErrorKind::User,
        C::RequestTimedOut
        | C::MessageTimedOut
        | C::OperationTimedOut
        | C::BrokerTransportFailure
        | C::AllBrokersDown
        | C::NetworkException
        | C::NotLeaderForPartition
        | C::LeaderNotAvailable
        | C::NotEnoughReplicas
        | C::NotEnoughReplicasAfterAppend
        | C::NotCoordinator
        | C::WaitingForCoordinator
        | C::UnknownLeaderEpoch
        | C::OffsetNotAvailable
        | C::KafkaStorageError
        | C::NotController
        | C::ThrottlingQuotaExceeded
        | C::CoordinatorNotAvailable
        | C::CoordinatorLoadInProgress
        | C::ConcurrentTransactions
        | C::QueueFull
        | C::Resolve
        | C::TimedOutQueue
        | C::InProgress
        | C::PurgeQueue
        | C::PurgeInflight => ErrorKind::Retriable,
        _ => ErrorKind::Fatal,
    }
}

fn fenced_or_fatal(code: RDKafkaErrorCode) -> ErrorKind {
    match classify_code(code) {
        ErrorKind::Fenced => ErrorKind::Fenced,
        _ => ErrorKind::Fatal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_mismatch_is_a_user_error_naming_the_topic() {
        let err = Error::PartitionCountMismatch {
            topic: "orders".into(),
            expected: 3,
            actual: 1,
        };
        assert_eq!(err.kind(), ErrorKind::User);
        assert!(err.to_string().contains("'orders'"));
    }

    #[test]
    fn a_missing_sink_topic_is_a_user_error_naming_it() {
        let err = Error::MissingSinkTopic {
            topic: "alerts".into(),
        };
        assert_eq!(err.kind(), ErrorKind::User);
        assert!(err.to_string().contains("'alerts'"), "{err}");
        assert_eq!(
            classify_code(RDKafkaErrorCode::TopicAuthorizationFailed),
            ErrorKind::User
        );
    }

    #[test]
    fn codes_are_classified() {
        assert_eq!(
            classify_code(RDKafkaErrorCode::ProducerFenced),
            ErrorKind::Fenced
        );
        assert_eq!(
            classify_code(RDKafkaErrorCode::AllBrokersDown),
            ErrorKind::Retriable
        );
        assert_eq!(
            classify_code(RDKafkaErrorCode::InvalidTopic),
            ErrorKind::User
        );
        assert_eq!(
            classify(&KafkaError::MessageProduction(
                RDKafkaErrorCode::MessageTimedOut
            )),
            ErrorKind::Retriable
        );
    }
}
