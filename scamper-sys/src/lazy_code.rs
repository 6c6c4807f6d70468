//! Keeping the read-only pages of the program and its libraries out of a process's resident set
//! until they are used.
//!
//! On a read fault in a file mapping Linux maps up to `fault_around_bytes` (64 KiB: 16 pages)
//! of already-cached neighbours along with the page that faulted, so a large binary whose hot
//! code is spread thinly ends up with most of its text resident in every process. MADV_RANDOM
//! does not stop that (checked on 6.18); a mapping registered with a userfaultfd in
//! write-protect mode does (`uffd_disable_fault_around` in mm/memory.c). With
//! `UFFD_FEATURE_WP_ASYNC` (Linux 6.7+) such a registration needs no fault-handling thread, and
//! since we never write-protect a page nothing is ever reported on the descriptor: it only
//! makes read faults map the one page that was touched. Where the kernel refuses, the pages
//! are still dropped once, so code used only during start-up stops counting.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// `struct uffdio_api` from <linux/userfaultfd.h>.
#[repr(C)]
struct UffdioApi {
    api: u64,
    features: u64,
    ioctls: u64,
}

/// `struct uffdio_register` from <linux/userfaultfd.h>.
#[repr(C)]
struct UffdioRegister {
    start: u64,
    len: u64,
    mode: u64,
    ioctls: u64,
}

const UFFD_API: u64 = 0xaa;
const UFFD_USER_MODE_ONLY: libc::c_int = 1;
const UFFD_FEATURE_WP_ASYNC: u64 = 1 << 15;
const UFFDIO_REGISTER_MODE_WP: u64 = 1 << 1;
// _IOWR(0xaa, 0x3f, struct uffdio_api) and _IOWR(0xaa, 0x00, struct uffdio_register), in the
// generic _IOC layout (not that of powerpc, mips or sparc).
const GENERIC_IOCTL_LAYOUT: bool = cfg!(any(
    target_arch = "x86_64",
    target_arch = "x86",
    target_arch = "aarch64",
    target_arch = "arm",
    target_arch = "riscv64",
    target_arch = "loongarch64",
    target_arch = "s390x"
));
const UFFDIO_API: libc::c_ulong = 0xc018_aa3f;
const UFFDIO_REGISTER: libc::c_ulong = 0xc020_aa00;
const DT_NULL: i64 = 0;
const DT_TEXTREL: i64 = 22;
const DT_FLAGS: i64 = 30;
const DF_TEXTREL: u64 = 0x4;

/// A loaded object's program segment, as the dynamic loader reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    /// Run-time address of the first byte (load bias + p_vaddr).
    pub start: usize,
    /// p_memsz.
    pub len: usize,
    /// The segment is writable (PF_W): its pages may hold private changes.
    pub writable: bool,
}

/// The page-aligned ranges that hold only bytes of non-writable segments. Each segment is cut
/// to the whole pages inside it, so a page shared with a neighbouring (possibly written)
/// segment is never included. Objects with text relocations were written to by the loader and
/// must be passed with `textrel` set: they give no ranges.
pub fn read_only_ranges(segments: &[Segment], textrel: bool, page: usize) -> Vec<(usize, usize)> {
    if textrel {
        return Vec::new();
    }
    segments
        .iter()
        .filter(|s| !s.writable && s.len > 0)
        .filter_map(|s| {
            let start = s.start.checked_add(page - 1)? / page * page;
            let end = s.start.checked_add(s.len)? / page * page;
            (end > start).then_some((start, end - start))
        })
        .collect()
}

/// What [`LazyCode::start`] did.
#[derive(Debug, Default)]
pub struct LazyCode {
    /// Keeps the registration (and so the single-page faults) alive: closing a userfaultfd
    /// unregisters its ranges.
    uffd: Option<OwnedFd>,
    ranges: usize,
    dropped_bytes: usize,
}

impl LazyCode {
    /// Drops the resident pages of every loaded object's non-writable segments from this
    /// process's page tables (they are clean copies of file pages, so they come back from the
    /// page cache when next touched) and, where the kernel supports it, makes those faults map
    /// one page each from now on. Keep the returned value for as long as the process runs.
    ///
    /// Best effort: what the kernel refuses is skipped. Other threads may run meanwhile (their
    /// pages just fault back).
    ///
    /// After a fork, the child must drop the parent's value at once (and call `start` itself if
    /// it wants the same): the descriptor inside acts on the address space of the process that
    /// created it, so a confined child holding it could reach into its parent's memory.
    pub fn start() -> LazyCode {
        LazyCode::start_with(open_uffd(UFFD_FEATURE_WP_ASYNC))
    }

