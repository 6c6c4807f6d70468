//! `tbit from ... to ...` text: the result, the application, then one line per recorded
//! IPv4/IPv6 packet with its time since the start, direction, TCP flags, length, sequence
//! numbers relative to the ISNs seen so far, SACK blocks, IP-ID / fragment and ECN marks.
//!
//! The C writer reads packet bytes without bounds checks; here bytes past the end of a
//! (malformed) packet read as zero.

use super::cbuf::{into_string, CBuf};
use crate::tbit::{Tbit, TbitApp, TbitPkt};

/// Size of the C writer's buffer: the whole text is cut to it.
const TEXT_BUF: usize = 131_072;

const DIR_TX: u8 = 1;

/// A packet's bytes, zero past the end.
struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn u8(&self, i: usize) -> u8 {
        self.0.get(i).copied().unwrap_or(0)
    }
    fn u16(&self, i: usize) -> u16 {
        u16::from_be_bytes([self.u8(i), self.u8(i + 1)])
    }
    fn u32(&self, i: usize) -> u32 {
        u32::from_be_bytes([self.u8(i), self.u8(i + 1), self.u8(i + 2), self.u8(i + 3)])
    }
}

/// What the IP header walk found.
struct IpInfo {
    hlen: usize,
    len: u16,
    proto: u8,
    ecn: u8,
    /// IPv4 ` %04x` IP-ID, or IPv6 `%x` fragment id; empty without one.
    ipid: String,
    frag: bool,
    mf: bool,
    /// Fragment offset in bytes.
    off: u32,
}

fn ip_info(d: &Bytes<'_>) -> Option<IpInfo> {
    match d.u8(0) >> 4 {
        4 => {
            let fo = d.u16(6);
            let mf = d.u8(6) & 0x20 != 0;
            let off = u32::from(fo & 0x1fff) * 8;
            Some(IpInfo {
                hlen: usize::from(d.u8(0) & 0xf) * 4,
                len: d.u16(2),
                proto: d.u8(9),
                ecn: d.u8(1) & 3,
                ipid: format!(" {:04x}", d.u16(4)),
                frag: mf || off != 0,
                mf,
                off,
            })
        }
        6 => {
            let mut ip = IpInfo {
                hlen: 40,
                len: d.u16(4).wrapping_add(40),
                proto: d.u8(6),
                ecn: (d.u8(1) & 0x30) >> 4,
                ipid: String::new(),
                frag: false,
                mf: false,
                off: 0,
            };
            // the walk keeps the header length below 256; a zero-length extension header
            // or one that would pass that ends it with the extension as the protocol
            loop {
                match ip.proto {
                    0 | 43 | 60 => {
                        let ext = usize::from(d.u8(ip.hlen + 1));
                        if ext == 0 || 255 - ip.hlen <= ext * 8 + 8 {
                            break;
                        }
                        ip.proto = d.u8(ip.hlen);
                        ip.hlen += ext * 8 + 8;
                    }
                    44 => {
                        if 255 - ip.hlen <= 8 {
                            break;
                        }
                        // a later fragment header can set MF but never clears it
                        if d.u8(ip.hlen + 3) & 1 != 0 {
                            ip.mf = true;
                        }
                        ip.ipid = format!("{:x}", d.u32(ip.hlen + 4));
                        ip.off = u32::from(d.u16(ip.hlen + 2) & 0xfff8);
                        ip.proto = d.u8(ip.hlen);
                        ip.hlen += 8;
                        ip.frag = true;
                    }
                    _ => break,
                }
            }
            Some(ip)
        }
        _ => None,
    }
}

pub(crate) fn render(t: &Tbit) -> String {
    let mut b = CBuf::new(TEXT_BUF);
    let addr = |a: &Option<crate::Addr>| a.map(|a| a.to_string()).unwrap_or_default();
    let result = crate::code_label(t.result.name(), t.result.0);
    b.pushf(format_args!(
        "tbit from {} to {}\n server-mss {}, result: {result}\n",
        addr(&t.src),
        addr(&t.dst),
        t.server_mss
    ));
    if let (1, Some(TbitApp::Http { host, file, kind })) = (t.app_proto, &t.app) {
        b.push(" app: http");
        let scheme = if *kind == 1 { "https" } else { "http" };
        match (host, file) {
            (Some(h), Some(f)) => b.pushf(format_args!(", url: {scheme}://{h}{f}")),
            (Some(h), None) => b.pushf(format_args!(", url: {scheme}://{h}")),
            (None, f) => {
                b.push(", file: ");
                b.push(f.as_deref().unwrap_or(""));
            }
        }
        b.push("\n");
    }
    let (mut client_isn, mut server_isn) = (0u32, 0u32);
    for p in &t.pkts {
        pkt_line(&mut b, t, p, &mut client_isn, &mut server_isn);
    }
    // the C writer emits `offset` bytes with the last one replaced by the newline
    let mut out = b.through_offset();
    if let Some(last) = out.last_mut() {
        *last = b'\n';
    }
    into_string(out)
}

