//! Grouped streams and tables, and their aggregations: `count`, `reduce`,
//! `aggregate`, each materialized in a named store and returning a [`KTable`].

use std::marker::PhantomData;
use std::sync::Arc;

use crate::dsl::join::ValueGetter;
use crate::dsl::ktable::{add_node, add_store_builder};
use crate::dsl::table_ops::{Emit, StreamAggregate, TableAggregate};
use crate::dsl::{Change, Grouped, KStream, KTable, Materialized, Repartitioned, Shared};
use crate::processor::{Data, ProcessorSupplier};

/// A stream grouped by key, ready to aggregate (Kafka Streams'
/// `KGroupedStream`). Records without a key or with a null value are
/// ignored by the aggregations, as in Kafka Streams.
pub struct KGroupedStream<K, V> {
    inner: Shared,
    node: String,
    _types: PhantomData<fn() -> (K, V)>,
}

/// A table grouped by a new key, ready to aggregate with retraction (Kafka
/// Streams' `KGroupedTable`): an update of a row first subtracts its old
/// value from its old group's aggregate, then adds its new value to its new
/// group's.
pub struct KGroupedTable<K, V> {
    inner: Shared,
    node: String,
    _types: PhantomData<fn() -> (K, V)>,
}

/// Adds an aggregating node fed by `parent`, made by `supplier`, with
/// `materialized`'s store.
fn aggregate_node<KIn: Data, VIn: Data, VA: Data>(
    inner: &Shared,
    parent: &str,
    prefix: &str,
    materialized: Materialized<KIn, VA>,
    supplier: impl ProcessorSupplier<KIn, VIn, KIn, Change<VA>>,
) -> KTable<KIn, VA> {
    let name = add_node(inner, parent, prefix, supplier);
    let (key_serde, value_serde) = materialized.serdes();
    // Kafka Streams' aggregation stores are timestamped key-value stores:
    // each aggregate keeps the timestamp of the newest record in it.
    let builder = materialized.into_store_builder().with_timestamps(true);
    let store = add_store_builder(inner, &builder, &name);
    KTable::new(inner.clone(), name, Some(store.clone()))
        .with_serdes(Some(key_serde), Some(value_serde))
        .with_getter(ValueGetter::of_store(&store))
}

impl<K: Data, V: Data> KStream<K, V> {
    /// Groups the stream by its current key. It never repartitions: if an
    /// upstream operator changed the key, repartition first
    /// ([`repartition`](KStream::repartition)) or use
    /// [`group_by`](KStream::group_by), or records of one key may be
    /// aggregated in several tasks.
    pub fn group_by_key(&self) -> KGroupedStream<K, V> {
        KGroupedStream::new(self.shared().clone(), self.node_name().to_string())
    }

    /// Groups the stream by the key `selector` computes, through the
    /// internal topic `<application.id>-<name>-repartition` that `grouped`
    /// names (with its serdes), so each group is aggregated in one task.
    pub fn group_by<KR: Data>(
        &self,
        selector: impl Fn(Option<&K>, &V) -> KR + Send + Sync + 'static,
        grouped: Grouped<KR, V>,
    ) -> KGroupedStream<KR, V> {
        let Grouped {
            name,
            key_serde,
            value_serde,
        } = grouped;
        let through = self.select_key(selector).repartition(Repartitioned::as_(
            &name,
            key_serde,
            value_serde,
        ));
        KGroupedStream::new(self.shared().clone(), through.node_name().to_string())
    }
}

impl<K: Data, V: Data> KGroupedStream<K, V> {
    fn new(inner: Shared, node: String) -> Self {
        KGroupedStream {
            inner,
            node,
            _types: PhantomData,
        }
    }

    /// The builder and the node the grouped records come out of.
    pub(crate) fn parts(&self) -> (&Shared, &str) {
        (&self.inner, &self.node)
    }

    /// Aggregates the records of each key per window: time windows
    /// ([`TimeWindows`](crate::dsl::TimeWindows), tumbling or hopping) and
    /// sliding windows ([`SlidingWindows`](crate::dsl::SlidingWindows)) give
    /// a [`TimeWindowedKStream`](crate::dsl::TimeWindowedKStream), session
    /// windows ([`SessionWindows`](crate::dsl::SessionWindows)) a
    /// [`SessionWindowedKStream`](crate::dsl::SessionWindowedKStream).
    pub fn windowed_by<W: crate::dsl::WindowedBy<K, V>>(&self, windows: W) -> W::Stream {
        windows.windowed(self)
    }

    /// Counts the records of each key.
    pub fn count(&self, materialized: Materialized<K, i64>) -> KTable<K, i64> {
        self.aggregate(|| 0, |_k, _v, count| count + 1, materialized)
    }

