//! Configuration key names (Kafka Streams' names) and how unknown keys are
//! classified: passed through to the Kafka clients, or refused.

/// Identifies the application; prefixes internal topics, the consumer group
/// id and transactional ids. Required.
pub const APPLICATION_ID: &str = "application.id";
/// `host:port` list of brokers. Required by the Kafka runtime, not by the test driver.
pub const BOOTSTRAP_SERVERS: &str = "bootstrap.servers";
/// Prefix of the Kafka clients' `client.id`s (optional).
pub const CLIENT_ID: &str = "client.id";
/// How many stream threads an instance runs (default 1).
pub const NUM_STREAM_THREADS: &str = "num.stream.threads";
/// How often tasks commit, in ms (default 30000, or 100 under exactly-once).
pub const COMMIT_INTERVAL_MS: &str = "commit.interval.ms";
/// `at_least_once` (default) or `exactly_once_v2`.
pub const PROCESSING_GUARANTEE: &str = "processing.guarantee";
/// Where local state lives (default `${TMPDIR:-/tmp}/weir`).
pub const STATE_DIR: &str = "state.dir";
/// Kafka Streams' serde for keys when an operator is given none. Refused
/// with [`crate::Error::Unsupported`]: Weir has no default serdes, every
/// operator is given its serdes in code.
pub const DEFAULT_KEY_SERDE: &str = "default.key.serde";
/// Kafka Streams' serde for values when an operator is given none. Refused
/// like [`DEFAULT_KEY_SERDE`].
pub const DEFAULT_VALUE_SERDE: &str = "default.value.serde";
/// How long a task waits for data on empty inputs (default 0; -1: never).
pub const MAX_TASK_IDLE_MS: &str = "max.task.idle.ms";
/// Records buffered per input partition before it is paused (default 1000).
pub const BUFFERED_RECORDS_PER_PARTITION: &str = "buffered.records.per.partition";
/// Bytes of record cache across an instance's stores (default 10 MiB).
pub const STATESTORE_CACHE_MAX_BYTES: &str = "statestore.cache.max.bytes";
/// Bytes RocksDB may use across an instance's stores (default 256 MiB).
pub const ROCKSDB_MEMORY_BUDGET_BYTES: &str = "rocksdb.memory.budget.bytes";
/// Transaction timeout of the transactional producers, in ms (default 10000).
pub const TRANSACTION_TIMEOUT_MS: &str = "transaction.timeout.ms";
/// `log_and_fail` (default) or `log_and_continue`.
pub const DESERIALIZATION_EXCEPTION_HANDLER: &str = "deserialization.exception.handler";
/// `log_and_fail` (default) or `log_and_continue`: processor and
/// punctuator failures, panics included.
pub const PROCESSING_EXCEPTION_HANDLER: &str = "processing.exception.handler";
/// `log_and_fail` (default) or `log_and_continue`: sink serialization
/// failures and records refused for good when sent.
pub const PRODUCTION_EXCEPTION_HANDLER: &str = "production.exception.handler";
/// The dead-letter topic the built-in handlers write failed records to
/// (unset: none). The topic is not created: it must exist.
pub const ERRORS_DEAD_LETTER_QUEUE_TOPIC_NAME: &str = "errors.dead.letter.queue.topic.name";
/// Standby replicas per stateful task: only 0 (the default) is accepted,
/// since Weir has no standby tasks yet; any other value is refused with
/// [`crate::Error::Unsupported`].
pub const NUM_STANDBY_REPLICAS: &str = "num.standby.replicas";
/// Replication factor of internal topics (default -1: the broker's default).
pub const REPLICATION_FACTOR: &str = "replication.factor";
/// How much longer than its store a window or session store's changelog
/// topic keeps records, in ms (default 86400000: 24 h): its `retention.ms`
/// is the store's retention plus this.
pub const WINDOWSTORE_CHANGELOG_ADDITIONAL_RETENTION_MS: &str =
    "windowstore.changelog.additional.retention.ms";

/// Every key [`crate::StreamsConfig`] reads itself (some only to refuse
/// values Weir does not support, with an error saying why).
pub const KNOWN: &[&str] = &[
    APPLICATION_ID,
    BOOTSTRAP_SERVERS,
    CLIENT_ID,
    NUM_STREAM_THREADS,
    COMMIT_INTERVAL_MS,
    PROCESSING_GUARANTEE,
    STATE_DIR,
    DEFAULT_KEY_SERDE,
    DEFAULT_VALUE_SERDE,
    MAX_TASK_IDLE_MS,
    BUFFERED_RECORDS_PER_PARTITION,
    STATESTORE_CACHE_MAX_BYTES,
    ROCKSDB_MEMORY_BUDGET_BYTES,
    TRANSACTION_TIMEOUT_MS,
    DESERIALIZATION_EXCEPTION_HANDLER,
    PROCESSING_EXCEPTION_HANDLER,
    PRODUCTION_EXCEPTION_HANDLER,
    ERRORS_DEAD_LETTER_QUEUE_TOPIC_NAME,
    NUM_STANDBY_REPLICAS,
    REPLICATION_FACTOR,
    WINDOWSTORE_CHANGELOG_ADDITIONAL_RETENTION_MS,
];

/// Prefix of keys that apply to the consumer only (prefix stripped).
pub const CONSUMER_PREFIX: &str = "consumer.";
/// Prefix of keys that apply to the producer only (prefix stripped).
pub const PRODUCER_PREFIX: &str = "producer.";
/// Prefix of keys that apply to the admin client only (prefix stripped).
pub const ADMIN_PREFIX: &str = "admin.";

