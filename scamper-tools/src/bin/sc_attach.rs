//! sc_attach: drive a scamper control socket (or an sc_remoted per-VP socket) in attach mode
//! from a file of commands, writing the warts results to a file (control.md §6.3).
//!
//! Commands are sent one per `MORE` (all at once with `-O impatient`), `done` goes out on the
//! `MORE` that finds no command left once the input has ended, every `DATA` body is uudecoded
//! and appended verbatim to the output, and the program ends when scamper closes the connection.
//! Blocking std I/O: one thread reads the socket, one reads stdin input, the main thread decides.
#![forbid(unsafe_code)]

use std::collections::VecDeque;
use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::mpsc;
use std::thread;

use scamper_probe::control::uuencode::uudecode;

const USAGE: &str = "\
usage: sc_attach [-d?] [-i infile] [-o outfile] [-O option]
                 [-p [ip:]port] [-P priority] [-R unix-remote] [-U unix-scamper]

  -? print this usage text
  -d set the same flag as -P: attach with priority 1 unless -P is given
  -i file of commands, one per line (\"-\" or no -i: standard input)
  -o file to write the warts results to (\"-\": standard output)
  -O options: impatient (send every command at once, not one per MORE)
  -p [ip:]port of scamper's control socket (ip defaults to 127.0.0.1)
  -P priority to attach with (1..100000)
  -R unix domain socket of a vantage point served by sc_remoted (no attach)
  -U unix domain socket of scamper's control socket
";

/// Longest line accepted from scamper; replies and uuencoded lines are far shorter.
const MAX_LINE: usize = 64 * 1024;

/// Largest attach priority scamper accepts.
const PRIORITY_MAX: u32 = 100_000;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    Inet(SocketAddr),
    Unix(PathBuf),
    /// sc_remoted per-VP socket: already attached, so no `attach` line.
    Remote(PathBuf),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Config {
    target: Target,
    /// `-P`; `-d` sets the same flag, which makes the attach line carry a priority of 1.
    priority: Option<u32>,
    priority_flag: bool,
    /// `None` = standard input.
    infile: Option<PathBuf>,
    /// `None` = standard output.
    outfile: Option<PathBuf>,
    impatient: bool,
}

impl Config {
    /// The first line sent, if any.
    fn attach_line(&self) -> Option<String> {
        match self.target {
            Target::Remote(_) => None,
            _ if self.priority_flag => {
                Some(format!("attach priority {}", self.priority.unwrap_or(1)))
            }
            _ => Some("attach".to_string()),
        }
    }
}

/// Why the command line was refused; printed before the usage text.
#[derive(Debug, Clone, PartialEq, Eq)]
struct UsageError(String);

/// What the arguments ask for.
#[derive(Debug, PartialEq, Eq)]
enum Parsed {
    Help,
    Run(Config),
}

/// getopt-style scan of `di:o:O:p:P:R:U:?`: clustered flags, values attached or in the next
/// argument, `--` ends the options.
fn parse_args(args: &[String]) -> Result<Parsed, UsageError> {
    let mut priority = None;
    let mut priority_flag = false;
    let mut infile = None;
    let mut outfile = None;
    let mut impatient = false;
    let mut targets = Vec::new();

    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        if arg == "--" {
            break;
        }
        let Some(flags) = arg.strip_prefix('-').filter(|f| !f.is_empty()) else {
            return Err(UsageError(format!("unexpected argument '{arg}'")));
        };
        for (pos, c) in flags.char_indices() {
            let takes_value = "ioOpPRU".contains(c);
            if !takes_value {
                match c {
                    'd' => priority_flag = true,
                    '?' => return Ok(Parsed::Help),
                    _ => return Err(UsageError(format!("invalid option -- '{c}'"))),
                }
                continue;
            }
            let attached = &flags[pos + c.len_utf8()..];
            let value = if !attached.is_empty() {
                attached.to_string()
            } else if i < args.len() {
                i += 1;
                args[i - 1].clone()
            } else {
                return Err(UsageError(format!(
                    "option requires an argument -- '{c}'"
                )));
            };
            match c {
                'i' => infile = (value != "-").then(|| PathBuf::from(&value)),
                'o' => outfile = Some(value),
                'O' => match value.as_str() {
                    "impatient" => impatient = true,
                    _ => return Err(UsageError(format!("unknown option -O {value}"))),
                },
                'p' => targets.push(Target::Inet(parse_inet(&value)?)),
                'P' => {
                    let p = value
                        .parse::<u32>()
                        .ok()
                        .filter(|p| (1..=PRIORITY_MAX).contains(p))
                        .ok_or_else(|| UsageError(format!("invalid priority {value}")))?;
                    priority = Some(p);
                    priority_flag = true;
                }
                'R' => targets.push(Target::Remote(PathBuf::from(value))),
                _ => targets.push(Target::Unix(PathBuf::from(value))),
            }
            break;
        }
    }
    if i < args.len() {
        return Err(UsageError(format!("unexpected argument '{}'", args[i])));
    }
    let target = match targets.len() {
        0 => return Err(UsageError("one of -p, -R or -U is required".into())),
        1 => targets.remove(0),
        _ => return Err(UsageError("only one of -p, -R or -U may be given".into())),
    };
    let outfile = match outfile {
        None => return Err(UsageError("an output file (-o) is required".into())),
        Some(o) if o == "-" => None,
        Some(o) => Some(PathBuf::from(o)),
    };
    Ok(Parsed::Run(Config {
        target,
        priority,
        priority_flag,
        infile,
        outfile,
        impatient,
    }))
}

/// `port`, `ip:port` or `[ipv6]:port`; no address means 127.0.0.1.
fn parse_inet(s: &str) -> Result<SocketAddr, UsageError> {
    let bad = || UsageError(format!("invalid -p {s}, expected [ip:]port"));
    let (ip, port) = if let Some(rest) = s.strip_prefix('[') {
        let (ip, port) = rest.split_once("]:").ok_or_else(bad)?;
        (ip, port)
    } else {
        match s.rsplit_once(':') {
            Some((ip, port)) => (ip, port),
            None => ("127.0.0.1", s),
        }
    };
    let ip: IpAddr = ip.parse().map_err(|_| bad())?;
    let port = port
        .parse::<u16>()
        .ok()
        .filter(|&p| p != 0 && port.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(bad)?;
    Ok(SocketAddr::new(ip, port))
}

/// How sc_attach ends unsuccessfully.
#[derive(Debug)]
enum Failure {
    /// scamper rejected something: the `ERR ...` line.
    Rejected(String),
    /// A broken exchange or an I/O failure.
    Fatal(String),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Rejected(line) => f.write_str(line),
            Failure::Fatal(msg) => f.write_str(msg),
        }
    }
}

