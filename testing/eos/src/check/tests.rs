//! The checker's own tests: synthetic runs with known faults.
use super::*;
use crate::format::key_name;

const P: i32 = 3;

/// Input: `per_key` records for each of `keys` keys, interleaved.
fn input(keys: u32, per_key: i64) -> Vec<DumpRecord> {
    let mut offsets = [0i64; P as usize];
    let mut out = Vec::new();
    for seq in 0..per_key {
        for k in 0..keys {
            let key = key_name(k);
            let p = partition_of(&key, P).unwrap();
            let o = &mut offsets[usize::try_from(p).unwrap()];
            out.push(DumpRecord {
                partition: p,
                offset: *o,
                timestamp: 0,
                key: Some(key),
                value: Some(
                    InputValue {
                        seq,
                        amount: 10 + (seq * 7 + i64::from(k) * 3) % 50,
                    }
                    .to_string(),
                ),
            });
            *o += 1;
        }
    }
    out.sort_by_key(|r| (r.partition, r.offset));
    out
}

/// What a correct application writes: the echo, and every running aggregate.
fn outputs(input: &[DumpRecord]) -> (Vec<DumpRecord>, Vec<DumpRecord>) {
    let echo = input.to_vec();
    let mut aggs = Vec::new();
    let mut state: HashMap<String, Aggregate> = HashMap::new();
    let mut offsets = [0i64; P as usize];
    for r in input {
        let key = r.key.clone().unwrap();
        let v = InputValue::parse(r.value.as_deref().unwrap()).unwrap();
        let a = state.entry(key.clone()).or_default();
        *a = a.fold(v);
        // Aggregates land in some other partition, consistently per key.
        let p = (partition_of(&key, P).unwrap() + 1) % P;
        let o = &mut offsets[usize::try_from(p).unwrap()];
        aggs.push(DumpRecord {
            partition: p,
            offset: *o,
            timestamp: 0,
            key: Some(key),
            value: Some(a.to_string()),
        });
        *o += 1;
    }
    (echo, aggs)
}

fn run(
    input: &[DumpRecord],
    echo: &[DumpRecord],
    aggs: &[DumpRecord],
    guarantee: Guarantee,
) -> Report {
    check(CheckInput {
        input,
        echo,
        aggs,
        ends: &[],
        partitions: P,
        guarantee,
    })
}

/// Renumbers the offsets of `records` so each partition is dense again.
fn renumber(records: &mut [DumpRecord]) {
    let mut offsets = [0i64; P as usize];
    records.sort_by_key(|r| r.partition);
    for r in records {
        let o = &mut offsets[usize::try_from(r.partition).unwrap()];
        r.offset = *o;
        *o += 1;
    }
}

#[test]
fn a_correct_run_passes_both_guarantees() {
    let input = input(20, 10);
    let (echo, aggs) = outputs(&input);
    for g in [Guarantee::ExactlyOnceV2, Guarantee::AtLeastOnce] {
        let r = run(&input, &echo, &aggs, g);
        assert!(r.passed(), "{} {:?}", r.detail_line(), r.samples);
        assert_eq!((r.lost(), r.duplicated(), r.wrong()), (0, 0, 0));
        assert_eq!(r.records, 200);
        assert_eq!(r.keys, 20);
        assert_eq!(r.echo_exact_partitions, 3);
    }
    let line = run(&input, &echo, &aggs, Guarantee::ExactlyOnceV2).result_line(11, 1);
    assert!(
        line.starts_with(
            "RESULT eos records=200 kills=11 broker_restarts=1 lost=0 duplicated=0 wrong=0"
        ),
        "{line}"
    );
}

#[test]
fn counts_a_lost_a_duplicated_and_a_wrong_echo_record() {
    let input = input(20, 10);
    let (mut echo, aggs) = outputs(&input);
    let lost = echo.remove(17);
    assert_ne!(lost, echo[17]);
    let dup = echo[40].clone();
    echo.insert(41, dup);
    echo[60].value = Some("999,1".to_string()); // matches no input record
    renumber(&mut echo);
    let r = run(&input, &echo, &aggs, Guarantee::ExactlyOnceV2);
    assert_eq!(
        r.echo,
        Counts {
            // The overwritten record is wrong and its input record lost.
            lost: 2,
            duplicated: 1,
            wrong: 1
        },
        "{:?}",
        r.samples
    );
    assert_eq!(r.aggs, Counts::default());
    assert!(!r.passed());
    assert!(r.echo_exact_partitions < 3);
    // At-least-once forgives the duplicate, not the loss.
    assert!(!run(&input, &echo, &aggs, Guarantee::AtLeastOnce).passed());
}

