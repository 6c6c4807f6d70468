//! Where a source's records go: the `-o` file, or (for an attached control client) DATA objects
//! on its connection.

use scamper_warts::{Record, RecordWriter};

pub enum Sink {
    /// The `-o` file or stdout.
    File(RecordWriter),
    /// Records nobody will read (a source whose client went away).
    Discard,
}

impl Sink {
    /// Write one record; `id` is the task id a control client knows it by.
    pub fn write(&mut self, rec: &Record, _id: Option<u32>) -> Result<(), String> {
        match self {
            Sink::File(w) => w.write(rec).map_err(|e| e.to_string()),
            Sink::Discard => Ok(()),
        }
    }

    /// Flush buffered output and end compressed streams.
    pub fn finish(self) -> Result<(), String> {
        match self {
            Sink::File(w) => {
                let mut out = w.finish().map_err(|e| e.to_string())?;
                out.flush().map_err(|e| e.to_string())
            }
            Sink::Discard => Ok(()),
        }
    }
}

use std::io::Write;
