//! [`DriverConfig`]: the settings a [`TopologyTestDriver`](super::TopologyTestDriver) runs with.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use weir_core::handler::{
    DeserializationHandler, LogAndFail, ProcessingHandler, ProductionHandler,
    SharedDeserializationHandler, SharedProcessingHandler, SharedProductionHandler,
};
use weir_core::store::{DefaultBytesStoreSupplier, ThreadCache};
use weir_core::task::{TaskConfig, TaskId};
use weir_core::topology::{InternalTopicOptions, PlannedTopic, Topology};
use weir_core::{Error, Result};
use weir_rocksdb::{rocksdb_default_bytes_store, RocksDbBudget};

/// The application id the driver uses unless told otherwise.
pub const DEFAULT_APPLICATION_ID: &str = "test-app";

/// How many records one driver call (a pipe, a clock advance) may process
/// before the driver gives up, unless told otherwise.
pub const DEFAULT_PROCESSING_LIMIT: usize = 1_000_000;

/// Settings of a [`TopologyTestDriver`](super::TopologyTestDriver), built with
/// `with_*` methods from the defaults:
///
/// | setting | default |
/// |---|---|
/// | `application.id` | `"test-app"` |
/// | initial wall-clock time | 0 ms |
/// | `max.task.idle.ms` | 0 |
/// | deserialization, processing and production handlers | [`LogAndFail`] |
/// | dead-letter topic (`errors.dead.letter.queue.topic.name`) | none |
/// | partitions per topic | 1 |
/// | processing limit per call | 1,000,000 records |
/// | record cache (`statestore.cache.max.bytes`) | 0: every update is forwarded |
/// | state directory | none: stores are in memory |
/// | `windowstore.changelog.additional.retention.ms` | 86,400,000 (24 h) |
///
/// ```
/// use weir_core::handler::LogAndContinue;
/// use weir_testing::DriverConfig;
///
/// let config = DriverConfig::new()
///     .with_application_id("orders-app")
///     .with_wall_clock_time_ms(1_000)
///     .with_partitions(2)
///     .with_topic_partitions("audit", 1)
///     .with_deserialization_handler(LogAndContinue);
/// assert_eq!(config.application_id(), "orders-app");
/// assert_eq!(config.partitions_of("orders"), 2);
/// assert_eq!(config.partitions_of("audit"), 1);
/// ```
#[derive(Clone)]
pub struct DriverConfig {
    application_id: String,
    wall_clock_ms: i64,
    max_task_idle_ms: i64,
    handler: SharedDeserializationHandler,
    processing_handler: SharedProcessingHandler,
    production_handler: SharedProductionHandler,
    dead_letter_topic: Option<String>,
    default_partitions: i32,
    topic_partitions: BTreeMap<String, i32>,
    processing_limit: usize,
    cache_max_bytes: usize,
    state_dir: Option<PathBuf>,
    exactly_once: bool,
    window_changelog_additional_retention_ms: i64,
}

/// The RocksDB memory budget of a driver with a state directory
/// ([`DriverConfig::with_state_dir`]): 16 MiB for all its stores.
pub const DRIVER_ROCKSDB_BUDGET_BYTES: usize = 16 << 20;

impl Default for DriverConfig {
    fn default() -> Self {
        DriverConfig {
            application_id: DEFAULT_APPLICATION_ID.to_string(),
            wall_clock_ms: 0,
            max_task_idle_ms: 0,
            handler: Arc::new(LogAndFail),
            processing_handler: Arc::new(LogAndFail),
            production_handler: Arc::new(LogAndFail),
            dead_letter_topic: None,
            default_partitions: 1,
            topic_partitions: BTreeMap::new(),
            processing_limit: DEFAULT_PROCESSING_LIMIT,
            cache_max_bytes: 0,
            state_dir: None,
            exactly_once: false,
            window_changelog_additional_retention_ms:
                weir_core::store::DEFAULT_WINDOW_CHANGELOG_ADDITIONAL_RETENTION_MS,
        }
    }
}

