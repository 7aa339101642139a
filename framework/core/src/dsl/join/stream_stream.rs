//! Stream-stream joins: [`KStream::join`], [`KStream::left_join`] and
//! [`KStream::outer_join`] within [`JoinWindows`], configured by
//! [`StreamJoined`] (Kafka Streams' `KStreamImplJoin`).

use std::marker::PhantomData;
use std::sync::Arc;

use super::stream_stream_outer::{OuterKey, OuterKeySerde, Side, SideListSerde};
use super::stream_stream_proc::{JoinFn, JoinSide, JoinThese, JoinWindow, SharedTrackers};
use super::windows::JoinWindows;
use crate::dsl::KStream;
use crate::processor::Data;
use crate::serde::SharedSerde;
use crate::store::{KeyValueStoreBuilder, WindowStoreBuilder};

/// The serdes, names and store options of a stream-stream join (Kafka
/// Streams' `StreamJoined`).
///
/// - Serdes: the key's, this (left) stream's values and the other (right)
///   stream's values, for the join's stores.
/// - [`with_name`](Self::with_name) names the join's nodes
///   (`<name>-this-windowed`, `<name>-other-windowed`, `<name>-this-join`
///   or `-outer-this-join`, `<name>-other-join` or `-outer-other-join`,
///   `<name>-merge`); without it they get generated names
///   (`KSTREAM-WINDOWED-…`, `KSTREAM-JOINTHIS-…` / `KSTREAM-OUTERTHIS-…`,
///   `KSTREAM-JOINOTHER-…` / `KSTREAM-OUTEROTHER-…`, `KSTREAM-MERGE-…`).
/// - [`with_store_name`](Self::with_store_name) names the stores:
///   `<store>-this-join-store` (`-outer-this-join-store` for an outer join),
///   `<store>-other-join-store` (`-outer-other-join-store` for a left or outer
///   join), and for a left / outer join the shared store
///   `<store>-left-shared-join-store` / `<store>-outer-shared-join-store`.
///   Without it the stores take the generated names of the join nodes
///   (`KSTREAM-JOINTHIS-0000000003-store`, …, `KSTREAM-OUTERSHARED-0000000003-store`),
///   which change when the topology does: give a store name to keep a
///   changelog across topology changes.
/// - The stores are logged (to `<application.id>-<store>-changelog`) unless
///   [`with_logging(false)`](Self::with_logging); never cached.
///
/// ```
/// use weir_core::dsl::StreamJoined;
/// use weir_core::Serdes;
///
/// let joined = StreamJoined::with(Serdes::string(), Serdes::string(), Serdes::i64())
///     .with_name("clicks-with-views")
///     .with_store_name("clicks-views");
/// assert_eq!(joined.name(), Some("clicks-with-views"));
/// assert_eq!(joined.store_name(), Some("clicks-views"));
/// ```
pub struct StreamJoined<K, V, VO> {
    key_serde: SharedSerde<K>,
    value_serde: SharedSerde<V>,
    other_value_serde: SharedSerde<VO>,
    name: Option<String>,
    store_name: Option<String>,
    logging: bool,
    in_memory: bool,
}

impl<K, V, VO> Clone for StreamJoined<K, V, VO> {
    fn clone(&self) -> Self {
        StreamJoined {
            key_serde: self.key_serde.clone(),
            value_serde: self.value_serde.clone(),
            other_value_serde: self.other_value_serde.clone(),
            name: self.name.clone(),
            store_name: self.store_name.clone(),
            logging: self.logging,
            in_memory: self.in_memory,
        }
    }
}

impl<K, V, VO> std::fmt::Debug for StreamJoined<K, V, VO> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamJoined")
            .field("name", &self.name)
            .field("store_name", &self.store_name)
            .field("logging", &self.logging)
            .field("in_memory", &self.in_memory)
            .finish()
    }
}

