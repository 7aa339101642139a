//! The typed window and session store traits that processors program
//! against (Kafka Streams' `WindowStore` and `SessionStore`).
//!
//! Times are event-time milliseconds. Ranges are inclusive at both ends, as
//! in Kafka Streams. Iterators borrow the store, so every scan ends before
//! the next write.

use super::kv::KeyValueIter;
use crate::error::Result;
use crate::window::Windowed;

/// An iterator over `(window start, value)` pairs of one key, in window
/// start order (or reverse order for the `backward_` methods).
pub type WindowStoreIter<'a, V> = Box<dyn Iterator<Item = Result<(i64, V)>> + 'a>;

/// Read access to a window store: what interactive queries may use.
///
/// A window store keeps one value per key and window start (or, if it
/// retains duplicates, as the stores of stream-stream joins do, every value
/// put). Windows whose start is older than the store's retention before the
/// newest start it has seen are gone: reads skip them, and the store drops
/// them in bulk.
pub trait ReadOnlyWindowStore<K, V> {
    /// The value of `key` in the window starting at `window_start`.
    fn fetch(&self, key: &K, window_start: i64) -> Result<Option<V>>;

    /// The windows of `key` that start in `[time_from, time_to]`, ascending
    /// by start.
    fn fetch_range(&self, key: &K, time_from: i64, time_to: i64) -> Result<WindowStoreIter<'_, V>>;

    /// The same as [`fetch_range`](Self::fetch_range), descending.
    fn backward_fetch_range(
        &self,
        key: &K,
        time_from: i64,
        time_to: i64,
    ) -> Result<WindowStoreIter<'_, V>>;

    /// The windows starting in `[time_from, time_to]` of the keys in
    /// `[key_from, key_to]` (`None` leaves that end open), by serialized
    /// key, then start.
    fn fetch_key_range(
        &self,
        key_from: Option<&K>,
        key_to: Option<&K>,
        time_from: i64,
        time_to: i64,
    ) -> Result<KeyValueIter<'_, Windowed<K>, V>>;

    /// The same as [`fetch_key_range`](Self::fetch_key_range), descending.
    fn backward_fetch_key_range(
        &self,
        key_from: Option<&K>,
        key_to: Option<&K>,
        time_from: i64,
        time_to: i64,
    ) -> Result<KeyValueIter<'_, Windowed<K>, V>>;

    /// Every window starting in `[time_from, time_to]`, of every key.
    fn fetch_all(&self, time_from: i64, time_to: i64) -> Result<KeyValueIter<'_, Windowed<K>, V>>;

    /// The same as [`fetch_all`](Self::fetch_all), descending.
    fn backward_fetch_all(
        &self,
        time_from: i64,
        time_to: i64,
    ) -> Result<KeyValueIter<'_, Windowed<K>, V>>;

    /// Every window the store holds.
    fn all(&self) -> Result<KeyValueIter<'_, Windowed<K>, V>> {
        self.fetch_all(i64::MIN, i64::MAX)
    }

    /// Every window the store holds, descending.
    fn backward_all(&self) -> Result<KeyValueIter<'_, Windowed<K>, V>> {
        self.backward_fetch_all(i64::MIN, i64::MAX)
    }
}

/// A window store a processor reads and writes.
pub trait WindowStore<K, V>: ReadOnlyWindowStore<K, V> {
    /// Writes `value` for `key` in the window starting at `window_start`
    /// (`None` deletes it). A store that retains duplicates adds an entry
    /// at every put and ignores deletes. A put into a window older than the
    /// retention is dropped, as in Kafka Streams.
    fn put(&mut self, key: &K, value: Option<&V>, window_start: i64) -> Result<()>;

    /// How many puts this instance dropped because their window had
    /// expired (Kafka Streams' `dropped-records` of a window store); 0 for
    /// stores that do not count them.
    fn expired_puts(&self) -> u64 {
        0
    }
}

/// Read access to a session store.
///
/// A session is a key's window `[start, end]` (both inclusive). Sessions
/// whose end is older than the store's retention before the newest end it
/// has seen are gone.
pub trait ReadOnlySessionStore<K, V> {
    /// The sessions of `key` with `end >= earliest_session_end` and
    /// `start <= latest_session_start`: those a record could merge with.
    /// Ascending by end, then start.
    fn find_sessions(
        &self,
        key: &K,
        earliest_session_end: i64,
        latest_session_start: i64,
    ) -> Result<KeyValueIter<'_, Windowed<K>, V>>;

    /// The same as [`find_sessions`](Self::find_sessions), descending.
    fn backward_find_sessions(
        &self,
        key: &K,
        earliest_session_end: i64,
        latest_session_start: i64,
    ) -> Result<KeyValueIter<'_, Windowed<K>, V>>;

    /// [`find_sessions`](Self::find_sessions) over the keys in
    /// `[key_from, key_to]` (`None` leaves that end open).
    fn find_sessions_in_key_range(
        &self,
        key_from: Option<&K>,
        key_to: Option<&K>,
        earliest_session_end: i64,
        latest_session_start: i64,
    ) -> Result<KeyValueIter<'_, Windowed<K>, V>>;

    /// The value of `key`'s session `[start, end]`, if the store has it.
    fn fetch_session(&self, key: &K, start: i64, end: i64) -> Result<Option<V>>;

    /// Every session of `key`.
    fn fetch(&self, key: &K) -> Result<KeyValueIter<'_, Windowed<K>, V>> {
        self.find_sessions(key, i64::MIN, i64::MAX)
    }

    /// Every session of `key`, descending.
    fn backward_fetch(&self, key: &K) -> Result<KeyValueIter<'_, Windowed<K>, V>> {
        self.backward_find_sessions(key, i64::MIN, i64::MAX)
    }
}

/// A session store a processor reads and writes.
pub trait SessionStore<K, V>: ReadOnlySessionStore<K, V> {
    /// Writes `value` for the session `session` (its key and window).
    /// A put of a session older than the retention is dropped.
    fn put(&mut self, session: &Windowed<K>, value: &V) -> Result<()>;

    /// Removes the session `session`.
    fn remove(&mut self, session: &Windowed<K>) -> Result<()>;

    /// How many puts this instance dropped because their session had
    /// expired; 0 for stores that do not count them.
    fn expired_puts(&self) -> u64 {
        0
    }
}
