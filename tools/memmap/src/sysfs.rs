//! Checking the model against Linux: every memory block of the map compared with
//! `/sys/devices/system/memory/memoryN` (id, state, node, valid_zones).
//!
//! Linux shows each block as a directory `memoryN` holding `state` ("online",
//! "offline", "going-offline"), `valid_zones`, `phys_index` (N in `%08lx`) and one
//! `nodeK` symlink per node whose RAM lies in the block.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

use sparsemem::{BlockInfo, Config, SparseMap, NID_MIXED};

use crate::iomem::numbered_entries;
use crate::lsmem::block_nodes;
use crate::Failure;

/// What sysfs says about one block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SysBlock {
    /// `state`, trimmed.
    pub state: String,
    /// `valid_zones`, trimmed; `None` where the kernel has no such file (built without
    /// memory hot-remove), and then it is not compared.
    pub valid_zones: Option<String>,
    /// `phys_index` as written; `None` when absent.
    pub phys_index: Option<String>,
    /// The `nodeK` entries.
    pub nodes: BTreeSet<i32>,
}

/// Reads a sysfs attribute, trimmed; an unreadable one is an input error.
fn read_attr(path: &Path) -> Result<String, Failure> {
    let bytes = fs::read(path)
        .map_err(|e| Failure::input(format!("{}: cannot read: {e}", path.display())))?;
    let text = String::from_utf8(bytes)
        .map_err(|_| Failure::input(format!("{}:1: not UTF-8 text", path.display())))?;
    Ok(text.trim().to_string())
}

/// Reads an attribute that older kernels may not have.
fn read_optional(path: &Path) -> Result<Option<String>, Failure> {
    if path.exists() {
        read_attr(path).map(Some)
    } else {
        Ok(None)
    }
}

/// Reads every `memoryN` of a sysfs memory directory.
pub fn read(dir: &Path) -> Result<BTreeMap<u64, SysBlock>, Failure> {
    let ids = numbered_entries(dir, "memory")?;
    if ids.is_empty() {
        return Err(Failure::input(format!(
            "{}: no memoryN directories (is this /sys/devices/system/memory?)",
            dir.display()
        )));
    }
    let mut blocks = BTreeMap::new();
    for id in ids {
        let d = dir.join(format!("memory{id}"));
        let nodes = numbered_entries(&d, "node")?
            .into_iter()
            .filter_map(|n| i32::try_from(n).ok())
            .collect();
        let b = SysBlock {
            state: read_attr(&d.join("state"))?,
            valid_zones: read_optional(&d.join("valid_zones"))?,
            phys_index: read_optional(&d.join("phys_index"))?,
            nodes,
        };
        blocks.insert(id, b);
    }
    Ok(blocks)
}

/// A block size as `block_size_bytes` writes it: hex, `0x` optional; a power of two of
/// at least the 128 MiB section (what a map with the x86-64 preset accepts).
pub fn parse_block_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let digits = t.strip_prefix("0x").unwrap_or(t);
    let v = u64::from_str_radix(digits, 16)
        .map_err(|_| format!("`{t}` is not a hexadecimal block size"))?;
    let section = Config::x86_64().block_size;
    if !v.is_power_of_two() || v < section {
        return Err(format!(
            "block size {v:#x} is not a power of two of at least {section:#x} (one section)"
        ));
    }
    Ok(v)
}

/// The memory block size of a sysfs memory directory (`block_size_bytes`, hex without
/// `0x`), or `None` when the file does not exist.
pub fn block_size(dir: &Path) -> Result<Option<u64>, Failure> {
    let path = dir.join("block_size_bytes");
    let Some(text) = read_optional(&path)? else {
        return Ok(None);
    };
    parse_block_size(&text)
        .map(Some)
        .map_err(|m| Failure::input(format!("{}:1: {m}", path.display())))
}

/// The nodes sysfs would link a block of the map to.
fn model_nodes(map: &SparseMap, b: &BlockInfo) -> BTreeSet<i32> {
    if b.nid == NID_MIXED {
        block_nodes(map, b).into_iter().collect()
    } else if b.nid >= 0 {
        BTreeSet::from([b.nid])
    } else {
        BTreeSet::new()
    }
}

fn node_list(nodes: &BTreeSet<i32>) -> String {
    if nodes.is_empty() {
        return "(none)".to_string();
    }
    nodes
        .iter()
        .map(|n| format!("node{n}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// The differences of one block present on both sides.
fn compare_block(map: &SparseMap, b: &BlockInfo, s: &SysBlock) -> Vec<String> {
    let name = format!("memory{}", b.id.0);
    let mut diffs = Vec::new();
    if s.state != b.state.name() {
        diffs.push(format!(
            "{name}: state: sysfs \"{}\", memmap \"{}\"",
            s.state,
            b.state.name()
        ));
    }
    let nodes = model_nodes(map, b);
    if s.nodes != nodes {
        diffs.push(format!(
            "{name}: node: sysfs {}, memmap {}",
            node_list(&s.nodes),
            node_list(&nodes)
        ));
    }
    let zones = b.valid_zones_text().to_string();
    if let Some(sz) = s.valid_zones.as_deref().filter(|sz| *sz != zones) {
        diffs.push(format!(
            "{name}: valid_zones: sysfs \"{sz}\", memmap \"{zones}\""
        ));
    }
    let expect = format!("{:08x}", b.id.0);
    if let Some(pi) = s.phys_index.as_deref().filter(|pi| *pi != expect) {
        diffs.push(format!(
            "{name}: phys_index: sysfs \"{pi}\", memmap \"{expect}\""
        ));
    }
    diffs
}

/// Every difference between the map's blocks and sysfs's, in block order: blocks on
/// one side only, then per block state, node, valid_zones and phys_index.
pub fn compare(map: &SparseMap, sys: &BTreeMap<u64, SysBlock>) -> Vec<String> {
    let ours: BTreeMap<u64, BlockInfo> = map.blocks().map(|b| (b.id.0, b)).collect();
    let ids: BTreeSet<u64> = ours.keys().chain(sys.keys()).copied().collect();
    let mut diffs = Vec::new();
    for id in ids {
        match (ours.get(&id), sys.get(&id)) {
            (Some(b), Some(s)) => diffs.extend(compare_block(map, b, s)),
            (Some(b), None) => diffs.push(format!(
                "memory{id}: only in memmap ({}, {}, \"{}\")",
                b.state.name(),
                node_list(&model_nodes(map, b)),
                b.valid_zones_text()
            )),
            (None, Some(s)) => diffs.push(format!(
                "memory{id}: only in sysfs ({}, {})",
                s.state,
                node_list(&s.nodes)
            )),
            (None, None) => {}
        }
    }
    diffs
}

/// Compares the map with a sysfs memory directory: the report and whether it matched.
pub fn verify(map: &SparseMap, dir: &Path) -> Result<(String, bool), Failure> {
    let sys = read(dir)?;
    let diffs = compare(map, &sys);
    let mut out = String::new();
    if diffs.is_empty() {
        say!(
            out,
            "no differences: {} memory blocks of {} match (id, state, node, valid_zones)",
            sys.len(),
            dir.display()
        );
        return Ok((out, true));
    }
    for d in &diffs {
        say!(out, "{d}");
    }
    say!(out, "{} differences with {}", diffs.len(), dir.display());
    Ok((out, false))
}
