//! The windowed check's own tests: synthetic runs with known faults.
use super::*;
use crate::format::{key_name, partition_of};

const P: i32 = 2;
const SPEC: WindowSpec = WindowSpec {
    size_ms: 1000,
    close_grace_ms: 300,
};

fn record(partition: i32, offset: usize, timestamp: i64, key: String, value: String) -> DumpRecord {
    DumpRecord {
        partition,
        offset: i64::try_from(offset).unwrap(),
        timestamp,
        key: Some(key),
        value: Some(value),
    }
}

/// Input: 4 keys, a record every 50 ms for 10 s (keys round robin),
/// timestamps set back by up to 200 ms (out of order, never late).
fn input() -> Vec<DumpRecord> {
    let mut offsets = [0usize; P as usize];
    let mut out = Vec::new();
    for i in 0..200i64 {
        let k = u32::try_from(i % 4).unwrap();
        let key = key_name(k);
        let p = partition_of(&key, P).unwrap();
        let o = &mut offsets[usize::try_from(p).unwrap()];
        let ts = 10_000 + i * 50 - (i * 37) % 200;
        out.push(record(p, *o, ts, key, format!("{i},1")));
        *o += 1;
    }
    out
}

/// What a correct application writes: every update, and each closed
/// window's count once (all on partition 0 for simplicity).
fn outputs(input: &[DumpRecord]) -> (Vec<DumpRecord>, Vec<DumpRecord>) {
    let mut state: BTreeMap<(String, i64), (i64, i64)> = BTreeMap::new();
    let mut wcount = Vec::new();
    let mut stream_time: HashMap<i32, i64> = HashMap::new();
    for r in input {
        let start = r.timestamp - r.timestamp.rem_euclid(SPEC.size_ms);
        let key = r.key.clone().unwrap();
        let s = state.entry((key.clone(), start)).or_insert((0, i64::MIN));
        *s = (s.0 + 1, s.1.max(r.timestamp));
        let st = stream_time.entry(r.partition).or_insert(i64::MIN);
        *st = (*st).max(r.timestamp);
        wcount.push(record(
            0,
            wcount.len(),
            s.1,
            format!("{key}@{start}"),
            s.0.to_string(),
        ));
    }
    let mut wfinal = Vec::new();
    for ((key, start), (count, ts)) in &state {
        let p = partition_of(key, P).unwrap();
        if start + SPEC.size_ms <= stream_time[&p] - SPEC.close_grace_ms {
            wfinal.push(record(
                0,
                wfinal.len(),
                *ts,
                format!("{key}@{start}"),
                count.to_string(),
            ));
        }
    }
    (wcount, wfinal)
}

fn renumber(records: &mut [DumpRecord]) {
    for (o, r) in records.iter_mut().enumerate() {
        r.offset = i64::try_from(o).unwrap();
    }
}

#[test]
fn a_correct_run_passes_both_guarantees() {
    let input = input();
    let (wcount, wfinal) = outputs(&input);
    for g in [Guarantee::ExactlyOnceV2, Guarantee::AtLeastOnce] {
        let r = check_windowed(&input, &wcount, &wfinal, SPEC, g);
        assert!(r.passed(), "{} {:?}", r.result_line(), r.samples);
        assert_eq!(r.windows, 4 * 10);
        assert!(r.closed > 30 && r.closed < r.windows, "{}", r.closed);
        assert_eq!(r.unemitted, 0);
    }
    let r = check_windowed(&input, &wcount, &wfinal, SPEC, Guarantee::ExactlyOnceV2);
    assert!(r.result_line().starts_with("RESULT windowed windows=40 "));
    assert!(r.result_line().ends_with("passed=true"));
}

#[test]
fn counts_a_lost_a_duplicated_and_a_wrong_update() {
    let input = input();
    let (mut wcount, wfinal) = outputs(&input);
    wcount.remove(10); // a count of some window lost
    let dup = wcount[20].clone();
    wcount.insert(21, dup); // the same count twice
    wcount[30].timestamp -= 1; // stamped wrongly
    renumber(&mut wcount);
    let r = check_windowed(&input, &wcount, &wfinal, SPEC, Guarantee::ExactlyOnceV2);
    assert_eq!(
        (r.count.lost, r.count.duplicated, r.count.wrong),
        (1, 1, 1),
        "{:?}",
        r.samples
    );
    assert!(!r.passed());
    // At-least-once: a duplicate is fine, but the window whose last count
    // is short fails... (the lost one was not its window's last: passes).
    let r = check_windowed(&input, &wcount, &wfinal, SPEC, Guarantee::AtLeastOnce);
    assert_eq!(r.count.lost, 0, "{:?}", r.samples);
    assert_eq!(r.count.duplicated, 1);
}

