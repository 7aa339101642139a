use super::b;
use crate::serde::Serdes;
use crate::store::{
    InMemoryBytesStore, KeyValueBytesStore, KeyValueStore, KeyValueStoreBuilder,
    MeteredKeyValueStore, ReadOnlyKeyValueStore, StateStore, WriteBatch,
};
use crate::task::TaskId;
use crate::Error;

fn s(text: &str) -> String {
    text.to_string()
}

fn counts() -> MeteredKeyValueStore<String, i64> {
    KeyValueStoreBuilder::new("counts", Serdes::string(), Serdes::i64())
        .build(TaskId::new(0, 0))
        .unwrap()
}

fn collect(iter: crate::store::KeyValueIter<'_, String, i64>) -> Vec<(String, i64)> {
    iter.collect::<Result<_, _>>().unwrap()
}

#[test]
fn typed_round_trip_through_the_serdes() {
    let mut store = counts();
    store.put(&s("apple"), &1).unwrap();
    store.put(&s("apple"), &2).unwrap();
    assert_eq!(store.get(&s("apple")).unwrap(), Some(2));
    assert_eq!(store.get(&s("pear")).unwrap(), None);
    // The bytes below are the serdes' bytes.
    assert_eq!(
        store.bytes_store().get(b"apple").unwrap(),
        Some(2i64.to_be_bytes().to_vec())
    );
}

#[test]
fn put_if_absent_and_delete_return_the_old_value() {
    let mut store = counts();
    assert_eq!(store.put_if_absent(&s("a"), &1).unwrap(), None);
    assert_eq!(store.put_if_absent(&s("a"), &5).unwrap(), Some(1));
    assert_eq!(store.get(&s("a")).unwrap(), Some(1));
    assert_eq!(store.delete(&s("a")).unwrap(), Some(1));
    assert_eq!(store.delete(&s("a")).unwrap(), None);
    assert_eq!(store.get(&s("a")).unwrap(), None);
}

#[test]
fn put_all_scans_and_counts() {
    let mut store = counts();
    store
        .put_all(&[
            (s("user:2"), Some(2)),
            (s("user:1"), Some(1)),
            (s("admin"), Some(0)),
            (s("gone"), Some(9)),
            (s("gone"), None),
            (s("users"), Some(3)),
        ])
        .unwrap();
    assert_eq!(store.approximate_num_entries().unwrap(), 4);
    let all = collect(store.all().unwrap());
    let keys: Vec<&str> = all.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["admin", "user:1", "user:2", "users"]);
    assert_eq!(
        collect(store.range(Some(&s("user:1")), Some(&s("user:2"))).unwrap()),
        [(s("user:1"), 1), (s("user:2"), 2)]
    );
    assert_eq!(
        collect(store.reverse_range(Some(&s("user:1")), None).unwrap()),
        [(s("users"), 3), (s("user:2"), 2), (s("user:1"), 1)]
    );
    assert_eq!(
        collect(store.prefix_scan(&s("user:")).unwrap()),
        [(s("user:1"), 1), (s("user:2"), 2)]
    );
    assert_eq!(collect(store.prefix_scan_bytes(b"user").unwrap()).len(), 3);
    assert_eq!(collect(store.reverse_all().unwrap())[0], (s("users"), 3));
    let m = store.metrics();
    assert_eq!((m.puts(), m.gets(), m.deletes(), m.scans()), (6, 0, 0, 6));
    store.get(&s("admin")).unwrap();
    store.delete(&s("admin")).unwrap();
    StateStore::flush(&mut store).unwrap();
    assert_eq!((m.gets(), m.deletes(), m.flushes()), (1, 1, 1));
}

#[test]
fn unreadable_bytes_are_a_store_error_not_a_panic() {
    let mut bytes = InMemoryBytesStore::new("counts");
    let mut batch = WriteBatch::new();
    batch
        .put(b("short"), vec![1, 2, 3])
        .put(vec![0xff, 0xfe], 1i64.to_be_bytes().to_vec());
    bytes.write(batch).unwrap();
    let mut store =
        MeteredKeyValueStore::new("counts", Box::new(bytes), Serdes::string(), Serdes::i64());
    let err = store.get(&s("short")).unwrap_err();
    assert!(
        matches!(err, Error::Store { ref store, .. } if store == "counts"),
        "{err}"
    );
    assert!(
        err.to_string().contains("cannot read a stored value"),
        "{err}"
    );
    assert!(store.delete(&s("short")).is_err());
    assert!(store.put_if_absent(&s("short"), &1).is_err());
    let results: Vec<_> = store.all().unwrap().collect();
    assert_eq!(results.len(), 2);
    assert!(results.iter().all(Result::is_err));
    let err = results[0].as_ref().unwrap_err().to_string();
    assert!(
        err.ends_with("value: expected 8 bytes for i64, got 3"),
        "{err}"
    );
    let err = results[1].as_ref().unwrap_err().to_string();
    assert!(err.contains("cannot read a stored key"), "{err}");
}

