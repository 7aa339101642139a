//! [`StreamsConfig`]: parsing and validating the keys, and the typed getters.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use weir_core::task::TaskConfig;

use crate::error::{Error, Result};
use crate::keys;
use crate::values::{
    parse_guarantee, DeserializationExceptionHandler, ProcessingExceptionHandler,
    ProcessingGuarantee, ProductionExceptionHandler,
};

/// The longest `application.id`: it prefixes internal topic names, which
/// Kafka limits to 249 characters, leaving room for the store or operator name.
pub const MAX_APPLICATION_ID_LEN: usize = 200;

/// The typed, validated configuration of a Weir application.
///
/// Keys keep Kafka Streams' names. Build one from code with
/// [`StreamsConfig::builder`] or [`StreamsConfig::from_pairs`], or load one
/// from a TOML/YAML file and `WEIR_` environment variables with
/// [`StreamsConfig::load`]. Every way goes through the same validation: a
/// missing `application.id`, an unknown key or a bad value is an [`Error`]
/// that names the key.
///
/// `bootstrap.servers` is optional here so that the test driver can run a
/// topology from a configuration without brokers; the Kafka runtime calls
/// [`StreamsConfig::validate_for_runtime`], which requires it.
///
/// Kafka client settings (`security.protocol`, `sasl.*`, `ssl.*`, `linger.ms`,
/// ... see [`keys::CLIENT_PASS_THROUGH`]) are kept as strings and passed
/// through to every client; keys prefixed `consumer.`, `producer.` or `admin.`
/// apply to that client only.
///
/// ```
/// use weir_config::{ProcessingGuarantee, StreamsConfig};
///
/// let config = StreamsConfig::from_pairs([
///     ("application.id", "fraud-detector"),
///     ("bootstrap.servers", "kafka:9092"),
///     ("processing.guarantee", "exactly_once_v2"),
///     ("producer.linger.ms", "5"),
/// ])?;
/// assert_eq!(config.processing_guarantee(), ProcessingGuarantee::ExactlyOnceV2);
/// assert_eq!(config.commit_interval_ms(), 100); // the exactly-once default
/// assert_eq!(config.producer_overrides().get("linger.ms").map(String::as_str), Some("5"));
/// config.validate_for_runtime()?;
/// # Ok::<(), weir_config::Error>(())
/// ```
#[derive(Clone)]
pub struct StreamsConfig {
    originals: BTreeMap<String, String>,
    application_id: String,
    bootstrap_servers: Option<String>,
    client_id: Option<String>,
    num_stream_threads: usize,
    commit_interval_ms: u64,
    processing_guarantee: ProcessingGuarantee,
    state_dir: PathBuf,
    max_task_idle_ms: i64,
    buffered_records_per_partition: usize,
    statestore_cache_max_bytes: u64,
    rocksdb_memory_budget_bytes: u64,
    transaction_timeout_ms: u64,
    deserialization_exception_handler: DeserializationExceptionHandler,
    processing_exception_handler: ProcessingExceptionHandler,
    production_exception_handler: ProductionExceptionHandler,
    dead_letter_queue_topic: Option<String>,
    replication_factor: i16,
    windowstore_changelog_additional_retention_ms: i64,
    client_overrides: BTreeMap<String, String>,
    consumer_overrides: BTreeMap<String, String>,
    producer_overrides: BTreeMap<String, String>,
    admin_overrides: BTreeMap<String, String>,
}

/// Parses an integer of type `T` in `min..=max`, or fails naming `key`.
fn int<T: TryFrom<i128>>(key: &str, value: &str, min: i128, max: i128) -> Result<T> {
    let expected = || {
        if max == i128::from(u64::MAX) || max == i128::from(i64::MAX) {
            format!("expected an integer >= {min}")
        } else {
            format!("expected an integer from {min} to {max}")
        }
    };
    let n: i128 = value
        .trim()
        .parse()
        .map_err(|_| Error::invalid(key, value, expected()))?;
    if n < min || n > max {
        return Err(Error::invalid(key, value, expected()));
    }
    T::try_from(n).map_err(|_| Error::invalid(key, value, expected()))
}

