//! Helpers shared by the behaviour tests.
#![allow(dead_code)]

use std::fmt::Write;

use sparsemem::{BlockId, Config, Pfn, SectionNr, SparseMap, Zone};

mod seeds;
#[allow(unused_imports)] // not every test binary draws random cases
pub use seeds::*;

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
