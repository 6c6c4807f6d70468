//! rtnetlink framing shared by the route-class cache ([`super::routes`]) and the datalink's
//! route and neighbour look-ups ([`super::datalink`]): building requests, and splitting replies
//! into messages and attributes. Replies are untrusted bytes: every length is checked, and a
//! malformed message or attribute is an error, never a panic.

pub const NLMSG_HDRLEN: usize = 16;
pub const NLMSG_ERROR: u16 = 2;
pub const NLMSG_DONE: u16 = 3;
pub const NLM_F_REQUEST: u16 = 0x1;
pub const NLM_F_DUMP: u16 = 0x300;

/// A message or attribute whose length does not fit what holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Malformed;

/// Netlink messages and attributes are padded to four bytes.
pub fn align4(n: usize) -> usize {
    n.next_multiple_of(4)
}

/// Native-endian integers at `at`, if `b` holds them.
pub fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

pub fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// One netlink message: type, sequence number, payload after the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Msg<'a> {
    pub ty: u16,
    pub seq: u32,
    pub body: &'a [u8],
}

/// The messages of one datagram, in order; a malformed one ends the walk with an error.
/// Bytes too few for a header at the end are ignored, as the kernel never sends them.
pub fn messages(buf: &[u8]) -> impl Iterator<Item = Result<Msg<'_>, Malformed>> {
    let mut rest = buf;
    std::iter::from_fn(move || {
        if rest.len() < NLMSG_HDRLEN {
            return None;
        }
        let msg = (|| {
            let len = u32_at(rest, 0)? as usize;
            if len < NLMSG_HDRLEN || len > rest.len() {
                return None;
            }
            let m = Msg {
                ty: u16_at(rest, 4)?,
                seq: u32_at(rest, 8)?,
                body: &rest[NLMSG_HDRLEN..len],
            };
            Some((m, len))
        })();
        match msg {
            Some((m, len)) => {
                rest = rest.get(align4(len)..).unwrap_or(&[]);
                Some(Ok(m))
            }
            None => {
                rest = &[];
                Some(Err(Malformed))
            }
        }
    })
}

/// The attributes in `b` (what follows a message's fixed header): type without the nested and
/// byte-order bits, and value; a malformed one ends the walk with an error.
pub fn attrs(b: &[u8]) -> impl Iterator<Item = Result<(u16, &[u8]), Malformed>> {
    let mut rest = b;
    std::iter::from_fn(move || {
        if rest.len() < 4 {
            return None;
        }
        let len = usize::from(u16_at(rest, 0)?);
        let ty = u16_at(rest, 2)? & 0x3fff;
        if len < 4 || len > rest.len() {
            rest = &[];
            return Some(Err(Malformed));
        }
        let val = &rest[4..len];
        rest = rest.get(align4(len)..).unwrap_or(&[]);
        Some(Ok((ty, val)))
    })
}

/// The status of an `NLMSG_ERROR` message: `Ok` for an acknowledgement, else the kernel's
/// negative errno.
pub fn error_code(body: &[u8]) -> Result<i32, Malformed> {
    u32_at(body, 0).map(|e| e as i32).ok_or(Malformed)
}

/// A request under construction: header, fixed part, attributes.
pub struct Request(Vec<u8>);

impl Request {
    pub fn new(ty: u16, flags: u16, seq: u32) -> Request {
        let mut m = Vec::with_capacity(64);
        m.extend_from_slice(&0u32.to_ne_bytes()); // length, set by finish()
        m.extend_from_slice(&ty.to_ne_bytes());
        m.extend_from_slice(&flags.to_ne_bytes());
        m.extend_from_slice(&seq.to_ne_bytes());
        m.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel fills it in
        Request(m)
    }

    /// The message type's fixed header (`struct rtmsg`, `ndmsg`, ...).
    pub fn fixed(mut self, bytes: &[u8]) -> Request {
        self.0.extend_from_slice(bytes);
        self
    }

    pub fn attr(mut self, ty: u16, data: &[u8]) -> Request {
        let len = 4 + data.len();
        self.0.extend_from_slice(&(len as u16).to_ne_bytes());
        self.0.extend_from_slice(&ty.to_ne_bytes());
        self.0.extend_from_slice(data);
        self.0.resize(align4(self.0.len()), 0);
        self
    }

    pub fn finish(mut self) -> Vec<u8> {
        let len = self.0.len() as u32;
        self.0[..4].copy_from_slice(&len.to_ne_bytes());
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_reads_back_as_one_message_with_its_attributes() {
        let m = Request::new(26, NLM_F_REQUEST, 7)
            .fixed(&[2, 32, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])
            .attr(1, &[192, 0, 2, 1])
            .attr(4, &[1, 2, 3])
            .finish();
        assert_eq!(m.len() % 4, 0);
        let msgs: Vec<_> = messages(&m).collect::<Result<_, _>>().unwrap();
        assert_eq!(msgs.len(), 1);
        assert_eq!((msgs[0].ty, msgs[0].seq), (26, 7));
        let a: Vec<_> = attrs(&msgs[0].body[12..])
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(a, vec![(1, &[192, 0, 2, 1][..]), (4, &[1, 2, 3][..])]);
    }

    #[test]
    fn lying_lengths_are_errors_not_panics() {
        let good = Request::new(24, 0, 1).fixed(&[0; 12]).finish();
        for cut in 0..good.len() {
            let r: Vec<_> = messages(&good[..cut]).collect();
            assert!(r.iter().all(|m| m.is_err()) || r.is_empty(), "cut {cut}");
        }
        let mut long = good.clone();
        long[0] = 0xff;
        assert_eq!(messages(&long).next(), Some(Err(Malformed)));
        let mut short = good;
        short[..4].copy_from_slice(&3u32.to_ne_bytes());
        assert_eq!(messages(&short).next(), Some(Err(Malformed)));
        assert_eq!(attrs(&[9, 0, 1, 0]).next(), Some(Err(Malformed)));
        assert_eq!(attrs(&[2, 0, 1, 0]).next(), Some(Err(Malformed)));
        assert_eq!(attrs(&[1, 0]).next(), None);
        assert_eq!(error_code(&[1, 2]), Err(Malformed));
    }
}
