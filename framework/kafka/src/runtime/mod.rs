//! The Kafka runtime: runs a [`Topology`] against a Kafka cluster with
//! `num.stream.threads` stream threads, each with its own consumer (range
//! assignor, so co-partitioned inputs land together) and producer.
//!
//! Every decision about tasks and commits is the engine's
//! (`weir_core::engine::TaskManager`, the same code the test driver runs);
//! this module holds the poll loop and the rebalance callbacks
//! (`thread.rs`) and the engine's ports over rdkafka (`ports.rs`: the
//! consumer, the producer collector and its transactions, the restorer).
//!
//! At-least-once: every `commit.interval.ms`, on revocation and on close, a
//! thread waits until the broker has acknowledged every record it wrote, and
//! only then commits the next offsets (last processed + 1). A record's output
//! is therefore never committed before it is written; after a crash, records
//! since the last commit are processed again (duplicates, never loss).
//!
//! Exactly-once (`exactly_once_v2`): the thread's producer is transactional
//! and each commit is one transaction holding the output, the changelog
//! records and the input offsets (`transaction.rs`); stores hold their
//! writes until it commits. A failed transaction is aborted and the thread's
//! tasks are reset to the last commit (`TaskManager::reset`).

mod checkpoint;
mod collector;
mod fetch_lag;
mod global;
mod ports;
mod process;
mod restore;
mod size_limit;
mod startup;
mod state;
mod tasks;
mod thread;
mod transaction;
mod written_topics;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::BaseConsumer;
use weir_core::task::TaskConfig;
use weir_core::topology::Topology;
use weir_core::ErrorKind;

pub use state::{Metrics, MetricsSnapshot, State, StateListener};

use crate::client::connection::Connection;
use crate::error::{Error, Result};
use collector::ProducerCollector;
use state::StateMachine;
use tasks::ThreadTasks;
use thread::ThreadContext;

/// Everything the runtime needs, as plain values (built by `weir` from
/// `StreamsConfig`).
#[derive(Clone)]
pub struct RuntimeConfig {
    /// `application.id`: consumer group id and internal topic prefix.
    pub application_id: String,
    /// `bootstrap.servers`.
    pub bootstrap_servers: String,
    /// `client.id` prefix; the application id when `None`.
    pub client_id: Option<String>,
    /// `num.stream.threads`.
    pub num_stream_threads: usize,
    /// `commit.interval.ms`.
    pub commit_interval: Duration,
    /// Settings for the tasks (application id, idle time, deserialization handler).
    pub task: TaskConfig,
    /// `buffered.records.per.partition`: pause a partition past this many queued records.
    pub buffered_records_per_partition: usize,
    /// `replication.factor` for internal topics; -1 for the broker's default.
    pub replication_factor: i32,
    /// `windowstore.changelog.additional.retention.ms`: window and session
    /// changelog topics keep records this much longer than their stores
    /// (default 24 h).
    pub window_changelog_additional_retention_ms: i64,
    /// librdkafka properties for every client.
    pub client_properties: Vec<(String, String)>,
    /// librdkafka properties for the consumers only.
    pub consumer_properties: Vec<(String, String)>,
    /// librdkafka properties for the producers only.
    pub producer_properties: Vec<(String, String)>,
    /// librdkafka properties for the admin client only.
    pub admin_properties: Vec<(String, String)>,
    /// `state.dir`: where the instance keeps its process id (the stable part
    /// of its `transactional.id`s) and its stores; `None` gives a fresh
    /// process id per start (at-least-once needs none).
    pub state_dir: Option<std::path::PathBuf>,
    /// `transaction.timeout.ms` under exactly-once.
    pub transaction_timeout: Duration,
}

impl RuntimeConfig {
    /// Whether the stream threads' consumers read `read_committed`: always
    /// under exactly-once, else when the consumer properties ask it.
    pub(crate) fn reads_committed(&self) -> bool {
        self.task.guarantee.is_exactly_once()
            || self
                .client_properties
                .iter()
                .chain(&self.consumer_properties)
                .rfind(|(k, _)| k == "isolation.level")
                .is_some_and(|(_, v)| v == "read_committed")
    }

