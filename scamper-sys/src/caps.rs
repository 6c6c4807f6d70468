//! The calling thread's capability sets, cleared and checked with capget(2), capset(2) and
//! prctl(2) directly: the permitted, effective and inheritable sets with one call for all three,
//! the bounding and ambient sets (which have no bulk interface) one capability at a time, up to
//! the last one this kernel knows.

use std::io::{Error, ErrorKind, Result};

/// `_LINUX_CAPABILITY_VERSION_3`: 64-bit sets, as two 32-bit halves.
const VERSION_3: u32 = 0x2008_0522;

/// `struct __user_cap_header_struct`.
#[repr(C)]
struct Header {
    version: u32,
    pid: libc::c_int,
}

/// `struct __user_cap_data_struct`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct Data {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// Capability numbers are below this (the kernel answers EINVAL past its last one).
const CAP_LIMIT: libc::c_ulong = 64;

/// Empty the permitted, effective and inheritable sets (one capset).
pub fn clear_process_sets() -> Result<()> {
    let mut header = Header {
        version: VERSION_3,
        pid: 0,
    };
    let data = [Data::default(); 2];
    // SAFETY: capset reads one header and, for version 3, two data structs, which `header` and
    // `data` are; both outlive the call.
    let rc = unsafe { libc::syscall(libc::SYS_capset, &mut header as *mut Header, data.as_ptr()) };
    if rc != 0 {
        return Err(Error::last_os_error());
    }
    Ok(())
}

/// Whether the permitted, effective and inheritable sets are all empty (one capget).
pub fn process_sets_empty() -> Result<bool> {
    let mut header = Header {
        version: VERSION_3,
        pid: 0,
    };
    let mut data = [Data::default(); 2];
    // SAFETY: capget writes one header and, for version 3, two data structs, which `header`
    // and `data` are; both outlive the call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_capget,
            &mut header as *mut Header,
            data.as_mut_ptr(),
        )
    };
    if rc != 0 {
        return Err(Error::last_os_error());
    }
    Ok(data
        .iter()
        .all(|d| d.effective == 0 && d.permitted == 0 && d.inheritable == 0))
}

/// prctl with integer arguments; Ok(None) for EINVAL (a capability past the kernel's last).
fn prctl(option: libc::c_int, a2: libc::c_ulong, a3: libc::c_ulong) -> Result<Option<i32>> {
    // SAFETY: the options used here take integer arguments only and touch no memory of ours.
    let rc = unsafe { libc::prctl(option, a2, a3, 0 as libc::c_ulong, 0 as libc::c_ulong) };
    if rc >= 0 {
        return Ok(Some(rc));
    }
    let e = Error::last_os_error();
    if e.raw_os_error() == Some(libc::EINVAL) {
        return Ok(None);
    }
    Err(e)
}

/// Calls `f` for each capability this kernel knows (0 up to its last), stopping at the first
/// error or `Some(false)`.
fn each_cap(mut f: impl FnMut(libc::c_ulong) -> Result<Option<bool>>) -> Result<bool> {
    for cap in 0..CAP_LIMIT {
        match f(cap)? {
            Some(true) => {}
            Some(false) => return Ok(false),
            // Past the last capability: capability 0 always exists, so at least one was seen.
            None if cap > 0 => return Ok(true),
            None => return Err(Error::new(ErrorKind::Unsupported, "no capabilities")),
        }
    }
    Ok(true)
}

/// Remove every capability from the bounding set (needs CAP_SETPCAP).
pub fn drop_bounding_set() -> Result<()> {
    each_cap(|cap| Ok(prctl(libc::PR_CAPBSET_DROP, cap, 0)?.map(|_| true))).map(drop)
}

/// Whether the bounding set is empty.
pub fn bounding_set_empty() -> Result<bool> {
    each_cap(|cap| Ok(prctl(libc::PR_CAPBSET_READ, cap, 0)?.map(|held| held == 0)))
}

/// Empty the ambient set.
pub fn clear_ambient_set() -> Result<()> {
    match prctl(
        libc::PR_CAP_AMBIENT,
        libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
        0,
    )? {
        Some(_) => Ok(()),
        None => Err(Error::new(
            ErrorKind::Unsupported,
            "no ambient capabilities",
        )),
    }
}

/// Whether the ambient set is empty.
pub fn ambient_set_empty() -> Result<bool> {
    each_cap(|cap| {
        let held = prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_IS_SET as libc::c_ulong,
            cap,
        )?;
        Ok(held.map(|h| h == 0))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process_sets() {
        // Whatever this test runs as, the queries work and agree with /proc/self/status.
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let field = |name: &str| {
            let v = status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .unwrap()
                .trim();
            u64::from_str_radix(v, 16).unwrap()
        };
        assert_eq!(
            process_sets_empty().unwrap(),
            field("CapEff:") == 0 && field("CapPrm:") == 0 && field("CapInh:") == 0
        );
        assert_eq!(bounding_set_empty().unwrap(), field("CapBnd:") == 0);
        assert_eq!(ambient_set_empty().unwrap(), field("CapAmb:") == 0);
    }
}
