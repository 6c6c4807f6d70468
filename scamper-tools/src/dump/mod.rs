//! The verbose object dump of sc_wartsdump. The format is the one sc_wartsdump 20260420
//! prints, derived from its output on the example files; fields those files never show are
//! printed in the same style.

mod dealias;
mod host;
mod misc;
mod tbit;
mod tracelb;

use std::fmt::Write;

use scamper_warts::json::{ctime, hex};
use scamper_warts::ping::{self, Ping};
use scamper_warts::trace::{self, Trace, TraceProbe};
use scamper_warts::{Cycle, List, Record, Timeval};

/// The dump text of one record (empty for types this dump does not describe).
pub fn dump(rec: &Record) -> String {
    match rec {
        Record::List(l) => list(l),
        Record::CycleStart(c) => cycle("cycle start", c, c.start_time),
        Record::CycleDef(c) => cycle("cycle def", c, c.start_time),
        Record::CycleStop(c) => cycle("cycle stop", c, c.stop_time),
        Record::Ping(p) => ping_dump(p),
        Record::Trace(t) => trace_dump(t),
        Record::Dealias(d) => dealias::dump(d),
        Record::Tracelb(t) => tracelb::dump(t),
        Record::Host(h) => host::dump(h),
        Record::Http(h) => host::http(h),
        Record::Neighbourdisc(n) => misc::neighbourdisc(n),
        Record::Owamp(o) => misc::owamp(o),
        Record::Udpprobe(u) => misc::udpprobe(u),
        Record::Sniff(x) => misc::sniff(x),
        Record::Sting(x) => tbit::sting(x),
        Record::Tbit(t) => tbit::dump(t),
        // Record is non_exhaustive: a type added later has no dump yet
        _ => String::new(),
    }
}

fn list(l: &List) -> String {
    let mut s = format!("list id {}, name {}", l.id, l.name);
    if let Some(d) = &l.descr {
        write!(s, ", descr \"{d}\"").ok();
    }
    if let Some(m) = &l.monitor {
        write!(s, ", monitor {m}").ok();
    }
    s + "\n"
}

fn cycle(kind: &str, c: &Cycle, t: u32) -> String {
    format!(
        "{kind}, list {} {}, cycle {}, time {}\n",
        c.list.name,
        c.list.id,
        c.id,
        ctime(t)
    )
}

/// Seconds with six decimals and a unit.
fn secs(t: &Timeval) -> String {
    format!("{}.{:06}s", t.sec, t.usec)
}

/// Seconds with six decimals, no unit (absolute times and the newer types' rtts).
fn tv6(t: &Timeval) -> String {
    format!("{}.{:06}", t.sec, t.usec)
}

/// A duration as the shortest decimal number of seconds: `5s`, `0.15s`, `0.01s`.
fn dur(t: &Timeval) -> String {
    if t.usec == 0 {
        return format!("{}s", t.sec);
    }
    let frac = format!("{:06}", t.usec);
    format!("{}.{}s", t.sec, frac.trim_end_matches('0'))
}

/// ` start: <ctime> <usec>` line.
fn start_line(s: &mut String, t: &Timeval) {
    writeln!(s, " start: {} {:06}", ctime(t.sec), t.usec).ok();
}

/// TCP flags as `( syn ack )`, lowest bit first.
fn tcp_flags(f: u8) -> String {
    let mut s = String::from("(");
    for (b, n) in scamper_warts::tbit::TCP_FLAG_NAMES.iter().enumerate() {
        if f & (1 << b) != 0 {
            s.push(' ');
            s += n;
        }
    }
    s + " )"
}

/// `0x01 ( name name )` for a flag value with named bits.
fn named_flags(v: u32, width: usize, names: &[&str]) -> String {
    let set: Vec<&str> = names
        .iter()
        .enumerate()
        .filter(|(b, _)| v & (1 << b) != 0)
        .map(|(_, n)| *n)
        .collect();
    format!("0x{v:0width$x} ( {} )", set.join(" "))
}

/// Base64 (standard alphabet, padded).
fn base64(b: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::with_capacity(b.len().div_ceil(3) * 4);
    for c in b.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for k in 0..4 {
            if k <= c.len() {
                s.push(char::from(A[(n >> (18 - 6 * k)) as usize & 63]));
            } else {
                s.push('=');
            }
        }
    }
    s
}

