//! JSON text exactly as `sc_warts2json` (scamper 20260420) prints it. One object per line.

mod cycle;
mod dealias;
mod emit;
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
    let mut buf = Vec::new();
    if !write_json(rec, &mut buf)? {
        return Ok(None);
    }
    // every writer produces UTF-8 (ASCII plus copies of Rust strings)
    Ok(Some(String::from_utf8(buf).unwrap_or_else(|e| {
        String::from_utf8_lossy(e.as_bytes()).into_owned()
    })))
}

/// Appends the JSON object for a record (no newline) to `out`; `false` (nothing appended) for
/// records sc_warts2json does not print. Reusing `out` across records avoids an allocation
/// per line.
pub fn write_json(rec: &Record, out: &mut Vec<u8>) -> Result<bool> {
    let line = match rec {
        Record::Ping(p) => {
            ping::render(out, p);
            return Ok(true);
        }
        Record::Trace(t) => {
            trace::render(out, t);
            return Ok(true);
        }
        Record::CycleStart(c) => cycle::start(c),
        Record::CycleStop(c) => cycle::stop(c),

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
        | Record::Http(_) => return Ok(false),
    };
    out.extend_from_slice(line.as_bytes());
    Ok(true)
}

/// Writes one JSON line per record.
pub struct JsonWriter<W: Write> {
    inner: W,
    /// Line buffer, reused.
    buf: Vec<u8>,
}

impl<W: Write> JsonWriter<W> {
    pub fn new(inner: W) -> Self {
        JsonWriter {
            inner,
            buf: Vec::new(),
        }
    }

    pub fn write(&mut self, rec: &Record) -> Result<()> {
        self.buf.clear();
        if write_json(rec, &mut self.buf)? {
            self.buf.push(b'\n');
            self.inner.write_all(&self.buf)?;
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
