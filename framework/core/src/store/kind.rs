//! What kind of store a topology declares, and what its changelog topic
//! needs from the broker.

use std::collections::BTreeMap;

/// The kind of a state store: it decides how the store's changelog topic is
/// configured (and, later, how the store is restored and queried).
///
/// ```
/// use weir_core::store::StoreKind;
///
/// let configs = StoreKind::KeyValue.changelog_configs();
/// assert_eq!(configs.get("cleanup.policy").map(String::as_str), Some("compact"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum StoreKind {
    /// A key-value store: its changelog keeps the latest value of each key,
    /// so the topic is compacted.
    #[default]
    KeyValue,
}

impl StoreKind {
    /// The topic configs the store's changelog topic is created with, before
    /// any the user gives: `cleanup.policy=compact` for a key-value store.
    /// (Window stores will add `compact,delete` and a retention.)
    pub fn changelog_configs(&self) -> BTreeMap<String, String> {
        match self {
            StoreKind::KeyValue => {
                BTreeMap::from([("cleanup.policy".to_string(), "compact".to_string())])
            }
        }
    }
}
