//! Memory blocks: the record each block keeps (state, zone, nid, flags) and the
//! information queries report about it (Linux /sys/devices/system/memory/memoryN).

use bitflags::bitflags;

use crate::addr::{BlockId, PhysAddr};
use crate::zone::{Zone, ZoneSet};

/// `SMEM_NID_NONE`: no node set.
pub const NID_NONE: i32 = -1;
/// `SMEM_NID_MIXED`: a boot block whose RAM belongs to several nodes.
pub const NID_MIXED: i32 = -2;

/// A block's state, with Linux's values (`SMEM_BLOCK_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum BlockState {
    /// Online (MEM_ONLINE).
    Online = 1,
    /// An offline is under way (MEM_GOING_OFFLINE).
    GoingOffline = 2,
    /// Offline (MEM_OFFLINE).
    Offline = 4,
    /// An online is under way (Linux has no such block state; see decision 8).
    GoingOnline = 8,
}

impl BlockState {
    const fn from_u8(v: u8) -> Option<Self> {
        match v {
            1 => Some(Self::Online),
            2 => Some(Self::GoingOffline),
            4 => Some(Self::Offline),
            8 => Some(Self::GoingOnline),
            _ => None,
        }
    }
    /// The Linux sysfs `state` text.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Online => "online",
            Self::GoingOffline => "going-offline",
            Self::Offline => "offline",
            Self::GoingOnline => "going-online",
        }
    }
}

bitflags! {
    /// Block flags, with the values of `SMEM_BLOCK_F_*`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
    pub struct BlockFlags: u32 {
        /// Created from the boot map.
        const EARLY = 1;
        /// Fewer System RAM pages than the block spans.
        const HOLES = 2;
        /// Device sub-sections inside the block's sections.
        const DEVICE = 4;
        /// Boot RAM of several zones.
        const MIXED_ZONES = 8;
        /// Boot RAM of several nodes (nid is `NID_MIXED`).
        const MIXED_NODES = 16;
        /// An offline request would pass every check this library makes.
        const OFFLINABLE = 32;
    }
}

/// Flags kept in the record; the others are derived when a block is queried.
const STORED_FLAGS: u32 =
    BlockFlags::EARLY.bits() | BlockFlags::MIXED_ZONES.bits() | BlockFlags::MIXED_NODES.bits();
/// Internal: a transition owns the block (from its GOING_* event until after its last
/// event), so other mutating calls on it are `Busy`.
const BUSY: u32 = 0x80;

/// The packed, atomic-sized record of a block, kept in the block's first section:
/// state in bits 0..8 (0: no block), zone in 8..16, nid + 2 in 16..24 (so
/// `NID_MIXED` is 0 and `NID_NONE` 1), stored flags and BUSY in 24..32.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct BlockRecord {
    pub(crate) state: BlockState,
    pub(crate) zone: Zone,
    pub(crate) nid: i32,
    pub(crate) flags: BlockFlags,
    pub(crate) busy: bool,
}

impl BlockRecord {
    pub(crate) fn encode(&self) -> u32 {
        let nid = (self.nid.wrapping_add(2) as u32) & 0xff;
        let flags = (self.flags.bits() & STORED_FLAGS) | if self.busy { BUSY } else { 0 };
        u32::from(self.state as u8) | u32::from(self.zone as u8) << 8 | nid << 16 | flags << 24
    }

    /// Decodes a record; `None` for "no block" (or a malformed word).
    pub(crate) fn decode(w: u32) -> Option<Self> {
        let state = BlockState::from_u8(w as u8)?;
        let zone = Zone::from_u8((w >> 8) as u8)?;
        let nid = (((w >> 16) & 0xff) as i32).wrapping_sub(2);
        let f = w >> 24;
        Some(Self {
            state,
            zone,
            nid,
            flags: BlockFlags::from_bits_truncate(f & STORED_FLAGS),
            busy: f & BUSY != 0,
        })
    }
}

