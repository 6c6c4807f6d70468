//! The scamper command line (cli.md §2–§4): getopt-compatible scanning, defaults and validation.
//!
//! [`parse`] turns the arguments after the program name into [`Options`]. It does no I/O: files
//! named here are opened later (through the privileged helper), and checks that need the running
//! system (is stdout a terminal?) are separate functions such as [`check_stdout_format`].

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;

use crate::config_file::strtol;

/// Version string printed by `-v`.
pub const VERSION: &str = "20260420";
/// Default `-p`.
pub const PPS_DEFAULT: u32 = 20;
/// Largest `-p`.
pub const PPS_MAX: u32 = 50_000;
/// Largest `-w`.
pub const WINDOW_MAX: u32 = 65_535;
/// Default `-H`.
pub const HOLDTIME_DEFAULT: u32 = 5;
/// Largest `-H`.
pub const HOLDTIME_MAX: u32 = 60;
/// Largest `-L` / `-C`.
pub const ID_MAX: u32 = 2_147_483_647;
/// Default `-c`.
pub const DEFAULT_COMMAND: &str = "trace";
/// Default `-l`.
pub const DEFAULT_LIST_NAME: &str = "default";
/// Longest `-M` accepted together with `-R`.
pub const REMOTE_MONITOR_NAME_MAX: usize = 254;

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Options {
    /// `-?`: print [`usage_text`] to stderr and exit non-zero.
    Help,
    /// `-v`: print [`version_text`] to stdout and exit 0.
    Version,
    /// Run the prober.
    Run(Box<RunOptions>),
}

/// A validated command line for a prober run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOptions {
    /// `-D`
    pub daemon: bool,
    /// `-c`; `Some` (defaulting to `trace`) only in `-P`, `-U`, `-i` and `-f` modes, as in scamper.
    pub command: Option<String>,
    /// `-p`; 0 means no rate limit (only allowed with a non-zero window).
    pub pps: u32,
    /// `-w`; 0 means unlimited.
    pub window: u32,
    /// `-M`
    pub monitor_name: Option<String>,
    /// `-l`
    pub list_name: String,
    /// `-L` (0 when not given)
    pub list_id: u32,
    /// `-C` (0 when not given)
    pub cycle_id: u32,
    /// `-o`
    pub outfile: OutFile,
    /// From `-O <format>`, else from the `-o` suffix.
    pub output_format: OutputFormat,
    /// `-F`
    pub firewall: Option<Firewall>,
    /// `-g`
    pub config_file: Option<PathBuf>,
    /// `-H` in seconds; 0 disables.
    pub holdtime: u32,
    /// `-n`; `None` means the first nameserver of /etc/resolv.conf.
    pub nameserver: Option<IpAddr>,
    /// `-d`
    pub debug_file: Option<PathBuf>,
    /// `-e`
    pub pid_file: Option<PathBuf>,
    /// The input source or control sockets.
    pub mode: Mode,
    /// Everything given with `-O`.
    pub extra: ExtraOptions,
}

impl RunOptions {
    /// Control-socket modes keep running when idle; the others exit once every task is done.
    pub fn exits_when_idle(&self) -> bool {
        !matches!(self.mode, Mode::Control(_))
    }
}

/// Where measurements come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// `-i`: one command per address (`<command> <addr>`).
    Addresses(Vec<String>),
    /// `-I`: complete commands.
    Commands(Vec<String>),
    /// `-f` (explicit or implied): a list file.
    File(InputFile),
    /// `-P`, `-U` and/or `-R`.
    Control(ControlSockets),
}

/// The `-f` positional argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputFile {
    /// `-`
    Stdin,
    Path(PathBuf),
}

/// The `-o` argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutFile {
    /// `-` or no `-o`.
    Stdout,
    Path(PathBuf),
}

/// The control sockets of `-P`, `-U` and `-R`; at least one is `Some`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ControlSockets {
    pub inet: Option<InetControl>,
    pub unix: Option<PathBuf>,
    pub remote: Option<RemoteControl>,
}

/// `-P [ip:]port`
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InetControl {
    /// `None` when only a port was given: listen on loopback.
    pub addr: Option<IpAddr>,
    pub port: u16,
}

impl InetControl {
    /// The address to bind.
    pub fn socket_addr(&self) -> SocketAddr {
        SocketAddr::new(
            self.addr.unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            self.port,
        )
    }
}

/// `-R name:port`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteControl {
    /// Host name or address (brackets of `[v6]:port` removed).
    pub host: String,
    pub port: u16,
}

/// `-F`
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Firewall {
    /// `ipfw:<start>-<end>`, 1 <= start < end <= 65534.
    Ipfw { start: u16, end: u16 },
    /// `pf:<anchor>:<num>`, 1 <= num <= 65535.
    Pf { anchor: String, num: u16 },
}

/// Output file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OutputFormat {
    Text,
    Warts,
    Json,
    WartsGz,
    WartsBz2,
    WartsXz,
}

impl OutputFormat {
    /// The `-O` spelling.
    pub fn name(self) -> &'static str {
        match self {
            OutputFormat::Text => "text",
            OutputFormat::Warts => "warts",
            OutputFormat::Json => "json",
            OutputFormat::WartsGz => "warts.gz",
            OutputFormat::WartsBz2 => "warts.bz2",
            OutputFormat::WartsXz => "warts.xz",
        }
    }

    /// Binary formats (refused on a terminal).
    pub fn is_warts(self) -> bool {
        matches!(
            self,
            OutputFormat::Warts
                | OutputFormat::WartsGz
                | OutputFormat::WartsBz2
                | OutputFormat::WartsXz
        )
    }

    /// Format implied by an output file name (cli.md §3); anything unrecognised is text.
    pub fn from_file_name(name: &OsStr) -> OutputFormat {
        let lower = name.as_bytes().to_ascii_lowercase();
        let table: [(&[u8], OutputFormat); 5] = [
            (b".warts.gz", OutputFormat::WartsGz),
            (b".warts.bz2", OutputFormat::WartsBz2),
            (b".warts.xz", OutputFormat::WartsXz),
            (b".json", OutputFormat::Json),
            (b".warts", OutputFormat::Warts),
        ];
        table
            .iter()
            .find(|(suffix, _)| lower.ends_with(suffix))
            .map_or(OutputFormat::Text, |&(_, f)| f)
    }
}

/// `-O select|kqueue|epoll|poll`
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventMech {
    Select,
    Kqueue,
    Epoll,
    Poll,
}

/// Everything `-O` can set (cli.md §3). Options without an effect yet are still recorded so that
/// the entry point can refuse them explicitly.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExtraOptions {
    /// `text`, `warts`, `json`, `warts.gz`, `warts.bz2`, `warts.xz` (the last one given wins).
    pub format: Option<OutputFormat>,
    pub cmdfile: bool,
    pub planetlab: bool,
    pub noinitndc: bool,
    pub rawtcp: bool,
    /// `icmp-rxerr` / `rxerr-icmp`
    pub icmp_rxerr: bool,
    pub notls: bool,
    pub notls_remote: bool,
    pub cafile: Option<PathBuf>,
    pub client_certfile: Option<PathBuf>,
    pub client_privfile: Option<PathBuf>,
    pub event_mech: Option<EventMech>,
    pub debugfile_append: bool,
    /// `ring` → `Some(true)`, `noring` → `Some(false)`; the last one given wins.
    pub ring: Option<bool>,
    pub ring_blocks: Option<u32>,
    pub ring_block_size: Option<u32>,
    /// `ring-locked` → `Some(true)`, `ring-nolocked` → `Some(false)`.
    pub ring_locked: Option<bool>,
    pub dl_any: bool,
    pub dyn_filter: bool,
    /// `dnp=F`, in the order given.
    pub dnp_files: Vec<PathBuf>,
}