fn fatal<T>(msg: impl Into<String>) -> Result<T, Failure> {
    Err(Failure::Fatal(msg.into()))
}

/// Commands to send: a file is read whole up front, so `done` can follow its last command at
/// once; standard input is read as it comes.
enum Input {
    Lines(Vec<String>),
    Stream(Box<dyn BufRead + Send>),
}

/// Lines worth sending: blank lines (scamper would not answer them) and `#` comments are
/// skipped, a trailing `\r` removed.
fn command_of(line: &str) -> Option<String> {
    let line = line.trim_end_matches(['\r', '\n']);
    let t = line.trim();
    (!t.is_empty() && !t.starts_with('#')).then(|| line.to_string())
}

enum Event {
    /// One line from scamper including its `\n` (missing only on the last, partial line).
    Server(Vec<u8>),
    ServerEof,
    ServerError(io::Error),
    Command(String),
    InputEof,
    InputError(io::Error),
}

fn connect(target: &Target) -> io::Result<(Box<dyn Read + Send>, Box<dyn Write + Send>)> {
    Ok(match target {
        Target::Inet(addr) => {
            let s = TcpStream::connect(addr)?;
            (Box::new(s.try_clone()?), Box::new(s))
        }
        Target::Unix(path) | Target::Remote(path) => {
            let s = UnixStream::connect(path)?;
            (Box::new(s.try_clone()?), Box::new(s))
        }
    })
}

