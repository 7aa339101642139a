//! The Kafka runtime against the launcher's real broker: every record
//! arrives in order, instances share and take over partitions, a SIGKILLed
//! instance loses nothing, and bad configuration fails at start naming the key.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use weir::prelude::*;
use weir_kafka::{ConsumedRecord, ProduceRecord};
use weir_testing::KafkaCluster;

fn cluster() -> &'static KafkaCluster {
    KafkaCluster::get().expect("test broker")
}

fn config(app_id: &str, extra: &[(&str, &str)]) -> StreamsConfig {
    // Every instance its own state directory, as on separate machines.
    let state_dir = std::env::temp_dir()
        .join("weir-tests")
        .join(KafkaCluster::unique_group("state"));
    let state_dir = state_dir.display().to_string();
    let mut pairs = vec![
        ("application.id", app_id),
        ("state.dir", state_dir.as_str()),
        ("bootstrap.servers", cluster().bootstrap_servers()),
        ("commit.interval.ms", "200"),
        ("session.timeout.ms", "6000"),
        ("heartbeat.interval.ms", "1000"),
    ];
    pairs.extend_from_slice(extra);
    StreamsConfig::from_pairs(pairs).unwrap()
}

/// Values `p<partition>-<seq>` keyed `k<partition>`, written to their partition.
fn produce(topic: &str, partitions: i32, from: usize, to: usize) -> BTreeSet<String> {
    let mut records = Vec::new();
    let mut values = BTreeSet::new();
    for p in 0..partitions {
        for seq in from..to {
            let value = format!("p{p}-{seq:06}");
            values.insert(value.clone());
            records.push(ProduceRecord::new(format!("k{p}"), value).to_partition(p));
        }
    }
    cluster().produce(topic, &records).unwrap();
    values
}

fn values(records: &[ConsumedRecord]) -> Vec<String> {
    records
        .iter()
        .map(|r| String::from_utf8(r.value.clone().unwrap()).unwrap())
        .collect()
}

