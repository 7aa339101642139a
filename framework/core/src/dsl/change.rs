//! [`Change`]: what flows between the nodes of a KTable, and its framed
//! serde for repartition topics.

use crate::error::Result;
use crate::serde::{Deserializer, SerdeContext, SerializeContext, Serializer, SharedSerde};

/// An update of one key of a table: the value after it and the value before
/// it (Kafka Streams' `Change`). `new: None` is a delete (tombstone);
/// `old: None` means the key had no value. Aggregations over a table use
/// `old` to retract what the key contributed before.
///
/// A `KTable<K, V>`'s nodes forward `Record<K, Change<V>>`; `to_stream` turns
/// them back into plain records of the new values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change<V> {
    /// The value after the update; `None` deletes the key.
    pub new: Option<V>,
    /// The value before the update; `None` if the key had none.
    pub old: Option<V>,
    /// Whether the update is the key's latest by timestamp (Kafka Streams'
    /// `isLatest`): `false` only for an update a versioned table stored out
    /// of order, in its history. Table-table joins and `KTable::group_by`
    /// skip such updates; `to_stream` shows them.
    pub is_latest: bool,
}

impl<V> Change<V> {
    /// A change from `old` to `new`.
    pub fn new(new: Option<V>, old: Option<V>) -> Self {
        Change {
            new,
            old,
            is_latest: true,
        }
    }

    /// The same change, marked the key's latest update or not (see
    /// [`is_latest`](Self::is_latest)).
    pub fn with_latest(mut self, is_latest: bool) -> Self {
        self.is_latest = is_latest;
        self
    }
}

/// Writes a [`Change`] as one framed value, with the inner value serde for
/// each side: a flags byte (bit 0: old present, bit 1: new present), the old
/// value's length as 4 big-endian bytes, the old value's bytes, then the new
/// value's bytes. A side whose serde writes null counts as absent. Bit 2 of
/// the flags marks a change that is not the latest (see
/// [`Change::is_latest`]).
pub(crate) struct ChangeSerde<V> {
    pub(crate) inner: SharedSerde<V>,
}

const OLD: u8 = 1;
const NEW: u8 = 2;
const NOT_LATEST: u8 = 4;

impl<V> Serializer<Change<V>> for ChangeSerde<V> {
    fn serialize(
        &self,
        ctx: &mut SerializeContext<'_>,
        value: &Change<V>,
    ) -> Result<Option<Vec<u8>>> {
        let old = match &value.old {
            Some(v) => self.inner.serialize(ctx, v)?,
            None => None,
        };
        let new = match &value.new {
            Some(v) => self.inner.serialize(ctx, v)?,
            None => None,
        };
        let mut flags = 0;
        if old.is_some() {
            flags |= OLD;
        }
        if new.is_some() {
            flags |= NEW;
        }
        if !value.is_latest {
            flags |= NOT_LATEST;
        }
        let old = old.unwrap_or_default();
        let new = new.unwrap_or_default();
        let old_len = u32::try_from(old.len())
            .map_err(|_| ctx.error("an old value longer than 4 GiB cannot be framed"))?;
        let mut out = Vec::with_capacity(5 + old.len() + new.len());
        out.push(flags);
        out.extend_from_slice(&old_len.to_be_bytes());
        out.extend_from_slice(&old);
        out.extend_from_slice(&new);
        Ok(Some(out))
    }
}

impl<V> Deserializer<Change<V>> for ChangeSerde<V> {
    fn deserialize(
        &self,
        ctx: &SerdeContext<'_>,
        bytes: Option<&[u8]>,
    ) -> Result<Option<Change<V>>> {
        let Some(bytes) = bytes else {
            return Ok(None);
        };
        let (&flags, rest) = bytes
            .split_first()
            .ok_or_else(|| ctx.error("an empty framed change"))?;
        if flags & !(OLD | NEW | NOT_LATEST) != 0 || rest.len() < 4 {
            return Err(ctx.error("not a framed change"));
        }
        let (len, rest) = rest.split_at(4);
        let mut len_bytes = [0u8; 4];
        len_bytes.copy_from_slice(len);
        let old_len = u32::from_be_bytes(len_bytes) as usize;
        if rest.len() < old_len {
            return Err(ctx.error("a framed change shorter than its old value"));
        }
        let (old, new) = rest.split_at(old_len);
        let old = if flags & OLD != 0 {
            self.inner.deserialize(ctx, Some(old))?
        } else {
            None
        };
        let new = if flags & NEW != 0 {
            self.inner.deserialize(ctx, Some(new))?
        } else {
            None
        };
        Ok(Some(
            Change::new(new, old).with_latest(flags & NOT_LATEST == 0),
        ))
    }
}

#[cfg(test)]
#[path = "change_proptests.rs"]
mod proptests;

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::{Headers, Serdes};

    fn round_trip(change: Change<String>) -> Change<String> {
        let serde = ChangeSerde {
            inner: Serdes::string(),
        };
        let serde: SharedSerde<Change<String>> = Arc::new(serde);
        let mut headers = Headers::new();
        let bytes = serde
            .serialize(&mut SerializeContext::value("t", &mut headers), &change)
            .unwrap();
        serde
            .deserialize(&SerdeContext::value("t", &headers), bytes.as_deref())
            .unwrap()
            .unwrap()
    }

    #[test]
    fn changes_round_trip_with_either_side_absent() {
        for change in [
            Change::new(Some("new".to_string()), Some("old".to_string())),
            Change::new(Some("new".to_string()), None),
            Change::new(None, Some("old".to_string())),
            Change::new(None, None),
            Change::new(Some(String::new()), Some(String::new())),
            Change::new(Some("older".to_string()), Some("latest".to_string())).with_latest(false),
        ] {
            assert_eq!(round_trip(change.clone()), change);
        }
    }

    #[test]
    fn bad_frames_are_errors_not_panics() {
        let serde = ChangeSerde {
            inner: Serdes::string(),
        };
        let headers = Headers::new();
        let ctx = SerdeContext::value("t", &headers);
        for bad in [
            &[][..],
            &[9, 0, 0, 0, 0],
            &[1, 0, 0],
            &[1, 0, 0, 0, 9, b'a'],
        ] {
            assert!(serde.deserialize(&ctx, Some(bad)).is_err(), "{bad:?}");
        }
    }
}
