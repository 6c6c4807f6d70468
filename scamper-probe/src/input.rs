//! Command sources of the command line (cli.md §4): the `-f` list file, read lazily one line at
//! a time, and the `-i` / `-I` positional arguments.

use std::fmt;
use std::io::{self, BufRead};
use std::net::IpAddr;

use crate::options::{Mode, RunOptions, DEFAULT_COMMAND};

/// Longest line kept in memory. A longer line is reported and skipped without being buffered,
/// so memory stays bounded even for a file without newlines.
pub const MAX_LINE: usize = 65_536;

/// How the lines of a list file are turned into commands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputKind {
    /// One address per line, prefixed with this default command (`-c`).
    Addresses { command: String },
    /// `-O cmdfile`: each line is a complete command.
    Commands,
}

impl InputKind {
    /// The kind a `-f` run uses: commands with `-O cmdfile`, else addresses with `-c`.
    pub fn from_options(opts: &RunOptions) -> InputKind {
        if opts.extra.cmdfile {
            InputKind::Commands
        } else {
            InputKind::Addresses {
                command: opts
                    .command
                    .clone()
                    .unwrap_or_else(|| DEFAULT_COMMAND.to_owned()),
            }
        }
    }
}

/// One command read from a list file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputLine {
    /// 1-based line number.
    pub line: u64,
    pub command: String,
    /// For an address line, the address appended to the default command: the engine parses
    /// the default command once per address family and substitutes this destination.
    pub dst: Option<IpAddr>,
}

/// Why a line yielded no command.
#[derive(Debug)]
pub enum InputErrorKind {
    /// A byte that C `isprint` rejects before the cut point.
    Unprintable,
    /// The kept part of an address line is not an IPv4/IPv6 address.
    InvalidAddress(String),
    /// The line is longer than [`MAX_LINE`] bytes.
    TooLong,
    /// Reading failed; the reader yields nothing after this.
    Io(io::Error),
}

/// A skipped line (or a read failure), with its 1-based line number.
#[derive(Debug)]
pub struct InputError {
    pub line: u64,
    pub kind: InputErrorKind,
}

impl InputError {
    /// Whether reading stops here (an I/O error); other errors only skip their line.
    pub fn is_fatal(&self) -> bool {
        matches!(self.kind, InputErrorKind::Io(_))
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            InputErrorKind::Unprintable => {
                write!(f, "unprintable characters on line {}", self.line)
            }
            InputErrorKind::InvalidAddress(a) => {
                write!(f, "invalid address '{a}' on line {}", self.line)
            }
            InputErrorKind::TooLong => {
                write!(f, "line {} is longer than {MAX_LINE} bytes", self.line)
            }
            InputErrorKind::Io(e) => write!(f, "read error on line {}: {e}", self.line),
        }
    }
}

impl std::error::Error for InputError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            InputErrorKind::Io(e) => Some(e),
            _ => None,
        }
    }
}

/// Outcome of reading one raw line.
enum RawLine {
    Eof,
    Line,
    TooLong,
}

/// A lazy `-f` reader: an iterator of commands and per-line errors. Lines that are empty after
/// cutting (blank lines, comments) produce nothing.
pub struct InputReader<R> {
    reader: R,
    kind: InputKind,
    buf: Vec<u8>,
    line: u64,
    done: bool,
}

impl<R: BufRead> InputReader<R> {
    pub fn new(reader: R, kind: InputKind) -> InputReader<R> {
        InputReader {
            reader,
            kind,
            buf: Vec::new(),
            line: 0,
            done: false,
        }
    }

    /// Number of lines read so far.
    pub fn lines_read(&self) -> u64 {
        self.line
    }

