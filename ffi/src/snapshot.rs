//! Snapshots: the whole state serialised into a caller's buffer, and restored from one.

use core::ffi::{c_int, c_void};

use crate::consts::*;
use crate::ptr::{in_bytes, map_or_einval, map_ref, out_buf, out_ref, write_only_bytes};
use crate::types::smem_map;

/// An upper bound of the bytes smem_snapshot writes now (0 for a NULL map).
///
/// # Safety
/// `map` is NULL or an initialised map.
#[no_mangle]
pub unsafe extern "C" fn smem_snapshot_bytes(map: *const smem_map) -> usize {
    // SAFETY: caller's contract.
    unsafe { map_ref(map) }.map_or(0, |m| m.core.snapshot_bytes())
}

/// Serialises the whole state into `buf`: one state between whole calls. Takes the
/// writer locks in the library's one lock order, only while it copies the state (the
/// checksum is computed after).
///
/// # Safety
/// `map` is NULL or an initialised map; `buf` is NULL or writable for `len` bytes;
/// `written` is NULL or writable.
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

/// Replaces the whole state with a snapshot's; on any error the map is unchanged.
///
/// # Safety
/// `map` is NULL or an initialised map not in use by another call; `buf` is NULL or
/// readable for `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn smem_restore(map: *mut smem_map, buf: *const c_void, len: usize) -> c_int {
    let m = map_or_einval!(map);
    // SAFETY: caller's contract.
    let Some(data) = (unsafe { in_bytes(buf, len) }) else {
        return SMEM_EINVAL;
    };
    rc(m.core.restore(data))
}