    /// A configuration with Kafka Streams' defaults for `application_id` on `bootstrap_servers`.
    pub fn new(application_id: impl Into<String>, bootstrap_servers: impl Into<String>) -> Self {
        let application_id = application_id.into();
        RuntimeConfig {
            task: TaskConfig::new(application_id.clone()),
            application_id,
            bootstrap_servers: bootstrap_servers.into(),
            client_id: None,
            num_stream_threads: 1,
            commit_interval: Duration::from_secs(30),
            buffered_records_per_partition: 1000,
            replication_factor: -1,
            window_changelog_additional_retention_ms:
                weir_core::store::DEFAULT_WINDOW_CHANGELOG_ADDITIONAL_RETENTION_MS,
            client_properties: Vec::new(),
            consumer_properties: Vec::new(),
            producer_properties: Vec::new(),
            admin_properties: Vec::new(),
            state_dir: None,
            transaction_timeout: Duration::from_secs(10),
        }
    }
}

/// What every thread shares.
pub(crate) struct AppShared {
    pub(crate) config: RuntimeConfig,
    pub(crate) state: StateMachine,
    pub(crate) metrics: Metrics,
    pub(crate) shutdown: AtomicBool,
}

/// A running application: its stream threads and state.
pub struct StreamsRuntime {
    app: Arc<AppShared>,
    threads: Vec<JoinHandle<Result<()>>>,
    first_error: Option<Error>,
    /// The claim on the state directory, released once the threads stopped.
    instance: Option<process::Instance>,
    /// The global thread, if the topology has global stores.
    global: Option<global::RunningGlobal>,
}

fn set_all(config: &mut ClientConfig, props: &[(String, String)]) {
    for (k, v) in props {
        config.set(k, v);
    }
}