    /// Reads up to and excluding the next `\n` into `buf`, keeping at most [`MAX_LINE`] bytes.
    fn read_raw(&mut self) -> io::Result<RawLine> {
        self.buf.clear();
        let mut any = false;
        let mut too_long = false;
        loop {
            let avail = match self.reader.fill_buf() {
                Ok(a) => a,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if avail.is_empty() {
                return Ok(match (any, too_long) {
                    (false, _) => RawLine::Eof,
                    (true, true) => RawLine::TooLong,
                    (true, false) => RawLine::Line,
                });
            }
            any = true;
            let (chunk, used, end) = match avail.iter().position(|&b| b == b'\n') {
                Some(p) => (&avail[..p], p + 1, true),
                None => (avail, avail.len(), false),
            };
            if !too_long {
                if self.buf.len() + chunk.len() > MAX_LINE {
                    too_long = true;
                    self.buf.clear();
                } else {
                    // Grow geometrically but never past MAX_LINE, so the bound is the capacity.
                    let need = self.buf.len() + chunk.len();
                    if need > self.buf.capacity() {
                        let target = (self.buf.capacity() * 2).max(need).min(MAX_LINE);
                        self.buf.reserve_exact(target - self.buf.len());
                    }
                    self.buf.extend_from_slice(chunk);
                }
            }
            self.reader.consume(used);
            if end {
                return Ok(if too_long {
                    RawLine::TooLong
                } else {
                    RawLine::Line
                });
            }
        }
    }
}

/// Applies the line rules to one line (without its `\n`). `Ok(None)` means "skip silently".
pub fn line_command(line: &[u8], kind: &InputKind) -> Result<Option<String>, InputErrorKind> {
    line_item(line, kind).map(|item| item.map(|(command, _)| command))
}

/// [`line_command`] with the destination of an address line.
fn line_item(
    line: &[u8],
    kind: &InputKind,
) -> Result<Option<(String, Option<IpAddr>)>, InputErrorKind> {
    let is_cut = |b: u8| match kind {
        InputKind::Addresses { .. } => matches!(b, b' ' | b'\t' | b'\r' | b'#'),
        InputKind::Commands => matches!(b, b'\t' | b'\r' | b'#'),
    };
    let end = line.iter().position(|&b| is_cut(b)).unwrap_or(line.len());
    let kept = &line[..end];
    // C isprint: 0x20..=0x7e. Only what is kept is checked; a comment may hold anything.
    if !kept.iter().all(|&b| (0x20..0x7f).contains(&b)) {
        return Err(InputErrorKind::Unprintable);
    }
    if kept.is_empty() {
        return Ok(None);
    }
    // Printable ASCII only, hence valid UTF-8.
    let kept = std::str::from_utf8(kept).unwrap_or_default();
    match kind {
        InputKind::Commands => Ok(Some((kept.to_owned(), None))),
        InputKind::Addresses { command } => match kept.parse::<IpAddr>() {
            Ok(dst) => {
                // Built by hand: `format!` costs more than the rest of the line's handling.
                let mut text = String::with_capacity(command.len() + 1 + kept.len());
                text.push_str(command);
                text.push(' ');
                text.push_str(kept);
                Ok(Some((text, Some(dst))))
            }
            Err(_) => Err(InputErrorKind::InvalidAddress(kept.to_owned())),
        },
    }
}

impl<R: BufRead> Iterator for InputReader<R> {
    type Item = Result<InputLine, InputError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            let raw = match self.read_raw() {
                Ok(r) => r,
                Err(e) => {
                    self.done = true;
                    return Some(Err(InputError {
                        line: self.line + 1,
                        kind: InputErrorKind::Io(e),
                    }));
                }
            };
            let kind = match raw {
                RawLine::Eof => {
                    self.done = true;
                    return None;
                }
                RawLine::TooLong => {
                    self.line += 1;
                    Err(InputErrorKind::TooLong)
                }
                RawLine::Line => {
                    self.line += 1;
                    line_item(&self.buf, &self.kind)
                }
            };
            match kind {
                Ok(None) => continue,
                Ok(Some((command, dst))) => {
                    return Some(Ok(InputLine {
                        line: self.line,
                        command,
                        dst,
                    }))
                }
                Err(kind) => {
                    return Some(Err(InputError {
                        line: self.line,
                        kind,
                    }))
                }
            }
        }
        None
    }
}

