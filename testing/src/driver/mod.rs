//! The [`TopologyTestDriver`]: runs a [`Topology`] on the real task engine,
//! in memory, with a mock clock, so its behaviour is tested without a broker.
//! Stores are in memory too, unless the driver is given a state directory
//! ([`DriverConfig::with_state_dir`]): then they are RocksDB stores there,
//! and a later driver on the same directory continues from their data.
//!
//! How it runs, as Kafka Streams' driver does:
//!
//! - One task per (sub-topology, partition), created and initialized when the
//!   first record for that partition of one of the sub-topology's source
//!   topics arrives. Every input partition is marked caught up: the driver has
//!   all input at hand, so a task never waits for data.
//! - After every pipe call (and clock advance) the driver processes until no
//!   task has a record left: one record per task per round, tasks in
//!   [`TaskId`] order, so runs are deterministic. Within a task, records go in
//!   timestamp order across its partitions, as in the runtime; between tasks
//!   there is no order (as between partitions in Kafka). Then every task commits.
//! - What tasks send lands in an in-memory log per topic (offsets per
//!   partition). A record sent without a partition goes where Kafka's default
//!   partitioner would put it (`murmur2(key) % partitions`; no key: partition 0).
//!   A record sent to a topic the topology reads (a repartition topic, or a
//!   user topic read by another sub-topology) is fed back to the task that
//!   reads it and processed in the same call; it stays readable as output too.
//! - Wall-clock time comes from a mock clock that moves only with
//!   [`TopologyTestDriver::advance_wall_clock_time`].
//!
//! Every topic has [`DriverConfig::with_partitions`] partitions (1 unless
//! told), [`DriverConfig::with_topic_partitions`] sets one topic's count, and
//! an internal topic declared with a count in the topology has that count; one
//! declared without a count has as many partitions as the topics of the
//! sub-topology writing it (the most, if they differ), as at run time.

mod collector;
mod config;
mod global;
mod state;
mod stores;
mod topics;
mod versioned_stores;
mod window_stores;
mod world;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use weir_core::serde::SharedSerde;
use weir_core::task::TaskId;
use weir_core::topology::Topology;
use weir_core::{RawRecord, Result, TopicPartition};

pub use collector::{default_partition, murmur2, MockClock};
pub use config::{
    DriverConfig, DEFAULT_APPLICATION_ID, DEFAULT_PROCESSING_LIMIT, DRIVER_ROCKSDB_BUDGET_BYTES,
};
pub use stores::KeyValueStoreView;
pub use topics::{KeyValue, TestInputTopic, TestOutputTopic};
pub use versioned_stores::VersionedStoreView;
pub use window_stores::{SessionStoreView, WindowStoreView};
pub use world::CrashPoint;

use state::{lock, DriverState, Shared};

/// Runs a topology on the real task engine, in memory (Kafka Streams'
/// `TopologyTestDriver`). Pipe input through [`TestInputTopic`]s, read output
/// through [`TestOutputTopic`]s; see the [module docs](self) for how records
/// flow.
///
/// The driver and its test topics share one state: create as many topics as
/// you like and use them in any order. Dropping the driver closes its tasks.
///
/// ```
/// use weir_core::processor::{Processor, ProcessorContext};
/// use weir_core::topology::{Consumed, Produced, TopologyBuilder};
/// use weir_core::{Record, Result, Serdes};
/// use weir_testing::TopologyTestDriver;
///
/// struct Double;
/// impl Processor<String, i64> for Double {
///     fn process(&mut self, ctx: &mut dyn ProcessorContext<String, i64>, r: Record<String, i64>) -> Result<()> {
///         let v = r.value.map(|v| v * 2);
///         ctx.forward(r.with_value(v))
///     }
/// }
///
/// let mut builder = TopologyBuilder::new();
/// builder
///     .add_source("in", ["numbers"], Consumed::with(Serdes::string(), Serdes::i64()))
///     .add_processor("double", || Double, &["in"])
///     .add_sink("out", "doubled", Produced::with(Serdes::string(), Serdes::i64()), &["double"]);
/// let driver = TopologyTestDriver::with_defaults(builder.build()?);
///
/// let mut input = driver.create_input_topic("numbers", Serdes::string(), Serdes::i64());
/// let output = driver.create_output_topic("doubled", Serdes::string(), Serdes::i64());
/// input.pipe_key_value("a".to_string(), 21)?;
/// assert_eq!(output.read_value()?, Some(42));
/// assert!(output.is_empty());
/// # Ok::<(), weir_core::Error>(())
/// ```
pub struct TopologyTestDriver {
    shared: Shared,
}