/// A command-line error. `Display` is the one-line message to print before exiting non-zero.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError {
    /// The option the message is about, if any (lets the caller print that option's usage).
    pub option: Option<char>,
    pub message: String,
}

impl UsageError {
    fn new(option: Option<char>, message: impl Into<String>) -> UsageError {
        UsageError {
            option,
            message: message.into(),
        }
    }
}

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for UsageError {}

/// The default probe source port: derived from the pid so concurrent scampers differ.
pub fn default_sport(pid: u32) -> u16 {
    // The mask keeps 15 bits and the high bit is forced, so the value always fits in u16.
    ((pid & 0xffff) | 0x8000) as u16
}

/// Measurements that can be run by invoking the binary as `scamper-<method>` (cli.md §6).
pub const MULTICALL_METHODS: [&str; 12] = [
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

/// The method of a multicall invocation: `Some("ping")` when the program name (argv\[0\]) ends
/// with `scamper-ping`, and so on.
pub fn multicall_method(program: &OsStr) -> Option<&'static str> {
    let p = program.as_bytes();
    MULTICALL_METHODS.iter().copied().find(|m| {
        p.strip_suffix(m.as_bytes())
            .is_some_and(|rest| rest.ends_with(b"scamper-"))
    })
}

/// Whether `name` is acceptable as `-M` when talking to a remote controller (`-R`).
pub fn valid_remote_monitor_name(name: &str) -> bool {
    name.len() <= REMOTE_MONITOR_NAME_MAX
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
}

/// The line `-v` prints (without newline).
pub fn version_text() -> String {
    format!("scamper version {VERSION}")
}

/// The refusal for warts output to a terminal.
pub const WARTS_TTY_MESSAGE: &str = "not going to dump warts to a tty, sorry";

/// Refuses a warts* format when the output is stdout and stdout is a terminal.
pub fn check_stdout_format(opts: &RunOptions, stdout_is_tty: bool) -> Result<(), UsageError> {
    if opts.outfile == OutFile::Stdout && stdout_is_tty && opts.output_format.is_warts() {
        return Err(UsageError::new(Some('o'), WARTS_TTY_MESSAGE));
    }
    Ok(())
}

/// The `-?` text: synopsis and one entry per option.
pub fn usage_text() -> String {
    let mut s = String::from(
        "usage: scamper [-?Dv] [-c command] [-p pps] [-w window] [-M monitorname]\n\
         \x20              [-l listname] [-L listid] [-C cycleid] [-o outfile]\n\
         \x20              [-F firewall] [-g configfile] [-H holdtime] [-n nameserver]\n\
         \x20              [-d debugfile] [-e pidfile] [-O options]\n\
         \x20              [-i IPs | -I cmds | -f file | -P [ip:]port | -R name:port | -U unix-dom]\n\n",
    );
    let lines: &[&str] = &[
        "  -? print this usage statement",
        "  -D start as a daemon (needs -P, -U, -R or -o)",
        "  -v output version information and exit",
        "  -c default command (default: trace)",
        "  -p number of packets per second to send, 1..50000 (default: 20; 0 needs -w)",
        "  -w limit on the number of tasks probed in parallel, 0..65535 (default: 0, no limit)",
        "  -M monitor name to record in warts output",
        "  -l name of the list when run from the command line (default: default)",
        "  -L numerical id of the list, 1..2147483647",
        "  -C numerical cycle id to start with, 1..2147483647",
        "  -o write results to this file (default: stdout, -)",
        "  -F firewall to use: ipfw:<start>-<end> or pf:<anchor>:<num>",
        "  -g configuration file to load",
        "  -H seconds to hold a finished task's probe signature, 0..60 (default: 5)",
        "  -n nameserver address (default: first nameserver in /etc/resolv.conf)",
        "  -d write debugging messages to this file",
        "  -e write the process id to this file",
        "  -O further options (repeatable, case-insensitive):",
        "       text, warts, json, warts.gz, warts.bz2, warts.xz: output format",
        "       cmdfile: the -f file contains complete commands",
        "       planetlab: use PlanetLab safe raw sockets",
        "       noinitndc: do not initialise the neighbour discovery cache",
        "       rawtcp: send IPv4 TCP probes on an IPPROTO_RAW socket",
        "       icmp-rxerr (or rxerr-icmp): receive ICMP with IP_RECVERR / IPV6_RECVERR",
        "       notls: do not use TLS anywhere",
        "       notls-remote: do not use TLS with the -R controller",
        "       cafile=<file>: CA certificates to use instead of the system defaults",
        "       client-certfile=<file>, client-privfile=<file>: client TLS credentials for -R",
        "       select, kqueue, epoll, poll: event mechanism (at most one)",
        "       debugfileappend: append to the -d file instead of truncating it",
        "       ring, noring, ring-blocks=<n>, ring-block-size=<n>, ring-locked, ring-nolocked:",
        "         memory-mapped datalink receive ring",
        "       dl-any: one datalink socket for every interface (no datalink transmit)",
        "       dyn-filter: per-task kernel BPF filters on datalink sockets",
        "       dnp=<file>: do not probe the prefixes listed in the file (repeatable)",
        "  -i probe the addresses given as arguments with the default command",
        "  -I run the complete commands given as arguments",
        "  -f read addresses (or commands with -O cmdfile) from the file argument (- is stdin)",
        "  -P listen for control connections on [ip:]port (loopback if no ip)",
        "  -R connect to the remote controller at name:port",
        "  -U listen for control connections on a unix domain socket",
    ];
    for l in lines {
        s.push_str(l);
        s.push('\n');
    }
    s
}

/// Options that take an argument (getopt `x:`).
const WITH_ARG: &[u8] = b"cCdeFgHlLMnoOpPRUw";
/// Options without an argument.
const FLAGS: &[u8] = b"?DvfiI";

/// The option values as found by the scan, before validation.
#[derive(Default)]
struct Raw {
    daemon: bool,
    version: bool,
    mode_i: bool,
    mode_big_i: bool,
    mode_f: bool,
    values: Vec<(u8, OsString)>,
    positionals: Vec<OsString>,
    extra: ExtraOptions,
    event_mechs: Vec<EventMech>,
}

impl Raw {
    /// The last value given for `opt` (getopt programs keep the last one).
    fn last(&self, opt: u8) -> Option<&OsString> {
        self.values
            .iter()
            .rev()
            .find(|(o, _)| *o == opt)
            .map(|(_, v)| v)
    }
}

/// Parses the arguments that follow the program name.
///
/// Scanning follows glibc getopt: clustered flags (`-Dv`), attached values (`-p100`), a value in
/// the next argument even if it starts with `-`, options after positional arguments (argument
/// permutation), `--` ending option processing and a lone `-` being a positional argument.
pub fn parse(args: &[OsString]) -> Result<Options, UsageError> {
    let mut raw = Raw::default();
    let mut i = 0;
    while i < args.len() {
        let arg = args[i].as_bytes();
        i += 1;
        if arg == b"--" {
            raw.positionals.extend(args[i..].iter().cloned());
            break;
        }
        if arg.len() < 2 || arg[0] != b'-' {
            raw.positionals.push(args[i - 1].clone());
            continue;
        }
        let mut j = 1;
        while j < arg.len() {
            let c = arg[j];
            j += 1;
            if WITH_ARG.contains(&c) {
                let value = if j < arg.len() {
                    OsString::from_vec(arg[j..].to_vec())
                } else if i < args.len() {
                    i += 1;
                    args[i - 1].clone()
                } else {
                    return Err(UsageError::new(
                        Some(char::from(c)),
                        format!("option requires an argument -- '{}'", char::from(c)),
                    ));
                };
                if c == b'O' {
                    parse_dash_o(&value, &mut raw)?;
                } else {
                    raw.values.push((c, value));
                }
                break;
            }
            match c {
                // scamper prints the usage as soon as getopt returns '?'.
                b'?' => return Ok(Options::Help),
                b'D' => raw.daemon = true,
                b'v' => raw.version = true,
                b'i' => raw.mode_i = true,
                b'I' => raw.mode_big_i = true,
                b'f' => raw.mode_f = true,
                _ => {
                    debug_assert!(!FLAGS.contains(&c));
                    let shown = if c.is_ascii_graphic() {
                        char::from(c).to_string()
                    } else {
                        format!("\\x{c:02x}")
                    };
                    return Err(UsageError::new(
                        None,
                        format!("invalid option -- '{shown}'"),
                    ));
                }
            }
        }
    }
    // -v is acted on before any value is validated.
    if raw.version {
        return Ok(Options::Version);
    }
    validate(raw).map(|r| Options::Run(Box::new(r)))
}

