//! Writes a warts file of synthetic ping measurements for the sc_warts2json benchmark
//! (bench/warts2json.sh): one list, a cycle start, N pings of 1–4 probes (ICMP echo, UDP or
//! TCP), each probe answered once (sometimes twice, as duplicates), and a cycle stop.
//!
//!     cargo run --release -p scamper-tools --example gen_pings -- out.warts [count]
//!
//! The content is deterministic (a fixed-seed xorshift generator) so runs are comparable.

use std::io::BufWriter;
use std::net::Ipv4Addr;
use std::process::ExitCode;
use std::sync::Arc;

use scamper_warts::ping::{reply_flags, Ping, PingMethod, PingProbe, PingReply, PingStop};
use scamper_warts::{Addr, Cycle, List, Record, Timeval, WartsWriter};

/// xorshift64*: enough variety for addresses and RTTs, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn ping(rng: &mut Rng, i: u32, start: u32, cycle: &Arc<Cycle>) -> Ping {
    let dst = Ipv4Addr::from(0xc612_0000 + i); // 198.18.0.0/15, like the ping benchmark
    let method = match rng.below(10) {
        0 => PingMethod::UDP,
        1 => PingMethod::TCP_SYN,
        _ => PingMethod::ICMP_ECHO,
    };
    let count = 1 + rng.below(4) as u16;
    let t0 = Timeval::new(start + i / 1000, (i % 1000) * 1000);
    let mut p = Ping {
        list: Some(cycle.list.clone()),
        cycle: Some(cycle.clone()),
        src: Some(Addr::V4(Ipv4Addr::new(192, 0, 2, 1))),
        dst: Some(Addr::V4(dst)),
        start: t0,
        stop_reason: PingStop::DONE,
        probe_count: count,
        probe_size: 84,
        method,
        probe_ttl: 64,
        probe_sport: 0x8000 | (i as u16 & 0x7fff),
        probe_dport: if method == PingMethod::ICMP_ECHO {
            0
        } else {
            33435
        },
        wait_probe: Timeval::new(1, 0),
        wait_timeout: Timeval::new(5, 0),
        ..Default::default()
    };
    // UDP probes are answered with ICMP port unreachable, TCP SYNs with SYN/ACK
    let proto = if method == PingMethod::TCP_SYN { 6 } else { 1 };
    for k in 0..count {
        let rtt_us = 5_000 + rng.below(200_000) as u32;
        let nreplies = if rng.below(20) == 0 { 2 } else { 1 };
        let replies = (0..nreplies)
            .map(|d| PingReply {
                addr: Some(Addr::V4(dst)),
                flags: reply_flags::REPLY_TTL | reply_flags::REPLY_IPID,
                reply_ttl: 50 + rng.below(10) as u8,
                reply_size: if proto == 6 { 40 } else { 84 },
                reply_proto: proto,
                reply_ipid: rng.below(65536) as u32,
                icmp_type: if method == PingMethod::UDP { 3 } else { 0 },
                icmp_code: if method == PingMethod::UDP { 3 } else { 0 },
                tcp_flags: if proto == 6 { 0x12 } else { 0 },
                rtt: Timeval::from_usec32(rtt_us + d * 300),
                ..Default::default()
            })
            .collect();
        p.probes.push(Some(PingProbe {
            tx: t0.add(&Timeval::new(u32::from(k), 0)),
            replies,
            ..Default::default()
        }));
    }
    p.ping_sent = count;
    p
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(path) = args.first() else {
        eprintln!("usage: gen_pings <out.warts> [count]");
        return ExitCode::from(1);
    };
    let n: u32 = args.get(1).and_then(|v| v.parse().ok()).unwrap_or(50_000);
    let start = 1_795_402_761;
    let list = Arc::new(List {
        id: 1,
        name: "bench".into(),
        descr: Some("gen_pings".into()),
        monitor: None,
    });
    let cycle = Arc::new(Cycle {
        list: list.clone(),
        id: 1,
        start_time: start,
        stop_time: 0,
        hostname: Some("bench".into()),
    });
    let f = match std::fs::File::create(path) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("{path}: {e}");
            return ExitCode::from(1);
        }
    };
    let mut w = WartsWriter::new(BufWriter::new(f));
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut recs = vec![Record::List(list), Record::CycleStart(cycle.clone())];
    recs.extend((0..n).map(|i| Record::Ping(Box::new(ping(&mut rng, i, start, &cycle)))));
    recs.push(Record::CycleStop(Arc::new(Cycle {
        stop_time: start + n / 1000 + 10,
        ..(*cycle).clone()
    })));
    for r in &recs {
        if let Err(e) = w.write(r) {
            eprintln!("{path}: {e}");
            return ExitCode::from(1);
        }
    }
    match w.into_inner().into_inner() {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{path}: {e}");
            ExitCode::from(1)
        }
    }
}
