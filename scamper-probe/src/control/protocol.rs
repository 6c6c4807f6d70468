//! The control socket's line protocol without any I/O (control.md §1-§4): splitting client
//! bytes into lines, parsing interactive and attached-mode lines into typed values, formatting
//! every reply, and the per-client output queue with `DATA` framing and ordering.
//!
//! The engine feeds received bytes into a [`LineReader`], dispatches each line with
//! [`parse_interactive`] or [`parse_attached`], answers with the [`reply`] helpers through an
//! [`OutputQueue`], and writes what [`OutputQueue::next_chunk`] hands out.

use std::collections::VecDeque;
use std::fmt;
use std::net::IpAddr;

use super::uuencode::{encoded_len, uuencode};
use crate::options::{PPS_MAX, VERSION, WINDOW_MAX};

/// Longest line a client may send (without its `\n`). scamper itself has no limit; ours keeps
/// a client from growing the buffer without bound. Commands are far shorter.
pub const MAX_LINE_LEN: usize = 8192;

/// A suggested bound for [`OutputQueue::queued_bytes`]: a client this far behind has stopped
/// reading and is dropped rather than buffered for without limit.
pub const OUTPUT_QUEUE_LIMIT: usize = 64 * 1024 * 1024;

/// Measurement words accepted as the first word of an attached-mode command (§4.1).
pub const MEASUREMENT_COMMANDS: [&str; 12] = [
    "trace",
    "ping",
    "tracelb",
    "dealias",
    "neighbourdisc",
    "tbit",
    "sting",
    "sniff",
    "host",
    "http",
    "udpprobe",
    "owamp",
];

/// Largest attach `priority`.
pub const PRIORITY_MAX: u32 = 100_000;

const ATTACH_PARAMS: [&str; 7] = [
    "cycle_id", "descr", "format", "list_id", "monitor", "name", "priority",
];

/// Words `attach` accepts: seven parameter/value pairs.
const ATTACH_MAX_WORDS: usize = 14;

/// An `ERR` reply: the text after `ERR `.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrReply(pub String);

impl ErrReply {
    pub fn new(text: impl Into<String>) -> Self {
        ErrReply(text.into())
    }

    /// The reply line (without `\n`).
    pub fn line(&self) -> String {
        reply::err(&self.0)
    }
}

impl fmt::Display for ErrReply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ErrReply {}

fn err<T>(text: impl Into<String>) -> Result<T, ErrReply> {
    Err(ErrReply::new(text))
}

// ---------------------------------------------------------------------------------------------
// Lines

/// A line the client must not send; after it the engine replies [`LineError::reply`], abandons
/// the client's source and closes the connection once pending output is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineError {
    /// A byte outside 0x20..=0x7e (after removing the trailing `\r`).
    InvalidCharacter,
    /// More than the reader's maximum without a `\n`.
    TooLong,
}

impl LineError {
    pub fn reply(&self) -> ErrReply {
        match self {
            LineError::InvalidCharacter => ErrReply::new("invalid character in line"),
            LineError::TooLong => ErrReply::new("line too long"),
        }
    }
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reply().0)
    }
}

impl std::error::Error for LineError {}

/// Splits a client's byte stream into lines (§1.1): on `\n`, a trailing `\r` removed, empty
/// lines skipped, only printable ASCII allowed. A partial line left at EOF is never dispatched.
#[derive(Debug, Clone)]
pub struct LineReader {
    buf: Vec<u8>,
    /// Bytes of `buf` already known to hold no `\n`, so a trickling client costs linear time.
    scanned: usize,
    max: usize,
    /// Set after an over-long line: bytes are dropped up to the next `\n`.
    skipping: bool,
}

impl Default for LineReader {
    fn default() -> Self {
        Self::new()
    }
}

impl LineReader {
    pub fn new() -> Self {
        Self::with_max_len(MAX_LINE_LEN)
    }

    pub fn with_max_len(max: usize) -> Self {
        LineReader {
            buf: Vec::new(),
            scanned: 0,
            max,
            skipping: false,
        }
    }

