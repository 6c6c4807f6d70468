//! The options of the `ping` command (manual section PING OPTIONS) and their validation.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use scamper_warts::ping::{flags, PingMethod};

use crate::cmdline::{addr, hex, num, seconds, Arg, OptionSpec, ScanError, Scanner, ValueError};

/// Default number of probes (`-c`).
pub const DEFAULT_PROBE_COUNT: u16 = 4;
/// Default TTL (`-m`).
pub const DEFAULT_TTL: u8 = 64;
/// Default destination port of UDP probes (`-d`), as in scamper's records.
pub const DEFAULT_UDP_DPORT: u16 = 33435;
/// Default destination port of TCP probes (`-d`).
pub const DEFAULT_TCP_DPORT: u16 = 80;
/// Longest `-p` pattern the manual allows.
pub const MAX_PATTERN_LEN: usize = 16;
/// Longest wait (`-i`, `-W`): warts stores the whole seconds in a u8.
const MAX_WAIT: Duration = Duration::from_secs(255);
/// Bytes an IPv4 record-route option occupies in the header (39-byte option + NOP pad).
pub const RR_OPTION_LEN: u16 = 40;
/// Most addresses a pre-specified timestamp option can carry in 40 option bytes.
pub const MAX_TSPS: usize = 4;

/// The IPv4 timestamp option requested with `-T`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimestampOption {
    /// `tsonly`: routers add only timestamps.
    TsOnly,
    /// `tsandaddr`: routers add their address and a timestamp.
    TsAndAddr,
    /// `tsprespec=a,b,...`: only the listed routers (1..4) add timestamps.
    Prespec(Vec<Ipv4Addr>),
}

impl TimestampOption {
    /// Bytes the option occupies in the IPv4 header: 4 bytes of option header plus 9 four-byte
    /// slots (tsonly) or 4 address+timestamp pairs (tsandaddr) or one pair per listed address.
    pub fn header_len(&self) -> u16 {
        match self {
            TimestampOption::TsOnly => 40,
            TimestampOption::TsAndAddr => 36,
            TimestampOption::Prespec(a) => 4 + 8 * a.len() as u16,
        }
    }
}

/// Options of one ping measurement, validated and with defaults resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PingOptions {
    pub dst: IpAddr,
    /// `-P`, default icmp-echo.
    pub method: PingMethod,
    /// `-c`: probes to send.
    pub probe_count: u16,
    /// Total probe size in bytes, IP header included (`-s`, or derived from the payload size).
    pub probe_size: u16,
    /// Payload bytes after the transport header (`-b`, `-B`, or the method default).
    pub payload_len: u16,
    /// `-p` pattern, or the whole `-B` payload when `flags` has [`flags::PAYLOAD`]; empty
    /// means zeroed payload.
    pub data: Vec<u8>,
    /// `-C`: ICMP checksum the probes must carry (ICMP methods).
    pub icmp_sum: Option<u16>,
    /// `-d`: TCP/UDP destination port, or the first ICMP sequence number.
    pub dport: u16,
    /// `-F`: TCP/UDP source port or ICMP id; `None` (or `-F 0`) means the engine's default.
    pub sport: Option<u16>,
    /// `-i`: time between probes.
    pub wait_probe: Duration,
    /// `-W`: how long to wait for replies after the last probe.
    pub wait_timeout: Duration,
    /// `-m`.
    pub ttl: u8,
    /// `-z`: IPv4 TOS / IPv6 traffic class byte.
    pub tos: u8,
    /// `-M`: pseudo MTU (0 = none).
    pub pmtu: u16,
    /// `-o`: replies after which probing stops (0 = send every probe).
    pub stop_count: u16,
    /// `-r`: first-hop router to send through.
    pub rtr: Option<IpAddr>,
    /// `-S`: source address.
    pub src: Option<IpAddr>,
    /// `-T`.
    pub timestamp: Option<TimestampOption>,
    /// `-U`.
    pub userid: u32,
    /// `-y`: probes between in-progress reports (0 = report only at the end).
    pub stream: u16,
    /// TCP sequence number (`-A` with tcp-syn, tcp-syn-sport, tcp-rst).
    pub tcp_seq: u32,
    /// TCP acknowledgement number (`-A` with tcp-ack, tcp-ack-sport, tcp-synack).
    pub tcp_ack: u32,
    /// `-O mss=`: TCP MSS option value (0 = no option).
    pub tcp_mss: u16,
    /// Warts ping flags: record route, timestamps, payload, icmpsum and the `-O` flags.
    pub flags: u32,
}

/// Why ping options were rejected; Display names the option and value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PingOptionsError {
    #[error("unknown option {0}")]
    UnknownOption(String),
    #[error("-{0}: missing value")]
    MissingValue(char),
    #[error("-{opt} {value}: {reason}")]
    InvalidValue {
        opt: char,
        value: String,
        reason: String,
    },
    #[error("-{opt}: {reason}")]
    Invalid { opt: char, reason: String },
    #[error("no destination address")]
    NoDestination,
    #[error("invalid destination address {0}")]
    InvalidDestination(String),
    #[error("unexpected argument {0} after destination")]
    ExtraArgument(String),
}

fn bad(opt: char, value: &str, reason: impl Into<String>) -> PingOptionsError {
    PingOptionsError::InvalidValue {
        opt,
        value: value.to_string(),
        reason: reason.into(),
    }
}

fn invalid(opt: char, reason: impl Into<String>) -> PingOptionsError {
    PingOptionsError::Invalid {
        opt,
        reason: reason.into(),
    }
}

impl From<ScanError> for PingOptionsError {
    fn from(e: ScanError) -> Self {
        match e {
            ScanError::UnknownOption(w) => PingOptionsError::UnknownOption(w),
            ScanError::MissingValue(opt) => PingOptionsError::MissingValue(opt),
            ScanError::ExtraArgument(w) => PingOptionsError::ExtraArgument(w),
        }
    }
}

