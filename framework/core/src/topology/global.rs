//! Global stores in a topology: a store fed by every partition of one topic,
//! outside every sub-topology (Kafka Streams' global state stores, behind
//! [`GlobalKTable`](crate::dsl::GlobalKTable)).
//!
//! A global store is no part of any task: its topic is not assigned to the
//! consumer group, no task is created for it, and it has no changelog (the
//! topic is its changelog: the store is restored from it). The runtime (and
//! the test driver) create the stores once per application instance with
//! [`Topology::create_global_stores`], keep them up to date from their
//! topics, and every task of every stream thread reads them through a
//! read-only view (see [`GlobalStores`]).

use std::sync::Arc;

use super::global_state::GlobalStoreState;
use super::{SubTopology, Topology};
use crate::error::{Error, Result};
use crate::store::StoreContext;

pub use super::global_state::{GlobalStores, GLOBAL_STORE_TASK};

/// Creates the state of a global store for an application instance.
pub(crate) type GlobalStoreFactory =
    Arc<dyn Fn(&StoreContext) -> Result<Box<dyn GlobalStoreState>> + Send + Sync>;

/// A global store as the topology declares it.
#[derive(Clone)]
pub(crate) struct GlobalStoreDef {
    /// Its number, shared with the sub-topologies (set by validation).
    pub(crate) id: u32,
    /// How many nodes were added before it: orders it among the
    /// sub-topologies as Kafka Streams numbers them (by first node).
    pub(crate) position: usize,
    pub(crate) store: String,
    pub(crate) topic: String,
    pub(crate) source: String,
    pub(crate) processor: String,
    pub(crate) factory: GlobalStoreFactory,
}

/// A global store of a [`Topology`], as [`Topology::global_stores`] lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlobalStoreInfo {
    /// Its number in the topology's description ("Sub-topology: N for
    /// global store"); no task has it.
    pub id: u32,
    /// The store's name.
    pub store: String,
    /// The topic that feeds it (every partition).
    pub topic: String,
    /// The name of its source node.
    pub source: String,
    /// The name of the node that writes the store.
    pub processor: String,
}

impl super::TopologyBuilder {
    /// Declares global store `store`, fed by every partition of `topic`
    /// through source node `source` and update node `processor`.
    pub(crate) fn add_global_store(
        &mut self,
        store: &str,
        topic: &str,
        source: &str,
        processor: &str,
        factory: GlobalStoreFactory,
    ) {
        if store.is_empty() {
            self.problems
                .push("a global store has an empty name".to_string());
        }
        for name in [source, processor] {
            if self.nodes.iter().any(|n| n.name == name)
                || self
                    .global_stores
                    .iter()
                    .any(|g| g.source == name || g.processor == name)
            {
                self.problems
                    .push(format!("node name '{name}' is used twice"));
            }
        }
        self.global_stores.push(GlobalStoreDef {
            id: 0,
            position: self.nodes.len(),
            store: store.to_string(),
            topic: topic.to_string(),
            source: source.to_string(),
            processor: processor.to_string(),
            factory,
        });
    }
}

