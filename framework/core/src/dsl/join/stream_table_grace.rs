//! The grace buffer of a stream-table join (Kafka Streams' KIP-923,
//! `RocksDBTimeOrderedKeyValueBuffer`): stream records wait in a logged,
//! time-ordered store until stream time passes their timestamp plus the
//! grace period, then leave in timestamp order, each to be joined with the
//! (versioned) table as of its own timestamp.
//!
//! Store rows (a key-value store of bytes, change-logged, not cached):
//!
//! ```text
//! record:        timestamp : 8 (order-preserving) | key | seq : 4 BE
//!                  -> value_len : 4 BE | value | header count : 4 BE | headers
//! stream time:   (empty key) -> observed : 8 BE
//! ```
//!
//! Time first, then the key's bytes, then a sequence number, as Kafka
//! Streams' time-first window key: records with equal timestamps leave by
//! key bytes, then arrival.

use std::sync::Arc;
use std::time::Duration;

use super::{Joined, ValueGetter};

use crate::error::{Error, Result};
use crate::headers::Headers;
use crate::processor::ProcessorContext;
use crate::record::Record;
use crate::serde::{SerdeContext, Serdes, SerializeContext, SharedSerde};
use crate::store::{KeyValueStore, KeyValueStoreBuilder};

/// The row holding the buffer's observed stream time.
const STREAM_TIME_KEY: &[u8] = &[];

fn ordered(t: i64) -> [u8; 8] {
    (u64::from_ne_bytes(t.to_ne_bytes()) ^ (1 << 63)).to_be_bytes()
}

fn unordered(b: [u8; 8]) -> i64 {
    i64::from_ne_bytes((u64::from_be_bytes(b) ^ (1 << 63)).to_ne_bytes())
}

/// The store of a grace buffer called `name`: bytes to bytes, logged
/// (restored after a restart, so buffered records are not lost), never
/// cached, on the runtime's default backend.
pub(crate) fn grace_store_builder(name: &str) -> KeyValueStoreBuilder<Vec<u8>, Vec<u8>> {
    KeyValueStoreBuilder::new(name, Serdes::bytes(), Serdes::bytes())
        .with_logging(true)
        .with_caching(false)
}

/// The grace buffer of one join processor: its store's name, the grace
/// period, the stream's serdes, and the buffer's stream time (the newest
/// timestamp buffered; records joined at once do not advance it, as in
/// Kafka Streams).
pub(crate) struct GraceBuffer<K, V> {
    store: String,
    grace_ms: i64,
    key_serde: SharedSerde<K>,
    value_serde: SharedSerde<V>,
    /// Read from the store on first use: (observed stream time, next seq).
    state: Option<(Option<i64>, u32)>,
}

/// The grace buffer of join `name` over the table `table` (read through
/// `getter`), if `joined` asks for a grace period: in store
/// `<name>-Buffer`, as Kafka Streams names it. The build fails (the
/// message) unless the table is versioned with a history retention of at
/// least the grace period (as Kafka Streams) and `joined` has the stream's
/// serdes, which the buffer's store needs.
pub(crate) fn grace_buffer<K: 'static, V, VT: 'static>(
    name: &str,
    table: &str,
    getter: &ValueGetter<K, VT>,
    joined: &Joined<K, V, VT>,
) -> std::result::Result<Option<GraceBuffer<K, V>>, String> {
    let Some(grace) = joined.grace else {
        return Ok(None);
    };
    let Some(history_ms) = getter.history_retention_ms() else {
        return Err(format!(
            "join '{name}': a grace period needs a versioned table (Materialized::as_versioned), \
             and '{table}' is not one"
        ));
    };
    let grace_ms = i64::try_from(grace.as_millis()).unwrap_or(i64::MAX);
    if history_ms < grace_ms {
        return Err(format!(
            "join '{name}': the history retention of table '{table}' ({history_ms} ms) must be \
             at least the grace period ({grace_ms} ms)"
        ));
    }
    let (Some(key_serde), Some(value_serde)) = (&joined.key_serde, &joined.value_serde) else {
        return Err(format!(
            "join '{name}': a grace period buffers the stream's records, so the join needs \
             the stream's serdes (Joined::with)"
        ));
    };
    Ok(Some(GraceBuffer::new(
        format!("{name}-Buffer"),
        grace,
        Arc::clone(key_serde),
        Arc::clone(value_serde),
    )))
}