/// One `-O` value (cli.md §3).
fn parse_dash_o(value: &OsStr, raw: &mut Raw) -> Result<(), UsageError> {
    let bytes = value.as_bytes();
    let lower = bytes.to_ascii_lowercase();
    let unknown = || {
        UsageError::new(
            Some('O'),
            format!("-O {}: unknown option", value.to_string_lossy()),
        )
    };
    // Options with a value: the key is case-insensitive, the file name keeps its case.
    let keyed: [&[u8]; 6] = [
        b"dnp=",
        b"cafile=",
        b"client-certfile=",
        b"client-privfile=",
        b"ring-blocks=",
        b"ring-block-size=",
    ];
    if let Some(key) = keyed.iter().find(|k| lower.starts_with(k)) {
        let v = &bytes[key.len()..];
        if v.is_empty() {
            return Err(UsageError::new(
                Some('O'),
                format!("-O {}: missing value", value.to_string_lossy()),
            ));
        }
        let path = || PathBuf::from(OsString::from_vec(v.to_vec()));
        let x = &mut raw.extra;
        match *key {
            b"dnp=" => x.dnp_files.push(path()),
            b"cafile=" => x.cafile = Some(path()),
            b"client-certfile=" => x.client_certfile = Some(path()),
            b"client-privfile=" => x.client_privfile = Some(path()),
            _ => {
                let n = std::str::from_utf8(v)
                    .ok()
                    .and_then(parse_c_integer)
                    .and_then(|n| u32::try_from(n).ok())
                    .filter(|&n| n >= 1)
                    .ok_or_else(|| {
                        UsageError::new(
                            Some('O'),
                            format!(
                                "-O {}: expected a positive integer",
                                value.to_string_lossy()
                            ),
                        )
                    })?;
                if *key == b"ring-blocks=" {
                    x.ring_blocks = Some(n);
                } else {
                    x.ring_block_size = Some(n);
                }
            }
        }
        return Ok(());
    }
    let x = &mut raw.extra;
    let format = match lower.as_slice() {
        b"text" => Some(OutputFormat::Text),
        b"warts" => Some(OutputFormat::Warts),
        b"json" => Some(OutputFormat::Json),
        b"warts.gz" => Some(OutputFormat::WartsGz),
        b"warts.bz2" => Some(OutputFormat::WartsBz2),
        b"warts.xz" => Some(OutputFormat::WartsXz),
        _ => None,
    };
    if format.is_some() {
        x.format = format;
        return Ok(());
    }
    let mech = match lower.as_slice() {
        b"select" => Some(EventMech::Select),
        b"kqueue" => Some(EventMech::Kqueue),
        b"epoll" => Some(EventMech::Epoll),
        b"poll" => Some(EventMech::Poll),
        _ => None,
    };
    if let Some(m) = mech {
        raw.event_mechs.push(m);
        return Ok(());
    }
    match lower.as_slice() {
        b"cmdfile" => x.cmdfile = true,
        b"planetlab" => x.planetlab = true,
        b"noinitndc" => x.noinitndc = true,
        b"rawtcp" => x.rawtcp = true,
        b"icmp-rxerr" | b"rxerr-icmp" => x.icmp_rxerr = true,
        b"notls" => x.notls = true,
        b"notls-remote" => x.notls_remote = true,
        b"debugfileappend" => x.debugfile_append = true,
        b"ring" => x.ring = Some(true),
        b"noring" => x.ring = Some(false),
        b"ring-locked" => x.ring_locked = Some(true),
        b"ring-nolocked" => x.ring_locked = Some(false),
        b"dl-any" => x.dl_any = true,
        b"dyn-filter" => x.dyn_filter = true,
        _ => return Err(unknown()),
    }
    Ok(())
}

/// An integer as C `strtol(s, &end, 0)` reads it, requiring the whole string to be consumed and
/// at least one digit (so `0x10` and `010` are 16 and 8, as in scamper's number parsing).
pub(crate) fn parse_c_integer(s: &str) -> Option<i64> {
    let r = strtol(s);
    (r.digits && r.end == s.len() && !r.overflow).then_some(r.value)
}

fn utf8(opt: u8, v: &OsStr) -> Result<String, UsageError> {
    v.to_str().map(str::to_owned).ok_or_else(|| {
        UsageError::new(
            Some(char::from(opt)),
            format!("-{}: argument is not valid UTF-8", char::from(opt)),
        )
    })
}

/// A bounded integer option value.
fn ranged(opt: u8, v: &OsStr, min: i64, max: i64, what: &str) -> Result<u32, UsageError> {
    let s = v.to_string_lossy();
    v.to_str()
        .and_then(parse_c_integer)
        .filter(|n| (min..=max).contains(n))
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| {
            UsageError::new(
                Some(char::from(opt)),
                format!(
                    "-{} {s}: {what} must be between {min} and {max}",
                    char::from(opt)
                ),
            )
        })
}

/// A port number 1..65535.
fn port(s: &str) -> Option<u16> {
    parse_c_integer(s)
        .and_then(|n| u16::try_from(n).ok())
        .filter(|&p| p != 0)
}

/// Splits `host:port` / `[v6]:port` at the last colon.
fn split_host_port(s: &str) -> Option<(&str, u16)> {
    let (host, p) = s.rsplit_once(':')?;
    let host = match host.strip_prefix('[') {
        Some(h) => h.strip_suffix(']')?,
        None => host,
    };
    Some((host, port(p)?))
}

/// `-P [ip:]port`
pub fn parse_inet_control(s: &str) -> Option<InetControl> {
    if !s.contains(':') {
        return port(s).map(|port| InetControl { addr: None, port });
    }
    let (host, port) = split_host_port(s)?;
    let addr = host.parse().ok()?;
    Some(InetControl {
        addr: Some(addr),
        port,
    })
}

/// `-R name:port`
pub fn parse_remote_control(s: &str) -> Option<RemoteControl> {
    let (host, port) = split_host_port(s)?;
    if host.is_empty() {
        return None;
    }
    Some(RemoteControl {
        host: host.to_owned(),
        port,
    })
}

/// `-F ipfw:<start>-<end>` or `-F pf:<anchor>:<num>` (type case-insensitive).
pub fn parse_firewall(s: &str) -> Option<Firewall> {
    let (kind, rest) = s.split_once(':')?;
    if kind.eq_ignore_ascii_case("ipfw") {
        let (a, b) = rest.split_once('-')?;
        let start = parse_c_integer(a)?;
        let end = parse_c_integer(b)?;
        if !(1 <= start && start < end && end <= 65534) {
            return None;
        }
        return Some(Firewall::Ipfw {
            start: u16::try_from(start).ok()?,
            end: u16::try_from(end).ok()?,
        });
    }
    if kind.eq_ignore_ascii_case("pf") {
        let (anchor, num) = rest.rsplit_once(':')?;
        // The helper only accepts printable anchor names.
        if anchor.is_empty() || !anchor.bytes().all(|b| (0x20..0x7f).contains(&b)) {
            return None;
        }
        let num = port(num)?;
        return Some(Firewall::Pf {
            anchor: anchor.to_owned(),
            num,
        });
    }
    None
}

