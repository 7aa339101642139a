//! The enumerated values of the configuration: processing guarantee and
//! deserialization handlers.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use weir_core::handler::{LogAndContinue, LogAndFail, SharedDeserializationHandler};

use crate::error::Error;
use crate::keys;

/// Parses `value` as one of `names` (exact match), or fails naming `key` and
/// listing the valid values.
fn one_of<T: Copy>(key: &str, value: &str, names: &[(&str, T)]) -> Result<T, Error> {
    names
        .iter()
        .find(|(n, _)| *n == value.trim())
        .map(|(_, v)| *v)
        .ok_or_else(|| {
            let valid: Vec<&str> = names.iter().map(|(n, _)| *n).collect();
            Error::invalid(key, value, format!("expected one of: {}", valid.join(", ")))
        })
}

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
    const NAMES: &'static [(&'static str, ProcessingGuarantee)] = &[
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

    /// Parses `at_least_once` or `exactly_once_v2`; the error names `processing.guarantee`.
    fn from_str(s: &str) -> Result<Self, Error> {
        one_of(keys::PROCESSING_GUARANTEE, s, Self::NAMES)
    }
}

impl fmt::Display for ProcessingGuarantee {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `deserialization.exception.handler`: what a task does with a source
/// record that cannot be deserialized.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DeserializationExceptionHandler {
    /// `log_and_fail` (the default): log and stop processing.
    #[default]
    LogAndFail,
    /// `log_and_continue`: log and skip the record.
    LogAndContinue,
}

impl DeserializationExceptionHandler {
    const NAMES: &'static [(&'static str, DeserializationExceptionHandler)] = &[
        ("log_and_fail", DeserializationExceptionHandler::LogAndFail),
        (
            "log_and_continue",
            DeserializationExceptionHandler::LogAndContinue,
        ),
    ];

    /// The configuration name (`log_and_fail`, `log_and_continue`).
    pub fn as_str(self) -> &'static str {
        match self {
            DeserializationExceptionHandler::LogAndFail => "log_and_fail",
            DeserializationExceptionHandler::LogAndContinue => "log_and_continue",
        }
    }

    /// The weir-core handler that implements it.
    pub fn handler(self) -> SharedDeserializationHandler {
        match self {
            DeserializationExceptionHandler::LogAndFail => Arc::new(LogAndFail),
            DeserializationExceptionHandler::LogAndContinue => Arc::new(LogAndContinue),
        }
    }
}

impl FromStr for DeserializationExceptionHandler {
    type Err = Error;

    /// Parses `log_and_fail` or `log_and_continue`; the error names the key.
    fn from_str(s: &str) -> Result<Self, Error> {
        one_of(keys::DESERIALIZATION_EXCEPTION_HANDLER, s, Self::NAMES)
    }
}

impl fmt::Display for DeserializationExceptionHandler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for g in [
            ProcessingGuarantee::AtLeastOnce,
            ProcessingGuarantee::ExactlyOnceV2,
        ] {
            assert_eq!(g.as_str().parse::<ProcessingGuarantee>().ok(), Some(g));
        }
        for h in [
            DeserializationExceptionHandler::LogAndFail,
            DeserializationExceptionHandler::LogAndContinue,
        ] {
            assert_eq!(
                h.as_str().parse::<DeserializationExceptionHandler>().ok(),
                Some(h)
            );
        }
    }

    #[test]
    fn serde_names_match_the_configuration_names_of_the_values() -> Result<(), config::ConfigError>
    {
        let de = |s: &str| config::Value::new(None, s);
        for (name, g) in ProcessingGuarantee::NAMES {
            assert_eq!(de(name).try_deserialize::<ProcessingGuarantee>()?, *g);
        }
        for (name, h) in DeserializationExceptionHandler::NAMES {
            assert_eq!(
                de(name).try_deserialize::<DeserializationExceptionHandler>()?,
                *h
            );
        }
        Ok(())
    }

    #[test]
    fn bad_guarantee_lists_the_valid_values() {
        let err = "exactly_once_beta"
            .parse::<ProcessingGuarantee>()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("processing.guarantee"), "{err}");
        assert!(err.contains("at_least_once, exactly_once_v2"), "{err}");
    }
}
