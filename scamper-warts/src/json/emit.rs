//! Appending JSON pieces to a byte buffer without `core::fmt`: the ping and trace writers'
//! hot path (numbers, timevals, RTTs and addresses are most of every line).

use std::io::Write;

use crate::addr::Addr;
use crate::timeval::Timeval;

/// Digit pairs "00".."99": two digits per division.
const PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

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
}

impl Emit for Vec<u8> {
    #[inline]
    fn raw(&mut self, s: &str) {
        self.extend_from_slice(s.as_bytes());
    }

    #[inline]
    fn num(&mut self, v: impl Into<u64>) {
        let mut v: u64 = v.into();
        let n = v.checked_ilog10().unwrap_or(0) as usize + 1;
        // Fill a fixed-size scratch array from its end and append all 20 bytes, then cut
        // back: a fixed-length copy compiles to a few moves instead of a memcpy call.
        let mut tmp = [0u8; 20];
        let mut i = n;
        while i >= 2 {
            let k = (v % 100) as usize * 2;
            v /= 100;
            tmp[i - 2..i].copy_from_slice(&PAIRS[k..k + 2]);
            i -= 2;
        }
        if i == 1 {
            tmp[0] = b'0' + v as u8;
        }
        let len = self.len();
        self.extend_from_slice(&tmp);
        self.truncate(len + n);
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
        let f = us % 1000;
        self.extend_from_slice(&[
            b'.',
            b'0' + (f / 100) as u8,
            b'0' + (f / 10 % 10) as u8,
            b'0' + (f % 10) as u8,
        ]);
    }

    fn addr(&mut self, a: &Addr) {
        match a {
            Addr::V4(v) => {
                let mut tmp = [0u8; 16];
                let mut n = 0;
                for (i, o) in v.octets().into_iter().enumerate() {
                    if i > 0 {
                        tmp[n] = b'.';
                        n += 1;
                    }
                    if o >= 100 {
                        tmp[n] = b'0' + o / 100;
                        n += 1;
                    }
                    if o >= 10 {
                        tmp[n] = b'0' + o / 10 % 10;
                        n += 1;
                    }
                    tmp[n] = b'0' + o % 10;
                    n += 1;
                }
                let len = self.len();
                self.extend_from_slice(&tmp);
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
        for x in 0..10_000u64 {
            assert_eq!(num_str(x), x.to_string());
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
