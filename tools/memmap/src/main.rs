//! memmap: sparsemem's front door. It builds a map of a machine and shows its memory
//! blocks the way util-linux `lsmem` and `/sys/devices/system/memory` show them.
//!
//! ```text
//! memmap                                   the embedded two-node machine and its hotplug story
//! memmap --iomem /proc/iomem --node-dir /sys/devices/system/node
//!        --verify-sysfs /sys/devices/system/memory     is the model this Linux machine?
//! memmap run SCRIPT                        hotplug steps, the blocks after each
//! ```
//!
//! Run `memmap --help` for every flag. Exit status: 0 ok, 1 differences found (or an
//! internal error, or output that could not be written), 2 bad usage or an unreadable
//! or malformed input.
//!
//! Modules: `cli` (the command line), `source` (the map: embedded or from /proc/iomem),
//! `snapshot` (snapshot files), `input` (bounded reads), `iomem` (/proc/iomem and the
//! node directory), `blocks` (blocks as sysfs shows them), `lsmem` (lsmem's views),
//! `sysfs` (sysfs trees: read, write, compare), `e820` (the range export), `script`
//! (`memmap run`), `story` (the embedded machine's story), `man` (the man page),
//! `failure` (exit statuses).

use std::ffi::OsString;
use std::io::Write as _;
use std::process::ExitCode;

/// Appends one formatted line to a `String` (writing to a `String` cannot fail).
macro_rules! say {
    ($out:expr, $($arg:tt)*) => {{
        use std::fmt::Write as _;
        let _ = writeln!($out, $($arg)*);
    }};
}

mod blocks;
mod cli;
mod e820;
mod failure;
mod input;
mod iomem;
mod lsmem;
mod man;
mod script;
mod snapshot;
mod source;
mod story;
mod sysfs;

use cli::{Options, Request, Source};
use failure::Failure;

/// Runs memmap: what to print on stdout and the exit status.
fn run(args: &[OsString]) -> Result<(String, u8), Failure> {
    match cli::parse(args)? {
        Request::Story => Ok((story::run()?, 0)),
        Request::Print(text) => Ok((text, 0)),
        Request::Run(o) => execute(&o),
    }
}

/// Does what the options ask: output first, then side effects (snapshot, tree), so
/// that nothing is written when the input is refused.
fn execute(o: &Options) -> Result<(String, u8), Failure> {
    if let Source::Sysroot(dir) = &o.source {
        let blocks = sysfs::read_sysroot(dir)?;
        if let Some(d) = &o.write_sysfs {
            sysfs::write_sysroot(&blocks, d)?;
        }
        return Ok((lsmem::render(&blocks, &o.view), 0));
    }
    let map = source::build_map(o)?;
    let mut out = String::new();
    if let Some((file, changes)) = &o.script {
        out.push_str(&script::run(&map, file, &o.view, *changes)?);
    } else if o.e820 {
        out.push_str(&e820::e820(&map));
    } else if o.verify.is_none() || o.view != lsmem::View::default() {
        out.push_str(&lsmem::render(&blocks::from_map(&map), &o.view));
    }
    let mut code = 0;
    if let Some(dir) = &o.verify {
        let (report, same) = sysfs::verify(&map, dir)?;
        out.push_str(&report);
        code = if same { 0 } else { 1 };
    }
    if let Some(d) = &o.write_sysfs {
        sysfs::write_sysroot(&blocks::from_map(&map), d)?;
    }
    if let Some(path) = &o.save {
        let n = snapshot::save(&map, path)?;
        let _ = writeln!(
            std::io::stderr(),
            "memmap: wrote a {n}-byte snapshot to {}",
            path.display()
        );
    }
    Ok((out, code))
}

/// Writes everything to stdout; a closed pipe or a full device is an error (Rust
/// ignores SIGPIPE, so a closed pipe is an EPIPE here, not a signal).
fn emit(out: &str) -> Result<(), Failure> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(out.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(Failure::output)
}

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let result = run(&args).and_then(|(out, code)| emit(&out).map(|()| code));
    match result {
        Ok(code) => ExitCode::from(code),
        Err(f) => {
            let _ = writeln!(std::io::stderr(), "memmap: {f}");
            ExitCode::from(f.code)
        }
    }
}

#[cfg(test)]
mod tests;