/// Reads one line of at most [`MAX_LINE`] bytes; `Ok(None)` at EOF.
fn read_line(r: &mut impl BufRead) -> io::Result<Option<Vec<u8>>> {
    let mut buf = Vec::new();
    r.take(MAX_LINE as u64 + 1).read_until(b'\n', &mut buf)?;
    if buf.is_empty() {
        return Ok(None);
    }
    if buf.len() > MAX_LINE {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "line from scamper too long",
        ));
    }
    Ok(Some(buf))
}

fn spawn_server_reader(conn: Box<dyn Read + Send>, tx: mpsc::Sender<Event>) {
    thread::spawn(move || {
        let mut r = BufReader::new(conn);
        loop {
            let ev = match read_line(&mut r) {
                Ok(Some(line)) => Event::Server(line),
                Ok(None) => Event::ServerEof,
                Err(e) => Event::ServerError(e),
            };
            let last = !matches!(ev, Event::Server(_));
            if tx.send(ev).is_err() || last {
                return;
            }
        }
    });
}

fn spawn_input_reader(mut input: Box<dyn BufRead + Send>, tx: mpsc::Sender<Event>) {
    thread::spawn(move || {
        let mut line = String::new();
        loop {
            line.clear();
            let ev = match input.read_line(&mut line) {
                Ok(0) => Event::InputEof,
                Ok(_) => match command_of(&line) {
                    Some(c) => Event::Command(c),
                    None => continue,
                },
                Err(e) => Event::InputError(e),
            };
            let last = !matches!(ev, Event::Command(_));
            if tx.send(ev).is_err() || last {
                return;
            }
        }
    });
}

/// The attach-mode conversation after connecting.
struct Session<'a> {
    conn: Box<dyn Write + Send>,
    out: &'a mut dyn Write,
    impatient: bool,
    pending: VecDeque<String>,
    input_done: bool,
    /// A `MORE` arrived when there was nothing to send: the next command goes out at once.
    more_waiting: bool,
    /// Impatient mode after the first `MORE`: every command goes out as soon as it is read.
    flowing: bool,
    done_sent: bool,
    /// Bytes of the current `DATA` body still to come, and the body so far.
    data: Option<(usize, Vec<u8>)>,
}

impl Session<'_> {
    fn send(&mut self, line: &str) -> Result<(), Failure> {
        let mut bytes = Vec::with_capacity(line.len() + 1);
        bytes.extend_from_slice(line.as_bytes());
        bytes.push(b'\n');
        self.conn
            .write_all(&bytes)
            .and_then(|()| self.conn.flush())
            .or_else(|e| fatal(format!("could not write to scamper: {e}")))
    }

    /// Sends what the flow control allows: one command per unused `MORE`, or everything when
    /// impatient; `done` once the input is exhausted and a `MORE` found nothing to send.
    fn pump(&mut self) -> Result<(), Failure> {
        if self.impatient && self.flowing {
            while let Some(c) = self.pending.pop_front() {
                self.send(&c)?;
                self.more_waiting = false;
            }
        } else if self.more_waiting {
            if let Some(c) = self.pending.pop_front() {
                self.send(&c)?;
                self.more_waiting = false;
            }
        }
        if self.more_waiting && self.pending.is_empty() && self.input_done && !self.done_sent {
            self.send("done")?;
            self.done_sent = true;
            self.more_waiting = false;
        }
        Ok(())
    }

    fn on_more(&mut self) -> Result<(), Failure> {
        self.more_waiting = true;
        self.flowing = true;
        self.pump()
    }

    fn on_server_line(&mut self, line: Vec<u8>) -> Result<(), Failure> {
        if let Some((remaining, body)) = &mut self.data {
            if line.len() > *remaining {
                return fatal("DATA body longer than announced");
            }
            *remaining -= line.len();
            body.extend_from_slice(&line);
            if *remaining == 0 {
                let body = std::mem::take(body);
                self.data = None;
                let obj = uudecode(&body).or_else(|e| fatal(e.to_string()))?;
                self.out
                    .write_all(&obj)
                    .or_else(|e| fatal(format!("could not write output: {e}")))?;
            }
            return Ok(());
        }
        let Some(text) = line.strip_suffix(b"\n") else {
            return fatal("connection closed in the middle of a line");
        };
        let text = String::from_utf8_lossy(text);
        if text == "MORE" {
            self.on_more()
        } else if text.starts_with("OK") {
            Ok(())
        } else if text.starts_with("ERR") {
            Err(Failure::Rejected(text.into_owned()))
        } else if let Some(hdr) = text.strip_prefix("DATA ") {
            let len = hdr
                .split(' ')
                .next()
                .and_then(|l| l.parse::<usize>().ok())
                .filter(|&l| l > 0)
                .map_or_else(|| fatal(format!("invalid DATA line: {text}")), Ok)?;
            self.data = Some((len, Vec::new()));
            Ok(())
        } else {
            fatal(format!("unexpected line from scamper: {text}"))
        }
    }
}

