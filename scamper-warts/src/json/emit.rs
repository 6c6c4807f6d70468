//! Appending JSON pieces to a byte buffer without `core::fmt`: the ping and trace writers'
//! hot path (numbers, timevals, RTTs and addresses are most of every line).

use std::io::Write;

use crate::addr::Addr;
use crate::timeval::Timeval;

const ASCII_ZEROS: u64 = 0x3030_3030_3030_3030;

/// The eight decimal digits of `v` (< 10^8, zero-padded) as byte values 0..=9 in one u64,
/// most significant digit in the lowest byte (so `to_le_bytes` gives them in print order).
/// Splits all lanes at once with multiply-shift division instead of a division per digit.
fn eight_digits(v: u32) -> u64 {
    let v = u64::from(v);
    // two 32-bit lanes: first four digits, last four
    let x = (v / 10_000) | ((v % 10_000) << 32);
    // four 16-bit lanes of two digits: n / 100 == n * 5243 >> 19 for n < 10^4
    let hundreds = ((x * 5243) >> 19) & 0x0000_007f_0000_007f;
    let x = hundreds | (x - hundreds * 100) << 16;
    // eight bytes of one digit: n / 10 == n * 103 >> 10 for n < 100
    let tens = ((x * 103) >> 10) & 0x000f_000f_000f_000f;
    tens | (x - tens * 10) << 8
}

/// ASCII of `v` (< 10^8) without leading zeros, in the low bytes of the result, and its
/// length.
fn short_digits(v: u32) -> (u64, usize) {
    let d = eight_digits(v);
    if d == 0 {
        return (u64::from(b'0'), 1);
    }
    // leading zeros are the low zero bytes
    let skip = d.trailing_zeros() as usize / 8;
    ((d >> (skip * 8)) + ASCII_ZEROS, 8 - skip)
}

/// Appends the low `n` bytes of `w` (print order from the low byte). The whole word is
/// copied and the buffer cut back: one 8-byte store instead of a variable-length memcpy.
#[inline]
fn append_word(out: &mut Vec<u8>, w: u64, n: usize) {
    let len = out.len();
    out.extend_from_slice(&w.to_le_bytes());
    out.truncate(len + n);
}

/// IPv4 octets as ASCII packed into a u32 (print order from the low byte) and their length.
const OCTETS: [(u32, u8); 256] = {
    let mut t = [(0u32, 0u8); 256];
    let mut i = 0;
    while i < 256 {
        let (h, te, o) = (i as u32 / 100, i as u32 / 10 % 10, i as u32 % 10);
        t[i] = if i >= 100 {
            ((0x30 + h) | (0x30 + te) << 8 | (0x30 + o) << 16, 3)
        } else if i >= 10 {
            ((0x30 + te) | (0x30 + o) << 8, 2)
        } else {
            (0x30 + o, 1)
        };
        i += 1;
    }
    t
};

/// JSON output helpers on a byte buffer. Everything appended is ASCII except what
/// [`Emit::display`] forwards, so the buffer stays valid UTF-8.
pub(crate) trait Emit {
    /// Appends literal text (keys, punctuation).
    fn raw(&mut self, s: &str);
    /// Appends an unsigned decimal number.
    fn num(&mut self, v: impl Into<u64>);
    /// Appends `{"sec":S,"usec":U}`.
    fn tv(&mut self, t: &Timeval);
    /// Appends milliseconds with exactly three decimals from a wrapping u32 microsecond count.
    fn rtt(&mut self, t: &Timeval);
    /// Appends an address in its Display (inet_ntop) form.
    fn addr(&mut self, a: &Addr);
    /// Appends `"` + address + `"`.
    fn quoted_addr(&mut self, a: &Addr);
    /// Appends lowercase hex of `b`.
    fn hex(&mut self, b: &[u8]);
    /// C-style escaping: quote and backslash escaped, copy stops at the first byte that is
    /// not printable ASCII, at most `max` bytes appended.
    fn esc_max(&mut self, s: &str, max: usize);
    /// Appends anything with a Display impl (rare fields; goes through `core::fmt`).
    fn display(&mut self, v: impl std::fmt::Display);

    /// Appends a code's name, or its number when it has none (a method or stop reason newer
    /// than this reader).
    fn name_or_num(&mut self, name: Option<&str>, v: impl Into<u64>) {
        match name {
            Some(n) => self.raw(n),
            None => self.num(v),
        }
    }

    /// Appends `key` + quoted address for each address that is present.
    fn opt_addrs(&mut self, fields: &[(&str, &Option<Addr>)]) {
        for (key, a) in fields {
            if let Some(a) = a {
                self.raw(key);
                self.quoted_addr(a);
            }
        }
    }
}

impl Emit for Vec<u8> {
    #[inline]
    fn raw(&mut self, s: &str) {
        self.extend_from_slice(s.as_bytes());
    }

