//! Geometry (page, sub-section, section and block sizes) and the configuration it is
//! validated from, with the x86-64 and arm64 presets.

use crate::addr::{BlockId, Pfn, PfnRange, PhysAddr, SectionNr};
use crate::capacity::{MAX_SECTION_NR_BITS, MAX_SUBSECTIONS};
use crate::error::{Error, Result};
use crate::repr::u8_enum;

/// The largest physical address width any map supports (Linux's
/// MAX_POSSIBLE_PHYSMEM_BITS).
pub const MAX_PHYS_BITS: u32 = 52;

u8_enum! {
    /// How blocks created by `add_memory` are onlined (Linux `auto_online_blocks`).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
    pub enum AutoOnline {
        /// Leave new blocks offline.
        #[default]
        Offline = 0,
        /// Online into the default zone (`online`).
        Online = 1,
        /// Online into the kernel zone (`online_kernel`).
        OnlineKernel = 2,
        /// Online into ZONE_MOVABLE (`online_movable`).
        OnlineMovable = 3,
    }
}

impl AutoOnline {}

u8_enum! {
    /// How a plain online chooses its zone (`SMEM_POLICY_*`, Linux
    /// `memory_hotplug.online_policy`).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
    pub enum OnlinePolicy {
        /// Keep zones contiguous (Linux `contig-zones`, the default).
        #[default]
        ContigZones = 0,
        /// Movable while the auto-movable ratio allows it (Linux `auto-movable`).
        AutoMovable = 1,
    }
}

u8_enum! {
    /// Whether hot-added blocks carry their own memmap (`SMEM_MEMMAP_ON_MEMORY_*`,
    /// Linux `memory_hotplug.memmap_on_memory`).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
    pub enum MemmapOnMemory {
        /// Never.
        #[default]
        Off = 0,
        /// Only a range of exactly one block (Linux 6.1).
        SingleBlock = 1,
        /// Every block of a range carries its own (Linux 6.7 and later).
        PerBlock = 2,
    }
}

/// Linux's default `memory_hotplug.auto_movable_ratio`, in percent.
pub const DEFAULT_AUTO_MOVABLE_RATIO: u32 = 301;

/// What a caller chooses for a map (the C `smem_config`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// log2 of the page size: 12 (4 KiB) ..= 16 (64 KiB).
    pub page_shift: u8,
    /// log2 of the sub-section size; Linux always uses 21 (2 MiB).
    pub subsection_shift: u8,
    /// log2 of the section size: 27 (128 MiB) on x86-64.
    pub section_shift: u8,
    /// Physical address width: 46, 48 or 52.
    pub max_phys_bits: u8,
    /// Linux `movable_node`: a plain online prefers ZONE_MOVABLE.
    pub movable_node: bool,
    /// How `add_memory` onlines the blocks it creates.
    pub auto_online: AutoOnline,
    /// Memory block size in bytes: a power of two, at least the section size.
    pub block_size: u64,
    /// ZONE_DMA is `[0, zone_dma_end)`; 0 means no DMA zone.
    pub zone_dma_end: u64,
    /// ZONE_DMA32 is `[zone_dma_end, zone_dma32_end)`; 0 means no DMA32 zone.
    pub zone_dma32_end: u64,
    /// How a plain online chooses its zone (changeable at run time).
    pub online_policy: OnlinePolicy,
    /// The auto-movable ratio also holds per node (Linux default: true).
    pub auto_movable_numa_aware: bool,
    /// Whether hot-added blocks may carry their own memmap.
    pub memmap_on_memory: MemmapOnMemory,
    /// Movable pages allowed per 100 early kernel pages under the auto-movable policy.
    pub auto_movable_ratio: u32,
}

const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