    /// [`LazyCode::start`] with the userfaultfd (if any) already opened.
    fn start_with(uffd: Option<OwnedFd>) -> LazyCode {
        let done = visit_loaded_objects(uffd.as_ref());
        let (registered, ranges, dropped_bytes) = (done.registered, done.ranges, done.dropped);
        LazyCode {
            uffd: if registered > 0 { uffd } else { None },
            ranges,
            dropped_bytes,
        }
    }

    /// Drops the pages again (those touched since are mapped now), e.g. when a phase of
    /// start-up code is over. Returns the bytes of address space dropped.
    ///
    /// In a child of a fork, call [`LazyCode::start`] instead: a child does not inherit the
    /// registration.
    pub fn drop_resident(&self) -> usize {
        visit_loaded_objects(None).dropped
    }

    /// Keeps the registration for the rest of the process's life, exit path included. Closing
    /// the descriptor earlier would bring back fault-around for the code that runs at exit
    /// (raising the resident set at the very end) and make the kernel unregister every range
    /// one by one; at exit it is closed after the address space is gone, which skips that.
    pub fn keep_until_exit(self) {
        std::mem::forget(self);
    }

    /// Whether faults in these ranges now map a single page (the kernel accepted the
    /// userfaultfd registration).
    pub fn single_page_faults(&self) -> bool {
        self.uffd.is_some()
    }

    /// Number of read-only ranges [`LazyCode::start`] found in the loaded objects.
    pub fn ranges(&self) -> usize {
        self.ranges
    }

    /// Bytes of address space whose pages [`LazyCode::start`] dropped.
    pub fn dropped_bytes(&self) -> usize {
        self.dropped_bytes
    }
}

/// One pass over the loaded objects: what it found and did.
struct Visit<'a> {
    uffd: Option<&'a OwnedFd>,
    page: usize,
    ranges: usize,
    registered: usize,
    dropped: usize,
}

/// Registers (if `uffd` is given) and drops the read-only ranges of every loaded object except
/// the vDSO. The work is done inside dl_iterate_phdr's callback, which runs under the loader's
/// lock: no object can be unloaded (and its addresses reused) between finding a range and
/// dropping it.
fn visit_loaded_objects(uffd: Option<&OwnedFd>) -> Visit<'_> {
    let mut visit = Visit {
        uffd,
        page: page_size(),
        ranges: 0,
        registered: 0,
        dropped: 0,
    };
    // SAFETY: the callback only reads the dl_phdr_info the loader passes for the duration of
    // the call and updates the Visit that `data` points to, which outlives the call.
    unsafe {
        libc::dl_iterate_phdr(Some(visit_object), (&mut visit as *mut Visit<'_>).cast());
    }
    visit
}

unsafe extern "C" fn visit_object(
    info: *mut libc::dl_phdr_info,
    _size: libc::size_t,
    data: *mut libc::c_void,
) -> libc::c_int {
    // SAFETY (whole function): the loader passes a valid dl_phdr_info whose dlpi_phdr points at
    // dlpi_phnum program headers of an object mapped at dlpi_addr; `data` is our Visit. Nothing
    // here can unwind (no panicking operations), as unwinding out of a C callback would abort.
    let info = &*info;
    let visit = &mut *(data as *mut Visit<'_>);
    let bias = info.dlpi_addr as usize;
    // The vDSO is a kernel-provided special mapping: leave it alone.
    if bias != 0 && bias as libc::c_ulong == libc::getauxval(libc::AT_SYSINFO_EHDR) {
        return 0;
    }
    if info.dlpi_phdr.is_null() {
        return 0;
    }
    let phdrs = std::slice::from_raw_parts(info.dlpi_phdr, info.dlpi_phnum as usize);
    let mut textrel = false;
    let mut segments = Vec::new();
    for ph in phdrs {
        match ph.p_type {
            libc::PT_LOAD => segments.push(Segment {
                start: bias.wrapping_add(ph.p_vaddr as usize),
                len: ph.p_memsz as usize,
                writable: ph.p_flags & libc::PF_W != 0,
            }),
            libc::PT_DYNAMIC => {
                textrel = has_textrel(bias.wrapping_add(ph.p_vaddr as usize) as *const [i64; 2])
            }
            _ => {}
        }
    }
    for (start, len) in read_only_ranges(&segments, textrel, visit.page) {
        visit.ranges += 1;
        if let Some(fd) = visit.uffd {
            if register_wp(fd, start, len) {
                visit.registered += 1;
            }
        }
        // SAFETY: (start, len) lies, page-aligned, inside a non-writable PT_LOAD segment of an
        // object that is loaded (the loader's lock is held) and has no text relocations, so its
        // pages are unmodified private copies of the file (or the zero page): MADV_DONTNEED
        // only unmaps them, and the next access maps the same bytes again from the file. No
        // Rust reference can observe a difference.
        if libc::madvise(start as *mut libc::c_void, len, libc::MADV_DONTNEED) == 0 {
            visit.dropped += len;
        }
    }
    0
}

fn page_size() -> usize {
    // SAFETY: sysconf has no memory-safety preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if n > 0 {
        n as usize
    } else {
        4096
    }
}

/// Whether a loaded object's dynamic section asks for text relocations.
///
/// # Safety
/// `dynamic` must point at the object's mapped, DT_NULL-terminated dynamic section.
unsafe fn has_textrel(mut dynamic: *const [i64; 2]) -> bool {
    loop {
        let [tag, val] = *dynamic;
        match tag {
            DT_NULL => return false,
            DT_TEXTREL => return true,
            DT_FLAGS if val as u64 & DF_TEXTREL != 0 => return true,
            _ => {}
        }
        dynamic = dynamic.add(1);
    }
}

/// A userfaultfd with `features` (for us: write-protect registrations handled entirely by the
/// kernel), or None if this kernel (or its policy: seccomp, LSM, an old kernel without the
/// feature or without UFFD_USER_MODE_ONLY) does not offer one. User-mode-only: a fault the
/// kernel itself takes (copy_from_user) is never handed to a userfaultfd reader.
fn open_uffd(features: u64) -> Option<OwnedFd> {
    // The ioctl numbers below use the generic _IOC layout; other architectures go without.
    if !GENERIC_IOCTL_LAYOUT {
        return None;
    }
    // SAFETY: plain system call; a non-negative result is a new descriptor we own.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_userfaultfd,
            libc::O_CLOEXEC | libc::O_NONBLOCK | UFFD_USER_MODE_ONLY,
        )
    };
    if fd < 0 {
        return None;
    }
    // SAFETY: fd was just returned by userfaultfd and is owned by nobody else.
    let fd = unsafe { OwnedFd::from_raw_fd(fd as libc::c_int) };
    let mut api = UffdioApi {
        api: UFFD_API,
        features,
        ioctls: 0,
    };
    // SAFETY: UFFDIO_API reads and writes one struct uffdio_api, which `api` is.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), UFFDIO_API, &mut api as *mut UffdioApi) };
    (rc == 0 && api.features & features == features).then_some(fd)
}

