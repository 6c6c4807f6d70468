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
                return Err(UsageError(format!("option requires an argument -- '{c}'")));
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

/// The writing side of the connection; also shuts the socket down so the reader thread ends.
enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Stream {
    fn shutdown(&self) {
        // Errors only mean the peer is already gone.
        let _ = match self {
            Stream::Tcp(s) => s.shutdown(std::net::Shutdown::Both),
            Stream::Unix(s) => s.shutdown(std::net::Shutdown::Both),
        };
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            Stream::Unix(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.flush(),
            Stream::Unix(s) => s.flush(),
        }
    }
}

fn connect(target: &Target) -> io::Result<(Box<dyn Read + Send>, Stream)> {
    Ok(match target {
        Target::Inet(addr) => {
            let s = TcpStream::connect(addr)?;
            (Box::new(s.try_clone()?), Stream::Tcp(s))
        }
        Target::Unix(path) | Target::Remote(path) => {
            let s = UnixStream::connect(path)?;
            (Box::new(s.try_clone()?), Stream::Unix(s))
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
    conn: Stream,
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

type Connection = (Box<dyn Read + Send>, Stream);

fn open_connection(cfg: &Config) -> Result<Connection, Failure> {
    connect(&cfg.target).or_else(|e| {
        let what = match &cfg.target {
            Target::Inet(a) => a.to_string(),
            Target::Unix(p) | Target::Remote(p) => p.display().to_string(),
        };
        fatal(format!("could not connect to {what}: {e}"))
    })
}

/// Attaches and runs the conversation until scamper closes the connection.
fn run(cfg: &Config, conn: Connection, input: Input, out: &mut dyn Write) -> Result<(), Failure> {
    let (conn_r, conn_w) = conn;
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
    let result = converse(&mut s, cfg, &rx);
    s.conn.shutdown();
    result?;
    s.out
        .flush()
        .or_else(|e| fatal(format!("could not write output: {e}")))
}

fn converse(s: &mut Session, cfg: &Config, rx: &mpsc::Receiver<Event>) -> Result<(), Failure> {
    if let Some(attach) = cfg.attach_line() {
        s.send(&attach)?;
    }
    // The server reader always ends with an EOF or error event.
    while let Ok(ev) = rx.recv() {
        match ev {
            Event::Server(line) => s.on_server_line(line)?,
            Event::ServerEof if s.data.is_some() => {
                return fatal("connection closed in the middle of DATA")
            }
            Event::ServerEof => return Ok(()),
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
    Ok(())
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
    // Connect first, so a failed connection does not truncate the output file.
    let conn = match open_connection(&cfg) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("sc_attach: {e}");
            std::process::exit(1);
        }
    };
    let mut out: Box<dyn Write> = match &cfg.outfile {
        None => Box::new(io::BufWriter::new(io::stdout().lock())),
        Some(path) => match File::create(path) {
            Ok(f) => Box::new(io::BufWriter::new(f)),
            Err(e) => {
                eprintln!("sc_attach: could not open {}: {e}", path.display());
                std::process::exit(1);
            }
        },
    };
    let result = run(&cfg, conn, input, &mut out);
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

#[cfg(test)]
mod tests {
    use super::*;
    use scamper_probe::control::protocol::{DataFormat, OutputQueue};
    use std::io::Cursor;
    use std::net::TcpListener;
    use std::os::unix::net::UnixListener;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    fn config(s: &str) -> Config {
        match parse_args(&args(s)) {
            Ok(Parsed::Run(c)) => c,
            other => panic!("{s}: {other:?}"),
        }
    }

    #[test]
    fn options() {
        let c = config("-U /tmp/ctl.sock -o out.warts -i cmds.txt");
        assert_eq!(c.target, Target::Unix("/tmp/ctl.sock".into()));
        assert_eq!(c.outfile, Some("out.warts".into()));
        assert_eq!(c.infile, Some("cmds.txt".into()));
        assert!(!c.impatient);
        assert_eq!(c.attach_line().as_deref(), Some("attach"));

        let c = config("-i - -o - -p 31337");
        assert_eq!(c.target, Target::Inet("127.0.0.1:31337".parse().unwrap()));
        assert_eq!((c.infile, c.outfile), (None, None));

        let c = config("-p192.0.2.1:80 -P 5 -o x -Oimpatient");
        assert_eq!(c.target, Target::Inet("192.0.2.1:80".parse().unwrap()));
        assert!(c.impatient);
        assert_eq!(c.attach_line().as_deref(), Some("attach priority 5"));
        let c = config("-p [2001:db8::1]:8 -o x");
        assert_eq!(c.target, Target::Inet("[2001:db8::1]:8".parse().unwrap()));

        // The -d quirk: it shares -P's flag, so the attach carries priority 1.
        let c = config("-d -U s -o x");
        assert_eq!(c.attach_line().as_deref(), Some("attach priority 1"));
        let c = config("-dP 7 -U s -o x");
        assert_eq!(c.attach_line().as_deref(), Some("attach priority 7"));
        // sc_remoted sockets are already attached.
        let c = config("-R /run/vp1-192.0.2.1:5 -P 3 -o x");
        assert_eq!(c.target, Target::Remote("/run/vp1-192.0.2.1:5".into()));
        assert_eq!(c.attach_line(), None);

        assert_eq!(parse_args(&args("-?")), Ok(Parsed::Help));
        let errors = [
            ("-o x", "one of -p, -R or -U is required"),
            ("-U a -p 1 -o x", "only one of -p, -R or -U may be given"),
            ("-U a", "an output file (-o) is required"),
            ("-U a -o x -O rude", "unknown option -O rude"),
            ("-U a -o x -P 0", "invalid priority 0"),
            ("-U a -o x -P 100001", "invalid priority 100001"),
            ("-p 0 -o x", "invalid -p 0, expected [ip:]port"),
            ("-p 65536 -o x", "invalid -p 65536, expected [ip:]port"),
            ("-p host:80 -o x", "invalid -p host:80, expected [ip:]port"),
            ("-p +80 -o x", "invalid -p +80, expected [ip:]port"),
            ("-U a -o x -z", "invalid option -- 'z'"),
            ("-U a -o", "option requires an argument -- 'o'"),
            ("-U a -o x extra", "unexpected argument 'extra'"),
        ];
        for (a, want) in errors {
            assert_eq!(parse_args(&args(a)), Err(UsageError(want.into())), "{a}");
        }
    }

    #[test]
    fn command_lines() {
        assert_eq!(
            command_of("ping 192.0.2.1\r\n").as_deref(),
            Some("ping 192.0.2.1")
        );
        assert_eq!(command_of("   "), None);
        assert_eq!(command_of("# a comment"), None);
    }

    /// The server side of one connection, with a timeout so a wrong client fails the test
    /// instead of hanging it.
    struct Conn {
        r: BufReader<Box<dyn Read + Send>>,
        w: Box<dyn Write + Send>,
        got: Vec<String>,
        credit: i32,
    }

    impl Conn {
        fn line(&mut self) -> Option<String> {
            let mut l = String::new();
            match self.r.read_line(&mut l).expect("client line") {
                0 => None,
                _ => {
                    let l = l.strip_suffix('\n').expect("newline").to_string();
                    self.got.push(l.clone());
                    Some(l)
                }
            }
        }

        fn send(&mut self, bytes: &[u8]) {
            self.w.write_all(bytes).unwrap();
        }

        fn more(&mut self) {
            self.credit += 1;
            self.send(b"MORE\n");
        }

        fn data(&mut self, obj: &[u8], id: Option<u32>) {
            let mut q = OutputQueue::new();
            q.push_data(obj, id, DataFormat::Warts);
            while let Some(c) = q.next_chunk() {
                let c = c.to_vec();
                self.send(&c);
                q.consume(c.len());
            }
        }
    }

    static SOCKETS: AtomicUsize = AtomicUsize::new(0);

    /// Serves one unix-socket connection with `script`; returns the path and the lines the
    /// client sent (the join fails if the script panicked).
    fn unix_server(
        script: impl FnOnce(&mut Conn) + Send + 'static,
    ) -> (PathBuf, thread::JoinHandle<Vec<String>>) {
        let n = SOCKETS.fetch_add(1, Ordering::SeqCst);
        let path = std::env::temp_dir().join(format!("sc_attach-{}-{n}.sock", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path).unwrap();
        let p = path.clone();
        let h = thread::spawn(move || {
            let (s, _) = listener.accept().unwrap();
            let _ = std::fs::remove_file(&p);
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            serve(Box::new(s.try_clone().unwrap()), Box::new(s), script)
        });
        (path, h)
    }

    fn serve(
        r: Box<dyn Read + Send>,
        w: Box<dyn Write + Send>,
        script: impl FnOnce(&mut Conn),
    ) -> Vec<String> {
        let mut c = Conn {
            r: BufReader::new(r),
            w,
            got: Vec::new(),
            credit: 0,
        };
        script(&mut c);
        c.got
    }

    fn obj(kind: u8, len: usize) -> Vec<u8> {
        let mut v = vec![0x12, 0x05, 0, kind];
        v.extend((0..len).map(|i| (i * 31 + usize::from(kind)) as u8));
        v
    }

    /// scamper's side of a well-behaved attach session: list + cycle start after the first
    /// MORE, `OK id-n` and a MORE per command, results, cycle stop and close after `done`.
    fn scamper_script(attach: Option<&'static str>) -> impl FnOnce(&mut Conn) + Send {
        move |c: &mut Conn| {
            if let Some(a) = attach {
                assert_eq!(c.line().as_deref(), Some(a));
                c.send(b"OK\n");
            }
            c.more();
            c.data(&obj(1, 30), None);
            c.data(&obj(2, 40), None);
            let mut id = 0;
            loop {
                let line = c.line().expect("client closed early");
                if line == "done" {
                    break;
                }
                assert!(c.credit > 0, "command {line:?} sent without a MORE");
                c.credit -= 1;
                id += 1;
                c.send(format!("OK id-{id}\n").as_bytes());
                c.more();
            }
            c.send(b"OK\n");
            for i in 1..=id {
                c.data(&obj(7, 50 + 40 * i as usize), Some(i));
            }
            c.data(&obj(4, 9), None);
        }
    }

    fn expected_output(results: u32) -> Vec<u8> {
        let mut want = obj(1, 30);
        want.extend(obj(2, 40));
        for i in 1..=results {
            want.extend(obj(7, 50 + 40 * i as usize));
        }
        want.extend(obj(4, 9));
        want
    }

    fn run(cfg: &Config, input: Input, out: &mut dyn Write) -> Result<(), Failure> {
        super::run(cfg, open_connection(cfg)?, input, out)
    }

    fn lines(v: &[&str]) -> Input {
        Input::Lines(v.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn file_commands_one_per_more() {
        let (path, h) = unix_server(scamper_script(Some("attach")));
        let cfg = config(&format!("-U {} -o x", path.display()));
        let mut out = Vec::new();
        let cmds = [
            "ping -c 3 192.0.2.1",
            "trace 198.51.100.7",
            "ping 192.0.2.9",
        ];
        run(&cfg, lines(&cmds), &mut out).unwrap();
        let got = h.join().unwrap();
        assert_eq!(got, ["attach", cmds[0], cmds[1], cmds[2], "done"]);
        assert_eq!(out, expected_output(3));
    }

    #[test]
    fn empty_input_sends_done_on_first_more() {
        let (path, h) = unix_server(scamper_script(Some("attach priority 1")));
        let cfg = config(&format!("-d -U {} -o x", path.display()));
        let mut out = Vec::new();
        run(&cfg, lines(&[]), &mut out).unwrap();
        assert_eq!(h.join().unwrap(), ["attach priority 1", "done"]);
        assert_eq!(out, expected_output(0));
    }

    #[test]
    fn remote_socket_sends_no_attach() {
        let (path, h) = unix_server(scamper_script(None));
        let cfg = config(&format!("-R {} -P 9 -o x", path.display()));
        let mut out = Vec::new();
        run(&cfg, lines(&["ping 192.0.2.1"]), &mut out).unwrap();
        assert_eq!(h.join().unwrap(), ["ping 192.0.2.1", "done"]);
        assert_eq!(out, expected_output(1));
    }

    #[test]
    fn tcp_with_priority() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let h = thread::spawn(move || {
            let (s, _) = listener.accept().unwrap();
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let script = scamper_script(Some("attach priority 40"));
            serve(Box::new(s.try_clone().unwrap()), Box::new(s), script)
        });
        let cfg = config(&format!("-p {port} -P 40 -o x"));
        let mut out = Vec::new();
        run(
            &cfg,
            lines(&["trace 192.0.2.5", "trace 192.0.2.6"]),
            &mut out,
        )
        .unwrap();
        assert_eq!(h.join().unwrap().len(), 4);
        assert_eq!(out, expected_output(2));
    }

    #[test]
    fn impatient_sends_everything_on_first_more() {
        let (path, h) = unix_server(|c: &mut Conn| {
            assert_eq!(c.line().as_deref(), Some("attach"));
            c.send(b"OK\n");
            c.more();
            // All three arrive without another MORE (a patient client would stall here).
            for id in 1..=3 {
                assert!(c.line().unwrap().starts_with("ping"));
                c.send(format!("OK id-{id}\n").as_bytes());
            }
            c.more();
            assert_eq!(c.line().as_deref(), Some("done"));
            c.send(b"OK\n");
            c.data(&obj(4, 9), None);
        });
        let cfg = config(&format!("-U {} -o x -O impatient", path.display()));
        let mut out = Vec::new();
        let cmds = ["ping 192.0.2.1", "ping 192.0.2.2", "ping 192.0.2.3"];
        run(&cfg, lines(&cmds), &mut out).unwrap();
        assert_eq!(h.join().unwrap().len(), 5);
        assert_eq!(out, obj(4, 9));
    }

    /// Input that yields a chunk only when the test hands it over, like a slow stdin.
    struct ChanReader {
        rx: mpsc::Receiver<Vec<u8>>,
        buf: Cursor<Vec<u8>>,
    }

    impl Read for ChanReader {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            loop {
                let n = self.buf.read(out)?;
                if n > 0 {
                    return Ok(n);
                }
                match self.rx.recv() {
                    Ok(chunk) => self.buf = Cursor::new(chunk),
                    Err(_) => return Ok(0),
                }
            }
        }
    }

    #[test]
    fn stdin_commands_wait_for_input_and_eof() {
        let (feed, rx) = mpsc::channel::<Vec<u8>>();
        let (path, h) = unix_server(move |c: &mut Conn| {
            assert_eq!(c.line().as_deref(), Some("attach"));
            c.send(b"OK\n");
            c.more();
            // Nothing to send yet: the command goes out as soon as it is typed.
            feed.send(b"\n# first\nping 192.0.2.1\n".to_vec()).unwrap();
            assert_eq!(c.line().as_deref(), Some("ping 192.0.2.1"));
            c.send(b"OK id-1\n");
            c.more();
            c.data(&obj(7, 20), Some(1));
            feed.send(b"ping 192.0.2.2\r\n".to_vec()).unwrap();
            assert_eq!(c.line().as_deref(), Some("ping 192.0.2.2"));
            c.send(b"OK id-2\n");
            c.more();
            // No done before the input ends.
            drop(feed);
            assert_eq!(c.line().as_deref(), Some("done"));
            c.send(b"OK\n");
            c.data(&obj(7, 21), Some(2));
            c.data(&obj(4, 9), None);
        });
        let cfg = config(&format!("-U {} -o x", path.display()));
        let input = ChanReader {
            rx,
            buf: Cursor::new(Vec::new()),
        };
        let mut out = Vec::new();
        run(
            &cfg,
            Input::Stream(Box::new(BufReader::new(input))),
            &mut out,
        )
        .unwrap();
        h.join().unwrap();
        let mut want = obj(7, 20);
        want.extend(obj(7, 21));
        want.extend(obj(4, 9));
        assert_eq!(out, want);
    }

    #[test]
    fn err_line_stops_with_output_kept() {
        let (path, h) = unix_server(|c: &mut Conn| {
            assert_eq!(c.line().as_deref(), Some("attach"));
            c.send(b"OK\n");
            c.more();
            c.data(&obj(1, 30), None);
            c.line().unwrap();
            c.send(b"ERR command not accepted: invalid destination address\n");
            // The client hangs up without sending anything else.
            assert_eq!(c.line(), None);
        });
        let cfg = config(&format!("-U {} -o x", path.display()));
        let mut out = Vec::new();
        let err = run(&cfg, lines(&["ping nowhere"]), &mut out).unwrap_err();
        assert!(matches!(
            &err,
            Failure::Rejected(l) if l == "ERR command not accepted: invalid destination address"
        ));
        assert_eq!(out, obj(1, 30));
        assert_eq!(h.join().unwrap(), ["attach", "ping nowhere"]);
    }

    /// A server that sends `bytes` after the attach and closes.
    fn broken_server(bytes: &'static [u8]) -> Result<(), Failure> {
        let (path, h) = unix_server(move |c: &mut Conn| {
            c.line();
            c.send(bytes);
        });
        let cfg = config(&format!("-U {} -o x", path.display()));
        let r = run(&cfg, lines(&[]), &mut Vec::new());
        h.join().unwrap();
        r
    }

    #[test]
    fn protocol_violations_are_fatal() {
        let cases: [(&[u8], &str); 6] = [
            (b"OK\nHELLO\n", "unexpected line from scamper: HELLO"),
            (b"DATA x\n", "invalid DATA line: DATA x"),
            (
                b"DATA 10\n!0```\n",
                "connection closed in the middle of DATA",
            ),
            (b"DATA 3\n!0```\n`\n", "DATA body longer than announced"),
            (
                b"DATA 8\n!0``a\n`\n",
                "uudecode line 1: invalid character 0x61 at offset 4",
            ),
            (b"OK\nMO", "connection closed in the middle of a line"),
        ];
        for (bytes, want) in cases {
            match broken_server(bytes) {
                Err(Failure::Fatal(m)) => assert_eq!(m, want),
                other => panic!("{:?}: {other:?}", String::from_utf8_lossy(bytes)),
            }
        }
        // A server that just closes: nothing to write, success.
        assert!(broken_server(b"").is_ok());
    }

    #[test]
    fn connect_failure() {
        let cfg = config("-U /nonexistent/sc_attach.sock -o x");
        match run(&cfg, lines(&[]), &mut Vec::new()) {
            Err(Failure::Fatal(m)) => {
                assert!(m.starts_with("could not connect to /nonexistent/sc_attach.sock"))
            }
            other => panic!("{other:?}"),
        }
    }
}
