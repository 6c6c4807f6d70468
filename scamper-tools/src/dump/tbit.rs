//! sc_wartsdump text of tbit and sting objects (both are TCP tests with a packet list).

use std::fmt::Write;

use scamper_warts::json::hex;
use scamper_warts::sting::Sting;
use scamper_warts::tbit::*;
use scamper_warts::Timeval;

use super::{dur, header, opt, start_line, tv6};

/// One packet line: ` [  0.051] RX SYN/ACK         44  0:1             0002` — time since
/// the start in milliseconds, direction, TCP flags, length, relative seq[:ack], IPv4 IP-ID.
fn pkt_line(
    s: &mut String,
    t: Option<&Tbit>,
    isns: (u32, u32),
    dir: u8,
    tv: &Timeval,
    data: &[u8],
) {
    let dirs = match dir {
        1 => "TX".to_string(),
        2 => "RX".to_string(),
        n => n.to_string(),
    };
    let h = parse_pkt(data);
    let (mut flags, mut seq) = (String::new(), String::new());
    if let Some(tcp) = h.as_ref().and_then(|h| h.tcp.as_ref()) {
        let v: Vec<String> = (0..8)
            .filter(|b| tcp.flags & (1 << b) != 0)
            .map(|b| TCP_FLAG_NAMES[b].to_ascii_uppercase())
            .collect();
        flags = v.join("/");
        let (sq, ack) = match t {
            Some(t) => t.relative_seq_ack(dir, tcp, isns),
            None => (tcp.seq, tcp.ack),
        };
        seq = sq.to_string();
        if tcp.flags & TH_ACK != 0 {
            write!(seq, ":{ack}").ok();
        }
    }
    write!(
        s,
        " [{:3}.{:03}] {dirs} {flags:<13} {:4}  {seq:<15}",
        tv.sec,
        tv.usec / 1000,
        data.len()
    )
    .ok();
    match h.and_then(|h| h.frag.filter(|_| h.ip_version == 4)) {
        Some((id, _, _)) => writeln!(s, " {id:04x}").ok(),
        None => writeln!(s).ok(),
    };
}

pub(super) fn dump(t: &Tbit) -> String {
    let mut s = format!("tbit from {} to {}\n", opt(&t.src), opt(&t.dst));
    header(&mut s, &t.list, &t.cycle, t.userid);
    start_line(&mut s, &t.start);
    writeln!(s, " sport: {}, dport: {}", t.sport, t.dport).ok();
    write!(
        s,
        " client-mss: {}, server-mss: {}, ttl: {}",
        t.client_mss, t.server_mss, t.client_ipttl
    )
    .ok();
    if t.client_wscale != 0 {
        write!(s, ", wscale: {}", t.client_wscale).ok();
    }
    s.push('\n');
    let ty = scamper_warts::code_label(t.kind.name(), t.kind.0);
    let result = scamper_warts::code_label(t.result.name(), t.result.0);
    writeln!(s, " type: {ty}, result: {result}").ok();
    if let Some(e) = &t.errmsg {
        writeln!(s, " errmsg: {e}").ok();
    }
    if t.options != 0 {
        writeln!(s, " options: {}", bit_names(t.options, &["tcpts", "sack"])).ok();
    }
    if !t.fo_cookie.is_empty() {
        writeln!(s, " fo-cookie: {}", hex(&t.fo_cookie)).ok();
    }
    match &t.type_data {
        Some(TbitTypeData::Pmtud {
            mtu,
            ptb_retx,
            options,
            ptbsrc,
        }) => {
            write!(s, " mtu: {mtu}, ptb-retx: {ptb_retx}").ok();
            if let Some(a) = ptbsrc {
                write!(s, ", ptb-src: {a}").ok();
            }
            if options & 1 != 0 {
                s += ", blackhole";
            }
            s.push('\n');
        }
        Some(TbitTypeData::Null { options, results }) => {
            const OPTS: [&str; 7] = [
                "tcpts", "ipts-syn", "iprr-syn", "ipqs-syn", "sack", "fo", "fo-exp",
            ];
            writeln!(
                s,
                " null-options: {}, null-results: {}",
                bit_names(u32::from(*options), &OPTS),
                bit_names(u32::from(*results), &["tcpts-ok", "sack-ok", "fo-ok"])
            )
            .ok();
        }
        Some(TbitTypeData::Icw { start_seq }) => {
            writeln!(s, " start-seq: {start_seq}").ok();
        }
        Some(TbitTypeData::Blind { off, retx }) => {
            writeln!(s, " off: {off}, retx: {retx}").ok();
        }
        None => {}
    }
    match &t.app {
        Some(TbitApp::Http { host, file, kind }) => {
            let scheme = if *kind == 1 { "https" } else { "http" };
            writeln!(
                s,
                " app: http, url: {scheme}://{}{}",
                host.as_deref().unwrap_or(""),
                file.as_deref().unwrap_or("")
            )
            .ok();
        }
        Some(TbitApp::Bgp { asn }) => {
            writeln!(s, " app: bgp, asn: {asn}").ok();
        }
        None => {}
    }
    let (c, sv) = t.isns();
    let isns = (c.unwrap_or(0), sv.unwrap_or(0));
    for p in &t.pkts {
        pkt_line(&mut s, Some(t), isns, p.dir, &p.tv.sub(&t.start), &p.data);
    }
    s + "\n"
}

/// Names of the set bits, space separated (the numeric bit value when unnamed).
fn bit_names(v: u32, names: &[&str]) -> String {
    let items: Vec<String> = (0..32)
        .filter(|b| v & (1 << b) != 0)
        .map(|b| {
            names
                .get(b as usize)
                .map_or_else(|| (1u32 << b).to_string(), |n| n.to_string())
        })
        .collect();
    items.join(" ")
}

pub(super) fn sting(x: &Sting) -> String {
    let mut s = format!("sting from {} to {}\n", opt(&x.src), opt(&x.dst));
    header(&mut s, &x.list, &x.cycle, x.userid);
    start_line(&mut s, &x.start);
    writeln!(s, " sport: {}, dport: {}", x.sport, x.dport).ok();
    let ms = |v: u16| {
        dur(&Timeval::new(
            u32::from(v) / 1000,
            u32::from(v) % 1000 * 1000,
        ))
    };
    writeln!(
        s,
        " count: {}, mean: {}, inter: {}, seqskip {}",
        x.count,
        ms(x.mean),
        ms(x.inter),
        x.seqskip
    )
    .ok();
    writeln!(s, " synretx: {}, dataretx: {}", x.synretx, x.dataretx).ok();
    writeln!(s, " dataackc: {}, holec: {}", x.dataackc, x.holec).ok();
    if !x.data.is_empty() {
        writeln!(s, " payload: ({}) {}", x.data.len(), hex(&x.data)).ok();
    }
    writeln!(s, " hs-rtt: {}", tv6(&x.hsrtt)).ok();
    let result = match x.result {
        0 => "none".to_string(),
        1 => "completed".to_string(),
        2 => "error".to_string(),
        n => n.to_string(),
    };
    writeln!(s, " result: {result}").ok();
    for p in &x.pkts {
        // sting packet flags carry the direction in their low two bits (0x01 tx, 0x02 rx)
        pkt_line(
            &mut s,
            None,
            (0, 0),
            p.flags & 3,
            &p.tv.sub(&x.start),
            &p.data,
        );
    }
    s
}