impl<K, V> GraceBuffer<K, V> {
    /// The same buffer for another processor instance, its state unread.
    pub(crate) fn fresh(&self) -> Self {
        GraceBuffer {
            store: self.store.clone(),
            grace_ms: self.grace_ms,
            key_serde: Arc::clone(&self.key_serde),
            value_serde: Arc::clone(&self.value_serde),
            state: None,
        }
    }

    /// The name of the buffer's store.
    pub(crate) fn store(&self) -> &str {
        &self.store
    }

    /// A buffer in store `store` holding records `grace` behind its stream time.
    pub(crate) fn new(
        store: impl Into<String>,
        grace: Duration,
        key_serde: SharedSerde<K>,
        value_serde: SharedSerde<V>,
    ) -> Self {
        GraceBuffer {
            store: store.into(),
            grace_ms: i64::try_from(grace.as_millis()).unwrap_or(i64::MAX),
            key_serde,
            value_serde,
            state: None,
        }
    }

    fn error(&self, message: impl Into<String>) -> Error {
        Error::Store {
            store: self.store.clone(),
            message: message.into(),
        }
    }

    /// The observed stream time and next sequence number, read from the
    /// store (a restored buffer) on first use.
    fn state(&mut self, store: &dyn KeyValueStore<Vec<u8>, Vec<u8>>) -> Result<(Option<i64>, u32)> {
        if let Some(state) = self.state {
            return Ok(state);
        }
        let observed = match store.get(&STREAM_TIME_KEY.to_vec())? {
            Some(raw) => {
                Some(i64::from_be_bytes(raw.as_slice().try_into().map_err(
                    |_| self.error("malformed grace buffer stream time"),
                )?))
            }
            None => None,
        };
        let mut seq = 0u32;
        for kv in store.range(Some(&ordered(i64::MIN).to_vec()), None)? {
            let (k, _) = kv?;
            if let Some(s) = k.get(k.len().saturating_sub(4)..) {
                let s: [u8; 4] = s.try_into().unwrap_or([0; 4]);
                seq = seq.max(u32::from_be_bytes(s).wrapping_add(1) & 0x7fff_ffff);
            }
        }
        let state = (observed, seq);
        self.state = Some(state);
        Ok(state)
    }

    /// Buffers `record` (key and value present), or gives it back to be
    /// joined at once when it is older than the buffer's stream time minus
    /// the grace period (Kafka Streams: `observed - grace > timestamp`).
    pub(crate) fn put<KO, VO>(
        &mut self,
        ctx: &mut dyn ProcessorContext<KO, VO>,
        record: Record<K, V>,
    ) -> Result<Option<Record<K, V>>> {
        let store = ctx
            .state_store(&self.store)?
            .as_key_value_store::<Vec<u8>, Vec<u8>>()?;
        let (observed, seq) = self.state(store)?;
        let ts = record.timestamp;
        if observed.is_some_and(|o| o.saturating_sub(self.grace_ms) > ts) {
            return Ok(Some(record));
        }
        let (Some(key), Some(value)) = (&record.key, &record.value) else {
            return Ok(Some(record));
        };
        let mut headers = Headers::new();
        let key_bytes = self
            .key_serde
            .serialize(&mut SerializeContext::key(&self.store, &mut headers), key)?
            .ok_or_else(|| self.error("a buffered key cannot serialize to null"))?;
        let value_bytes = self
            .value_serde
            .serialize(
                &mut SerializeContext::value(&self.store, &mut headers),
                value,
            )?
            .ok_or_else(|| self.error("a buffered value cannot serialize to null"))?;
        let mut row = Vec::with_capacity(key_bytes.len() + 12);
        row.extend_from_slice(&ordered(ts));
        row.extend_from_slice(&key_bytes);
        row.extend_from_slice(&seq.to_be_bytes());
        store.put(
            &row,
            &encode_value(&value_bytes, &record.headers, &self.store)?,
        )?;
        let observed = observed.map_or(ts, |o| o.max(ts));
        store.put(&STREAM_TIME_KEY.to_vec(), &observed.to_be_bytes().to_vec())?;
        self.state = Some((Some(observed), seq.wrapping_add(1) & 0x7fff_ffff));
        Ok(None)
    }

