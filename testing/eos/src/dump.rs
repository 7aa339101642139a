//! Parses what `checker/EosReader.java dump` wrote: the committed records of
//! the verifier's topics (with their timestamps) and the end offsets of every
//! partition. Records of a windowed topic (dumped as `name:windowed`) carry
//! the key as `key@start` and the count in decimal. A topic dumped as
//! `name:raw` keeps its bytes and headers ([`RawDumpRecord`]).

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

/// A record header: its name, and its value (`None` when null).
pub type Header = (String, Option<Vec<u8>>);

/// One committed record of a topic dumped raw (`name:raw`): its bytes as
/// written, with its headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawDumpRecord {
    /// Partition.
    pub partition: i32,
    /// Offset.
    pub offset: i64,
    /// The record's timestamp (ms since the epoch).
    pub timestamp: i64,
    /// Key bytes (`None` for a null key).
    pub key: Option<Vec<u8>>,
    /// Value bytes (`None` for a null value).
    pub value: Option<Vec<u8>>,
    /// Headers in order: name, value (`None` for a null value).
    pub headers: Vec<Header>,
}

impl RawDumpRecord {
    /// The value of the first header named `name`, if any (and not null).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| v.as_deref())
    }

    /// The record as text (key and value as UTF-8, lossily): how the
    /// text checkers see it.
    pub fn to_text(&self) -> DumpRecord {
        let text = |b: &Option<Vec<u8>>| {
            b.as_deref()
                .map(|b| String::from_utf8_lossy(b).into_owned())
        };
        DumpRecord {
            partition: self.partition,
            offset: self.offset,
            timestamp: self.timestamp,
            key: text(&self.key),
            value: text(&self.value),
        }
    }
}

/// Parses hex (two digits a byte); `\N` is `None`.
fn unhex(field: &str) -> Result<Option<Vec<u8>>, String> {
    if field == "\\N" {
        return Ok(None);
    }
    if !field.len().is_multiple_of(2) {
        return Err(format!("odd hex length in '{field}'"));
    }
    (0..field.len())
        .step_by(2)
        .map(|i| {
            field
                .get(i..i + 2)
                .and_then(|d| u8::from_str_radix(d, 16).ok())
                .ok_or_else(|| format!("bad hex '{field}'"))
        })
        .collect::<Result<Vec<u8>, String>>()
        .map(Some)
}

/// Parses a raw record's headers field (`-` for none).
fn parse_headers(field: &str) -> Result<Vec<Header>, String> {
    if field == "-" {
        return Ok(Vec::new());
    }
    field
        .split(',')
        .map(|h| {
            let (name, value) = h
                .split_once(':')
                .ok_or_else(|| format!("bad header '{h}'"))?;
            let name = unhex(name)?.ok_or_else(|| format!("null header name in '{h}'"))?;
            let name = String::from_utf8(name).map_err(|e| format!("header name: {e}"))?;
            Ok((name, unhex(value)?))
        })
        .collect()
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
    /// Records of the topics dumped raw, by topic, in (partition, offset) order.
    pub raw: BTreeMap<String, Vec<RawDumpRecord>>,
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
                ["X", topic, p, offset, timestamp, key, value, headers] => {
                    dump.raw
                        .entry((*topic).to_string())
                        .or_default()
                        .push(RawDumpRecord {
                            partition: partition(p)?,
                            offset: num(offset)?,
                            timestamp: num(timestamp)?,
                            key: unhex(key).map_err(err)?,
                            value: unhex(value).map_err(err)?,
                            headers: parse_headers(headers).map_err(err)?,
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

    /// The records of `topic` dumped raw (empty if none were).
    pub fn raw_topic(&self, topic: &str) -> &[RawDumpRecord] {
        self.raw.get(topic).map_or(&[], Vec::as_slice)
    }

    /// The records of `topic` (empty if none were dumped).
    pub fn topic(&self, topic: &str) -> &[DumpRecord] {
        self.records.get(topic).map_or(&[], Vec::as_slice)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
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
    fn parses_raw_records_with_headers() {
        let text = "X\tdlq\t2\t9\t17\t6b31\tff00\t6e:7631,6d:\\N\n\
                    X\tdlq\t2\t10\t18\t\\N\t\\N\t-\nDONE 2\n";
        let dump = Dump::parse(text).unwrap();
        let raw = dump.raw_topic("dlq");
        assert_eq!(raw.len(), 2);
        assert_eq!(raw[0].key.as_deref(), Some(&b"k1"[..]));
        assert_eq!(raw[0].value.as_deref(), Some(&[0xff, 0x00][..]));
        assert_eq!(raw[0].header("n"), Some(&b"v1"[..]));
        assert_eq!(raw[0].headers[1], ("m".to_string(), None));
        assert_eq!(raw[0].to_text().key.as_deref(), Some("k1"));
        assert_eq!(raw[1].key, None);
        assert!(raw[1].headers.is_empty());
        assert!(Dump::parse("X\tdlq\t2\t9\t17\t6b3\tff\t-\nDONE 1\n").is_err());
        assert!(Dump::parse("X\tdlq\t2\t9\t17\t6b\tff\tzz\nDONE 1\n").is_err());
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