fn header(
    s: &mut String,
    list: &Option<std::sync::Arc<List>>,
    cy: &Option<std::sync::Arc<Cycle>>,
    userid: u32,
) {
    if let Some(l) = list {
        writeln!(s, " list id: {}, name: {}", l.id, l.name).ok();
    }
    if let Some(c) = cy {
        writeln!(s, " cycle id: {}", c.id).ok();
    }
    writeln!(s, " user-id: {userid}").ok();
}

fn opt(a: &Option<scamper_warts::Addr>) -> String {
    a.map(|a| a.to_string()).unwrap_or_default()
}

fn ping_dump(p: &Ping) -> String {
    let mut s = format!("ping from {} to {}\n", opt(&p.src), opt(&p.dst));
    header(&mut s, &p.list, &p.cycle, p.userid);
    if let Some(r) = &p.rtr {
        writeln!(s, " rtr: {r}").ok();
    }
    writeln!(s, " start: {} {}", ctime(p.start.sec), p.start.usec).ok();
    write!(s, " probe-count: {}", p.probe_count).ok();
    if p.stop_count != 0 {
        write!(s, ", replies-req: {}", p.stop_count).ok();
    }
    write!(s, ", size: {}", p.probe_size).ok();
    if p.pmtu != 0 {
        write!(s, ", reply-pmtu: {}", p.pmtu).ok();
    }
    writeln!(
        s,
        ", wait: {}s, timeout: {}s, ttl: {}, tos: 0x{:02x}",
        p.wait_probe.sec, p.wait_timeout.sec, p.probe_ttl, p.probe_tos
    )
    .ok();
    if let Some(e) = &p.errmsg {
        writeln!(s, " errmsg: {e}").ok();
    }
    if p.flags != 0 {
        let v: Vec<&str> = (0..12)
            .filter(|b| p.flags & (1 << b) != 0)
            .map(|b| ping::flags::NAMES[b])
            .collect();
        writeln!(s, " flags: {}", v.join(" ")).ok();
    }
    let mname = p
        .method
        .name()
        .map(str::to_string)
        .unwrap_or_else(|| p.method.0.to_string());
    write!(s, " method: {mname}").ok();
    if p.method.is_icmp() {
        write!(s, ", icmp-id: {}", p.probe_sport).ok();
        if p.flags & ping::flags::ICMPSUM != 0 {
            write!(s, ", icmp-csum: 0x{:04x}", p.probe_icmpsum).ok();
        }
    } else {
        write!(s, ", sport: {}, dport: {}", p.probe_sport, p.probe_dport).ok();
    }
    s += "\n";
    if !p.data.is_empty() {
        let k = if p.flags & ping::flags::PAYLOAD != 0 {
            "payload"
        } else {
            "pattern"
        };
        writeln!(s, " {k} bytes ({}): {}", p.data.len(), hex(&p.data)).ok();
    }
    let stop = p
        .stop_reason
        .name()
        .map(str::to_string)
        .unwrap_or_else(|| p.stop_reason.0.to_string());
    write!(s, " probes-sent: {}, stop-reason: {stop}", p.ping_sent).ok();
    if p.stop_reason == ping::PingStop::ERROR {
        write!(s, " {}", p.stop_data).ok();
    }
    s += "\n";
    for (i, pb) in p.probes.iter().enumerate() {
        let Some(pb) = pb else { continue };
        for r in &pb.replies {
            writeln!(
                s,
                "reply from {}, attempt: {}, tx: {}, rtt: {}",
                opt(&r.addr),
                i + 1,
                secs(&pb.tx.sub(&p.start)),
                secs(&r.rtt)
            )
            .ok();
            write!(
                s,
                " size: {}, ttl: {}, tos: 0x{:02x}",
                r.reply_size, r.reply_ttl, r.reply_tos
            )
            .ok();
            if pb.sport != 0 {
                write!(s, ", probe-sport: {}", pb.sport).ok();
            }
            if r.flags & ping::reply_flags::PROBE_IPID != 0 {
                write!(s, ", probe-ipid: 0x{:04x}", pb.ipid).ok();
            }
            if let Some(n) = &r.ifname {
                write!(s, ", ifname: {n}").ok();
            }
            if r.flags & ping::reply_flags::REPLY_IPID != 0 {
                if p.dst.is_some_and(|a| a.is_ipv6()) {
                    write!(s, ", reply-ipid32: 0x{:08x}", r.reply_ipid).ok();
                } else {
                    write!(s, ", reply-ipid: 0x{:04x}", r.reply_ipid).ok();
                }
            }
            if r.flags & ping::reply_flags::DLTX != 0 {
                s += ", dltx";
            }
            if r.flags & ping::reply_flags::DLRX != 0 {
                s += ", dlrx";
            }
            s += "\n";
            if r.is_icmp() {
                writeln!(s, " icmp type: {}, code: {}", r.icmp_type, r.icmp_code).ok();
            } else if r.is_tcp() {
                writeln!(s, " tcp flags: 0x{:02x}", r.tcp_flags).ok();
            }
            if let Some(rr) = &r.v4rr {
                for (k, chunk) in rr.chunks(3).enumerate() {
                    let lead = if k == 0 {
                        " record route: "
                    } else {
                        "               "
                    };
                    let v: Vec<String> = chunk
                        .iter()
                        .map(|a| format!("{:<15}", a.to_string()))
                        .collect();
                    writeln!(s, "{lead}{}", v.join(" ")).ok();
                }
            }
        }
    }
    s + "\n"
}

