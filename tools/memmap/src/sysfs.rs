//! `/sys/devices/system/memory` trees: reading one (`--verify-sysfs`, `--sysroot`),
//! writing the model as one (`--write-sysfs`), and comparing the model with one.
//!
//! Linux shows each block as a directory `memoryN` holding `state` ("online",
//! "offline", "going-offline"), `valid_zones`, `removable`, `phys_index` (N in
//! `%08lx`) and one `nodeK` symlink per node whose RAM lies in the block; beside them
//! `block_size_bytes` (hex without `0x`). `/sys/devices/system/node/nodeK/memoryN`
//! links back.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use sparsemem::{Config, SparseMap};

use crate::blocks::{self, Block, Blocks};
use crate::input::{read_bounded, ATTR_LIMIT};
use crate::iomem::{numbered, numbered_entries};
use crate::Failure;

/// The memory directory under a sysroot, as lsmem finds it.
pub fn memory_dir(sysroot: &Path) -> PathBuf {
    sysroot.join("sys/devices/system/memory")
}

fn node_dir(sysroot: &Path) -> PathBuf {
    sysroot.join("sys/devices/system/node")
}

/// Reads a sysfs attribute (at most a page), trimmed.
fn read_attr(path: &Path) -> Result<String, Failure> {
    let bytes = read_bounded(path, ATTR_LIMIT)?;
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

/// The `nodeK` entries of a block directory, in directory order (lsmem shows the first
/// one `readdir` returns).
fn node_links(dir: &Path) -> Result<Vec<i32>, Failure> {
    let cannot = |e: std::io::Error| Failure::input(format!("{}: cannot read: {e}", dir.display()));
    let mut nodes = Vec::new();
    for entry in fs::read_dir(dir).map_err(cannot)? {
        let name = entry.map_err(cannot)?.file_name();
        if let Some(n) = name.to_str().and_then(|s| numbered(s, "node")) {
            nodes.extend(i32::try_from(n).ok());
        }
    }
    Ok(nodes)
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

/// The memory block size of a sysfs memory directory, or `None` when the file does
/// not exist.
pub fn block_size(dir: &Path) -> Result<Option<u64>, Failure> {
    let path = dir.join("block_size_bytes");
    let Some(text) = read_optional(&path)? else {
        return Ok(None);
    };
    parse_block_size(&text)
        .map(Some)
        .map_err(|m| Failure::input(format!("{}:1: {m}", path.display())))
}

/// One block directory; `phys_index` beside it when present.
fn read_block(dir: &Path, id: u64) -> Result<(Block, Option<String>), Failure> {
    let d = dir.join(format!("memory{id}"));
    let removable = read_optional(&d.join("removable"))?;
    let block = Block {
        id,
        state: read_attr(&d.join("state"))?,
        removable: removable.as_deref() == Some("1"),
        nodes: node_links(&d)?,
        valid_zones: read_optional(&d.join("valid_zones"))?,
    };
    Ok((block, read_optional(&d.join("phys_index"))?))
}

/// Every `memoryN` of a sysfs memory directory, ascending, with its `phys_index`.
fn read_blocks(dir: &Path) -> Result<Vec<(Block, Option<String>)>, Failure> {
    let ids = numbered_entries(dir, "memory")?;
    if ids.is_empty() {
        return Err(Failure::input(format!(
            "{}: no memoryN directories (is this /sys/devices/system/memory?)",
            dir.display()
        )));
    }
    ids.into_iter().map(|id| read_block(dir, id)).collect()
}

/// The blocks of a sysroot, as lsmem reads them (`block_size_bytes` required).
pub fn read_sysroot(sysroot: &Path) -> Result<Blocks, Failure> {
    let dir = memory_dir(sysroot);
    let block_size = block_size(&dir)?.ok_or_else(|| {
        Failure::input(format!(
            "{}: no block_size_bytes: not a memory block directory",
            dir.display()
        ))
    })?;
    let list = read_blocks(&dir)?.into_iter().map(|(b, _)| b).collect();
    Ok(Blocks { block_size, list })
}

#[cfg(unix)]
fn link(target: &str, at: &Path) -> std::io::Result<()> {
    std::os::unix::fs::symlink(target, at)
}

/// Without symlinks a plain file of that name is what readers look for.
#[cfg(not(unix))]
fn link(_target: &str, at: &Path) -> std::io::Result<()> {
    fs::write(at, "")
}

/// Writes blocks as `SYSROOT/sys/devices/system/{memory,node}`. The sysroot must not
/// hold a `sys` already: nothing existing is overwritten.
pub fn write_sysroot(b: &Blocks, sysroot: &Path) -> Result<(), Failure> {
    let sys = sysroot.join("sys");
    if sys.exists() {
        return Err(Failure::input(format!(
            "{}: exists: --write-sysfs writes a new tree and overwrites nothing",
            sys.display()
        )));
    }
    let (mem, node) = (memory_dir(sysroot), node_dir(sysroot));
    let failed =
        |e: std::io::Error| Failure::input(format!("{}: cannot write: {e}", sysroot.display()));
    fs::create_dir_all(&mem).map_err(failed)?;
    fs::write(
        mem.join("block_size_bytes"),
        format!("{:x}\n", b.block_size),
    )
    .map_err(failed)?;
    for blk in &b.list {
        let d = mem.join(format!("memory{}", blk.id));
        fs::create_dir(&d).map_err(failed)?;
        let zones = blk.valid_zones.as_deref().map(|z| format!("{z}\n"));
        for (file, text) in [
            ("state", Some(format!("{}\n", blk.state))),
            ("removable", Some(format!("{}\n", u8::from(blk.removable)))),
            ("phys_index", Some(format!("{:08x}\n", blk.id))),
            ("phys_device", Some("0\n".to_string())),
            ("valid_zones", zones),
        ] {
            if let Some(text) = text {
                fs::write(d.join(file), text).map_err(failed)?;
            }
        }
        for nid in &blk.nodes {
            let nd = node.join(format!("node{nid}"));
            fs::create_dir_all(&nd).map_err(failed)?;
            link(
                &format!("../../node/node{nid}"),
                &d.join(format!("node{nid}")),
            )
            .map_err(failed)?;
            let back = format!("../../memory/memory{}", blk.id);
            link(&back, &nd.join(format!("memory{}", blk.id))).map_err(failed)?;
        }
    }
    Ok(())
}

fn node_list(nodes: &BTreeSet<i32>) -> String {
    if nodes.is_empty() {
        return "(none)".to_string();
    }
    let names: Vec<String> = nodes.iter().map(|n| format!("node{n}")).collect();
    names.join(",")
}

/// The differences of one block present on both sides, each without the block's name.
fn compare_block(ours: &Block, sys: &Block, phys_index: Option<&str>) -> Vec<String> {
    let mut diffs = Vec::new();
    if sys.state != ours.state {
        diffs.push(format!(
            "state: sysfs \"{}\", memmap \"{}\"",
            sys.state, ours.state
        ));
    }
    let (sn, on): (BTreeSet<i32>, BTreeSet<i32>) = (
        sys.nodes.iter().copied().collect(),
        ours.nodes.iter().copied().collect(),
    );
    if sn != on {
        diffs.push(format!(
            "node: sysfs {}, memmap {}",
            node_list(&sn),
            node_list(&on)
        ));
    }
    if let (Some(sz), Some(oz)) = (&sys.valid_zones, &ours.valid_zones) {
        if sz != oz {
            diffs.push(format!("valid_zones: sysfs \"{sz}\", memmap \"{oz}\""));
        }
    }
    let expect = format!("{:08x}", ours.id);
    if let Some(pi) = phys_index.filter(|pi| *pi != expect) {
        diffs.push(format!("phys_index: sysfs \"{pi}\", memmap \"{expect}\""));
    }
    diffs
}

/// Every difference between the map's blocks and sysfs's as (block, what), in block
/// order: blocks on one side only, then per block state, node, valid_zones and
/// phys_index. valid_zones is compared only where sysfs has the file.
fn differences(ours: &Blocks, sys: &[(Block, Option<String>)]) -> Vec<(u64, String)> {
    let o: BTreeMap<u64, &Block> = ours.list.iter().map(|b| (b.id, b)).collect();
    let s: BTreeMap<u64, (&Block, Option<&str>)> = sys
        .iter()
        .map(|(b, pi)| (b.id, (b, pi.as_deref())))
        .collect();
    let ids: BTreeSet<u64> = o.keys().chain(s.keys()).copied().collect();
    let mut diffs = Vec::new();
    for id in ids {
        let nodes = |b: &Block| node_list(&b.nodes.iter().copied().collect());
        match (o.get(&id), s.get(&id)) {
            (Some(b), Some((sb, pi))) => {
                diffs.extend(compare_block(b, sb, *pi).into_iter().map(|d| (id, d)));
            }
            (Some(b), None) => diffs.push((
                id,
                format!(
                    "only in memmap ({}, {}, \"{}\")",
                    b.state,
                    nodes(b),
                    b.valid_zones.as_deref().unwrap_or("")
                ),
            )),
            (None, Some((sb, _))) => {
                diffs.push((id, format!("only in sysfs ({}, {})", sb.state, nodes(sb))));
            }
            (None, None) => {}
        }
    }
    diffs
}

/// Differences of consecutive blocks that say the same thing, as one line per range
/// of blocks: "memory5-9: state: ...".
fn as_ranges(diffs: &[(u64, String)]) -> Vec<String> {
    let mut runs: Vec<(u64, u64, &str)> = Vec::new();
    for (id, what) in diffs {
        let extends = runs.iter_mut().rev().find(|r| r.2 == what.as_str());
        match extends {
            Some(r) if r.1.checked_add(1) == Some(*id) => r.1 = *id,
            _ => runs.push((*id, *id, what)),
        }
    }
    runs.sort_by_key(|r| r.0);
    runs.iter()
        .map(|&(a, b, what)| match a == b {
            true => format!("memory{a}: {what}"),
            false => format!("memory{a}-{b}: {what}"),
        })
        .collect()
}

/// Compares the map with a sysfs memory directory: the report and whether it matched.
/// A block size that differs from sysfs's makes every block differ: said once.
pub fn verify(map: &SparseMap, dir: &Path) -> Result<(String, bool), Failure> {
    let ours = blocks::from_map(map);
    let mut out = String::new();
    if let Some(theirs) = block_size(dir)?.filter(|bs| *bs != ours.block_size) {
        say!(
            out,
            "block size: sysfs {theirs:#x} ({}), memmap {:#x}: no block can match; \
             drop --block-size or pass {theirs:x}",
            dir.join("block_size_bytes").display(),
            ours.block_size
        );
        return Ok((out, false));
    }
    let sys = read_blocks(dir)?;
    let lines = as_ranges(&differences(&ours, &sys));
    if lines.is_empty() {
        say!(
            out,
            "no differences: {} memory blocks of {} match (id, state, node, valid_zones)",
            sys.len(),
            dir.display()
        );
        return Ok((out, true));
    }
    for l in &lines {
        say!(out, "{l}");
    }
    say!(out, "{} differences with {}", lines.len(), dir.display());
    Ok((out, false))
}
