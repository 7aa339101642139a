//! The RocksDB store against the in-memory reference store: the same
//! random operations, the same answers.

use weir_core::store::{InMemoryBytesStore, KeyValueBytesStore, WriteBatch};

use super::{budget, collect};
use crate::RocksDbBytesStore;

/// xorshift64*: a fixed-seed generator, enough to pick operations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// A short key over bytes that stress the bounds: 0x00, 0xff and neighbours.
    fn key(&mut self) -> Vec<u8> {
        const ALPHABET: [u8; 6] = [0x00, 0x01, b'a', b'b', 0xfe, 0xff];
        let len = self.below(4) as usize;
        (0..len)
            .map(|_| ALPHABET[self.below(ALPHABET.len() as u64) as usize])
            .collect()
    }

    fn maybe_key(&mut self) -> Option<Vec<u8>> {
        (self.below(5) > 0).then(|| self.key())
    }
}

#[test]
fn same_results_as_the_in_memory_store() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    let mut rocks = RocksDbBytesStore::open("cmp", &path, budget()).unwrap();
    let mut memory = InMemoryBytesStore::new("cmp");
    let mut rng = Rng(0x5eed_cafe_f00d_0001);
    let mut offset = 0;
    for step in 0..2000 {
        match rng.below(10) {
            0..=3 => {
                let mut batch = WriteBatch::new();
                for _ in 0..=rng.below(5) {
                    let key = rng.key();
                    if rng.below(3) == 0 {
                        batch.delete(key);
                    } else {
                        let value = rng.next().to_le_bytes()[..rng.below(9) as usize].to_vec();
                        batch.put(key, value);
                    }
                }
                if rng.below(2) == 0 {
                    offset += 1;
                    batch.set_offset(offset);
                }
                rocks.write(batch.clone()).unwrap();
                memory.write(batch).unwrap();
            }
            4 => {
                let key = rng.key();
                assert_eq!(
                    rocks.get(&key).unwrap(),
                    memory.get(&key).unwrap(),
                    "step {step}: get {key:?}"
                );
            }
            5 | 6 => {
                let (from, to, reverse) = (rng.maybe_key(), rng.maybe_key(), rng.below(2) == 0);
                assert_eq!(
                    collect(
                        rocks
                            .range(from.as_deref(), to.as_deref(), reverse)
                            .unwrap()
                    ),
                    collect(
                        memory
                            .range(from.as_deref(), to.as_deref(), reverse)
                            .unwrap()
                    ),
                    "step {step}: range {from:?}..={to:?} reverse {reverse}"
                );
            }
            7 => {
                let prefix = rng.key();
                assert_eq!(
                    collect(rocks.prefix_scan(&prefix).unwrap()),
                    collect(memory.prefix_scan(&prefix).unwrap()),
                    "step {step}: prefix {prefix:?}"
                );
            }
            8 => {
                assert_eq!(
                    collect(rocks.all().unwrap()),
                    collect(memory.all().unwrap()),
                    "step {step}: all"
                );
                assert_eq!(
                    rocks.committed_offset().unwrap(),
                    memory.committed_offset().unwrap()
                );
            }
            _ => {
                // Move data to table files, or close and reopen.
                if rng.below(3) == 0 {
                    rocks.close().unwrap();
                    rocks = RocksDbBytesStore::open("cmp", &path, budget()).unwrap();
                } else {
                    rocks.flush().unwrap();
                }
            }
        }
    }
    assert_eq!(
        collect(rocks.all().unwrap()),
        collect(memory.all().unwrap())
    );
    assert_eq!(rocks.committed_offset().unwrap(), Some(offset));
}
