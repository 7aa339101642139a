//! What kind of store a topology declares, and what its changelog topic
//! needs from the broker.

use std::collections::BTreeMap;

/// The default of `windowstore.changelog.additional.retention.ms`: how much
/// longer than its store a window or session changelog topic keeps records
/// (24 hours, as in Kafka Streams), so that clock drift between the broker
/// and the stream time does not delete what a restore still needs.
pub const DEFAULT_WINDOW_CHANGELOG_ADDITIONAL_RETENTION_MS: i64 = 86_400_000;

/// The kind of a state store: it decides how the store's changelog topic is
/// configured (and, later, how the store is restored and queried).
///
/// ```
/// use weir_core::store::StoreKind;
///
/// let configs = StoreKind::KeyValue.changelog_configs();
/// assert_eq!(configs.get("cleanup.policy").map(String::as_str), Some("compact"));
/// let window = StoreKind::Window { retention_ms: 3_600_000 };
/// let configs = window.changelog_configs_with(60_000);
/// assert_eq!(configs["cleanup.policy"], "compact,delete");
/// assert_eq!(configs["retention.ms"], "3660000");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum StoreKind {
    /// A key-value store: its changelog keeps the latest value of each key,
    /// so the topic is compacted.
    #[default]
    KeyValue,
    /// A window store keeping windows `retention_ms` behind the newest
    /// start: its changelog is compacted and deletes by time.
    Window {
        /// The store's retention, in milliseconds.
        retention_ms: i64,
    },
    /// A session store keeping sessions `retention_ms` behind the newest
    /// end: its changelog is compacted and deletes by time.
    Session {
        /// The store's retention, in milliseconds.
        retention_ms: i64,
    },
    /// A versioned key-value store keeping `history_retention_ms` of older
    /// versions: its changelog is compacted, with `min.compaction.lag.ms` =
    /// the history retention + 24 hours so that the versions a restore needs
    /// stay (as Kafka Streams).
    Versioned {
        /// The store's history retention, in milliseconds.
        history_retention_ms: i64,
    },
}

impl StoreKind {
    /// The topic configs the store's changelog topic is created with, before
    /// any the user gives, with the default additional retention
    /// ([`DEFAULT_WINDOW_CHANGELOG_ADDITIONAL_RETENTION_MS`]); see
    /// [`changelog_configs_with`](Self::changelog_configs_with).
    pub fn changelog_configs(&self) -> BTreeMap<String, String> {
        self.changelog_configs_with(DEFAULT_WINDOW_CHANGELOG_ADDITIONAL_RETENTION_MS)
    }

    /// The topic configs of the store's changelog topic when
    /// `windowstore.changelog.additional.retention.ms` is
    /// `additional_retention_ms`: `cleanup.policy=compact` for a key-value
    /// store; `cleanup.policy=compact` and `min.compaction.lag.ms` = the
    /// history retention + 24 hours for a versioned store; `cleanup.policy=compact,delete` and `retention.ms` = the
    /// store's retention + `additional_retention_ms` for window and session
    /// stores (as Kafka Streams).
    pub fn changelog_configs_with(&self, additional_retention_ms: i64) -> BTreeMap<String, String> {
        match self {
            StoreKind::KeyValue => {
                BTreeMap::from([("cleanup.policy".to_string(), "compact".to_string())])
            }
            StoreKind::Window { retention_ms } | StoreKind::Session { retention_ms } => {
                let retention = retention_ms.saturating_add(additional_retention_ms.max(0));
                BTreeMap::from([
                    ("cleanup.policy".to_string(), "compact,delete".to_string()),
                    ("retention.ms".to_string(), retention.to_string()),
                ])
            }
            StoreKind::Versioned {
                history_retention_ms,
            } => {
                let lag =
                    history_retention_ms.saturating_add(VERSIONED_CHANGELOG_ADDITIONAL_LAG_MS);
                BTreeMap::from([
                    ("cleanup.policy".to_string(), "compact".to_string()),
                    ("min.compaction.lag.ms".to_string(), lag.to_string()),
                ])
            }
        }
    }
}

/// How much longer than its history retention a versioned store's
/// changelog keeps old versions from compaction (24 hours, fixed, as in
/// Kafka Streams).
const VERSIONED_CHANGELOG_ADDITIONAL_LAG_MS: i64 = 86_400_000;
