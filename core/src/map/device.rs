//! Device memory (ZONE_DEVICE / pmem) at sub-section granularity: Linux
//! `memremap_pages` / `memunmap_pages` over `sparse_add_section` /
//! `section_deactivate` (docs/semantics.md, "Device memory rules"), all or nothing.
//!
//! Device operations take no global lock. One that only flips sub-section states of a
//! section that stays as it is (the common case: a namespace beside others) claims
//! them with one compare-and-swap and waits for nobody (`add_device_fast`,
//! `remove_device_fast`). Any other locks the sections it touches exclusively, in
//! ascending order, for the check and the few atomic stores that publish the change,
//! and takes the zones lock only when the ZONE_DEVICE span really grows. So device
//! operations on different sections never wait on each other, and those sharing a
//! section wait at most for each other's few stores (nothing is held across a
//! notifier).

use crate::addr::PfnRange;
use crate::error::{Error, Result};
use crate::map::{Phase, SparseMap};
use crate::memory::block::nid_ok;
use crate::memory::zone::Zone;
use crate::section::geometry::{Geometry, SectionPiece};
use crate::section::locked::LockedSections;
use crate::section::{DeviceNid, Section, SectionFlags, SubState, Word, SUBS_PER_WORD};
use crate::sync::order::Held;

impl SparseMap {
    /// The first error an add of device memory over this section chunk meets:
    /// `NxIo` over System RAM, then `Exist` over device memory.
    fn device_conflict(sec: &Section, c: &SectionPiece) -> Option<Error> {
        let f = sec.flags();
        if !f.contains(SectionFlags::PRESENT) {
            return None;
        }
        if sec.any_in(c.first, c.last, |s| {
            matches!(s, SubState::Ram | SubState::RamPartial)
        }) {
            return Some(Error::NxIo);
        }
        if sec.any_in(c.first, c.last, |s| s == SubState::Device) {
            return Some(Error::Exist);
        }
        None
    }

    /// The first error of the documented precedence (NxIo, then Exist) that adding
    /// device memory `r` meets anywhere in the range.
    fn range_conflict(&self, g: &Geometry, r: PfnRange) -> Result<()> {
        let mut worst: Option<Error> = None;
        for c in g.section_pieces(r) {
            let Some(e) = self
                .table
                .get(c.nr)
                .and_then(|sec| Self::device_conflict(sec, &c))
            else {
                continue;
            };
            let rank = |e: Error| match e {
                Error::NxIo => 0,
                Error::Exist => 1,
                _ => 2,
            };
            if worst.is_none_or(|w| rank(e) < rank(w)) {
                worst = Some(e);
            }
        }
        worst.map_or(Ok(()), Err)
    }

    /// The nid of the device sub-section `idx` of `sec`, whose flag word `w` was loaded
    /// after the state: from the word, or for a shared section from its entry. `None`
    /// when the section no longer says whose it is (its device memory was removed).
    pub(crate) fn device_nid_at(&self, sec: &Section, w: Word, idx: u32) -> Option<i32> {
        match w.device_nid() {
            DeviceNid::None => None,
            DeviceNid::One(n) => Some(n),
            DeviceNid::Shared => self.shared_nids.find(sec)?.nid(idx),
        }
    }

    /// Claims a shared-nid entry for every section of `r` that holds another node's
    /// device memory and has none yet; on `NoMem` frees the entries it claimed (no
    /// section says "shared" because of them yet). The caller holds the sections.
    fn claim_shared(&self, g: &Geometry, r: PfnRange, nid: i32) -> Result<()> {
        let needs = |c: &SectionPiece| {
            self.table
                .get(c.nr)
                .filter(|sec| matches!(sec.device_nid(), DeviceNid::One(n) if n != nid))
        };
        for c in g.section_pieces(r) {
            let Some(sec) = needs(&c) else { continue };
            if let Err(e) = self.shared_nids.claim(sec) {
                for done in g.section_pieces(r).take_while(|d| d.nr != c.nr) {
                    if let Some(sec) = needs(&done) {
                        self.shared_nids.release(sec);
                    }
                }
                return Err(e);
            }
        }
        Ok(())
    }

    /// Records `nid` as the node of the sub-sections of `c` before they become
    /// Device: in the flag word while the section's device memory is one node's, else
    /// in its shared-nid entry (claimed by `claim_shared`), which first receives the
    /// nid of the device memory already there.
    fn record_device_nid(&self, sec: &Section, c: &SectionPiece, nid: i32) {
        let shared = match sec.device_nid() {
            DeviceNid::None => {
                sec.set_device_nid(DeviceNid::One(nid));
                return;
            }
            DeviceNid::One(n) if n == nid => return,
            DeviceNid::One(_) | DeviceNid::Shared => self.shared_nids.find(sec),
        };
        let Some(entry) = shared else { return };
        if let DeviceNid::One(old) = sec.device_nid() {
            let top = self.geometry().subsections_per_section().saturating_sub(1);
            sec.for_each_device(0, top, |i| entry.set(i, i, old));
            sec.set_device_nid(DeviceNid::Shared);
        }
        entry.set(c.first, c.last, nid);
    }

