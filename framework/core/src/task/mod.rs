//! The task engine: one task per (sub-topology, partition). It queues records
//! per input partition, processes the queued record with the lowest timestamp
//! next, keeps stream time, fires punctuations, and reports the offsets to
//! commit. It does no I/O: output goes through a [`RecordCollector`], time
//! comes from a [`Clock`]; the Kafka runtime and the test driver drive it.

mod changelog;
mod context;
mod failure;
mod metadata;
mod punctuation;
mod queue;

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;

pub use crate::task_id::TaskId;
pub(crate) use context::NodeContext;

use crate::collector::{Clock, RecordCollector};
use crate::error::{Error, Result};
use crate::handler::{
    ErrorContext, ErrorCounts, ErrorStage, HandlerAction, HandlerResponse, LogAndFail,
    SharedDeserializationHandler, SharedProcessingHandler, SharedProductionHandler,
};
use crate::processor::{ErasedProcessor, Punctuation, PunctuationType};
use crate::record::{
    OutputRecord, RawRecord, RawRecordRef, RecordMetadata, SourceRecord, TopicPartition,
};
use crate::store::{DefaultBytesStoreSupplier, StateStore, StoreContext, ThreadCache};
use crate::topology::{NodeKind, Topology};
use crate::ProcessingGuarantee;
use context::{dispatch, lifecycle, punctuate, Lifecycle};
use failure::{send_dead_letters, Handling};
pub(crate) use metadata::ProcessorMetadata;
use punctuation::Schedules;
pub use queue::FetchLag;
use queue::{next_queue, ready, PartitionQueue, Queued, BEHIND_BOUND_MS};

/// Settings a task runs with.
#[derive(Clone)]
pub struct TaskConfig {
    /// `application.id`: prefixes internal topic names.
    pub application_id: String,
    /// `max.task.idle.ms`: how long a task with some empty input partitions
    /// waits for data before processing anyway (0: only while a fetch may still
    /// bring data; negative: never wait).
    pub max_task_idle_ms: i64,
    /// What to do with records that cannot be deserialized.
    pub deserialization_handler: SharedDeserializationHandler,
    /// What to do when a processor or a punctuator fails on a record
    /// (`processing.exception.handler`).
    pub processing_handler: SharedProcessingHandler,
    /// What to do when a sink's record cannot be serialized or is refused
    /// for good (`production.exception.handler`).
    pub production_handler: SharedProductionHandler,
    /// `errors.dead.letter.queue.topic.name`: where the built-in handlers
    /// write failed records. `None`: no dead-letter queue.
    pub dead_letter_topic: Option<String>,
    /// The backend of stores that did not choose one (neither
    /// `in_memory()` nor `with_bytes_supplier(..)`), called with the task id
    /// and the store name. `None` keeps them in memory; the Kafka runtime
    /// sets RocksDB under `state.dir`.
    pub default_bytes_store: Option<DefaultBytesStoreSupplier>,
    /// The record cache budget of one stream thread, in bytes:
    /// `statestore.cache.max.bytes` divided by the stream threads. 0 (the
    /// default here): no caching, every update is forwarded.
    pub cache_max_bytes: usize,
    /// The cache every caching store of the thread's tasks shares, of
    /// [`cache_max_bytes`](Self::cache_max_bytes); a runtime creates one per
    /// thread and sets it in the configuration of each task it creates.
    /// `None`: a task with a budget gets a cache of its own.
    pub thread_cache: Option<Arc<ThreadCache>>,
    /// `processing.guarantee`. Under exactly-once, stores hold their writes
    /// in memory until the task's transaction commits (see
    /// [`UncommittedWritesLayer`](crate::store::UncommittedWritesLayer)).
    pub guarantee: ProcessingGuarantee,
    /// The application instance's global stores (see
    /// [`Topology::create_global_stores`]): every task gives its processors
    /// a read-only view of each. `None`: no global stores are open (a
    /// processor reading one gets an error).
    pub global_stores: Option<crate::topology::GlobalStores>,
}

impl fmt::Debug for TaskConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskConfig")
            .field("application_id", &self.application_id)
            .field("max_task_idle_ms", &self.max_task_idle_ms)
            .field("dead_letter_topic", &self.dead_letter_topic)
            .field("default_bytes_store", &self.default_bytes_store.is_some())
            .field("cache_max_bytes", &self.cache_max_bytes)
            .field("thread_cache", &self.thread_cache)
            .field("guarantee", &self.guarantee)
            .field("global_stores", &self.global_stores)
            .finish_non_exhaustive()
    }
}

