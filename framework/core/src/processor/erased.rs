//! Type-erased records and processors: how nodes of different key and value
//! types live in one task graph. Types are checked when the topology is built
//! (each node declares what it takes and forwards), so a failed downcast here
//! means a bug, reported as an error naming the node, never a panic.

use std::any::{type_name, Any};

use crate::error::{Error, Result};
use crate::headers::Headers;
use crate::processor::{Data, Punctuation};
use crate::record::Record;
use crate::task::NodeContext;

trait AnyData: Any + Send {
    fn clone_box(&self) -> Box<dyn AnyData>;
    fn into_any(self: Box<Self>) -> Box<dyn Any>;
}

impl<T: Data> AnyData for T {
    fn clone_box(&self) -> Box<dyn AnyData> {
        Box::new(self.clone())
    }
    fn into_any(self: Box<Self>) -> Box<dyn Any> {
        self
    }
}

/// A key or value of a type known only to the nodes at either end of an edge.
pub(crate) struct Erased(Box<dyn AnyData>);

impl Clone for Erased {
    fn clone(&self) -> Self {
        Erased(self.0.clone_box())
    }
}

impl Erased {
    pub(crate) fn new<T: Data>(value: T) -> Self {
        Erased(Box::new(value))
    }

    fn downcast<T: Data>(self, node: &str, what: &str) -> Result<T> {
        match self.0.into_any().downcast::<T>() {
            Ok(b) => Ok(*b),
            Err(_) => Err(Error::Processor {
                node: node.to_string(),
                message: format!("received a {what} that is not a {}", type_name::<T>()),
            }),
        }
    }
}

/// A record whose key and value types are erased.
#[derive(Clone)]
pub(crate) struct ErasedRecord {
    pub(crate) key: Option<Erased>,
    pub(crate) value: Option<Erased>,
    pub(crate) timestamp: i64,
    pub(crate) headers: Headers,
}

impl ErasedRecord {
    pub(crate) fn erase<K: Data, V: Data>(record: Record<K, V>) -> Self {
        ErasedRecord {
            key: record.key.map(Erased::new),
            value: record.value.map(Erased::new),
            timestamp: record.timestamp,
            headers: record.headers,
        }
    }

    pub(crate) fn typed<K: Data, V: Data>(self, node: &str) -> Result<Record<K, V>> {
        Ok(Record {
            key: self.key.map(|k| k.downcast::<K>(node, "key")).transpose()?,
            value: self
                .value
                .map(|v| v.downcast::<V>(node, "value"))
                .transpose()?,
            timestamp: self.timestamp,
            headers: self.headers,
        })
    }
}

/// A node of a running task: a user processor behind an adapter, a sink, or a
/// source's pass-through.
pub(crate) trait ErasedProcessor: Send {
    fn init(&mut self, ctx: &mut NodeContext<'_>) -> Result<()>;
    fn process(&mut self, ctx: &mut NodeContext<'_>, record: ErasedRecord) -> Result<()>;
    fn punctuate(&mut self, ctx: &mut NodeContext<'_>, punctuation: Punctuation) -> Result<()>;
    fn close(&mut self, ctx: &mut NodeContext<'_>) -> Result<()>;
    /// Before a commit: forward what the node holds back (nothing by default).
    fn flush(&mut self, _ctx: &mut NodeContext<'_>) -> Result<()> {
        Ok(())
    }
}

/// Forwards every record unchanged: the body of source nodes and of the
/// DSL's pass-through nodes (merge, branches).
pub(crate) struct PassThrough;

impl ErasedProcessor for PassThrough {
    fn init(&mut self, _ctx: &mut NodeContext<'_>) -> Result<()> {
        Ok(())
    }
    fn process(&mut self, ctx: &mut NodeContext<'_>, record: ErasedRecord) -> Result<()> {
        ctx.forward(record, None)
    }
    fn punctuate(&mut self, _ctx: &mut NodeContext<'_>, _p: Punctuation) -> Result<()> {
        Ok(())
    }
    fn close(&mut self, _ctx: &mut NodeContext<'_>) -> Result<()> {
        Ok(())
    }
}
