//! The dead-letter queue against the real broker: under exactly_once_v2 a
//! record that does not deserialize lands in the dead-letter topic exactly
//! once, with its raw bytes and the `__streams.errors.*` headers, and every
//! good record around it reaches the output (all read read_committed); a
//! dead-letter topic that does not exist stops the start with a clear error.
//! Records the broker refuses only in their delivery report (a compressed
//! record too large, a null key for a compacted topic) reach the production
//! handler with their source record: dead-lettered at least once, and
//! stopping the application under exactly_once_v2 (as in Kafka Streams).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use weir_core::dsl::StreamsBuilder;
use weir_core::handler::{dead_letter_headers as h, LogAndContinue};
use weir_core::processor::{Processor, ProcessorContext};
use weir_core::topology::{Consumed, Produced, Topology};
use weir_core::{ProcessingGuarantee, Record, Serdes};
use weir_kafka::{ConsumedRecord, ProduceRecord, RuntimeConfig, State, StreamsRuntime};
use weir_testing::KafkaCluster;

fn cluster() -> &'static KafkaCluster {
    KafkaCluster::get().expect("test broker")
}

/// `input` <String, i64> doubled into `output`.
fn doubling(input: &str, output: &str) -> Topology {
    let b = StreamsBuilder::new();
    b.stream(input, Consumed::with(Serdes::string(), Serdes::i64()))
        .map_values(|v: i64| v * 2)
        .to(output, Produced::with(Serdes::string(), Serdes::i64()));
    b.build().unwrap()
}

fn config(app_id: &str, dlq: &str) -> RuntimeConfig {
    let mut rc = RuntimeConfig::new(app_id, cluster().bootstrap_servers());
    rc.commit_interval = Duration::from_millis(100);
    rc.task.guarantee = ProcessingGuarantee::ExactlyOnceV2;
    rc.task.deserialization_handler = Arc::new(LogAndContinue);
    rc.task.dead_letter_topic = Some(dlq.to_string());
    rc.consumer_properties
        .push(("session.timeout.ms".to_string(), "6000".to_string()));
    rc
}

/// Waits until `topic` (read_committed) holds at least `n` records.
fn wait_for(topic: &str, n: usize) -> Vec<ConsumedRecord> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let records = cluster().read_committed(topic).unwrap();
        if records.len() >= n {
            return records;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {n} records in {topic} within 60 s",
            records.len()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// `n` bytes that do not compress (a fixed pseudo-random sequence).
fn noise(n: usize) -> Vec<u8> {
    let mut x: u32 = 0x2545_f491;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x.to_le_bytes()[0]
        })
        .collect()
}

fn header<'a>(record: &'a ConsumedRecord, key: &str) -> Option<&'a [u8]> {
    record
        .headers
        .iter()
        .rev()
        .find(|(k, _)| k == key)
        .and_then(|(_, v)| v.as_deref())
}

