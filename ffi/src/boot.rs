//! A map's start: `smem_init` in caller-provided storage, then the firmware's RAM
//! ranges and `smem_boot_finish`.

use core::ffi::c_int;

use sparsemem::Config;

use crate::consts::*;
use crate::ptr::{in_ref, map_or_einval, MapStorage};
use crate::types::{smem_config, smem_map};

/// smem_init() - Initialise or reset a map in storage the caller provides.
/// @map: SMEM_MAP_BYTES bytes aligned to SMEM_MAP_ALIGN, in any state (they need not be
///       zeroed), not in use by any other call.
/// @cfg: the configuration, read only.
///
/// Context: must not run concurrently with any other call on @map.
///
/// Return: SMEM_OK, or on failure, with the storage untouched:
/// * SMEM_EINVAL - @map or @cfg is NULL; @map is not aligned to SMEM_MAP_ALIGN; the
///   configuration breaks a rule of docs/semantics.md, "Geometry": page_shift outside
///   12..16, shifts out of order, more than SMEM_MAX_SUBSECTIONS sub-sections per
///   section, more than SMEM_MAX_SECTION_NR_BITS bits of section number, max_phys_bits
///   above SMEM_MAX_PHYS_BITS, a block size that is not a power of two between the
///   section size and 2^max_phys_bits, unaligned or disordered zone ends, an unknown
///   auto_online.
#[no_mangle]
pub unsafe extern "C" fn smem_init(map: *mut smem_map, cfg: *const smem_config) -> c_int {
    // SAFETY: caller's contract.
    let Some(c) = (unsafe { in_ref(cfg) }) else {
        return SMEM_EINVAL;
    };
    // SAFETY: caller's contract.
    let Some(storage) = (unsafe { MapStorage::new(map) }) else {
        return SMEM_EINVAL;
    };
    let Ok(cfg) = Config::try_from(c) else {
        return SMEM_EINVAL;
    };
    if cfg.validate().is_err() {
        return SMEM_EINVAL;
    }
    rc(storage.zeroed().core.init(&cfg))
}

/// smem_boot_add_ram() - Register one System RAM range of the firmware map.
/// @map: an initialised map (NULL or misaligned: SMEM_EINVAL).
/// @nid: its node, 0 .. SMEM_MAX_NODES-1.
/// @start: physical address, byte-granular (rounded up to a page).
/// @size: bytes (the end is rounded down to a page; a range empty after rounding is
///        accepted and ignored).
///
/// Ranges arrive in any order (e820 type 1, EFI conventional memory, device-tree memory).
///
/// Return: SMEM_OK, or on failure, with the map unchanged, the first that applies:
/// * SMEM_EINVAL - @map is NULL; smem_boot_finish() already succeeded; @size is 0; @start
///   + @size wraps past 2^64; @nid is invalid.
/// * SMEM_E2BIG - the range ends beyond max_phys_bits.
/// * SMEM_EEXIST - the range overlaps one already registered.
/// * SMEM_ENOMEM - SMEM_MAX_BOOT_RANGES ranges are registered already.
#[no_mangle]
pub unsafe extern "C" fn smem_boot_add_ram(
    map: *mut smem_map,
    nid: i32,
    start: u64,
    size: u64,
) -> c_int {
    let m = map_or_einval!(map);
    rc(m.core.boot_add_ram(nid, start, size))
}

/// smem_boot_finish() - Build the boot memory: early sections, online blocks, zone spans.
/// @map: an initialised map (NULL or misaligned: SMEM_EINVAL).
///
/// Every block that holds registered RAM becomes ONLINE and EARLY, as Linux does at boot.
///
/// Return: SMEM_OK, or on failure, with the map unchanged, the first that applies:
/// * SMEM_EINVAL - @map is NULL; smem_boot_finish() already succeeded.
/// * SMEM_ENOMEM - the registered RAM touches more aligned runs of SMEM_SECTIONS_PER_LEAF
///   sections than SMEM_MAX_LEAVES.
#[no_mangle]
pub unsafe extern "C" fn smem_boot_finish(map: *mut smem_map) -> c_int {
    let m = map_or_einval!(map);
    rc(m.core.boot_finish())
}