/// Reads `topic` until it holds every value of `expected` (bounded).
fn wait_for_all(
    topic: &str,
    expected: &BTreeSet<String>,
    timeout: Duration,
) -> Vec<ConsumedRecord> {
    let start = Instant::now();
    loop {
        let records = cluster().read_uncommitted(topic).unwrap();
        let seen: BTreeSet<String> = values(&records).into_iter().collect();
        if expected.is_subset(&seen) {
            return records;
        }
        assert!(
            start.elapsed() < timeout,
            "after {timeout:?} output {topic} has {} of {} expected values",
            expected.intersection(&seen).count(),
            expected.len()
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

fn wait_state(app: &KafkaStreams, want: State, timeout: Duration) {
    let start = Instant::now();
    while app.state() != want {
        assert!(
            start.elapsed() < timeout,
            "state stayed {:?}, wanted {want:?}",
            app.state()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Per key (= per input partition), the output keeps the input order.
fn assert_in_order(records: &[ConsumedRecord]) {
    let mut last: BTreeMap<Vec<u8>, String> = BTreeMap::new();
    for r in records {
        let v = String::from_utf8(r.value.clone().unwrap()).unwrap();
        let key = r.key.clone().unwrap();
        if let Some(prev) = last.get(&key) {
            assert!(
                &v > prev,
                "out of order for key {:?}: {v} after {prev}",
                String::from_utf8_lossy(&key)
            );
        }
        last.insert(key, v);
    }
}

#[test]
fn multi_partition_input_arrives_complete_and_in_order() {
    let input = KafkaCluster::unique_topic("rt-order-in");
    let output = KafkaCluster::unique_topic("rt-order-out");
    cluster().create_topic(&input, 4).unwrap();
    cluster().create_topic(&output, 4).unwrap();
    let expected = produce(&input, 4, 0, 500);

    let states = Arc::new(Mutex::new(Vec::new()));
    let seen = states.clone();
    let app_id = KafkaCluster::unique_group("rt-order");
    let mut app = KafkaStreams::new(
        weir_test_apps::echo_topology(&input, &output).unwrap(),
        config(&app_id, &[("num.stream.threads", "2")]),
    )
    .unwrap();
    app.set_state_listener(move |new, _old| seen.lock().unwrap().push(new));
    app.start().unwrap();
    let records = wait_for_all(&output, &expected, Duration::from_secs(60));
    assert_eq!(
        records.len(),
        expected.len(),
        "no duplicates without failures"
    );
    assert_in_order(&records);
    wait_state(&app, State::Running, Duration::from_secs(30));
    // Consumer lag comes from librdkafka's statistics (every 5 s): all caught up.
    let start = Instant::now();
    while app.metrics().lag != 0 || start.elapsed() < Duration::from_millis(5500) {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "lag stayed {}",
            app.metrics().lag
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    app.close(Duration::from_secs(30)).unwrap();
    assert_eq!(app.state(), State::NotRunning);
    let states = states.lock().unwrap().clone();
    assert_eq!(states.first(), Some(&State::Rebalancing));
    assert!(states.contains(&State::Running));
    assert_eq!(
        &states[states.len() - 2..],
        &[State::PendingShutdown, State::NotRunning]
    );
    let m = app.metrics();
    assert_eq!(m.records_processed, 2000);
    assert!(m.commits >= 1);
}

#[test]
fn a_second_instance_takes_over_when_the_first_stops() {
    let input = KafkaCluster::unique_topic("rt-takeover-in");
    let output = KafkaCluster::unique_topic("rt-takeover-out");
    cluster().create_topic(&input, 4).unwrap();
    cluster().create_topic(&output, 4).unwrap();
    let app_id = KafkaCluster::unique_group("rt-takeover");
    let start = |cfg| {
        let mut app =
            KafkaStreams::new(weir_test_apps::echo_topology(&input, &output).unwrap(), cfg)
                .unwrap();
        app.start().unwrap();
        app
    };
    let mut a = start(config(&app_id, &[]));
    let mut b = start(config(&app_id, &[]));
    wait_state(&a, State::Running, Duration::from_secs(60));
    wait_state(&b, State::Running, Duration::from_secs(60));
    let mut expected = produce(&input, 4, 0, 200);
    wait_for_all(&output, &expected, Duration::from_secs(60));
    let (pa, pb) = (a.metrics().records_processed, b.metrics().records_processed);
    assert!(
        pa > 0 && pb > 0,
        "both instances process while both run: {pa} and {pb}"
    );

    a.close(Duration::from_secs(30)).unwrap();
    expected.extend(produce(&input, 4, 200, 400));
    let records = wait_for_all(&output, &expected, Duration::from_secs(90));
    assert_in_order(&records);
    assert_eq!(
        b.metrics().records_processed as usize + pa as usize,
        records.len()
    );
    b.close(Duration::from_secs(30)).unwrap();
}

struct EchoProcess(Child);

impl EchoProcess {
    fn spawn(app_id: &str, input: &str, output: &str) -> Self {
        let child = Command::new(env!("CARGO_BIN_EXE_echo-app"))
            .args([input, output])
            .env("WEIR_APPLICATION_ID", app_id)
            .env("WEIR_BOOTSTRAP_SERVERS", cluster().bootstrap_servers())
            .env("WEIR_COMMIT_INTERVAL_MS", "1000")
            .env("WEIR_SESSION_TIMEOUT_MS", "6000")
            .env("WEIR_HEARTBEAT_INTERVAL_MS", "1000")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn echo-app");
        EchoProcess(child)
    }

    fn kill9(&mut self) {
        let pid = self.0.id().to_string();
        let status = Command::new("kill").args(["-9", &pid]).status().unwrap();
        assert!(status.success());
        self.0.wait().unwrap();
    }

    fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.0.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let start = Instant::now();
        loop {
            if let Some(status) = self.0.try_wait().unwrap() {
                return status;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "echo-app ignored SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for EchoProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

#[test]
fn an_instance_killed_with_sigkill_loses_nothing_after_restart() {
    let input = KafkaCluster::unique_topic("rt-kill-in");
    let output = KafkaCluster::unique_topic("rt-kill-out");
    cluster().create_topic(&input, 4).unwrap();
    cluster().create_topic(&output, 4).unwrap();
    let app_id = KafkaCluster::unique_group("rt-kill");
    let mut expected = produce(&input, 4, 0, 2000);

    let mut first = EchoProcess::spawn(&app_id, &input, &output);
    // Kill it as soon as some output exists: most of the input is still unprocessed or uncommitted.
    let start = Instant::now();
    while cluster().read_uncommitted(&output).unwrap().is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "echo-app produced nothing"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    first.kill9();
    expected.extend(produce(&input, 4, 2000, 3000));

    let second = EchoProcess::spawn(&app_id, &input, &output);
    let records = wait_for_all(&output, &expected, Duration::from_secs(120));
    let status = second.terminate();
    assert!(status.success(), "echo-app exit after SIGTERM: {status}");
    let distinct: BTreeSet<String> = values(&records).into_iter().collect();
    assert_eq!(distinct, expected, "lost nothing");
    assert!(records.len() >= expected.len());
}

#[test]
fn bad_configuration_fails_at_start_naming_the_key() {
    let no_app_id = StreamsConfig::from_pairs([("bootstrap.servers", "127.0.0.1:9")]).unwrap_err();
    assert!(
        no_app_id.to_string().contains("application.id"),
        "{no_app_id}"
    );

    let unknown =
        StreamsConfig::from_pairs([("application.id", "a"), ("commit.intervall.ms", "5")])
            .unwrap_err();
    assert!(
        unknown.to_string().contains("commit.intervall.ms"),
        "{unknown}"
    );

    let negative =
        StreamsConfig::from_pairs([("application.id", "a"), ("commit.interval.ms", "-1")])
            .unwrap_err();
    assert!(
        negative.to_string().contains("commit.interval.ms"),
        "{negative}"
    );

    let missing_bootstrap = KafkaStreams::new(
        weir_test_apps::echo_topology("a", "b").unwrap(),
        StreamsConfig::from_pairs([("application.id", "a")]).unwrap(),
    )
    .err()
    .expect("bootstrap.servers is required to run");
    assert!(
        missing_bootstrap.to_string().contains("bootstrap.servers"),
        "{missing_bootstrap}"
    );
}

#[test]
fn a_missing_source_topic_fails_at_start_naming_it() {
    let input = KafkaCluster::unique_topic("rt-missing-in");
    let output = KafkaCluster::unique_topic("rt-missing-out");
    let app_id = KafkaCluster::unique_group("rt-missing");
    let mut app = KafkaStreams::new(
        weir_test_apps::echo_topology(&input, &output).unwrap(),
        config(&app_id, &[]),
    )
    .unwrap();
    let err = app.start().unwrap_err();
    assert!(err.to_string().contains(&input), "{err}");
    assert_eq!(err.kind(), weir::ErrorKind::User);
}

#[test]
fn an_internal_topic_with_the_wrong_partition_count_fails_at_start() {
    let input = KafkaCluster::unique_topic("rt-repart-in");
    let output = KafkaCluster::unique_topic("rt-repart-out");
    let app_id = KafkaCluster::unique_group("rt-repart");
    cluster().create_topic(&input, 2).unwrap();
    cluster().create_topic(&output, 2).unwrap();
    // The repartition topic exists already with 3 partitions, but the topology asks for 2.
    let internal = format!("{app_id}-by-key-repartition");
    cluster().create_topic(&internal, 3).unwrap();
    let builder = StreamsBuilder::new();
    builder
        .stream(
            input.as_str(),
            Consumed::with(Serdes::string(), Serdes::string()),
        )
        .repartition(
            Repartitioned::as_("by-key", Serdes::string(), Serdes::string()).with_partitions(2),
        )
        .to(&output, Produced::with(Serdes::string(), Serdes::string()));
    let mut app = KafkaStreams::new(builder.build().unwrap(), config(&app_id, &[])).unwrap();
    let err = app.start().unwrap_err();
    assert!(err.to_string().contains(&internal), "{err}");
}

#[test]
fn records_flow_through_a_repartition_topic_the_runtime_creates() {
    let input = KafkaCluster::unique_topic("rt-flow-in");
    let output = KafkaCluster::unique_topic("rt-flow-out");
    let app_id = KafkaCluster::unique_group("rt-flow");
    cluster().create_topic(&input, 3).unwrap();
    cluster().create_topic(&output, 3).unwrap();
    let builder = StreamsBuilder::new();
    builder
        .stream(
            input.as_str(),
            Consumed::with(Serdes::string(), Serdes::string()),
        )
        .select_key(|_k, v| v.chars().rev().collect::<String>())
        .repartition(Repartitioned::as_(
            "reversed",
            Serdes::string(),
            Serdes::string(),
        ))
        .to(&output, Produced::with(Serdes::string(), Serdes::string()));
    let mut app = KafkaStreams::new(builder.build().unwrap(), config(&app_id, &[])).unwrap();
    app.start().unwrap();
    let expected = produce(&input, 3, 0, 100);
    let records = wait_for_all(&output, &expected, Duration::from_secs(60));
    assert_eq!(records.len(), expected.len());
    for r in &records {
        let v = String::from_utf8(r.value.clone().unwrap()).unwrap();
        let k = String::from_utf8(r.key.clone().unwrap()).unwrap();
        assert_eq!(k, v.chars().rev().collect::<String>());
    }
    let internal = format!("{app_id}-reversed-repartition");
    assert_eq!(
        weir_kafka::partition_count(&cluster().connection(), &internal).unwrap(),
        Some(3),
        "internal topic sized like the input"
    );
    app.close(Duration::from_secs(30)).unwrap();
}

/// The application's own error type, which must reach the caller whole.
#[derive(Debug)]
struct Indigestible(String);

impl std::fmt::Display for Indigestible {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot digest {}", self.0)
    }
}

impl std::error::Error for Indigestible {}

/// Fails on the value "poison", with the application's own error.
struct Fussy;

impl Processor<String, String> for Fussy {
    fn process(
        &mut self,
        ctx: &mut dyn ProcessorContext<String, String>,
        record: Record<String, String>,
    ) -> Result<()> {
        if record.value.as_deref() == Some("poison") {
            return Err(weir::Error::application(
                ctx.node_name(),
                Indigestible("poison".to_string()),
            ));
        }
        ctx.forward(record)
    }
}

#[test]
fn a_processing_error_stops_the_application_with_the_error() {
    let input = KafkaCluster::unique_topic("rt-fatal-in");
    let output = KafkaCluster::unique_topic("rt-fatal-out");
    let app_id = KafkaCluster::unique_group("rt-fatal");
    cluster().create_topic(&input, 1).unwrap();
    cluster().create_topic(&output, 1).unwrap();
    let builder = StreamsBuilder::new();
    builder
        .stream(
            input.as_str(),
            Consumed::with(Serdes::string(), Serdes::string()),
        )
        .process(|| Fussy, &[])
        .named("fussy")
        .to(&output, Produced::with(Serdes::string(), Serdes::string()));
    let mut app = KafkaStreams::new(builder.build().unwrap(), config(&app_id, &[])).unwrap();
    app.start().unwrap();
    cluster()
        .produce(
            &input,
            &[
                ProduceRecord::new("a", "fine"),
                ProduceRecord::new("b", "poison"),
            ],
        )
        .unwrap();
    let start = Instant::now();
    while !app.is_stopping() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the application kept running"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let err = app.close(Duration::from_secs(30)).unwrap_err();
    assert!(err.to_string().contains("fussy"), "{err}");
    // The processor's own error is in the chain, whole, not flattened to text.
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&err);
    let mut found = None;
    while let Some(e) = source {
        found = found.or_else(|| e.downcast_ref::<Indigestible>());
        source = e.source();
    }
    assert_eq!(found.map(|i| i.0.as_str()), Some("poison"), "{err:?}");
    assert!(err.to_string().contains("poison"), "{err}");
    assert_eq!(app.state(), State::Error);
    // The record before the poison was written and committed: a restart resumes at the poison.
    let out = cluster().read_uncommitted(&output).unwrap();
    assert_eq!(values(&out), vec!["fine".to_string()]);
}

#[test]
fn consumer_lag_is_reported_while_behind_and_drops_to_zero() {
    let input = KafkaCluster::unique_topic("rt-lag-in");
    let output = KafkaCluster::unique_topic("rt-lag-out");
    let app_id = KafkaCluster::unique_group("rt-lag");
    cluster().create_topic(&input, 1).unwrap();
    cluster().create_topic(&output, 1).unwrap();
    let expected = produce(&input, 1, 0, 5000);
    let builder = StreamsBuilder::new();
    builder
        .stream(
            input.as_str(),
            Consumed::with(Serdes::string(), Serdes::string()),
        )
        .peek(|_k, _v| std::thread::sleep(Duration::from_millis(1)))
        .named("slow")
        .to(&output, Produced::with(Serdes::string(), Serdes::string()));
    let mut app = KafkaStreams::new(
        builder.build().unwrap(),
        config(&app_id, &[("consumer.statistics.interval.ms", "200")]),
    )
    .unwrap();
    app.start().unwrap();
    let start = Instant::now();
    let mut max_lag = 0;
    while start.elapsed() < Duration::from_secs(60) {
        let m = app.metrics();
        max_lag = max_lag.max(m.lag);
        if m.records_processed == 5000 && m.lag == 0 && m.buffered == 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    // 5000 records at ~1 ms each; a poll takes at most 2000 and the partition
    // is paused past 1000 buffered, so the rest waits in the log or in
    // librdkafka's queue for seconds.
    assert!(max_lag > 0, "lag was never reported while ~6 s behind");
    assert_eq!(app.metrics().lag, 0, "lag back to 0 once caught up");
    wait_for_all(&output, &expected, Duration::from_secs(30));
    app.close(Duration::from_secs(30)).unwrap();
}
