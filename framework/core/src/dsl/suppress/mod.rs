//! [`KTable::suppress`]: hold a table's updates back and forward only the
//! latest one per key, when a time limit passes or when its window closes
//! (Kafka Streams' `Suppressed`).
//!
//! The semantics are Kafka Streams 4.x's (`KTableSuppressProcessorSupplier`,
//! `InMemoryTimeOrderedKeyValueChangeBuffer`):
//!
//! - The suppress node keeps its own stream time: the highest timestamp of
//!   the records it has seen. Only records move it (not wall-clock time, not
//!   other nodes' records), and it starts over when the task restarts.
//! - Each buffered key has a buffer time: for
//!   [`until_time_limit`](Suppressed::until_time_limit), the timestamp of the
//!   key's first buffered update (non-resetting: later updates replace the
//!   value but keep the slot); for
//!   [`until_window_closes`](Suppressed::until_window_closes), the end of the
//!   key's window.
//! - After every record, keys whose buffer time is `<= stream time - delay`
//!   are forwarded, oldest buffer time first (ties in serialized key order);
//!   the delay is the time limit, or how long after its end the table's
//!   windows close (grace, plus the gap for session windows).
//! - A forwarded record carries the latest update's value, timestamp and
//!   headers. Its old value is the value downstream saw before the key was
//!   buffered (Kafka Streams forwards the latest update's own old value,
//!   which downstream never saw: a deliberate divergence, invisible in
//!   output topics, that keeps aggregations over a suppressed table right).
//! - Deletes are buffered like updates. `until_time_limit` forwards them;
//!   `until_window_closes` drops them (a final result is never a delete).
//! - When the buffer holds more than its [`BufferConfig`] allows,
//!   `emit_early_when_full` forwards the oldest keys until it fits;
//!   `shut_down_when_full` fails the task with an error naming the node
//!   (fatal: the application stops).
//!
//! The buffer lives in a key-value store (the runtime's default backend,
//! never cached) logged to `<application.id>-<store>-changelog`: the store
//! is `<name>-store` for a suppression named with
//! [`with_name`](Suppressed::with_name), else
//! `KTABLE-SUPPRESS-STATE-STORE-<n>` (a generated name changes with the
//! topology: name the suppression if its buffer must survive topology
//! changes). It is restored after a restart or a crash, and under
//! exactly-once its writes commit with the records it forwarded. Its bytes
//! (serialized key plus entry) count against `max_bytes`, not against the
//! thread's record cache (`statestore.cache.max.bytes`), as in Kafka
//! Streams; the processor keeps an index of the buffered keys in memory
//! (each key's bytes twice, plus about 50 bytes).
//!
//! ```
//! use std::time::Duration;
//! use weir_core::dsl::{BufferConfig, Materialized, StreamsBuilder, Suppressed};
//! use weir_core::topology::{Consumed, Produced};
//! use weir_core::Serdes;
//!
//! let builder = StreamsBuilder::new();
//! builder
//!     .table(
//!         "prices",
//!         Consumed::with(Serdes::string(), Serdes::i64()),
//!         Materialized::as_("prices", Serdes::string(), Serdes::i64()),
//!     )
//!     // At most one update per product per minute of event time.
//!     .suppress(
//!         Suppressed::until_time_limit(
//!             Duration::from_secs(60),
//!             BufferConfig::max_records(10_000).emit_early_when_full(),
//!         )
//!         .with_name("price-updates"),
//!     )
//!     .to("price-updates", Produced::with(Serdes::string(), Serdes::i64()));
//! let topology = builder.build()?;
//! assert!(topology.describe().to_string().contains("price-updates-store"));
//! # Ok::<(), weir_core::Error>(())
//! ```

mod buffer;
mod processor;

use std::sync::Arc;
use std::time::Duration;

use self::processor::{BufferTime, Config, SuppressProcessor};
use crate::dsl::{Change, KTable};
use crate::processor::Data;
use crate::serde::{Serdes, SharedSerde};
use crate::store::KeyValueStoreBuilder;
use crate::window::Windowed;

