//! The global thread: keeps the application instance's global stores (see
//! `weir_core::topology::GlobalStores`) up to date from their topics.
//!
//! - Its own consumer, in no group, assigned every partition of every
//!   global topic, `read_committed` (a global table never shows what an
//!   aborted transaction wrote).
//! - Before the stream threads start, [`GlobalThread::start`] reads every
//!   partition to the end offset it had when the bootstrap began (the
//!   application is Rebalancing meanwhile, never Running), so the first
//!   stream record processed sees every global record written before the
//!   start. Then the thread keeps polling and applying while the
//!   application runs.
//! - Every `commit.interval.ms` and when it stops, it flushes the stores and
//!   writes the offsets they reached to
//!   `<state.dir>/<application.id>/global/.checkpoint`. On the next start a
//!   persistent store's partitions resume from there; an in-memory store's
//!   are read from the beginning.
//! - A record that cannot be deserialized follows the application's
//!   deserialization handler; a failure stops the application like a
//!   stream thread's.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};
use weir_core::collector::RecordCollector;
use weir_core::record::OutputRecord;
use weir_core::store::StoreContext;
use weir_core::topology::{GlobalStores, Topology, GLOBAL_STORE_TASK};
use weir_core::ErrorKind;

use crate::client::admin::Admin;
use crate::client::connection::Connection;
use crate::error::{classify, Error, Result};
use crate::runtime::collector::ProducerCollector;
use crate::runtime::state::State;
use crate::runtime::thread::with_raw_record;
use crate::runtime::{set_all, AppShared, RuntimeConfig};

/// The checkpoint file, under `<state.dir>/<application.id>/global/`.
const CHECKPOINT_FILE: &str = ".checkpoint";
/// How long one poll waits.
const POLL_TIMEOUT: Duration = Duration::from_millis(100);
/// How long a watermark query waits.
const METADATA_TIMEOUT: Duration = Duration::from_secs(30);

/// The global stores' consumer and what it reads.
pub(crate) struct GlobalThread {
    stores: GlobalStores,
    consumer: BaseConsumer,
    /// Every partition of every global topic.
    partitions: Vec<(String, i32)>,
    checkpoint: Option<PathBuf>,
    commit_interval: Duration,
    /// With a dead-letter topic: a producer (no transaction: a global
    /// thread commits nothing, so its dead-letter records are at least
    /// once) and the topic.
    dead_letters: Option<(std::sync::Mutex<ProducerCollector>, String)>,
}

/// A running global thread.
pub(crate) struct RunningGlobal {
    pub(crate) stores: GlobalStores,
    pub(crate) handle: JoinHandle<Result<()>>,
}

fn global_error(source: weir_core::Error) -> Error {
    Error::Processing {
        task: "global".to_string(),
        source,
    }
}

fn consume_error(topic: &str, e: &rdkafka::error::KafkaError) -> Error {
    Error::Consume {
        topic: topic.to_string(),
        message: e.to_string(),
        kind: classify(e),
    }
}

impl GlobalThread {
    /// Opens the global stores of `topology` (none: `None`) and sets them
    /// in `config.task` for the tasks. Fails naming a global topic that
    /// does not exist.
    pub(crate) fn open(
        topology: &Topology,
        config: &mut RuntimeConfig,
        conn: &Connection,
        client_id: &str,
    ) -> Result<Option<Self>> {
        let topics = topology.global_topics();
        if topics.is_empty() {
            return Ok(None);
        }
        let admin = Admin::new(conn)?;
        let mut partitions = Vec::new();
        for topic in &topics {
            let Some(n) = admin.partition_count(topic)? else {
                return Err(Error::MissingSourceTopic {
                    topic: topic.clone(),
                });
            };
            partitions.extend((0..n).map(|p| (topic.clone(), p)));
        }
        let ctx = StoreContext::for_task(GLOBAL_STORE_TASK, &config.task);
        let stores = topology.create_global_stores(&ctx).map_err(global_error)?;
        config.task.global_stores = Some(stores.clone());
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", &config.bootstrap_servers)
            .set("client.id", format!("{client_id}-global-consumer"))
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("enable.partition.eof", "false");
        crate::client::tuning::apply(&mut c, crate::client::tuning::CLIENT);
        crate::client::tuning::apply(&mut c, crate::client::tuning::CONSUMER);
        set_all(&mut c, &config.client_properties);
        set_all(&mut c, &config.consumer_properties);
        // Forced: no group membership (the consumer is assigned, never
        // subscribed, and commits nothing; librdkafka's assign() still
        // wants a group id, one of its own), and only committed records.
        c.set("group.id", format!("{client_id}-global"));
        c.set("isolation.level", "read_committed");
        let consumer: BaseConsumer = c.create().map_err(|e| Error::client(&e))?;
        let checkpoint = config.state_dir.as_ref().map(|dir| {
            dir.join(&config.application_id)
                .join("global")
                .join(CHECKPOINT_FILE)
        });
        let dead_letters = match &config.task.dead_letter_topic {
            Some(topic) => {
                let producer = super::StreamsRuntime::producer(
                    config,
                    &format!("{client_id}-global"),
                    None,
                    Vec::new(),
                )?;
                Some((std::sync::Mutex::new(producer), topic.clone()))
            }
            None => None,
        };
        Ok(Some(GlobalThread {
            dead_letters,
            stores,
            consumer,
            partitions,
            checkpoint,
            commit_interval: config.commit_interval,
        }))
    }

