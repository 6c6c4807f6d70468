//! `sc_warts2text -d` description files: lines `<address> "<description>"`; the description
//! of a measurement's destination is printed on a line before its text.

use std::collections::HashMap;

use scamper_warts::Addr;

/// Descriptions by address.
#[derive(Debug, Default)]
pub struct Descriptions {
    map: HashMap<Addr, String>,
}

/// A bad line, with the C tool's message (`Display`).
#[derive(Debug, PartialEq, Eq)]
pub struct DescrError(pub String);

impl std::fmt::Display for DescrError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Descriptions {
    /// Parse the whole file. Lines end at `\n` only; empty lines are skipped and, as in the C
    /// tool, not counted in the line numbers of the messages. Text after the closing quote is
    /// ignored.
    pub fn parse(bytes: &[u8]) -> Result<Self, DescrError> {
        let mut d = Descriptions::default();
        let mut line_no = 1;
        for line in bytes.split(|&b| b == b'\n') {
            if line.is_empty() {
                continue;
            }
            let line = String::from_utf8_lossy(line);
            let blank = |c: char| c == ' ' || c == '\t';
            let Some((ip, rest)) = line.split_once(blank) else {
                return Err(DescrError(format!("premature end to line {line_no}")));
            };
            let Some(rest) = rest.trim_start_matches(blank).strip_prefix('"') else {
                return Err(DescrError(format!("expected \" on line {line_no}")));
            };
            let Some((descr, _)) = rest.split_once('"') else {
                return Err(DescrError(format!("missing closing \" on line {line_no}")));
            };
            let Ok(addr) = ip.parse::<std::net::IpAddr>() else {
                return Err(DescrError(format!(
                    "invalid address '{ip}' on line {line_no}"
                )));
            };
            let addr = Addr::from(addr);
            if d.map.contains_key(&addr) {
                return Err(DescrError(format!(
                    "duplicate definition for {ip} on line {line_no}"
                )));
            }
            d.map.insert(addr, descr.to_string());
            line_no += 1;
        }
        Ok(d)
    }

    pub fn get(&self, a: &Addr) -> Option<&str> {
        self.map.get(a).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(s: &str) -> String {
        Descriptions::parse(s.as_bytes()).unwrap_err().0
    }

    #[test]
    fn lines_and_errors_follow_the_c_tool() {
        let d =
            Descriptions::parse(b"127.0.0.1 \"loop back\"\n\n2001:db8::1 \t\"v6\" rest\n").unwrap();
        assert_eq!(
            d.get(&Addr::V4("127.0.0.1".parse().unwrap())),
            Some("loop back")
        );
        assert_eq!(d.get(&Addr::V6("2001:db8::1".parse().unwrap())), Some("v6"));
        assert_eq!(d.get(&Addr::V4("127.0.0.2".parse().unwrap())), None);
        assert_eq!(err("192.0.2.2\n"), "premature end to line 1");
        assert_eq!(err("127.0.0.1 nope\n"), "expected \" on line 1");
        assert_eq!(err("192.0.2.2 \"a\n"), "missing closing \" on line 1");
        assert_eq!(err("127.1 \"x\"\n"), "invalid address '127.1' on line 1");
        assert_eq!(
            err("192.0.2.2 \"a\"\n192.0.2.2 \"b\"\n"),
            "duplicate definition for 192.0.2.2 on line 2"
        );
        // empty lines do not count
        assert_eq!(
            err("\n\n192.0.2.2 \"a\"\nfoo \"x\"\n"),
            "invalid address 'foo' on line 2"
        );
    }
}
