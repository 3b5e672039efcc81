//! Answers about one pfn, section or block, and the walk over the blocks: the calls
//! that never take a lock.

use core::ffi::{c_char, c_int, c_void};

use sparsemem::{BlockId, Pfn, SectionNr};

use crate::consts::*;
use crate::ptr::{map_or_einval, map_ref, out_buf, out_ref};
use crate::types::{smem_block_fn, smem_block_info, smem_map, smem_pfn_info, smem_section_info};

/// Linux pfn_valid(); false for a NULL map. Wait-free on every target: a fixed
/// number of loads, never a lock or a retry (callable from an interrupt handler that
/// preempted a writer).
///
/// # Safety
/// `map` is NULL or an initialised map.
#[no_mangle]
pub unsafe extern "C" fn smem_pfn_valid(map: *const smem_map, pfn: u64) -> bool {
    // SAFETY: caller's contract.
    unsafe { map_ref(map) }.is_some_and(|m| m.core.pfn_valid(Pfn(pfn)))
}

/// Linux pfn_to_online_page() != NULL, page-precise; false for a NULL map. Never a
/// lock or a retry, on every target.
///
/// # Safety
/// `map` is NULL or an initialised map.
#[no_mangle]
pub unsafe extern "C" fn smem_pfn_online(map: *const smem_map, pfn: u64) -> bool {
    // SAFETY: caller's contract.
    unsafe { map_ref(map) }.is_some_and(|m| m.core.pfn_online(Pfn(pfn)))
}

/// The first valid pfn >= pfn, or SMEM_PFN_NONE (also for a NULL map). Never a lock
/// or a retry, on every target; its steps grow with the populated table only.
///
/// # Safety
/// `map` is NULL or an initialised map.
#[no_mangle]
pub unsafe extern "C" fn smem_next_valid_pfn(map: *const smem_map, pfn: u64) -> u64 {
    // SAFETY: caller's contract.
    unsafe { map_ref(map) }
        .and_then(|m| m.core.next_valid_pfn(Pfn(pfn)))
        .map_or(SMEM_PFN_NONE, |p| p.0)
}

/// Everything about one pfn. SMEM_ENOENT: section not present. Never a lock or a
/// retry, on every target; every field comes from one state of the map (the block's
/// node, state and zone with the pfn's online answer), with the two exceptions that
/// core/src/concurrency.rs states (a TAINT_DEVICE flag one step behind a racing device
/// add; the device nid of a section whose device memory was replaced by another node's
/// during the call).
///
/// # Safety
/// `map` is NULL or an initialised map; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn smem_pfn_info(
    map: *const smem_map,
    pfn: u64,
    out: *mut smem_pfn_info,
) -> c_int {
    let m = map_or_einval!(map);
    // SAFETY: caller's contract.
    let Some(out) = (unsafe { out_ref(out) }) else {
        return SMEM_EINVAL;
    };
    match m.core.pfn_info(Pfn(pfn)) {
        Ok(i) => {
            out.write(smem_pfn_info::from(&i));
            SMEM_OK
        }
        Err(e) => errno(e),
    }
}

/// A section's flags and masks. SMEM_ENOENT if absent.
///
/// # Safety
/// `map` is NULL or an initialised map; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn smem_section_info(
    map: *const smem_map,
    section_nr: u64,
    out: *mut smem_section_info,
) -> c_int {
    let m = map_or_einval!(map);
    // SAFETY: caller's contract.
    let Some(out) = (unsafe { out_ref(out) }) else {
        return SMEM_EINVAL;
    };
    match m.core.section_info(SectionNr(section_nr)) {
        Ok(i) => {
            out.write(smem_section_info::from(&i));
            SMEM_OK
        }
        Err(e) => errno(e),
    }
}

/// A memory block. SMEM_ENOENT if it does not exist. Never a lock; on targets
/// without 64-bit atomics it may retry while a zone span is being stored.
///
/// # Safety
/// `map` is NULL or an initialised map; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn smem_block_info(
    map: *const smem_map,
    block_id: u64,
    out: *mut smem_block_info,
) -> c_int {
    let m = map_or_einval!(map);
    // SAFETY: caller's contract.
    let Some(out) = (unsafe { out_ref(out) }) else {
        return SMEM_EINVAL;
    };
    match m.core.block_info(BlockId(block_id)) {
        Ok(b) => {
            out.write(smem_block_info::from(&b));
            SMEM_OK
        }
        Err(e) => errno(e),
    }
}

/// Writes into a byte buffer, failing on overflow.
struct BufWriter<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl core::fmt::Write for BufWriter<'_> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let end = self.len.checked_add(s.len()).ok_or(core::fmt::Error)?;
        self.buf
            .get_mut(self.len..end)
            .ok_or(core::fmt::Error)?
            .copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// The Linux sysfs valid_zones text, NUL-terminated. SMEM_ENOSPC when `len` is short.
/// Never a lock; on targets without 64-bit atomics it may retry while a zone span is
/// being stored.
///
/// # Safety
/// `map` is NULL or an initialised map; `buf` is NULL or writable for `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn smem_block_valid_zones_str(
    map: *const smem_map,
    block_id: u64,
    buf: *mut c_char,
    len: usize,
) -> c_int {
    let m = map_or_einval!(map);
    if buf.is_null() {
        return SMEM_EINVAL;
    }
    let vz = match m.core.valid_zones(BlockId(block_id)) {
        Ok(v) => v,
        Err(e) => return errno(e),
    };
    let mut text = [0u8; 32];
    let mut w = BufWriter {
        buf: &mut text,
        len: 0,
    };
    if core::fmt::write(&mut w, format_args!("{vz}")).is_err() {
        return SMEM_ENOSPC;
    }
    let n = w.len;
    if n >= len {
        return SMEM_ENOSPC;
    }
    let Some(src) = text.get(..n) else {
        return SMEM_ENOSPC;
    };
    // The text and its NUL: n + 1 <= len bytes, inside what the caller made writable.
    // SAFETY: `buf` is writable for `len` bytes (caller's contract).
    let Some(out) = (unsafe { out_buf(buf.cast::<u8>(), n.saturating_add(1)) }) else {
        return SMEM_EINVAL;
    };
    for (o, &b) in out.iter_mut().zip(src.iter().chain(&[0])) {
        o.write(b);
    }
    SMEM_OK
}

/// Visits the blocks in ascending id order; a non-zero return from `fn` stops the walk
/// and is returned. Never a lock; on targets without 64-bit atomics it may retry while
/// a zone span is being stored.
///
/// # Safety
/// `map` is NULL or an initialised map; `fn` is NULL or a valid callback.
#[no_mangle]
pub unsafe extern "C" fn smem_for_each_block(
    map: *const smem_map,
    r#fn: smem_block_fn,
    ctx: *mut c_void,
) -> c_int {
    let m = map_or_einval!(map);
    let Some(f) = r#fn else { return SMEM_EINVAL };
    for b in m.core.blocks() {
        let info = smem_block_info::from(&b);
        // SAFETY: the caller's callback and context.
        let r = unsafe { f(ctx, &info) };
        if r != 0 {
            return r;
        }
    }
    SMEM_OK
}
