//! Memory blocks as `/sys/devices/system/memory` shows them: the one shape that the
//! model, a sysfs tree read with `--sysroot` and a tree written with `--write-sysfs`
//! share, and that the lsmem views print.

use std::ops::ControlFlow;

use sparsemem::{BlockInfo, MemRange, RangeKind, SparseMap, NID_MIXED};

/// One `memoryN` directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    /// N.
    pub id: u64,
    /// `state`: "online", "offline", "going-offline" (or what a tree holds).
    pub state: String,
    /// `removable` reads 1 (Linux 5.6 and later report 1 for every block).
    pub removable: bool,
    /// The `nodeK` links in directory order (lsmem shows the first); the model lists
    /// a block on several nodes lowest first.
    pub nodes: Vec<i32>,
    /// `valid_zones`; `None` where the file is absent (kernels without hot-remove).
    pub valid_zones: Option<String>,
}

/// A machine's blocks in ascending id order, and their size.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Blocks {
    /// `block_size_bytes`.
    pub block_size: u64,
    /// Every block.
    pub list: Vec<Block>,
}

/// The nodes whose System RAM lies in a block, ascending (from the range export, which
/// never reports a mixed node).
pub fn ram_nodes(map: &SparseMap, b: &BlockInfo) -> Vec<i32> {
    let end = b.start.0.saturating_add(b.size);
    let mut nodes = Vec::new();
    let _ = map.for_each_range(|r: MemRange| {
        if r.start.0 >= end {
            return ControlFlow::Break(());
        }
        let r_end = r.start.0.saturating_add(r.size);
        let ram = matches!(r.kind, RangeKind::RamOnline | RangeKind::RamOffline);
        if ram && r_end > b.start.0 && !nodes.contains(&r.nid) {
            nodes.push(r.nid);
        }
        ControlFlow::Continue(())
    });
    nodes.sort_unstable();
    nodes
}

/// The nodes Linux links a block of the map to.
pub fn block_nodes(map: &SparseMap, b: &BlockInfo) -> Vec<i32> {
    match b.nid {
        NID_MIXED => ram_nodes(map, b),
        nid if nid >= 0 => vec![nid],
        _ => Vec::new(),
    }
}

/// The map's blocks as Linux would show them in sysfs.
pub fn from_map(map: &SparseMap) -> Blocks {
    let list = map
        .blocks()
        .map(|b| Block {
            id: b.id.0,
            state: b.state.name().to_string(),
            removable: true,
            nodes: block_nodes(map, &b),
            valid_zones: Some(b.valid_zones_text().to_string()),
        })
        .collect();
    Blocks {
        block_size: map.geometry().block_size(),
        list,
    }
}
