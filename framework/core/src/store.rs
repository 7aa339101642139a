//! The state-store seam. Processors reach the stores connected to them through
//! [`ProcessorContext::state_store`](crate::processor::ProcessorContext::state_store);
//! the typed key-value and window stores build on this trait.

use std::any::Any;

use crate::error::Result;
use crate::task::TaskId;

/// A state store owned by one task.
pub trait StateStore: Send {
    /// The store's name, unique within the topology.
    fn name(&self) -> &str;
    /// Whether the store keeps its data on disk.
    fn persistent(&self) -> bool;
    /// Makes buffered writes durable; called before every commit.
    fn flush(&mut self) -> Result<()>;
    /// Releases the store's resources; called when the task closes.
    fn close(&mut self) -> Result<()>;
    /// For downcasting to the concrete store type.
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

impl<'a> dyn StateStore + 'a {
    /// The store as its concrete type `S`, if it is one.
    pub fn downcast_mut<S: StateStore + 'static>(&mut self) -> Option<&mut S> {
        self.as_any_mut().downcast_mut::<S>()
    }
}

/// Creates a task's instance of a store.
pub type StoreSupplier =
    std::sync::Arc<dyn Fn(TaskId) -> Result<Box<dyn StateStore>> + Send + Sync>;
