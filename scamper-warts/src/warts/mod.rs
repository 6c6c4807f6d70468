//! Warts file reading and writing: object framing, per-file list/cycle state, and dispatch to
//! the per-type codecs.

mod dealias;
mod host;
mod http;
mod list;
mod neighbourdisc;
mod owamp;
mod ping;
mod sniff;
mod sting;
mod tbit;
mod trace;
mod tracelb;
mod udpprobe;

use std::io::{self, Read, Write};
use std::sync::Arc;

use crate::addr::Addr;
use crate::error::{Error, Result};
use crate::list::{Cycle, List};
use crate::record::{obj, Record};
use crate::wire::Cursor;

const MAGIC: u16 = 0x1205;

/// Which object types a reader returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeFilter {
    mask: u32,
}

impl TypeFilter {
    /// Every type 1..17 except the deprecated address objects.
    pub fn all() -> Self {
        TypeFilter {
            mask: ((1u32 << (obj::MAX + 1)) - 2) & !(1 << obj::ADDR),
        }
    }
    pub fn none() -> Self {
        TypeFilter { mask: 0 }
    }
    pub fn only(types: &[u16]) -> Self {
        let mut f = Self::none();
        for &t in types {
            f = f.with(t);
        }
        f
    }
    /// Add a type (ids above 31 are ignored: they cannot be known types).
    pub fn with(mut self, t: u16) -> Self {
        if t < 32 {
            self.mask |= 1 << t;
        }
        self
    }
    pub fn contains(&self, t: u16) -> bool {
        t < 32 && self.mask & (1 << t) != 0
    }
}

impl Default for TypeFilter {
    fn default() -> Self {
        Self::all()
    }
}

/// Per-file state a reader needs to resolve references.
#[derive(Default)]
pub(crate) struct ReadState {
    pub lists: Vec<Arc<List>>,
    /// Cycles by warts id - 1; `None` once stopped.
    pub cycles: Vec<Option<Arc<Cycle>>>,
    pub global_addrs: Vec<Addr>,
}

impl ReadState {
    pub fn list(&self, c: &Cursor<'_>, id: u32) -> Result<Option<Arc<List>>> {
        if id == 0 {
            return Ok(None);
        }
        self.lists
            .get(id as usize - 1)
            .cloned()
            .map(Some)
            .ok_or_else(|| c.err(format!("list id {id} undefined")))
    }

    pub fn cycle(&self, c: &Cursor<'_>, id: u32) -> Result<Option<Arc<Cycle>>> {
        if id == 0 {
            return Ok(None);
        }
        match self.cycles.get(id as usize - 1) {
            Some(Some(cy)) => Ok(Some(cy.clone())),
            _ => Err(c.err(format!("cycle id {id} undefined or stopped"))),
        }
    }
}

/// How much a reader asks its input for at a time.
const READ_CHUNK: usize = 32 * 1024;

/// Streaming warts reader: one object (plus at most one read-ahead chunk) in memory at a
/// time.
pub struct WartsReader<R> {
    inner: R,
    offset: u64,
    filter: TypeFilter,
    state: ReadState,
    failed: bool,
    /// Read-ahead buffer (its length is its zeroed capacity); `buf[pos..end]` has been
    /// read from `inner` and not consumed yet. Objects are decoded in place from here, so
    /// reading neither copies nor allocates per object.
    buf: Vec<u8>,
    pos: usize,
    end: usize,
}

impl<R: Read> WartsReader<R> {
    pub fn new(inner: R) -> Self {
        Self::with_filter(inner, TypeFilter::all())
    }

    pub fn with_filter(inner: R, filter: TypeFilter) -> Self {
        WartsReader {
            inner,
            offset: 0,
            filter,
            state: ReadState::default(),
            failed: false,
            buf: Vec::new(),
            pos: 0,
            end: 0,
        }
    }

    /// Stream offset of the next object.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Next record passing the filter, `Ok(None)` at a clean end of file. After an error the
    /// reader stays at its end.
    pub fn next_record(&mut self) -> Result<Option<Record>> {
        if self.failed {
            return Ok(None);
        }
        let r = self.next_inner();
        if r.is_err() {
            self.failed = true;
        }
        r
    }