#[test]
fn under_exactly_once_a_poison_pill_is_dead_lettered_once_and_good_records_flow() {
    let input = KafkaCluster::unique_topic("dlq-eos-in");
    let output = KafkaCluster::unique_topic("dlq-eos-out");
    let dlq = KafkaCluster::unique_topic("dlq-eos-dlq");
    cluster().create_topic(&input, 1).unwrap();
    cluster().create_topic(&output, 1).unwrap();
    cluster().create_topic(&dlq, 1).unwrap();
    // 10 good records, the poison pill at offset 10 (3 bytes: no i64), 10 more.
    let mut records: Vec<ProduceRecord> = (0..10i64)
        .map(|i| ProduceRecord::new(format!("k{i}"), i.to_be_bytes().to_vec()).with_timestamp(i))
        .collect();
    records.push(ProduceRecord::new("poison", b"bad".to_vec()).with_timestamp(1_000));
    records.extend(
        (10..20i64).map(|i| {
            ProduceRecord::new(format!("k{i}"), i.to_be_bytes().to_vec()).with_timestamp(i)
        }),
    );
    cluster().produce(&input, &records).unwrap();

    let app_id = KafkaCluster::unique_group("dlq-eos");
    let mut app =
        StreamsRuntime::start(doubling(&input, &output), config(&app_id, &dlq), None).unwrap();
    let out = wait_for(&output, 20);
    let doubled: Vec<i64> = out
        .iter()
        .map(|r| i64::from_be_bytes(r.value.clone().unwrap().try_into().unwrap()))
        .collect();
    assert_eq!(doubled, (0..20).map(|i| i * 2).collect::<Vec<i64>>());
    let dead = wait_for(&dlq, 1);
    let snapshot = app.metrics();
    assert_eq!(app.state(), State::Running);
    app.close(Duration::from_secs(30)).unwrap();

    // Exactly once: one dead-letter record, committed, none aborted and
    // visible; the output has no duplicate.
    let dead_after = cluster().read_committed(&dlq).unwrap();
    assert_eq!(dead_after.len(), 1, "{dead_after:?}");
    assert_eq!(cluster().read_committed(&output).unwrap().len(), 20);
    let d = &dead[0];
    assert_eq!(d.key.as_deref(), Some(&b"poison"[..]));
    assert_eq!(d.value.as_deref(), Some(&b"bad"[..]));
    assert_eq!(d.timestamp, Some(1_000));
    assert_eq!(header(d, h::TOPIC), Some(input.as_bytes()));
    assert_eq!(header(d, h::PARTITION), Some(&b"0"[..]));
    assert_eq!(header(d, h::OFFSET), Some(&b"10"[..]));
    assert_eq!(
        header(d, h::EXCEPTION),
        Some(&b"weir_core::Error::Deserialization"[..])
    );
    let message = String::from_utf8(header(d, h::MESSAGE).unwrap().to_vec()).unwrap();
    assert!(message.contains("cannot deserialize value"), "{message}");
    assert!(header(d, h::STACKTRACE).is_some());
    assert_eq!(snapshot.errors.deserialization.dropped, 1);
    assert_eq!(snapshot.errors.deserialization.dead_lettered, 1);
}

#[test]
fn at_least_once_a_record_the_broker_refuses_goes_to_the_production_handler() {
    let input = KafkaCluster::unique_topic("refused-in");
    let output = KafkaCluster::unique_topic("refused-out");
    let dlq = KafkaCluster::unique_topic("refused-dlq");
    cluster().create_topic(&input, 1).unwrap();
    cluster().create_topic(&dlq, 1).unwrap();
    // The output topic takes records of up to 10000 bytes.
    weir_kafka::create_topics(
        &cluster().connection(),
        &[weir_kafka::TopicSpec::new(&output, 1).config("max.message.bytes", "10000")],
    )
    .unwrap();
    let mut records: Vec<ProduceRecord> = (0..10i64)
        .map(|i| ProduceRecord::new(format!("k{i}"), i.to_be_bytes().to_vec()))
        .collect();
    // 20000 bytes that do not compress, at offset 5.
    let big = noise(20_000);
    records.insert(
        5,
        ProduceRecord::new("big", big.clone())
            .with_timestamp(1_234)
            .with_header("id", "pill-5")
            .with_header("trace", vec![0, 1, 2]),
    );
    cluster().produce(&input, &records).unwrap();

    let b = StreamsBuilder::new();
    b.stream(&input, Consumed::with(Serdes::string(), Serdes::bytes()))
        .to(&output, Produced::with(Serdes::string(), Serdes::bytes()));
    let app_id = KafkaCluster::unique_group("refused");
    let mut rc = config(&app_id, &dlq);
    rc.task.guarantee = ProcessingGuarantee::AtLeastOnce;
    rc.task.production_handler = Arc::new(LogAndContinue);
    // Batches below the topic's limit: only the big record is refused.
    // Compressed, the record is not checked before it is sent (the broker
    // checks compressed sizes): the broker refuses it, the delivery
    // callback reports it.
    rc.producer_properties
        .push(("batch.size".to_string(), "8000".to_string()));
    rc.producer_properties
        .push(("compression.type".to_string(), "lz4".to_string()));
    let mut app = StreamsRuntime::start(b.build().unwrap(), rc, None).unwrap();
    let out = wait_for(&output, 10);
    let dead = wait_for(&dlq, 1);
    assert_eq!(app.state(), State::Running);
    app.close(Duration::from_secs(30)).unwrap();
    let keys: Vec<String> = out
        .iter()
        .map(|r| String::from_utf8(r.key.clone().unwrap()).unwrap())
        .collect();
    assert_eq!(keys, (0..10).map(|i| format!("k{i}")).collect::<Vec<_>>());
    let snapshot = app.metrics();
    assert_eq!(snapshot.errors.production.dropped, 1);
    // The delivery callback had the source record: dead-lettered with it.
    assert_eq!(snapshot.errors.production.dead_lettered, 1);
    let dead_after = cluster().read_committed(&dlq).unwrap();
    assert_eq!(dead_after.len(), 1, "{dead_after:?}");
    let d = &dead[0];
    assert_source_dead_lettered(d, b"big", &big, 1_234, &input, 5);
    let message = String::from_utf8(header(d, h::MESSAGE).unwrap().to_vec()).unwrap();
    assert!(message.contains(&output), "{message}");
}

