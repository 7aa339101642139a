//! [`TopologyBuilder`]: the Processor API's way to assemble a topology.

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::processor::{Data, ErasedProcessor, PassThrough, ProcessorAdapter, ProcessorSupplier};
use crate::store::{StoreKind, StoreSupplier};
use crate::topology::{
    Consumed, InternalTopic, NodeDef, NodeFactory, NodeKind, Produced, SinkNode, SinkTarget,
    SinkTopic, StoreDef, TopicName, TopicNameExtractor, Topology, TypeSig, TypedSource,
};

/// Assembles a topology node by node (Kafka Streams' `Topology` in its
/// building role). Problems are collected and reported by [`build`](Self::build),
/// with the name of the node at fault.
///
/// ```
/// use weir_core::processor::{Processor, ProcessorContext};
/// use weir_core::topology::{Consumed, Produced, TopologyBuilder};
/// use weir_core::{Record, Result, Serdes};
///
/// struct Upper;
/// impl Processor<String, String> for Upper {
///     fn process(&mut self, ctx: &mut dyn ProcessorContext<String, String>, r: Record<String, String>) -> Result<()> {
///         let v = r.value.as_ref().map(|v| v.to_uppercase());
///         ctx.forward(r.with_value(v))
///     }
/// }
///
/// let mut builder = TopologyBuilder::new();
/// builder
///     .add_source("in", ["words"], Consumed::with(Serdes::string(), Serdes::string()))
///     .add_processor("upper", || Upper, &["in"])
///     .add_sink("out", "shouts", Produced::with(Serdes::string(), Serdes::string()), &["upper"]);
/// let topology = builder.build()?;
/// assert_eq!(topology.subtopologies().len(), 1);
/// # Ok::<(), weir_core::Error>(())
/// ```
#[derive(Default)]
pub struct TopologyBuilder {
    pub(crate) nodes: Vec<NodeDef>,
    pub(crate) stores: Vec<StoreDef>,
    pub(crate) store_links: Vec<(String, String)>,
    pub(crate) internal_topics: Vec<InternalTopic>,
    pub(crate) global_stores: Vec<super::GlobalStoreDef>,
    pub(crate) problems: Vec<String>,
}

