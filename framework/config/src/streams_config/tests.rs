use super::*;
use weir_core::ErrorKind;

fn app(extra: &[(&str, &str)]) -> Result<StreamsConfig> {
    let mut pairs = vec![("application.id", "app")];
    pairs.extend_from_slice(extra);
    StreamsConfig::from_pairs(pairs)
}

/// The error of `result`, checked to be a user error naming `key`.
fn error_naming(result: Result<StreamsConfig>, key: &str) -> String {
    let err = result.err().map(|e| {
        assert_eq!(e.kind(), ErrorKind::User);
        assert_eq!(e.key(), Some(key));
        e.to_string()
    });
    let msg = err.unwrap_or_else(|| panic!("expected an error naming '{key}'"));
    assert!(msg.contains(&format!("'{key}'")), "{msg}");
    msg
}

#[test]
fn defaults() -> Result<()> {
    let c = app(&[])?;
    assert_eq!(c.application_id(), "app");
    assert_eq!(c.bootstrap_servers(), None);
    assert_eq!(c.client_id(), None);
    assert_eq!(c.num_stream_threads(), 1);
    assert_eq!(c.processing_guarantee(), ProcessingGuarantee::AtLeastOnce);
    assert_eq!(c.commit_interval_ms(), 30_000);
    assert_eq!(c.commit_interval(), Duration::from_secs(30));
    assert_eq!(c.state_dir(), std::env::temp_dir().join("weir"));
    assert_eq!(c.max_task_idle_ms(), 0);
    assert_eq!(c.buffered_records_per_partition(), 1000);
    assert_eq!(c.statestore_cache_max_bytes(), 10_485_760);
    assert_eq!(c.rocksdb_memory_budget_bytes(), 268_435_456);
    assert_eq!(c.transaction_timeout_ms(), 10_000);
    assert_eq!(
        c.deserialization_exception_handler(),
        DeserializationExceptionHandler::LogAndFail
    );
    assert_eq!(
        c.processing_exception_handler(),
        ProcessingExceptionHandler::LogAndFail
    );
    assert_eq!(
        c.production_exception_handler(),
        ProductionExceptionHandler::LogAndFail
    );
    assert_eq!(c.dead_letter_queue_topic(), None);
    assert_eq!(c.replication_factor(), -1);
    assert_eq!(
        c.windowstore_changelog_additional_retention_ms(),
        86_400_000
    );
    assert!(c.client_overrides().is_empty());
    assert!(c.consumer_overrides().is_empty());
    assert!(c.producer_overrides().is_empty());
    assert!(c.admin_overrides().is_empty());
    Ok(())
}

#[test]
fn commit_interval_default_follows_the_guarantee() -> Result<()> {
    let eos = app(&[("processing.guarantee", "exactly_once_v2")])?;
    assert_eq!(eos.commit_interval_ms(), 100);
    let explicit = app(&[
        ("processing.guarantee", "exactly_once_v2"),
        ("commit.interval.ms", "500"),
    ])?;
    assert_eq!(explicit.commit_interval_ms(), 500);
    let alos = app(&[("commit.interval.ms", "0")])?;
    assert_eq!(alos.commit_interval_ms(), 0);
    Ok(())
}

#[test]
fn set_revalidates_and_recomputes_defaults() -> Result<()> {
    let mut c = app(&[])?;
    assert_eq!(c.commit_interval_ms(), 30_000);
    c.set("processing.guarantee", "exactly_once_v2")?;
    assert_eq!(c.commit_interval_ms(), 100);
    let err = c.set("num.stream.threads", "0").err();
    assert!(err.is_some());
    assert_eq!(
        c.num_stream_threads(),
        1,
        "a failed set leaves the config as it was"
    );
    c.set("num.stream.threads", "3")?;
    assert_eq!(c.num_stream_threads(), 3);
    assert_eq!(c.originals().len(), 3);
    Ok(())
}

