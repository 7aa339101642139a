//! Reading the tasks' window and session stores from a test:
//! [`WindowStoreView`] and [`SessionStoreView`].

use std::fmt;
use std::marker::PhantomData;

use weir_core::window::Windowed;
use weir_core::Result;

use super::state::{lock, Shared};

/// Sorts windowed entries by key, then window (start, then end).
fn sorted<K: Ord, V>(mut entries: Vec<(Windowed<K>, V)>) -> Vec<(Windowed<K>, V)> {
    entries.sort_by(|(a, _), (b, _)| (a.key(), a.window()).cmp(&(b.key(), b.window())));
    entries
}

/// A read-only view of a window store across every task that has it, as
/// [`KeyValueStoreView`](super::KeyValueStoreView) is for key-value stores.
///
/// Get one with
/// [`TopologyTestDriver::window_store`](super::TopologyTestDriver::window_store).
/// Every call reads the stores as they are now (a cached store shows its
/// unflushed windows too); windows the store has expired are not shown.
pub struct WindowStoreView<K, V> {
    shared: Shared,
    name: String,
    types: PhantomData<fn() -> (K, V)>,
}

impl<K, V> fmt::Debug for WindowStoreView<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WindowStoreView")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl<K: 'static, V: 'static> WindowStoreView<K, V> {
    /// A view of store `name`; fails if the topology has no such store, the
    /// driver is closed, or an existing instance is not a window store of
    /// `K` and `V`.
    pub(crate) fn new(shared: Shared, name: &str) -> Result<Self> {
        let view = WindowStoreView {
            shared,
            name: name.to_string(),
            types: PhantomData,
        };
        lock(&view.shared)
            .for_each_store(name, |store| store.as_window_store::<K, V>().map(|_| ()))?;
        Ok(view)
    }

    /// The store's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The value of `key` in the window starting at `window_start` (the
    /// first instance in task order that has it).
    pub fn fetch(&self, key: &K, window_start: i64) -> Result<Option<V>> {
        let mut found = None;
        lock(&self.shared).for_each_store(&self.name, |store| {
            if found.is_none() {
                found = store.as_window_store::<K, V>()?.fetch(key, window_start)?;
            }
            Ok(())
        })?;
        Ok(found)
    }

    /// The windows of `key` starting in `[time_from, time_to]`, as
    /// `(start, value)`, ascending by start.
    pub fn fetch_range(&self, key: &K, time_from: i64, time_to: i64) -> Result<Vec<(i64, V)>> {
        let mut found = Vec::new();
        lock(&self.shared).for_each_store(&self.name, |store| {
            for window in store
                .as_window_store::<K, V>()?
                .fetch_range(key, time_from, time_to)?
            {
                found.push(window?);
            }
            Ok(())
        })?;
        found.sort_by_key(|(start, _)| *start);
        Ok(found)
    }

    /// Every window starting in `[time_from, time_to]`, of every instance,
    /// by key then window.
    pub fn fetch_all(&self, time_from: i64, time_to: i64) -> Result<Vec<(Windowed<K>, V)>>
    where
        K: Ord,
    {
        let mut found = Vec::new();
        lock(&self.shared).for_each_store(&self.name, |store| {
            for window in store
                .as_window_store::<K, V>()?
                .fetch_all(time_from, time_to)?
            {
                found.push(window?);
            }
            Ok(())
        })?;
        Ok(sorted(found))
    }

    /// Every window of every instance, by key then window.
    pub fn all(&self) -> Result<Vec<(Windowed<K>, V)>>
    where
        K: Ord,
    {
        self.fetch_all(i64::MIN, i64::MAX)
    }
}

/// A read-only view of a session store across every task that has it.
///
/// Get one with
/// [`TopologyTestDriver::session_store`](super::TopologyTestDriver::session_store).
/// Every call reads the stores as they are now; sessions the store has
/// expired are not shown.
pub struct SessionStoreView<K, V> {
    shared: Shared,
    name: String,
    types: PhantomData<fn() -> (K, V)>,
}

impl<K, V> fmt::Debug for SessionStoreView<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionStoreView")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl<K: 'static, V: 'static> SessionStoreView<K, V> {
    /// A view of store `name`; fails if the topology has no such store, the
    /// driver is closed, or an existing instance is not a session store of
    /// `K` and `V`.
    pub(crate) fn new(shared: Shared, name: &str) -> Result<Self> {
        let view = SessionStoreView {
            shared,
            name: name.to_string(),
            types: PhantomData,
        };
        lock(&view.shared)
            .for_each_store(name, |store| store.as_session_store::<K, V>().map(|_| ()))?;
        Ok(view)
    }

    /// The store's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The value of `key`'s session `[start, end]`, if an instance has it.
    pub fn fetch_session(&self, key: &K, start: i64, end: i64) -> Result<Option<V>> {
        let mut found = None;
        lock(&self.shared).for_each_store(&self.name, |store| {
            if found.is_none() {
                found = store
                    .as_session_store::<K, V>()?
                    .fetch_session(key, start, end)?;
            }
            Ok(())
        })?;
        Ok(found)
    }

    /// The sessions of `key` with `end >= earliest_session_end` and
    /// `start <= latest_session_start`, ascending by end then start.
    pub fn find_sessions(
        &self,
        key: &K,
        earliest_session_end: i64,
        latest_session_start: i64,
    ) -> Result<Vec<(Windowed<K>, V)>> {
        let mut found = Vec::new();
        lock(&self.shared).for_each_store(&self.name, |store| {
            for session in store.as_session_store::<K, V>()?.find_sessions(
                key,
                earliest_session_end,
                latest_session_start,
            )? {
                found.push(session?);
            }
            Ok(())
        })?;
        found.sort_by_key(|(w, _)| (w.window().end(), w.window().start()));
        Ok(found)
    }

    /// Every session of `key`, ascending by end then start.
    pub fn fetch(&self, key: &K) -> Result<Vec<(Windowed<K>, V)>> {
        self.find_sessions(key, i64::MIN, i64::MAX)
    }

    /// Every session of every instance, by key then window.
    pub fn all(&self) -> Result<Vec<(Windowed<K>, V)>>
    where
        K: Ord,
    {
        let mut found = Vec::new();
        lock(&self.shared).for_each_store(&self.name, |store| {
            for session in store
                .as_session_store::<K, V>()?
                .find_sessions_in_key_range(None, None, i64::MIN, i64::MAX)?
            {
                found.push(session?);
            }
            Ok(())
        })?;
        Ok(sorted(found))
    }
}