impl TaskConfig {
    /// Defaults as in Kafka Streams: `max.task.idle.ms` 0, log and fail on
    /// bad records; stores without a backend of their own in memory; no
    /// record cache.
    pub fn new(application_id: impl Into<String>) -> Self {
        TaskConfig {
            application_id: application_id.into(),
            max_task_idle_ms: 0,
            deserialization_handler: Arc::new(LogAndFail),
            processing_handler: Arc::new(LogAndFail),
            production_handler: Arc::new(LogAndFail),
            dead_letter_topic: None,
            default_bytes_store: None,
            cache_max_bytes: 0,
            thread_cache: None,
            guarantee: ProcessingGuarantee::AtLeastOnce,
            global_stores: None,
        }
    }
}

pub(crate) struct NodeSlot {
    pub(crate) name: String,
    pub(crate) processor: Option<Box<dyn ErasedProcessor>>,
    pub(crate) children: Vec<usize>,
    pub(crate) stores: Vec<String>,
    /// Whether the node is a sink (its serialization and send failures go
    /// to the production handler).
    pub(crate) sink: bool,
}

/// What nodes see and change while they run.
pub(crate) struct TaskState {
    pub(crate) id: TaskId,
    pub(crate) application_id: String,
    pub(crate) nodes: Vec<NodeSlot>,
    pub(crate) stores: Vec<Box<dyn StateStore>>,
    /// Read-only views of the global stores, open to every node.
    pub(crate) global_stores: Vec<Box<dyn StateStore>>,
    pub(crate) stream_time: i64,
    pub(crate) now: i64,
    /// Where the record being processed came from, kept between records
    /// (its topic is not cloned for each one); valid while `in_record`.
    pub(crate) metadata: Option<RecordMetadata>,
    /// Whether a record is being processed (not a punctuation).
    pub(crate) in_record: bool,
    pub(crate) schedules: Schedules,
    pub(crate) commit_requested: bool,
    /// Records processors dropped (`dropped-records`), since the task was created.
    pub(crate) dropped_records: u64,
    /// The processing and production handlers and the dead-letter topic.
    pub(crate) handling: Handling,
    /// The bytes of the record being processed, when kept (see
    /// [`Handling::keep_source`]); valid while `in_record`. Shared with the
    /// records the sinks send from it (see [`SourceRecord`]).
    pub(crate) source_raw: Option<Arc<SourceRecord>>,
    /// Records dropped and dead-lettered by the handlers, per stage.
    pub(crate) errors: ErrorCounts,
    /// What processors keep with the committed offsets (see
    /// [`ProcessorContext::processor_metadata`](crate::processor::ProcessorContext::processor_metadata)).
    pub(crate) processor_metadata: ProcessorMetadata,
}

/// A running instance of one sub-topology over one partition of its inputs.
pub struct Task {
    state: TaskState,
    /// Logged stores and their changelog topic (resolved).
    changelogs: Vec<(String, Arc<str>)>,
    queues: Vec<PartitionQueue>,
    /// Per queue, the bytes of its queued records, when kept (see
    /// [`Handling::keep_source`]).
    raw_sources: Vec<VecDeque<Arc<SourceRecord>>>,
    /// Dead-letter records of records refused at deserialization, written
    /// through the collector at the next call that has one (before any
    /// commit, so they are in the transaction that skips the records).
    pending_dead_letters: Vec<OutputRecord>,
    config: TaskConfig,
    initialized: bool,
}

