//! The reader's read-ahead buffer: any split of the input into reads gives the same records,
//! objects larger than one buffer chunk decode, and the reader asks its input for no more
//! than the next object needs (so a pipe or socket is never waited on needlessly).

use std::io::{self, Read};

use scamper_warts::ping::{Ping, PingProbe, PingReply};
use scamper_warts::{Addr, Record, Timeval, WartsReader, WartsWriter};

/// Hands out its bytes at most `step` at a time, then an error if read past the end of
/// `limit` bytes (instead of EOF) when `limit` is set.
struct Dribble<'a> {
    data: &'a [u8],
    step: usize,
    limit: Option<usize>,
    pos: usize,
}

impl Read for Dribble<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let end = self.limit.unwrap_or(self.data.len());
        if self.pos >= end {
            return match self.limit {
                Some(_) => Err(io::Error::other("read past the first object")),
                None => Ok(0),
            };
        }
        let n = buf.len().min(self.step).min(end - self.pos);
        buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

fn records(r: impl Read) -> Vec<Record> {
    WartsReader::new(r).collect::<Result<_, _>>().unwrap()
}

/// A ping whose object is far larger than the reader's 32 KiB chunk.
fn big_ping() -> Vec<u8> {
    let dst = Addr::V4([192, 0, 2, 1].into());
    let probe = PingProbe {
        tx: Timeval::new(1_700_000_000, 5),
        replies: vec![PingReply {
            addr: Some(dst),
            reply_proto: 1,
            rtt: Timeval::new(0, 1234),
            ..Default::default()
        }],
        ..Default::default()
    };
    let p = Ping {
        dst: Some(dst),
        data: (0..60_000u32).map(|i| i as u8).collect(),
        ping_sent: 3,
        probe_count: 3,
        probes: vec![Some(probe.clone()), None, Some(probe)],
        ..Default::default()
    };
    let mut w = WartsWriter::new(Vec::new());
    w.write(&Record::Ping(Box::new(p))).unwrap();
    w.into_inner()
}

#[test]
fn any_read_sizes_give_the_same_records() {
    let example = std::fs::read("/work/shared/spec/examples/ping.warts").unwrap();
    for bytes in [example, big_ping()] {
        let whole = records(&bytes[..]);
        assert!(!whole.is_empty());
        for step in [1, 7, 8, 9, 4096, 1 << 20] {
            let got = records(Dribble {
                data: &bytes,
                step,
                limit: None,
                pos: 0,
            });
            assert_eq!(got, whole, "reads of {step} bytes");
        }
    }
}

#[test]
fn big_objects_decode() {
    let recs = records(&big_ping()[..]);
    let [Record::Ping(p)] = &recs[..] else {
        panic!("expected one ping, got {recs:?}");
    };
    assert_eq!(p.data.len(), 60_000);
    assert_eq!(p.probes.iter().flatten().count(), 2);
}

#[test]
fn no_read_beyond_the_next_object() {
    let bytes = std::fs::read("/work/shared/spec/examples/ping.warts").unwrap();
    let first_len = 8 + u32::from_be_bytes(bytes[4..8].try_into().unwrap()) as usize;
    assert!(first_len < bytes.len());
    for step in [1, 3, 1 << 20] {
        let mut rd = WartsReader::new(Dribble {
            data: &bytes,
            step,
            limit: Some(first_len),
            pos: 0,
        });
        assert!(matches!(rd.next(), Some(Ok(Record::List(_)))));
        // the next object is not there yet: only now does the reader ask (and fail)
        assert!(matches!(rd.next(), Some(Err(_))));
    }
}
