//! Runs a typed [`Processor`] as a node of the type-erased task graph.

use std::marker::PhantomData;
use std::time::Duration;

use crate::error::Result;
use crate::processor::{
    Data, ErasedProcessor, ErasedRecord, Processor, ProcessorContext, Punctuation, PunctuationType,
    ScheduleId,
};
use crate::record::{Record, RecordMetadata};
use crate::store::StateStore;
use crate::task::{NodeContext, TaskId};

pub(crate) struct ProcessorAdapter<KIn, VIn, KOut, VOut> {
    inner: Box<dyn Processor<KIn, VIn, KOut, VOut>>,
}

impl<KIn, VIn, KOut, VOut> ProcessorAdapter<KIn, VIn, KOut, VOut> {
    pub(crate) fn new(inner: Box<dyn Processor<KIn, VIn, KOut, VOut>>) -> Self {
        ProcessorAdapter { inner }
    }
}

/// The typed view of a node's context handed to user processors.
struct TypedContext<'c, 'a, K, V> {
    inner: &'c mut NodeContext<'a>,
    _types: PhantomData<fn(K, V)>,
}

impl<'c, 'a, K, V> TypedContext<'c, 'a, K, V> {
    fn new(inner: &'c mut NodeContext<'a>) -> Self {
        TypedContext {
            inner,
            _types: PhantomData,
        }
    }
}

impl<K: Data, V: Data> ProcessorContext<K, V> for TypedContext<'_, '_, K, V> {
    fn forward(&mut self, record: Record<K, V>) -> Result<()> {
        self.inner.forward(ErasedRecord::erase(record), None)
    }
    fn forward_to(&mut self, child: &str, record: Record<K, V>) -> Result<()> {
        self.inner.forward(ErasedRecord::erase(record), Some(child))
    }
    fn record_metadata(&self) -> Option<&RecordMetadata> {
        self.inner.record_metadata()
    }
    fn task_id(&self) -> TaskId {
        self.inner.task_id()
    }
    fn application_id(&self) -> &str {
        self.inner.application_id()
    }
    fn node_name(&self) -> &str {
        self.inner.node_name()
    }
    fn stream_time(&self) -> i64 {
        self.inner.stream_time()
    }
    fn wall_clock_time(&self) -> i64 {
        self.inner.wall_clock_time()
    }
    fn schedule(&mut self, interval: Duration, kind: PunctuationType) -> Result<ScheduleId> {
        self.inner.schedule(interval, kind)
    }
    fn cancel(&mut self, id: ScheduleId) {
        self.inner.cancel(id)
    }
    fn state_store(&mut self, name: &str) -> Result<&mut dyn StateStore> {
        self.inner.state_store(name)
    }
    fn commit(&mut self) {
        self.inner.request_commit()
    }
    fn record_dropped(&mut self) {
        self.inner.record_dropped()
    }
    fn processor_metadata(&self, key: &str) -> Option<i64> {
        self.inner.processor_metadata(key)
    }
    fn set_processor_metadata(&mut self, key: &str, value: i64) {
        self.inner.set_processor_metadata(key, value)
    }
}

impl<KIn: Data, VIn: Data, KOut: Data, VOut: Data> ErasedProcessor
    for ProcessorAdapter<KIn, VIn, KOut, VOut>
{
    fn init(&mut self, ctx: &mut NodeContext<'_>) -> Result<()> {
        self.inner.init(&mut TypedContext::new(ctx))
    }
    fn process(&mut self, ctx: &mut NodeContext<'_>, record: ErasedRecord) -> Result<()> {
        let record = record.typed::<KIn, VIn>(ctx.node_name())?;
        self.inner.process(&mut TypedContext::new(ctx), record)
    }
    fn punctuate(&mut self, ctx: &mut NodeContext<'_>, punctuation: Punctuation) -> Result<()> {
        self.inner
            .punctuate(&mut TypedContext::new(ctx), punctuation)
    }
    fn close(&mut self, ctx: &mut NodeContext<'_>) -> Result<()> {
        self.inner.close(&mut TypedContext::new(ctx))
    }
    fn flush(&mut self, ctx: &mut NodeContext<'_>) -> Result<()> {
        self.inner.flush(&mut TypedContext::new(ctx))
    }
}
