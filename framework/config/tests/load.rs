//! Loading a StreamsConfig from TOML and YAML files and `WEIR_` variables
//! (given explicitly, so the tests never touch the process environment).

use std::io::Write;
use std::path::Path;

use tempfile::{Builder, NamedTempFile};
use weir_config::{Error, ProcessingGuarantee, StreamsConfig};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const NO_ENV: [(&str, &str); 0] = [];

/// A temporary file with `suffix` (".toml", ".yaml", ...) holding `text`.
fn file(suffix: &str, text: &str) -> std::io::Result<NamedTempFile> {
    let mut f = Builder::new()
        .prefix("weir-config-")
        .suffix(suffix)
        .tempfile()?;
    f.write_all(text.as_bytes())?;
    f.flush()?;
    Ok(f)
}

fn load(path: &Path) -> Result<StreamsConfig, Error> {
    StreamsConfig::load_with_env(Some(path), NO_ENV)
}

#[test]
fn toml_with_dotted_keys() -> TestResult {
    let f = file(
        ".toml",
        r#"
"application.id" = "orders"
"bootstrap.servers" = "kafka:9092"
"processing.guarantee" = "exactly_once_v2"
"num.stream.threads" = 3
"num.standby.replicas" = 0
"max.task.idle.ms" = -1
"linger.ms" = 5
"producer.compression.type" = "zstd"
"#,
    )?;
    let c = load(f.path())?;
    assert_eq!(c.application_id(), "orders");
    assert_eq!(c.bootstrap_servers(), Some("kafka:9092"));
    assert_eq!(c.processing_guarantee(), ProcessingGuarantee::ExactlyOnceV2);
    assert_eq!(c.commit_interval_ms(), 100);
    assert_eq!(c.num_stream_threads(), 3);
    assert_eq!(c.max_task_idle_ms(), -1);
    assert_eq!(
        c.producer_overrides().get("linger.ms").map(String::as_str),
        Some("5")
    );
    assert_eq!(
        c.producer_overrides()
            .get("compression.type")
            .map(String::as_str),
        Some("zstd")
    );
    c.validate_for_runtime()?;
    Ok(())
}

#[test]
fn toml_with_nested_tables() -> TestResult {
    let f = file(
        ".toml",
        r#"
[application]
id = "nested"

[bootstrap]
servers = ["a:9092", "b:9092"]

[commit.interval]
ms = 250

[consumer]
"max.poll.interval.ms" = 600000

[sasl]
mechanism = "PLAIN"
"#,
    )?;
    let c = load(f.path())?;
    assert_eq!(c.application_id(), "nested");
    assert_eq!(c.bootstrap_servers(), Some("a:9092,b:9092"));
    assert_eq!(c.commit_interval_ms(), 250);
    assert_eq!(
        c.consumer_overrides()
            .get("max.poll.interval.ms")
            .map(String::as_str),
        Some("600000")
    );
    assert_eq!(
        c.client_overrides()
            .get("sasl.mechanism")
            .map(String::as_str),
        Some("PLAIN")
    );
    Ok(())
}

#[test]
fn yaml_flat_and_nested() -> TestResult {
    let text = r#"
application.id: sensors
processing:
  guarantee: exactly_once_v2
buffered:
  records:
    per:
      partition: 50
statestore.cache.max.bytes: 0
deserialization.exception.handler: log_and_continue
admin:
  request.timeout.ms: 9000
"#;
    for suffix in [".yaml", ".yml"] {
        let f = file(suffix, text)?;
        let c = load(f.path())?;
        assert_eq!(c.application_id(), "sensors");
        assert_eq!(c.processing_guarantee(), ProcessingGuarantee::ExactlyOnceV2);
        assert_eq!(c.buffered_records_per_partition(), 50);
        assert_eq!(c.statestore_cache_max_bytes(), 0);
        assert_eq!(
            c.admin_overrides()
                .get("request.timeout.ms")
                .map(String::as_str),
            Some("9000")
        );
        assert_eq!(c.bootstrap_servers(), None);
        assert!(c.validate_for_runtime().is_err());
    }
    Ok(())
}

