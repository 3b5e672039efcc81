//! Reading input files with a bound: a mistaken `--iomem /dev/zero` or a huge file
//! must be refused after a bounded read, not swallowed until the kernel kills us.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use crate::Failure;

/// A /proc/iomem is a few KiB even on large servers; a script is hand-written.
pub const TEXT_LIMIT: u64 = 1 << 20;
/// A sysfs attribute is at most one page.
pub const ATTR_LIMIT: u64 = 4096;

/// The bytes of a file of at most `limit` bytes; a larger one (or an endless device)
/// is an input error that names the file and the limit.
pub fn read_bounded(path: &Path, limit: u64) -> Result<Vec<u8>, Failure> {
    let cannot =
        |e: std::io::Error| Failure::input(format!("{}: cannot read: {e}", path.display()));
    let mut buf = Vec::new();
    File::open(path)
        .and_then(|f| f.take(limit + 1).read_to_end(&mut buf))
        .map_err(cannot)?;
    if buf.len() as u64 > limit {
        return Err(Failure::input(format!(
            "{}: larger than {limit} bytes: not the file memmap expects",
            path.display()
        )));
    }
    Ok(buf)
}
