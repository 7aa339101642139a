//! What a stream thread owns besides its consumer, shared with the
//! consumer's rebalance callbacks: the engine's task manager and the
//! thread's ports (producer collector, restorer). Every decision about tasks
//! and commits is the engine's (`weir_core::engine`); this file only lends
//! it the ports and keeps the thread's metrics.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use rdkafka::consumer::{BaseConsumer, ConsumerContext};
use rdkafka::TopicPartitionList;
use weir_core::engine::{CommitOutcome, TaskManager};
use weir_core::record::TopicPartition;
use weir_core::topology::Topology;

use crate::error::{Error, Result};
use crate::runtime::collector::ProducerCollector;
use crate::runtime::fetch_lag::FetchLagCache;
use crate::runtime::ports::KafkaPorts;
use crate::runtime::restore::Restorer;
use crate::runtime::AppShared;

/// What a stream thread owns besides its consumer.
pub(crate) struct ThreadTasks {
    pub(crate) engine: TaskManager,
    pub(crate) collector: ProducerCollector,
    /// New tasks whose stores are being restored (their input partitions paused).
    pub(crate) restorer: Restorer,
    /// An error raised inside a rebalance callback, for the thread loop to act on.
    pub(crate) error: Option<Error>,
    /// Start and last stable offsets the fetch lags of its partitions need.
    pub(crate) fetch_lag: FetchLagCache,
}

impl ThreadTasks {
    pub(crate) fn new(
        collector: ProducerCollector,
        topology: Arc<Topology>,
        app: &AppShared,
    ) -> Self {
        let engine = TaskManager::new(topology, app.config.task.clone())
            .with_max_buffered(app.config.buffered_records_per_partition);
        ThreadTasks {
            engine,
            collector,
            restorer: Restorer::default(),
            error: None,
            fetch_lag: FetchLagCache::new(app.config.reads_committed()),
        }
    }

    /// The engine and the ports it runs over, for one call.
    pub(crate) fn split<'a, C: ConsumerContext>(
        &'a mut self,
        consumer: &'a BaseConsumer<C>,
        app: &'a AppShared,
    ) -> (&'a mut TaskManager, KafkaPorts<'a, C>) {
        let ThreadTasks {
            engine,
            collector,
            restorer,
            ..
        } = self;
        (
            engine,
            KafkaPorts {
                consumer,
                collector,
                restorer,
                app,
            },
        )
    }

    /// Commits every task through the engine and records the commit's metrics.
    pub(crate) fn commit<C: ConsumerContext>(
        &mut self,
        consumer: &BaseConsumer<C>,
        app: &AppShared,
    ) -> Result<CommitOutcome> {
        let start = Instant::now();
        let (engine, mut ports) = self.split(consumer, app);
        let outcome = engine.commit(&mut ports, None)?;
        if outcome.committed {
            let micros = u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX);
            app.metrics.record_commit(micros);
            tracing::debug!(partitions = outcome.partitions, micros, "committed");
        }
        app.metrics
            .records_sent
            .store(self.collector.sent(), Ordering::Relaxed);
        Ok(outcome)
    }
}

/// The partitions of a rebalance list.
pub(crate) fn partitions_of(tpl: &TopicPartitionList) -> Vec<TopicPartition> {
    tpl.elements()
        .iter()
        .map(|e| TopicPartition::new(e.topic(), e.partition()))
        .collect()
}

/// Keeps an `Arc` alive with a name for the shared thread state.
pub(crate) type SharedTasks = Arc<std::sync::Mutex<ThreadTasks>>;
