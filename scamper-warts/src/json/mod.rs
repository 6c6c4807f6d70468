//! JSON text exactly as `sc_warts2json` (scamper 20260420) prints it. One object per line.

mod cycle;
mod dealias;
mod fmt;
mod host;
mod neighbourdisc;
mod owamp;
mod ping;
mod tbit;
mod trace;
mod tracelb;
mod udpprobe;

use std::io::Write;

use crate::error::Result;
use crate::record::Record;

pub use fmt::hex;
pub use fmt::{ctime, ftime, rtt as fmt_rtt};
pub(crate) use ping::stats as ping_stats;

/// The JSON line for a record, or `None` for records sc_warts2json does not print (lists,
/// cycle definitions, types without a JSON writer).
pub fn to_json(rec: &Record) -> Result<Option<String>> {
    Ok(Some(match rec {
        Record::CycleStart(c) => cycle::start(c),
        Record::CycleStop(c) => cycle::stop(c),
        Record::Ping(p) => ping::render(p),
        Record::Trace(t) => trace::render(t),
        Record::Dealias(d) => dealias::render(d)?,
        Record::Udpprobe(x) => udpprobe::render(x),
        Record::Tracelb(x) => tracelb::render(x),
        Record::Owamp(x) => owamp::render(x),
        Record::Neighbourdisc(x) => neighbourdisc::render(x),
        Record::Host(x) => host::render(x),
        Record::Tbit(x) => tbit::render(x),
        // sc_warts2json has no writer for these
        Record::List(_)
        | Record::CycleDef(_)
        | Record::Sniff(_)
        | Record::Sting(_)
        | Record::Http(_) => return Ok(None),
    }))
}

/// Writes one JSON line per record.
pub struct JsonWriter<W: Write> {
    inner: W,
}

impl<W: Write> JsonWriter<W> {
    pub fn new(inner: W) -> Self {
        JsonWriter { inner }
    }

    pub fn write(&mut self, rec: &Record) -> Result<()> {
        if let Some(mut s) = to_json(rec)? {
            s.push('\n');
            self.inner.write_all(s.as_bytes())?;
        }
        Ok(())
    }

    pub fn flush(&mut self) -> Result<()> {
        self.inner.flush()?;
        Ok(())
    }

    pub fn into_inner(self) -> W {
        self.inner
    }
}
