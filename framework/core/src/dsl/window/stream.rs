//! [`TimeWindowedKStream`] and [`SessionWindowedKStream`]: grouped streams
//! cut into windows, and their `count`, `reduce` and `aggregate`.

use std::marker::PhantomData;
use std::sync::Arc;

use crate::dsl::grouped::KGroupedStream;
use crate::dsl::ktable::add_node;
use crate::dsl::window::emit::WindowEmit;
use crate::dsl::window::idle::IdleClose;
use crate::dsl::window::late::{LateRouter, LateSlot};
use crate::dsl::window::session::SessionWindowAggregate;
use crate::dsl::window::sliding::SlidingWindowAggregate;
use crate::dsl::window::spec::{EmitStrategy, SessionWindows, SlidingWindows, TimeWindows};
use crate::dsl::window::time::TimeWindowAggregate;
use crate::dsl::{KTable, Materialized, Shared};
use crate::processor::{Data, ProcessorSupplier};
use crate::store::{SessionStoreBuilder, TimestampedSerde, WindowStoreBuilder};
use crate::topology::{Produced, TopicName};
use crate::window::Windowed;

/// A window specification [`KGroupedStream::windowed_by`] takes, and the
/// windowed stream it gives.
pub trait WindowedBy<K, V> {
    /// The windowed stream.
    type Stream;
    /// Cuts `grouped` into these windows.
    fn windowed(self, grouped: &KGroupedStream<K, V>) -> Self::Stream;
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Time(TimeWindows),
    Sliding(SlidingWindows),
}

/// A grouped stream cut into time windows or sliding windows (Kafka
/// Streams' `TimeWindowedKStream`), ready to aggregate per key and window
/// into a `KTable<Windowed<K>, V>`.
///
/// ```
/// use std::time::Duration;
/// use weir_core::dsl::{Materialized, StreamsBuilder, TimeWindows};
/// use weir_core::topology::{Consumed, Produced};
/// use weir_core::Serdes;
///
/// let builder = StreamsBuilder::new();
/// builder
///     .stream("clicks", Consumed::with(Serdes::string(), Serdes::string()))
///     .group_by_key()
///     .windowed_by(TimeWindows::of_size_and_grace(Duration::from_secs(60), Duration::from_secs(10)))
///     .count(Materialized::as_("clicks-per-minute", Serdes::string(), Serdes::i64()))
///     .to_stream()
///     .to("clicks-per-minute", Produced::with(Serdes::time_windowed(Serdes::string(), 60_000), Serdes::i64()));
/// builder.build()?;
/// # Ok::<(), weir_core::Error>(())
/// ```
pub struct TimeWindowedKStream<K, V> {
    inner: Shared,
    node: String,
    kind: Kind,
    emit: EmitStrategy,
    late: Option<LateSink<K, V>>,
    idle: Option<IdleClose>,
    _types: PhantomData<fn() -> (K, V)>,
}

/// A grouped stream cut into session windows (Kafka Streams'
/// `SessionWindowedKStream`), ready to aggregate per key and session.
pub struct SessionWindowedKStream<K, V> {
    inner: Shared,
    node: String,
    windows: SessionWindows,
    emit: EmitStrategy,
    late: Option<LateSink<K, V>>,
    idle: Option<IdleClose>,
    _types: PhantomData<fn() -> (K, V)>,
}

/// Where a windowed aggregation sends the records it drops as late.
struct LateSink<K, V> {
    topic: String,
    produced: Produced<K, V>,
}

impl<K, V> Clone for LateSink<K, V> {
    fn clone(&self) -> Self {
        LateSink {
            topic: self.topic.clone(),
            produced: self.produced.clone(),
        }
    }
}