/// A non-empty string value (trimmed), or an error naming `key`.
fn non_empty(key: &str, value: &str) -> Result<String> {
    let v = value.trim();
    if v.is_empty() {
        return Err(Error::invalid(key, value, "must not be empty"));
    }
    Ok(v.to_owned())
}

/// `application.id` must be usable as a Kafka topic-name prefix.
fn application_id(value: &str) -> Result<String> {
    let key = keys::APPLICATION_ID;
    if value.is_empty() {
        return Err(Error::invalid(key, value, "must not be empty"));
    }
    if value.len() > MAX_APPLICATION_ID_LEN {
        return Err(Error::invalid(
            key,
            value,
            format!(
                "must be at most {MAX_APPLICATION_ID_LEN} characters (it prefixes topic names)"
            ),
        ));
    }
    if let Some(c) = value
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(Error::invalid(
            key,
            value,
            format!("character {c:?} is not allowed in a Kafka topic name; use [a-zA-Z0-9._-]"),
        ));
    }
    Ok(value.to_owned())
}

/// `bootstrap.servers`: a comma-separated list without empty entries.
fn bootstrap_servers(value: &str) -> Result<String> {
    let key = keys::BOOTSTRAP_SERVERS;
    let v = non_empty(key, value)?;
    if v.split(',').any(|s| s.trim().is_empty()) {
        return Err(Error::invalid(
            key,
            value,
            "expected a comma-separated list of host:port without empty entries",
        ));
    }
    Ok(v)
}

/// The default `state.dir`: `${TMPDIR:-/tmp}/weir`, as Kafka Streams uses
/// `/tmp/kafka-streams`.
pub fn default_state_dir() -> PathBuf {
    std::env::temp_dir().join("weir")
}

