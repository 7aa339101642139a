//! The context a node sees while it runs, and depth-first dispatch of records
//! through the task's node graph.

use std::time::Duration;

use crate::collector::RecordCollector;
use crate::error::{Error, Result};
use crate::processor::{ErasedProcessor, ErasedRecord, Punctuation, PunctuationType, ScheduleId};
use crate::record::{OutputRecord, RecordMetadata};
use crate::store::{StateStore, StoreContext, ThreadCache};
use crate::task::failure::{handle_node_error, panic_message};
use crate::task::{TaskConfig, TaskId, TaskState};

impl StoreContext {
    /// The context a task created with `config` gives its stores: its
    /// default backend, and its stream thread's cache
    /// ([`TaskConfig::thread_cache`]; without one, a cache of
    /// [`TaskConfig::cache_max_bytes`] for the task alone, if that is above
    /// 0). It lives here, on the task's side, so that the store module does
    /// not depend on the task's configuration.
    pub fn for_task(task: TaskId, config: &TaskConfig) -> Self {
        let thread_cache = config.thread_cache.clone().or_else(|| {
            (config.cache_max_bytes > 0).then(|| ThreadCache::new(config.cache_max_bytes))
        });
        let mut ctx = StoreContext::new(task).with_exactly_once(config.guarantee.is_exactly_once());
        if let Some(cache) = thread_cache {
            ctx = ctx.with_thread_cache(cache);
        }
        if let Some(default) = &config.default_bytes_store {
            ctx = ctx.with_default_bytes_store(default.clone());
        }
        ctx
    }
}

/// What a running node can reach: the task's state and the record collector.
pub(crate) struct NodeContext<'a> {
    pub(crate) state: &'a mut TaskState,
    pub(crate) io: &'a mut dyn RecordCollector,
    pub(crate) node: usize,
}

impl NodeContext<'_> {
    pub(crate) fn forward(&mut self, record: ErasedRecord, child: Option<&str>) -> Result<()> {
        match child {
            Some(name) => {
                let found = self.state.nodes[self.node]
                    .children
                    .iter()
                    .copied()
                    .find(|&c| self.state.nodes[c].name == name);
                let Some(c) = found else {
                    return Err(Error::Processor {
                        node: self.node_name().to_string(),
                        message: format!("forward to unknown child '{name}'"),
                    });
                };
                dispatch(self.state, self.io, c, record)
            }
            None => {
                let n = self.state.nodes[self.node].children.len();
                let mut record = Some(record);
                for i in 0..n {
                    let c = self.state.nodes[self.node].children[i];
                    let r = if i + 1 == n {
                        record.take()
                    } else {
                        record.clone()
                    };
                    if let Some(r) = r {
                        dispatch(self.state, self.io, c, r)?;
                    }
                }
                Ok(())
            }
        }
    }

    /// Sends `record` to this node's `pos`-th child (children in the order they were added).
    pub(crate) fn forward_to_position(&mut self, pos: usize, record: ErasedRecord) -> Result<()> {
        let Some(&c) = self.state.nodes[self.node].children.get(pos) else {
            return Err(Error::Processor {
                node: self.node_name().to_string(),
                message: format!("has no child number {pos}"),
            });
        };
        dispatch(self.state, self.io, c, record)
    }

    pub(crate) fn collector(&mut self) -> &mut dyn RecordCollector {
        &mut *self.io
    }

    /// Sends a sink's record, with the source record it came from when the
    /// task keeps it (see [`RecordCollector::send_from`]).
    pub(crate) fn send_output(&mut self, record: OutputRecord) -> Result<()> {
        match self
            .state
            .source_raw
            .as_ref()
            .filter(|_| self.state.in_record)
        {
            Some(source) => self.io.send_from(record, source),
            None => self.io.send(record),
        }
    }

    pub(crate) fn record_metadata(&self) -> Option<&RecordMetadata> {
        self.state
            .metadata
            .as_ref()
            .filter(|_| self.state.in_record)
    }

    pub(crate) fn task_id(&self) -> TaskId {
        self.state.id
    }

    pub(crate) fn application_id(&self) -> &str {
        &self.state.application_id
    }

    pub(crate) fn node_name(&self) -> &str {
        &self.state.nodes[self.node].name
    }

    pub(crate) fn stream_time(&self) -> i64 {
        self.state.stream_time
    }

    pub(crate) fn wall_clock_time(&self) -> i64 {
        self.state.now
    }

    pub(crate) fn schedule(
        &mut self,
        interval: Duration,
        kind: PunctuationType,
    ) -> Result<ScheduleId> {
        let ms = i64::try_from(interval.as_millis()).unwrap_or(i64::MAX);
        if ms < 1 {
            return Err(Error::Processor {
                node: self.node_name().to_string(),
                message: format!("punctuation interval must be at least 1 ms, got {interval:?}"),
            });
        }
        Ok(self
            .state
            .schedules
            .add(self.node, kind, ms, self.state.now))
    }

    pub(crate) fn cancel(&mut self, id: ScheduleId) {
        self.state.schedules.cancel(id)
    }

    pub(crate) fn state_store(&mut self, name: &str) -> Result<&mut dyn StateStore> {
        // Global stores are open to every node, as in Kafka Streams.
        if let Some(i) = self
            .state
            .global_stores
            .iter()
            .position(|s| s.name() == name)
        {
            return Ok(self.state.global_stores[i].as_mut());
        }
        let node = &self.state.nodes[self.node];
        if !node.stores.iter().any(|s| s == name) {
            return Err(Error::Store {
                store: name.to_string(),
                message: format!("not connected to processor '{}'", node.name),
            });
        }
        match self.state.stores.iter_mut().find(|s| s.name() == name) {
            Some(s) => Ok(s.as_mut()),
            None => Err(Error::Store {
                store: name.to_string(),
                message: "not open in this task".to_string(),
            }),
        }
    }

    pub(crate) fn request_commit(&mut self) {
        self.state.commit_requested = true;
    }

    pub(crate) fn record_dropped(&mut self) {
        self.state.dropped_records += 1;
    }

    pub(crate) fn processor_metadata(&self, key: &str) -> Option<i64> {
        self.state.processor_metadata.get(key)
    }

    pub(crate) fn set_processor_metadata(&mut self, key: &str, value: i64) {
        self.state.processor_metadata.set(key, value);
    }
}

