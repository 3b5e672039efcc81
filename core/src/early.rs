//! Boot: registering the firmware RAM ranges and turning them into early sections,
//! online early blocks and zone spans, as Linux's sparse_init, memory_dev_init and node
//! registration do (semantics.md 3.1 and 2.4).

use crate::addr::{BlockId, Pfn, PhysAddr, SectionNr};
use crate::block::{BlockFlags, BlockRecord, BlockState, NID_MIXED};
use crate::boot::BootRange;
use crate::capacity::MAX_NODES;
use crate::error::{Error, Result};
use crate::map::{Phase, SparseMap};
use crate::order::{Held, Hotplug, Proof};
use crate::section::{SectionFlags, SubState};
use crate::zone::{Zone, ZoneSet};

/// True for a node id in `0..MAX_NODES`.
pub(crate) fn nid_ok(nid: i32) -> bool {
    usize::try_from(nid).is_ok_and(|n| n < MAX_NODES)
}

/// The running summary of one block while boot ranges are folded into it.
struct BlockAcc {
    id: BlockId,
    nid: Option<i32>,
    mixed_nodes: bool,
    zones: ZoneSet,
}

impl SparseMap {
    /// Registers one System RAM range of the firmware map. Byte ranges are rounded
    /// inward to whole pages; one that is empty after rounding is accepted and
    /// ignored. Errors: `Inval` outside the boot phase, for size 0, a wrap past 2^64
    /// or a nid outside `0..MAX_NODES`; `TooBig` beyond `max_phys_bits`; `Exist` on
    /// overlap with a registered range; `NoMem` past `MAX_BOOT_RANGES`.
    pub fn boot_add_ram(&self, nid: i32, start: u64, size: u64) -> Result<()> {
        self.require(Phase::Boot)?;
        let g = self.geometry();
        let end = match start.checked_add(size) {
            Some(e) if size != 0 => e,
            _ => return Err(Error::Inval),
        };
        if !nid_ok(nid) {
            return Err(Error::Inval);
        }
        if end > crate::geometry::pow2(g.max_phys_bits()) {
            return Err(Error::TooBig);
        }
        let first = g.pfn_up(PhysAddr(start)).ok_or(Error::Inval)?;
        let last = g.pfn_down(PhysAddr(end));
        if first >= last {
            return Ok(());
        }
        let mut top = Held::nothing();
        let _g = self.boot.lock.lock(&mut top);
        self.require(Phase::Boot)?;
        self.boot.insert(BootRange {
            start: first,
            end: last,
            nid,
        })
    }

    /// Builds the boot state from the registered ranges: every section touched by RAM
    /// becomes PRESENT | VALID | ONLINE | EARLY with the sub-sections touched by RAM
    /// active; every block holding RAM exists, ONLINE and EARLY, with its nid (or
    /// `NID_MIXED`), its zone (or `Zone::None` for several zones or nodes) and the
    /// HOLES flag; zone spans and present pages come from the RAM. Then the map runs.
    /// `Inval` unless in the boot phase; `NoMem` when the table cannot hold the
    /// sections (nothing visible changes then).
    pub fn boot_finish(&self) -> Result<()> {
        let mut top = Held::nothing();
        let mut b = self.boot.lock.lock(&mut top);
        let mut h = self.hotplug.lock(b.held());
        self.require(Phase::Boot)?;
        let g = self.geometry();
        // Prepare: every leaf the ranges' blocks need (each section of a block
        // carries the block's view, holes included).
        for r in self.boot.iter() {
            let first = g.section_of(r.start);
            let last = g.section_of(Pfn(r.end.0.wrapping_sub(1)));
            let block_first = g
                .block_first_section(g.block_of_section(first))
                .ok_or(Error::Inval)?;
            let block_last = g
                .block_first_section(g.block_of_section(last))
                .map(|s| s.0.saturating_add(g.sections_per_block().wrapping_sub(1)))
                .map(|s| SectionNr(s.min(g.nr_sections().wrapping_sub(1))))
                .ok_or(Error::Inval)?;
            self.fault_step()?;
            self.table.reserve(h.held(), block_first, block_last)?;
        }
        // Commit: nothing below can fail. The blocks first, so that a section is
        // never present without its block's view. No section lock is needed: every
        // other writer of sections waits for the Running phase, set last.
        self.register_boot_blocks(h.proof());
        for r in self.boot.iter() {
            self.populate_early(r);
        }
        self.init_zone_spans(h.held());
        self.set_phase(Phase::Running);
        Ok(())
    }