/// The producers' partitioner. Weir's producers always use
/// [`JAVA_PARTITIONER`], so this key accepts that value alone: any other
/// would put keyed records on other partitions than Kafka's Java producer
/// does, and Weir's topics would no longer be co-partitioned with topics
/// Java clients write. A sink picks partitions itself with a
/// `StreamPartitioner` instead.
pub const PRODUCER_PARTITIONER: &str = "producer.partitioner";
/// librdkafka's name of the partitioner of Kafka's Java producer (murmur2 of
/// the key; records without a key go to a random partition).
pub const JAVA_PARTITIONER: &str = "murmur2_random";

/// Kafka client keys passed through to every client. An entry ending in `.`
/// is a prefix; any other entry matches the key itself and the keys below it
/// (`retry.backoff` matches `retry.backoff.ms` and `retry.backoff.max.ms`).
pub const CLIENT_PASS_THROUGH: &[&str] = &[
    "security.protocol",
    "sasl.",
    "ssl.",
    "client.dns.lookup",
    "socket.",
    "reconnect.",
    "retry.backoff",
    "metadata.max.age.ms",
    "request.timeout.ms",
    "session.timeout.ms",
    "heartbeat.interval.ms",
    "max.poll.interval.ms",
    "fetch.",
    "linger.ms",
    "batch.",
    "compression.type",
    "acks",
    "enable.idempotence",
    "queue.buffering.",
];

/// Pass-through keys that only a consumer understands; they go to the
/// consumer alone (librdkafka warns when a producer is given them).
pub const CONSUMER_ONLY: &[&str] = &[
    "session.timeout.ms",
    "heartbeat.interval.ms",
    "max.poll.interval.ms",
    "fetch.",
];

/// Pass-through keys that only a producer understands.
pub const PRODUCER_ONLY: &[&str] = &[
    "linger.ms",
    "batch.",
    "compression.type",
    "acks",
    "enable.idempotence",
    "queue.buffering.",
];

fn matches_any(list: &[&str], key: &str) -> bool {
    list.iter().any(|p| {
        if p.ends_with('.') {
            key.starts_with(p)
        } else {
            key == *p
        }
    })
}

/// Whether `key` (a pass-through key) applies to consumers only.
pub fn is_consumer_only(key: &str) -> bool {
    matches_any(CONSUMER_ONLY, key)
}

/// Whether `key` (a pass-through key) applies to producers only.
pub fn is_producer_only(key: &str) -> bool {
    matches_any(PRODUCER_ONLY, key)
}

/// Whether `key` is a Kafka client key passed through to every client.
pub fn is_client_pass_through(key: &str) -> bool {
    CLIENT_PASS_THROUGH.iter().any(|p| {
        if p.ends_with('.') {
            key.len() > p.len() && key.starts_with(p)
        } else {
            key == *p
                || key
                    .strip_prefix(p)
                    .is_some_and(|rest| rest.len() > 1 && rest.starts_with('.'))
        }
    })
}

/// Whether the value of `key` is a secret that must not be printed: keys
/// containing `password`, `secret` or `sasl.jaas`, and PEM private keys.
pub fn is_sensitive(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    ["password", "secret", "sasl.jaas", "ssl.key.pem"]
        .iter()
        .any(|s| key.contains(s))
}

/// The known key closest to `key` within edit distance 2, if any (for a
/// "did you mean" hint). Exact pass-through names count as known.
pub fn suggest(key: &str) -> Option<&'static str> {
    let exact_pass_through = CLIENT_PASS_THROUGH.iter().filter(|p| !p.ends_with('.'));
    KNOWN
        .iter()
        .chain(exact_pass_through)
        .map(|k| (edit_distance(key, k), *k))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// Levenshtein distance between `a` and `b`, by characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitute = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = substitute.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_single_edits() {
        assert_eq!(edit_distance("", ""), 0);
        assert_eq!(edit_distance("abc", "abc"), 0);
        assert_eq!(edit_distance("abc", "abd"), 1);
        assert_eq!(edit_distance("abc", "ab"), 1);
        assert_eq!(edit_distance("ab", "abc"), 1);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn suggestions_are_close_known_keys() {
        assert_eq!(suggest("aplication.id"), Some(APPLICATION_ID));
        assert_eq!(suggest("num.stream.thread"), Some(NUM_STREAM_THREADS));
        assert_eq!(suggest("linger.sm"), Some("linger.ms"));
        assert_eq!(suggest("completely.different"), None);
    }

    #[test]
    fn pass_through_matches_prefixes_and_keys_below_exact_names() {
        for key in [
            "security.protocol",
            "sasl.mechanism",
            "ssl.ca.location",
            "retry.backoff.ms",
            "retry.backoff.max.ms",
            "acks",
            "queue.buffering.max.ms",
            "fetch.min.bytes",
        ] {
            assert!(is_client_pass_through(key), "{key}");
        }
        for key in ["sasl.", "acksx", "acks.", "linger", "retry.backoffs", "foo"] {
            assert!(!is_client_pass_through(key), "{key}");
        }
    }

    #[test]
    fn sensitive_keys() {
        assert!(is_sensitive("sasl.password"));
        assert!(is_sensitive("ssl.key.password"));
        assert!(is_sensitive("sasl.oauthbearer.client.secret"));
        assert!(is_sensitive("sasl.jaas.config"));
        assert!(is_sensitive("producer.sasl.password"));
        assert!(!is_sensitive("sasl.username"));
        assert!(!is_sensitive("bootstrap.servers"));
    }
}
