//! Snapshots: the whole state serialised into a caller's buffer, and restored from one.

use core::ffi::{c_int, c_void};

use crate::consts::*;
use crate::ptr::{in_bytes, map_or_einval, map_ref, out_buf, out_ref, write_only_bytes};
use crate::types::smem_map;

/// smem_snapshot_bytes() - How many bytes smem_snapshot() needs now.
/// @map: an initialised map, only read or NULL.
///
/// Return: an upper bound of what smem_snapshot() writes for the current state; 0 for a
/// NULL @map.
#[no_mangle]
pub unsafe extern "C" fn smem_snapshot_bytes(map: *const smem_map) -> usize {
    // SAFETY: caller's contract.
    unsafe { map_ref(map) }.map_or(0, |m| m.core.snapshot_bytes())
}

/// smem_snapshot() - Serialise the whole state (not the notifier) into a buffer.
/// @map: an initialised map, only read (NULL or misaligned: SMEM_EINVAL).
/// @buf: where the snapshot is written (docs/snapshot-format.md).
/// @len: bytes at @buf; smem_snapshot_bytes() is enough.
/// @written: where the snapshot's length is written.
///
/// The snapshot is one state between whole calls, even with writers running.
///
/// Context: takes the writer locks in the library's one lock order, only while it copies
/// the state (the checksum is computed after).
///
/// Return: SMEM_OK, or on failure, with nothing written to @written:
/// * SMEM_EINVAL - @map, @buf or @written is NULL.
/// * SMEM_EBUSY - a block is mid-transition (also: called from a notifier).
/// * SMEM_ENOSPC - @len is too small.
#[no_mangle]
pub unsafe extern "C" fn smem_snapshot(
    map: *const smem_map,
    buf: *mut c_void,
    len: usize,
    written: *mut usize,
) -> c_int {
    let m = map_or_einval!(map);
    // SAFETY: caller's contract.
    let Some(w) = (unsafe { out_ref(written) }) else {
        return SMEM_EINVAL;
    };
    // SAFETY: caller's contract.
    let Some(out) = (unsafe { out_buf(buf.cast::<u8>(), len) }) else {
        return SMEM_EINVAL;
    };
    // SAFETY: the core's snapshot reads only bytes it has written (see write_only_bytes).
    match m.core.snapshot(unsafe { write_only_bytes(out) }) {
        Ok(n) => {
            w.write(n);
            SMEM_OK
        }
        Err(e) => errno(e),
    }
}

/// smem_restore() - Replace the whole state of a map with a snapshot's.
/// @map: a map initialised with the configuration the snapshot was taken with (NULL or
///       misaligned: SMEM_EINVAL).
/// @buf: the snapshot, as smem_snapshot() wrote it.
/// @len: its length.
///
/// The map keeps its notifier. Snapshot, restore and snapshot again give the same bytes.
///
/// Context: must not run concurrently with any other call on @map.
///
/// Return: SMEM_OK, or on failure, with the map unchanged, the first that applies:
/// * SMEM_EINVAL - @map or @buf is NULL; the snapshot is truncated, corrupt (checksum or
///   content: a state no sequence of calls can produce), of an unknown version, or of
///   another configuration.
#[no_mangle]
pub unsafe extern "C" fn smem_restore(map: *mut smem_map, buf: *const c_void, len: usize) -> c_int {
    let m = map_or_einval!(map);
    // SAFETY: caller's contract.
    let Some(data) = (unsafe { in_bytes(buf, len) }) else {
        return SMEM_EINVAL;
    };
    rc(m.core.restore(data))
}
