//! The Processor API: user code that handles one record at a time, forwards
//! results downstream, schedules punctuations, and uses state stores.
//!
//! ```
//! use weir_core::processor::{Processor, ProcessorContext};
//! use weir_core::{Record, Result};
//!
//! /// Forwards each value's length.
//! struct Length;
//!
//! impl Processor<String, String, String, usize> for Length {
//!     fn process(
//!         &mut self,
//!         ctx: &mut dyn ProcessorContext<String, usize>,
//!         record: Record<String, String>,
//!     ) -> Result<()> {
//!         let len = record.value.as_ref().map(|v| v.len());
//!         ctx.forward(record.with_value(len))
//!     }
//! }
//! ```

mod adapter;
mod erased;

use std::time::Duration;

pub(crate) use adapter::ProcessorAdapter;
pub(crate) use erased::{ErasedProcessor, ErasedRecord, PassThrough};

use crate::error::Result;
use crate::record::{Record, RecordMetadata};
use crate::store::{KeyValueStore, SessionStore, StateStore, WindowStore};
use crate::task::TaskId;

/// What keys and values must be to flow through a topology: owned, sendable to
/// a stream thread, and clonable (a record forwarded to several children is
/// cloned for all but the last).
pub trait Data: std::any::Any + Send + Clone {}
impl<T: std::any::Any + Send + Clone> Data for T {}

/// Which clock drives a punctuation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PunctuationType {
    /// Stream time: advances only as records arrive (highest timestamp seen by the task).
    StreamTime,
    /// Wall-clock time: fires as real time passes, whether records arrive or not.
    WallClockTime,
}

/// Identifies a scheduled punctuation; pass it to
/// [`ProcessorContext::cancel`] to stop it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ScheduleId(pub(crate) u64);

/// A punctuation that is due: handed to [`Processor::punctuate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Punctuation {
    /// Which schedule fired.
    pub id: ScheduleId,
    /// Which clock drives it.
    pub kind: PunctuationType,
    /// The time it fired at (stream time or wall-clock time, by `kind`).
    pub timestamp: i64,
}

/// A node of the topology written by the user. One instance exists per task
/// (see [`ProcessorSupplier`]), so it may keep per-partition state in fields.
///
/// `KIn`/`VIn` are the types it receives; `KOut`/`VOut` the types it forwards.
pub trait Processor<KIn, VIn, KOut = KIn, VOut = VIn>: Send {
    /// Called once when the task starts, before any record. Schedule
    /// punctuations here.
    fn init(&mut self, ctx: &mut dyn ProcessorContext<KOut, VOut>) -> Result<()> {
        let _ = ctx;
        Ok(())
    }

    /// Handles one record.
    fn process(
        &mut self,
        ctx: &mut dyn ProcessorContext<KOut, VOut>,
        record: Record<KIn, VIn>,
    ) -> Result<()>;

    /// Called when a punctuation scheduled by this processor is due.
    fn punctuate(
        &mut self,
        ctx: &mut dyn ProcessorContext<KOut, VOut>,
        punctuation: Punctuation,
    ) -> Result<()> {
        let _ = (ctx, punctuation);
        Ok(())
    }

    /// Called before the task commits, on every node in the order they were
    /// added (parents first in the DSL), before the task flushes its stores:
    /// forward what the processor holds back. The DSL's tables use it to
    /// forward the updates folded in a store's cache, as Kafka Streams does.
    fn flush(&mut self, ctx: &mut dyn ProcessorContext<KOut, VOut>) -> Result<()> {
        let _ = ctx;
        Ok(())
    }

    /// Called once when the task closes.
    fn close(&mut self, ctx: &mut dyn ProcessorContext<KOut, VOut>) -> Result<()> {
        let _ = ctx;
        Ok(())
    }
}

/// What a processor can do besides receiving records.
pub trait ProcessorContext<K, V> {
    /// Sends `record` to every child of this node, depth first: when this call
    /// returns, the children (and their children) have processed it.
    fn forward(&mut self, record: Record<K, V>) -> Result<()>;

