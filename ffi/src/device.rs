//! Device memory (ZONE_DEVICE) at sub-section granularity.

use core::ffi::c_int;

use crate::consts::*;
use crate::ptr::map_or_einval;
use crate::types::smem_map;

/// smem_add_device() - Add device memory (ZONE_DEVICE: pmem, dax), at sub-section granularity.
/// @map: an initialised map (NULL or misaligned: SMEM_EINVAL).
/// @nid: the node of the device memory, 0 .. SMEM_MAX_NODES-1.
/// @start: physical address, a multiple of the sub-section size.
/// @size: bytes, a non-zero multiple of the sub-section size.
///
/// Device memory creates no memory block and is never online. Device ranges of different
/// nodes may share a section; each pfn keeps its own range's node.
///
/// Context: device writers on different sections do not wait for each other.
///
/// Return: SMEM_OK, or on failure, with the map unchanged, the first that applies:
/// * SMEM_EINVAL - @map is NULL; smem_boot_finish() has not succeeded on @map; @nid is
///   invalid; @size is 0; @start + @size wraps; @start or @size is not a multiple of the
///   sub-section size.
/// * SMEM_E2BIG - the range ends beyond max_phys_bits.
/// * SMEM_ENXIO - the range holds System RAM pages.
/// * SMEM_EEXIST - the range overlaps active device sub-sections.
/// * SMEM_ENOMEM - the range touches more aligned runs of SMEM_SECTIONS_PER_LEAF sections
///   than the table has free, or it would make one more section hold several nodes'
///   device memory while SMEM_MAX_SHARED_DEVICE_SECTIONS such sections exist.
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

/// smem_remove_device() - Remove device memory, any sub-section-aligned part of what was added.
/// @map: an initialised map (NULL or misaligned: SMEM_EINVAL).
/// @start: physical address, a multiple of the sub-section size.
/// @size: bytes, a non-zero multiple of the sub-section size.
///
/// Return: SMEM_OK, or on failure, with the map unchanged, the first that applies:
/// * SMEM_EINVAL - @map is NULL; smem_boot_finish() has not succeeded on @map; @size is
///   0; @start + @size wraps; @start or @size is not a multiple of the sub-section size.
/// * SMEM_ENOENT - a sub-section of the range is not active device memory.
#[no_mangle]
pub unsafe extern "C" fn smem_remove_device(map: *mut smem_map, start: u64, size: u64) -> c_int {
    let m = map_or_einval!(map);
    rc(m.core.remove_device(start, size))
}