    /// Appends received bytes; then call [`next_line`](Self::next_line) until `None`.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes held that do not yet form a complete line.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }

    /// The next complete, non-empty line, or an error for a bad one (later lines can still be
    /// read, but the protocol ends the connection after the first error).
    pub fn next_line(&mut self) -> Option<Result<String, LineError>> {
        loop {
            let Some(off) = self.buf[self.scanned..].iter().position(|&b| b == b'\n') else {
                self.scanned = self.buf.len();
                if self.skipping {
                    self.buf.clear();
                    self.scanned = 0;
                } else if self.buf.len() > self.max {
                    self.buf.clear();
                    self.scanned = 0;
                    self.skipping = true;
                    return Some(Err(LineError::TooLong));
                }
                return None;
            };
            let nl = self.scanned + off;
            let mut line: Vec<u8> = self.buf.drain(..=nl).collect();
            self.scanned = 0;
            line.pop();
            if std::mem::take(&mut self.skipping) {
                continue;
            }
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            if line.len() > self.max {
                return Some(Err(LineError::TooLong));
            }
            if line.is_empty() {
                continue;
            }
            if !line.iter().all(|&b| (0x20..=0x7e).contains(&b)) {
                return Some(Err(LineError::InvalidCharacter));
            }
            // Printable ASCII is valid UTF-8.
            return Some(Ok(String::from_utf8(line).unwrap_or_default()));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Words

/// First word and the rest (leading whitespace removed) of `s`.
fn split_word(s: &str) -> (&str, &str) {
    let s = s.trim_start_matches(is_space);
    match s.find(is_space) {
        Some(i) => (&s[..i], s[i..].trim_start_matches(is_space)),
        None => (s, ""),
    }
}

fn is_space(c: char) -> bool {
    c.is_ascii_whitespace()
}

/// Splits parameters the way scamper's `params_get` does: whitespace-separated words, a word
/// starting with `"` runs to the next `"` (no escapes). `None` for an unterminated quote or
/// more than `max` words.
fn params_get(s: &str, max: usize) -> Option<Vec<String>> {
    let mut words = Vec::new();
    let mut rest = s.trim_start_matches(is_space);
    while !rest.is_empty() {
        if words.len() == max {
            return None;
        }
        if let Some(body) = rest.strip_prefix('"') {
            let end = body.find('"')?;
            words.push(body[..end].to_string());
            rest = &body[end + 1..];
        } else {
            let end = rest.find(is_space).unwrap_or(rest.len());
            words.push(rest[..end].to_string());
            rest = &rest[end..];
        }
        rest = rest.trim_start_matches(is_space);
    }
    Some(words)
}

/// C `string_isnumber`: an optional `-` then at least one digit.
fn is_number(s: &str) -> bool {
    let digits = s.strip_prefix('-').unwrap_or(s);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

/// An unsigned decimal in `lo..=hi`, digits only.
fn parse_u32_in(s: &str, lo: u32, hi: u32) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<u32>().ok().filter(|v| (lo..=hi).contains(v))
}

// ---------------------------------------------------------------------------------------------
// Interactive mode

/// A parsed interactive-mode line (§2). `help` and every error come back as an [`ErrReply`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Interactive {
    /// Reply `OK` (after the engine created the source) and switch to attached mode.
    Attach(AttachParams),
    /// Close the connection, no reply.
    Exit,
    Get(GetKey),
    Set(SetCommand),
    /// `source list [name]`.
    SourceList(Option<String>),
    Shutdown(ShutdownMode),
    Remote(RemoteCommand),
    /// `lss-clear <name>`; reply [`reply::ok_lss_clear`].
    LssClear(String),
}

/// Parses one interactive-mode line (already checked by [`LineReader`]).
pub fn parse_interactive(line: &str) -> Result<Interactive, ErrReply> {
    let (word, rest) = split_word(line);
    match word.to_ascii_lowercase().as_str() {
        "attach" => parse_attach(rest).map(Interactive::Attach),
        "exit" => Ok(Interactive::Exit),
        "get" => parse_get(rest).map(Interactive::Get),
        "set" => parse_set(rest).map(Interactive::Set),
        "source" => parse_source(rest),
        "shutdown" => parse_shutdown(rest).map(Interactive::Shutdown),
        "remote" => parse_remote(rest).map(Interactive::Remote),
        "lss-clear" => match split_word(rest).0 {
            "" => err("usage: lss-clear [lss-name]"),
            name => Ok(Interactive::LssClear(name.to_string())),
        },
        "help" => err("XXX: todo"),
        _ => err(format!("unhandled command '{word}'")),
    }
}

/// Result format of an attached client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DataFormat {
    /// uuencoded warts objects.
    #[default]
    Warts,
    /// One raw JSON object per `DATA` block.
    Json,
}

/// Parameters of `attach` (§3). `None` means "the engine's default": `monitor` = the `-M`
/// name or the hostname, `name` = derived from the socket ([`super::ClientConn::name_hint`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachParams {
    pub cycle_id: u32,
    pub descr: Option<String>,
    pub format: DataFormat,
    pub list_id: u32,
    pub monitor: Option<String>,
    pub name: Option<String>,
    pub priority: u32,
}