fn trace_type(t: &Trace) -> String {
    let m = t.method;
    match m.0 {
        1 | 4 => {
            let kind = if m.0 == 1 { "icmp" } else { "icmp paris" };
            let mut s = format!("{kind}, echo id: {}", t.sport);
            if t.flags & trace::flags::ICMPCSUMDP != 0 {
                write!(s, ", csum: 0x{:04x}", t.dport).ok();
            }
            s
        }
        2 => format!("udp, sport: {}, base dport: {}", t.sport, t.dport),
        5 => format!("udp paris, sport: {}, dport: {}", t.sport, t.dport),
        3 => format!("tcp, sport: {}, dport: {}", t.sport, t.dport),
        6 => format!("tcp-ack, sport: {}, dport: {}", t.sport, t.dport),
        n => n.to_string(),
    }
}

fn trace_dump(t: &Trace) -> String {
    let mut s = String::from("traceroute ");
    if let Some(a) = &t.src {
        write!(s, "from {a} ").ok();
    }
    writeln!(s, "to {}", opt(&t.dst)).ok();
    header(&mut s, &t.list, &t.cycle, t.userid);
    start_line(&mut s, &t.start);
    writeln!(s, " type: {}", trace_type(t)).ok();
    if let Some(d) = &t.dtree {
        write!(s, " doubletree firsthop: {}", d.firsthop).ok();
        if let Some(n) = &d.lss_name {
            write!(s, ", lss-name: {n}").ok();
        }
        if let Some(a) = &d.lss_stop {
            write!(s, ", lss-stop: {a}").ok();
        }
        if let Some(a) = &d.gss_stop {
            write!(s, ", gss-stop: {a}").ok();
        }
        s.push('\n');
    }
    write!(
        s,
        " attempts: {}, hoplimit: {}, loops: {}, probec: {}, hopcount: {}",
        t.attempts, t.hoplimit, t.loops, t.probec, t.hop_count
    )
    .ok();
    if t.stop_hop != 0 {
        write!(s, ", stophop: {}", t.stop_hop).ok();
    }
    s.push('\n');
    let ga = match t.gapaction {
        1 => "stop".to_string(),
        2 => "lastditch".to_string(),
        n => n.to_string(),
    };
    writeln!(
        s,
        " squeries: {}, firsthop: {}, gaplimit: {}, gapaction: {ga}",
        t.squeries, t.firsthop, t.gaplimit
    )
    .ok();
    write!(s, " wait-timeout: {}s", t.wait_timeout.sec).ok();
    if !t.wait_probe.is_zero() {
        write!(
            s,
            ", wait-probe: {}.{}s",
            t.wait_probe.sec,
            t.wait_probe.usec / 100_000
        )
        .ok();
    }
    writeln!(s, ", tos: 0x{:x}", t.tos).ok();
    if t.flags != 0 {
        let v: Vec<&str> = (0..11)
            .filter(|b| t.flags & (1 << b) != 0)
            .map(|b| trace::flags::NAMES[b])
            .collect();
        writeln!(s, " flags: 0x{:08x} ( {} )", t.flags, v.join(" ")).ok();
    }
    let stop = t
        .stop_reason
        .name()
        .map(str::to_ascii_lowercase)
        .unwrap_or_else(|| t.stop_reason.0.to_string());
    write!(s, " stop reason: {stop}").ok();
    if t.stop_reason == trace::TraceStop::ERROR {
        write!(s, " {}", t.stop_data).ok();
    }
    s.push('\n');
    if let Some(e) = &t.errmsg {
        writeln!(s, " errmsg: {e}").ok();
    }
    hops(&mut s, t, &t.probes);
    if let Some(ld) = &t.lastditch {
        hops(&mut s, t, ld);
    }
    if let Some(pm) = &t.pmtud {
        write!(
            s,
            "pmtud: ver {} ifmtu {}, outmtu {}, pmtu {}",
            pm.ver, pm.ifmtu, pm.outmtu, pm.pmtu
        )
        .ok();
        if pm.outmtu != 0 {
            write!(s, ", outmtu {}", pm.outmtu).ok();
        }
        writeln!(s, ", notec {}", pm.notes.len()).ok();
        let replies: Vec<(&TraceProbe, &scamper_warts::trace::TraceReply)> = pm
            .probes
            .iter()
            .flat_map(|p| p.replies.iter().map(move |r| (p, r)))
            .collect();
        for (i, n) in pm.notes.iter().enumerate() {
            let hit = n.reply.and_then(|k| replies.get(usize::from(k)));
            write!(s, " note {i}: nhmtu {}, ", n.nhmtu).ok();
            match n.kind {
                1 | 2 => {
                    let kind = if n.kind == 1 { "ptb" } else { "ptb-bad" };
                    writeln!(
                        s,
                        "{kind} {}",
                        hit.map(|(_, r)| opt(&r.addr)).unwrap_or_default()
                    )
                }
                3 => writeln!(s, "silence > ttl {}", hit.map_or(0, |(p, _)| p.ttl)),
                k => writeln!(s, "{k}"),
            }
            .ok();
        }
        hops(&mut s, t, &pm.probes);
    }
    s + "\n"
}

