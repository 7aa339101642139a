//! Type-erased records and processors: how nodes of different key and value
//! types live in one task graph. Types are checked when the topology is built
//! (each node declares what it takes and forwards), so a failed downcast here
//! means a bug, reported as an error naming the node, never a panic.

use std::any::{type_name, Any};

use crate::error::{Error, Result};
use crate::processor::{Data, Punctuation};
use crate::record::Record;
use crate::task::NodeContext;

/// A typed record behind the erasure.
trait AnyRecord: Any + Send {
    fn clone_box(&self) -> Box<dyn AnyRecord>;
    fn into_any(self: Box<Self>) -> Box<dyn Any>;
}

impl<K: Data, V: Data> AnyRecord for Record<K, V> {
    fn clone_box(&self) -> Box<dyn AnyRecord> {
        Box::new(self.clone())
    }
    fn into_any(self: Box<Self>) -> Box<dyn Any> {
        self
    }
}

/// A record whose key and value types are known only to the nodes at either
/// end of an edge: the typed record in one box (one allocation per hop), and
/// its timestamp outside it for the task's queues.
pub(crate) struct ErasedRecord {
    pub(crate) timestamp: i64,
    record: Box<dyn AnyRecord>,
}

impl Clone for ErasedRecord {
    fn clone(&self) -> Self {
        ErasedRecord {
            timestamp: self.timestamp,
            record: self.record.clone_box(),
        }
    }
}

impl ErasedRecord {
    pub(crate) fn erase<K: Data, V: Data>(record: Record<K, V>) -> Self {
        ErasedRecord {
            timestamp: record.timestamp,
            record: Box::new(record),
        }
    }

    pub(crate) fn typed<K: Data, V: Data>(self, node: &str) -> Result<Record<K, V>> {
        match self.record.into_any().downcast::<Record<K, V>>() {
            Ok(record) => Ok(*record),
            Err(_) => Err(Error::Processor {
                node: node.to_string(),
                message: format!(
                    "received a record that is not a Record<{}, {}>",
                    type_name::<K>(),
                    type_name::<V>()
                ),
            }),
        }
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