fn reentered(state: &TaskState, idx: usize) -> Error {
    Error::Processor {
        node: state.nodes[idx].name.clone(),
        message: "re-entered while processing (a cycle in forwarding)".to_string(),
    }
}

/// Takes node `idx`'s processor out of its slot while `call` runs it (so
/// its children can run meanwhile), then puts it back.
fn with_node<T>(
    state: &mut TaskState,
    io: &mut dyn RecordCollector,
    idx: usize,
    call: impl FnOnce(&mut dyn ErasedProcessor, &mut NodeContext<'_>) -> Result<T>,
) -> Result<T> {
    let Some(mut processor) = state.nodes[idx].processor.take() else {
        return Err(reentered(state, idx));
    };
    // A panic of the application's code becomes an error of this node (the
    // processor goes back in its slot either way): the stream thread goes on
    // and the processing handler decides, as for a returned error.
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        call(
            processor.as_mut(),
            &mut NodeContext {
                state: &mut *state,
                io: &mut *io,
                node: idx,
            },
        )
    }));
    state.nodes[idx].processor = Some(processor);
    match result {
        Ok(r) => r,
        Err(payload) => Err(Error::Panic {
            node: state.nodes[idx].name.clone(),
            message: panic_message(payload.as_ref()),
        }),
    }
}

/// Runs node `idx` on `record`; its children run before this returns. A
/// failure of the node goes to the handler of its stage.
pub(crate) fn dispatch(
    state: &mut TaskState,
    io: &mut dyn RecordCollector,
    idx: usize,
    record: ErasedRecord,
) -> Result<()> {
    match with_node(state, io, idx, |p, ctx| p.process(ctx, record)) {
        Ok(()) => Ok(()),
        Err(e) => handle_node_error(state, io, idx, e),
    }
}

/// Runs a punctuation of node `idx`. A failure of the punctuator goes to
/// the processing handler.
pub(crate) fn punctuate(
    state: &mut TaskState,
    io: &mut dyn RecordCollector,
    idx: usize,
    punctuation: Punctuation,
) -> Result<()> {
    match with_node(state, io, idx, |p, ctx| p.punctuate(ctx, punctuation)) {
        Ok(()) => Ok(()),
        Err(e) => handle_node_error(state, io, idx, e),
    }
}

/// Which lifecycle call to make on every node.
#[derive(Clone, Copy)]
pub(crate) enum Lifecycle {
    Init,
    Flush,
    Close,
}

/// Calls `init`, `flush` or `close` on node `idx`.
pub(crate) fn lifecycle(
    state: &mut TaskState,
    io: &mut dyn RecordCollector,
    idx: usize,
    call: Lifecycle,
) -> Result<()> {
    with_node(state, io, idx, |p, ctx| match call {
        Lifecycle::Init => p.init(ctx),
        Lifecycle::Flush => p.flush(ctx),
        Lifecycle::Close => p.close(ctx),
    })
}
