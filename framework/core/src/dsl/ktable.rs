//! [`KTable`]: a changelog stream read as a table, one current value per key.

use std::marker::PhantomData;
use std::sync::Arc;

use crate::dsl::change::ChangeSerde;
use crate::dsl::grouped::KGroupedTable;
use crate::dsl::join::ValueGetter;
use crate::dsl::table_ops::{
    Emit, Materialize, TableFilter, TableMapValues, TableSelect, ToStream,
};
use crate::dsl::{Change, Grouped, KStream, Materialized, Repartitioned, Shared, Terminal};
use crate::processor::{Data, ProcessorSupplier};
use crate::serde::SharedSerde;
use crate::store::{KeyValueStoreBuilder, ValueAndTimestamp};
use crate::topology::Produced;

/// A table of keys `K` to values `V` (Kafka Streams' `KTable`): each record
/// upserts its key, a null value deletes it.
///
/// Internally a table's nodes forward `Record<K, Change<V>>`: every update
/// carries the new value and the one it replaced (see [`Change`]), so an
/// aggregation downstream can retract what a key contributed before. A
/// table made by [`StreamsBuilder::table`](crate::dsl::StreamsBuilder::table),
/// [`KStream::to_table`] or an aggregation is materialized in the store its
/// [`Materialized`] names; `filter`, `filter_not` and `map_values` derive
/// tables without a store of their own.
///
/// A materialized table whose store has no cache forwards every update as
/// it happens. With a cache (the default of [`Materialized`], when the
/// stream thread has a budget: `statestore.cache.max.bytes`) it forwards
/// the updates folded per key when the task commits (or the thread's cache
/// evicts a key), with the value the key had at the previous forward as
/// `old`, as Kafka Streams does; each carries its row's timestamp (a
/// table's rows keep the timestamp of the record that wrote them, an
/// aggregation's the newest of its records', below; a delete: the task's
/// stream time).
/// [`Materialized::with_caching`]`(false)` forwards every update.
///
/// An aggregation (`count`, `reduce`, `aggregate`) keeps its results in a
/// [`TimestampedKeyValueStore`](crate::store::TimestampedKeyValueStore), as
/// Kafka Streams does: each aggregate with the newest timestamp of the
/// records folded into it, which is the timestamp of the update it
/// forwards (an out-of-order record never moves it back). Its store still
/// reads as a plain `KeyValueStore<K, V>` (`ctx.key_value_store::<K, V>`,
/// the test driver's `key_value_store`).
pub struct KTable<K, V> {
    inner: Shared,
    node: String,
    store: Option<String>,
    /// For a table of windows made by a windowed aggregation: how long after
    /// a window's end it still accepts records (its grace, plus the gap for
    /// session windows). `suppress(until_window_closes(..))` waits for it.
    window_close: Option<i64>,
    /// The table's key and value serdes, where the table knows them (a
    /// materialized table, an aggregation): `suppress` writes its buffer
    /// with them.
    key_serde: Option<SharedSerde<K>>,
    value_serde: Option<SharedSerde<V>>,
    /// How a join reads the table's value for a key (none for tables of
    /// windows and suppressed tables, which cannot be joined).
    getter: Option<ValueGetter<K, V>>,
    _types: PhantomData<fn() -> (K, V)>,
}

impl<K, V> Clone for KTable<K, V> {
    fn clone(&self) -> Self {
        KTable {
            inner: self.inner.clone(),
            node: self.node.clone(),
            store: self.store.clone(),
            window_close: self.window_close,
            key_serde: self.key_serde.clone(),
            value_serde: self.value_serde.clone(),
            getter: self.getter.clone(),
            _types: PhantomData,
        }
    }
}

/// Adds the node `<prefix>-<n>` fed by `parent`; returns its name.
pub(crate) fn add_node<KIn: Data, VIn: Data, KOut: Data, VOut: Data>(
    inner: &Shared,
    parent: &str,
    prefix: &str,
    supplier: impl ProcessorSupplier<KIn, VIn, KOut, VOut>,
) -> String {
    let mut inner = inner.borrow_mut();
    let name = inner.next_name(prefix);
    inner.topology.add_processor(&name, supplier, &[parent]);
    name
}

/// Adds the store `builder` describes, connected to `processor`; returns
/// the store's name.
pub(crate) fn add_store_builder<K: Data, V: Data>(
    inner: &Shared,
    builder: &KeyValueStoreBuilder<K, V>,
    processor: &str,
) -> String {
    inner
        .borrow_mut()
        .topology
        .add_key_value_store(builder, &[processor]);
    builder.name().to_string()
}