impl Default for AttachParams {
    fn default() -> Self {
        AttachParams {
            cycle_id: 1,
            descr: None,
            format: DataFormat::Warts,
            list_id: 0,
            monitor: None,
            name: None,
            priority: 1,
        }
    }
}

/// Parses the words after `attach`.
pub fn parse_attach(rest: &str) -> Result<AttachParams, ErrReply> {
    let words = params_get(rest, ATTACH_MAX_WORDS).ok_or(ErrReply::new("could not params_get"))?;
    let mut p = AttachParams::default();
    let mut seen: Vec<String> = Vec::new();
    let mut it = words.iter();
    while let Some(param) = it.next() {
        let key = param.to_ascii_lowercase();
        let failed = || ErrReply::new(format!("command attach param '{param}' failed"));
        if seen.contains(&key) {
            return Err(failed());
        }
        if !ATTACH_PARAMS.contains(&key.as_str()) {
            return Err(failed());
        }
        let value = it.next().ok_or_else(failed)?;
        match key.as_str() {
            "cycle_id" => {
                p.cycle_id =
                    parse_u32_in(value, 0, u32::MAX).ok_or(ErrReply::new("invalid cycle_id"))?
            }
            "list_id" => {
                p.list_id =
                    parse_u32_in(value, 0, u32::MAX).ok_or(ErrReply::new("invalid list_id"))?
            }
            "priority" => {
                p.priority =
                    parse_u32_in(value, 1, PRIORITY_MAX).ok_or(ErrReply::new("invalid priority"))?
            }
            "format" => {
                p.format = match value.to_ascii_lowercase().as_str() {
                    "warts" => DataFormat::Warts,
                    "json" => DataFormat::Json,
                    _ => return err("format must be warts or json"),
                }
            }
            "descr" => p.descr = Some(value.clone()),
            "monitor" => p.monitor = Some(value.clone()),
            _ => p.name = Some(value.clone()),
        }
        seen.push(key);
    }
    Ok(p)
}

/// Keys of `get` (§2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GetKey {
    Command,
    MonitorName,
    Nameserver,
    Pid,
    Pps,
    Version,
    Window,
}

fn parse_get(rest: &str) -> Result<GetKey, ErrReply> {
    // The whole rest of the line is the key: `get pid x` is an unknown key.
    let key = rest.trim_end_matches(is_space);
    Ok(match key.to_ascii_lowercase().as_str() {
        "" => {
            return err(
                "usage: get [command | monitorname | nameserver | pid | pps | version | window]",
            )
        }
        "command" => GetKey::Command,
        "monitorname" => GetKey::MonitorName,
        "nameserver" => GetKey::Nameserver,
        "pid" => GetKey::Pid,
        "pps" => GetKey::Pps,
        "version" => GetKey::Version,
        "window" => GetKey::Window,
        _ => return err(format!("unhandled get command '{key}'")),
    })
}

