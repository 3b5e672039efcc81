//! What needs no map: the text of an error or a zone, the library's version and map
//! size, and the configuration presets.

use core::ffi::{c_char, c_int};
use core::mem::size_of;

use sparsemem::{Config, Zone};

use crate::consts::*;
use crate::ptr::out_ref;
use crate::types::{smem_config, smem_map};

/// A static, non-NULL, human-readable string for an error value.
#[no_mangle]
pub extern "C" fn smem_strerror(err: c_int) -> *const c_char {
    let s: &'static [u8] = match err {
        SMEM_OK => b"success\0",
        SMEM_EPERM => b"operation not permitted (notifier veto)\0",
        SMEM_ENOENT => b"no such block, section or range\0",
        SMEM_ENXIO => b"range contains System RAM\0",
        SMEM_E2BIG => b"range beyond the maximum physical address\0",
        SMEM_ENOMEM => b"static capacity exhausted\0",
        SMEM_EBUSY => b"block online or in transition\0",
        SMEM_EEXIST => b"range overlaps present memory\0",
        SMEM_EINVAL => b"invalid argument or state\0",
        SMEM_ENOSPC => b"output buffer too small\0",
        _ => b"unknown error\0",
    };
    s.as_ptr().cast()
}

/// The Linux sysfs name of a zone; "none" for SMEM_ZONE_NONE and unknown values.
#[no_mangle]
pub extern "C" fn smem_zone_name(zone: u8) -> *const c_char {
    let s: &'static [u8] = match Zone::from_c(zone) {
        Some(Zone::Dma) => b"DMA\0",
        Some(Zone::Dma32) => b"DMA32\0",
        Some(Zone::Normal) => b"Normal\0",
        Some(Zone::Movable) => b"Movable\0",
        Some(Zone::Device) => b"Device\0",
        Some(Zone::None) | None => b"none\0",
    };
    s.as_ptr().cast()
}

/// The library version, equal to SMEM_VERSION_MAJOR.MINOR.PATCH.
#[no_mangle]
pub extern "C" fn smem_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// sizeof(smem_map) of the library: compare with SMEM_MAP_BYTES.
#[no_mangle]
pub extern "C" fn smem_map_bytes() -> usize {
    size_of::<smem_map>()
}

fn preset(cfg: *mut smem_config, c: Config) {
    // SAFETY: the caller passes NULL or a writable smem_config.
    if let Some(out) = unsafe { out_ref(cfg) } {
        out.write(smem_config::from(&c));
    }
}

/// Fills the x86-64 preset: 12/21/27/46, 128 MiB blocks, DMA < 16 MiB, DMA32 < 4 GiB.
#[no_mangle]
pub extern "C" fn smem_config_x86_64(cfg: *mut smem_config) {
    preset(cfg, Config::x86_64());
}

/// Fills the arm64 4 KiB preset: 12/21/27/48, 128 MiB blocks, DMA32 < 4 GiB.
#[no_mangle]
pub extern "C" fn smem_config_arm64_4k(cfg: *mut smem_config) {
    preset(cfg, Config::arm64_4k());
}

/// Fills the arm64 64 KiB preset: 16/21/29/48, 512 MiB blocks, 256 sub-sections.
#[no_mangle]
pub extern "C" fn smem_config_arm64_64k(cfg: *mut smem_config) {
    preset(cfg, Config::arm64_64k());
}