#[test]
fn every_setting_parses() -> Result<()> {
    let c = app(&[
        ("bootstrap.servers", "a:9092, b:9092"),
        ("client.id", "me"),
        ("num.stream.threads", "4"),
        ("commit.interval.ms", "250"),
        ("state.dir", "/var/lib/weir"),
        ("max.task.idle.ms", "-1"),
        ("buffered.records.per.partition", "50"),
        ("statestore.cache.max.bytes", "0"),
        ("rocksdb.memory.budget.bytes", "1048576"),
        ("transaction.timeout.ms", "60000"),
        ("deserialization.exception.handler", "log_and_continue"),
        ("processing.exception.handler", "log_and_continue"),
        (
            "production.exception.handler",
            "org.apache.kafka.streams.errors.DefaultProductionExceptionHandler",
        ),
        ("errors.dead.letter.queue.topic.name", "app-dlq"),
        ("num.standby.replicas", "0"),
        ("replication.factor", "3"),
        ("windowstore.changelog.additional.retention.ms", "0"),
    ])?;
    assert_eq!(c.bootstrap_servers(), Some("a:9092, b:9092"));
    assert_eq!(c.client_id(), Some("me"));
    assert_eq!(c.num_stream_threads(), 4);
    assert_eq!(c.commit_interval_ms(), 250);
    assert_eq!(c.state_dir(), Path::new("/var/lib/weir"));
    assert_eq!(c.max_task_idle_ms(), -1);
    assert_eq!(c.buffered_records_per_partition(), 50);
    assert_eq!(c.statestore_cache_max_bytes(), 0);
    assert_eq!(c.rocksdb_memory_budget_bytes(), 1_048_576);
    assert_eq!(c.transaction_timeout(), Duration::from_secs(60));
    assert_eq!(
        c.deserialization_exception_handler(),
        DeserializationExceptionHandler::LogAndContinue
    );
    assert_eq!(
        c.processing_exception_handler(),
        ProcessingExceptionHandler::LogAndContinue
    );
    assert_eq!(
        c.production_exception_handler(),
        ProductionExceptionHandler::LogAndFail
    );
    assert_eq!(c.dead_letter_queue_topic(), Some("app-dlq"));
    assert_eq!(c.replication_factor(), 3);
    assert_eq!(c.windowstore_changelog_additional_retention_ms(), 0);
    c.validate_for_runtime()?;
    Ok(())
}

#[test]
fn missing_application_id() {
    let msg = error_naming(
        StreamsConfig::from_pairs([("bootstrap.servers", "k:9092")]),
        "application.id",
    );
    assert!(msg.contains("missing"), "{msg}");
}

#[test]
fn application_id_must_be_a_topic_prefix() {
    for bad in ["", "has space", "slash/y", "ünï", &"x".repeat(201)] {
        error_naming(app(&[("application.id", bad)]), "application.id");
    }
    let longest = "a".repeat(MAX_APPLICATION_ID_LEN);
    assert!(app(&[("application.id", "Ok.app_1-x")]).is_ok());
    assert!(app(&[("application.id", &longest)]).is_ok());
}

#[test]
fn bootstrap_servers_is_required_only_by_the_runtime() -> Result<()> {
    let c = app(&[])?;
    let err = c.validate_for_runtime().err().map(|e| e.to_string());
    assert_eq!(
        err.as_deref(),
        Some("missing required configuration key 'bootstrap.servers'")
    );
    error_naming(app(&[("bootstrap.servers", " ")]), "bootstrap.servers");
    error_naming(
        app(&[("bootstrap.servers", "a:1,,b:2")]),
        "bootstrap.servers",
    );
    Ok(())
}

#[test]
fn unknown_key_is_named_with_a_suggestion() {
    let msg = error_naming(app(&[("comit.interval.ms", "5")]), "comit.interval.ms");
    assert!(msg.contains("did you mean 'commit.interval.ms'?"), "{msg}");
    let msg = error_naming(app(&[("totally.unrelated", "5")]), "totally.unrelated");
    assert!(!msg.contains("did you mean"), "{msg}");
    error_naming(app(&[("consumer.", "5")]), "consumer.");
}