impl Topology {
    /// Creates task `id` with fresh processors and stores.
    pub fn create_task(&self, id: TaskId, config: TaskConfig) -> Result<Task> {
        let sub = self
            .subtopologies
            .iter()
            .find(|s| s.id == id.subtopology)
            .ok_or_else(|| Error::Task {
                task: id.to_string(),
                message: format!("the topology has no sub-topology {}", id.subtopology),
            })?;
        let local = |global: usize| sub.nodes.iter().position(|&n| n == global);
        let mut nodes = Vec::with_capacity(sub.nodes.len());
        let mut queues = Vec::new();
        for (pos, &g) in sub.nodes.iter().enumerate() {
            let def = &self.nodes[g];
            let children = self.children_of(g).into_iter().filter_map(local).collect();
            if let NodeKind::Source { topics, decoder } = &def.kind {
                for t in topics {
                    let tp = TopicPartition::new(t.resolve(&config.application_id), id.partition);
                    queues.push(PartitionQueue::new(tp, pos, decoder.clone()));
                }
            }
            nodes.push(NodeSlot {
                name: def.name.clone(),
                processor: Some((def.factory)()),
                children,
                stores: def.stores.clone(),
                sink: matches!(def.kind, NodeKind::Sink { .. }),
            });
        }
        let mut stores = Vec::new();
        let mut changelogs = Vec::new();
        let store_context = StoreContext::for_task(id, &config);
        for name in &sub.stores {
            if let Some(def) = self.stores.iter().find(|s| &s.name == name) {
                stores.push((def.supplier)(store_context.clone())?);
                if def.logged {
                    let topic =
                        crate::topology::changelog_topic(name).resolve(&config.application_id);
                    changelogs.push((name.clone(), Arc::from(topic)));
                }
            }
        }
        let handling = Handling {
            processing: config.processing_handler.clone(),
            production: config.production_handler.clone(),
            dead_letter_topic: config.dead_letter_topic.as_deref().map(Arc::from),
            keep_source: config.dead_letter_topic.is_some()
                || config.processing_handler.needs_source_bytes()
                || config.production_handler.needs_source_bytes(),
        };
        let raw_sources = queues.iter().map(|_| VecDeque::new()).collect();
        Ok(Task {
            changelogs,
            raw_sources,
            pending_dead_letters: Vec::new(),
            state: TaskState {
                id,
                application_id: config.application_id.clone(),
                nodes,
                stores,
                global_stores: config
                    .global_stores
                    .as_ref()
                    .map(crate::topology::GlobalStores::views)
                    .unwrap_or_default(),
                stream_time: i64::MIN,
                now: 0,
                metadata: None,
                in_record: false,
                schedules: Schedules::default(),
                commit_requested: false,
                dropped_records: 0,
                handling,
                source_raw: None,
                errors: ErrorCounts::default(),
                processor_metadata: ProcessorMetadata::default(),
            },
            queues,
            config,
            initialized: false,
        })
    }
}

/// Adds where the refused record sits (partition, offset) to a deserialization
/// error, which otherwise names only the topic.
fn at_record(error: Error, raw: &RawRecord) -> Error {
    match error {
        Error::Deserialization {
            topic,
            what,
            message,
        } => Error::Deserialization {
            topic,
            what,
            message: format!(
                "{message} (partition {}, offset {})",
                raw.partition, raw.offset
            ),
        },
        other => other,
    }
}

impl Task {
    /// The task's id.
    pub fn id(&self) -> TaskId {
        self.state.id
    }

    /// The partitions this task reads (one per source topic of its sub-topology).
    pub fn input_partitions(&self) -> Vec<TopicPartition> {
        self.queues.iter().map(|q| q.tp.clone()).collect()
    }

    /// Stream time: the highest timestamp processed; `i64::MIN` before the first record.
    pub fn stream_time(&self) -> i64 {
        self.state.stream_time
    }

    /// How many records the task's processors dropped since it was created
    /// (Kafka Streams' `dropped-records`: late records for closed windows,
    /// records without a key where one is needed).
    pub fn dropped_records(&self) -> u64 {
        self.state.dropped_records
    }

    /// Records the error handlers skipped and dead-lettered, per stage
    /// (deserialization, processing, production), since the task was created.
    pub fn error_counts(&self) -> ErrorCounts {
        self.state.errors
    }

    /// Writes the dead-letter records of records refused at
    /// deserialization through `io`.
    fn send_pending_dead_letters(&mut self, io: &mut dyn RecordCollector) -> Result<()> {
        if self.pending_dead_letters.is_empty() {
            return Ok(());
        }
        let records = std::mem::take(&mut self.pending_dead_letters);
        send_dead_letters(
            io,
            &mut self.state.errors,
            ErrorStage::Deserialization,
            records,
        )
    }

    /// The task's instance of store `name`, if its sub-topology has that
    /// store. For tools that read a task's state from outside the processors
    /// (the test driver's store reads); processors use
    /// [`ProcessorContext::state_store`](crate::processor::ProcessorContext::state_store).
    /// Type it with `as_key_value_store::<K, V>()`.
    pub fn state_store(&mut self, name: &str) -> Option<&mut dyn StateStore> {
        let store = self.state.stores.iter_mut().find(|s| s.name() == name)?;
        Some(store.as_mut())
    }

