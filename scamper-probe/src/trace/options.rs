//! The options of the `trace` command (manual section TRACE OPTIONS) and their validation.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use scamper_warts::trace::{flags, TraceMethod};

use super::confidence::Level;
use crate::cmdline::{
    addr, hex, num, seconds, time, Arg, OptionSpec, ScanError, Scanner, TimeUnit, ValueError,
};

/// Default attempts per hop (`-q`).
pub const DEFAULT_ATTEMPTS: u8 = 2;
/// Most attempts per hop `-q` accepts.
pub const MAX_ATTEMPTS: u8 = 20;
/// Default per-probe timeout (`-w`).
pub const DEFAULT_WAIT: Duration = Duration::from_secs(5);
/// Longest `-w`: a trace waits at most this long for any one reply.
pub const MAX_WAIT_SECS: u64 = 10;
/// Default gap limit (`-g`).
pub const DEFAULT_GAPLIMIT: u8 = 5;
/// Default number of loops tolerated (`-l`).
pub const DEFAULT_LOOPS: u8 = 1;
/// Default base destination port of UDP probes (`-d`).
pub const DEFAULT_UDP_DPORT: u16 = 33435;
/// Default destination port of TCP probes (`-d`).
pub const DEFAULT_TCP_DPORT: u16 = 80;
/// Longest `-H` the manual allows.
pub const MAX_WAIT_PROBE_HOP: Duration = Duration::from_secs(2);
/// Longest `-W` in centiseconds (warts stores the value in one byte).
pub const MAX_WAIT_PROBE_CS: u64 = 255;
/// Gap action `-G 1`: stop probing.
pub const GAPACTION_STOP: u8 = 1;
/// Gap action `-G 2`: send last-ditch probes to the destination.
pub const GAPACTION_LASTDITCH: u8 = 2;
/// Probe sizes scamper uses for UDP and ICMP probes without `-p` (IPv4, IPv6), as its records
/// show (`probe_size` 44 and 60).
pub const DEFAULT_PROBE_SIZE_V4: u16 = 44;
pub const DEFAULT_PROBE_SIZE_V6: u16 = 60;
/// Largest fragment offset (13 bits, 8-byte units).
pub const MAX_OFFSET: u16 = 8191;

/// Options of one traceroute, validated and with defaults resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceOptions {
    pub dst: IpAddr,
    /// `-P`, default udp-paris.
    pub method: TraceMethod,
    /// `-q`: attempts per hop.
    pub attempts: u8,
    /// `-c`: 0 (off), 95 or 99.
    pub confidence: u8,
    /// `-d` as given: the base UDP/TCP destination port, or the ICMP-Paris checksum. `None`
    /// means the method default (UDP 33435, TCP 80, ICMP-Paris: the ICMP id).
    pub dport: Option<u16>,
    /// `-f`.
    pub firsthop: u8,
    /// `-g`: consecutive unresponsive hops tolerated (0 = no limit).
    pub gaplimit: u8,
    /// `-G`: [`GAPACTION_STOP`] or [`GAPACTION_LASTDITCH`].
    pub gapaction: u8,
    /// `-H`: minimum time between probes with the same TTL.
    pub wait_probe_hop: Duration,
    /// `-l`: loops tolerated (0 = no loop check).
    pub loops: u8,
    /// `-m`: highest TTL; 0 (the default) means 255, the protocol limit.
    pub hoplimit: u8,
    /// `-N`.
    pub squeries: u8,
    /// `-o`: IP fragment offset in 8-byte units.
    pub offset: u16,
    /// `-p`: payload base; empty means zeroed bytes of the default size.
    pub payload: Vec<u8>,
    /// Total probe size, IP header included.
    pub probe_size: u16,
    /// `-r`: first-hop router.
    pub rtr: Option<IpAddr>,
    /// `-s`: source port or ICMP id; `None` (or `-s 0`) means the engine's default.
    pub sport: Option<u16>,
    /// `-S`.
    pub src: Option<IpAddr>,
    /// `-t`.
    pub tos: u8,
    /// `-U`.
    pub userid: u32,
    /// `-w`.
    pub wait_timeout: Duration,
    /// `-W` (given in centiseconds).
    pub wait_probe: Duration,
    /// `-y`: probes between in-progress reports (0 = report only at the end).
    pub stream: u16,
    /// `-z`: global stop set entry (doubletree).
    pub gss_entry: Option<IpAddr>,
    /// `-Z`: local stop set name (doubletree).
    pub lss_name: Option<String>,
    /// `-O dtree-noback`.
    pub dtree_noback: bool,
    /// Warts trace flags from `-Q`, `-T`, `-M`, `-O` and the method.
    pub flags: u32,
}

