//! The map memmap shows: the embedded machine, the boot map of a /proc/iomem, or a
//! snapshot.

use std::path::Path;

use sparsemem::{Config, SparseMap};

use crate::cli::{Options, Source};
use crate::{iomem, snapshot, story, sysfs, Failure};

/// A map with the x86-64 preset and the given block size, on the heap.
fn new_map(block_size: u64) -> Result<Box<SparseMap>, Failure> {
    let cfg = Config {
        block_size,
        ..Config::x86_64()
    };
    SparseMap::new_boxed(&cfg)
        .map_err(|e| Failure::input(format!("block size {block_size:#x}: {e}")))
}

/// Why a piece of System RAM could not be registered, in the user's terms.
fn boot_error(file: &str, p: &iomem::Piece, e: sparsemem::Error) -> Failure {
    let what = format!(
        "{file}:{}: System RAM {:#x}-{:#x} (node {})",
        p.line,
        p.start,
        p.end - 1,
        p.nid
    );
    let why = match e {
        sparsemem::Error::Exist => "overlaps an earlier System RAM line".to_string(),
        sparsemem::Error::TooBig => format!(
            "lies beyond the {}-bit physical address space of the x86-64 preset",
            Config::x86_64().max_phys_bits
        ),
        sparsemem::Error::NoMem => format!(
            "is one range more than the map holds ({} boot ranges)",
            sparsemem::capacity::MAX_BOOT_RANGES
        ),
        sparsemem::Error::Inval => format!(
            "has a node the map cannot hold (nodes 0-{})",
            sparsemem::capacity::MAX_NODES - 1
        ),
        e => e.to_string(),
    };
    Failure::input(format!("{what} {why}"))
}

/// The boot map of a /proc/iomem, nodes from a node directory.
fn map_from_iomem(
    path: &Path,
    node_dir: Option<&Path>,
    block_size: u64,
) -> Result<Box<SparseMap>, Failure> {
    let ram = iomem::read(path)?;
    let nodes = match node_dir {
        Some(d) => iomem::read_nodes(d)?,
        None => iomem::NodeMap::new(),
    };
    let map = new_map(block_size)?;
    let file = path.display().to_string();
    for p in iomem::split_by_node(&ram, &nodes, block_size) {
        map.boot_add_ram(p.nid, p.start, p.end - p.start)
            .map_err(|e| boot_error(&file, &p, e))?;
    }
    map.boot_finish().map_err(|e| {
        Failure::input(format!(
            "{file}: its System RAM does not fit the map's {} section slots: {e}",
            sparsemem::capacity::MAX_SECTIONS
        ))
    })?;
    Ok(map)
}

/// The map the options choose (not for `--sysroot`, which has no map).
pub fn build_map(o: &Options) -> Result<Box<SparseMap>, Failure> {
    match &o.source {
        Source::Snapshot(path) => snapshot::load(path),
        Source::Iomem {
            path,
            node_dir,
            block_size,
        } => {
            let from_sysfs = match (block_size, &o.verify) {
                (None, Some(dir)) => sysfs::block_size(dir)?,
                _ => None,
            };
            let bs = block_size
                .or(from_sysfs)
                .unwrap_or(Config::x86_64().block_size);
            map_from_iomem(path, node_dir.as_deref(), bs)
        }
        Source::Embedded => story::boot(),
        Source::Sysroot(dir) => Err(Failure::internal(format!(
            "{}: a sysfs tree has no map",
            dir.display()
        ))),
    }
}
