//! Snapshot files: writing the map's snapshot, and reading one back with the checks of
//! docs/snapshot-format.md done here first, so that a rejected file says which check
//! failed (`restore` answers only "invalid" for all of them).

use std::fs;
use std::path::Path;

use sparsemem::capacity::{
    MAX_BOOT_RANGES, MAX_FAKE_OFFLINE_SECTIONS, MAX_GROUPS, MAX_NODES, MAX_SECTIONS,
    MAX_SHARED_DEVICE_SECTIONS, MAX_SUBSECTIONS,
};
use sparsemem::SparseMap;

use crate::input::read_bounded;
use crate::Failure;

const MAGIC: &[u8; 8] = b"SMEMSNAP";
/// The smallest header (versions 1 and 2; version 3 adds a count, version 4 policies
/// and two counts: 96 bytes).
const HEADER: usize = 68;
/// The largest header (version 4).
const HEADER_V4: usize = 96;
const CRC: usize = 4;

/// The largest snapshot a map of this build can write (docs/snapshot-format.md's
/// record sizes at full capacity; zone spans: at most 7 zones per node).
pub fn max_bytes() -> u64 {
    let sections = MAX_SECTIONS * (16 + MAX_SUBSECTIONS.div_ceil(4) + 12);
    let shared = MAX_SHARED_DEVICE_SECTIONS * (8 + MAX_SUBSECTIONS);
    let groups = MAX_GROUPS * 24;
    let fakes = MAX_FAKE_OFFLINE_SECTIONS * (8 + MAX_SUBSECTIONS.div_ceil(8));
    (HEADER_V4
        + MAX_BOOT_RANGES * 20
        + sections
        + MAX_NODES * 7 * 32
        + shared
        + groups
        + fakes
        + CRC) as u64
}

/// A reflected CRC-32 with initial value and final XOR 0xFFFFFFFF, bit by bit (a
/// snapshot is read once; speed does not matter here).
fn crc32(poly: u32, bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ poly
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// CRC-32C (Castagnoli), snapshot versions 2 to 4.
pub(crate) fn crc32c(bytes: &[u8]) -> u32 {
    crc32(0x82F6_3B78, bytes)
}

/// CRC-32 (IEEE 802.3), snapshot version 1.
fn crc32_ieee(bytes: &[u8]) -> u32 {
    crc32(0xEDB8_8320, bytes)
}

fn le_u32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap_or([0; 4]))
}

/// The header checks of docs/snapshot-format.md, in order: which one fails, if any.
pub fn check_format(buf: &[u8]) -> Result<(), String> {
    if buf.len() < HEADER + CRC || &buf[..8] != MAGIC {
        return Err("bad magic: not a sparsemem snapshot (no SMEMSNAP header)".into());
    }
    let version = le_u32(buf, 8);
    let crc: fn(&[u8]) -> u32 = match version {
        2..=4 => crc32c,
        1 => crc32_ieee,
        v => {
            return Err(format!(
                "unknown format version {v} (this memmap reads 1 to 4)"
            ))
        }
    };
    let length = u64::from_le_bytes(buf[12..20].try_into().unwrap_or([0; 8]));
    if length != buf.len() as u64 {
        return Err(format!(
            "length: the header says {length} bytes, the file has {} (truncated or extended)",
            buf.len()
        ));
    }
    let (body, tail) = buf.split_at(buf.len() - CRC);
    let (stored, computed) = (le_u32(tail, 0), crc(body));
    if stored != computed {
        return Err(format!(
            "checksum mismatch: stored {stored:#010x}, computed {computed:#010x} (corrupt)"
        ));
    }
    Ok(())
}

/// The map of a snapshot file; any rejection is an input error naming the check.
pub fn load(path: &Path) -> Result<Box<SparseMap>, Failure> {
    let file = path.display().to_string();
    let buf = read_bounded(path, max_bytes())?;
    let rejected = |why: String| Failure::input(format!("{file}: snapshot rejected: {why}"));
    check_format(&buf).map_err(&rejected)?;
    // The header passed the checks above, so only its configuration can be refused.
    let bad_config = |_| {
        rejected(
            "its configuration (bytes 20-51, and 52-59 from version 4) is not one a map accepts"
                .into(),
        )
    };
    let cfg = sparsemem::snapshot_config(&buf).map_err(bad_config)?;
    let map = SparseMap::new_boxed(&cfg).map_err(bad_config)?;
    map.restore(&buf).map_err(|_| {
        rejected(
            "inconsistent records (well-formed, but not a map the operations could build; \
             docs/snapshot-format.md, \"What restore accepts\")"
                .into(),
        )
    })?;
    Ok(map)
}

/// Writes the map's snapshot to a file: its size.
pub fn save(map: &SparseMap, path: &Path) -> Result<usize, Failure> {
    let mut buf = vec![0u8; map.snapshot_bytes()];
    let n = map
        .snapshot(&mut buf)
        .map_err(|e| Failure::internal(format!("snapshot: {e}")))?;
    buf.truncate(n);
    fs::write(path, &buf)
        .map_err(|e| Failure::input(format!("{}: cannot write: {e}", path.display())))?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums_match_the_documented_check_values() {
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
        assert_eq!(crc32_ieee(b"123456789"), 0xCBF4_3926);
    }
}
