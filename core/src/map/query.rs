//! Per-pfn and per-section queries. All are wait-free: a bounded number of atomic
//! loads (plus, for a pfn in a boot sub-section with holes, a binary search of the boot
//! ranges), never a lock.

use crate::addr::{BlockId, Pfn, SectionNr};
use crate::capacity::MAX_SUBSECTIONS;
use crate::error::{Error, Result};
use crate::map::SparseMap;
use crate::memory::block::NID_NONE;
use crate::memory::zone::Zone;
use crate::repr::u8_enum;
use crate::section::flat::FlatValid;
use crate::section::geometry::Geometry;
use crate::section::{Section, SectionFlags, SubState};
use crate::sync::Ordering;

/// `SMEM_SUBSECTION_WORDS`: 64-bit words of a section's active and device masks.
pub const SUBSECTION_WORDS: usize = MAX_SUBSECTIONS / 64;

u8_enum! {
    /// What a page is, page-granular (`SMEM_PFN_*`).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub enum PfnKind {
        /// Neither System RAM nor device memory.
        Hole = 0,
        /// System RAM.
        Ram = 1,
        /// Device memory (ZONE_DEVICE).
        Device = 2,
    }
}

/// Everything known about one pfn (the C `smem_pfn_info`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PfnInfo {
    /// Section holding the pfn.
    pub section_nr: SectionNr,
    /// Block id the pfn falls in (whether or not that block exists).
    pub block_id: BlockId,
    /// The section's flags.
    pub section_flags: SectionFlags,
    /// The block's nid (`NID_MIXED` too); in no block: the device nid for a device
    /// pfn, else `NID_NONE`.
    pub nid: i32,
    /// Page-granular kind.
    pub kind: PfnKind,
    /// An online RAM pfn: its own zone; a device pfn: `Zone::Device`; else `None`.
    pub zone: Zone,
    /// The block's state, or `None` when the pfn lies in no block.
    pub block_state: Option<crate::memory::block::BlockState>,
    /// Same as `pfn_valid`.
    pub valid: bool,
    /// Same as `pfn_online`.
    pub online: bool,
}

/// A section's state (the C `smem_section_info`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SectionInfo {
    /// Section number.
    pub nr: SectionNr,
    /// Flags.
    pub flags: SectionFlags,
    /// Sub-sections per section in this geometry.
    pub nr_subsections: u32,
    /// Bit i: sub-section i is active.
    pub active: [u64; SUBSECTION_WORDS],
    /// Bit i: sub-section i is device memory.
    pub device: [u64; SUBSECTION_WORDS],
}

/// The answers derived from one read of a section's flags and a pfn's state.
struct PfnView {
    flags: SectionFlags,
    state: SubState,
    /// Pages of the section may be withheld (memmap or fake-offline).
    withholds: bool,
}

impl SparseMap {
    /// The section holding a pfn below the limit, with the geometry that found it.
    #[inline]
    fn pfn_section(&self, pfn: Pfn) -> Option<(Geometry, &Section)> {
        let g = self.pfn_geometry();
        if !g.pfn_in_range(pfn) {
            return None;
        }
        Some((g, self.table.get(g.section_of(pfn))?))
    }

    /// One flags load and one state load: the snapshot every pfn answer derives from.
    #[inline]
    fn view(&self, pfn: Pfn) -> Option<PfnView> {
        let (g, sec) = self.pfn_section(pfn)?;
        let word = sec.word();
        let flags = word.flags();
        let state = if flags.contains(SectionFlags::VALID) {
            sec.state(g.subsection_index(pfn))
        } else {
            SubState::Absent
        };
        Some(PfnView {
            flags,
            state,
            withholds: word.withholds(),
        })
    }

    fn valid_in(v: &PfnView) -> bool {
        v.flags.contains(SectionFlags::VALID)
            && (v.flags.contains(SectionFlags::EARLY) || v.state != SubState::Absent)
    }

    /// A System RAM page of an online section: online, unless the page allocator
    /// never got it (`withheld`).
    fn ram_online_in(&self, v: &PfnView, pfn: Pfn) -> bool {
        if !v.flags.contains(SectionFlags::VALID | SectionFlags::ONLINE) {
            return false;
        }
        match v.state {
            SubState::Ram => true,
            SubState::RamPartial => self.boot.find(pfn).is_some(),
            SubState::Absent | SubState::Device => false,
        }
    }

