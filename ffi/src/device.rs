//! Device memory (ZONE_DEVICE) at sub-section granularity.

use core::ffi::c_int;

use crate::consts::*;
use crate::ptr::map_or_einval;
use crate::types::smem_map;

/// Adds device memory (ZONE_DEVICE) at sub-section granularity.
///
/// # Safety
/// `map` is NULL or an initialised map.
#[no_mangle]
pub unsafe extern "C" fn smem_add_device(
    map: *mut smem_map,
    nid: i32,
    start: u64,
    size: u64,
) -> c_int {
    let m = map_or_einval!(map);
    rc(m.core.add_device(nid, start, size))
}

/// Removes device memory.
///
/// # Safety
/// `map` is NULL or an initialised map.
#[no_mangle]
pub unsafe extern "C" fn smem_remove_device(map: *mut smem_map, start: u64, size: u64) -> c_int {
    let m = map_or_einval!(map);
    rc(m.core.remove_device(start, size))
}
