//! Restoration: before a task processes, each of its logged stores is brought
//! up to date from its changelog partition, from the offset the store
//! reached (kept in the store with its data) to the end, in large batches.

use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use weir_core::store::WriteBatch;
use weir_core::task::Task;

use crate::error::{classify, Error, Result};
use crate::runtime::RuntimeConfig;

/// Records written to a store per batch while restoring.
const RESTORE_BATCH: usize = 10_000;
/// A restore that receives nothing for this long fails (the broker is away).
const STALL_TIMEOUT: Duration = Duration::from_secs(60);

fn consume_error(topic: &str, e: &rdkafka::error::KafkaError) -> Error {
    Error::Consume {
        topic: topic.to_string(),
        message: format!("restoring: {e}"),
        kind: classify(e),
    }
}

/// The consumer a stream thread restores with: assigned by hand, never joins
/// the group nor commits, fetching in large chunks. One per thread, reused.
pub(crate) fn restore_consumer(config: &RuntimeConfig) -> Result<BaseConsumer> {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", &config.bootstrap_servers)
        // Assigned by hand, never joins the group nor commits.
        .set("group.id", format!("{}-restore", config.application_id))
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false")
        // A start offset out of range (retention) reads from the earliest kept.
        .set("auto.offset.reset", "earliest")
        .set("isolation.level", "read_committed")
        .set("fetch.max.bytes", "104857600")
        .set("max.partition.fetch.bytes", "16777216")
        .set("fetch.wait.max.ms", "50");
    for (k, v) in config
        .client_properties
        .iter()
        .chain(&config.consumer_properties)
    {
        c.set(k, v);
    }
    c.create().map_err(|e| Error::client(&e))
}

/// Restores every logged store of `task`; returns the records applied.
pub(crate) fn restore_task(task: &mut Task, consumer: &BaseConsumer) -> Result<u64> {
    let partitions = task.changelog_partitions();
    if partitions.is_empty() {
        return Ok(0);
    }
    let mut total = 0;
    let id = task.id().to_string();
    let task_err = |e| Error::Processing {
        task: id.clone(),
        source: e,
    };
    for (store, tp) in partitions {
        let start = Instant::now();
        let reached = task.changelog_offset(&store).map_err(task_err)?;
        let (low, high) = consumer
            .fetch_watermarks(&tp.topic, tp.partition, Duration::from_secs(30))
            .map_err(|e| consume_error(&tp.topic, &e))?;
        let from = reached.map_or(low, |o| (o + 1).max(low));
        if from >= high {
            tracing::debug!(task = %task.id(), store, "store up to date with its changelog");
            continue;
        }
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(&tp.topic, tp.partition, Offset::Offset(from))
            .map_err(|e| consume_error(&tp.topic, &e))?;
        consumer
            .assign(&tpl)
            .map_err(|e| consume_error(&tp.topic, &e))?;
        tracing::info!(task = %task.id(), store, from, to = high, "restoring store from its changelog");
        let mut batch = WriteBatch::new();
        let mut restored = 0u64;
        let mut last_progress = Instant::now();
        let mut next = from;
        while next < high {
            match consumer.poll(Duration::from_millis(500)) {
                Some(Ok(msg)) => {
                    last_progress = Instant::now();
                    next = msg.offset() + 1;
                    if let Some(key) = msg.key() {
                        batch.write(key.to_vec(), msg.payload().map(<[u8]>::to_vec));
                        restored += 1;
                    }
                    if batch.len() >= RESTORE_BATCH || next >= high {
                        let mut full = std::mem::take(&mut batch);
                        full.set_offset(next - 1);
                        task.restore(&store, full).map_err(task_err)?;
                    }
                }
                Some(Err(e)) => {
                    let kind = classify(&e);
                    if matches!(
                        kind,
                        weir_core::ErrorKind::Fatal | weir_core::ErrorKind::User
                    ) || last_progress.elapsed() > STALL_TIMEOUT
                    {
                        return Err(consume_error(&tp.topic, &e));
                    }
                    tracing::warn!(error = %e, "changelog read failed while restoring; retrying");
                }
                None => {
                    // Transaction markers or compacted records can end the log
                    // before `high`: the position says where we are.
                    if let Ok(pos) = consumer.position() {
                        if let Some(Offset::Offset(p)) = pos
                            .find_partition(&tp.topic, tp.partition)
                            .map(|e| e.offset())
                        {
                            next = next.max(p);
                        }
                    }
                    if last_progress.elapsed() > STALL_TIMEOUT {
                        return Err(Error::Timeout {
                            operation: format!("restoring store '{store}' from {tp}"),
                            after: STALL_TIMEOUT,
                        });
                    }
                }
            }
        }
        if !batch.is_empty() || next > from {
            batch.set_offset(next - 1);
            task.restore(&store, batch).map_err(task_err)?;
        }
        let secs = start.elapsed().as_secs_f64();
        tracing::info!(
            task = %task.id(),
            store,
            records = restored,
            seconds = secs,
            rate = restored as f64 / secs.max(1e-9),
            "store restored"
        );
        total += restored;
    }
    // Stop fetching the changelogs until the next restore.
    consumer
        .unassign()
        .map_err(|e| consume_error("changelog", &e))?;
    Ok(total)
}
