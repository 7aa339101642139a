//! # Weir: Kafka Streams for Rust
//!
//! Build stream-processing microservices over Kafka: declare a topology of
//! streams with the DSL (or the Processor API), test it with
//! `weir_testing::TopologyTestDriver` without a broker, and run it against
//! Kafka.
//!
//! This crate is what applications depend on. It re-exports the core API
//! (records, serdes, the Processor API, topologies and the DSL) and the
//! application's configuration ([`StreamsConfig`], from `weir-config`); the
//! Kafka runtime (`KafkaStreams`) joins it as it is built.
//!
//! ```
//! use weir::prelude::*;
//! use weir_testing::TopologyTestDriver;
//!
//! // The topology: big orders (in cents) to their own topic.
//! let builder = StreamsBuilder::new();
//! builder
//!     .stream("orders", Consumed::with(Serdes::string(), Serdes::i64()))
//!     .filter(|_id, cents| *cents >= 100_00)
//!     .named("big-orders")
//!     .to("big-orders", Produced::with(Serdes::string(), Serdes::i64()));
//! let topology = builder.build()?;
//! println!("{}", topology.describe());
//!
//! // Tested with the driver: no broker, the same task engine as in production.
//! let driver = TopologyTestDriver::with_defaults(topology);
//! let mut orders = driver.create_input_topic("orders", Serdes::string(), Serdes::i64());
//! let big = driver.create_output_topic("big-orders", Serdes::string(), Serdes::i64());
//! orders.pipe_key_value("o-1".to_string(), 25_00)?;
//! orders.pipe_key_value("o-2".to_string(), 1_250_00)?;
//! assert_eq!(big.read_key_values_to_list()?.len(), 1);
//! # Ok::<(), weir::Error>(())
//! ```

mod streams;
mod streams_error;

pub use streams::KafkaStreams;
pub use streams_error::StreamsError;
pub use weir_kafka::{MetricsSnapshot, State};

pub use weir_config::{
    keys as config_keys, DeserializationExceptionHandler, ProcessingExceptionHandler,
    ProcessingGuarantee, ProductionExceptionHandler, StreamsConfig, StreamsConfigBuilder,
};
pub use weir_core::{
    dsl, error, handler, headers, processor, record, serde, time, topology, window,
};

/// State stores: the typed key-value store processors read and write, its
/// builder, and what a custom bytes backend implements. The layers a store
/// is wrapped in (metering, caching, change-logging, uncommitted writes) are
/// the engine's business, not the application's.
pub mod store {
    pub use weir_core::store::{
        BatchOp, BytesIter, BytesStoreSupplier, ChangelogEntry, InMemoryBytesStore,
        KeyValueBytesStore, KeyValueIter, KeyValueStore, KeyValueStoreBuilder,
        ReadOnlyKeyValueStore, ReadOnlySessionStore, ReadOnlyWindowStore, SessionStore,
        SessionStoreBuilder, StateStore, StoreContext, StoreKind, TimestampedSerde,
        ValueAndTimestamp, VersionedKeyValueStore, VersionedKeyValueStoreBuilder, VersionedPut,
        VersionedRecord, WindowStore, WindowStoreBuilder, WindowStoreIter, WriteBatch,
    };
}

/// Tasks, as far as an application sees them: their ids (`<sub-topology>_<partition>`).
pub mod task {
    pub use weir_core::task::TaskId;
}
pub use weir_core::{
    Deserializer, Error, ErrorKind, Headers, RawRecord, Record, RecordMetadata, Result, Serde,
    SerdeContext, Serdes, SerializeContext, Serializer, SharedSerde, TopicPartition,
};

/// Errors of [`StreamsConfig`] (a bad configuration names the key at fault);
/// they convert into [`Error::Config`].
pub use weir_config::Error as ConfigError;

/// The guide, from `docs/`; its code examples are compiled and run as doc tests.
pub mod guide {
    #[doc = include_str!("../../../docs/architecture.md")]
    pub mod architecture {}
    #[doc = include_str!("../../../docs/dsl.md")]
    pub mod dsl {}
    #[doc = include_str!("../../../docs/time.md")]
    pub mod time {}
    #[doc = include_str!("../../../docs/joins.md")]
    pub mod joins {}
    #[doc = include_str!("../../../docs/errors.md")]
    pub mod errors {}
    #[doc = include_str!("../../../docs/testing.md")]
    pub mod testing {}
    #[doc = include_str!("../../../docs/operations.md")]
    pub mod operations {}
    #[doc = include_str!("../../../docs/eos.md")]
    pub mod exactly_once {}
}

/// Development helpers: not for production.
pub mod dev {
    /// An in-process, single-broker Kafka cluster (librdkafka's mock
    /// cluster) for development and demos: run a service on a laptop with no
    /// broker installed. **Not for production and not for exactly-once**: it
    /// does not filter aborted transactions, has no CreateTopics API (create
    /// topics with [`EmbeddedBroker::create_topics`]) and keeps everything in
    /// memory.
    pub use weir_kafka::EmbeddedBroker;
    /// Plain client helpers to feed a development broker and read what a
    /// service wrote (blocking, bounded by [`Connection::timeout`]); they work
    /// against any Kafka cluster.
    pub use weir_kafka::{
        produce_batch, read_to_end, Connection, ConsumedRecord, Isolation, ProduceRecord,
        RecordPosition, TopicSpec,
    };
}

/// The names most applications need, in one import.
pub mod prelude {
    pub use crate::{KafkaStreams, State, StreamsError};
    pub use weir_config::{ProcessingGuarantee, StreamsConfig};
    pub use weir_core::dsl::{KStream, Repartitioned, StreamsBuilder};
    pub use weir_core::processor::{Processor, ProcessorContext, Punctuation, PunctuationType};
    pub use weir_core::serde::{JsonSerde, Serdes, SharedSerde};
    pub use weir_core::topology::{Consumed, Produced, Topology, TopologyBuilder};
    pub use weir_core::{Error, Record, Result};
}
