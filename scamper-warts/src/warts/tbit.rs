//! Tbit objects (type 11, warts.md section 9): params, packets, then typed sub-structures
//! (test data, application data) ending with a zero u16.

use crate::error::{Error, Result};
use crate::tbit::*;
use crate::warts::sniff::write_pkt;
use crate::warts::{ReadState, WriteState};
use crate::wire::cursor::PutExt;
use crate::wire::{AddrIn, AddrOut, Cursor, ParamsIn, ParamsOut};

const STRUCT_TYPE: u16 = 1;
const STRUCT_APP: u16 = 2;

pub(crate) fn read(st: &ReadState, c: &mut Cursor<'_>) -> Result<Tbit> {
    let mut at = AddrIn::new(&st.global_addrs);
    let mut t = Tbit::default();
    let (mut pktc16, mut pktc) = (0u16, 0u32);
    let mut pr = ParamsIn::read(c, 22)?;
    while let Some(f) = pr.next() {
        let v = &mut pr.v;
        match f {
            1 => {
                let id = v.u32()?;
                t.list = st.list(v, id)?;
            }
            2 => {
                let id = v.u32()?;
                t.cycle = st.cycle(v, id)?;
            }
            3 => t.userid = v.u32()?,
            4 => t.src = Some(at.read(v)?),
            5 => t.dst = Some(at.read(v)?),
            6 => t.sport = v.u16()?,
            7 => t.dport = v.u16()?,
            8 => t.start = v.timeval()?,
            9 => t.result = TbitResult(v.u16()?),
            10 => t.kind = TbitType(v.u8()?),
            11 => t.app_proto = v.u8()?,
            12 => t.client_mss = v.u16()?,
            13 => t.server_mss = v.u16()?,
            14 => t.synretx = v.u8()?,
            15 => t.dataretx = v.u8()?,
            16 => pktc16 = v.u16()?,
            17 => pktc = v.u32()?,
            18 => {
                let n = v.u8()?;
                if n > 16 {
                    return Err(v.err(format!("fast-open cookie of {n} bytes")));
                }
                t.fo_cookie = v.bytes(usize::from(n))?.to_vec();
            }
            19 => t.client_wscale = v.u8()?,
            20 => t.options = v.u32()?,
            21 => t.client_ipttl = v.u8()?,
            _ => t.errmsg = Some(v.string()?),
        }
    }
    if t.src.is_none() || t.dst.is_none() {
        return Err(c.err("tbit without source or destination"));
    }
    if pktc == 0 {
        pktc = u32::from(pktc16);
    }
    for _ in 0..pktc {
        let off = c.offset();
        let mut p = TbitPkt::default();
        let mut len = 0u16;
        let mut pr = ParamsIn::read(c, 4)?;
        while let Some(f) = pr.next() {
            match f {
                1 => p.dir = pr.v.u8()?,
                2 => p.tv = pr.v.timeval()?,
                3 => len = pr.v.u16()?,
                _ => p.data = pr.v.bytes(usize::from(len))?.to_vec(),
            }
        }
        if p.data.is_empty() {
            return Err(Error::format(off, "tbit packet without data"));
        }
        t.pkts.push(p);
    }
    loop {
        let off = c.offset();
        let kind = c.u16()?;
        if kind == 0 {
            break;
        }
        let len = c.u32()?;
        let mut body = c.sub(len as usize)?;
        match kind {
            STRUCT_TYPE => t.type_data = Some(read_type(&mut body, &mut at, t.kind, off)?),
            STRUCT_APP => t.app = Some(read_app(&mut body, t.app_proto, off)?),
            _ => return Err(Error::format(off, format!("unknown tbit structure {kind}"))),
        }
    }
    Ok(t)
}