/// What a query reports about one block (the C `smem_block_info`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockInfo {
    /// Block id (Linux memoryN, phys_index).
    pub id: BlockId,
    /// First physical address.
    pub start: PhysAddr,
    /// Size in bytes (the block size).
    pub size: u64,
    /// System RAM pages in the block.
    pub present_pages: u64,
    /// The node, or `NID_MIXED`.
    pub nid: i32,
    /// Flags, stored and derived.
    pub flags: BlockFlags,
    /// State.
    pub state: BlockState,
    /// The zone while online; `Zone::None` when offline or mixed.
    pub zone: Zone,
    /// The zone a plain online would choose now; `Zone::None` for an online block.
    pub default_zone: Zone,
    /// The zones Linux `valid_zones` lists.
    pub valid_zones: ZoneSet,
}

impl BlockInfo {
    /// The Linux `valid_zones` text.
    pub fn valid_zones_text(&self) -> crate::zone::ValidZones {
        let first = if self.state == BlockState::Offline {
            self.default_zone
        } else {
            self.zone
        };
        crate::zone::ValidZones {
            zones: self.valid_zones,
            first,
        }
    }
}

use crate::addr::{Pfn, SectionNr};
use crate::error::{Error, Result};
use crate::map::SparseMap;
use crate::order::{Hotplug, Proof};
use crate::section::{BlockView, SubState};

impl SparseMap {
    /// The record of a block, if it exists.
    pub(crate) fn block_record(&self, id: BlockId) -> Option<BlockRecord> {
        let first = self.geometry().block_first_section(id)?;
        BlockRecord::decode(self.table.get(first)?.block_record())
    }

    /// The one block transition (Linux `memory_block_change_state` plus the
    /// section flags): writes the block's record (`None`: the block is gone) and the
    /// view every section of the block carries; with `online`, sets or clears the
    /// sections' ONLINE flag in the same store as their view, so no per-pfn answer
    /// pairs ONLINE with the block's state or zone of before. `_held` proves the
    /// caller holds the hotplug lock, which serialises block records.
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
        if let Some(sec) = self
            .geometry()
            .block_first_section(id)
            .and_then(|nr| self.table.get(nr))
        {
            sec.set_block_record(rec.map_or(0, |r| r.encode()));
        }
        self.for_each_block_section(id, |sec| sec.set_block_view(view, online));
    }

    /// The pfn range `[start, end)` of a block.
    pub(crate) fn block_pfns(&self, id: BlockId) -> Option<(Pfn, Pfn)> {
        let g = self.geometry();
        let start = g.block_start(id)?;
        Some((start, Pfn(start.0.checked_add(g.pages_per_block())?)))
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
                .map_or(0, |(s, e)| self.boot.pages_in(s, e));
        }
        let last = g.subsections_per_section().wrapping_sub(1);
        let mut subs = 0u64;
        self.for_each_block_section(id, |s| {
            subs = subs.wrapping_add(u64::from(s.count_in(0, last, |st| st == SubState::Ram)));
        });
        subs.wrapping_mul(g.pages_per_subsection())
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
        let (start, end) = self.block_pfns(id).ok_or(Error::NoEnt)?;
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
            let choice = self.zone_choice(rec.nid, start, end);
            (
                choice.default,
                ZoneSet::EMPTY
                    .with(choice.default)
                    .with(choice.kernel)
                    .with(Zone::Movable),
            )
        } else {
            (Zone::None, ZoneSet::EMPTY.with(rec.zone))
        };
        Ok(BlockInfo {
            id,
            start: g.addr_of(start).ok_or(Error::NoEnt)?,
            size: g.block_size(),
            present_pages,
            nid: rec.nid,
            flags,
            state: rec.state,
            zone: rec.zone,
            default_zone,
            valid_zones,
        })
    }

    /// The Linux `valid_zones` text of a block. `NoEnt` if it does not exist.
    pub fn valid_zones(&self, id: BlockId) -> Result<crate::zone::ValidZones> {
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