    /// Removes and returns the buffered records whose time has come
    /// (timestamp <= stream time - grace), in timestamp order.
    pub(crate) fn evict<KO, VO>(
        &mut self,
        ctx: &mut dyn ProcessorContext<KO, VO>,
    ) -> Result<Vec<Record<K, V>>> {
        let store = ctx
            .state_store(&self.store)?
            .as_key_value_store::<Vec<u8>, Vec<u8>>()?;
        let (Some(observed), _) = self.state(store)? else {
            return Ok(Vec::new());
        };
        let cutoff = observed.saturating_sub(self.grace_ms);
        let upper = ordered(cutoff.saturating_add(1)).to_vec();
        let mut due = Vec::new();
        for kv in store.range(Some(&ordered(i64::MIN).to_vec()), Some(&upper))? {
            let (row, value) = kv?;
            if row.len() >= 12 && row < upper {
                due.push((row, value));
            }
        }
        let mut records = Vec::with_capacity(due.len());
        for (row, value) in due {
            store.delete(&row)?;
            records.push(self.decode(&row, &value)?);
        }
        Ok(records)
    }

    fn decode(&self, row: &[u8], value: &[u8]) -> Result<Record<K, V>> {
        let malformed = || self.error("malformed grace buffer row");
        let ts_bytes: [u8; 8] = row
            .get(..8)
            .and_then(|b| b.try_into().ok())
            .ok_or_else(malformed)?;
        let key_bytes = row.get(8..row.len() - 4).ok_or_else(malformed)?;
        let (value_bytes, headers) = decode_value(value).ok_or_else(malformed)?;
        let key = self
            .key_serde
            .deserialize(&SerdeContext::key(&self.store, &headers), Some(key_bytes))?;
        let value = self.value_serde.deserialize(
            &SerdeContext::value(&self.store, &headers),
            Some(&value_bytes),
        )?;
        Ok(Record::from_parts(key, value, unordered(ts_bytes), headers))
    }
}

fn length(bytes: &[u8], store: &str) -> Result<[u8; 4]> {
    u32::try_from(bytes.len())
        .map(u32::to_be_bytes)
        .map_err(|_| Error::Store {
            store: store.to_string(),
            message: "a buffered value or header longer than 4 GiB".to_string(),
        })
}

/// `value_len | value | header count | (key_len | key | present | [len | value])*`
fn encode_value(value: &[u8], headers: &Headers, store: &str) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(value.len() + 8);
    out.extend_from_slice(&length(value, store)?);
    out.extend_from_slice(value);
    let count = u32::try_from(headers.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&count.to_be_bytes());
    for (key, v) in headers {
        out.extend_from_slice(&length(key.as_bytes(), store)?);
        out.extend_from_slice(key.as_bytes());
        match v {
            Some(v) => {
                out.push(1);
                out.extend_from_slice(&length(v, store)?);
                out.extend_from_slice(v);
            }
            None => out.push(0),
        }
    }
    Ok(out)
}

/// Reads a buffered value's parts in order.
struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = (self.0.get(..n)?, self.0.get(n..)?);
        self.0 = rest;
        Some(head)
    }

    fn len(&mut self) -> Option<usize> {
        let b: [u8; 4] = self.take(4)?.try_into().ok()?;
        usize::try_from(u32::from_be_bytes(b)).ok()
    }

    fn bytes(&mut self) -> Option<&'a [u8]> {
        let n = self.len()?;
        self.take(n)
    }
}

fn decode_value(raw: &[u8]) -> Option<(Vec<u8>, Headers)> {
    let mut c = Cursor(raw);
    let value = c.bytes()?.to_vec();
    let count = c.len()?;
    let mut headers = Headers::new();
    for _ in 0..count {
        let key = String::from_utf8(c.bytes()?.to_vec()).ok()?;
        let v = match c.take(1)?.first()? {
            1 => Some(c.bytes()?.to_vec()),
            _ => None,
        };
        headers.add(key, v);
    }
    Some((value, headers))
}

#[cfg(test)]
#[path = "stream_table_grace_proptests.rs"]
mod proptests;

#[cfg(test)]
#[path = "stream_table_grace_tests.rs"]
mod tests;
