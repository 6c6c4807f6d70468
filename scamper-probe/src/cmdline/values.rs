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

/// What a number without a unit suffix counts, for [`time`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeUnit {
    Seconds,
    /// Hundredths of a second (trace `-W`).
    Centiseconds,
}

impl TimeUnit {
    /// Decimal digits between this unit and a microsecond.
    fn micro_digits(self) -> u32 {
        match self {
            TimeUnit::Seconds => 6,
            TimeUnit::Centiseconds => 4,
        }
    }

    fn name(self) -> &'static str {
        match self {
            TimeUnit::Seconds => "seconds",
            TimeUnit::Centiseconds => "centiseconds",
        }
    }
}

/// Seconds with an optional fraction of up to microsecond precision (`1`, `0.5`, `.25`,
/// `2.250`), or with a unit suffix as scamper's commands accept (`1.0s`, `200ms`, `500us`).
pub fn seconds(opt: char, v: &str) -> Result<Duration, ValueError> {
    time(opt, v, TimeUnit::Seconds)
}

/// A time written as scamper's measurement commands take it: digits with an optional fraction
/// and an optional suffix `s`, `ms` or `us`; without a suffix the number counts `bare` units.
/// Clients such as the Python module always write a suffix (`-i 1.0s`, `-w 2.0s`). A non-zero
/// fraction finer than a microsecond (`1.0000001`, `1.5us`) is refused, as scamper refuses it.
/// Whole seconds beyond `u32::MAX` are clamped; callers apply their own maximum.
pub fn time(opt: char, v: &str, bare: TimeUnit) -> Result<Duration, ValueError> {
    let malformed = || ValueError::new(opt, v, format!("not a time in {}", bare.name()));
    let (number, digits_to_micros) = if let Some(n) = v.strip_suffix("us") {
        (n, 0)
    } else if let Some(n) = v.strip_suffix("ms") {
        (n, 3)
    } else if let Some(n) = v.strip_suffix('s') {
        (n, 6)
    } else {
        (v, bare.micro_digits())
    };
    let (int, frac) = number.split_once('.').unwrap_or((number, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (int.is_empty() && frac.is_empty()) || !digits(int) || !digits(frac) {
        return Err(malformed());
    }
    // A fraction of only zeros adds nothing, however long; otherwise each digit must still be
    // a whole number of microseconds.
    let frac = if frac.bytes().all(|b| b == b'0') {
        ""
    } else {
        frac
    };
    let Some(frac_shift) = digits_to_micros.checked_sub(frac.len() as u32) else {
        return Err(malformed());
    };
    let whole: u64 = if int.is_empty() {
        0
    } else {
        int.parse()
            .map_err(|_| ValueError::new(opt, v, "too long"))?
    };
    // At most six digits, so this always parses.
    let frac_micros: u64 = if frac.is_empty() {
        0
    } else {
        frac.parse::<u64>().unwrap_or(0) * 10u64.pow(frac_shift)
    };
    let micros = whole
        .saturating_mul(10u64.pow(digits_to_micros))
        .saturating_add(frac_micros);
    let secs = (micros / 1_000_000).min(u64::from(u32::MAX));
    Ok(Duration::from_secs(secs) + Duration::from_micros(micros % 1_000_000))
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
    fn times_with_unit_suffixes() {
        // What the Python module writes: `{timedelta.total_seconds()}s`.
        assert_eq!(seconds('i', "1.0s"), Ok(Duration::from_secs(1)));
        assert_eq!(seconds('i', "0.2s"), Ok(Duration::from_millis(200)));
        assert_eq!(seconds('w', "2.0s"), Ok(Duration::from_secs(2)));
        assert_eq!(seconds('i', "250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(seconds('i', "1.5ms"), Ok(Duration::from_micros(1500)));
        assert_eq!(seconds('i', "1500us"), Ok(Duration::from_micros(1500)));
        assert_eq!(seconds('i', "1.000000000s"), Ok(Duration::from_secs(1)));
        let cs = |v| time('W', v, TimeUnit::Centiseconds);
        assert_eq!(cs("5"), Ok(Duration::from_millis(50)));
        assert_eq!(cs("1.5"), Ok(Duration::from_micros(15_000)));
        assert_eq!(cs("0.5s"), Ok(Duration::from_millis(500)));
        assert_eq!(cs("20ms"), Ok(Duration::from_millis(20)));
        assert_eq!(
            cs("0.00001"),
            Err(ValueError::new(
                'W',
                "0.00001",
                "not a time in centiseconds"
            ))
        );
    }

    #[test]
    fn seconds_errors() {
        for v in [
            "",
            ".",
            "abc",
            "-1",
            "1.0000001",
            "1.2.3",
            "s",
            "1 s",
            "1.5us",
            "1.0001ms",
            "1m",
            "1ss",
        ] {
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