/// Why trace options were rejected; Display names the option and value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TraceOptionsError {
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
    /// A documented option this implementation cannot run yet. The command parser prefixes
    /// "trace: ", giving e.g. `trace: -M: not yet supported`.
    #[error("{0}: not yet supported")]
    NotYetSupported(String),
}

fn bad(opt: char, value: &str, reason: impl Into<String>) -> TraceOptionsError {
    TraceOptionsError::InvalidValue {
        opt,
        value: value.to_string(),
        reason: reason.into(),
    }
}

fn invalid(opt: char, reason: impl Into<String>) -> TraceOptionsError {
    TraceOptionsError::Invalid {
        opt,
        reason: reason.into(),
    }
}

fn unsupported(what: &str) -> TraceOptionsError {
    TraceOptionsError::NotYetSupported(what.to_string())
}

impl From<ScanError> for TraceOptionsError {
    fn from(e: ScanError) -> Self {
        match e {
            ScanError::UnknownOption(w) => TraceOptionsError::UnknownOption(w),
            ScanError::MissingValue(opt) => TraceOptionsError::MissingValue(opt),
            ScanError::ExtraArgument(w) => TraceOptionsError::ExtraArgument(w),
        }
    }
}

impl From<ValueError> for TraceOptionsError {
    fn from(e: ValueError) -> Self {
        TraceOptionsError::InvalidValue {
            opt: e.opt,
            value: e.value,
            reason: e.reason,
        }
    }
}

/// The option letters of `trace`; the flags may be grouped (`-QT`), as getopt allows.
const SPEC: OptionSpec = OptionSpec {
    flags: "MQT",
    values: "cdfgGHlmNoOpPqrsStUwWyzZ",
    grouped_flags: true,
};

/// Parse a `-P` method name (case-insensitive). `icmp` and `icmp-paris` are the manual's
/// spellings; the record names (`icmp-echo`, `icmp-echo-paris`) are accepted too.
pub fn parse_method(s: &str) -> Option<TraceMethod> {
    let m = match s.to_ascii_lowercase().as_str() {
        "udp" => TraceMethod::UDP,
        "udp-paris" => TraceMethod::UDP_PARIS,
        "icmp" | "icmp-echo" => TraceMethod::ICMP_ECHO,
        "icmp-paris" | "icmp-echo-paris" => TraceMethod::ICMP_ECHO_PARIS,
        "tcp" => TraceMethod::TCP,
        "tcp-ack" => TraceMethod::TCP_ACK,
        _ => return None,
    };
    Some(m)
}

/// The `-P` spelling of a method (what [`fmt::Display`] writes).
pub fn method_word(m: TraceMethod) -> &'static str {
    match m {
        TraceMethod::UDP => "udp",
        TraceMethod::ICMP_ECHO => "icmp",
        TraceMethod::ICMP_ECHO_PARIS => "icmp-paris",
        TraceMethod::TCP => "tcp",
        TraceMethod::TCP_ACK => "tcp-ack",
        _ => "udp-paris",
    }
}

/// Whether probes of this method use ICMP echo requests.
pub fn is_icmp(m: TraceMethod) -> bool {
    matches!(m, TraceMethod::ICMP_ECHO | TraceMethod::ICMP_ECHO_PARIS)
}

/// Bytes of the transport header of a probe.
pub fn transport_header_len(m: TraceMethod) -> u16 {
    if m.is_tcp() {
        20
    } else {
        8
    }
}

/// Options as typed, before defaults and cross-checks.
#[derive(Default)]
struct Raw {
    confidence: Option<u8>,
    dport: Option<u16>,
    firsthop: Option<u8>,
    gaplimit: Option<u8>,
    gapaction: Option<u8>,
    wait_probe_hop: Option<Duration>,
    loops: Option<u8>,
    hoplimit: Option<u8>,
    pmtud: bool,
    squeries: Option<u8>,
    offset: Option<u16>,
    oflags: u32,
    dl: bool,
    ptr: bool,
    dtree_noback: bool,
    payload: Option<Vec<u8>>,
    method: Option<TraceMethod>,
    attempts: Option<u8>,
    all_attempts: bool,
    rtr: Option<IpAddr>,
    sport: Option<u16>,
    src: Option<IpAddr>,
    tos: Option<u8>,
    ignore_ttl_dst: bool,
    userid: Option<u32>,
    wait_timeout: Option<Duration>,
    wait_probe: Option<Duration>,
    stream: Option<u16>,
    gss_entry: Option<IpAddr>,
    lss_name: Option<String>,
}

