//! weir-core: records, serdes, the processor API, topologies and the DSL, state
//! store traits, and the task engine. It performs no I/O: the Kafka runtime
//! (weir-kafka) and the test driver (weir-testing) drive the same task code.

pub mod collector;
pub mod dsl;
pub mod engine;
pub mod error;
#[cfg(test)]
mod fuzz;
mod guarantee;
pub mod handler;
pub mod headers;
pub mod processor;
pub mod record;
pub mod serde;
pub mod store;
pub mod task;
mod task_id;
pub mod time;
pub mod topology;
pub mod window;

pub use crate::serde::{
    Deserializer, Serde, SerdeContext, Serdes, SerializeContext, Serializer, SharedSerde,
};
pub use error::{Error, ErrorKind, Result};
pub use guarantee::ProcessingGuarantee;
pub use headers::Headers;
pub use record::{RawRecord, RawRecordRef, Record, RecordMetadata, SourceRecord, TopicPartition};
