//! Helpers shared by the behaviour tests.
#![allow(dead_code)]

use std::fmt::Write;

use sparsemem::{BlockId, Config, Pfn, SectionNr, SparseMap, Zone};

pub const MIB: u64 = 1 << 20;
pub const GIB: u64 = 1 << 30;
/// x86-64: pages per sub-section and per section.
pub const SUB: u64 = 512;
pub const SEC: u64 = 32768;

/// The first pfn of x86-64 section `k`.
pub fn s(k: u64) -> u64 {
    k * SEC
}

/// Byte address of x86-64 section `k`.
pub fn sa(k: u64) -> u64 {
    k * 128 * MIB
}

pub fn x86() -> Box<SparseMap> {
    SparseMap::new_boxed(&Config::x86_64()).unwrap()
}

/// A two-node x86-64 machine: node 0 RAM [1 MiB, 2 GiB), node 1 [2 GiB, 3 GiB), both
/// with boot blocks online; room for hot-add above 4 GiB.
pub fn machine_with(cfg: Config) -> Box<SparseMap> {
    let map = SparseMap::new_boxed(&cfg).unwrap();
    map.boot_add_ram(0, MIB, 2 * GIB - MIB).unwrap();
    map.boot_add_ram(1, 2 * GIB, GIB).unwrap();
    map.boot_finish().unwrap();
    map
}

pub fn machine() -> Box<SparseMap> {
    machine_with(Config::x86_64())
}

/// Everything a query can see, as text: every present section with its masks, every
/// block, every zone span, the stats, and pfn answers at sub-section starts of the
/// populated sections. Two maps with equal dumps answer every query alike.
pub fn dump(map: &SparseMap) -> String {
    let mut out = String::new();
    let g = map.geometry();
    // Every test places memory below section 128 (16 GiB) or in known far sections;
    // under Miri a shorter scan keeps the suite affordable.
    let nr_sections = g.nr_sections().min(if cfg!(miri) { 128 } else { 1 << 16 });
    for nr in 0..nr_sections {
        if let Ok(info) = map.section_info(SectionNr(nr)) {
            writeln!(out, "{info:?}").unwrap();
            let start = nr << g.pfn_section_shift();
            for i in 0..g.subsections_per_section() as u64 {
                let p = Pfn(start + i * g.pages_per_subsection());
                writeln!(out, " {:x} {:?}", p.0, map.pfn_info(p)).unwrap();
            }
        }
    }
    for b in map.blocks() {
        writeln!(out, "{b:?} {}", map.valid_zones(b.id).unwrap()).unwrap();
    }
    for nid in 0..4 {
        for z in [
            Zone::Dma,
            Zone::Dma32,
            Zone::Normal,
            Zone::Movable,
            Zone::Device,
        ] {
            writeln!(out, "{nid} {z} {:?}", map.zone_span(nid, z)).unwrap();
        }
    }
    writeln!(out, "{:?} {:?}", map.stats(), map.phase()).unwrap();
    out
}

/// Block ids and their valid_zones text, in id order.
pub fn zones_of(map: &SparseMap, ids: &[u64]) -> Vec<String> {
    ids.iter()
        .map(|id| map.valid_zones(BlockId(*id)).unwrap().to_string())
        .collect()
}

/// A small deterministic generator (xorshift64*, Vigna) for property tests; seeds are
/// printed on failure by the tests that use it.
pub struct Rng(pub u64);

/// Mixes a seed bijectively (splitmix64's finaliser), so that distinct seeds start
/// distinct streams; setting the low bit instead would give seeds 2k and 2k+1 one stream.
pub fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Rng {
    /// The generator of a seed; every seed works (0 is xorshift's fixed point).
    pub fn new(seed: u64) -> Self {
        Rng(splitmix64(seed).max(1))
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// In `0..n` (0 for n == 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    /// In `lo..hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo)
    }
    /// True with probability `num / den`.
    pub fn chance(&mut self, num: u64, den: u64) -> bool {
        self.below(den) < num
    }
}
