//! What the fault tests against the real broker share: a topology with a
//! stateless and a stateful output, its configuration, and checks that
//! every input record's result is there.
// Each test binary uses a part of it.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;
use std::time::{Duration, Instant};

use weir_core::dsl::{Materialized, StreamsBuilder};
use weir_core::topology::{Consumed, Produced, Topology};
use weir_core::{ProcessingGuarantee, Serdes};
use weir_kafka::{ProduceRecord, RuntimeConfig, State, StreamsRuntime};
use weir_testing::KafkaCluster;

/// Keys the inputs spread over.
pub(crate) const KEYS: usize = 10;

pub(crate) fn cluster() -> &'static KafkaCluster {
    KafkaCluster::get().expect("test broker")
}

/// The topics of one application: `input` (2 partitions), `out` (each
/// input value copied) and `counts` (the running count of each key).
pub(crate) struct Topics {
    pub(crate) input: String,
    pub(crate) out: String,
    pub(crate) counts: String,
}

impl Topics {
    pub(crate) fn new(test: &str) -> Topics {
        Topics {
            input: KafkaCluster::unique_topic(&format!("{test}-in")),
            out: KafkaCluster::unique_topic(&format!("{test}-out")),
            counts: KafkaCluster::unique_topic(&format!("{test}-counts")),
        }
    }

    pub(crate) fn create(&self) {
        cluster().create_topic(&self.input, 2).unwrap();
        cluster().create_topic(&self.out, 1).unwrap();
        cluster().create_topic(&self.counts, 1).unwrap();
    }
}

/// input -> out (value copied) and input -> count per key -> counts.
pub(crate) fn topology(t: &Topics) -> Topology {
    slow_topology(t, 0..0, Duration::ZERO)
}

/// [`topology`], taking `delay` over each input whose value is in `slow`:
/// a fault can then strike while those are being processed.
pub(crate) fn slow_topology(t: &Topics, slow: Range<usize>, delay: Duration) -> Topology {
    let builder = StreamsBuilder::new();
    let stream = builder.stream(&t.input, Consumed::with(Serdes::string(), Serdes::string()));
    stream
        .map_values(move |v| {
            if v.parse::<usize>().is_ok_and(|i| slow.contains(&i)) {
                std::thread::sleep(delay);
            }
            v.clone()
        })
        .to(&t.out, Produced::with(Serdes::string(), Serdes::string()));
    stream
        .group_by_key()
        .count(Materialized::as_("counts", Serdes::string(), Serdes::i64()))
        .to_stream()
        .to(&t.counts, Produced::with(Serdes::string(), Serdes::i64()));
    builder.build().unwrap()
}

/// A runtime configuration that commits every 200 ms and notices a lost
/// group member within seconds.
pub(crate) fn config(
    app_id: &str,
    state_dir: &Path,
    guarantee: ProcessingGuarantee,
) -> RuntimeConfig {
    let mut rc = RuntimeConfig::new(app_id, cluster().bootstrap_servers());
    rc.commit_interval = Duration::from_millis(200);
    rc.state_dir = Some(state_dir.to_path_buf());
    rc.task.guarantee = guarantee;
    rc.consumer_properties
        .push(("session.timeout.ms".to_string(), "6000".to_string()));
    rc
}

pub(crate) fn wait_running(app: &StreamsRuntime, within: Duration) {
    let deadline = Instant::now() + within;
    while app.state() != State::Running {
        assert!(
            Instant::now() < deadline,
            "not Running within {within:?} (state {:?})",
            app.state()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Input records `from..to`: key `k<i % KEYS>`, value `<i>`.
pub(crate) fn inputs(from: usize, to: usize) -> Vec<ProduceRecord> {
    (from..to)
        .map(|i| ProduceRecord::new(format!("k{}", i % KEYS), i.to_string()))
        .collect()
}

/// The values of `topic`, read_committed, parsed as numbers.
pub(crate) fn out_values(topic: &str) -> Vec<usize> {
    out_values_on(cluster(), topic)
}

/// The values of `topic` on `broker`, read_committed.
pub(crate) fn out_values_on(broker: &KafkaCluster, topic: &str) -> Vec<usize> {
    broker
        .read_committed(topic)
        .unwrap()
        .into_iter()
        .map(|r| {
            String::from_utf8(r.value.unwrap())
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect()
}

/// The last count of each key in `topic`, read_committed.
pub(crate) fn last_counts(topic: &str) -> BTreeMap<String, i64> {
    let mut last = BTreeMap::new();
    for r in cluster().read_committed(topic).unwrap() {
        let key = String::from_utf8(r.key.unwrap()).unwrap();
        let bytes: [u8; 8] = r.value.unwrap().as_slice().try_into().unwrap();
        last.insert(key, i64::from_be_bytes(bytes));
    }
    last
}

/// Waits until every value of `0..n` is in `topic` (read_committed);
/// returns how many of each there are.
pub(crate) fn wait_all(topic: &str, n: usize, within: Duration) -> Vec<usize> {
    wait_all_on(cluster(), topic, n, within)
}

/// [`wait_all`] on `broker`.
pub(crate) fn wait_all_on(
    broker: &KafkaCluster,
    topic: &str,
    n: usize,
    within: Duration,
) -> Vec<usize> {
    let deadline = Instant::now() + within;
    loop {
        let mut seen = vec![0usize; n];
        for v in out_values_on(broker, topic) {
            assert!(v < n, "{topic}: unexpected value {v}");
            seen[v] += 1;
        }
        let missing = seen.iter().filter(|c| **c == 0).count();
        if missing == 0 {
            return seen;
        }
        assert!(
            Instant::now() < deadline,
            "{topic}: {missing} of {n} results missing after {within:?}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// How many inputs of `0..n` have key `k<key>`.
pub(crate) fn inputs_per_key(n: usize) -> BTreeMap<String, i64> {
    let mut per_key = BTreeMap::new();
    for i in 0..n {
        *per_key.entry(format!("k{}", i % KEYS)).or_insert(0) += 1;
    }
    per_key
}

/// Checks `t`'s outputs for inputs `0..n`: every result there, exactly
/// once (and exact counts) under exactly-once, at least once (and counts
/// no lower) under at-least-once.
pub(crate) fn check_results(
    t: &Topics,
    n: usize,
    guarantee: ProcessingGuarantee,
    within: Duration,
) {
    let seen = wait_all(&t.out, n, within);
    let expected = inputs_per_key(n);
    let deadline = Instant::now() + within;
    let counts = loop {
        let counts = last_counts(&t.counts);
        let done = expected
            .iter()
            .all(|(k, n)| counts.get(k).is_some_and(|c| c >= n));
        if done {
            break counts;
        }
        assert!(
            Instant::now() < deadline,
            "{}: counts {counts:?}, expected {expected:?}",
            t.counts
        );
        std::thread::sleep(Duration::from_millis(250));
    };
    let duplicated = seen.iter().filter(|c| **c > 1).count();
    eprintln!("{guarantee:?}: {n} inputs, {duplicated} results duplicated; counts {counts:?}");
    if guarantee.is_exactly_once() {
        assert_eq!(duplicated, 0, "{}: duplicated results under EOS", t.out);
        assert_eq!(counts, expected, "{}: counts under EOS", t.counts);
    }
}
