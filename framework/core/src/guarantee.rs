//! `processing.guarantee`: what the runtime promises about each input
//! record's effects. One type for the configuration, the runtime, the tasks
//! and the test driver.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// `processing.guarantee`: what the runtime promises about each input record's effects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ProcessingGuarantee {
    /// `at_least_once` (the default): after a failure some records may be
    /// processed again, so outputs and state updates may repeat.
    #[default]
    AtLeastOnce,
    /// `exactly_once_v2`: outputs, changelog writes and input offsets are
    /// committed in one Kafka transaction per thread; readers using
    /// `read_committed` see each record's effects exactly once.
    #[serde(rename = "exactly_once_v2")]
    ExactlyOnceV2,
}

impl ProcessingGuarantee {
    /// Every guarantee with its configuration name.
    pub const ALL: &'static [(&'static str, ProcessingGuarantee)] = &[
        ("at_least_once", ProcessingGuarantee::AtLeastOnce),
        ("exactly_once_v2", ProcessingGuarantee::ExactlyOnceV2),
    ];

    /// The configuration name (`at_least_once`, `exactly_once_v2`).
    pub fn as_str(self) -> &'static str {
        match self {
            ProcessingGuarantee::AtLeastOnce => "at_least_once",
            ProcessingGuarantee::ExactlyOnceV2 => "exactly_once_v2",
        }
    }

    /// Whether this is an exactly-once guarantee.
    pub fn is_exactly_once(self) -> bool {
        self == ProcessingGuarantee::ExactlyOnceV2
    }

    /// The default `commit.interval.ms` under this guarantee: 30000 under
    /// at-least-once, 100 under exactly-once (a commit ends a transaction, and
    /// `read_committed` readers see nothing before it).
    pub fn default_commit_interval_ms(self) -> u64 {
        match self {
            ProcessingGuarantee::AtLeastOnce => 30_000,
            ProcessingGuarantee::ExactlyOnceV2 => 100,
        }
    }
}

impl FromStr for ProcessingGuarantee {
    type Err = Error;

    /// Parses `at_least_once` or `exactly_once_v2`; the error names
    /// `processing.guarantee` and lists the valid values.
    fn from_str(s: &str) -> Result<Self, Error> {
        Self::ALL
            .iter()
            .find(|(name, _)| *name == s.trim())
            .map(|(_, g)| *g)
            .ok_or_else(|| {
                let valid: Vec<&str> = Self::ALL.iter().map(|(n, _)| *n).collect();
                Error::Config {
                    key: "processing.guarantee".to_string(),
                    message: format!("'{s}': expected one of: {}", valid.join(", ")),
                }
            })
    }
}

impl fmt::Display for ProcessingGuarantee {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