/// The list record that results of the command-line sources (`-i`, `-I`, `-f`) belong to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefaultList {
    /// `-l`, default `default`.
    pub name: String,
    /// Always `default`.
    pub descr: String,
    /// `-L`, default 0.
    pub list_id: u32,
    /// `-C`, default 0.
    pub cycle_id: u32,
    /// Scheduling priority of the source; always 1.
    pub priority: u32,
}

impl DefaultList {
    pub fn from_options(opts: &RunOptions) -> DefaultList {
        DefaultList {
            name: opts.list_name.clone(),
            descr: "default".to_owned(),
            list_id: opts.list_id,
            cycle_id: opts.cycle_id,
            priority: 1,
        }
    }
}

/// `-i`: `"<command> <addr>"` for each address, in order.
pub fn address_commands(command: &str, addrs: &[String]) -> Vec<String> {
    addrs.iter().map(|a| format!("{command} {a}")).collect()
}

/// The commands of an `-i` or `-I` run, in order; `None` for other modes.
pub fn positional_commands(opts: &RunOptions) -> Option<Vec<String>> {
    match &opts.mode {
        Mode::Addresses(addrs) => Some(address_commands(
            opts.command.as_deref().unwrap_or(DEFAULT_COMMAND),
            addrs,
        )),
        Mode::Commands(cmds) => Some(cmds.clone()),
        Mode::File(_) | Mode::Control(_) => None,
    }
}