    /// Takes in the metadata committed with the offsets of the task's input
    /// partitions (one string per partition, as read from the consumer
    /// group; empty when none), before [`init`](Self::init): processors
    /// read it back through
    /// [`ProcessorContext::processor_metadata`](crate::processor::ProcessorContext::processor_metadata).
    pub fn restore_processor_metadata<S: AsRef<str>>(&mut self, committed: &[S]) {
        for metadata in committed {
            self.state
                .processor_metadata
                .merge_committed(metadata.as_ref());
        }
    }

    /// The metadata to commit with each of the task's offsets (what its
    /// processors keep there), if any.
    pub fn commit_metadata(&mut self) -> Option<Arc<str>> {
        self.state.processor_metadata.encode()
    }

    /// Calls `init` on every processor (they schedule punctuations there).
    pub fn init(&mut self, io: &mut dyn RecordCollector, clock: &dyn Clock) -> Result<()> {
        if self.initialized {
            return Ok(());
        }
        self.state.now = clock.now_ms();
        for idx in 0..self.state.nodes.len() {
            lifecycle(&mut self.state, io, idx, Lifecycle::Init)?;
        }
        self.initialized = true;
        Ok(())
    }

    fn queue_index(&self, topic: &str, partition: i32) -> Result<usize> {
        self.queues
            .iter()
            .position(|q| q.tp.topic == topic && q.tp.partition == partition)
            .ok_or_else(|| Error::Task {
                task: self.state.id.to_string(),
                message: format!("does not read partition {topic}-{partition}"),
            })
    }

    /// Deserializes `records` and queues them by partition. Records that
    /// cannot be deserialized go to the deserialization handler; an invalid
    /// timestamp follows the source's policy. Returns how many were queued.
    pub fn add_records(&mut self, records: impl IntoIterator<Item = RawRecord>) -> Result<usize> {
        let mut added = 0;
        for raw in records {
            added += usize::from(self.add_record(raw.as_ref())?);
        }
        Ok(added)
    }

