//! The fake-offline facet of the map: sub-sections of System RAM that a virtio-mem or
//! balloon driver took out of use without offlining their block (Linux's virtio-mem
//! sub-block mode "fake offlines" them; see docs/semantics.md, "Fake-offline"). The
//! marks live in `section/fake_offline.rs`; this file checks and applies them, all or
//! nothing, under the hotplug lock.

use crate::addr::Pfn;
use crate::error::{Error, Result};
use crate::map::{Phase, SparseMap};
use crate::section::{SectionFlags, SubState};
use crate::sync::order::Held;

impl SparseMap {
    /// Marks System RAM `[start, start+size)` as taken out of use: its pages are never
    /// online while marked, and their block keeps its state, zone, span and present
    /// pages. The marks survive offline and online of the block and go with the memory
    /// when it is removed. Errors, in order: `Inval` before boot finished, for size 0,
    /// a wrap, a start or size not a multiple of the sub-section size; `NoEnt` if any
    /// part is not System RAM of an existing block (holes and device memory included);
    /// `Inval` over the pages that carry a block's own memmap; `Exist` if any part is
    /// already marked; `Busy` while a block of the range is mid-transition; `NoMem`
    /// when more sections would hold marks than `MAX_FAKE_OFFLINE_SECTIONS`. On error
    /// nothing changed.
    pub fn fake_offline(&self, start: u64, size: u64) -> Result<()> {
        self.change_marks(start, size, true)
    }

    /// Clears fake-offline marks of `[start, start+size)`. Errors, in order: `Inval`
    /// as for `fake_offline`; `NoEnt` unless every part is marked; `Busy` while a
    /// block of the range is mid-transition. On error nothing changed.
    pub fn fake_online(&self, start: u64, size: u64) -> Result<()> {
        self.change_marks(start, size, false)
    }

    fn change_marks(&self, start: u64, size: u64, mark: bool) -> Result<()> {
        self.require(Phase::Running)?;
        let g = self.geometry();
        let r = match g.aligned_range(start, size, g.subsection_size()) {
            Err(Error::TooBig) => return Err(Error::NoEnt),
            r => r?,
        };
        let mut top = Held::nothing();
        let _h = self.hotplug.lock(&mut top);
        // Checks, in the documented order, over every sub-section of the range.
        let subs = || r.step_up(g.pages_per_subsection());
        for p in subs() {
            if !self.is_block_ram(p) || (!mark && !self.fake_marked(p)) {
                return Err(Error::NoEnt);
            }
        }
        if mark {
            if subs().any(|p| self.in_block_memmap(p)) {
                return Err(Error::Inval);
            }
            if subs().any(|p| self.fake_marked(p)) {
                return Err(Error::Exist);
            }
        }
        if g.blocks_in(r)
            .filter_map(|id| self.block_record(id))
            .any(|rec| rec.busy)
        {
            return Err(Error::Busy);
        }
        // Reserve: the sections that need a new entry must find one.
        let mut needed = 0usize;
        for piece in g.section_pieces(r) {
            let sec = self.table.get(piece.nr).ok_or(Error::NoEnt)?;
            if mark && self.fake.find(sec).is_none() {
                needed = needed.wrapping_add(1);
            }
        }
        if needed > self.fake.free() {
            return Err(Error::NoMem);
        }
        self.fault_step()?;
        self.commit(|| {
            for piece in g.section_pieces(r) {
                let Some(sec) = self.table.get(piece.nr) else {
                    continue;
                };
                if mark {
                    // The online bits before the pages stop being online
                    // (section/flat_online.rs).
                    self.online.clear_in(&g, piece.nr, piece.first, piece.last);
                    // Cannot fail: the free entries were counted above, under the lock.
                    if let Ok(e) = self.fake.claim(sec) {
                        (piece.first..=piece.last).for_each(|i| e.set(i, true));
                        sec.set_fake_offline(true);
                    }
                } else if let Some(e) = self.fake.find(sec) {
                    (piece.first..=piece.last).for_each(|i| e.set(i, false));
                    if e.count() == 0 {
                        sec.set_fake_offline(false);
                        self.fake.release(sec);
                    }
                    // After the marks are gone.
                    self.publish_online(&g, piece.nr);
                }
            }
        });
        Ok(())
    }

    /// True when `pfn` starts a sub-section of System RAM (every page of it) in a
    /// present section of an existing block.
    fn is_block_ram(&self, pfn: Pfn) -> bool {
        let g = self.geometry();
        let Some(sec) = self.table.get(g.section_of(pfn)) else {
            return false;
        };
        sec.flags()
            .contains(SectionFlags::PRESENT | SectionFlags::VALID)
            && sec.state(g.subsection_index(pfn)) == SubState::Ram
            && self.block_record(g.block_of(pfn)).is_some()
    }

    /// True when `pfn`'s sub-section is marked fake-offline.
    pub(crate) fn fake_marked(&self, pfn: Pfn) -> bool {
        let g = self.geometry();
        self.table
            .get(g.section_of(pfn))
            .filter(|s| s.word().fake_offline())
            .and_then(|s| self.fake.find(s))
            .is_some_and(|e| e.marked(g.subsection_index(pfn)))
    }

    /// True when `pfn` is one of the pages that carry its block's own memmap.
    pub(crate) fn in_block_memmap(&self, pfn: Pfn) -> bool {
        let g = self.geometry();
        let offset = pfn.0 & g.pages_per_block().wrapping_sub(1);
        self.block_record(g.block_of(pfn))
            .is_some_and(|rec| rec.vmemmap && g.vmemmap_pages().is_some_and(|n| offset < n))
    }
}
