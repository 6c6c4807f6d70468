//! Output formats and the record writer the prober uses for `-O` / `-o`.

use std::io::Write;
use std::path::Path;

use crate::compress::{Compression, Sink};
use crate::error::{Error, Result};
use crate::json::JsonWriter;
use crate::record::Record;
use crate::text::TextWriter;
use crate::warts::WartsWriter;

/// `-O` output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    Text,
    Warts,
    WartsGz,
    WartsBz2,
    WartsXz,
    Json,
}

impl OutputFormat {
    /// Parse a `-O` format name (case-insensitive): text, warts, warts.gz, warts.bz2,
    /// warts.xz, json.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name.to_ascii_lowercase().as_str() {
            "text" => OutputFormat::Text,
            "warts" => OutputFormat::Warts,
            "warts.gz" => OutputFormat::WartsGz,
            "warts.bz2" => OutputFormat::WartsBz2,
            "warts.xz" => OutputFormat::WartsXz,
            "json" => OutputFormat::Json,
            _ => return None,
        })
    }

    /// Format implied by an `-o` file name when no `-O` format is given (case-insensitive
    /// suffix; anything unrecognised is text).
    pub fn from_path_suffix(path: impl AsRef<Path>) -> Self {
        let name = path.as_ref().to_string_lossy().to_ascii_lowercase();
        if name.ends_with(".warts.gz") {
            OutputFormat::WartsGz
        } else if name.ends_with(".warts.bz2") {
            OutputFormat::WartsBz2
        } else if name.ends_with(".warts.xz") {
            OutputFormat::WartsXz
        } else if name.ends_with(".json") {
            OutputFormat::Json
        } else if name.ends_with(".warts") {
            OutputFormat::Warts
        } else {
            OutputFormat::Text
        }
    }

    /// Binary formats, which scamper refuses to write to a terminal.
    pub fn is_warts(&self) -> bool {
        matches!(
            self,
            Self::Warts | Self::WartsGz | Self::WartsBz2 | Self::WartsXz
        )
    }

    pub fn name(&self) -> &'static str {
        match self {
            OutputFormat::Text => "text",
            OutputFormat::Warts => "warts",
            OutputFormat::WartsGz => "warts.gz",
            OutputFormat::WartsBz2 => "warts.bz2",
            OutputFormat::WartsXz => "warts.xz",
            OutputFormat::Json => "json",
        }
    }
}

impl std::str::FromStr for OutputFormat {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::from_name(s).ok_or_else(|| Error::UnknownFormat(s.to_string()))
    }
}

enum Inner {
    Warts(WartsWriter<Sink>),
    Json(JsonWriter<Sink>),
    Text(TextWriter<Sink>),
}

/// Writes records in one output format. Warts output keeps the per-file list/cycle ids:
/// a measurement's list and cycle objects are emitted before it when not yet written.
pub struct RecordWriter {
    inner: Inner,
}

impl RecordWriter {
    pub fn new(format: OutputFormat, out: Box<dyn Write + Send>) -> Result<Self> {
        let comp = match format {
            OutputFormat::WartsGz => Compression::Gzip,
            OutputFormat::WartsBz2 => Compression::Bzip2,
            OutputFormat::WartsXz => Compression::Xz,
            _ => Compression::None,
        };
        let sink = Sink::new(comp, out);
        let inner = match format {
            OutputFormat::Json => Inner::Json(JsonWriter::new(sink)),
            OutputFormat::Text => Inner::Text(TextWriter::new(sink)),
            _ => Inner::Warts(WartsWriter::new(sink)),
        };
        Ok(RecordWriter { inner })
    }

    /// Write one record. Records a format cannot show (e.g. a list in JSON, a host
    /// measurement in text) are skipped silently, as scamper does.
    pub fn write(&mut self, rec: &Record) -> Result<()> {
        match &mut self.inner {
            Inner::Warts(w) => w.write(rec),
            Inner::Json(w) => w.write(rec),
            Inner::Text(w) => w.write(rec),
        }
    }

    pub fn flush(&mut self) -> Result<()> {
        match &mut self.inner {
            Inner::Warts(w) => w.flush(),
            Inner::Json(w) => w.flush(),
            Inner::Text(w) => w.flush(),
        }
    }

    /// Flush and end any compressed stream; returns the underlying writer.
    pub fn finish(self) -> Result<Box<dyn Write + Send>> {
        let sink = match self.inner {
            Inner::Warts(w) => w.into_inner(),
            Inner::Json(w) => w.into_inner(),
            Inner::Text(w) => w.into_inner(),
        };
        Ok(sink.finish()?)
    }
}
