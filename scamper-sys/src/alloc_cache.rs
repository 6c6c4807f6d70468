//! A per-thread cache of freed small heap blocks in front of the system allocator.
//!
//! The prober starts and finishes thousands of tasks a second, each with a dozen small heap
//! objects (the task, its probe packet, the record, reply lists), and they are freed in bursts
//! about a second after they were made. glibc's own per-thread cache keeps only 7 blocks per
//! size, so most of those frees and the allocations after them went through its slower bins
//! (`_int_free`, `_int_malloc`, `malloc_consolidate`: a tenth of the prober's instructions).
//! This cache keeps freed blocks of up to [`MAX_SIZE`] bytes in per-size-class lists, up to
//! [`BUDGET`] bytes per thread, and hands them out again before asking the system.
//!
//! Install it in a binary with
//! `#[global_allocator] static ALLOC: scamper_sys::alloc_cache::CachingAlloc = CachingAlloc::new();`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::ptr;

/// Size-class step, which is also the alignment every cached block has (what malloc
/// guarantees on 64-bit Linux).
const GRAIN: usize = 16;
/// The smallest class. Classes are the usable sizes of glibc's chunks (24, 40, 56, ...: a
/// multiple of 16 less the 8-byte header), so rounding a request up to its class costs no
/// memory over what malloc would have used for it.
const SMALLEST: usize = 24;
/// Number of size classes.
const CLASSES: usize = 64;
/// Largest size the cache handles (1032, also glibc's own cache limit); larger blocks go
/// straight to the system allocator.
pub const MAX_SIZE: usize = SMALLEST + GRAIN * (CLASSES - 1);
/// Bytes of freed blocks one thread keeps at most; beyond that, frees go to the system.
pub const BUDGET: usize = 256 * 1024;

/// Free lists of one thread: the head of each class's singly linked list (the link is stored
/// in the first word of each free block) and the bytes they hold.
///
/// The whole state machine: a freed block of class i is pushed on list i while the thread's
/// total stays within BUDGET, else given to the system; an allocation of class i pops list i,
/// else asks the system for a block of the class's size. Every block, cached or not, is a
/// malloc block of its class size, so any thread may free it to any list or to the system.
/// At thread exit the destructor gives every cached block back to the system; after that
/// (and during other threads-local destructors that run later) `try_with` fails and every
/// call goes straight to the system.
struct Lists {
    heads: [Cell<*mut u8>; CLASSES],
    bytes: Cell<usize>,
}

/// Blocks handed back by thread-exit destructors (tests check that they are).
#[cfg(test)]
static RETURNED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

