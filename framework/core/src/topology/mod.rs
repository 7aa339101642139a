//! Topologies: the graph of sources, processors and sinks an application
//! runs, split into sub-topologies (connected components). Build one with
//! [`TopologyBuilder`] (the Processor API) or with the DSL's
//! [`StreamsBuilder`](crate::dsl::StreamsBuilder).

mod builder;
mod describe;
mod global;
mod global_state;
mod plan;
mod sink;
mod source;
mod validate;

use std::any::TypeId;
use std::sync::Arc;

pub use builder::TopologyBuilder;
pub use describe::TopologyDescription;
pub use global::{GlobalStoreInfo, GlobalStores, GLOBAL_STORE_TASK};
pub use plan::{InternalTopicOptions, InternalTopicRole, PlannedTopic};
pub use sink::{Produced, StreamPartitioner, TopicNameExtractor};
pub use source::Consumed;

pub(crate) use global::{GlobalStoreDef, GlobalStoreFactory};
pub(crate) use global_state::TypedGlobalStore;
pub(crate) use sink::{SinkNode, SinkTopic};
pub(crate) use source::{SourceDecoder, TypedSource};

use crate::processor::ErasedProcessor;
use crate::store::{StoreKind, StoreSupplier};

/// The changelog topic of store `store`: `<application.id>-<store>-changelog`.
pub fn changelog_topic(store: &str) -> TopicName {
    TopicName::internal(format!("{store}-changelog"))
}

/// A topic named by a topology: a user topic, or an internal topic whose real
/// name is `<application.id>-<name>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TopicName {
    name: String,
    internal: bool,
}

impl TopicName {
    /// A user topic, used as named.
    pub fn user(name: impl Into<String>) -> Self {
        TopicName {
            name: name.into(),
            internal: false,
        }
    }

    /// An internal topic (repartition, changelog), prefixed with the application id.
    pub fn internal(name: impl Into<String>) -> Self {
        TopicName {
            name: name.into(),
            internal: true,
        }
    }

    /// The name as given in the topology (without prefix).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the topic is internal.
    pub fn is_internal(&self) -> bool {
        self.internal
    }

    /// The topic's real name for application `application_id`.
    pub fn resolve(&self, application_id: &str) -> String {
        if self.internal {
            format!("{application_id}-{}", self.name)
        } else {
            self.name.clone()
        }
    }
}

impl std::fmt::Display for TopicName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.internal {
            write!(f, "<application.id>-{}", self.name)
        } else {
            f.write_str(&self.name)
        }
    }
}

/// The key and value types a node takes or forwards; edges are checked at build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TypeSig {
    key: TypeId,
    value: TypeId,
    key_name: &'static str,
    value_name: &'static str,
}

impl TypeSig {
    pub(crate) fn of<K: 'static, V: 'static>() -> Self {
        TypeSig {
            key: TypeId::of::<K>(),
            value: TypeId::of::<V>(),
            key_name: std::any::type_name::<K>(),
            value_name: std::any::type_name::<V>(),
        }
    }
}

impl std::fmt::Display for TypeSig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<{}, {}>", self.key_name, self.value_name)
    }
}

pub(crate) type NodeFactory = Arc<dyn Fn() -> Box<dyn ErasedProcessor> + Send + Sync>;

/// What kind of node, with what it needs beyond its processor.
#[derive(Clone)]
pub(crate) enum NodeKind {
    Source {
        topics: Vec<TopicName>,
        decoder: Arc<dyn SourceDecoder>,
    },
    Processor,
    Sink {
        /// For describe(): the topic, or `extractor`.
        target: SinkTarget,
    },
}

#[derive(Clone, Debug)]
pub(crate) enum SinkTarget {
    Topic(TopicName),
    Extractor,
}

#[derive(Clone)]
pub(crate) struct NodeDef {
    pub(crate) name: String,
    pub(crate) kind: NodeKind,
    pub(crate) parents: Vec<String>,
    pub(crate) factory: NodeFactory,
    pub(crate) input: Option<TypeSig>,
    pub(crate) output: Option<TypeSig>,
    pub(crate) stores: Vec<String>,
}

#[derive(Clone)]
pub(crate) struct StoreDef {
    pub(crate) name: String,
    pub(crate) supplier: StoreSupplier,
    /// Whether the store's writes go to `<application.id>-<name>-changelog`.
    pub(crate) logged: bool,
    /// What kind of store it is.
    pub(crate) kind: StoreKind,
    /// The topic configs of its changelog topic (from its kind, then the
    /// user's).
    pub(crate) changelog_configs: std::collections::BTreeMap<String, String>,
}

impl StoreDef {
    /// A store of `kind`, not logged.
    pub(crate) fn new(name: &str, supplier: StoreSupplier, kind: StoreKind) -> Self {
        StoreDef {
            name: name.to_string(),
            supplier,
            logged: false,
            kind,
            changelog_configs: kind.changelog_configs(),
        }
    }
}