impl<K: 'static, V: 'static, VO: 'static> StreamJoined<K, V, VO> {
    /// A join whose stores use these serdes: the key's, this stream's
    /// values' and the other stream's values'.
    pub fn with(
        key_serde: SharedSerde<K>,
        value_serde: SharedSerde<V>,
        other_value_serde: SharedSerde<VO>,
    ) -> Self {
        StreamJoined {
            key_serde,
            value_serde,
            other_value_serde,
            name: None,
            store_name: None,
            logging: true,
            in_memory: false,
        }
    }

    /// Names the join's nodes after `name` (see the type's docs).
    pub fn with_name(mut self, name: &str) -> Self {
        self.name = Some(name.to_string());
        self
    }

    /// Names the join's stores after `store_name` (see the type's docs).
    pub fn with_store_name(mut self, store_name: &str) -> Self {
        self.store_name = Some(store_name.to_string());
        self
    }

    /// Turns change-logging of the join's stores on (the default) or off.
    pub fn with_logging(mut self, enabled: bool) -> Self {
        self.logging = enabled;
        self
    }

    /// Keeps the join's stores in memory instead of the runtime's default
    /// backend (RocksDB under `state.dir`); they are restored from their
    /// changelogs at every start.
    pub fn in_memory(mut self) -> Self {
        self.in_memory = true;
        self
    }

    /// The name given with [`with_name`](Self::with_name).
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The store name given with [`with_store_name`](Self::with_store_name).
    pub fn store_name(&self) -> Option<&str> {
        self.store_name.as_deref()
    }

    /// Whether the stores are logged.
    pub fn logging_enabled(&self) -> bool {
        self.logging
    }

    fn kv_builder<KS: 'static, VS: 'static>(
        &self,
        name: String,
        key_serde: SharedSerde<KS>,
        value_serde: SharedSerde<VS>,
    ) -> KeyValueStoreBuilder<KS, VS> {
        let builder = KeyValueStoreBuilder::new(name, key_serde, value_serde)
            .with_logging(self.logging)
            .with_caching(false);
        if self.in_memory {
            builder.in_memory()
        } else {
            builder
        }
    }
}

/// The names of a join's nodes and stores, as Kafka Streams gives them.
struct Names {
    this_windowed: String,
    other_windowed: String,
    join_this: String,
    join_other: String,
    merge: String,
    this_store: String,
    other_store: String,
    outer_store: Option<String>,
}

impl<K: Data, V: Data> KStream<K, V> {
    /// Joins this stream with `other` by key within `windows` (Kafka
    /// Streams' `KStream#join(KStream, ValueJoiner, JoinWindows,
    /// StreamJoined)`): a record of this stream at `ts` joins every record
    /// of `other` with the same key and a timestamp in
    /// `[ts - before, ts + after]` (and a record of `other` at `ts` those of
    /// this stream in `[ts - after, ts + before]`), whichever arrives
    /// second triggering the result `joiner(this, other)`, with the later
    /// of the two timestamps.
    ///
    /// - Records with a null key or a null value join nothing: they are
    ///   dropped and counted in the task's `dropped-records`.
    /// - Each side keeps its records, duplicates included, in a window
    ///   store for `before + after + grace`; a record older than that
    ///   (by the stream time its store has seen) is not kept, and counts
    ///   as dropped.
    /// - Records of both sides must be co-partitioned (same key, same
    ///   number of partitions).
    ///
    /// ```
    /// use std::time::Duration;
    /// use weir_core::dsl::{JoinWindows, StreamJoined, StreamsBuilder};
    /// use weir_core::topology::{Consumed, Produced};
    /// use weir_core::Serdes;
    ///
    /// let builder = StreamsBuilder::new();
    /// let views = builder.stream("views", Consumed::with(Serdes::string(), Serdes::string()));
    /// let clicks = builder.stream("clicks", Consumed::with(Serdes::string(), Serdes::i64()));
    /// views
    ///     .join(
    ///         &clicks,
    ///         |page: &String, position: &i64| format!("{page} clicked at {position}"),
    ///         JoinWindows::of_time_difference_and_grace(Duration::from_secs(60), Duration::from_secs(5)),
    ///         StreamJoined::with(Serdes::string(), Serdes::string(), Serdes::i64())
    ///             .with_store_name("views-clicks"),
    ///     )
    ///     .to("views-clicked", Produced::with(Serdes::string(), Serdes::string()));
    /// let topology = builder.build()?;
    /// let description = topology.describe().to_string();
    /// assert!(description.contains("views-clicks-this-join-store"), "{description}");
    /// assert!(description.contains("views-clicks-other-join-store"), "{description}");
    /// # Ok::<(), weir_core::Error>(())
    /// ```
    pub fn join<VO: Data, VR: Data>(
        &self,
        other: &KStream<K, VO>,
        joiner: impl Fn(&V, &VO) -> VR + Send + Sync + 'static,
        windows: JoinWindows,
        joined: StreamJoined<K, V, VO>,
    ) -> KStream<K, VR> {
        self.stream_join(
            other,
            JoinFn::Inner(Arc::new(joiner)),
            windows,
            joined,
            (false, false),
        )
    }