#[test]
fn counts_a_lost_a_duplicated_and_a_wrong_aggregate() {
    let input = input(20, 10);
    let (echo, mut aggs) = outputs(&input);
    aggs.sort_by_key(|r| (r.partition, r.offset));
    // Lose one update in the middle of a key's run.
    let lost = aggs.remove(30);
    // Duplicate another (exactly the same update, right after it).
    let dup = aggs[50].clone();
    aggs.insert(51, dup);
    // Corrupt a third: a sum one too high with the right count.
    let mut a = Aggregate::parse(aggs[70].value.as_deref().unwrap()).unwrap();
    a.sum += 1;
    aggs[70].value = Some(a.to_string());
    renumber(&mut aggs);
    let r = run(&input, &echo, &aggs, Guarantee::ExactlyOnceV2);
    assert_eq!(
        r.aggs,
        Counts {
            // The corrupted update no longer covers its seq: lost too.
            lost: 2,
            duplicated: 1,
            wrong: 1
        },
        "lost {lost:?}: {:?}",
        r.samples
    );
    assert_eq!(r.final_wrong, 0);
    assert_eq!(r.echo, Counts::default());
    assert!(!r.passed());
}

#[test]
fn at_least_once_replays_count_as_duplicates_not_errors() {
    let input = input(6, 8);
    let (mut echo, _) = outputs(&input);
    // A crash after seq 5 of key 0 committed only up to seq 2: the task
    // replays 3..=5 of key 0's partition, echoing and folding them again.
    let k0 = key_name(0);
    let p0 = partition_of(&k0, P).unwrap();
    let part: Vec<DumpRecord> = input
        .iter()
        .filter(|r| r.partition == p0)
        .cloned()
        .collect();
    let at = |seq: i64| {
        part.iter()
            .position(|r| {
                r.key.as_deref() == Some(k0.as_str())
                    && InputValue::parse(r.value.as_deref().unwrap()).unwrap().seq == seq
            })
            .unwrap()
    };
    let (replay_from, crash_after) = (at(3), at(5));
    let mut replayed = part[..=crash_after].to_vec();
    replayed.extend_from_slice(&part[replay_from..]);
    echo.retain(|r| r.partition != p0);
    echo.extend(replayed.iter().cloned());
    renumber(&mut echo);
    // The aggregates fold the replayed records in again.
    let mut aggs = Vec::new();
    let mut state: HashMap<String, Aggregate> = HashMap::new();
    let others = input.iter().filter(|r| r.partition != p0);
    for (o, r) in replayed.iter().chain(others).enumerate() {
        let key = r.key.clone().unwrap();
        let a = state.entry(key.clone()).or_default();
        *a = a.fold(InputValue::parse(r.value.as_deref().unwrap()).unwrap());
        aggs.push(DumpRecord {
            partition: 0,
            offset: i64::try_from(o).unwrap(),
            timestamp: 0,
            key: Some(key),
            value: Some(a.to_string()),
        });
    }
    let replays = (crash_after - replay_from + 1) as u64;
    let alos = run(&input, &echo, &aggs, Guarantee::AtLeastOnce);
    assert!(alos.passed(), "{} {:?}", alos.detail_line(), alos.samples);
    assert_eq!(alos.lost(), 0);
    assert_eq!(alos.echo.duplicated, replays);
    assert!(alos.aggs.duplicated >= replays);
    let eos = run(&input, &echo, &aggs, Guarantee::ExactlyOnceV2);
    assert!(!eos.passed());
    assert_eq!(eos.lost(), 0);
    assert_eq!(eos.echo.wrong + eos.aggs.wrong, 0, "{:?}", eos.samples);
    // Exactly-once wants the exact final aggregates: the double-folded keys' are wrong.
    assert!(eos.final_wrong > 0);
}