    /// The section and the sub-section indices of a range inside one state word of
    /// one section, if it is one.
    fn one_word(&self, g: &Geometry, r: PfnRange) -> Option<(&Section, u32, u32)> {
        let mut pieces = g.section_pieces(r);
        let (c, None) = (pieces.next()?, pieces.next()) else {
            return None;
        };
        if c.first / SUBS_PER_WORD != c.last / SUBS_PER_WORD {
            return None;
        }
        Some((self.table.get(c.nr)?, c.first, c.last))
    }

    /// The fast path of `add_device`: a range inside one state word of a section that
    /// already is what the add leaves it (present, valid, this nid's device memory,
    /// TAINT where the range needs it, a ZONE_DEVICE span that covers the range). Then
    /// nothing but the sub-section states changes, and one compare-and-swap claims and
    /// publishes them: writers on other sub-sections of the section never wait for
    /// this one. `false`: nothing changed; take the exclusive path, which also makes
    /// the authoritative checks and reports their errors.
    fn add_device_fast(&self, g: &Geometry, nid: i32, r: PfnRange) -> bool {
        let Some((sec, a, b)) = self.one_word(g, r) else {
            return false;
        };
        if !self.zones.covers(nid, Zone::Device, r) || !sec.fast_enter(0) {
            return false;
        }
        // Registered: no exclusive writer changes the flags or the nid until we leave.
        let w = sec.word();
        let pps = g.pages_per_section();
        let inside = !r.start.is_aligned(pps) || !r.end.is_aligned(pps);
        let mut want = SectionFlags::PRESENT | SectionFlags::VALID;
        want.set(SectionFlags::TAINT_DEVICE, inside);
        let done = w.flags().contains(want)
            && w.device_nid() == DeviceNid::One(nid)
            && sec
                .swap_states(a, b, SubState::Absent, SubState::Device)
                .is_ok();
        // The flat bitmap after the states (an early section's bits are set already).
        if done && !w.flags().contains(SectionFlags::EARLY) {
            self.flat.set_in(g, g.section_of(r.start), a, b);
        }
        sec.fast_exit(if done {
            b.saturating_sub(a).saturating_add(1)
        } else {
            0
        });
        done
    }

    /// The fast path of `remove_device`: a range inside one state word of a section
    /// that keeps other device memory after it (so neither the section nor its nid
    /// changes). `false`: nothing changed; take the exclusive path.
    fn remove_device_fast(&self, g: &Geometry, r: PfnRange) -> bool {
        let Some((sec, a, b)) = self.one_word(g, r) else {
            return false;
        };
        let n = b.saturating_sub(a).saturating_add(1);
        if !sec.fast_enter(n) {
            return false;
        }
        // Registered: the section stays valid and keeps EARLY or not until we leave.
        // Outside an early section the sub-sections go invalid, so their bits in the
        // flat bitmap are cleared before the states (section/flat.rs), and that clear
        // is the claim: only if every bit is set, so a remover never clears bits of
        // sub-sections it does not remove (another remover's, whose claim won, or an
        // add's that has not set them yet). A lost claim takes the exclusive path.
        let nr = g.section_of(r.start);
        let in_bitmap = !sec.flags().contains(SectionFlags::EARLY);
        if in_bitmap && !self.flat.claim_clear_in(g, nr, a, b) {
            sec.fast_exit(n);
            return false;
        }
        let done = sec
            .swap_states(a, b, SubState::Device, SubState::Absent)
            .is_ok();
        if !done && in_bitmap {
            // Set bits are valid sub-sections, and no other writer changed them
            // since the claim; only RAM beside device memory in a hot-added section
            // (a restored snapshot may hold one) gets here: put the bits back.
            self.flat.set_in(g, nr, a, b);
        }
        // A failed remover gives back the count it took.
        sec.fast_exit(if done { 0 } else { n });
        done
    }

