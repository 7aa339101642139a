//! Property tests of [`ChangeSerde`]: changes round-trip; arbitrary and
//! near-valid bytes read as a change or an error, never a panic.

use proptest::option;
use proptest::prelude::*;

use super::*;
use crate::fuzz::{self, decode, encode, mutation};
use crate::Serdes;

fn serde() -> ChangeSerde<String> {
    ChangeSerde {
        inner: Serdes::string(),
    }
}

fn any_change() -> impl Strategy<Value = Change<String>> {
    (option::of(".{0,12}"), option::of(".{0,12}"), any::<bool>())
        .prop_map(|(new, old, latest)| Change::new(new, old).with_latest(latest))
}

/// A change read back must write and read back as itself.
fn stable(change: &Change<String>) -> Result<(), TestCaseError> {
    let again = decode(&serde(), encode(&serde(), change).as_deref());
    prop_assert_eq!(again, Ok(Some(change.clone())));
    Ok(())
}

proptest! {
    #![proptest_config(fuzz::config())]

    #[test]
    fn changes_round_trip(change in any_change()) {
        stable(&change)?;
    }

    #[test]
    fn any_bytes_read_as_a_change_or_an_error(bytes in fuzz::bytes(40)) {
        if let Ok(Some(change)) = decode(&serde(), Some(&bytes)) {
            stable(&change)?;
        }
    }

    #[test]
    fn mutated_changes_read_as_a_change_or_an_error(change in any_change(), m in mutation()) {
        let bytes = m.apply(&encode(&serde(), &change).unwrap_or_default());
        if let Ok(Some(change)) = decode(&serde(), Some(&bytes)) {
            stable(&change)?;
        }
    }

    #[test]
    fn an_old_value_length_past_the_end_is_an_error(
        flags in 0u8..8,
        len in 1u32..=u32::MAX,
        tail in fuzz::bytes(16),
    ) {
        let mut bytes = vec![flags];
        bytes.extend_from_slice(&len.to_be_bytes());
        bytes.extend_from_slice(&tail);
        let fits = usize::try_from(len).is_ok_and(|l| l <= tail.len());
        if !fits {
            prop_assert!(decode(&serde(), Some(&bytes)).is_err());
        }
    }
}