    /// Left-joins this stream with `other` within `windows` (Kafka
    /// Streams' `KStream#leftJoin(KStream, …)`): as [`join`](Self::join),
    /// and a record of this stream that joins nothing is forwarded as
    /// `joiner(this, None)` at its own timestamp, once its window has
    /// closed (stream time past `ts + after + grace`), never early: until
    /// then it waits in the store both sides share, and a record of `other`
    /// that arrives in time joins it instead.
    ///
    /// - A record of this stream without a key is forwarded at once as
    ///   `joiner(this, None)` with no key (KIP-962); one of `other`
    ///   without a key, or any record with a null value, is dropped.
    /// - A record whose window has closed already when it arrives (it is
    ///   out of order by more than `after`) and that joins nothing is
    ///   forwarded at once.
    pub fn left_join<VO: Data, VR: Data>(
        &self,
        other: &KStream<K, VO>,
        joiner: impl Fn(&V, Option<&VO>) -> VR + Send + Sync + 'static,
        windows: JoinWindows,
        joined: StreamJoined<K, V, VO>,
    ) -> KStream<K, VR> {
        self.stream_join(
            other,
            JoinFn::Left(Arc::new(joiner)),
            windows,
            joined,
            (true, false),
        )
    }

    /// Outer-joins this stream with `other` within `windows` (Kafka
    /// Streams' `KStream#outerJoin(KStream, …)`): as
    /// [`left_join`](Self::left_join), for both sides: a record of either
    /// stream that joins nothing is forwarded as `joiner(Some(this), None)`
    /// or `joiner(None, Some(other))` once its window has closed (a record
    /// of `other` at `ts` waits for `ts + before + grace`). Records without
    /// a key, from either side, are forwarded at once, joined with `None`.
    pub fn outer_join<VO: Data, VR: Data>(
        &self,
        other: &KStream<K, VO>,
        joiner: impl Fn(Option<&V>, Option<&VO>) -> VR + Send + Sync + 'static,
        windows: JoinWindows,
        joined: StreamJoined<K, V, VO>,
    ) -> KStream<K, VR> {
        self.stream_join(
            other,
            JoinFn::Outer(Arc::new(joiner)),
            windows,
            joined,
            (true, true),
        )
    }