    /// RAM pages that are never online although their block is (docs/semantics.md,
    /// "Page-precise online answer"): the memmap pages at the start of a block that
    /// carries its own memmap, and fake-offline pages. The rare path: only when the
    /// section's word says so does it read the geometry's block shift or the marks.
    fn withheld(&self, v: &PfnView, pfn: Pfn) -> bool {
        if !v.withholds {
            return false;
        }
        self.in_block_memmap(pfn) || self.fake_marked(pfn)
    }

    fn online_in(&self, v: &PfnView, pfn: Pfn) -> bool {
        self.ram_online_in(v, pfn) && !self.withheld(v, pfn)
    }

    /// Linux `pfn_valid()`: false beyond `max_phys_bits` and for absent sections, true
    /// for every pfn of an early section (holes included), else the sub-section's
    /// active bit.
    ///
    /// Below the flat valid bitmap's limit (`capacity::FLAT_VALID_SUBSECTIONS`
    /// sub-sections) the answer is one bit of it, kept in step with the table
    /// (`section/flat.rs`); above it, the two-level table answers.
    #[inline]
    pub fn pfn_valid(&self, pfn: Pfn) -> bool {
        match self.flat.pfn_valid(pfn.0) {
            Some(valid) => valid,
            None => self.pfn_valid_in_table(pfn),
        }
    }

    /// The flat valid bitmap and its lookup description (the C ABI's `smem_lookup`):
    /// what an inline reader in another language reads to answer `pfn_valid` below the
    /// bitmap's limit, as Linux's inline `pfn_valid` reads `mem_section`.
    pub fn flat_valid(&self) -> &FlatValid {
        &self.flat
    }

    /// `pfn_valid` from the two-level table: the geometry, the root entry, the flag
    /// word, and the sub-section's state when the flags do not answer. Cold: out of
    /// line and laid out away from the bitmap's path, which then falls through.
    #[cold]
    #[inline(never)]
    fn pfn_valid_in_table(&self, pfn: Pfn) -> bool {
        // `view` without its state load when the flags already answer (most pfns of a
        // machine lie in early sections), and without the geometry until it needs it.
        // No range check: a section number at or past the geometry's limit never has a
        // leaf, or lies in a leaf whose sections there are never populated.
        let shift = self.pfn_section_shift.load(Ordering::Relaxed);
        let Some(sec) = self.table.get(SectionNr(pfn.0.wrapping_shr(shift))) else {
            return false;
        };
        let flags = sec.flags();
        flags.contains(SectionFlags::VALID)
            && (flags.contains(SectionFlags::EARLY)
                || sec.state(self.pfn_geometry().subsection_index(pfn)) != SubState::Absent)
    }

    /// Linux `pfn_to_online_page() != NULL`, page-precise (docs/semantics.md, "Page-precise online answer"): true only for
    /// a System RAM page of an online section whose sub-section is active RAM.
    ///
    /// Below the flat online bitmap's limit (`capacity::FLAT_ONLINE_SUBSECTIONS`
    /// sub-sections) a wholly online sub-section answers from one bit of it; a clear
    /// bit of a sub-section the flat valid bitmap says is not valid answers false;
    /// the table answers the rest (`section/flat_online.rs`). Each answer is the
    /// table's at the instant of the load it comes from.
    #[inline]
    pub fn pfn_online(&self, pfn: Pfn) -> bool {
        let i = self.flat.subsection_of(pfn.0);
        if self.online.wholly_online(i) {
            return true;
        }
        if self.flat.valid_at(i) == Some(false) {
            return false;
        }
        self.pfn_online_in_table(pfn)
    }

    /// `pfn_online` from the table: cold, as `pfn_valid_in_table`.
    #[cold]
    #[inline(never)]
    fn pfn_online_in_table(&self, pfn: Pfn) -> bool {
        self.view(pfn).is_some_and(|v| self.online_in(&v, pfn))
    }

