//! The in-memory seams the driver hands to tasks: a record collector that
//! keeps what tasks send, and a mock clock that moves only when told.

use std::collections::BTreeMap;

use weir_core::collector::{Clock, RecordCollector};
use weir_core::record::OutputRecord;
use weir_core::{Error, ErrorKind, Result};

/// A wall clock that stands still until moved: time under test is explicit.
///
/// ```
/// use weir_core::collector::Clock;
/// use weir_testing::MockClock;
///
/// let mut clock = MockClock::new(1_000);
/// clock.advance_ms(250);
/// assert_eq!(clock.now_ms(), 1_250);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MockClock {
    now_ms: i64,
}

impl MockClock {
    /// A clock showing `now_ms`.
    pub fn new(now_ms: i64) -> Self {
        MockClock { now_ms }
    }

    /// Moves the clock forward by `ms` (saturating).
    pub fn advance_ms(&mut self, ms: i64) {
        self.now_ms = self.now_ms.saturating_add(ms);
    }
}

impl Clock for MockClock {
    fn now_ms(&self) -> i64 {
        self.now_ms
    }
}

/// Kafka's murmur2 hash (`org.apache.kafka.common.utils.Utils.murmur2`), the
/// hash of the Java producer's default partitioner.
pub fn murmur2(data: &[u8]) -> i32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    let len = data.len();
    // Kafka hashes the length as a Java int; inputs past 2^31 bytes do not occur.
    let mut h: u32 = SEED ^ (len as u32);
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        let mut k = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let rest = chunks.remainder();
    if rest.len() >= 3 {
        h ^= u32::from(rest[2]) << 16;
    }
    if rest.len() >= 2 {
        h ^= u32::from(rest[1]) << 8;
    }
    if let Some(&b) = rest.first() {
        h ^= u32::from(b);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    i32::from_ne_bytes(h.to_ne_bytes())
}

/// The partition Kafka's default partitioner gives a record with `key` among
/// `partitions`: `toPositive(murmur2(key)) % partitions`. The driver sends
/// records without a key to partition 0 (Kafka spreads them; a test wants to
/// know where they land).
pub fn default_partition(key: Option<&[u8]>, partitions: i32) -> i32 {
    match key {
        Some(k) if partitions > 1 => (murmur2(k) & 0x7fff_ffff) % partitions,
        _ => 0,
    }
}

/// Partition counts of every topic the driver knows; any other topic has the default.
#[derive(Debug, Clone, Default)]
pub(crate) struct TopicPartitions {
    pub(crate) counts: BTreeMap<String, i32>,
    pub(crate) default: i32,
}

impl TopicPartitions {
    pub(crate) fn count(&self, topic: &str) -> i32 {
        self.counts.get(topic).copied().unwrap_or(self.default)
    }
}

/// A record a task sent, with its partition chosen.
#[derive(Debug, Clone)]
pub(crate) struct Sent {
    pub(crate) partition: i32,
    pub(crate) record: OutputRecord,
}

/// Keeps what tasks send until the driver routes it.
#[derive(Debug, Default)]
pub(crate) struct MemoryCollector {
    pub(crate) partitions: TopicPartitions,
    pub(crate) sent: Vec<Sent>,
}

impl MemoryCollector {
    /// What was sent since the last call, in send order.
    pub(crate) fn take(&mut self) -> Vec<Sent> {
        std::mem::take(&mut self.sent)
    }
}

impl RecordCollector for MemoryCollector {
    fn send(&mut self, record: OutputRecord) -> Result<()> {
        let count = self.partitions.count(&record.topic);
        let partition = match record.partition {
            Some(p) if (0..count).contains(&p) => p,
            Some(p) => {
                return Err(Error::Send {
                    message: format!(
                        "partition {p} does not exist: the topic has {count} partition(s)"
                    ),
                    topic: record.topic.to_string(),
                    kind: ErrorKind::User,
                })
            }
            None => default_partition(record.key.as_deref(), count),
        };
        self.sent.push(Sent { partition, record });
        Ok(())
    }

    fn partition_count(&mut self, topic: &str) -> Result<Option<i32>> {
        Ok(Some(self.partitions.count(topic)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn murmur2_matches_kafka() {
        // The cases of Kafka's UtilsTest.testMurmur2.
        let cases: [(&[u8], i32); 6] = [
            (b"21", -973_932_308),
            (b"foobar", -790_332_482),
            (b"a-little-bit-long-string", -985_981_536),
            (b"a-little-bit-longer-string", -1_486_304_829),
            (
                b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
                -58_897_971,
            ),
            (b"abc", 479_470_107),
        ];
        for (data, expected) in cases {
            assert_eq!(murmur2(data), expected, "{}", String::from_utf8_lossy(data));
        }
    }

    #[test]
    fn default_partition_is_in_range_and_null_keys_go_to_zero() {
        for key in [&b"a"[..], b"bb", b"ccc", b"dddd", b"eeeee"] {
            let p = default_partition(Some(key), 3);
            assert!((0..3).contains(&p));
        }
        assert_eq!(default_partition(None, 5), 0);
        assert_eq!(default_partition(Some(b"x"), 1), 0);
    }

    #[test]
    fn collector_checks_explicit_partitions() {
        let mut c = MemoryCollector {
            partitions: TopicPartitions {
                counts: BTreeMap::from([("t".to_string(), 2)]),
                default: 1,
            },
            sent: Vec::new(),
        };
        let record = |partition| OutputRecord {
            topic: "t".into(),
            partition,
            key: None,
            value: None,
            timestamp: 0,
            headers: Default::default(),
        };
        assert!(c.send(record(Some(1))).is_ok());
        let err = c.send(record(Some(2))).unwrap_err();
        assert!(
            err.to_string().contains("partition 2 does not exist"),
            "{err}"
        );
        assert_eq!(c.partition_count("t").unwrap(), Some(2));
        assert_eq!(c.partition_count("other").unwrap(), Some(1));
        assert_eq!(c.take().len(), 1);
        assert!(c.take().is_empty());
    }
}
