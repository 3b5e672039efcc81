//! Export of the memory map as page-granular ranges (RAM online, RAM offline,
//! device), merged by kind and node: what a firmware hands on as e820 / EFI ranges, or
//! a hypervisor exposes to its guest.

use core::ops::ControlFlow;

use crate::addr::{Pfn, PhysAddr};
use crate::map::SparseMap;
use crate::memory::block::NID_NONE;
use crate::repr::u8_enum;
use crate::section::{Section, SectionFlags, SubState};

u8_enum! {
    /// What a range holds (`SMEM_RANGE_*`).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub enum RangeKind {
        /// System RAM in an online section.
        RamOnline = 1,
        /// System RAM in an offline section.
        RamOffline = 2,
        /// Device memory.
        Device = 3,
    }
}

/// One exported range (the C `smem_range`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemRange {
    /// First byte.
    pub start: PhysAddr,
    /// Length in bytes.
    pub size: u64,
    /// The node the memory was registered or added with (never `NID_MIXED`).
    pub nid: i32,
    /// What it holds.
    pub kind: RangeKind,
}

/// Merges adjacent pieces of equal kind and node before handing them on.
struct Merger<F> {
    pending: Option<(u64, u64, i32, RangeKind)>,
    page_shift: u32,
    f: F,
}

impl<B, F: FnMut(MemRange) -> ControlFlow<B>> Merger<F> {
    fn push(&mut self, start: u64, end: u64, nid: i32, kind: RangeKind) -> ControlFlow<B> {
        if start >= end {
            return ControlFlow::Continue(());
        }
        if let Some(p) = self.pending.as_mut() {
            if p.1 == start && p.2 == nid && p.3 == kind {
                p.1 = end;
                return ControlFlow::Continue(());
            }
        }
        let prev = self.pending.replace((start, end, nid, kind));
        self.emit(prev)
    }

    fn emit(&mut self, r: Option<(u64, u64, i32, RangeKind)>) -> ControlFlow<B> {
        let Some((s, e, nid, kind)) = r else {
            return ControlFlow::Continue(());
        };
        let sh = self.page_shift & 63;
        (self.f)(MemRange {
            start: PhysAddr(s << sh),
            size: e.wrapping_sub(s) << sh,
            nid,
            kind,
        })
    }

    fn finish(&mut self) -> ControlFlow<B> {
        let last = self.pending.take();
        self.emit(last)
    }
}

impl SparseMap {
    /// Calls `f` for every page-granular range of memory in ascending order, adjacent
    /// ranges of equal kind and node merged; holes are not reported. `f` returning
    /// `Break` stops the walk, and its value is returned.
    pub fn for_each_range<B>(&self, f: impl FnMut(MemRange) -> ControlFlow<B>) -> ControlFlow<B> {
        let g = self.geometry();
        let mut m = Merger {
            pending: None,
            page_shift: g.page_shift(),
            f,
        };
        let mut result = ControlFlow::Continue(());
        self.table.for_each(|nr, sec| {
            if result.is_break() {
                return;
            }
            let Some(start) = g.section_start(nr) else {
                return;
            };
            result = self.section_ranges(sec, start, &mut m);
        });
        if result.is_break() {
            return result;
        }
        m.finish()
    }

    /// Pushes one section's ranges, in ascending order, as runs of equal state.
    fn section_ranges<B, F: FnMut(MemRange) -> ControlFlow<B>>(
        &self,
        sec: &Section,
        start: Pfn,
        m: &mut Merger<F>,
    ) -> ControlFlow<B> {
        let g = self.geometry();
        let f = sec.flags();
        if !f.contains(SectionFlags::PRESENT | SectionFlags::VALID) {
            return ControlFlow::Continue(());
        }
        let pps = g.pages_per_subsection();
        let kind = if f.contains(SectionFlags::ONLINE) {
            RangeKind::RamOnline
        } else {
            RangeKind::RamOffline
        };
        let block_nid = self
            .block_record(g.block_of(start))
            .map_or(NID_NONE, |r| r.nid);
        let n = g.subsections_per_section();
        let word = sec.word();
        // A run is sub-sections of one state and, for device memory, one node.
        let key = |i: u32| {
            let state = sec.state(i);
            let nid = match state {
                SubState::Device => self.device_nid_at(sec, word, i).unwrap_or(NID_NONE),
                _ => NID_NONE,
            };
            (state, nid)
        };
        let mut i = 0u32;
        while i < n {
            let (state, dev_nid) = key(i);
            let mut j = i.wrapping_add(1);
            while j < n && key(j) == (state, dev_nid) {
                j = j.wrapping_add(1);
            }
            let a = start.0.wrapping_add(u64::from(i).wrapping_mul(pps));
            let b = start.0.wrapping_add(u64::from(j).wrapping_mul(pps));
            match state {
                SubState::Absent => {}
                SubState::Device => m.push(a, b, dev_nid, RangeKind::Device)?,
                SubState::Ram | SubState::RamPartial if f.contains(SectionFlags::EARLY) => {
                    let mut r = ControlFlow::Continue(());
                    self.boot.for_each_in(Pfn(a), Pfn(b), |piece| {
                        if r.is_continue() {
                            r = m.push(piece.start.0, piece.end.0, piece.nid, kind);
                        }
                    });
                    r?;
                }
                SubState::Ram | SubState::RamPartial => m.push(a, b, block_nid, kind)?,
            }
            i = j;
        }
        ControlFlow::Continue(())
    }
}