    /// Reads until `need` unconsumed bytes are buffered or the input ends; returns how many
    /// are buffered. Each `read` takes what the input has, so a pipe or socket is never
    /// waited on for more than `need`, and the buffer grows at most one chunk past the bytes
    /// that really arrived (a lying object length costs only as much memory as the input
    /// has).
    fn fill(&mut self, need: usize) -> io::Result<usize> {
        if self.end - self.pos >= need {
            return Ok(self.end - self.pos);
        }
        self.buf.copy_within(self.pos..self.end, 0);
        self.end -= self.pos;
        self.pos = 0;
        while self.end < need {
            if self.end == self.buf.len() {
                // one chunk in all (the buffer then stays that size), or one more chunk for
                // an object bigger than that
                let room = if need <= READ_CHUNK {
                    READ_CHUNK
                } else {
                    need.min(self.end + READ_CHUNK)
                };
                self.buf.resize(room, 0);
            }
            let n = loop {
                match self.inner.read(&mut self.buf[self.end..]) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    r => break r?,
                }
            };
            if n == 0 {
                break;
            }
            self.end += n;
        }
        Ok(self.end)
    }

    fn next_inner(&mut self) -> Result<Option<Record>> {
        loop {
            let start = self.offset;
            let n = self.fill(8)?;
            if n == 0 {
                return Ok(None);
            }
            if n < 8 {
                self.pos += n;
                return Err(Error::Truncated {
                    offset: start,
                    what: "object header".into(),
                });
            }
            let hdr = &self.buf[self.pos..self.pos + 8];
            let magic = u16::from_be_bytes([hdr[0], hdr[1]]);
            let kind = u16::from_be_bytes([hdr[2], hdr[3]]);
            let len = u32::from_be_bytes([hdr[4], hdr[5], hdr[6], hdr[7]]);
            if magic != MAGIC || kind == 0 {
                return Err(Error::format(
                    start,
                    format!(
                        "bad object header: magic {magic:#06x} type {kind:#06x} len {len:#010x}"
                    ),
                ));
            }
            self.pos += 8;
            let body_off = start + 8;
            self.offset = body_off;
            let structural = matches!(kind, 1..=5);
            if !structural && !self.filter.contains(kind) {
                self.skip(kind, start, u64::from(len))?;
                continue;
            }
            let len = len as usize;
            let present = self.fill(len)?.min(len);
            self.offset += present as u64;
            if present < len {
                self.pos += present;
                return Err(Error::Truncated {
                    offset: start,
                    what: format!("object type {kind} needs {len} bytes, {present} present"),
                });
            }
            let body = &self.buf[self.pos..self.pos + len];
            self.pos += len;
            let rec = decode(&mut self.state, kind, Cursor::new(body, body_off))?;
            if let Some(rec) = rec {
                if self.filter.contains(kind) {
                    return Ok(Some(rec));
                }
            }
        }
    }

    /// Skips the `len`-byte body of an object of a type the filter leaves out.
    fn skip(&mut self, kind: u16, start: u64, len: u64) -> Result<()> {
        let buffered = (self.end - self.pos).min(len as usize);
        self.pos += buffered;
        let rest = len - buffered as u64;
        let skipped =
            buffered as u64 + io::copy(&mut (&mut self.inner).take(rest), &mut io::sink())?;
        self.offset += skipped;
        if skipped < len {
            return Err(Error::Truncated {
                offset: start,
                what: format!("object type {kind}"),
            });
        }
        Ok(())
    }
}

