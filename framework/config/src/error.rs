//! The error type of weir-config.

use std::path::PathBuf;

use weir_core::ErrorKind;

/// Why a configuration could not be built. Every variant that concerns one
/// key names it in its message.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A required key has no value.
    #[error("missing required configuration key '{key}'")]
    Missing {
        /// The key that must be set.
        key: String,
    },
    /// A key that Weir does not know and does not pass to the Kafka clients.
    #[error("unknown configuration key '{key}'{}", did_you_mean(.suggestion))]
    Unknown {
        /// The key as given.
        key: String,
        /// A known key close to it, if any.
        suggestion: Option<String>,
    },
    /// A key whose value is not acceptable.
    #[error("invalid value '{value}' for configuration key '{key}': {message}")]
    Invalid {
        /// The key at fault.
        key: String,
        /// The value as given.
        value: String,
        /// What is expected instead.
        message: String,
    },
    /// A Kafka Streams key that Weir knows but does not support, set to a
    /// value that would need it (rather than accept it and do nothing).
    #[error("configuration key '{key}' = '{value}' is not supported: {message}")]
    Unsupported {
        /// The key at fault.
        key: String,
        /// The value as given.
        value: String,
        /// Why, and what to do instead.
        message: String,
    },
    /// A configuration file could not be read or parsed.
    #[error("cannot load configuration file '{}': {source}", .path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong: the reader's or parser's own error.
        #[source]
        source: BoxError,
    },
    /// The sources (file, environment) could not be merged.
    #[error("cannot load configuration: {source}")]
    Load {
        /// What went wrong: the loader's own error.
        #[source]
        source: BoxError,
    },
}

/// The underlying error of [`Error::File`] and [`Error::Load`], kept whole
/// (not flattened to text) so that [`std::error::Error::source`] reaches it.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

fn did_you_mean(suggestion: &Option<String>) -> String {
    match suggestion {
        Some(s) => format!(" (did you mean '{s}'?)"),
        None => String::new(),
    }
}

impl Error {
    /// The class of this error: always [`ErrorKind::User`], since a bad
    /// configuration is the user's to fix and retrying cannot help.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Missing { .. }
            | Error::Unknown { .. }
            | Error::Invalid { .. }
            | Error::Unsupported { .. }
            | Error::File { .. }
            | Error::Load { .. } => ErrorKind::User,
        }
    }

    /// The configuration key at fault, when the error concerns one key.
    pub fn key(&self) -> Option<&str> {
        match self {
            Error::Missing { key }
            | Error::Unknown { key, .. }
            | Error::Invalid { key, .. }
            | Error::Unsupported { key, .. } => Some(key),
            Error::File { .. } | Error::Load { .. } => None,
        }
    }

    pub(crate) fn unsupported(key: &str, value: &str, message: impl Into<String>) -> Self {
        Error::Unsupported {
            key: key.to_owned(),
            value: value.to_owned(),
            message: message.into(),
        }
    }

    pub(crate) fn invalid(key: &str, value: &str, message: impl Into<String>) -> Self {
        Error::Invalid {
            key: key.to_owned(),
            value: value.to_owned(),
            message: message.into(),
        }
    }
}

impl From<Error> for weir_core::Error {
    /// Becomes [`weir_core::Error::Config`], keeping the key at fault (or
    /// `"<config>"` when the error concerns no single key).
    fn from(error: Error) -> Self {
        let key = error.key().unwrap_or("<config>").to_owned();
        weir_core::Error::Config {
            key,
            message: error.to_string(),
        }
    }
}

/// Result alias of weir-config.
pub type Result<T, E = Error> = std::result::Result<T, E>;
