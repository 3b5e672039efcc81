//! The map as Linux logs its e820 table: one line per merged range of RAM or device
//! memory.

use std::ops::ControlFlow;

use sparsemem::{MemRange, RangeKind, SparseMap};

/// Every exported range of the map, in ascending order.
fn ranges(map: &SparseMap) -> Vec<MemRange> {
    let mut v = Vec::new();
    let _ = map.for_each_range(|r| {
        v.push(r);
        ControlFlow::<()>::Continue(())
    });
    v
}

/// The map as an e820-style table, one line per merged range, as Linux logs e820.
pub fn e820(map: &SparseMap) -> String {
    let mut out = String::new();
    for r in ranges(map) {
        let kind = match r.kind {
            RangeKind::RamOnline => "usable",
            RangeKind::RamOffline => "usable (offline)",
            RangeKind::Device => "device",
        };
        let last = r.start.0.saturating_add(r.size).saturating_sub(1);
        say!(
            out,
            "[mem {:#018x}-{last:#018x}] {kind:<16} node {}",
            r.start.0,
            r.nid
        );
    }
    out
}