fn parse_o(v: &str, raw: &mut Raw) -> Result<(), TraceOptionsError> {
    match v.to_ascii_lowercase().as_str() {
        "const-payload" => raw.oflags |= flags::CONSTPAYLOAD,
        "dl" => raw.dl = true,
        "dtree-noback" => raw.dtree_noback = true,
        "ptr" => raw.ptr = true,
        "raw" => raw.oflags |= flags::RAW,
        _ => return Err(bad('O', v, "unknown option")),
    }
    Ok(())
}

/// Parse the words after `trace` (options, then exactly one destination address).
pub fn parse(words: &[String]) -> Result<TraceOptions, TraceOptionsError> {
    TraceOptions::parse(words)
}

impl TraceOptions {
    /// Parse the words after `trace`: options, then exactly one destination address.
    pub fn parse<S: AsRef<str>>(args: &[S]) -> Result<TraceOptions, TraceOptionsError> {
        let mut raw = Raw::default();
        let mut dst: Option<&str> = None;
        for arg in Scanner::new(SPEC, args) {
            let (opt, v) = match arg? {
                Arg::Dest(d) => {
                    dst = Some(d);
                    continue;
                }
                Arg::Flag(c) => {
                    match c {
                        'M' => raw.pmtud = true,
                        'Q' => raw.all_attempts = true,
                        'T' => raw.ignore_ttl_dst = true,
                        // SPEC has no other flag.
                        _ => return Err(TraceOptionsError::UnknownOption(format!("-{c}"))),
                    }
                    continue;
                }
                Arg::Opt(opt, v) => (opt, v),
            };
            match opt {
                'c' => {
                    // scamper gives this one reason for any other value, numeric or not.
                    let level = v.parse::<u8>().ok().and_then(Level::from_percent);
                    let level = level.ok_or_else(|| bad(opt, v, "confidence must be 95 or 99"))?;
                    raw.confidence = Some(level.percent());
                }
                'd' => raw.dport = Some(num(opt, v, 0, 65535)?),
                'f' => raw.firsthop = Some(num(opt, v, 1, 255)?),
                'g' => raw.gaplimit = Some(num(opt, v, 0, 255)?),
                'G' => {
                    raw.gapaction =
                        Some(num(opt, v, 1, 2).map_err(|_| {
                            bad(opt, v, "must be 1 (stop) or 2 (last-ditch probes)")
                        })?)
                }
                'H' => {
                    let d = seconds(opt, v)?;
                    if d > MAX_WAIT_PROBE_HOP {
                        return Err(bad(opt, v, "must be at most 2 seconds"));
                    }
                    raw.wait_probe_hop = Some(d);
                }
                'l' => raw.loops = Some(num(opt, v, 0, 255)?),
                'm' => raw.hoplimit = Some(num(opt, v, 1, 255)?),
                'N' => raw.squeries = Some(num(opt, v, 1, 255)?),
                'o' => raw.offset = Some(num(opt, v, 0, MAX_OFFSET.into())?),
                'O' => parse_o(v, &mut raw)?,
                'p' => raw.payload = Some(hex(opt, v)?),
                'P' => {
                    raw.method = Some(parse_method(v).ok_or_else(|| {
                        bad(
                            opt,
                            v,
                            "unknown method (udp, udp-paris, icmp, icmp-paris, tcp, tcp-ack)",
                        )
                    })?)
                }
                'q' => raw.attempts = Some(num(opt, v, 1, MAX_ATTEMPTS.into())?),
                'r' => raw.rtr = Some(addr(opt, v)?),
                's' => raw.sport = Some(num(opt, v, 0, 65535)?),
                'S' => raw.src = Some(addr(opt, v)?),
                't' => raw.tos = Some(num(opt, v, 0, 255)?),
                'U' => raw.userid = Some(num(opt, v, 0, u32::MAX.into())?),
                // Times may carry a unit suffix (`-w 2.0s`, `-W 50ms`), as the Python module
                // writes them.
                'w' => {
                    let d = seconds(opt, v)?;
                    if d.subsec_nanos() != 0 {
                        return Err(bad(opt, v, "must be whole seconds"));
                    }
                    if !(1..=MAX_WAIT_SECS).contains(&d.as_secs()) {
                        return Err(bad(opt, v, format!("must be 1..{MAX_WAIT_SECS}")));
                    }
                    raw.wait_timeout = Some(d);
                }
                'W' => {
                    let d = time(opt, v, TimeUnit::Centiseconds)?;
                    if d.as_micros() % 10_000 != 0 {
                        return Err(bad(opt, v, "must be a multiple of 10 ms"));
                    }
                    if d.as_micros() / 10_000 > u128::from(MAX_WAIT_PROBE_CS) {
                        return Err(bad(opt, v, format!("must be 0..{MAX_WAIT_PROBE_CS}")));
                    }
                    raw.wait_probe = Some(d);
                }
                'y' => raw.stream = Some(num(opt, v, 0, 65535)?),
                'z' => raw.gss_entry = Some(addr(opt, v)?),
                'Z' => {
                    if v.is_empty() {
                        return Err(bad(opt, v, "empty name"));
                    }
                    raw.lss_name = Some(v.to_string());
                }
                // SPEC lists exactly the letters above.
                _ => return Err(TraceOptionsError::UnknownOption(format!("-{opt}"))),
            }
        }
        let dst = dst.ok_or(TraceOptionsError::NoDestination)?;
        let dst: IpAddr = dst
            .parse()
            .map_err(|_| TraceOptionsError::InvalidDestination(dst.to_string()))?;
        Self::resolve(dst, raw)
    }