impl TopologyBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    fn push(&mut self, node: NodeDef) -> &mut Self {
        if node.name.is_empty() {
            self.problems.push("a node has an empty name".to_string());
        } else if self.nodes.iter().any(|n| n.name == node.name) {
            self.problems
                .push(format!("node name '{}' is used twice", node.name));
        }
        self.nodes.push(node);
        self
    }

    /// Adds a source node `name` reading `topics`: a list (array, slice,
    /// `Vec`, or a reference to one) of topic names in any string form
    /// (`&str`, `String`, `&String`).
    ///
    /// ```
    /// use weir_core::topology::{Consumed, Produced, TopologyBuilder};
    /// use weir_core::Serdes;
    ///
    /// let input: String = "clicks".to_string();
    /// let output: String = "clicks-copy".to_string();
    /// let more: Vec<String> = vec!["views".into(), "likes".into()];
    /// let mut builder = TopologyBuilder::new();
    /// builder
    ///     .add_source("in", [&input], Consumed::with(Serdes::string(), Serdes::string()))
    ///     .add_source("more", &more, Consumed::with(Serdes::string(), Serdes::string()))
    ///     .add_sink("out", &output, Produced::with(Serdes::string(), Serdes::string()), &["in"])
    ///     .add_sink("out-2", output.clone() + "-2", Produced::with(Serdes::string(), Serdes::string()), &["more"]);
    /// let description = builder.build()?.describe().to_string();
    /// for topic in ["clicks", "views", "likes", "clicks-copy", "clicks-copy-2"] {
    ///     assert!(description.contains(topic), "{description}");
    /// }
    /// # Ok::<(), weir_core::Error>(())
    /// ```
    pub fn add_source<K: Data, V: Data>(
        &mut self,
        name: &str,
        topics: impl IntoIterator<Item = impl AsRef<str>>,
        consumed: Consumed<K, V>,
    ) -> &mut Self {
        let topics = topics
            .into_iter()
            .map(|t| TopicName::user(t.as_ref()))
            .collect();
        self.add_source_topics(name, topics, consumed)
    }

    pub(crate) fn add_source_topics<K: Data, V: Data>(
        &mut self,
        name: &str,
        topics: Vec<TopicName>,
        consumed: Consumed<K, V>,
    ) -> &mut Self {
        if topics.is_empty() {
            self.problems
                .push(format!("source '{name}' reads no topic"));
        }
        let factory: NodeFactory = Arc::new(|| Box::new(PassThrough) as Box<dyn ErasedProcessor>);
        self.push(NodeDef {
            name: name.to_string(),
            kind: NodeKind::Source {
                topics,
                decoder: Arc::new(TypedSource(consumed)),
            },
            parents: Vec::new(),
            factory,
            input: None,
            output: Some(TypeSig::of::<K, V>()),
            stores: Vec::new(),
        })
    }

    /// Adds a processor node `name` fed by `parents`; `supplier` makes one
    /// processor per task.
    pub fn add_processor<KIn: Data, VIn: Data, KOut: Data, VOut: Data>(
        &mut self,
        name: &str,
        supplier: impl ProcessorSupplier<KIn, VIn, KOut, VOut>,
        parents: &[&str],
    ) -> &mut Self {
        let factory: NodeFactory = Arc::new(move || {
            Box::new(ProcessorAdapter::<KIn, VIn, KOut, VOut>::new(
                supplier.get(),
            )) as Box<dyn ErasedProcessor>
        });
        self.push(NodeDef {
            name: name.to_string(),
            kind: NodeKind::Processor,
            parents: parents.iter().map(|p| p.to_string()).collect(),
            factory,
            input: Some(TypeSig::of::<KIn, VIn>()),
            output: Some(TypeSig::of::<KOut, VOut>()),
            stores: Vec::new(),
        })
    }

    /// Adds a node that forwards `<K, V>` records unchanged (merges, branches).
    pub(crate) fn add_pass_through<K: Data, V: Data>(
        &mut self,
        name: &str,
        parents: &[&str],
    ) -> &mut Self {
        let factory: NodeFactory = Arc::new(|| Box::new(PassThrough) as Box<dyn ErasedProcessor>);
        self.add_internal_processor::<K, V>(name, factory, parents)
    }

    /// Adds a crate-internal node taking and forwarding `<K, V>`.
    pub(crate) fn add_internal_processor<K: Data, V: Data>(
        &mut self,
        name: &str,
        factory: NodeFactory,
        parents: &[&str],
    ) -> &mut Self {
        self.push(NodeDef {
            name: name.to_string(),
            kind: NodeKind::Processor,
            parents: parents.iter().map(|p| p.to_string()).collect(),
            factory,
            input: Some(TypeSig::of::<K, V>()),
            output: Some(TypeSig::of::<K, V>()),
            stores: Vec::new(),
        })
    }

    /// Adds a sink node `name` writing its parents' records to `topic`
    /// (`&str`, `String` or `&String`).
    pub fn add_sink<K: Data, V: Data>(
        &mut self,
        name: &str,
        topic: impl AsRef<str>,
        produced: Produced<K, V>,
        parents: &[&str],
    ) -> &mut Self {
        self.add_sink_topic(name, TopicName::user(topic.as_ref()), produced, parents)
    }

    pub(crate) fn add_sink_topic<K: Data, V: Data>(
        &mut self,
        name: &str,
        topic: TopicName,
        produced: Produced<K, V>,
        parents: &[&str],
    ) -> &mut Self {
        let target = SinkTarget::Topic(topic.clone());
        self.add_sink_node(name, target, SinkTopic::Static(topic), produced, parents)
    }

    /// Adds a sink node `name` writing each record to the topic `extractor` picks.
    pub fn add_sink_with_extractor<K: Data, V: Data>(
        &mut self,
        name: &str,
        extractor: impl TopicNameExtractor<K, V> + 'static,
        produced: Produced<K, V>,
        parents: &[&str],
    ) -> &mut Self {
        let topic = SinkTopic::Dynamic(Arc::new(extractor));
        self.add_sink_node(name, SinkTarget::Extractor, topic, produced, parents)
    }

    fn add_sink_node<K: Data, V: Data>(
        &mut self,
        name: &str,
        target: SinkTarget,
        topic: SinkTopic<K, V>,
        produced: Produced<K, V>,
        parents: &[&str],
    ) -> &mut Self {
        let factory: NodeFactory = Arc::new(move || {
            Box::new(SinkNode {
                topic: topic.clone(),
                produced: produced.clone(),
                resolved: None,
            }) as Box<dyn ErasedProcessor>
        });
        self.push(NodeDef {
            name: name.to_string(),
            kind: NodeKind::Sink { target },
            parents: parents.iter().map(|p| p.to_string()).collect(),
            factory,
            input: Some(TypeSig::of::<K, V>()),
            output: None,
            stores: Vec::new(),
        })
    }

    /// Renames node `old` to `new`, updating the parent lists and store links
    /// that name it (the DSL's `named`).
    pub(crate) fn rename(&mut self, old: &str, new: &str) {
        if old == new {
            return;
        }
        if new.is_empty() {
            self.problems
                .push(format!("node '{old}' is renamed to an empty name"));
            return;
        }
        if self.nodes.iter().any(|n| n.name == new) {
            self.problems
                .push(format!("node name '{new}' is used twice"));
            return;
        }
        for node in &mut self.nodes {
            if node.name == old {
                node.name = new.to_string();
            }
            for p in &mut node.parents {
                if p == old {
                    *p = new.to_string();
                }
            }
        }
        for (p, _) in &mut self.store_links {
            if p == old {
                *p = new.to_string();
            }
        }
    }

    /// Declares an internal topic (its real name is `<application.id>-<name>`).
    pub(crate) fn add_internal_topic(&mut self, name: &str, partitions: Option<i32>) {
        let topic = TopicName::internal(name);
        if self.internal_topics.iter().any(|t| t.topic == topic) {
            self.problems
                .push(format!("internal topic '{name}' is declared twice"));
        }
        if let Some(n) = partitions.filter(|&n| n < 1) {
            self.problems.push(format!(
                "internal topic '{name}' must have at least 1 partition, got {n}"
            ));
        }
        self.internal_topics
            .push(InternalTopic { topic, partitions });
    }

    /// Adds a state store, made per task by `supplier`, and connects it to `processors`.
    pub fn add_state_store(
        &mut self,
        name: &str,
        supplier: StoreSupplier,
        processors: &[&str],
    ) -> &mut Self {
        if name.is_empty() {
            self.problems.push(
                "a state store has an empty name: stores need a stable name of your own \
                 (Materialized::as_)"
                    .to_string(),
            );
        } else if self.stores.iter().any(|s| s.name == name) {
            self.problems
                .push(format!("state store '{name}' is added twice"));
        }
        // A store from a bare supplier is taken for a key-value store (the
        // only kind yet); its kind only matters if it is logged.
        self.stores
            .push(StoreDef::new(name, supplier, StoreKind::KeyValue));
        self.connect_processor_and_state_stores_inner(processors, name);
        self
    }

    /// Adds the key-value store `builder` describes, connected to
    /// `processors`. With logging on (`with_logging(true)`) its writes go to
    /// the changelog topic `<application.id>-<store>-changelog`, from which the
    /// runtime restores it.
    pub fn add_key_value_store<K: 'static, V: 'static>(
        &mut self,
        builder: &crate::store::KeyValueStoreBuilder<K, V>,
        processors: &[&str],
    ) -> &mut Self {
        self.add_store_of_kind(
            builder.name(),
            builder.build_supplier(),
            StoreKind::KeyValue,
            builder.logging_enabled(),
            processors,
        )
    }

    /// Adds the window store `builder` describes, connected to
    /// `processors`. With logging on, its changelog topic
    /// `<application.id>-<store>-changelog` is `cleanup.policy=compact,delete`
    /// with `retention.ms` = the store's retention +
    /// `windowstore.changelog.additional.retention.ms`.
    pub fn add_window_store<K: 'static, V: 'static>(
        &mut self,
        builder: &crate::store::WindowStoreBuilder<K, V>,
        processors: &[&str],
    ) -> &mut Self {
        if let Err(e) = builder.validate() {
            self.problems.push(e.to_string());
        }
        self.add_store_of_kind(
            builder.name(),
            builder.build_supplier(),
            builder.store_kind(),
            builder.logging_enabled(),
            processors,
        )
    }

    /// Adds the session store `builder` describes, connected to
    /// `processors`; its changelog is planned as a window store's (see
    /// [`add_window_store`](Self::add_window_store)).
    pub fn add_session_store<K: 'static, V: 'static>(
        &mut self,
        builder: &crate::store::SessionStoreBuilder<K, V>,
        processors: &[&str],
    ) -> &mut Self {
        if let Err(e) = builder.validate() {
            self.problems.push(e.to_string());
        }
        self.add_store_of_kind(
            builder.name(),
            builder.build_supplier(),
            builder.store_kind(),
            builder.logging_enabled(),
            processors,
        )
    }

    pub(crate) fn add_store_of_kind(
        &mut self,
        name: &str,
        supplier: StoreSupplier,
        kind: StoreKind,
        logged: bool,
        processors: &[&str],
    ) -> &mut Self {
        self.add_state_store(name, supplier, processors);
        if let Some(def) = self.stores.iter_mut().rev().find(|s| s.name == name) {
            def.logged = logged;
            def.kind = kind;
            def.changelog_configs = kind.changelog_configs();
        }
        self
    }

    /// Connects `processor` to stores added before or after this call.
    pub fn connect_processor_and_state_stores(
        &mut self,
        processor: &str,
        stores: &[&str],
    ) -> &mut Self {
        for store in stores {
            self.store_links
                .push((processor.to_string(), store.to_string()));
        }
        self
    }

    fn connect_processor_and_state_stores_inner(&mut self, processors: &[&str], store: &str) {
        for p in processors {
            self.store_links.push((p.to_string(), store.to_string()));
        }
    }

    /// Validates the graph and returns the runnable [`Topology`]. Errors name
    /// the node at fault: duplicate names, unknown parents, cycles, a topic read
    /// by two sources, mismatched key/value types between a node and its parent,
    /// stores connected to unknown processors.
    pub fn build(self) -> Result<Topology> {
        if let Some(problem) = self.problems.first() {
            return Err(Error::Topology(problem.clone()));
        }
        super::validate::validate(self)
    }
}
