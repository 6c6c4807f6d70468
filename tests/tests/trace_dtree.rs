//! Doubletree traces on the lab, through one scamper's control socket so that they share its
//! stop sets: a trace towards a second destination stops going forward at a router the first
//! trace found (stop reason GSS) and going backwards at a router in the named local stop set;
//! `lss-clear` empties that set, so the next trace probes back to the first hop; and
//! `-O dtree-noback` does not probe backwards at all. The records are read from warts, which
//! keeps the doubletree attribute (JSON does not render it).

mod common;

use common::control::{serve, Conn};
use common::TempDir;
use scamper_systests::*;
use scamper_warts::trace::{flags, Trace, TraceDtree, TraceStop};
use scamper_warts::{Addr, Record};
use std::io::Read;
use std::net::IpAddr;

/// An attached client (warts format) that runs one command at a time.
struct Client {
    c: Conn,
    /// Every warts byte received so far: later traces decode after the list and cycle
    /// records that came first.
    stream: Vec<u8>,
}

impl Client {
    fn attach(path: &std::path::Path) -> Client {
        let mut c = Conn::open(path);
        c.send("attach");
        assert_eq!(c.line().as_deref(), Some("OK"));
        Client {
            c,
            stream: Vec::new(),
        }
    }

    /// Run `cmd` and wait for its record, so that it has updated the stop sets before the
    /// next command starts.
    fn trace(&mut self, cmd: &str) -> Trace {
        self.c.send(cmd);
        let mut id = None;
        loop {
            let l = self
                .c
                .line()
                .expect("scamper closed the control connection");
            if l == "MORE" {
                continue;
            }
            if let Some(n) = l.strip_prefix("OK id-") {
                id = Some(n.to_string());
                continue;
            }
            let rest = l
                .strip_prefix("DATA ")
                .unwrap_or_else(|| panic!("{cmd}: unexpected {l:?}"));
            let mut w = rest.split(' ');
            let len: usize = w.next().unwrap().parse().unwrap();
            let data_id = w
                .next()
                .and_then(|t| t.strip_prefix("id-"))
                .map(String::from);
            let mut body = vec![0u8; len];
            self.c.r.read_exact(&mut body).unwrap();
            self.stream.extend(uudecode(&body));
            if data_id.is_some() && data_id == id {
                break;
            }
        }
        let recs: Vec<Record> = scamper_warts::WartsReader::new(&self.stream[..])
            .collect::<std::result::Result<_, _>>()
            .expect("valid warts stream");
        match recs.into_iter().last() {
            Some(Record::Trace(t)) => *t,
            other => panic!("{cmd}: last record {other:?}"),
        }
    }
}

/// uudecode (control.md §5) of a DATA body.
fn uudecode(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for line in text.split(|&b| b == b'\n') {
        if line.is_empty() || line[0] == b'`' {
            continue;
        }
        let n = usize::from((line[0] - 32) & 0x3f);
        let vals: Vec<u8> = line[1..]
            .iter()
            .map(|c| c.wrapping_sub(32) & 0x3f)
            .collect();
        let mut bytes = Vec::new();
        for g in vals.chunks_exact(4) {
            bytes.push((g[0] << 2) | (g[1] >> 4));
            bytes.push((g[1] << 4) | (g[2] >> 2));
            bytes.push((g[2] << 6) | g[3]);
        }
        bytes.truncate(n);
        out.extend(bytes);
    }
    out
}

/// The TTLs probed (that got a reply) and the first reply address at each.
fn hops(t: &Trace) -> Vec<(u8, IpAddr)> {
    t.probes
        .iter()
        .filter_map(|p| {
            let a = p.replies.first()?.addr?;
            let ip = match a {
                Addr::V4(v) => IpAddr::V4(v),
                Addr::V6(v) => IpAddr::V6(v),
                _ => return None,
            };
            Some((p.ttl, ip))
        })
        .collect()
}

#[test]
fn traces_share_stop_sets_and_lss_clear_resets_the_local_one() {
    if !Lab::require_root() {
        return;
    }
    // vp - r1 - r2 - r3 - r4 - tgt: the target and its AnyIP addresses share every router.
    let lab = Lab::build(LabSpec {
        routers: 4,
        ..LabSpec::single_path()
    })
    .unwrap();
    let dir = TempDir::new("dtree");
    let srv = serve(&lab, &dir, &["-p", "1000"]);
    let mut client = Client::attach(&srv.sock);
    for (fam, target, lss) in [
        (Family::V4, IpAddr::from(TARGET_V4), "vp4"),
        (Family::V6, IpAddr::from(TARGET_V6), "vp6"),
    ] {
        let r = |i: u8| lab.addr(Role::Router(i), fam);
        let dst = |n: u32| anyip_addr(fam, n);
        let dt = "trace -q 1 -w 1";

        // Nothing known yet: forward from TTL 3 to the target, then backwards to TTL 1.
        let t = client.trace(&format!("{dt} -f 3 -Z {lss} {target}"));
        assert_eq!(t.stop_reason, TraceStop::COMPLETED, "{fam:?} {t:?}");
        assert_eq!(
            hops(&t),
            [(1, r(1)), (2, r(2)), (3, r(3)), (4, r(4)), (5, target)],
            "{fam:?}"
        );
        assert_eq!((t.firsthop, t.flags), (1, flags::DOUBLETREE));
        assert_eq!(
            t.dtree,
            Some(TraceDtree {
                firsthop: 3,
                lss_name: Some(lss.to_string()),
                ..TraceDtree::default()
            })
        );

        // Another destination: r3 is in the global stop set, r2 in the local one.
        let t = client.trace(&format!("{dt} -f 3 -Z {lss} {}", dst(1)));
        assert_eq!((t.stop_reason, t.firsthop), (TraceStop::GSS, 2), "{fam:?}");
        assert_eq!(hops(&t), [(2, r(2)), (3, r(3))], "{fam:?}");
        assert_eq!(t.probec, 2);
        let d = t.dtree.unwrap();
        assert_eq!(
            (d.gss_stop, d.lss_stop, d.firsthop),
            (Some(Addr::from(r(3))), Some(Addr::from(r(2))), 3)
        );

        // lss-clear over a second (interactive) connection empties the local stop set.
        let mut ctl = Conn::open(&srv.sock);
        ctl.send(&format!("lss-clear {lss}"));
        assert_eq!(ctl.line(), Some(format!("OK lss-clear {lss}")));
        let t = client.trace(&format!("{dt} -f 3 -Z {lss} {}", dst(2)));
        assert_eq!((t.stop_reason, t.firsthop), (TraceStop::GSS, 1), "{fam:?}");
        assert_eq!(hops(&t), [(1, r(1)), (2, r(2)), (3, r(3))], "{fam:?}");
        assert_eq!(t.dtree.unwrap().lss_stop, None);

        // No backwards probing with -O dtree-noback.
        let t = client.trace(&format!("{dt} -f 2 -O dtree-noback {}", dst(3)));
        assert_eq!((t.stop_reason, t.firsthop), (TraceStop::GSS, 2), "{fam:?}");
        assert_eq!(hops(&t), [(2, r(2)), (3, r(3))], "{fam:?}");
        assert_eq!(t.dtree.unwrap().flags, 0x01);
    }
}
