//! The hash of a left value that travels with a subscription and comes back
//! with its response: MurmurHash3 x64 128-bit of the value's serialized
//! bytes, with Kafka Streams' seed (104729), as its foreign-key join uses.

/// A 128-bit value hash, as two 64-bit halves.
pub(crate) type ValueHash = [u64; 2];

const SEED: u64 = 104_729;
const C1: u64 = 0x87c3_7b91_1142_53d5;
const C2: u64 = 0x4cf5_ad43_2745_937f;

fn fmix(mut k: u64) -> u64 {
    k ^= k >> 33;
    k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
    k ^= k >> 33;
    k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    k ^ (k >> 33)
}

fn mix_k1(k1: u64) -> u64 {
    k1.wrapping_mul(C1).rotate_left(31).wrapping_mul(C2)
}

fn mix_k2(k2: u64) -> u64 {
    k2.wrapping_mul(C2).rotate_left(33).wrapping_mul(C1)
}

/// Little-endian u64 of up to 8 bytes.
fn le(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .enumerate()
        .fold(0, |acc, (i, &b)| acc | (u64::from(b) << (8 * i)))
}

/// MurmurHash3 x64 128 of `data`.
pub(crate) fn hash128(data: &[u8]) -> ValueHash {
    let (mut h1, mut h2) = (SEED, SEED);
    let mut blocks = data.chunks_exact(16);
    for block in &mut blocks {
        let (a, b) = block.split_at(8);
        h1 ^= mix_k1(le(a));
        h1 = h1
            .rotate_left(27)
            .wrapping_add(h2)
            .wrapping_mul(5)
            .wrapping_add(0x52dc_e729);
        h2 ^= mix_k2(le(b));
        h2 = h2
            .rotate_left(31)
            .wrapping_add(h1)
            .wrapping_mul(5)
            .wrapping_add(0x3849_5ab5);
    }
    let tail = blocks.remainder();
    if tail.len() > 8 {
        h2 ^= mix_k2(le(&tail[8..]));
    }
    if !tail.is_empty() {
        h1 ^= mix_k1(le(&tail[..tail.len().min(8)]));
    }
    let len = data.len() as u64;
    h1 ^= len;
    h2 ^= len;
    h1 = h1.wrapping_add(h2);
    h2 = h2.wrapping_add(h1);
    h1 = fmix(h1);
    h2 = fmix(h2);
    h1 = h1.wrapping_add(h2);
    h2 = h2.wrapping_add(h1);
    [h1, h2]
}

#[cfg(test)]
mod tests {
    use super::hash128;

    /// Values printed by Kafka Streams 4.3.1's own `Murmur3.hash128`.
    #[test]
    fn matches_kafka_streams_murmur3() {
        let cases: [(&str, u64, u64); 6] = [
            ("", 0x9d27_64a0_18e3_2942, 0x8c3c_f3b0_3593_8518),
            ("a", 0x3361_634e_7e0f_5188, 0xe9c7_dda2_4eae_326b),
            ("hello", 0x30bf_b4f3_9919_e764, 0x566a_ea85_7401_d1c6),
            (
                "The quick brown fox jumps over the lazy dog",
                0xe74c_5921_af0f_99c8,
                0xb7f8_5ec8_1df0_6726,
            ),
            (
                "0123456789abcdef0",
                0x85e3_069a_748c_16b6,
                0xbc8c_0a28_3538_abb8,
            ),
            (
                "lhsValue1|rhs1",
                0x73de_e344_b3a8_e513,
                0x289c_8341_c647_2e8f,
            ),
        ];
        for (input, h1, h2) in cases {
            assert_eq!(hash128(input.as_bytes()), [h1, h2], "{input:?}");
        }
    }
}