/// Asserts that `d` is the dead-letter record of the source record at
/// `offset` of `input` (partition 0) with `key`, `value`, `timestamp` and
/// the headers `id` = `pill-<offset>` and `trace` = 0 1 2, refused at send.
fn assert_source_dead_lettered(
    d: &ConsumedRecord,
    key: &[u8],
    value: &[u8],
    timestamp: i64,
    input: &str,
    offset: i64,
) {
    assert_eq!(d.key.as_deref(), Some(key));
    assert_eq!(d.value.as_deref(), Some(value));
    assert_eq!(d.timestamp, Some(timestamp));
    // The source's headers first, unchanged, then the error headers.
    assert_eq!(
        d.headers[0],
        (
            "id".to_string(),
            Some(format!("pill-{offset}").into_bytes())
        )
    );
    assert_eq!(d.headers[1], ("trace".to_string(), Some(vec![0, 1, 2])));
    assert_eq!(header(d, h::TOPIC), Some(input.as_bytes()));
    assert_eq!(header(d, h::PARTITION), Some(&b"0"[..]));
    assert_eq!(header(d, h::OFFSET), Some(offset.to_string().as_bytes()));
    assert_eq!(
        header(d, h::EXCEPTION),
        Some(&b"weir_core::Error::Send"[..])
    );
    assert!(header(d, h::STACKTRACE).is_some());
}

/// Forwards each record with a null key when its value is `no key`
/// (refused by a compacted topic), else unchanged.
struct DropKeyOfNoKey;

impl Processor<String, String> for DropKeyOfNoKey {
    fn process(
        &mut self,
        ctx: &mut dyn ProcessorContext<String, String>,
        record: Record<String, String>,
    ) -> weir_core::Result<()> {
        if record.value.as_deref() == Some("no key") {
            return ctx.forward(Record {
                key: None,
                ..record
            });
        }
        ctx.forward(record)
    }
}

/// `input` -> [`DropKeyOfNoKey`] -> compacted `output`; the output topic is
/// created compacted.
fn null_keys_into_compacted(input: &str, output: &str, dlq: &str) -> Topology {
    cluster().create_topic(input, 1).unwrap();
    cluster().create_topic(dlq, 1).unwrap();
    weir_kafka::create_topics(
        &cluster().connection(),
        &[weir_kafka::TopicSpec::new(output, 1).config("cleanup.policy", "compact")],
    )
    .unwrap();
    let b = StreamsBuilder::new();
    b.stream(input, Consumed::with(Serdes::string(), Serdes::string()))
        .process(|| DropKeyOfNoKey, &[])
        .to(output, Produced::with(Serdes::string(), Serdes::string()));
    b.build().unwrap()
}

/// 10 good records `k<i>`/`v<i>`, and at offset 4 the record `keyed`/`no key`
/// with headers `id` = `pill-4` and `trace` = 0 1 2.
fn inputs_with_a_null_key_output() -> Vec<ProduceRecord> {
    let mut records: Vec<ProduceRecord> = (0..10)
        .map(|i| ProduceRecord::new(format!("k{i}"), format!("v{i}")).with_timestamp(i))
        .collect();
    records.insert(
        4,
        ProduceRecord::new("keyed", "no key")
            .with_timestamp(777)
            .with_header("id", "pill-4")
            .with_header("trace", vec![0, 1, 2]),
    );
    records
}