fn hops(s: &mut String, t: &Trace, probes: &[TraceProbe]) {
    for p in probes {
        for r in &p.replies {
            writeln!(s, "hop {:2}  {}", p.ttl, opt(&r.addr)).ok();
            writeln!(
                s,
                " attempt: {}, tx: {}, rtt: {}, probe-size: {}",
                p.id,
                secs(&p.tx.sub(&t.start)),
                secs(&r.rtt),
                p.size
            )
            .ok();
            s.push(' ');
            if r.flags & trace::reply_flags::REPLY_TTL != 0 {
                write!(s, "reply-ttl: {}, ", r.reply_ttl).ok();
            }
            writeln!(
                s,
                "reply-size: {}, reply-ipid: 0x{:04x}, reply-tos: 0x{:02x}",
                r.reply_size, r.reply_ipid, r.reply_tos
            )
            .ok();
            if r.is_icmp() {
                write!(s, " icmp-type: {}, icmp-code: {}", r.icmp_type, r.icmp_code).ok();
                if r.has_quotation() {
                    write!(
                        s,
                        ", q-ttl: {}, q-len: {}, q-tos {}",
                        r.icmp_q_ttl, r.icmp_q_iplen, r.icmp_q_tos
                    )
                    .ok();
                }
                if r.is_ptb() {
                    write!(s, ", nhmtu: {}", r.icmp_nhmtu).ok();
                }
                s.push('\n');
            } else if r.is_tcp() {
                writeln!(s, " tcp-flags: 0x{:02x}", r.tcp_flags).ok();
            }
            write!(s, " flags: 0x{:02x}", r.flags).ok();
            let names = [
                (0x01, "sockrxts"),
                (0x02, "dltxts"),
                (0x04, "dlrxts"),
                (0x10, "replyttl"),
                (0x20, "tcp"),
                (0x40, "udp"),
            ];
            let v: Vec<&str> = names
                .iter()
                .filter(|(b, _)| r.flags & b != 0)
                .map(|(_, n)| *n)
                .collect();
            if !v.is_empty() {
                write!(s, " ( {} )", v.join(" ")).ok();
            }
            s.push('\n');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_shortest_decimals() {
        assert_eq!(dur(&Timeval::new(5, 0)), "5s");
        assert_eq!(dur(&Timeval::new(0, 150_000)), "0.15s");
        assert_eq!(dur(&Timeval::new(0, 10_000)), "0.01s");
        assert_eq!(dur(&Timeval::new(1, 5)), "1.000005s");
    }

    #[test]
    fn base64_pads() {
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64(b"fooba"), "Zm9vYmE=");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b""), "");
    }

    #[test]
    fn tcp_flag_names_lowest_first() {
        assert_eq!(tcp_flags(0x12), "( syn ack )");
        assert_eq!(tcp_flags(0), "( )");
        assert_eq!(
            named_flags(2, 2, &["all-attempts", "first-response"]),
            "0x02 ( first-response )"
        );
    }
}