fn pkt_line(b: &mut CBuf, t: &Tbit, p: &TbitPkt, client_isn: &mut u32, server_isn: &mut u32) {
    let d = Bytes(&p.data);
    let Some(ip) = ip_info(&d) else { return };
    let (sec, usec) = since(&t.start, &p.tv);
    b.pushf(format_args!(
        " [{:3}.{:03}] {} ",
        sec,
        usec / 1000,
        if p.dir == DIR_TX { "TX" } else { "RX" }
    ));
    let fstr = if ip.frag {
        format!(":{}{}", ip.off, if ip.mf { " MF" } else { "" })
    } else {
        String::new()
    };
    let h = ip.hlen;
    if ip.off != 0 {
        b.pushf(format_args!(
            "{:<13} {:4}F{:22} {}{}",
            "", ip.len, "", ip.ipid, fstr
        ));
    } else if ip.proto == 6 {
        let mut seq = d.u32(h + 4);
        let mut ack = d.u32(h + 8);
        let flags = d.u8(h + 13);
        let tcphlen = usize::from(d.u8(h + 12) >> 4) * 4;

        let mut tf = CBuf::new(32);
        if flags & 0x02 != 0 {
            if flags & 0x10 != 0 {
                *server_isn = seq;
                tf.push("SYN/ACK");
            } else {
                *client_isn = seq;
                tf.push("SYN");
            }
        } else if flags & 0x01 != 0 {
            tf.push("FIN");
        } else if flags & 0x04 != 0 {
            tf.push("RST");
        }
        for (bit, name) in [(0x40, "ECE"), (0x80, "CWR")] {
            if flags & bit != 0 {
                if !tf.as_bytes().is_empty() {
                    tf.push("/");
                }
                tf.push(name);
            }
        }

        let sack = sack_text(
            &d,
            h,
            tcphlen,
            if p.dir == DIR_TX {
                *server_isn
            } else {
                *client_isn
            },
        );

        if p.dir == DIR_TX {
            seq = seq.wrapping_sub(*client_isn);
            ack = ack.wrapping_sub(*server_isn);
        } else {
            seq = seq.wrapping_sub(*server_isn);
            ack = ack.wrapping_sub(*client_isn);
        }
        // 16-bit arithmetic, as the C tool's
        let datalen = ip.len.wrapping_sub(h as u16).wrapping_sub(tcphlen as u16);

        b.pushf(format_args!(
            "{:<13} {:4}{}",
            into_string(tf.as_bytes().to_vec()),
            ip.len,
            if ip.frag { "F" } else { " " }
        ));
        let mut tmp = CBuf::new(256);
        tmp.pushf(format_args!(" seq = {seq}:{ack}"));
        if datalen != 0 {
            tmp.pushf(format_args!("({datalen})"));
        }
        tmp.push(&sack);
        b.pushf(format_args!(
            "{:<23}{}",
            into_string(tmp.as_bytes().to_vec()),
            ip.ipid
        ));
        if ip.frag {
            b.push(&fstr);
        }
        if datalen > 0 && d.u8(0) >> 4 == 4 && d.u8(6) & 0x40 != 0 {
            b.push(" DF");
        }
        if ip.ecn == 3 {
            b.push(" CE");
        } else if ip.ecn != 0 {
            b.push(" ECT");
        }
    } else if ip.proto == 1 {
        if d.u8(h) == 3 && d.u8(h + 1) == 4 {
            b.pushf(format_args!(
                "{:<13} {:4}  mtu = {}",
                "PTB",
                ip.len,
                d.u16(h + 6)
            ));
        }
    } else if ip.proto == 58 && d.u8(h) == 2 {
        // printed with %d: a next-hop MTU above 2^31 shows negative
        b.pushf(format_args!(
            "{:<13} {:4}  mtu = {}",
            "PTB",
            ip.len,
            d.u32(h + 4) as i32
        ));
    }
    b.push("\n");
}

/// `to - from` as seconds and microseconds the way C subtracts timevals (the microseconds
/// borrow once), with the seconds cut to an `int` for printing.
fn since(from: &crate::Timeval, to: &crate::Timeval) -> (i32, i64) {
    let mut sec = i64::from(to.sec) - i64::from(from.sec);
    let mut usec = i64::from(to.usec) - i64::from(from.usec);
    if usec < 0 {
        sec -= 1;
        usec += 1_000_000;
    }
    (sec as i32, usec)
}

/// The SACK blocks of the TCP options (` {l:r,l:r}` per SACK option), relative to `base`.
fn sack_text(d: &Bytes<'_>, h: usize, tcphlen: usize, base: u32) -> String {
    let mut s = CBuf::new(128);
    let mut i = 20;
    while i < tcphlen {
        let (kind, len) = (d.u8(h + i), usize::from(d.u8(h + i + 1)));
        if kind == 0 {
            break;
        }
        if kind == 1 {
            i += 1;
            continue;
        }
        if len == 0 || i + len > tcphlen {
            break;
        }
        if kind == 5 && matches!(len, 10 | 18 | 26 | 34) {
            s.push(" {");
            for k in 0..(len - 2) / 8 {
                let at = h + i + 2 + k * 8;
                s.pushf(format_args!(
                    "{}{}:{}",
                    if k != 0 { "," } else { "" },
                    d.u32(at).wrapping_sub(base),
                    d.u32(at + 4).wrapping_sub(base)
                ));
            }
            s.push("}");
        }
        i += len;
    }
    into_string(s.as_bytes().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_odd_packets_do_not_panic() {
        let mut t = Tbit::default();
        for data in [
            vec![0x45],
            vec![0x60, 0, 0, 0, 0, 0, 0],
            vec![0x60, 0, 0, 0, 0, 8, 44, 64],
            vec![0x4f; 3],
            vec![0x00],
            vec![0x60; 300],
        ] {
            t.pkts.push(TbitPkt {
                dir: 2,
                tv: Default::default(),
                data,
            });
        }
        let s = render(&t);
        assert!(s.starts_with("tbit from  to \n server-mss 0, result: none\n"));
        assert_eq!(s.lines().count(), 2 + 5, "{s}");
    }
}