/// A value for a `get` reply (§2.1); `None` prints the `OK null <key>` form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GetValue<'a> {
    Command(Option<&'a str>),
    MonitorName(Option<&'a str>),
    Nameserver(Option<IpAddr>),
    Pid(u32),
    Pps(u32),
    Version,
    /// Active tasks and the configured window (0 = unlimited).
    Window {
        active: u32,
        max: u32,
    },
}

impl GetValue<'_> {
    /// The reply line (without `\n`).
    pub fn reply(&self) -> String {
        fn opt(key: &str, v: Option<impl fmt::Display>) -> String {
            match v {
                Some(v) => format!("OK {key} {v}"),
                None => format!("OK null {key}"),
            }
        }
        match self {
            GetValue::Command(v) => opt("command", *v),
            GetValue::MonitorName(v) => opt("monitorname", *v),
            GetValue::Nameserver(v) => opt("nameserver", *v),
            GetValue::Pid(p) => format!("OK pid {p}"),
            GetValue::Pps(p) => reply::ok_pps(*p),
            GetValue::Version => reply::ok_version(),
            GetValue::Window { active, max } => format!("OK window {active}/{max}"),
        }
    }
}

/// A validated `set` (§2.2). `Pps`/`Window` are in range on their own; the engine must still
/// call [`SetCommand::check_rate`] against the current pps/window before applying.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SetCommand {
    /// Reply `OK`.
    Command(String),
    /// `None` clears the monitor name. Reply `OK`.
    MonitorName(Option<String>),
    /// Reply `OK`.
    Nameserver(IpAddr),
    /// Reply [`reply::ok_pps`].
    Pps(u32),
    /// Reply [`reply::ok_window`].
    Window(u32),
}

impl SetCommand {
    /// pps and window may not both be 0 (0 pps = unlimited rate needs a window).
    pub fn check_rate(&self, current_pps: u32, current_window: u32) -> Result<(), ErrReply> {
        match *self {
            SetCommand::Pps(0) if current_window == 0 => err(range_text("pps", 0, 1, PPS_MAX)),
            SetCommand::Window(0) if current_pps == 0 => {
                err(range_text("window", 0, 0, WINDOW_MAX))
            }
            _ => Ok(()),
        }
    }

    /// The success reply line.
    pub fn reply(&self) -> String {
        match self {
            SetCommand::Pps(n) => reply::ok_pps(*n),
            SetCommand::Window(n) => reply::ok_window(*n),
            _ => reply::ok(),
        }
    }
}

fn range_text(what: &str, n: i64, lo: u32, hi: u32) -> String {
    format!("{what}: {n} out of range ({lo}, {hi})")
}

fn parse_set(rest: &str) -> Result<SetCommand, ErrReply> {
    let (sub, value) = split_word(rest);
    let value = value.trim_end_matches(is_space);
    match sub.to_ascii_lowercase().as_str() {
        "" => err("usage: set [command | monitorname | pps | window]"),
        "command" if value.is_empty() => err("could not set command"),
        "command" => Ok(SetCommand::Command(value.to_string())),
        "monitorname" => Ok(SetCommand::MonitorName(
            (!value.is_empty()).then(|| value.to_string()),
        )),
        "nameserver" => value
            .parse()
            .map(SetCommand::Nameserver)
            .map_err(|_| ErrReply::new("could not set nameserver")),
        "pps" => {
            let n = set_number("pps", value)?;
            if !(0..=i64::from(PPS_MAX)).contains(&n) {
                return err(range_text("pps", n, 1, PPS_MAX));
            }
            Ok(SetCommand::Pps(n as u32))
        }
        "window" => {
            let n = set_number("window", value)?;
            if !(0..=i64::from(WINDOW_MAX)).contains(&n) {
                return err(range_text("window", n, 0, WINDOW_MAX));
            }
            Ok(SetCommand::Window(n as u32))
        }
        _ => err(format!("unhandled set command '{sub}'")),
    }
}

