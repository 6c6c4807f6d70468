//! Tbit JSON (json.md section 8). The packet list needs the ISNs learnt from the SYNs, so it is
//! rendered after they are known; it is printed last.

use std::fmt::Write;

use super::fmt::{esc, hex};
use crate::tbit::*;

/// Set bits in increasing order, quoted name when defined, else the bit's numeric value.
fn bits(v: u32, nbits: u32, names: &[&str]) -> String {
    let items: Vec<String> = (0..nbits)
        .filter(|b| v & (1 << b) != 0)
        .map(|b| match names.get(b as usize) {
            Some(n) => format!("\"{n}\""),
            None => (1u32 << b).to_string(),
        })
        .collect();
    format!("[{}]", items.join(","))
}

pub(crate) fn render(t: &Tbit) -> String {
    let ty = crate::code_label(t.kind.name(), t.kind.0);
    let result = crate::code_label(t.result.name(), t.result.0);
    let addr = |a: &Option<crate::Addr>| a.map(|a| a.to_string()).unwrap_or_default();
    let mut s = format!(
        "{{\"type\":\"tbit\", \"tbit_type\":\"{ty}\", \"userid\":{}, \"src\":\"{}\", \"dst\":\"{}\", \"sport\":{}, \"dport\":{}, \"start\":{{\"sec\":{},\"usec\":{}}}, \"client_mss\":{}, \"server_mss\":{}, \"ttl\":{}, \"result\":\"{result}\"",
        t.userid,
        addr(&t.src),
        addr(&t.dst),
        t.sport,
        t.dport,
        t.start.sec,
        t.start.usec,
        t.client_mss,
        t.server_mss,
        t.client_ipttl
    );
    if t.options != 0 {
        write!(
            s,
            ", \"options\":{}",
            bits(t.options, 16, &["tcpts", "sack"])
        )
        .ok();
    }
    if let Some(e) = &t.errmsg {
        write!(s, ",\"errmsg\":\"{}\"", esc(e)).ok();
    }
    if t.client_wscale > 0 {
        write!(s, ", \"wscale\":{}", t.client_wscale).ok();
    }
    if !t.fo_cookie.is_empty() {
        write!(s, ", \"fo_cookie\":\"{}\"", hex(&t.fo_cookie)).ok();
    }
    let (cisn, sisn) = t.isns();
    if let Some(c) = cisn {
        write!(s, ", \"client_isn\":{c}").ok();
    }
    if let Some(c) = sisn {
        write!(s, ", \"server_isn\":{c}").ok();
    }
    match &t.type_data {
        Some(TbitTypeData::Pmtud {
            mtu,
            ptb_retx,
            options,
            ptbsrc,
        }) if t.kind == TbitType::PMTUD => {
            write!(s, ", \"mtu\":{mtu}, \"ptb_retx\":{ptb_retx}").ok();
            if let Some(a) = ptbsrc {
                write!(s, ", \"ptbsrc\":\"{a}\"").ok();
            }
            write!(
                s,
                ", \"pmtud_options\":{}",
                bits(u32::from(*options), 8, &["blackhole"])
            )
            .ok();
        }
        Some(TbitTypeData::Null { options, results }) if t.kind == TbitType::NULL => {
            const OPTS: [&str; 7] = [
                "tcpts", "ipts-syn", "iprr-syn", "ipqs-syn", "sack", "fo", "fo-exp",
            ];
            write!(
                s,
                ", \"null_options\":{}, \"null_results\":{}",
                bits(u32::from(*options), 16, &OPTS),
                bits(u32::from(*results), 16, &["tcpts-ok", "sack-ok", "fo-ok"])
            )
            .ok();
        }
        _ if t.kind == TbitType::ICW => {
            if let Some(n) = t.server_icw_size() {
                write!(s, ", \"icw_bytes\":{n}").ok();
            }
        }
        Some(TbitTypeData::Blind { off, retx }) if t.kind.is_blind() => {
            write!(s, ", \"blind_off\":{off}, \"blind_retx\":{retx}").ok();
        }
        _ => {}
    }
    match &t.app {
        Some(TbitApp::Http { host, file, kind }) if t.app_proto == 1 => {
            s += ", \"app\":\"http\"";
            if let Some(h) = host {
                let scheme = if *kind == 1 { "https" } else { "http" };
                write!(
                    s,
                    ", \"http_url\":\"{scheme}://{h}{}\"",
                    file.as_deref().unwrap_or("")
                )
                .ok();
            }
        }
        Some(TbitApp::Bgp { asn }) if t.app_proto == 5 => {
            write!(s, ", \"app\":\"bgp\", \"bgp_asn\":{asn}").ok();
        }
        _ => {}
    }
    if let Some(m) = t.list.as_ref().and_then(|l| l.monitor.as_ref()) {
        write!(s, ",\"monitor\":\"{}\"", esc(m)).ok();
    }
    let isns = (cisn.unwrap_or(0), sisn.unwrap_or(0));
    let pkts: Vec<String> = t.pkts.iter().map(|p| pkt(t, p, isns)).collect();
    write!(s, ", \"pkts\":[{}]}}", pkts.join(", ")).ok();
    s
}