    /// Sends `record` to the child named `child` only. An unknown child is an error.
    fn forward_to(&mut self, child: &str, record: Record<K, V>) -> Result<()>;

    /// Topic, partition and offset of the record being processed; `None` during
    /// punctuation.
    fn record_metadata(&self) -> Option<&RecordMetadata>;

    /// The task this processor instance belongs to.
    fn task_id(&self) -> TaskId;

    /// The application id (the prefix of internal topic names).
    fn application_id(&self) -> &str;

    /// This node's name.
    fn node_name(&self) -> &str;

    /// The task's stream time: the highest record timestamp it has processed.
    /// It never goes backwards. `i64::MIN` before the first record.
    fn stream_time(&self) -> i64;

    /// The current wall-clock time in milliseconds (the test driver's mock clock
    /// under test).
    fn wall_clock_time(&self) -> i64;

    /// Schedules [`Processor::punctuate`] every `interval`, by stream time or by
    /// wall-clock time. A zero interval is an error.
    fn schedule(&mut self, interval: Duration, kind: PunctuationType) -> Result<ScheduleId>;

    /// Cancels a schedule; cancelling twice is harmless.
    fn cancel(&mut self, id: ScheduleId);

    /// A state store connected to this processor, by name. A store that exists
    /// but is not connected to this processor is an error, as in Kafka Streams.
    fn state_store(&mut self, name: &str) -> Result<&mut dyn StateStore>;

    /// Asks the runtime to commit soon (after the current record).
    fn commit(&mut self);

    /// Counts a record this processor dropped (a late record for a closed
    /// window, a record without a key where one is needed) in the task's
    /// `dropped-records` metric. Log why before calling it.
    fn record_dropped(&mut self);

    /// The task's processor metadata under `key`: the value last set with
    /// [`set_processor_metadata`](Self::set_processor_metadata), or, when
    /// the task starts, the value committed with the offsets it starts from
    /// (`None`: none). Read it in [`Processor::init`].
    ///
    /// Processor metadata is committed with the task's input offsets (in
    /// the offset metadata of each of its partitions; in the transaction
    /// under exactly-once), so it always matches the offsets the task
    /// restarts from. A store does not under at-least-once: its changelog
    /// may be ahead of the committed offsets after a crash. Weir's windowed
    /// aggregations keep there which closed windows they emitted
    /// (`EmitStrategy::on_window_close`), as Kafka Streams does (KIP-825).
    /// Keys are shared by the task's processors: use a name of your own,
    /// such as your store's. All of a task's metadata must encode in 4096
    /// bytes (the broker's default `offset.metadata.max.bytes`); past that
    /// the offsets commit without it, with a warning.
    fn processor_metadata(&self, key: &str) -> Option<i64>;

    /// Sets the task's processor metadata under `key` to `value`, committed
    /// with the task's offsets at the next commit (see
    /// [`processor_metadata`](Self::processor_metadata)).
    fn set_processor_metadata(&mut self, key: &str, value: i64);
}