impl From<ValueError> for PingOptionsError {
    fn from(e: ValueError) -> Self {
        PingOptionsError::InvalidValue {
            opt: e.opt,
            value: e.value,
            reason: e.reason,
        }
    }
}

/// The option letters of `ping`: `-R` is the only flag, and stands alone.
const SPEC: OptionSpec = OptionSpec {
    flags: "R",
    values: "AbBcCdFimMoOpPrsSTUWyz",
    grouped_flags: false,
};

/// Parse a method name as `-P` accepts it (case-insensitive).
pub fn parse_method(s: &str) -> Option<PingMethod> {
    (0..=10u8)
        .map(PingMethod)
        .find(|m| m.name().is_some_and(|n| n.eq_ignore_ascii_case(s)))
}

/// Transport header bytes of a probe for this method (ICMP timestamp requests carry three
/// 32-bit timestamps after the 8-byte ICMP header).
pub fn transport_header_len(method: PingMethod, tcp_mss: u16) -> u16 {
    if method == PingMethod::ICMP_TIME {
        20
    } else if method.is_icmp() || method.is_udp() {
        8
    } else if tcp_mss != 0 {
        24
    } else {
        20
    }
}

/// Payload bytes the manual gives each method by default.
pub fn default_payload_len(method: PingMethod) -> u16 {
    if method == PingMethod::ICMP_TIME {
        44
    } else if method.is_icmp() {
        56
    } else if method.is_udp() {
        12
    } else {
        0
    }
}

/// A wait in seconds (`-i`, `-W`); warts keeps at most 255.
fn wait(opt: char, v: &str) -> Result<Duration, PingOptionsError> {
    let d = seconds(opt, v)?;
    if d > MAX_WAIT {
        return Err(bad(opt, v, "must be at most 255 seconds"));
    }
    Ok(d)
}

/// Hex bytes (`-p`, `-B`); at least one byte.
fn hex_bytes(opt: char, v: &str) -> Result<Vec<u8>, PingOptionsError> {
    if v.is_empty() {
        return Err(bad(opt, v, "need an even number of hex digits"));
    }
    Ok(hex(opt, v)?)
}

/// Options as typed, before defaults and cross-checks.
#[derive(Default)]
struct Raw {
    tcp_a: Option<u32>,
    payload_size: Option<u16>,
    payload: Option<Vec<u8>>,
    count: Option<u16>,
    icmp_sum: Option<u16>,
    dport: Option<u16>,
    sport: Option<u16>,
    wait_probe: Option<Duration>,
    ttl: Option<u8>,
    pmtu: Option<u16>,
    stop_count: Option<u16>,
    oflags: u32,
    mss: u16,
    pattern: Option<Vec<u8>>,
    method: Option<PingMethod>,
    rtr: Option<IpAddr>,
    rr: bool,
    size: Option<u16>,
    src: Option<IpAddr>,
    ts: Option<TimestampOption>,
    userid: Option<u32>,
    wait_timeout: Option<Duration>,
    stream: Option<u16>,
    tos: Option<u8>,
}

fn parse_o(v: &str, raw: &mut Raw) -> Result<(), PingOptionsError> {
    let lower = v.to_ascii_lowercase();
    if let Some(mss) = lower.strip_prefix("mss=") {
        raw.mss = num('O', mss, 1, 65535).map_err(|_| bad('O', v, "mss must be 1..65535"))?;
        return Ok(());
    }
    raw.oflags |= match lower.as_str() {
        "dl" => flags::DL,
        "dltx" => flags::DLTX,
        "nosrc" => flags::NOSRC,
        "raw" => flags::RAW,
        "sockrx" => flags::SOCKRX,
        "spoof" => flags::SPOOF,
        "tbt" => flags::TBT,
        _ => return Err(bad('O', v, "unknown option")),
    };
    Ok(())
}

