//! [`StreamsConfigBuilder`]: a configuration from code.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use crate::error::Result;
use crate::keys;
use crate::values::{
    DeserializationExceptionHandler, ProcessingExceptionHandler, ProcessingGuarantee,
    ProductionExceptionHandler,
};
use crate::StreamsConfig;

/// Collects settings from code; [`StreamsConfigBuilder::build`] validates
/// them exactly as [`StreamsConfig::from_pairs`] does. The typed setters are
/// shorthands for [`StreamsConfigBuilder::set`] with the key's name.
///
/// ```
/// use weir_config::{ProcessingGuarantee, StreamsConfig};
///
/// let config = StreamsConfig::builder()
///     .application_id("alerts")
///     .bootstrap_servers("localhost:9092")
///     .processing_guarantee(ProcessingGuarantee::ExactlyOnceV2)
///     .num_stream_threads(2)
///     .set("consumer.fetch.min.bytes", "1024")
///     .build()?;
/// assert_eq!(config.num_stream_threads(), 2);
/// # Ok::<(), weir_config::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct StreamsConfigBuilder {
    pairs: BTreeMap<String, String>,
}

impl StreamsConfig {
    /// An empty builder.
    pub fn builder() -> StreamsConfigBuilder {
        StreamsConfigBuilder::default()
    }
}

impl StreamsConfigBuilder {
    /// Sets any key (a Weir key, a Kafka client key, or a `consumer.`,
    /// `producer.`, `admin.` prefixed one); checked by `build`.
    pub fn set(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.pairs.insert(key.into(), value.into());
        self
    }

    /// Validates the settings.
    pub fn build(self) -> Result<StreamsConfig> {
        StreamsConfig::parse(self.pairs)
    }

    /// `application.id`.
    pub fn application_id(self, id: impl Into<String>) -> Self {
        self.set(keys::APPLICATION_ID, id)
    }

    /// `bootstrap.servers`.
    pub fn bootstrap_servers(self, servers: impl Into<String>) -> Self {
        self.set(keys::BOOTSTRAP_SERVERS, servers)
    }

    /// `client.id`.
    pub fn client_id(self, id: impl Into<String>) -> Self {
        self.set(keys::CLIENT_ID, id)
    }

    /// `num.stream.threads`.
    pub fn num_stream_threads(self, n: usize) -> Self {
        self.set(keys::NUM_STREAM_THREADS, n.to_string())
    }

    /// `commit.interval.ms`.
    pub fn commit_interval(self, interval: Duration) -> Self {
        self.set(keys::COMMIT_INTERVAL_MS, interval.as_millis().to_string())
    }

    /// `processing.guarantee`.
    pub fn processing_guarantee(self, guarantee: ProcessingGuarantee) -> Self {
        self.set(keys::PROCESSING_GUARANTEE, guarantee.as_str())
    }

    /// `state.dir`.
    pub fn state_dir(self, dir: impl AsRef<Path>) -> Self {
        self.set(keys::STATE_DIR, dir.as_ref().to_string_lossy())
    }

    /// `max.task.idle.ms` (-1: never wait).
    pub fn max_task_idle_ms(self, ms: i64) -> Self {
        self.set(keys::MAX_TASK_IDLE_MS, ms.to_string())
    }

    /// `buffered.records.per.partition`.
    pub fn buffered_records_per_partition(self, n: usize) -> Self {
        self.set(keys::BUFFERED_RECORDS_PER_PARTITION, n.to_string())
    }

    /// `statestore.cache.max.bytes`.
    pub fn statestore_cache_max_bytes(self, bytes: u64) -> Self {
        self.set(keys::STATESTORE_CACHE_MAX_BYTES, bytes.to_string())
    }

    /// `rocksdb.memory.budget.bytes`.
    pub fn rocksdb_memory_budget_bytes(self, bytes: u64) -> Self {
        self.set(keys::ROCKSDB_MEMORY_BUDGET_BYTES, bytes.to_string())
    }

    /// `transaction.timeout.ms`.
    pub fn transaction_timeout(self, timeout: Duration) -> Self {
        self.set(
            keys::TRANSACTION_TIMEOUT_MS,
            timeout.as_millis().to_string(),
        )
    }

    /// `deserialization.exception.handler`.
    pub fn deserialization_exception_handler(self, h: DeserializationExceptionHandler) -> Self {
        self.set(keys::DESERIALIZATION_EXCEPTION_HANDLER, h.as_str())
    }

    /// `processing.exception.handler`.
    pub fn processing_exception_handler(self, h: ProcessingExceptionHandler) -> Self {
        self.set(keys::PROCESSING_EXCEPTION_HANDLER, h.as_str())
    }

    /// `production.exception.handler`.
    pub fn production_exception_handler(self, h: ProductionExceptionHandler) -> Self {
        self.set(keys::PRODUCTION_EXCEPTION_HANDLER, h.as_str())
    }

    /// `errors.dead.letter.queue.topic.name`: where the built-in handlers
    /// write failed records (the topic must exist).
    pub fn dead_letter_queue_topic(self, topic: impl Into<String>) -> Self {
        self.set(keys::ERRORS_DEAD_LETTER_QUEUE_TOPIC_NAME, topic.into())
    }

    /// `replication.factor` (-1: the broker's default).
    pub fn replication_factor(self, n: i16) -> Self {
        self.set(keys::REPLICATION_FACTOR, n.to_string())
    }

    /// `windowstore.changelog.additional.retention.ms`.
    pub fn windowstore_changelog_additional_retention_ms(self, ms: i64) -> Self {
        self.set(
            keys::WINDOWSTORE_CHANGELOG_ADDITIONAL_RETENTION_MS,
            ms.to_string(),
        )
    }
}