    /// Combines the values of each key: the first value is the aggregate,
    /// then `reducer(aggregate, value)` folds in each next one.
    pub fn reduce(
        &self,
        reducer: impl Fn(V, V) -> V + Send + Sync + 'static,
        materialized: Materialized<K, V>,
    ) -> KTable<K, V> {
        let step = Arc::new(move |_k: &K, v: V, agg: Option<V>| match agg {
            Some(agg) => reducer(agg, v),
            None => v,
        });
        self.fold("KSTREAM-REDUCE", step, materialized)
    }

    /// Folds the values of each key into an aggregate that starts as
    /// `initializer()`: `aggregator(key, value, aggregate)` gives the next one.
    pub fn aggregate<VA: Data>(
        &self,
        initializer: impl Fn() -> VA + Send + Sync + 'static,
        aggregator: impl Fn(&K, V, VA) -> VA + Send + Sync + 'static,
        materialized: Materialized<K, VA>,
    ) -> KTable<K, VA> {
        let step = Arc::new(move |k: &K, v: V, agg: Option<VA>| {
            aggregator(k, v, agg.unwrap_or_else(&initializer))
        });
        self.fold("KSTREAM-AGGREGATE", step, materialized)
    }

    fn fold<VA: Data, F>(
        &self,
        prefix: &str,
        step: Arc<F>,
        materialized: Materialized<K, VA>,
    ) -> KTable<K, VA>
    where
        F: Fn(&K, V, Option<VA>) -> VA + Send + Sync + 'static,
    {
        let emit = Emit::timestamped(materialized.name().to_string(), materialized.serdes());
        aggregate_node::<K, V, VA>(&self.inner, &self.node, prefix, materialized, move || {
            StreamAggregate {
                emit: emit.clone(),
                step: step.clone(),
            }
        })
    }
}

impl<K: Data, V: Data> KGroupedTable<K, V> {
    pub(crate) fn new(inner: Shared, node: String) -> Self {
        KGroupedTable {
            inner,
            node,
            _types: PhantomData,
        }
    }

    /// Counts the rows in each group; a row leaving the group decrements it
    /// (a count that falls to 0 stays, as in Kafka Streams).
    pub fn count(&self, materialized: Materialized<K, i64>) -> KTable<K, i64> {
        self.aggregate(
            || 0,
            |_k, _v, count| count + 1,
            |_k, _v, count| count - 1,
            materialized,
        )
    }

    /// Combines the values of each group: the first value is the aggregate,
    /// `adder(aggregate, value)` folds in a value joining the group and
    /// `subtractor(aggregate, value)` takes out one leaving it.
    pub fn reduce(
        &self,
        adder: impl Fn(V, V) -> V + Send + Sync + 'static,
        subtractor: impl Fn(V, V) -> V + Send + Sync + 'static,
        materialized: Materialized<K, V>,
    ) -> KTable<K, V> {
        let add = Arc::new(move |_k: &K, v: V, agg: Option<V>| match agg {
            Some(agg) => adder(agg, v),
            None => v,
        });
        let subtract = Arc::new(move |_k: &K, v: V, agg: V| subtractor(agg, v));
        self.fold("KTABLE-REDUCE", add, subtract, materialized)
    }

    /// Folds the values of each group into an aggregate that starts as
    /// `initializer()`: `adder(key, value, aggregate)` adds a value joining
    /// the group, `subtractor(key, value, aggregate)` retracts one leaving it.
    pub fn aggregate<VA: Data>(
        &self,
        initializer: impl Fn() -> VA + Send + Sync + 'static,
        adder: impl Fn(&K, V, VA) -> VA + Send + Sync + 'static,
        subtractor: impl Fn(&K, V, VA) -> VA + Send + Sync + 'static,
        materialized: Materialized<K, VA>,
    ) -> KTable<K, VA> {
        let add = Arc::new(move |k: &K, v: V, agg: Option<VA>| {
            adder(k, v, agg.unwrap_or_else(&initializer))
        });
        let subtract = Arc::new(subtractor);
        self.fold("KTABLE-AGGREGATE", add, subtract, materialized)
    }

    fn fold<VA: Data, A, S>(
        &self,
        prefix: &str,
        add: Arc<A>,
        subtract: Arc<S>,
        materialized: Materialized<K, VA>,
    ) -> KTable<K, VA>
    where
        A: Fn(&K, V, Option<VA>) -> VA + Send + Sync + 'static,
        S: Fn(&K, V, VA) -> VA + Send + Sync + 'static,
    {
        let emit = Emit::timestamped(materialized.name().to_string(), materialized.serdes());
        aggregate_node::<K, Change<V>, VA>(
            &self.inner,
            &self.node,
            prefix,
            materialized,
            move || TableAggregate {
                emit: emit.clone(),
                add: add.clone(),
                subtract: subtract.clone(),
            },
        )
    }
}