/// What a suppress buffer does when it holds more than its bounds allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BufferFullStrategy {
    /// Forward the oldest keys early, until the buffer fits again.
    EmitEarly,
    /// Fail the task (the application stops): for buffers that must never
    /// emit early, such as `until_window_closes`' final results.
    ShutDown,
}

/// The bounds of a suppress buffer and what to do when they are exceeded
/// (Kafka Streams' `Suppressed.BufferConfig`).
///
/// [`max_records`](Self::max_records) and [`max_bytes`](Self::max_bytes)
/// emit early when full (an "eager" buffer); [`unbounded`](Self::unbounded)
/// never fills and, like [`shut_down_when_full`](Self::shut_down_when_full),
/// is "strict": it never emits before its time, which
/// [`Suppressed::until_window_closes`] requires.
///
/// ```
/// use weir_core::dsl::{BufferConfig, BufferFullStrategy};
///
/// let eager = BufferConfig::max_records(1_000).with_max_bytes(1 << 20);
/// assert_eq!(eager.when_full(), BufferFullStrategy::EmitEarly);
/// assert_eq!((eager.max_records_bound(), eager.max_bytes_bound()), (1_000, 1 << 20));
/// let strict = BufferConfig::max_bytes(64 << 20).shut_down_when_full();
/// assert!(strict.is_strict());
/// assert!(BufferConfig::unbounded().is_strict());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BufferConfig {
    max_records: u64,
    max_bytes: u64,
    when_full: BufferFullStrategy,
    logging: bool,
}

impl BufferConfig {
    /// A buffer of at most `n` keys that emits the oldest early when full.
    pub fn max_records(n: u64) -> Self {
        BufferConfig {
            max_records: n,
            ..Self::eager()
        }
    }

    /// A buffer of at most `n` bytes (serialized keys and entries) that
    /// emits the oldest early when full.
    pub fn max_bytes(n: u64) -> Self {
        BufferConfig {
            max_bytes: n,
            ..Self::eager()
        }
    }

    /// A buffer without bounds: it keeps everything until its time comes
    /// (strict; bounded only by the store's backend and the memory of its index).
    pub fn unbounded() -> Self {
        BufferConfig {
            when_full: BufferFullStrategy::ShutDown,
            ..Self::eager()
        }
    }

    fn eager() -> Self {
        BufferConfig {
            max_records: u64::MAX,
            max_bytes: u64::MAX,
            when_full: BufferFullStrategy::EmitEarly,
            logging: true,
        }
    }

    /// Also bounds the number of keys.
    pub fn with_max_records(mut self, n: u64) -> Self {
        self.max_records = n;
        self
    }

    /// Also bounds the bytes.
    pub fn with_max_bytes(mut self, n: u64) -> Self {
        self.max_bytes = n;
        self
    }

    /// When full, forward the oldest keys early.
    pub fn emit_early_when_full(mut self) -> Self {
        self.when_full = BufferFullStrategy::EmitEarly;
        self
    }

    /// When full, fail the task: the application stops with an error
    /// naming the suppress node.
    pub fn shut_down_when_full(mut self) -> Self {
        self.when_full = BufferFullStrategy::ShutDown;
        self
    }

    /// Turns the change-logging of the buffer off (on by default); an
    /// unlogged buffer on the default (persistent) backend keeps what it
    /// held on disk, but is lost with the disk or when its task moves.
    pub fn with_logging(mut self, enabled: bool) -> Self {
        self.logging = enabled;
        self
    }

    /// The bound on the number of keys (`u64::MAX`: none).
    pub fn max_records_bound(&self) -> u64 {
        self.max_records
    }

    /// The bound on the bytes (`u64::MAX`: none).
    pub fn max_bytes_bound(&self) -> u64 {
        self.max_bytes
    }

