//! A map as text: two maps with equal dumps answer every query alike, so a test compares
//! dumps to show that a failed call changed nothing or that a restore is exact.

use std::fmt::Write;

use sparsemem::{BlockId, Pfn, SectionNr, SparseMap, Zone};

/// Everything a query can see, as text: every present section with its masks, every
/// block, every zone span, the memory groups, the policies, the stats, and pfn answers at sub-section starts of the
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
    for g in map.groups() {
        writeln!(out, "{g:?}").unwrap();
    }
    writeln!(out, "{:?} {:?}", map.policy(), map.config()).unwrap();
    writeln!(out, "{:?} {:?}", map.stats(), map.phase()).unwrap();
    out
}

/// Block ids and their valid_zones text, in id order.
pub fn zones_of(map: &SparseMap, ids: &[u64]) -> Vec<String> {
    ids.iter()
        .map(|id| map.valid_zones(BlockId(*id)).unwrap().to_string())
        .collect()
}
