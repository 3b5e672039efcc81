//! The structs and callback types of the header, `repr(C)` with the fields C sees, and
//! their conversions from the core's types; and `FfiMap`, what the opaque `smem_map`
//! storage holds.

use core::ffi::{c_int, c_void};

use sparsemem::{
    AutoOnline, BlockInfo, Config, MemRange, MemmapOnMemory, OnlinePolicy, PfnInfo, SectionInfo,
    SparseMap, Stats,
};

use crate::capacity::*;
use crate::consts::*;

/// Storage for a map. Opaque: C only sees its size and alignment. Aligned to 8 on every
/// target (i386 aligns a uint64_t to 4 only), as the map's 64-bit atomics need.
#[repr(C, align(8))]
pub struct smem_map {
    /// Private storage: never read or written by C.
    pub _opaque: [u64; SMEM_MAP_WORDS],
}

/// What `smem_map` holds: the core map and the notifier (function and context).
#[repr(C)]
pub(crate) struct FfiMap {
    pub(crate) core: SparseMap,
    /// (function as usize, context as usize); 0 function: none.
    pub(crate) notifier: spin::Mutex<(usize, usize)>,
}

/// Configuration of a map (see `smem_init`).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct smem_config {
    /// 12 (4 KiB) .. 16 (64 KiB).
    pub page_shift: u8,
    /// 21 (2 MiB).
    pub subsection_shift: u8,
    /// 27 (128 MiB) on x86-64.
    pub section_shift: u8,
    /// 46, 48 or 52; <= SMEM_MAX_PHYS_BITS.
    pub max_phys_bits: u8,
    /// Non-zero: SMEM_ONLINE prefers Movable (Linux movable_node).
    pub movable_node: u8,
    /// SMEM_AUTO_*.
    pub auto_online: u8,
    /// Memory block size in bytes: power of two, >= section size.
    pub block_size: u64,
    /// ZONE_DMA is [0, zone_dma_end); 0: no DMA zone.
    pub zone_dma_end: u64,
    /// ZONE_DMA32 is [zone_dma_end, zone_dma32_end); 0: none.
    pub zone_dma32_end: u64,
    /// SMEM_POLICY_*: Linux memory_hotplug.online_policy.
    pub online_policy: u8,
    /// Linux memory_hotplug.auto_movable_numa_aware (default 1).
    pub auto_movable_numa_aware: u8,
    /// SMEM_MEMMAP_ON_MEMORY_*: Linux memory_hotplug.memmap_on_memory.
    pub memmap_on_memory: u8,
    /// 0.
    pub reserved: u8,
    /// Percent, Linux memory_hotplug.auto_movable_ratio (default 301).
    pub auto_movable_ratio: u32,
}

/// Everything about one pfn.
#[repr(C)]
pub struct smem_pfn_info {
    pub section_nr: u64,
    pub block_id: u64,
    /// SMEM_SECTION_*.
    pub section_flags: u32,
    /// The block's nid (SMEM_NID_MIXED too); in no block: the device range's nid for a
    /// device pfn, else SMEM_NID_NONE.
    pub nid: i32,
    /// SMEM_PFN_HOLE / RAM / DEVICE, page-granular.
    pub kind: u8,
    /// An online RAM pfn: its own zone; SMEM_ZONE_DEVICE for device pfns; else NONE.
    pub zone: u8,
    /// SMEM_BLOCK_*, or 0 when the pfn lies in no block.
    pub block_state: u8,
    /// == smem_pfn_valid.
    pub valid: u8,
    /// == smem_pfn_online.
    pub online: u8,
}

/// A section's flags and sub-section masks.
#[repr(C)]
pub struct smem_section_info {
    pub nr: u64,
    /// SMEM_SECTION_*.
    pub flags: u32,
    /// Sub-sections per section.
    pub nr_subsections: u32,
    /// Bit i: sub-section i active.
    pub active: [u64; SMEM_SUBSECTION_WORDS],
    /// Bit i: sub-section i is device memory.
    pub device: [u64; SMEM_SUBSECTION_WORDS],
}

/// A memory block (Linux memoryN).
#[repr(C)]
pub struct smem_block_info {
    /// First section nr / sections per block; Linux memoryN and phys_index.
    pub id: u64,
    /// Physical address.
    pub start: u64,
    /// == block_size.
    pub size: u64,
    /// System RAM pages in the block.
    pub present_pages: u64,
    /// Node, or SMEM_NID_MIXED.
    pub nid: i32,
    /// SMEM_BLOCK_F_*.
    pub flags: u32,
    /// SMEM_BLOCK_*.
    pub state: u8,
    /// Zone while online; SMEM_ZONE_NONE when offline or mixed.
    pub zone: u8,
    /// Zone SMEM_ONLINE would choose now; SMEM_ZONE_NONE for an online block.
    pub default_zone: u8,
    /// Bit (1 << zone) per zone listed by Linux valid_zones; 0 = "none".
    pub valid_zones: u8,
    /// Memory group id, or SMEM_GROUP_NONE.
    pub group: u32,
    /// Pages at the block's start that carry its memmap (memmap_on_memory), else 0.
    pub vmemmap_pages: u64,
    /// System RAM pages of the block marked by smem_fake_offline.
    pub fake_offline_pages: u64,
}

