//! The enumerated values of the configuration: processing guarantee and
//! the error handlers of the three stages.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use weir_core::handler::{
    LogAndContinue, LogAndFail, SharedDeserializationHandler, SharedProcessingHandler,
    SharedProductionHandler,
};

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

/// Declares the configuration value of one handler stage: `log_and_fail`
/// or `log_and_continue` (and Kafka Streams' class names of the same
/// built-ins), parsed against its key.
macro_rules! handler_value {
    (
        $(#[$doc:meta])*
        $name:ident, $key:expr, $shared:ty,
        fail: [$($fail:literal),*], continue: [$($cont:literal),*]
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        #[non_exhaustive]
        pub enum $name {
            /// `log_and_fail` (the default): log and stop processing.
            #[default]
            LogAndFail,
            /// `log_and_continue`: log and skip the record.
            LogAndContinue,
        }

        impl $name {
            const NAMES: &'static [(&'static str, $name)] = &[
                ("log_and_fail", $name::LogAndFail),
                ("log_and_continue", $name::LogAndContinue),
                $(($fail, $name::LogAndFail),)*
                $(($cont, $name::LogAndContinue),)*
            ];

            /// The configuration name (`log_and_fail`, `log_and_continue`).
            pub fn as_str(self) -> &'static str {
                match self {
                    $name::LogAndFail => "log_and_fail",
                    $name::LogAndContinue => "log_and_continue",
                }
            }

            /// The weir-core handler that implements it.
            pub fn handler(self) -> $shared {
                match self {
                    $name::LogAndFail => Arc::new(LogAndFail),
                    $name::LogAndContinue => Arc::new(LogAndContinue),
                }
            }
        }

        impl FromStr for $name {
            type Err = Error;

            /// Parses `log_and_fail` or `log_and_continue` (or Kafka
            /// Streams' class name of the same built-in); the error names
            /// the key.
            fn from_str(s: &str) -> Result<Self, Error> {
                one_of($key, s, Self::NAMES)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

handler_value! {
    /// `deserialization.exception.handler`: what a task does with a source
    /// record that cannot be deserialized.
    DeserializationExceptionHandler, keys::DESERIALIZATION_EXCEPTION_HANDLER,
    SharedDeserializationHandler,
    fail: ["org.apache.kafka.streams.errors.LogAndFailExceptionHandler"],
    continue: ["org.apache.kafka.streams.errors.LogAndContinueExceptionHandler"]
}

handler_value! {
    /// `processing.exception.handler`: what a task does when a processor or
    /// a punctuator fails on a record (an error or a panic).
    ProcessingExceptionHandler, keys::PROCESSING_EXCEPTION_HANDLER,
    SharedProcessingHandler,
    fail: ["org.apache.kafka.streams.errors.LogAndFailProcessingExceptionHandler"],
    continue: ["org.apache.kafka.streams.errors.LogAndContinueProcessingExceptionHandler"]
}

handler_value! {
    /// `production.exception.handler`: what a task does when a sink's record
    /// cannot be serialized or is refused for good when sent (too large,
    /// for instance). Kafka Streams' default handler fails, as
    /// `log_and_fail` does.
    ProductionExceptionHandler, keys::PRODUCTION_EXCEPTION_HANDLER,
    SharedProductionHandler,
    fail: ["org.apache.kafka.streams.errors.DefaultProductionExceptionHandler"],
    continue: []
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
        for h in [
            ProcessingExceptionHandler::LogAndFail,
            ProcessingExceptionHandler::LogAndContinue,
        ] {
            assert_eq!(
                h.as_str().parse::<ProcessingExceptionHandler>().ok(),
                Some(h)
            );
        }
        for h in [
            ProductionExceptionHandler::LogAndFail,
            ProductionExceptionHandler::LogAndContinue,
        ] {
            assert_eq!(
                h.as_str().parse::<ProductionExceptionHandler>().ok(),
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
        // Kafka Streams' class names are parsed from strings only.
        let snake = |(name, _): &&(&str, _)| !name.contains('.');
        for (name, h) in DeserializationExceptionHandler::NAMES.iter().filter(snake) {
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
