//! Value getters: how a join reads a table's current value for a key from
//! inside a processor (Kafka Streams' `KTableValueGetter`).
//!
//! A materialized table (a source table, `to_table`, an aggregation, a
//! materialized join) reads its own store. A table derived without a store
//! (`filter`, `filter_not`, `map_values`, an unmaterialized join) reads its
//! ancestors' stores and applies its derivation to what it read, so joining
//! such a table needs no store of its own. A processor that uses a getter is
//! connected to the getter's [`stores`](ValueGetter::stores), which puts it
//! in the same sub-topology (and task) as the table.

use std::sync::Arc;

use crate::error::Result;
use crate::processor::ProcessorContext;
use crate::store::{StateStore, ValueAndTimestamp};

/// Access to a task's stores, whatever the output types of the processor
/// asking (a getter is shared by processors of several types).
pub(crate) trait StoreAccess {
    /// The store `name`, connected to the processor asking.
    fn state_store(&mut self, name: &str) -> Result<&mut dyn StateStore>;
}

/// A processor context seen only as its stores.
struct ContextStores<'a, 'c, KO, VO>(&'a mut (dyn ProcessorContext<KO, VO> + 'c));

impl<KO, VO> StoreAccess for ContextStores<'_, '_, KO, VO> {
    fn state_store(&mut self, name: &str) -> Result<&mut dyn StateStore> {
        self.0.state_store(name)
    }
}

/// Reads one key: `(stores, key, as_of)` gives the value and its timestamp.
/// `as_of` is the time to read a versioned store at (the latest value when
/// `None`, and for stores that keep no history).
type Read<K, V> = dyn Fn(&mut dyn StoreAccess, &K, Option<i64>) -> Result<Option<ValueAndTimestamp<V>>>
    + Send
    + Sync;

/// Reads a table's current value (and its timestamp) for a key.
pub(crate) struct ValueGetter<K, V> {
    stores: Vec<String>,
    read: Arc<Read<K, V>>,
    /// The root store's history retention if it is versioned (reads as of
    /// a time see its history).
    history_ms: Option<i64>,
}

impl<K, V> Clone for ValueGetter<K, V> {
    fn clone(&self) -> Self {
        ValueGetter {
            stores: self.stores.clone(),
            read: Arc::clone(&self.read),
            history_ms: self.history_ms,
        }
    }
}

impl<K: 'static, V: 'static> ValueGetter<K, V> {
    /// The getter of a table materialized in the timestamped key-value store
    /// `store`.
    pub(crate) fn of_store(store: &str) -> Self {
        let name = store.to_string();
        ValueGetter {
            stores: vec![name.clone()],
            read: Arc::new(move |stores, key, _as_of| {
                stores
                    .state_store(&name)?
                    .as_timestamped_key_value_store::<K, V>()?
                    .get(key)
            }),
            history_ms: None,
        }
    }

    /// The getter of a table materialized in the versioned store `store`:
    /// a read as of a time gets the version valid then (Kafka Streams'
    /// `KTableSourceValueGetter` over a versioned store), without one the
    /// latest version.
    pub(crate) fn of_versioned_store(store: &str, history_ms: i64) -> Self {
        let name = store.to_string();
        ValueGetter {
            stores: vec![name.clone()],
            read: Arc::new(move |stores, key, as_of| {
                let store = stores
                    .state_store(&name)?
                    .as_versioned_key_value_store::<K, V>()?;
                let found = match as_of {
                    Some(t) => store.get_as_of(key, t)?,
                    None => store.get(key)?,
                };
                Ok(found.map(|r| ValueAndTimestamp::new(r.value, r.timestamp)))
            }),
            history_ms: Some(history_ms),
        }
    }

    /// The history retention of the table's root store if it is versioned,
    /// so that reads as of a time see its history (a grace period needs it).
    pub(crate) fn history_retention_ms(&self) -> Option<i64> {
        self.history_ms
    }

    /// The stores a processor using this getter must be connected to.
    pub(crate) fn stores(&self) -> &[String] {
        &self.stores
    }

    /// The value of `key` (with its timestamp), read through `ctx`'s stores.
    pub(crate) fn get<KO, VO>(
        &self,
        ctx: &mut dyn ProcessorContext<KO, VO>,
        key: &K,
    ) -> Result<Option<ValueAndTimestamp<V>>> {
        (self.read)(&mut ContextStores(ctx), key, None)
    }

    /// The value `key` had at `timestamp`: from a versioned store, the
    /// version valid then; from any other store, the current value.
    pub(crate) fn get_as_of<KO, VO>(
        &self,
        ctx: &mut dyn ProcessorContext<KO, VO>,
        key: &K,
        timestamp: i64,
    ) -> Result<Option<ValueAndTimestamp<V>>> {
        (self.read)(&mut ContextStores(ctx), key, Some(timestamp))
    }

    /// The getter of a table derived from this one: `derive(key, value)`
    /// gives the derived value (`None`: the derived table has no row).
    pub(crate) fn derive<VR: 'static>(
        &self,
        derive: impl Fn(&K, ValueAndTimestamp<V>) -> Option<ValueAndTimestamp<VR>>
            + Send
            + Sync
            + 'static,
    ) -> ValueGetter<K, VR> {
        let parent = Arc::clone(&self.read);
        ValueGetter {
            stores: self.stores.clone(),
            read: Arc::new(move |stores, key, as_of| {
                Ok(parent(stores, key, as_of)?.and_then(|v| derive(key, v)))
            }),
            history_ms: self.history_ms,
        }
    }

    /// The getter of a table joining this one with `other`: `combine(key,
    /// this, other)` gives the joined value from both sides' rows.
    pub(crate) fn combine<VO: 'static, VR: 'static>(
        &self,
        other: &ValueGetter<K, VO>,
        combine: impl Fn(
                &K,
                Option<ValueAndTimestamp<V>>,
                Option<ValueAndTimestamp<VO>>,
            ) -> Option<ValueAndTimestamp<VR>>
            + Send
            + Sync
            + 'static,
    ) -> ValueGetter<K, VR> {
        let (this, that) = (Arc::clone(&self.read), Arc::clone(&other.read));
        let mut stores = self.stores.clone();
        for s in &other.stores {
            if !stores.contains(s) {
                stores.push(s.clone());
            }
        }
        ValueGetter {
            stores,
            read: Arc::new(move |stores, key, as_of| {
                let left = this(stores, key, as_of)?;
                let right = that(stores, key, as_of)?;
                Ok(combine(key, left, right))
            }),
            history_ms: None,
        }
    }
}
