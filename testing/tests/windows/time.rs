//! Tumbling and hopping windows.

use super::*;

#[test]
fn tumbling_count_takes_out_of_order_records_until_the_window_closes() {
    let (driver, mut input, output) = drive(no_cache(), |g| {
        g.windowed_by(TimeWindows::of_size_with_no_grace(ms(10)))
            .count(counts("counts"))
    });
    pipe(
        &mut input,
        &[("a", "x", 1), ("a", "x", 5), ("a", "x", 3), ("b", "x", 12)],
    );
    // The window [0, 10) closed when stream time reached 12: dropped.
    pipe(&mut input, &[("a", "x", 9), ("a", "x", 10)]);
    assert_eq!(
        read(&output),
        vec![
            out("a@0/10", "1", 1),
            out("a@0/10", "2", 5),
            // An out-of-order record keeps the window's newest timestamp.
            out("a@0/10", "3", 5),
            out("b@10/20", "1", 12),
            out("a@10/20", "1", 10),
        ]
    );
    let store = driver.window_store::<String, weir_core::store::ValueAndTimestamp<i64>>("counts");
    assert!(
        store.is_ok(),
        "the window store is readable through the driver"
    );
}

#[test]
fn hopping_windows_each_take_the_record() {
    let (_driver, mut input, output) = drive(no_cache(), |g| {
        g.windowed_by(TimeWindows::of_size_and_grace(ms(10), ms(100)).advance_by(ms(5)))
            .reduce(concat(), strings("hops"))
    });
    pipe(&mut input, &[("a", "1", 0), ("a", "2", 7), ("a", "3", 12)]);
    assert_eq!(
        read(&output),
        vec![
            out("a@0/10", "1", 0),
            out("a@0/10", "1+2", 7),
            out("a@5/15", "2", 7),
            out("a@5/15", "2+3", 12),
            out("a@10/20", "3", 12),
        ]
    );
}

#[test]
fn emit_on_window_close_forwards_each_final_result_once() {
    let (_driver, mut input, output) = drive(no_cache(), |g| {
        g.windowed_by(TimeWindows::of_size_and_grace(ms(10), ms(5)))
            .emit_strategy(EmitStrategy::on_window_close())
            .count(counts("final"))
    });
    pipe(
        &mut input,
        &[("a", "x", 1), ("a", "x", 2), ("b", "x", 3), ("a", "x", 14)],
    );
    assert_eq!(read(&output), vec![]);
    // Stream time 16 closes [0, 10) (10 + grace 5 <= 16).
    pipe(&mut input, &[("b", "x", 16)]);
    assert_eq!(
        read(&output),
        vec![out("a@0/10", "2", 2), out("b@0/10", "1", 3)]
    );
    // Late for [0, 10): dropped, nothing emitted again.
    pipe(&mut input, &[("a", "x", 5), ("a", "x", 25)]);
    assert_eq!(
        read(&output),
        vec![out("a@10/20", "1", 14), out("b@10/20", "1", 16)]
    );
}

#[test]
fn a_retention_shorter_than_size_plus_grace_is_refused_at_build() {
    let builder = StreamsBuilder::new();
    builder
        .stream("input", Consumed::with(Serdes::string(), Serdes::string()))
        .group_by_key()
        .windowed_by(TimeWindows::of_size_and_grace(ms(10), ms(5)))
        .count(counts("short").with_retention(ms(12)));
    let err = builder.build().unwrap_err().to_string();
    assert!(err.contains("retention") && err.contains("short"), "{err}");
    let builder = StreamsBuilder::new();
    builder
        .stream("input", Consumed::with(Serdes::string(), Serdes::string()))
        .group_by_key()
        .windowed_by(TimeWindows::of_size_with_no_grace(ms(10)).advance_by(ms(11)))
        .count(counts("bad-advance"));
    let err = builder.build().unwrap_err().to_string();
    assert!(err.contains("advance"), "{err}");
}

#[test]
fn stream_time_survives_a_restart_so_a_closed_window_stays_closed() {
    let dir = tempfile::tempdir().unwrap();
    let config = no_cache().with_state_dir(dir.path());
    let (driver, mut input, output) = drive(config, |g| {
        g.windowed_by(TimeWindows::of_size_with_no_grace(ms(10)))
            .count(counts("restarted"))
    });
    pipe(&mut input, &[("a", "x", 1), ("a", "x", 20)]);
    assert_eq!(
        read(&output),
        vec![out("a@0/10", "1", 1), out("a@20/30", "1", 20)]
    );
    driver.restart().unwrap();
    // Kafka Streams forgets its stream time on restart and would reopen
    // [0, 10) here; Weir recovers it from the store.
    pipe(&mut input, &[("a", "x", 5), ("a", "x", 21)]);
    assert_eq!(read(&output), vec![out("a@20/30", "2", 21)]);
}