impl Config {
    /// The policy fields at Linux's defaults (the presets' values).
    pub(crate) const LINUX_DEFAULTS: Config = Config {
        page_shift: 0,
        subsection_shift: 0,
        section_shift: 0,
        max_phys_bits: 0,
        movable_node: false,
        auto_online: AutoOnline::Offline,
        block_size: 0,
        zone_dma_end: 0,
        zone_dma32_end: 0,
        online_policy: OnlinePolicy::ContigZones,
        auto_movable_numa_aware: true,
        memmap_on_memory: MemmapOnMemory::Off,
        auto_movable_ratio: DEFAULT_AUTO_MOVABLE_RATIO,
    };

    /// x86-64: 4 KiB pages, 2 MiB sub-sections, 128 MiB sections and blocks, 46-bit
    /// physical addresses, DMA below 16 MiB, DMA32 below 4 GiB.
    pub const fn x86_64() -> Self {
        Self {
            page_shift: 12,
            subsection_shift: 21,
            section_shift: 27,
            max_phys_bits: 46,
            movable_node: false,
            auto_online: AutoOnline::Offline,
            block_size: 128 * MIB,
            zone_dma_end: 16 * MIB,
            zone_dma32_end: 4 * GIB,
            ..Self::LINUX_DEFAULTS
        }
    }

    /// arm64 with 4 KiB pages: 128 MiB sections and blocks, 48-bit physical addresses,
    /// no DMA zone, DMA32 below 4 GiB.
    pub const fn arm64_4k() -> Self {
        Self {
            page_shift: 12,
            subsection_shift: 21,
            section_shift: 27,
            max_phys_bits: 48,
            movable_node: false,
            auto_online: AutoOnline::Offline,
            block_size: 128 * MIB,
            zone_dma_end: 0,
            zone_dma32_end: 4 * GIB,
            ..Self::LINUX_DEFAULTS
        }
    }

    /// arm64 with 64 KiB pages: 512 MiB sections and blocks (256 sub-sections),
    /// 48-bit physical addresses, no DMA zone, DMA32 below 4 GiB.
    pub const fn arm64_64k() -> Self {
        Self {
            page_shift: 16,
            subsection_shift: 21,
            section_shift: 29,
            max_phys_bits: 48,
            movable_node: false,
            auto_online: AutoOnline::Offline,
            block_size: 512 * MIB,
            zone_dma_end: 0,
            zone_dma32_end: 4 * GIB,
            ..Self::LINUX_DEFAULTS
        }
    }

    /// Checks every rule of `smem_init` and derives the geometry; `Inval` for the
    /// first rule the configuration breaks.
    pub fn validate(&self) -> Result<Geometry> {
        let page = u32::from(self.page_shift);
        let sub = u32::from(self.subsection_shift);
        let sec = u32::from(self.section_shift);
        let phys = u32::from(self.max_phys_bits);
        let max_sub_shift = MAX_SUBSECTIONS.trailing_zeros();
        let ok = (12..=16).contains(&page)
            && page <= sub
            && sub <= sec
            && sec.checked_sub(sub).is_some_and(|d| d <= max_sub_shift)
            && sec < phys
            && phys <= MAX_PHYS_BITS
            && phys
                .checked_sub(sec)
                .is_some_and(|d| d as usize <= MAX_SECTION_NR_BITS);
        if !ok {
            return Err(Error::Inval);
        }
        if !self.block_size.is_power_of_two() {
            return Err(Error::Inval);
        }
        let block = self.block_size.trailing_zeros();
        if block < sec || block > phys {
            return Err(Error::Inval);
        }
        let page_mask = (1u64 << page).wrapping_sub(1);
        if self.zone_dma_end & page_mask != 0 || self.zone_dma32_end & page_mask != 0 {
            return Err(Error::Inval);
        }
        if self.zone_dma_end != 0
            && self.zone_dma32_end != 0
            && self.zone_dma_end > self.zone_dma32_end
        {
            return Err(Error::Inval);
        }
        Ok(Geometry {
            page_shift: self.page_shift,
            subsection_shift: self.subsection_shift,
            section_shift: self.section_shift,
            max_phys_bits: self.max_phys_bits,
            block_shift: block as u8,
        })
    }
}

