//! The poison-pill verifier's topology and checker through the
//! TopologyTestDriver (no broker): a deserialization pill, a processor error
//! and a processor panic each reach the dead-letter topic as the checker
//! expects them, the good records (a production pill among them) flow to
//! every output, and the checker's verdicts on those outputs are clean.
//! (The production stage proper, a record refused by the broker, needs a
//! broker: the poison rounds of `testing/eos/run --poison`.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

use weir::handler::LogAndContinue;
use weir::prelude::*;
use weir_eos::check::{check, CheckInput, Guarantee};
use weir_eos::dump::{DumpRecord, RawDumpRecord};
use weir_eos::poison::{
    check_dead_letters, check_sized, split_input, Stage, BIG_AMOUNT, BIG_OUTPUT_BYTES,
    DESER_PREFIX, H_POISON_ID,
};
use weir_eos::poison_topology::{poison_topology, PoisonTopics};
use weir_eos::topology::StoreBackend;
use weir_testing::{DriverConfig, TopologyTestDriver};

const DLQ: &str = "dlq";

fn raw(r: &weir::record::RawRecord) -> RawDumpRecord {
    RawDumpRecord {
        partition: r.partition,
        offset: r.offset,
        timestamp: r.timestamp,
        key: r.key.clone(),
        value: r.value.clone(),
        headers: r
            .headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.map(<[u8]>::to_vec)))
            .collect(),
    }
}

fn text(r: &weir::record::RawRecord) -> DumpRecord {
    raw(r).to_text()
}

#[test]
fn every_pill_reaches_the_dead_letter_topic_and_good_records_flow() {
    let topics = PoisonTopics {
        input: "in".into(),
        echo: "echo".into(),
        aggs: "aggs".into(),
        sized: "sized".into(),
    };
    let topology = poison_topology(&topics, &StoreBackend::Memory).unwrap();
    let config = DriverConfig::new()
        .with_deserialization_handler(LogAndContinue)
        .with_processing_handler(LogAndContinue)
        .with_production_handler(LogAndContinue)
        .with_dead_letter_topic(DLQ);
    let driver = TopologyTestDriver::new(topology, config).unwrap();
    let mut input = driver.create_input_topic("in", Serdes::string(), Serdes::bytes());
    let mut deser = DESER_PREFIX.to_vec();
    deser.extend_from_slice(b"k00001:0");
    let big = format!("2,{BIG_AMOUNT}");
    // The input as the broker would hold it: offsets 0.. in piping order;
    // each pill with its id header, as the generator writes it.
    let piped: Vec<RawDumpRecord> = [
        ("k00001", b"0,5".to_vec(), None),
        ("k00001", deser, Some("k00001:0")),
        ("k00002", b"poison-fail:k00002:1".to_vec(), Some("k00002:1")),
        ("k00001", b"1,7".to_vec(), None),
        (
            "k00002",
            b"poison-panic:k00002:2".to_vec(),
            Some("k00002:2"),
        ),
        ("k00001", big.clone().into_bytes(), Some("k00001:3")),
        ("k00002", b"0,9".to_vec(), None),
    ]
    .into_iter()
    .enumerate()
    .map(|(i, (key, value, id))| RawDumpRecord {
        partition: 0,
        offset: i as i64,
        timestamp: 1000 + i as i64,
        key: Some(key.as_bytes().to_vec()),
        value: Some(value),
        headers: id
            .map(|id| (H_POISON_ID.to_string(), Some(id.as_bytes().to_vec())))
            .into_iter()
            .collect(),
    })
    .collect();
    for r in &piped {
        let key = String::from_utf8(r.key.clone().unwrap()).unwrap();
        let mut headers = weir::Headers::new();
        for (name, value) in &r.headers {
            headers.add(name, value.clone());
        }
        input
            .pipe_record(Record::from_parts(
                Some(key),
                r.value.clone(),
                r.timestamp,
                headers,
            ))
            .unwrap();
    }

    let written = driver.producer_records();
    let of = |topic: &str| -> Vec<&weir::record::RawRecord> {
        written.iter().filter(|r| r.topic == topic).collect()
    };
    let split = split_input(&piped);
    assert_eq!(split.good.len(), 4);
    assert_eq!(split.unknown, 0);

    // Dead letters: the deserialization and both processing pills, right.
    let dlq: Vec<RawDumpRecord> = of(DLQ).into_iter().map(raw).collect();
    assert_eq!(dlq.len(), 3, "{dlq:?}");
    // The production pill cannot fail without a broker: check the others.
    let pills: Vec<_> = split
        .pills
        .iter()
        .copied()
        .filter(|(s, _)| *s != Stage::Production)
        .collect();
    let report = check_dead_letters("in", &pills, &dlq, Guarantee::ExactlyOnceV2);
    assert_eq!(report.injected, [1, 2, 0]);
    assert_eq!(report.dead_lettered, [1, 2, 0], "{:?}", report.samples);
    assert_eq!((report.duplicated, report.wrong), (0, 0));
    // Each dead-letter record starts with its pill's id header, unchanged.
    for d in &dlq {
        assert_eq!(d.headers[0].0, H_POISON_ID);
    }
    // A dead-letter record whose source header changed, or went missing,
    // is wrong.
    let mut changed = dlq.clone();
    changed[0].headers[0].1 = Some(b"k00009:9".to_vec());
    changed[1].headers.remove(0);
    let report = check_dead_letters("in", &pills, &changed, Guarantee::ExactlyOnceV2);
    assert_eq!(report.wrong, 2, "{:?}", report.samples);
    assert_eq!(report.dead_lettered, [0, 1, 0]);
    assert!(
        report.samples.iter().any(|s| s.contains(H_POISON_ID)),
        "{:?}",
        report.samples
    );

    // Good records: echo and aggregates exact (one partition: the driver's).
    let echo: Vec<DumpRecord> = of("echo").into_iter().map(text).collect();
    let aggs: Vec<DumpRecord> = of("aggs").into_iter().map(text).collect();
    let good = check(CheckInput {
        input: &split.good,
        echo: &echo,
        aggs: &aggs,
        ends: &[],
        partitions: 1,
        guarantee: Guarantee::ExactlyOnceV2,
    });
    assert!(good.passed(), "{} {:?}", good.detail_line(), good.samples);
    assert_eq!(echo.len(), 4);

    // Sized: the production pill's output is the big one; without a
    // broker it is written, which the checker calls wrong.
    let sized: Vec<DumpRecord> = of("sized").into_iter().map(text).collect();
    assert_eq!(sized.len(), 4);
    let big_out = sized
        .iter()
        .find(|r| r.value.as_deref().is_some_and(|v| v.starts_with(&big)))
        .unwrap();
    assert_eq!(
        big_out.value.as_deref().map(str::len),
        Some(BIG_OUTPUT_BYTES)
    );
    let (counts, _) = check_sized(&split.good, &sized);
    assert_eq!((counts.lost, counts.duplicated, counts.wrong), (0, 0, 1));
}