#[test]
fn a_key_that_serializes_to_null_is_refused() {
    let mut store = KeyValueStoreBuilder::new("units", Serdes::unit(), Serdes::i64())
        .build(TaskId::new(0, 0))
        .unwrap();
    let err = store.put(&(), &1).unwrap_err();
    assert!(matches!(err, Error::Serialization { .. }), "{err}");
    assert!(store.get(&()).is_err());
}

#[test]
fn the_built_store_is_reached_typed_through_dyn_state_store() {
    let supplier = KeyValueStoreBuilder::new("counts", Serdes::string(), Serdes::i64())
        .with_logging(true)
        .build_supplier();
    let mut boxed: Box<dyn StateStore> =
        supplier(crate::store::StoreContext::new(TaskId::new(1, 3))).unwrap();
    assert_eq!(boxed.name(), "counts");
    assert!(!boxed.persistent());
    let kv = boxed.as_key_value_store::<String, i64>().unwrap();
    kv.put(&s("a"), &1).unwrap();
    kv.delete(&s("a")).unwrap();
    let logged = boxed.take_changelog();
    assert_eq!(logged.len(), 2);
    assert_eq!(logged[1].value, None);
    let err = boxed.as_key_value_store::<String, String>().unwrap_err();
    assert!(
        err.to_string().contains("not a key-value store of"),
        "{err}"
    );
    assert!(boxed
        .downcast_mut::<MeteredKeyValueStore<String, i64>>()
        .is_some());
}

#[test]
fn builder_options_shape_the_stack() {
    let builder = KeyValueStoreBuilder::new("c", Serdes::string(), Serdes::i64());
    assert!(
        !builder.logging_enabled(),
        "off until the runtime drains changelogs"
    );
    let builder = builder.with_logging(true);
    assert!(!builder.caching_enabled());
    let mut plain = builder
        .clone()
        .with_logging(false)
        .build(TaskId::new(0, 0))
        .unwrap();
    plain.put(&s("a"), &1).unwrap();
    assert!(plain.take_changelog().is_empty());

    let with_cache = crate::store::StoreContext::new(TaskId::new(0, 0))
        .with_thread_cache(crate::store::ThreadCache::new(1 << 20));
    let mut cached = builder
        .clone()
        .with_caching(true)
        .build_in(&with_cache)
        .unwrap();
    assert!(cached.set_flush_listener(Box::new(|_| {})));
    cached.put(&s("a"), &1).unwrap();
    cached.put(&s("a"), &2).unwrap();
    assert!(cached.take_changelog().is_empty());
    StateStore::flush(&mut cached).unwrap();
    assert_eq!(cached.take_changelog().len(), 1);
    assert_eq!(cached.get(&s("a")).unwrap(), Some(2));

    // A custom bytes backend receives the task id.
    let custom = builder
        .with_bytes_supplier(std::sync::Arc::new(|task: TaskId| {
            Ok(Box::new(InMemoryBytesStore::new(format!("c-{task}")))
                as Box<dyn KeyValueBytesStore>)
        }))
        .build(TaskId::new(2, 5))
        .unwrap();
    assert_eq!(custom.bytes_store().name(), "c-2_5");
    let mut custom = custom;
    let mut batch = WriteBatch::new();
    batch.put(b("a"), 1i64.to_be_bytes().to_vec()).set_offset(8);
    StateStore::restore(&mut custom, batch).unwrap();
    assert_eq!(custom.get(&s("a")).unwrap(), Some(1));
    assert_eq!(StateStore::committed_offset(&custom).unwrap(), Some(8));
    assert!(custom.take_changelog().is_empty());
}

#[test]
fn commit_writes_held_data_and_the_offset_through_every_layer() {
    let cache = crate::store::ThreadCache::new(1 << 20);
    let ctx = crate::store::StoreContext::new(TaskId::new(0, 0))
        .with_thread_cache(cache)
        .with_exactly_once(true);
    let mut store = KeyValueStoreBuilder::new("counts", Serdes::string(), Serdes::i64())
        .with_caching(true)
        .with_logging(true)
        .build_in(&ctx)
        .unwrap();
    store.put(&s("a"), &1).unwrap();
    StateStore::flush(&mut store).unwrap(); // the cache writes down to the held writes
    assert_eq!(store.take_changelog().len(), 1);
    assert_eq!(StateStore::committed_offset(&store).unwrap(), None);
    store.put(&s("b"), &2).unwrap(); // dirty in the cache: not in the changelog yet
    StateStore::commit(&mut store, Some(0)).unwrap();
    assert_eq!(StateStore::committed_offset(&store).unwrap(), Some(0));
    assert_eq!(store.get(&s("a")).unwrap(), Some(1));
    assert_eq!(store.get(&s("b")).unwrap(), Some(2));
    // Without an offset the commit keeps the one recorded.
    StateStore::commit(&mut store, None).unwrap();
    assert_eq!(StateStore::committed_offset(&store).unwrap(), Some(0));
}
