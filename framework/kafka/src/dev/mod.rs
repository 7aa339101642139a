//! The development broker: librdkafka's in-process mock cluster, for demos
//! and running a service on a laptop. Not for production, not for
//! exactly-once.

pub mod embedded;
