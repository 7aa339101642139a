//! Reading the tasks' versioned key-value stores from a test:
//! [`VersionedStoreView`].

use std::fmt;
use std::marker::PhantomData;

use weir_core::store::VersionedRecord;
use weir_core::Result;

use super::state::{lock, Shared};
use super::TopologyTestDriver;

/// A read-only view of a versioned key-value store across every task that
/// has it (the first instance in task order that knows a key answers), as
/// [`KeyValueStoreView`](super::KeyValueStoreView) is for key-value stores.
///
/// Get one with [`TopologyTestDriver::versioned_key_value_store`]. Every
/// call reads the stores as they are now.
pub struct VersionedStoreView<K, V> {
    shared: Shared,
    name: String,
    types: PhantomData<fn() -> (K, V)>,
}

impl<K, V> fmt::Debug for VersionedStoreView<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VersionedStoreView")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl<K: 'static, V: 'static> VersionedStoreView<K, V> {
    fn new(shared: Shared, name: &str) -> Result<Self> {
        let view = VersionedStoreView {
            shared,
            name: name.to_string(),
            types: PhantomData,
        };
        lock(&view.shared).for_each_store(name, |store| {
            store.as_versioned_key_value_store::<K, V>().map(|_| ())
        })?;
        Ok(view)
    }

    /// The store's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The latest version of `key`, if it has a value.
    pub fn get(&self, key: &K) -> Result<Option<VersionedRecord<V>>> {
        self.first(|store| store.get(key))
    }

    /// The version of `key` valid at `as_of`, if it has a value (see
    /// [`VersionedKeyValueStore::get_as_of`](weir_core::store::VersionedKeyValueStore::get_as_of)).
    pub fn get_as_of(&self, key: &K, as_of: i64) -> Result<Option<VersionedRecord<V>>> {
        self.first(|store| store.get_as_of(key, as_of))
    }

    fn first(
        &self,
        read: impl Fn(
            &dyn weir_core::store::VersionedKeyValueStore<K, V>,
        ) -> Result<Option<VersionedRecord<V>>>,
    ) -> Result<Option<VersionedRecord<V>>> {
        let mut found = None;
        lock(&self.shared).for_each_store(&self.name, |store| {
            if found.is_none() {
                found = read(store.as_versioned_key_value_store::<K, V>()?)?;
            }
            Ok(())
        })?;
        Ok(found)
    }
}

impl TopologyTestDriver {
    /// A read-only view of the versioned key-value store `name` with keys
    /// `K` and values `V`, across every task's instance (see
    /// [`VersionedStoreView`]). Fails if the topology has no such store or
    /// an instance is not a versioned store of `K` and `V`.
    pub fn versioned_key_value_store<K: 'static, V: 'static>(
        &self,
        name: &str,
    ) -> Result<VersionedStoreView<K, V>> {
        VersionedStoreView::new(self.shared.clone(), name)
    }
}
