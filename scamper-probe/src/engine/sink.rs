//! Where a source's records go: the `-o` file, or (for an attached control client) DATA objects
//! on its connection.

use crate::control::protocol::DataFormat;
use crate::control::server::ClientShared;
use scamper_warts::{OutputFormat, Record, RecordWriter};
use std::io::Write;
use std::sync::{Arc, Mutex};

pub enum Sink {
    /// The `-o` file or stdout; `dirty` once something was written since the last flush.
    File { writer: RecordWriter, dirty: bool },
    /// An attached control client.
    Client(ClientSink),
    /// Records nobody will read.
    Discard,
}

impl Sink {
    pub fn file(writer: RecordWriter) -> Sink {
        Sink::File {
            writer,
            dirty: false,
        }
    }

    /// Write one record; `id` is the task id a control client knows it by. Returns the bytes
    /// now queued for the client (0 for files), so the engine can drop a client that stopped
    /// reading.
    pub fn write(&mut self, rec: &Record, id: Option<u32>) -> Result<usize, String> {
        self.write_as(rec, id, false)
    }

    /// Write an in-progress copy of a result (`-y stream`): a client sees it as
    /// `DATA <len> id-<n> inprog`; a file receives it like any record.
    pub fn write_inprog(&mut self, rec: &Record, id: u32) -> Result<usize, String> {
        self.write_as(rec, Some(id), true)
    }

    fn write_as(&mut self, rec: &Record, id: Option<u32>, inprog: bool) -> Result<usize, String> {
        match self {
            Sink::File { writer, dirty } => {
                *dirty = true;
                writer.write(rec).map(|_| 0).map_err(|e| e.to_string())
            }
            Sink::Client(c) => c.write(rec, id, inprog),
            Sink::Discard => Ok(0),
        }
    }

    /// Push buffered file output to the kernel. Only if something was written since the last
    /// time: flushing a compressed stream adds bytes even when there is nothing new.
    pub fn flush(&mut self) {
        if let Sink::File { writer, dirty } = self {
            if std::mem::take(dirty) {
                let _ = writer.flush();
            }
        }
    }

    /// Flush buffered output and end compressed streams; a client connection closes once its
    /// queue is written.
    pub fn finish(self) -> Result<(), String> {
        match self {
            Sink::File { writer, .. } => {
                let mut out = writer.finish().map_err(|e| e.to_string())?;
                out.flush().map_err(|e| e.to_string())
            }
            Sink::Client(c) => {
                c.client.close_after_flush();
                Ok(())
            }
            Sink::Discard => Ok(()),
        }
    }
}

/// Bytes the record writer produced and the sink has not yet framed.
#[derive(Clone, Default)]
struct SharedBuf(Arc<Mutex<Vec<u8>>>);

impl Write for SharedBuf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Records of an attached client, encoded in its format and framed as DATA objects. The warts
/// writer keeps the list/cycle bookkeeping of one stream, so the client receives a valid warts
/// object sequence.
pub struct ClientSink {
    writer: RecordWriter,
    buf: SharedBuf,
    format: DataFormat,
    pub client: Arc<ClientShared>,
}

impl ClientSink {
    pub fn new(format: DataFormat, client: Arc<ClientShared>) -> Result<ClientSink, String> {
        let buf = SharedBuf::default();
        let out = match format {
            DataFormat::Warts => OutputFormat::Warts,
            DataFormat::Json => OutputFormat::Json,
        };
        let writer = RecordWriter::new(out, Box::new(buf.clone())).map_err(|e| e.to_string())?;
        Ok(ClientSink {
            writer,
            buf,
            format,
            client,
        })
    }

    fn write(&mut self, rec: &Record, id: Option<u32>, inprog: bool) -> Result<usize, String> {
        self.writer.write(rec).map_err(|e| e.to_string())?;
        self.writer.flush().map_err(|e| e.to_string())?;
        let bytes = std::mem::take(&mut *self.buf.0.lock().unwrap_or_else(|p| p.into_inner()));
        let objects = split_objects(&bytes, self.format);
        // Only the result itself carries the task id; a list or cycle object written ahead of
        // it does not.
        let is_result = !matches!(
            rec,
            Record::List(_) | Record::CycleStart(_) | Record::CycleDef(_) | Record::CycleStop(_)
        );
        let last = objects.len().saturating_sub(1);
        let format = self.format;
        Ok(self.client.push(|q| {
            for (i, obj) in objects.iter().enumerate() {
                match (is_result && i == last, id) {
                    (true, Some(id)) if inprog => q.push_data_inprog(obj, id, format),
                    (true, id) => q.push_data(obj, id, format),
                    (false, _) => q.push_data(obj, None, format),
                }
            }
        }))
    }
}

/// Split writer output into its objects: warts objects by their 8-byte headers, JSON by lines.
fn split_objects(bytes: &[u8], format: DataFormat) -> Vec<&[u8]> {
    let mut out = Vec::new();
    match format {
        DataFormat::Json => {
            for line in bytes.split_inclusive(|&b| b == b'\n') {
                if !line.is_empty() {
                    out.push(line);
                }
            }
        }
        DataFormat::Warts => {
            let mut rest = bytes;
            while rest.len() >= 8 {
                let len = u32::from_be_bytes([rest[4], rest[5], rest[6], rest[7]]) as usize;
                let end = (8 + len).min(rest.len());
                out.push(&rest[..end]);
                rest = &rest[end..];
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warts_output_splits_on_object_headers() {
        let a = [0x12, 0x05, 0, 1, 0, 0, 0, 2, 9, 9];
        let b = [0x12, 0x05, 0, 7, 0, 0, 0, 1, 7];
        let joined: Vec<u8> = a.iter().chain(b.iter()).copied().collect();
        assert_eq!(
            split_objects(&joined, DataFormat::Warts),
            vec![&a[..], &b[..]]
        );
    }

    #[test]
    fn json_output_splits_on_lines() {
        assert_eq!(
            split_objects(b"{}\n{\"a\":1}\n", DataFormat::Json),
            vec![&b"{}\n"[..], &b"{\"a\":1}\n"[..]]
        );
    }
}
