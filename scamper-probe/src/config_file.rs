//! The `-g` configuration file (privsep.md §5): per-measurement `enable` switches.
//!
//! The file is read at start-up and again on SIGHUP; a reload only replaces the active
//! [`Config`] when the whole file parses, so parsing is all-or-nothing.

use std::fmt;

/// Measurement names that can be switched off, i.e. the key prefixes without their dot.
pub const METHODS: [&str; 12] = [
    "dealias",
    "host",
    "http",
    "neighbourdisc",
    "owamp",
    "ping",
    "sniff",
    "sting",
    "tbit",
    "trace",
    "tracelb",
    "udpprobe",
];

/// The parsed configuration. The default enables everything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// Indexed like [`METHODS`].
    enabled: [bool; METHODS.len()],
}

impl Default for Config {
    fn default() -> Config {
        Config {
            enabled: [true; METHODS.len()],
        }
    }
}

/// Why a configuration file was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigErrorKind {
    /// A non-comment line without `=`.
    MissingEquals,
    /// Nothing before the `=`.
    EmptyKey,
    /// Nothing after the `=` (and its following blanks).
    EmptyValue,
    /// An `enable` value other than 0 or 1; holds the key as written.
    ExpectedBool(String),
}

impl fmt::Display for ConfigErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigErrorKind::MissingEquals => f.write_str("expected key = value"),
            ConfigErrorKind::EmptyKey => f.write_str("empty key"),
            ConfigErrorKind::EmptyValue => f.write_str("empty value"),
            ConfigErrorKind::ExpectedBool(key) => write!(f, "{key}: expected 0 or 1"),
        }
    }
}

/// A rejected configuration file: what and on which (1-based) line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub line: usize,
    pub kind: ConfigErrorKind,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} on line {}", self.kind, self.line)
    }
}

impl std::error::Error for ConfigError {}

/// C `isspace` in the C locale.
fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// Result of [`strtol`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Strtol {
    /// The value, saturated at the i64 range like strtol saturates at LONG_MIN/LONG_MAX.
    pub value: i64,
    /// Byte index just past the number (0 when no digits were read, as strtol sets endptr to
    /// the start of the string).
    pub end: usize,
    /// Whether any digit was read.
    pub digits: bool,
    /// Whether the value was out of range.
    pub overflow: bool,
}

/// C `strtol(s, &end, 0)`: leading blanks, optional sign, `0x`/`0X` for hex, leading `0` for
/// octal, otherwise decimal; stops at the first character that is not a digit of the base.
pub(crate) fn strtol(s: &str) -> Strtol {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() && is_c_space(b[i]) {
        i += 1;
    }
    let mut negative = false;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        negative = b[i] == b'-';
        i += 1;
    }
    let mut radix = 10;
    if i < b.len() && b[i] == b'0' {
        // "0x" only counts as a hex prefix when a hex digit follows; otherwise the "0" is the
        // number and parsing stops at the "x".
        if i + 2 < b.len() && (b[i + 1] | 0x20) == b'x' && b[i + 2].is_ascii_hexdigit() {
            radix = 16;
            i += 2;
        } else {
            radix = 8;
        }
    }
    let mut value: i128 = 0;
    let mut digits = false;
    let mut overflow = false;
    while i < b.len() {
        let d = match char::from(b[i]).to_digit(radix) {
            Some(d) => d,
            None => break,
        };
        digits = true;
        if !overflow {
            value = value * i128::from(radix) + i128::from(d);
            if value > i128::from(i64::MAX) + 1 {
                overflow = true;
            }
        }
        i += 1;
    }
    if !digits {
        return Strtol {
            value: 0,
            end: 0,
            digits: false,
            overflow: false,
        };
    }
    let signed = if negative { -value } else { value };
    let clamped = if signed > i128::from(i64::MAX) {
        overflow = true;
        i64::MAX
    } else if signed < i128::from(i64::MIN) {
        overflow = true;
        i64::MIN
    } else if overflow {
        if negative {
            i64::MIN
        } else {
            i64::MAX
        }
    } else {
        signed as i64
    };
    Strtol {
        value: clamped,
        end: i,
        digits: true,
        overflow,
    }
}