/// Adds the aggregation node made by `supplier` after `parent`; with a
/// late-record sink, a router node goes in between and a sink node after
/// the router. Returns the aggregation's name and the router's slot.
fn add_aggregation<K: Data, V: Data, KO: Data, VO: Data, S>(
    inner: &Shared,
    parent: &str,
    prefix: &str,
    late: Option<(LateSink<K, V>, i64)>,
    supplier: impl FnOnce(Option<LateSlot>) -> S,
) -> String
where
    S: ProcessorSupplier<K, V, KO, VO>,
{
    let Some((sink, grace_ms)) = late else {
        return add_node(inner, parent, prefix, supplier(None));
    };
    let slot = LateSlot::default();
    let mut b = inner.borrow_mut();
    let router = b.next_name("KSTREAM-LATE-ROUTER");
    let name = b.next_name(prefix);
    let sink_name = format!("{name}-late-records");
    let (aggregate, to) = (name.clone(), sink_name.clone());
    let router_slot = slot.clone();
    b.topology.add_processor::<K, V, K, V>(
        &router,
        move || LateRouter {
            slot: router_slot.clone(),
            aggregate: aggregate.clone(),
            sink: to.clone(),
            grace_ms,
        },
        &[parent],
    );
    b.topology
        .add_processor(&name, supplier(Some(slot)), &[router.as_str()]);
    b.topology.add_sink_topic(
        &sink_name,
        TopicName::user(&sink.topic),
        sink.produced,
        &[router.as_str()],
    );
    name
}

impl<K: Data, V: Data> WindowedBy<K, V> for TimeWindows {
    type Stream = TimeWindowedKStream<K, V>;
    fn windowed(self, grouped: &KGroupedStream<K, V>) -> Self::Stream {
        TimeWindowedKStream::new(grouped, Kind::Time(self))
    }
}

impl<K: Data, V: Data> WindowedBy<K, V> for SlidingWindows {
    type Stream = TimeWindowedKStream<K, V>;
    fn windowed(self, grouped: &KGroupedStream<K, V>) -> Self::Stream {
        TimeWindowedKStream::new(grouped, Kind::Sliding(self))
    }
}

impl<K: Data, V: Data> WindowedBy<K, V> for SessionWindows {
    type Stream = SessionWindowedKStream<K, V>;
    fn windowed(self, grouped: &KGroupedStream<K, V>) -> Self::Stream {
        let (inner, node) = grouped.parts();
        SessionWindowedKStream {
            inner: inner.clone(),
            node: node.to_string(),
            windows: self,
            emit: EmitStrategy::default(),
            late: None,
            idle: None,
            _types: PhantomData,
        }
    }
}

/// Records a problem the topology's build reports.
fn problem(inner: &Shared, message: String) {
    inner.borrow_mut().topology.problems.push(message);
}

/// The retention of `materialized`'s store: given, or `minimum`; a given
/// one below `minimum` is a problem.
fn retention<K: 'static, V: 'static>(
    inner: &Shared,
    materialized: &Materialized<K, V>,
    minimum: i64,
    what: &str,
) -> i64 {
    match materialized.retention_ms() {
        Some(given) if given < minimum => {
            problem(
                inner,
                format!(
                    "the retention of window store '{}' ({given} ms) must be no smaller than {what} \
                     ({minimum} ms)",
                    materialized.name()
                ),
            );
            minimum
        }
        Some(given) => given,
        None => minimum,
    }
}

impl<K: Data, V: Data> TimeWindowedKStream<K, V> {
    fn new(grouped: &KGroupedStream<K, V>, kind: Kind) -> Self {
        let (inner, node) = grouped.parts();
        let valid = match kind {
            Kind::Time(w) => w.validate(),
            Kind::Sliding(w) => w.validate(),
        };
        if let Err(e) = valid {
            problem(inner, format!("windowed_by after '{node}': {e}"));
        }
        TimeWindowedKStream {
            inner: inner.clone(),
            node: node.to_string(),
            kind,
            emit: EmitStrategy::default(),
            late: None,
            idle: None,
            _types: PhantomData,
        }
    }