/// An internal topic the runtime must create before it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InternalTopic {
    /// The topic (resolve it with the application id).
    pub topic: TopicName,
    /// The partition count asked for, or `None` for "as many as the input".
    pub partitions: Option<i32>,
}

/// A connected component of the topology; one task runs per partition of it.
#[derive(Debug, Clone)]
pub struct SubTopology {
    pub(crate) id: u32,
    /// Node indices, in the order they were added.
    pub(crate) nodes: Vec<usize>,
    pub(crate) source_topics: Vec<TopicName>,
    pub(crate) sink_topics: Vec<TopicName>,
    pub(crate) stores: Vec<String>,
}

impl SubTopology {
    /// Its number, from 0 in the order of the first node added.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// The topics it reads; partition `p` of each of them feeds task `<id>_<p>`,
    /// so they must be co-partitioned (same partition count).
    pub fn source_topics(&self) -> &[TopicName] {
        &self.source_topics
    }

    /// The topics its sinks write by name (not those a topic extractor picks).
    /// A repartition topic declared without a partition count gets as many
    /// partitions as the sub-topologies writing it read.
    pub fn sink_topics(&self) -> &[TopicName] {
        &self.sink_topics
    }

    /// The stores its processors use.
    pub fn stores(&self) -> &[String] {
        &self.stores
    }
}

/// A validated topology, ready to run. Cheap to share across stream threads:
/// each task gets fresh processor instances from it.
#[derive(Clone)]
pub struct Topology {
    pub(crate) nodes: Vec<NodeDef>,
    pub(crate) stores: Vec<StoreDef>,
    pub(crate) subtopologies: Vec<SubTopology>,
    pub(crate) internal_topics: Vec<InternalTopic>,
    /// Global stores: outside every sub-topology (see [`Topology::global_stores`]).
    pub(crate) global_stores: Vec<GlobalStoreDef>,
}

impl std::fmt::Debug for Topology {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe().to_string())
    }
}

impl Topology {
    /// The sub-topologies, by id.
    pub fn subtopologies(&self) -> &[SubTopology] {
        &self.subtopologies
    }

    /// Repartition topics as declared; see
    /// [`plan_internal_topics`](Self::plan_internal_topics) for every
    /// internal topic (changelogs too) with its partition count and configs.
    pub fn internal_topics(&self) -> &[InternalTopic] {
        &self.internal_topics
    }

    /// Every topic the topology reads, resolved for `application_id`.
    pub fn source_topics(&self, application_id: &str) -> Vec<String> {
        self.subtopologies
            .iter()
            .flat_map(|s| s.source_topics.iter().map(|t| t.resolve(application_id)))
            .collect()
    }

    /// The topics the sinks of sub-topology `subtopology` write by name
    /// (sinks with a topic extractor are not included).
    pub fn sink_topics(&self, subtopology: u32) -> Vec<TopicName> {
        let Some(sub) = self.subtopologies.iter().find(|s| s.id == subtopology) else {
            return Vec::new();
        };
        sub.nodes
            .iter()
            .filter_map(|&i| match &self.nodes[i].kind {
                NodeKind::Sink {
                    target: SinkTarget::Topic(t),
                } => Some(t.clone()),
                _ => None,
            })
            .collect()
    }

    /// The sub-topology that reads `topic` (resolved for `application_id`), if any.
    pub fn subtopology_reading(&self, topic: &str, application_id: &str) -> Option<u32> {
        self.subtopologies
            .iter()
            .find(|s| {
                s.source_topics
                    .iter()
                    .any(|t| t.resolve(application_id) == topic)
            })
            .map(|s| s.id)
    }

    /// The changelog topics of sub-topology `subtopology`'s logged stores:
    /// `(store name, topic)` with the topic `<application.id>-<store>-changelog`
    /// (resolve it with the application id). Partition p of each belongs to
    /// task `<subtopology>_<p>`.
    pub fn changelog_topics(&self, subtopology: u32) -> Vec<(String, TopicName)> {
        let Some(sub) = self.subtopologies.iter().find(|s| s.id == subtopology) else {
            return Vec::new();
        };
        self.stores
            .iter()
            .filter(|s| s.logged && sub.stores.contains(&s.name))
            .map(|s| (s.name.clone(), changelog_topic(&s.name)))
            .collect()
    }

    /// The kind of store `store`, if the topology has it.
    pub fn store_kind(&self, store: &str) -> Option<StoreKind> {
        self.stores.iter().find(|s| s.name == store).map(|s| s.kind)
    }

    /// A description of the topology: `to_string()` gives Kafka Streams-style
    /// text, [`TopologyDescription::mermaid`] a Mermaid flowchart.
    pub fn describe(&self) -> TopologyDescription<'_> {
        TopologyDescription::new(self)
    }

    pub(crate) fn node_index(&self, name: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.name == name)
    }

    pub(crate) fn children_of(&self, idx: usize) -> Vec<usize> {
        let name = &self.nodes[idx].name;
        self.nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| n.parents.iter().any(|p| p == name))
            .map(|(i, _)| i)
            .collect()
    }
}
