//! weir-core: records, serdes, the processor API, topologies and the DSL, state
//! store traits, and the task engine. It performs no I/O: the Kafka runtime
//! (weir-kafka) and the test driver (weir-testing) drive the same task code.

pub mod error;
pub mod headers;
pub mod serde;

pub use crate::serde::{
    Deserializer, Serde, SerdeContext, Serdes, SerializeContext, Serializer, SharedSerde,
};
pub use error::{Error, ErrorKind, Result};
pub use headers::Headers;
