//! Global stores in the driver: as in Kafka Streams' driver, a record piped
//! into a global topic goes straight into its global store (no task, no
//! processing of stream records), so the next stream record sees it.

use std::collections::BTreeMap;

use weir_core::handler::DeserializationHandler;
use weir_core::record::OutputRecord;
use weir_core::store::{StateStore, StoreContext};
use weir_core::task::TaskConfig;
use weir_core::topology::{GlobalStores, Topology, GLOBAL_STORE_TASK};
use weir_core::{Error, RawRecord, Result, TopicPartition};

use super::collector::default_partition;
use super::config::DriverConfig;
use super::state::Incoming;

/// The driver's global stores and what it knows of their topics.
pub(crate) struct DriverGlobals {
    /// The stores; `None` if the topology has none or they failed to open
    /// (`error` says why).
    stores: Option<GlobalStores>,
    error: Option<String>,
    /// Partition count of each global topic.
    partitions: BTreeMap<String, i32>,
    /// The next offset of each partition of the global topics.
    offsets: BTreeMap<TopicPartition, i64>,
}

impl DriverGlobals {
    /// Opens the global stores of `topology` with the backend `task_config`
    /// gives stores (in memory, or RocksDB under the driver's state
    /// directory), and sets them in `task_config` for the tasks.
    pub(crate) fn open(
        topology: &Topology,
        config: &DriverConfig,
        task_config: &mut TaskConfig,
    ) -> Self {
        let partitions = topology
            .global_topics()
            .into_iter()
            .map(|t| {
                let n = config.resolve_partitions(topology, &t);
                (t, n)
            })
            .collect();
        let mut globals = DriverGlobals {
            stores: None,
            error: None,
            partitions,
            offsets: BTreeMap::new(),
        };
        if topology.global_stores().is_empty() {
            return globals;
        }
        let ctx = StoreContext::for_task(GLOBAL_STORE_TASK, task_config);
        match topology.create_global_stores(&ctx) {
            Ok(stores) => {
                task_config.global_stores = Some(stores.clone());
                globals.stores = Some(stores);
            }
            Err(e) => globals.error = Some(e.to_string()),
        }
        globals
    }

    /// Whether `topic` feeds a global store.
    pub(crate) fn reads(&self, topic: &str) -> bool {
        self.partitions.contains_key(topic)
    }

    /// The partition count of global topic `topic`, if it is one.
    pub(crate) fn partition_count(&self, topic: &str) -> Option<i32> {
        self.partitions.get(topic).copied()
    }

    fn stores(&self) -> Result<&GlobalStores> {
        match (&self.stores, &self.error) {
            (Some(stores), _) => Ok(stores),
            (None, Some(e)) => Err(Error::Store {
                store: "global".to_string(),
                message: format!("the global stores could not be opened: {e}"),
            }),
            (None, None) => Err(Error::Store {
                store: "global".to_string(),
                message: "the topology has no global store".to_string(),
            }),
        }
    }

    /// Applies a record piped into a global topic to its store, at the
    /// next offset of its partition; a record that cannot be deserialized
    /// goes to `handler`: for a record it skipped, its dead-letter records
    /// come back.
    pub(crate) fn pipe(
        &mut self,
        record: Incoming,
        handler: &dyn DeserializationHandler,
        dead_letter_topic: Option<&str>,
    ) -> Result<Option<Vec<OutputRecord>>> {
        let count = self.partition_count(&record.topic).unwrap_or(1);
        let partition = match record.partition {
            Some(p) if (0..count).contains(&p) => p,
            Some(p) => {
                return Err(super::state::misuse(format!(
                    "global topic '{}' has no partition {p}: it has {count} partition(s)",
                    record.topic
                )))
            }
            None => default_partition(record.key.as_deref(), count),
        };
        let tp = TopicPartition::new(record.topic.clone(), partition);
        let offset = self.offsets.get(&tp).copied().unwrap_or(0);
        let raw = RawRecord {
            topic: record.topic,
            partition,
            offset,
            timestamp: record.timestamp,
            key: record.key,
            value: record.value,
            headers: record.headers,
        };
        self.offsets.insert(tp, offset + 1);
        let (_, dead_letters) =
            self.stores()?
                .update_with_dead_letters(&raw.as_ref(), handler, dead_letter_topic)?;
        Ok(dead_letters)
    }

    /// The names of the global stores.
    pub(crate) fn store_names(&self) -> Vec<String> {
        self.stores
            .as_ref()
            .map(GlobalStores::store_names)
            .unwrap_or_default()
    }

    /// A read-only view of global store `name`, if there is one.
    pub(crate) fn view(&self, name: &str) -> Option<Box<dyn StateStore>> {
        self.stores.as_ref().and_then(|s| s.view(name))
    }

    /// Closes the global stores.
    pub(crate) fn close(&mut self) -> Result<()> {
        match self.stores.take() {
            Some(stores) => stores.close(),
            None => Ok(()),
        }
    }
}
