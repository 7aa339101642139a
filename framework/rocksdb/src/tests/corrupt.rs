//! Damaged store files: the committed changelog offset in the meta column
//! family is decoded from whatever bytes the files hold. Any bytes that are
//! not an 8-byte offset are a store error naming the store, never a panic;
//! any 8 bytes are an offset (restoration copes with every value).

use rocksdb::{Options, DB};
use weir_core::store::{KeyValueBytesStore, WriteBatch};

use super::budget;
use crate::{RocksDbBytesStore, META_COLUMN_FAMILY};

/// The key the store keeps its offset under (private to the store).
const OFFSET_KEY: &[u8] = b"changelog-offset";

/// Writes `raw` as the offset of a closed store at `path`, behind its back.
fn damage(path: &std::path::Path, raw: &[u8]) {
    let families = DB::list_cf(&Options::default(), path).unwrap();
    let db = DB::open_cf(&Options::default(), path, &families).unwrap();
    let meta = db.cf_handle(META_COLUMN_FAMILY).unwrap();
    db.put_cf(meta, OFFSET_KEY, raw).unwrap();
}

#[test]
fn a_damaged_changelog_offset_is_a_store_error_and_any_8_bytes_an_offset() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    let mut store = RocksDbBytesStore::open("s", &path, budget()).unwrap();
    let mut batch = WriteBatch::new();
    batch.put(b"k".to_vec(), b"v".to_vec()).set_offset(3);
    store.write(batch).unwrap();
    store.close().unwrap();
    drop(store);
    let cases: [&[u8]; 7] = [
        b"",
        &[1],
        &[0; 7],
        &[0; 9],
        b"not an offset at all",
        &[0xff; 8],
        &[0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
    ];
    for raw in cases {
        damage(&path, raw);
        let store = RocksDbBytesStore::open("s", &path, budget()).unwrap();
        match <[u8; 8]>::try_from(raw) {
            Ok(eight) => assert_eq!(
                store.committed_offset().unwrap(),
                Some(i64::from_be_bytes(eight))
            ),
            Err(_) => match store.committed_offset() {
                Err(weir_core::Error::Store { store, message }) => {
                    assert_eq!(store, "s");
                    assert!(message.contains("changelog offset"), "{message}");
                }
                other => panic!("{raw:?}: expected a store error, got {other:?}"),
            },
        }
        // The data is still there.
        assert_eq!(store.get(b"k").unwrap(), Some(b"v".to_vec()));
    }
}