/// A validated geometry: every shift is in range, so the derived values below cannot
/// overflow. All conversions are checked anyway and answer `None` for addresses beyond
/// `max_phys_bits`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Geometry {
    pub(crate) page_shift: u8,
    pub(crate) subsection_shift: u8,
    pub(crate) section_shift: u8,
    pub(crate) max_phys_bits: u8,
    pub(crate) block_shift: u8,
}

/// `1 << n` for shifts the geometry guarantees to be below 64 (0 otherwise).
pub(crate) const fn pow2(n: u32) -> u64 {
    match 1u64.checked_shl(n) {
        Some(v) => v,
        None => 0,
    }
}

/// `(1 << n) - 1`.
pub(crate) const fn low_mask(n: u32) -> u64 {
    pow2(n).wrapping_sub(1)
}

impl Geometry {
    /// Packs the geometry into one word (for an atomic in the map).
    pub(crate) const fn pack(self) -> u32 {
        (self.page_shift as u32)
            | (self.subsection_shift as u32) << 8
            | (self.section_shift as u32) << 16
            | (self.max_phys_bits as u32) << 24
    }

    /// Inverse of `pack`, with the block shift stored apart.
    pub(crate) const fn unpack(w: u32, block_shift: u8) -> Self {
        Self {
            page_shift: w as u8,
            subsection_shift: (w >> 8) as u8,
            section_shift: (w >> 16) as u8,
            max_phys_bits: (w >> 24) as u8,
            block_shift,
        }
    }

    /// log2 of the page size.
    pub const fn page_shift(&self) -> u32 {
        self.page_shift as u32
    }
    /// Page size in bytes.
    pub const fn page_size(&self) -> u64 {
        pow2(self.page_shift())
    }
    /// log2 of pages per sub-section.
    pub const fn pfn_subsection_shift(&self) -> u32 {
        (self.subsection_shift as u32).wrapping_sub(self.page_shift as u32)
    }
    /// log2 of pages per section (Linux PFN_SECTION_SHIFT).
    pub const fn pfn_section_shift(&self) -> u32 {
        (self.section_shift as u32).wrapping_sub(self.page_shift as u32)
    }
    /// log2 of sub-sections per section.
    pub const fn subsections_shift(&self) -> u32 {
        (self.section_shift as u32).wrapping_sub(self.subsection_shift as u32)
    }
    /// log2 of sections per block.
    pub const fn sections_per_block_shift(&self) -> u32 {
        (self.block_shift as u32).wrapping_sub(self.section_shift as u32)
    }
    /// log2 of pages per block.
    pub const fn pfn_block_shift(&self) -> u32 {
        (self.block_shift as u32).wrapping_sub(self.page_shift as u32)
    }
    /// Pages per sub-section.
    pub const fn pages_per_subsection(&self) -> u64 {
        pow2(self.pfn_subsection_shift())
    }
    /// Pages per section.
    pub const fn pages_per_section(&self) -> u64 {
        pow2(self.pfn_section_shift())
    }
    /// Pages per memory block.
    pub const fn pages_per_block(&self) -> u64 {
        pow2(self.pfn_block_shift())
    }
    /// Pages of a block's memmap when the block carries it (memmap_on_memory: 64
    /// bytes of `struct page` per page, stored in the block's first pages), or `None`
    /// when Linux's `mhp_supports_memmap_on_memory` would refuse it for this
    /// geometry: the memmap is not a multiple of the PMD size (2^(2 x page_shift - 3)
    /// bytes). sparsemem also asks that it be whole sub-sections inside the block's
    /// first section, which holds for every geometry Linux supports it on.
    pub fn vmemmap_pages(&self) -> Option<u64> {
        let bytes = self.pages_per_block().wrapping_mul(64);
        let pmd = pow2(2u32.wrapping_mul(self.page_shift()).wrapping_sub(3));
        let whole = |unit: u64| matches!(bytes.checked_rem(unit), Some(0));
        if whole(pmd) && whole(self.subsection_size()) && bytes <= self.section_size() {
            Some(bytes >> self.page_shift())
        } else {
            None
        }
    }
    /// Sub-sections per section.
    pub const fn subsections_per_section(&self) -> u32 {
        1u32 << (self.subsections_shift() & 31)
    }
    /// Sections per memory block.
    pub const fn sections_per_block(&self) -> u64 {
        pow2(self.sections_per_block_shift())
    }
    /// Sub-section size in bytes.
    pub const fn subsection_size(&self) -> u64 {
        pow2(self.subsection_shift as u32)
    }
    /// Section size in bytes.
    pub const fn section_size(&self) -> u64 {
        pow2(self.section_shift as u32)
    }
    /// Memory block size in bytes.
    pub const fn block_size(&self) -> u64 {
        pow2(self.block_shift as u32)
    }
    /// Physical address width.
    pub const fn max_phys_bits(&self) -> u32 {
        self.max_phys_bits as u32
    }
    /// One past the highest pfn (`2^(max_phys_bits - page_shift)`).
    pub const fn pfn_limit(&self) -> u64 {
        pow2((self.max_phys_bits as u32).wrapping_sub(self.page_shift as u32))
    }
    /// Number of section numbers (Linux NR_MEM_SECTIONS).
    pub const fn nr_sections(&self) -> u64 {
        pow2((self.max_phys_bits as u32).wrapping_sub(self.section_shift as u32))
    }

