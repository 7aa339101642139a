//! [`KStream`]: an unbounded stream of records and its stateless operators.

use std::marker::PhantomData;
use std::sync::Arc;

use crate::dsl::ops::{Filter, FlatMap, FlatMapValues, Map, MapValues, Peek, SelectKey};
use crate::dsl::split::BranchedKStream;
use crate::dsl::Shared;
use crate::processor::{Data, ProcessorSupplier};
use crate::serde::SharedSerde;
use crate::topology::{Consumed, Produced, TopicName, TopicNameExtractor};

/// A stream of records with keys `K` and values `V` (Kafka Streams' `KStream`).
/// Each operator adds a node to the builder's topology and returns the stream
/// of its output. A stream can feed several operators: clone it.
pub struct KStream<K, V> {
    inner: Shared,
    node: String,
    /// Whether an operator upstream may have changed the key since the
    /// records were last partitioned by it (a source or a repartition
    /// topic): `map`, `flat_map`, `select_key` and `process` set it, merging
    /// with such a stream keeps it, a repartition clears it (Kafka Streams'
    /// `repartitionRequired`). A join repartitions such a stream first.
    key_changed: bool,
    _types: PhantomData<fn() -> (K, V)>,
}

impl<K, V> Clone for KStream<K, V> {
    fn clone(&self) -> Self {
        KStream {
            inner: self.inner.clone(),
            node: self.node.clone(),
            key_changed: self.key_changed,
            _types: PhantomData,
        }
    }
}

/// The end of a stream (`to`, `foreach`): only its node can be named.
pub struct Terminal {
    inner: Shared,
    node: String,
}

impl Terminal {
    /// Gives the node a name of your own.
    pub fn named(self, name: &str) -> Self {
        self.inner.borrow_mut().topology.rename(&self.node, name);
        Terminal {
            inner: self.inner,
            node: name.to_string(),
        }
    }

    /// The node's name.
    pub fn node_name(&self) -> &str {
        &self.node
    }
}

/// How to repartition a stream through an internal topic (Kafka Streams'
/// `Repartitioned`). The topic is `<application.id>-<name>-repartition`.
pub struct Repartitioned<K, V> {
    name: String,
    key_serde: SharedSerde<K>,
    value_serde: SharedSerde<V>,
    partitions: Option<i32>,
}

impl<K: 'static, V: 'static> Repartitioned<K, V> {
    /// Repartitions through `<application.id>-<name>-repartition`, written and
    /// read with these serdes.
    pub fn as_(name: &str, key_serde: SharedSerde<K>, value_serde: SharedSerde<V>) -> Self {
        Repartitioned {
            name: name.to_string(),
            key_serde,
            value_serde,
            partitions: None,
        }
    }

    /// Creates the topic with `partitions` partitions (default: as many as the
    /// source topics of the upstream sub-topology). A count below 1 fails the build.
    pub fn with_partitions(mut self, partitions: i32) -> Self {
        self.partitions = Some(partitions);
        self
    }
}

impl<K: Data, V: Data> KStream<K, V> {
    /// A stream out of `node`, partitioned by its key (a source, a
    /// repartition topic, a table's updates).
    pub(crate) fn new(inner: Shared, node: String) -> Self {
        KStream {
            inner,
            node,
            key_changed: false,
            _types: PhantomData,
        }
    }

    /// Whether an operator upstream may have changed the key since the
    /// records were last partitioned by it (see [`for_join`](Self::for_join)).
    pub(crate) fn key_changed(&self) -> bool {
        self.key_changed
    }

    /// This stream, marked as possibly re-keyed (`true`) or not.
    pub(crate) fn with_key_changed(mut self, changed: bool) -> Self {
        self.key_changed = changed;
        self
    }

    /// The name of the node this stream comes out of.
    pub fn node_name(&self) -> &str {
        &self.node
    }

    /// Gives the node this stream comes out of a name of your own.
    pub fn named(self, name: &str) -> Self {
        self.inner.borrow_mut().topology.rename(&self.node, name);
        let key_changed = self.key_changed;
        KStream::new(self.inner, name.to_string()).with_key_changed(key_changed)
    }

    pub(crate) fn shared(&self) -> &Shared {
        &self.inner
    }

    /// Adds a processor after this stream; its output keeps this stream's
    /// key-changed mark (operators that change the key set it themselves).
    pub(crate) fn add<KR: Data, VR: Data>(
        &self,
        prefix: &str,
        supplier: impl ProcessorSupplier<K, V, KR, VR>,
    ) -> KStream<KR, VR> {
        let mut inner = self.inner.borrow_mut();
        let name = inner.next_name(prefix);
        inner.topology.add_processor(&name, supplier, &[&self.node]);
        drop(inner);
        KStream::new(self.inner.clone(), name).with_key_changed(self.key_changed)
    }

