use super::*;

fn raw(partition: i32, offset: i64, key: &str, value: &[u8]) -> RawDumpRecord {
    RawDumpRecord {
        partition,
        offset,
        timestamp: 1000 + offset,
        key: Some(key.as_bytes().to_vec()),
        value: Some(value.to_vec()),
        // The generator's id header (on pills; harmless on good records).
        headers: vec![(
            H_POISON_ID.to_string(),
            Some(format!("{key}:{offset}").into_bytes()),
        )],
    }
}

/// The dead-letter record the contract asks for, for `pill` failing with `message`.
fn dead_letter(at: i64, pill: &RawDumpRecord, message: &str) -> RawDumpRecord {
    let h = |n: &str, v: &str| (n.to_string(), Some(v.as_bytes().to_vec()));
    RawDumpRecord {
        partition: 0,
        offset: at,
        headers: pill
            .headers
            .iter()
            .cloned()
            .chain([
                h(H_EXCEPTION, "Processor"),
                h(H_MESSAGE, message),
                h(H_STACKTRACE, message),
                h(H_TOPIC, "in"),
                h(H_PARTITION, &pill.partition.to_string()),
                h(H_OFFSET, &pill.offset.to_string()),
            ])
            .collect(),
        ..pill.clone()
    }
}

fn deser_value() -> Vec<u8> {
    let mut v = DESER_PREFIX.to_vec();
    v.extend_from_slice(b"k00001:0");
    v
}

#[test]
fn classifies_pills_and_good_records() {
    assert_eq!(classify(Some(b"3,17")), Kind::Good);
    assert_eq!(
        classify(Some(&deser_value())),
        Kind::Pill(Stage::Deserialization)
    );
    assert_eq!(
        classify(Some(b"poison-fail:k1:4")),
        Kind::Pill(Stage::Processing)
    );
    assert_eq!(
        classify(Some(b"poison-panic:k1:5")),
        Kind::Pill(Stage::Processing)
    );
    let big = format!("3,{}", BIG_AMOUNT + 5);
    assert_eq!(
        classify(Some(big.as_bytes())),
        Kind::Pill(Stage::Production)
    );
    assert_eq!(classify(Some(b"junk")), Kind::Unknown);
    assert_eq!(classify(Some(b"\xff\x00")), Kind::Unknown);
    assert_eq!(classify(None), Kind::Unknown);
    assert!(std::str::from_utf8(&deser_value()).is_err());
}

#[test]
fn sizes_outputs_past_the_topic_limit_only_for_production_pills() {
    assert_eq!(sized_value("3,17"), "3,17|");
    let big = sized_value(&format!("3,{}", BIG_AMOUNT));
    assert_eq!(big.len(), BIG_OUTPUT_BYTES);
    assert!(big.len() > SIZED_MAX_MESSAGE_BYTES);
    assert!(big.starts_with(&format!("3,{}|x", BIG_AMOUNT)));
}

#[test]
fn splits_the_input() {
    let big = format!("1,{}", BIG_AMOUNT);
    let input = vec![
        raw(0, 0, "k00001", b"0,5"),
        raw(0, 1, "k00001", &deser_value()),
        raw(0, 2, "k00001", big.as_bytes()),
        raw(0, 3, "k00001", b"poison-fail:x"),
        raw(0, 4, "k00001", b"nonsense"),
    ];
    let split = split_input(&input);
    assert_eq!(split.good.len(), 2);
    assert_eq!(split.good[1].value.as_deref(), Some(big.as_str()));
    let stages: Vec<Stage> = split.pills.iter().map(|(s, _)| *s).collect();
    assert_eq!(
        stages,
        vec![Stage::Deserialization, Stage::Production, Stage::Processing]
    );
    assert_eq!(split.unknown, 1);
}

#[test]
fn finds_every_pill_once() {
    let a = raw(0, 1, "k00001", &deser_value());
    let b = raw(1, 7, "k00002", b"poison-panic:k00002:1");
    let pills = vec![(Stage::Deserialization, &a), (Stage::Processing, &b)];
    let dlq = vec![
        dead_letter(0, &a, "invalid UTF-8"),
        dead_letter(1, &b, "panic: poison pill"),
    ];
    for g in [Guarantee::AtLeastOnce, Guarantee::ExactlyOnceV2] {
        let r = check_dead_letters("in", &pills, &dlq, g);
        assert_eq!(r.injected, [1, 1, 0]);
        assert_eq!(r.dead_lettered, [1, 1, 0]);
        assert_eq!((r.duplicated, r.wrong), (0, 0), "{:?}", r.samples);
    }
}