fn pkt(t: &Tbit, p: &TbitPkt, isns: (u32, u32)) -> String {
    let dir = match p.dir {
        1 => "\"tx\"".to_string(),
        2 => "\"rx\"".to_string(),
        n => n.to_string(),
    };
    let tv = p.tv.sub(&t.start);
    let mut s = format!(
        "{{\"dir\":{dir}, \"tv_sec\":{}, \"tv_usec\":{}, \"len\":{}",
        tv.sec,
        tv.usec,
        p.data.len()
    );
    if let Some(h) = parse_pkt(&p.data) {
        write!(
            s,
            ", \"ip_hlen\":{}, \"ip_ecn\":{}, \"ip_ttl\":{}",
            h.ip_hlen, h.ecn, h.ttl
        )
        .ok();
        if let Some((id, off, mf)) = h.frag {
            write!(
                s,
                ", \"frag_id\":{id}, \"frag_off\":{off}, \"frag_mf\":{}",
                u8::from(mf)
            )
            .ok();
        }
        if h.ip_version == 4 {
            // the C tool extracts DF with a wrong shift, so it is always 0
            s += ", \"frag_df\":0";
        }
        if let Some(tcp) = &h.tcp {
            let flags: Vec<String> = (0..8)
                .filter(|b| tcp.flags & (1 << b) != 0)
                .map(|b| format!("\"{}\"", TCP_FLAG_NAMES[b]))
                .collect();
            // SACK edges are relative to the other side's ISN
            let sack_base = if p.dir == 1 { isns.1 } else { isns.0 };
            write!(
                s,
                ", \"tcp_hlen\":{}, \"tcp_flags\":[{}], \"tcp_options\":[{}]",
                tcp.hlen,
                flags.join(","),
                tcp_options(tcp.options, sack_base)
            )
            .ok();
            let (seq, ack) = t.relative_seq_ack(p.dir, tcp, isns);
            write!(s, ", \"tcp_seq\":{seq}").ok();
            if tcp.flags & TH_ACK != 0 {
                write!(s, ", \"tcp_ack\":{ack}").ok();
            }
            write!(
                s,
                ", \"tcp_datalen\":{}, \"tcp_win\":{}",
                tcp.datalen(&h),
                tcp.win
            )
            .ok();
        }
    }
    s.push('}');
    s
}

/// The option objects, with the C tool's separators (`", "` before eol, nop, fo and fo-exp,
/// `","` before the others) and its unclosed cookie-less fo / fo-exp objects.
fn tcp_options(o: &[u8], sack_base: u32) -> String {
    let mut s = String::new();
    let mut i = 0;
    let sep = |s: &mut String, wide: bool| {
        if !s.is_empty() {
            *s += if wide { ", " } else { "," };
        }
    };
    let be32 = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    while i < o.len() {
        match o[i] {
            0 => {
                sep(&mut s, true);
                s += "{\"kind\":\"eol\"}";
                break;
            }
            1 => {
                sep(&mut s, true);
                s += "{\"kind\":\"nop\"}";
                i += 1;
                continue;
            }
            _ => {}
        }
        let Some(&len) = o.get(i + 1) else { break };
        let len = usize::from(len);
        if len == 0 || i + len > o.len() {
            break;
        }
        let body = &o[i + 2.min(len)..i + len];
        match (o[i], len) {
            (3, 3) => {
                sep(&mut s, false);
                write!(s, "{{\"kind\":\"wscale\", \"shift\":{}}}", body[0]).ok();
            }
            (4, 2) => {
                sep(&mut s, false);
                s += "{\"kind\":\"sack-ok\"}";
            }
            (5, 10 | 18 | 26 | 34) => {
                sep(&mut s, false);
                let blocks: Vec<String> = body
                    .chunks_exact(8)
                    .map(|b| {
                        format!(
                            "{{\"left\":{}, \"right\":{}}}",
                            be32(&b[..4]).wrapping_sub(sack_base),
                            be32(&b[4..]).wrapping_sub(sack_base)
                        )
                    })
                    .collect();
                write!(
                    s,
                    "{{\"kind\":\"sack\", \"blocks\":[{}]}}",
                    blocks.join(",")
                )
                .ok();
            }
            (8, 10) => {
                sep(&mut s, false);
                write!(
                    s,
                    "{{\"kind\":\"ts\", \"val\":{}, \"ecr\":{}}}",
                    be32(&body[..4]),
                    be32(&body[4..])
                )
                .ok();
            }
            (34, _) => {
                sep(&mut s, true);
                s += "{\"kind\":\"fo\"";
                if len > 2 {
                    write!(s, ", \"cookie\":\"{}\"}}", hex(body)).ok();
                }
            }
            (254, 4..) if body[..2] == [0xf9, 0x89] => {
                sep(&mut s, true);
                s += "{\"kind\":\"fo-exp\"";
                if len > 4 {
                    write!(s, ", \"cookie\":\"{}\"}}", hex(&body[2..])).ok();
                }
            }
            _ => {}
        }
        i += len;
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_use_the_c_separators_and_quirks() {
        let o = [1, 1, 8, 10, 0, 0, 0, 5, 0, 0, 0, 6, 3, 3, 7, 4, 2, 34, 2, 0];
        assert_eq!(
            tcp_options(&o, 0),
            "{\"kind\":\"nop\"}, {\"kind\":\"nop\"},{\"kind\":\"ts\", \"val\":5, \"ecr\":6},{\"kind\":\"wscale\", \"shift\":7},{\"kind\":\"sack-ok\"}, {\"kind\":\"fo\", {\"kind\":\"eol\"}"
        );
        let sack = [5, 10, 0, 0, 1, 0, 0, 0, 1, 10];
        assert_eq!(
            tcp_options(&sack, 250),
            "{\"kind\":\"sack\", \"blocks\":[{\"left\":6, \"right\":16}]}"
        );
        // a length running past the header ends the walk
        assert_eq!(tcp_options(&[8, 10, 0], 0), "");
    }
}
