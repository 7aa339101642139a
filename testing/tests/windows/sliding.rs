//! Sliding windows.

use super::*;

#[test]
fn sliding_windows_hold_every_distinct_set_of_records_within_the_difference() {
    let (_driver, mut input, output) = drive(no_cache(), |g| {
        g.windowed_by(SlidingWindows::of_time_difference_with_no_grace(ms(10)))
            .count(counts("sliding"))
    });
    pipe(
        &mut input,
        &[("a", "x", 15), ("a", "x", 20), ("a", "x", 18)],
    );
    assert_eq!(
        read(&output),
        vec![
            out("a@5/15", "1", 15),
            // 20: the right window of 15, then its own left window.
            out("a@16/26", "1", 20),
            out("a@10/20", "2", 20),
            // 18, out of order: the windows holding it and its right window
            // holding 20; its own left window [8, 18] ended before the
            // close time 20 (no grace), so that one is dropped as late.
            out("a@16/26", "2", 20),
            out("a@10/20", "3", 20),
            out("a@19/29", "1", 20),
        ]
    );
}

#[test]
fn records_before_the_difference_share_the_first_window() {
    let (_driver, mut input, output) = drive(no_cache(), |g| {
        g.windowed_by(SlidingWindows::of_time_difference_with_no_grace(ms(10)))
            .count(counts("early"))
    });
    pipe(&mut input, &[("a", "x", 3), ("a", "x", 5)]);
    assert_eq!(
        read(&output),
        vec![
            out("a@0/10", "1", 3),
            out("a@4/14", "1", 5),
            out("a@0/10", "2", 5),
        ]
    );
}

#[test]
fn a_record_past_the_grace_is_dropped() {
    let (_driver, mut input, output) = drive(no_cache(), |g| {
        g.windowed_by(SlidingWindows::of_time_difference_and_grace(ms(10), ms(5)))
            .count(counts("late"))
    });
    // Stream time 40, close time 35: a record at 20 ends its window at 30.
    pipe(&mut input, &[("a", "x", 40), ("b", "x", 20)]);
    assert_eq!(read(&output), vec![out("a@30/40", "1", 40)]);
}