fn parse_t(v: &str) -> Result<TimestampOption, PingOptionsError> {
    let lower = v.to_ascii_lowercase();
    match lower.as_str() {
        "tsonly" => return Ok(TimestampOption::TsOnly),
        "tsandaddr" => return Ok(TimestampOption::TsAndAddr),
        _ => {}
    }
    let list = lower
        .strip_prefix("tsprespec=")
        .ok_or_else(|| bad('T', v, "expected tsonly, tsandaddr or tsprespec=<addrs>"))?;
    let addrs = list
        .split(',')
        .map(|a| {
            a.parse::<Ipv4Addr>()
                .map_err(|_| bad('T', v, format!("{a} is not an IPv4 address")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if addrs.len() > MAX_TSPS {
        return Err(bad('T', v, format!("at most {MAX_TSPS} addresses fit")));
    }
    Ok(TimestampOption::Prespec(addrs))
}

impl PingOptions {
    /// Does this ping use the datalink? scamper opens one on the route's interface for
    /// `-O dl`, every TCP method, and whatever it sends as frames (`-O dltx`, `-r`, `-M`,
    /// `-O spoof`). Its replies then come from the datalink (ICMP ones from the socket with
    /// `-O sockrx`), and only then are UDP replies seen at all.
    pub fn uses_datalink(&self) -> bool {
        self.flags & flags::DL != 0 || self.method.is_tcp() || self.sends_frames()
    }

    /// Are its probes sent as frames? scamper does so for `-O dltx`, `-r`, `-M` (with or
    /// without `-O tbt`), `-O spoof`, and TCP methods unless `-O raw` sends them with a raw
    /// socket.
    pub fn sends_frames(&self) -> bool {
        self.flags & (flags::DLTX | flags::TBT | flags::SPOOF) != 0
            || self.rtr.is_some()
            || self.pmtu != 0
            || (self.method.is_tcp() && self.flags & flags::RAW == 0)
    }

    /// Parse the words after `ping`: options, then exactly one destination address.
    pub fn parse<S: AsRef<str>>(args: &[S]) -> Result<PingOptions, PingOptionsError> {
        let mut raw = Raw::default();
        let mut dst: Option<&str> = None;
        for arg in Scanner::new(SPEC, args) {
            let (opt, v) = match arg? {
                Arg::Dest(d) => {
                    dst = Some(d);
                    continue;
                }
                Arg::Flag('R') => {
                    raw.rr = true;
                    continue;
                }
                // SPEC has no other flag.
                Arg::Flag(opt) => return Err(PingOptionsError::UnknownOption(format!("-{opt}"))),
                Arg::Opt(opt, v) => (opt, v),
            };
            match opt {
                'A' => raw.tcp_a = Some(num(opt, v, 0, u32::MAX.into())?),
                'b' => raw.payload_size = Some(num(opt, v, 0, 65535)?),
                'B' => raw.payload = Some(hex_bytes(opt, v)?),
                'c' => raw.count = Some(num(opt, v, 1, 65535)?),
                'C' => raw.icmp_sum = Some(num(opt, v, 0, 65535)?),
                'd' => raw.dport = Some(num(opt, v, 0, 65535)?),
                'F' => raw.sport = Some(num(opt, v, 0, 65535)?),
                'i' => {
                    let d = wait(opt, v)?;
                    if d < Duration::from_millis(1) {
                        return Err(bad(opt, v, "must be at least 0.001 seconds"));
                    }
                    raw.wait_probe = Some(d);
                }
                'm' => raw.ttl = Some(num(opt, v, 1, 255)?),
                'M' => raw.pmtu = Some(num(opt, v, 68, 65535)?),
                'o' => raw.stop_count = Some(num(opt, v, 0, 65535)?),
                'O' => parse_o(v, &mut raw)?,
                'p' => {
                    let p = hex_bytes(opt, v)?;
                    if p.len() > MAX_PATTERN_LEN {
                        return Err(bad(opt, v, "at most 16 bytes"));
                    }
                    raw.pattern = Some(p);
                }
                'P' => {
                    raw.method = Some(parse_method(v).ok_or_else(|| bad(opt, v, "unknown method"))?)
                }
                'r' => raw.rtr = Some(addr(opt, v)?),
                's' => raw.size = Some(num(opt, v, 0, 65535)?),
                'S' => raw.src = Some(addr(opt, v)?),
                'T' => raw.ts = Some(parse_t(v)?),
                'U' => raw.userid = Some(num(opt, v, 0, u32::MAX.into())?),
                'W' => raw.wait_timeout = Some(wait(opt, v)?),
                'y' => raw.stream = Some(num(opt, v, 0, 65535)?),
                'z' => raw.tos = Some(num(opt, v, 0, 255)?),
                // SPEC lists exactly the letters above.
                _ => return Err(PingOptionsError::UnknownOption(format!("-{opt}"))),
            }
        }
        let dst = dst.ok_or(PingOptionsError::NoDestination)?;
        let dst: IpAddr = dst
            .parse()
            .map_err(|_| PingOptionsError::InvalidDestination(dst.to_string()))?;
        Self::resolve(dst, raw)
    }

    /// Apply defaults and the checks that involve several options or the address family.
    fn resolve(dst: IpAddr, raw: Raw) -> Result<PingOptions, PingOptionsError> {
        let method = raw.method.unwrap_or(PingMethod::ICMP_ECHO);
        let v4 = dst.is_ipv4();
        let mname = method.name().unwrap_or("?");

        if !v4 {
            if method == PingMethod::ICMP_TIME {
                return Err(bad('P', mname, "ICMP timestamp probes exist only in IPv4"));
            }
            if raw.rr {
                return Err(invalid('R', "record route is an IPv4 option"));
            }
            if raw.ts.is_some() {
                return Err(invalid('T', "the timestamp option is an IPv4 option"));
            }
            if raw.oflags & flags::RAW != 0 {
                return Err(bad(
                    'O',
                    "raw",
                    "raw sockets are used only for IPv4 TCP probes",
                ));
            }
        }
        if raw.rr && raw.ts.is_some() {
            return Err(invalid(
                'T',
                "cannot be combined with -R: both need the IP option space",
            ));
        }
        for (opt, a) in [('r', raw.rtr), ('S', raw.src)] {
            if let Some(a) = a {
                if a.is_ipv4() != v4 {
                    return Err(bad(
                        opt,
                        &a.to_string(),
                        "address family differs from the destination",
                    ));
                }
            }
        }
        if let Some(m) = raw.pmtu {
            if !v4 && m < 1280 {
                return Err(bad('M', &m.to_string(), "IPv6 MTU must be at least 1280"));
            }
        }

        // Per-method options.
        if raw.icmp_sum.is_some() && !method.is_icmp() {
            return Err(invalid('C', "an ICMP checksum needs an ICMP method"));
        }
        let (mut tcp_seq, mut tcp_ack) = (0, 0);
        if let Some(a) = raw.tcp_a {
            if !method.is_tcp() {
                return Err(invalid('A', "only valid with TCP methods"));
            }
            // The manual: the ack field for tcp-ack, tcp-ack-sport and tcp-synack, else the
            // sequence number.
            if matches!(
                method,
                PingMethod::TCP_ACK | PingMethod::TCP_ACK_SPORT | PingMethod::TCP_SYNACK
            ) {
                tcp_ack = a;
            } else {
                tcp_seq = a;
            }
        }
        if raw.mss != 0 && !method.is_tcp() {
            return Err(bad(
                'O',
                &format!("mss={}", raw.mss),
                "only valid with TCP methods",
            ));
        }
        if raw.oflags & flags::RAW != 0 && !method.is_tcp() {
            return Err(bad('O', "raw", "only valid with TCP methods"));
        }
        if raw.oflags & flags::SPOOF != 0 && raw.src.is_none() {
            return Err(bad('O', "spoof", "needs the address to spoof with -S"));
        }
        if raw.oflags & flags::NOSRC != 0 && raw.oflags & flags::SPOOF == 0 {
            return Err(bad('O', "nosrc", "only meaningful with -O spoof"));
        }
        if raw.oflags & flags::TBT != 0 && raw.pmtu.is_none() {
            return Err(bad('O', "tbt", "needs a pseudo MTU with -M"));
        }
        // The too-big trick is about getting IPv6 fragments (scamper's own rule).
        if raw.oflags & flags::TBT != 0 && v4 {
            return Err(bad('O', "tbt", "can only do tbt with IPv6 addresses"));
        }
        // -M answers replies seen on the datalink, so ICMP replies cannot come from the socket.
        if raw.pmtu.is_some() && raw.oflags & flags::SOCKRX != 0 {
            return Err(bad('O', "sockrx", "cannot specify -O sockrx with -M"));
        }

        // Sizes: IP header (with options) + transport header + payload.
        let ip_hdr: u16 = if v4 {
            20 + if raw.rr {
                RR_OPTION_LEN
            } else {
                raw.ts.as_ref().map_or(0, |t| t.header_len())
            }
        } else {
            40
        };
        let hdr = ip_hdr + transport_header_len(method, raw.mss);
        if raw.payload.is_some() && raw.pattern.is_some() {
            return Err(invalid('B', "cannot be combined with a pattern (-p)"));
        }
        if raw.payload.is_some() && raw.payload_size.is_some() {
            return Err(invalid('B', "cannot be combined with a payload size (-b)"));
        }
        let too_big =
            |opt: char, v: usize| bad(opt, &v.to_string(), "probe would exceed 65535 bytes");
        let payload_len: u16 = match (&raw.payload, raw.payload_size, raw.size) {
            (Some(p), _, _) => {
                let len = u16::try_from(p.len()).map_err(|_| too_big('B', p.len()))?;
                if let Some(s) = raw.size {
                    if u32::from(s) != u32::from(hdr) + u32::from(len) {
                        return Err(bad(
                            's',
                            &s.to_string(),
                            format!(
                                "the -B payload makes probes {} bytes",
                                u32::from(hdr) + u32::from(len)
                            ),
                        ));
                    }
                }
                len
            }
            (None, Some(b), Some(s)) => {
                if u32::from(s) != u32::from(hdr) + u32::from(b) {
                    return Err(bad(
                        's',
                        &s.to_string(),
                        format!(
                            "-b {b} makes probes {} bytes",
                            u32::from(hdr) + u32::from(b)
                        ),
                    ));
                }
                b
            }
            (None, Some(b), None) => b,
            (None, None, Some(s)) => {
                if s < hdr {
                    return Err(bad(
                        's',
                        &s.to_string(),
                        format!("must be at least {hdr} for {mname} probes"),
                    ));
                }
                s - hdr
            }
            (None, None, None) => default_payload_len(method),
        };
        let probe_size = u16::try_from(u32::from(hdr) + u32::from(payload_len))
            .map_err(|_| too_big('b', payload_len.into()))?;
        // Replies the size of the probes must exceed the pseudo MTU to come back fragmented.
        if raw.oflags & flags::TBT != 0 && raw.pmtu.is_some_and(|m| probe_size <= m) {
            return Err(bad('O', "tbt", "specify valid path-mtu"));
        }
        // -O spoof embeds the real source at the start of the payload (before any -C bytes).
        let embed: u16 = match (
            raw.oflags & (flags::SPOOF | flags::NOSRC) == flags::SPOOF,
            v4,
        ) {
            (false, _) => 0,
            (true, true) => 4,
            (true, false) => 16,
        };
        let need = embed + if raw.icmp_sum.is_some() { 2 } else { 0 };
        if embed > 0 && payload_len < need {
            return Err(bad(
                'O',
                "spoof",
                format!(
                    "the real source needs {need} payload bytes, probes have {payload_len} \
                     (use -b/-s, or -O nosrc)"
                ),
            ));
        }
        if raw.icmp_sum.is_some() && payload_len < 2 {
            return Err(invalid(
                'C',
                "needs at least 2 payload bytes to adjust the checksum",
            ));
        }

        let probe_count = raw.count.unwrap_or(DEFAULT_PROBE_COUNT);
        let stop_count = raw.stop_count.unwrap_or(0);
        if stop_count > probe_count {
            return Err(bad(
                'o',
                &stop_count.to_string(),
                format!("more replies than the {probe_count} probes sent"),
            ));
        }
        let dport = raw.dport.unwrap_or(if method.is_udp() {
            DEFAULT_UDP_DPORT
        } else if method.is_tcp() {
            DEFAULT_TCP_DPORT
        } else {
            0
        });

        let mut fl = raw.oflags;
        if raw.rr {
            fl |= flags::V4RR;
        }
        match raw.ts {
            Some(TimestampOption::TsOnly) => fl |= flags::TSONLY,
            Some(TimestampOption::TsAndAddr) => fl |= flags::TSANDADDR,
            _ => {}
        }
        if raw.icmp_sum.is_some() {
            fl |= flags::ICMPSUM;
        }
        let data = match (raw.payload, raw.pattern) {
            (Some(p), _) => {
                fl |= flags::PAYLOAD;
                p
            }
            (None, Some(p)) => p,
            (None, None) => Vec::new(),
        };

        Ok(PingOptions {
            dst,
            method,
            probe_count,
            probe_size,
            payload_len,
            data,
            icmp_sum: raw.icmp_sum,
            dport,
            sport: raw.sport.filter(|&p| p != 0),
            wait_probe: raw.wait_probe.unwrap_or(Duration::from_secs(1)),
            wait_timeout: raw.wait_timeout.unwrap_or(Duration::from_secs(1)),
            ttl: raw.ttl.unwrap_or(DEFAULT_TTL),
            tos: raw.tos.unwrap_or(0),
            pmtu: raw.pmtu.unwrap_or(0),
            stop_count,
            rtr: raw.rtr,
            src: raw.src,
            timestamp: raw.ts,
            userid: raw.userid.unwrap_or(0),
            stream: raw.stream.unwrap_or(0),
            tcp_seq,
            tcp_ack,
            tcp_mss: raw.mss,
            flags: fl,
        })
    }

    /// Whether `-B` gave the whole payload (otherwise `data` is a pattern to repeat).
    pub fn has_payload(&self) -> bool {
        self.flags & flags::PAYLOAD != 0
    }

    /// The payload every probe carries: the `-B` bytes, or `payload_len` bytes of the `-p`
    /// pattern repeated (zeros without a pattern).
    pub fn payload_bytes(&self) -> Vec<u8> {
        if self.has_payload() {
            return self.data.clone();
        }
        let n = usize::from(self.payload_len);
        if self.data.is_empty() {
            vec![0; n]
        } else {
            self.data.iter().copied().cycle().take(n).collect()
        }
    }
}

fn fmt_secs(d: Duration) -> String {
    let us = d.subsec_micros();
    if us == 0 {
        d.as_secs().to_string()
    } else {
        format!("{}.{:06}", d.as_secs(), us)
            .trim_end_matches('0')
            .to_string()
    }
}

fn hexstr(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Writes the options as a command line `PingOptions::parse` accepts (without the leading
/// `ping`), every value explicit.
impl fmt::Display for PingOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "-P {} -c {}",
            self.method.name().unwrap_or("icmp-echo"),
            self.probe_count
        )?;
        if self.has_payload() {
            write!(f, " -B {}", hexstr(&self.data))?;
        } else {
            write!(f, " -s {}", self.probe_size)?;
            if !self.data.is_empty() {
                write!(f, " -p {}", hexstr(&self.data))?;
            }
        }
        if let Some(c) = self.icmp_sum {
            write!(f, " -C {c}")?;
        }
        write!(f, " -d {}", self.dport)?;
        if let Some(s) = self.sport {
            write!(f, " -F {s}")?;
        }
        write!(
            f,
            " -i {} -W {}",
            fmt_secs(self.wait_probe),
            fmt_secs(self.wait_timeout)
        )?;
        write!(f, " -m {} -z {}", self.ttl, self.tos)?;
        if self.pmtu != 0 {
            write!(f, " -M {}", self.pmtu)?;
        }
        if self.stop_count != 0 {
            write!(f, " -o {}", self.stop_count)?;
        }
        for (bit, name) in [
            (flags::DL, "dl"),
            (flags::DLTX, "dltx"),
            (flags::NOSRC, "nosrc"),
            (flags::RAW, "raw"),
            (flags::SOCKRX, "sockrx"),
            (flags::SPOOF, "spoof"),
            (flags::TBT, "tbt"),
        ] {
            if self.flags & bit != 0 {
                write!(f, " -O {name}")?;
            }
        }
        if self.tcp_mss != 0 {
            write!(f, " -O mss={}", self.tcp_mss)?;
        }
        if self.method.is_tcp() {
            let a = if self.tcp_ack != 0 {
                self.tcp_ack
            } else {
                self.tcp_seq
            };
            write!(f, " -A {a}")?;
        }
        if let Some(r) = self.rtr {
            write!(f, " -r {r}")?;
        }
        if self.flags & flags::V4RR != 0 {
            f.write_str(" -R")?;
        }
        if let Some(s) = self.src {
            write!(f, " -S {s}")?;
        }
        match &self.timestamp {
            Some(TimestampOption::TsOnly) => f.write_str(" -T tsonly")?,
            Some(TimestampOption::TsAndAddr) => f.write_str(" -T tsandaddr")?,
            Some(TimestampOption::Prespec(a)) => {
                let l: Vec<String> = a.iter().map(|a| a.to_string()).collect();
                write!(f, " -T tsprespec={}", l.join(","))?;
            }
            None => {}
        }
        if self.userid != 0 {
            write!(f, " -U {}", self.userid)?;
        }
        if self.stream != 0 {
            write!(f, " -y {}", self.stream)?;
        }
        write!(f, " {}", self.dst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<PingOptions, PingOptionsError> {
        let words: Vec<&str> = s.split_whitespace().collect();
        PingOptions::parse(&words)
    }

    fn ok(s: &str) -> PingOptions {
        p(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn err(s: &str) -> String {
        match p(s) {
            Ok(o) => panic!("{s} accepted: {o:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn defaults_ipv4_icmp_echo() {
        let o = ok("192.0.2.1");
        assert_eq!(o.dst, "192.0.2.1".parse::<IpAddr>().unwrap());
        assert_eq!(o.method, PingMethod::ICMP_ECHO);
        assert_eq!(o.probe_count, 4);
        // 20 (IPv4) + 8 (ICMP) + 56, as in cli.md's "84 byte packets"
        assert_eq!(o.probe_size, 84);
        assert_eq!(o.payload_len, 56);
        assert!(o.data.is_empty());
        assert_eq!(o.wait_probe, Duration::from_secs(1));
        assert_eq!(o.wait_timeout, Duration::from_secs(1));
        assert_eq!(o.ttl, 64);
        assert_eq!(o.tos, 0);
        assert_eq!(o.dport, 0);
        assert_eq!(o.sport, None);
        assert_eq!((o.stop_count, o.pmtu, o.userid, o.stream), (0, 0, 0, 0));
        assert_eq!(o.flags, 0);
        assert_eq!(o.payload_bytes(), vec![0u8; 56]);
    }

    #[test]
    fn default_sizes_per_method_and_family() {
        // the real records in spec/examples: udp 40, IPv6 echo 104, -R / -T tsonly 124
        assert_eq!(ok("-P udp 127.0.0.1").probe_size, 40);
        assert_eq!(ok("-P udp 127.0.0.1").dport, 33435);
        assert_eq!(ok("::1").probe_size, 104);
        assert_eq!(ok("-R 127.0.0.1").probe_size, 124);
        assert_eq!(ok("-T tsonly 127.0.0.1").probe_size, 124);
        assert_eq!(ok("-T tsandaddr 127.0.0.1").probe_size, 120);
        assert_eq!(
            ok("-T tsprespec=192.0.2.1,192.0.2.2 127.0.0.1").probe_size,
            104
        );
        assert_eq!(ok("-P icmp-time 192.0.2.1").payload_len, 44);
        let t = ok("-P tcp-syn 192.0.2.1");
        assert_eq!((t.probe_size, t.payload_len, t.dport), (40, 0, 80));
        assert_eq!(ok("-P tcp-ack -O mss=1460 192.0.2.1").probe_size, 44);
        assert_eq!(ok("-P udp 2001:db8::1").probe_size, 60);
        assert_eq!(ok("-P tcp-ack 2001:db8::1").probe_size, 60);
    }

    #[test]
    fn every_method_name_case_insensitive() {
        for (name, n) in [
            ("ICMP-echo", 0),
            ("tcp-ack", 1),
            ("TCP-ack-sport", 2),
            ("UDP", 3),
            ("udp-DPORT", 4),
            ("icmp-time", 5),
            ("tcp-syn", 6),
            ("TCP-synack", 7),
            ("tcp-rst", 8),
            ("tcp-syn-sport", 9),
            ("udp-sport", 10),
        ] {
            assert_eq!(
                ok(&format!("-P {name} 192.0.2.1")).method,
                PingMethod(n),
                "{name}"
            );
        }
        assert_eq!(err("-P icmp 192.0.2.1"), "-P icmp: unknown method");
    }

    #[test]
    fn times_as_the_python_module_writes_them() {
        // ScamperCtrl.do_ping(wait_probe=0.2, wait_timeout=1) sends exactly this.
        let o = ok("-c 3 -i 0.2s -W 1.0s 198.51.100.1");
        assert_eq!(o.wait_probe, Duration::from_millis(200));
        assert_eq!(o.wait_timeout, Duration::from_secs(1));
        assert_eq!(
            ok("-i 500ms 192.0.2.1").wait_probe,
            Duration::from_millis(500)
        );
        assert_eq!(err("-i 0.5us 192.0.2.1"), "-i 0.5us: not a time in seconds");
    }

    #[test]
    fn each_option_sets_its_field() {
        let o = ok(
            "-c 10 -d 7 -F 4000 -i 0.25 -W 2.5 -m 1 -z 184 -o 3 -U 4294967295 -y 2 \
                    -p 0a0B 192.0.2.1",
        );
        assert_eq!(o.probe_count, 10);
        assert_eq!(o.dport, 7);
        assert_eq!(o.sport, Some(4000));
        assert_eq!(o.wait_probe, Duration::from_millis(250));
        assert_eq!(o.wait_timeout, Duration::from_millis(2500));
        assert_eq!((o.ttl, o.tos, o.stop_count), (1, 184, 3));
        assert_eq!(o.userid, u32::MAX);
        assert_eq!(o.stream, 2);
        assert_eq!(o.data, vec![0x0a, 0x0b]);
        assert_eq!(o.flags & flags::PAYLOAD, 0);
        assert_eq!(o.payload_bytes()[..5], [0x0a, 0x0b, 0x0a, 0x0b, 0x0a]);
        // -F 0 asks for the engine's choice
        assert_eq!(ok("-F 0 192.0.2.1").sport, None);
        // values may be attached to the option letter
        assert_eq!(ok("-c3 192.0.2.1").probe_count, 3);
    }

    #[test]
    fn payload_options() {
        let o = ok("-B 00112233 192.0.2.1");
        assert_eq!(o.data, vec![0x00, 0x11, 0x22, 0x33]);
        assert_eq!(o.flags & flags::PAYLOAD, flags::PAYLOAD);
        assert_eq!((o.payload_len, o.probe_size), (4, 32));
        assert_eq!(o.payload_bytes(), o.data);
        let o = ok("-b 100 -P udp 192.0.2.1");
        assert_eq!((o.payload_len, o.probe_size), (100, 128));
        let o = ok("-s 1500 192.0.2.1");
        assert_eq!((o.payload_len, o.probe_size), (1472, 1500));
        // -s and -b may both be given when they agree
        assert_eq!(ok("-s 30 -b 2 192.0.2.1").payload_len, 2);
        assert_eq!(ok("-s 28 192.0.2.1").payload_len, 0);
        assert_eq!(ok("-s 48 2001:db8::1").payload_len, 0);
    }

    #[test]
    fn tcp_ack_option_goes_to_the_right_field() {
        for m in ["tcp-ack", "tcp-ack-sport", "tcp-synack"] {
            let o = ok(&format!("-P {m} -A 12345 192.0.2.1"));
            assert_eq!((o.tcp_ack, o.tcp_seq), (12345, 0), "{m}");
        }
        for m in ["tcp-syn", "tcp-syn-sport", "tcp-rst"] {
            let o = ok(&format!("-P {m} -A 12345 192.0.2.1"));
            assert_eq!((o.tcp_ack, o.tcp_seq), (0, 12345), "{m}");
        }
    }

    #[test]
    fn o_options_set_flags() {
        let o = ok("-O dl -O DLTX -O sockrx 192.0.2.1");
        assert_eq!(o.flags, flags::DL | flags::DLTX | flags::SOCKRX);
        let o = ok("-O dl -O tbt -M 1280 -s 1300 2001:db8::1");
        assert_eq!(o.flags, flags::DL | flags::TBT);
        assert_eq!(o.pmtu, 1280);
        for (args, why) in [
            (
                "-O tbt -M 1280 -s 1300 192.0.2.1",
                "can only do tbt with IPv6 addresses",
            ),
            ("-O tbt -M 1280 2001:db8::1", "specify valid path-mtu"),
            (
                "-O tbt -M 1300 -s 1300 2001:db8::1",
                "specify valid path-mtu",
            ),
            (
                "-O sockrx -M 1280 2001:db8::1",
                "cannot specify -O sockrx with -M",
            ),
        ] {
            let w: Vec<&str> = args.split_whitespace().collect();
            let e = PingOptions::parse(&w).unwrap_err().to_string();
            assert!(e.ends_with(why), "{args}: {e}");
        }
        let o = ok("-O spoof -O nosrc -S 192.0.2.9 192.0.2.1");
        assert_eq!(o.flags, flags::SPOOF | flags::NOSRC);
        // The real source needs room in the payload unless -O nosrc.
        let e = PingOptions::parse(&[
            "-P",
            "tcp-syn",
            "-O",
            "spoof",
            "-S",
            "192.0.2.9",
            "192.0.2.1",
        ])
        .unwrap_err()
        .to_string();
        assert!(e.contains("needs 4 payload bytes, probes have 0"), "{e}");
        assert!(ok("-P tcp-syn -O spoof -O nosrc -S 192.0.2.9 192.0.2.1").payload_len == 0);
        assert_eq!(
            ok("-P tcp-syn -O spoof -S 192.0.2.9 -b 4 192.0.2.1").payload_len,
            4
        );
        let e = PingOptions::parse(&[
            "-P",
            "udp",
            "-O",
            "spoof",
            "-S",
            "2001:db8::9",
            "2001:db8::1",
        ])
        .unwrap_err()
        .to_string();
        assert!(e.contains("needs 16 payload bytes, probes have 12"), "{e}");
        assert_eq!(o.src, Some("192.0.2.9".parse().unwrap()));
        let o = ok("-P tcp-syn -O raw -O mss=536 192.0.2.1");
        assert_eq!(o.flags, flags::RAW);
        assert_eq!(o.tcp_mss, 536);
    }

    #[test]
    fn ip_options_and_icmp_sum() {
        assert_eq!(ok("-R 192.0.2.1").flags, flags::V4RR);
        assert_eq!(ok("-T tsonly 192.0.2.1").flags, flags::TSONLY);
        assert_eq!(ok("-T TSandAddr 192.0.2.1").flags, flags::TSANDADDR);
        let o = ok("-T tsprespec=192.0.2.7,192.0.2.8 192.0.2.1");
        assert_eq!(
            o.timestamp,
            Some(TimestampOption::Prespec(vec![
                "192.0.2.7".parse().unwrap(),
                "192.0.2.8".parse().unwrap()
            ]))
        );
        assert_eq!(o.flags, 0);
        let o = ok("-C 4660 192.0.2.1");
        assert_eq!((o.icmp_sum, o.flags), (Some(4660), flags::ICMPSUM));
        let o = ok("-r 192.0.2.254 192.0.2.1");
        assert_eq!(o.rtr, Some("192.0.2.254".parse().unwrap()));
    }

    #[test]
    fn range_errors_name_option_and_value() {
        assert_eq!(err("-c 0 192.0.2.1"), "-c 0: must be 1..65535");
        assert_eq!(err("-c 65536 192.0.2.1"), "-c 65536: must be 1..65535");
        assert_eq!(err("-c x 192.0.2.1"), "-c x: not a number");
        assert_eq!(err("-c -1 192.0.2.1"), "-c -1: not a number");
        assert_eq!(err("-m 0 192.0.2.1"), "-m 0: must be 1..255");
        assert_eq!(err("-m 256 192.0.2.1"), "-m 256: must be 1..255");
        assert_eq!(err("-z 256 192.0.2.1"), "-z 256: must be 0..255");
        assert_eq!(err("-d 65536 192.0.2.1"), "-d 65536: must be 0..65535");
        assert_eq!(err("-F 70000 192.0.2.1"), "-F 70000: must be 0..65535");
        assert_eq!(
            err("-U 4294967296 192.0.2.1"),
            "-U 4294967296: must be 0..4294967295"
        );
        assert_eq!(err("-M 67 192.0.2.1"), "-M 67: must be 68..65535");
        assert_eq!(
            err("-M 1000 2001:db8::1"),
            "-M 1000: IPv6 MTU must be at least 1280"
        );
        assert_eq!(
            err("-o 5 192.0.2.1"),
            "-o 5: more replies than the 4 probes sent"
        );
        assert_eq!(
            err("-i 0 192.0.2.1"),
            "-i 0: must be at least 0.001 seconds"
        );
        assert_eq!(
            err("-i 256 192.0.2.1"),
            "-i 256: must be at most 255 seconds"
        );
        assert_eq!(
            err("-W 1.0000001 192.0.2.1"),
            "-W 1.0000001: not a time in seconds"
        );
        assert_eq!(err("-W abc 192.0.2.1"), "-W abc: not a time in seconds");
        assert_eq!(
            err("-s 27 192.0.2.1"),
            "-s 27: must be at least 28 for icmp-echo probes"
        );
        assert_eq!(
            err("-s 39 -P tcp-syn 192.0.2.1"),
            "-s 39: must be at least 40 for tcp-syn probes"
        );
        assert_eq!(
            err("-s 47 2001:db8::1"),
            "-s 47: must be at least 48 for icmp-echo probes"
        );
        assert_eq!(
            err("-s 100 -b 10 192.0.2.1"),
            "-s 100: -b 10 makes probes 38 bytes"
        );
        assert_eq!(
            err("-b 65535 192.0.2.1"),
            "-b 65535: probe would exceed 65535 bytes"
        );
    }

    #[test]
    fn hex_errors() {
        assert_eq!(
            err("-p 123 192.0.2.1"),
            "-p 123: need an even number of hex digits"
        );
        assert_eq!(err("-p zz 192.0.2.1"), "-p zz: not a hex string");
        let long = "00".repeat(17);
        assert_eq!(
            err(&format!("-p {long} 192.0.2.1")),
            format!("-p {long}: at most 16 bytes")
        );
        assert!(p(&format!("-p {} 192.0.2.1", "ab".repeat(16))).is_ok());
        assert_eq!(
            err("-B abc 192.0.2.1"),
            "-B abc: need an even number of hex digits"
        );
        assert_eq!(
            err("-B 00 -p 00 192.0.2.1"),
            "-B: cannot be combined with a pattern (-p)"
        );
        assert_eq!(
            err("-B 00 -b 1 192.0.2.1"),
            "-B: cannot be combined with a payload size (-b)"
        );
        assert_eq!(
            err("-B 0000 -s 40 192.0.2.1"),
            "-s 40: the -B payload makes probes 30 bytes"
        );
    }

    #[test]
    fn family_and_method_conflicts() {
        assert_eq!(
            err("-P icmp-time 2001:db8::1"),
            "-P icmp-time: ICMP timestamp probes exist only in IPv4"
        );
        assert_eq!(err("-R 2001:db8::1"), "-R: record route is an IPv4 option");
        assert_eq!(
            err("-T tsonly ::1"),
            "-T: the timestamp option is an IPv4 option"
        );
        assert_eq!(
            err("-R -T tsonly 192.0.2.1"),
            "-T: cannot be combined with -R: both need the IP option space"
        );
        assert_eq!(
            err("-S ::1 192.0.2.1"),
            "-S ::1: address family differs from the destination"
        );
        assert_eq!(
            err("-r 192.0.2.1 ::1"),
            "-r 192.0.2.1: address family differs from the destination"
        );
        assert_eq!(err("-A 5 192.0.2.1"), "-A: only valid with TCP methods");
        assert_eq!(
            err("-C 5 -P udp 192.0.2.1"),
            "-C: an ICMP checksum needs an ICMP method"
        );
        assert_eq!(
            err("-C 5 -s 29 192.0.2.1"),
            "-C: needs at least 2 payload bytes to adjust the checksum"
        );
        assert_eq!(
            err("-O mss=1400 192.0.2.1"),
            "-O mss=1400: only valid with TCP methods"
        );
        assert_eq!(
            err("-O mss=0 -P tcp-syn 192.0.2.1"),
            "-O mss=0: mss must be 1..65535"
        );
        assert_eq!(
            err("-O raw 192.0.2.1"),
            "-O raw: only valid with TCP methods"
        );
        assert_eq!(
            err("-P tcp-syn -O raw ::1"),
            "-O raw: raw sockets are used only for IPv4 TCP probes"
        );
        assert_eq!(
            err("-O spoof 192.0.2.1"),
            "-O spoof: needs the address to spoof with -S"
        );
        assert_eq!(
            err("-O nosrc 192.0.2.1"),
            "-O nosrc: only meaningful with -O spoof"
        );
        assert_eq!(
            err("-O tbt 192.0.2.1"),
            "-O tbt: needs a pseudo MTU with -M"
        );
        assert_eq!(err("-O fast 192.0.2.1"), "-O fast: unknown option");
        assert_eq!(
            err("-T tsfoo 192.0.2.1"),
            "-T tsfoo: expected tsonly, tsandaddr or tsprespec=<addrs>"
        );
        assert_eq!(
            err("-T tsprespec=1.1.1.1,1.1.1.2,1.1.1.3,1.1.1.4,1.1.1.5 192.0.2.1"),
            "-T tsprespec=1.1.1.1,1.1.1.2,1.1.1.3,1.1.1.4,1.1.1.5: at most 4 addresses fit"
        );
        assert_eq!(
            err("-T tsprespec=::1 192.0.2.1"),
            "-T tsprespec=::1: ::1 is not an IPv4 address"
        );
    }

    #[test]
    fn argument_errors() {
        assert_eq!(err(""), "no destination address");
        assert_eq!(err("-c 3"), "no destination address");
        assert_eq!(err("-c"), "-c: missing value");
        assert_eq!(err("-x 192.0.2.1"), "unknown option -x");
        assert_eq!(err("- 192.0.2.1"), "unknown option -");
        assert_eq!(err("-Rx 192.0.2.1"), "unknown option -Rx");
        assert_eq!(
            err("www.example.com"),
            "invalid destination address www.example.com"
        );
        assert_eq!(
            err("192.0.2.1 192.0.2.2"),
            "unexpected argument 192.0.2.2 after destination"
        );
        assert_eq!(
            err("192.0.2.1 -c 3"),
            "unexpected argument -c after destination"
        );
        assert_eq!(err("-S nowhere 192.0.2.1"), "-S nowhere: not an IP address");
    }

    #[test]
    fn r_flag_stands_alone_and_values_may_start_with_a_dash() {
        assert!(ok("-R 192.0.2.1").flags & flags::V4RR != 0);
        assert_eq!(err("-RR 192.0.2.1"), "unknown option -RR");
        assert_eq!(err("-Rc3 192.0.2.1"), "unknown option -Rc3");
        assert_eq!(err("-S -R 192.0.2.1"), "-S -R: not an IP address");
        assert_eq!(ok("-c3 -m 9 192.0.2.1").probe_count, 3);
    }

    #[test]
    fn multibyte_hex_is_an_error_not_a_panic() {
        assert_eq!(err("-p aéb 192.0.2.1"), "-p aéb: not a hex string");
        assert_eq!(err("-B éé 192.0.2.1"), "-B éé: not a hex string");
    }
}
