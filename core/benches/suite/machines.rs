//! The maps the benchmarks run on, and the pfns they ask about.
//!
//! Every machine also yields its memory as page ranges (from the map's own range
//! export), so that the baselines are built from exactly the same memory.

use std::ops::ControlFlow;

use sparsemem::{Config, OnlineType, SparseMap};

use sparsemem_testkit::machines::{GIB, MIB};
// The tests' seeded generator (xorshift64*), for reproducible pfns.
use sparsemem_testkit::seeds::Rng;

pub const TIB: u64 = 1 << 40;
/// x86-64 page shift.
pub const PAGE_SHIFT: u32 = 12;

/// A populated map and its memory as `[start_pfn, end_pfn)` ranges, ascending.
pub struct Machine {
    pub map: Box<SparseMap>,
    pub ranges: Vec<(u64, u64)>,
    /// One past the highest pfn worth asking about.
    pub pfn_end: u64,
}

/// The map's memory (RAM online, RAM offline, device) as page ranges.
fn exported_ranges(map: &SparseMap) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    let _ = map.for_each_range(|r| {
        let start = r.start.0 >> PAGE_SHIFT;
        out.push((start, start + (r.size >> PAGE_SHIFT)));
        ControlFlow::<()>::Continue(())
    });
    out
}

/// Where the writer of the scaling benchmark churns on the 1 TiB machine: device
/// sub-sections in one section, and one hot-plugged block, both above the boot RAM.
pub const CHURN_DEVICE: u64 = 1010 * GIB;
pub const CHURN_BLOCK: u64 = 1012 * GIB;

/// A realistic 1 TiB two-node x86-64 machine with exactly 256 memory regions:
/// the PC low-memory holes and the PCI hole below 4 GiB, then 4 GiB RAM ranges each
/// ending 30 MiB short (a firmware-reserved tail, so blocks with holes), node 0 below
/// 512 GiB and node 1 above, one hot-added 4 GiB range left offline, and eight pmem
/// namespaces of 1 GiB + 6 MiB (sub-section granular ends).
pub fn one_tib_two_nodes() -> Machine {
    let map = SparseMap::new_boxed(&Config::x86_64()).expect("x86-64 preset");
    map.boot_add_ram(0, 0x1000, 0x9f000 - 0x1000).unwrap();
    map.boot_add_ram(0, MIB, 3 * GIB - MIB).unwrap();
    // 2 low ranges + 245 boot ranges + 1 offline range + 8 namespaces = 256 regions.
    for i in 0..245u64 {
        let start = 4 * GIB + i * 4 * GIB;
        let nid = if start < 512 * GIB { 0 } else { 1 };
        map.boot_add_ram(nid, start, 4 * GIB - 30 * MIB).unwrap();
    }
    map.boot_finish().unwrap();
    map.add_memory(1, 984 * GIB, 4 * GIB, &()).unwrap();
    for i in 0..8u64 {
        map.add_device(1, 990 * GIB + i * 2 * GIB, GIB + 6 * MIB)
            .unwrap();
    }
    let ranges = exported_ranges(&map);
    assert_eq!(ranges.len(), 256, "the 1 TiB machine must have 256 regions");
    Machine {
        map,
        ranges,
        pfn_end: TIB >> PAGE_SHIFT,
    }
}

/// A sparse machine over the whole 52-bit space: 64 ranges of 1 GiB at random
/// 1 GiB-aligned addresses (distinct sections), RAM on four nodes, all online.
pub fn sparse_52_bit(rng: &mut Rng) -> Machine {
    let cfg = Config {
        max_phys_bits: 52,
        ..Config::x86_64()
    };
    let map = SparseMap::new_boxed(&cfg).expect("52-bit x86-64 config");
    let mut starts: Vec<u64> = Vec::new();
    while starts.len() < 64 {
        let gib = rng.below((1 << 22) - 1) + 1; // any 1 GiB slot above the first
        if !starts.contains(&(gib * GIB)) {
            starts.push(gib * GIB);
        }
    }
    starts.sort_unstable();
    for (i, s) in starts.iter().enumerate() {
        map.boot_add_ram((i / 16) as i32, *s, GIB).unwrap();
    }
    map.boot_finish().unwrap();
    let ranges = exported_ranges(&map);
    Machine {
        map,
        ranges,
        pfn_end: 1 << (52 - PAGE_SHIFT),
    }
}

/// The boot of the `boot_finish` benchmark: 1024 firmware ranges over 64 TiB (a 46-bit
/// space) on 8 nodes of 8 TiB: 256 clusters, one every 256 GiB, of four ranges 4 GiB
/// apart (a cluster fills one 16 GiB leaf of the table; the default build has 256),
/// each range 2 GiB less an odd tail, with odd page starts.
pub fn add_1024_boot_ranges(map: &SparseMap) {
    for i in 0..1024u64 {
        let start = (i / 4) * 256 * GIB + (i % 4) * 4 * GIB + (i % 7 + 1) * 0x1000;
        let size = 2 * GIB - (i % 13) * 3 * MIB - 0x1000;
        map.boot_add_ram((i / 128) as i32, start, size).unwrap();
    }
}

/// A churn cycle for the writer: a 2 MiB device sub-section in and out, and every
/// sixteenth time a block added, onlined movable, offlined and removed.
pub fn churn_once(map: &SparseMap, i: u64) {
    let sub = CHURN_DEVICE + (i % 64) * 2 * MIB;
    map.add_device(1, sub, 2 * MIB).unwrap();
    map.remove_device(sub, 2 * MIB).unwrap();
    if i % 16 == 0 {
        block_cycle(map, CHURN_BLOCK);
    }
}

/// add_memory + online (movable) + offline + remove of the 128 MiB block at `addr`.
pub fn block_cycle(map: &SparseMap, addr: u64) {
    map.add_memory(1, addr, 128 * MIB, &()).unwrap();
    let id = sparsemem::BlockId(addr / (128 * MIB));
    map.online_block(id, OnlineType::Movable, &()).unwrap();
    map.offline_block(id, &()).unwrap();
    map.remove_memory(addr, 128 * MIB).unwrap();
}

/// Lookups per benchmark iteration.
pub const BATCH: usize = 1024;

/// `BATCH` uniformly random pfns below `end`.
pub fn random_pfns(rng: &mut Rng, end: u64) -> Vec<u64> {
    (0..BATCH).map(|_| rng.below(end)).collect()
}

/// `BATCH` consecutive pfns from `start` (a scan, as a VMM's dirty-page walk does).
pub fn sequential_pfns(start: u64) -> Vec<u64> {
    (start..start + BATCH as u64).collect()
}
