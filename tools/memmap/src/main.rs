//! memmap: sparsemem's front door. It builds a map of a machine and shows its memory
//! blocks the way util-linux `lsmem` and `/sys/devices/system/memory` show them.
//!
//! ```text
//! memmap                                   the embedded two-node machine and its hotplug story
//! memmap --iomem /proc/iomem --node-dir /sys/devices/system/node
//!        --verify-sysfs /sys/devices/system/memory     is the model this Linux machine?
//! ```
//!
//! Run `memmap --help` for every flag. Exit status: 0 ok, 1 differences found (or an
//! internal error), 2 bad usage or an unreadable or malformed input.
//!
//! Modules: `lsmem` (rows, table, summary, JSON), `iomem` (reading /proc/iomem and the
//! node directory), `sysfs` (the comparison with Linux), `story` (the embedded machine).

use std::ffi::OsString;
use std::fmt;
use std::fs;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use sparsemem::{Config, MemRange, RangeKind, SparseMap};

/// Appends one formatted line to a `String` (writing to a `String` cannot fail).
macro_rules! say {
    ($out:expr, $($arg:tt)*) => {{
        use std::fmt::Write as _;
        let _ = writeln!($out, $($arg)*);
    }};
}

mod iomem;
mod lsmem;
mod story;
mod sysfs;

const USAGE: &str = "\
usage: memmap [--iomem FILE [--node-dir DIR] [--block-size HEX] | --load FILE]
              [--verify-sysfs DIR] [--json | --e820] [--save FILE]

With no arguments, boots an embedded two-node x86-64 machine and tells its hotplug
story. Otherwise builds a map (the embedded machine at boot, a /proc/iomem, or a
snapshot) and prints its memory blocks as
`lsmem -o RANGE,SIZE,STATE,REMOVABLE,BLOCK,NODE,ZONES` does.

  --iomem FILE        boot RAM from the top-level \"System RAM\" lines of a /proc/iomem
  --node-dir DIR      each block's node from DIR/nodeN/memoryM (/sys/devices/system/node);
                      without it every block is on node 0
  --block-size HEX    memory block size, as in block_size_bytes (default: the
                      --verify-sysfs DIR's block_size_bytes, else 8000000, 128 MiB)
  --load FILE         the map of a snapshot written by --save
  --save FILE         write the map's snapshot to FILE
  --verify-sysfs DIR  compare every block (id, state, node, valid_zones) with DIR
                      (/sys/devices/system/memory) and print only that report (and
                      --json or --e820 when given): exit 1 listing each difference
  --json              the block table as JSON (lsmem -J's keys, plus a summary)
  --e820              the memory map as e820-style ranges: RAM online, RAM offline, device
  -h, --help          this text

Exit status: 0 ok, 1 differences found (or an internal error), 2 bad usage or input.
";

/// Why memmap stops: a message and the exit status it stops with.
#[derive(Debug)]
pub struct Failure {
    /// Exit status: 1 for an internal error, 2 for bad usage or input.
    code: u8,
    /// What to tell the user.
    msg: String,
}

impl Failure {
    /// Bad command line.
    fn usage(msg: impl Into<String>) -> Self {
        Failure {
            code: 2,
            msg: format!("{}\n(memmap --help lists the flags)", msg.into()),
        }
    }
    /// An input file or directory that cannot be read or is malformed.
    pub fn input(msg: impl Into<String>) -> Self {
        Failure {
            code: 2,
            msg: msg.into(),
        }
    }
    /// Something that cannot happen unless memmap or the core has a bug.
    pub fn internal(msg: impl Into<String>) -> Self {
        Failure {
            code: 1,
            msg: format!("internal error: {}", msg.into()),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.msg)
    }
}

/// The command line, parsed.
#[derive(Debug, Default, PartialEq, Eq)]
struct Options {
    iomem: Option<PathBuf>,
    node_dir: Option<PathBuf>,
    block_size: Option<u64>,
    load: Option<PathBuf>,
    save: Option<PathBuf>,
    verify: Option<PathBuf>,
    json: bool,
    e820: bool,
    help: bool,
}

/// A block size as `block_size_bytes` writes it: hex, `0x` optional; a power of two of
/// at least the 128 MiB section (what a map with the x86-64 preset accepts).
fn parse_block_size(text: &str) -> Result<u64, String> {
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

/// Parses the arguments (`--flag VALUE` or `--flag=VALUE`).
fn parse_args(args: &[OsString]) -> Result<Options, Failure> {
    let mut o = Options::default();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let arg = arg
            .to_str()
            .ok_or_else(|| Failure::usage(format!("argument {arg:?} is not UTF-8")))?;
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(OsString::from(v))),
            _ => (arg, None),
        };
        let mut value = |name: &str| {
            inline
                .clone()
                .or_else(|| it.next().cloned())
                .ok_or_else(|| Failure::usage(format!("{name} needs a value")))
        };
        match flag {
            "--iomem" => o.iomem = Some(value(flag)?.into()),
            "--node-dir" => o.node_dir = Some(value(flag)?.into()),
            "--load" => o.load = Some(value(flag)?.into()),
            "--save" => o.save = Some(value(flag)?.into()),
            "--verify-sysfs" => o.verify = Some(value(flag)?.into()),
            "--block-size" => {
                let v = value(flag)?;
                let text = v.to_string_lossy();
                o.block_size = Some(
                    parse_block_size(&text)
                        .map_err(|m| Failure::usage(format!("--block-size: {m}")))?,
                );
            }
            "--json" if inline.is_none() => o.json = true,
            "--e820" if inline.is_none() => o.e820 = true,
            "-h" | "--help" if inline.is_none() => o.help = true,
            _ => return Err(Failure::usage(format!("unknown argument `{arg}`"))),
        }
    }
    check_combination(&o)?;
    Ok(o)
}

