//! The poison-pill verifier (issue 15 item 4): what the pills look like and
//! how the checker judges the dead-letter queue.
//!
//! The generator mixes about 1% poison pills into the good input
//! (`seq,amount`, per-key sequence numbers counting the good records only),
//! one stage after the other:
//!
//! - **deserialization**: a value that is not UTF-8 ([`DESER_PREFIX`] ..):
//!   the source's string serde fails;
//! - **processing**: `poison-fail:..` ([`FAIL_PREFIX`]: the screening
//!   processor returns an error) and `poison-panic:..` ([`PANIC_PREFIX`]:
//!   it panics), in turn;
//! - **production**: a good record with an amount of at least
//!   [`BIG_AMOUNT`]: it is echoed and aggregated like any good record, but
//!   its output to the `sized` topic is [`BIG_OUTPUT_BYTES`] long, more than
//!   that topic's `max.message.bytes` ([`SIZED_MAX_MESSAGE_BYTES`]).
//!
//! The checker classifies the committed input ([`classify`]), checks the
//! good records with [`crate::check`] (echo and aggregates), the `sized`
//! output with [`check_sized`], and the dead-letter topic with
//! [`check_dead_letters`]: every pill must be there, matched by the headers
//! `__streams.errors.topic/.partition/.offset`, with the source's raw key
//! and value bytes and timestamp, the source's headers (the generator puts
//! [`H_POISON_ID`] on each pill: it must come back unchanged) and the
//! exception headers filled in; exactly once under exactly_once_v2, at
//! least once under at_least_once.

use std::collections::HashMap;
use std::fmt;

use crate::check::Guarantee;
use crate::dump::{DumpRecord, RawDumpRecord};
use crate::format::{key_index, InputValue};

/// How a deserialization pill's value starts: two bytes that are not UTF-8.
pub const DESER_PREFIX: &[u8] = b"\xff\xfepoison-deser:";
/// A processing pill that makes the processor return an error.
pub const FAIL_PREFIX: &str = "poison-fail:";
/// A processing pill that makes the processor panic.
pub const PANIC_PREFIX: &str = "poison-panic:";
/// Good records with an amount at least this large are production pills.
pub const BIG_AMOUNT: i64 = 1_000_000_000;
/// The length of a production pill's `sized` output value.
pub const BIG_OUTPUT_BYTES: usize = 100_000;
/// The `sized` topic's `max.message.bytes`.
pub const SIZED_MAX_MESSAGE_BYTES: usize = 65_536;

/// The header the generator puts on each pill, its tag (`key:n`, `n` the
/// pill's number): the pill's dead-letter record must carry it unchanged,
/// before the error headers.
pub const H_POISON_ID: &str = "poison-id";

/// The dead-letter headers (Kafka Streams' names, KIP-1034).
pub const H_EXCEPTION: &str = "__streams.errors.exception";
/// The error's message.
pub const H_MESSAGE: &str = "__streams.errors.message";
/// The error chain.
pub const H_STACKTRACE: &str = "__streams.errors.stacktrace";
/// The source record's topic.
pub const H_TOPIC: &str = "__streams.errors.topic";
/// The source record's partition.
pub const H_PARTITION: &str = "__streams.errors.partition";
/// The source record's offset.
pub const H_OFFSET: &str = "__streams.errors.offset";

/// The `sized` output of a good input value: `value|`, padded with `x` to
/// [`BIG_OUTPUT_BYTES`] for a production pill.
pub fn sized_value(value: &str) -> String {
    let mut out = format!("{value}|");
    if InputValue::parse(value).is_some_and(|v| v.amount >= BIG_AMOUNT) {
        let pad = BIG_OUTPUT_BYTES.saturating_sub(out.len());
        out.extend(std::iter::repeat_n('x', pad));
    }
    out
}

/// The stage a pill fails at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Stage {
    /// The value does not deserialize.
    Deserialization,
    /// The processor fails (an error or a panic).
    Processing,
    /// The output is too large for its topic.
    Production,
}

impl Stage {
    /// All stages, in pipeline order.
    pub const ALL: [Stage; 3] = [Stage::Deserialization, Stage::Processing, Stage::Production];

