//! The command line: its help text, the options and their parsing.

use std::ffi::OsString;
use std::path::PathBuf;

use crate::sysfs::parse_block_size;
use crate::Failure;

pub const USAGE: &str = "\
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

/// The command line, parsed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Options {
    pub iomem: Option<PathBuf>,
    pub node_dir: Option<PathBuf>,
    pub block_size: Option<u64>,
    pub load: Option<PathBuf>,
    pub save: Option<PathBuf>,
    pub verify: Option<PathBuf>,
    pub json: bool,
    pub e820: bool,
    pub help: bool,
}

/// Parses the arguments (`--flag VALUE` or `--flag=VALUE`).
pub fn parse_args(args: &[OsString]) -> Result<Options, Failure> {
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
