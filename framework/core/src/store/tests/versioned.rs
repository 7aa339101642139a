//! The versioned store: put outcomes, as-of reads at their boundaries,
//! history retention, deletes, restoration from its changelog, exactly-once.

use std::time::Duration;

use super::windowed_support::SharedBytes;
use crate::serde::Serdes;
use crate::store::{
    MeteredVersionedKeyValueStore, StateStore, StoreContext, StoreKind, VersionedKeyValueStore,
    VersionedKeyValueStoreBuilder, VersionedPut, VersionedRecord, WriteBatch,
};
use crate::task::TaskId;

type Store = MeteredVersionedKeyValueStore<String, String>;

fn builder(history_ms: u64) -> VersionedKeyValueStoreBuilder<String, String> {
    VersionedKeyValueStoreBuilder::new(
        "versions",
        Serdes::string(),
        Serdes::string(),
        Duration::from_millis(history_ms),
    )
}

fn s(v: &str) -> String {
    v.to_string()
}

fn put(store: &mut Store, key: &str, value: Option<&str>, ts: i64) -> VersionedPut {
    store.put(&s(key), value.map(s).as_ref(), ts).unwrap()
}

fn as_of(store: &Store, key: &str, t: i64) -> Option<(String, i64, Option<i64>)> {
    store
        .get_as_of(&s(key), t)
        .unwrap()
        .map(|r| (r.value, r.timestamp, r.valid_to))
}

fn rec(v: &str, ts: i64, to: Option<i64>) -> Option<(String, i64, Option<i64>)> {
    Some((s(v), ts, to))
}

#[test]
fn puts_report_latest_valid_to_or_not_put() {
    let mut store = builder(100).build(TaskId::new(0, 0)).unwrap();
    assert_eq!(put(&mut store, "k", Some("a"), 10), VersionedPut::Latest);
    assert_eq!(put(&mut store, "k", Some("c"), 30), VersionedPut::Latest);
    assert_eq!(
        put(&mut store, "k", Some("b"), 20),
        VersionedPut::ValidTo(30)
    );
    // Same timestamp: replaced, same valid-to.
    assert_eq!(
        put(&mut store, "k", Some("B"), 20),
        VersionedPut::ValidTo(30)
    );
    assert_eq!(put(&mut store, "k", Some("C"), 30), VersionedPut::Latest);
    // Older than anything: valid until the first version.
    assert_eq!(
        put(&mut store, "k", Some("z"), 5),
        VersionedPut::ValidTo(10)
    );
    // Past the grace period (observed 200 - history 100 = 100).
    assert_eq!(
        put(&mut store, "other", Some("x"), 200),
        VersionedPut::Latest
    );
    assert_eq!(put(&mut store, "k", Some("late"), 99), VersionedPut::NotPut);
    assert_eq!(
        put(&mut store, "k", Some("edge"), 100),
        VersionedPut::Latest
    );
    assert_eq!(VersionedPut::NotPut.to_kafka_streams_code(), i64::MIN);
}

#[test]
fn get_as_of_is_inclusive_of_a_version_start_and_exclusive_of_its_end() {
    let mut store = builder(1_000).build(TaskId::new(0, 0)).unwrap();
    put(&mut store, "k", Some("a"), 10);
    put(&mut store, "k", Some("c"), 30);
    put(&mut store, "k", Some("b"), 20);
    assert_eq!(as_of(&store, "k", 9), None);
    assert_eq!(as_of(&store, "k", 10), rec("a", 10, Some(20)));
    assert_eq!(as_of(&store, "k", 19), rec("a", 10, Some(20)));
    assert_eq!(as_of(&store, "k", 20), rec("b", 20, Some(30)));
    assert_eq!(as_of(&store, "k", 29), rec("b", 20, Some(30)));
    assert_eq!(as_of(&store, "k", 30), rec("c", 30, None));
    assert_eq!(as_of(&store, "k", i64::MAX), rec("c", 30, None));
    assert_eq!(
        store.get(&s("k")).unwrap(),
        Some(VersionedRecord {
            value: s("c"),
            timestamp: 30,
            valid_to: None
        })
    );
    assert_eq!(as_of(&store, "missing", 30), None);
    // Keys that share a prefix keep their own versions.
    put(&mut store, "kk", Some("other"), 15);
    assert_eq!(as_of(&store, "k", 15), rec("a", 10, Some(20)));
    assert_eq!(as_of(&store, "kk", 15), rec("other", 15, None));
}

