//! Property tests of the outer stream-stream join's shared store formats:
//! keys and value lists round-trip; arbitrary and near-valid bytes read as
//! a key (list) or an error, never a panic.

use proptest::collection::vec;
use proptest::prelude::*;

use super::*;
use crate::fuzz::{self, decode, encode, mutation};
use crate::serde::Serdes;

fn keys() -> OuterKeySerde<String> {
    OuterKeySerde(Serdes::string())
}

fn lists() -> SideListSerde<String, i64> {
    SideListSerde {
        left: Serdes::string(),
        right: Serdes::i64(),
    }
}

fn any_key() -> impl Strategy<Value = OuterKey<String>> {
    (any::<i64>(), any::<bool>(), ".{0,12}").prop_map(|(timestamp, left, key)| OuterKey {
        timestamp,
        left,
        key,
    })
}

fn any_list() -> impl Strategy<Value = Vec<Side<String, i64>>> {
    let side = prop_oneof![
        ".{0,8}".prop_map(Side::Left),
        any::<i64>().prop_map(Side::Right)
    ];
    vec(side, 1..5)
}

/// A list read from `bytes` writes and reads back as itself (an empty list,
/// from no bytes, writes as null: a deleted row).
fn list_stable(bytes: &[u8], list: Vec<Side<String, i64>>) -> Result<(), TestCaseError> {
    prop_assert_eq!(list.is_empty(), bytes.is_empty());
    let written = encode(&lists(), &list);
    prop_assert_eq!(written.is_none(), list.is_empty());
    if written.is_some() {
        prop_assert_eq!(decode(&lists(), written.as_deref()), Ok(Some(list)));
    }
    Ok(())
}

proptest! {
    #![proptest_config(fuzz::config())]

    #[test]
    fn keys_round_trip(key in any_key()) {
        prop_assert_eq!(decode(&keys(), encode(&keys(), &key).as_deref()), Ok(Some(key)));
    }

    #[test]
    fn value_lists_round_trip(list in any_list()) {
        prop_assert_eq!(decode(&lists(), encode(&lists(), &list).as_deref()), Ok(Some(list)));
    }

    #[test]
    fn any_bytes_read_as_a_key_or_an_error(bytes in fuzz::bytes(40)) {
        if let Ok(Some(key)) = decode(&keys(), Some(&bytes)) {
            let again = decode(&keys(), encode(&keys(), &key).as_deref());
            prop_assert_eq!(again, Ok(Some(key)));
        }
    }

    #[test]
    fn any_bytes_read_as_a_value_list_or_an_error(bytes in fuzz::bytes(40)) {
        if let Ok(Some(list)) = decode(&lists(), Some(&bytes)) {
            list_stable(&bytes, list)?;
        }
    }

    #[test]
    fn mutated_keys_and_lists_read_without_panic(
        key in any_key(),
        list in any_list(),
        m in mutation(),
    ) {
        let bytes = m.apply(&encode(&keys(), &key).unwrap_or_default());
        if let Ok(Some(key)) = decode(&keys(), Some(&bytes)) {
            prop_assert_eq!(decode(&keys(), encode(&keys(), &key).as_deref()), Ok(Some(key)));
        }
        let bytes = m.apply(&encode(&lists(), &list).unwrap_or_default());
        if let Ok(Some(list)) = decode(&lists(), Some(&bytes)) {
            list_stable(&bytes, list)?;
        }
    }
}