impl StreamsConfig {
    /// Builds and validates a configuration from `(key, value)` pairs; a key
    /// given twice keeps its last value.
    pub fn from_pairs<I, K, V>(pairs: I) -> Result<Self>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let originals = pairs
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        Self::parse(originals)
    }

    /// Sets `key` to `value` and validates again; on error `self` is unchanged.
    /// Defaults that depend on other keys follow (setting
    /// `processing.guarantee` changes the default `commit.interval.ms`).
    pub fn set(&mut self, key: impl Into<String>, value: impl Into<String>) -> Result<()> {
        let mut originals = self.originals.clone();
        originals.insert(key.into(), value.into());
        *self = Self::parse(originals)?;
        Ok(())
    }

    /// Checks what the Kafka runtime needs beyond [`StreamsConfig::from_pairs`]:
    /// `bootstrap.servers` must be set.
    pub fn validate_for_runtime(&self) -> Result<()> {
        if self.bootstrap_servers.is_none() {
            return Err(Error::Missing {
                key: keys::BOOTSTRAP_SERVERS.to_owned(),
            });
        }
        Ok(())
    }

    pub(crate) fn parse(originals: BTreeMap<String, String>) -> Result<Self> {
        let mut app_id = None;
        let mut commit_interval_ms = None;
        let mut c = StreamsConfig {
            originals: BTreeMap::new(),
            application_id: String::new(),
            bootstrap_servers: None,
            client_id: None,
            num_stream_threads: 1,
            commit_interval_ms: 0,
            processing_guarantee: ProcessingGuarantee::AtLeastOnce,
            state_dir: default_state_dir(),
            max_task_idle_ms: 0,
            buffered_records_per_partition: 1000,
            statestore_cache_max_bytes: 10 * 1024 * 1024,
            rocksdb_memory_budget_bytes: 256 * 1024 * 1024,
            transaction_timeout_ms: 10_000,
            deserialization_exception_handler: DeserializationExceptionHandler::LogAndFail,
            processing_exception_handler: ProcessingExceptionHandler::LogAndFail,
            production_exception_handler: ProductionExceptionHandler::LogAndFail,
            dead_letter_queue_topic: None,
            replication_factor: -1,
            windowstore_changelog_additional_retention_ms: 86_400_000,
            client_overrides: BTreeMap::new(),
            consumer_overrides: BTreeMap::new(),
            producer_overrides: BTreeMap::new(),
            admin_overrides: BTreeMap::new(),
        };
        let unbounded = i128::from(i64::MAX);
        for (key, value) in &originals {
            let k = key.as_str();
            let v = value.as_str();
            match k {
                keys::APPLICATION_ID => app_id = Some(application_id(v)?),
                keys::BOOTSTRAP_SERVERS => c.bootstrap_servers = Some(bootstrap_servers(v)?),
                keys::CLIENT_ID => c.client_id = Some(non_empty(k, v)?),
                keys::NUM_STREAM_THREADS => {
                    c.num_stream_threads = int(k, v, 1, i128::from(u16::MAX))?
                }
                keys::COMMIT_INTERVAL_MS => commit_interval_ms = Some(int(k, v, 0, unbounded)?),
                keys::PROCESSING_GUARANTEE => c.processing_guarantee = parse_guarantee(v)?,
                keys::STATE_DIR => c.state_dir = PathBuf::from(non_empty(k, v)?),
                keys::DEFAULT_KEY_SERDE | keys::DEFAULT_VALUE_SERDE => {
                    return Err(Error::unsupported(
                        k,
                        v,
                        "Weir has no default serdes; give each operator its serdes in code \
                         (Consumed::with, Produced::with, Grouped::with, Materialized::with)",
                    ))
                }
                keys::MAX_TASK_IDLE_MS => c.max_task_idle_ms = int(k, v, -1, unbounded)?,
                keys::BUFFERED_RECORDS_PER_PARTITION => {
                    c.buffered_records_per_partition = int(k, v, 1, unbounded)?
                }
                keys::STATESTORE_CACHE_MAX_BYTES => {
                    c.statestore_cache_max_bytes = int(k, v, 0, unbounded)?
                }
                keys::ROCKSDB_MEMORY_BUDGET_BYTES => {
                    c.rocksdb_memory_budget_bytes = int(k, v, 0, unbounded)?
                }
                keys::TRANSACTION_TIMEOUT_MS => {
                    c.transaction_timeout_ms = int(k, v, 1, i128::from(i32::MAX))?
                }
                keys::DESERIALIZATION_EXCEPTION_HANDLER => {
                    c.deserialization_exception_handler = v.parse()?
                }
                keys::PROCESSING_EXCEPTION_HANDLER => c.processing_exception_handler = v.parse()?,
                keys::PRODUCTION_EXCEPTION_HANDLER => c.production_exception_handler = v.parse()?,
                keys::ERRORS_DEAD_LETTER_QUEUE_TOPIC_NAME => {
                    let topic = v.trim();
                    if topic.is_empty() {
                        return Err(Error::invalid(k, v, "expected a topic name"));
                    }
                    c.dead_letter_queue_topic = Some(topic.to_string());
                }
                keys::NUM_STANDBY_REPLICAS => {
                    let n: u16 = int(k, v, 0, i128::from(u16::MAX))?;
                    if n != 0 {
                        return Err(Error::unsupported(
                            k,
                            v,
                            "standby replicas are not supported yet; \
                             remove the key or set it to 0 (state is restored from changelogs)",
                        ));
                    }
                }
                keys::WINDOWSTORE_CHANGELOG_ADDITIONAL_RETENTION_MS => {
                    c.windowstore_changelog_additional_retention_ms = int(k, v, 0, unbounded)?
                }
                keys::REPLICATION_FACTOR => {
                    c.replication_factor = int(k, v, -1, i128::from(i16::MAX))?;
                    if c.replication_factor == 0 {
                        return Err(Error::invalid(
                            k,
                            v,
                            "expected -1 (the broker's default) or an integer >= 1",
                        ));
                    }
                }
                _ => c.pass_through(k, v)?,
            }
        }
        c.application_id = app_id.ok_or_else(|| Error::Missing {
            key: keys::APPLICATION_ID.to_owned(),
        })?;
        c.commit_interval_ms = commit_interval_ms
            .unwrap_or_else(|| c.processing_guarantee.default_commit_interval_ms());
        if c.processing_guarantee.is_exactly_once()
            && c.transaction_timeout_ms <= c.commit_interval_ms
        {
            return Err(Error::invalid(
                keys::TRANSACTION_TIMEOUT_MS,
                &c.transaction_timeout_ms.to_string(),
                format!(
                    "under exactly_once_v2 it must exceed commit.interval.ms ({}), \
                     or transactions time out before they are committed",
                    c.commit_interval_ms
                ),
            ));
        }
        c.originals = originals;
        Ok(c)
    }

    /// Files a Kafka client key in the right map, or refuses an unknown key.
    fn pass_through(&mut self, key: &str, value: &str) -> Result<()> {
        if key == keys::PRODUCER_PARTITIONER && value.trim() != keys::JAVA_PARTITIONER {
            return Err(Error::invalid(
                key,
                value,
                format!(
                    "Weir's producers partition like Kafka's Java producer ('{}') so its topics \
                     stay co-partitioned with topics Java clients write; pick partitions in the \
                     topology (Produced::with_partitioner) instead",
                    keys::JAVA_PARTITIONER
                ),
            ));
        }
        let prefixed = [
            (keys::CONSUMER_PREFIX, &mut self.consumer_overrides),
            (keys::PRODUCER_PREFIX, &mut self.producer_overrides),
            (keys::ADMIN_PREFIX, &mut self.admin_overrides),
        ];
        for (prefix, map) in prefixed {
            if let Some(rest) = key.strip_prefix(prefix) {
                if rest.is_empty() {
                    break;
                }
                map.insert(rest.to_owned(), value.to_owned());
                return Ok(());
            }
        }
        if keys::is_client_pass_through(key) {
            // Keys for one kind of client go to it alone; a key given with an
            // explicit `consumer.`/`producer.` prefix wins whatever the order.
            let target = if keys::is_consumer_only(key) {
                &mut self.consumer_overrides
            } else if keys::is_producer_only(key) {
                &mut self.producer_overrides
            } else {
                &mut self.client_overrides
            };
            target
                .entry(key.to_owned())
                .or_insert_with(|| value.to_owned());
            return Ok(());
        }
        Err(Error::Unknown {
            key: key.to_owned(),
            suggestion: keys::suggest(key).map(str::to_owned),
        })
    }

    /// The settings a task runs with: `application.id`, `max.task.idle.ms`,
    /// the handlers named by `deserialization.exception.handler`,
    /// `processing.exception.handler` and `production.exception.handler`,
    /// the dead-letter topic, and the
    /// record cache budget of each stream thread
    /// (`statestore.cache.max.bytes` divided evenly over
    /// `num.stream.threads`, as in Kafka Streams).
    pub fn task_config(&self) -> TaskConfig {
        let mut task = TaskConfig::new(self.application_id.clone());
        task.max_task_idle_ms = self.max_task_idle_ms;
        task.deserialization_handler = self.deserialization_exception_handler.handler();
        task.processing_handler = self.processing_exception_handler.handler();
        task.production_handler = self.production_exception_handler.handler();
        task.dead_letter_topic = self.dead_letter_queue_topic.clone();
        let total = usize::try_from(self.statestore_cache_max_bytes).unwrap_or(usize::MAX);
        task.cache_max_bytes = total / self.num_stream_threads.max(1);
        task.guarantee = self.processing_guarantee;
        task
    }

    /// The keys and values as given (before defaults), sorted by key.
    /// Careful: values of sensitive keys are included (see [`keys::is_sensitive`]).
    pub fn originals(&self) -> &BTreeMap<String, String> {
        &self.originals
    }

    /// `application.id`.
    pub fn application_id(&self) -> &str {
        &self.application_id
    }

    /// `bootstrap.servers`, if set (the Kafka runtime requires it).
    pub fn bootstrap_servers(&self) -> Option<&str> {
        self.bootstrap_servers.as_deref()
    }

    /// `client.id`, if set.
    pub fn client_id(&self) -> Option<&str> {
        self.client_id.as_deref()
    }

    /// `num.stream.threads` (default 1).
    pub fn num_stream_threads(&self) -> usize {
        self.num_stream_threads
    }

    /// `commit.interval.ms`: as set, else 30000 under at-least-once and 100
    /// under exactly-once.
    pub fn commit_interval_ms(&self) -> u64 {
        self.commit_interval_ms
    }

    /// `commit.interval.ms` as a duration.
    pub fn commit_interval(&self) -> Duration {
        Duration::from_millis(self.commit_interval_ms)
    }

    /// `processing.guarantee` (default at-least-once).
    pub fn processing_guarantee(&self) -> ProcessingGuarantee {
        self.processing_guarantee
    }

    /// `state.dir` (default `${TMPDIR:-/tmp}/weir`).
    pub fn state_dir(&self) -> &Path {
        &self.state_dir
    }

    /// `max.task.idle.ms` (default 0; -1: never wait for empty inputs).
    pub fn max_task_idle_ms(&self) -> i64 {
        self.max_task_idle_ms
    }

    /// `buffered.records.per.partition` (default 1000): a partition with this
    /// many records queued is paused until the task catches up.
    pub fn buffered_records_per_partition(&self) -> usize {
        self.buffered_records_per_partition
    }

    /// `statestore.cache.max.bytes` (default 10485760): the record cache of
    /// all the stream threads, divided evenly between them; 0 turns caching
    /// off (every update is forwarded).
    pub fn statestore_cache_max_bytes(&self) -> u64 {
        self.statestore_cache_max_bytes
    }

    /// `rocksdb.memory.budget.bytes` (default 268435456): block cache and
    /// write buffers shared by all RocksDB stores of an instance.
    pub fn rocksdb_memory_budget_bytes(&self) -> u64 {
        self.rocksdb_memory_budget_bytes
    }

    /// `transaction.timeout.ms` (default 10000), given to the transactional
    /// producers under exactly-once. It must exceed `commit.interval.ms`
    /// (a transaction stays open for one commit interval), and it bounds how
    /// long the open transaction of a crashed instance blocks `read_committed`
    /// consumers of its output partitions before the broker aborts it — hence
    /// a low value rather than the client's one-minute default.
    pub fn transaction_timeout_ms(&self) -> u64 {
        self.transaction_timeout_ms
    }

    /// `transaction.timeout.ms` as a duration.
    pub fn transaction_timeout(&self) -> Duration {
        Duration::from_millis(self.transaction_timeout_ms)
    }

    /// `deserialization.exception.handler` (default log and fail).
    pub fn deserialization_exception_handler(&self) -> DeserializationExceptionHandler {
        self.deserialization_exception_handler
    }

    /// `processing.exception.handler` (default log and fail).
    pub fn processing_exception_handler(&self) -> ProcessingExceptionHandler {
        self.processing_exception_handler
    }

    /// `production.exception.handler` (default log and fail).
    pub fn production_exception_handler(&self) -> ProductionExceptionHandler {
        self.production_exception_handler
    }

    /// `errors.dead.letter.queue.topic.name` (default unset: no dead-letter queue).
    pub fn dead_letter_queue_topic(&self) -> Option<&str> {
        self.dead_letter_queue_topic.as_deref()
    }

    /// `replication.factor` of internal topics (default -1: the broker's default).
    pub fn replication_factor(&self) -> i16 {
        self.replication_factor
    }

    /// `windowstore.changelog.additional.retention.ms` (default 86400000:
    /// 24 h): the changelog topic of a window or session store keeps records
    /// this much longer than the store (`retention.ms` = the store's
    /// retention + this), so that a restore still finds what the store
    /// keeps despite clock drift between the broker and stream time.
    pub fn windowstore_changelog_additional_retention_ms(&self) -> i64 {
        self.windowstore_changelog_additional_retention_ms
    }

    /// Kafka client keys for every client (consumer, producer, admin).
    pub fn client_overrides(&self) -> &BTreeMap<String, String> {
        &self.client_overrides
    }

    /// Keys given with the `consumer.` prefix, prefix stripped. They win
    /// over [`StreamsConfig::client_overrides`] for the consumer.
    pub fn consumer_overrides(&self) -> &BTreeMap<String, String> {
        &self.consumer_overrides
    }

    /// Keys given with the `producer.` prefix, prefix stripped. They win
    /// over [`StreamsConfig::client_overrides`] for the producer.
    pub fn producer_overrides(&self) -> &BTreeMap<String, String> {
        &self.producer_overrides
    }

    /// Keys given with the `admin.` prefix, prefix stripped. They win over
    /// [`StreamsConfig::client_overrides`] for the admin client.
    pub fn admin_overrides(&self) -> &BTreeMap<String, String> {
        &self.admin_overrides
    }
}