    /// Keeps the records whose value satisfies `predicate`.
    pub fn filter(
        &self,
        predicate: impl Fn(Option<&K>, &V) -> bool + Send + Sync + 'static,
    ) -> KStream<K, V> {
        let predicate = Arc::new(predicate);
        self.add("KSTREAM-FILTER", move || Filter {
            predicate: predicate.clone(),
            keep: true,
        })
    }

    /// Drops the records whose value satisfies `predicate`.
    pub fn filter_not(
        &self,
        predicate: impl Fn(Option<&K>, &V) -> bool + Send + Sync + 'static,
    ) -> KStream<K, V> {
        let predicate = Arc::new(predicate);
        self.add("KSTREAM-FILTER", move || Filter {
            predicate: predicate.clone(),
            keep: false,
        })
    }

    /// Maps each record to a new key and value (the output may need
    /// repartitioning before grouping or joining by the new key).
    pub fn map<KR: Data, VR: Data>(
        &self,
        mapper: impl Fn(Option<K>, V) -> (KR, VR) + Send + Sync + 'static,
    ) -> KStream<KR, VR> {
        let mapper = Arc::new(mapper);
        self.add("KSTREAM-MAP", move || Map(mapper.clone()))
            .with_key_changed(true)
    }

    /// Maps each value, keeping the key.
    pub fn map_values<VR: Data>(
        &self,
        mapper: impl Fn(V) -> VR + Send + Sync + 'static,
    ) -> KStream<K, VR> {
        self.map_values_with_key(move |_k, v| mapper(v))
    }

    /// Maps each value with read access to the key.
    pub fn map_values_with_key<VR: Data>(
        &self,
        mapper: impl Fn(Option<&K>, V) -> VR + Send + Sync + 'static,
    ) -> KStream<K, VR> {
        let mapper = Arc::new(mapper);
        self.add("KSTREAM-MAPVALUES", move || MapValues(mapper.clone()))
    }

    /// Maps each record to zero or more records.
    pub fn flat_map<KR: Data, VR: Data, I>(
        &self,
        mapper: impl Fn(Option<K>, V) -> I + Send + Sync + 'static,
    ) -> KStream<KR, VR>
    where
        I: IntoIterator<Item = (KR, VR)> + 'static,
    {
        let mapper = Arc::new(mapper);
        self.add("KSTREAM-FLATMAP", move || FlatMap(mapper.clone()))
            .with_key_changed(true)
    }

    /// Maps each value to zero or more values, keeping the key.
    pub fn flat_map_values<VR: Data, I>(
        &self,
        mapper: impl Fn(V) -> I + Send + Sync + 'static,
    ) -> KStream<K, VR>
    where
        I: IntoIterator<Item = VR> + 'static,
    {
        let mapper = Arc::new(move |_k: Option<&K>, v: V| mapper(v));
        self.add("KSTREAM-FLATMAPVALUES", move || {
            FlatMapValues(mapper.clone())
        })
    }

    /// Sets a new key computed from key and value.
    pub fn select_key<KR: Data>(
        &self,
        selector: impl Fn(Option<&K>, &V) -> KR + Send + Sync + 'static,
    ) -> KStream<KR, V> {
        let selector = Arc::new(selector);
        self.add("KSTREAM-KEY-SELECT", move || SelectKey(selector.clone()))
            .with_key_changed(true)
    }

    /// Calls `action` on each record and forwards it unchanged.
    pub fn peek(&self, action: impl Fn(Option<&K>, &V) + Send + Sync + 'static) -> KStream<K, V> {
        let action = Arc::new(action);
        self.add("KSTREAM-PEEK", move || Peek {
            action: action.clone(),
            forward: true,
        })
    }

    /// Calls `action` on each record; the stream ends here.
    pub fn foreach(&self, action: impl Fn(Option<&K>, &V) + Send + Sync + 'static) -> Terminal {
        let action = Arc::new(action);
        let stream: KStream<K, V> = self.add("KSTREAM-FOREACH", move || Peek {
            action: action.clone(),
            forward: false,
        });
        Terminal {
            inner: stream.inner,
            node: stream.node,
        }
    }

    /// Splits the stream into named branches by predicates; see [`BranchedKStream`].
    pub fn split(&self) -> BranchedKStream<K, V> {
        BranchedKStream::new(self)
    }