    /// What happens when a bound is exceeded.
    pub fn when_full(&self) -> BufferFullStrategy {
        self.when_full
    }

    /// Whether the buffer never emits early.
    pub fn is_strict(&self) -> bool {
        self.when_full == BufferFullStrategy::ShutDown
    }
}

/// When a suppressed key is forwarded.
enum Until<K> {
    TimeLimit(Duration),
    WindowCloses(fn(&K) -> i64),
}

/// How [`KTable::suppress`] holds updates back (Kafka Streams'
/// `Suppressed`): until a time limit passes, or until each window closes.
///
/// `V` is the table's value type. The buffer is written with the table's
/// serdes: those of its `Materialized` (or, for a windowed aggregation, the
/// windowed key serde of its key serde), or, for a table that does not know
/// them (one made by `map_values`), those given with
/// [`with_serdes`](Self::with_serdes).
pub struct Suppressed<K, V> {
    name: Option<String>,
    until: Until<K>,
    buffer: BufferConfig,
    serdes: Option<(SharedSerde<K>, SharedSerde<V>)>,
    idle_after: Option<i64>,
}

impl<K: 'static, V: 'static> Suppressed<K, V> {
    /// Forwards a key's latest update once stream time has passed the
    /// timestamp of its first buffered update by `limit` (non-resetting:
    /// updates in the meantime do not push it back). `Duration::ZERO`
    /// forwards every update at once; a `limit` beyond `i64::MAX`
    /// milliseconds never forwards on time (only when the buffer is full).
    pub fn until_time_limit(limit: Duration, buffer: BufferConfig) -> Self {
        Suppressed {
            name: None,
            until: Until::TimeLimit(limit),
            buffer,
            serdes: None,
            idle_after: None,
        }
    }

    /// Names the suppress node `name` and its buffer store `<name>-store`
    /// (changelog `<application.id>-<name>-store-changelog`), as Kafka
    /// Streams does.
    pub fn with_name(mut self, name: &str) -> Self {
        self.name = Some(name.to_string());
        self
    }

    /// The table's key and value serdes, which write the buffer.
    pub fn with_serdes(mut self, key_serde: SharedSerde<K>, value_serde: SharedSerde<V>) -> Self {
        self.serdes = Some((key_serde, value_serde));
        self
    }

    /// The buffer's bounds.
    pub fn buffer_config(&self) -> BufferConfig {
        self.buffer
    }

    /// Emits on an idle input (Weir's answer to Kafka Streams' suppress
    /// buffers that never flush on an idle partition): once the node has
    /// seen no record for `after` on the wall clock, its stream time moves
    /// on with the wall clock (its stream time at the last record plus the
    /// wall-clock time since), and what is due by then is emitted. Checked
    /// on a wall-clock punctuation (at most every second); deterministic
    /// under the test driver's `advance_wall_clock_time`. Not kept across
    /// restarts: idle time counts again from the restart.
    pub fn close_when_idle(mut self, after: Duration) -> Self {
        self.idle_after = Some(millis(after));
        self
    }
}

fn window_end<K>(key: &Windowed<K>) -> i64 {
    key.window().end()
}

