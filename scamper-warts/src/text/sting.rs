//! `sting from ... to ...` text: the parameters and counts, then the probes that found a hole.

use std::fmt::Write;

use crate::sting::{flags, Sting};

pub(crate) fn render(s: &Sting) -> String {
    let addr = |a: &Option<crate::Addr>| a.map(|a| a.to_string()).unwrap_or_default();
    let mut out = format!(
        "sting from {}:{} to {}:{}, {} probes, {}ms mean\n data-ack count {}, holec {}\n",
        addr(&s.src),
        s.sport,
        addr(&s.dst),
        s.dport,
        s.count,
        s.mean,
        s.dataackc,
        s.holec
    );
    if s.holec > 0 {
        // probes are numbered by their position among the data packets sent
        let data = s.pkts.iter().filter(|p| p.flags & flags::DATA != 0);
        for (i, p) in data.enumerate() {
            if p.flags & flags::HOLE != 0 {
                writeln!(out, "  probe {} hole", i + 1).ok();
            }
        }
    }
    out
}