    /// One stream of the records of this stream and `other`, interleaved as they arrive.
    pub fn merge(&self, other: &KStream<K, V>) -> KStream<K, V> {
        let mut inner = self.inner.borrow_mut();
        let name = inner.next_name("KSTREAM-MERGE");
        inner
            .topology
            .add_pass_through::<K, V>(&name, &[&self.node, &other.node]);
        drop(inner);
        KStream::new(self.inner.clone(), name)
            .with_key_changed(self.key_changed || other.key_changed)
    }

    /// Runs a processor of your own on each record (the Processor API inside
    /// the DSL). `stores` names the state stores it uses, added with
    /// [`StreamsBuilder::add_state_store`](crate::dsl::StreamsBuilder::add_state_store).
    /// The processor may forward records with other keys, so a join after it
    /// repartitions first.
    pub fn process<KR: Data, VR: Data>(
        &self,
        supplier: impl ProcessorSupplier<K, V, KR, VR>,
        stores: &[&str],
    ) -> KStream<KR, VR> {
        let out: KStream<KR, VR> = self
            .add("KSTREAM-PROCESSOR", supplier)
            .with_key_changed(true);
        self.inner
            .borrow_mut()
            .topology
            .connect_processor_and_state_stores(&out.node, stores);
        out
    }

    /// Writes the stream to `topic`.
    pub fn to(&self, topic: impl AsRef<str>, produced: Produced<K, V>) -> Terminal {
        let topic = topic.as_ref();
        self.sink(produced, |b, name, produced, parent| {
            b.add_sink_topic(name, TopicName::user(topic), produced, &[parent]);
        })
    }

    /// Writes each record to the topic `extractor` picks for it.
    pub fn to_dynamic(
        &self,
        extractor: impl TopicNameExtractor<K, V> + 'static,
        produced: Produced<K, V>,
    ) -> Terminal {
        self.sink(produced, |b, name, produced, parent| {
            b.add_sink_with_extractor(name, extractor, produced, &[parent]);
        })
    }

    /// Adds a sink named by `produced` (or a generated name) with `add`.
    fn sink(
        &self,
        produced: Produced<K, V>,
        add: impl FnOnce(&mut crate::topology::TopologyBuilder, &str, Produced<K, V>, &str),
    ) -> Terminal {
        let mut inner = self.inner.borrow_mut();
        let name = match &produced.name {
            Some(n) => n.clone(),
            None => inner.next_name("KSTREAM-SINK"),
        };
        add(&mut inner.topology, &name, produced, &self.node);
        drop(inner);
        Terminal {
            inner: self.inner.clone(),
            node: name,
        }
    }

    /// Writes the stream to the internal topic `<application.id>-<name>-repartition`
    /// and reads it back, so records are partitioned by their current key. The
    /// runtime creates the topic.
    pub fn repartition(&self, repartitioned: Repartitioned<K, V>) -> KStream<K, V> {
        let Repartitioned {
            name,
            key_serde,
            value_serde,
            partitions,
        } = repartitioned;
        let topic = format!("{name}-repartition");
        let mut inner = self.inner.borrow_mut();
        if name.is_empty() {
            inner.topology.problems.push(format!(
                "a repartition topic after node '{}' has an empty name: internal topics need \
                 a stable name of your own (Repartitioned::as_, Grouped::as_)",
                self.node
            ));
        }
        inner.topology.add_internal_topic(&topic, partitions);
        // A record without a key has no partition to go to: it is dropped
        // before the topic, as Kafka Streams does (KIP-962).
        let filter = format!("{topic}-filter");
        inner
            .topology
            .add_processor::<K, V, K, V>(&filter, || DropNullKeys, &[&self.node]);
        inner.topology.add_sink_topic(
            &format!("{topic}-sink"),
            TopicName::internal(&topic),
            Produced::with(key_serde.clone(), value_serde.clone()),
            &[&filter],
        );
        let source = format!("{topic}-source");
        inner.topology.add_source_topics(
            &source,
            vec![TopicName::internal(&topic)],
            Consumed::with(key_serde, value_serde),
        );
        drop(inner);
        KStream::new(self.inner.clone(), source)
    }
}

/// Drops the records without a key (before a repartition topic), counting
/// them in the task's `dropped-records`.
struct DropNullKeys;

impl<K: Data, V: Data> crate::processor::Processor<K, V> for DropNullKeys {
    fn process(
        &mut self,
        ctx: &mut dyn crate::processor::ProcessorContext<K, V>,
        record: crate::record::Record<K, V>,
    ) -> crate::error::Result<()> {
        if record.key.is_none() {
            ctx.record_dropped();
            return Ok(());
        }
        ctx.forward(record)
    }
}
