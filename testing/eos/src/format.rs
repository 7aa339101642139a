//! The verifier's record formats (UTF-8 strings, readable in a console
//! consumer) and its key-to-partition mapping.
//!
//! - key: `k` and a 5-digit key number, e.g. `k00042`;
//! - input and echo value: `seq,amount` (per-key sequence number from 0, and
//!   the number to aggregate);
//! - aggregate value: `seq,last_seq,count,sum,min,max`, where `seq` is the
//!   sequence number of the record just folded in (the one this update is
//!   for) and `last_seq` the highest one folded in so far. They differ only
//!   when a record is folded in again after a later one (an at-least-once
//!   replay on state that already holds it) or out of order;
//! - table value (the stream-table join's table topic): `version,payload`
//!   ([`TableValue`], versions 0, 1, 2, .. per key, the payload a function of
//!   key and version);
//! - side value (the stream-stream join's other side): the key's side
//!   sequence number `bseq` (0, 1, 2, ..);
//! - join outputs: the joiner's two inputs as text, joined by `|`
//!   ([`join_text`]): `seq,amount|version,payload` (stream-table) and
//!   `seq,amount|bseq` (stream-stream).

use std::fmt;

/// The key of key number `index`.
pub fn key_name(index: u32) -> String {
    format!("k{index:05}")
}

/// The key number of `key`, if it is one of the verifier's keys.
pub fn key_index(key: &str) -> Option<u32> {
    let digits = key.strip_prefix('k')?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The partition of `key` among `partitions`: the generator writes each key
/// there, and the echo output uses the same mapping, so echo partition `p`
/// must equal input partition `p`. `None` for a key that is not the
/// verifier's or no partitions.
pub fn partition_of(key: &str, partitions: i32) -> Option<i32> {
    let index = i64::from(key_index(key)?);
    if partitions <= 0 {
        return None;
    }
    // A multiplicative spread so neighbouring keys land in different partitions.
    i32::try_from((index * 7919) % i64::from(partitions)).ok()
}

/// An input (and echo) value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InputValue {
    /// The key's sequence number: 0, 1, 2, .. in the order written.
    pub seq: i64,
    /// The number aggregated (positive, so a record counted twice shows in the sum).
    pub amount: i64,
}

impl fmt::Display for InputValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{},{}", self.seq, self.amount)
    }
}

impl InputValue {
    /// Parses `seq,amount`.
    pub fn parse(text: &str) -> Option<Self> {
        let (seq, amount) = text.split_once(',')?;
        Some(InputValue {
            seq: seq.parse().ok()?,
            amount: amount.parse().ok()?,
        })
    }
}

/// A running aggregate of one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Aggregate {
    /// The sequence number of the record folded in last (-1 before the first record).
    pub seq: i64,
    /// The highest sequence number folded in (-1 before the first record).
    pub last_seq: i64,
    /// How many records were folded in.
    pub count: i64,
    /// Their sum.
    pub sum: i64,
    /// Their minimum (`i64::MAX` before the first record).
    pub min: i64,
    /// Their maximum (`i64::MIN` before the first record).
    pub max: i64,
}

impl Default for Aggregate {
    fn default() -> Self {
        Aggregate {
            seq: -1,
            last_seq: -1,
            count: 0,
            sum: 0,
            min: i64::MAX,
            max: i64::MIN,
        }
    }
}

impl fmt::Display for Aggregate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{},{},{},{},{},{}",
            self.seq, self.last_seq, self.count, self.sum, self.min, self.max
        )
    }
}

impl Aggregate {
    /// Parses `seq,last_seq,count,sum,min,max`.
    pub fn parse(text: &str) -> Option<Self> {
        let mut fields = text.split(',').map(str::parse::<i64>);
        let mut next = || fields.next()?.ok();
        let agg = Aggregate {
            seq: next()?,
            last_seq: next()?,
            count: next()?,
            sum: next()?,
            min: next()?,
            max: next()?,
        };
        if fields.next().is_some() {
            return None;
        }
        Some(agg)
    }

    /// This aggregate with `value` folded in.
    pub fn fold(self, value: InputValue) -> Self {
        Aggregate {
            seq: value.seq,
            last_seq: self.last_seq.max(value.seq),
            count: self.count + 1,
            sum: self.sum.wrapping_add(value.amount),
            min: self.min.min(value.amount),
            max: self.max.max(value.amount),
        }
    }
}