impl fmt::Debug for DriverConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DriverConfig")
            .field("application_id", &self.application_id)
            .field("wall_clock_ms", &self.wall_clock_ms)
            .field("max_task_idle_ms", &self.max_task_idle_ms)
            .field("default_partitions", &self.default_partitions)
            .field("topic_partitions", &self.topic_partitions)
            .field("processing_limit", &self.processing_limit)
            .field("cache_max_bytes", &self.cache_max_bytes)
            .field("state_dir", &self.state_dir)
            .field("exactly_once", &self.exactly_once)
            .field(
                "window_changelog_additional_retention_ms",
                &self.window_changelog_additional_retention_ms,
            )
            .finish_non_exhaustive()
    }
}

impl DriverConfig {
    /// The defaults (see the table above).
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `application.id`, the prefix of internal topic names
    /// (`<application.id>-<name>`).
    pub fn with_application_id(mut self, application_id: impl Into<String>) -> Self {
        self.application_id = application_id.into();
        self
    }

    /// Sets the mock wall clock's starting time, in milliseconds since the epoch.
    pub fn with_wall_clock_time_ms(mut self, now_ms: i64) -> Self {
        self.wall_clock_ms = now_ms;
        self
    }

    /// Sets `windowstore.changelog.additional.retention.ms`: window and
    /// session changelog topics keep records this much longer than their
    /// stores; it shows in the `retention.ms` of their changelogs in
    /// [`internal_topics`](Self::internal_topics) (negative values count
    /// as 0).
    ///
    /// ```
    /// use weir_testing::DriverConfig;
    ///
    /// let config = DriverConfig::new().with_window_changelog_additional_retention_ms(0);
    /// assert_eq!(config.window_changelog_additional_retention_ms(), 0);
    /// ```
    pub fn with_window_changelog_additional_retention_ms(mut self, ms: i64) -> Self {
        self.window_changelog_additional_retention_ms = ms.max(0);
        self
    }

    /// `windowstore.changelog.additional.retention.ms` (default 24 h).
    pub fn window_changelog_additional_retention_ms(&self) -> i64 {
        self.window_changelog_additional_retention_ms
    }

    /// Sets `max.task.idle.ms`. The driver marks every input partition caught
    /// up (it has all input at hand), so this rarely matters; it is passed to
    /// the tasks as the runtime would.
    pub fn with_max_task_idle_ms(mut self, max_task_idle_ms: i64) -> Self {
        self.max_task_idle_ms = max_task_idle_ms;
        self
    }

    /// Sets what happens to input records that cannot be deserialized.
    pub fn with_deserialization_handler(
        mut self,
        handler: impl DeserializationHandler + 'static,
    ) -> Self {
        self.handler = Arc::new(handler);
        self
    }

    /// Sets what happens when a processor or a punctuator fails on a record
    /// (`processing.exception.handler`).
    pub fn with_processing_handler(mut self, handler: impl ProcessingHandler + 'static) -> Self {
        self.processing_handler = Arc::new(handler);
        self
    }

    /// Sets what happens when a sink's record cannot be serialized or is
    /// refused (`production.exception.handler`).
    pub fn with_production_handler(mut self, handler: impl ProductionHandler + 'static) -> Self {
        self.production_handler = Arc::new(handler);
        self
    }

    /// Sets the dead-letter topic the built-in handlers write failed
    /// records to (`errors.dead.letter.queue.topic.name`); read it with
    /// [`TopologyTestDriver::read_output`](super::TopologyTestDriver::read_output).
    pub fn with_dead_letter_topic(mut self, topic: impl Into<String>) -> Self {
        self.dead_letter_topic = Some(topic.into());
        self
    }