    /// The pfn of an address, rounded down.
    pub const fn pfn_down(&self, addr: PhysAddr) -> Pfn {
        Pfn(addr.0 >> (self.page_shift as u32 & 63))
    }
    /// The pfn of an address, rounded up; `None` if that overflows.
    pub const fn pfn_up(&self, addr: PhysAddr) -> Option<Pfn> {
        let m = low_mask(self.page_shift as u32);
        match addr.0.checked_add(m) {
            Some(v) => Some(Pfn(v >> (self.page_shift as u32 & 63))),
            None => None,
        }
    }
    /// The address of a pfn, if it fits in 64 bits.
    pub const fn addr_of(&self, pfn: Pfn) -> Option<PhysAddr> {
        if pfn.0 >> (64u32.wrapping_sub(self.page_shift as u32) & 63) != 0 {
            return None;
        }
        Some(PhysAddr(pfn.0 << (self.page_shift as u32 & 63)))
    }
    /// True when the pfn lies below `2^max_phys_bits`.
    pub const fn pfn_in_range(&self, pfn: Pfn) -> bool {
        pfn.0 < self.pfn_limit()
    }
    /// The section holding a pfn.
    pub const fn section_of(&self, pfn: Pfn) -> SectionNr {
        SectionNr(pfn.0 >> (self.pfn_section_shift() & 63))
    }
    /// The first pfn of a section, if the section lies below the pfn limit.
    pub const fn section_start(&self, nr: SectionNr) -> Option<Pfn> {
        if nr.0 >= self.nr_sections() {
            return None;
        }
        Some(Pfn(nr.0 << (self.pfn_section_shift() & 63)))
    }
    /// The sub-section index of a pfn inside its section (Linux `subsection_map_index`).
    pub const fn subsection_index(&self, pfn: Pfn) -> u32 {
        ((pfn.0 & low_mask(self.pfn_section_shift())) >> (self.pfn_subsection_shift() & 63)) as u32
    }
    /// The block holding a section.
    pub const fn block_of_section(&self, nr: SectionNr) -> BlockId {
        BlockId(nr.0 >> (self.sections_per_block_shift() & 63))
    }
    /// The block holding a pfn.
    pub const fn block_of(&self, pfn: Pfn) -> BlockId {
        self.block_of_section(self.section_of(pfn))
    }
    /// The first section of a block, if it lies below the pfn limit.
    pub const fn block_first_section(&self, id: BlockId) -> Option<SectionNr> {
        let nblocks = self.nr_sections() >> (self.sections_per_block_shift() & 63);
        if id.0 >= nblocks {
            return None;
        }
        Some(SectionNr(id.0 << (self.sections_per_block_shift() & 63)))
    }
    /// The first pfn of a block, if it lies below the pfn limit.
    pub const fn block_start(&self, id: BlockId) -> Option<Pfn> {
        match self.block_first_section(id) {
            Some(s) => self.section_start(s),
            None => None,
        }
    }

