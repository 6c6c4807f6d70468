//! Text output of the scamper prober (`-O text`): trace and ping (cli.md section 5). Other
//! record types produce no text.

mod ping;
mod trace;

use std::io::Write;

use crate::error::Result;
use crate::record::Record;

/// The text rendering of a record, or `None` when scamper prints nothing for it.
pub fn to_text(rec: &Record) -> Option<String> {
    match rec {
        Record::Trace(t) => Some(trace::render(t)),
        Record::Ping(p) => Some(ping::render(p)),
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
