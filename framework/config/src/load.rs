//! Loading a [`StreamsConfig`] from a file and `WEIR_` environment variables
//! with the `config` crate.

use std::collections::BTreeMap;
use std::path::Path;

use config::{Config, Environment, File, FileFormat, Map, Source, Value, ValueKind};

use crate::error::{Error, Result};
use crate::StreamsConfig;

/// `WEIR_` variables that belong to Weir's tooling (the build cache, the
/// test broker's launcher), not to an application's configuration: the loader
/// skips them instead of reporting unknown keys.
pub const RESERVED_ENV: &[&str] = &[
    "WEIR_CACHE",
    "WEIR_KAFKA_HEAP",
    "WEIR_KAFKA_START_TIMEOUT",
    "WEIR_KAFKA_LAUNCHER",
];

/// The prefix of environment variables read by [`StreamsConfig::load`].
pub const ENV_PREFIX: &str = "WEIR";

impl StreamsConfig {
    /// Loads the configuration from `file` (if given), then from `WEIR_`
    /// environment variables of this process, which override the file.
    ///
    /// The file's format follows its extension: `.toml`, `.yaml` or `.yml`.
    /// It may use quoted dotted keys (`"application.id" = "x"`) or nested
    /// tables (`[application]` / `id = "x"`); both become `application.id`.
    ///
    /// An environment variable `WEIR_A_B_C` sets key `a.b.c`
    /// (`WEIR_APPLICATION_ID` sets `application.id`,
    /// `WEIR_PRODUCER_LINGER_MS` sets `producer.linger.ms`): no key contains
    /// `_`, values may. Every `WEIR_` variable must name a valid key:
    /// an unknown one is an error, as in a file.
    pub fn load(file: Option<&Path>) -> Result<StreamsConfig> {
        let env = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)));
        Self::load_with_env(file, env)
    }

    /// [`StreamsConfig::load`] with the environment given explicitly (for
    /// tests, or to read the variables from elsewhere). Variables without the
    /// `WEIR_` prefix are ignored.
    pub fn load_with_env<I, K, V>(file: Option<&Path>, env: I) -> Result<StreamsConfig>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let mut builder = Config::builder();
        if let Some(path) = file {
            builder = builder.add_source(File::from(path).format(format_of(path)?).required(true));
        }
        let env: Map<String, String> = env
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .filter(|(k, _)| !RESERVED_ENV.contains(&k.as_str()))
            .collect();
        builder = builder.add_source(
            Environment::with_prefix(ENV_PREFIX)
                .separator("_")
                .source(Some(env)),
        );
        let merged = builder.build().map_err(|e| match file {
            Some(path) => Error::File {
                path: path.to_owned(),
                source: Box::new(e),
            },
            None => Error::Load {
                source: Box::new(e),
            },
        })?;
        let table = merged.collect().map_err(|e| Error::Load {
            source: Box::new(e),
        })?;
        let mut pairs = BTreeMap::new();
        for (key, value) in table {
            flatten(key, value, &mut pairs);
        }
        tracing::debug!(keys = pairs.len(), file = ?file, "loaded configuration");
        StreamsConfig::parse(pairs)
    }
}

fn format_of(path: &Path) -> Result<FileFormat> {
    match path.extension().and_then(|e| e.to_str()) {
        Some("toml") => Ok(FileFormat::Toml),
        Some("yaml" | "yml") => Ok(FileFormat::Yaml),
        _ => Err(Error::File {
            path: path.to_owned(),
            source: "unknown format: name it *.toml, *.yaml or *.yml".into(),
        }),
    }
}

/// Turns nested tables into dotted keys; scalars become strings, arrays
/// comma-separated lists (`bootstrap.servers: [a:9092, b:9092]`). A null
/// value leaves the key unset.
fn flatten(key: String, value: Value, out: &mut BTreeMap<String, String>) {
    match value.kind {
        ValueKind::Table(table) => {
            for (k, v) in table {
                flatten(format!("{key}.{k}"), v, out);
            }
        }
        ValueKind::Nil => {}
        other => {
            out.insert(key, scalar(other));
        }
    }
}

fn scalar(kind: ValueKind) -> String {
    match kind {
        ValueKind::Nil => String::new(),
        ValueKind::Boolean(b) => b.to_string(),
        ValueKind::I64(n) => n.to_string(),
        ValueKind::I128(n) => n.to_string(),
        ValueKind::U64(n) => n.to_string(),
        ValueKind::U128(n) => n.to_string(),
        ValueKind::Float(x) => x.to_string(),
        ValueKind::String(s) => s,
        ValueKind::Array(items) => items
            .into_iter()
            .map(|v| scalar(v.kind))
            .collect::<Vec<_>>()
            .join(","),
        // A table inside an array has no key of its own; keep its text.
        table @ ValueKind::Table(_) => table.to_string(),
    }
}