impl<'a, KOut, VOut> dyn ProcessorContext<KOut, VOut> + 'a {
    /// The store `name` connected to the running processor, as its concrete
    /// type `S`: any [`StateStore`], including stores of your own.
    ///
    /// Errors if the store is not connected to this processor, or is not an
    /// `S`. For the key-value stores the DSL and
    /// [`KeyValueStoreBuilder`](crate::store::KeyValueStoreBuilder) build,
    /// `S` is [`MeteredKeyValueStore<K, V>`](crate::store::MeteredKeyValueStore)
    /// (`key_value_store::<K, V>(name)`, below, is the short way).
    ///
    /// ```
    /// # use weir_core::processor::ProcessorContext;
    /// # use weir_core::store::{KeyValueStore, MeteredKeyValueStore, ReadOnlyKeyValueStore};
    /// # fn count(ctx: &mut dyn ProcessorContext<String, i64>, word: String) -> weir_core::Result<()> {
    /// let counts = ctx.store::<MeteredKeyValueStore<String, i64>>("counts")?;
    /// counts.put(&word, &(counts.get(&word)?.unwrap_or(0) + 1))?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn store<S: StateStore + 'static>(&mut self, name: &str) -> Result<&mut S> {
        self.state_store(name)?.as_store::<S>()
    }

    /// The key-value store `name` connected to the running processor, typed
    /// with keys `K` and values `V`.
    ///
    /// Errors if the store is not connected to this processor, or is not a
    /// key-value store of `K` and `V`. The [store module docs](crate::store)
    /// show it in a word count; in short:
    ///
    /// ```
    /// # use weir_core::processor::ProcessorContext;
    /// # use weir_core::store::{KeyValueStore, ReadOnlyKeyValueStore};
    /// # fn count(ctx: &mut dyn ProcessorContext<String, i64>, word: String) -> weir_core::Result<()> {
    /// let counts = ctx.key_value_store::<String, i64>("counts")?;
    /// counts.put(&word, &(counts.get(&word)?.unwrap_or(0) + 1))?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn key_value_store<K: 'static, V: 'static>(
        &mut self,
        name: &str,
    ) -> Result<&mut dyn KeyValueStore<K, V>> {
        self.state_store(name)?.as_key_value_store::<K, V>()
    }

    /// The window store `name` connected to the running processor, typed
    /// with keys `K` and values `V` (built by
    /// [`WindowStoreBuilder`](crate::store::WindowStoreBuilder)).
    ///
    /// Errors if the store is not connected to this processor, or is not a
    /// window store of `K` and `V`.
    ///
    /// ```
    /// # use weir_core::processor::ProcessorContext;
    /// # use weir_core::store::{ReadOnlyWindowStore, WindowStore};
    /// # fn count(ctx: &mut dyn ProcessorContext<String, i64>, word: String, start: i64) -> weir_core::Result<()> {
    /// let counts = ctx.window_store::<String, i64>("counts-per-minute")?;
    /// let count = counts.fetch(&word, start)?.unwrap_or(0) + 1;
    /// counts.put(&word, Some(&count), start)?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn window_store<K: 'static, V: 'static>(
        &mut self,
        name: &str,
    ) -> Result<&mut dyn WindowStore<K, V>> {
        self.state_store(name)?.as_window_store::<K, V>()
    }

    /// The versioned key-value store `name` connected to the running
    /// processor, typed with keys `K` and values `V` (built by
    /// [`VersionedKeyValueStoreBuilder`](crate::store::VersionedKeyValueStoreBuilder)).
    ///
    /// Errors if the store is not connected to this processor, or is not a
    /// versioned store of `K` and `V`.
    pub fn versioned_key_value_store<K: 'static, V: 'static>(
        &mut self,
        name: &str,
    ) -> Result<&mut dyn crate::store::VersionedKeyValueStore<K, V>> {
        self.state_store(name)?
            .as_versioned_key_value_store::<K, V>()
    }

    /// The session store `name` connected to the running processor, typed
    /// with keys `K` and values `V` (built by
    /// [`SessionStoreBuilder`](crate::store::SessionStoreBuilder)).
    ///
    /// Errors if the store is not connected to this processor, or is not a
    /// session store of `K` and `V`.
    pub fn session_store<K: 'static, V: 'static>(
        &mut self,
        name: &str,
    ) -> Result<&mut dyn SessionStore<K, V>> {
        self.state_store(name)?.as_session_store::<K, V>()
    }
}

/// Creates one processor instance per task.
pub trait ProcessorSupplier<KIn, VIn, KOut, VOut>: Send + Sync + 'static {
    /// A fresh processor.
    fn get(&self) -> Box<dyn Processor<KIn, VIn, KOut, VOut>>;
}

impl<F, P, KIn, VIn, KOut, VOut> ProcessorSupplier<KIn, VIn, KOut, VOut> for F
where
    F: Fn() -> P + Send + Sync + 'static,
    P: Processor<KIn, VIn, KOut, VOut> + 'static,
{
    fn get(&self) -> Box<dyn Processor<KIn, VIn, KOut, VOut>> {
        Box::new(self())
    }
}