/// A map printed with the values of sensitive keys hidden.
struct Redacted<'a> {
    prefix: &'a str,
    map: &'a BTreeMap<String, String>,
}

impl fmt::Debug for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut m = f.debug_map();
        for (k, v) in self.map {
            let full = format!("{}{k}", self.prefix);
            if keys::is_sensitive(&full) {
                m.entry(k, &format_args!("[hidden]"));
            } else {
                m.entry(k, v);
            }
        }
        m.finish()
    }
}

impl fmt::Debug for StreamsConfig {
    /// Prints every setting; values of keys containing `password`, `secret`
    /// or `sasl.jaas` are printed as `[hidden]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redacted = |prefix, map| Redacted { prefix, map };
        f.debug_struct("StreamsConfig")
            .field("application_id", &self.application_id)
            .field("bootstrap_servers", &self.bootstrap_servers)
            .field("client_id", &self.client_id)
            .field("num_stream_threads", &self.num_stream_threads)
            .field("commit_interval_ms", &self.commit_interval_ms)
            .field("processing_guarantee", &self.processing_guarantee)
            .field("state_dir", &self.state_dir)
            .field("max_task_idle_ms", &self.max_task_idle_ms)
            .field(
                "buffered_records_per_partition",
                &self.buffered_records_per_partition,
            )
            .field(
                "statestore_cache_max_bytes",
                &self.statestore_cache_max_bytes,
            )
            .field(
                "rocksdb_memory_budget_bytes",
                &self.rocksdb_memory_budget_bytes,
            )
            .field("transaction_timeout_ms", &self.transaction_timeout_ms)
            .field(
                "deserialization_exception_handler",
                &self.deserialization_exception_handler,
            )
            .field(
                "processing_exception_handler",
                &self.processing_exception_handler,
            )
            .field(
                "production_exception_handler",
                &self.production_exception_handler,
            )
            .field("dead_letter_queue_topic", &self.dead_letter_queue_topic)
            .field("replication_factor", &self.replication_factor)
            .field(
                "windowstore_changelog_additional_retention_ms",
                &self.windowstore_changelog_additional_retention_ms,
            )
            .field("client_overrides", &redacted("", &self.client_overrides))
            .field(
                "consumer_overrides",
                &redacted(keys::CONSUMER_PREFIX, &self.consumer_overrides),
            )
            .field(
                "producer_overrides",
                &redacted(keys::PRODUCER_PREFIX, &self.producer_overrides),
            )
            .field(
                "admin_overrides",
                &redacted(keys::ADMIN_PREFIX, &self.admin_overrides),
            )
            .finish()
    }
}

#[cfg(test)]
mod tests;