    /// When the aggregation forwards its results: every update (the
    /// default) or each window's final result once it closes.
    pub fn emit_strategy(mut self, strategy: EmitStrategy) -> Self {
        self.emit = strategy;
        self
    }

    /// Closes windows on an idle input (Weir's answer to Kafka Streams'
    /// windows that never close on an idle partition): once the node has
    /// seen no record for `after` on the wall clock, its stream time moves
    /// on with the wall clock (its stream time at the last record plus the
    /// wall-clock time since), so windows close, and are emitted when
    /// emitting on close, without a newer record. A record arriving later
    /// finds those windows closed. Checked on a wall-clock punctuation (at
    /// most every second); deterministic under the test driver's
    /// `advance_wall_clock_time`. The moved stream time is not kept across
    /// restarts: after one, the node's stream time is the newest record's
    /// again, and idle time counts from the restart.
    pub fn close_when_idle(mut self, after: std::time::Duration) -> Self {
        self.idle = Some(IdleClose::new(super::spec::millis(after)));
        self
    }

    /// Sends the records the aggregation drops as late (too late for every
    /// window they fall in) to `topic`, written with `produced`, instead of
    /// only counting them: each keeps its key, value, timestamp and
    /// headers, plus `weir.late.window.start`, `weir.late.window.end`,
    /// `weir.late.stream.time`, `weir.late.close.time` and
    /// `weir.late.grace.ms` (decimal strings) saying why. Kafka Streams
    /// has no such sink: its late records only show in a metric.
    pub fn late_records_to(mut self, topic: impl AsRef<str>, produced: Produced<K, V>) -> Self {
        self.late = Some(LateSink {
            topic: topic.as_ref().to_string(),
            produced,
        });
        self
    }

    /// Counts the records of each key in each window.
    pub fn count(&self, materialized: Materialized<K, i64>) -> KTable<Windowed<K>, i64> {
        let step = |_: &K, _: V, count: Option<i64>| count.unwrap_or(0) + 1;
        self.fold("KSTREAM-AGGREGATE", Arc::new(step), materialized)
    }

    /// Combines the values of each key in each window: the first value is
    /// the aggregate, then `reducer(aggregate, value)` folds in each next.
    pub fn reduce(
        &self,
        reducer: impl Fn(V, V) -> V + Send + Sync + 'static,
        materialized: Materialized<K, V>,
    ) -> KTable<Windowed<K>, V> {
        let step = move |_: &K, v: V, agg: Option<V>| match agg {
            Some(agg) => reducer(agg, v),
            None => v,
        };
        self.fold("KSTREAM-REDUCE", Arc::new(step), materialized)
    }

    /// Folds the values of each key in each window into an aggregate that
    /// starts as `initializer()`.
    pub fn aggregate<VA: Data>(
        &self,
        initializer: impl Fn() -> VA + Send + Sync + 'static,
        aggregator: impl Fn(&K, V, VA) -> VA + Send + Sync + 'static,
        materialized: Materialized<K, VA>,
    ) -> KTable<Windowed<K>, VA> {
        let step =
            move |k: &K, v: V, agg: Option<VA>| aggregator(k, v, agg.unwrap_or_else(&initializer));
        self.fold("KSTREAM-AGGREGATE", Arc::new(step), materialized)
    }