impl Drop for Lists {
    fn drop(&mut self) {
        for (index, head) in self.heads.iter().enumerate() {
            let layout = block_layout(SMALLEST + index * GRAIN);
            let mut p = head.replace(ptr::null_mut());
            while !p.is_null() {
                // SAFETY: `p` is a cached free block of this class (see `push`): its first
                // word links to the next one, and it came from the system with `layout`.
                unsafe {
                    let next = p.cast::<*mut u8>().read();
                    System.dealloc(p, layout);
                    p = next;
                }
                #[cfg(test)]
                RETURNED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
        self.bytes.set(0);
    }
}

thread_local! {
    // The destructor is registered with glibc's __cxa_thread_atexit_impl on first use, which
    // allocates (if at all) with libc's own calloc, never through this allocator.
    static LISTS: Lists = const {
        Lists {
            heads: [const { Cell::new(ptr::null_mut()) }; CLASSES],
            bytes: Cell::new(0),
        }
    };
}

/// The caching allocator (see the module documentation).
#[derive(Debug, Default, Clone, Copy)]
pub struct CachingAlloc;

impl CachingAlloc {
    pub const fn new() -> CachingAlloc {
        CachingAlloc
    }
}

/// The class of a layout the cache handles: index and block size.
fn class_of(layout: Layout) -> Option<(usize, usize)> {
    let size = layout.size();
    if size == 0 || size > MAX_SIZE || layout.align() > GRAIN {
        return None;
    }
    let index = size.saturating_sub(SMALLEST - GRAIN + 1) / GRAIN;
    Some((index, SMALLEST + index * GRAIN))
}

/// The layout a block of class size `block` was obtained from the system with.
fn block_layout(block: usize) -> Layout {
    // GRAIN is a power of two and `block` a small multiple of it: never fails.
    Layout::from_size_align(block, GRAIN).unwrap_or(Layout::new::<u8>())
}

/// Take a cached block of class `index`, if there is one.
fn pop(index: usize, block: usize) -> *mut u8 {
    LISTS
        .try_with(|l| {
            let head = l.heads[index].get();
            if head.is_null() {
                return head;
            }
            // SAFETY: `head` is a free block of at least GRAIN bytes that this thread put in
            // the list (`push`); its first word holds the next block (or null), and nothing
            // else refers to it.
            let next = unsafe { head.cast::<*mut u8>().read() };
            l.heads[index].set(next);
            l.bytes.set(l.bytes.get() - block);
            head
        })
        .unwrap_or(ptr::null_mut())
}

/// Keep a freed block of class `index`; false if the budget is spent (the caller frees it).
fn push(index: usize, block: usize, p: *mut u8) -> bool {
    LISTS
        .try_with(|l| {
            if l.bytes.get() + block > BUDGET {
                return false;
            }
            // SAFETY: `p` is a block of `block` >= GRAIN bytes, aligned to GRAIN, that the
            // caller no longer uses (it is being deallocated); its first word becomes the link.
            unsafe { p.cast::<*mut u8>().write(l.heads[index].get()) };
            l.heads[index].set(p);
            l.bytes.set(l.bytes.get() + block);
            true
        })
        .unwrap_or(false)
}

// SAFETY: every block handed out is either a cached block of the same class (at least the
// requested size, GRAIN-aligned, freed by its previous owner) or comes from the system
// allocator with a layout at least as large and as aligned as requested; blocks are returned
// to the system with the layout they were obtained with.
unsafe impl GlobalAlloc for CachingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        match class_of(layout) {
            Some((index, block)) => {
                let p = pop(index, block);
                if p.is_null() {
                    // SAFETY: block_layout has a non-zero size.
                    unsafe { System.alloc(block_layout(block)) }
                } else {
                    p
                }
            }
            // SAFETY: forwarded as given.
            None => unsafe { System.alloc(layout) },
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        match class_of(layout) {
            Some((index, block)) => {
                let p = pop(index, block);
                if p.is_null() {
                    // SAFETY: block_layout has a non-zero size.
                    unsafe { System.alloc_zeroed(block_layout(block)) }
                } else {
                    // SAFETY: the cached block has at least layout.size() bytes.
                    unsafe { p.write_bytes(0, layout.size()) };
                    p
                }
            }
            // SAFETY: forwarded as given.
            None => unsafe { System.alloc_zeroed(layout) },
        }
    }

    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        match class_of(layout) {
            Some((index, block)) => {
                if !push(index, block, p) {
                    // SAFETY: `p` came from the system with block_layout(block).
                    unsafe { System.dealloc(p, block_layout(block)) }
                }
            }
            // SAFETY: `p` came from the system with this layout.
            None => unsafe { System.dealloc(p, layout) },
        }
    }

