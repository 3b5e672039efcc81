//! Memory blocks: the record each block keeps (state, zone, nid, flags) and the
//! information queries report about it (Linux /sys/devices/system/memory/memoryN).

use bitflags::bitflags;

use crate::addr::{BlockId, PhysAddr};
use crate::memory::group::GROUP_NONE;
use crate::memory::zone::{Zone, ZoneSet};
use crate::repr::u8_enum;

/// `SMEM_NID_NONE`: no node set.
pub const NID_NONE: i32 = -1;
/// `SMEM_NID_MIXED`: a boot block whose RAM belongs to several nodes.
pub const NID_MIXED: i32 = -2;

/// True for a node id in `0..MAX_NODES`.
pub(crate) fn nid_ok(nid: i32) -> bool {
    usize::try_from(nid).is_ok_and(|n| n < crate::capacity::MAX_NODES)
}

u8_enum! {
    /// A block's state, with Linux's values (`SMEM_BLOCK_*`).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub enum BlockState {
        /// Online (MEM_ONLINE).
        Online = 1,
        /// An offline is under way (MEM_GOING_OFFLINE).
        GoingOffline = 2,
        /// Offline (MEM_OFFLINE).
        Offline = 4,
        /// An online is under way (Linux has no such block state; see docs/semantics.md, "A visible GOING_ONLINE state").
        GoingOnline = 8,
    }
}

impl BlockState {
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
/// Internal: the block carries its own memmap (memmap_on_memory) in its first pages.
const VMEMMAP: u32 = 0x40;
/// The group id + 1 (0: no group) is 9 bits, kept in the bits the other fields leave
/// free: its low 4 bits at 4..8, its high 5 bits at 11..16.
const GROUP_LO: u32 = 0xf << 4;
const GROUP_HI: u32 = 0x1f << 11;

/// The packed, atomic-sized record of a block, kept in the block's first section:
/// state in bits 0..4 (0: no block), zone in 8..11, nid + 2 in 16..24 (so
/// `NID_MIXED` is 0 and `NID_NONE` 1), stored flags, VMEMMAP and BUSY in 24..32, the
/// group in 4..8 and 11..16 (see `GROUP_LO`). Snapshots keep this word as it is
/// (docs/snapshot-format.md, "Block records").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct BlockRecord {
    pub(crate) state: BlockState,
    pub(crate) zone: Zone,
    pub(crate) nid: i32,
    pub(crate) flags: BlockFlags,
    pub(crate) busy: bool,
    /// The memory group, or `GROUP_NONE`.
    pub(crate) group: u32,
    /// The block's first `Geometry::vmemmap_pages` pages hold its memmap.
    pub(crate) vmemmap: bool,
}

impl BlockRecord {
    /// A new block's record: no flags, no group, no memmap of its own.
    pub(crate) fn new(state: BlockState, zone: Zone, nid: i32) -> Self {
        Self {
            state,
            zone,
            nid,
            flags: BlockFlags::empty(),
            busy: false,
            group: GROUP_NONE,
            vmemmap: false,
        }
    }

    pub(crate) fn encode(&self) -> u32 {
        let nid = (self.nid.wrapping_add(2) as u32) & 0xff;
        let flags = (self.flags.bits() & STORED_FLAGS)
            | if self.busy { BUSY } else { 0 }
            | if self.vmemmap { VMEMMAP } else { 0 };
        // GROUP_NONE wraps to 0; ids are below MAX_GROUPS (at most 511).
        let group = self.group.wrapping_add(1) & 0x1ff;
        let group = (group << 4) & GROUP_LO | (group << 7) & GROUP_HI;
        u32::from(self.state as u8)
            | u32::from(self.zone as u8) << 8
            | nid << 16
            | flags << 24
            | group
    }

    /// Decodes a record; `None` for "no block" (or a malformed word).
    pub(crate) fn decode(w: u32) -> Option<Self> {
        let state = BlockState::from_u8((w & 0xf) as u8)?;
        let zone = Zone::from_u8(((w >> 8) & 0x7) as u8)?;
        let nid = (((w >> 16) & 0xff) as i32).wrapping_sub(2);
        let f = w >> 24;
        let group = ((w & GROUP_LO) >> 4 | (w & GROUP_HI) >> 7).wrapping_sub(1);
        Some(Self {
            state,
            zone,
            nid,
            flags: BlockFlags::from_bits_truncate(f & STORED_FLAGS),
            busy: f & BUSY != 0,
            group,
            vmemmap: f & VMEMMAP != 0,
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
    /// The memory group, or `GROUP_NONE`.
    pub group: u32,
    /// Pages at the block's start that carry its memmap (memmap_on_memory), else 0:
    /// System RAM, present, never online.
    pub vmemmap_pages: u64,
    /// System RAM pages of the block taken out of use (fake-offline).
    pub fake_offline_pages: u64,
}

impl BlockInfo {
    /// The Linux `valid_zones` text.
    pub fn valid_zones_text(&self) -> crate::memory::zone::ValidZones {
        let first = if self.state == BlockState::Offline {
            self.default_zone
        } else {
            self.zone
        };
        crate::memory::zone::ValidZones {
            zones: self.valid_zones,
            first,
        }
    }
}