#[test]
fn a_cached_window_aggregation_forwards_each_window_once_per_commit() {
    let config = DriverConfig::new().with_cache_max_bytes(1 << 20);
    let (_driver, mut input, output) = drive(config, |g| {
        g.windowed_by(TimeWindows::of_size_with_no_grace(ms(10)))
            .count(counts("cached"))
    });
    // One pipe call, one commit: each window's updates are folded, and
    // the forward carries the newest timestamp in the window.
    input
        .pipe_records(
            [("a", 1), ("a", 2), ("b", 3), ("a", 12)]
                .map(|(k, ts)| (0, Record::new(k.to_string(), "x".to_string(), ts))),
        )
        .unwrap();
    assert_eq!(
        read(&output),
        vec![
            out("a@0/10", "2", 2),
            out("b@0/10", "1", 3),
            out("a@10/20", "1", 12),
        ]
    );
    pipe(&mut input, &[("a", "x", 13)]);
    assert_eq!(read(&output), vec![out("a@10/20", "2", 13)]);
}

#[test]
fn late_records_go_to_the_late_record_sink_with_why() {
    let builder = StreamsBuilder::new();
    builder
        .stream("input", Consumed::with(Serdes::string(), Serdes::string()))
        .group_by_key()
        .windowed_by(TimeWindows::of_size_and_grace(ms(10), ms(2)).advance_by(ms(5)))
        .late_records_to("late", Produced::with(Serdes::string(), Serdes::string()))
        .count(counts("with-late-sink"));
    let driver = TopologyTestDriver::new(builder.build().unwrap(), no_cache()).unwrap();
    let mut input = driver.create_input_topic("input", Serdes::string(), Serdes::string());
    let late = driver.create_output_topic("late", Serdes::string(), Serdes::string());
    // Stream time 30, close time 28: a record at 17 is in [10, 20) and
    // [15, 25), both closed; one at 19 too; one at 24 is late for
    // [15, 25) but lands in [20, 30): aggregated, so not sent.
    pipe(
        &mut input,
        &[
            ("a", "x", 1),
            ("a", "x", 30),
            ("a", "late", 17),
            ("b", "partly", 24),
        ],
    );
    let records = late.read_records_to_list().unwrap();
    assert_eq!(records.len(), 1, "{records:?}");
    let record = &records[0];
    assert_eq!(
        (
            record.key.as_deref(),
            record.value.as_deref(),
            record.timestamp
        ),
        (Some("a"), Some("late"), 17)
    );
    let header = |name: &str| {
        let value = record.headers.last_header(name).flatten().unwrap();
        String::from_utf8(value.to_vec()).unwrap()
    };
    use weir_core::dsl::{
        LATE_CLOSE_TIME, LATE_GRACE_MS, LATE_STREAM_TIME, LATE_WINDOW_END, LATE_WINDOW_START,
    };
    assert_eq!(header(LATE_WINDOW_START), "15");
    assert_eq!(header(LATE_WINDOW_END), "25");
    assert_eq!(header(LATE_STREAM_TIME), "30");
    assert_eq!(header(LATE_CLOSE_TIME), "28");
    assert_eq!(header(LATE_GRACE_MS), "2");
    // The aggregation itself is unchanged by the sink.
    let counts = driver
        .window_store::<String, weir_core::store::ValueAndTimestamp<i64>>("with-late-sink")
        .unwrap();
    assert_eq!(counts.fetch(&"a".to_string(), 10).unwrap(), None);
    assert_eq!(
        counts.fetch(&"b".to_string(), 20).unwrap().map(|v| v.value),
        Some(1)
    );
}

#[test]
fn idle_close_emits_windows_on_an_idle_input_by_the_wall_clock() {
    let (driver, mut input, output) = drive(no_cache().with_wall_clock_time_ms(0), |g| {
        g.windowed_by(TimeWindows::of_size_with_no_grace(ms(10)))
            .emit_strategy(EmitStrategy::on_window_close())
            .close_when_idle(ms(100))
            .count(counts("idle"))
    });
    pipe(&mut input, &[("a", "x", 1), ("a", "x", 5)]);
    // Kafka Streams would wait for a record past 10 forever.
    driver.advance_wall_clock_time(ms(50)).unwrap();
    assert_eq!(read(&output), vec![]);
    driver.advance_wall_clock_time(ms(60)).unwrap();
    assert_eq!(read(&output), vec![out("a@0/10", "2", 5)]);
    // Stream time moved on with the wall clock: [0, 10) stays closed.
    pipe(&mut input, &[("a", "x", 8), ("a", "x", 300)]);
    driver.advance_wall_clock_time(ms(50)).unwrap();
    assert_eq!(read(&output), vec![]);
    driver.advance_wall_clock_time(ms(50)).unwrap();
    assert_eq!(read(&output), vec![out("a@300/310", "1", 300)]);
}

