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

/// The populated sizes of the `populated` group, up to what the default build's table
/// holds: 256 leaves of 16 GiB, 4 TiB.
pub const POPULATED_SIZES: [u64; 5] = [GIB, 16 * GIB, 256 * GIB, TIB, 4 * TIB];

/// A populated size as the report and the benchmark ids write it: "16 GiB".
pub fn size_label(bytes: u64) -> String {
    if bytes >= TIB {
        format!("{} TiB", bytes / TIB)
    } else {
        format!("{} GiB", bytes / GIB)
    }
}

/// The firmware-reserved tail of every range above 4 GiB (as on the 1 TiB machine):
/// the blocks at the ends of the ranges have holes.
const FIRMWARE_TAIL: u64 = 30 * MIB;

/// Bytes one table leaf covers on x86-64: leaves are handed out whole, so a layout
/// that fits the table is whole leaves (16 GiB in the default build).
pub fn leaf_bytes() -> u64 {
    (sparsemem::capacity::SECTIONS_PER_LEAF as u64) << Config::x86_64().section_shift
}

/// Where the populated memory lies in the physical address space.
#[derive(Clone, Copy)]
pub enum Layout {
    /// From address 0 up, as a machine boots: the PC low-memory holes and the PCI
    /// hole below 4 GiB, then one range per leaf.
    DenseLow,
    /// The same amount in whole leaves at random leaf-aligned addresses of a 52-bit
    /// space: nearly all above the flat valid bitmap.
    Sparse52,
}

impl Layout {
    pub const ALL: [Layout; 2] = [Layout::DenseLow, Layout::Sparse52];

    /// The name in benchmark ids.
    pub fn id(self) -> &'static str {
        match self {
            Layout::DenseLow => "dense_low",
            Layout::Sparse52 => "sparse_52_bit",
        }
    }

    /// The name in the report.
    pub fn label(self) -> &'static str {
        match self {
            Layout::DenseLow => "dense low",
            Layout::Sparse52 => "sparse 52-bit",
        }
    }

    pub fn config(self) -> Config {
        match self {
            Layout::DenseLow => Config::x86_64(),
            Layout::Sparse52 => Config {
                max_phys_bits: 52,
                ..Config::x86_64()
            },
        }
    }
}

/// One firmware RAM range: node, start address, size in bytes.
pub type BootRange = (i32, u64, u64);

/// The boot ranges of `size` bytes in `layout`: node 0 holds the lower half of the
/// ranges, node 1 the upper. Sparse addresses come from a generator seeded with the
/// size, so a layout is the same in every run and the report can rebuild it.
pub fn populated_boot_ranges(layout: Layout, size: u64) -> Vec<BootRange> {
    let spans = match layout {
        Layout::DenseLow => dense_low_spans(size),
        Layout::Sparse52 => sparse_spans(size, 52, &mut Rng::new(size)),
    };
    let half = spans.len().div_ceil(2);
    spans
        .into_iter()
        .enumerate()
        .map(|(i, (start, end))| (i32::from(i >= half), start, end - start))
        .collect()
}

/// `[start, end)` address spans of RAM from 0 up to `size`: below 640 KiB less the
/// first page, 1 MiB to 3 GiB, then from 4 GiB one span per leaf, each short of its
/// firmware tail.
fn dense_low_spans(size: u64) -> Vec<(u64, u64)> {
    let mut spans = vec![(0x1000, 0x9f000), (MIB, size.min(3 * GIB))];
    let leaf = leaf_bytes();
    let mut start = 4 * GIB;
    while start < size {
        let end = (start / leaf + 1) * leaf;
        spans.push((start, end.min(size) - FIRMWARE_TAIL));
        start = end;
    }
    spans
}

/// `[start, end)` address spans of `size` bytes in chunks of one leaf (or less, for a
/// size below a leaf) at distinct random leaf-aligned addresses below 2^`bits`, each
/// short of its firmware tail, ascending.
fn sparse_spans(size: u64, bits: u32, rng: &mut Rng) -> Vec<(u64, u64)> {
    let leaf = leaf_bytes();
    let chunk = size.min(leaf);
    let slots = (1u64 << bits) / leaf;
    let mut leaves: Vec<u64> = Vec::new();
    while (leaves.len() as u64) < size / chunk {
        let l = rng.below(slots);
        if !leaves.contains(&l) {
            leaves.push(l);
        }
    }
    leaves.sort_unstable();
    leaves
        .iter()
        .map(|l| (l * leaf, l * leaf + chunk - FIRMWARE_TAIL))
        .collect()
}

/// A fresh map of `layout` with `ranges` registered, still in the boot phase: what
/// `boot_finish` starts from.
pub fn map_before_boot_finish(layout: Layout, ranges: &[BootRange]) -> Box<SparseMap> {
    let map = SparseMap::new_boxed(&layout.config()).expect("x86-64 config");
    for &(nid, start, size) in ranges {
        map.boot_add_ram(nid, start, size).unwrap();
    }
    map
}

/// The booted map of `layout` with `ranges`, its memory exported as page ranges.
pub fn populated_machine(layout: Layout, ranges: &[BootRange]) -> Machine {
    let map = map_before_boot_finish(layout, ranges);
    map.boot_finish().unwrap();
    let ranges = exported_ranges(&map);
    Machine {
        map,
        ranges,
        pfn_end: 1 << (layout.config().max_phys_bits as u32 - PAGE_SHIFT),
    }
}

/// `BATCH` random pfns of the machine's memory, every page equally likely.
pub fn populated_pfns(rng: &mut Rng, m: &Machine) -> Vec<u64> {
    let pages: u64 = m.ranges.iter().map(|(s, e)| e - s).sum();
    (0..BATCH)
        .map(|_| {
            let mut k = rng.below(pages);
            for (s, e) in &m.ranges {
                if k < e - s {
                    return s + k;
                }
                k -= e - s;
            }
            unreachable!("k is below the pages of the ranges")
        })
        .collect()
}

/// The benchmark parameter of a layout and size, "sparse_52_bit_16GiB": criterion
/// keeps its results under `populated/<measurement>/<this>`.
pub fn populated_id(layout: Layout, size: u64) -> String {
    format!("{}_{}", layout.id(), size_label(size).replace(' ', ""))
}
