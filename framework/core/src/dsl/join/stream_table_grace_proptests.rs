//! Property tests of the grace buffer's rows (a restored changelog may hold
//! any bytes): rows round-trip; arbitrary and near-valid rows read as a
//! record or an error naming the buffer's store, never a panic.

use std::time::Duration;

use proptest::prelude::*;

use super::*;
use crate::fuzz::{self, mutation};
use crate::serde::Serdes;

fn buffer() -> GraceBuffer<String, String> {
    GraceBuffer::new(
        "b",
        Duration::from_millis(5),
        Serdes::string(),
        Serdes::string(),
    )
}

/// The stored row of a record: its key, then its value.
fn row(ts: i64, key: &str, seq: u32, value: &str, headers: &Headers) -> (Vec<u8>, Vec<u8>) {
    let mut row = ordered(ts).to_vec();
    row.extend_from_slice(key.as_bytes());
    row.extend_from_slice(&seq.to_be_bytes());
    (row, encode_value(value.as_bytes(), headers, "b").unwrap())
}

/// Reads a row: a record, or an error naming the store.
fn read(row: &[u8], value: &[u8]) -> Result<Option<Record<String, String>>, TestCaseError> {
    match buffer().decode(row, value) {
        Ok(record) => Ok(Some(record)),
        Err(Error::Store { store, .. }) | Err(Error::Deserialization { topic: store, .. }) => {
            prop_assert_eq!(store, "b");
            Ok(None)
        }
        Err(other) => Err(TestCaseError::fail(format!("unexpected error {other:?}"))),
    }
}

proptest! {
    #![proptest_config(fuzz::config())]

    #[test]
    fn rows_round_trip(
        ts: i64,
        key in ".{0,12}",
        seq in 0..=0x7fff_ffffu32,
        value in ".{0,12}",
        headers in fuzz::headers(),
    ) {
        let (r, v) = row(ts, &key, seq, &value, &headers);
        let record = read(&r, &v)?;
        prop_assert_eq!(record, Some(Record::from_parts(Some(key), Some(value), ts, headers)));
    }

    #[test]
    fn any_bytes_read_as_a_record_or_an_error(raw in fuzz::bytes(24), value in fuzz::bytes(40)) {
        if let Some(record) = read(&raw, &value)? {
            // The row was time | key | seq, and the record writes back as
            // a row that reads as itself.
            let seq = u32::from_be_bytes(raw[raw.len() - 4..].try_into().unwrap());
            let key = record.key.clone().unwrap();
            let v = record.value.clone().unwrap();
            let (r, v) = row(record.timestamp, &key, seq, &v, &record.headers);
            prop_assert_eq!(&r, &raw);
            prop_assert_eq!(read(&r, &v)?, Some(record));
        }
    }

    #[test]
    fn mutated_rows_read_as_a_record_or_an_error(
        ts: i64,
        key in ".{0,8}",
        value in ".{0,8}",
        headers in fuzz::headers(),
        m in mutation(),
        mutate_key: bool,
    ) {
        let (mut r, mut v) = row(ts, &key, 3, &value, &headers);
        if mutate_key {
            r = m.apply(&r);
        } else {
            v = m.apply(&v);
        }
        read(&r, &v)?;
    }
}