    unsafe fn realloc(&self, p: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY (for new_layout): the caller guarantees new_size rounded up to the alignment
        // does not overflow isize.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        match (class_of(layout), class_of(new_layout)) {
            // Still fits the block it has.
            (Some((a, _)), Some((b, _))) if a == b => p,
            // SAFETY: a block the system allocated with this layout, resized by the system.
            (None, None) => unsafe { System.realloc(p, layout, new_size) },
            _ => {
                // SAFETY: new_layout is valid (above) and has a non-zero size.
                let q = unsafe { self.alloc(new_layout) };
                if !q.is_null() {
                    // SAFETY: both blocks hold at least the smaller size and do not overlap
                    // (q is a different live block); p is then freed with its own layout.
                    unsafe {
                        ptr::copy_nonoverlapping(p, q, layout.size().min(new_size));
                        self.dealloc(p, layout);
                    }
                }
                q
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: CachingAlloc = CachingAlloc::new();

    fn layout(size: usize, align: usize) -> Layout {
        Layout::from_size_align(size, align).unwrap()
    }

    #[test]
    fn classes_round_up_to_the_grain() {
        assert_eq!(class_of(layout(1, 1)), Some((0, 24)));
        assert_eq!(class_of(layout(24, 8)), Some((0, 24)));
        assert_eq!(class_of(layout(25, 8)), Some((1, 40)));
        assert_eq!(class_of(layout(40, 16)), Some((1, 40)));
        assert_eq!(class_of(layout(41, 8)), Some((2, 56)));
        for size in 1..=MAX_SIZE {
            let (_, block) = class_of(layout(size, 1)).unwrap();
            assert!(block >= size && (block - size < GRAIN || block == SMALLEST));
            assert_eq!((block + 8) % GRAIN, 0);
        }
        assert_eq!(
            class_of(layout(MAX_SIZE, 16)),
            Some((CLASSES - 1, MAX_SIZE))
        );
        assert_eq!(class_of(layout(MAX_SIZE + 1, 8)), None);
        assert_eq!(class_of(layout(64, 32)), None);
    }

    #[test]
    fn freed_blocks_are_reused_and_keep_their_contents_intact_while_live() {
        // Runs on its own test thread, so the lists start empty.
        let l = layout(40, 8);
        unsafe {
            let a = A.alloc(l);
            let b = A.alloc(l);
            assert!(!a.is_null() && !b.is_null() && a != b);
            a.write_bytes(0xaa, 40);
            b.write_bytes(0xbb, 40);
            A.dealloc(a, l);
            // Same class (25..=40 bytes): the block just freed comes back.
            let c = A.alloc(layout(33, 16));
            assert_eq!(c, a);
            assert_eq!(c as usize % GRAIN, 0);
            assert!(std::slice::from_raw_parts(b, 40).iter().all(|&x| x == 0xbb));
            let z = {
                A.dealloc(c, layout(33, 16));
                A.alloc_zeroed(l)
            };
            assert_eq!(z, a);
            assert!(std::slice::from_raw_parts(z, 40).iter().all(|&x| x == 0));
            A.dealloc(z, l);
            A.dealloc(b, l);
        }
    }

    #[test]
    fn realloc_keeps_data_across_classes_and_sizes() {
        unsafe {
            let mut l = layout(10, 1);
            let mut p = A.alloc(l);
            for i in 0..10 {
                p.add(i).write(i as u8);
            }
            // Within the class, then to a larger class, then beyond the cache, then back.
            for size in [16, 200, MAX_SIZE + 500, 3000, 12] {
                p = A.realloc(p, l, size);
                assert!(!p.is_null());
                l = layout(size, 1);
                let kept = 10.min(size);
                for i in 0..kept {
                    assert_eq!(p.add(i).read(), i as u8, "size {size}");
                }
            }
            A.dealloc(p, l);
        }
    }

    #[test]
    fn large_alignments_and_sizes_pass_through_to_the_system() {
        assert_eq!(class_of(layout(0, 1)), None);
        unsafe {
            for (size, align) in [
                (8, 32),
                (32, 64),
                (100, 4096),
                (5000, 16),
                (MAX_SIZE + 1, 8),
            ] {
                let l = layout(size, align);
                let p = A.alloc(l);
                assert!(!p.is_null());
                assert_eq!(p as usize % align, 0, "{size}/{align}");
                p.write_bytes(0x5a, size);
                let q = A.realloc(p, l, size * 3);
                assert_eq!(q as usize % align, 0, "{size}/{align} after realloc");
                assert!(std::slice::from_raw_parts(q, size)
                    .iter()
                    .all(|&x| x == 0x5a));
                A.dealloc(q, layout(size * 3, align));
            }
        }
    }

    /// A block's address, sendable to another thread.
    struct Block(usize);

    #[test]
    fn blocks_freed_by_another_thread_are_reused_there() {
        let l = layout(100, 8);
        let made: Vec<Block> = (0..50)
            .map(|i| unsafe {
                let p = A.alloc(l);
                p.write_bytes(i as u8, 100);
                Block(p as usize)
            })
            .collect();
        let reused = std::thread::spawn(move || unsafe {
            for b in &made {
                A.dealloc(b.0 as *mut u8, l);
            }
            // LIFO: this thread's list now holds exactly the blocks it freed.
            let again: Vec<usize> = (0..50).map(|_| A.alloc(l) as usize).collect();
            let freed: std::collections::HashSet<usize> = made.iter().map(|b| b.0).collect();
            let all_reused = again.iter().all(|p| freed.contains(p));
            for &p in &again {
                (p as *mut u8).write_bytes(0xee, 100);
                A.dealloc(p as *mut u8, l);
            }
            all_reused
        })
        .join()
        .unwrap();
        assert!(reused);
    }

    #[test]
    fn thread_exit_hands_cached_blocks_back_and_later_frees_go_to_the_system() {
        thread_local! {
            // Registered before LISTS in the thread below, so destroyed after it (glibc runs
            // thread-exit destructors in reverse order): it then allocates and frees through
            // the cache with the lists gone.
            static LATE: Late = const { Late };
        }
        struct Late;
        impl Drop for Late {
            fn drop(&mut self) {
                let l = layout(64, 8);
                unsafe {
                    let p = A.alloc(l);
                    assert!(!p.is_null());
                    p.write_bytes(1, 64);
                    A.dealloc(p, l);
                }
            }
        }
        let before = RETURNED.load(std::sync::atomic::Ordering::Relaxed);
        std::thread::spawn(|| {
            LATE.with(|_| {});
            let l = layout(200, 8);
            unsafe {
                let blocks: Vec<*mut u8> = (0..20).map(|_| A.alloc(l)).collect();
                for p in blocks {
                    A.dealloc(p, l);
                }
            }
        })
        .join()
        .unwrap();
        let after = RETURNED.load(std::sync::atomic::Ordering::Relaxed);
        assert!(
            after - before >= 20,
            "{} blocks handed back",
            after - before
        );
    }

    #[test]
    fn threads_allocating_and_freeing_each_others_blocks_keep_every_byte() {
        use std::sync::{Arc, Mutex};
        // Blocks in flight between threads: address, size, fill byte.
        let shared: Arc<Mutex<Vec<(usize, usize, u8)>>> = Arc::default();
        let workers: Vec<_> = (0..4u64)
            .map(|t| {
                let shared = shared.clone();
                std::thread::spawn(move || {
                    let mut seed = t * 7919 + 1;
                    let mut rnd = move || {
                        seed ^= seed << 13;
                        seed ^= seed >> 7;
                        seed ^= seed << 17;
                        seed
                    };
                    let mut mine: Vec<(usize, usize, u8)> = Vec::new();
                    let check = |(p, size, fill): (usize, usize, u8)| unsafe {
                        let s = std::slice::from_raw_parts(p as *const u8, size);
                        assert!(s.iter().all(|&x| x == fill), "block corrupted");
                    };
                    for i in 0..20_000u32 {
                        let r = rnd();
                        match r % 5 {
                            0 | 1 => unsafe {
                                let size = (r >> 8) as usize % 1500 + 1;
                                let p = A.alloc(layout(size, 8));
                                let fill = i as u8;
                                p.write_bytes(fill, size);
                                mine.push((p as usize, size, fill));
                            },
                            2 if !mine.is_empty() => unsafe {
                                let (p, size, fill) = mine.swap_remove(r as usize % mine.len());
                                check((p, size, fill));
                                let new = (r >> 16) as usize % 1500 + 1;
                                let q = A.realloc(p as *mut u8, layout(size, 8), new);
                                let s = std::slice::from_raw_parts(q, size.min(new));
                                assert!(s.iter().all(|&x| x == fill), "realloc lost data");
                                q.write_bytes(fill, new);
                                mine.push((q as usize, new, fill));
                            },
                            3 if !mine.is_empty() => {
                                let b = mine.swap_remove(r as usize % mine.len());
                                shared.lock().unwrap().push(b);
                            }
                            _ => {
                                let b = shared.lock().unwrap().pop().or_else(|| mine.pop());
                                if let Some((p, size, fill)) = b {
                                    check((p, size, fill));
                                    unsafe { A.dealloc(p as *mut u8, layout(size, 8)) };
                                }
                            }
                        }
                    }
                    for b in mine {
                        check(b);
                        unsafe { A.dealloc(b.0 as *mut u8, layout(b.1, 8)) };
                    }
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
        for (p, size, fill) in shared.lock().unwrap().drain(..) {
            unsafe {
                let s = std::slice::from_raw_parts(p as *const u8, size);
                assert!(s.iter().all(|&x| x == fill));
                A.dealloc(p as *mut u8, layout(size, 8));
            }
        }
    }

    #[test]
    fn the_budget_bounds_what_a_thread_keeps() {
        let l = layout(MAX_SIZE, 16);
        let n = BUDGET / MAX_SIZE + 10;
        unsafe {
            let blocks: Vec<*mut u8> = (0..n).map(|_| A.alloc(l)).collect();
            for &b in &blocks {
                A.dealloc(b, l);
            }
        }
        let kept = LISTS.with(|l| l.bytes.get());
        assert!(kept <= BUDGET, "{kept} bytes kept");
        assert!(kept >= BUDGET - MAX_SIZE, "{kept} bytes kept");
    }
}
