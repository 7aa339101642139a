use super::{b, delete, pairs, put, strings};
use crate::store::{InMemoryBytesStore, KeyValueBytesStore, WriteBatch};
use crate::Error;

fn fruit() -> InMemoryBytesStore {
    let mut store = InMemoryBytesStore::new("fruit");
    for (k, v) in [
        ("apple", "1"),
        ("banana", "2"),
        ("cherry", "3"),
        ("date", "4"),
    ] {
        put(&mut store, k, v);
    }
    store
}

#[test]
fn get_put_delete() {
    let mut store = fruit();
    assert_eq!(store.get(b"apple").unwrap(), Some(b("1")));
    assert_eq!(store.get(b"fig").unwrap(), None);
    put(&mut store, "apple", "9");
    assert_eq!(store.get(b"apple").unwrap(), Some(b("9")));
    delete(&mut store, "apple");
    assert_eq!(store.get(b"apple").unwrap(), None);
    delete(&mut store, "never-there");
    assert_eq!(store.approximate_count().unwrap(), 3);
    assert!(!store.persistent());
    assert_eq!(store.name(), "fruit");
}

#[test]
fn range_is_inclusive_at_both_ends() {
    let store = fruit();
    let got = strings(
        store
            .range(Some(b"banana"), Some(b"cherry"), false)
            .unwrap(),
    );
    assert_eq!(got, pairs(&[("banana", "2"), ("cherry", "3")]));
    let got = strings(store.range(Some(b"b"), Some(b"c"), false).unwrap());
    assert_eq!(got, pairs(&[("banana", "2")]));
    let got = strings(store.range(None, Some(b"banana"), false).unwrap());
    assert_eq!(got, pairs(&[("apple", "1"), ("banana", "2")]));
    let got = strings(store.range(Some(b"cherry"), None, false).unwrap());
    assert_eq!(got, pairs(&[("cherry", "3"), ("date", "4")]));
    let same = strings(store.range(Some(b"date"), Some(b"date"), false).unwrap());
    assert_eq!(same, pairs(&[("date", "4")]));
}

#[test]
fn range_from_above_to_is_empty_not_a_panic() {
    let store = fruit();
    assert!(strings(store.range(Some(b"z"), Some(b"a"), false).unwrap()).is_empty());
    assert!(strings(store.range(Some(b"z"), Some(b"a"), true).unwrap()).is_empty());
}

#[test]
fn reverse_range_and_all() {
    let store = fruit();
    let got = strings(store.range(Some(b"banana"), Some(b"date"), true).unwrap());
    assert_eq!(
        got,
        pairs(&[("date", "4"), ("cherry", "3"), ("banana", "2")])
    );
    let all = strings(store.all().unwrap());
    assert_eq!(
        all,
        pairs(&[
            ("apple", "1"),
            ("banana", "2"),
            ("cherry", "3"),
            ("date", "4")
        ])
    );
    let rev = strings(store.range(None, None, true).unwrap());
    assert_eq!(rev.first().unwrap().0, "date");
}

#[test]
fn prefix_scan_stops_at_the_end_of_the_prefix() {
    let mut store = InMemoryBytesStore::new("users");
    for k in ["user", "user:1", "user:2", "usera", "uses", "admin"] {
        put(&mut store, k, "x");
    }
    let keys: Vec<String> = strings(store.prefix_scan(b"user:").unwrap())
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(keys, ["user:1", "user:2"]);
    assert_eq!(strings(store.prefix_scan(b"user").unwrap()).len(), 4);
    assert!(strings(store.prefix_scan(b"zzz").unwrap()).is_empty());
    // Keys with 0xff bytes, the edge of a computed upper bound.
    let mut store = InMemoryBytesStore::new("raw");
    let mut batch = WriteBatch::new();
    batch
        .put(vec![1, 0xff], b("a"))
        .put(vec![1, 0xff, 0xff], b("b"))
        .put(vec![2], b("c"));
    store.write(batch).unwrap();
    assert_eq!(store.prefix_scan(&[1, 0xff]).unwrap().count(), 2);
}

#[test]
fn batch_applies_in_order_with_its_offset() {
    let mut store = InMemoryBytesStore::new("s");
    assert_eq!(store.committed_offset().unwrap(), None);
    let mut batch = WriteBatch::new();
    batch
        .put(b("k"), b("1"))
        .put(b("k"), b("2"))
        .put(b("gone"), b("x"))
        .delete(b("gone"))
        .set_offset(10);
    store.write(batch).unwrap();
    assert_eq!(store.get(b"k").unwrap(), Some(b("2")));
    assert_eq!(store.get(b"gone").unwrap(), None);
    assert_eq!(store.committed_offset().unwrap(), Some(10));
    // A batch without an offset keeps the last one; an offset-only batch moves it.
    put(&mut store, "k", "3");
    assert_eq!(store.committed_offset().unwrap(), Some(10));
    let mut only_offset = WriteBatch::new();
    only_offset.set_offset(12);
    store.write(only_offset).unwrap();
    assert_eq!(store.committed_offset().unwrap(), Some(12));
    assert_eq!(store.approximate_count().unwrap(), 1);
}

#[test]
fn a_closed_store_refuses_calls() {
    let mut store = fruit();
    store.close().unwrap();
    let err = store.get(b"apple").unwrap_err();
    assert!(
        matches!(err, Error::Store { ref store, .. } if store == "fruit"),
        "{err}"
    );
    assert!(store.write(WriteBatch::new()).is_err());
    assert!(store.all().is_err());
    assert!(store.close().is_ok());
}