fn read_type(
    c: &mut Cursor<'_>,
    at: &mut AddrIn<'_>,
    kind: TbitType,
    off: u64,
) -> Result<TbitTypeData> {
    Ok(match kind {
        TbitType::PMTUD => {
            let (mut mtu, mut ptb_retx, mut options, mut ptbsrc) = (0, 0, 0, None);
            let mut pr = ParamsIn::read(c, 4)?;
            while let Some(f) = pr.next() {
                let v = &mut pr.v;
                match f {
                    1 => mtu = v.u16()?,
                    2 => ptb_retx = v.u8()?,
                    3 => options = v.u8()?,
                    _ => ptbsrc = Some(at.read(v)?),
                }
            }
            TbitTypeData::Pmtud {
                mtu,
                ptb_retx,
                options,
                ptbsrc,
            }
        }
        TbitType::NULL => {
            let (mut options, mut results) = (0, 0);
            let mut pr = ParamsIn::read(c, 2)?;
            while let Some(f) = pr.next() {
                match f {
                    1 => options = pr.v.u16()?,
                    _ => results = pr.v.u16()?,
                }
            }
            TbitTypeData::Null { options, results }
        }
        TbitType::ICW => {
            let mut start_seq = 0;
            let mut pr = ParamsIn::read(c, 1)?;
            while pr.next().is_some() {
                start_seq = pr.v.u32()?;
            }
            TbitTypeData::Icw { start_seq }
        }
        k if k.is_blind() => {
            let (mut off, mut retx) = (0, 0);
            let mut pr = ParamsIn::read(c, 2)?;
            while let Some(f) = pr.next() {
                match f {
                    1 => off = pr.v.u32()? as i32,
                    _ => retx = pr.v.u8()?,
                }
            }
            TbitTypeData::Blind { off, retx }
        }
        k => {
            return Err(Error::format(
                off,
                format!("tbit type {} has no test data", k.0),
            ))
        }
    })
}

fn read_app(c: &mut Cursor<'_>, proto: u8, off: u64) -> Result<TbitApp> {
    Ok(match proto {
        1 => {
            let (mut host, mut file, mut kind) = (None, None, 0);
            let mut pr = ParamsIn::read(c, 3)?;
            while let Some(f) = pr.next() {
                match f {
                    1 => host = Some(pr.v.string()?),
                    2 => file = Some(pr.v.string()?),
                    _ => kind = pr.v.u8()?,
                }
            }
            TbitApp::Http { host, file, kind }
        }
        5 => {
            let mut asn = 0;
            let mut pr = ParamsIn::read(c, 1)?;
            while pr.next().is_some() {
                asn = pr.v.u32()?;
            }
            TbitApp::Bgp { asn }
        }
        p => {
            return Err(Error::format(
                off,
                format!("tbit application {p} has no data"),
            ))
        }
    })
}