#[test]
fn negative_commit_interval() {
    let msg = error_naming(app(&[("commit.interval.ms", "-1")]), "commit.interval.ms");
    assert!(msg.contains("'-1'"), "{msg}");
}

#[test]
fn bad_processing_guarantee() {
    for bad in ["exactly_once", "exactly_once_beta", "EXACTLY_ONCE_V2", ""] {
        let msg = error_naming(
            app(&[("processing.guarantee", bad)]),
            "processing.guarantee",
        );
        assert!(msg.contains("at_least_once, exactly_once_v2"), "{msg}");
    }
}

#[test]
fn bad_num_stream_threads() {
    for bad in ["0", "abc", "-2", "1.5", ""] {
        error_naming(app(&[("num.stream.threads", bad)]), "num.stream.threads");
    }
}

/// Weir has no default serdes: the keys are refused whatever their value,
/// with an error that says so, rather than accepted and ignored.
#[test]
fn default_serdes_are_refused() {
    for key in ["default.key.serde", "default.value.serde"] {
        for value in ["string", "json", "avro", ""] {
            let result = app(&[(key, value)]);
            assert!(matches!(result, Err(Error::Unsupported { .. })));
            let msg = error_naming(result, key);
            assert!(msg.contains("is not supported"), "{msg}");
            assert!(msg.contains("Weir has no default serdes"), "{msg}");
        }
    }
}

/// 0 standbys is what Weir does, so `num.standby.replicas=0` is accepted;
/// any other count is refused rather than silently ignored.
#[test]
fn standby_replicas_only_zero() -> Result<()> {
    app(&[("num.standby.replicas", "0")])?;
    for value in ["1", "2", "65535"] {
        let result = app(&[("num.standby.replicas", value)]);
        assert!(matches!(result, Err(Error::Unsupported { .. })));
        let msg = error_naming(result, "num.standby.replicas");
        assert!(
            msg.contains("standby replicas are not supported yet"),
            "{msg}"
        );
    }
    // Not a count at all: the usual invalid-value error.
    let bad = app(&[("num.standby.replicas", "many")]);
    assert!(matches!(bad, Err(Error::Invalid { .. })));
    Ok(())
}

#[test]
fn other_bad_values() {
    let cases = [
        ("max.task.idle.ms", "-2"),
        ("buffered.records.per.partition", "0"),
        ("statestore.cache.max.bytes", "-1"),
        ("rocksdb.memory.budget.bytes", "lots"),
        ("transaction.timeout.ms", "0"),
        ("deserialization.exception.handler", "log_and_retry"),
        ("processing.exception.handler", "log_and_retry"),
        ("processing.exception.handler", "LogAndContinue"),
        ("production.exception.handler", "log_and_skip"),
        (
            "production.exception.handler",
            "org.apache.kafka.streams.errors.LogAndContinueProcessingExceptionHandler",
        ),
        ("errors.dead.letter.queue.topic.name", " "),
        ("num.standby.replicas", "-1"),
        ("replication.factor", "0"),
        ("replication.factor", "-2"),
        ("windowstore.changelog.additional.retention.ms", "-1"),
        ("windowstore.changelog.additional.retention.ms", "a day"),
        ("client.id", ""),
        ("state.dir", ""),
    ];
    for (key, value) in cases {
        error_naming(app(&[(key, value)]), key);
    }
}

#[test]
fn transaction_timeout_must_exceed_the_commit_interval_under_eos() -> Result<()> {
    let msg = error_naming(
        app(&[
            ("processing.guarantee", "exactly_once_v2"),
            ("commit.interval.ms", "30000"),
        ]),
        "transaction.timeout.ms",
    );
    assert!(msg.contains("commit.interval.ms"), "{msg}");
    // Under at-least-once there are no transactions: no constraint.
    app(&[("commit.interval.ms", "30000")])?;
    Ok(())
}

