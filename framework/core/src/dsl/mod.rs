//! The Streams DSL: build a topology from streams and their operators.
//!
//! ```
//! use weir_core::dsl::StreamsBuilder;
//! use weir_core::topology::{Consumed, Produced};
//! use weir_core::Serdes;
//!
//! let builder = StreamsBuilder::new();
//! builder
//!     .stream("readings", Consumed::with(Serdes::string(), Serdes::f64()))
//!     .filter(|_device, celsius| *celsius > 80.0)
//!     .named("too-hot")
//!     .map_values(|celsius| format!("{celsius:.1} C"))
//!     .to("alerts", Produced::with(Serdes::string(), Serdes::string()));
//! let topology = builder.build()?;
//! assert!(topology.describe().to_string().contains("Processor: too-hot"));
//! # Ok::<(), weir_core::Error>(())
//! ```
//!
//! ## Names
//! Every operator gets a generated name in Kafka Streams' style
//! (`KSTREAM-FILTER-0000000001`); call `.named("...")` on the stream (or on the
//! [`Terminal`] that `to` and `foreach` return) to give the node a stable name
//! of your own. Internal topics always carry a name you give
//! ([`Repartitioned::as_`]), since a generated one would change with the
//! topology and orphan data.
//!
//! ## Null values
//! Closures see `&V`, not `Option<&V>`. A record whose value is null (a
//! tombstone) never reaches a closure: `filter`, `filter_not`, `map`,
//! `flat_map`, `flat_map_values` and `select_key` drop it; `map_values` forwards
//! it as a null of the new type; `peek` forwards it without calling the closure;
//! `foreach` ignores it; `split` sends it to the default branch.
//!
//! ## Tables and aggregations
//! A [`KTable`] holds the latest value of each key. Its nodes forward
//! [`Change`]s (new value and old value), so aggregations over a table can
//! retract what a key contributed before. Every store is named by you
//! through [`Materialized::as_`], every repartition topic through
//! [`Grouped::as_`]; two stores with one name fail the build.
//!
//! - [`StreamsBuilder::table`] and [`KStream::to_table`] materialize upserts
//!   (a null value deletes the key); [`KTable::filter`], `filter_not` and
//!   `map_values` derive tables; [`KTable::to_stream`] gives the new values
//!   (deletes as tombstones).
//! - [`KStream::group_by_key`] never repartitions (repartition first if you
//!   changed the key); [`KStream::group_by`] re-keys through
//!   `<application.id>-<name>-repartition`. [`KGroupedStream`] has `count`,
//!   `reduce` and `aggregate`.
//! - [`KTable::group_by`] sends each update through the repartition topic as
//!   a framed `(old, new)` pair, or as a retraction to the old group and an
//!   addition to the new one when the group changes; [`KGroupedTable`]'s
//!   `count`, `reduce` and `aggregate` subtract the old value, then add the
//!   new one.
//! - With a cache on the store, updates are folded per key and forwarded on
//!   commit (see [`KTable`]); without one, every update is forwarded.
//!
//! ```
//! use weir_core::dsl::{Grouped, Materialized, StreamsBuilder};
//! use weir_core::topology::{Consumed, Produced};
//! use weir_core::Serdes;
//!
//! let builder = StreamsBuilder::new();
//! builder
//!     .table(
//!         "user-regions",
//!         Consumed::with(Serdes::string(), Serdes::string()),
//!         Materialized::as_("user-regions", Serdes::string(), Serdes::string()),
//!     )
//!     .group_by(
//!         |user, region| (region, user.clone()),
//!         Grouped::as_("users-by-region", Serdes::string(), Serdes::string()),
//!     )
//!     .count(Materialized::as_("users-per-region", Serdes::string(), Serdes::i64()))
//!     .to("region-counts", Produced::with(Serdes::string(), Serdes::i64()));
//! let topology = builder.build()?;
//! assert!(topology.describe().to_string().contains("(stores: [users-per-region])"));
//! # Ok::<(), weir_core::Error>(())
//! ```