#[test]
fn late_records_and_null_keys_count_as_dropped_records() {
    let (driver, mut input, _output) = drive(no_cache(), |g| {
        g.windowed_by(TimeWindows::of_size_with_no_grace(ms(10)))
            .count(counts("dropped"))
    });
    pipe(&mut input, &[("a", "x", 1), ("a", "x", 20), ("a", "x", 5)]);
    input
        .pipe_record(Record::from_parts(
            None,
            Some("x".to_string()),
            21,
            Default::default(),
        ))
        .unwrap();
    assert_eq!(driver.dropped_records(), 2);
}

#[test]
fn suppress_takes_a_windowed_tables_own_serdes() {
    use weir_core::dsl::{BufferConfig, Suppressed};
    let (_driver, mut input, output) = drive(no_cache(), |g| {
        g.windowed_by(TimeWindows::of_size_and_grace(ms(10), ms(2)))
            .count(counts("suppressed-counts"))
            // No with_serdes: the table knows its windowed key serde.
            .suppress(Suppressed::until_window_closes(BufferConfig::unbounded()))
    });
    pipe(&mut input, &[("a", "x", 1), ("a", "x", 4), ("a", "x", 11)]);
    assert_eq!(read(&output), vec![]);
    pipe(&mut input, &[("b", "x", 12)]);
    assert_eq!(read(&output), vec![out("a@0/10", "2", 4)]);
}

#[test]
fn stream_time_is_recovered_from_a_store_restored_from_its_changelog() {
    // In memory: the restart restores the store from its changelog first.
    let (driver, mut input, output) = drive(no_cache().with_exactly_once(true), |g| {
        g.windowed_by(TimeWindows::of_size_with_no_grace(ms(10)))
            .emit_strategy(EmitStrategy::on_window_close())
            .count(counts("restored").in_memory())
    });
    pipe(&mut input, &[("a", "x", 1), ("a", "x", 2), ("b", "x", 20)]);
    assert_eq!(read(&output), vec![out("a@0/10", "2", 2)]);
    driver.restart().unwrap();
    // Neither a late record nor the next record re-opens or re-emits [0, 10).
    pipe(&mut input, &[("a", "x", 3), ("b", "x", 31)]);
    assert_eq!(read(&output), vec![out("b@20/30", "1", 20)]);
}

/// Pipes one record, whose commit crashes (the driver's simulated kill).
fn pipe_into_crash(driver: &TopologyTestDriver, input: &mut Input, record: (&str, i64)) {
    let (key, ts) = record;
    let piped = input.pipe_record(Record::new(key.to_string(), "x".to_string(), ts));
    assert!(piped.is_err(), "the commit was to crash");
    driver.restart().unwrap();
}

#[test]
fn at_least_once_a_final_result_lost_in_a_crash_is_emitted_again() {
    for state_dir in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let mut config = no_cache();
        if state_dir {
            config = config.with_state_dir(dir.path());
        }
        let (driver, mut input, output) = drive(config, |g| {
            g.windowed_by(TimeWindows::of_size_with_no_grace(ms(10)))
                .emit_strategy(EmitStrategy::on_window_close())
                .count(counts("crash-final"))
        });
        pipe(&mut input, &[("a", "x", 1), ("a", "x", 2)]);
        // b@10 closes [0, 10): its final result is sent, and lost with the
        // kill; the changelog of b's window [10, 20) is written, so the
        // restored store's newest timestamp (10) says [0, 10) closed.
        driver.crash_at_next_commit(CrashPoint::OutputLost);
        pipe_into_crash(&driver, &mut input, ("b", 10));
        // The restart processes b@10 again (its offset was not committed),
        // and [0, 10) is emitted: which windows were emitted is committed
        // with the offsets, not read from the store.
        assert_eq!(
            read(&output),
            vec![out("a@0/10", "2", 2)],
            "state_dir {state_dir}"
        );
        // At least once, b@10 counts twice in the restored store.
        pipe(&mut input, &[("c", "x", 25)]);
        assert_eq!(
            read(&output),
            vec![out("b@10/20", "2", 10)],
            "state_dir {state_dir}"
        );
    }
}

#[test]
fn at_least_once_a_restart_after_a_clean_commit_emits_nothing_twice() {
    let (driver, mut input, output) = drive(no_cache(), |g| {
        g.windowed_by(TimeWindows::of_size_with_no_grace(ms(10)))
            .emit_strategy(EmitStrategy::on_window_close())
            .count(counts("clean-final").in_memory())
    });
    pipe(&mut input, &[("a", "x", 1), ("b", "x", 10)]);
    assert_eq!(read(&output), vec![out("a@0/10", "1", 1)]);
    driver.restart().unwrap();
    pipe(&mut input, &[("c", "x", 20)]);
    assert_eq!(read(&output), vec![out("b@10/20", "1", 10)]);
}
