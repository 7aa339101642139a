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

/// Sets each of `settings` on `config`.
pub(crate) fn apply(config: &mut rdkafka::config::ClientConfig, settings: &[(&str, &str)]) {
    for (key, value) in settings {
        config.set(*key, *value);
    }
}