impl<K: 'static, V: 'static> Suppressed<Windowed<K>, V> {
    /// Forwards each window's final value once, when the window closes:
    /// when the suppress node's stream time reaches the window's end plus
    /// the time the windowed aggregation accepts records after it (grace,
    /// plus the gap for session windows). Only for a table made by a
    /// windowed aggregation; `buffer` must be strict
    /// ([`BufferConfig::unbounded`] or `shut_down_when_full`), or the build
    /// fails. Deletes (windows merged away) are not forwarded.
    pub fn until_window_closes(buffer: BufferConfig) -> Self {
        Suppressed {
            name: None,
            until: Until::WindowCloses(window_end::<K>),
            buffer,
            serdes: None,
            idle_after: None,
        }
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl<K: Data, V: Data> KTable<K, V> {
    /// The table's updates held back as `suppressed` says: each key's latest
    /// update is forwarded once its time limit passes or its window closes
    /// (see the [module docs](crate::dsl::Suppressed) for the exact rules). The result
    /// is a table without a store of its own.
    ///
    /// The build fails (naming the node) if `suppressed` has no serdes, if
    /// `until_window_closes` is used on a table that is not a windowed
    /// aggregation's, or with a buffer that may emit early.
    pub fn suppress(&self, suppressed: Suppressed<K, V>) -> KTable<K, V> {
        let Suppressed {
            name,
            until,
            buffer,
            serdes,
            idle_after,
        } = suppressed;
        let shared = self.shared().clone();
        let mut inner = shared.borrow_mut();
        let node = match &name {
            Some(n) => n.clone(),
            None => inner.next_name("KTABLE-SUPPRESS"),
        };
        let store = match &name {
            Some(n) => format!("{n}-store"),
            None => inner.next_name("KTABLE-SUPPRESS-STATE-STORE"),
        };
        let mut problems = Vec::new();
        let (time, delay, drop_tombstones) = match until {
            Until::TimeLimit(limit) => (BufferTime::Record, millis(limit), false),
            Until::WindowCloses(end) => {
                let close = self.window_close().unwrap_or_else(|| {
                    problems.push(format!(
                        "suppress node '{node}' waits until windows close, but its parent \
                         '{}' is not a table of a windowed aggregation (no grace is known)",
                        self.node_name()
                    ));
                    0
                });
                if !buffer.is_strict() {
                    problems.push(format!(
                        "suppress node '{node}' waits until windows close with a buffer that \
                         emits early when full: use BufferConfig::unbounded() or \
                         shut_down_when_full()"
                    ));
                }
                (BufferTime::WindowEnd(end), close, true)
            }
        };
        let (table_keys, table_values) = self.serdes();
        let known = table_keys.zip(table_values);
        let (key_serde, value_serde) = serdes.or(known).unwrap_or_else(|| {
            problems.push(format!(
                "suppress node '{node}' has no serdes for its buffer: give the table's \
                 serdes with Suppressed::with_serdes"
            ));
            (Arc::new(Missing), Arc::new(Missing))
        });
        inner.topology.problems.extend(problems);
        let table_serdes = (Arc::clone(&key_serde), Arc::clone(&value_serde));
        let config = Arc::new(Config {
            store: store.clone(),
            key_serde,
            value_serde,
            time,
            delay,
            buffer,
            drop_tombstones,
            idle_after,
        });
        inner.topology.add_processor::<K, Change<V>, K, Change<V>>(
            &node,
            move || SuppressProcessor::new(Arc::clone(&config)),
            &[self.node_name()],
        );
        let store_builder = KeyValueStoreBuilder::new(&store, Serdes::bytes(), Serdes::bytes())
            .with_logging(buffer.logging)
            .with_caching(false);
        inner.topology.add_key_value_store(&store_builder, &[&node]);
        drop(inner);
        let table = KTable::new(shared.clone(), node, None)
            .with_serdes(Some(table_serdes.0), Some(table_serdes.1));
        match self.window_close() {
            Some(close) => table.with_window_close(close),
            None => table,
        }
    }
}

/// Stands in for serdes that were not given; the build fails before it is used.
struct Missing;

impl<T> crate::serde::Serializer<T> for Missing {
    fn serialize(
        &self,
        ctx: &mut crate::serde::SerializeContext<'_>,
        _value: &T,
    ) -> crate::Result<Option<Vec<u8>>> {
        Err(ctx.error("no serde given (Suppressed::with_serdes)"))
    }
}

impl<T> crate::serde::Deserializer<T> for Missing {
    fn deserialize(
        &self,
        ctx: &crate::serde::SerdeContext<'_>,
        _bytes: Option<&[u8]>,
    ) -> crate::Result<Option<T>> {
        Err(ctx.error("no serde given (Suppressed::with_serdes)"))
    }
}