#[test]
fn env_overrides_file() -> TestResult {
    let f = file(
        ".toml",
        r#"
"application.id" = "from-file"
"num.stream.threads" = 2
"commit.interval.ms" = 1000
"#,
    )?;
    let env = [
        ("WEIR_APPLICATION_ID", "from-env"),
        ("WEIR_PROCESSING_GUARANTEE", "exactly_once_v2"),
        ("WEIR_MAX_TASK_IDLE_MS", "-1"),
        // The test broker's launcher (tooling, not configuration): skipped.
        ("WEIR_KAFKA_LAUNCHER", "/somewhere/kafka"),
        ("WEIR_PRODUCER_LINGER_MS", "7"),
        ("WEIR_SASL_PASSWORD", "pw-from-env"),
        // Not ours: ignored.
        ("PATH", "/usr/bin"),
        ("WEIRD_THING", "x"),
    ];
    let c = StreamsConfig::load_with_env(Some(f.path()), env)?;
    assert_eq!(c.application_id(), "from-env");
    assert_eq!(c.num_stream_threads(), 2, "kept from the file");
    assert_eq!(c.commit_interval_ms(), 1000, "explicit in the file");
    assert_eq!(c.processing_guarantee(), ProcessingGuarantee::ExactlyOnceV2);
    assert_eq!(c.max_task_idle_ms(), -1);
    assert_eq!(
        c.producer_overrides().get("linger.ms").map(String::as_str),
        Some("7")
    );
    assert!(!format!("{c:?}").contains("pw-from-env"));
    Ok(())
}

#[test]
fn env_only() -> TestResult {
    let c = StreamsConfig::load_with_env(
        None,
        [
            ("WEIR_APPLICATION_ID", "env-app"),
            ("WEIR_BOOTSTRAP_SERVERS", "k:9092"),
        ],
    )?;
    assert_eq!(c.application_id(), "env-app");
    c.validate_for_runtime()?;
    Ok(())
}

#[test]
fn errors_from_files_and_env_name_the_key() -> TestResult {
    let f = file(
        ".toml",
        "\"application.id\" = \"a\"\n\"num.stream.threads\" = 0\n",
    )?;
    let err = load(f.path())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("'num.stream.threads'"), "{err}");

    let f = file(".yaml", "application.id: a\ncommit.interval.ms: -5\n")?;
    let err = load(f.path())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("'commit.interval.ms'"), "{err}");

    let f = file(
        ".toml",
        "\"application.id\" = \"a\"\n[stat]\ndir = \"/x\"\n",
    )?;
    let err = load(f.path())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.contains("'stat.dir'") && err.contains("did you mean 'state.dir'?"),
        "{err}"
    );

    let err = StreamsConfig::load_with_env(None, [("WEIR_NUM_STREAM_THREAD", "2")])
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("'num.stream.thread'"), "{err}");

    let err = StreamsConfig::load_with_env(None, NO_ENV)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("'application.id'"), "{err}");
    Ok(())
}

#[test]
fn unreadable_files_are_user_errors_naming_the_file() -> TestResult {
    let f = file(".json", "{}")?;
    match load(f.path()) {
        Err(e @ Error::File { .. }) => {
            assert_eq!(e.kind(), weir_core::ErrorKind::User);
            assert!(e.to_string().contains(".json"), "{e}");
        }
        other => panic!("expected a file error, got {other:?}"),
    }

    let missing = std::env::temp_dir().join("weir-config-does-not-exist.toml");
    assert!(matches!(load(&missing), Err(Error::File { .. })));

    let f = file(".toml", "this is not = = toml")?;
    let err = load(f.path()).err();
    assert!(matches!(err, Some(Error::File { .. })), "{err:?}");
    // The parser's error is kept as the source, not flattened to text.
    let source = err
        .as_ref()
        .and_then(std::error::Error::source)
        .ok_or("no source")?;
    assert!(
        source.downcast_ref::<config::ConfigError>().is_some(),
        "{source:?}"
    );
    Ok(())
}

#[test]
fn tooling_variables_are_not_configuration() {
    let config = weir_config::StreamsConfig::load_with_env(
        None,
        [
            ("WEIR_APPLICATION_ID", "tools"),
            ("WEIR_CACHE", "/root/.cache/weir"),
            ("WEIR_KAFKA_HEAP", "-Xmx1g"),
        ],
    )
    .unwrap();
    assert_eq!(config.application_id(), "tools");
}

/// Keys Weir refuses are refused from files and the environment too, naming
/// the key as the user spelled it in the configuration.
#[test]
fn unsupported_keys_are_refused_from_files_and_env() -> TestResult {
    let f = file(
        ".yaml",
        "application.id: app\ndefault:\n  key:\n    serde: string\n",
    )?;
    let err = load(f.path()).err().ok_or("default.key.serde accepted")?;
    assert!(matches!(err, Error::Unsupported { .. }), "{err}");
    assert_eq!(err.key(), Some("default.key.serde"));
    let env = [
        ("WEIR_APPLICATION_ID", "app"),
        ("WEIR_NUM_STANDBY_REPLICAS", "1"),
    ];
    let err = StreamsConfig::load_with_env(None, env)
        .err()
        .ok_or("num.standby.replicas=1 accepted")?;
    assert_eq!(err.key(), Some("num.standby.replicas"));
    assert!(err.to_string().contains("not supported yet"), "{err}");
    Ok(())
}
