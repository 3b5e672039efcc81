//! What sparsemem's lookups are measured against, each built from the same ranges.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use sparsemem::{Pfn, SectionNr, SparseMap};
use vm_memory::{GuestAddress, GuestMemory, GuestMemoryMmap};

use super::machines::PAGE_SHIFT;

/// The physical limit of a lookup: one atomic word per 128 MiB section holding its 64
/// sub-section bits, indexed directly by section number, so a lookup is one load and
/// one bit test. It answers exactly what `pfn_valid` answers (early sections whole),
/// but it costs 8 bytes for every section of the address space, present or not
/// (256 MiB for a 52-bit space), and it has nothing else: no nodes, zones or blocks.
pub struct FlatTable {
    words: Vec<AtomicU64>,
}

/// Pages per 2 MiB sub-section and per 128 MiB section (x86-64).
const SUB_SHIFT: u32 = 21 - PAGE_SHIFT;
const SECTION_SHIFT: u32 = 27 - PAGE_SHIFT;

impl FlatTable {
    /// The table of `map`'s first `pfn_end` pages: a sub-section's bit is set when
    /// `pfn_valid` holds for it (the answer is the same for every pfn of a sub-section).
    pub fn of(map: &SparseMap, pfn_end: u64) -> Self {
        let sections = pfn_end >> SECTION_SHIFT;
        let mut words = Vec::with_capacity(sections as usize);
        for nr in 0..sections {
            let mut w = 0u64;
            if map.section_info(SectionNr(nr)).is_ok() {
                for i in 0..64 {
                    if map.pfn_valid(Pfn((nr << SECTION_SHIFT) + (i << SUB_SHIFT))) {
                        w |= 1 << i;
                    }
                }
            }
            words.push(AtomicU64::new(w));
        }
        FlatTable { words }
    }

    #[inline]
    pub fn valid(&self, pfn: u64) -> bool {
        match self.words.get((pfn >> SECTION_SHIFT) as usize) {
            Some(w) => w.load(Ordering::Acquire) & (1 << ((pfn >> SUB_SHIFT) & 63)) != 0,
            None => false,
        }
    }
}

/// What a Rust user would write: ranges keyed by start in a `BTreeMap`, a lookup is
/// the last range starting at or below the pfn.
pub struct IntervalMap(BTreeMap<u64, u64>);

impl IntervalMap {
    pub fn new(ranges: &[(u64, u64)]) -> Self {
        IntervalMap(ranges.iter().copied().collect())
    }
    #[inline]
    pub fn contains(&self, pfn: u64) -> bool {
        self.0
            .range(..=pfn)
            .next_back()
            .is_some_and(|(_, end)| pfn < *end)
    }
}

/// A sorted slice of ranges and a binary search (what firmware code would write).
pub struct SortedRanges(Vec<(u64, u64)>);

impl SortedRanges {
    pub fn new(ranges: &[(u64, u64)]) -> Self {
        SortedRanges(ranges.to_vec())
    }
    #[inline]
    pub fn contains(&self, pfn: u64) -> bool {
        let i = self.0.partition_point(|(start, _)| *start <= pfn);
        i > 0 && pfn < self.0[i - 1].1
    }
}

/// rust-vmm `vm-memory` over the same ranges: one anonymous MAP_NORESERVE mapping per
/// region (nothing is touched, so no memory is committed).
pub fn vm_memory(ranges: &[(u64, u64)]) -> GuestMemoryMmap<()> {
    let regions: Vec<(GuestAddress, usize)> = ranges
        .iter()
        .map(|(s, e)| {
            (
                GuestAddress(s << PAGE_SHIFT),
                ((e - s) << PAGE_SHIFT) as usize,
            )
        })
        .collect();
    GuestMemoryMmap::from_ranges(&regions).expect("vm-memory regions (MAP_NORESERVE)")
}

/// `address_in_range` of a pfn's first byte.
#[inline]
pub fn vm_contains(mem: &GuestMemoryMmap<()>, pfn: u64) -> bool {
    mem.address_in_range(GuestAddress(pfn << PAGE_SHIFT))
}

/// `find_region` of a pfn's first byte (what a VMM calls before touching guest memory).
#[inline]
pub fn vm_find(mem: &GuestMemoryMmap<()>, pfn: u64) -> bool {
    mem.find_region(GuestAddress(pfn << PAGE_SHIFT)).is_some()
}
