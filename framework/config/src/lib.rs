//! # weir-config: the configuration of a Weir application
//!
//! [`StreamsConfig`] is the typed, validated configuration of a Weir
//! application. Keys keep Kafka Streams' names (`application.id`,
//! `bootstrap.servers`, `processing.guarantee`, `commit.interval.ms`, ...;
//! see [`keys`]). A configuration comes from code
//! ([`StreamsConfig::builder`], [`StreamsConfig::from_pairs`],
//! [`StreamsConfig::set`]) or from a TOML/YAML file and `WEIR_` environment
//! variables ([`StreamsConfig::load`]); either way it is validated, and a
//! missing required key, an unknown key or a bad value is an [`Error`] that
//! names the key.
//!
//! | key | default |
//! | --- | --- |
//! | `application.id` | required |
//! | `bootstrap.servers` | required by the Kafka runtime ([`StreamsConfig::validate_for_runtime`]) |
//! | `num.stream.threads` | 1 |
//! | `processing.guarantee` | `at_least_once` (or `exactly_once_v2`) |
//! | `commit.interval.ms` | 30000; 100 under `exactly_once_v2` |
//! | `state.dir` | `${TMPDIR:-/tmp}/weir` |
//! | `max.task.idle.ms` | 0 (-1: never wait) |
//! | `buffered.records.per.partition` | 1000 |
//! | `statestore.cache.max.bytes` | 10485760 |
//! | `rocksdb.memory.budget.bytes` | 268435456 |
//! | `transaction.timeout.ms` | 10000 |
//! | `deserialization.exception.handler` | `log_and_fail` (or `log_and_continue`) |
//! | `processing.exception.handler` | `log_and_fail` (or `log_and_continue`) |
//! | `production.exception.handler` | `log_and_fail` (or `log_and_continue`) |
//! | `errors.dead.letter.queue.topic.name` | unset (no dead-letter queue) |
//! | `client.id` | unset |
//! | `replication.factor` | -1 (the broker's default) |
//! | `windowstore.changelog.additional.retention.ms` | 86400000 (24 h) |
//!
//! A key Weir accepts does something. Kafka Streams keys Weir knows but does
//! not support are refused with [`Error::Unsupported`] naming the key:
//! `default.key.serde` and `default.value.serde` (Weir has no default serdes;
//! serdes are given in code) and `num.standby.replicas` other than 0 (no
//! standby tasks yet).
//!
//! Kafka client keys (`security.protocol`, `sasl.*`, `ssl.*`, `linger.ms`,
//! ...) pass through to every client; `consumer.*`, `producer.*` and
//! `admin.*` keys to one client only.
//!
//! ```
//! use weir_config::StreamsConfig;
//!
//! let env = [("WEIR_APPLICATION_ID", "clicks"), ("WEIR_NUM_STREAM_THREADS", "4")];
//! let config = StreamsConfig::load_with_env(None, env)?;
//! assert_eq!(config.application_id(), "clicks");
//! assert_eq!(config.num_stream_threads(), 4);
//!
//! let err = StreamsConfig::from_pairs([("application.id", "clicks"), ("num.stream.thread", "4")])
//!     .unwrap_err();
//! assert_eq!(
//!     err.to_string(),
//!     "unknown configuration key 'num.stream.thread' (did you mean 'num.stream.threads'?)"
//! );
//! # Ok::<(), weir_config::Error>(())
//! ```

mod builder;
mod error;
pub mod keys;
mod load;
mod streams_config;
mod values;

pub use builder::StreamsConfigBuilder;
pub use error::{BoxError, Error, Result};
pub use load::{ENV_PREFIX, RESERVED_ENV};
pub use streams_config::{default_state_dir, StreamsConfig, MAX_APPLICATION_ID_LEN};
pub use values::{
    DeserializationExceptionHandler, ProcessingExceptionHandler, ProcessingGuarantee,
    ProductionExceptionHandler,
};
