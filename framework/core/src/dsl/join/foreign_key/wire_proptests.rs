//! Property tests of the foreign-key join's wire formats: subscriptions and
//! responses round-trip; arbitrary and near-valid bytes read as a record or
//! an error, never a panic.

use proptest::option;
use proptest::prelude::*;

use super::*;
use crate::fuzz::{self, decode, encode, mutation};
use crate::serde::Serdes;

fn any_instruction() -> impl Strategy<Value = Instruction> {
    (0u8..4).prop_filter_map("an instruction code", Instruction::from_code)
}

fn any_subscription() -> impl Strategy<Value = Subscription<String>> {
    (
        option::of(any::<[u64; 2]>()),
        any_instruction(),
        ".{0,12}",
        option::of(0..=i32::MAX),
    )
        .prop_map(
            |(hash, instruction, primary_key, primary_partition)| Subscription {
                hash,
                instruction,
                primary_key,
                primary_partition,
            },
        )
}

fn any_response() -> impl Strategy<Value = Response<String>> {
    (
        option::of(any::<[u64; 2]>()),
        option::of(".{0,12}"),
        option::of(0..=i32::MAX),
    )
        .prop_map(|(hash, foreign_value, primary_partition)| Response {
            hash,
            foreign_value,
            primary_partition,
        })
}

/// A record read back must write and read back as itself.
fn stable<T: Clone + PartialEq + std::fmt::Debug>(
    serde: &SharedSerde<T>,
    value: &T,
) -> Result<(), TestCaseError> {
    let again = decode(serde, encode(serde, value).as_deref());
    prop_assert_eq!(again, Ok(Some(value.clone())));
    Ok(())
}

proptest! {
    #![proptest_config(fuzz::config())]

    #[test]
    fn subscriptions_round_trip(s in any_subscription()) {
        stable(&SubscriptionSerde::shared(Serdes::string()), &s)?;
    }

    #[test]
    fn responses_round_trip(r in any_response()) {
        stable(&ResponseSerde::shared(Serdes::string()), &r)?;
    }

    #[test]
    fn any_bytes_read_as_a_record_or_an_error(bytes in fuzz::bytes(48)) {
        let subs = SubscriptionSerde::shared(Serdes::string());
        if let Ok(Some(s)) = decode(&subs, Some(&bytes)) {
            stable(&subs, &s)?;
        }
        let resp = ResponseSerde::shared(Serdes::string());
        if let Ok(Some(r)) = decode(&resp, Some(&bytes)) {
            stable(&resp, &r)?;
        }
    }

    #[test]
    fn mutated_subscriptions_read_as_one_or_an_error(s in any_subscription(), m in mutation()) {
        let serde = SubscriptionSerde::shared(Serdes::string());
        let bytes = m.apply(&encode(&serde, &s).unwrap_or_default());
        if let Ok(Some(s)) = decode(&serde, Some(&bytes)) {
            stable(&serde, &s)?;
        }
    }

    #[test]
    fn mutated_responses_read_as_one_or_an_error(r in any_response(), m in mutation()) {
        let serde = ResponseSerde::shared(Serdes::string());
        let bytes = m.apply(&encode(&serde, &r).unwrap_or_default());
        if let Ok(Some(r)) = decode(&serde, Some(&bytes)) {
            stable(&serde, &r)?;
        }
    }

    #[test]
    fn foreign_key_store_prefixes_hold_the_key_and_its_length(fk in fuzz::bytes(40)) {
        let prefix = store_prefix(&fk).unwrap();
        prop_assert_eq!(&prefix[..4], &(fk.len() as u32).to_be_bytes()[..]);
        prop_assert_eq!(&prefix[4..], &fk[..]);
    }
}