impl std::fmt::Debug for TopologyTestDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = lock(&self.shared);
        f.debug_struct("TopologyTestDriver")
            .field("application_id", &state.application_id())
            .field("wall_clock_time", &state.now_ms())
            .field("tasks", &state.task_ids())
            .finish_non_exhaustive()
    }
}

impl TopologyTestDriver {
    /// A driver for `topology` with `config`. Fails if the configuration is
    /// invalid: an empty application id, a partition count below 1, or a
    /// sub-topology whose source topics have different partition counts (they
    /// must be co-partitioned).
    pub fn new(topology: Topology, config: DriverConfig) -> Result<Self> {
        config.validate(&topology)?;
        Ok(Self::build(topology, config))
    }

    /// A driver for `topology` with the [default configuration](DriverConfig),
    /// which is always valid.
    pub fn with_defaults(topology: Topology) -> Self {
        Self::build(topology, DriverConfig::default())
    }

    fn build(topology: Topology, config: DriverConfig) -> Self {
        TopologyTestDriver {
            shared: Arc::new(Mutex::new(DriverState::new(topology, config))),
        }
    }

    /// An input topic writing keys with `key_serde` and values with
    /// `value_serde`. Records piped without a timestamp take the driver's
    /// wall-clock time at creation (the topic's clock does not advance by itself).
    /// Piping into a topic the topology does not read is an error.
    pub fn create_input_topic<K, V>(
        &self,
        topic: &str,
        key_serde: SharedSerde<K>,
        value_serde: SharedSerde<V>,
    ) -> TestInputTopic<K, V> {
        let start = self.wall_clock_time();
        self.create_input_topic_with_time(topic, key_serde, value_serde, start, Duration::ZERO)
    }

    /// An input topic whose records without a timestamp take the topic's
    /// time, which starts at `start_ms` and advances by `advance` after every
    /// such record.
    pub fn create_input_topic_with_time<K, V>(
        &self,
        topic: &str,
        key_serde: SharedSerde<K>,
        value_serde: SharedSerde<V>,
        start_ms: i64,
        advance: Duration,
    ) -> TestInputTopic<K, V> {
        TestInputTopic::new(
            self.shared.clone(),
            topic,
            key_serde,
            value_serde,
            start_ms,
            advance,
        )
    }

    /// An output topic reading keys with `key_serde` and values with
    /// `value_serde`. Reading consumes: two output topics over the same topic
    /// share one read position, as in Kafka Streams' driver.
    pub fn create_output_topic<K, V>(
        &self,
        topic: &str,
        key_serde: SharedSerde<K>,
        value_serde: SharedSerde<V>,
    ) -> TestOutputTopic<K, V> {
        TestOutputTopic::new(self.shared.clone(), topic, key_serde, value_serde)
    }

    /// Moves the mock wall clock forward by `advance`, fires the wall-clock
    /// punctuations that fall due on every task, and processes what they
    /// produce. Missed intervals fire once. Only tasks that exist punctuate:
    /// a task is created by the first record of its partition.
    pub fn advance_wall_clock_time(&self, advance: Duration) -> Result<()> {
        let ms = i64::try_from(advance.as_millis()).unwrap_or(i64::MAX);
        lock(&self.shared).advance_wall_clock(ms)
    }

    /// Processes every record queued with
    /// [`TestInputTopic::queue_records`] (and what follows from them) until
    /// every task is idle.
    pub fn process_queued(&self) -> Result<()> {
        lock(&self.shared).process_queued()
    }

    /// The mock wall clock's time, in milliseconds since the epoch.
    pub fn wall_clock_time(&self) -> i64 {
        lock(&self.shared).now_ms()
    }

    /// The application id (the prefix of internal topic names).
    pub fn application_id(&self) -> String {
        lock(&self.shared).application_id().to_string()
    }

    /// Everything the topology sent so far, in send order, with the partition
    /// and offset each record got; reading output topics does not change it.
    pub fn producer_records(&self) -> Vec<RawRecord> {
        lock(&self.shared).world.history.clone()
    }

    /// The topics the topology sent records to, sorted by name.
    pub fn output_topics(&self) -> Vec<String> {
        lock(&self.shared).output_topics()
    }

    /// The offsets the tasks committed (last processed offset + 1), by partition.
    pub fn committed_offsets(&self) -> Vec<(TopicPartition, i64)> {
        lock(&self.shared)
            .world
            .committed
            .iter()
            .map(|(tp, o)| (tp.clone(), *o))
            .collect()
    }