/// A page-granular range of memory.
#[repr(C)]
pub struct smem_range {
    pub start: u64,
    pub size: u64,
    pub nid: i32,
    /// SMEM_RANGE_*.
    pub kind: u8,
}

/// Whole-map counters.
#[repr(C)]
pub struct smem_stats {
    pub present_sections: u64,
    pub online_sections: u64,
    pub blocks: u64,
    pub online_blocks: u64,
    pub ram_pages: u64,
    pub online_pages: u64,
    pub device_pages: u64,
}

/// Block walk callback: non-zero stops the walk and is returned.
pub type smem_block_fn =
    Option<unsafe extern "C" fn(ctx: *mut c_void, block: *const smem_block_info) -> c_int>;
/// Range walk callback: non-zero stops the walk and is returned.
pub type smem_range_fn =
    Option<unsafe extern "C" fn(ctx: *mut c_void, range: *const smem_range) -> c_int>;
/// Notifier: non-zero from a GOING_* event vetoes.
pub type smem_notifier_fn = Option<
    unsafe extern "C" fn(ctx: *mut c_void, event: u8, block: *const smem_block_info) -> c_int,
>;

impl From<&Config> for smem_config {
    #[inline]
    fn from(c: &Config) -> Self {
        smem_config {
            page_shift: c.page_shift,
            subsection_shift: c.subsection_shift,
            section_shift: c.section_shift,
            max_phys_bits: c.max_phys_bits,
            movable_node: u8::from(c.movable_node),
            auto_online: c.auto_online.to_c(),
            block_size: c.block_size,
            zone_dma_end: c.zone_dma_end,
            zone_dma32_end: c.zone_dma32_end,
            online_policy: c.online_policy.to_c(),
            auto_movable_numa_aware: u8::from(c.auto_movable_numa_aware),
            memmap_on_memory: c.memmap_on_memory.to_c(),
            reserved: 0,
            auto_movable_ratio: c.auto_movable_ratio,
        }
    }
}

/// The core's configuration, not yet validated: fails only for an `auto_online`,
/// `online_policy` or `memmap_on_memory` value that names no constant, or a non-zero
/// `reserved`.
impl TryFrom<&smem_config> for Config {
    type Error = ();

    #[inline]
    fn try_from(c: &smem_config) -> Result<Self, ()> {
        Ok(Config {
            page_shift: c.page_shift,
            subsection_shift: c.subsection_shift,
            section_shift: c.section_shift,
            max_phys_bits: c.max_phys_bits,
            movable_node: c.movable_node != 0,
            auto_online: AutoOnline::from_c(c.auto_online).ok_or(())?,
            block_size: c.block_size,
            zone_dma_end: c.zone_dma_end,
            zone_dma32_end: c.zone_dma32_end,
            online_policy: OnlinePolicy::from_c(c.online_policy).ok_or(())?,
            auto_movable_numa_aware: c.auto_movable_numa_aware != 0,
            memmap_on_memory: MemmapOnMemory::from_c(c.memmap_on_memory).ok_or(())?,
            auto_movable_ratio: if c.reserved == 0 {
                c.auto_movable_ratio
            } else {
                return Err(());
            },
        })
    }
}

impl From<&PfnInfo> for smem_pfn_info {
    #[inline]
    fn from(i: &PfnInfo) -> Self {
        smem_pfn_info {
            section_nr: i.section_nr.0,
            block_id: i.block_id.0,
            section_flags: i.section_flags.bits(),
            nid: i.nid,
            kind: i.kind.to_c(),
            zone: i.zone.to_c(),
            block_state: i.block_state.map_or(0, CEnum::to_c),
            valid: u8::from(i.valid),
            online: u8::from(i.online),
        }
    }
}

impl From<&SectionInfo> for smem_section_info {
    #[inline]
    fn from(i: &SectionInfo) -> Self {
        smem_section_info {
            nr: i.nr.0,
            flags: i.flags.bits(),
            nr_subsections: i.nr_subsections,
            active: i.active,
            device: i.device,
        }
    }
}

impl From<&BlockInfo> for smem_block_info {
    #[inline]
    fn from(b: &BlockInfo) -> Self {
        smem_block_info {
            id: b.id.0,
            start: b.start.0,
            size: b.size,
            present_pages: b.present_pages,
            nid: b.nid,
            flags: b.flags.bits(),
            state: b.state.to_c(),
            zone: b.zone.to_c(),
            default_zone: b.default_zone.to_c(),
            valid_zones: b.valid_zones.0,
            group: b.group,
            vmemmap_pages: b.vmemmap_pages,
            fake_offline_pages: b.fake_offline_pages,
        }
    }
}

impl From<&MemRange> for smem_range {
    #[inline]
    fn from(r: &MemRange) -> Self {
        smem_range {
            start: r.start.0,
            size: r.size,
            nid: r.nid,
            kind: r.kind.to_c(),
        }
    }
}

impl From<&Stats> for smem_stats {
    #[inline]
    fn from(s: &Stats) -> Self {
        smem_stats {
            present_sections: s.present_sections,
            online_sections: s.online_sections,
            blocks: s.blocks,
            online_blocks: s.online_blocks,
            ram_pages: s.ram_pages,
            online_pages: s.online_pages,
            device_pages: s.device_pages,
        }
    }
}
