//! Splitting a byte stream into frames: 4-byte big-endian length, then the body. Sans-IO: the
//! caller pushes whatever bytes arrived and pops complete frames.

use crate::codec::{frame_len, CodecError};

/// Accumulates bytes from a stream socket until whole frames are available.
#[derive(Debug)]
pub struct FrameBuf {
    buf: Vec<u8>,
    max: usize,
}

impl FrameBuf {
    /// A buffer that refuses frames whose body is larger than `max` bytes.
    pub fn new(max: usize) -> Self {
        FrameBuf {
            buf: Vec::new(),
            max,
        }
    }

    /// Append bytes read from the stream.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete frame body, if one is buffered. An oversized length is an error at
    /// once, before its body arrives, so a hostile peer cannot make us buffer it.
    pub fn next_frame(&mut self) -> Result<Option<Vec<u8>>, CodecError> {
        if self.buf.len() < 4 {
            return Ok(None);
        }
        let header = [self.buf[0], self.buf[1], self.buf[2], self.buf[3]];
        let len = frame_len(header, self.max)?;
        if self.buf.len() < 4 + len {
            return Ok(None);
        }
        let body = self.buf[4..4 + len].to_vec();
        self.buf.drain(..4 + len);
        Ok(Some(body))
    }

    /// True if a partial frame is buffered (a peer that closes now truncated a message).
    pub fn has_partial(&self) -> bool {
        !self.buf.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{decode_request, encode_request, Family, Request, MAX_REQUEST_FRAME};

    #[test]
    fn frames_split_across_reads_and_joined_in_one_read() {
        let a = encode_request(&Request::OpenIcmp {
            family: Family::Inet,
        });
        let b = encode_request(&Request::OpenRouteSocket);
        let mut stream = a.clone();
        stream.extend_from_slice(&b);
        let mut fb = FrameBuf::new(MAX_REQUEST_FRAME);
        let mut got = Vec::new();
        for chunk in stream.chunks(3) {
            fb.push(chunk);
            while let Some(f) = fb.next_frame().unwrap() {
                got.push(decode_request(&f).unwrap());
            }
        }
        assert_eq!(
            got,
            vec![
                Request::OpenIcmp {
                    family: Family::Inet
                },
                Request::OpenRouteSocket
            ]
        );
        assert!(!fb.has_partial());
    }

    #[test]
    fn oversized_header_is_an_error_before_the_body() {
        let mut fb = FrameBuf::new(16);
        fb.push(&17u32.to_be_bytes());
        assert!(fb.next_frame().is_err());
    }
}