impl Config {
    /// Parses a whole configuration file (privsep.md §5).
    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        let mut config = Config::default();
        for (idx, line) in text.split('\n').enumerate() {
            let lineno = idx + 1;
            let fail = |kind| ConfigError { line: lineno, kind };
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((key, value)) = line.split_once('=') else {
                return Err(fail(ConfigErrorKind::MissingEquals));
            };
            // Only the blanks between key and '=' go; leading blanks stay part of the key.
            let key = key.trim_end_matches(|c: char| c.is_ascii() && is_c_space(c as u8));
            if key.is_empty() {
                return Err(fail(ConfigErrorKind::EmptyKey));
            }
            let value = value.trim_start_matches(|c: char| c.is_ascii() && is_c_space(c as u8));
            if value.is_empty() {
                return Err(fail(ConfigErrorKind::EmptyValue));
            }
            let Some(method) = METHODS.iter().position(|m| {
                key.len() > m.len()
                    && key.as_bytes()[m.len()] == b'.'
                    && key.as_bytes()[..m.len()].eq_ignore_ascii_case(m.as_bytes())
            }) else {
                continue;
            };
            let sub = &key[METHODS[method].len() + 1..];
            if !sub.eq_ignore_ascii_case("enable") {
                continue;
            }
            // strtol without an end check: "1abc" is 1 and "abc" is 0, as in scamper.
            config.enabled[method] = match strtol(value).value {
                0 => false,
                1 => true,
                _ => return Err(fail(ConfigErrorKind::ExpectedBool(key.to_owned()))),
            };
        }
        Ok(config)
    }

    /// Parses raw file contents; invalid UTF-8 is replaced, which can only make a line invalid
    /// or leave it unrecognised, never change a recognised key.
    pub fn parse_bytes(bytes: &[u8]) -> Result<Config, ConfigError> {
        Config::parse(&String::from_utf8_lossy(bytes))
    }

    /// Whether commands of `method` (e.g. `"ping"`) are accepted. Names that the file cannot
    /// configure are always enabled.
    pub fn method_enabled(&self, method: &str) -> bool {
        match METHODS.iter().position(|m| *m == method) {
            Some(i) => self.enabled[i],
            None => true,
        }
    }

    /// The error text a disabled method's command gets on the control socket (after `ERR `).
    pub fn disabled_message(method: &str) -> String {
        format!("command not accepted: {method} disabled")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strtol_table() {
        // (input, value, end, digits, overflow)
        let cases: &[(&str, i64, usize, bool, bool)] = &[
            ("0", 0, 1, true, false),
            ("1", 1, 1, true, false),
            ("  1", 1, 3, true, false),
            ("\t+1", 1, 3, true, false),
            ("-1", -1, 2, true, false),
            ("1abc", 1, 1, true, false),
            ("abc", 0, 0, false, false),
            ("", 0, 0, false, false),
            ("-", 0, 0, false, false),
            ("0x10", 16, 4, true, false),
            ("0X1f", 31, 4, true, false),
            ("0x", 0, 1, true, false),
            ("0xg", 0, 1, true, false),
            ("010", 8, 3, true, false),
            ("08", 0, 1, true, false),
            ("1 ", 1, 1, true, false),
            ("9223372036854775807", i64::MAX, 19, true, false),
            ("9223372036854775808", i64::MAX, 19, true, true),
            ("-9223372036854775808", i64::MIN, 20, true, false),
            ("-9223372036854775809", i64::MIN, 20, true, true),
            (
                "99999999999999999999999999999999999999999",
                i64::MAX,
                41,
                true,
                true,
            ),
        ];
        for &(s, value, end, digits, overflow) in cases {
            assert_eq!(
                strtol(s),
                Strtol {
                    value,
                    end,
                    digits,
                    overflow
                },
                "{s:?}"
            );
        }
    }

    fn enabled(c: &Config) -> Vec<&'static str> {
        METHODS
            .iter()
            .copied()
            .filter(|m| c.method_enabled(m))
            .collect()
    }

    fn all_but(off: &[&str]) -> Vec<&'static str> {
        METHODS
            .iter()
            .copied()
            .filter(|m| !off.contains(m))
            .collect()
    }

    #[test]
    fn accepted_files() {
        let cases: &[(&str, &[&str])] = &[
            ("", &[]),
            ("\n\n", &[]),
            ("# comment\n", &[]),
            ("#trace.enable=x\n", &[]),
            ("trace.enable=0", &["trace"]),
            ("trace.enable= 0\n", &["trace"]),
            ("trace.enable = 0\n", &["trace"]),
            ("trace.enable\t=\t0\n", &["trace"]),
            ("TRACE.ENABLE=0\n", &["trace"]),
            ("Trace.Enable=0\n", &["trace"]),
            ("trace.enable=0\r\n", &["trace"]),
            ("trace.enable=0\ntrace.enable=1\n", &[]),
            ("tracelb.enable=0\n", &["tracelb"]),
            ("ping.enable=0\nhost.enable=0x0\n", &["ping", "host"]),
            // strtol semantics: trailing junk ignored, no digits reads as 0.
            ("ping.enable=1junk\n", &[]),
            ("ping.enable=abc\n", &["ping"]),
            ("ping.enable=00\n", &["ping"]),
            ("ping.enable=+1\n", &[]),
            // Unknown prefixes, unknown sub-keys and keys with leading blanks are ignored.
            ("foo.enable=7\n", &[]),
            ("ping.other=7\n", &[]),
            ("ping.enablex=7\n", &[]),
            (" ping.enable=0\n", &[]),
            ("ping=0\n", &[]),
            ("ping.=0\n", &[]),
            ("pingx.enable=0\n", &[]),
            (
                "dealias.enable=0\nhost.enable=0\nhttp.enable=0\nneighbourdisc.enable=0\n\
                 owamp.enable=0\nping.enable=0\nsniff.enable=0\nsting.enable=0\n\
                 tbit.enable=0\ntrace.enable=0\ntracelb.enable=0\nudpprobe.enable=0\n",
                &METHODS,
            ),
        ];
        for &(text, off) in cases {
            let c = Config::parse(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
            assert_eq!(enabled(&c), all_but(off), "{text:?}");
        }
    }

    #[test]
    fn rejected_files() {
        let cases: &[(&str, &str)] = &[
            ("trace.enable\n", "expected key = value on line 1"),
            ("   \n", "expected key = value on line 1"),
            ("\r\n", "expected key = value on line 1"),
            ("# ok\n\ntrace.enable 0\n", "expected key = value on line 3"),
            ("=1\n", "empty key on line 1"),
            ("  =1\n", "empty key on line 1"),
            ("trace.enable=\n", "empty value on line 1"),
            ("trace.enable=   \n", "empty value on line 1"),
            (
                "trace.enable=2\n",
                "trace.enable: expected 0 or 1 on line 1",
            ),
            (
                "ping.enable=1\nPing.Enable =-1\n",
                "Ping.Enable: expected 0 or 1 on line 2",
            ),
            (
                "trace.enable=0x2\n",
                "trace.enable: expected 0 or 1 on line 1",
            ),
            (
                "trace.enable=99999999999999999999\n",
                "trace.enable: expected 0 or 1 on line 1",
            ),
            // An empty value on an unrecognised key is still an error.
            ("foo.bar=\n", "empty value on line 1"),
        ];
        for &(text, msg) in cases {
            let e = Config::parse(text).expect_err(text);
            assert_eq!(e.to_string(), msg, "{text:?}");
        }
    }

    #[test]
    fn defaults_and_unknown_methods() {
        let c = Config::default();
        assert_eq!(enabled(&c), METHODS.to_vec());
        assert!(c.method_enabled("whatever"));
        let c = Config::parse("ping.enable=0\n").unwrap();
        assert!(!c.method_enabled("ping"));
        assert!(c.method_enabled("trace"));
        assert!(c.method_enabled("PING"), "method names are matched exactly");
        assert_eq!(
            Config::disabled_message("ping"),
            "command not accepted: ping disabled"
        );
    }

    #[test]
    fn bytes_input() {
        assert_eq!(
            Config::parse_bytes(b"ping.enable=0\n\xff=1\n").unwrap(),
            Config::parse("ping.enable=0\n").unwrap()
        );
        assert_eq!(
            Config::parse_bytes(b"\xff\n").unwrap_err().to_string(),
            "expected key = value on line 1"
        );
    }
}
