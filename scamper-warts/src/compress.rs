//! Compressed warts: one gzip member / bzip2 stream / xz stream around the whole byte stream,
//! detected on input by magic bytes.

use std::io::{self, Read, Write};

use bzip2::write::BzEncoder;
use flate2::write::GzEncoder;
use liblzma::write::XzEncoder;

/// Compression of a warts stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Bzip2,
    Xz,
}

impl Compression {
    /// Detect from the first bytes of a stream.
    pub fn sniff(head: &[u8]) -> Compression {
        if head.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if head.starts_with(b"BZ") {
            Compression::Bzip2
        } else if head.starts_with(&[0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]) {
            Compression::Xz
        } else {
            Compression::None
        }
    }
}

/// Wrap `r` in the decompressor its first bytes call for. Only the first compressed
/// member/stream is read, like libscamperfile.
pub fn decompress_reader<'a, R: Read + Send + 'a>(
    mut r: R,
) -> io::Result<Box<dyn Read + Send + 'a>> {
    let mut head = Vec::with_capacity(6);
    (&mut r).take(6).read_to_end(&mut head)?;
    let kind = Compression::sniff(&head);
    let r = io::Cursor::new(head).chain(r);
    Ok(match kind {
        Compression::None => Box::new(r),
        Compression::Gzip => Box::new(flate2::read::GzDecoder::new(r)),
        Compression::Bzip2 => Box::new(bzip2::read::BzDecoder::new(r)),
        Compression::Xz => Box::new(liblzma::read::XzDecoder::new(r)),
    })
}

/// Output byte sink with optional compression; `finish` ends the compressed stream.
pub(crate) enum Sink {
    Plain(Box<dyn Write + Send>),
    Gz(GzEncoder<Box<dyn Write + Send>>),
    Bz(BzEncoder<Box<dyn Write + Send>>),
    Xz(XzEncoder<Box<dyn Write + Send>>),
}

impl Sink {
    pub fn new(c: Compression, w: Box<dyn Write + Send>) -> Sink {
        match c {
            Compression::None => Sink::Plain(w),
            // libscamperfile: default level, mtime 0, OS byte 3 (Unix)
            Compression::Gzip => Sink::Gz(
                flate2::GzBuilder::new()
                    .mtime(0)
                    .operating_system(3)
                    .write(w, flate2::Compression::new(6)),
            ),
            Compression::Bzip2 => Sink::Bz(BzEncoder::new(w, bzip2::Compression::new(6))),
            Compression::Xz => Sink::Xz(XzEncoder::new(w, 6)),
        }
    }

    pub fn finish(self) -> io::Result<Box<dyn Write + Send>> {
        let mut w = match self {
            Sink::Plain(w) => w,
            Sink::Gz(e) => e.finish()?,
            Sink::Bz(e) => e.finish()?,
            Sink::Xz(e) => e.finish()?,
        };
        w.flush()?;
        Ok(w)
    }
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Sink::Plain(w) => w.write(buf),
            Sink::Gz(w) => w.write(buf),
            Sink::Bz(w) => w.write(buf),
            Sink::Xz(w) => w.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Sink::Plain(w) => w.flush(),
            Sink::Gz(w) => w.flush(),
            Sink::Bz(w) => w.flush(),
            Sink::Xz(w) => w.flush(),
        }
    }
}