    /// Assigns every partition (persistent stores' from the checkpoint,
    /// others from the beginning), reads each to its end offset, then
    /// starts the thread that keeps reading. Returns once bootstrapped.
    pub(crate) fn start(self, app: Arc<AppShared>) -> Result<RunningGlobal> {
        let saved = match &self.checkpoint {
            Some(path) => read_checkpoint(path)?,
            None => BTreeMap::new(),
        };
        let mut tpl = TopicPartitionList::new();
        // Where each partition starts: (start offset, end offset).
        let mut bounds = BTreeMap::new();
        for (topic, p) in &self.partitions {
            let (low, high) = self
                .consumer
                .fetch_watermarks(topic, *p, METADATA_TIMEOUT)
                .map_err(|e| consume_error(topic, &e))?;
            let from = match saved.get(&(topic.clone(), *p)) {
                Some(&o) if self.stores.is_persistent(topic) && (low..=high).contains(&o) => o,
                _ => low,
            };
            tpl.add_partition_offset(topic, *p, Offset::Offset(from))
                .map_err(|e| consume_error(topic, &e))?;
            bounds.insert((topic.clone(), *p), (from, high));
        }
        self.consumer
            .assign(&tpl)
            .map_err(|e| consume_error("global topics", &e))?;
        let started = Instant::now();
        let applied = self.bootstrap(&app, &bounds)?;
        self.checkpoint_now()?;
        tracing::info!(
            records = applied,
            millis = started.elapsed().as_millis() as u64,
            "global stores bootstrapped"
        );
        let stores = self.stores.clone();
        let app_t = app.clone();
        let handle = std::thread::Builder::new()
            .name("weir-global".to_string())
            .spawn(move || {
                let result = self.run(&app_t);
                if let Err(e) = &result {
                    tracing::error!(error = %e, "global thread died; shutting the application down");
                    app_t.shutdown.store(true, Ordering::Release);
                    app_t.state.set(State::Error);
                }
                result
            })
            .map_err(|e| Error::Client {
                message: format!("cannot spawn the global thread: {e}"),
                kind: ErrorKind::Fatal,
            })?;
        Ok(RunningGlobal { stores, handle })
    }

    /// Polls and applies until every partition's position reached the end
    /// offset it had when the bootstrap began.
    fn bootstrap(
        &self,
        app: &AppShared,
        bounds: &BTreeMap<(String, i32), (i64, i64)>,
    ) -> Result<u64> {
        let mut applied = 0;
        loop {
            let positions = self.positions()?;
            let behind = bounds
                .iter()
                .filter(|(tp, &(start, end))| {
                    positions.get(*tp).copied().unwrap_or(start).max(start) < end
                })
                .count();
            if behind == 0 {
                return Ok(applied);
            }
            if app.shutdown.load(Ordering::Acquire) {
                return Err(Error::Timeout {
                    operation: "bootstrapping the global stores (shut down meanwhile)".to_string(),
                    after: Duration::ZERO,
                });
            }
            applied += self.poll_once(app)?;
        }
    }

    /// Applies what one poll brings; returns how many records changed a store.
    fn poll_once(&self, app: &AppShared) -> Result<u64> {
        let Some(polled) = self.consumer.poll(POLL_TIMEOUT) else {
            return Ok(0);
        };
        let msg = match polled {
            Ok(msg) => msg,
            Err(e) if classify(&e) == ErrorKind::Retriable => {
                tracing::warn!(error = %e, "global consumer: retrying");
                return Ok(0);
            }
            Err(e) => return Err(consume_error("global topics", &e)),
        };
        let handler = app.config.task.deserialization_handler.clone();
        let dlq = self.dead_letters.as_ref().map(|(_, t)| t.as_str());
        let (changed, skipped) = with_raw_record(&msg, |raw| {
            self.stores
                .update_with_dead_letters(&raw, handler.as_ref(), dlq)
        })
        .map_err(global_error)?;
        if let Some(records) = skipped {
            self.write_dead_letters(app, records)?;
        }
        Ok(u64::from(changed))
    }