#[test]
fn an_at_least_once_replay_on_state_ahead_of_the_output_loses_nothing() {
    // One key. The application folded records 0..=19 into its state (and
    // changelog), but the updates for 18 and 19 never reached the output
    // before it was killed; its offsets were committed up to 17, so it
    // replays 17..=19 on restored state that already holds them.
    let input = input(1, 30);
    let (echo, _) = outputs(&input);
    let values: Vec<InputValue> = input
        .iter()
        .map(|r| InputValue::parse(r.value.as_deref().unwrap()).unwrap())
        .collect();
    let mut state = Aggregate::default();
    let mut emitted = Vec::new();
    for v in &values[..=19] {
        state = state.fold(*v);
        if v.seq < 18 {
            emitted.push(state);
        }
    }
    for v in &values[17..] {
        state = state.fold(*v);
        emitted.push(state);
    }
    let aggs: Vec<DumpRecord> = emitted
        .iter()
        .enumerate()
        .map(|(o, a)| DumpRecord {
            partition: 0,
            offset: i64::try_from(o).unwrap(),
            timestamp: 0,
            key: Some(key_name(0)),
            value: Some(a.to_string()),
        })
        .collect();
    let alos = run(&input, &echo, &aggs, Guarantee::AtLeastOnce);
    assert!(alos.passed(), "{} {:?}", alos.detail_line(), alos.samples);
    assert_eq!(alos.aggs.lost, 0);
    assert_eq!(alos.aggs.duplicated, 13, "every update from the replay on");
    let eos = run(&input, &echo, &aggs, Guarantee::ExactlyOnceV2);
    assert!(!eos.passed());
    assert_eq!(eos.aggs.duplicated, 13);
}

#[test]
fn reordered_and_misrouted_records_are_wrong() {
    let input = input(20, 10);
    let (mut echo, aggs) = outputs(&input);
    echo.swap(3, 4);
    renumber(&mut echo);
    let r = run(&input, &echo, &aggs, Guarantee::AtLeastOnce);
    assert_eq!(r.echo.wrong, 1);
    assert_eq!(r.reordered, 1);
    assert_eq!(r.echo.lost, 0);

    let (mut echo, aggs) = outputs(&input);
    echo[5].partition = (echo[5].partition + 1) % P;
    let r = run(&input, &echo, &aggs, Guarantee::AtLeastOnce);
    assert_eq!(r.echo.wrong, 1);
    assert_eq!(r.echo.lost, 1);
}

#[test]
fn a_wrong_final_aggregate_and_a_dangling_transaction_fail() {
    let input = input(5, 4);
    let (echo, mut aggs) = outputs(&input);
    // An extra update after the complete one, with the right last_seq but
    // folding the last record twice: under exactly-once a duplicate and a
    // wrong final aggregate.
    let k = key_name(2);
    let last = aggs
        .iter()
        .rposition(|r| r.key.as_deref() == Some(k.as_str()))
        .unwrap();
    let mut a = Aggregate::parse(aggs[last].value.as_deref().unwrap()).unwrap();
    a.count += 1;
    a.sum += 1;
    let mut extra = aggs[last].clone();
    extra.offset = i64::MAX;
    extra.value = Some(a.to_string());
    aggs.push(extra);
    let r = run(&input, &echo, &aggs, Guarantee::ExactlyOnceV2);
    assert_eq!(r.final_wrong, 1, "{:?}", r.samples);
    assert_eq!(r.aggs.duplicated, 1);
    assert!(!r.passed());
    // At-least-once accepts an over-counted final aggregate.
    let r = run(&input, &echo, &aggs, Guarantee::AtLeastOnce);
    assert_eq!(r.final_wrong, 0);
    assert!(r.passed(), "{:?}", r.samples);

    let (echo, aggs) = outputs(&input);
    let ends = [EndOffsets {
        topic: "echo".into(),
        partition: 1,
        committed: 10,
        uncommitted: 12,
    }];
    let r = check(CheckInput {
        input: &input,
        echo: &echo,
        aggs: &aggs,
        ends: &ends,
        partitions: P,
        guarantee: Guarantee::AtLeastOnce,
    });
    assert_eq!(r.dangling.len(), 1);
    assert!(!r.passed());
}

#[test]
fn a_broken_input_fails_the_run() {
    let mut input = input(4, 3);
    input.remove(2);
    let (echo, aggs) = outputs(&input);
    let r = run(&input, &echo, &aggs, Guarantee::AtLeastOnce);
    assert!(r.input_problems > 0);
    assert!(!r.passed());
    let r = run(&[], &[], &[], Guarantee::AtLeastOnce);
    assert!(!r.passed(), "an empty run proves nothing");
}
