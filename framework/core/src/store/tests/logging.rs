use super::{b, delete, put};
use crate::store::{
    ChangeLoggingLayer, ChangelogEntry, InMemoryBytesStore, KeyValueBytesStore, WriteBatch,
};

fn entry(key: &str, value: Option<&str>) -> ChangelogEntry {
    ChangelogEntry {
        key: b(key),
        value: value.map(b),
    }
}

#[test]
fn every_write_is_logged_in_order_with_tombstones() {
    let mut store = ChangeLoggingLayer::new(Box::new(InMemoryBytesStore::new("l")));
    put(&mut store, "a", "1");
    put(&mut store, "a", "2");
    delete(&mut store, "a");
    let mut batch = WriteBatch::new();
    batch.put(b("b"), b("1")).delete(b("c"));
    store.write(batch).unwrap();
    assert_eq!(store.pending(), 5);
    assert_eq!(
        store.take_changelog(),
        [
            entry("a", Some("1")),
            entry("a", Some("2")),
            entry("a", None),
            entry("b", Some("1")),
            entry("c", None),
        ]
    );
    assert!(store.take_changelog().is_empty());
    assert_eq!(store.get(b"b").unwrap(), Some(b("1")));
    assert_eq!(store.get(b"a").unwrap(), None);
}

#[test]
fn restored_and_refused_writes_are_not_logged() {
    let mut store = ChangeLoggingLayer::new(Box::new(InMemoryBytesStore::new("l")));
    let mut batch = WriteBatch::new();
    batch.put(b("a"), b("1")).set_offset(0);
    store.restore(batch).unwrap();
    assert_eq!(store.committed_offset().unwrap(), Some(0));
    assert!(store.take_changelog().is_empty());
    store.close().unwrap();
    let mut batch = WriteBatch::new();
    batch.put(b("b"), b("1"));
    assert!(store.write(batch).is_err());
    assert!(store.take_changelog().is_empty());
}
