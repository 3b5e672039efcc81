//! System RAM hotplug at memory-block granularity: add and remove, online and offline
//! (each transition calls the map's notifier, see `notifier.rs`).

use core::ffi::c_int;

use sparsemem::{BlockId, OnlineType};

use crate::consts::*;
use crate::ptr::map_or_einval;
use crate::types::smem_map;

/// smem_add_memory() - Hot-add System RAM, in whole memory blocks.
/// @map: an initialised map (NULL or misaligned: SMEM_EINVAL).
/// @nid: the node of the new memory, 0 .. SMEM_MAX_NODES-1.
/// @start: physical address, a multiple of the block size.
/// @size: bytes, a non-zero multiple of the block size.
///
/// The new blocks are OFFLINE, or onlined as the auto-online policy in force says (the
/// configuration's auto_online, or smem_set_auto_online's; an auto-online that fails,
/// vetoed by the notifier for instance, leaves its block offline and does not fail the
/// call). This is smem_add_memory_ex() with SMEM_GROUP_NONE and
/// SMEM_MHP_MEMMAP_ON_MEMORY, as the ACPI DIMM driver asks.
///
/// Return: SMEM_OK, or on failure, with the map unchanged, the first that applies:
/// * SMEM_EINVAL - @map is NULL; smem_boot_finish() has not succeeded on @map; @nid is
///   invalid; @size is 0; @start + @size wraps; @start or @size is not a multiple of the
///   block size.
/// * SMEM_E2BIG - the range ends beyond max_phys_bits.
/// * SMEM_EEXIST - a section of the range is already present (RAM or device memory).
/// * SMEM_ENOMEM - the range touches more aligned runs of SMEM_SECTIONS_PER_LEAF sections
///   than the table has free (SMEM_MAX_LEAVES in all).
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

/// smem_remove_memory() - Remove offline System RAM, in whole memory blocks.
/// @map: an initialised map (NULL or misaligned: SMEM_EINVAL).
/// @start: physical address, a multiple of the block size.
/// @size: bytes, a non-zero multiple of the block size.
///
/// The range's sections become absent; early sections lose EARLY (re-adding them makes
/// hot-added memory).
///
/// Return: SMEM_OK, or on failure, with the map unchanged, the first that applies:
/// * SMEM_EINVAL - @map is NULL; smem_boot_finish() has not succeeded on @map; @size is
///   0; @start + @size wraps; @start or @size is not a multiple of the block size.
/// * SMEM_ENOENT - a block of the range does not exist.
/// * SMEM_EBUSY - a block of the range is not OFFLINE or is mid-transition.
#[no_mangle]
pub unsafe extern "C" fn smem_remove_memory(map: *mut smem_map, start: u64, size: u64) -> c_int {
    let m = map_or_einval!(map);
    rc(m.core.remove_memory(start, size))
}

/// smem_offline_and_remove_memory() - Offline the online blocks of a range and remove it, all or nothing.
/// @map: an initialised map (NULL or misaligned: SMEM_EINVAL).
/// @start: physical address, a multiple of the block size.
/// @size: bytes, a non-zero multiple of the block size.
///
/// Every online block must pass the checks of smem_offline_block() before any notifier
/// runs; then each gets GOING_OFFLINE in ascending id order. On a veto every one of them
/// gets CANCEL_OFFLINE and is ONLINE again in its zone, with spans and counts as before.
///
/// Context: calls the notifier; must not be called from it for a block of the range.
///
/// Return: SMEM_OK, or on failure, with the map unchanged, the first that applies:
/// * SMEM_EINVAL - @map is NULL; smem_boot_finish() has not succeeded on @map; @size is
///   0; @start + @size wraps; @start or @size is not a multiple of the block size.
/// * SMEM_ENOENT - a block of the range does not exist.
/// * SMEM_EBUSY - a block of the range is mid-transition.
/// * SMEM_EINVAL - an online block cannot go offline: holes, mixed zones or nodes, device
///   sub-sections.
/// * a notifier's veto: its negative errno, or SMEM_EPERM for a positive value.
#[no_mangle]
pub unsafe extern "C" fn smem_offline_and_remove_memory(
    map: *mut smem_map,
    start: u64,
    size: u64,
) -> c_int {
    let m = map_or_einval!(map);
    rc(m.core.offline_and_remove_memory(start, size, &m.notifier()))
}

/// smem_online_block() - Online a memory block (Linux: echo online > memoryN/state).
/// @map: an initialised map (NULL or misaligned: SMEM_EINVAL).
/// @block_id: the block id.
/// @online_type_: SMEM_ONLINE (the default zone, Linux online), SMEM_ONLINE_KERNEL or
///                SMEM_ONLINE_MOVABLE.
///
/// The zone follows Linux's contig-zones rule (docs/semantics.md, "Zone choice when
/// onlining"). The notifier gets GOING_ONLINE, then ONLINE or, on a veto, CANCEL_ONLINE.
///
/// Context: calls the notifier; must not be called from it for the same block.
///
/// Return: SMEM_OK, or on failure, with the map unchanged, the first that applies:
/// * SMEM_EINVAL - @map is NULL; smem_boot_finish() has not succeeded on @map;
///   @online_type_ is unknown.
/// * SMEM_ENOENT - no such block.
/// * SMEM_EBUSY - the block is mid-transition.
/// * SMEM_EINVAL - the block is not OFFLINE (already online: Linux says EINVAL too), has
///   holes, device sub-sections or mixed nodes, or straddles a kernel zone's address
///   limit.
/// * a notifier's veto: its negative errno, or SMEM_EPERM for a positive value.
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

/// smem_offline_block() - Offline a memory block (Linux: echo offline > memoryN/state).
/// @map: an initialised map (NULL or misaligned: SMEM_EINVAL).
/// @block_id: the block id.
///
/// The notifier gets GOING_OFFLINE, then OFFLINE or, on a veto, CANCEL_OFFLINE.
///
/// Context: calls the notifier; must not be called from it for the same block.
///
/// Return: SMEM_OK, or on failure, with the map unchanged, the first that applies:
/// * SMEM_EINVAL - @map is NULL; smem_boot_finish() has not succeeded on @map.
/// * SMEM_ENOENT - no such block.
/// * SMEM_EBUSY - the block is mid-transition.
/// * SMEM_EINVAL - the block is not ONLINE, its zone is SMEM_ZONE_NONE (mixed zones or
///   nodes), or it has holes or device sub-sections.
/// * a notifier's veto: its negative errno, or SMEM_EPERM for a positive value.
#[no_mangle]
pub unsafe extern "C" fn smem_offline_block(map: *mut smem_map, block_id: u64) -> c_int {
    let m = map_or_einval!(map);
    rc(m.core.offline_block(BlockId(block_id), &m.notifier()))
}
