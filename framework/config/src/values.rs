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

pub use weir_core::ProcessingGuarantee;

/// Parses `processing.guarantee`; the error names the key and lists the valid values.
pub(crate) fn parse_guarantee(value: &str) -> Result<ProcessingGuarantee, Error> {
    one_of(keys::PROCESSING_GUARANTEE, value, ProcessingGuarantee::ALL)
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
        for (name, g) in ProcessingGuarantee::ALL {
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
        let err = parse_guarantee("exactly_once_beta")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("processing.guarantee"), "{err}");
        assert!(err.contains("at_least_once, exactly_once_v2"), "{err}");
    }
}