    fn fold<VA: Data, F>(
        &self,
        prefix: &str,
        step: Arc<F>,
        materialized: Materialized<K, VA>,
    ) -> KTable<Windowed<K>, VA>
    where
        F: Fn(&K, V, Option<VA>) -> VA + Send + Sync + 'static,
    {
        let on_close = self.emit.is_on_window_close();
        let mut emit = WindowEmit::<K, VA>::new(materialized.name().to_string(), on_close);
        emit.idle = self.idle;
        let (size, minimum, grace, what) = match self.kind {
            Kind::Time(w) => (
                w.size_ms(),
                w.size_ms().saturating_add(w.grace_ms()),
                w.grace_ms(),
                "the window size plus the grace",
            ),
            Kind::Sliding(w) => (
                w.time_difference_ms(),
                w.time_difference_ms()
                    .saturating_mul(2)
                    .saturating_add(w.grace_ms()),
                w.grace_ms(),
                "twice the time difference plus the grace",
            ),
        };
        let retention = retention(&self.inner, &materialized, minimum, what);
        let late = self.late.clone().map(|sink| (sink, grace));
        let (inner, node) = (&self.inner, self.node.as_str());
        let name = match self.kind {
            Kind::Time(windows) => add_aggregation(inner, node, prefix, late, |slot| {
                let mut emit = emit;
                emit.late = slot;
                move || TimeWindowAggregate {
                    emit: emit.clone(),
                    windows,
                    step: step.clone(),
                }
            }),
            Kind::Sliding(windows) => add_aggregation(inner, node, prefix, late, |slot| {
                let mut emit = emit;
                emit.late = slot;
                move || SlidingWindowAggregate {
                    emit: emit.clone(),
                    windows,
                    step: step.clone(),
                }
            }),
        };
        let (key_serde, value_serde) = materialized.serdes();
        let windowed_keys = crate::serde::Serdes::time_windowed(key_serde, size);
        let table_values = Arc::clone(&value_serde);
        let kv = materialized
            .into_store_builder()
            .with_value_serde(Arc::new(TimestampedSerde::new(value_serde)) as _);
        let store = WindowStoreBuilder::from_key_value(kv, retention, size, false);
        let store_name = store.name().to_string();
        self.inner
            .borrow_mut()
            .topology
            .add_window_store(&store, &[name.as_str()]);
        KTable::new(self.inner.clone(), name, Some(store_name))
            .with_window_close(grace)
            .with_serdes(Some(windowed_keys), Some(table_values))
    }
}

impl<K: Data, V: Data> SessionWindowedKStream<K, V> {
    /// When the aggregation forwards its results: every update (the
    /// default) or each session's final result once it closes.
    pub fn emit_strategy(mut self, strategy: EmitStrategy) -> Self {
        self.emit = strategy;
        self
    }

    /// Closes windows on an idle input (Weir's answer to Kafka Streams'
    /// windows that never close on an idle partition): once the node has
    /// seen no record for `after` on the wall clock, its stream time moves
    /// on with the wall clock (its stream time at the last record plus the
    /// wall-clock time since), so windows close, and are emitted when
    /// emitting on close, without a newer record. A record arriving later
    /// finds those windows closed. Checked on a wall-clock punctuation (at
    /// most every second); deterministic under the test driver's
    /// `advance_wall_clock_time`. The moved stream time is not kept across
    /// restarts: after one, the node's stream time is the newest record's
    /// again, and idle time counts from the restart.
    pub fn close_when_idle(mut self, after: std::time::Duration) -> Self {
        self.idle = Some(IdleClose::new(super::spec::millis(after)));
        self
    }

    /// Sends the records the aggregation drops as late (too late for every
    /// window they fall in) to `topic`, written with `produced`, instead of
    /// only counting them: each keeps its key, value, timestamp and
    /// headers, plus `weir.late.window.start`, `weir.late.window.end`,
    /// `weir.late.stream.time`, `weir.late.close.time` and
    /// `weir.late.grace.ms` (decimal strings) saying why. Kafka Streams
    /// has no such sink: its late records only show in a metric.
    pub fn late_records_to(mut self, topic: impl AsRef<str>, produced: Produced<K, V>) -> Self {
        self.late = Some(LateSink {
            topic: topic.as_ref().to_string(),
            produced,
        });
        self
    }

    /// Counts the records of each session.
    pub fn count(&self, materialized: Materialized<K, i64>) -> KTable<Windowed<K>, i64> {
        let step = |_: &K, _: V, count: Option<i64>| count.unwrap_or(0) + 1;
        let merge = |_: &K, a: Option<i64>, b: i64| a.unwrap_or(0) + b;
        self.fold(
            "KSTREAM-AGGREGATE",
            Arc::new(step),
            Arc::new(merge),
            materialized,
        )
    }