#[test]
fn pass_through_client_keys() -> Result<()> {
    let c = app(&[
        ("security.protocol", "SASL_SSL"),
        ("sasl.mechanism", "PLAIN"),
        ("linger.ms", "5"),
        ("retry.backoff.max.ms", "1000"),
        ("consumer.max.poll.interval.ms", "600000"),
        ("consumer.anything.goes", "x"),
        ("producer.linger.ms", "20"),
        ("admin.request.timeout.ms", "9000"),
        ("session.timeout.ms", "7000"),
        ("acks", "1"),
    ])?;
    let get = |m: &BTreeMap<String, String>, k: &str| m.get(k).cloned();
    assert_eq!(c.client_overrides().len(), 3);
    assert_eq!(
        get(c.client_overrides(), "security.protocol").as_deref(),
        Some("SASL_SSL")
    );
    // Keys only one kind of client understands go to that client alone;
    // an explicit prefix wins over the plain key.
    assert_eq!(get(c.client_overrides(), "linger.ms"), None);
    assert_eq!(get(c.producer_overrides(), "acks").as_deref(), Some("1"));
    assert_eq!(
        get(c.consumer_overrides(), "session.timeout.ms").as_deref(),
        Some("7000")
    );
    assert_eq!(
        get(c.consumer_overrides(), "max.poll.interval.ms").as_deref(),
        Some("600000")
    );
    assert_eq!(
        get(c.consumer_overrides(), "anything.goes").as_deref(),
        Some("x")
    );
    assert_eq!(
        get(c.producer_overrides(), "linger.ms").as_deref(),
        Some("20")
    );
    assert_eq!(
        get(c.admin_overrides(), "request.timeout.ms").as_deref(),
        Some("9000")
    );
    Ok(())
}

#[test]
fn the_producer_partitioner_can_only_be_javas() -> Result<()> {
    let c = app(&[("producer.partitioner", "murmur2_random")])?;
    assert_eq!(
        c.producer_overrides()
            .get("partitioner")
            .map(String::as_str),
        Some("murmur2_random")
    );
    let msg = error_naming(
        app(&[("producer.partitioner", "consistent_random")]),
        "producer.partitioner",
    );
    assert!(msg.contains("murmur2_random"), "{msg}");
    Ok(())
}

#[test]
fn debug_hides_secrets() -> Result<()> {
    let c = app(&[
        ("sasl.username", "alice"),
        ("sasl.password", "hunter2"),
        ("ssl.key.password", "k3y"),
        ("sasl.jaas.config", "org.Login required password=\"pw1\";"),
        ("producer.sasl.oauthbearer.client.secret", "s3cret"),
    ])?;
    let debug = format!("{c:?}");
    for secret in ["hunter2", "k3y", "pw1", "s3cret"] {
        assert!(!debug.contains(secret), "{secret} leaked: {debug}");
    }
    assert!(debug.contains("alice"), "{debug}");
    assert!(debug.contains("\"sasl.password\": [hidden]"), "{debug}");
    assert!(
        debug.contains("\"sasl.oauthbearer.client.secret\": [hidden]"),
        "{debug}"
    );
    assert!(debug.contains("application_id: \"app\""), "{debug}");
    Ok(())
}