    /// The dead-letter topic, if set.
    pub fn dead_letter_topic(&self) -> Option<&str> {
        self.dead_letter_topic.as_deref()
    }

    /// Sets the partition count of every topic without a count of its own.
    pub fn with_partitions(mut self, partitions: i32) -> Self {
        self.default_partitions = partitions;
        self
    }

    /// Sets the partition count of `topic` (its real name: internal topics
    /// carry the application id prefix).
    pub fn with_topic_partitions(mut self, topic: impl Into<String>, partitions: i32) -> Self {
        self.topic_partitions.insert(topic.into(), partitions);
        self
    }

    /// Sets how many records one driver call may process. A topology whose
    /// output feeds its own input forever hits this limit and the call fails
    /// instead of hanging.
    pub fn with_processing_limit(mut self, records: usize) -> Self {
        self.processing_limit = records;
        self
    }

    /// Gives the driver's tasks a record cache of `bytes`
    /// (`statestore.cache.max.bytes`; the driver is one stream thread, so its
    /// caching stores share the whole budget). The driver commits after
    /// each pipe call, so with a cache a table or aggregation forwards the
    /// latest update of each key of a batch piped at once
    /// ([`pipe_records`](super::TestInputTopic::pipe_records)), and evicted
    /// updates as they go. 0 (the default) forwards every update, whatever
    /// the stores ask, as Kafka Streams' driver shows every update.
    pub fn with_cache_max_bytes(mut self, bytes: usize) -> Self {
        self.cache_max_bytes = bytes;
        self
    }

