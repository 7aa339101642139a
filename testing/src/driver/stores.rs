//! Reading the tasks' state stores from a test: [`KeyValueStoreView`].

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

use weir_core::store::{KeyValueStore, StateStore, ValueAndTimestamp};
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
///
/// [`TopologyTestDriver::timestamped_key_value_store`](super::TopologyTestDriver::timestamped_key_value_store)
/// gives a `KeyValueStoreView<K, ValueAndTimestamp<V>>` of an aggregation's
/// store: its values with their timestamps.
pub struct KeyValueStoreView<K, V> {
    shared: Shared,
    name: String,
    /// Types a task's instance.
    typed: Typed<K, V>,
    types: PhantomData<fn() -> (K, V)>,
}

/// How a view types a task's instance of its store.
type Typed<K, V> = for<'a> fn(&'a mut dyn StateStore) -> Result<&'a mut dyn KeyValueStore<K, V>>;

/// A plain key-value store (an aggregation's store too, without timestamps).
fn plain<K: 'static, V: 'static>(
    store: &mut dyn StateStore,
) -> Result<&mut dyn KeyValueStore<K, V>> {
    store.as_key_value_store::<K, V>()
}

/// A timestamped key-value store (an aggregation's).
fn timestamped<K: 'static, V: 'static>(
    store: &mut dyn StateStore,
) -> Result<&mut dyn KeyValueStore<K, ValueAndTimestamp<V>>> {
    store.as_timestamped_key_value_store::<K, V>()
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
        Self::typed_by(shared, name, plain::<K, V>)
    }

    fn typed_by(shared: Shared, name: &str, typed: Typed<K, V>) -> Result<Self> {
        let view = KeyValueStoreView {
            shared,
            name: name.to_string(),
            typed,
            types: PhantomData,
        };
        // Checks the name and, where instances exist, the types.
        lock(&view.shared).for_each_store(name, |store| typed(store).map(|_| ()))?;
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
                found = (self.typed)(store)?.get(key)?;
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
            for entry in (self.typed)(store)?.all()? {
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
            let n = (self.typed)(store)?.approximate_num_entries()?;
            total = total.saturating_add(n);
            Ok(())
        })?;
        Ok(total)
    }
}

impl<K: 'static, V: 'static> KeyValueStoreView<K, ValueAndTimestamp<V>> {
    /// A view of the timestamped store `name` (an aggregation's): values
    /// with their timestamps. Fails as [`new`](KeyValueStoreView::new) does,
    /// or if an instance is not a timestamped store of `K` and `V`.
    pub(crate) fn timestamped(shared: Shared, name: &str) -> Result<Self> {
        Self::typed_by(shared, name, timestamped::<K, V>)
    }
}
