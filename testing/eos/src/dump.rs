//! Parses what `checker/EosReader.java dump` wrote: the committed records of
//! the verifier's topics (with their timestamps) and the end offsets of every
//! partition. Records of a windowed topic (dumped as `name:windowed`) carry
//! the key as `key@start` and the count in decimal.

use std::collections::BTreeMap;
use std::fmt;

/// One committed record, as Kafka's Java consumer read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DumpRecord {
    /// Partition.
    pub partition: i32,
    /// Offset.
    pub offset: i64,
    /// The record's timestamp (ms since the epoch).
    pub timestamp: i64,
    /// Key (`None` for a null key).
    pub key: Option<String>,
    /// Value (`None` for a null value).
    pub value: Option<String>,
}

/// A partition's end offsets under both isolation levels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndOffsets {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// The read_committed end: the last stable offset.
    pub committed: i64,
    /// The read_uncommitted end: the high watermark.
    pub uncommitted: i64,
}

/// The whole dump.
#[derive(Debug, Clone, Default)]
pub struct Dump {
    /// Records by topic, in (partition, offset) order.
    pub records: BTreeMap<String, Vec<DumpRecord>>,
    /// End offsets of every partition of every non-internal topic.
    pub ends: Vec<EndOffsets>,
}

/// A malformed dump (the reader's output is not what this parser expects).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DumpError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for DumpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "dump line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for DumpError {}

fn unescape(field: &str) -> Option<String> {
    if field == "\\N" {
        return None;
    }
    let mut out = String::with_capacity(field.len());
    let mut chars = field.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    Some(out)
}

impl Dump {
    /// Parses the reader's output. The file must end with its `DONE <n>` line
    /// and hold exactly `n` records (a truncated dump is an error).
    pub fn parse(text: &str) -> Result<Dump, DumpError> {
        let mut dump = Dump::default();
        let mut total = 0usize;
        let mut done = None;
        for (i, line) in text.lines().enumerate() {
            let err = |message: String| DumpError {
                line: i + 1,
                message,
            };
            if let Some(n) = line.strip_prefix("DONE ") {
                done = Some(
                    n.trim()
                        .parse::<usize>()
                        .map_err(|e| err(format!("bad count: {e}")))?,
                );
                continue;
            }
            let fields: Vec<&str> = line.split('\t').collect();
            let num = |s: &str| -> Result<i64, DumpError> {
                s.parse::<i64>()
                    .map_err(|e| err(format!("bad number '{s}': {e}")))
            };
            let partition = |s: &str| -> Result<i32, DumpError> {
                s.parse::<i32>()
                    .map_err(|e| err(format!("bad partition '{s}': {e}")))
            };
            match fields.as_slice() {
                ["R", topic, p, offset, timestamp, key, value] => {
                    dump.records
                        .entry((*topic).to_string())
                        .or_default()
                        .push(DumpRecord {
                            partition: partition(p)?,
                            offset: num(offset)?,
                            timestamp: num(timestamp)?,
                            key: unescape(key),
                            value: unescape(value),
                        });
                    total += 1;
                }
                ["E", topic, p, committed, uncommitted] => dump.ends.push(EndOffsets {
                    topic: (*topic).to_string(),
                    partition: partition(p)?,
                    committed: num(committed)?,
                    uncommitted: num(uncommitted)?,
                }),
                _ => return Err(err(format!("unexpected line '{line}'"))),
            }
        }
        match done {
            Some(n) if n == total => Ok(dump),
            Some(n) => Err(DumpError {
                line: 0,
                message: format!("the reader wrote {n} records but {total} were parsed"),
            }),
            None => Err(DumpError {
                line: 0,
                message: "no DONE line: the dump is incomplete".to_string(),
            }),
        }
    }

    /// The records of `topic` (empty if none were dumped).
    pub fn topic(&self, topic: &str) -> &[DumpRecord] {
        self.records.get(topic).map_or(&[], Vec::as_slice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_records_ends_and_escapes() {
        let text = "R\tin\t0\t5\t17\tk00001\t0,7\nR\tin\t1\t0\t18\t\\N\ta\\tb\\\\c\n\
                    E\tin\t0\t6\t6\nDONE 2\n";
        let dump = Dump::parse(text).unwrap_or_default();
        assert_eq!(dump.topic("in").len(), 2);
        assert_eq!(dump.topic("in")[0].key.as_deref(), Some("k00001"));
        assert_eq!(dump.topic("in")[1].key, None);
        assert_eq!(dump.topic("in")[1].timestamp, 18);
        assert_eq!(dump.topic("in")[1].value.as_deref(), Some("a\tb\\c"));
        assert_eq!(dump.ends.len(), 1);
        assert!(dump.topic("other").is_empty());
    }

    #[test]
    fn rejects_truncated_and_malformed_dumps() {
        assert!(Dump::parse("R\tin\t0\t5\t1\tk\tv\n").is_err());
        assert!(Dump::parse("R\tin\t0\t5\t1\tk\tv\nDONE 2\n").is_err());
        assert!(Dump::parse("X\nDONE 0\n").is_err());
        assert!(Dump::parse("R\tin\tzero\t5\t1\tk\tv\nDONE 1\n").is_err());
        assert!(Dump::parse("R\tin\t0\t5\tk\tv\nDONE 1\n").is_err());
    }
}
