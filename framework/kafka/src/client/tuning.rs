//! The librdkafka settings every Weir client starts from. The user's
//! properties are applied after them, so each can be overridden.
//!
//! librdkafka's own defaults suit a consumer that wants the highest
//! throughput at any memory cost; a stream thread hands records to its
//! tasks as fast as it takes them, so Weir bounds the prefetch instead:
//!
//! - librdkafka keeps every fetched record as an operation of a few hundred
//!   bytes, whatever its size, and its thresholds count the queue of the
//!   whole consumer, not of a partition. With its defaults (100,000
//!   records, 64 MiB, 50 MiB fetches) a consumer of small records held
//!   hundreds of thousands of them: 100-200 MiB of the count benchmark's
//!   peak RSS. Small fetches (1 MiB, 64 KiB per partition) and a queue of
//!   2,000 records keep it to a few MiB; a partition whose batches exceed
//!   the per-partition size still gets one whole batch per fetch.
//! - `fetch.queue.backoff.ms` is how long a partition waits before fetching
//!   again once the queue is over its threshold; librdkafka's 1 s default
//!   starves a small queue, 5 ms does not.
//! - Nagle's algorithm is off (`socket.nagle.disable`), as the Java clients
//!   set `TCP_NODELAY`: small requests (a commit, a transaction marker, a
//!   lone record at low load) are not held back waiting for an ACK.
//! - `reconnect.backoff.ms` 20 (librdkafka: 100; Kafka's Java clients: 50):
//!   besides the first reconnect delay (doubling up to
//!   `reconnect.backoff.max.ms` while a broker stays away), librdkafka
//!   derives from it how long a new client waits before it opens its second
//!   connection (half of it): every client took ~50 ms longer to start.
//! - The producer's queue is bounded at 8 MiB (librdkafka: 1 GiB): when the
//!   broker falls behind, a send waits for room instead of the process
//!   growing.
//!
//! One setting is not a default but a rule: every producer partitions like
//! Kafka's Java producer (see [`producer`]), so a keyed record Weir writes
//! lands on the partition a Java client would have picked for its key, and
//! Weir's output stays co-partitioned with topics written by Java clients.

use rdkafka::client::ClientContext;
use rdkafka::config::{ClientConfig, FromClientConfigAndContext};

use crate::error::{Error, Result};

/// Every client: producers, consumers, admin.
pub(crate) const CLIENT: &[(&str, &str)] = &[
    ("socket.nagle.disable", "true"),
    ("reconnect.backoff.ms", "20"),
];

/// Consumers that feed stream threads (and the benchmarks' copier).
pub(crate) const CONSUMER: &[(&str, &str)] = &[
    ("queued.min.messages", "2000"),
    ("queued.max.messages.kbytes", "2048"),
    ("fetch.max.bytes", "1048576"),
    ("max.partition.fetch.bytes", "65536"),
    ("fetch.queue.backoff.ms", "5"),
];

/// Producers of stream threads (and of the benchmarks' copier).
pub(crate) const PRODUCER: &[(&str, &str)] = &[("queue.buffering.max.kbytes", "8192")];

/// librdkafka's partitioner that matches the default partitioner of Kafka's
/// Java producer: a keyed record goes to `toPositive(murmur2(key)) %
/// partitions`; a record without a key to a random partition (Java spreads
/// those with its sticky partitioner: no key, no placement to agree on).
/// librdkafka's own default, `consistent_random`, hashes with CRC32 and puts
/// most keys on another partition than Java does.
pub(crate) const PARTITIONER: &str = "murmur2_random";

/// Creates a producer from `config` with Java's partitioner ([`PARTITIONER`]).
/// Every producer Weir makes is created here, so none can miss it.
///
/// A `partitioner` the user set to anything else is refused
/// ([`Error::Config`]): it would silently break co-partitioning with Java
/// clients. A sink that needs another placement picks partitions itself
/// (`Produced::with_partitioner`).
pub(crate) fn producer<C, P>(mut config: ClientConfig, context: C) -> Result<P>
where
    C: ClientContext,
    P: FromClientConfigAndContext<C>,
{
    java_partitioner(&mut config)?;
    config
        .create_with_context(context)
        .map_err(|e| Error::client(&e))
}

/// Sets [`PARTITIONER`] on `config`, or refuses a different one set before.
pub(crate) fn java_partitioner(config: &mut ClientConfig) -> Result<()> {
    if let Some(set) = config.get("partitioner") {
        if set != PARTITIONER {
            return Err(Error::Config {
                key: "partitioner".to_owned(),
                message: format!(
                    "'{set}' is not allowed: Weir's producers use '{PARTITIONER}' (the partitioner \
                     of Kafka's Java producer) so that its topics stay co-partitioned with topics \
                     Java clients write; choose partitions in the topology \
                     (Produced::with_partitioner) instead"
                ),
            });
        }
    }
    config.set("partitioner", PARTITIONER);
    Ok(())
}

/// Sets each of `settings` on `config`.
pub(crate) fn apply(config: &mut ClientConfig, settings: &[(&str, &str)]) {
    for (key, value) in settings {
        config.set(*key, *value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn producers_get_javas_partitioner() {
        let mut config = ClientConfig::new();
        java_partitioner(&mut config).unwrap();
        assert_eq!(config.get("partitioner"), Some("murmur2_random"));
        config.set("partitioner", "murmur2_random");
        java_partitioner(&mut config).unwrap();
        assert_eq!(config.get("partitioner"), Some("murmur2_random"));
    }

    #[test]
    fn another_partitioner_is_refused_naming_the_key() {
        let mut config = ClientConfig::new();
        config.set("partitioner", "consistent_random");
        let err = java_partitioner(&mut config).unwrap_err();
        assert!(
            matches!(&err, Error::Config { key, .. } if key == "partitioner"),
            "{err}"
        );
        assert!(err.to_string().contains("consistent_random"), "{err}");
    }
}
