//! The timestamped key-value store: the DSL's view of values with their
//! timestamps, and the plain facade users and the test driver read.

use crate::serde::Serdes;
use crate::store::{
    KeyValueStore, KeyValueStoreBuilder, ReadOnlyKeyValueStore, StateStore,
    TimestampedKeyValueStore, ValueAndTimestamp, NO_TIMESTAMP,
};
use crate::task::TaskId;

fn store() -> TimestampedKeyValueStore<String, i64> {
    KeyValueStoreBuilder::new("counts", Serdes::string(), Serdes::i64())
        .with_timestamps(true)
        .build_timestamped(TaskId::new(0, 0))
        .unwrap()
}

fn k(s: &str) -> String {
    s.to_string()
}

#[test]
fn stores_kafka_streams_timestamped_bytes() {
    let mut store = store();
    store
        .timestamped()
        .put(&k("a"), &ValueAndTimestamp::new(3, 42))
        .unwrap();
    let bytes = store.timestamped_ref().bytes_store().get(b"a").unwrap();
    let expected = [42i64.to_be_bytes(), 3i64.to_be_bytes()].concat();
    assert_eq!(bytes, Some(expected));
}

#[test]
fn the_plain_facade_drops_timestamps_and_writes_none() {
    let mut store = store();
    store
        .timestamped()
        .put(&k("a"), &ValueAndTimestamp::new(1, 10))
        .unwrap();
    store.put(&k("b"), &2).unwrap();
    assert_eq!(store.get(&k("a")).unwrap(), Some(1));
    assert_eq!(
        store.timestamped().get(&k("b")).unwrap(),
        Some(ValueAndTimestamp::new(2, NO_TIMESTAMP))
    );
    assert_eq!(store.put_if_absent(&k("a"), &9).unwrap(), Some(1));
    assert_eq!(store.put_if_absent(&k("c"), &3).unwrap(), None);
    store.put_all(&[(k("c"), None), (k("d"), Some(4))]).unwrap();
    let all: Vec<(String, i64)> = store.all().unwrap().map(Result::unwrap).collect();
    assert_eq!(all, [(k("a"), 1), (k("b"), 2), (k("d"), 4)]);
    let rev: Vec<(String, i64)> = store
        .reverse_range(Some(&k("b")), None)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(rev, [(k("d"), 4), (k("b"), 2)]);
    assert_eq!(store.delete(&k("a")).unwrap(), Some(1));
    assert_eq!(store.approximate_num_entries().unwrap(), 2);
}

#[test]
fn reads_as_a_plain_and_as_a_timestamped_key_value_store() {
    let builder =
        KeyValueStoreBuilder::new("counts", Serdes::string(), Serdes::i64()).with_timestamps(true);
    assert!(builder.timestamps_enabled());
    let supplier = builder.build_supplier();
    let mut boxed: Box<dyn StateStore> =
        supplier(crate::store::StoreContext::new(TaskId::new(0, 0))).unwrap();
    let store: &mut dyn StateStore = boxed.as_mut();
    store
        .as_timestamped_key_value_store::<String, i64>()
        .unwrap()
        .put(&k("a"), &ValueAndTimestamp::new(5, 7))
        .unwrap();
    assert_eq!(
        store
            .as_key_value_store::<String, i64>()
            .unwrap()
            .get(&k("a"))
            .unwrap(),
        Some(5)
    );
    assert!(store.as_key_value_store::<String, String>().is_err());
    assert!(store
        .as_timestamped_key_value_store::<String, String>()
        .is_err());

    // A plain store is not a timestamped one.
    let plain =
        KeyValueStoreBuilder::new("plain", Serdes::string(), Serdes::i64()).build_supplier();
    let mut boxed = plain(crate::store::StoreContext::new(TaskId::new(0, 0))).unwrap();
    let plain: &mut dyn StateStore = boxed.as_mut();
    assert!(plain
        .as_timestamped_key_value_store::<String, i64>()
        .is_err());
    assert!(plain.as_key_value_store::<String, i64>().is_ok());
}
