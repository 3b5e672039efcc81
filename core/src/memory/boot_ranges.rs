//! The firmware memory map: System RAM ranges registered before `boot_finish`, kept
//! sorted and page-exact for the life of the map. They answer the page-precise
//! questions that sub-section states cannot (is this hole page RAM? which node does
//! this page of a mixed block belong to?).

use crate::sync::{array_of, maybe_const_fn, AtomicU32, AtomicUsize, Ordering};

use crate::addr::{Pfn, PfnRange};
use crate::capacity::MAX_BOOT_RANGES;
use crate::error::{Error, Result};
use crate::sync::atomic64::Published64;
use crate::sync::order::{Boot, OrderedLock};

/// One boot RAM range `[start, end)` in pfns, on node `nid`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BootRange {
    /// First pfn.
    pub start: Pfn,
    /// One past the last pfn.
    pub end: Pfn,
    /// NUMA node.
    pub nid: i32,
}

impl BootRange {
    /// The range's pfns.
    pub const fn pfns(&self) -> PfnRange {
        PfnRange::new(self.start, self.end)
    }
}

#[derive(Debug)]
struct Cell {
    start: Published64,
    end: Published64,
    /// Relaxed, as `start` and `end` (see `BootRanges`).
    nid: AtomicU32,
}

impl Cell {
    maybe_const_fn! {
        fn new() -> Self {
            Self {
                start: Published64::new(0),
                end: Published64::new(0),
                nid: AtomicU32::new(0),
            }
        }
    }
    fn get(&self) -> BootRange {
        BootRange {
            start: Pfn(self.start.load()),
            end: Pfn(self.end.load()),
            nid: self.nid.load(Ordering::Relaxed) as i32,
        }
    }
    fn set(&self, r: BootRange) {
        self.start.store(r.start.0);
        self.end.store(r.end.0);
        self.nid.store(r.nid as u32, Ordering::Relaxed);
    }
}

/// Sorted, non-overlapping boot ranges. Written only before `boot_finish` (under
/// `lock`) or by `init`/`restore`; the map's phase word, stored with Release after the
/// last write and loaded with Acquire by every reader that consults the ranges, orders
/// those writes before any lock-free read.
#[derive(Debug)]
pub(crate) struct BootRanges {
    /// Stored with Release after the cells it counts; loaded with Acquire.
    len: AtomicUsize,
    /// Written before `len` counts them and before the sections they describe are
    /// published (`boot_finish`), so lock-free readers read them without retry.
    cells: [Cell; MAX_BOOT_RANGES],
    pub(crate) lock: OrderedLock<Boot>,
}

impl BootRanges {
    maybe_const_fn! {
        pub(crate) fn new() -> Self {
            Self {
                len: AtomicUsize::new(0),
                cells: array_of![Cell::new(); MAX_BOOT_RANGES],
                lock: OrderedLock::new(),
            }
        }
    }

    /// Number of ranges.
    pub(crate) fn len(&self) -> usize {
        self.len.load(Ordering::Acquire).min(MAX_BOOT_RANGES)
    }

    /// Range `i` in ascending order.
    pub(crate) fn get(&self, i: usize) -> Option<BootRange> {
        if i >= self.len() {
            return None;
        }
        self.cells.get(i).map(Cell::get)
    }

    /// All ranges in ascending order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = BootRange> + '_ {
        self.cells.iter().take(self.len()).map(Cell::get)
    }

    /// Index of the first range whose end lies above `pfn` (binary search).
    fn first_ending_after(&self, pfn: Pfn) -> usize {
        let (mut lo, mut hi) = (0usize, self.len());
        while lo < hi {
            let mid = lo.wrapping_add(hi.wrapping_sub(lo) / 2);
            match self.get(mid) {
                Some(r) if r.end.0 <= pfn.0 => lo = mid.wrapping_add(1),
                _ => hi = mid,
            }
        }
        lo
    }

    /// The range holding `pfn`, if any.
    pub(crate) fn find(&self, pfn: Pfn) -> Option<BootRange> {
        self.get(self.first_ending_after(pfn))
            .filter(|r| r.start.0 <= pfn.0)
    }

    /// Calls `f` with each range's part inside `[start, end)`, in ascending order.
    pub(crate) fn for_each_in(&self, start: Pfn, end: Pfn, mut f: impl FnMut(BootRange)) {
        let mut i = self.first_ending_after(start);
        while let Some(r) = self.get(i) {
            if r.start.0 >= end.0 {
                break;
            }
            f(BootRange {
                start: Pfn(r.start.0.max(start.0)),
                end: Pfn(r.end.0.min(end.0)),
                nid: r.nid,
            });
            i = i.wrapping_add(1);
        }
    }

    /// RAM pages inside `[start, end)`.
    pub(crate) fn pages_in(&self, start: Pfn, end: Pfn) -> u64 {
        let mut n = 0u64;
        self.for_each_in(start, end, |r| {
            n = n.wrapping_add(r.end.0.wrapping_sub(r.start.0))
        });
        n
    }

    /// Inserts a non-empty range in order. `Exist` on overlap, `NoMem` when full.
    /// The caller holds `lock`.
    pub(crate) fn insert(&self, r: BootRange) -> Result<()> {
        let len = self.len();
        let at = self.first_ending_after(r.start);
        if self.get(at).is_some_and(|next| next.start.0 < r.end.0) {
            return Err(Error::Exist);
        }
        if len >= MAX_BOOT_RANGES {
            return Err(Error::NoMem);
        }
        let mut i = len;
        while i > at {
            let prev = i.wrapping_sub(1);
            if let (Some(dst), Some(src)) = (self.cells.get(i), self.cells.get(prev)) {
                dst.set(src.get());
            }
            i = prev;
        }
        if let Some(c) = self.cells.get(at) {
            c.set(r);
        }
        self.len.store(len.wrapping_add(1), Ordering::Release);
        Ok(())
    }

    /// Replaces all ranges (restore; the caller validated them).
    pub(crate) fn replace(&self, ranges: impl Iterator<Item = BootRange>) {
        let mut n = 0usize;
        for (c, r) in self.cells.iter().zip(ranges) {
            c.set(r);
            n = n.wrapping_add(1);
        }
        self.len.store(n, Ordering::Release);
    }

    /// Forgets every range (init only).
    pub(crate) fn reset(&self) {
        self.len.store(0, Ordering::Release);
    }
}