/// Connects, attaches and runs the conversation until scamper closes the connection.
fn run(cfg: &Config, input: Input, out: &mut dyn Write) -> Result<(), Failure> {
    let (conn_r, conn_w) = connect(&cfg.target).or_else(|e| {
        let what = match &cfg.target {
            Target::Inet(a) => a.to_string(),
            Target::Unix(p) | Target::Remote(p) => p.display().to_string(),
        };
        fatal(format!("could not connect to {what}: {e}"))
    })?;
    let (tx, rx) = mpsc::channel();
    spawn_server_reader(conn_r, tx.clone());
    let mut s = Session {
        conn: conn_w,
        out,
        impatient: cfg.impatient,
        pending: VecDeque::new(),
        input_done: false,
        more_waiting: false,
        flowing: false,
        done_sent: false,
        data: None,
    };
    match input {
        Input::Lines(lines) => {
            s.pending = lines.into();
            s.input_done = true;
        }
        Input::Stream(r) => spawn_input_reader(r, tx),
    }
    if let Some(attach) = cfg.attach_line() {
        s.send(&attach)?;
    }
    // The readers hold senders until they finish; the server reader always ends with EOF/error.
    while let Ok(ev) = rx.recv() {
        match ev {
            Event::Server(line) => s.on_server_line(line)?,
            Event::ServerEof => {
                if s.data.is_some() {
                    return fatal("connection closed in the middle of DATA");
                }
                break;
            }
            Event::ServerError(e) => return fatal(format!("could not read from scamper: {e}")),
            Event::Command(c) => {
                s.pending.push_back(c);
                s.pump()?;
            }
            Event::InputEof => {
                s.input_done = true;
                s.pump()?;
            }
            Event::InputError(e) => return fatal(format!("could not read input: {e}")),
        }
    }
    s.out
        .flush()
        .or_else(|e| fatal(format!("could not write output: {e}")))
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let cfg = match parse_args(&args) {
        Ok(Parsed::Run(cfg)) => cfg,
        Ok(Parsed::Help) => {
            eprint!("{USAGE}");
            std::process::exit(1);
        }
        Err(UsageError(msg)) => {
            eprintln!("sc_attach: {msg}");
            eprint!("{USAGE}");
            std::process::exit(1);
        }
    };
    let input = match &cfg.infile {
        None => Input::Stream(Box::new(BufReader::new(io::stdin()))),
        Some(path) => match std::fs::read_to_string(path) {
            Ok(text) => Input::Lines(text.lines().filter_map(command_of).collect()),
            Err(e) => {
                eprintln!("sc_attach: could not read {}: {e}", path.display());
                std::process::exit(1);
            }
        },
    };
    let mut out: Box<dyn Write> = match &cfg.outfile {
        None => Box::new(io::stdout().lock()),
        Some(path) => match File::create(path) {
            Ok(f) => Box::new(io::BufWriter::new(f)),
            Err(e) => {
                eprintln!("sc_attach: could not open {}: {e}", path.display());
                std::process::exit(1);
            }
        },
    };
    let result = run(&cfg, input, &mut out);
    // Results decoded before a failure are kept.
    let flushed = out.flush();
    match result {
        Ok(()) => {
            if let Err(e) = flushed {
                eprintln!("sc_attach: could not write output: {e}");
                std::process::exit(1);
            }
        }
        Err(Failure::Rejected(line)) => {
            eprintln!("{line}");
            std::process::exit(1);
        }
        Err(Failure::Fatal(msg)) => {
            eprintln!("sc_attach: {msg}");
            std::process::exit(1);
        }
    }
    // A stdin reader thread may still be blocked in read(); returning from main ends it.
}