mod change;
mod global;
mod global_join;
mod grouped;
mod join;
mod kstream;
mod ktable;
mod materialized;
mod ops;
mod split;
mod suppress;
mod table_ops;
mod versioned_table;
mod window;

use std::cell::RefCell;
use std::rc::Rc;

pub use change::Change;
pub use global::GlobalKTable;
pub use grouped::{KGroupedStream, KGroupedTable};
pub use join::ForeignKeyJoined;
pub use join::{JoinWindows, Joined, StreamJoined};
pub use kstream::{KStream, Repartitioned, Terminal};
pub use ktable::KTable;
pub use materialized::{Grouped, Materialized};
pub use split::{BranchedKStream, Branches};
pub use suppress::{BufferConfig, BufferFullStrategy, Suppressed};
pub use window::{
    EmitStrategy, SessionWindowedKStream, SessionWindows, SlidingWindows, TimeWindowedKStream,
    TimeWindows, WindowedBy, LATE_CLOSE_TIME, LATE_GRACE_MS, LATE_STREAM_TIME, LATE_WINDOW_END,
    LATE_WINDOW_START,
};

use crate::error::Result;
use crate::processor::Data;
use crate::store::StoreSupplier;
use crate::topology::{Consumed, TopicName, Topology, TopologyBuilder};

pub(crate) struct Inner {
    pub(crate) topology: TopologyBuilder,
    counter: u32,
}

impl Inner {
    /// A fresh generated name, `<prefix>-<10-digit counter>` as in Kafka Streams.
    pub(crate) fn next_name(&mut self, prefix: &str) -> String {
        let name = format!("{prefix}-{:010}", self.counter);
        self.counter += 1;
        name
    }
}

pub(crate) type Shared = Rc<RefCell<Inner>>;

/// Topics a source reads: one name, or several, in any string form.
///
/// One topic: `&str`, `String` or `&String`. Several: an array, slice or
/// `Vec` (or a reference to one) of any of `&str`, `String`, `&String`.
/// Sinks ([`KStream::to`], [`KTable::to`]) and [`StreamsBuilder::table`]
/// take one topic as any `impl AsRef<str>`.
///
/// ```
/// use weir_core::dsl::StreamsBuilder;
/// use weir_core::topology::{Consumed, Produced};
/// use weir_core::Serdes;
///
/// // Topic names that come from configuration are `String`s.
/// let input: String = format!("{}-input", "orders");
/// let output: String = "orders-output".to_string();
/// let many: Vec<String> = vec!["a".into(), "b".into()];
/// let produced = || Produced::with(Serdes::string(), Serdes::string());
///
/// let builder = StreamsBuilder::new();
/// let consumed = || Consumed::with(Serdes::string(), Serdes::string());
/// builder.stream(&input, consumed()).to(&output, produced());
/// builder.stream(&many, consumed()).to(output.clone(), produced());
/// builder.stream(input.clone() + "-2", consumed()).to("c", produced());
/// builder.stream(["d", "e"], consumed());
/// builder.stream(&["f".to_string()], consumed());
/// builder.stream(vec!["g"], consumed());
/// let topology = builder.build()?;
/// let description = topology.describe().to_string();
/// for topic in ["orders-input", "orders-input-2", "a", "b", "d", "e", "f", "g"] {
///     assert!(description.contains(topic), "{description}");
/// }
/// # Ok::<(), weir_core::Error>(())
/// ```
pub trait Topics {
    /// The topic names.
    fn into_topics(self) -> Vec<String>;
}

impl Topics for &str {
    fn into_topics(self) -> Vec<String> {
        vec![self.to_owned()]
    }
}

impl Topics for String {
    fn into_topics(self) -> Vec<String> {
        vec![self]
    }
}

impl Topics for &String {
    fn into_topics(self) -> Vec<String> {
        vec![self.clone()]
    }
}

fn names<S: AsRef<str>>(topics: impl IntoIterator<Item = S>) -> Vec<String> {
    topics.into_iter().map(|t| t.as_ref().to_owned()).collect()
}

