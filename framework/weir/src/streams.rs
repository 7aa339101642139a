//! [`KafkaStreams`]: runs a topology against Kafka.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use weir_config::StreamsConfig;
use weir_core::topology::Topology;
use weir_kafka::{MetricsSnapshot, RuntimeConfig, State, StateListener, StreamsRuntime};

use crate::streams_error::StreamsError;

/// A Weir application (Kafka Streams' `KafkaStreams`): a topology, a
/// configuration, and once started, its stream threads.
///
/// ```no_run
/// use std::time::Duration;
/// use weir::prelude::*;
/// use weir::KafkaStreams;
///
/// let builder = StreamsBuilder::new();
/// builder
///     .stream("in", Consumed::with(Serdes::string(), Serdes::string()))
///     .map_values(|v| v.to_uppercase())
///     .to("out", Produced::with(Serdes::string(), Serdes::string()));
/// let config = StreamsConfig::from_pairs([("application.id", "shout"), ("bootstrap.servers", "127.0.0.1:9092")])?;
/// let mut app = KafkaStreams::new(builder.build()?, config)?;
/// app.start()?;
/// // Returns on SIGTERM or Ctrl-C, after a final commit.
/// app.run_until_signal(Duration::from_secs(30))?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct KafkaStreams {
    topology: Option<Topology>,
    config: StreamsConfig,
    listener: Option<StateListener>,
    runtime: Option<StreamsRuntime>,
}

/// The runtime settings for `config`.
pub(crate) fn runtime_config(config: &StreamsConfig) -> Result<RuntimeConfig, StreamsError> {
    config.validate_for_runtime()?;
    let bootstrap = config.bootstrap_servers().unwrap_or_default();
    let mut rc = RuntimeConfig::new(config.application_id(), bootstrap);
    let pairs = |m: &std::collections::BTreeMap<String, String>| -> Vec<(String, String)> {
        m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    };
    rc.client_id = config.client_id().map(str::to_string);
    rc.num_stream_threads = config.num_stream_threads();
    rc.commit_interval = config.commit_interval();
    rc.task = config.task_config();
    rc.task.default_bytes_store = Some(default_bytes_store(config)?);
    rc.buffered_records_per_partition = config.buffered_records_per_partition();
    rc.replication_factor = i32::from(config.replication_factor());
    rc.window_changelog_additional_retention_ms =
        config.windowstore_changelog_additional_retention_ms();
    rc.client_properties = pairs(config.client_overrides());
    rc.consumer_properties = pairs(config.consumer_overrides());
    rc.producer_properties = pairs(config.producer_overrides());
    rc.admin_properties = pairs(config.admin_overrides());
    rc.state_dir = Some(config.state_dir().to_path_buf());
    rc.transaction_timeout = Duration::from_millis(config.transaction_timeout_ms());
    Ok(rc)
}

/// The backend of every store that did not choose one: RocksDB under
/// `<state.dir>/<application.id>/<task>/rocksdb/<store>`, every store of the
/// application charged to one `RocksDbBudget` of `rocksdb.memory.budget.bytes`.
fn default_bytes_store(
    config: &StreamsConfig,
) -> Result<weir_core::store::DefaultBytesStoreSupplier, StreamsError> {
    let bytes = usize::try_from(config.rocksdb_memory_budget_bytes()).unwrap_or(usize::MAX);
    let budget = weir_rocksdb::RocksDbBudget::new(bytes)?;
    Ok(weir_rocksdb::rocksdb_default_bytes_store(
        config.state_dir().to_path_buf(),
        config.application_id().to_string(),
        budget,
    ))
}

impl KafkaStreams {
    /// An application running `topology` with `config`. The configuration is
    /// checked for the runtime here (`bootstrap.servers` is required).
    pub fn new(topology: Topology, config: StreamsConfig) -> Result<Self, StreamsError> {
        config.validate_for_runtime()?;
        Ok(KafkaStreams {
            topology: Some(topology),
            config,
            listener: None,
            runtime: None,
        })
    }

    /// Calls `listener(new, old)` on every state change. Set it before `start`.
    pub fn set_state_listener(&mut self, listener: impl Fn(State, State) + Send + Sync + 'static) {
        self.listener = Some(Arc::new(listener));
    }

    /// Checks the topics (source topics must exist; internal topics are
    /// created) and starts the stream threads. Stores that did not choose a
    /// backend are RocksDB stores under `state.dir` (see
    /// [`Materialized`](weir_core::dsl::Materialized)); a store directory
    /// held by another running instance fails the task that opens it.
    pub fn start(&mut self) -> Result<(), StreamsError> {
        let Some(topology) = self.topology.take() else {
            return Err(StreamsError::Lifecycle(
                "the application was already started; create a new KafkaStreams to restart"
                    .to_string(),
            ));
        };
        let rc = runtime_config(&self.config)?;
        tracing::info!(
            application_id = %rc.application_id,
            bootstrap = %rc.bootstrap_servers,
            threads = rc.num_stream_threads,
            "starting"
        );
        self.runtime = Some(StreamsRuntime::start(topology, rc, self.listener.clone())?);
        Ok(())
    }

    /// The application's state.
    pub fn state(&self) -> State {
        self.runtime
            .as_ref()
            .map_or(State::Created, StreamsRuntime::state)
    }