#[test]
fn task_config_carries_the_task_settings() -> Result<()> {
    use weir_core::handler::{ErrorContext, ErrorStage, HandlerAction};
    use weir_core::record::RawRecord;

    let c = app(&[
        ("max.task.idle.ms", "250"),
        ("deserialization.exception.handler", "log_and_continue"),
        (
            "processing.exception.handler",
            "org.apache.kafka.streams.errors.LogAndContinueProcessingExceptionHandler",
        ),
        ("production.exception.handler", "log_and_continue"),
        ("errors.dead.letter.queue.topic.name", "dlq"),
    ])?;
    let task = c.task_config();
    assert_eq!(task.application_id, "app");
    assert_eq!(task.max_task_idle_ms, 250);
    let record = RawRecord {
        topic: "in".into(),
        partition: 0,
        offset: 7,
        timestamp: 0,
        key: None,
        value: None,
        headers: Default::default(),
    };
    let error = weir_core::Error::Topology("irrelevant".into());
    let context = |stage| ErrorContext {
        stage,
        task: None,
        node: None,
        metadata: None,
        source: Some(record.as_ref()),
        dead_letter_topic: None,
    };
    assert_eq!(task.dead_letter_topic.as_deref(), Some("dlq"));
    let deser = context(ErrorStage::Deserialization);
    let processing = context(ErrorStage::Processing);
    let production = context(ErrorStage::Production);
    assert_eq!(
        task.deserialization_handler.handle(&deser, &error).action,
        HandlerAction::Continue
    );
    assert_eq!(
        task.processing_handler.handle(&processing, &error).action,
        HandlerAction::Continue
    );
    assert_eq!(
        task.production_handler
            .handle(&production, None, &error)
            .action,
        HandlerAction::Continue
    );
    let fail = app(&[])?.task_config();
    assert_eq!(fail.dead_letter_topic, None);
    assert_eq!(
        fail.deserialization_handler.handle(&deser, &error).action,
        HandlerAction::Fail
    );
    assert_eq!(
        fail.processing_handler.handle(&processing, &error).action,
        HandlerAction::Fail
    );
    assert_eq!(
        fail.production_handler
            .handle(&production, None, &error)
            .action,
        HandlerAction::Fail
    );
    Ok(())
}

#[test]
fn builder_and_pairs_agree() -> Result<()> {
    let built = StreamsConfig::builder()
        .application_id("app")
        .bootstrap_servers("k:9092")
        .client_id("c")
        .num_stream_threads(2)
        .commit_interval(Duration::from_millis(200))
        .processing_guarantee(ProcessingGuarantee::ExactlyOnceV2)
        .state_dir("/data")
        .max_task_idle_ms(-1)
        .buffered_records_per_partition(10)
        .statestore_cache_max_bytes(1)
        .rocksdb_memory_budget_bytes(2)
        .transaction_timeout(Duration::from_secs(5))
        .deserialization_exception_handler(DeserializationExceptionHandler::LogAndContinue)
        .processing_exception_handler(ProcessingExceptionHandler::LogAndContinue)
        .production_exception_handler(ProductionExceptionHandler::LogAndContinue)
        .dead_letter_queue_topic("dlq")
        .replication_factor(3)
        .windowstore_changelog_additional_retention_ms(3_600_000)
        .set("acks", "all")
        .build()?;
    let from_pairs = StreamsConfig::from_pairs(built.originals().clone())?;
    assert_eq!(format!("{built:?}"), format!("{from_pairs:?}"));
    assert_eq!(built.commit_interval_ms(), 200);
    assert_eq!(
        built.processing_guarantee(),
        ProcessingGuarantee::ExactlyOnceV2
    );
    let err = StreamsConfig::builder().num_stream_threads(0).build();
    assert!(err.is_err());
    Ok(())
}

#[test]
fn converts_into_a_core_config_error() {
    let err = app(&[("num.stream.threads", "0")]).err();
    let core: Option<weir_core::Error> = err.map(Into::into);
    match core {
        Some(weir_core::Error::Config { key, message }) => {
            assert_eq!(key, "num.stream.threads");
            assert!(message.contains("'0'"), "{message}");
        }
        other => panic!("expected a config error, got {other:?}"),
    }
}

#[test]
fn the_record_cache_is_divided_evenly_over_the_stream_threads() -> Result<()> {
    assert_eq!(app(&[])?.task_config().cache_max_bytes, 10 << 20);
    let four = app(&[
        ("statestore.cache.max.bytes", "4000"),
        ("num.stream.threads", "4"),
    ])?;
    assert_eq!(four.task_config().cache_max_bytes, 1000);
    let off = app(&[("statestore.cache.max.bytes", "0")])?;
    assert_eq!(off.task_config().cache_max_bytes, 0);
    Ok(())
}