/// A value of the stream-table join's table topic: the key's table version
/// and a payload derived from key and version, so a value attached to the
/// wrong key or version shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableValue {
    /// The key's table version: 0, 1, 2, .. in the order written.
    pub version: i64,
    /// [`table_payload`] of the key and version.
    pub payload: i64,
}

impl TableValue {
    /// The table value of key number `key` at `version`.
    pub fn of(key: u32, version: i64) -> Self {
        TableValue {
            version,
            payload: table_payload(key, version),
        }
    }

    /// Parses `version,payload`.
    pub fn parse(text: &str) -> Option<Self> {
        let (version, payload) = text.split_once(',')?;
        Some(TableValue {
            version: version.parse().ok()?,
            payload: payload.parse().ok()?,
        })
    }
}

impl fmt::Display for TableValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{},{}", self.version, self.payload)
    }
}

/// The payload of key number `key`'s table value at `version`.
pub fn table_payload(key: u32, version: i64) -> i64 {
    (i64::from(key) * 1_000_003 + version * 7_919 + 17) % 1_000_000_007
}

/// The joiner of both joins: the two values as text, joined by `|`.
pub fn join_text(left: &str, right: &str) -> String {
    format!("{left}|{right}")
}

/// A stream-table join output `seq,amount|version,payload`.
pub fn parse_table_join(text: &str) -> Option<(InputValue, TableValue)> {
    let (event, table) = text.split_once('|')?;
    Some((InputValue::parse(event)?, TableValue::parse(table)?))
}

/// A stream-stream join output `seq,amount|bseq`.
pub fn parse_stream_join(text: &str) -> Option<(InputValue, i64)> {
    let (event, side) = text.split_once('|')?;
    Some((InputValue::parse(event)?, side.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_values_round_trip() {
        let t = TableValue::of(42, 3);
        assert_eq!(TableValue::parse(&t.to_string()), Some(t));
        assert_ne!(t.payload, TableValue::of(42, 4).payload);
        assert_ne!(t.payload, TableValue::of(43, 3).payload);
        let e = InputValue { seq: 5, amount: 9 };
        let out = join_text(&e.to_string(), &t.to_string());
        assert_eq!(parse_table_join(&out), Some((e, t)));
        assert_eq!(
            parse_stream_join(&join_text(&e.to_string(), "7")),
            Some((e, 7))
        );
        assert_eq!(parse_table_join("5,9"), None);
        assert_eq!(parse_stream_join("5,9|x"), None);
    }

    #[test]
    fn keys_round_trip_and_spread_over_partitions() {
        assert_eq!(key_name(42), "k00042");
        assert_eq!(key_index("k00042"), Some(42));
        assert_eq!(key_index("x1"), None);
        assert_eq!(key_index("k"), None);
        assert_eq!(key_index("k-1"), None);
        let mut per_partition = [0; 6];
        for i in 0..600 {
            let p = partition_of(&key_name(i), 6).unwrap_or(-1);
            per_partition[usize::try_from(p).unwrap_or(0)] += 1;
        }
        assert_eq!(per_partition, [100; 6]);
        assert_eq!(partition_of("nope", 6), None);
        assert_eq!(partition_of("k1", 0), None);
    }

    #[test]
    fn values_round_trip() {
        let v = InputValue { seq: 7, amount: 99 };
        assert_eq!(InputValue::parse(&v.to_string()), Some(v));
        assert_eq!(InputValue::parse("7"), None);
        let a = Aggregate::default()
            .fold(v)
            .fold(InputValue { seq: 8, amount: 1 });
        assert_eq!(a.to_string(), "8,8,2,100,1,99");
        assert_eq!(Aggregate::parse(&a.to_string()), Some(a));
        // Folding an earlier record in again keeps last_seq.
        let again = a.fold(v);
        assert_eq!((again.seq, again.last_seq, again.count), (7, 8, 3));
        assert_eq!(Aggregate::parse("1,2,3,4,5"), None);
        assert_eq!(Aggregate::parse("1,2,3,4,5,6,7"), None);
    }
}