    #[inline]
    fn num(&mut self, v: impl Into<u64>) {
        const E8: u64 = 100_000_000;
        let v: u64 = v.into();
        if v < E8 {
            let (w, n) = short_digits(v as u32);
            append_word(self, w, n);
            return;
        }
        let head = v / E8;
        if head < E8 {
            let (w, n) = short_digits(head as u32);
            append_word(self, w, n);
        } else {
            let (w, n) = short_digits((head / E8) as u32);
            append_word(self, w, n);
            append_word(self, eight_digits((head % E8) as u32) + ASCII_ZEROS, 8);
        }
        append_word(self, eight_digits((v % E8) as u32) + ASCII_ZEROS, 8);
    }

    #[inline]
    fn tv(&mut self, t: &Timeval) {
        self.raw("{\"sec\":");
        self.num(t.sec);
        self.raw(",\"usec\":");
        self.num(t.usec);
        self.push(b'}');
    }

    #[inline]
    fn rtt(&mut self, t: &Timeval) {
        let us = t.as_usec32();
        self.num(us / 1000);
        let f = u64::from(us % 1000);
        let frac = u64::from(b'.')
            | (f / 100 + 0x30) << 8
            | (f / 10 % 10 + 0x30) << 16
            | (f % 10 + 0x30) << 24;
        append_word(self, frac, 4);
    }

    fn addr(&mut self, a: &Addr) {
        match a {
            Addr::V4(v) => {
                // up to 15 bytes, assembled in one u128 and appended at once
                let mut acc = 0u128;
                let mut n = 0;
                for (i, o) in v.octets().into_iter().enumerate() {
                    if i > 0 {
                        acc |= u128::from(b'.') << (n * 8);
                        n += 1;
                    }
                    let (text, len) = OCTETS[usize::from(o)];
                    acc |= u128::from(text) << (n * 8);
                    n += usize::from(len);
                }
                let len = self.len();
                self.extend_from_slice(&acc.to_le_bytes());
                self.truncate(len + n);
            }
            other => self.display(other),
        }
    }

    #[inline]
    fn quoted_addr(&mut self, a: &Addr) {
        self.push(b'"');
        self.addr(a);
        self.push(b'"');
    }

    fn hex(&mut self, b: &[u8]) {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        self.reserve(b.len() * 2);
        for &x in b {
            self.push(DIGITS[usize::from(x >> 4)]);
            self.push(DIGITS[usize::from(x & 15)]);
        }
    }

    fn esc_max(&mut self, s: &str, max: usize) {
        let mut n = 0;
        for b in s.bytes() {
            if !(0x20..=0x7e).contains(&b) {
                break;
            }
            let quote = b == b'"' || b == b'\\';
            n += 1 + usize::from(quote);
            if n > max {
                break;
            }
            if quote {
                self.push(b'\\');
            }
            self.push(b);
        }
    }

    fn display(&mut self, v: impl std::fmt::Display) {
        // writing to a Vec cannot fail
        let _ = write!(self, "{v}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num_str(v: u64) -> String {
        let mut b = Vec::new();
        b.num(v);
        String::from_utf8(b).unwrap()
    }

    #[test]
    fn numbers_match_display() {
        // around every power of ten
        for p in 0..20 {
            let v = 10u64.pow(p);
            for x in [v - 1, v, v + 1, v.saturating_mul(5), v.saturating_mul(9)] {
                assert_eq!(num_str(x), x.to_string());
            }
        }
        assert_eq!(num_str(u64::MAX), u64::MAX.to_string());
        // a spread of magnitudes from a fixed xorshift sequence
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..100_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let v = x >> (x % 64);
            assert_eq!(num_str(v), v.to_string());
        }
        for x in 0..10_000u64 {
            assert_eq!(num_str(x), x.to_string());
        }
    }

    #[test]
    fn every_ipv4_octet() {
        for o in 0..=255u8 {
            let mut b = Vec::new();
            b.addr(&Addr::V4([o, 1, o, 200].into()));
            assert_eq!(String::from_utf8(b).unwrap(), format!("{o}.1.{o}.200"));
        }
    }

    #[test]
    fn timevals_rtts_and_addresses() {
        let mut b = Vec::new();
        b.tv(&Timeval::new(1724828853, 7));
        b.push(b' ');
        for us in [5, 206, 253_421, 1_000_000] {
            b.rtt(&Timeval::from_usec32(us));
            b.push(b' ');
        }
        for a in [
            [192, 0, 2, 10],
            [0, 0, 0, 0],
            [255, 255, 255, 255],
            [10, 99, 100, 9],
        ] {
            b.addr(&Addr::V4(a.into()));
            b.push(b' ');
        }
        b.quoted_addr(&Addr::V6("2001:db8::1".parse().unwrap()));
        assert_eq!(
            String::from_utf8(b).unwrap(),
            "{\"sec\":1724828853,\"usec\":7} 0.005 0.206 253.421 1000.000 \
             192.0.2.10 0.0.0.0 255.255.255.255 10.99.100.9 \"2001:db8::1\""
        );
    }

    #[test]
    fn hex_and_escaping() {
        let mut b = Vec::new();
        b.hex(&[0x00, 0x7f, 0xab, 0xff]);
        b.push(b' ');
        b.esc_max("a\"b\\c\u{1}d", 511);
        b.push(b' ');
        // the escaped quote would cross the limit: stop before it
        b.esc_max("ab\"c", 3);
        assert_eq!(String::from_utf8(b).unwrap(), "007fabff a\\\"b\\\\c ab");
    }
}
