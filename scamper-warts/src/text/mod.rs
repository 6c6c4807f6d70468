//! Text output of the scamper prober (`-O text`) and of `sc_warts2text`: trace, ping, tracelb,
//! dealias (ally only), tbit and sting, as scamper's own text writers print them. Other record
//! types have no text writer and produce nothing.

mod cbuf;
mod dealias;
mod ping;
mod sting;
mod tbit;
mod trace;
mod trace_pmtud;
mod tracelb;

use std::io::Write;

use crate::error::Result;
use crate::record::Record;

/// The text rendering of a record, or `None` when scamper prints nothing for it.
pub fn to_text(rec: &Record) -> Option<String> {
    match rec {
        Record::Trace(t) => Some(trace::render(t)),
        Record::Ping(p) => Some(ping::render(p)),
        Record::Tracelb(t) => tracelb::render(t),
        Record::Dealias(d) => dealias::render(d),
        Record::Tbit(t) => Some(tbit::render(t)),
        Record::Sting(s) => Some(sting::render(s)),
        _ => None,
    }
}

/// The destination `sc_warts2text -d` looks up for a record's description line (the record
/// types with a text writer, except dealias).
pub fn text_dst(rec: &Record) -> Option<crate::Addr> {
    match rec {
        Record::Trace(t) => t.dst,
        Record::Ping(p) => p.dst,
        Record::Tracelb(t) => t.dst,
        Record::Tbit(t) => t.dst,
        Record::Sting(s) => s.dst,
        _ => None,
    }
}

pub struct TextWriter<W: Write> {
    inner: W,
}

impl<W: Write> TextWriter<W> {
    pub fn new(inner: W) -> Self {
        TextWriter { inner }
    }

    pub fn write(&mut self, rec: &Record) -> Result<()> {
        if let Some(s) = to_text(rec) {
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
