//! Versioned tables (Kafka Streams' KIP-914): a table materialized into a
//! versioned key-value store, which keeps each key's older values for its
//! history retention so that a stream-table join can look the table up as
//! of a stream record's timestamp.

use std::time::Duration;

use super::change::Change;
use super::join::ValueGetter;
use super::ktable::{add_node, KTable};
use super::materialized::Materialized;
use super::{Data, Shared};
use crate::error::Result;
use crate::processor::{Processor, ProcessorContext};
use crate::record::Record;
use crate::serde::SharedSerde;
use crate::store::{VersionedKeyValueStoreBuilder, VersionedPut};

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl<K: 'static, V: 'static> Materialized<K, V> {
    /// A versioned store called `name` with these serdes, keeping
    /// `history_retention` of each key's older values (Kafka Streams'
    /// `Materialized.as(Stores.persistentVersionedKeyValueStore(name,
    /// historyRetention))`): logged, on the runtime's default backend, never
    /// cached (versioned stores have no cache). The history retention is
    /// also the store's grace period: an update older than the table's
    /// stream time minus it is dropped.
    ///
    /// A table materialized so ([`StreamsBuilder::table`](super::StreamsBuilder::table),
    /// [`KStream::to_table`](super::KStream::to_table)) forwards every
    /// update it stores, as Kafka Streams' does, out-of-order ones too
    /// (an update older than the key's latest value: stored in the
    /// history, the latest value unchanged, marked not the latest so that
    /// table-table joins and `group_by` skip it); a stream-table join looks
    /// it up as of each stream record's timestamp.
    ///
    /// ```
    /// use std::time::Duration;
    /// use weir_core::dsl::Materialized;
    /// use weir_core::Serdes;
    ///
    /// let rates = Materialized::as_versioned(
    ///     "rates", Serdes::string(), Serdes::f64(), Duration::from_secs(600),
    /// );
    /// assert_eq!(rates.history_retention_ms(), Some(600_000));
    /// ```
    pub fn as_versioned(
        name: &str,
        key_serde: SharedSerde<K>,
        value_serde: SharedSerde<V>,
        history_retention: Duration,
    ) -> Self {
        Materialized::as_(name, key_serde, value_serde).with_versioning(history_retention)
    }

    /// Makes the store versioned, keeping `history_retention` of older
    /// values (see [`as_versioned`](Self::as_versioned)); caching is then
    /// ignored.
    pub fn with_versioning(mut self, history_retention: Duration) -> Self {
        self.history_retention = Some(millis(history_retention));
        self
    }

    /// The history retention of a versioned store, in milliseconds; `None`
    /// for a plain key-value store.
    pub fn history_retention_ms(&self) -> Option<i64> {
        self.history_retention
    }
}

/// Materializes the upserts coming out of `parent` into the versioned store
/// `materialized` describes (keeping `history_ms` of history).
pub(crate) fn materialize_versioned<K: Data, V: Data>(
    inner: &Shared,
    parent: &str,
    prefix: &str,
    materialized: Materialized<K, V>,
    history_ms: i64,
) -> KTable<K, V> {
    let store = materialized.name().to_string();
    let (key_serde, value_serde) = materialized.serdes();
    let processor_store = store.clone();
    let name =
        add_node::<K, V, K, Change<V>>(inner, parent, prefix, move || VersionedMaterialize {
            store: processor_store.clone(),
        });
    let builder = VersionedKeyValueStoreBuilder::from_key_value(
        materialized.into_store_builder(),
        history_ms,
    );
    inner
        .borrow_mut()
        .topology
        .add_versioned_key_value_store(&builder, &[&name]);
    KTable::new(inner.clone(), name, Some(store.clone()))
        .with_serdes(Some(key_serde), Some(value_serde))
        .with_getter(ValueGetter::of_versioned_store(&store, history_ms))
}

/// Puts each upsert into a versioned store at the record's timestamp (a
/// null value deletes) and forwards the change with the key's latest value
/// before it, unless the store refused it as older than its grace period
/// (Kafka Streams' `KTableSource` over a versioned store). An out-of-order
/// update is forwarded too, as Kafka Streams does, marked as not the latest
/// ([`Change::is_latest`]) for table-table joins and aggregations to skip.
pub(crate) struct VersionedMaterialize {
    pub(crate) store: String,
}

impl<K: Data, V: Data> Processor<K, V, K, Change<V>> for VersionedMaterialize {
    fn process(
        &mut self,
        ctx: &mut dyn ProcessorContext<K, Change<V>>,
        record: Record<K, V>,
    ) -> Result<()> {
        let Record {
            key,
            value,
            timestamp,
            headers,
        } = record;
        let Some(key) = key else {
            ctx.record_dropped();
            return Ok(());
        };
        let store = ctx.versioned_key_value_store::<K, V>(&self.store)?;
        let old = store.get(&key)?.map(|r| r.value);
        let outcome = store.put(&key, value.as_ref(), timestamp)?;
        if outcome == VersionedPut::NotPut {
            ctx.record_dropped();
            return Ok(());
        }
        let is_latest = outcome == VersionedPut::Latest;
        ctx.forward(Record::from_parts(
            Some(key),
            Some(Change::new(value, old).with_latest(is_latest)),
            timestamp,
            headers,
        ))
    }
}
