//! sc_wartsdump text of neighbourdisc, owamp, udpprobe and sniff objects.

use std::fmt::Write;

use scamper_warts::json::{ctime, hex};
use scamper_warts::neighbourdisc::Neighbourdisc;
use scamper_warts::owamp::{self, Owamp};
use scamper_warts::sniff::Sniff;
use scamper_warts::udpprobe::Udpprobe;

use super::{dur, header, named_flags, opt, start_line, tv6};

pub(super) fn neighbourdisc(n: &Neighbourdisc) -> String {
    let mut s = String::from("neighbourdisc\n");
    header(&mut s, &n.list, &n.cycle, n.userid);
    start_line(&mut s, &n.start);
    let m = scamper_warts::code_label(n.method.name(), n.method.0);
    writeln!(
        s,
        " method: {m}, attempts: {}, wait-timeout: {}, replyc: {}, iface: {}",
        n.attempts,
        dur(&n.wait_timeout),
        n.replyc,
        n.ifname.as_deref().unwrap_or("")
    )
    .ok();
    if let Some(m) = &n.src_mac {
        writeln!(s, " our-mac: {m}").ok();
    }
    if n.flags != 0 {
        writeln!(
            s,
            " flags: {}",
            named_flags(u32::from(n.flags), 2, &["all-attempts", "first-response"])
        )
        .ok();
    }
    write!(
        s,
        " query:  who-has {} tell {}",
        opt(&n.dst_ip),
        opt(&n.src_ip)
    )
    .ok();
    if let Some(m) = &n.dst_mac {
        write!(s, " result: {} is-at {m}", opt(&n.dst_ip)).ok();
    }
    s.push('\n');
    if let Some(e) = &n.errmsg {
        writeln!(s, " errmsg: {e}").ok();
    }
    for (i, p) in n.probes.iter().enumerate() {
        writeln!(s, " probe: {i}, tx: {}", tv6(&p.tx)).ok();
        for (j, r) in p.replies.iter().enumerate() {
            writeln!(
                s,
                "  reply: {j}, rtt: {}, mac: {}",
                tv6(&r.rx.sub(&p.tx)),
                opt(&r.mac)
            )
            .ok();
        }
    }
    s + "\n"
}

pub(super) fn owamp(o: &Owamp) -> String {
    let mut s = format!("owamp from {} to {}\n", opt(&o.src), opt(&o.dst));
    header(&mut s, &o.list, &o.cycle, o.userid);
    start_line(&mut s, &o.start);
    writeln!(
        s,
        " startat: {} {:06}",
        ctime(o.startat.sec),
        o.startat.usec
    )
    .ok();
    writeln!(
        s,
        " wait-timeout: {}, attempts: {}, dport: {}, pktsize: {}, dscp: {}, ttl: {}",
        dur(&o.wait_timeout),
        o.attempts,
        o.dport,
        o.pktsize,
        o.dscp,
        o.ttl
    )
    .ok();
    let dir = match o.dir {
        0 => "tx".to_string(),
        1 => "rx".to_string(),
        n => n.to_string(),
    };
    writeln!(
        s,
        " dir: {dir}, udp_sport: {}, udp_dport: {}",
        o.udp_sport, o.udp_dport
    )
    .ok();
    writeln!(s, " hs-rtt: {}", tv6(&o.hsrtt)).ok();
    let result = scamper_warts::code_label(o.result.name(), o.result.0);
    writeln!(s, " result: {result}").ok();
    if let Some(e) = &o.errmsg {
        writeln!(s, " errmsg: {e}").ok();
    }
    writeln!(s, " schedc: {}", o.sched.len()).ok();
    for (i, x) in o.sched.iter().enumerate() {
        let kind = match x.kind {
            0 => "fixed".to_string(),
            1 => "exponential".to_string(),
            n => n.to_string(),
        };
        writeln!(s, "  {i}: {kind}, value: {}", dur(&x.tv)).ok();
    }
    if !o.txs.is_empty() {
        writeln!(s, " txc: {}", o.txs.len()).ok();
    }
    // packet times are shown relative to the scheduled start of the test
    for (i, tx) in o.txs.iter().enumerate() {
        write!(
            s,
            "  {i}: {}, seq: {}, rxc: {}",
            tv6(&tx.stamp.sub(&o.startat)),
            tx.seq,
            tx.rxs.len()
        )
        .ok();
        if tx.flags & owamp::flags::TX_ERREST != 0 {
            write!(s, ", errest: {}", tx.errest).ok();
        }
        if tx.flags & owamp::flags::TX_NOTSENT != 0 {
            s += ", notsent";
        }
        s.push('\n');
        for rx in &tx.rxs {
            write!(s, "    {}", tv6(&rx.stamp.sub(&o.startat))).ok();
            if rx.flags & owamp::flags::RX_TTL != 0 {
                write!(s, ", ttl: {}", rx.ttl).ok();
            }
            if rx.flags & owamp::flags::RX_DSCP != 0 {
                write!(s, ", dscp: {}", rx.dscp).ok();
            }
            if rx.flags & owamp::flags::RX_ERREST != 0 {
                write!(s, ", errest: {}", rx.errest).ok();
            }
            s.push('\n');
        }
    }
    s
}