#[test]
fn history_older_than_the_retention_is_not_read_and_is_pruned() {
    let bytes = SharedBytes::new();
    let mut store = builder(50)
        .with_bytes_supplier(bytes.supplier())
        .build(TaskId::new(0, 0))
        .unwrap();
    for (i, ts) in [0, 10, 20, 30].iter().enumerate() {
        put(&mut store, "k", Some(&format!("v{i}")), *ts);
    }
    assert_eq!(as_of(&store, "k", 5), rec("v0", 0, Some(10)));
    // Stream time 100: reads before 50 see only the latest version, if eligible.
    put(&mut store, "k", Some("v4"), 100);
    assert_eq!(as_of(&store, "k", 49), None);
    assert_eq!(as_of(&store, "k", 50), rec("v3", 30, Some(100)));
    assert_eq!(as_of(&store, "k", 100), rec("v4", 100, None));
    // Rows for versions before the one valid at 50 are gone: v3 + latest + time.
    assert_eq!(bytes.keys().len(), 3);
    // The latest version never expires.
    put(&mut store, "other", Some("x"), 1_000);
    assert_eq!(as_of(&store, "k", 100), rec("v4", 100, None));
    assert_eq!(as_of(&store, "k", 99), None);
    // A put past the grace period is dropped, nothing read changes.
    assert_eq!(
        put(&mut store, "k", Some("late"), 949),
        VersionedPut::NotPut
    );
    assert_eq!(store.get(&s("k")).unwrap().unwrap().value, "v4");
}

#[test]
fn deletes_are_versions_and_return_what_was_valid() {
    let mut store = builder(1_000).build(TaskId::new(0, 0)).unwrap();
    put(&mut store, "k", Some("a"), 10);
    put(&mut store, "k", Some("b"), 20);
    let deleted = store.delete(&s("k"), 25).unwrap();
    assert_eq!(
        deleted.map(|r| (r.value, r.timestamp, r.valid_to)),
        rec("b", 20, None)
    );
    assert_eq!(store.get(&s("k")).unwrap(), None);
    assert_eq!(as_of(&store, "k", 24), rec("b", 20, Some(25)));
    assert_eq!(as_of(&store, "k", 25), None);
    assert_eq!(as_of(&store, "k", 1_000), None);
    // An out-of-order delete splits a version.
    assert_eq!(store.delete(&s("k"), 15).unwrap().unwrap().value, "a");
    assert_eq!(as_of(&store, "k", 14), rec("a", 10, Some(15)));
    assert_eq!(as_of(&store, "k", 17), None);
    assert_eq!(as_of(&store, "k", 20), rec("b", 20, Some(25)));
    // A put after the latest delete is the latest again; one older is not.
    assert_eq!(put(&mut store, "k", Some("c"), 40), VersionedPut::Latest);
    assert_eq!(
        put(&mut store, "k", Some("x"), 30),
        VersionedPut::ValidTo(40)
    );
    assert_eq!(as_of(&store, "k", 35), rec("x", 30, Some(40)));
    assert_eq!(as_of(&store, "k", 27), None);
    // A delete of a key never written is a version too.
    assert_eq!(store.delete(&s("new"), 50).unwrap(), None);
    assert_eq!(
        put(&mut store, "new", Some("n"), 45),
        VersionedPut::ValidTo(50)
    );
    assert_eq!(as_of(&store, "new", 49), rec("n", 45, Some(50)));
    assert_eq!(as_of(&store, "new", 50), None);
    // Past the grace period: nothing deleted.
    put(&mut store, "k", Some("d"), 5_000);
    assert_eq!(store.delete(&s("k"), 3_999).unwrap(), None);
    assert_eq!(store.get(&s("k")).unwrap().unwrap().value, "d");
}