pub(crate) fn write(
    st: &mut WriteState,
    t: &Tbit,
    side: &mut Vec<u8>,
    out: &mut Vec<u8>,
) -> Result<()> {
    let (Some(src), Some(dst)) = (&t.src, &t.dst) else {
        return Err(Error::Encode("tbit without source or destination".into()));
    };
    let mut at = AddrOut::default();
    let mut pa = ParamsOut::new();
    if let Some(l) = &t.list {
        pa.u32(1, st.list_id(l, side)?);
    }
    if let Some(cy) = &t.cycle {
        pa.u32(2, st.cycle_id(cy, side)?);
    }
    if t.userid != 0 {
        pa.u32(3, t.userid);
    }
    pa.addr(4, src, &mut at);
    pa.addr(5, dst, &mut at);
    pa.u16(6, t.sport);
    pa.u16(7, t.dport);
    pa.tv(8, &t.start);
    pa.u16(9, t.result.0);
    pa.u8(10, t.kind.0);
    pa.u8(11, t.app_proto);
    pa.u16(12, t.client_mss);
    pa.u16(13, t.server_mss);
    pa.u8(14, t.synretx);
    pa.u8(15, t.dataretx);
    let pktc = u32::try_from(t.pkts.len())
        .map_err(|_| Error::Encode("more than 2^32 tbit packets".into()))?;
    pa.u32(17, pktc);
    if !t.fo_cookie.is_empty() {
        if t.fo_cookie.len() > 16 {
            return Err(Error::Encode(format!(
                "fast-open cookie of {} bytes",
                t.fo_cookie.len()
            )));
        }
        let b = pa.raw(18);
        b.put_u8(t.fo_cookie.len() as u8);
        b.extend_from_slice(&t.fo_cookie);
    }
    if t.client_wscale != 0 {
        pa.u8(19, t.client_wscale);
    }
    if t.options != 0 {
        pa.u32(20, t.options);
    }
    if t.client_ipttl != 255 {
        pa.u8(21, t.client_ipttl);
    }
    if let Some(e) = &t.errmsg {
        pa.str(22, e);
    }
    pa.finish(out)?;
    for p in &t.pkts {
        write_pkt(out, &p.tv, &p.data, Some(p.dir))?;
    }
    if let Some(d) = &t.type_data {
        let mut b = Vec::new();
        write_type(d, t.kind, &mut at, &mut b)?;
        put_struct(out, STRUCT_TYPE, &b);
    }
    if let Some(a) = &t.app {
        let mut b = Vec::new();
        write_app(a, t.app_proto, &mut b)?;
        put_struct(out, STRUCT_APP, &b);
    }
    out.put_u16(0);
    Ok(())
}

fn put_struct(out: &mut Vec<u8>, kind: u16, body: &[u8]) {
    out.put_u16(kind);
    out.put_u32(body.len() as u32);
    out.extend_from_slice(body);
}

fn write_type(d: &TbitTypeData, kind: TbitType, at: &mut AddrOut, b: &mut Vec<u8>) -> Result<()> {
    let mut pa = ParamsOut::new();
    let ok = match d {
        TbitTypeData::Pmtud {
            mtu,
            ptb_retx,
            options,
            ptbsrc,
        } => {
            if *mtu != 0 {
                pa.u16(1, *mtu);
            }
            if *ptb_retx != 0 {
                pa.u8(2, *ptb_retx);
            }
            if *options != 0 {
                pa.u8(3, *options);
            }
            if let Some(a) = ptbsrc {
                pa.addr(4, a, at);
            }
            kind == TbitType::PMTUD
        }
        TbitTypeData::Null { options, results } => {
            if *options != 0 {
                pa.u16(1, *options);
            }
            if *results != 0 {
                pa.u16(2, *results);
            }
            kind == TbitType::NULL
        }
        TbitTypeData::Icw { start_seq } => {
            if *start_seq != 0 {
                pa.u32(1, *start_seq);
            }
            kind == TbitType::ICW
        }
        TbitTypeData::Blind { off, retx } => {
            if *off != 0 {
                pa.u32(1, *off as u32);
            }
            if *retx != 0 {
                pa.u8(2, *retx);
            }
            kind.is_blind()
        }
    };
    if !ok {
        return Err(Error::Encode(format!(
            "tbit test data does not match type {}",
            kind.0
        )));
    }
    pa.finish(b)
}

fn write_app(a: &TbitApp, proto: u8, b: &mut Vec<u8>) -> Result<()> {
    let mut pa = ParamsOut::new();
    let ok = match a {
        TbitApp::Http { host, file, kind } => {
            if let Some(s) = host {
                pa.str(1, s);
            }
            if let Some(s) = file {
                pa.str(2, s);
            }
            if *kind != 0 {
                pa.u8(3, *kind);
            }
            proto == 1
        }
        TbitApp::Bgp { asn } => {
            if *asn != 0 {
                pa.u32(1, *asn);
            }
            proto == 5
        }
    };
    if !ok {
        return Err(Error::Encode(format!(
            "tbit application data does not match protocol {proto}"
        )));
    }
    pa.finish(b)
}