    /// Everything about one pfn. `NoEnt` when its section is not present.
    ///
    /// Reader protocol (every field from one state of the map): one load of the
    /// section's flag word `w1` gives the flags and the block's state, zone and nid
    /// together (writers change a block's view and ONLINE in one store, and write the
    /// view before PRESENT); then the sub-section state `s`, trusted because `w1` had
    /// VALID (states are published before VALID); then the word again, `w2`. A
    /// removal clears the word before the states, so if `w2` shows the section gone,
    /// `s` may be a state the removal cleared and the answer is the one after the
    /// removal: `NoEnt`. A device nid is stored before the Device states it names and
    /// cleared after the last of them, so a Device `s` finds its nid in `w2`; if that
    /// nid is gone, the device memory was removed meanwhile and the answer is the one
    /// after that removal (the pfn no longer device memory). Three loads, no retry.
    pub fn pfn_info(&self, pfn: Pfn) -> Result<PfnInfo> {
        let g = self.geometry();
        let (_, sec) = self.pfn_section(pfn).ok_or(Error::NoEnt)?;
        let idx = g.subsection_index(pfn);
        let w1 = sec.word();
        let state = if w1.flags().contains(SectionFlags::VALID) {
            sec.state(idx)
        } else {
            SubState::Absent
        };
        let w2 = sec.word();
        if !w1.flags().contains(SectionFlags::PRESENT)
            || !w2.flags().contains(SectionFlags::PRESENT)
        {
            return Err(Error::NoEnt);
        }
        let device_nid = match state {
            SubState::Device => self.device_nid_at(sec, w2, idx),
            _ => None,
        };
        let (w, state) = match (state, device_nid) {
            (SubState::Device, None) => (w2, SubState::Absent),
            _ => (w1, state),
        };
        let v = PfnView {
            flags: w.flags(),
            state,
            withholds: w.withholds(),
        };
        let kind = match v.state {
            SubState::Absent => PfnKind::Hole,
            SubState::Device => PfnKind::Device,
            SubState::Ram => PfnKind::Ram,
            SubState::RamPartial if self.boot.find(pfn).is_some() => PfnKind::Ram,
            SubState::RamPartial => PfnKind::Hole,
        };
        // Withheld pages (memmap) are in their block's zone while it is online.
        let in_zone = self.ram_online_in(&v, pfn);
        let online = in_zone && !self.withheld(&v, pfn);
        let block = w.block();
        let nid = match (block, kind) {
            (Some(b), _) => b.nid,
            (None, PfnKind::Device) => device_nid.unwrap_or(NID_NONE),
            (None, _) => NID_NONE,
        };
        let zone = if in_zone {
            match block.map(|b| b.zone) {
                Some(z) if z != Zone::None => z,
                _ => self.addr_zones.zone_at(pfn).0,
            }
        } else if kind == PfnKind::Device {
            Zone::Device
        } else {
            Zone::None
        };
        Ok(PfnInfo {
            section_nr: g.section_of(pfn),
            block_id: g.block_of(pfn),
            section_flags: v.flags,
            nid,
            kind,
            zone,
            block_state: block.map(|b| b.state),
            valid: Self::valid_in(&v),
            online,
        })
    }

    /// A section's flags and masks. `NoEnt` when it is not present.
    pub fn section_info(&self, nr: SectionNr) -> Result<SectionInfo> {
        let g = self.geometry();
        if nr.0 >= g.nr_sections() {
            return Err(Error::NoEnt);
        }
        let sec = self.table.get(nr).ok_or(Error::NoEnt)?;
        let flags = sec.flags();
        if !flags.contains(SectionFlags::PRESENT) {
            return Err(Error::NoEnt);
        }
        let (active, device) = sec.masks::<SUBSECTION_WORDS>();
        Ok(SectionInfo {
            nr,
            flags,
            nr_subsections: g.subsections_per_section(),
            active,
            device,
        })
    }

    /// The first valid pfn at or after `pfn` (Linux `next_valid_pfn`), skipping whole
    /// invalid sub-sections and sections; `None` if there is none.
    pub fn next_valid_pfn(&self, pfn: Pfn) -> Option<Pfn> {
        let g = self.geometry();
        if !g.pfn_in_range(pfn) {
            return None;
        }
        let mut from = pfn;
        let mut nr = g.section_of(pfn);
        loop {
            let (found, sec) = self
                .table
                .find_from(nr, |s| s.flags().contains(SectionFlags::VALID))?;
            let start = g.section_start(found)?;
            let cand = if found == g.section_of(from) {
                from
            } else {
                start
            };
            if sec.flags().contains(SectionFlags::EARLY) {
                return Some(cand);
            }
            let idx = g.subsection_index(cand);
            if let Some(i) = sec
                .next_active(idx)
                .filter(|i| *i < g.subsections_per_section())
            {
                if i == idx {
                    return Some(cand);
                }
                return Some(Pfn(start
                    .0
                    .wrapping_add(u64::from(i) << g.pfn_subsection_shift())));
            }
            nr = SectionNr(found.0.checked_add(1)?);
            from = g.section_start(nr)?;
        }
    }
}