#[test]
fn a_logged_store_restores_from_its_changelog_records() {
    let logged = builder(100).with_logging(true);
    let mut store = logged.build(TaskId::new(0, 0)).unwrap();
    put(&mut store, "k", Some("a"), 10);
    put(&mut store, "k", Some("c"), 30);
    put(&mut store, "k", Some("b"), 20);
    store.delete(&s("j"), 25).unwrap();
    put(&mut store, "j", Some("late"), 5);
    put(&mut store, "j", Some("lost"), 500);
    put(&mut store, "j", Some("dropped"), 1); // not put: not logged
    let changelog = StateStore::take_changelog(&mut store);
    assert_eq!(changelog.len(), 6);
    // The record carries the version's timestamp: 8 bytes, then a tag.
    assert_eq!(changelog[2].key, b"k".to_vec());
    assert_eq!(
        changelog[2].value.as_deref(),
        Some(&[&20i64.to_be_bytes()[..], &[1], b"b"].concat()[..])
    );
    assert_eq!(
        changelog[3].value.as_deref(),
        Some(&[&25i64.to_be_bytes()[..], &[0]].concat()[..])
    );

    let mut restored = logged.build(TaskId::new(0, 0)).unwrap();
    let mut batch = WriteBatch::new();
    for e in &changelog {
        batch.write(e.key.clone(), e.value.clone());
    }
    batch.set_offset(41);
    StateStore::restore(&mut restored, batch).unwrap();
    assert_eq!(StateStore::committed_offset(&restored).unwrap(), Some(41));
    assert_eq!(restored.observed_stream_time(), Some(500));
    for t in [0, 5, 10, 20, 25, 30, 400, 500] {
        for key in ["k", "j"] {
            assert_eq!(
                as_of(&restored, key, t),
                as_of(&store, key, t),
                "{key} at {t}"
            );
        }
    }
    assert_eq!(as_of(&restored, "k", 400), rec("c", 30, None));
    assert!(StateStore::take_changelog(&mut restored).is_empty());
}

#[test]
fn a_reopened_store_keeps_its_observed_stream_time() {
    let bytes = SharedBytes::new();
    let b = builder(100).with_bytes_supplier(bytes.supplier());
    let mut store = b.build(TaskId::new(0, 0)).unwrap();
    put(&mut store, "k", Some("a"), 1_000);
    StateStore::close(&mut store).unwrap();
    let mut reopened = b.build(TaskId::new(0, 0)).unwrap();
    assert_eq!(reopened.observed_stream_time(), Some(1_000));
    assert_eq!(
        put(&mut reopened, "k", Some("old"), 10),
        VersionedPut::NotPut
    );
}

#[test]
fn under_exactly_once_writes_wait_for_the_commit() {
    let bytes = SharedBytes::new();
    let b = builder(100)
        .with_logging(true)
        .with_bytes_supplier(bytes.supplier());
    let eos = StoreContext::new(TaskId::new(0, 0)).with_exactly_once(true);
    let mut store = b.build_in(&eos).unwrap();
    put(&mut store, "k", Some("a"), 10);
    StateStore::commit(&mut store, Some(1)).unwrap();
    let committed = bytes.keys();
    put(&mut store, "k", Some("b"), 20);
    put(&mut store, "k", Some("x"), 15);
    // Visible through the layers, not below until the commit.
    assert_eq!(as_of(&store, "k", 16), rec("x", 15, Some(20)));
    assert_eq!(bytes.keys(), committed);
    // Abort: closed without a commit; the committed version stays.
    StateStore::close(&mut store).unwrap();
    let mut store = b.build_in(&eos).unwrap();
    assert_eq!(as_of(&store, "k", 100), rec("a", 10, None));
    assert_eq!(bytes.offset(), Some(1));
    put(&mut store, "k", Some("b"), 20);
    StateStore::commit(&mut store, Some(2)).unwrap();
    assert_eq!(bytes.offset(), Some(2));
    let reopened = b.build_in(&eos).unwrap();
    assert_eq!(as_of(&reopened, "k", 19), rec("a", 10, Some(20)));
}

#[test]
fn the_changelog_is_compacted_with_a_lag_of_history_plus_a_day() {
    let configs = builder(3_600_000).store_kind().changelog_configs();
    assert_eq!(configs["cleanup.policy"], "compact");
    assert_eq!(configs["min.compaction.lag.ms"], "90000000");
    assert_eq!(
        builder(5).store_kind(),
        StoreKind::Versioned {
            history_retention_ms: 5
        }
    );
}

#[test]
fn a_typed_lookup_finds_the_versioned_store() {
    let mut boxed: Box<dyn StateStore> = Box::new(builder(10).build(TaskId::new(0, 0)).unwrap());
    let store = boxed
        .as_versioned_key_value_store::<String, String>()
        .unwrap();
    store.put(&s("k"), Some(&s("v")), 1).unwrap();
    assert_eq!(store.get(&s("k")).unwrap().unwrap().value, "v");
    assert!(boxed.as_versioned_key_value_store::<String, i64>().is_err());
    assert!(boxed.as_key_value_store::<String, String>().is_err());
}