    /// Deserializes one record, borrowed, and queues it in its partition's
    /// queue, as [`add_records`](Self::add_records) does. Returns whether it
    /// was queued (not skipped).
    pub fn add_record(&mut self, raw: RawRecordRef<'_>) -> Result<bool> {
        let qi = self.queue_index(raw.topic, raw.partition)?;
        let q = &mut self.queues[qi];
        // A panicking deserializer or timestamp extractor (user code) is a
        // record that does not deserialize: it goes to the handler.
        let decoding = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            q.decoder.decode(&raw, q.partition_time)
        }))
        .unwrap_or_else(|payload| {
            Err(Error::Deserialization {
                topic: raw.topic.to_string(),
                what: "record",
                message: format!(
                    "the deserializer or timestamp extractor panicked: {}",
                    failure::panic_message(payload.as_ref())
                ),
            })
        });
        let decoded = match decoding {
            Ok(r) => r,
            Err(e @ Error::Deserialization { .. }) => {
                let metadata = RecordMetadata {
                    topic: raw.topic.to_string(),
                    partition: raw.partition,
                    offset: raw.offset,
                };
                let context = ErrorContext {
                    stage: ErrorStage::Deserialization,
                    task: Some(self.state.id),
                    node: None,
                    metadata: Some(&metadata),
                    source: Some(raw),
                    dead_letter_topic: self.config.dead_letter_topic.as_deref(),
                };
                let HandlerResponse {
                    action,
                    dead_letters,
                } = self.config.deserialization_handler.handle(&context, &e);
                // With fail the task stops: its dead-letter records are
                // not written (nothing past the record commits).
                match action {
                    HandlerAction::Continue => {
                        self.pending_dead_letters.extend(dead_letters);
                        self.state.errors.deserialization.dropped += 1;
                        None
                    }
                    HandlerAction::Fail | HandlerAction::Retry => {
                        return Err(at_record(e, &raw.to_owned_record()))
                    }
                }
            }
            Err(e) => return Err(e),
        };
        let queued = decoded.is_some();
        if queued && self.state.handling.keep_source {
            self.raw_sources[qi].push_back(Arc::new(SourceRecord {
                task: self.state.id,
                record: raw.to_owned_record(),
            }));
        }
        if let Some(r) = &decoded {
            q.partition_time = q.partition_time.max(r.timestamp);
        }
        q.records.push_back(Queued {
            record: decoded,
            offset: raw.offset,
        });
        q.drop_skipped_heads();
        Ok(queued)
    }

    /// Records queued for `tp` (for backpressure: pause the partition when high).
    pub fn buffered(&self, tp: &TopicPartition) -> usize {
        self.queues
            .iter()
            .find(|q| &q.tp == tp)
            .map_or(0, |q| q.len())
    }

    /// Records queued across all partitions.
    pub fn buffered_total(&self) -> usize {
        self.queues.iter().map(|q| q.len()).sum()
    }

    /// The task's empty partitions it has been waiting for, with records on
    /// the broker not fetched (or a lag not known yet), for `min_ms` or more
    /// at `now`, while its other partitions have records queued.
    pub fn starved_partitions(&self, now: i64, min_ms: i64) -> Vec<TopicPartition> {
        if !self.queues.iter().any(|q| q.head_timestamp().is_some()) {
            return Vec::new();
        }
        self.queues
            .iter()
            .filter(|q| q.head_timestamp().is_none() && q.fetch != FetchLag::CaughtUp)
            .filter(|q| !q.behind_given_up)
            .filter(|q| {
                q.behind_since
                    .is_some_and(|t| now.saturating_sub(t) >= min_ms)
            })
            .map(|q| q.tp.clone())
            .collect()
    }

    /// What the task last heard about records of `tp` not yet fetched.
    pub fn fetch_lag(&self, tp: &TopicPartition) -> Option<FetchLag> {
        self.queues.iter().find(|q| &q.tp == tp).map(|q| q.fetch)
    }

    /// Tells the task how far `tp`'s fetch is behind its log: an empty
    /// partition holds back processing of the others while it is behind or
    /// its lag is unknown, and for `max.task.idle.ms` once caught up.
    pub fn set_fetch_lag(&mut self, tp: &TopicPartition, lag: FetchLag) {
        if let Some(q) = self.queues.iter_mut().find(|q| &q.tp == tp) {
            q.fetch = lag;
        }
    }

    /// Processes the next record, if the task is ready (see `max.task.idle.ms`).
    /// Returns whether a record was processed. Stream-time punctuations that
    /// fall due run right after the record.
    pub fn process(&mut self, io: &mut dyn RecordCollector, clock: &dyn Clock) -> Result<bool> {
        if !self.initialized {
            self.init(io, clock)?;
        }
        self.send_pending_dead_letters(io)?;
        self.state.now = clock.now_ms();
        if !ready(
            &mut self.queues,
            self.state.now,
            self.config.max_task_idle_ms,
            BEHIND_BOUND_MS,
        ) {
            return Ok(false);
        }
        let Some(qi) = next_queue(&self.queues) else {
            return Ok(false);
        };
        let q = &mut self.queues[qi];
        let Some(Queued {
            record: Some(record),
            offset,
        }) = q.records.pop_front()
        else {
            return Ok(false);
        };
        let source = q.source;
        if self.state.handling.keep_source {
            let raws = &mut self.raw_sources[qi];
            while raws.front().is_some_and(|r| r.record.offset < offset) {
                raws.pop_front();
            }
            self.state.source_raw = raws.pop_front().filter(|r| r.record.offset == offset);
        }
        match &mut self.state.metadata {
            Some(m) if m.topic == q.tp.topic => {
                m.partition = q.tp.partition;
                m.offset = offset;
            }
            slot => {
                *slot = Some(RecordMetadata {
                    topic: q.tp.topic.clone(),
                    partition: q.tp.partition,
                    offset,
                })
            }
        }
        self.state.in_record = true;
        self.state.stream_time = self.state.stream_time.max(record.timestamp);
        let result = dispatch(&mut self.state, io, source, record);
        self.state.in_record = false;
        self.state.source_raw = None;
        result?;
        let q = &mut self.queues[qi];
        q.consumed = Some(offset);
        q.drop_skipped_heads();
        self.punctuate_kind(io, PunctuationType::StreamTime, self.state.stream_time)?;
        if !self.changelogs.is_empty() {
            self.send_changelogs(io)?;
        }
        Ok(true)
    }

    /// Fires the wall-clock punctuations due at the clock's time. Returns how many ran.
    pub fn punctuate_wall_clock(
        &mut self,
        io: &mut dyn RecordCollector,
        clock: &dyn Clock,
    ) -> Result<usize> {
        if !self.initialized {
            self.init(io, clock)?;
        }
        self.send_pending_dead_letters(io)?;
        self.state.now = clock.now_ms();
        let ran = self.punctuate_kind(io, PunctuationType::WallClockTime, self.state.now)?;
        if ran > 0 && !self.changelogs.is_empty() {
            self.send_changelogs(io)?;
        }
        Ok(ran)
    }

    fn punctuate_kind(
        &mut self,
        io: &mut dyn RecordCollector,
        kind: PunctuationType,
        time: i64,
    ) -> Result<usize> {
        if kind == PunctuationType::StreamTime && self.state.stream_time < 0 {
            return Ok(0);
        }
        let due = self.state.schedules.take_due(kind, time);
        let mut ran = 0;
        for s in due {
            // An earlier punctuation in this round may have cancelled it.
            if !self.state.schedules.is_active(s.id) {
                continue;
            }
            let p = Punctuation {
                id: s.id,
                kind,
                timestamp: time,
            };
            punctuate(&mut self.state, io, s.node, p)?;
            ran += 1;
        }
        Ok(ran)
    }

    /// Whether a processor asked for a commit since the last one.
    pub fn commit_requested(&self) -> bool {
        self.state.commit_requested
    }

    /// Calls `flush` on every processor, in node order, so what they hold
    /// back (the DSL's cached table updates) is forwarded and reaches the
    /// collector. Runtimes call it before they flush the collector and
    /// [`prepare_commit`](Self::prepare_commit).
    pub fn flush(&mut self, io: &mut dyn RecordCollector) -> Result<()> {
        if !self.initialized {
            return Ok(());
        }
        for idx in 0..self.state.nodes.len() {
            lifecycle(&mut self.state, io, idx, Lifecycle::Flush)?;
        }
        Ok(())
    }

    /// The second step of the commit protocol (see [`crate::engine`]): the
    /// stores flush their caches, the change-logging layer sends what they
    /// recorded to the changelogs through `io`, and the task returns the
    /// offsets to commit: for each partition with progress, the last
    /// processed (or skipped) offset + 1.
    pub fn prepare_commit(
        &mut self,
        io: &mut dyn RecordCollector,
    ) -> Result<Vec<(TopicPartition, i64)>> {
        self.send_pending_dead_letters(io)?;
        for store in &mut self.state.stores {
            store.flush()?;
        }
        if !self.changelogs.is_empty() {
            self.send_changelogs(io)?;
        }
        self.state.commit_requested = false;
        Ok(self
            .queues
            .iter()
            .filter_map(|q| q.consumed.map(|o| (q.tp.clone(), o + 1)))
            .collect())
    }

    /// The last step of the commit protocol, once the offsets (or the
    /// transaction) committed: each logged store records how far `acked`
    /// says its changelog partition is written (only forward: after a task
    /// moves away and back, a producer may have seen an older offset than
    /// the restored one), and under exactly-once every store writes down
    /// what it held back since the last commit.
    pub fn post_commit(&mut self, acked: &dyn Fn(&TopicPartition) -> Option<i64>) -> Result<()> {
        let mut reached = Vec::new();
        for (store, tp) in self.changelog_partitions() {
            let Some(offset) = acked(&tp) else {
                continue;
            };
            let before = self.changelog_offset(&store)?;
            if before.is_none_or(|r| offset > r) {
                reached.push((store, offset));
            }
        }
        // One commit per store: its held-back writes and its changelog
        // offset in one atomic batch.
        self.commit_stores(|name| {
            reached
                .iter()
                .find(|(store, _)| store == name)
                .map(|(_, offset)| *offset)
        })
    }

    /// Closes the stores without closing the processors or flushing
    /// anything: what the task did since its last commit is dropped (an
    /// aborted transaction, lost partitions). Queued records are dropped.
    pub fn close_dirty(&mut self) -> Result<()> {
        let mut first_error = None;
        for idx in 0..self.state.nodes.len() {
            self.state.schedules.cancel_node(idx);
        }
        for store in &mut self.state.stores {
            if let Err(e) = store.close() {
                first_error.get_or_insert(e);
            }
        }
        for q in &mut self.queues {
            q.records.clear();
        }
        for raws in &mut self.raw_sources {
            raws.clear();
        }
        self.pending_dead_letters.clear();
        self.initialized = false;
        first_error.map_or(Ok(()), Err)
    }

    /// Closes every processor and store. Queued records are dropped: they are
    /// read again from the committed offsets by whoever owns the task next.
    pub fn close(&mut self, io: &mut dyn RecordCollector) -> Result<()> {
        let mut first_error = None;
        if self.initialized {
            for idx in 0..self.state.nodes.len() {
                self.state.schedules.cancel_node(idx);
                if let Err(e) = lifecycle(&mut self.state, io, idx, Lifecycle::Close) {
                    first_error.get_or_insert(e);
                }
            }
        }
        let closed = self.close_dirty();
        first_error.map_or(closed, Err)
    }
}
