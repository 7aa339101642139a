//! Property tests of the suppress buffer's stored entries: entries
//! round-trip; arbitrary and near-valid bytes read as an entry or a store
//! error naming the store, never a panic.

use proptest::option;
use proptest::prelude::*;

use super::*;
use crate::fuzz::{self, mutation, store_error};

fn any_entry() -> impl Strategy<Value = Entry> {
    (
        any::<i64>(),
        any::<i64>(),
        option::of(fuzz::bytes(12)),
        option::of(fuzz::bytes(12)),
        fuzz::headers(),
    )
        .prop_map(|(time, timestamp, new, prior, headers)| Entry {
            time,
            timestamp,
            new,
            prior,
            headers,
        })
}

/// Reads `bytes`: an entry that writes and reads back as itself, or an
/// error of store `s`.
fn read(bytes: &[u8]) -> Result<(), TestCaseError> {
    match Entry::decode(bytes, "s") {
        Ok(entry) => {
            let again = Entry::decode(&entry.encode("s").unwrap(), "s").unwrap();
            prop_assert_eq!(again, entry);
        }
        Err(e) => {
            store_error(e, "s");
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(fuzz::config())]

    #[test]
    fn entries_round_trip(entry in any_entry()) {
        let bytes = entry.encode("s").unwrap();
        prop_assert_eq!(Entry::decode(&bytes, "s").unwrap(), entry);
    }

    #[test]
    fn any_bytes_read_as_an_entry_or_an_error(bytes in fuzz::bytes(64)) {
        read(&bytes)?;
    }

    #[test]
    fn near_valid_bytes_read_as_an_entry_or_an_error(entry in any_entry(), m in mutation()) {
        read(&m.apply(&entry.encode("s").unwrap()))?;
    }

    #[test]
    fn a_huge_header_count_is_an_error(entry in any_entry(), count in 4u32..=u32::MAX) {
        let mut bytes = entry.encode("s").unwrap();
        // The header count sits after the format byte, the two times, the
        // flags and the two length-prefixed values.
        let at = 18 + 4 + entry.new.as_ref().map_or(0, Vec::len)
            + 4 + entry.prior.as_ref().map_or(0, Vec::len);
        bytes[at..at + 4].copy_from_slice(&count.to_be_bytes());
        prop_assert!(Entry::decode(&bytes, "s").is_err());
    }
}