#[test]
fn at_least_once_a_null_key_a_compacted_topic_refuses_is_dead_lettered_with_its_source() {
    let input = KafkaCluster::unique_topic("nullkey-in");
    let output = KafkaCluster::unique_topic("nullkey-out");
    let dlq = KafkaCluster::unique_topic("nullkey-dlq");
    let topology = null_keys_into_compacted(&input, &output, &dlq);
    cluster()
        .produce(&input, &inputs_with_a_null_key_output())
        .unwrap();
    let app_id = KafkaCluster::unique_group("nullkey");
    let mut rc = config(&app_id, &dlq);
    rc.task.guarantee = ProcessingGuarantee::AtLeastOnce;
    rc.task.production_handler = Arc::new(LogAndContinue);
    // One record a batch: the broker refuses a whole batch holding a
    // record without a key, good records with it.
    rc.producer_properties
        .push(("batch.num.messages".to_string(), "1".to_string()));
    let mut app = StreamsRuntime::start(topology, rc, None).unwrap();
    let out = wait_for(&output, 10);
    let dead = wait_for(&dlq, 1);
    assert_eq!(app.state(), State::Running);
    app.close(Duration::from_secs(30)).unwrap();
    let values: Vec<String> = out
        .iter()
        .map(|r| String::from_utf8(r.value.clone().unwrap()).unwrap())
        .collect();
    assert_eq!(values, (0..10).map(|i| format!("v{i}")).collect::<Vec<_>>());
    let snapshot = app.metrics();
    assert_eq!(snapshot.errors.production.dropped, 1);
    assert_eq!(snapshot.errors.production.dead_lettered, 1);
    assert_eq!(cluster().read_committed(&dlq).unwrap().len(), 1);
    // The source record's key, not the refused output's (none).
    assert_source_dead_lettered(&dead[0], b"keyed", b"no key", 777, &input, 4);
}

