//! Reading the tasks' state stores from a test: [`KeyValueStoreView`].

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

use weir_core::Result;

use super::state::{lock, Shared};

/// A read-only view of a key-value store across every task that has it (one
/// instance per partition of the sub-topology that owns the store), so a test
/// sees the whole table, as Kafka Streams' driver `getKeyValueStore` shows it.
///
/// Get one with
/// [`TopologyTestDriver::key_value_store`](super::TopologyTestDriver::key_value_store).
/// Every call reads the stores as they are now: keep the view and pipe more
/// records, then read again. A store with a cache shows its cached
/// (not yet flushed) values too. Tasks are created by the first record of
/// their partition: before that, a partition's part of the table is empty.
pub struct KeyValueStoreView<K, V> {
    shared: Shared,
    name: String,
    types: PhantomData<fn() -> (K, V)>,
}

impl<K, V> fmt::Debug for KeyValueStoreView<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyValueStoreView")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl<K: 'static, V: 'static> KeyValueStoreView<K, V> {
    /// A view of store `name`; fails if the topology has no such store, the
    /// driver is closed, or an existing instance is not a key-value store of
    /// `K` and `V`.
    pub(crate) fn new(shared: Shared, name: &str) -> Result<Self> {
        let view = KeyValueStoreView {
            shared,
            name: name.to_string(),
            types: PhantomData,
        };
        // Checks the name and, where instances exist, the types.
        lock(&view.shared)
            .for_each_store(name, |store| store.as_key_value_store::<K, V>().map(|_| ()))?;
        Ok(view)
    }

    /// The store's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The value under `key`, looked up in every instance (keys are
    /// partitioned, so at most one has it; the first in task order wins).
    pub fn get(&self, key: &K) -> Result<Option<V>> {
        let mut found = None;
        lock(&self.shared).for_each_store(&self.name, |store| {
            if found.is_none() {
                found = store.as_key_value_store::<K, V>()?.get(key)?;
            }
            Ok(())
        })?;
        Ok(found)
    }

    /// Every entry of every instance, merged into one map (where two instances
    /// had the same key, the later task's value wins).
    pub fn all(&self) -> Result<BTreeMap<K, V>>
    where
        K: Ord,
    {
        let mut entries = BTreeMap::new();
        lock(&self.shared).for_each_store(&self.name, |store| {
            for entry in store.as_key_value_store::<K, V>()?.all()? {
                let (k, v) = entry?;
                entries.insert(k, v);
            }
            Ok(())
        })?;
        Ok(entries)
    }

    /// The sum of the instances' [estimates](weir_core::store::ReadOnlyKeyValueStore::approximate_num_entries)
    /// (a cache's unflushed entries are not counted; the driver flushes
    /// caches when it commits, after every pipe call).
    pub fn approximate_num_entries(&self) -> Result<u64> {
        let mut total = 0u64;
        lock(&self.shared).for_each_store(&self.name, |store| {
            let n = store
                .as_key_value_store::<K, V>()?
                .approximate_num_entries()?;
            total = total.saturating_add(n);
            Ok(())
        })?;
        Ok(total)
    }
}
