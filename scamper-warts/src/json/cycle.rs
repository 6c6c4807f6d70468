//! cycle-start / cycle-stop lines (list and hostname printed raw, without escaping).

use crate::list::Cycle;

fn common(kind: &str, c: &Cycle) -> String {
    let mut s = format!(
        "{{\"type\":\"{kind}\", \"list_name\":\"{}\", \"id\":{}",
        c.list.name, c.id
    );
    if let Some(h) = &c.hostname {
        s += &format!(", \"hostname\":\"{h}\"");
    }
    s
}

pub(crate) fn start(c: &Cycle) -> String {
    common("cycle-start", c) + &format!(", \"start_time\":{}}}", c.start_time)
}

pub(crate) fn stop(c: &Cycle) -> String {
    common("cycle-stop", c) + &format!(", \"stop_time\":{}}}", c.stop_time)
}