fn register_wp(fd: &OwnedFd, start: usize, len: usize) -> bool {
    let mut reg = UffdioRegister {
        start: start as u64,
        len: len as u64,
        mode: UFFDIO_REGISTER_MODE_WP,
        ioctls: 0,
    };
    // SAFETY: UFFDIO_REGISTER reads and writes one struct uffdio_register, which `reg` is. It
    // changes no page contents, only how faults in the range are handled.
    unsafe {
        libc::ioctl(
            fd.as_raw_fd(),
            UFFDIO_REGISTER,
            &mut reg as *mut UffdioRegister,
        ) == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Seek, SeekFrom, Write};

    const PAGE: usize = 4096;

    fn seg(start: usize, len: usize, writable: bool) -> Segment {
        Segment {
            start,
            len,
            writable,
        }
    }

    #[test]
    fn ranges_are_the_whole_pages_inside_read_only_segments() {
        let segs = [
            seg(0x0, 0x1452d0, false),
            seg(0x146300, 0x32ac50, false),
            seg(0x471f50, 0x1c0b0, true),
            seg(0x48ebd8, 0xf78, true),
        ];
        assert_eq!(
            read_only_ranges(&segs, false, PAGE),
            vec![(0x0, 0x145000), (0x147000, 0x470000 - 0x147000)]
        );
    }

    #[test]
    fn objects_with_text_relocations_and_tiny_segments_give_nothing() {
        let segs = [seg(0x1000, 0x5000, false)];
        assert!(read_only_ranges(&segs, true, PAGE).is_empty());
        assert!(read_only_ranges(&[seg(0x1100, 0xf00, false)], false, PAGE).is_empty());
        assert!(read_only_ranges(&[seg(usize::MAX - 10, 0x5000, false)], false, PAGE).is_empty());
    }

    /// Sixty-four pages of constants in this test binary's read-only data.
    static PAGES: [u8; 64 * PAGE] = [7; 64 * PAGE];

    fn resident(addr: usize) -> bool {
        let mut f = std::fs::File::open("/proc/self/pagemap").unwrap();
        f.seek(SeekFrom::Start((addr / PAGE * 8) as u64)).unwrap();
        let mut e = [0u8; 8];
        f.read_exact(&mut e).unwrap();
        u64::from_le_bytes(e) >> 63 == 1
    }

    fn touch(addr: usize) {
        // SAFETY: addr lies inside PAGES.
        std::hint::black_box(unsafe { std::ptr::read_volatile(addr as *const u8) });
    }

    #[test]
    fn a_feature_the_kernel_does_not_know_gives_no_descriptor() {
        // What an old kernel answers for WP_ASYNC: UFFDIO_API fails, and we go without.
        assert!(open_uffd(1 << 62).is_none());
    }

    /// The environment variable that makes [`refused_userfaultfd_in_a_child`] do its work.
    const CHILD_VAR: &str = "SCAMPER_SYS_LAZY_CODE_SECCOMP_CHILD";

    #[test]
    fn falls_back_to_dropping_pages_when_userfaultfd_is_refused() {
        // A seccomp filter is for the rest of a thread's life, so the refusal runs in a child
        // process: this test binary, running only the ignored test below.
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "lazy_code::tests::refused_userfaultfd_in_a_child",
            ])
            .args(["--ignored", "--test-threads=1"])
            .env(CHILD_VAR, "1")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("1 passed"),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Refuses userfaultfd with EPERM (as systemd's SystemCallFilter does), then checks that
    /// LazyCode still drops pages and the program still runs.
    #[test]
    #[ignore = "run in a child process by falls_back_to_dropping_pages_when_userfaultfd_is_refused"]
    fn refused_userfaultfd_in_a_child() {
        assert!(
            std::env::var_os(CHILD_VAR).is_some(),
            "run by its parent test only"
        );
        refuse_userfaultfd();
        assert!(open_uffd(UFFD_FEATURE_WP_ASYNC).is_none());
        let lazy = LazyCode::start();
        assert!(!lazy.single_page_faults());
        assert!(lazy.ranges() > 0 && lazy.dropped_bytes() > 0);
        let a = (PAGES.as_ptr() as usize).div_ceil(PAGE) * PAGE + 30 * PAGE;
        assert!(!resident(a));
        touch(a);
        assert!(resident(a));
        assert_eq!(PAGES[30 * PAGE + 1], 7);
    }

    /// Installs, for this thread, a seccomp filter that fails userfaultfd(2) with EPERM.
    fn refuse_userfaultfd() {
        let stmt = |code: u32, k: u32| libc::sock_filter {
            code: code as u16,
            jt: 0,
            jf: 0,
            k,
        };
        let jeq = |k: u32, jt: u8, jf: u8| libc::sock_filter {
            code: (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16,
            jt,
            jf,
            k,
        };
        let mut prog = [
            // seccomp_data.nr is at offset 0.
            stmt(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, 0),
            jeq(libc::SYS_userfaultfd as u32, 0, 1),
            stmt(
                libc::BPF_RET | libc::BPF_K,
                libc::SECCOMP_RET_ERRNO | libc::EPERM as u32,
            ),
            stmt(libc::BPF_RET | libc::BPF_K, libc::SECCOMP_RET_ALLOW),
        ];
        let fprog = libc::sock_fprog {
            len: prog.len() as u16,
            filter: prog.as_mut_ptr(),
        };
        // SAFETY: prctl with a valid, live filter program; it only restricts this thread.
        unsafe {
            assert_eq!(libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
            assert_eq!(
                libc::prctl(
                    libc::PR_SET_SECCOMP,
                    libc::SECCOMP_MODE_FILTER,
                    &fprog as *const libc::sock_fprog
                ),
                0
            );
        }
    }

    #[test]
    fn drops_read_only_pages_and_maps_them_back_one_at_a_time() {
        if page_size() != PAGE {
            return;
        }
        let base = (PAGES.as_ptr() as usize).div_ceil(PAGE) * PAGE;
        let (a, b) = (base + 16 * PAGE, base + 17 * PAGE);
        touch(a);
        assert!(resident(a));
        let lazy = LazyCode::start();
        assert!(lazy.ranges() > 0 && lazy.dropped_bytes() > 0);
        assert!(!resident(a), "the page was not dropped");
        touch(a);
        assert!(resident(a));
        assert_eq!(PAGES[16 * PAGE + 5], 7);
        if lazy.single_page_faults() {
            assert!(!resident(b), "a neighbouring page was faulted in too");
        }
        assert!(lazy.drop_resident() > 0);
        assert!(!resident(a), "the page was not dropped again");
        touch(b);
        assert!(resident(b));
        if lazy.single_page_faults() {
            assert!(!resident(a), "the registration did not last");
        }
        // The kernel itself reading a dropped page (here: write(2) from it) faults it back in.
        let c = base + 20 * PAGE;
        assert!(!resident(c));
        let mut f = crate::tests::tempfile_with(&[]);
        f.write_all(&PAGES[20 * PAGE..21 * PAGE]).unwrap();
        f.rewind().unwrap();
        let mut back = Vec::new();
        f.read_to_end(&mut back).unwrap();
        assert!(back.len() == PAGE && back.iter().all(|&x| x == 7));
    }
}
