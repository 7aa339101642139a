//! Session windows.

use super::*;

#[test]
fn sessions_merge_and_the_merged_away_ones_are_deleted() {
    let (_driver, mut input, output) = drive(no_cache(), |g| {
        g.windowed_by(SessionWindows::of_inactivity_gap_with_no_grace(ms(5)))
            .count(counts("sessions"))
    });
    pipe(
        &mut input,
        &[
            ("a", "x", 0),
            ("a", "x", 3),
            ("a", "x", 20),
            ("a", "x", 10),
            ("b", "x", 17),
            ("a", "x", 16),
        ],
    );
    assert_eq!(
        read(&output),
        vec![
            out("a@0/0", "1", 0),
            tombstone("a@0/0", 0),
            out("a@0/3", "2", 3),
            out("a@20/20", "1", 20),
            // a@10 would end its session at 10 < close time 15: dropped.
            out("b@17/17", "1", 17),
            tombstone("a@20/20", 20),
            out("a@16/20", "2", 20),
        ]
    );
}

#[test]
fn a_record_bridging_two_sessions_merges_their_aggregates() {
    let (_driver, mut input, output) = drive(no_cache(), |g| {
        g.windowed_by(SessionWindows::of_inactivity_gap_and_grace(ms(5), ms(100)))
            .reduce(concat(), strings("bridged"))
    });
    pipe(&mut input, &[("a", "x", 0), ("a", "y", 10), ("a", "z", 5)]);
    assert_eq!(
        read(&output),
        vec![
            out("a@0/0", "x", 0),
            out("a@10/10", "y", 10),
            tombstone("a@0/0", 0),
            tombstone("a@10/10", 10),
            out("a@0/10", "x+y+z", 10),
        ]
    );
}

#[test]
fn emit_on_window_close_forwards_each_session_once_it_closed() {
    let (_driver, mut input, output) = drive(no_cache(), |g| {
        g.windowed_by(SessionWindows::of_inactivity_gap_with_no_grace(ms(5)))
            .emit_strategy(EmitStrategy::on_window_close())
            .count(counts("closed-sessions"))
    });
    pipe(&mut input, &[("a", "x", 0), ("a", "x", 3), ("a", "x", 20)]);
    assert_eq!(read(&output), vec![out("a@0/3", "2", 3)]);
    pipe(&mut input, &[("b", "x", 30)]);
    assert_eq!(read(&output), vec![out("a@20/20", "1", 20)]);
}

#[test]
fn a_cached_session_aggregation_forwards_the_merged_session_once_per_commit() {
    let config = DriverConfig::new().with_cache_max_bytes(1 << 20);
    let (_driver, mut input, output) = drive(config, |g| {
        g.windowed_by(SessionWindows::of_inactivity_gap_with_no_grace(ms(5)))
            .count(counts("cached-sessions"))
    });
    input
        .pipe_records(
            [("a", 0), ("a", 3), ("a", 6)]
                .map(|(k, ts)| (0, Record::new(k.to_string(), "x".to_string(), ts))),
        )
        .unwrap();
    // The sessions merged away inside the commit never reached the store
    // below the cache: only the final session is forwarded.
    assert_eq!(read(&output), vec![out("a@0/6", "3", 6)]);
}

#[test]
fn a_late_session_record_goes_to_the_late_record_sink() {
    let builder = StreamsBuilder::new();
    builder
        .stream("input", Consumed::with(Serdes::string(), Serdes::string()))
        .group_by_key()
        .windowed_by(SessionWindows::of_inactivity_gap_with_no_grace(ms(5)))
        .late_records_to("late", Produced::with(Serdes::string(), Serdes::string()))
        .count(counts("sessions-with-late-sink"))
        .to_stream()
        .to(
            "output",
            Produced::with(Serdes::session_windowed(Serdes::string()), Serdes::i64()),
        );
    let driver = TopologyTestDriver::new(builder.build().unwrap(), no_cache()).unwrap();
    let mut input = driver.create_input_topic("input", Serdes::string(), Serdes::string());
    let late = driver.create_output_topic("late", Serdes::string(), Serdes::string());
    // Close time 20 - 5 = 15: a lone record at 8 ends its session at 8.
    pipe(
        &mut input,
        &[("a", "x", 20), ("a", "old", 8), ("a", "near", 16)],
    );
    let records: Vec<(Option<String>, i64)> = late
        .read_records_to_list()
        .unwrap()
        .into_iter()
        .map(|r| (r.value, r.timestamp))
        .collect();
    assert_eq!(records, vec![(Some("old".to_string()), 8)]);
}

#[test]
fn idle_close_closes_sessions_on_an_idle_input() {
    let (driver, mut input, output) = drive(no_cache().with_wall_clock_time_ms(0), |g| {
        g.windowed_by(SessionWindows::of_inactivity_gap_with_no_grace(ms(5)))
            .emit_strategy(EmitStrategy::on_window_close())
            .close_when_idle(ms(20))
            .count(counts("idle-sessions"))
    });
    pipe(&mut input, &[("a", "x", 0), ("a", "x", 3)]);
    driver.advance_wall_clock_time(ms(10)).unwrap();
    assert_eq!(read(&output), vec![]);
    driver.advance_wall_clock_time(ms(10)).unwrap();
    // Idle 20 ms: stream time 3 + 20, close time 23 - 5 = 18 > 3.
    assert_eq!(read(&output), vec![out("a@0/3", "2", 3)]);
}

#[test]
fn at_least_once_a_session_lost_in_a_crash_is_emitted_again() {
    let (driver, mut input, output) = drive(no_cache(), |g| {
        g.windowed_by(SessionWindows::of_inactivity_gap_with_no_grace(ms(5)))
            .emit_strategy(EmitStrategy::on_window_close())
            .count(counts("crash-sessions").in_memory())
    });
    pipe(&mut input, &[("a", "x", 0), ("a", "x", 3)]);
    // b@20 closes a's session [0, 3]; the result is lost with the kill,
    // b's session reaches the changelog.
    driver.crash_at_next_commit(CrashPoint::OutputLost);
    let piped = input.pipe_record(Record::new("b".to_string(), "x".to_string(), 20));
    assert!(piped.is_err(), "the commit was to crash");
    // The restart processes b@20 again, and emits a's session.
    driver.restart().unwrap();
    assert_eq!(read(&output), vec![out("a@0/3", "2", 3)]);
    // At least once, b@20 counts twice in the restored store.
    pipe(&mut input, &[("c", "x", 40)]);
    assert_eq!(read(&output), vec![out("b@20/20", "2", 20)]);
}