/// The first word of a `set pps|window` value as C `long`, with scamper's messages.
fn set_number(what: &str, value: &str) -> Result<i64, ErrReply> {
    let (word, _) = split_word(value);
    if word.is_empty() {
        return err(format!("set {what} requires argument"));
    }
    if !is_number(word) {
        return err(format!("set {what} argument is not an integer"));
    }
    // Only overflow can fail here: the digits were checked.
    word.parse::<i64>().map_err(|_| {
        ErrReply::new(format!(
            "could not convert {word} to long: Numerical result out of range"
        ))
    })
}

fn parse_source(rest: &str) -> Result<Interactive, ErrReply> {
    let (sub, args) = split_word(rest);
    match sub.to_ascii_lowercase().as_str() {
        "" => err("usage: source [cycle | list]"),
        "list" => match params_get(args, 1).as_deref() {
            Some([]) => Ok(Interactive::SourceList(None)),
            Some([name]) => Ok(Interactive::SourceList(Some(name.clone()))),
            _ => err("source check params_get failed"),
        },
        _ => err(format!("unhandled command '{sub}'")),
    }
}

/// `shutdown` arguments (§2.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShutdownMode {
    Done,
    Flush,
    Now,
    Cancel,
}

fn parse_shutdown(rest: &str) -> Result<ShutdownMode, ErrReply> {
    let (word, _) = split_word(rest);
    Ok(match word.to_ascii_lowercase().as_str() {
        "" => return err("usage: [cancel | done | flush | now]"),
        "done" => ShutdownMode::Done,
        "flush" => ShutdownMode::Flush,
        "now" => ShutdownMode::Now,
        "cancel" => ShutdownMode::Cancel,
        _ => return err(format!("unhandled command '{word}'")),
    })
}

/// `<name>:<port>` of a remote controller (sc_remoted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteServer {
    pub host: String,
    pub port: u16,
}

impl RemoteServer {
    /// Parses `<name>:<port>` (the last `:` splits, port 1..65535).
    pub fn parse(s: &str) -> Option<RemoteServer> {
        let (host, port) = s.rsplit_once(':')?;
        let port = parse_u32_in(port, 1, u32::from(u16::MAX))?;
        (!host.is_empty()).then(|| RemoteServer {
            host: host.to_string(),
            port: port as u16,
        })
    }

    /// The argument of `remote delete`, checked after the engine has answered
    /// `ERR no remote connections` if it has none.
    pub fn parse_delete(arg: Option<&str>) -> Result<RemoteServer, ErrReply> {
        let arg = arg.ok_or(ErrReply::new(
            "missing required parameter for remote delete",
        ))?;
        RemoteServer::parse(arg).ok_or(ErrReply::new("invalid server"))
    }
}

impl fmt::Display for RemoteServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

/// `remote ...` (§2.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoteCommand {
    /// `ssl: None` = the build's default (on with TLS). The engine answers `ERR ssl not
    /// supported`, `ERR <name>:<port> already exists`, `ERR could not add remote` or `OK`.
    Add {
        server: RemoteServer,
        ssl: Option<bool>,
    },
    /// The raw argument; see [`RemoteServer::parse_delete`].
    Delete(Option<String>),
    /// Reply [`reply::info_remote`] lines then `OK`.
    List,
}

fn parse_remote(rest: &str) -> Result<RemoteCommand, ErrReply> {
    let (sub, args) = split_word(rest);
    match sub.to_ascii_lowercase().as_str() {
        "" => err("usage: remote [add]"),
        "add" => parse_remote_add(args),
        "delete" => {
            let (arg, _) = split_word(args);
            Ok(RemoteCommand::Delete(
                (!arg.is_empty()).then(|| arg.to_string()),
            ))
        }
        "list" => Ok(RemoteCommand::List),
        // sic: scamper's message says "outfile".
        _ => err(format!("unhandled outfile command '{sub}'")),
    }
}