/// Materializes the upserts coming out of `parent` into `materialized`'s store.
pub(crate) fn materialize<K: Data, V: Data>(
    inner: &Shared,
    parent: &str,
    prefix: &str,
    materialized: Materialized<K, V>,
) -> KTable<K, V> {
    if let Some(history_ms) = materialized.history_retention_ms() {
        return super::versioned_table::materialize_versioned(
            inner,
            parent,
            prefix,
            materialized,
            history_ms,
        );
    }
    let emit = Emit::timestamped(materialized.name().to_string(), materialized.serdes());
    let name = add_node::<K, V, K, Change<V>>(inner, parent, prefix, move || Materialize {
        emit: emit.clone(),
    });
    let serdes = materialized.serdes();
    // As Kafka Streams' tables, each row keeps the timestamp of the record
    // that wrote it (a table-table join's result takes the newer side's).
    let builder = materialized.into_store_builder().with_timestamps(true);
    let store = add_store_builder(inner, &builder, &name);
    KTable::new(inner.clone(), name, Some(store.clone()))
        .with_serdes(Some(serdes.0), Some(serdes.1))
        .with_getter(ValueGetter::of_store(&store))
}

impl<K: Data, V: Data> KTable<K, V> {
    pub(crate) fn new(inner: Shared, node: String, store: Option<String>) -> Self {
        KTable {
            inner,
            node,
            store,
            window_close: None,
            key_serde: None,
            value_serde: None,
            getter: None,
            _types: PhantomData,
        }
    }

    /// Records how a join reads the table's rows.
    pub(crate) fn with_getter(mut self, getter: ValueGetter<K, V>) -> Self {
        self.getter = Some(getter);
        self
    }

    /// How a join reads the table's rows, if the table can be joined.
    pub(crate) fn value_getter(&self) -> Option<&ValueGetter<K, V>> {
        self.getter.as_ref()
    }

    /// Records the table's serdes (where known).
    pub(crate) fn with_serdes(
        mut self,
        key_serde: Option<SharedSerde<K>>,
        value_serde: Option<SharedSerde<V>>,
    ) -> Self {
        self.key_serde = key_serde;
        self.value_serde = value_serde;
        self
    }

    /// The table's key and value serdes, if it knows them.
    pub(crate) fn serdes(&self) -> (Option<SharedSerde<K>>, Option<SharedSerde<V>>) {
        (self.key_serde.clone(), self.value_serde.clone())
    }

    /// Marks the table as one of windows that close `after` milliseconds
    /// after their end (see the `window_close` field).
    pub(crate) fn with_window_close(mut self, after: i64) -> Self {
        self.window_close = Some(after);
        self
    }

    /// How long after its end a window of this table closes, if the table
    /// is one of windows from a windowed aggregation.
    pub(crate) fn window_close(&self) -> Option<i64> {
        self.window_close
    }

    /// The builder this table belongs to.
    pub(crate) fn shared(&self) -> &Shared {
        &self.inner
    }

    /// The name of the node this table comes out of.
    pub fn node_name(&self) -> &str {
        &self.node
    }

    /// The name of the store the table is materialized in, if it has one
    /// (tables made by `filter`, `filter_not` and `map_values` do not).
    pub fn store_name(&self) -> Option<&str> {
        self.store.as_deref()
    }

    /// Gives the node this table comes out of a name of your own.
    pub fn named(self, name: &str) -> Self {
        self.inner.borrow_mut().topology.rename(&self.node, name);
        let close = self.window_close;
        let (key_serde, value_serde) = (self.key_serde, self.value_serde);
        let mut table = KTable::new(self.inner, name.to_string(), self.store)
            .with_serdes(key_serde, value_serde);
        table.window_close = close;
        table.getter = self.getter;
        table
    }

    fn derive<VR: Data>(
        &self,
        prefix: &str,
        supplier: impl ProcessorSupplier<K, Change<V>, K, Change<VR>>,
        getter: impl Fn(&K, ValueAndTimestamp<V>) -> Option<ValueAndTimestamp<VR>>
            + Send
            + Sync
            + 'static,
    ) -> KTable<K, VR> {
        let name = add_node(&self.inner, &self.node, prefix, supplier);
        let mut table = KTable::new(self.inner.clone(), name, None);
        table.getter = self.getter.as_ref().map(|g| g.derive(getter));
        // A filtered or mapped table of windows closes its windows when
        // its parent does; it keeps its parent's key serde (the values may
        // be of another type: their serde is given where needed).
        table.window_close = self.window_close;
        table.key_serde = self.key_serde.clone();
        table
    }