    /// Adds device memory `[start, start+size)` on node `nid` (Linux `memremap_pages`).
    /// It may share a section with RAM; the section gets TAINT_DEVICE when the range
    /// starts or ends inside it; an early section stays early. Never creates blocks.
    /// Errors: `Inval` before boot finished, for size 0, a wrap, misalignment to the
    /// sub-section size or an invalid nid; `TooBig` beyond `max_phys_bits`; `NxIo` over
    /// System RAM; `Exist` over device memory; `NoMem` when the table is full or the
    /// range would make one more section shared by several nodes' device memory while
    /// the pool of such sections is full. Other nodes' device memory may share its
    /// sections. On error nothing changed.
    pub fn add_device(&self, nid: i32, start: u64, size: u64) -> Result<()> {
        self.require(Phase::Running)?;
        let g = self.geometry();
        if !nid_ok(nid) {
            return Err(Error::Inval);
        }
        let r = g.aligned_range(start, size, g.subsection_size())?;
        let (first, last) = g.section_bounds(r);
        // Cheap pre-check without locks, so that a conflicting add never takes leaves.
        self.range_conflict(&g, r)?;
        for _ in first.0..=last.0 {
            self.fault_step()?;
        }
        if self.add_device_fast(&g, nid, r) {
            return Ok(());
        }
        let mut held = Held::nothing();
        self.table.reserve(&mut held, first, last)?;
        let mut locked =
            LockedSections::lock(&self.table, &mut held, first, last).ok_or(Error::NoMem)?;
        // The authoritative check, under the locks.
        self.range_conflict(&g, r)?;
        // The last fallible step: a shared-nid entry for each section that gets a
        // second node's device memory (at most the range's first and last section).
        self.claim_shared(&g, r, nid)?;
        let pps = g.pages_per_section();
        let (starts_inside, ends_inside) = (!r.start.is_aligned(pps), !r.end.is_aligned(pps));
        self.commit(|| {
            for c in g.section_pieces(r) {
                let Some(sec) = self.table.get(c.nr) else {
                    continue;
                };
                // The nid first: a reader that sees a new Device state and then loads
                // the flag word finds the nid (see `query::pfn_info`).
                self.record_device_nid(sec, &c, nid);
                sec.fill(c.first, c.last, SubState::Device);
                sec.count_devices(c.subsections(), 0);
                let mut f = SectionFlags::PRESENT | SectionFlags::VALID;
                if (c.nr == first && starts_inside) || (c.nr == last && ends_inside) {
                    f |= SectionFlags::TAINT_DEVICE;
                }
                // Release: the states above are published with VALID.
                sec.set_flags(f);
                // The flat bitmap after the table (section/flat.rs).
                self.flat.set_in(&g, c.nr, c.first, c.last);
            }
            // ZONE_DEVICE spans never shrink, so a span that covers the range already
            // is final: only a growing span takes the (global) zones lock.
            if !self.zones.covers(nid, Zone::Device, r) {
                let z = self.zones.lock.lock(locked.held());
                if let Ok(span) = self.zones.get(nid, Zone::Device) {
                    let _ =
                        self.zones
                            .set(z.proof(), nid, Zone::Device, span.grown(r.start, r.end));
                }
            }
        });
        drop(locked);
        Ok(())
    }

    /// Removes device memory: any sub-section-aligned part of earlier added device
    /// memory. A section whose last active sub-section goes becomes absent; TAINT
    /// otherwise stays, as in Linux. ZONE_DEVICE spans never shrink. Errors: `Inval`
    /// before boot finished, for size 0, a wrap or misalignment; `NoEnt` unless every
    /// sub-section of the range is active device memory (then nothing changed).
    pub fn remove_device(&self, start: u64, size: u64) -> Result<()> {
        self.require(Phase::Running)?;
        let g = self.geometry();
        let r = match g.aligned_range(start, size, g.subsection_size()) {
            Err(Error::TooBig) => return Err(Error::NoEnt),
            r => r?,
        };
        let (first, last) = g.section_bounds(r);
        for _ in first.0..=last.0 {
            self.fault_step()?;
        }
        if self.remove_device_fast(&g, r) {
            return Ok(());
        }
        let mut held = Held::nothing();
        let locked =
            LockedSections::lock(&self.table, &mut held, first, last).ok_or(Error::NoEnt)?;
        let all_device = g.section_pieces(r).all(|c| {
            self.table.get(c.nr).is_some_and(|sec| {
                sec.flags().contains(SectionFlags::VALID)
                    && sec.count_in(c.first, c.last, |st| st == SubState::Device) == c.subsections()
            })
        });
        if !all_device {
            return Err(Error::NoEnt);
        }
        let top = g.subsections_per_section().wrapping_sub(1);
        self.commit(|| {
            for c in g.section_pieces(r) {
                let Some(sec) = self.table.get(c.nr) else {
                    continue;
                };
                let mine = c.subsections();
                let others = sec
                    .count_in(0, top, |st| st != SubState::Absent)
                    .saturating_sub(mine);
                sec.count_devices(0, mine);
                // The flat bitmap before the table (section/flat.rs): the range goes
                // invalid unless the section is early (then every pfn stays valid).
                if !sec.flags().contains(SectionFlags::EARLY) {
                    self.flat.clear_in(&g, c.nr, c.first, c.last);
                }
                if others == 0 {
                    // The last sub-section goes: every flag (VALID first among them) is
                    // cleared before the states, so a reader that sees a cleared state
                    // also sees the section absent (see `section::Section::flags`). A
                    // block's view stays: the section may lie inside a block.
                    sec.clear_present();
                    sec.fill(c.first, c.last, SubState::Absent);
                    self.shared_nids.release(sec);
                } else {
                    sec.fill(c.first, c.last, SubState::Absent);
                    // The nid after the states: it stays while any Device state remains.
                    if !sec.any_in(0, top, |st| st == SubState::Device) {
                        sec.set_device_nid(DeviceNid::None);
                        self.shared_nids.release(sec);
                    }
                }
            }
        });
        drop(locked);
        Ok(())
    }
}