fn parse_remote_add(args: &str) -> Result<RemoteCommand, ErrReply> {
    let words = params_get(args, 4).ok_or(ErrReply::new("remote add params_get failed"))?;
    let mut server: Option<&str> = None;
    let mut ssl: Option<&str> = None;
    let mut it = words.iter();
    while let Some(param) = it.next() {
        let failed = || ErrReply::new(format!("remote add param '{param}' failed"));
        let slot = match param.to_ascii_lowercase().as_str() {
            "server" => &mut server,
            "ssl" => &mut ssl,
            _ => return Err(failed()),
        };
        let value = it.next().ok_or_else(failed)?;
        if slot.replace(value).is_some() {
            return Err(failed());
        }
    }
    let server = server.ok_or(ErrReply::new("usage remote add server <name>"))?;
    let server =
        RemoteServer::parse(server).ok_or(ErrReply::new("invalid server, expect <name>:<port>"))?;
    let ssl = match ssl.map(str::to_ascii_lowercase).as_deref() {
        None => None,
        Some("on") => Some(true),
        Some("off") => Some(false),
        Some(_) => return err("ssl <on|off>"),
    };
    Ok(RemoteCommand::Add { server, ssl })
}

/// One source for `source list` (§2.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceInfo {
    pub name: String,
    pub descr: Option<String>,
    pub list_id: u32,
    pub cycle_id: u32,
    pub priority: u32,
    pub outfile: Option<String>,
    pub kind: SourceKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceKind {
    /// An input file (`-f`) with its name.
    File(String),
    /// `-i` / `-I` on the command line.
    Cmdline,
    /// An attached control client.
    Control,
}

impl SourceInfo {
    /// The `INFO name '...' ...` line (without `\n`).
    pub fn info_line(&self) -> String {
        let mut s = format!("INFO name '{}'", self.name);
        if let Some(d) = &self.descr {
            s.push_str(&format!(" descr '{d}'"));
        }
        s.push_str(&format!(
            " list_id {} cycle_id {} priority {}",
            self.list_id, self.cycle_id, self.priority
        ));
        if let Some(o) = &self.outfile {
            s.push_str(&format!(" outfile '{o}'"));
        }
        match &self.kind {
            SourceKind::File(f) => s.push_str(&format!(" type 'file' file '{f}'")),
            SourceKind::Cmdline => s.push_str(" type 'cmdline'"),
            SourceKind::Control => s.push_str(" type 'control'"),
        }
        s
    }
}

// ---------------------------------------------------------------------------------------------
// Attached mode

/// A parsed attached-mode line (§4.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attached {
    /// The whole line, for the command parser; reply [`reply::ok_id`] with the next
    /// [`TaskIds`] id, or [`reply::not_accepted`].
    Command(String),
    /// Reply `OK`; no `MORE` afterwards.
    Done,
    /// Reply [`reply::ok_halted`] or [`reply::no_task`].
    Halt(u32),
}

/// Parses one attached-mode line (already checked by [`LineReader`]).
pub fn parse_attached(line: &str) -> Result<Attached, ErrReply> {
    if line.eq_ignore_ascii_case("done") {
        return Ok(Attached::Done);
    }
    let (word, rest) = split_word(line);
    // Like the measurement words, `halt` counts only when followed by whitespace.
    let followed_by_space = line.len() > word.len() && line.starts_with(word);
    if followed_by_space && word.eq_ignore_ascii_case("halt") {
        let arg = rest.trim_end_matches(is_space);
        if !is_number(arg) {
            return err("usage: halt [id]");
        }
        return match arg
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=i64::from(u32::MAX)).contains(n))
        {
            Some(n) => Ok(Attached::Halt(n as u32)),
            None => err("halt number invalid"),
        };
    }
    if followed_by_space
        && MEASUREMENT_COMMANDS
            .iter()
            .any(|m| word.eq_ignore_ascii_case(m))
    {
        return Ok(Attached::Command(line.to_string()));
    }
    Err(reply::not_accepted_err(Some(
        "could not determine command type",
    )))
}

/// Per-source task ids (§4.1): 1, 2, ... wrapping to 1, never 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskIds {
    next: u32,
}

