//! `until_window_closes` over windowed counts: Kafka Streams'
//! `SuppressScenarioTest` final-results cases (same inputs, same expected
//! outputs), the build errors, and each window emitted exactly once across
//! crashes under exactly-once.

use weir_core::dsl::{KGroupedStream, SessionWindows, SlidingWindows, TimeWindows};
use weir_core::window::Windowed;
use weir_core::SharedSerde;

use super::*;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn uncached_counts() -> Materialized<String, i64> {
    Materialized::as_("counts", Serdes::string(), Serdes::i64()).with_caching(false)
}

/// `input` grouped by key, windowed and counted by `windowed`, raw to
/// `output-raw` and suppressed until each window closes to
/// `output-suppressed`, keys written `[key@start/end]` as Kafka Streams'
/// `Windowed::toString`.
fn final_results(
    config: DriverConfig,
    key_serde: SharedSerde<Windowed<String>>,
    windowed: impl FnOnce(KGroupedStream<String, String>) -> KTable<Windowed<String>, i64>,
) -> (
    TopologyTestDriver,
    TestInputTopic<String, String>,
    [Windows; 2],
) {
    let builder = StreamsBuilder::new();
    let counts = windowed(builder.stream("input", strings()).group_by_key());
    counts
        .suppress(
            Suppressed::until_window_closes(BufferConfig::unbounded())
                .with_name("final")
                .with_serdes(key_serde.clone(), Serdes::i64()),
        )
        .to_stream()
        .to(
            "output-suppressed",
            Produced::with(key_serde.clone(), Serdes::i64()),
        );
    // Written with the windowed serde (not mapped to strings: a map never
    // sees the deletes of merged-away sessions).
    counts.to_stream().to(
        "output-raw",
        Produced::with(key_serde.clone(), Serdes::i64()),
    );
    let driver = drive(builder, config);
    let input = driver.create_input_topic("input", Serdes::string(), Serdes::string());
    let raw = driver.create_output_topic("output-raw", key_serde.clone(), Serdes::i64());
    let suppressed = driver.create_output_topic("output-suppressed", key_serde, Serdes::i64());
    (driver, input, [Windows(raw), Windows(suppressed)])
}

/// An output topic of windowed counts, read with the keys shown as Kafka
/// Streams prints them (`[key@start/end]`).
struct Windows(TestOutputTopic<Windowed<String>, i64>);

fn drain(out: &Windows) -> Vec<(String, Option<i64>, i64)> {
    out.0
        .read_records_to_list()
        .unwrap()
        .into_iter()
        .map(|r| (r.key.unwrap().to_string(), r.value, r.timestamp))
        .collect()
}

fn pipe_all(input: &mut TestInputTopic<String, String>, times: &[(&str, i64)]) {
    for (key, ts) in times {
        pipe(input, key, "v1", *ts);
    }
}

#[test]
fn final_results_for_time_windows() {
    // SuppressScenarioTest.shouldSupportFinalResultsForTimeWindows
    let (_driver, mut input, [raw, suppressed]) = final_results(
        DriverConfig::new(),
        Serdes::time_windowed(Serdes::string(), 2),
        |g| {
            g.windowed_by(TimeWindows::of_size_and_grace(ms(2), ms(1)))
                .count(uncached_counts())
        },
    );
    let k1 = [0, 1, 2, 1, 0, 5, 0].map(|ts| ("k1", ts));
    pipe_all(&mut input, &k1);
    assert_eq!(
        drain(&raw),
        vec![
            kvt("[k1@0/2]", 1, 0),
            kvt("[k1@0/2]", 2, 1),
            kvt("[k1@2/4]", 1, 2),
            kvt("[k1@0/2]", 3, 1),
            kvt("[k1@0/2]", 4, 1),
            kvt("[k1@4/6]", 1, 5),
        ]
    );
    assert_eq!(
        drain(&suppressed),
        vec![kvt("[k1@0/2]", 4, 1), kvt("[k1@2/4]", 1, 2)]
    );
}