/// Checks the global stores against the rest of the topology, then numbers
/// sub-topologies and global stores together, by the position of their
/// first node, as Kafka Streams does: a global table declared first is
/// "Sub-topology: 0 for global store" and the stream sub-topologies follow.
pub(crate) fn check_and_number(
    globals: &mut [GlobalStoreDef],
    subtopologies: &mut [SubTopology],
    topology_stores: &[super::StoreDef],
    stream_topics: &[super::TopicName],
    node_names: &[&str],
) -> Result<()> {
    for (i, g) in globals.iter().enumerate() {
        let twice = globals[..i].iter().any(|o| o.store == g.store)
            || topology_stores.iter().any(|s| s.name == g.store);
        if twice {
            return Err(Error::Topology(format!(
                "state store '{}' is added twice",
                g.store
            )));
        }
        if globals[..i].iter().any(|o| o.topic == g.topic)
            || stream_topics
                .iter()
                .any(|t| !t.is_internal() && t.name() == g.topic)
        {
            return Err(Error::Topology(format!(
                "topic '{}' feeds global store '{}' and is read by another source: \
                 a global store's topic may feed nothing else",
                g.topic, g.store
            )));
        }
        for name in [&g.source, &g.processor] {
            if node_names.contains(&name.as_str()) {
                return Err(Error::Topology(format!("node name '{name}' is used twice")));
            }
        }
    }
    if globals.is_empty() {
        return Ok(());
    }
    // Each item: (position of its first node, is global, index).
    let mut order: Vec<(usize, bool, usize)> = subtopologies
        .iter()
        .enumerate()
        .map(|(i, s)| (s.nodes.first().copied().unwrap_or(usize::MAX), false, i))
        .chain(
            globals
                .iter()
                .enumerate()
                .map(|(i, g)| (g.position, true, i)),
        )
        .collect();
    // A global store added before node p sorts before the sub-topology
    // whose first node is p.
    order.sort_by_key(|&(pos, global, i)| (pos, !global, i));
    for (id, (_, global, i)) in order.into_iter().enumerate() {
        let id = u32::try_from(id).unwrap_or(u32::MAX);
        if global {
            globals[i].id = id;
        } else {
            subtopologies[i].id = id;
        }
    }
    Ok(())
}

impl Topology {
    /// The global stores, in the order they were declared.
    pub fn global_stores(&self) -> Vec<GlobalStoreInfo> {
        self.global_stores
            .iter()
            .map(|g| GlobalStoreInfo {
                id: g.id,
                store: g.store.clone(),
                topic: g.topic.clone(),
                source: g.source.clone(),
                processor: g.processor.clone(),
            })
            .collect()
    }

    /// The topics that feed global stores (user topics, every partition of
    /// each): no task reads them; the global stores' own consumer does.
    pub fn global_topics(&self) -> Vec<String> {
        self.global_stores.iter().map(|g| g.topic.clone()).collect()
    }

    /// Whether `store` is a global store of this topology.
    pub fn is_global_store(&self, store: &str) -> bool {
        self.global_stores.iter().any(|g| g.store == store)
    }

    /// Creates this application instance's global stores, empty or as
    /// their backend left them, with `ctx`'s default backend (the Kafka
    /// runtime's RocksDB under `state.dir`, at the reserved task id
    /// [`GLOBAL_STORE_TASK`]; in memory without one). The stores are never
    /// logged, cached, or held back for a transaction: they only ever hold
    /// what their topics hold. Set the result in
    /// [`TaskConfig::global_stores`](crate::task::TaskConfig::global_stores)
    /// so tasks can read them, and feed it with
    /// [`GlobalStores::update`].
    pub fn create_global_stores(&self, ctx: &StoreContext) -> Result<GlobalStores> {
        let mut global_ctx = StoreContext::new(GLOBAL_STORE_TASK);
        if let Some(default) = ctx.default_bytes_store() {
            global_ctx = global_ctx.with_default_bytes_store(default.clone());
        }
        let mut states = Vec::with_capacity(self.global_stores.len());
        for g in &self.global_stores {
            states.push((g.factory)(&global_ctx)?);
        }
        Ok(GlobalStores::new(states))
    }
}

/// Describes a global store as Kafka Streams does: its own "sub-topology"
/// of a source and the node that writes the store, which makes no task.
pub(crate) fn describe(f: &mut std::fmt::Formatter<'_>, g: &GlobalStoreDef) -> std::fmt::Result {
    writeln!(
        f,
        "   Sub-topology: {} for global store (will not generate tasks)",
        g.id
    )?;
    writeln!(f, "    Source: {} (topics: [{}])", g.source, g.topic)?;
    writeln!(f, "      --> {}", g.processor)?;
    writeln!(f, "    Processor: {} (stores: [{}])", g.processor, g.store)?;
    writeln!(f, "      --> none")?;
    writeln!(f, "      <-- {}", g.source)?;
    writeln!(f)
}