#[test]
fn under_exactly_once_a_record_refused_in_its_delivery_report_stops_the_application() {
    let input = KafkaCluster::unique_topic("nullkey-eos-in");
    let output = KafkaCluster::unique_topic("nullkey-eos-out");
    let dlq = KafkaCluster::unique_topic("nullkey-eos-dlq");
    let topology = null_keys_into_compacted(&input, &output, &dlq);
    cluster()
        .produce(&input, &inputs_with_a_null_key_output())
        .unwrap();
    let app_id = KafkaCluster::unique_group("nullkey-eos");
    let mut rc = config(&app_id, &dlq);
    rc.task.production_handler = Arc::new(LogAndContinue);
    rc.producer_properties
        .push(("batch.num.messages".to_string(), "1".to_string()));
    let app = StreamsRuntime::start(topology, rc, None).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !app.is_stopping() {
        assert!(
            Instant::now() < deadline,
            "still running: {:?}",
            app.state()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut app = app;
    let err = app.close(Duration::from_secs(30)).unwrap_err();
    let mut text = err.to_string();
    let mut source = std::error::Error::source(&err);
    while let Some(e) = source {
        text.push_str(" / ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    assert!(text.contains(&output), "{text}");
    assert!(text.contains("exactly_once_v2"), "{text}");
    assert!(text.contains(&format!("{input}-0 offset 4")), "{text}");
    assert_eq!(app.state(), State::Error);
    // The handler's continue could not save the transaction: nothing at or
    // past the refused record committed, and no dead-letter record.
    let out = cluster().read_committed(&output).unwrap();
    assert!(out.len() <= 4, "{out:?}");
    assert!(cluster().read_committed(&dlq).unwrap().is_empty());
}

#[test]
fn under_exactly_once_a_record_too_large_for_its_topic_is_dead_lettered_in_the_transaction() {
    let input = KafkaCluster::unique_topic("big-eos-in");
    let output = KafkaCluster::unique_topic("big-eos-out");
    let dlq = KafkaCluster::unique_topic("big-eos-dlq");
    cluster().create_topic(&input, 1).unwrap();
    cluster().create_topic(&dlq, 1).unwrap();
    weir_kafka::create_topics(
        &cluster().connection(),
        &[weir_kafka::TopicSpec::new(&output, 1).config("max.message.bytes", "10000")],
    )
    .unwrap();
    let big = noise(20_000);
    let records = [
        ProduceRecord::new("a", b"small".to_vec()),
        ProduceRecord::new("big", big.clone()),
        ProduceRecord::new("c", b"after".to_vec()),
    ];
    cluster().produce(&input, &records).unwrap();
    let b = StreamsBuilder::new();
    b.stream(&input, Consumed::with(Serdes::string(), Serdes::bytes()))
        .to(&output, Produced::with(Serdes::string(), Serdes::bytes()));
    let app_id = KafkaCluster::unique_group("big-eos");
    let mut rc = config(&app_id, &dlq);
    rc.task.production_handler = Arc::new(LogAndContinue);
    rc.producer_properties
        .push(("batch.size".to_string(), "8000".to_string()));
    let mut app = StreamsRuntime::start(b.build().unwrap(), rc, None).unwrap();
    let out = wait_for(&output, 2);
    let dead = wait_for(&dlq, 1);
    let snapshot = app.metrics();
    assert_eq!(app.state(), State::Running);
    app.close(Duration::from_secs(30)).unwrap();
    let values: Vec<&[u8]> = out.iter().filter_map(|r| r.value.as_deref()).collect();
    assert_eq!(values, [&b"small"[..], &b"after"[..]]);
    assert_eq!(cluster().read_committed(&dlq).unwrap().len(), 1);
    assert_eq!(dead[0].key.as_deref(), Some(&b"big"[..]));
    assert_eq!(dead[0].value.as_deref(), Some(&big[..]));
    assert_eq!(header(&dead[0], h::OFFSET), Some(&b"1"[..]));
    assert_eq!(
        header(&dead[0], h::EXCEPTION),
        Some(&b"weir_core::Error::Send"[..])
    );
    let message = String::from_utf8(header(&dead[0], h::MESSAGE).unwrap().to_vec()).unwrap();
    assert!(message.contains("max.message.bytes 10000"), "{message}");
    assert_eq!(snapshot.errors.production.dropped, 1);
    assert_eq!(snapshot.errors.production.dead_lettered, 1);
}

#[test]
fn a_bad_global_table_record_is_dead_lettered_too() {
    let input = KafkaCluster::unique_topic("dlq-global-in");
    let global = KafkaCluster::unique_topic("dlq-global-table");
    let output = KafkaCluster::unique_topic("dlq-global-out");
    let dlq = KafkaCluster::unique_topic("dlq-global-dlq");
    for t in [&input, &global, &output, &dlq] {
        cluster().create_topic(t, 1).unwrap();
    }
    // An i64 table: "bad" holds 2 bytes.
    cluster()
        .produce(
            &global,
            &[
                ProduceRecord::new("a", 5i64.to_be_bytes().to_vec()),
                ProduceRecord::new("bad", b"xx".to_vec()),
            ],
        )
        .unwrap();
    cluster()
        .produce(&input, &[ProduceRecord::new("k", b"a".to_vec())])
        .unwrap();
    let b = StreamsBuilder::new();
    let table = b.global_table(
        &global,
        Consumed::with(Serdes::string(), Serdes::i64()),
        weir_core::dsl::Materialized::as_("g", Serdes::string(), Serdes::i64()).in_memory(),
    );
    b.stream(&input, Consumed::with(Serdes::string(), Serdes::string()))
        .join_global(&table, |_k, v| Some(v.clone()), |_v, t| *t)
        .to(&output, Produced::with(Serdes::string(), Serdes::i64()));
    let app_id = KafkaCluster::unique_group("dlq-global");
    let mut rc = config(&app_id, &dlq);
    rc.task.guarantee = ProcessingGuarantee::AtLeastOnce;
    let mut app = StreamsRuntime::start(b.build().unwrap(), rc, None).unwrap();
    let out = wait_for(&output, 1);
    assert_eq!(out[0].value.as_deref(), Some(&5i64.to_be_bytes()[..]));
    let dead = wait_for(&dlq, 1);
    let snapshot = app.metrics();
    app.close(Duration::from_secs(30)).unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].key.as_deref(), Some(&b"bad"[..]));
    assert_eq!(dead[0].value.as_deref(), Some(&b"xx"[..]));
    assert_eq!(header(&dead[0], h::TOPIC), Some(global.as_bytes()));
    assert_eq!(header(&dead[0], h::OFFSET), Some(&b"1"[..]));
    assert_eq!(snapshot.errors.deserialization.dropped, 1);
    assert_eq!(snapshot.errors.deserialization.dead_lettered, 1);
}

#[test]
fn a_missing_dead_letter_topic_stops_the_start_naming_it() {
    let input = KafkaCluster::unique_topic("dlq-missing-in");
    let output = KafkaCluster::unique_topic("dlq-missing-out");
    let dlq = KafkaCluster::unique_topic("dlq-missing-dlq");
    cluster().create_topic(&input, 1).unwrap();
    cluster().create_topic(&output, 1).unwrap();
    let app_id = KafkaCluster::unique_group("dlq-missing");
    let err = StreamsRuntime::start(doubling(&input, &output), config(&app_id, &dlq), None)
        .err()
        .expect("the start fails");
    let text = err.to_string();
    assert!(
        text.contains("errors.dead.letter.queue.topic.name"),
        "{text}"
    );
    assert!(text.contains(&dlq), "{text}");
}
