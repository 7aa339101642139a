//! Records too large for their topic, found before they are sent: the
//! broker refuses a batch larger than the topic's `max.message.bytes`, and
//! under exactly-once a refused record would fail the whole transaction.
//! Checked at the sink instead, the record goes to the production handler
//! with its source record at hand (and its dead-letter record in the
//! transaction).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, ResourceSpecifier};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use weir_core::record::OutputRecord;

/// The size of `n` as a zigzag varint (Kafka's record fields).
fn varint_len(n: i64) -> usize {
    let mut z = ((n << 1) ^ (n >> 63)) as u64;
    let mut len = 1;
    while z >= 0x80 {
        z >>= 7;
        len += 1;
    }
    len
}

fn bytes_len(b: Option<&[u8]>) -> usize {
    match b {
        Some(b) => varint_len(b.len() as i64) + b.len(),
        None => varint_len(-1),
    }
}

/// The size of a record batch (format v2, uncompressed) holding `record`
/// alone: what the broker compares with `max.message.bytes`.
pub(crate) fn batch_size(record: &OutputRecord) -> usize {
    const BATCH_HEADER: usize = 61;
    // attributes, timestamp delta 0, offset delta 0
    let mut body = 3;
    body += bytes_len(record.key.as_deref());
    body += bytes_len(record.value.as_deref());
    body += varint_len(record.headers.len() as i64);
    for (key, value) in record.headers.iter() {
        body += bytes_len(Some(key.as_bytes())) + bytes_len(value);
    }
    BATCH_HEADER + varint_len(body as i64) + body
}

/// The topics' `max.message.bytes`, asked once per topic.
pub(crate) struct SizeLimits {
    /// An admin client over the producer's settings, made at the first ask.
    admin: Option<AdminClient<DefaultClientContext>>,
    config: ClientConfig,
    limits: HashMap<String, Option<usize>>,
    /// The topic of the previous record and its limit: a sink's records share
    /// one topic name, so most records find theirs without hashing it.
    last: Option<(Arc<str>, Option<usize>)>,
    /// Off when the producer compresses: the broker checks compressed sizes.
    enabled: bool,
}

impl SizeLimits {
    /// Limits looked up with a client made from the producer's `config`.
    pub(crate) fn new(config: &ClientConfig) -> Self {
        let compressed = ["compression.type", "compression.codec"]
            .iter()
            .any(|k| config.get(k).is_some_and(|v| v != "none"));
        let mut c = config.clone();
        c.remove("transactional.id");
        c.remove("transaction.timeout.ms");
        c.remove("enable.idempotence");
        SizeLimits {
            admin: None,
            config: c,
            limits: HashMap::new(),
            last: None,
            enabled: !compressed,
        }
    }

    /// `Some((size, limit))` when `record` is larger than its topic takes.
    pub(crate) fn too_large(&mut self, record: &OutputRecord) -> Option<(usize, usize)> {
        if !self.enabled {
            return None;
        }
        let limit = match &self.last {
            Some((topic, limit)) if Arc::ptr_eq(topic, &record.topic) || *topic == record.topic => {
                (*limit)?
            }
            _ => {
                let limit = match self.limits.get(&*record.topic) {
                    Some(limit) => *limit,
                    None => {
                        let limit = self.fetch(&record.topic);
                        self.limits.insert(record.topic.to_string(), limit);
                        limit
                    }
                };
                self.last = Some((Arc::clone(&record.topic), limit));
                limit?
            }
        };
        let size = batch_size(record);
        (size > limit).then_some((size, limit))
    }

    /// The topic's `max.message.bytes`; `None` when it cannot be read (then
    /// the broker's answer decides, as without this check).
    fn fetch(&mut self, topic: &str) -> Option<usize> {
        if self.admin.is_none() {
            self.admin = self.config.create().ok();
        }
        let admin = self.admin.as_ref()?;
        let opts = AdminOptions::new().request_timeout(Some(Duration::from_secs(10)));
        let spec = [ResourceSpecifier::Topic(topic)];
        let answer = crate::client::block_on::block_on_timeout(
            admin.describe_configs(&spec, &opts),
            Duration::from_secs(15),
        );
        let limit = answer
            .and_then(|r| r.ok())
            .and_then(|mut results| results.pop())
            .and_then(|r| r.ok())
            .and_then(|resource| {
                resource
                    .get("max.message.bytes")
                    .and_then(|e| e.value.as_deref())
                    .and_then(|v| v.parse().ok())
            });
        if limit.is_none() {
            tracing::debug!(topic, "max.message.bytes unknown; records are not checked");
        }
        limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use weir_core::Headers;

    #[test]
    fn the_batch_size_is_kafkas() {
        // A batch of one record with key "k", value of 10 bytes, no headers:
        // 61 + length varint (1) + attributes, deltas (3) + key (1 + 1) +
        // value (1 + 10) + header count (1).
        let mut record = OutputRecord {
            topic: Arc::from("t"),
            partition: None,
            key: Some(b"k".to_vec()),
            value: Some(vec![0; 10]),
            timestamp: 0,
            headers: Headers::new(),
        };
        assert_eq!(batch_size(&record), 61 + 1 + 3 + 2 + 11 + 1);
        record.value = Some(vec![0; 100]);
        // 100 needs a 2-byte zigzag varint, and so does the body length.
        assert_eq!(batch_size(&record), 61 + 2 + 3 + 2 + 102 + 1);
        record.key = None;
        record.headers.add("h", None);
        assert_eq!(batch_size(&record), 61 + 2 + 3 + 1 + 102 + 1 + 2 + 1);
    }

    /// Limits already known (no broker asked): each record is checked
    /// against its own topic's, whether its topic is the previous record's
    /// (the same name, shared or not) or another.
    #[test]
    fn each_record_meets_its_own_topics_limit() {
        let mut limits = SizeLimits::new(&ClientConfig::new());
        limits.limits.insert("small".into(), Some(100));
        limits.limits.insert("large".into(), Some(10_000));
        limits.limits.insert("unknown".into(), None);
        let record = |topic: &Arc<str>| OutputRecord {
            topic: Arc::clone(topic),
            partition: None,
            key: None,
            value: Some(vec![0; 500]),
            timestamp: 0,
            headers: Headers::new(),
        };
        let (small, large, unknown): (Arc<str>, Arc<str>, Arc<str>) =
            (Arc::from("small"), Arc::from("large"), Arc::from("unknown"));
        let size = batch_size(&record(&small));
        for _ in 0..2 {
            assert_eq!(limits.too_large(&record(&small)), Some((size, 100)));
            assert_eq!(limits.too_large(&record(&small)), Some((size, 100)));
            // The same name in another allocation.
            assert_eq!(
                limits.too_large(&record(&Arc::from("small"))),
                Some((size, 100))
            );
            assert_eq!(limits.too_large(&record(&large)), None);
            assert_eq!(limits.too_large(&record(&unknown)), None);
        }
    }

    #[test]
    fn zigzag_varint_lengths() {
        assert_eq!(varint_len(0), 1);
        assert_eq!(varint_len(-1), 1);
        assert_eq!(varint_len(63), 1);
        assert_eq!(varint_len(64), 2);
        assert_eq!(varint_len(8191), 2);
        assert_eq!(varint_len(8192), 3);
    }
}
