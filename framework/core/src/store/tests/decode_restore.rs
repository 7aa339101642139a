//! Property tests of restoration from a changelog that may hold anything
//! (corrupt, or written by another format): window, session and versioned
//! stores take each batch or answer an error naming the store, never panic,
//! and afterwards every read ends, answering records or errors.

use std::time::Duration;

use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;

use super::windowed_support::{s, sessions, task, windows, SharedBytes, MINUTE};
use crate::error::{Error, Result};
use crate::fuzz::{self, mutation, Mutation};
use crate::serde::Serdes;
use crate::store::segments::{session_key, window_key};
use crate::store::versioned_layout::changelog_value;
use crate::store::{
    KeyValueIter, KeyValueStoreBuilder, ReadOnlyKeyValueStore, ReadOnlySessionStore,
    ReadOnlyWindowStore, StateStore, VersionedKeyValueStore, VersionedKeyValueStoreBuilder,
    WindowStoreBuilder, WriteBatch,
};
use crate::task::TaskId;
use crate::window::Windowed;

/// A changelog record's key: one a store writes, the same with one
/// mutation, or arbitrary bytes.
#[derive(Debug, Clone)]
enum Key {
    Valid {
        key: String,
        start: i64,
        len: i64,
        seq: u32,
    },
    Mutated {
        key: String,
        start: i64,
        len: i64,
        m: Mutation,
    },
    Any(Vec<u8>),
}

fn any_key() -> impl Strategy<Value = Key> {
    let parts = || ("[ab]{0,2}", 0..10 * MINUTE, 0..2 * MINUTE);
    prop_oneof![
        3 => (parts(), 0u32..3).prop_map(|((key, start, len), seq)| Key::Valid { key, start, len, seq }),
        2 => (parts(), mutation()).prop_map(|((key, start, len), m)| Key::Mutated { key, start, len, m }),
        1 => fuzz::bytes(30).prop_map(Key::Any),
    ]
}

/// A changelog value: an i64, a tombstone, or arbitrary bytes.
fn any_value() -> impl Strategy<Value = Option<Vec<u8>>> {
    prop_oneof![
        3 => any::<i64>().prop_map(|v| Some(v.to_be_bytes().to_vec())),
        1 => Just(None),
        1 => option::of(fuzz::bytes(12)),
    ]
}

fn any_batch() -> impl Strategy<Value = Vec<(Key, Option<Vec<u8>>)>> {
    vec((any_key(), any_value()), 0..8)
}

/// A window store's raw key (1-minute segments).
fn raw_window(k: &Key) -> Vec<u8> {
    match k {
        Key::Valid {
            key, start, seq, ..
        } => window_key(start / MINUTE, key.as_bytes(), *start, *seq),
        Key::Mutated { key, start, m, .. } => {
            m.apply(&window_key(start / MINUTE, key.as_bytes(), *start, 0))
        }
        Key::Any(raw) => raw.clone(),
    }
}

/// A session store's raw key (1-minute segments of the session's end).
fn raw_session(k: &Key) -> Vec<u8> {
    let key = |key: &str, start: i64, len: i64| {
        session_key((start + len) / MINUTE, key.as_bytes(), start, start + len)
    };
    match k {
        Key::Valid {
            key: k, start, len, ..
        } => key(k, *start, *len),
        Key::Mutated {
            key: k,
            start,
            len,
            m,
        } => m.apply(&key(k, *start, *len)),
        Key::Any(raw) => raw.clone(),
    }
}

fn batch_of(ops: &[(Key, Option<Vec<u8>>)], raw: impl Fn(&Key) -> Vec<u8>) -> WriteBatch {
    let mut batch = WriteBatch::new();
    for (k, v) in ops {
        batch.write(raw(k), v.clone());
    }
    batch.set_offset(7);
    batch
}

/// An error must name the store.
fn named(result: Result<()>, store: &str) -> Result<(), TestCaseError> {
    match result {
        Ok(()) => Ok(()),
        Err(Error::Store { store: s, .. }) if s == store => Ok(()),
        Err(other) => Err(TestCaseError::fail(format!("unexpected error {other:?}"))),
    }
}

