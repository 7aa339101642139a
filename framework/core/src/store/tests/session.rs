//! The session store: finding mergeable sessions, key ranges, expiry,
//! restoration.

use super::windowed_support::{s, sessions, task, SharedBytes, MINUTE};
use crate::store::{
    KeyValueIter, MeteredSessionStore, ReadOnlySessionStore, SessionStore, StateStore, WriteBatch,
};
use crate::window::{Window, Windowed};

type Store = MeteredSessionStore<String, i64>;

fn session(key: &str, start: i64, end: i64) -> Windowed<String> {
    Windowed::new(s(key), Window::new(start, end))
}

fn put(store: &mut Store, key: &str, start: i64, end: i64, value: i64) {
    store.put(&session(key, start, end), &value).unwrap();
}

fn listed(iter: KeyValueIter<'_, Windowed<String>, i64>) -> Vec<(String, i64, i64, i64)> {
    iter.map(|kv| {
        let (w, v) = kv.unwrap();
        (w.key().clone(), w.window().start(), w.window().end(), v)
    })
    .collect()
}

#[test]
fn finds_the_sessions_a_record_could_merge_with() {
    let mut store = sessions().build_in(&task()).unwrap();
    put(&mut store, "a", 0, 10, 1);
    put(&mut store, "a", 20, 30, 2);
    put(&mut store, "a", 100, MINUTE + 5, 3);
    put(&mut store, "ab", 20, 30, 4); // "a" is a prefix of "ab"
    put(&mut store, "b", 25, 25, 5);

    // end >= 15 and start <= 25
    assert_eq!(
        listed(store.find_sessions(&s("a"), 15, 25).unwrap()),
        [(s("a"), 20, 30, 2)]
    );
    assert_eq!(
        listed(store.fetch(&s("a")).unwrap()),
        [
            (s("a"), 0, 10, 1),
            (s("a"), 20, 30, 2),
            (s("a"), 100, MINUTE + 5, 3)
        ]
    );
    assert_eq!(
        listed(store.backward_fetch(&s("a")).unwrap()),
        [
            (s("a"), 100, MINUTE + 5, 3),
            (s("a"), 20, 30, 2),
            (s("a"), 0, 10, 1)
        ]
    );
    assert_eq!(
        listed(store.backward_find_sessions(&s("a"), 5, 100).unwrap()),
        [
            (s("a"), 100, MINUTE + 5, 3),
            (s("a"), 20, 30, 2),
            (s("a"), 0, 10, 1)
        ]
    );
    // By key, then end, then start.
    assert_eq!(
        listed(
            store
                .find_sessions_in_key_range(Some(&s("ab")), None, 0, i64::MAX)
                .unwrap()
        ),
        [(s("ab"), 20, 30, 4), (s("b"), 25, 25, 5)]
    );
    assert_eq!(
        listed(
            store
                .find_sessions_in_key_range(None, Some(&s("a")), 30, 30)
                .unwrap()
        ),
        [(s("a"), 20, 30, 2)]
    );
    assert_eq!(store.fetch_session(&s("a"), 20, 30).unwrap(), Some(2));
    assert_eq!(store.fetch_session(&s("a"), 20, 31).unwrap(), None);

    store.remove(&session("a", 20, 30)).unwrap();
    assert_eq!(store.fetch_session(&s("a"), 20, 30).unwrap(), None);
    assert!(listed(store.find_sessions(&s("a"), 15, 25).unwrap()).is_empty());
}

#[test]
fn expired_sessions_go_with_their_segments() {
    let bytes = SharedBytes::new();
    let mut store = sessions()
        .with_bytes_supplier(bytes.supplier())
        .build_in(&task())
        .unwrap();
    put(&mut store, "a", 0, 10, 1);
    put(&mut store, "a", MINUTE, MINUTE + 10, 2);
    put(&mut store, "b", 0, 2 * MINUTE, 3);
    assert_eq!(bytes.segments(), [0, 1, 2]);
    // Stream time (newest end) 4 min: sessions ending at or before 2 min expired.
    put(&mut store, "c", 3 * MINUTE, 4 * MINUTE, 4);
    assert_eq!(store.observed_stream_time(), Some(4 * MINUTE));
    assert_eq!(bytes.segments(), [2, 4]);
    assert!(listed(store.fetch(&s("b")).unwrap()).is_empty());
    assert_eq!(store.fetch_session(&s("b"), 0, 2 * MINUTE).unwrap(), None);
    put(&mut store, "d", 0, 2 * MINUTE, 5);
    assert_eq!(store.expired_puts(), 1);
    assert!(store.put(&session("d", -1, 5 * MINUTE), &1).is_err());
}

#[test]
fn a_restored_session_store_has_the_logged_sessions() {
    let mut logged = sessions().with_logging(true).build_in(&task()).unwrap();
    put(&mut logged, "a", 0, 10, 1);
    put(&mut logged, "a", 3 * MINUTE, 3 * MINUTE + 1, 2);
    logged
        .remove(&session("a", 3 * MINUTE, 3 * MINUTE + 1))
        .unwrap();
    put(&mut logged, "a", 3 * MINUTE, 3 * MINUTE + 2, 3);
    let mut batch = WriteBatch::new();
    for e in logged.take_changelog() {
        batch.write(e.key, e.value);
    }
    let mut fresh = sessions().build_in(&task()).unwrap();
    StateStore::restore(&mut fresh, batch).unwrap();
    assert_eq!(fresh.observed_stream_time(), Some(3 * MINUTE + 2));
    assert_eq!(
        listed(fresh.fetch(&s("a")).unwrap()),
        [(s("a"), 3 * MINUTE, 3 * MINUTE + 2, 3)]
    );
}
