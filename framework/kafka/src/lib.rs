//! Weir's Kafka runtime, the only crate that talks to Kafka (through rdkafka).
//!
//! For now it holds the client helpers the runtime grows from and the test
//! fixtures use, all blocking and bounded by [`Connection::timeout`]:
//!
//! - [`create_topics`] creates topics idempotently (same partition count) and
//!   [`partition_count`] reads a topic's count;
//! - [`produce_batch`] produces records and waits for their acknowledgements;
//! - [`TransactionalProducer`] wraps init / begin / send / commit / abort;
//! - [`read_to_end`] reads a topic up to its current end, read_committed or
//!   read_uncommitted, and [`end_offsets`] reads its partitions' end offsets;
//! - [`copier::run_copier`] is a raw consume -> produce copier, the
//!   baseline the benchmarks compare Weir against (exactly-once with
//!   [`copier::CopierOptions::transactional`]), and [`probe`] holds the
//!   benchmarks' instruments (an output follower, a paced producer).
//!
//! - [`EmbeddedBroker`] runs librdkafka's in-process mock cluster for
//!   development and demos (not for production, not for exactly-once).
//!
//! No rdkafka type appears in these signatures.

mod admin;
mod block_on;
mod connection;
pub mod copier;
mod delivery;
pub mod embedded;
pub mod error;
mod flush;
pub mod probe;
mod produce;
mod read;
pub mod runtime;
mod transaction;
mod tuning;

pub use admin::{create_topics, partition_count, TopicSpec};
pub use connection::Connection;
pub use embedded::EmbeddedBroker;
pub use error::{Error, Result};
pub use produce::{produce_batch, ProduceRecord, RecordPosition};
pub use read::{end_offsets, librdkafka_version, read_to_end, ConsumedRecord, Isolation};
pub use runtime::{Metrics, MetricsSnapshot, RuntimeConfig, State, StateListener, StreamsRuntime};
pub use transaction::TransactionalProducer;