#[test]
fn a_count_above_the_input_or_out_of_order_fails_exactly_once() {
    let input = input();
    let (mut wcount, wfinal) = outputs(&input);
    // The last update of the first window counts one record twice.
    let first = wcount[0].key.clone();
    let last = wcount.iter().rposition(|r| r.key == first).unwrap();
    let mut twice = wcount[last].clone();
    let n: i64 = twice.value.as_deref().unwrap().parse().unwrap();
    twice.value = Some((n + 1).to_string());
    wcount.insert(last + 1, twice);
    renumber(&mut wcount);
    let r = check_windowed(&input, &wcount, &wfinal, SPEC, Guarantee::ExactlyOnceV2);
    assert_eq!(r.count.duplicated, 1, "{:?}", r.samples);
    assert_eq!(r.final_wrong, 1, "{:?}", r.samples);
    assert!(!r.passed());
    let r = check_windowed(&input, &wcount, &wfinal, SPEC, Guarantee::AtLeastOnce);
    assert!(r.passed(), "{} {:?}", r.result_line(), r.samples);

    // Two updates of one window swapped.
    let (mut wcount, _) = outputs(&input);
    let second = wcount.iter().skip(1).position(|r| r.key == first).unwrap() + 1;
    wcount.swap(0, second);
    renumber(&mut wcount);
    let r = check_windowed(&input, &wcount, &wfinal, SPEC, Guarantee::ExactlyOnceV2);
    assert!(r.count.wrong >= 1, "{:?}", r.samples);
    assert!(!r.passed());
}

#[test]
fn at_least_once_replays_pass_and_a_short_final_count_is_lost() {
    let input = input();
    let (mut wcount, wfinal) = outputs(&input);
    // A replay: updates 20..40 again, then counts continue from the replayed state.
    let again: Vec<DumpRecord> = wcount[20..40].to_vec();
    let mut bumped: Vec<DumpRecord> = again
        .iter()
        .map(|r| {
            let mut r = r.clone();
            let n: i64 = r.value.as_deref().unwrap().parse().unwrap();
            r.value = Some((n + 1).to_string());
            r
        })
        .collect();
    wcount.append(&mut bumped);
    renumber(&mut wcount);
    let r = check_windowed(&input, &wcount, &wfinal, SPEC, Guarantee::AtLeastOnce);
    assert!(r.passed(), "{} {:?}", r.result_line(), r.samples);
    assert!(r.count.duplicated > 0);
    assert!(!check_windowed(&input, &wcount, &wfinal, SPEC, Guarantee::ExactlyOnceV2).passed());

    // A window's last update short of its input: lost under both.
    let (mut wcount, _) = outputs(&input);
    let last = wcount.len() - 1;
    wcount.remove(last);
    let r = check_windowed(&input, &wcount, &wfinal, SPEC, Guarantee::AtLeastOnce);
    assert_eq!(r.count.lost, 1, "{:?}", r.samples);
    assert!(!r.passed());
}

#[test]
fn on_close_emissions_must_be_once_final_and_only_for_closed_windows() {
    let input = input();
    let (wcount, wfinal) = outputs(&input);
    // Emitted twice.
    let mut twice = wfinal.clone();
    twice.push(wfinal[3].clone());
    renumber(&mut twice);
    let r = check_windowed(&input, &wcount, &twice, SPEC, Guarantee::ExactlyOnceV2);
    assert_eq!(r.on_close.duplicated, 1, "{:?}", r.samples);
    assert!(!r.passed());
    assert!(check_windowed(&input, &wcount, &twice, SPEC, Guarantee::AtLeastOnce).passed());
    // Never emitted: fails both guarantees.
    let mut missing = wfinal.clone();
    missing.remove(5);
    renumber(&mut missing);
    let r = check_windowed(&input, &wcount, &missing, SPEC, Guarantee::ExactlyOnceV2);
    assert_eq!(r.unemitted, 1, "{:?}", r.samples);
    assert!(!r.passed());
    let r = check_windowed(&input, &wcount, &missing, SPEC, Guarantee::AtLeastOnce);
    assert_eq!(r.unemitted, 1);
    assert!(!r.passed());
    // A count short of the input: lost under both.
    let mut short = wfinal.clone();
    short[2].value = Some("0".to_string());
    let r = check_windowed(&input, &wcount, &short, SPEC, Guarantee::AtLeastOnce);
    assert_eq!(r.on_close.lost, 1, "{:?}", r.samples);
    assert!(!r.passed());
    // A window still open emitted (early): wrong.
    let (full, _) = outputs(&input);
    let mut early = wfinal.clone();
    let open = full.last().unwrap().clone();
    early.push(open);
    renumber(&mut early);
    let r = check_windowed(&input, &wcount, &early, SPEC, Guarantee::AtLeastOnce);
    assert_eq!(r.on_close.wrong, 1, "{:?}", r.samples);
    assert!(!r.passed());
}

#[test]
fn garbage_unknown_windows_and_late_input_fail() {
    let input = input();
    let (mut wcount, wfinal) = outputs(&input);
    wcount.push(record(0, 0, 5, "k00001@999000".into(), "1".into()));
    wcount.push(record(0, 0, 5, "!hex:00".into(), "1".into()));
    wcount.push(record(0, 0, 5, "k00001@10000".into(), "!hex:01".into()));
    renumber(&mut wcount);
    let r = check_windowed(&input, &wcount, &wfinal, SPEC, Guarantee::AtLeastOnce);
    assert_eq!(r.count.wrong, 3, "{:?}", r.samples);
    assert!(!r.passed());

    // An input record later than the grace allows makes the run prove nothing.
    let mut late = input.clone();
    let i = late.iter().rposition(|r| r.partition == 0).unwrap();
    late[i].timestamp = 0;
    let r = check_windowed(&late, &[], &[], SPEC, Guarantee::AtLeastOnce);
    assert_eq!(r.input_problems, 1);
    assert!(!r.passed());
    assert!(!check_windowed(&[], &[], &[], SPEC, Guarantee::AtLeastOnce).passed());
}