    fn stream_join<VO: Data, VR: Data>(
        &self,
        other: &KStream<K, VO>,
        joiner: JoinFn<V, VO, VR>,
        windows: JoinWindows,
        joined: StreamJoined<K, V, VO>,
        (left_outer, right_outer): (bool, bool),
    ) -> KStream<K, VR> {
        let this_input = joined
            .name
            .as_ref()
            .map_or_else(|| self.node_name().to_string(), |n| format!("{n}-left"));
        let this = self.for_join(
            &this_input,
            Some(joined.key_serde.clone()),
            Some(joined.value_serde.clone()),
        );
        let other_input = joined
            .name
            .as_ref()
            .map_or_else(|| other.node_name().to_string(), |n| format!("{n}-right"));
        let other = other.for_join(
            &other_input,
            Some(joined.key_serde.clone()),
            Some(joined.other_value_serde.clone()),
        );
        let inner = self.shared().clone();
        let mut b = inner.borrow_mut();
        if let Err(e) = windows.validate() {
            b.topology.problems.push(e.to_string());
        }
        let names = {
            let named = |suffix: &str| joined.name.as_ref().map(|n| format!("{n}{suffix}"));
            let this_windowed =
                named("-this-windowed").unwrap_or_else(|| b.next_name("KSTREAM-WINDOWED"));
            let other_windowed =
                named("-other-windowed").unwrap_or_else(|| b.next_name("KSTREAM-WINDOWED"));
            let this_prefix = if right_outer {
                "KSTREAM-OUTERTHIS"
            } else {
                "KSTREAM-JOINTHIS"
            };
            let this_generated = b.next_name(this_prefix);
            let other_generated = b.next_name(if left_outer {
                "KSTREAM-OUTEROTHER"
            } else {
                "KSTREAM-JOINOTHER"
            });
            let this_suffix = if right_outer {
                "-outer-this-join"
            } else {
                "-this-join"
            };
            let other_suffix = if left_outer {
                "-outer-other-join"
            } else {
                "-other-join"
            };
            let merge = named("-merge").unwrap_or_else(|| b.next_name("KSTREAM-MERGE"));
            let store = |suffix: &str, generated: &str| match &joined.store_name {
                Some(s) => format!("{s}{suffix}-store"),
                None => format!("{generated}-store"),
            };
            let shared_suffix = if right_outer {
                "-outer-shared-join"
            } else {
                "-left-shared-join"
            };
            let counter = this_generated.get(this_prefix.len()..).unwrap_or_default();
            Names {
                join_this: named(this_suffix).unwrap_or_else(|| this_generated.clone()),
                join_other: named(other_suffix).unwrap_or_else(|| other_generated.clone()),
                this_store: store(this_suffix, &this_generated),
                other_store: store(other_suffix, &other_generated),
                outer_store: left_outer
                    .then(|| store(shared_suffix, &format!("KSTREAM-OUTERSHARED{counter}"))),
                this_windowed,
                other_windowed,
                merge,
            }
        };
        let (retention, size) = (windows.retention_ms(), windows.size_ms());
        let this_store = WindowStoreBuilder::from_key_value(
            joined.kv_builder(
                names.this_store.clone(),
                joined.key_serde.clone(),
                joined.value_serde.clone(),
            ),
            retention,
            size,
            true,
        );
        let other_store = WindowStoreBuilder::from_key_value(
            joined.kv_builder(
                names.other_store.clone(),
                joined.key_serde.clone(),
                joined.other_value_serde.clone(),
            ),
            retention,
            size,
            true,
        );
        let t = &mut b.topology;
        let this_store_name = names.this_store.clone();
        t.add_processor::<K, V, K, V>(
            &names.this_windowed,
            move || JoinWindow {
                store: this_store_name.clone(),
            },
            &[this.node_name()],
        );
        let other_store_name = names.other_store.clone();
        t.add_processor::<K, VO, K, VO>(
            &names.other_windowed,
            move || JoinWindow {
                store: other_store_name.clone(),
            },
            &[other.node_name()],
        );
        let trackers = SharedTrackers::default();
        let join_this = side::<K, V, VO, V, VO, VR>(
            true,
            left_outer,
            windows,
            &names.other_store,
            names.outer_store.clone(),
            joiner.clone(),
            |j, this, other| j.apply(this, other),
            Side::Left,
            trackers.clone(),
        );
        t.add_processor(&names.join_this, join_this, &[&names.this_windowed]);
        let join_other = side::<K, VO, V, V, VO, VR>(
            false,
            right_outer,
            windows,
            &names.this_store,
            names.outer_store.clone(),
            joiner,
            |j, this, other| j.apply(other, this),
            Side::Right,
            trackers,
        );
        t.add_processor(&names.join_other, join_other, &[&names.other_windowed]);
        t.add_pass_through::<K, VR>(&names.merge, &[&names.join_this, &names.join_other]);
        t.add_window_store(&this_store, &[&names.this_windowed, &names.join_other]);
        t.add_window_store(&other_store, &[&names.other_windowed, &names.join_this]);
        for store in [&names.this_store, &names.other_store] {
            // The stores keep duplicates: compaction would drop them.
            if let Some(def) = t.stores.iter_mut().rev().find(|s| &s.name == store) {
                def.changelog_configs
                    .insert("cleanup.policy".to_string(), "delete".to_string());
            }
        }
        if let Some(outer) = &names.outer_store {
            let shared = joined.kv_builder::<OuterKey<K>, Vec<Side<V, VO>>>(
                outer.clone(),
                Arc::new(OuterKeySerde(joined.key_serde.clone())),
                Arc::new(SideListSerde {
                    left: joined.value_serde.clone(),
                    right: joined.other_value_serde.clone(),
                }),
            );
            t.add_key_value_store(&shared, &[&names.join_this, &names.join_other]);
        }
        drop(b);
        KStream::new(inner, names.merge)
    }
}

/// A supplier of one side's join node.
#[allow(clippy::too_many_arguments)]
fn side<K: Data, VT: Data, VO: Data, V1: Data, V2: Data, VR: Data>(
    left: bool,
    outer: bool,
    windows: JoinWindows,
    other_store: &str,
    outer_store: Option<String>,
    joiner: JoinFn<V1, V2, VR>,
    join: JoinThese<VT, VO, V1, V2, VR>,
    to_side: fn(VT) -> Side<V1, V2>,
    trackers: SharedTrackers,
) -> impl Fn() -> JoinSide<K, VT, VO, V1, V2, VR> + Send + Sync + 'static {
    let other_store = other_store.to_string();
    move || JoinSide {
        left,
        outer,
        windows,
        other_store: other_store.clone(),
        outer_store: outer_store.clone(),
        joiner: joiner.clone(),
        join,
        to_side,
        trackers: trackers.clone(),
        tracker: None,
        primed: false,
        matches: Vec::new(),
        _types: PhantomData,
    }
}
