//! Processor metadata: small values that processors keep with the task's
//! committed offsets rather than in a store (Kafka Streams' processor
//! metadata, added for KIP-825's emit-on-window-close). Committed in the
//! offset metadata of each of the task's input partitions, they are always
//! as of the offsets the task restarts from, under at-least-once too, where
//! a store restored from its changelog may be ahead of those offsets.

use std::collections::BTreeMap;

/// What marks Weir's metadata (and its version) in a committed offset's
/// metadata string; other metadata (another client's, an older format) is
/// ignored.
const PREFIX: &str = "weir:pm1:";

/// The broker's default `offset.metadata.max.bytes`: a commit with more
/// metadata than this is refused.
pub(crate) const MAX_ENCODED_BYTES: usize = 4096;

/// A task's processor metadata: named `i64` values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ProcessorMetadata {
    values: BTreeMap<String, i64>,
    /// Whether a value changed since the last [`encode`](Self::encode).
    changed: bool,
    /// The last encoding, reused while nothing changed.
    encoded: Option<std::sync::Arc<str>>,
}

impl ProcessorMetadata {
    /// The value under `key`.
    pub(crate) fn get(&self, key: &str) -> Option<i64> {
        self.values.get(key).copied()
    }

    /// Sets `key` to `value`.
    pub(crate) fn set(&mut self, key: &str, value: i64) {
        if self.values.get(key) != Some(&value) {
            self.values.insert(key.to_string(), value);
            self.changed = true;
        }
    }

    /// Takes in the metadata committed with one of the task's partitions:
    /// per key, the highest value wins (the task's partitions commit
    /// together, so the newest commit carries the highest values; a
    /// partition without progress since keeps an older one). A string
    /// that is not Weir's metadata is ignored; one that is but does not
    /// decode is ignored with a warning.
    pub(crate) fn merge_committed(&mut self, committed: &str) {
        let Some(body) = committed.strip_prefix(PREFIX) else {
            return;
        };
        match serde_json::from_str::<BTreeMap<String, i64>>(body) {
            Ok(values) => {
                for (key, value) in values {
                    let slot = self.values.entry(key).or_insert(value);
                    *slot = (*slot).max(value);
                }
                self.changed = true;
            }
            Err(e) => tracing::warn!(
                metadata = committed,
                error = %e,
                "ignoring committed processor metadata that does not decode"
            ),
        }
    }

    /// The metadata to commit with the task's offsets; `None` when there is
    /// none, or when it is longer than [`MAX_ENCODED_BYTES`] (the broker
    /// would refuse the commit: a warning says so, and the offsets commit
    /// without it).
    pub(crate) fn encode(&mut self) -> Option<std::sync::Arc<str>> {
        if self.values.is_empty() {
            return None;
        }
        if !self.changed {
            return self.encoded.clone();
        }
        self.changed = false;
        self.encoded = match serde_json::to_string(&self.values) {
            Ok(json) if PREFIX.len() + json.len() <= MAX_ENCODED_BYTES => {
                Some(format!("{PREFIX}{json}").into())
            }
            Ok(json) => {
                tracing::warn!(
                    bytes = PREFIX.len() + json.len(),
                    limit = MAX_ENCODED_BYTES,
                    "the task's processor metadata is over the broker's offset.metadata.max.bytes; \
                     committing offsets without it"
                );
                None
            }
            Err(e) => {
                tracing::warn!(error = %e, "processor metadata does not encode; committing offsets without it");
                None
            }
        };
        self.encoded.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_and_merges_back_taking_the_highest_value_per_key() {
        let mut meta = ProcessorMetadata::default();
        assert_eq!(meta.encode(), None);
        meta.set("windows", 40);
        meta.set("sessions", -5);
        let first = meta.encode().unwrap();
        assert!(first.starts_with(PREFIX));
        meta.set("windows", 70);
        let second = meta.encode().unwrap();

        let mut back = ProcessorMetadata::default();
        back.merge_committed(&second);
        back.merge_committed(&first);
        assert_eq!(back.get("windows"), Some(70));
        assert_eq!(back.get("sessions"), Some(-5));
        assert_eq!(back.get("other"), None);
    }

    #[test]
    fn ignores_metadata_that_is_not_weirs_or_does_not_decode() {
        let mut meta = ProcessorMetadata::default();
        meta.merge_committed("");
        meta.merge_committed("AQAAAXjxq1Y="); // Kafka Streams' partition time
        meta.merge_committed("weir:pm1:{not json");
        assert_eq!(meta.encode(), None);
    }

    #[test]
    fn metadata_over_the_brokers_limit_is_not_committed() {
        let mut meta = ProcessorMetadata::default();
        for i in 0..200 {
            meta.set(&format!("a-rather-long-store-name-{i:04}"), i64::MAX);
        }
        assert_eq!(meta.encode(), None);
    }
}