#[test]
fn final_results_for_time_windows_with_a_large_jump() {
    // SuppressScenarioTest.shouldSupportFinalResultsForTimeWindowsWithLargeJump
    let (_driver, mut input, [raw, suppressed]) = final_results(
        DriverConfig::new(),
        Serdes::time_windowed(Serdes::string(), 2),
        |g| {
            g.windowed_by(TimeWindows::of_size_and_grace(ms(2), ms(2)))
                .count(uncached_counts())
        },
    );
    let k1 = [0, 1, 2, 0, 3, 0, 4, 0, 30].map(|ts| ("k1", ts));
    pipe_all(&mut input, &k1);
    assert_eq!(
        drain(&raw),
        vec![
            kvt("[k1@0/2]", 1, 0),
            kvt("[k1@0/2]", 2, 1),
            kvt("[k1@2/4]", 1, 2),
            kvt("[k1@0/2]", 3, 1),
            kvt("[k1@2/4]", 2, 3),
            kvt("[k1@0/2]", 4, 1),
            kvt("[k1@4/6]", 1, 4),
            kvt("[k1@30/32]", 1, 30),
        ]
    );
    assert_eq!(
        drain(&suppressed),
        vec![
            kvt("[k1@0/2]", 4, 1),
            kvt("[k1@2/4]", 2, 3),
            kvt("[k1@4/6]", 1, 4),
        ]
    );
}

#[test]
fn final_results_for_session_windows_drop_the_merged_away_sessions() {
    // SuppressScenarioTest.shouldSupportFinalResultsForSessionWindows
    let (_driver, mut input, [raw, suppressed]) = final_results(
        DriverConfig::new(),
        Serdes::session_windowed(Serdes::string()),
        |g| {
            g.windowed_by(SessionWindows::of_inactivity_gap_and_grace(ms(5), ms(0)))
                .count(uncached_counts())
        },
    );
    pipe_all(
        &mut input,
        &[
            ("k1", 0),
            ("k1", 5),
            // Out of order but inside the session: admitted.
            ("k1", 1),
            // Any key moves stream time: 11, close time 11 - 5 - 0 = 6.
            ("k2", 11),
            // Late for [0, 5], which ended before 6: dropped everywhere.
            ("k1", 2),
            ("k1", 30),
        ],
    );
    assert_eq!(
        drain(&raw),
        vec![
            kvt("[k1@0/0]", 1, 0),
            (s("[k1@0/0]"), None, 0),
            kvt("[k1@0/5]", 2, 5),
            (s("[k1@0/5]"), None, 5),
            kvt("[k1@0/5]", 3, 5),
            kvt("[k2@11/11]", 1, 11),
            kvt("[k1@30/30]", 1, 30),
        ]
    );
    assert_eq!(
        drain(&suppressed),
        vec![kvt("[k1@0/5]", 3, 5), kvt("[k2@11/11]", 1, 11)]
    );
}

#[test]
fn final_results_for_sliding_windows() {
    // SuppressScenarioTest.shouldSupportFinalResultsForSlidingWindows
    let (_driver, mut input, [_raw, suppressed]) = final_results(
        DriverConfig::new(),
        Serdes::time_windowed(Serdes::string(), 5),
        |g| {
            g.windowed_by(SlidingWindows::of_time_difference_and_grace(ms(5), ms(15)))
                .count(uncached_counts())
        },
    );
    let k1 = [10, 11, 10, 13, 10, 24, 5, 7, 90].map(|ts| ("k1", ts));
    pipe_all(&mut input, &k1);
    assert_eq!(
        drain(&suppressed),
        vec![
            kvt("[k1@5/10]", 5, 10),
            kvt("[k1@6/11]", 5, 11),
            kvt("[k1@8/13]", 5, 13),
            kvt("[k1@11/16]", 2, 13),
            kvt("[k1@12/17]", 1, 13),
            kvt("[k1@19/24]", 1, 24),
        ]
    );
}

