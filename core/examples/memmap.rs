//! memmap: boots an embedded default machine and prints its memory blocks the way
//! `lsmem` and /sys/devices/system/memory show them.
//!
//! The default machine is a two-node x86-64 guest with the usual firmware map: the
//! low 640 KiB minus the EBDA, RAM from 1 MiB to the PCI hole at 3 GiB (node 0), and
//! RAM above 4 GiB (node 0 up to 6 GiB, node 1 to 8 GiB).

use sparsemem::{BlockInfo, Config, SparseMap, NID_MIXED};

const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

/// (nid, start, size) of each e820 "usable" entry of the embedded machine.
const DEFAULT_MACHINE: &[(i32, u64, u64)] = &[
    (0, 0x1000, 0x9fc00 - 0x1000),
    (0, MIB, 3 * GIB - MIB - 0x2_0000),
    (0, 4 * GIB, 2 * GIB),
    (1, 6 * GIB, 2 * GIB),
];

fn node(nid: i32) -> String {
    if nid == NID_MIXED {
        "mixed".into()
    } else {
        nid.to_string()
    }
}

fn row(b: &BlockInfo) -> String {
    let end = b.start.0 + b.size - 1;
    format!(
        "0x{:016x}-0x{:016x} {:>5} {:<8} {:>5} {:>6} {:<16} {}",
        b.start.0,
        end,
        format!("{}M", b.size / MIB),
        b.state.name(),
        b.id.0,
        node(b.nid),
        b.valid_zones_text().to_string(),
        if b.flags.is_empty() {
            String::new()
        } else {
            format!("{:?}", b.flags)
        },
    )
}

fn main() {
    let map = SparseMap::new_boxed(&Config::x86_64()).expect("x86-64 preset is valid");
    for &(nid, start, size) in DEFAULT_MACHINE {
        map.boot_add_ram(nid, start, size)
            .expect("embedded machine map is well-formed");
    }
    map.boot_finish()
        .expect("the table holds the embedded machine");
    println!(
        "{:<37} {:>5} {:<8} {:>5} {:>6} {:<16} FLAGS",
        "RANGE", "SIZE", "STATE", "BLOCK", "NODE", "ZONES"
    );
    // Merge runs of blocks that print alike except for their address, as lsmem does.
    let blocks: Vec<BlockInfo> = map.blocks().collect();
    let mut i = 0;
    while i < blocks.len() {
        let first = blocks[i];
        let mut j = i + 1;
        while j < blocks.len() {
            let b = blocks[j];
            let prev = blocks[j - 1];
            let same = b.id.0 == prev.id.0 + 1
                && (b.state, b.nid, b.zone, b.flags, b.valid_zones)
                    == (
                        first.state,
                        first.nid,
                        first.zone,
                        first.flags,
                        first.valid_zones,
                    );
            if !same {
                break;
            }
            j += 1;
        }
        let last = blocks[j - 1];
        let mut merged = first;
        merged.size = last.start.0 + last.size - first.start.0;
        let line = row(&merged);
        if j - i > 1 {
            // Show the block range instead of the first id.
            let ids = format!("{}-{}", first.id.0, last.id.0);
            println!(
                "{}",
                line.replacen(&format!(" {:>5} ", first.id.0), &format!(" {ids:>5} "), 1)
            );
        } else {
            println!("{line}");
        }
        i = j;
    }
    let st = map.stats();
    let page = map.geometry().page_size();
    println!();
    println!(
        "Memory block size: {:>8}",
        format!("{}M", map.geometry().block_size() / MIB)
    );
    println!(
        "Total online memory: {:>6}",
        format!("{}M", st.online_pages * page / MIB)
    );
    println!(
        "Total offline memory: {:>5}",
        format!("{}M", (st.ram_pages - st.online_pages) * page / MIB)
    );
}