/// Rejects flags that make no sense together.
fn check_combination(o: &Options) -> Result<(), Failure> {
    if o.iomem.is_some() && o.load.is_some() {
        return Err(Failure::usage(
            "--iomem and --load both choose the map: give one",
        ));
    }
    if o.iomem.is_none() && (o.node_dir.is_some() || o.block_size.is_some()) {
        return Err(Failure::usage(
            "--node-dir and --block-size apply to --iomem",
        ));
    }
    if o.json && o.e820 {
        return Err(Failure::usage(
            "--json and --e820 choose the output: give one",
        ));
    }
    Ok(())
}

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

/// The map of a snapshot file; anything `restore` rejects is an input error.
fn map_from_snapshot(path: &Path) -> Result<Box<SparseMap>, Failure> {
    let file = path.display().to_string();
    let buf = fs::read(path).map_err(|e| Failure::input(format!("{file}: cannot read: {e}")))?;
    let cfg = sparsemem::snapshot_config(&buf).map_err(|e| {
        Failure::input(format!(
            "{file}: not a sparsemem snapshot (header, version or checksum): {e}"
        ))
    })?;
    let map = SparseMap::new_boxed(&cfg).map_err(|e| {
        Failure::input(format!(
            "{file}: not a sparsemem snapshot: its configuration: {e}"
        ))
    })?;
    map.restore(&buf).map_err(|e| {
        Failure::input(format!(
            "{file}: snapshot rejected (corrupt, truncated or inconsistent): {e}"
        ))
    })?;
    Ok(map)
}

/// Writes the map's snapshot to a file.
fn save(map: &SparseMap, path: &Path) -> Result<usize, Failure> {
    let mut buf = vec![0u8; map.snapshot_bytes()];
    let n = map
        .snapshot(&mut buf)
        .map_err(|e| Failure::internal(format!("snapshot: {e}")))?;
    buf.truncate(n);
    fs::write(path, &buf)
        .map_err(|e| Failure::input(format!("{}: cannot write: {e}", path.display())))?;
    Ok(n)
}

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
fn e820(map: &SparseMap) -> String {
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

/// The map the options choose, and the block size it was built with.
fn build_map(o: &Options) -> Result<Box<SparseMap>, Failure> {
    if let Some(path) = &o.load {
        return map_from_snapshot(path);
    }
    if let Some(path) = &o.iomem {
        let from_sysfs = match (&o.block_size, &o.verify) {
            (None, Some(dir)) => sysfs::block_size(dir)?,
            _ => None,
        };
        let bs = o
            .block_size
            .or(from_sysfs)
            .unwrap_or(Config::x86_64().block_size);
        return map_from_iomem(path, o.node_dir.as_deref(), bs);
    }
    story::boot()
}

/// Compares the map with a sysfs memory directory: the report and whether it matched.
fn verify(map: &SparseMap, dir: &Path) -> Result<(String, bool), Failure> {
    let sys = sysfs::read(dir)?;
    let diffs = sysfs::compare(map, &sys);
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

/// Runs memmap: what to print on stdout and the exit status.
fn run(args: &[OsString]) -> Result<(String, u8), Failure> {
    if args.is_empty() {
        return Ok((story::run()?, 0));
    }
    let o = parse_args(args)?;
    if o.help {
        return Ok((USAGE.to_string(), 0));
    }
    let map = build_map(&o)?;
    if let Some(path) = &o.save {
        let n = save(&map, path)?;
        eprintln!("memmap: wrote a {n}-byte snapshot to {}", path.display());
    }
    let mut out = String::new();
    if o.json {
        out.push_str(&lsmem::json(&map));
    } else if o.e820 {
        out.push_str(&e820(&map));
    } else if o.verify.is_none() {
        out.push_str(&lsmem::report(&map));
    }
    let mut code = 0;
    if let Some(dir) = &o.verify {
        let (report, same) = verify(&map, dir)?;
        out.push_str(&report);
        code = if same { 0 } else { 1 };
    }
    Ok((out, code))
}

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    match run(&args) {
        Ok((out, code)) => {
            print!("{out}");
            ExitCode::from(code)
        }
        Err(f) => {
            eprintln!("memmap: {f}");
            ExitCode::from(f.code)
        }
    }
}

#[cfg(test)]
mod tests;