/// Decodes one object body; `None` for objects that are not records (global addresses)
/// and for types without a decoder.
fn decode(st: &mut ReadState, kind: u16, mut c: Cursor<'_>) -> Result<Option<Record>> {
    Ok(Some(match kind {
        obj::LIST => Record::List(list::read_list(st, &mut c)?),
        obj::CYCLE_START => Record::CycleStart(list::read_cycle(st, &mut c)?),
        obj::CYCLE_DEF => Record::CycleDef(list::read_cycle(st, &mut c)?),
        obj::CYCLE_STOP => Record::CycleStop(list::read_cycle_stop(st, &mut c)?),
        obj::ADDR => {
            list::read_global_addr(st, &mut c)?;
            return Ok(None);
        }
        obj::TRACE => Record::Trace(Box::new(trace::read(st, &mut c)?)),
        obj::PING => Record::Ping(Box::new(ping::read(st, &mut c)?)),
        obj::DEALIAS => Record::Dealias(Box::new(dealias::read(st, &mut c)?)),
        obj::UDPPROBE => Record::Udpprobe(Box::new(udpprobe::read(st, &mut c)?)),
        obj::TRACELB => Record::Tracelb(Box::new(tracelb::read(st, &mut c)?)),
        obj::OWAMP => Record::Owamp(Box::new(owamp::read(st, &mut c)?)),
        obj::NEIGHBOURDISC => Record::Neighbourdisc(Box::new(neighbourdisc::read(st, &mut c)?)),
        obj::HOST => Record::Host(Box::new(host::read(st, &mut c)?)),
        obj::SNIFF => Record::Sniff(Box::new(sniff::read(st, &mut c)?)),
        obj::STING => Record::Sting(Box::new(sting::read(st, &mut c)?)),
        obj::HTTP => Record::Http(Box::new(http::read(st, &mut c)?)),
        obj::TBIT => Record::Tbit(Box::new(tbit::read(st, &mut c)?)),
        // Known but not yet decoded types, and unknown types, are skipped.
        _ => return Ok(None),
    }))
}

impl<R: Read> Iterator for WartsReader<R> {
    type Item = Result<Record>;
    fn next(&mut self) -> Option<Self::Item> {
        self.next_record().transpose()
    }
}

/// Per-file state a writer keeps: which lists and cycles it has emitted, with their ids.
#[derive(Default)]
pub(crate) struct WriteState {
    lists: Vec<Arc<List>>,
    cycles: Vec<(Arc<Cycle>, bool)>,
    /// Reused buffer for the list/cycle objects a measurement needs written before it.
    side: Vec<u8>,
}

impl WriteState {
    /// Warts id of `l`, emitting a list object into `side` if it was not written yet.
    pub fn list_id(&mut self, l: &Arc<List>, side: &mut Vec<u8>) -> Result<u32> {
        // The same Arc nearly always: skip comparing the strings.
        if let Some(i) = self
            .lists
            .iter()
            .rposition(|x| Arc::ptr_eq(x, l) || **x == **l)
        {
            return Ok(i as u32 + 1);
        }
        self.emit_list(l, side)
    }

    fn emit_list(&mut self, l: &Arc<List>, out: &mut Vec<u8>) -> Result<u32> {
        let id = self.lists.len() as u32 + 1;
        frame(out, obj::LIST, |b| list::write_list(b, id, l))?;
        self.lists.push(l.clone());
        Ok(id)
    }

    /// Warts id of `c`, emitting a cycle definition (and its list) if needed.
    pub fn cycle_id(&mut self, c: &Arc<Cycle>, side: &mut Vec<u8>) -> Result<u32> {
        if let Some(i) = self
            .cycles
            .iter()
            .rposition(|(x, _)| Arc::ptr_eq(x, c) || x.same_cycle(c))
        {
            return Ok(i as u32 + 1);
        }
        self.emit_cycle(c, obj::CYCLE_DEF, side)
    }

    fn emit_cycle(&mut self, c: &Arc<Cycle>, kind: u16, out: &mut Vec<u8>) -> Result<u32> {
        let lid = self.list_id(&c.list, out)?;
        let id = self.cycles.len() as u32 + 1;
        frame(out, kind, |b| list::write_cycle(b, id, lid, c))?;
        self.cycles.push((c.clone(), true));
        Ok(id)
    }

    fn emit_cycle_stop(&mut self, c: &Arc<Cycle>, out: &mut Vec<u8>) -> Result<()> {
        let id = match self
            .cycles
            .iter()
            .rposition(|(x, open)| *open && x.same_cycle(c))
        {
            Some(i) => i as u32 + 1,
            None => self.emit_cycle(c, obj::CYCLE_DEF, out)?,
        };
        self.cycles[id as usize - 1].1 = false;
        frame(out, obj::CYCLE_STOP, |b| {
            list::write_cycle_stop(b, id, c);
            Ok(())
        })
    }
}

