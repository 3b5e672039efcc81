//! The block facet of the map: the one block-state transition, and what queries
//! report about blocks.

use crate::addr::{BlockId, PfnRange, SectionNr};
use crate::error::{Error, Result};
use crate::map::SparseMap;
use crate::memory::block::{BlockFlags, BlockInfo, BlockRecord, BlockState};
use crate::memory::zone::{ValidZones, Zone, ZoneSet};
use crate::section::{BlockView, SubState};
use crate::sync::order::{Hotplug, Proof};

impl SparseMap {
    /// The record of a block, if it exists.
    pub(crate) fn block_record(&self, id: BlockId) -> Option<BlockRecord> {
        let first = self.geometry().block_first_section(id)?;
        BlockRecord::decode(self.table.get(first)?.block_record())
    }

    /// Moves an existing block to state `to` (Linux `memory_block_change_state`), the
    /// one transition every online and offline step goes through. The sections' ONLINE
    /// flag follows the state: set for ONLINE, cleared for OFFLINE, unchanged while
    /// GOING_* (Linux keeps a going-offline block's pages online until it commits).
    /// `zone` replaces the block's zone when given; `busy` says whether an operation
    /// has claimed the block. No-op for a block that does not exist.
    pub(crate) fn change_state(
        &self,
        held: &Proof<Hotplug>,
        id: BlockId,
        to: BlockState,
        zone: Option<Zone>,
        busy: bool,
    ) {
        let Some(rec) = self.block_record(id) else {
            return;
        };
        let online = match to {
            BlockState::Online => Some(true),
            BlockState::Offline => Some(false),
            BlockState::GoingOnline | BlockState::GoingOffline => None,
        };
        let rec = BlockRecord {
            state: to,
            zone: zone.unwrap_or(rec.zone),
            busy,
            ..rec
        };
        self.set_block(held, id, Some(rec), online);
    }

    /// Creates, rewrites or (with `None`) deletes a block: writes its record and the
    /// view every section of the block carries; with `online`, sets or clears the
    /// sections' ONLINE flag in the same store as their view, so no per-pfn answer
    /// pairs ONLINE with the block's state or zone of before. `_held` proves the
    /// caller holds the hotplug lock, which serialises block records. State changes
    /// go through `change_state`.
    pub(crate) fn set_block(
        &self,
        _held: &Proof<Hotplug>,
        id: BlockId,
        rec: Option<BlockRecord>,
        online: Option<bool>,
    ) {
        let view = rec.map(|r| BlockView {
            state: r.state,
            zone: r.zone,
            nid: r.nid,
        });
        // The flat online bitmap before pages stop being online, after they start
        // (section/flat_online.rs).
        if online == Some(false) || rec.is_none() {
            self.retract_block_online(id);
        }
        if let Some(sec) = self
            .geometry()
            .block_first_section(id)
            .and_then(|nr| self.table.get(nr))
        {
            sec.set_block_record(rec.map_or(0, |r| r.encode()));
        }
        self.for_each_block_section(id, |sec| sec.set_block_view(view, online));
        if online == Some(true) {
            self.publish_block_online(id);
        }
    }

    /// The pfns of a block.
    pub(crate) fn block_pfns(&self, id: BlockId) -> Option<PfnRange> {
        self.geometry().block_range(id)
    }

    /// Calls `f` for each section entry of a block whose leaf exists.
    pub(crate) fn for_each_block_section(
        &self,
        id: BlockId,
        mut f: impl FnMut(&crate::section::Section),
    ) {
        let g = self.geometry();
        let Some(first) = g.block_first_section(id) else {
            return;
        };
        for i in 0..g.sections_per_block() {
            if let Some(s) = self.table.get(SectionNr(first.0.wrapping_add(i))) {
                f(s);
            }
        }
    }

