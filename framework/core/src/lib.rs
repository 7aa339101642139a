//! weir-core: records, serdes, the processor API, topologies and the DSL, state
//! store traits, and the task engine. It performs no I/O: the Kafka runtime
//! (weir-kafka) and the test driver (weir-testing) drive the same task code.

pub mod error;
pub mod headers;

pub use error::{Error, ErrorKind, Result};
pub use headers::Headers;
