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
//! Modules: `cli` (the flags), `source` (the map: embedded, from /proc/iomem or a
//! snapshot), `iomem` (reading /proc/iomem and the node directory), `lsmem` (rows,
//! table, summary, JSON), `e820` (the range export), `sysfs` (the comparison with
//! Linux), `story` (the embedded machine's hotplug story), `failure` (exit statuses).

use std::ffi::OsString;
use std::process::ExitCode;

/// Appends one formatted line to a `String` (writing to a `String` cannot fail).
macro_rules! say {
    ($out:expr, $($arg:tt)*) => {{
        use std::fmt::Write as _;
        let _ = writeln!($out, $($arg)*);
    }};
}

mod cli;
mod e820;
mod failure;
mod iomem;
mod lsmem;
mod source;
mod story;
mod sysfs;

use cli::{parse_args, USAGE};
use failure::Failure;

/// Runs memmap: what to print on stdout and the exit status.
fn run(args: &[OsString]) -> Result<(String, u8), Failure> {
    if args.is_empty() {
        return Ok((story::run()?, 0));
    }
    let o = parse_args(args)?;
    if o.help {
        return Ok((USAGE.to_string(), 0));
    }
    let map = source::build_map(&o)?;
    if let Some(path) = &o.save {
        let n = source::save(&map, path)?;
        eprintln!("memmap: wrote a {n}-byte snapshot to {}", path.display());
    }
    let mut out = String::new();
    if o.json {
        out.push_str(&lsmem::json(&map));
    } else if o.e820 {
        out.push_str(&e820::e820(&map));
    } else if o.verify.is_none() {
        out.push_str(&lsmem::report(&map));
    }
    let mut code = 0;
    if let Some(dir) = &o.verify {
        let (report, same) = sysfs::verify(&map, dir)?;
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