pub(super) fn udpprobe(u: &Udpprobe) -> String {
    let mut s = format!("udpprobe from {} to {}\n", opt(&u.src), opt(&u.dst));
    header(&mut s, &u.list, &u.cycle, u.userid);
    start_line(&mut s, &u.start);
    writeln!(
        s,
        " wait-timeout: {}, wait-probe: {}, sport: {}, dport: {}",
        dur(&u.wait_timeout),
        dur(&u.wait_probe),
        u.sport,
        u.dport
    )
    .ok();
    if !u.data.is_empty() {
        writeln!(s, " payload: ({}) {}", u.data.len(), hex(&u.data)).ok();
    }
    let stop = scamper_warts::code_label(u.stop.name(), u.stop.0);
    writeln!(
        s,
        " probe-count: {}, probe-sent: {}, stop-reason: {stop}",
        u.probe_count,
        u.probes.len()
    )
    .ok();
    if let Some(e) = &u.errmsg {
        writeln!(s, " errmsg: {e}").ok();
    }
    for (i, p) in u.probes.iter().enumerate() {
        let Some(p) = p else { continue };
        writeln!(
            s,
            "  {} probe: {i}, sport: {}, replyc: {}",
            tv6(&p.tx.sub(&u.start)),
            p.sport,
            p.replies.len()
        )
        .ok();
        for (j, r) in p.replies.iter().enumerate() {
            write!(
                s,
                "  {} reply: {j}, len: {}",
                tv6(&r.rx.sub(&u.start)),
                r.data.len()
            )
            .ok();
            if let Some(n) = &r.ifname {
                write!(s, ", ifname: {n}").ok();
            }
            // payload under the text, aligned after the time column
            writeln!(s, "\n           {}", hex(&r.data)).ok();
        }
    }
    s
}

/// tcpdump-style lines: offset, then 16 bytes as groups of two.
pub(super) fn hexdump(s: &mut String, indent: &str, data: &[u8]) {
    for (k, line) in data.chunks(16).enumerate() {
        write!(s, "{indent}0x{:04x}: ", k * 16).ok();
        for g in line.chunks(2) {
            write!(s, " {}", hex(g)).ok();
        }
        s.push('\n');
    }
}

pub(super) fn sniff(x: &Sniff) -> String {
    let mut s = format!("sniff {}\n", opt(&x.src));
    header(&mut s, &x.list, &x.cycle, x.userid);
    start_line(&mut s, &x.start);
    writeln!(s, " finish: {} {:06}", ctime(x.finish.sec), x.finish.usec).ok();
    writeln!(
        s,
        " limit-pktc: {}, limit-time: {}s, icmp-id {}",
        x.limit_pktc, x.limit_time, x.icmpid
    )
    .ok();
    let stop = scamper_warts::code_label(x.stop_reason.name(), x.stop_reason.0);
    writeln!(s, " result: {stop}, pktc: {}", x.pkts.len()).ok();
    if let Some(e) = &x.errmsg {
        writeln!(s, " errmsg: {e}").ok();
    }
    for (i, p) in x.pkts.iter().enumerate() {
        writeln!(s, "   {i} {}", tv6(&p.tv.sub(&x.start))).ok();
        hexdump(&mut s, "     ", &p.data);
    }
    s
}
