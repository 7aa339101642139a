//! Unit tests of the store layers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod caching;
mod decode_keys;
mod decode_restore;
mod defaults;
mod join_window;
mod logging;
mod memory;
mod metered;
mod range_delete;
mod session;
mod thread_cache;
mod timestamped;
mod versioned;
mod window;
mod window_topology;
mod windowed_support;

use super::{BytesIter, KeyValueBytesStore, WriteBatch};

fn b(s: &str) -> Vec<u8> {
    s.as_bytes().to_vec()
}

/// Collects a bytes iterator as (key, value) strings.
fn strings(iter: BytesIter<'_>) -> Vec<(String, String)> {
    iter.map(|kv| {
        let (k, v) = kv.unwrap();
        (String::from_utf8(k).unwrap(), String::from_utf8(v).unwrap())
    })
    .collect()
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn put(store: &mut dyn KeyValueBytesStore, key: &str, value: &str) {
    let mut batch = WriteBatch::new();
    batch.put(b(key), b(value));
    store.write(batch).unwrap();
}

fn delete(store: &mut dyn KeyValueBytesStore, key: &str) {
    let mut batch = WriteBatch::new();
    batch.delete(b(key));
    store.write(batch).unwrap();
}