    /// Combines the values of each session with `reducer(aggregate, value)`;
    /// merging sessions combines their aggregates the same way.
    pub fn reduce(
        &self,
        reducer: impl Fn(V, V) -> V + Send + Sync + 'static,
        materialized: Materialized<K, V>,
    ) -> KTable<Windowed<K>, V> {
        let reducer = Arc::new(reducer);
        let r = reducer.clone();
        let step = move |_: &K, v: V, agg: Option<V>| match agg {
            Some(agg) => r(agg, v),
            None => v,
        };
        let merge = move |_: &K, a: Option<V>, b: V| match a {
            Some(a) => reducer(a, b),
            None => b,
        };
        self.fold(
            "KSTREAM-REDUCE",
            Arc::new(step),
            Arc::new(merge),
            materialized,
        )
    }

    /// Folds the values of each session into an aggregate that starts as
    /// `initializer()`; when a record bridges sessions, `merger(key, a, b)`
    /// combines their aggregates first.
    pub fn aggregate<VA: Data>(
        &self,
        initializer: impl Fn() -> VA + Send + Sync + 'static,
        aggregator: impl Fn(&K, V, VA) -> VA + Send + Sync + 'static,
        merger: impl Fn(&K, VA, VA) -> VA + Send + Sync + 'static,
        materialized: Materialized<K, VA>,
    ) -> KTable<Windowed<K>, VA> {
        let initializer = Arc::new(initializer);
        let init = initializer.clone();
        let step =
            move |k: &K, v: V, agg: Option<VA>| aggregator(k, v, agg.unwrap_or_else(|| init()));
        let merge =
            move |k: &K, a: Option<VA>, b: VA| merger(k, a.unwrap_or_else(|| initializer()), b);
        self.fold(
            "KSTREAM-AGGREGATE",
            Arc::new(step),
            Arc::new(merge),
            materialized,
        )
    }

    fn fold<VA: Data, F, M>(
        &self,
        prefix: &str,
        step: Arc<F>,
        merge: Arc<M>,
        materialized: Materialized<K, VA>,
    ) -> KTable<Windowed<K>, VA>
    where
        F: Fn(&K, V, Option<VA>) -> VA + Send + Sync + 'static,
        M: Fn(&K, Option<VA>, VA) -> VA + Send + Sync + 'static,
    {
        if let Err(e) = self.windows.validate() {
            problem(
                &self.inner,
                format!("windowed_by after '{}': {e}", self.node),
            );
        }
        let w = self.windows;
        let close_after = w.inactivity_gap_ms().saturating_add(w.grace_ms());
        let retention = retention(
            &self.inner,
            &materialized,
            close_after,
            "the gap plus the grace",
        );
        let store_name = materialized.name().to_string();
        let on_close = self.emit.is_on_window_close();
        let store = store_name.clone();
        let late = self.late.clone().map(|sink| (sink, w.grace_ms()));
        let idle = self.idle;
        let name = add_aggregation(&self.inner, &self.node, prefix, late, |late| {
            move || SessionWindowAggregate {
                store: store.clone(),
                windows: w,
                on_close,
                step: step.clone(),
                merge: merge.clone(),
                observed: i64::MIN,
                emitted_up_to: None,
                flushed: None,
                late: late.clone(),
                idle,
                _types: PhantomData,
            }
        });
        let (key_serde, value_serde) = materialized.serdes();
        let session_keys = crate::serde::Serdes::session_windowed(key_serde);
        let store =
            SessionStoreBuilder::from_key_value(materialized.into_store_builder(), retention);
        self.inner
            .borrow_mut()
            .topology
            .add_session_store(&store, &[name.as_str()]);
        KTable::new(self.inner.clone(), name, Some(store_name))
            .with_window_close(close_after)
            .with_serdes(Some(session_keys), Some(value_serde))
    }
}
