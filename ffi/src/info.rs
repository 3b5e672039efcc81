//! What needs no map: the text of an error or a zone, the library's version and map
//! size, and the configuration presets.

use core::ffi::{c_char, c_int};
use core::mem::size_of;

use sparsemem::{Config, Zone};

use crate::consts::*;
use crate::ptr::out_ref;
use crate::types::{smem_config, smem_map};

/// smem_strerror() - The text of an error value.
/// @err: SMEM_OK or a negative errno.
///
/// Return: a static, NUL-terminated, never-NULL string; "unknown error" for a value
/// that is not one of the SMEM_E* codes (a notifier's own errno, say).
#[no_mangle]
pub extern "C" fn smem_strerror(err: c_int) -> *const c_char {
    let s: &'static [u8] = match err {
        SMEM_OK => b"success\0",
        SMEM_EPERM => b"operation not permitted (notifier veto)\0",
        SMEM_ENOENT => b"no such block, section or range\0",
        SMEM_ENXIO => b"range contains System RAM\0",
        SMEM_E2BIG => b"range beyond the maximum physical address\0",
        SMEM_ENOMEM => b"static capacity exhausted\0",
        SMEM_EBUSY => b"busy: a block online or in transition, or a group with blocks\0",
        SMEM_EEXIST => b"range overlaps present memory\0",
        SMEM_EINVAL => b"invalid argument or state\0",
        SMEM_ENOSPC => b"output buffer too small\0",
        _ => b"unknown error\0",
    };
    s.as_ptr().cast()
}

/// smem_zone_name() - The Linux sysfs name of a zone.
/// @zone: SMEM_ZONE_*.
///
/// Return: "DMA", "DMA32", "Normal", "Movable" or "Device"; "none" for SMEM_ZONE_NONE and
/// any unknown value. Static, never NULL.
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

/// smem_version() - The library's version.
///
/// Return: "MAJOR.MINOR.PATCH", static, never NULL. Compare it with SMEM_VERSION_* to
/// catch a header that does not belong to the library a program runs with.
#[no_mangle]
pub extern "C" fn smem_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// smem_map_bytes() - sizeof(smem_map) in the library.
///
/// Return: the library's map size. A program compiled with a header of another
/// capacity or target sees it differ from SMEM_MAP_BYTES.
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

/// smem_config_x86_64() - Fill a configuration with x86-64 preset.
/// @cfg: the configuration to fill; NULL is ignored.
///
/// Fills every field with the x86-64 preset: 4 KiB pages, 2 MiB sub-sections, 128 MiB sections and blocks, 46 physical address bits, ZONE_DMA below 16 MiB, ZONE_DMA32 below 4 GiB.
#[no_mangle]
pub extern "C" fn smem_config_x86_64(cfg: *mut smem_config) {
    preset(cfg, Config::x86_64());
}

/// smem_config_arm64_4k() - Fill a configuration with arm64 4 KiB-page preset.
/// @cfg: the configuration to fill; NULL is ignored.
///
/// Fills every field with the arm64 4 KiB-page preset: 2 MiB sub-sections, 128 MiB sections and blocks, 48 physical address bits, no ZONE_DMA, ZONE_DMA32 below 4 GiB.
#[no_mangle]
pub extern "C" fn smem_config_arm64_4k(cfg: *mut smem_config) {
    preset(cfg, Config::arm64_4k());
}

/// smem_config_arm64_64k() - Fill a configuration with arm64 64 KiB-page preset.
/// @cfg: the configuration to fill; NULL is ignored.
///
/// Fills every field with the arm64 64 KiB-page preset: 2 MiB sub-sections (256 per section), 512 MiB sections and blocks, 48 physical address bits.
#[no_mangle]
pub extern "C" fn smem_config_arm64_64k(cfg: *mut smem_config) {
    preset(cfg, Config::arm64_64k());
}