impl Default for TaskIds {
    fn default() -> Self {
        TaskIds { next: 1 }
    }
}

impl TaskIds {
    pub fn new() -> Self {
        Self::default()
    }

    /// The id for the next accepted command.
    pub fn next_id(&mut self) -> u32 {
        let id = self.next;
        self.next = id.checked_add(1).unwrap_or(1);
        id
    }
}

/// A task id as scamper prints it (C `%d` of an unsigned: above 2^31-1 it goes negative).
pub fn format_task_id(id: u32) -> String {
    (id as i32).to_string()
}

// ---------------------------------------------------------------------------------------------
// Replies

/// Reply lines, without the `\n` that [`OutputQueue::push_line`] adds.
pub mod reply {
    use super::format_task_id;
    use std::fmt::Display;

    pub fn ok() -> String {
        "OK".to_string()
    }

    /// Command accepted as task `id`.
    pub fn ok_id(id: u32) -> String {
        format!("OK id-{}", format_task_id(id))
    }

    pub fn ok_halted(id: u32) -> String {
        format!("OK halted {}", format_task_id(id))
    }

    pub fn more() -> String {
        "MORE".to_string()
    }

    /// Longest `ERR` line (without its `\n`). libscamperctrl, the C library under the Python
    /// module, keeps at most 128 bytes of a line that two of its reads split and fails the whole
    /// connection ("long partial line") on a longer one. scamper's own error texts are short,
    /// but ours may quote a command's value (a 3000-character destination), so a longer text
    /// is cut and ends in `...`.
    pub const MAX_ERR_LINE: usize = 127;

    pub fn err(text: impl Display) -> String {
        let mut line = format!("ERR {text}");
        if line.len() > MAX_ERR_LINE {
            let mut cut = MAX_ERR_LINE - 3;
            while !line.is_char_boundary(cut) {
                cut -= 1;
            }
            line.truncate(cut);
            line.push_str("...");
        }
        line
    }

    /// `ERR command not accepted[: <reason>]`.
    pub fn not_accepted(reason: Option<&str>) -> String {
        not_accepted_err(reason).line()
    }

    pub(super) fn not_accepted_err(reason: Option<&str>) -> super::ErrReply {
        match reason {
            Some(r) => super::ErrReply::new(format!("command not accepted: {r}")),
            None => super::ErrReply::new("command not accepted"),
        }
    }

    /// `halt` of an unknown or finished task.
    pub fn no_task(id: u32) -> String {
        format!("ERR no task id-{}", format_task_id(id))
    }

    pub fn ok_pps(n: u32) -> String {
        format!("OK pps {n}")
    }

    /// Reply to `set window`; `get window` uses [`super::GetValue::Window`].
    pub fn ok_window(n: u32) -> String {
        format!("OK window {n}")
    }

    pub fn ok_version() -> String {
        format!("OK version {}", super::VERSION)
    }

    pub fn ok_lss_clear(name: &str) -> String {
        format!("OK lss-clear {name}")
    }

    /// `source list <name>` of an unknown source.
    pub fn no_source(name: &str) -> String {
        format!("ERR no source '{name}'")
    }

