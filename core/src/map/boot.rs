//! Boot: registering the firmware RAM ranges and turning them into early sections,
//! online early blocks and zone spans, as Linux's sparse_init, memory_dev_init and node
//! registration do (docs/semantics.md, "Boot memory").

use crate::addr::{BlockId, Pfn, PhysAddr, SectionNr};
use crate::error::{Error, Result};
use crate::map::{Phase, SparseMap};
use crate::memory::block::nid_ok;
use crate::memory::block::{BlockFlags, BlockRecord, BlockState, NID_MIXED};
use crate::memory::boot_ranges::BootRange;
use crate::memory::zone::{Zone, ZoneSet};
use crate::section::{SectionFlags, SubState};
use crate::sync::order::{Held, Hotplug, Proof};

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
        if end > crate::section::geometry::pow2(g.max_phys_bits()) {
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
        self.commit(|| {
            self.register_boot_blocks(h.proof());
            for r in self.boot.iter() {
                self.populate_early(r);
            }
            self.init_zone_spans(h.held());
            self.set_phase(Phase::Running);
        });
        Ok(())
    }

    /// Sets the sub-section states and flags of the sections `r` touches.
    fn populate_early(&self, r: BootRange) {
        let g = self.geometry();
        let pps = g.pages_per_subsection();
        for piece in g.section_pieces(r.pfns()) {
            let Some(sec) = self.table.get(piece.nr) else {
                continue;
            };
            // Alone: no other section writer runs before the Running phase, so plain
            // stores (readers may run beside them).
            sec.fill_alone(piece.first, piece.last, SubState::Ram);
            // The end sub-sections may be only partly RAM: look at all the ranges.
            for sub in [
                piece.pfns.start,
                piece.pfns.last().unwrap_or(piece.pfns.start),
            ] {
                let sub = sub.align_down(pps).range(pps);
                if self.boot.pages_in(sub.start, sub.end) != pps {
                    let idx = g.subsection_index(sub.start);
                    sec.fill_alone(idx, idx, SubState::RamPartial);
                }
            }
            sec.set_flags(
                SectionFlags::PRESENT
                    | SectionFlags::VALID
                    | SectionFlags::ONLINE
                    | SectionFlags::EARLY,
            );
            // After the table: every pfn of an early section is valid, and its RAM
            // sub-sections without holes are wholly online.
            let top = g.subsections_per_section().wrapping_sub(1);
            self.flat.write_alone(&g, piece.nr, 0, top, true);
            self.publish_online_alone(&g, piece.nr);
        }
    }

    /// Creates the early blocks: one per block id holding boot RAM.
    fn register_boot_blocks(&self, proof: &Proof<Hotplug>) {
        let g = self.geometry();
        let mut acc: Option<BlockAcc> = None;
        for r in self.boot.iter() {
            for piece in r.pfns().split_every(g.pages_per_block()) {
                let id = g.block_of(piece.start);
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
                for (zone, _) in self.addr_zones.zones_in(piece) {
                    a.zones = a.zones.with(zone);
                }
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
            flags,
            ..BlockRecord::new(BlockState::Online, zone, nid)
        };
        // ONLINE is set with the states in `populate_early`, after this.
        self.set_block(proof, a.id, Some(rec), None);
    }

    /// Per-node zone spans and present pages from the boot RAM.
    fn init_zone_spans(&self, held: &mut Held<Hotplug>) {
        let z = self.zones.lock.lock(held);
        for r in self.boot.iter() {
            for (zone, piece) in self.addr_zones.zones_in(r.pfns()) {
                if let Ok(span) = self.zones.get(r.nid, zone) {
                    let mut s = span.grown(piece.start, piece.end);
                    s.present_pages = s.present_pages.saturating_add(piece.pages());
                    let _ = self.zones.set(z.proof(), r.nid, zone, s);
                }
            }
        }
    }
}
