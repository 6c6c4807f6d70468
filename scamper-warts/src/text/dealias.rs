//! Dealias text: scamper prints one line for an ally measurement (`<a> <b> <result>`) and
//! nothing for the other methods.

use crate::dealias::{Dealias, DealiasMethod};

pub(crate) fn render(d: &Dealias) -> Option<String> {
    if d.method != DealiasMethod::ALLY {
        return None;
    }
    let [a, b, ..] = d.probedefs.as_slice() else {
        return None;
    };
    let addr =
        |p: &crate::dealias::DealiasProbedef| p.dst.map(|a| a.to_string()).unwrap_or_default();
    let result = match d.result.0 {
        0 => "none".to_string(),
        1 => "aliases".to_string(),
        2 => "not aliases".to_string(),
        n => n.to_string(),
    };
    Some(format!("{} {} {result}\n", addr(a), addr(b)))
}