    /// The rows whose value satisfies `predicate`. A row that passed and
    /// stops passing (or is deleted) becomes a delete downstream; a row that
    /// never passed forwards nothing.
    pub fn filter(&self, predicate: impl Fn(&K, &V) -> bool + Send + Sync + 'static) -> Self {
        let predicate = Arc::new(predicate);
        let read = Arc::clone(&predicate);
        let table = self.derive(
            "KTABLE-FILTER",
            move || TableFilter {
                predicate: predicate.clone(),
                keep: true,
            },
            move |k, v| read(k, &v.value).then_some(v),
        );
        table.with_serdes(self.key_serde.clone(), self.value_serde.clone())
    }

    /// The rows whose value does not satisfy `predicate`; the mirror of
    /// [`filter`](Self::filter).
    pub fn filter_not(&self, predicate: impl Fn(&K, &V) -> bool + Send + Sync + 'static) -> Self {
        let predicate = Arc::new(predicate);
        let read = Arc::clone(&predicate);
        let table = self.derive(
            "KTABLE-FILTER",
            move || TableFilter {
                predicate: predicate.clone(),
                keep: false,
            },
            move |k, v| (!read(k, &v.value)).then_some(v),
        );
        table.with_serdes(self.key_serde.clone(), self.value_serde.clone())
    }

    /// Maps every value, keeping the key; deletes stay deletes. The mapper
    /// runs on both the new and the old value of each update.
    pub fn map_values<VR: Data>(
        &self,
        mapper: impl Fn(V) -> VR + Send + Sync + 'static,
    ) -> KTable<K, VR> {
        self.map_values_with_key(move |_k, v| mapper(v))
    }

    /// Maps every value with read access to the key.
    pub fn map_values_with_key<VR: Data>(
        &self,
        mapper: impl Fn(&K, V) -> VR + Send + Sync + 'static,
    ) -> KTable<K, VR> {
        let mapper = Arc::new(mapper);
        let read = Arc::clone(&mapper);
        self.derive(
            "KTABLE-MAPVALUES",
            move || TableMapValues(mapper.clone()),
            move |k, v| Some(ValueAndTimestamp::new(read(k, v.value), v.timestamp)),
        )
    }

    /// The table's updates as a stream of the new values; a delete becomes
    /// a record with a null value (a tombstone).
    pub fn to_stream(&self) -> KStream<K, V> {
        let name =
            add_node::<K, Change<V>, K, V>(&self.inner, &self.node, "KTABLE-TOSTREAM", || ToStream);
        KStream::new(self.inner.clone(), name)
    }

    /// Writes the table's updates to `topic` (deletes as tombstones).
    pub fn to(&self, topic: impl AsRef<str>, produced: Produced<K, V>) -> Terminal {
        self.to_stream().to(topic, produced)
    }

    /// Groups the rows by a new key: `selector` maps each row to the key of
    /// its group and the value it contributes. The changes travel through
    /// the internal topic `<application.id>-<name>-repartition` (`grouped`
    /// names it and gives its serdes). When an update moves a row to another
    /// group, the old group receives a retraction of the old value and the
    /// new group an addition, as two records (the retraction first); within
    /// one group both sides travel as one record. The topic's values are
    /// framed `(old?, new?)` pairs written with `grouped`'s value serde.
    pub fn group_by<KR: Data + PartialEq, VR: Data>(
        &self,
        selector: impl Fn(&K, V) -> (KR, VR) + Send + Sync + 'static,
        grouped: Grouped<KR, VR>,
    ) -> KGroupedTable<KR, VR> {
        let selector = Arc::new(selector);
        let select = add_node::<K, Change<V>, KR, Change<VR>>(
            &self.inner,
            &self.node,
            "KTABLE-SELECT",
            move || TableSelect(selector.clone()),
        );
        let Grouped {
            name,
            key_serde,
            value_serde,
        } = grouped;
        let change_serde: SharedSerde<Change<VR>> = Arc::new(ChangeSerde { inner: value_serde });
        let through = KStream::<KR, Change<VR>>::new(self.inner.clone(), select)
            .repartition(Repartitioned::as_(&name, key_serde, change_serde));
        KGroupedTable::new(self.inner.clone(), through.node_name().to_string())
    }
}

impl<K: Data, V: Data> KStream<K, V> {
    /// The stream read as a table: each record upserts its key in
    /// `materialized`'s store, a null value deletes it; records without a
    /// key are dropped.
    pub fn to_table(&self, materialized: Materialized<K, V>) -> KTable<K, V> {
        materialize(
            self.shared(),
            self.node_name(),
            "KSTREAM-TOTABLE",
            materialized,
        )
    }
}
