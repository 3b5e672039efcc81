//! A map's start: `smem_init` in caller-provided storage, then the firmware's RAM
//! ranges and `smem_boot_finish`.

use core::ffi::c_int;

use sparsemem::Config;

use crate::consts::*;
use crate::ptr::{in_ref, map_or_einval, MapStorage};
use crate::types::{smem_config, smem_map};

/// Initialises (or resets) a map in caller-provided storage, whatever it held.
///
/// # Safety
/// `map` is NULL or points to `SMEM_MAP_BYTES` writable bytes not in use by any other
/// call; `cfg` is NULL or points to a readable smem_config.
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

/// Registers one System RAM range of the firmware map (byte-granular, rounded inward).
///
/// # Safety
/// `map` is NULL or an initialised map.
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

/// Builds early sections, blocks and zone spans from the registered ranges.
///
/// # Safety
/// `map` is NULL or an initialised map.
#[no_mangle]
pub unsafe extern "C" fn smem_boot_finish(map: *mut smem_map) -> c_int {
    let m = map_or_einval!(map);
    rc(m.core.boot_finish())
}