/// Append one object (header + body built by `f`) to `out`.
fn frame(out: &mut Vec<u8>, kind: u16, f: impl FnOnce(&mut Vec<u8>) -> Result<()>) -> Result<()> {
    let start = out.len();
    out.extend_from_slice(&MAGIC.to_be_bytes());
    out.extend_from_slice(&kind.to_be_bytes());
    out.extend_from_slice(&[0; 4]);
    f(out)?;
    let len = u32::try_from(out.len() - start - 8)
        .map_err(|_| Error::Encode(format!("object type {kind} larger than 4 GiB")))?;
    out[start + 4..start + 8].copy_from_slice(&len.to_be_bytes());
    Ok(())
}

/// Encode one record as warts bytes (with any list/cycle objects it needs first).
pub(crate) fn encode(st: &mut WriteState, rec: &Record, out: &mut Vec<u8>) -> Result<()> {
    match rec {
        Record::List(l) => st.emit_list(l, out).map(|_| ()),
        Record::CycleStart(c) => st.emit_cycle(c, obj::CYCLE_START, out).map(|_| ()),
        Record::CycleDef(c) => st.emit_cycle(c, obj::CYCLE_DEF, out).map(|_| ()),
        Record::CycleStop(c) => st.emit_cycle_stop(c, out),
        Record::Ping(p) => measurement(st, obj::PING, out, |st, side, b| {
            ping::write(st, p, side, b)
        }),
        Record::Trace(t) => measurement(st, obj::TRACE, out, |st, side, b| {
            trace::write(st, t, side, b)
        }),
        Record::Dealias(d) => measurement(st, obj::DEALIAS, out, |st, side, b| {
            dealias::write(st, d, side, b)
        }),
        Record::Udpprobe(x) => measurement(st, obj::UDPPROBE, out, |st, side, b| {
            udpprobe::write(st, x, side, b)
        }),
        Record::Tracelb(x) => measurement(st, obj::TRACELB, out, |st, side, b| {
            tracelb::write(st, x, side, b)
        }),
        Record::Owamp(x) => measurement(st, obj::OWAMP, out, |st, side, b| {
            owamp::write(st, x, side, b)
        }),
        Record::Neighbourdisc(x) => measurement(st, obj::NEIGHBOURDISC, out, |st, side, b| {
            neighbourdisc::write(st, x, side, b)
        }),
        Record::Host(x) => measurement(st, obj::HOST, out, |st, side, b| {
            host::write(st, x, side, b)
        }),
        Record::Sniff(x) => measurement(st, obj::SNIFF, out, |st, side, b| {
            sniff::write(st, x, side, b)
        }),
        Record::Sting(x) => measurement(st, obj::STING, out, |st, side, b| {
            sting::write(st, x, side, b)
        }),
        Record::Http(x) => measurement(st, obj::HTTP, out, |st, side, b| {
            http::write(st, x, side, b)
        }),
        Record::Tbit(x) => measurement(st, obj::TBIT, out, |st, side, b| {
            tbit::write(st, x, side, b)
        }),
    }
}

/// Encode a measurement body with `f` (which may emit list/cycle objects into `side`), then
/// append the side objects and the framed measurement to `out`. The body goes straight into
/// `out` behind its header; the side objects (only before a file's first records) are moved
/// in front of it afterwards.
fn measurement(
    st: &mut WriteState,
    kind: u16,
    out: &mut Vec<u8>,
    f: impl FnOnce(&mut WriteState, &mut Vec<u8>, &mut Vec<u8>) -> Result<()>,
) -> Result<()> {
    let start = out.len();
    let mut side = std::mem::take(&mut st.side);
    side.clear();
    let res = frame(out, kind, |b| f(st, &mut side, b));
    match res {
        Ok(()) if !side.is_empty() => {
            out.splice(start..start, side.drain(..));
        }
        Ok(()) => {}
        Err(_) => out.truncate(start),
    }
    st.side = side;
    res
}

/// Warts writer over any byte sink; each object goes out in a single `write_all`.
pub struct WartsWriter<W: Write> {
    inner: W,
    state: WriteState,
    buf: Vec<u8>,
}

impl<W: Write> WartsWriter<W> {
    pub fn new(inner: W) -> Self {
        WartsWriter {
            inner,
            state: WriteState::default(),
            buf: Vec::new(),
        }
    }

    pub fn write(&mut self, rec: &Record) -> Result<()> {
        self.buf.clear();
        encode(&mut self.state, rec, &mut self.buf)?;
        self.inner.write_all(&self.buf)?;
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