fn validate(raw: Raw) -> Result<RunOptions, UsageError> {
    let err = |o: u8, m: String| UsageError::new(Some(char::from(o)), m);

    let window = match raw.last(b'w') {
        Some(v) => ranged(b'w', v, 0, i64::from(WINDOW_MAX), "window")?,
        None => 0,
    };
    let pps = match raw.last(b'p') {
        Some(v) => {
            let s = v.to_string_lossy();
            let n = v.to_str().and_then(parse_c_integer);
            match n {
                Some(n) if (1..=i64::from(PPS_MAX)).contains(&n) => n as u32,
                Some(0) if window != 0 => 0,
                _ => {
                    return Err(err(
                        b'p',
                        format!(
                            "-p {s}: packets per second must be between 1 and {PPS_MAX} \
                             (0 only with a non-zero -w)"
                        ),
                    ))
                }
            }
        }
        None => PPS_DEFAULT,
    };
    let holdtime = match raw.last(b'H') {
        Some(v) => ranged(b'H', v, 0, i64::from(HOLDTIME_MAX), "holdtime")?,
        None => HOLDTIME_DEFAULT,
    };
    let list_id = match raw.last(b'L') {
        Some(v) => ranged(b'L', v, 1, i64::from(ID_MAX), "list id")?,
        None => 0,
    };
    let cycle_id = match raw.last(b'C') {
        Some(v) => ranged(b'C', v, 1, i64::from(ID_MAX), "cycle id")?,
        None => 0,
    };
    let firewall = match raw.last(b'F') {
        Some(v) => Some(v.to_str().and_then(parse_firewall).ok_or_else(|| {
            err(
                b'F',
                format!(
                    "-F {}: expected ipfw:<start>-<end> with 1 <= start < end <= 65534 \
                     or pf:<anchor>:<num> with 1 <= num <= 65535",
                    v.to_string_lossy()
                ),
            )
        })?),
        None => None,
    };
    let nameserver = match raw.last(b'n') {
        Some(v) => Some(v.to_str().and_then(|s| s.parse().ok()).ok_or_else(|| {
            err(
                b'n',
                format!("-n {}: invalid nameserver address", v.to_string_lossy()),
            )
        })?),
        None => None,
    };
    let inet = match raw.last(b'P') {
        Some(v) => Some(v.to_str().and_then(parse_inet_control).ok_or_else(|| {
            err(
                b'P',
                format!(
                    "-P {}: expected [ip:]port with port 1..65535",
                    v.to_string_lossy()
                ),
            )
        })?),
        None => None,
    };
    let remote = match raw.last(b'R') {
        Some(v) => Some(v.to_str().and_then(parse_remote_control).ok_or_else(|| {
            err(
                b'R',
                format!(
                    "-R {}: expected name:port with port 1..65535",
                    v.to_string_lossy()
                ),
            )
        })?),
        None => None,
    };
    let unix = raw.last(b'U').map(PathBuf::from);
    let monitor_name = raw.last(b'M').map(|v| utf8(b'M', v)).transpose()?;
    if remote.is_some() {
        if let Some(m) = &monitor_name {
            if !valid_remote_monitor_name(m) {
                return Err(err(
                    b'M',
                    format!(
                        "-M {m}: with -R the monitor name must be at most \
                         {REMOTE_MONITOR_NAME_MAX} characters of A-Z a-z 0-9 . -"
                    ),
                ));
            }
        }
    }
    let list_name = match raw.last(b'l') {
        Some(v) => utf8(b'l', v)?,
        None => DEFAULT_LIST_NAME.to_owned(),
    };
    let command_arg = raw.last(b'c').map(|v| utf8(b'c', v)).transpose()?;
    let outfile = match raw.last(b'o') {
        Some(v) if v.as_bytes() == b"-" => Some(OutFile::Stdout),
        Some(v) => Some(OutFile::Path(PathBuf::from(v))),
        None => None,
    };

    let mut extra = raw.extra.clone();
    extra.event_mech = raw.event_mechs.first().copied();
    // Repeating the same mechanism is harmless; two different ones are not.
    if raw.event_mechs.iter().any(|m| Some(*m) != extra.event_mech) {
        return Err(err(
            b'O',
            "-O: only one of select, kqueue, epoll and poll may be given".to_owned(),
        ));
    }
    if extra.client_certfile.is_some() || extra.client_privfile.is_some() {
        if remote.is_none() {
            return Err(err(
                b'O',
                "-O client-certfile/client-privfile need -R".to_owned(),
            ));
        }
        if extra.client_certfile.is_none() || extra.client_privfile.is_none() {
            return Err(err(
                b'O',
                "-O client-certfile and client-privfile must be given together".to_owned(),
            ));
        }
    }

    // Mode rules.
    let control = inet.is_some() || unix.is_some() || remote.is_some();
    let inputs = [raw.mode_i, raw.mode_big_i, raw.mode_f]
        .iter()
        .filter(|&&b| b)
        .count();
    if control && inputs > 0 {
        return Err(UsageError::new(
            None,
            "-P, -R and -U cannot be combined with -i, -I or -f",
        ));
    }
    if inputs > 1 {
        return Err(UsageError::new(
            None,
            "only one of -i, -I and -f may be given",
        ));
    }
    let positionals = &raw.positionals;
    let strings = |v: &[OsString]| -> Result<Vec<String>, UsageError> {
        v.iter()
            .map(|a| {
                a.to_str().map(str::to_owned).ok_or_else(|| {
                    UsageError::new(
                        None,
                        format!("argument is not valid UTF-8: {}", a.to_string_lossy()),
                    )
                })
            })
            .collect()
    };
    let mode = if control {
        if !positionals.is_empty() {
            return Err(UsageError::new(
                None,
                "-P, -R and -U take no further arguments",
            ));
        }
        Mode::Control(ControlSockets { inet, unix, remote })
    } else if raw.mode_i {
        if positionals.is_empty() {
            return Err(err(b'i', "-i needs at least one address".to_owned()));
        }
        Mode::Addresses(strings(positionals)?)
    } else if raw.mode_big_i {
        if positionals.is_empty() {
            return Err(err(b'I', "-I needs at least one command".to_owned()));
        }
        Mode::Commands(strings(positionals)?)
    } else {
        // -f, given or implied.
        if positionals.len() != 1 {
            return Err(err(b'f', "-f needs exactly one input file".to_owned()));
        }
        let p = &positionals[0];
        Mode::File(if p.as_bytes() == b"-" {
            InputFile::Stdin
        } else {
            InputFile::Path(PathBuf::from(p))
        })
    };

    if raw.daemon {
        match (&outfile, control) {
            (None, false) => {
                return Err(err(b'D', "-D needs -P, -U, -R or -o".to_owned()));
            }
            (Some(OutFile::Stdout), _) => {
                return Err(err(b'o', "cannot output to stdout with daemon".to_owned()));
            }
            (Some(OutFile::Path(_)), true) => {
                return Err(err(
                    b'o',
                    "outfile does not make sense with options".to_owned(),
                ));
            }
            _ => {}
        }
    }

    let outfile = outfile.unwrap_or(OutFile::Stdout);
    let output_format = extra.format.unwrap_or_else(|| match &outfile {
        OutFile::Stdout => OutputFormat::Text,
        OutFile::Path(p) => OutputFormat::from_file_name(p.as_os_str()),
    });
    let command = match &mode {
        Mode::Addresses(_) | Mode::File(_) => true,
        Mode::Control(c) => c.inet.is_some() || c.unix.is_some(),
        Mode::Commands(_) => false,
    }
    .then(|| command_arg.unwrap_or_else(|| DEFAULT_COMMAND.to_owned()));

    Ok(RunOptions {
        daemon: raw.daemon,
        command,
        pps,
        window,
        monitor_name,
        list_name,
        list_id,
        cycle_id,
        outfile,
        output_format,
        firewall,
        config_file: raw.last(b'g').map(PathBuf::from),
        holdtime,
        nameserver,
        debug_file: raw.last(b'd').map(PathBuf::from),
        pid_file: raw.last(b'e').map(PathBuf::from),
        mode,
        extra,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<OsString> {
        a.iter().map(OsString::from).collect()
    }

    fn run(a: &[&str]) -> RunOptions {
        match parse(&args(a)) {
            Ok(Options::Run(r)) => *r,
            other => panic!("{a:?}: {other:?}"),
        }
    }

    fn err(a: &[&str]) -> String {
        match parse(&args(a)) {
            Err(e) => e.to_string(),
            other => panic!("{a:?}: expected an error, got {other:?}"),
        }
    }

    #[test]
    fn defaults() {
        let r = run(&["-i", "192.0.2.1"]);
        assert_eq!(
            r,
            RunOptions {
                daemon: false,
                command: Some("trace".into()),
                pps: 20,
                window: 0,
                monitor_name: None,
                list_name: "default".into(),
                list_id: 0,
                cycle_id: 0,
                outfile: OutFile::Stdout,
                output_format: OutputFormat::Text,
                firewall: None,
                config_file: None,
                holdtime: 5,
                nameserver: None,
                debug_file: None,
                pid_file: None,
                mode: Mode::Addresses(vec!["192.0.2.1".into()]),
                extra: ExtraOptions::default(),
            }
        );
        assert!(r.exits_when_idle());
    }

    #[test]
    fn every_value_option() {
        let r = run(&[
            "-c",
            "ping -c 3",
            "-p",
            "100",
            "-w",
            "7",
            "-M",
            "vp1",
            "-l",
            "mylist",
            "-L",
            "12",
            "-C",
            "34",
            "-o",
            "out.txt",
            "-F",
            "ipfw:100-200",
            "-g",
            "/etc/scamper.conf",
            "-H",
            "0",
            "-n",
            "192.0.2.53",
            "-d",
            "dbg.log",
            "-e",
            "pid",
            "-f",
            "list.txt",
        ]);
        assert_eq!(r.command.as_deref(), Some("ping -c 3"));
        assert_eq!((r.pps, r.window, r.holdtime), (100, 7, 0));
        assert_eq!(r.monitor_name.as_deref(), Some("vp1"));
        assert_eq!(
            (r.list_name.as_str(), r.list_id, r.cycle_id),
            ("mylist", 12, 34)
        );
        assert_eq!(r.outfile, OutFile::Path("out.txt".into()));
        assert_eq!(r.output_format, OutputFormat::Text);
        assert_eq!(
            r.firewall,
            Some(Firewall::Ipfw {
                start: 100,
                end: 200
            })
        );
        assert_eq!(r.config_file, Some("/etc/scamper.conf".into()));
        assert_eq!(r.nameserver, Some("192.0.2.53".parse().unwrap()));
        assert_eq!(r.debug_file, Some("dbg.log".into()));
        assert_eq!(r.pid_file, Some("pid".into()));
        assert_eq!(r.mode, Mode::File(InputFile::Path("list.txt".into())));
    }

    #[test]
    fn numeric_ranges() {
        // (args, Ok((pps, window, holdtime, list_id, cycle_id)) or exact error)
        type Row<'a> = (&'a [&'a str], Result<(u32, u32, u32, u32, u32), &'a str>);
        let cases: &[Row] = &[
            (&["-p", "1"], Ok((1, 0, 5, 0, 0))),
            (&["-p", "50000"], Ok((50000, 0, 5, 0, 0))),
            (&["-p100"], Ok((100, 0, 5, 0, 0))),
            (&["-p", "0x10"], Ok((16, 0, 5, 0, 0))),
            (&["-p", "0", "-w", "1"], Ok((0, 1, 5, 0, 0))),
            (&["-w", "1", "-p", "0"], Ok((0, 1, 5, 0, 0))),
            (&["-p", "5", "-p", "6"], Ok((6, 0, 5, 0, 0))),
            (&["-w", "65535"], Ok((20, 65535, 5, 0, 0))),
            (&["-w", "0"], Ok((20, 0, 5, 0, 0))),
            (&["-H", "60"], Ok((20, 0, 60, 0, 0))),
            (&["-H", "0"], Ok((20, 0, 0, 0, 0))),
            (&["-L", "1", "-C", "2147483647"], Ok((20, 0, 5, 1, 2147483647))),
            (&["-L", "2147483647", "-C", "1"], Ok((20, 0, 5, 2147483647, 1))),
            (
                &["-p", "0"],
                Err("-p 0: packets per second must be between 1 and 50000 (0 only with a non-zero -w)"),
            ),
            (
                &["-p", "0", "-w", "0"],
                Err("-p 0: packets per second must be between 1 and 50000 (0 only with a non-zero -w)"),
            ),
            (
                &["-p", "50001"],
                Err("-p 50001: packets per second must be between 1 and 50000 (0 only with a non-zero -w)"),
            ),
            (
                &["-p", "10x"],
                Err("-p 10x: packets per second must be between 1 and 50000 (0 only with a non-zero -w)"),
            ),
            (
                &["-p", ""],
                Err("-p : packets per second must be between 1 and 50000 (0 only with a non-zero -w)"),
            ),
            (&["-w", "65536"], Err("-w 65536: window must be between 0 and 65535")),
            (&["-w", "-1"], Err("-w -1: window must be between 0 and 65535")),
            (&["-H", "61"], Err("-H 61: holdtime must be between 0 and 60")),
            (&["-L", "0"], Err("-L 0: list id must be between 1 and 2147483647")),
            (
                &["-L", "2147483648"],
                Err("-L 2147483648: list id must be between 1 and 2147483647"),
            ),
            (&["-C", "0"], Err("-C 0: cycle id must be between 1 and 2147483647")),
            (&["-C", "abc"], Err("-C abc: cycle id must be between 1 and 2147483647")),
        ];
        for (a, want) in cases {
            let mut v = a.to_vec();
            v.extend(["-i", "192.0.2.1"]);
            match want {
                Ok(w) => {
                    let r = run(&v);
                    assert_eq!(
                        (r.pps, r.window, r.holdtime, r.list_id, r.cycle_id),
                        *w,
                        "{a:?}"
                    );
                }
                Err(msg) => assert_eq!(err(&v), *msg, "{a:?}"),
            }
        }
    }

    #[test]
    fn firewall_values() {
        let ok: &[(&str, Firewall)] = &[
            (
                "ipfw:1-65534",
                Firewall::Ipfw {
                    start: 1,
                    end: 65534,
                },
            ),
            (
                "IPFW:100-101",
                Firewall::Ipfw {
                    start: 100,
                    end: 101,
                },
            ),
            (
                "pf:scamper:10",
                Firewall::Pf {
                    anchor: "scamper".into(),
                    num: 10,
                },
            ),
            (
                "PF:a:65535",
                Firewall::Pf {
                    anchor: "a".into(),
                    num: 65535,
                },
            ),
            (
                "pf:a/b:1",
                Firewall::Pf {
                    anchor: "a/b".into(),
                    num: 1,
                },
            ),
        ];
        for (s, want) in ok {
            assert_eq!(
                run(&["-F", s, "-i", "192.0.2.1"]).firewall.as_ref(),
                Some(want),
                "{s}"
            );
        }
        for s in [
            "ipfw:0-10",
            "ipfw:10-10",
            "ipfw:11-10",
            "ipfw:1-65535",
            "ipfw:1",
            "ipfw:a-b",
            "pf:x",
            "pf::5",
            "pf:x:0",
            "pf:x:65536",
            "pf:x:y",
            "nft:1-2",
            "ipfw",
            "",
        ] {
            assert_eq!(
                err(&["-F", s, "-i", "192.0.2.1"]),
                format!(
                    "-F {s}: expected ipfw:<start>-<end> with 1 <= start < end <= 65534 \
                     or pf:<anchor>:<num> with 1 <= num <= 65535"
                ),
                "{s}"
            );
        }
    }

    #[test]
    fn nameserver_and_control_sockets() {
        assert_eq!(
            run(&["-n", "2001:db8::53", "x"]).nameserver,
            Some("2001:db8::53".parse().unwrap())
        );
        assert_eq!(
            err(&["-n", "ns.example", "x"]),
            "-n ns.example: invalid nameserver address"
        );

        let ctl = |a: &[&str]| match run(a).mode {
            Mode::Control(c) => c,
            m => panic!("{m:?}"),
        };
        let inet = |addr: Option<&str>, port| InetControl {
            addr: addr.map(|a| a.parse().unwrap()),
            port,
        };
        let cases: &[(&str, InetControl)] = &[
            ("31337", inet(None, 31337)),
            ("127.0.0.1:31337", inet(Some("127.0.0.1"), 31337)),
            ("0.0.0.0:1", inet(Some("0.0.0.0"), 1)),
            ("[::1]:31337", inet(Some("::1"), 31337)),
            ("::1:65535", inet(Some("::1"), 65535)),
        ];
        for (s, want) in cases {
            assert_eq!(ctl(&["-P", s]).inet, Some(*want), "{s}");
        }
        assert_eq!(inet(None, 5).socket_addr(), "127.0.0.1:5".parse().unwrap());
        assert_eq!(
            inet(Some("::1"), 5).socket_addr(),
            "[::1]:5".parse().unwrap()
        );
        for s in ["0", "65536", "host:1", "", "1.2.3.4:", "[::1:5", "x"] {
            assert_eq!(
                err(&["-P", s]),
                format!("-P {s}: expected [ip:]port with port 1..65535"),
                "{s}"
            );
        }

        let remote = |host: &str, port| RemoteControl {
            host: host.into(),
            port,
        };
        let cases: &[(&str, RemoteControl)] = &[
            ("ctrl.example.com:8000", remote("ctrl.example.com", 8000)),
            ("192.0.2.9:1", remote("192.0.2.9", 1)),
            ("[2001:db8::1]:443", remote("2001:db8::1", 443)),
        ];
        for (s, want) in cases {
            assert_eq!(ctl(&["-R", s]).remote.as_ref(), Some(want), "{s}");
        }
        for s in [":8000", "host", "host:0", "host:x", "[]:5"] {
            assert_eq!(
                err(&["-R", s]),
                format!("-R {s}: expected name:port with port 1..65535"),
                "{s}"
            );
        }

        let all = ctl(&["-P", "1", "-U", "/tmp/sock", "-R", "h:2"]);
        assert_eq!(
            all,
            ControlSockets {
                inet: Some(inet(None, 1)),
                unix: Some("/tmp/sock".into()),
                remote: Some(remote("h", 2)),
            }
        );
        assert!(!run(&["-U", "/tmp/sock"]).exits_when_idle());
    }

    #[test]
    fn monitor_name_for_remote() {
        assert_eq!(
            run(&["-M", "vp-1.example.net", "-R", "h:1"])
                .monitor_name
                .as_deref(),
            Some("vp-1.example.net")
        );
        // Only -R restricts the name.
        assert_eq!(
            run(&["-M", "my_vp", "x"]).monitor_name.as_deref(),
            Some("my_vp")
        );
        assert_eq!(
            err(&["-M", "my_vp", "-R", "h:1"]),
            "-M my_vp: with -R the monitor name must be at most 254 characters of A-Z a-z 0-9 . -"
        );
        let long = "a".repeat(254);
        assert!(valid_remote_monitor_name(&long));
        assert!(valid_remote_monitor_name(""));
        assert!(!valid_remote_monitor_name(&"a".repeat(255)));
        assert!(!valid_remote_monitor_name("a b"));
        assert!(run(&["-M", &long, "-R", "h:1"]).monitor_name.is_some());
    }

    #[test]
    fn dash_o_values() {
        let x = |o: &[&str]| {
            let mut v = Vec::new();
            for s in o {
                v.extend(["-O", s]);
            }
            v.extend(["-R", "h:1"]);
            run(&v).extra
        };
        let d = ExtraOptions::default;
        let cases: Vec<(Vec<&str>, ExtraOptions)> = vec![
            (
                vec!["text"],
                ExtraOptions {
                    format: Some(OutputFormat::Text),
                    ..d()
                },
            ),
            (
                vec!["WARTS"],
                ExtraOptions {
                    format: Some(OutputFormat::Warts),
                    ..d()
                },
            ),
            (
                vec!["Json"],
                ExtraOptions {
                    format: Some(OutputFormat::Json),
                    ..d()
                },
            ),
            (
                vec!["warts.gz"],
                ExtraOptions {
                    format: Some(OutputFormat::WartsGz),
                    ..d()
                },
            ),
            (
                vec!["warts.BZ2"],
                ExtraOptions {
                    format: Some(OutputFormat::WartsBz2),
                    ..d()
                },
            ),
            (
                vec!["warts.xz"],
                ExtraOptions {
                    format: Some(OutputFormat::WartsXz),
                    ..d()
                },
            ),
            (
                vec!["json", "warts"],
                ExtraOptions {
                    format: Some(OutputFormat::Warts),
                    ..d()
                },
            ),
            (
                vec!["cmdfile"],
                ExtraOptions {
                    cmdfile: true,
                    ..d()
                },
            ),
            (
                vec!["planetlab"],
                ExtraOptions {
                    planetlab: true,
                    ..d()
                },
            ),
            (
                vec!["noinitndc"],
                ExtraOptions {
                    noinitndc: true,
                    ..d()
                },
            ),
            (
                vec!["rawtcp"],
                ExtraOptions {
                    rawtcp: true,
                    ..d()
                },
            ),
            (
                vec!["ICMP-rxerr"],
                ExtraOptions {
                    icmp_rxerr: true,
                    ..d()
                },
            ),
            (
                vec!["rxerr-icmp"],
                ExtraOptions {
                    icmp_rxerr: true,
                    ..d()
                },
            ),
            (vec!["notls"], ExtraOptions { notls: true, ..d() }),
            (
                vec!["notls-remote"],
                ExtraOptions {
                    notls_remote: true,
                    ..d()
                },
            ),
            (
                vec!["CAfile=/etc/CA.pem"],
                ExtraOptions {
                    cafile: Some("/etc/CA.pem".into()),
                    ..d()
                },
            ),
            (
                vec!["client-certfile=C.pem", "Client-Privfile=K.pem"],
                ExtraOptions {
                    client_certfile: Some("C.pem".into()),
                    client_privfile: Some("K.pem".into()),
                    ..d()
                },
            ),
            (
                vec!["select"],
                ExtraOptions {
                    event_mech: Some(EventMech::Select),
                    ..d()
                },
            ),
            (
                vec!["kqueue"],
                ExtraOptions {
                    event_mech: Some(EventMech::Kqueue),
                    ..d()
                },
            ),
            (
                vec!["epoll", "EPOLL"],
                ExtraOptions {
                    event_mech: Some(EventMech::Epoll),
                    ..d()
                },
            ),
            (
                vec!["poll"],
                ExtraOptions {
                    event_mech: Some(EventMech::Poll),
                    ..d()
                },
            ),
            (
                vec!["debugfileappend"],
                ExtraOptions {
                    debugfile_append: true,
                    ..d()
                },
            ),
            (
                vec!["ring"],
                ExtraOptions {
                    ring: Some(true),
                    ..d()
                },
            ),
            (
                vec!["ring", "noring"],
                ExtraOptions {
                    ring: Some(false),
                    ..d()
                },
            ),
            (
                vec!["ring-blocks=128", "ring-block-size=0x2000"],
                ExtraOptions {
                    ring_blocks: Some(128),
                    ring_block_size: Some(8192),
                    ..d()
                },
            ),
            (
                vec!["ring-locked"],
                ExtraOptions {
                    ring_locked: Some(true),
                    ..d()
                },
            ),
            (
                vec!["ring-nolocked"],
                ExtraOptions {
                    ring_locked: Some(false),
                    ..d()
                },
            ),
            (
                vec!["dl-any"],
                ExtraOptions {
                    dl_any: true,
                    ..d()
                },
            ),
            (
                vec!["dyn-filter"],
                ExtraOptions {
                    dyn_filter: true,
                    ..d()
                },
            ),
            (
                vec!["dnp=/a/One.txt", "DNP=b.txt"],
                ExtraOptions {
                    dnp_files: vec!["/a/One.txt".into(), "b.txt".into()],
                    ..d()
                },
            ),
        ];
        for (o, want) in cases {
            assert_eq!(x(&o), want, "{o:?}");
        }

        let errors: &[(&[&str], &str)] = &[
            (&["-O", "bogus"], "-O bogus: unknown option"),
            (&["-O", "warts.zip"], "-O warts.zip: unknown option"),
            (&["-O", "dnp"], "-O dnp: unknown option"),
            (&["-O", "dnp="], "-O dnp=: missing value"),
            (&["-O", "cafile="], "-O cafile=: missing value"),
            (
                &["-O", "ring-blocks=0"],
                "-O ring-blocks=0: expected a positive integer",
            ),
            (
                &["-O", "ring-block-size=x"],
                "-O ring-block-size=x: expected a positive integer",
            ),
            (
                &["-O", "epoll", "-O", "poll"],
                "-O: only one of select, kqueue, epoll and poll may be given",
            ),
            (
                &["-O", "client-certfile=c", "-O", "client-privfile=k"],
                "-O client-certfile/client-privfile need -R",
            ),
            (
                &["-O", "client-certfile=c", "-R", "h:1"],
                "-O client-certfile and client-privfile must be given together",
            ),
            (
                &["-O", "client-privfile=k", "-R", "h:1"],
                "-O client-certfile and client-privfile must be given together",
            ),
        ];
        for (a, msg) in errors {
            let mut v = a.to_vec();
            if !v.contains(&"-R") {
                v.extend(["-P", "1"]);
            }
            assert_eq!(err(&v), *msg, "{a:?}");
        }
    }

    #[test]
    fn output_format_selection() {
        let cases: &[(&[&str], OutputFormat)] = &[
            (&[], OutputFormat::Text),
            (&["-o", "-"], OutputFormat::Text),
            (&["-o", "out"], OutputFormat::Text),
            (&["-o", "out.txt"], OutputFormat::Text),
            (&["-o", "out.warts"], OutputFormat::Warts),
            (&["-o", "OUT.WARTS"], OutputFormat::Warts),
            (&["-o", "out.warts.gz"], OutputFormat::WartsGz),
            (&["-o", "out.warts.bz2"], OutputFormat::WartsBz2),
            (&["-o", "out.Warts.Xz"], OutputFormat::WartsXz),
            (&["-o", "out.json"], OutputFormat::Json),
            (&["-o", "out.gz"], OutputFormat::Text),
            (&["-o", "out.warts.txt"], OutputFormat::Text),
            (&["-o", "out.warts", "-O", "json"], OutputFormat::Json),
            (&["-O", "warts"], OutputFormat::Warts),
            (&["-O", "text", "-o", "x.warts"], OutputFormat::Text),
        ];
        for (a, want) in cases {
            let mut v = a.to_vec();
            v.extend(["-i", "192.0.2.1"]);
            assert_eq!(run(&v).output_format, *want, "{a:?}");
        }
        assert_eq!(run(&["-o", "-", "x"]).outfile, OutFile::Stdout);
        assert_eq!(run(&["-o-", "x"]).outfile, OutFile::Stdout);

        let tty =
            |a: &[&str], is_tty| check_stdout_format(&run(a), is_tty).map_err(|e| e.to_string());
        let refused = Err("not going to dump warts to a tty, sorry".to_owned());
        assert_eq!(tty(&["-O", "warts", "x"], true), refused);
        assert_eq!(tty(&["-O", "warts.gz", "x"], true), refused);
        assert_eq!(tty(&["-O", "warts", "x"], false), Ok(()));
        assert_eq!(tty(&["-O", "json", "x"], true), Ok(()));
        assert_eq!(tty(&["-o", "f.warts", "x"], true), Ok(()));
    }

    #[test]
    fn modes() {
        let cases: &[(&[&str], Mode)] = &[
            (
                &["-i", "a", "b"],
                Mode::Addresses(vec!["a".into(), "b".into()]),
            ),
            (
                &["-I", "ping 192.0.2.1", "trace 192.0.2.2"],
                Mode::Commands(vec!["ping 192.0.2.1".into(), "trace 192.0.2.2".into()]),
            ),
            (&["-f", "list"], Mode::File(InputFile::Path("list".into()))),
            (&["list"], Mode::File(InputFile::Path("list".into()))),
            (&["-f", "-"], Mode::File(InputFile::Stdin)),
            (&["-"], Mode::File(InputFile::Stdin)),
            // Arguments after "--" are positional even if they look like options.
            (&["--", "-i"], Mode::File(InputFile::Path("-i".into()))),
            (
                &["-i", "--", "-x", "y"],
                Mode::Addresses(vec!["-x".into(), "y".into()]),
            ),
            // Options after positional arguments still count (glibc argument permutation).
            (
                &["192.0.2.1", "-i", "192.0.2.2"],
                Mode::Addresses(vec!["192.0.2.1".into(), "192.0.2.2".into()]),
            ),
        ];
        for (a, want) in cases {
            assert_eq!(run(a).mode, *want, "{a:?}");
        }
        let errors: &[(&[&str], &str)] = &[
            (&[], "-f needs exactly one input file"),
            (&["-f"], "-f needs exactly one input file"),
            (&["a", "b"], "-f needs exactly one input file"),
            (&["-f", "a", "b"], "-f needs exactly one input file"),
            (&["-i"], "-i needs at least one address"),
            (&["-I"], "-I needs at least one command"),
            (&["-i", "-I", "a"], "only one of -i, -I and -f may be given"),
            (&["-i", "-f", "a"], "only one of -i, -I and -f may be given"),
            (&["-If", "a"], "only one of -i, -I and -f may be given"),
            (
                &["-P", "1", "-i", "a"],
                "-P, -R and -U cannot be combined with -i, -I or -f",
            ),
            (
                &["-U", "s", "-f", "a"],
                "-P, -R and -U cannot be combined with -i, -I or -f",
            ),
            (
                &["-R", "h:1", "-I", "a"],
                "-P, -R and -U cannot be combined with -i, -I or -f",
            ),
            (&["-P", "1", "a"], "-P, -R and -U take no further arguments"),
        ];
        for (a, msg) in errors {
            assert_eq!(err(a), *msg, "{a:?}");
        }
    }

    #[test]
    fn default_command_only_where_used() {
        let cases: &[(&[&str], Option<&str>)] = &[
            (&["-i", "a"], Some("trace")),
            (&["x"], Some("trace")),
            (&["-c", "ping", "-f", "x"], Some("ping")),
            (&["-P", "1"], Some("trace")),
            (&["-U", "s", "-c", "ping"], Some("ping")),
            (&["-R", "h:1", "-P", "1", "-c", "ping"], Some("ping")),
            (&["-R", "h:1", "-c", "ping"], None),
            (&["-I", "ping 192.0.2.1", "-c", "ping"], None),
            (&["-c", "-x", "-i", "a"], Some("-x")),
        ];
        for (a, want) in cases {
            assert_eq!(run(a).command.as_deref(), *want, "{a:?}");
        }
    }

    #[test]
    fn daemon_rules() {
        assert!(run(&["-D", "-P", "1"]).daemon);
        assert!(run(&["-D", "-U", "s"]).daemon);
        assert!(run(&["-D", "-R", "h:1"]).daemon);
        assert!(run(&["-D", "-o", "out.warts", "list"]).daemon);
        assert!(run(&["-Do", "out", "-i", "a"]).daemon);
        let errors: &[(&[&str], &str)] = &[
            (&["-D", "-i", "a"], "-D needs -P, -U, -R or -o"),
            (&["-D", "list"], "-D needs -P, -U, -R or -o"),
            (
                &["-D", "-o", "-", "-i", "a"],
                "cannot output to stdout with daemon",
            ),
            (
                &["-D", "-o", "-", "-P", "1"],
                "cannot output to stdout with daemon",
            ),
            (
                &["-D", "-o", "f", "-P", "1"],
                "outfile does not make sense with options",
            ),
            (
                &["-D", "-o", "f", "-U", "s"],
                "outfile does not make sense with options",
            ),
            (
                &["-D", "-o", "f", "-R", "h:1"],
                "outfile does not make sense with options",
            ),
        ];
        for (a, msg) in errors {
            assert_eq!(err(a), *msg, "{a:?}");
        }
        // Without -D an outfile may accompany a control socket.
        assert_eq!(
            run(&["-o", "f", "-P", "1"]).outfile,
            OutFile::Path("f".into())
        );
    }

    #[test]
    fn getopt_scanning() {
        let p = |a: &[&str]| parse(&args(a));
        assert_eq!(p(&["-v"]), Ok(Options::Version));
        assert_eq!(p(&["-Dv"]), Ok(Options::Version));
        assert_eq!(p(&["-vD"]), Ok(Options::Version));
        // -v wins over values that would not validate.
        assert_eq!(p(&["-v", "-p", "0"]), Ok(Options::Version));
        assert_eq!(p(&["-?"]), Ok(Options::Help));
        assert_eq!(p(&["-D?"]), Ok(Options::Help));
        assert_eq!(p(&["-v", "-?"]), Ok(Options::Help));
        assert_eq!(p(&["-?", "-x"]), Ok(Options::Help));
        let errors: &[(&[&str], &str, Option<char>)] = &[
            (&["-x"], "invalid option -- 'x'", None),
            (&["-x", "-?"], "invalid option -- 'x'", None),
            (&["-Dx"], "invalid option -- 'x'", None),
            (&["--help"], "invalid option -- '-'", None),
            (&["-p"], "option requires an argument -- 'p'", Some('p')),
            (
                &["-i", "a", "-o"],
                "option requires an argument -- 'o'",
                Some('o'),
            ),
            (
                &["-O", "bogus", "-v"],
                "-O bogus: unknown option",
                Some('O'),
            ),
        ];
        for (a, msg, opt) in errors {
            let e = p(a).unwrap_err();
            assert_eq!((e.to_string().as_str(), e.option), (*msg, *opt), "{a:?}");
        }
        // Grouped flags with a trailing value option, attached and separate values.
        let r = run(&["-Dip5", "-o", "f", "a"]);
        assert!(r.daemon);
        assert_eq!(r.pps, 5);
        assert_eq!(r.mode, Mode::Addresses(vec!["a".into()]));
        let r = run(&["-iw10", "a", "-p", "0"]);
        assert_eq!((r.pps, r.window), (0, 10));
        // A value may start with '-'.
        assert_eq!(run(&["-l", "-weird-", "x"]).list_name, "-weird-");
    }

    #[test]
    fn non_utf8_arguments() {
        use std::os::unix::ffi::OsStringExt;
        let bad = OsString::from_vec(vec![b'f', 0xff]);
        let e = parse(&[OsString::from("-c"), bad.clone(), OsString::from("x")]).unwrap_err();
        assert_eq!(e.to_string(), "-c: argument is not valid UTF-8");
        let e = parse(&[OsString::from("-i"), bad.clone()]).unwrap_err();
        assert_eq!(e.to_string(), "argument is not valid UTF-8: f\u{fffd}");
        // Paths need not be UTF-8.
        match parse(&[OsString::from("-o"), bad.clone(), bad.clone()]).unwrap() {
            Options::Run(r) => {
                assert_eq!(r.outfile, OutFile::Path(PathBuf::from(bad.clone())));
                assert_eq!(r.mode, Mode::File(InputFile::Path(PathBuf::from(bad))));
            }
            o => panic!("{o:?}"),
        }
        let e = parse(&[OsString::from_vec(vec![b'-', 0x01])]).unwrap_err();
        assert_eq!(e.to_string(), "invalid option -- '\\x01'");
    }

    #[test]
    fn multicall_names() {
        let cases: &[(&str, Option<&str>)] = &[
            ("scamper-ping", Some("ping")),
            ("/usr/local/bin/scamper-trace", Some("trace")),
            ("./scamper-tracelb", Some("tracelb")),
            ("x-scamper-owamp", Some("owamp")),
            ("scamper-udpprobe", Some("udpprobe")),
            ("scamper", None),
            ("scamper-ping2", None),
            ("scamper-bogus", None),
            ("ping", None),
            ("scamperping", None),
        ];
        for (name, want) in cases {
            assert_eq!(multicall_method(OsStr::new(name)), *want, "{name}");
        }
        for m in MULTICALL_METHODS {
            assert_eq!(
                multicall_method(OsStr::new(&format!("scamper-{m}"))),
                Some(m)
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn pps_and_window_ranges(p in -5i64..60_000, w in -5i64..70_000, attached: bool) {
            let (ps, ws) = (p.to_string(), w.to_string());
            let mut a: Vec<String> = if attached {
                vec![format!("-p{ps}"), format!("-w{ws}")]
            } else {
                vec!["-p".into(), ps.clone(), "-w".into(), ws.clone()]
            };
            a.extend(["-i".into(), "192.0.2.1".into()]);
            let a: Vec<OsString> = a.into_iter().map(OsString::from).collect();
            let w_ok = (0..=65535).contains(&w);
            let p_ok = (1..=50000).contains(&p) || (p == 0 && w_ok && w != 0);
            match parse(&a) {
                Ok(Options::Run(r)) => {
                    proptest::prop_assert!(w_ok && p_ok);
                    proptest::prop_assert_eq!((i64::from(r.pps), i64::from(r.window)), (p, w));
                }
                Err(e) => {
                    proptest::prop_assert!(!(w_ok && p_ok));
                    let opt = if w_ok { 'p' } else { 'w' };
                    proptest::prop_assert_eq!(e.option, Some(opt));
                }
                Ok(o) => proptest::prop_assert!(false, "{:?}", o),
            }
        }
    }

    #[test]
    fn sport_and_texts() {
        for (pid, want) in [
            (0, 0x8000),
            (1, 0x8001),
            (0x7fff, 0xffff),
            (0x8000, 0x8000),
            (0x12345, 0xa345),
            (u32::MAX, 0xffff),
        ] {
            assert_eq!(default_sport(pid), want, "{pid:#x}");
        }
        assert_eq!(version_text(), "scamper version 20260420");
        let u = usage_text();
        assert!(u.starts_with("usage: scamper [-?Dv]"));
        for o in "?DvcpwMlLCoFgHndeOiIfPRU".chars() {
            assert!(u.contains(&format!("\n  -{o} ")), "-{o} missing from usage");
        }
        for o in [
            "text",
            "warts",
            "json",
            "warts.gz",
            "warts.bz2",
            "warts.xz",
            "cmdfile",
            "planetlab",
            "noinitndc",
            "rawtcp",
            "icmp-rxerr",
            "notls",
            "notls-remote",
            "cafile=",
            "client-certfile=",
            "client-privfile=",
            "select",
            "kqueue",
            "epoll",
            "poll",
            "debugfileappend",
            "noring",
            "ring-blocks=",
            "ring-block-size=",
            "ring-locked",
            "ring-nolocked",
            "dl-any",
            "dyn-filter",
            "dnp=",
        ] {
            assert!(u.contains(o), "-O {o} missing from usage");
        }
    }
}
