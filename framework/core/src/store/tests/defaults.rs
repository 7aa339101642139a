//! Which backend a store gets: its own choice, else the runtime's default,
//! else memory.

use std::sync::{Arc, Mutex};

use crate::dsl::{Materialized, StreamsBuilder};
use crate::serde::Serdes;
use crate::store::{
    DefaultBytesStoreSupplier, InMemoryBytesStore, KeyValueBytesStore, KeyValueStoreBuilder,
    StateStore, StoreContext,
};
use crate::task::{TaskConfig, TaskId};
use crate::topology::Consumed;

type Calls = Arc<Mutex<Vec<(TaskId, String)>>>;

/// A default backend that records what it was asked for and names each
/// store it opens `default:<store>@<task>`.
fn recording_default() -> (DefaultBytesStoreSupplier, Calls) {
    let calls: Calls = Arc::default();
    let seen = Arc::clone(&calls);
    let supplier: DefaultBytesStoreSupplier = Arc::new(move |task: TaskId, store: &str| {
        seen.lock().unwrap().push((task, store.to_string()));
        Ok(
            Box::new(InMemoryBytesStore::new(format!("default:{store}@{task}")))
                as Box<dyn KeyValueBytesStore>,
        )
    });
    (supplier, calls)
}

fn counts() -> KeyValueStoreBuilder<String, i64> {
    KeyValueStoreBuilder::new("counts", Serdes::string(), Serdes::i64())
}

#[test]
fn a_store_without_a_backend_takes_the_runtimes_default() {
    let (default, calls) = recording_default();
    let ctx = StoreContext::new(TaskId::new(1, 4)).with_default_bytes_store(default);
    let builder = counts();
    assert!(builder.uses_default_backend());
    let store = builder.build_in(&ctx).unwrap();
    assert_eq!(store.bytes_store().name(), "default:counts@1_4");
    assert_eq!(
        *calls.lock().unwrap(),
        [(TaskId::new(1, 4), "counts".to_string())]
    );
}

#[test]
fn without_a_runtime_default_the_store_is_in_memory() {
    let store = counts()
        .build_in(&StoreContext::new(TaskId::new(0, 0)))
        .unwrap();
    assert_eq!(store.bytes_store().name(), "counts");
    assert!(!StateStore::persistent(&store));
}

#[test]
fn in_memory_and_an_explicit_supplier_win_over_the_default() {
    let (default, calls) = recording_default();
    let ctx = StoreContext::new(TaskId::new(0, 2)).with_default_bytes_store(default);

    let memory = counts().in_memory();
    assert!(!memory.uses_default_backend());
    assert_eq!(
        memory.build_in(&ctx).unwrap().bytes_store().name(),
        "counts"
    );

    let explicit = counts().with_bytes_supplier(Arc::new(|task: TaskId| {
        Ok(Box::new(InMemoryBytesStore::new(format!("mine@{task}")))
            as Box<dyn KeyValueBytesStore>)
    }));
    assert_eq!(
        explicit.build_in(&ctx).unwrap().bytes_store().name(),
        "mine@0_2"
    );

    // And back to the default.
    let back = counts().in_memory().with_default_backend();
    assert_eq!(
        back.build_in(&ctx).unwrap().bytes_store().name(),
        "default:counts@0_2"
    );
    assert_eq!(calls.lock().unwrap().len(), 1);
}

#[test]
fn tasks_resolve_the_default_from_their_config() {
    let builder = StreamsBuilder::new();
    let grouped = builder
        .stream("words", Consumed::with(Serdes::string(), Serdes::string()))
        .group_by_key();
    grouped.count(Materialized::as_("counts", Serdes::string(), Serdes::i64()));
    grouped.count(Materialized::as_("mem-counts", Serdes::string(), Serdes::i64()).in_memory());
    let topology = builder.build().unwrap();

    let (default, calls) = recording_default();
    let mut config = TaskConfig::new("app");
    config.default_bytes_store = Some(default);
    let mut task = topology.create_task(TaskId::new(0, 3), config).unwrap();
    assert_eq!(
        *calls.lock().unwrap(),
        [(TaskId::new(0, 3), "counts".to_string())]
    );
    let store = task.state_store("counts").unwrap();
    let store = store.as_key_value_store::<String, i64>().unwrap();
    assert!(store.get(&"a".to_string()).unwrap().is_none());

    // Without a default (weir-core alone, the test driver): in memory.
    let mut task = topology
        .create_task(TaskId::new(0, 0), TaskConfig::new("app"))
        .unwrap();
    assert!(!task.state_store("counts").unwrap().persistent());
    assert_eq!(calls.lock().unwrap().len(), 1);
}