    /// The stage's name (as in the metrics' reasons).
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Deserialization => "deserialization",
            Stage::Processing => "processing",
            Stage::Production => "production",
        }
    }

    /// Parses a stage's name.
    pub fn parse(text: &str) -> Option<Stage> {
        Stage::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Parses a comma-separated list of stage names (`all`: every stage).
    pub fn parse_list(text: &str) -> Option<Vec<Stage>> {
        if text == "all" {
            return Some(Stage::ALL.to_vec());
        }
        let stages = text
            .split(',')
            .map(|s| Stage::parse(s.trim()))
            .collect::<Option<Vec<Stage>>>()?;
        (!stages.is_empty()).then_some(stages)
    }

    fn index(self) -> usize {
        match self {
            Stage::Deserialization => 0,
            Stage::Processing => 1,
            Stage::Production => 2,
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an input record is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A good record (checked by echo and aggregates).
    Good,
    /// A poison pill of this stage (a production pill is good as well).
    Pill(Stage),
    /// Neither: the generator's contract is broken.
    Unknown,
}

/// What the input record with value `value` is.
pub fn classify(value: Option<&[u8]>) -> Kind {
    let Some(value) = value else {
        return Kind::Unknown;
    };
    if value.starts_with(DESER_PREFIX) {
        return Kind::Pill(Stage::Deserialization);
    }
    let Ok(text) = std::str::from_utf8(value) else {
        return Kind::Unknown;
    };
    if text.starts_with(FAIL_PREFIX) || text.starts_with(PANIC_PREFIX) {
        return Kind::Pill(Stage::Processing);
    }
    match InputValue::parse(text) {
        Some(v) if v.amount >= BIG_AMOUNT => Kind::Pill(Stage::Production),
        Some(_) => Kind::Good,
        None => Kind::Unknown,
    }
}

/// The committed input split into good records (as text, for
/// [`crate::check`]) and pills.
#[derive(Debug, Clone, Default)]
pub struct Classified<'a> {
    /// The good records (production pills included: they are good input).
    pub good: Vec<DumpRecord>,
    /// The pills, each with its stage.
    pub pills: Vec<(Stage, &'a RawDumpRecord)>,
    /// Input records that are neither.
    pub unknown: u64,
}

/// Splits the raw input.
pub fn split_input(input: &[RawDumpRecord]) -> Classified<'_> {
    let mut out = Classified::default();
    for r in input {
        match classify(r.value.as_deref()) {
            Kind::Good => out.good.push(r.to_text()),
            Kind::Pill(Stage::Production) => {
                out.good.push(r.to_text());
                out.pills.push((Stage::Production, r));
            }
            Kind::Pill(stage) => out.pills.push((stage, r)),
            Kind::Unknown => out.unknown += 1,
        }
    }
    out
}

/// How many problem descriptions a report keeps.
const MAX_SAMPLES: usize = 20;

/// What the dead-letter check found.
#[derive(Debug, Clone, Default)]
pub struct DeadLetterReport {
    /// Pills in the committed input, per stage (in [`Stage::ALL`] order).
    pub injected: [u64; 3],
    /// Pills found (right) in the dead-letter topic, per stage.
    pub dead_lettered: [u64; 3],
    /// Dead-letter records repeating a pill already found.
    pub duplicated: u64,
    /// Dead-letter records matching no pill, or with wrong bytes or headers.
    pub wrong: u64,
    /// The first problems found, described.
    pub samples: Vec<String>,
}

impl DeadLetterReport {
    /// Pills injected, all stages.
    pub fn injected_total(&self) -> u64 {
        self.injected.iter().sum()
    }

    /// Pills dead-lettered, all stages.
    pub fn dead_lettered_total(&self) -> u64 {
        self.dead_lettered.iter().sum()
    }

    /// `stage injected/dead-lettered` for each stage, for the detail line.
    pub fn per_stage(&self) -> String {
        Stage::ALL
            .iter()
            .map(|s| {
                format!(
                    "{s}={}/{}",
                    self.dead_lettered[s.index()],
                    self.injected[s.index()]
                )
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn sample(&mut self, problem: impl FnOnce() -> String) {
        if self.samples.len() < MAX_SAMPLES {
            self.samples.push(problem());
        }
    }
}

fn text_header(r: &RawDumpRecord, name: &str) -> Option<String> {
    r.header(name)
        .and_then(|b| std::str::from_utf8(b).ok())
        .map(str::to_string)
}

/// What is wrong with dead-letter record `dlq` as the record of `pill`
/// (read from `input_topic`), if anything.
fn mismatch(stage: Stage, pill: &RawDumpRecord, dlq: &RawDumpRecord) -> Option<String> {
    if dlq.key != pill.key {
        return Some(format!("key {:?} is not the source's", dlq.key));
    }
    if dlq.value != pill.value {
        return Some("value is not the source's raw bytes".to_string());
    }
    if dlq.timestamp != pill.timestamp {
        return Some(format!(
            "timestamp {} is not the source's {}",
            dlq.timestamp, pill.timestamp
        ));
    }
    // The source's own headers first, in order, unchanged; the pill's id
    // among them.
    let Some(id) = pill.header(H_POISON_ID) else {
        return Some(format!("the pill has no {H_POISON_ID} header"));
    };
    if dlq.header(H_POISON_ID) != Some(id) {
        return Some(format!(
            "source header {H_POISON_ID} is {:?}, not the pill's {:?}",
            dlq.header(H_POISON_ID).map(String::from_utf8_lossy),
            String::from_utf8_lossy(id)
        ));
    }
    if !dlq.headers.starts_with(&pill.headers) {
        return Some("the source's headers are missing".to_string());
    }
    for name in [H_EXCEPTION, H_MESSAGE] {
        if text_header(dlq, name).is_none_or(|v| v.trim().is_empty()) {
            return Some(format!("header {name} missing or empty"));
        }
    }
    let Some(trace) = text_header(dlq, H_STACKTRACE) else {
        return Some(format!("header {H_STACKTRACE} missing"));
    };
    if stage == Stage::Processing {
        // The processor's own error (or panic message) must be readable.
        let message = text_header(dlq, H_MESSAGE).unwrap_or_default();
        if !message.contains("poison") && !trace.contains("poison") {
            return Some(format!(
                "neither {H_MESSAGE} nor {H_STACKTRACE} names the processor's error \
                 (message: {message:?})"
            ));
        }
    }
    None
}

/// Checks the dead-letter topic `dlq` against the pills of the input topic
/// `input_topic`; see the module docs.
pub fn check_dead_letters(
    input_topic: &str,
    pills: &[(Stage, &RawDumpRecord)],
    dlq: &[RawDumpRecord],
    guarantee: Guarantee,
) -> DeadLetterReport {
    let mut report = DeadLetterReport::default();
    // (partition, offset) -> (stage, pill, times found right)
    let mut index: HashMap<(i32, i64), (Stage, &RawDumpRecord, u64)> = HashMap::new();
    for (stage, pill) in pills {
        report.injected[stage.index()] += 1;
        index.insert((pill.partition, pill.offset), (*stage, pill, 0));
    }
    for r in dlq {
        let at = || format!("dlq p{} @{}", r.partition, r.offset);
        let source = (|| {
            let topic = text_header(r, H_TOPIC)?;
            let partition = text_header(r, H_PARTITION)?.parse::<i32>().ok()?;
            let offset = text_header(r, H_OFFSET)?.parse::<i64>().ok()?;
            Some((topic, partition, offset))
        })();
        let Some((topic, partition, offset)) = source else {
            report.wrong += 1;
            report.sample(|| format!("{}: no readable topic/partition/offset headers", at()));
            continue;
        };
        let entry = if topic == input_topic {
            index.get_mut(&(partition, offset))
        } else {
            None
        };
        let Some((stage, pill, found)) = entry else {
            report.wrong += 1;
            report.sample(|| {
                format!(
                    "{}: names {topic}-{partition}@{offset}, which is no poison pill",
                    at()
                )
            });
            continue;
        };
        if let Some(problem) = mismatch(*stage, pill, r) {
            report.wrong += 1;
            report.sample(|| format!("{}: {stage} pill p{partition} @{offset}: {problem}", at()));
            continue;
        }
        *found += 1;
        if *found == 1 {
            report.dead_lettered[stage.index()] += 1;
        } else {
            report.duplicated += 1;
            if guarantee == Guarantee::ExactlyOnceV2 {
                let stage = *stage;
                report.sample(|| {
                    format!(
                        "{}: {stage} pill p{partition} @{offset} dead-lettered again",
                        at()
                    )
                });
            }
        }
    }
    let mut missing: Vec<_> = index
        .iter()
        .filter(|(_, (_, _, found))| *found == 0)
        .map(|((p, o), (stage, _, _))| (*p, *o, *stage))
        .collect();
    missing.sort_unstable();
    for (p, o, stage) in missing {
        report
            .sample(|| format!("{stage} pill {input_topic}-{p}@{o} not in the dead-letter topic"));
    }
    report
}

/// Lost, duplicated and wrong records of the `sized` output.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SizedCounts {
    /// Good records (not production pills) without output.
    pub lost: u64,
    /// Outputs repeating one already seen.
    pub duplicated: u64,
    /// Outputs matching no good record, or a production pill's output.
    pub wrong: u64,
}

/// Checks the `sized` output: one `value|` per good record that is not a
/// production pill (whose output must be refused), nothing else.
pub fn check_sized(good: &[DumpRecord], sized: &[DumpRecord]) -> (SizedCounts, Vec<String>) {
    let mut counts = SizedCounts::default();
    let mut samples = Vec::new();
    // (key, seq) -> (expected output, times seen, production pill)
    let mut expected: HashMap<(u32, i64), (String, u64, bool)> = HashMap::new();
    for r in good {
        let parsed = (|| {
            let k = key_index(r.key.as_deref()?)?;
            let text = r.value.as_deref()?;
            let v = InputValue::parse(text)?;
            Some(((k, v.seq), format!("{text}|"), v.amount >= BIG_AMOUNT))
        })();
        if let Some((id, out, big)) = parsed {
            expected.insert(id, (out, 0, big));
        }
    }
    for r in sized {
        let id = (|| {
            let k = key_index(r.key.as_deref()?)?;
            let text = r.value.as_deref()?;
            let v = InputValue::parse(text.split_once('|')?.0)?;
            Some(((k, v.seq), text))
        })();
        let found = id.and_then(|(id, text)| expected.get_mut(&id).map(|e| (e, text)));
        match found {
            Some(((out, seen, false), text)) if out == text => {
                *seen += 1;
                if *seen > 1 {
                    counts.duplicated += 1;
                }
            }
            _ => {
                counts.wrong += 1;
                if samples.len() < MAX_SAMPLES {
                    samples.push(format!(
                        "sized p{} @{}: {:.60?} is no good record's output",
                        r.partition, r.offset, r.value
                    ));
                }
            }
        }
    }
    for (out, seen, big) in expected.values() {
        if !big && *seen == 0 {
            counts.lost += 1;
            if samples.len() < MAX_SAMPLES {
                samples.push(format!("sized: no output {out:?}"));
            }
        }
    }
    (counts, samples)
}

/// The verdict of a poison round and its `RESULT poison ...` line.
#[derive(Debug, Clone)]
pub struct PoisonVerdict {
    /// The dead-letter check.
    pub dead_letters: DeadLetterReport,
    /// Lost good records (echo, aggregates, sized).
    pub lost: u64,
    /// Duplicated good records (echo, aggregates, sized).
    pub duplicated: u64,
    /// Wrong records (echo, aggregates, sized).
    pub wrong: u64,
    /// Whether the application failed to catch up (lag not back to 0) within the run.
    pub stalled: bool,
    /// Anything else that makes the run prove nothing or fail: input
    /// problems, open transactions, an empty input.
    pub other_failures: u64,
    /// The guarantee.
    pub guarantee: Guarantee,
}

impl PoisonVerdict {
    /// Whether the round passed.
    pub fn passed(&self) -> bool {
        let d = &self.dead_letters;
        let base = d.injected_total() > 0
            && d.dead_lettered == d.injected
            && d.wrong == 0
            && self.lost == 0
            && self.wrong == 0
            && !self.stalled
            && self.other_failures == 0;
        match self.guarantee {
            Guarantee::AtLeastOnce => base,
            Guarantee::ExactlyOnceV2 => base && d.duplicated == 0 && self.duplicated == 0,
        }
    }

    /// `RESULT poison injected=.. dead_lettered=.. dlq_duplicated=.. dlq_wrong=.. lost=..
    /// duplicated=.. wrong=.. stalled=.. guarantee=.. passed=..`.
    pub fn result_line(&self) -> String {
        let d = &self.dead_letters;
        format!(
            "RESULT poison injected={} dead_lettered={} dlq_duplicated={} dlq_wrong={} lost={} \
             duplicated={} wrong={} stalled={} guarantee={} passed={}",
            d.injected_total(),
            d.dead_lettered_total(),
            d.duplicated,
            d.wrong,
            self.lost,
            self.duplicated,
            self.wrong,
            self.stalled,
            self.guarantee,
            self.passed()
        )
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
