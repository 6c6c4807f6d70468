//! The Internet checksum (RFC 1071) and the pseudo-headers of RFC 768/793 and RFC 8200 §8.1.
//!
//! Sums are kept unfolded in a `u64` so that callers can add several pieces (pseudo-header,
//! header, payload) before folding; a `u64` cannot overflow for any IP-sized input.

use std::net::IpAddr;

/// Unfolded one's-complement sum of `data` taken as big-endian 16-bit words; an odd final byte
/// is padded with a zero byte. `data` must start at an even offset of the checksummed region.
///
/// Eight bytes are added at a time, as two 32-bit halves: 2^16 is 1 modulo 0xffff, so a
/// 32-bit big-endian word is congruent to the sum of its two 16-bit words and [`fold`] gives
/// the same result (RFC 1071 §2 (B)). The unfolded value differs from a 16-bit sum's; every
/// caller folds it.
pub fn sum(data: &[u8]) -> u64 {
    let mut wide = data.chunks_exact(8);
    let mut acc = 0u64;
    for c in &mut wide {
        let w = u64::from_be_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        acc += (w >> 32) + (w & 0xffff_ffff);
    }
    let mut chunks = wide.remainder().chunks_exact(2);
    for c in &mut chunks {
        acc += u64::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [b] = chunks.remainder() {
        acc += u64::from(*b) << 8;
    }
    acc
}

/// Fold carries back in (end-around carry), giving the 16-bit one's-complement sum.
#[inline]
pub fn fold(mut acc: u64) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

/// The checksum field value for `data` (with its checksum field zeroed).
pub fn checksum(data: &[u8]) -> u16 {
    !fold(sum(data))
}

/// True if `data`, checksum field included, sums to all ones.
pub fn verify(data: &[u8]) -> bool {
    fold(sum(data)) == 0xffff
}

/// One's-complement addition of two 16-bit values.
#[inline]
pub fn ones_add(a: u16, b: u16) -> u16 {
    fold(u64::from(a) + u64::from(b))
}

/// Unfolded sum of the pseudo-header used by UDP, TCP (both families) and ICMPv6.
/// `len` is the upper-layer length (header + payload). Mixed families contribute only the
/// addresses they have; builders reject mixed families before getting here.
pub fn pseudo_header_sum(src: IpAddr, dst: IpAddr, proto: u8, len: u32) -> u64 {
    let mut acc = 0u64;
    for a in [src, dst] {
        acc += match a {
            IpAddr::V4(a) => sum(&a.octets()),
            IpAddr::V6(a) => sum(&a.octets()),
        };
    }
    // IPv4 uses a 16-bit length and IPv6 a 32-bit one; summed as words both come out the same.
    acc + u64::from(len >> 16) + u64::from(len & 0xffff) + u64::from(proto)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wide_sum_folds_like_the_word_by_word_sum() {
        fn by_words(data: &[u8]) -> u64 {
            data.chunks(2)
                .map(|c| u64::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
                .sum()
        }
        let mut seed = 1u64;
        let mut byte = move || {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            (seed >> 56) as u8
        };
        for len in 0..200 {
            for fill in [None, Some(0x00), Some(0xff)] {
                let data: Vec<u8> = (0..len).map(|_| fill.unwrap_or_else(&mut byte)).collect();
                assert_eq!(
                    fold(sum(&data)),
                    fold(by_words(&data)),
                    "len {len} {fill:?}"
                );
                assert_eq!(sum(&data) == 0, by_words(&data) == 0);
            }
        }
    }

    #[test]
    fn rfc1071_example() {
        // RFC 1071 §3: the bytes 00 01 f2 03 f4 f5 f6 f7 sum to 0xddf2.
        let d = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(fold(sum(&d)), 0xddf2);
        assert_eq!(checksum(&d), 0x220d);
    }

    #[test]
    fn known_ipv4_header() {
        // A widely published example header whose checksum field is 0xb861.
        let mut h = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert_eq!(checksum(&h), 0xb861);
        h[10] = 0xb8;
        h[11] = 0x61;
        assert!(verify(&h));
    }

    #[test]
    fn odd_length_pads_with_zero() {
        assert_eq!(sum(&[0x12, 0x34, 0x56]), 0x1234 + 0x5600);
    }

    #[test]
    fn ones_add_wraps_carry() {
        assert_eq!(ones_add(0xffff, 0x0001), 0x0001);
        assert_eq!(ones_add(0x8000, 0x8000), 0x0001);
    }

    #[test]
    fn pseudo_header_v4() {
        let s = "10.0.0.1".parse().unwrap();
        let d = "10.0.0.2".parse().unwrap();
        // 0x0a00 + 0x0001 + 0x0a00 + 0x0002 + 17 + 12, worked by hand.
        assert_eq!(
            pseudo_header_sum(s, d, 17, 12),
            0x0a00 + 1 + 0x0a00 + 2 + 17 + 12
        );
    }
}