impl<S: AsRef<str>> Topics for &[S] {
    fn into_topics(self) -> Vec<String> {
        names(self)
    }
}

impl<S: AsRef<str>, const N: usize> Topics for [S; N] {
    fn into_topics(self) -> Vec<String> {
        names(self)
    }
}

impl<S: AsRef<str>, const N: usize> Topics for &[S; N] {
    fn into_topics(self) -> Vec<String> {
        names(self)
    }
}

impl<S: AsRef<str>> Topics for Vec<S> {
    fn into_topics(self) -> Vec<String> {
        names(self)
    }
}

impl<S: AsRef<str>> Topics for &Vec<S> {
    fn into_topics(self) -> Vec<String> {
        names(self)
    }
}

/// Builds a topology with the DSL (Kafka Streams' `StreamsBuilder`). Streams
/// made from it share it; call [`build`](Self::build) once they are all wired.
#[derive(Clone)]
pub struct StreamsBuilder {
    inner: Shared,
}

impl Default for StreamsBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl StreamsBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        StreamsBuilder {
            inner: Rc::new(RefCell::new(Inner {
                topology: TopologyBuilder::new(),
                counter: 0,
            })),
        }
    }

    /// A stream of the records in `topics`, read with `consumed`'s serdes and
    /// timestamp extractor.
    pub fn stream<K: Data, V: Data>(
        &self,
        topics: impl Topics,
        consumed: Consumed<K, V>,
    ) -> KStream<K, V> {
        let topics = topics
            .into_topics()
            .into_iter()
            .map(TopicName::user)
            .collect();
        self.source(topics, consumed)
    }

    pub(crate) fn source<K: Data, V: Data>(
        &self,
        topics: Vec<TopicName>,
        consumed: Consumed<K, V>,
    ) -> KStream<K, V> {
        let mut inner = self.inner.borrow_mut();
        let name = match &consumed.name {
            Some(n) => n.clone(),
            None => inner.next_name("KSTREAM-SOURCE"),
        };
        inner.topology.add_source_topics(&name, topics, consumed);
        drop(inner);
        KStream::new(self.inner.clone(), name)
    }

    /// A table of the records in `topic`, read with `consumed` and kept in
    /// the store `materialized` names: each record upserts its key, a null
    /// value (tombstone) deletes it, records without a key are dropped. The
    /// table forwards each update as a [`Change`] of new and old value.
    pub fn table<K: Data, V: Data>(
        &self,
        topic: impl AsRef<str>,
        consumed: Consumed<K, V>,
        materialized: Materialized<K, V>,
    ) -> KTable<K, V> {
        let source = self.source(vec![TopicName::user(topic.as_ref())], consumed);
        ktable::materialize(
            &self.inner,
            source.node_name(),
            "KTABLE-SOURCE",
            materialized,
        )
    }

    /// Adds a state store for processors added with [`KStream::process`] to use.
    pub fn add_state_store(&self, name: &str, supplier: StoreSupplier) -> &Self {
        self.inner
            .borrow_mut()
            .topology
            .add_state_store(name, supplier, &[]);
        self
    }

    /// Adds the key-value store `builder` describes, for processors added
    /// with [`KStream::process`] to use; with logging on, the runtime writes
    /// it to `<application.id>-<store>-changelog` and restores it from there.
    pub fn add_key_value_store<K: 'static, V: 'static>(
        &self,
        builder: &crate::store::KeyValueStoreBuilder<K, V>,
    ) -> &Self {
        self.inner
            .borrow_mut()
            .topology
            .add_key_value_store(builder, &[]);
        self
    }

    /// Validates and returns the topology. Errors name the node at fault.
    pub fn build(self) -> Result<Topology> {
        let inner = match Rc::try_unwrap(self.inner) {
            Ok(cell) => cell.into_inner(),
            // Streams still alive hold the builder too: build from a copy of its state.
            Err(shared) => {
                let mut guard = shared.borrow_mut();
                Inner {
                    topology: std::mem::take(&mut guard.topology),
                    counter: guard.counter,
                }
            }
        };
        inner.topology.build()
    }
}