    /// System RAM pages of a block: from the boot ranges for an early block, from
    /// its RAM sub-sections otherwise.
    fn block_ram_pages(&self, id: BlockId, rec: &BlockRecord) -> u64 {
        let g = self.geometry();
        if rec.flags.contains(BlockFlags::EARLY) {
            return self
                .block_pfns(id)
                .map_or(0, |r| self.boot.pages_in(r.start, r.end));
        }
        let last = g.subsections_per_section().wrapping_sub(1);
        let mut subs = 0u64;
        self.for_each_block_section(id, |s| {
            subs = subs.wrapping_add(u64::from(s.count_in(0, last, |st| st == SubState::Ram)));
        });
        subs.wrapping_mul(g.pages_per_subsection())
    }

    /// Pages of the block marked fake-offline.
    fn block_fake_offline_pages(&self, id: BlockId) -> u64 {
        let mut subs = 0u64;
        self.for_each_block_section(id, |s| {
            if s.word().fake_offline() {
                subs = subs.wrapping_add(u64::from(self.fake.find(s).map_or(0, |e| e.count())));
            }
        });
        subs.wrapping_mul(self.geometry().pages_per_subsection())
    }

    /// True when any section of the block holds device sub-sections.
    pub(crate) fn block_has_device(&self, id: BlockId) -> bool {
        let last = self.geometry().subsections_per_section().wrapping_sub(1);
        let mut dev = false;
        self.for_each_block_section(id, |s| {
            dev |= s.any_in(0, last, |st| st == SubState::Device)
        });
        dev
    }

    /// Everything a query reports about a block (Linux memoryN). `NoEnt` if it does
    /// not exist.
    pub fn block_info(&self, id: BlockId) -> Result<BlockInfo> {
        let rec = self.block_record(id).ok_or(Error::NoEnt)?;
        let g = self.geometry();
        let pfns = self.block_pfns(id).ok_or(Error::NoEnt)?;
        let present_pages = self.block_ram_pages(id, &rec);
        let mut flags = rec.flags;
        if present_pages < g.pages_per_block() {
            flags |= BlockFlags::HOLES;
        }
        if self.block_has_device(id) {
            flags |= BlockFlags::DEVICE;
        }
        let offlinable = rec.state == BlockState::Online
            && !rec.busy
            && rec.zone != Zone::None
            && !flags.intersects(BlockFlags::HOLES | BlockFlags::DEVICE);
        if offlinable {
            flags |= BlockFlags::OFFLINABLE;
        }
        let (default_zone, valid_zones) = if rec.state == BlockState::Offline {
            let choice = self.block_zone_choice(&rec, pfns);
            (choice.default, choice.valid_zones())
        } else {
            (Zone::None, ZoneSet::EMPTY.with(rec.zone))
        };
        Ok(BlockInfo {
            id,
            start: g.addr_of(pfns.start).ok_or(Error::NoEnt)?,
            size: g.block_size(),
            present_pages,
            nid: rec.nid,
            flags,
            state: rec.state,
            zone: rec.zone,
            default_zone,
            valid_zones,
            group: rec.group,
            vmemmap_pages: if rec.vmemmap {
                g.vmemmap_pages().unwrap_or(0)
            } else {
                0
            },
            fake_offline_pages: self.block_fake_offline_pages(id),
        })
    }

    /// The Linux `valid_zones` text of a block. `NoEnt` if it does not exist.
    pub fn valid_zones(&self, id: BlockId) -> Result<ValidZones> {
        Ok(self.block_info(id)?.valid_zones_text())
    }

    /// Every block, in ascending id order.
    pub fn blocks(&self) -> Blocks<'_> {
        Blocks {
            map: self,
            next: Some(SectionNr(0)),
        }
    }
}

/// Iterator over the blocks of a map in id order (see [`SparseMap::blocks`]).
#[derive(Debug)]
pub struct Blocks<'a> {
    map: &'a SparseMap,
    next: Option<SectionNr>,
}

impl Iterator for Blocks<'_> {
    type Item = BlockInfo;

    fn next(&mut self) -> Option<BlockInfo> {
        loop {
            let from = self.next?;
            let (nr, _) = self.map.table.find_from(from, |s| s.block_record() != 0)?;
            self.next = nr.0.checked_add(1).map(SectionNr);
            let id = self.map.geometry().block_of_section(nr);
            if let Ok(info) = self.map.block_info(id) {
                return Some(info);
            }
        }
    }
}