    /// Sets the sub-section states and flags of the sections `r` touches.
    fn populate_early(&self, r: BootRange) {
        let g = self.geometry();
        let pps = g.pages_per_subsection();
        let mut pfn = r.start;
        while pfn.0 < r.end.0 {
            let nr = g.section_of(pfn);
            let sec_end = g
                .section_start(SectionNr(nr.0.wrapping_add(1)))
                .map_or(u64::MAX, |p| p.0);
            let piece_end = Pfn(sec_end.min(r.end.0));
            if let Some(sec) = self.table.get(nr) {
                let first = g.subsection_index(pfn);
                let last = g.subsection_index(Pfn(piece_end.0.wrapping_sub(1)));
                sec.fill(first, last, SubState::Ram);
                // The end sub-sections may be only partly RAM: look at all the ranges.
                for idx in [first, last] {
                    let sub_start = Pfn((pfn.0 & !g.pages_per_section().wrapping_sub(1))
                        .wrapping_add(u64::from(idx).wrapping_mul(pps)));
                    let sub_end = Pfn(sub_start.0.wrapping_add(pps));
                    if self.boot.pages_in(sub_start, sub_end) != pps {
                        sec.fill(idx, idx, SubState::RamPartial);
                    }
                }
                sec.set_flags(
                    SectionFlags::PRESENT
                        | SectionFlags::VALID
                        | SectionFlags::ONLINE
                        | SectionFlags::EARLY,
                );
            }
            pfn = piece_end;
        }
    }

    /// Creates the early blocks: one per block id holding boot RAM.
    fn register_boot_blocks(&self, proof: &Proof<Hotplug>) {
        let g = self.geometry();
        let mut acc: Option<BlockAcc> = None;
        for r in self.boot.iter() {
            let mut pfn = r.start;
            while pfn.0 < r.end.0 {
                let id = g.block_of(pfn);
                let block_end = g
                    .block_start(BlockId(id.0.wrapping_add(1)))
                    .map_or(u64::MAX, |p| p.0);
                let piece_end = Pfn(block_end.min(r.end.0));
                if acc.as_ref().is_some_and(|a| a.id != id) {
                    if let Some(done) = acc.take() {
                        self.store_boot_block(proof, done);
                    }
                }
                let a = acc.get_or_insert(BlockAcc {
                    id,
                    nid: None,
                    mixed_nodes: false,
                    zones: ZoneSet::EMPTY,
                });
                if a.nid.is_some_and(|n| n != r.nid) {
                    a.mixed_nodes = true;
                }
                a.nid = Some(r.nid);
                let mut z = pfn;
                while z.0 < piece_end.0 {
                    a.zones = a.zones.with(self.zone_by_addr(z));
                    z = Pfn(self.addr_zone_end(z).min(piece_end.0));
                }
                pfn = piece_end;
            }
        }
        if let Some(done) = acc {
            self.store_boot_block(proof, done);
        }
    }

    fn store_boot_block(&self, proof: &Proof<Hotplug>, a: BlockAcc) {
        let mut flags = BlockFlags::EARLY;
        if a.mixed_nodes {
            flags |= BlockFlags::MIXED_NODES;
        }
        if a.zones.len() > 1 {
            flags |= BlockFlags::MIXED_ZONES;
        }
        let zone = match a.zones.single() {
            Some(z) if !a.mixed_nodes => z,
            _ => Zone::None,
        };
        let nid = if a.mixed_nodes {
            NID_MIXED
        } else {
            a.nid.unwrap_or(NID_MIXED)
        };
        let rec = BlockRecord {
            state: BlockState::Online,
            zone,
            nid,
            flags,
            busy: false,
        };
        // ONLINE is set with the states in `populate_early`, after this.
        self.set_block(proof, a.id, Some(rec), None);
    }

    /// Per-node zone spans and present pages from the boot RAM.
    fn init_zone_spans(&self, held: &mut Held<Hotplug>) {
        let z = self.zones.lock.lock(held);
        for r in self.boot.iter() {
            let mut pfn = r.start;
            while pfn.0 < r.end.0 {
                let zone = self.zone_by_addr(pfn);
                let end = Pfn(self.addr_zone_end(pfn).min(r.end.0));
                if let Ok(span) = self.zones.get(r.nid, zone) {
                    let mut s = span.grown(pfn, end);
                    s.present_pages = s.present_pages.wrapping_add(end.0.wrapping_sub(pfn.0));
                    let _ = self.zones.set(z.proof(), r.nid, zone, s);
                }
                pfn = end;
            }
        }
    }
}
