//! Number, string and time formatting shared by the JSON writers, as Strings for the writers
//! that build them; the logic is the byte emitters' ([`super::emit::Emit`]).

use super::emit::Emit;
use crate::timeval::Timeval;

/// What an emitter appended, as a String (emitters append ASCII only here).
fn emitted(f: impl FnOnce(&mut Vec<u8>)) -> String {
    let mut b = Vec::new();
    f(&mut b);
    String::from_utf8_lossy(&b).into_owned()
}

/// Milliseconds with exactly three decimals from a wrapping u32 microsecond count.
pub fn rtt(tv: &Timeval) -> String {
    emitted(|b| b.rtt(tv))
}

/// `{"sec":S,"usec":U}` with the given separator after the comma.
pub(crate) fn tv(t: &Timeval, sep: &str) -> String {
    format!("{{\"sec\":{},{sep}\"usec\":{}}}", t.sec, t.usec)
}

/// C-style escaping: quote and backslash escaped, copy stops at the first byte that is not
/// printable ASCII, output limited to `max` characters.
pub(crate) fn esc_max(s: &str, max: usize) -> String {
    emitted(|b| b.esc_max(s, max))
}

pub(crate) fn esc(s: &str) -> String {
    esc_max(s, 511)
}

pub fn hex(b: &[u8]) -> String {
    emitted(|out| out.hex(b))
}

/// Local time as `%Y-%m-%d %H:%M:%S`. Only UTC and fixed offsets from `TZ` are understood
/// (no zoneinfo database); the golden files use `TZ=UTC`.
pub fn ftime(sec: u32) -> String {
    let t = i64::from(sec) + tz_offset();
    let days = t.div_euclid(86400);
    let rem = t.rem_euclid(86400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// `ctime`-style local time without the newline: `Wed Aug 28 07:07:33 2024`.
pub fn ctime(sec: u32) -> String {
    let t = i64::from(sec) + tz_offset();
    let days = t.div_euclid(86400);
    let rem = t.rem_euclid(86400);
    let (y, m, d) = civil_from_days(days);
    let wd = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][days.rem_euclid(7) as usize];
    let mon = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ][m as usize - 1];
    format!(
        "{wd} {mon} {d:2} {:02}:{:02}:{:02} {y}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Offset east of UTC in seconds from a POSIX `TZ` like `UTC`, `UTC0`, `EST5`, `<+03>-3`.
fn tz_offset() -> i64 {
    let Ok(tz) = std::env::var("TZ") else {
        return 0;
    };
    let tz = tz.trim_start_matches(':');
    let rest = if let Some(r) = tz.strip_prefix('<') {
        r.split_once('>').map_or("", |(_, r)| r)
    } else {
        tz.trim_start_matches(|c: char| c.is_ascii_alphabetic())
    };
    let (sign, digits) = match rest.as_bytes().first() {
        Some(b'-') => (1, &rest[1..]),
        Some(b'+') => (-1, &rest[1..]),
        _ => (-1, rest),
    };
    let mut parts = digits.split(':').map(|p| {
        p.chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
            .parse::<i64>()
            .unwrap_or(0)
    });
    let h = parts.next().unwrap_or(0);
    let m = parts.next().unwrap_or(0);
    let s = parts.next().unwrap_or(0);
    sign * (h * 3600 + m * 60 + s)
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719468;
    let era = z.div_euclid(146097);
    let doe = z.rem_euclid(146097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rtt_has_three_decimals() {
        assert_eq!(rtt(&Timeval::new(0, 206)), "0.206");
        assert_eq!(rtt(&Timeval::new(0, 5)), "0.005");
        assert_eq!(rtt(&Timeval::new(0, 253421)), "253.421");
    }

    #[test]
    fn escaping_stops_at_unprintable() {
        assert_eq!(esc("a\"b\\c\u{1}d"), "a\\\"b\\\\c");
    }

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20780), (2026, 11, 23));
        assert_eq!(civil_from_days(11016), (2000, 2, 29));
    }
}