/// Drains a read: every window it answers is sound (start >= 0, not past
/// its end, its time (the end of a session, the start of a window) live
/// from `live_from`), every error names the store.
fn drain(
    iter: Result<KeyValueIter<'_, Windowed<String>, i64>>,
    store: &str,
    live_from: i64,
) -> Result<(), TestCaseError> {
    let session = store == "s";
    let iter = match iter {
        Ok(iter) => iter,
        Err(e) => return named(Err(e), store),
    };
    for item in iter.take(64) {
        match item {
            Ok((w, _)) => {
                prop_assert!(w.window().start() >= 0 && w.window().start() <= w.window().end());
                let time = if session {
                    w.window().end()
                } else {
                    w.window().start()
                };
                prop_assert!(
                    time >= live_from,
                    "{:?} expired (live from {})",
                    w,
                    live_from
                );
            }
            Err(e) => named(Err(e), store)?,
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn window_stores_restore_any_changelog_without_panic(ops in any_batch(), duplicates: bool) {
        // A store retaining duplicates (a stream-stream join's) reads the
        // sequence numbers of its keys.
        let builder = if duplicates {
            WindowStoreBuilder::from_key_value(
                KeyValueStoreBuilder::new("w", Serdes::string(), Serdes::i64()),
                2 * MINUTE,
                MINUTE,
                true,
            )
        } else {
            windows()
        };
        let mut store = builder.build_in(&task()).unwrap();
        named(StateStore::restore(&mut store, batch_of(&ops, raw_window)), "w")?;
        let live = store.observed_stream_time().map_or(0, |o| o - 2 * MINUTE + 1);
        drain(store.all(), "w", live)?;
        drain(store.backward_all(), "w", live)?;
        drain(store.fetch_all(0, i64::MAX), "w", live)?;
        drain(store.fetch_key_range(Some(&s("a")), Some(&s("b")), 0, i64::MAX), "w", live)?;
        for t in [0, MINUTE, 5 * MINUTE, i64::MAX] {
            if let Err(e) = store.fetch(&s("a"), t) {
                named(Err(e), "w")?;
            }
        }
        let starts: Vec<Result<(i64, i64)>> = match store.fetch_range(&s("a"), 0, i64::MAX) {
            Ok(iter) => iter.take(64).collect(),
            Err(e) => vec![Err(e)],
        };
        for w in starts {
            match w {
                Ok((start, _)) => prop_assert!(start >= live.max(0)),
                Err(e) => named(Err(e), "w")?,
            }
        }
    }

    #[test]
    fn session_stores_restore_any_changelog_without_panic(ops in any_batch()) {
        let mut store = sessions().build_in(&task()).unwrap();
        named(StateStore::restore(&mut store, batch_of(&ops, raw_session)), "s")?;
        let live = store.observed_stream_time().map_or(0, |o| o - 2 * MINUTE + 1);
        drain(store.fetch(&s("a")), "s", live)?;
        drain(store.backward_fetch(&s("b")), "s", live)?;
        drain(store.find_sessions_in_key_range(None, None, 0, i64::MAX), "s", live)?;
        drain(store.find_sessions_in_key_range(Some(&s("a")), Some(&s("b")), 0, i64::MAX), "s", live)?;
    }

    #[test]
    fn timestamped_stores_restore_any_changelog_without_panic(
        ops in vec(
            (
                prop_oneof![3 => "[ab]{0,2}".prop_map(String::into_bytes), 1 => fuzz::bytes(6)],
                prop_oneof![
                    3 => (any::<i64>(), any::<i64>()).prop_map(|(t, v)| Some([t.to_be_bytes(), v.to_be_bytes()].concat())),
                    1 => Just(None),
                    1 => option::of(fuzz::bytes(20)),
                ],
            ),
            0..8,
        ),
    ) {
        let builder = KeyValueStoreBuilder::new("kv", Serdes::string(), Serdes::i64());
        let mut store = builder.build_timestamped(TaskId::new(0, 0)).unwrap();
        let mut batch = WriteBatch::new();
        for (k, v) in &ops {
            batch.write(k.clone(), v.clone());
        }
        named(StateStore::restore(&mut store, batch), "kv")?;
        // Every entry reads as a key and a value, or an error naming the store.
        let read: Vec<Result<(String, i64)>> = match store.all() {
            Ok(iter) => iter.collect(),
            Err(e) => vec![Err(e)],
        };
        for kv in read {
            if let Err(e) = kv {
                named(Err(e), "kv")?;
            }
        }
        for key in ["", "a", "b", "ab"] {
            if let Err(e) = store.get(&s(key)) {
                named(Err(e), "kv")?;
            }
        }
    }

    #[test]
    fn versioned_stores_restore_any_changelog_without_panic(
        ops in vec(
            (
                "[ab]{0,2}",
                prop_oneof![
                    3 => (any::<i64>(), option::of("[xy]{0,2}")).prop_map(|(t, v)| Some(changelog_value(t, v.as_ref().map(String::as_bytes)))),
                    1 => Just(None),
                    1 => (any::<i64>(), option::of("[xy]{0,2}"), mutation()).prop_map(|(t, v, m)| Some(m.apply(&changelog_value(t, v.as_ref().map(String::as_bytes))))),
                    1 => option::of(fuzz::bytes(16)),
                ],
            ),
            0..8,
        ),
    ) {
        let builder = VersionedKeyValueStoreBuilder::new(
            "v",
            Serdes::string(),
            Serdes::string(),
            Duration::from_millis(100),
        );
        let mut store = builder.build(TaskId::new(0, 0)).unwrap();
        let mut batch = WriteBatch::new();
        for (k, v) in &ops {
            batch.write(k.as_bytes().to_vec(), v.clone());
        }
        let restored = StateStore::restore(&mut store, batch);
        match restored {
            Ok(()) => {}
            Err(Error::Store { store, .. }) | Err(Error::Deserialization { topic: store, .. }) => {
                prop_assert_eq!(store, "v");
            }
            Err(other) => prop_assert!(false, "unexpected error {:?}", other),
        }
        for key in ["", "a", "b", "ab"] {
            for t in [i64::MIN, -1, 0, 50, i64::MAX] {
                if let Ok(Some(r)) = store.get_as_of(&s(key), t) {
                    prop_assert!(r.timestamp <= t);
                }
            }
        }
    }
}

/// Regression: a changelog key whose segment prefix is not its time's (a
/// corrupt prefix, or a changelog written under another retention) made
/// the restored store's segment bounds span up to 2^63 segments, and every
/// read after it scanned them one by one: a hang. Restoration now files
/// each key under its own time's segment.
#[test]
fn a_restored_window_key_of_another_segment_is_filed_under_its_own() {
    let bytes = SharedBytes::new();
    let mut store = windows()
        .with_bytes_supplier(bytes.supplier())
        .build_in(&task())
        .unwrap();
    let mut batch = WriteBatch::new();
    batch.put(
        window_key(i64::MAX, b"a", MINUTE, 0),
        1i64.to_be_bytes().to_vec(),
    );
    batch.put(
        window_key(-3, b"a", 2 * MINUTE, 0),
        2i64.to_be_bytes().to_vec(),
    );
    batch.put(
        window_key(0, b"b", MINUTE / 2, 0),
        3i64.to_be_bytes().to_vec(),
    );
    StateStore::restore(&mut store, batch).unwrap();
    assert_eq!(bytes.segments(), [0, 1, 2]);
    let all: Vec<(String, i64, i64)> = store
        .all()
        .unwrap()
        .map(|kv| kv.map(|(w, v)| (w.key().clone(), w.window().start(), v)))
        .collect::<Result<_>>()
        .unwrap();
    assert_eq!(
        all,
        [
            (s("a"), MINUTE, 1),
            (s("a"), 2 * MINUTE, 2),
            (s("b"), MINUTE / 2, 3)
        ]
    );
}

/// The same for a session store, whose keys are filed by session end.
#[test]
fn a_restored_session_key_of_another_segment_is_filed_under_its_own() {
    let bytes = SharedBytes::new();
    let mut store = sessions()
        .with_bytes_supplier(bytes.supplier())
        .build_in(&task())
        .unwrap();
    let mut batch = WriteBatch::new();
    batch.put(
        session_key(i64::MIN, b"a", 5, MINUTE),
        1i64.to_be_bytes().to_vec(),
    );
    batch.put(session_key(7, b"a", 0, 10), 2i64.to_be_bytes().to_vec());
    StateStore::restore(&mut store, batch).unwrap();
    assert_eq!(bytes.segments(), [0, 1]);
    let found: Vec<(i64, i64, i64)> = store
        .fetch(&s("a"))
        .unwrap()
        .map(|kv| kv.map(|(w, v)| (w.window().start(), w.window().end(), v)))
        .collect::<Result<_>>()
        .unwrap();
    assert_eq!(found, [(0, 10, 2), (5, MINUTE, 1)]);
}

/// Times the stores never write (negative ones, a session ending before it
/// starts) are malformed changelog keys: an error naming the store.
#[test]
fn restored_keys_with_impossible_times_are_errors() {
    let value = || Some(1i64.to_be_bytes().to_vec());
    let mut batch = WriteBatch::new();
    batch.write(window_key(0, b"a", -1, 0), value());
    let mut store = windows().build_in(&task()).unwrap();
    let e = StateStore::restore(&mut store, batch).unwrap_err();
    assert!(e.to_string().contains("'w'"), "{e}");
    for (start, end) in [(-1, 5), (6, 5)] {
        let mut batch = WriteBatch::new();
        batch.write(session_key(0, b"a", start, end), value());
        let mut store = sessions().build_in(&task()).unwrap();
        let e = StateStore::restore(&mut store, batch).unwrap_err();
        assert!(e.to_string().contains("'s'"), "{e}");
    }
}