    /// Writes the dead-letter records of a skipped global record and waits
    /// for them, before the thread reads on (and checkpoints past it).
    fn write_dead_letters(&self, app: &AppShared, records: Vec<OutputRecord>) -> Result<()> {
        let n = records.len() as u64;
        if let Some((producer, _)) = &self.dead_letters {
            let mut producer = producer.lock().unwrap_or_else(|e| e.into_inner());
            for record in records {
                producer.send(record).map_err(global_error)?;
            }
            producer.flush()?;
        }
        app.metrics.add_errors(|c| {
            c.deserialization.dropped += 1;
            c.deserialization.dead_lettered += n;
        });
        Ok(())
    }

    /// The consumer's position in each partition (the next offset to read).
    fn positions(&self) -> Result<BTreeMap<(String, i32), i64>> {
        let tpl = self
            .consumer
            .position()
            .map_err(|e| consume_error("global topics", &e))?;
        Ok(tpl
            .elements()
            .iter()
            .filter_map(|e| match e.offset() {
                Offset::Offset(o) => Some(((e.topic().to_string(), e.partition()), o)),
                _ => None,
            })
            .collect())
    }

    /// Flushes the stores and writes the offsets they reached.
    fn checkpoint_now(&self) -> Result<()> {
        self.stores.flush().map_err(global_error)?;
        let Some(path) = &self.checkpoint else {
            return Ok(());
        };
        let positions = self.positions()?;
        write_checkpoint(path, &positions)
    }

    /// Keeps the stores up to date until the application shuts down.
    fn run(self, app: &AppShared) -> Result<()> {
        let span = tracing::info_span!("global_thread");
        let _enter = span.enter();
        let mut last_checkpoint = Instant::now();
        while !app.shutdown.load(Ordering::Acquire) {
            self.poll_once(app)?;
            if last_checkpoint.elapsed() >= self.commit_interval {
                self.checkpoint_now()?;
                last_checkpoint = Instant::now();
            }
        }
        self.checkpoint_now()
    }
}

fn io_error(path: &Path, what: &str, e: &std::io::Error) -> Error {
    Error::Config {
        key: "state.dir".to_string(),
        message: format!("cannot {what} {}: {e}", path.display()),
    }
}

/// Reads the checkpoint: one `topic partition offset` line per partition
/// after a version line; no file: nothing checkpointed.
fn read_checkpoint(path: &Path) -> Result<BTreeMap<(String, i32), i64>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) => return Err(io_error(path, "read", &e)),
    };
    let mut offsets = BTreeMap::new();
    for line in text.lines().skip(1) {
        let parts: Vec<&str> = line.split_whitespace().collect();
        let parsed = match parts.as_slice() {
            [topic, p, o] => p
                .parse::<i32>()
                .ok()
                .zip(o.parse::<i64>().ok())
                .map(|x| (topic, x)),
            _ => None,
        };
        let Some((topic, (p, o))) = parsed else {
            tracing::warn!(path = %path.display(), line, "ignoring a malformed checkpoint line");
            continue;
        };
        offsets.insert(((*topic).to_string(), p), o);
    }
    Ok(offsets)
}

/// Writes the checkpoint through a temporary file and a rename, so a crash
/// leaves the old one or the new one.
fn write_checkpoint(path: &Path, offsets: &BTreeMap<(String, i32), i64>) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| io_error(dir, "create", &e))?;
    }
    let mut text = String::from("0\n");
    for ((topic, p), o) in offsets {
        text.push_str(&format!("{topic} {p} {o}\n"));
    }
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).map_err(|e| io_error(&tmp, "write", &e))?;
    std::fs::rename(&tmp, path).map_err(|e| io_error(path, "write", &e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_reads_back_what_was_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app/global/.checkpoint");
        assert!(read_checkpoint(&path).unwrap().is_empty());
        let offsets = BTreeMap::from([(("a".to_string(), 0), 5), (("a".to_string(), 1), 9)]);
        write_checkpoint(&path, &offsets).unwrap();
        assert_eq!(read_checkpoint(&path).unwrap(), offsets);
    }
}
