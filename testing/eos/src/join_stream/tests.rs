//! The stream-stream join check's own tests: synthetic runs with known faults.
use super::*;
use crate::format::{join_text, key_name};

const P: i32 = 2;
const KEYS: u32 = 4;
const SPEC: StreamJoinSpec = StreamJoinSpec { window_ms: 100 };

fn record(partition: i32, offset: usize, timestamp: i64, key: String, value: String) -> DumpRecord {
    DumpRecord {
        partition,
        offset: i64::try_from(offset).unwrap(),
        timestamp,
        key: Some(key),
        value: Some(value),
    }
}

struct Run {
    left: Vec<DumpRecord>,
    right: Vec<DumpRecord>,
    join: Vec<DumpRecord>,
}

/// Side A: a record every 20 ms (keys round robin, timestamps set back by
/// up to 60 ms); side B: a record every 70 ms. The join output is what a
/// symmetric windowed join emits processing both sides in arrival order:
/// each new record joins the other side's records so far within the window.
fn run() -> Run {
    let mut offsets = HashMap::new();
    let mut next = |topic: &str, p: i32| {
        let o = offsets.entry((topic.to_string(), p)).or_insert(0usize);
        *o += 1;
        *o - 1
    };
    let mut seq = [0i64; KEYS as usize];
    let mut bseq = [0i64; KEYS as usize];
    let (mut left, mut right, mut join) = (Vec::new(), Vec::new(), Vec::new());
    // Per key: (value, ts) of both sides so far.
    let mut seen_a: Vec<Vec<(String, i64)>> = vec![Vec::new(); KEYS as usize];
    let mut seen_b: Vec<Vec<(i64, i64)>> = vec![Vec::new(); KEYS as usize];
    for t in 0..400i64 {
        let now = 10_000 + t * 10;
        if t % 2 == 0 {
            let k = u32::try_from((t / 2) % i64::from(KEYS)).unwrap();
            let key = key_name(k);
            let p = partition_of(&key, P).unwrap();
            let ts = now - (t * 37) % 60;
            let s = &mut seq[k as usize];
            let value = InputValue {
                seq: *s,
                amount: 5 + *s,
            }
            .to_string();
            *s += 1;
            for (b, bts) in &seen_b[k as usize] {
                if (ts - bts).abs() <= SPEC.window_ms {
                    let out = join_text(&value, &b.to_string());
                    join.push(record(0, next("join", 0), ts.max(*bts), key.clone(), out));
                }
            }
            seen_a[k as usize].push((value.clone(), ts));
            left.push(record(p, next("left", p), ts, key, value));
        }
        if t % 7 == 0 {
            let k = u32::try_from((t / 7) % i64::from(KEYS)).unwrap();
            let key = key_name(k);
            let p = partition_of(&key, P).unwrap();
            let ts = now - (t * 13) % 50;
            let b = &mut bseq[k as usize];
            for (a, ats) in &seen_a[k as usize] {
                if (ts - ats).abs() <= SPEC.window_ms {
                    let out = join_text(a, &b.to_string());
                    join.push(record(0, next("join", 0), ts.max(*ats), key.clone(), out));
                }
            }
            seen_b[k as usize].push((*b, ts));
            right.push(record(p, next("right", p), ts, key, b.to_string()));
            *b += 1;
        }
    }
    Run { left, right, join }
}

fn check(run: &Run, g: Guarantee) -> StreamJoinReport {
    check_stream_join(&run.left, &run.right, &run.join, P, SPEC, g)
}

fn renumber(records: &mut [DumpRecord]) {
    for (o, r) in records.iter_mut().enumerate() {
        r.offset = i64::try_from(o).unwrap();
    }
}

#[test]
fn a_correct_run_passes_both_guarantees() {
    let run = run();
    for g in [Guarantee::ExactlyOnceV2, Guarantee::AtLeastOnce] {
        let r = check(&run, g);
        assert!(r.passed(), "{} {:?}", r.result_line(), r.samples);
        assert_eq!((r.left, r.right), (200, 58));
        assert_eq!(r.pairs, run.join.len() as u64);
        assert!(r.pairs > 50, "{}", r.pairs);
    }
}

#[test]
fn counts_lost_duplicated_and_wrong_pairs() {
    let mut run = run();
    run.join.remove(3);
    let dup = run.join[10].clone();
    run.join.insert(11, dup);
    // A pair outside the window: side A record 0 of key 0 with its last B record.
    let last_b = run
        .right
        .iter()
        .filter(|r| r.key.as_deref() == Some("k00000"))
        .count()
        - 1;
    run.join[20].key = Some(key_name(0));
    run.join[20].value = Some(join_text("0,5", &last_b.to_string()));
    // The wrong timestamp.
    run.join[30].timestamp -= 1;
    renumber(&mut run.join);
    let r = check(&run, Guarantee::ExactlyOnceV2);
    assert_eq!(
        r.counts,
        Counts {
            // The two wrong outputs leave their pairs lost too.
            lost: 3,
            duplicated: 1,
            wrong: 2
        },
        "{:?}",
        r.samples
    );
    assert!(!r.passed());
    assert!(!check(&run, Guarantee::AtLeastOnce).passed());
    // At-least-once forgives a duplicate alone.
    let mut run = self::run();
    let dup = run.join[7].clone();
    run.join.push(dup);
    renumber(&mut run.join);
    let r = check(&run, Guarantee::AtLeastOnce);
    assert!(r.passed(), "{}", r.result_line());
    assert_eq!(r.counts.duplicated, 1);
    assert!(!check(&run, Guarantee::ExactlyOnceV2).passed());
}

#[test]
fn pairs_on_the_window_bounds_are_expected() {
    let key = key_name(1);
    let p = partition_of(&key, P).unwrap();
    let left = vec![
        record(p, 0, 1000, key.clone(), "0,1".into()),
        record(p, 1, 1000, key.clone(), "1,1".into()),
    ];
    let right = vec![
        record(p, 0, 900, key.clone(), "0".into()),
        record(p, 1, 1100, key.clone(), "1".into()),
        record(p, 2, 1101, key.clone(), "2".into()),
        record(p, 3, 899, key.clone(), "3".into()),
    ];
    let r = check_stream_join(&left, &right, &[], P, SPEC, Guarantee::ExactlyOnceV2);
    assert_eq!(r.pairs, 4);
    assert_eq!(r.counts.lost, 4);
}

#[test]
fn side_records_out_of_contract_are_input_problems() {
    let mut run = run();
    run.right[5].value = Some("77".into());
    let r = check(&run, Guarantee::ExactlyOnceV2);
    assert!(r.input_problems >= 1, "{}", r.result_line());
    assert!(!r.passed());
}