    /// Apply defaults and the checks that involve several options or the address family.
    fn resolve(dst: IpAddr, raw: Raw) -> Result<TraceOptions, TraceOptionsError> {
        let method = raw.method.unwrap_or(TraceMethod::UDP_PARIS);
        let v4 = dst.is_ipv4();
        for (opt, a) in [('r', raw.rtr), ('S', raw.src), ('z', raw.gss_entry)] {
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
        let gaplimit = raw.gaplimit.unwrap_or(DEFAULT_GAPLIMIT);
        let squeries = raw.squeries.unwrap_or(1);
        if squeries > 1 && gaplimit != 0 && squeries >= gaplimit {
            return Err(bad(
                'N',
                &squeries.to_string(),
                format!("must be less than the gap limit {gaplimit}"),
            ));
        }
        let firsthop = raw.firsthop.unwrap_or(1);
        let hoplimit = raw.hoplimit.unwrap_or(0);
        if hoplimit != 0 && firsthop > hoplimit {
            return Err(bad(
                'f',
                &firsthop.to_string(),
                format!("beyond the hop limit {hoplimit}"),
            ));
        }
        if raw.confidence.is_some() && raw.all_attempts {
            return Err(invalid('c', "cannot set both all-attempts and confidence"));
        }
        if raw.oflags & flags::RAW != 0 && !(v4 && method.is_tcp()) {
            return Err(bad('O', "raw", "only for IPv4 TCP probes"));
        }
        let const_payload = raw.oflags & flags::CONSTPAYLOAD != 0;
        let icmp_paris = method == TraceMethod::ICMP_ECHO_PARIS;
        if raw.dport.is_some() && method == TraceMethod::ICMP_ECHO {
            return Err(invalid('d', "not used by ICMP echo probes"));
        }
        if raw.dport.is_some() && icmp_paris && const_payload {
            return Err(invalid(
                'd',
                "an ICMP-Paris checksum needs a payload that may be altered (no -O const-payload)",
            ));
        }
        if icmp_paris && raw.dport == Some(0xffff) {
            // One's complement arithmetic never produces 0xffff as a computed checksum.
            return Err(bad('d', "65535", "not a possible ICMP checksum"));
        }

        // Probe size: IP header + transport header + payload.
        let hdr = if v4 { 20 } else { 40 } + transport_header_len(method);
        let probe_size = match &raw.payload {
            Some(p) => u16::try_from(u32::from(hdr) + p.len() as u32).map_err(|_| {
                bad(
                    'p',
                    &format!("<{} bytes>", p.len()),
                    "probe would exceed 65535 bytes",
                )
            })?,
            None if method.is_tcp() => hdr,
            None if v4 => DEFAULT_PROBE_SIZE_V4,
            None => DEFAULT_PROBE_SIZE_V6,
        };
        let payload_len = probe_size - hdr;
        let paris_fix = matches!(
            method,
            TraceMethod::UDP_PARIS | TraceMethod::ICMP_ECHO_PARIS
        ) && !const_payload;
        if paris_fix && payload_len < 2 {
            return Err(bad('p', &hex_string(raw.payload.as_deref().unwrap_or(&[])),
                "paris probes need at least 2 payload bytes to set the checksum (or -O const-payload)"));
        }

        let mut fl = raw.oflags;
        if raw.all_attempts {
            fl |= flags::ALLATTEMPTS;
        }
        if raw.ignore_ttl_dst {
            fl |= flags::IGNORETTLDST;
        }
        if raw.pmtud {
            fl |= flags::PMTUD;
        }
        if icmp_paris {
            // The record keeps the ICMP checksum in its dport field.
            fl |= flags::ICMPCSUMDP;
        }
        let doubletree = raw.gss_entry.is_some() || raw.lss_name.is_some() || raw.dtree_noback;
        if doubletree {
            fl |= flags::DOUBLETREE;
        }
        if raw.dl {
            fl |= flags::DL;
        }
        if raw.ptr {
            fl |= flags::PTR;
        }

        // Documented features the engine cannot run yet: refuse rather than ignore them.
        // Path-MTU discovery needs whole probes that reach the destination; a lone non-first
        // fragment never does.
        if raw.offset.unwrap_or(0) != 0 && raw.pmtud {
            return Err(unsupported("-o with -M"));
        }

        Ok(TraceOptions {
            dst,
            method,
            attempts: raw.attempts.unwrap_or(DEFAULT_ATTEMPTS),
            confidence: raw.confidence.unwrap_or(0),
            dport: raw.dport,
            firsthop,
            gaplimit,
            gapaction: raw.gapaction.unwrap_or(GAPACTION_STOP),
            wait_probe_hop: raw.wait_probe_hop.unwrap_or(Duration::ZERO),
            loops: raw.loops.unwrap_or(DEFAULT_LOOPS),
            hoplimit,
            squeries,
            offset: raw.offset.unwrap_or(0),
            payload: raw.payload.unwrap_or_default(),
            probe_size,
            rtr: raw.rtr,
            sport: raw.sport.filter(|&p| p != 0),
            src: raw.src,
            tos: raw.tos.unwrap_or(0),
            userid: raw.userid.unwrap_or(0),
            wait_timeout: raw.wait_timeout.unwrap_or(DEFAULT_WAIT),
            wait_probe: raw.wait_probe.unwrap_or(Duration::ZERO),
            stream: raw.stream.unwrap_or(0),
            gss_entry: raw.gss_entry,
            lss_name: raw.lss_name,
            dtree_noback: raw.dtree_noback,
            flags: fl,
        })
    }

    /// The destination address.
    pub fn dst(&self) -> IpAddr {
        self.dst
    }

    /// Payload bytes after the transport header (before any paris checksum adjustment).
    pub fn payload_len(&self) -> u16 {
        let hdr = if self.dst.is_ipv4() { 20 } else { 40 } + transport_header_len(self.method);
        self.probe_size - hdr
    }

    /// The highest TTL this trace may probe.
    pub fn max_ttl(&self) -> u8 {
        if self.hoplimit == 0 {
            255
        } else {
            self.hoplimit
        }
    }

    /// Whether every attempt is sent at each hop (`-Q`).
    pub fn all_attempts(&self) -> bool {
        self.flags & flags::ALLATTEMPTS != 0
    }

    /// Whether the payload stays as given (`-O const-payload`).
    pub fn const_payload(&self) -> bool {
        self.flags & flags::CONSTPAYLOAD != 0
    }
}

fn hex_string(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

impl fmt::Display for TraceOptions {
    /// The canonical option text (every option explicit) followed by the destination, so a
    /// parsed command can be logged or re-issued.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "-P {} -q {} -f {} -g {} -G {} -l {} -t {} -w {}",
            method_word(self.method),
            self.attempts,
            self.firsthop,
            self.gaplimit,
            self.gapaction,
            self.loops,
            self.tos,
            self.wait_timeout.as_secs()
        )?;
        let cs = self.wait_probe.as_millis() / 10;
        if cs != 0 {
            write!(f, " -W {cs}")?;
        }
        if !self.wait_probe_hop.is_zero() {
            let d = self.wait_probe_hop;
            write!(f, " -H {}.{:06}", d.as_secs(), d.subsec_micros())?;
        }
        if self.hoplimit != 0 {
            write!(f, " -m {}", self.hoplimit)?;
        }
        if self.squeries > 1 {
            write!(f, " -N {}", self.squeries)?;
        }
        if let Some(d) = self.dport {
            write!(f, " -d {d}")?;
        }
        if let Some(s) = self.sport {
            write!(f, " -s {s}")?;
        }
        if !self.payload.is_empty() {
            write!(f, " -p {}", hex_string(&self.payload))?;
        }
        if self.all_attempts() {
            f.write_str(" -Q")?;
        }
        if self.confidence != 0 {
            write!(f, " -c {}", self.confidence)?;
        }
        if self.flags & flags::IGNORETTLDST != 0 {
            f.write_str(" -T")?;
        }
        if self.flags & flags::PMTUD != 0 {
            f.write_str(" -M")?;
        }
        if self.const_payload() {
            f.write_str(" -O const-payload")?;
        }
        if self.flags & flags::RAW != 0 {
            f.write_str(" -O raw")?;
        }
        if let Some(r) = self.rtr {
            write!(f, " -r {r}")?;
        }
        if let Some(s) = self.src {
            write!(f, " -S {s}")?;
        }
        if self.userid != 0 {
            write!(f, " -U {}", self.userid)?;
        }
        if self.stream != 0 {
            write!(f, " -y {}", self.stream)?;
        }
        if self.dtree_noback {
            f.write_str(" -O dtree-noback")?;
        }
        if self.flags & flags::PTR != 0 {
            f.write_str(" -O ptr")?;
        }
        if let Some(z) = self.gss_entry {
            write!(f, " -z {z}")?;
        }
        if let Some(name) = &self.lss_name {
            write!(f, " -Z {name}")?;
        }
        write!(f, " {}", self.dst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<TraceOptions, TraceOptionsError> {
        let w: Vec<String> = s.split_whitespace().map(String::from).collect();
        parse(&w)
    }

    fn err(s: &str) -> String {
        p(s).unwrap_err().to_string()
    }

    #[test]
    fn defaults_follow_the_manual() {
        let o = p("192.0.2.1").unwrap();
        assert_eq!(o.dst(), "192.0.2.1".parse::<IpAddr>().unwrap());
        assert_eq!(o.method, TraceMethod::UDP_PARIS);
        assert_eq!((o.attempts, o.gaplimit, o.gapaction, o.loops), (2, 5, 1, 1));
        assert_eq!(
            (o.firsthop, o.hoplimit, o.max_ttl(), o.squeries),
            (1, 0, 255, 1)
        );
        assert_eq!(o.wait_timeout, Duration::from_secs(5));
        assert_eq!(
            (o.wait_probe, o.wait_probe_hop),
            (Duration::ZERO, Duration::ZERO)
        );
        assert_eq!(
            (o.dport, o.sport, o.tos, o.userid, o.confidence),
            (None, None, 0, 0, 0)
        );
        assert_eq!((o.probe_size, o.payload_len(), o.flags), (44, 16, 0));
        let v6 = p("2001:db8::1").unwrap();
        assert_eq!((v6.probe_size, v6.payload_len()), (60, 12));
        assert_eq!(
            p("-P icmp-paris 192.0.2.1").unwrap().flags,
            flags::ICMPCSUMDP
        );
    }

    #[test]
    fn methods_are_case_insensitive() {
        for (w, m) in [
            ("UDP", TraceMethod::UDP),
            ("udp-paris", TraceMethod::UDP_PARIS),
            ("ICMP", TraceMethod::ICMP_ECHO),
            ("Icmp-Paris", TraceMethod::ICMP_ECHO_PARIS),
            ("icmp-echo-paris", TraceMethod::ICMP_ECHO_PARIS),
            ("tcp", TraceMethod::TCP),
            ("TCP-ACK", TraceMethod::TCP_ACK),
        ] {
            assert_eq!(p(&format!("-P {w} 192.0.2.1")).unwrap().method, m, "{w}");
        }
        assert!(err("-P udp-sport 192.0.2.1").starts_with("-P udp-sport: unknown method"));
    }

    #[test]
    fn every_supported_option() {
        let o = p(
            "-d 4000 -f 3 -g 7 -G 2 -H 1.5 -l 3 -m 30 -N 1 -o 0 -O const-payload -p 0102aabb \
                   -P udp -q 3 -Q -r 192.0.2.254 -s 5555 -S 192.0.2.10 -t 32 -T -U 99 -w 2 -W 50 \
                   -y 10 192.0.2.1",
        )
        .unwrap();
        assert_eq!(o.method, TraceMethod::UDP);
        assert_eq!(
            (o.dport, o.firsthop, o.gaplimit, o.gapaction),
            (Some(4000), 3, 7, 2)
        );
        assert_eq!(o.wait_probe_hop, Duration::from_millis(1500));
        assert_eq!((o.loops, o.hoplimit, o.squeries, o.offset), (3, 30, 1, 0));
        assert_eq!(o.payload, vec![1, 2, 0xaa, 0xbb]);
        assert_eq!((o.probe_size, o.attempts), (32, 3));
        assert_eq!(o.rtr, Some("192.0.2.254".parse().unwrap()));
        assert_eq!(o.src, Some("192.0.2.10".parse().unwrap()));
        assert_eq!(
            (o.sport, o.tos, o.userid, o.stream),
            (Some(5555), 32, 99, 10)
        );
        assert_eq!(
            (o.wait_timeout, o.wait_probe),
            (Duration::from_secs(2), Duration::from_millis(500))
        );
        assert_eq!(
            o.flags,
            flags::ALLATTEMPTS | flags::IGNORETTLDST | flags::CONSTPAYLOAD
        );
        // attached values and grouped flags, as getopt accepts them
        let g = p("-q1 -QT -Pudp 192.0.2.1").unwrap();
        assert_eq!((g.attempts, g.method), (1, TraceMethod::UDP));
        assert_eq!(g.flags, flags::ALLATTEMPTS | flags::IGNORETTLDST);
        assert_eq!(p("-O raw -P tcp 192.0.2.1").unwrap().flags, flags::RAW);
        assert_eq!(p("-s 0 192.0.2.1").unwrap().sport, None);
        assert_eq!(p("-P tcp -p 00 2001:db8::1").unwrap().probe_size, 61);
    }

    #[test]
    fn values_out_of_range() {
        for (cmd, prefix) in [
            ("-q 0 192.0.2.1", "-q 0: must be 1..20"),
            ("-q 21 192.0.2.1", "-q 21: must be 1..20"),
            ("-w 0 192.0.2.1", "-w 0: must be 1..10"),
            ("-w 11 192.0.2.1", "-w 11: must be 1..10"),
            ("-W 256 192.0.2.1", "-W 256: must be 0..255"),
            ("-w 2.5s 192.0.2.1", "-w 2.5s: must be whole seconds"),
            ("-w 11.0s 192.0.2.1", "-w 11.0s: must be 1..10"),
            ("-W 15ms 192.0.2.1", "-W 15ms: must be a multiple of 10 ms"),
            ("-W 2.56s 192.0.2.1", "-W 2.56s: must be 0..255"),
            ("-W x 192.0.2.1", "-W x: not a time in centiseconds"),
            ("-H 2.5 192.0.2.1", "-H 2.5: must be at most 2 seconds"),
            ("-f 0 192.0.2.1", "-f 0: must be 1..255"),
            ("-m 0 192.0.2.1", "-m 0: must be 1..255"),
            ("-m 256 192.0.2.1", "-m 256: must be 1..255"),
            ("-G 3 192.0.2.1", "-G 3: must be 1 (stop) or 2"),
            ("-c 90 192.0.2.1", "-c 90: confidence must be 95 or 99"),
            ("-t 256 192.0.2.1", "-t 256: must be 0..255"),
            ("-d 65536 192.0.2.1", "-d 65536: must be 0..65535"),
            ("-o 8192 192.0.2.1", "-o 8192: must be 0..8191"),
            ("-U x 192.0.2.1", "-U x: not a number"),
            ("-p abc 192.0.2.1", "-p abc: need an even number"),
            ("-p zz 192.0.2.1", "-p zz: not a hex string"),
            ("-O nope 192.0.2.1", "-O nope: unknown option"),
            ("-f 10 -m 5 192.0.2.1", "-f 10: beyond the hop limit 5"),
            ("-S 2001:db8::1 192.0.2.1", "-S 2001:db8::1: address family"),
            ("-r 2001:db8::1 192.0.2.1", "-r 2001:db8::1: address family"),
            ("-O raw 192.0.2.1", "-O raw: only for IPv4 TCP"),
            ("-O raw -P tcp 2001:db8::1", "-O raw: only for IPv4 TCP"),
            ("-P icmp -d 5 192.0.2.1", "-d: not used by ICMP echo"),
            (
                "-P icmp-paris -d 65535 192.0.2.1",
                "-d 65535: not a possible ICMP checksum",
            ),
            (
                "-P icmp-paris -O const-payload -d 5 192.0.2.1",
                "-d: an ICMP-Paris checksum",
            ),
            (
                "-P udp-paris -p 01 192.0.2.1",
                "-p 01: paris probes need at least 2",
            ),
            ("-N 5 192.0.2.1", "-N 5: must be less than the gap limit 5"),
        ] {
            let e = err(cmd);
            assert!(e.starts_with(prefix), "{cmd}: {e}");
        }
        // const-payload lifts the paris payload requirement
        assert!(p("-P udp-paris -O const-payload -p 01 192.0.2.1").is_ok());
    }

    #[test]
    fn command_shape_errors() {
        assert_eq!(p("").unwrap_err(), TraceOptionsError::NoDestination);
        assert_eq!(p("-q 2").unwrap_err(), TraceOptionsError::NoDestination);
        assert_eq!(p("-q").unwrap_err(), TraceOptionsError::MissingValue('q'));
        assert_eq!(err("-x 192.0.2.1"), "unknown option -x");
        assert_eq!(err("-QX 192.0.2.1"), "unknown option -QX");
        assert_eq!(
            err("example.com"),
            "invalid destination address example.com"
        );
        assert_eq!(
            err("192.0.2.1 -q 3"),
            "unexpected argument -q after destination"
        );
    }

    #[test]
    fn unimplemented_features_are_refused_clearly() {
        let (cmd, what) = ("-o 10 -M 192.0.2.1", "-o with -M: not yet supported");
        let e = err(cmd);
        assert!(e.starts_with(what), "{cmd}: {e}");
        assert!(matches!(
            p(cmd).unwrap_err(),
            TraceOptionsError::NotYetSupported(_)
        ));
    }

    #[test]
    fn confidence_is_95_or_99_and_excludes_all_attempts() {
        assert_eq!(p("-c 95 192.0.2.1").unwrap().confidence, 95);
        assert_eq!(p("-c99 -q 5 2001:db8::1").unwrap().confidence, 99);
        for v in ["90", "0", "100", "256", "abc", "95.5", "-95"] {
            assert_eq!(
                err(&format!("-c {v} 192.0.2.1")),
                format!("-c {v}: confidence must be 95 or 99"),
            );
        }
        assert_eq!(
            err("-c 95 -Q 192.0.2.1"),
            "-c: cannot set both all-attempts and confidence"
        );
        assert_eq!(
            err("-Q -c 99 192.0.2.1"),
            "-c: cannot set both all-attempts and confidence"
        );
    }

    #[test]
    fn fragment_offset_is_accepted_up_to_13_bits() {
        assert_eq!(p("-o 8 192.0.2.1").unwrap().offset, 8);
        assert_eq!(p("-o 8191 -P icmp 2001:db8::1").unwrap().offset, 8191);
        assert_eq!(p("-o 0 -M 192.0.2.1").unwrap().offset, 0);
        assert!(p("-o 8192 192.0.2.1").is_err());
    }

    #[test]
    fn parallel_hops_are_accepted_below_the_gap_limit() {
        assert_eq!(p("-N 4 192.0.2.1").unwrap().squeries, 4);
        assert_eq!(p("-N 200 -g 0 2001:db8::1").unwrap().squeries, 200);
        assert!(err("-N 5 192.0.2.1").starts_with("-N 5: must be less than"));
    }

    #[test]
    fn doubletree_options() {
        let o = p("-f 4 -z 192.0.2.77 -Z vp1 192.0.2.1").unwrap();
        assert_eq!(o.gss_entry, Some("192.0.2.77".parse().unwrap()));
        assert_eq!(o.lss_name.as_deref(), Some("vp1"));
        assert!(!o.dtree_noback);
        assert_eq!(o.flags, flags::DOUBLETREE);
        let o = p("-O dtree-noback 2001:db8::1").unwrap();
        assert!(o.dtree_noback);
        assert_eq!(o.flags, flags::DOUBLETREE);
        assert!(err("-z 2001:db8::9 192.0.2.1").starts_with("-z 2001:db8::9: address family"));
    }

    #[test]
    fn display_round_trips() {
        for cmd in [
            "192.0.2.1",
            "-P icmp-paris -d 1234 -q 1 -Q -T -w 3 -W 20 -H 0.5 -m 20 -f 2 2001:db8::1",
            "-P tcp-ack -d 443 -s 4000 -O raw -t 4 -U 7 -y 3 -p 00ff -r 192.0.2.254 192.0.2.1",
            "-M -P icmp 2001:db8::1",
            "-P udp-paris -O const-payload -g 0 -G 2 -l 0 -S 192.0.2.10 192.0.2.1",
            "-f 4 -z 192.0.2.77 -Z vp1 -O dtree-noback -N 1 192.0.2.1",
            "-N 4 -g 5 192.0.2.1",
            "-c 99 -P udp -q 3 2001:db8::1",
        ] {
            let o = p(cmd).unwrap();
            let again = p(&o.to_string()).unwrap();
            assert_eq!(o, again, "{cmd} -> {o}");
        }
    }

    #[test]
    fn times_as_the_python_module_writes_them() {
        // ScamperCtrl.do_trace(wait_timeout=2, wait_probe=0.1) sends exactly this.
        let o = p("-w 2.0s -W 0.1s 198.51.100.1").unwrap();
        assert_eq!(o.wait_timeout, Duration::from_secs(2));
        assert_eq!(o.wait_probe, Duration::from_millis(100));
        let o = p("-W 30ms -w 5s 192.0.2.1").unwrap();
        assert_eq!(o.wait_probe, Duration::from_millis(30));
        assert_eq!(o.wait_timeout, Duration::from_secs(5));
        assert_eq!(
            p("-W 7 192.0.2.1").unwrap().wait_probe,
            Duration::from_millis(70)
        );
    }

    #[test]
    fn grouped_flags_and_dash_values() {
        let all = flags::ALLATTEMPTS | flags::IGNORETTLDST | flags::PMTUD;
        assert_eq!(p("-QTM 192.0.2.1").unwrap().flags & all, all);
        let g = p("-QQ -T 192.0.2.1").unwrap();
        assert_eq!(g.flags & all, flags::ALLATTEMPTS | flags::IGNORETTLDST);
        assert_eq!(err("-Qq1 192.0.2.1"), "unknown option -Qq1");
        assert_eq!(err("-S -Q 192.0.2.1"), "-S -Q: not an IP address");
        assert_eq!(err("-- 192.0.2.1"), "unknown option --");
        assert_eq!(err("-q"), "-q: missing value");
    }
}