    /// Runtime counters (records processed, commits and their latency, ...).
    pub fn metrics(&self) -> MetricsSnapshot {
        self.runtime
            .as_ref()
            .map(StreamsRuntime::metrics)
            .unwrap_or_default()
    }

    /// The configuration.
    pub fn config(&self) -> &StreamsConfig {
        &self.config
    }

    /// Whether the application stopped or is stopping (closed, or a stream thread failed).
    pub fn is_stopping(&self) -> bool {
        self.runtime
            .as_ref()
            .is_some_and(StreamsRuntime::is_stopping)
    }

    /// Commits and stops, waiting up to `timeout`. Returns the error a stream
    /// thread stopped with, if one did.
    pub fn close(&mut self, timeout: Duration) -> Result<(), StreamsError> {
        match self.runtime.as_mut() {
            Some(rt) => Ok(rt.close(timeout)?),
            None => Ok(()),
        }
    }

    /// Blocks until SIGTERM or Ctrl-C (then closes gracefully, with a final
    /// commit) or until a stream thread fails (then returns its error).
    pub fn run_until_signal(&mut self, close_timeout: Duration) -> Result<(), StreamsError> {
        let signalled = Arc::new(AtomicBool::new(false));
        for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
            signal_hook::flag::register(sig, signalled.clone())?;
        }
        while !signalled.load(Ordering::Relaxed) && !self.is_stopping() {
            std::thread::sleep(Duration::from_millis(50));
        }
        if signalled.load(Ordering::Relaxed) {
            tracing::info!("shutdown signal received; closing");
        }
        self.close(close_timeout)
    }
}

impl Drop for KafkaStreams {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.as_mut() {
            if let Err(e) = rt.close(Duration::from_secs(30)) {
                tracing::warn!(error = %e, "closing the application on drop failed");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use weir_core::serde::Serdes;
    use weir_core::store::{
        KeyValueStore, KeyValueStoreBuilder, ReadOnlyKeyValueStore, StoreContext,
    };
    use weir_core::task::TaskId;

    use super::*;

    fn config(state_dir: &std::path::Path, extra: &[(&str, &str)]) -> StreamsConfig {
        let dir = state_dir.to_string_lossy().to_string();
        let mut pairs = vec![
            ("application.id".to_string(), "orders".to_string()),
            ("bootstrap.servers".to_string(), "127.0.0.1:9".to_string()),
            ("state.dir".to_string(), dir),
        ];
        pairs.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        StreamsConfig::from_pairs(pairs).unwrap()
    }

    #[test]
    fn stores_built_with_defaults_are_rocksdb_under_the_state_dir() {
        let dir = tempfile::tempdir().unwrap();
        let rc = runtime_config(&config(dir.path(), &[])).unwrap();
        assert!(rc.task.default_bytes_store.is_some());
        let ctx = StoreContext::for_task(TaskId::new(0, 2), &rc.task);
        let counts = KeyValueStoreBuilder::new("counts", Serdes::string(), Serdes::i64());
        let mut store = counts.build_in(&ctx).unwrap();
        assert!(store.bytes_store().persistent());
        store.put(&"apple".to_string(), &3).unwrap();
        let path = dir.path().join("orders/0_2/rocksdb/counts");
        assert!(
            path.join("CURRENT").exists(),
            "no RocksDB at {}",
            path.display()
        );

        // A second instance of the same store is refused, naming the directory.
        let err = counts.build_in(&ctx).unwrap_err().to_string();
        assert!(err.contains(&path.display().to_string()), "{err}");
        assert!(err.contains("locked"), "{err}");

        // Explicitly in memory: nothing on disk.
        let memory = KeyValueStoreBuilder::new("scratch", Serdes::string(), Serdes::i64())
            .in_memory()
            .build_in(&ctx)
            .unwrap();
        assert!(!memory.bytes_store().persistent());
        assert!(!dir.path().join("orders/0_2/rocksdb/scratch").exists());

        // Closed and opened again: the data is still there.
        weir_core::store::StateStore::close(&mut store).unwrap();
        let store = counts.build_in(&ctx).unwrap();
        assert_eq!(store.get(&"apple".to_string()).unwrap(), Some(3));
    }

    #[test]
    fn the_guarantee_reaches_the_runtime_and_the_tasks() {
        let dir = tempfile::tempdir().unwrap();
        let alos = runtime_config(&config(dir.path(), &[])).unwrap();
        assert_eq!(
            alos.task.guarantee,
            weir_core::ProcessingGuarantee::AtLeastOnce
        );
        let dir = tempfile::tempdir().unwrap();
        let eos = config(dir.path(), &[("processing.guarantee", "exactly_once_v2")]);
        let eos = runtime_config(&eos).unwrap();
        assert_eq!(
            eos.task.guarantee,
            weir_core::ProcessingGuarantee::ExactlyOnceV2
        );
    }

    #[test]
    fn the_rocksdb_budget_comes_from_the_config() {
        let dir = tempfile::tempdir().unwrap();
        let Err(err) = runtime_config(&config(
            dir.path(),
            &[("rocksdb.memory.budget.bytes", "1000")],
        )) else {
            panic!("a budget under 1 MiB was accepted");
        };
        assert!(
            err.to_string().contains("rocksdb.memory.budget.bytes"),
            "{err}"
        );
        assert!(runtime_config(&config(
            dir.path(),
            &[("rocksdb.memory.budget.bytes", "8388608")]
        ))
        .is_ok());
    }
}