    /// The tasks created so far, in id order.
    pub fn task_ids(&self) -> Vec<TaskId> {
        lock(&self.shared).task_ids()
    }

    /// The stream time of task `id`, if it exists (`i64::MIN` before its first record).
    pub fn stream_time(&self, id: TaskId) -> Option<i64> {
        lock(&self.shared).stream_time(id)
    }

    /// How many records the running tasks' processors dropped: late
    /// records for closed windows, records without a key where one is
    /// needed (Kafka Streams' `dropped-records`, summed over the tasks).
    pub fn dropped_records(&self) -> u64 {
        lock(&self.shared).dropped_records()
    }

    /// Records the error handlers skipped and dead-lettered, per stage
    /// (deserialization, processing, production): summed over the running
    /// tasks and the global stores.
    pub fn error_counts(&self) -> weir_core::handler::ErrorCounts {
        lock(&self.shared).error_counts()
    }

    /// The partition count of `topic` as the driver sees it.
    pub fn partition_count(&self, topic: &str) -> i32 {
        lock(&self.shared).partition_count(topic)
    }

    /// A read-only view of the key-value store `name` with keys `K` and
    /// values `V` (Kafka Streams' `getKeyValueStore`): stores added with
    /// `add_state_store` and the DSL's `Materialized::as_` stores alike.
    ///
    /// The view reads every task's instance of the store (one per partition),
    /// so it shows the whole table, and it reads them as they are at each
    /// call. Fails if the topology has no store `name` (the error lists the
    /// stores it has), if the driver is closed, or if the store is not a
    /// key-value store of `K` and `V`.
    ///
    /// ```
    /// use std::collections::BTreeMap;
    /// use weir_core::dsl::{Materialized, StreamsBuilder};
    /// use weir_core::topology::Consumed;
    /// use weir_core::Serdes;
    /// use weir_testing::{DriverConfig, TopologyTestDriver};
    ///
    /// // Clicks per user, counted in the store "clicks-per-user".
    /// let builder = StreamsBuilder::new();
    /// builder
    ///     .stream("clicks", Consumed::with(Serdes::string(), Serdes::string()))
    ///     .group_by_key()
    ///     .count(Materialized::as_("clicks-per-user", Serdes::string(), Serdes::i64()));
    /// let driver = TopologyTestDriver::new(builder.build()?, DriverConfig::new().with_partitions(2))?;
    ///
    /// let mut clicks = driver.create_input_topic("clicks", Serdes::string(), Serdes::string());
    /// for user in ["ann", "bob", "ann"] {
    ///     clicks.pipe_key_value(user.to_string(), "/home".to_string())?;
    /// }
    /// // One store instance per partition: the view reads them all.
    /// let counts = driver.key_value_store::<String, i64>("clicks-per-user")?;
    /// assert_eq!(counts.get(&"ann".to_string())?, Some(2));
    /// assert_eq!(counts.get(&"eve".to_string())?, None);
    /// let all = BTreeMap::from([("ann".to_string(), 2), ("bob".to_string(), 1)]);
    /// assert_eq!(counts.all()?, all);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn key_value_store<K: 'static, V: 'static>(
        &self,
        name: &str,
    ) -> Result<KeyValueStoreView<K, V>> {
        KeyValueStoreView::new(self.shared.clone(), name)
    }

    /// A read-only view of the timestamped key-value store `name` (the store
    /// of a `count`, `reduce` or `aggregate`): its values `V` with the
    /// timestamp of the newest record in each (Kafka Streams' driver
    /// `getTimestampedKeyValueStore`). [`key_value_store`](Self::key_value_store)
    /// reads the same store without the timestamps.
    pub fn timestamped_key_value_store<K: 'static, V: 'static>(
        &self,
        name: &str,
    ) -> Result<KeyValueStoreView<K, weir_core::store::ValueAndTimestamp<V>>> {
        KeyValueStoreView::timestamped(self.shared.clone(), name)
    }

    /// A read-only view of the window store `name` with keys `K` and values
    /// `V`, across every task's instance (see [`WindowStoreView`]). Fails if
    /// the topology has no such store or an instance is not a window store
    /// of `K` and `V`.
    pub fn window_store<K: 'static, V: 'static>(
        &self,
        name: &str,
    ) -> Result<WindowStoreView<K, V>> {
        WindowStoreView::new(self.shared.clone(), name)
    }

    /// A read-only view of the session store `name` with keys `K` and
    /// values `V`, across every task's instance (see [`SessionStoreView`]).
    pub fn session_store<K: 'static, V: 'static>(
        &self,
        name: &str,
    ) -> Result<SessionStoreView<K, V>> {
        SessionStoreView::new(self.shared.clone(), name)
    }

    /// The names of the topology's state stores, sorted.
    pub fn state_store_names(&self) -> Vec<String> {
        lock(&self.shared).store_names()
    }

    /// Makes the next commit crash at `point`, as if the process were killed
    /// there: the call whose commit it is (a pipe, a clock advance) returns
    /// the crash as an error, the tasks are dropped without closing
    /// (in-memory stores are lost, stores in the state directory keep what
    /// they wrote; under exactly-once the writes they held back are lost),
    /// the open transaction is aborted and unacknowledged records are lost.
    /// [`restart`](Self::restart) brings the application back. No Kafka
    /// Streams driver can do this: it checks what a topology promises
    /// across crashes, with no broker.
    ///
    /// ```
    /// use weir_core::dsl::{Materialized, StreamsBuilder};
    /// use weir_core::topology::{Consumed, Produced};
    /// use weir_core::Serdes;
    /// use weir_testing::{CrashPoint, DriverConfig, TopologyTestDriver};
    ///
    /// let builder = StreamsBuilder::new();
    /// builder
    ///     .stream("clicks", Consumed::with(Serdes::string(), Serdes::string()))
    ///     .group_by_key()
    ///     .count(Materialized::as_("counts", Serdes::string(), Serdes::i64()))
    ///     .to_stream()
    ///     .to("counts-out", Produced::with(Serdes::string(), Serdes::i64()));
    /// let config = DriverConfig::new().with_exactly_once(true);
    /// let driver = TopologyTestDriver::new(builder.build()?, config)?;
    /// let mut clicks = driver.create_input_topic("clicks", Serdes::string(), Serdes::string());
    /// let counts = driver.create_output_topic("counts-out", Serdes::string(), Serdes::i64());
    ///
    /// clicks.pipe_key_value("ann".to_string(), "/".to_string())?;
    /// driver.crash_at_next_commit(CrashPoint::AfterSend);
    /// assert!(clicks.pipe_key_value("ann".to_string(), "/a".to_string()).is_err());
    /// driver.restart()?;
    /// // The aborted transaction's output never shows; the record is counted once.
    /// assert_eq!(counts.read_values_to_list()?, vec![1, 2]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn crash_at_next_commit(&self, point: CrashPoint) {
        lock(&self.shared).crash_at_next_commit(point)
    }

    /// Starts the application again on the same state: after a simulated
    /// crash, or (committing and closing the tasks first) while running.
    /// Every task is created again, its stores restored from their
    /// changelogs (from the offset they reached), and processing goes on
    /// from the committed offsets.
    pub fn restart(&self) -> Result<()> {
        lock(&self.shared).restart()
    }

    /// Moves task `id` away, as a rebalance that gives its partitions to
    /// another instance: it commits and closes. Records piped for its
    /// partitions wait until [`assign_task`](Self::assign_task) moves it back.
    pub fn revoke_task(&self, id: TaskId) -> Result<()> {
        lock(&self.shared).revoke_task(id)
    }

    /// Moves task `id` back (see [`revoke_task`](Self::revoke_task)): it is
    /// created again, its stores restored from their changelogs, and it
    /// processes from the committed offsets.
    pub fn assign_task(&self, id: TaskId) -> Result<()> {
        lock(&self.shared).assign_back(id)
    }

    /// Exactly-once: transactions aborted so far (crashes included).
    pub fn aborted_transactions(&self) -> u64 {
        lock(&self.shared).aborts()
    }

    /// Closes every task: processors' `close`, then stores. Output sent while
    /// closing stays readable; piping afterwards is an error. Returns the first
    /// error; closing twice is harmless.
    pub fn close(&self) -> Result<()> {
        lock(&self.shared).close()
    }
}

impl Drop for TopologyTestDriver {
    fn drop(&mut self) {
        if let Err(e) = lock(&self.shared).close() {
            tracing::warn!(error = %e, "closing the test driver's tasks failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send<T: Send>() {}

    #[test]
    fn the_driver_and_its_topics_can_move_to_another_thread() {
        assert_send::<TopologyTestDriver>();
        assert_send::<TestInputTopic<String, i64>>();
        assert_send::<TestOutputTopic<String, i64>>();
        assert_send::<KeyValueStoreView<String, i64>>();
        assert_send::<WindowStoreView<String, i64>>();
        assert_send::<SessionStoreView<String, i64>>();
    }
}
