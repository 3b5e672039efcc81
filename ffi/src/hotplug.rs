//! System RAM hotplug at memory-block granularity: add and remove, online and offline
//! (each transition calls the map's notifier, see `notifier.rs`).

use core::ffi::c_int;

use sparsemem::{BlockId, OnlineType};

use crate::consts::*;
use crate::ptr::map_or_einval;
use crate::types::smem_map;

/// Hot-adds System RAM at memory-block granularity.
///
/// # Safety
/// `map` is NULL or an initialised map.
#[no_mangle]
pub unsafe extern "C" fn smem_add_memory(
    map: *mut smem_map,
    nid: i32,
    start: u64,
    size: u64,
) -> c_int {
    let m = map_or_einval!(map);
    rc(m.core.add_memory(nid, start, size, &m.notifier()))
}

/// Removes offline System RAM.
///
/// # Safety
/// `map` is NULL or an initialised map.
#[no_mangle]
pub unsafe extern "C" fn smem_remove_memory(map: *mut smem_map, start: u64, size: u64) -> c_int {
    let m = map_or_einval!(map);
    rc(m.core.remove_memory(start, size))
}

/// Offlines every online block of the range and removes it, all or nothing.
///
/// # Safety
/// `map` is NULL or an initialised map.
#[no_mangle]
pub unsafe extern "C" fn smem_offline_and_remove_memory(
    map: *mut smem_map,
    start: u64,
    size: u64,
) -> c_int {
    let m = map_or_einval!(map);
    rc(m.core.offline_and_remove_memory(start, size, &m.notifier()))
}

/// Onlines a block (SMEM_ONLINE, SMEM_ONLINE_KERNEL, SMEM_ONLINE_MOVABLE).
///
/// # Safety
/// `map` is NULL or an initialised map.
#[no_mangle]
pub unsafe extern "C" fn smem_online_block(
    map: *mut smem_map,
    block_id: u64,
    online_type_: u8,
) -> c_int {
    let m = map_or_einval!(map);
    let Some(t) = OnlineType::from_c(online_type_) else {
        return SMEM_EINVAL;
    };
    rc(m.core.online_block(BlockId(block_id), t, &m.notifier()))
}

/// Offlines a block.
///
/// # Safety
/// `map` is NULL or an initialised map.
#[no_mangle]
pub unsafe extern "C" fn smem_offline_block(map: *mut smem_map, block_id: u64) -> c_int {
    let m = map_or_einval!(map);
    rc(m.core.offline_block(BlockId(block_id), &m.notifier()))
}
