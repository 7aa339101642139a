//! [`GlobalKTable`]: a table replicated in full on every application
//! instance, fed by every partition of its topic (Kafka Streams'
//! `GlobalKTable`), and [`StreamsBuilder::global_table`] that declares one.
//! Streams join it with `KStream::join_global` and `left_join_global`.

use std::marker::PhantomData;
use std::sync::Arc;

use crate::dsl::{Materialized, StreamsBuilder};
use crate::processor::Data;
use crate::store::KeyValueStoreBuilder;
use crate::topology::{Consumed, GlobalStoreFactory, TypedGlobalStore, TypedSource};

/// A table of keys `K` to values `V` held in full by every instance of the
/// application (Kafka Streams' `GlobalKTable`).
///
/// - Its store is fed by every partition of its topic, whatever partitions
///   the instance's tasks read, so a stream joins it without being
///   co-partitioned with it, on any key it computes from its records.
/// - It belongs to no task and has no changelog: the topic is its
///   changelog. Before the application turns Running, the runtime's global
///   thread reads every partition of the topic to its end (the bootstrap;
///   `read_committed`), then keeps applying new records while the
///   application runs. A persistent store resumes from the offsets it
///   checkpointed; an in-memory one reads the topic from the beginning.
/// - Processors only read it; a write through it fails.
/// - Each record upserts its key with its value and timestamp; a null value
///   deletes the key; a record without a key is skipped.
///
/// ```
/// use weir_core::dsl::{Materialized, StreamsBuilder};
/// use weir_core::topology::{Consumed, Produced};
/// use weir_core::Serdes;
///
/// let builder = StreamsBuilder::new();
/// let regions = builder.global_table(
///     "user-regions",
///     Consumed::with(Serdes::string(), Serdes::string()),
///     Materialized::as_("user-regions", Serdes::string(), Serdes::string()),
/// );
/// builder
///     .stream("clicks", Consumed::with(Serdes::string(), Serdes::string()))
///     .left_join_global(
///         &regions,
///         |user, _page| user.cloned(),
///         |page, region| format!("{page} from {}", region.map_or("nowhere", String::as_str)),
///     )
///     .to("clicks-by-region", Produced::with(Serdes::string(), Serdes::string()));
/// let description = builder.build()?.describe().to_string();
/// assert!(description.contains("for global store (will not generate tasks)"));
/// # Ok::<(), weir_core::Error>(())
/// ```
pub struct GlobalKTable<K, V> {
    store: String,
    topic: String,
    _types: PhantomData<fn() -> (K, V)>,
}

impl<K, V> Clone for GlobalKTable<K, V> {
    fn clone(&self) -> Self {
        GlobalKTable {
            store: self.store.clone(),
            topic: self.topic.clone(),
            _types: PhantomData,
        }
    }
}

impl<K, V> std::fmt::Debug for GlobalKTable<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GlobalKTable")
            .field("store", &self.store)
            .field("topic", &self.topic)
            .finish()
    }
}

impl<K, V> GlobalKTable<K, V> {
    /// The name of its store (Kafka Streams' `queryableStoreName`): read it
    /// from any processor with `ctx.key_value_store::<K, V>(name)`, or from
    /// the test driver with `key_value_store`.
    pub fn store_name(&self) -> &str {
        &self.store
    }

    /// The topic that feeds it.
    pub fn topic(&self) -> &str {
        &self.topic
    }
}

impl StreamsBuilder {
    /// A [`GlobalKTable`] of `topic`, every partition of it, read with
    /// `consumed` (serdes, timestamp extractor; its name, if given, names
    /// the update node and, suffixed `-table-source`, the source node) and
    /// kept in the store `materialized` names. The store is never logged
    /// (the topic is its changelog) nor cached: `materialized`'s logging and
    /// caching are ignored; its backend (persistent by default, or
    /// `in_memory()`) is kept.
    pub fn global_table<K: Data, V: Data>(
        &self,
        topic: impl AsRef<str>,
        consumed: Consumed<K, V>,
        materialized: Materialized<K, V>,
    ) -> GlobalKTable<K, V> {
        let topic = topic.as_ref().to_string();
        let store = materialized.name().to_string();
        let mut inner = self.inner.borrow_mut();
        let (source, processor) = match &consumed.name {
            Some(name) => (format!("{name}-table-source"), name.clone()),
            None => (
                inner.next_name("KSTREAM-SOURCE"),
                inner.next_name("KTABLE-SOURCE"),
            ),
        };
        let builder: KeyValueStoreBuilder<K, V> = materialized
            .with_logging(false)
            .with_caching(false)
            .into_store_builder();
        let factory: GlobalStoreFactory = {
            let topic = topic.clone();
            let consumed = consumed.clone();
            Arc::new(move |ctx| {
                let (key_serde, value_serde) = builder.serdes();
                Ok(Box::new(TypedGlobalStore::new(
                    builder.name(),
                    &topic,
                    builder.build_stack(ctx)?,
                    TypedSource(consumed.clone()),
                    key_serde,
                    value_serde,
                )) as _)
            })
        };
        inner
            .topology
            .add_global_store(&store, &topic, &source, &processor, factory);
        GlobalKTable {
            store,
            topic,
            _types: PhantomData,
        }
    }
}