#[test]
fn counts_duplicated_wrong_and_missing_dead_letters() {
    let a = raw(0, 1, "k00001", &deser_value());
    let b = raw(1, 7, "k00002", b"poison-fail:k00002:1");
    let c = raw(2, 9, "k00003", b"poison-fail:k00003:1");
    let d = raw(3, 4, "k00004", b"poison-fail:k00004:1");
    let pills = vec![
        (Stage::Deserialization, &a),
        (Stage::Processing, &b),
        (Stage::Processing, &c),
        (Stage::Processing, &d),
    ];
    // The source's id header changed on the way.
    let mut other_id = dead_letter(7, &d, "poison");
    other_id.headers[0].1 = Some(b"k00004:5".to_vec());
    let mut altered = dead_letter(3, &b, "poison");
    altered.value = Some(b"poison-fail:other".to_vec());
    let mut no_trace = dead_letter(4, &c, "poison");
    no_trace.headers.retain(|(n, _)| n != H_STACKTRACE);
    let mut not_a_pill = dead_letter(5, &a, "x");
    not_a_pill.headers.retain(|(n, _)| n != H_OFFSET);
    not_a_pill
        .headers
        .push((H_OFFSET.to_string(), Some(b"2".to_vec())));
    let mut silent = dead_letter(6, &c, "processor failed");
    silent.headers.retain(|(n, _)| n != H_STACKTRACE);
    silent
        .headers
        .push((H_STACKTRACE.to_string(), Some(b"processor failed".to_vec())));
    let dlq = vec![
        dead_letter(0, &a, "bad bytes"),
        dead_letter(1, &a, "bad bytes"),
        altered,
        no_trace,
        not_a_pill,
        silent,
        other_id,
    ];
    let r = check_dead_letters("in", &pills, &dlq, Guarantee::ExactlyOnceV2);
    assert_eq!(r.injected_total(), 4);
    assert_eq!(r.dead_lettered, [1, 0, 0]);
    assert_eq!(r.duplicated, 1);
    assert_eq!(r.wrong, 5, "{:?}", r.samples);
    assert!(r.samples.iter().any(|s| s.contains(H_POISON_ID)));
    assert!(r
        .samples
        .iter()
        .any(|s| s.contains("not in the dead-letter topic")));
    assert_eq!(
        r.per_stage(),
        "deserialization=1/1 processing=0/3 production=0/0"
    );
}

#[test]
fn checks_the_sized_output() {
    let big = format!("1,{}", BIG_AMOUNT);
    let good = vec![
        raw(0, 0, "k00001", b"0,5").to_text(),
        raw(0, 2, "k00001", big.as_bytes()).to_text(),
        raw(1, 0, "k00002", b"0,9").to_text(),
    ];
    let out = |key: &str, value: &str| DumpRecord {
        partition: 0,
        offset: 0,
        timestamp: 0,
        key: Some(key.to_string()),
        value: Some(value.to_string()),
    };
    let (c, _) = check_sized(&good, &[out("k00001", "0,5|"), out("k00002", "0,9|")]);
    assert_eq!(c, SizedCounts::default());
    let (c, s) = check_sized(
        &good,
        &[
            out("k00001", "0,5|"),
            out("k00001", "0,5|"),
            out("k00001", &sized_value(&big)),
            out("k00009", "0,1|"),
        ],
    );
    assert_eq!(
        c,
        SizedCounts {
            lost: 1,
            duplicated: 1,
            wrong: 2
        },
        "{s:?}"
    );
}

#[test]
fn passes_only_with_every_pill_dead_lettered() {
    let mut v = PoisonVerdict {
        dead_letters: DeadLetterReport {
            injected: [2, 2, 1],
            dead_lettered: [2, 2, 1],
            ..DeadLetterReport::default()
        },
        lost: 0,
        duplicated: 0,
        wrong: 0,
        stalled: false,
        other_failures: 0,
        guarantee: Guarantee::ExactlyOnceV2,
    };
    assert!(v.passed());
    assert!(v
        .result_line()
        .starts_with("RESULT poison injected=5 dead_lettered=5 "));
    assert!(v
        .result_line()
        .ends_with("guarantee=exactly_once_v2 passed=true"));
    v.dead_letters.duplicated = 1;
    assert!(!v.passed());
    v.guarantee = Guarantee::AtLeastOnce;
    assert!(v.passed());
    v.dead_letters.dead_lettered = [2, 2, 0];
    assert!(!v.passed());
    assert!(v.result_line().contains("dead_lettered=4 "));
    v.dead_letters.dead_lettered = [2, 2, 1];
    v.stalled = true;
    assert!(!v.passed());
    v.stalled = false;
    v.dead_letters = DeadLetterReport::default();
    assert!(!v.passed(), "a round without pills proves nothing");
}

#[test]
fn parses_stage_lists() {
    assert_eq!(Stage::parse_list("all"), Some(Stage::ALL.to_vec()));
    assert_eq!(
        Stage::parse_list("deserialization, processing"),
        Some(vec![Stage::Deserialization, Stage::Processing])
    );
    assert_eq!(
        Stage::parse_list("production"),
        Some(vec![Stage::Production])
    );
    assert_eq!(Stage::parse_list("nope"), None);
    assert_eq!(Stage::parse_list(""), None);
}
