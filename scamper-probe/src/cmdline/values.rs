//! Parsers of option values shared by the measurements. Each failure is a [`ValueError`] that
//! names the option letter, the value as typed and the reason.

use std::net::IpAddr;
use std::time::Duration;

/// An option value that does not parse; Display `-c 0: must be 1..65535`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("-{opt} {value}: {reason}")]
pub struct ValueError {
    pub opt: char,
    pub value: String,
    pub reason: String,
}

impl ValueError {
    pub fn new(opt: char, value: &str, reason: impl Into<String>) -> Self {
        ValueError {
            opt,
            value: value.to_string(),
            reason: reason.into(),
        }
    }
}

/// Decimal unsigned integer in `lo..=hi` (digits only: no sign, no spaces).
pub fn num<T: TryFrom<u64>>(opt: char, v: &str, lo: u64, hi: u64) -> Result<T, ValueError> {
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ValueError::new(opt, v, "not a number"));
    }
    let range = || ValueError::new(opt, v, format!("must be {lo}..{hi}"));
    // Digits only, so parsing fails only when the number overflows u64: out of range too.
    let n: u64 = v.parse().map_err(|_| range())?;
    if n < lo || n > hi {
        return Err(range());
    }
    T::try_from(n).map_err(|_| range())
}

/// Seconds with an optional fraction of up to microsecond precision (`1`, `0.5`, `.25`,
/// `2.250`). Whole seconds beyond `u32::MAX` are clamped; callers apply their own maximum.
pub fn seconds(opt: char, v: &str) -> Result<Duration, ValueError> {
    let (int, frac) = v.split_once('.').unwrap_or((v, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (int.is_empty() && frac.is_empty()) || !digits(int) || !digits(frac) || frac.len() > 6 {
        return Err(ValueError::new(opt, v, "not a time in seconds"));
    }
    let secs: u64 = if int.is_empty() {
        0
    } else {
        int.parse()
            .map_err(|_| ValueError::new(opt, v, "too long"))?
    };
    // At most six digits, so this always parses.
    let micros: u64 = format!("{frac:0<6}").parse().unwrap_or(0);
    Ok(Duration::from_secs(secs.min(u64::from(u32::MAX))) + Duration::from_micros(micros))
}

/// Bytes written as pairs of hex digits; the empty string is no bytes.
pub fn hex(opt: char, v: &str) -> Result<Vec<u8>, ValueError> {
    if v.len() & 1 == 1 {
        return Err(ValueError::new(opt, v, "need an even number of hex digits"));
    }
    // `get` rather than indexing: a pair may split a multi-byte character.
    (0..v.len())
        .step_by(2)
        .map(|i| {
            v.get(i..i + 2)
                .and_then(|b| u8::from_str_radix(b, 16).ok())
                .ok_or_else(|| ValueError::new(opt, v, "not a hex string"))
        })
        .collect()
}

/// An IPv4 or IPv6 address.
pub fn addr(opt: char, v: &str) -> Result<IpAddr, ValueError> {
    v.parse()
        .map_err(|_| ValueError::new(opt, v, "not an IP address"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text<T: std::fmt::Debug>(r: Result<T, ValueError>) -> String {
        r.unwrap_err().to_string()
    }

    #[test]
    fn numbers_in_range() {
        assert_eq!(num::<u16>('c', "0", 0, 65535), Ok(0));
        assert_eq!(num::<u16>('c', "65535", 0, 65535), Ok(65535));
        assert_eq!(num::<u8>('m', "007", 1, 255), Ok(7));
        assert_eq!(
            num::<u32>('U', "4294967295", 0, u32::MAX.into()),
            Ok(u32::MAX)
        );
    }

    #[test]
    fn number_errors() {
        assert_eq!(
            text(num::<u16>('c', "0", 1, 65535)),
            "-c 0: must be 1..65535"
        );
        assert_eq!(
            text(num::<u16>('c', "65536", 1, 65535)),
            "-c 65536: must be 1..65535"
        );
        // Overflowing u64 is out of range, not "not a number".
        assert_eq!(
            text(num::<u64>('U', "99999999999999999999999", 0, 10)),
            "-U 99999999999999999999999: must be 0..10"
        );
        for v in ["", "x", "-1", "+1", "1.5", " 1", "0x10"] {
            assert_eq!(
                num::<u16>('c', v, 0, 65535),
                Err(ValueError::new('c', v, "not a number"))
            );
        }
        // A range wider than the target type still fails cleanly.
        assert_eq!(
            text(num::<u8>('z', "256", 0, 1000)),
            "-z 256: must be 0..1000"
        );
    }

    #[test]
    fn seconds_with_fractions() {
        assert_eq!(seconds('i', "1"), Ok(Duration::from_secs(1)));
        assert_eq!(seconds('i', "0.5"), Ok(Duration::from_millis(500)));
        assert_eq!(seconds('i', ".25"), Ok(Duration::from_millis(250)));
        assert_eq!(seconds('i', "2."), Ok(Duration::from_secs(2)));
        assert_eq!(seconds('i', "0.000001"), Ok(Duration::from_micros(1)));
        assert_eq!(
            seconds('W', "99999999999"),
            Ok(Duration::from_secs(u32::MAX.into()))
        );
    }

    #[test]
    fn seconds_errors() {
        for v in ["", ".", "abc", "-1", "1.0000001", "1.2.3", "1s"] {
            assert_eq!(
                seconds('W', v),
                Err(ValueError::new('W', v, "not a time in seconds"))
            );
        }
        let long = "9".repeat(30);
        assert_eq!(text(seconds('W', &long)), format!("-W {long}: too long"));
    }

    #[test]
    fn hex_bytes() {
        assert_eq!(hex('p', ""), Ok(vec![]));
        assert_eq!(hex('p', "00aBfF"), Ok(vec![0, 0xab, 0xff]));
        assert_eq!(
            text(hex('p', "123")),
            "-p 123: need an even number of hex digits"
        );
        assert_eq!(text(hex('p', "zz")), "-p zz: not a hex string");
        // A pair that would split a multi-byte character is an error, not a panic.
        assert_eq!(text(hex('B', "aéb")), "-B aéb: not a hex string");
    }

    #[test]
    fn addresses() {
        assert_eq!(addr('S', "192.0.2.1"), Ok("192.0.2.1".parse().unwrap()));
        assert_eq!(addr('S', "2001:db8::1"), Ok("2001:db8::1".parse().unwrap()));
        assert_eq!(text(addr('S', "nowhere")), "-S nowhere: not an IP address");
    }
}