    /// Converts a byte range to pfns, checking the C rules shared by every
    /// range-taking call: size 0 or a wrap past 2^64 (reaching it counts) is `Inval`,
    /// start or size not a multiple of `align` is `Inval`, an end beyond
    /// `max_phys_bits` is `TooBig`.
    pub fn aligned_range(&self, start: u64, size: u64, align: u64) -> Result<PfnRange> {
        let end = match start.checked_add(size) {
            Some(e) if size != 0 => e,
            _ => return Err(Error::Inval),
        };
        let m = align.wrapping_sub(1);
        if start & m != 0 || size & m != 0 {
            return Err(Error::Inval);
        }
        let limit = pow2(self.max_phys_bits());
        if end > limit {
            return Err(Error::TooBig);
        }
        Ok(PfnRange::new(
            self.pfn_down(PhysAddr(start)),
            self.pfn_down(PhysAddr(end)),
        ))
    }

    /// The pfns of a section, if it lies below the pfn limit.
    pub const fn section_range(&self, nr: SectionNr) -> Option<PfnRange> {
        match self.section_start(nr) {
            Some(s) => Some(s.range(self.pages_per_section())),
            None => None,
        }
    }

    /// The pfns of a block, if it lies below the pfn limit.
    pub const fn block_range(&self, id: BlockId) -> Option<PfnRange> {
        match self.block_start(id) {
            Some(s) => Some(s.range(self.pages_per_block())),
            None => None,
        }
    }

    /// The part of `r` in each section it touches, in ascending order.
    pub(crate) fn section_pieces(&self, r: PfnRange) -> impl Iterator<Item = SectionPiece> {
        let g = *self;
        r.split_every(self.pages_per_section())
            .map(move |pfns| SectionPiece {
                nr: g.section_of(pfns.start),
                first: g.subsection_index(pfns.start),
                last: g.subsection_index(pfns.last().unwrap_or(pfns.start)),
                pfns,
            })
    }

    /// The first and last section `r` touches (`r` non-empty).
    pub(crate) fn section_bounds(&self, r: PfnRange) -> (SectionNr, SectionNr) {
        (
            self.section_of(r.start),
            self.section_of(r.last().unwrap_or(r.start)),
        )
    }

    /// The blocks `r` touches, in ascending order.
    pub(crate) fn blocks_in(&self, r: PfnRange) -> impl Iterator<Item = BlockId> {
        let g = *self;
        r.split_every(self.pages_per_block())
            .map(move |p| g.block_of(p.start))
    }
}

/// The part of a pfn range inside one section, with its sub-section indices.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SectionPiece {
    /// The section.
    pub(crate) nr: SectionNr,
    /// The pfns of the range in this section.
    pub(crate) pfns: PfnRange,
    /// Index of the first sub-section the piece touches.
    pub(crate) first: u32,
    /// Index of the last sub-section the piece touches.
    pub(crate) last: u32,
}

impl SectionPiece {
    /// The number of sub-sections the piece touches.
    pub(crate) fn subsections(&self) -> u32 {
        self.last.saturating_sub(self.first).saturating_add(1)
    }
}