impl StreamsRuntime {
    /// Checks the topics, creates internal topics, and starts the stream
    /// threads. Errors here (a missing source topic, a partition-count
    /// mismatch, a bad client setting) name what is wrong; nothing is left running.
    pub fn start(
        topology: Topology,
        mut config: RuntimeConfig,
        listener: Option<StateListener>,
    ) -> Result<Self> {
        if config.task.guarantee.is_exactly_once()
            && config.transaction_timeout <= config.commit_interval
        {
            return Err(Error::Config {
                key: "transaction.timeout.ms".to_string(),
                message: format!(
                    "{:?} must exceed commit.interval.ms ({:?}) under exactly_once_v2",
                    config.transaction_timeout, config.commit_interval
                ),
            });
        }
        if config.num_stream_threads == 0 {
            return Err(Error::Config {
                key: "num.stream.threads".to_string(),
                message: "must be at least 1".to_string(),
            });
        }
        let mut conn = Connection::new(config.bootstrap_servers.clone());
        for (k, v) in config
            .client_properties
            .iter()
            .chain(&config.admin_properties)
        {
            conn = conn.with_property(k.clone(), v.clone());
        }
        let app_id = config.application_id.clone();
        startup::prepare_topics(&conn, &topology, &app_id, &config)?;
        let instance = process::Instance::open(&config)?;
        let global_client = format!(
            "{}-{}",
            config.client_id.as_deref().unwrap_or(&app_id),
            instance.process_id
        );
        let global_thread =
            global::GlobalThread::open(&topology, &mut config, &conn, &global_client)?;
        let topics = topology.source_topics(&app_id);
        let topology = Arc::new(topology);
        let threads_n = config.num_stream_threads;
        let app = Arc::new(AppShared {
            state: StateMachine::new(threads_n, listener),
            metrics: Metrics::new(threads_n),
            shutdown: AtomicBool::new(false),
            config,
        });
        let process_id = instance.process_id;
        let client_prefix = app
            .config
            .client_id
            .clone()
            .unwrap_or_else(|| app_id.clone());
        // Changelog topics are known from the topology, not by their name.
        let changelog_topics: Vec<String> = topology
            .subtopologies()
            .iter()
            .flat_map(|sub| topology.changelog_topics(sub.id()))
            .map(|(_, topic)| topic.resolve(&app_id))
            .collect();
        let mut consumers = Vec::with_capacity(threads_n);
        for index in 0..threads_n {
            let client_id = format!("{client_prefix}-{process_id}-StreamThread-{}", index + 1);
            let transactional_id = (app.config.task.guarantee.is_exactly_once())
                .then(|| format!("{app_id}-{process_id}-{}", index + 1));
            let producer = Self::producer(
                &app.config,
                &client_id,
                transactional_id,
                changelog_topics.clone(),
            )?;
            producer.handle_delivery_failures(collector::DeliveryHandling::new(
                app.config.task.production_handler.clone(),
                app.config.task.dead_letter_topic.clone(),
                app.metrics.errors_outside_tasks.clone(),
            ));
            let tasks = Arc::new(Mutex::new(ThreadTasks::new(
                producer,
                topology.clone(),
                &app,
            )));
            let consumer = Self::consumer(
                &app.config,
                &client_id,
                ThreadContext {
                    index,
                    app: app.clone(),
                    tasks,
                },
            )?;
            consumers.push(consumer);
        }
        app.state.set(State::Rebalancing);
        // Global stores are bootstrapped before any stream thread processes.
        let global = match global_thread {
            Some(g) => Some(g.start(app.clone())?),
            None => None,
        };
        let mut threads = Vec::with_capacity(threads_n);
        for (index, consumer) in consumers.into_iter().enumerate() {
            let topics = topics.clone();
            let app_t = app.clone();
            let handle = std::thread::Builder::new()
                .name(format!("weir-stream-{}", index + 1))
                .spawn(move || {
                    // A panic in user code must stop the application like an error does.
                    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        thread::run(consumer, topics)
                    }))
                    .unwrap_or_else(|panic| {
                        let message = panic
                            .downcast_ref::<&str>()
                            .map(|s| s.to_string())
                            .or_else(|| panic.downcast_ref::<String>().cloned())
                            .unwrap_or_else(|| "a stream thread panicked".to_string());
                        Err(Error::Client {
                            message: format!("stream thread panicked: {message}"),
                            kind: ErrorKind::Fatal,
                        })
                    });
                    if let Err(e) = &result {
                        // One thread failing stops the application, as Kafka Streams' default handler does.
                        tracing::error!(error = %e, "stream thread died; shutting the application down");
                        app_t.shutdown.store(true, Ordering::Release);
                        app_t.state.set(State::Error);
                    }
                    result
                })
                .map_err(|e| Error::Client {
                    message: format!("cannot spawn stream thread: {e}"),
                    kind: ErrorKind::Fatal,
                })?;
            threads.push(handle);
        }
        Ok(StreamsRuntime {
            app,
            threads,
            first_error: None,
            instance: Some(instance),
            global,
        })
    }

    fn producer(
        config: &RuntimeConfig,
        client_id: &str,
        transactional_id: Option<String>,
        changelog_topics: Vec<String>,
    ) -> Result<ProducerCollector> {
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", &config.bootstrap_servers)
            .set("client.id", format!("{client_id}-producer"))
            .set("acks", "all")
            .set("linger.ms", "10")
            // A sink topic deleted while the application runs is an error
            // naming it, not a topic the broker quietly creates again with
            // its default partition count and configs (librdkafka's producers
            // ask for that by default; a broker with
            // `auto.create.topics.enable` grants it).
            .set("allow.auto.create.topics", "false");
        crate::client::tuning::apply(&mut c, crate::client::tuning::CLIENT);
        crate::client::tuning::apply(&mut c, crate::client::tuning::PRODUCER);
        set_all(&mut c, &config.client_properties);
        set_all(&mut c, &config.producer_properties);
        // Forced: idempotence always (no duplicates from retries); the
        // transactional id and its timeout under exactly-once.
        c.set("enable.idempotence", "true");
        if let Some(id) = transactional_id {
            c.set("transactional.id", id).set(
                "transaction.timeout.ms",
                config.transaction_timeout.as_millis().to_string(),
            );
        }
        ProducerCollector::new(c, changelog_topics)
    }

    fn consumer(
        config: &RuntimeConfig,
        client_id: &str,
        ctx: ThreadContext,
    ) -> Result<BaseConsumer<ThreadContext>> {
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", &config.bootstrap_servers)
            .set("group.id", &config.application_id)
            .set("client.id", format!("{client_id}-consumer"))
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("partition.assignment.strategy", "range")
            .set("enable.partition.eof", "false")
            .set("statistics.interval.ms", "5000");
        crate::client::tuning::apply(&mut c, crate::client::tuning::CLIENT);
        crate::client::tuning::apply(&mut c, crate::client::tuning::CONSUMER);
        set_all(&mut c, &config.client_properties);
        set_all(&mut c, &config.consumer_properties);
        if config.task.guarantee.is_exactly_once() {
            // Forced: input written by aborted transactions is never processed.
            c.set("isolation.level", "read_committed");
        } else if c.get("isolation.level").is_none() {
            c.set("isolation.level", "read_uncommitted");
        }
        c.create_with_context(ctx).map_err(|e| Error::client(&e))
    }

    /// The application's state.
    pub fn state(&self) -> State {
        self.app.state.get()
    }

    /// A snapshot of the runtime counters.
    pub fn metrics(&self) -> MetricsSnapshot {
        self.app.metrics.snapshot()
    }

    /// Whether the application has stopped or is stopping (a shutdown was
    /// requested or a stream thread failed).
    pub fn is_stopping(&self) -> bool {
        self.app.shutdown.load(Ordering::Acquire)
    }

    /// Asks the stream threads to commit and stop; returns at once.
    pub fn request_shutdown(&self) {
        self.app.state.set(State::PendingShutdown);
        self.app.shutdown.store(true, Ordering::Release);
    }

    /// Stops the application: final commits, then the clients close. Waits up
    /// to `timeout`; returns the first error a stream thread stopped with.
    /// Threads still running after `timeout` are left to finish on their own.
    pub fn close(&mut self, timeout: Duration) -> Result<()> {
        let failed = self.app.state.get() == State::Error;
        if !failed {
            self.request_shutdown();
        }
        self.app.shutdown.store(true, Ordering::Release);
        let deadline = Instant::now() + timeout;
        let mut pending = Vec::new();
        for handle in std::mem::take(&mut self.threads) {
            while !handle.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            if handle.is_finished() {
                match handle.join() {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => {
                        self.first_error.get_or_insert(e);
                    }
                    Err(_) => {
                        self.first_error.get_or_insert(Error::Client {
                            message: "a stream thread panicked".to_string(),
                            kind: ErrorKind::Fatal,
                        });
                    }
                }
            } else {
                pending.push(handle);
            }
        }
        self.threads = pending;
        if !self.threads.is_empty() {
            tracing::warn!(
                threads = self.threads.len(),
                ?timeout,
                "stream threads did not stop in time"
            );
            return Err(Error::Timeout {
                operation: "closing the stream threads".to_string(),
                after: timeout,
            });
        }
        self.stop_global(deadline);
        // Every thread stopped: the state directory is free for a new instance.
        self.instance = None;
        match self.first_error.take() {
            Some(e) => {
                self.app.state.set(State::Error);
                Err(e)
            }
            None => {
                self.app.state.set(State::NotRunning);
                Ok(())
            }
        }
    }
}

impl StreamsRuntime {
    /// Waits for the global thread (it stops with the application), then
    /// closes the global stores.
    fn stop_global(&mut self, deadline: Instant) {
        let Some(global) = self.global.take() else {
            return;
        };
        while !global.handle.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        if !global.handle.is_finished() {
            tracing::warn!("the global thread did not stop in time");
            return;
        }
        match global.handle.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                self.first_error.get_or_insert(e);
            }
            Err(_) => {
                self.first_error.get_or_insert(Error::Client {
                    message: "the global thread panicked".to_string(),
                    kind: ErrorKind::Fatal,
                });
            }
        }
        if let Err(e) = global.stores.close() {
            tracing::warn!(error = %e, "closing the global stores failed");
        }
    }
}

impl Drop for StreamsRuntime {
    fn drop(&mut self) {
        if !self.threads.is_empty() {
            let _ = self.close(Duration::from_secs(30));
        }
    }
}