#[test]
fn until_window_closes_needs_a_windowed_aggregation_and_a_strict_buffer() {
    // A table of windowed keys read from a topic: no grace is known.
    let builder = StreamsBuilder::new();
    let key_serde = Serdes::time_windowed(Serdes::string(), 10);
    builder
        .table(
            "windows",
            Consumed::with(key_serde.clone(), Serdes::i64()),
            Materialized::as_("windows-store", key_serde.clone(), Serdes::i64()),
        )
        .suppress(
            Suppressed::until_window_closes(BufferConfig::unbounded())
                .with_name("closing")
                .with_serdes(key_serde, Serdes::i64()),
        );
    let err = builder.build().unwrap_err().to_string();
    assert!(
        err.contains("'closing'") && err.contains("not a table of a windowed aggregation"),
        "{err}"
    );

    // A buffer that may emit early cannot give final results.
    let builder = StreamsBuilder::new();
    builder
        .stream("input", strings())
        .group_by_key()
        .windowed_by(TimeWindows::of_size_and_grace(ms(10), ms(0)))
        .count(uncached_counts())
        .suppress(
            Suppressed::until_window_closes(BufferConfig::max_records(10))
                .with_name("eager")
                .with_serdes(Serdes::time_windowed(Serdes::string(), 10), Serdes::i64()),
        );
    let err = builder.build().unwrap_err().to_string();
    assert!(
        err.contains("'eager'") && err.contains("shut_down_when_full"),
        "{err}"
    );
}

#[test]
fn under_exactly_once_each_window_is_emitted_once_across_crashes() {
    // Tumbling windows of 10 ms with 5 ms of grace: a window closes when
    // the suppress node's stream time reaches its end + 5.
    let records: Vec<(&str, i64)> = vec![
        ("a", 1),
        ("b", 2),
        ("a", 8),
        ("a", 12),
        ("b", 4),  // late but within grace: [0/10] of b is now 2
        ("b", 15), // closes [0/10]
        ("a", 19),
        ("a", 26), // closes [10/20]
        ("b", 40), // closes [20/30]
    ];
    let want = vec![
        kvt("[a@0/10]", 2, 8),
        kvt("[b@0/10]", 2, 4),
        kvt("[a@10/20]", 2, 19),
        kvt("[b@10/20]", 1, 15),
        kvt("[a@20/30]", 1, 26),
    ];
    let windowed = |g: KGroupedStream<String, String>| {
        g.windowed_by(TimeWindows::of_size_and_grace(ms(10), ms(5)))
            .count(Materialized::as_("counts", Serdes::string(), Serdes::i64()))
    };
    for state_dir in [false, true] {
        for point in CRASHES {
            for crash_at in 0..records.len() {
                let dir = tempfile::tempdir().unwrap();
                let mut config = DriverConfig::new().with_exactly_once(true);
                if state_dir {
                    config = config.with_state_dir(dir.path());
                }
                let key_serde = Serdes::time_windowed(Serdes::string(), 10);
                let (driver, mut input, [_raw, suppressed]) =
                    final_results(config, key_serde, windowed);
                for (i, (key, ts)) in records.iter().enumerate() {
                    if i == crash_at {
                        driver.crash_at_next_commit(point);
                        let err = input.pipe_key_value_at(s(key), s("v"), *ts).unwrap_err();
                        assert!(err.to_string().contains("simulated crash"), "{err}");
                        driver.restart().unwrap();
                    } else {
                        pipe(&mut input, key, "v", *ts);
                    }
                }
                assert_eq!(
                    drain(&suppressed),
                    want,
                    "crash {point:?} at record {crash_at}, state dir {state_dir}"
                );
                driver.close().unwrap();
            }
        }
    }
}
