//! Weir's Kafka side, the only crate that talks to Kafka (through rdkafka),
//! arranged by role:
//!
//! - [`runtime`]: the stream threads (poll loop, rebalance callbacks) and the
//!   adapters of the engine's ports (`weir_core::engine`) over rdkafka;
//!   [`StreamsRuntime`] runs a topology.
//! - client helpers, re-exported here, all blocking and bounded by
//!   [`Connection::timeout`]: [`create_topics`] creates topics idempotently
//!   (same partition count) and [`partition_count`] reads a topic's count;
//!   [`produce_batch`] produces records and waits for their acknowledgements;
//!   [`TransactionalProducer`] wraps init / begin / send / commit / abort;
//!   [`read_to_end`] reads a topic up to its current end, read_committed or
//!   read_uncommitted, and [`end_offsets`] reads its partitions' end offsets.
//!   Every producer partitions keyed records like Kafka's Java producer
//!   (murmur2).
//! - [`dev`]: [`EmbeddedBroker`], librdkafka's in-process mock cluster for
//!   development and demos (not for production, not for exactly-once).
//! - [`tools`]: the benchmarks' instruments (a raw copier, the ceiling Weir
//!   is compared against, and the probes), which only `testing/` uses.
//!
//! No rdkafka type appears in these signatures.

mod client;
pub mod dev;
pub mod error;
pub mod runtime;
pub mod tools;

pub use client::admin::{create_topics, delete_topic, partition_count, TopicSpec};
pub use client::connection::Connection;
pub use client::produce::{produce_batch, ProduceRecord, RecordPosition};
pub use client::read::{end_offsets, librdkafka_version, read_to_end, ConsumedRecord, Isolation};
pub use client::transaction::TransactionalProducer;
pub use dev::embedded::EmbeddedBroker;
pub use error::{Error, Result};
pub use runtime::{Metrics, MetricsSnapshot, RuntimeConfig, State, StateListener, StreamsRuntime};