    /// Keeps the stores that did not choose a backend in RocksDB under `dir`
    /// (the runtime's `state.dir`): store `s` of task `t` at
    /// `<dir>/<application.id>/<t>/rocksdb/<s>`, as the Kafka runtime does,
    /// instead of in memory. A driver created on the same directory after
    /// this one is closed (or dropped) finds the stores' data and continues
    /// from it, as an application restarted on its state directory does.
    /// Stores built `in_memory()` stay in memory. Two drivers cannot use
    /// the same directory at once: the second fails when its task opens a
    /// store, naming the directory. The stores share one RocksDB memory
    /// budget of [`DRIVER_ROCKSDB_BUDGET_BYTES`].
    ///
    /// ```
    /// use weir_core::dsl::{Materialized, StreamsBuilder};
    /// use weir_core::topology::Consumed;
    /// use weir_core::Serdes;
    /// use weir_testing::{DriverConfig, TopologyTestDriver};
    ///
    /// let topology = || {
    ///     let builder = StreamsBuilder::new();
    ///     builder
    ///         .stream("clicks", Consumed::with(Serdes::string(), Serdes::string()))
    ///         .group_by_key()
    ///         .count(Materialized::as_("clicks-per-user", Serdes::string(), Serdes::i64()));
    ///     builder.build()
    /// };
    /// let dir = tempfile::tempdir()?;
    /// let config = DriverConfig::new().with_state_dir(dir.path());
    /// {
    ///     let driver = TopologyTestDriver::new(topology()?, config.clone())?;
    ///     let mut clicks = driver.create_input_topic("clicks", Serdes::string(), Serdes::string());
    ///     clicks.pipe_key_value("ann".to_string(), "/home".to_string())?;
    /// } // dropped: closed
    /// let driver = TopologyTestDriver::new(topology()?, config)?;
    /// let mut clicks = driver.create_input_topic("clicks", Serdes::string(), Serdes::string());
    /// clicks.pipe_key_value("ann".to_string(), "/cart".to_string())?;
    /// let counts = driver.key_value_store::<String, i64>("clicks-per-user")?;
    /// assert_eq!(counts.get(&"ann".to_string())?, Some(2));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_state_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.state_dir = Some(dir.into());
        self
    }

    /// The state directory, if the stores are kept on disk.
    pub fn state_dir(&self) -> Option<&Path> {
        self.state_dir.as_deref()
    }

    /// The record cache budget of the driver's tasks.
    pub fn cache_max_bytes(&self) -> usize {
        self.cache_max_bytes
    }

    /// The application id.
    pub fn application_id(&self) -> &str {
        &self.application_id
    }

    /// The mock wall clock's starting time.
    pub fn wall_clock_time_ms(&self) -> i64 {
        self.wall_clock_ms
    }

    /// The partition count of `topic` under this configuration alone (internal
    /// topics that declare a count in the topology get it from the driver).
    pub fn partitions_of(&self, topic: &str) -> i32 {
        self.topic_partitions
            .get(topic)
            .copied()
            .unwrap_or(self.default_partitions)
    }

    /// The partition count of topics without a count of their own.
    pub fn default_partitions(&self) -> i32 {
        self.default_partitions
    }

    /// The processing limit per driver call.
    pub fn processing_limit(&self) -> usize {
        self.processing_limit
    }

    /// Exactly-once (`processing.guarantee=exactly_once_v2`): output becomes
    /// visible (readable, and fed to the tasks reading it) only when the
    /// transaction carrying it commits, stores hold their writes back until
    /// then, and a crash or an abort discards both. The default is
    /// at-least-once: output is written at once.
    pub fn with_exactly_once(mut self, exactly_once: bool) -> Self {
        self.exactly_once = exactly_once;
        self
    }

    /// Whether the driver runs exactly-once.
    pub fn exactly_once(&self) -> bool {
        self.exactly_once
    }

    /// The topics given a partition count of their own.
    pub(crate) fn explicit_partitions(&self) -> &BTreeMap<String, i32> {
        &self.topic_partitions
    }

    /// The configuration every task of the driver gets: one record cache
    /// for all of them, as for the tasks of one stream thread.
    pub(crate) fn task_config(&self) -> TaskConfig {
        let mut config = TaskConfig::new(self.application_id.clone());
        config.max_task_idle_ms = self.max_task_idle_ms;
        config.deserialization_handler = self.handler.clone();
        config.processing_handler = self.processing_handler.clone();
        config.production_handler = self.production_handler.clone();
        config.dead_letter_topic = self.dead_letter_topic.clone();
        config.cache_max_bytes = self.cache_max_bytes;
        if self.exactly_once {
            config.guarantee = weir_core::ProcessingGuarantee::ExactlyOnceV2;
        }
        if self.cache_max_bytes > 0 {
            config.thread_cache = Some(ThreadCache::new(self.cache_max_bytes));
        }
        if let Some(dir) = &self.state_dir {
            config.default_bytes_store =
                Some(rocksdb_stores(dir.clone(), self.application_id.clone()));
        }
        config
    }

    /// Every internal topic of `topology` (repartition and changelog topics)
    /// with its real name, partition count and topic configs, as the Kafka
    /// runtime would create it: planned by
    /// [`Topology::plan_internal_topics_with`] from this configuration's counts
    /// (an explicit count, else the default, for each user topic; an
    /// explicit count of an internal topic fixes it).
    ///
    /// ```
    /// use weir_core::dsl::{Materialized, StreamsBuilder};
    /// use weir_core::topology::Consumed;
    /// use weir_core::Serdes;
    /// use weir_testing::DriverConfig;
    ///
    /// let builder = StreamsBuilder::new();
    /// builder
    ///     .stream("clicks", Consumed::with(Serdes::string(), Serdes::string()))
    ///     .group_by_key()
    ///     .count(Materialized::as_("per-user", Serdes::string(), Serdes::i64()));
    /// let topology = builder.build()?;
    /// let plan = DriverConfig::new().with_partitions(3).internal_topics(&topology)?;
    /// assert_eq!(plan[0].name, "test-app-per-user-changelog");
    /// assert_eq!(plan[0].partitions, 3);
    /// # Ok::<(), weir_core::Error>(())
    /// ```
    pub fn internal_topics(&self, topology: &Topology) -> Result<Vec<PlannedTopic>> {
        let app = &self.application_id;
        let internal: BTreeSet<String> = topology
            .internal_topics()
            .iter()
            .map(|t| t.topic.resolve(app))
            .chain(topology.subtopologies().iter().flat_map(|s| {
                topology
                    .changelog_topics(s.id())
                    .into_iter()
                    .map(|(_, t)| t.resolve(app))
            }))
            .collect();
        let options = InternalTopicOptions::new().with_window_changelog_additional_retention_ms(
            self.window_changelog_additional_retention_ms,
        );
        let partitions_of = |topic: &str| {
            self.topic_partitions
                .get(topic)
                .copied()
                .or_else(|| (!internal.contains(topic)).then_some(self.default_partitions))
        };
        topology.plan_internal_topics_with(app, partitions_of, &options)
    }

    /// The partition count of `topic`: an explicit count, else for an
    /// internal topic the count [`internal_topics`](Self::internal_topics)
    /// plans, else the default.
    pub(crate) fn resolve_partitions(&self, topology: &Topology, topic: &str) -> i32 {
        if let Some(&n) = self.topic_partitions.get(topic) {
            return n;
        }
        self.internal_topics(topology)
            .ok()
            .and_then(|plan| plan.into_iter().find(|t| t.name == topic))
            .map_or(self.default_partitions, |t| t.partitions)
    }

    /// Checks the settings against `topology`: a non-empty application id,
    /// positive partition counts, and co-partitioned inputs (every source topic
    /// of a sub-topology has the same partition count, as the runtime requires).
    pub(crate) fn validate(&self, topology: &Topology) -> Result<()> {
        if self.application_id.is_empty() {
            return Err(config_error("application.id", "must not be empty"));
        }
        if self.default_partitions < 1 {
            return Err(config_error(
                "partitions",
                format!("must be at least 1, got {}", self.default_partitions),
            ));
        }
        for (topic, &n) in &self.topic_partitions {
            if n < 1 {
                return Err(config_error(
                    "partitions",
                    format!("topic '{topic}' must have at least 1 partition, got {n}"),
                ));
            }
        }
        // The internal topics must be plannable, as the runtime needs them.
        self.internal_topics(topology)?;
        for sub in topology.subtopologies() {
            let counts: Vec<(String, i32)> = sub
                .source_topics()
                .iter()
                .map(|t| {
                    let name = t.resolve(&self.application_id);
                    let n = self.resolve_partitions(topology, &name);
                    (name, n)
                })
                .collect();
            if counts.windows(2).any(|w| w[0].1 != w[1].1) {
                let listed: Vec<String> =
                    counts.iter().map(|(t, n)| format!("{t} ({n})")).collect();
                return Err(config_error(
                    "partitions",
                    format!(
                        "sub-topology {} reads topics that are not co-partitioned: {}",
                        sub.id(),
                        listed.join(", ")
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// RocksDB stores under `state_dir`, sharing one budget created with the
/// first store.
fn rocksdb_stores(state_dir: PathBuf, application_id: String) -> DefaultBytesStoreSupplier {
    let budget: Mutex<Option<Arc<RocksDbBudget>>> = Mutex::new(None);
    Arc::new(move |task: TaskId, store: &str| {
        let budget = {
            let mut slot = budget.lock().unwrap_or_else(PoisonError::into_inner);
            match slot.as_ref() {
                Some(b) => Arc::clone(b),
                None => Arc::clone(slot.insert(RocksDbBudget::new(DRIVER_ROCKSDB_BUDGET_BYTES)?)),
            }
        };
        let open = rocksdb_default_bytes_store(state_dir.clone(), application_id.clone(), budget);
        open(task, store)
    })
}

fn config_error(key: &str, message: impl Into<String>) -> Error {
    Error::Config {
        key: key.to_string(),
        message: message.into(),
    }
}