    /// One `remote list` line.
    pub fn info_remote(server: &super::RemoteServer, alias: Option<&str>) -> String {
        match alias {
            Some(a) => format!("INFO {server} alias {a}"),
            None => format!("INFO {server}"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Output

/// True if `obj` is the object after which scamper closes an attached connection: warts type 4
/// (cycle stop) or a JSON `cycle-stop` line (§4.4).
pub fn is_cycle_stop(obj: &[u8], format: DataFormat) -> bool {
    match format {
        DataFormat::Warts => obj.len() >= 4 && obj[..2] == [0x12, 0x05] && obj[2..4] == [0, 4],
        DataFormat::Json => obj.starts_with(br#"{"type":"cycle-stop","#),
    }
}

/// A client's outgoing bytes (§4.2): text lines go before the next `DATA` block starts, but a
/// `DATA` block that has started is written to completion before any more text.
#[derive(Debug, Default, Clone)]
pub struct OutputQueue {
    /// Pending text lines, `\n`-terminated; `text[text_pos..]` is unwritten.
    text: Vec<u8>,
    text_pos: usize,
    /// Framed `DATA` blocks (header line + body); `data[0][data_pos..]` is unwritten.
    data: VecDeque<Vec<u8>>,
    data_pos: usize,
    queued: usize,
}

impl OutputQueue {
    pub fn new() -> Self {
        Self::default()
    }

    /// Queues one reply line; `\n` is appended.
    pub fn push_line(&mut self, line: impl AsRef<str>) {
        let line = line.as_ref();
        // Reclaim the written prefix once it dominates, so a busy client does not grow it.
        if self.text_pos > 0 && self.text_pos >= self.text.len() / 2 {
            self.text.drain(..self.text_pos);
            self.text_pos = 0;
        }
        self.text.extend_from_slice(line.as_bytes());
        self.text.push(b'\n');
        self.queued += line.len() + 1;
    }

    /// Queues one result object: for warts `obj` is one warts object, uuencoded and announced
    /// as `DATA <encoded len>[ id-<n>]`; for JSON `obj` is one JSON object sent raw (a missing
    /// final `\n` is added and counted).
    pub fn push_data(&mut self, obj: &[u8], id: Option<u32>, format: DataFormat) {
        self.push_block(obj, id, false, format);
    }

    /// Queues an in-progress snapshot (`-y stream`): `DATA <len> id-<n> inprog`.
    pub fn push_data_inprog(&mut self, obj: &[u8], id: u32, format: DataFormat) {
        self.push_block(obj, Some(id), true, format);
    }

    fn push_block(&mut self, obj: &[u8], id: Option<u32>, inprog: bool, format: DataFormat) {
        let body_len = match format {
            DataFormat::Warts => encoded_len(obj.len()),
            DataFormat::Json => obj.len() + usize::from(!obj.ends_with(b"\n")),
        };
        let mut block = format!("DATA {body_len}").into_bytes();
        if let Some(id) = id {
            block.extend_from_slice(format!(" id-{}", format_task_id(id)).as_bytes());
            if inprog {
                block.extend_from_slice(b" inprog");
            }
        }
        block.push(b'\n');
        match format {
            DataFormat::Warts => block.extend_from_slice(&uuencode(obj)),
            DataFormat::Json => {
                block.extend_from_slice(obj);
                if !obj.ends_with(b"\n") {
                    block.push(b'\n');
                }
            }
        }
        self.queued += block.len();
        self.data.push_back(block);
    }

    /// True if the next bytes come from a `DATA` block rather than the text lines.
    fn data_first(&self) -> bool {
        self.data_pos > 0 || self.text_pos == self.text.len()
    }

    /// The bytes to write next (a contiguous piece), or `None` when everything is written.
    pub fn next_chunk(&self) -> Option<&[u8]> {
        if self.data_first() {
            self.data.front().map(|d| &d[self.data_pos..])
        } else {
            Some(&self.text[self.text_pos..])
        }
    }

    /// Marks `n` bytes of the last [`next_chunk`](Self::next_chunk) as written (clamped to it).
    pub fn consume(&mut self, n: usize) {
        if self.data_first() {
            let Some(front) = self.data.front() else {
                return;
            };
            let n = n.min(front.len() - self.data_pos);
            self.data_pos += n;
            self.queued -= n;
            if self.data_pos == front.len() {
                self.data.pop_front();
                self.data_pos = 0;
            }
        } else {
            let n = n.min(self.text.len() - self.text_pos);
            self.text_pos += n;
            self.queued -= n;
            if self.text_pos == self.text.len() {
                self.text.clear();
                self.text_pos = 0;
            }
        }
    }

    /// Bytes queued and not yet written.
    pub fn queued_bytes(&self) -> usize {
        self.queued
    }

    pub fn is_empty(&self) -> bool {
        self.queued == 0
    }
}

#[cfg(test)]
#[path = "protocol_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "pyscamper_tests.rs"]
mod pyscamper_tests;