/// The lines of an `-i` or `-I` run, numbered from 1 (none for other modes). An `-i` line
/// carries its address when it is one (the entry point refuses the others before this).
pub fn positional_lines(opts: &RunOptions) -> Vec<InputLine> {
    let dsts: Vec<Option<IpAddr>> = match &opts.mode {
        Mode::Addresses(addrs) => addrs.iter().map(|a| a.parse().ok()).collect(),
        _ => Vec::new(),
    };
    let commands = positional_commands(opts).unwrap_or_default();
    commands
        .into_iter()
        .enumerate()
        .map(|(i, command)| InputLine {
            line: i as u64 + 1,
            command,
            dst: dsts.get(i).copied().flatten(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::{parse, Options};
    use std::ffi::OsString;
    use std::io::{BufReader, Cursor, Read};

    fn addrs() -> InputKind {
        InputKind::Addresses {
            command: "trace".into(),
        }
    }

    /// Every item as `Ok((line, command))` or `Err(message)`.
    fn collect<R: BufRead>(r: InputReader<R>) -> Vec<Result<(u64, String), String>> {
        r.map(|i| i.map(|l| (l.line, l.command)).map_err(|e| e.to_string()))
            .collect()
    }

    fn ok(line: u64, c: &str) -> Result<(u64, String), String> {
        Ok((line, c.to_owned()))
    }

    fn bad(m: &str) -> Result<(u64, String), String> {
        Err(m.to_owned())
    }

    #[test]
    fn address_lines() {
        type Case<'a> = (&'a [u8], Vec<Result<(u64, String), String>>);
        let cases: Vec<Case> = vec![
            (b"", vec![]),
            (b"\n\n", vec![]),
            (b"192.0.2.1", vec![ok(1, "trace 192.0.2.1")]),
            (
                b"192.0.2.1\n2001:db8::1\n",
                vec![ok(1, "trace 192.0.2.1"), ok(2, "trace 2001:db8::1")],
            ),
            (b"# header\n\n192.0.2.1\n", vec![ok(3, "trace 192.0.2.1")]),
            (
                b"192.0.2.1 trailing words\n",
                vec![ok(1, "trace 192.0.2.1")],
            ),
            (b"192.0.2.1\tx\n", vec![ok(1, "trace 192.0.2.1")]),
            (b"192.0.2.1\r\n", vec![ok(1, "trace 192.0.2.1")]),
            (b"192.0.2.1#comment\n", vec![ok(1, "trace 192.0.2.1")]),
            // Anything may follow the cut, even bytes that are not printable.
            (b"192.0.2.1 \x01\xff\n", vec![ok(1, "trace 192.0.2.1")]),
            // Cut at once: nothing left, so the line is skipped.
            (b" 192.0.2.1\n", vec![]),
            (b"\t\n\r\n#x\n", vec![]),
            (
                b"192.0.2.1\x01\n192.0.2.2\n",
                vec![
                    bad("unprintable characters on line 1"),
                    ok(2, "trace 192.0.2.2"),
                ],
            ),
            (b"\xc3\xa9\n", vec![bad("unprintable characters on line 1")]),
            (b"\x7f\n", vec![bad("unprintable characters on line 1")]),
            (
                b"\n192.0.2.300\n192.0.2.3\n",
                vec![
                    bad("invalid address '192.0.2.300' on line 2"),
                    ok(3, "trace 192.0.2.3"),
                ],
            ),
            (
                b"www.example.com\n",
                vec![bad("invalid address 'www.example.com' on line 1")],
            ),
            (
                b"192.0.2.0/24\n",
                vec![bad("invalid address '192.0.2.0/24' on line 1")],
            ),
            (
                b"trace 192.0.2.1\n",
                vec![bad("invalid address 'trace' on line 1")],
            ),
        ];
        for (text, want) in cases {
            let got = collect(InputReader::new(Cursor::new(text), addrs()));
            assert_eq!(got, want, "{:?}", String::from_utf8_lossy(text));
        }
        let r = InputReader::new(
            Cursor::new(b"192.0.2.1\n"),
            InputKind::Addresses {
                command: "ping -c 3".into(),
            },
        );
        assert_eq!(collect(r), vec![ok(1, "ping -c 3 192.0.2.1")]);
    }

    #[test]
    fn address_lines_carry_their_destination() {
        let text = b"192.0.2.1\n# c\n2001:DB8::1 x\n";
        let got: Vec<_> = InputReader::new(Cursor::new(text), addrs())
            .map(|l| l.map(|l| (l.command, l.dst)).map_err(|e| e.to_string()))
            .collect();
        assert_eq!(
            got,
            vec![
                Ok(("trace 192.0.2.1".into(), Some("192.0.2.1".parse().unwrap()))),
                Ok((
                    "trace 2001:DB8::1".into(),
                    Some("2001:db8::1".parse().unwrap())
                )),
            ]
        );
        let got: Vec<_> = InputReader::new(Cursor::new(b"ping 192.0.2.1\n"), InputKind::Commands)
            .map(|l| l.unwrap().dst)
            .collect();
        assert_eq!(got, vec![None]);
    }

    #[test]
    fn command_lines() {
        type Case<'a> = (&'a [u8], Vec<Result<(u64, String), String>>);
        let cases: Vec<Case> = vec![
            (b"ping -c 3 192.0.2.1\n", vec![ok(1, "ping -c 3 192.0.2.1")]),
            (b"ping 192.0.2.1 # why\n", vec![ok(1, "ping 192.0.2.1 ")]),
            (b"ping 192.0.2.1\tx\n", vec![ok(1, "ping 192.0.2.1")]),
            (b"ping 192.0.2.1\r\n", vec![ok(1, "ping 192.0.2.1")]),
            (b"#ping 192.0.2.1\n\n", vec![]),
            // Spaces are kept, so a blank line is a (bad) command for the command parser.
            (b"  \n", vec![ok(1, "  ")]),
            (
                b"ping\x00 192.0.2.1\nping 192.0.2.2",
                vec![
                    bad("unprintable characters on line 1"),
                    ok(2, "ping 192.0.2.2"),
                ],
            ),
        ];
        for (text, want) in cases {
            let got = collect(InputReader::new(Cursor::new(text), InputKind::Commands));
            assert_eq!(got, want, "{:?}", String::from_utf8_lossy(text));
        }
    }

    #[test]
    fn long_lines_are_skipped_with_bounded_memory() {
        let mut text = vec![b'1'; MAX_LINE + 10];
        text.extend_from_slice(b"\n192.0.2.1\n");
        text.extend(std::iter::repeat_n(b'x', 3 * MAX_LINE));
        // A small BufReader makes the long lines arrive in many pieces.
        let mut r = InputReader::new(BufReader::with_capacity(100, Cursor::new(text)), addrs());
        let first = r.next().unwrap().unwrap_err();
        assert_eq!(first.to_string(), "line 1 is longer than 65536 bytes");
        assert!(!first.is_fatal());
        assert_eq!(
            r.next().unwrap().unwrap(),
            InputLine {
                line: 2,
                command: "trace 192.0.2.1".into(),
                dst: Some("192.0.2.1".parse().unwrap()),
            }
        );
        assert_eq!(
            r.next().unwrap().unwrap_err().to_string(),
            "line 3 is longer than 65536 bytes"
        );
        assert!(r.next().is_none());
        assert!(r.buf.capacity() <= MAX_LINE);
        // Exactly MAX_LINE bytes is still accepted (and then fails as an address).
        let text = vec![b'1'; MAX_LINE];
        let e = InputReader::new(Cursor::new(text), addrs())
            .next()
            .unwrap()
            .unwrap_err();
        assert!(matches!(e.kind, InputErrorKind::InvalidAddress(_)), "{e}");
    }

    /// Produces `192.0.2.1\n` forever (up to a line count) without holding the data.
    struct Endless {
        left: u64,
        pos: usize,
    }

    impl Read for Endless {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            const LINE: &[u8] = b"192.0.2.1\n";
            let mut n = 0;
            while n < out.len() && self.left > 0 {
                out[n] = LINE[self.pos];
                n += 1;
                self.pos += 1;
                if self.pos == LINE.len() {
                    self.pos = 0;
                    self.left -= 1;
                }
            }
            Ok(n)
        }
    }

    #[test]
    fn lazy_over_a_long_stream() {
        let lines = 200_000;
        let mut r = InputReader::new(
            BufReader::new(Endless {
                left: lines,
                pos: 0,
            }),
            addrs(),
        );
        // Nothing is read before it is asked for.
        assert_eq!(r.lines_read(), 0);
        assert_eq!(r.next().unwrap().unwrap().line, 1);
        assert_eq!(r.lines_read(), 1);
        let mut count = 1;
        for item in r.by_ref() {
            let l = item.unwrap();
            count += 1;
            assert_eq!(l.line, count);
        }
        assert_eq!(count, lines);
        assert!(r.buf.capacity() < 64);
    }

    /// Returns some data, then an error, then (if asked again) more data.
    struct Failing {
        step: u8,
    }

    impl Read for Failing {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            self.step += 1;
            match self.step {
                1 => {
                    let d = b"192.0.2.1\n192.0.2.2\n192.0";
                    out[..d.len()].copy_from_slice(d);
                    Ok(d.len())
                }
                2 => Err(io::Error::new(io::ErrorKind::Interrupted, "again")),
                3 => Err(io::Error::other("disk on fire")),
                _ => {
                    out[..2].copy_from_slice(b"1\n");
                    Ok(2)
                }
            }
        }
    }

    #[test]
    fn io_error_ends_the_stream() {
        let r = InputReader::new(BufReader::new(Failing { step: 0 }), addrs());
        assert_eq!(
            collect(r),
            vec![
                ok(1, "trace 192.0.2.1"),
                ok(2, "trace 192.0.2.2"),
                bad("read error on line 3: disk on fire"),
            ]
        );
        let mut r = InputReader::new(BufReader::new(Failing { step: 0 }), addrs());
        let e = r.nth(2).unwrap().unwrap_err();
        assert!(e.is_fatal());
        assert!(std::error::Error::source(&e).is_some());
    }

    fn run_opts(a: &[&str]) -> RunOptions {
        let a: Vec<OsString> = a.iter().map(OsString::from).collect();
        match parse(&a).unwrap() {
            Options::Run(r) => *r,
            o => panic!("{o:?}"),
        }
    }

    #[test]
    fn kinds_and_positionals_from_options() {
        assert_eq!(InputKind::from_options(&run_opts(&["f"])), addrs());
        assert_eq!(
            InputKind::from_options(&run_opts(&["-c", "ping", "f"])),
            InputKind::Addresses {
                command: "ping".into()
            }
        );
        assert_eq!(
            InputKind::from_options(&run_opts(&["-O", "cmdfile", "f"])),
            InputKind::Commands
        );

        let cases: &[(&[&str], Option<&[&str]>)] = &[
            (
                &["-i", "192.0.2.1", "2001:db8::1"],
                Some(&["trace 192.0.2.1", "trace 2001:db8::1"]),
            ),
            (
                &["-c", "ping -c 1", "-i", "192.0.2.1"],
                Some(&["ping -c 1 192.0.2.1"]),
            ),
            (
                &["-I", "ping 192.0.2.1", "trace -P icmp 192.0.2.2"],
                Some(&["ping 192.0.2.1", "trace -P icmp 192.0.2.2"]),
            ),
            (
                &["-c", "ping", "-I", "trace 192.0.2.1"],
                Some(&["trace 192.0.2.1"]),
            ),
            (&["list.txt"], None),
            (&["-P", "1"], None),
        ];
        for (a, want) in cases {
            let got = positional_commands(&run_opts(a));
            let want = want.map(|w| w.iter().map(|s| s.to_string()).collect::<Vec<_>>());
            assert_eq!(got, want, "{a:?}");
        }
        let lines = positional_lines(&run_opts(&["-c", "ping", "-i", "192.0.2.1", "2001:db8::1"]));
        let got: Vec<_> = lines.iter().map(|l| (l.line, l.dst)).collect();
        assert_eq!(
            got,
            vec![
                (1, Some("192.0.2.1".parse().unwrap())),
                (2, Some("2001:db8::1".parse().unwrap()))
            ]
        );
        let lines = positional_lines(&run_opts(&["-I", "ping 192.0.2.1"]));
        assert_eq!(lines[0].dst, None);
        assert!(positional_lines(&run_opts(&["list.txt"])).is_empty());
        assert_eq!(
            address_commands("host", &["a".into(), "b".into()]),
            vec!["host a".to_string(), "host b".to_string()]
        );
    }

    #[test]
    fn default_list() {
        let want = |name: &str, list_id, cycle_id| DefaultList {
            name: name.into(),
            descr: "default".into(),
            list_id,
            cycle_id,
            priority: 1,
        };
        assert_eq!(
            DefaultList::from_options(&run_opts(&["f"])),
            want("default", 0, 0)
        );
        assert_eq!(
            DefaultList::from_options(&run_opts(&["-l", "L", "-L", "3", "-C", "4", "f"])),
            want("L", 3, 4)
        );
    }

    #[test]
    fn line_command_direct() {
        assert_eq!(
            line_command(b"192.0.2.1 x", &addrs()).unwrap(),
            Some("trace 192.0.2.1".into())
        );
        assert_eq!(line_command(b"", &InputKind::Commands).unwrap(), None);
        assert!(matches!(
            line_command(b"\x1b", &InputKind::Commands),
            Err(InputErrorKind::Unprintable)
        ));
    }
}
