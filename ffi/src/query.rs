//! Answers about one pfn, section or block, and the walk over the blocks: the calls
//! that never take a lock.

use core::ffi::{c_char, c_int, c_void};

use sparsemem::{BlockId, Pfn, SectionNr};

use crate::consts::*;
use crate::ptr::{map_or_einval, map_ref, out_buf, out_ref};
use crate::types::{smem_block_fn, smem_block_info, smem_map, smem_pfn_info, smem_section_info};

/// smem_pfn_valid() - Linux pfn_valid(): does the pfn have a memory map?
/// @map: an initialised map, only read or NULL.
/// @pfn: page frame number.
///
/// Context: wait-free on every target: a fixed number of loads, never a lock or a retry,
/// so it may run in an interrupt handler that preempted a writer.
///
/// Return: true for every pfn of an early section (holes included) and for a pfn of an
/// active sub-section; false otherwise, beyond max_phys_bits, and for a NULL @map.
#[no_mangle]
pub unsafe extern "C" fn smem_pfn_valid(map: *const smem_map, pfn: u64) -> bool {
    // SAFETY: caller's contract.
    unsafe { map_ref(map) }.is_some_and(|m| m.core.pfn_valid(Pfn(pfn)))
}

/// smem_lookup - Where a map keeps its flat valid bitmap: what smem_pfn_valid_inline()
/// reads, as Linux's inline pfn_valid() reads mem_section. Read-only; every field is
/// fixed by smem_init() and smem_restore() keeps it.
///
/// The bitmap has one bit per sub-section from address 0 up: sub-section i is bit
/// (i % (8 * sizeof(uintptr_t))) of the uintptr_t word i / (8 * sizeof(uintptr_t)),
/// and the words start @words_offset bytes after the map's address. A bit is set
/// exactly when smem_pfn_valid() is true for the sub-section's pfns; the library changes
/// it with atomic read-modify-writes (set after the rest of the map says valid, cleared
/// before it stops), so it is read with an atomic acquire load. Above the bitmap,
/// smem_pfn_valid() answers from the section table. The fields locate the bitmap
/// relative to the map, so a caller may keep a copy (a local or a global) until it calls
/// smem_init() or smem_restore() on the map again: a copy in a local lets the compiler
/// keep them in registers across a loop of smem_pfn_valid_inline() calls.
#[repr(C)]
pub struct smem_lookup {
    /// SMEM_LOOKUP_VERSION once the map is initialised, 0 before. A program built
    /// against another version must not read the rest (smem_pfn_valid() still works).
    pub version: u32,
    /// A pfn's sub-section is pfn >> subsection_pfn_shift.
    pub subsection_pfn_shift: u32,
    /// The bitmap covers the sub-sections below 1 << covered_shift.
    pub covered_shift: u32,
    /// Offset in bytes of the bitmap's first word from the start of the map.
    pub words_offset: u32,
}

// The core's description begins with these four fields, in this order (FlatValid is
// repr(C) and starts with four u32-sized atomics; the ffi tests compare the values),
// and the core map is at the start of smem_map (its words_offset counts from there).
const _: () = assert!(
    core::mem::size_of::<smem_lookup>() == 16
        && core::mem::size_of::<sparsemem::FlatValid>() >= 16
        && core::mem::align_of::<sparsemem::FlatValid>() >= core::mem::align_of::<smem_lookup>()
        && core::mem::offset_of!(crate::types::FfiMap, core) == 0
);

/// smem_lookup_description() - The map's lookup description, for smem_pfn_valid_inline().
/// @map: a map (its storage), only read, or NULL.
///
/// Context: no lock; the description lives inside @map, so it is valid as long as the
/// map's storage is, and its fields change only with smem_init().
///
/// Return: the description inside @map, or NULL for a NULL or misaligned @map. Check
/// its version against SMEM_LOOKUP_VERSION before using it.
#[no_mangle]
pub unsafe extern "C" fn smem_lookup_description(map: *const smem_map) -> *const smem_lookup {
    // SAFETY: caller's contract.
    match unsafe { map_ref(map) } {
        Some(m) => (m.core.flat_valid() as *const sparsemem::FlatValid).cast::<smem_lookup>(),
        None => core::ptr::null(),
    }
}

/// smem_pfn_online() - Linux pfn_to_online_page() != NULL, page-precise.
/// @map: an initialised map, only read or NULL.
/// @pfn: page frame number.
///
/// Context: never a lock or a retry, on every target.
///
/// Return: true for a System RAM page of an online block (not device memory, not a
/// firmware hole); false otherwise and for a NULL @map.
#[no_mangle]
pub unsafe extern "C" fn smem_pfn_online(map: *const smem_map, pfn: u64) -> bool {
    // SAFETY: caller's contract.
    unsafe { map_ref(map) }.is_some_and(|m| m.core.pfn_online(Pfn(pfn)))
}

/// smem_next_valid_pfn() - The first valid pfn at or above a pfn.
/// @map: an initialised map, only read or NULL.
/// @pfn: where to start.
///
/// Context: never a lock or a retry, on every target; its steps grow with the populated
/// table only.
///
/// Return: the first pfn >= @pfn for which smem_pfn_valid() is true, or SMEM_PFN_NONE
/// when there is none and for a NULL @map.
#[no_mangle]
pub unsafe extern "C" fn smem_next_valid_pfn(map: *const smem_map, pfn: u64) -> u64 {
    // SAFETY: caller's contract.
    unsafe { map_ref(map) }
        .and_then(|m| m.core.next_valid_pfn(Pfn(pfn)))
        .map_or(SMEM_PFN_NONE, |p| p.0)
}

/// smem_pfn_info() - Everything about one pfn.
/// @map: an initialised map, only read (NULL or misaligned: SMEM_EINVAL).
/// @pfn: page frame number.
/// @out: where the answer is written (NULL: SMEM_EINVAL); untouched on failure.
///
/// Context: never a lock or a retry, on every target. Every field comes from one state
/// of the map (the block's node, state and zone with the pfn's online answer), with two
/// narrow exceptions: a TAINT_DEVICE flag may be one step behind a racing device add, and
/// the device nid of a section whose device memory another node's replaced during the call.
///
/// Return: SMEM_OK, or on failure:
/// * SMEM_EINVAL - @map or @out is NULL.
/// * SMEM_ENOENT - the pfn's section is not present (or lies beyond max_phys_bits).
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

/// smem_section_info() - A section's flags and sub-section masks.
/// @map: an initialised map, only read (NULL or misaligned: SMEM_EINVAL).
/// @section_nr: the section number.
/// @out: where the section is written (NULL: SMEM_EINVAL); untouched on failure.
///
/// Return: SMEM_OK, or on failure:
/// * SMEM_EINVAL - @map or @out is NULL.
/// * SMEM_ENOENT - the section is not present.
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

/// smem_block_info() - A memory block, as Linux's /sys/devices/system/memory/memoryN shows it.
/// @map: an initialised map, only read (NULL or misaligned: SMEM_EINVAL).
/// @block_id: the block id (Linux memoryN).
/// @out: where the block is written (NULL: SMEM_EINVAL); untouched on failure.
///
/// Context: never a lock; on targets without 64-bit atomics it may retry while a zone span
/// is being stored.
///
/// Return: SMEM_OK, or on failure:
/// * SMEM_EINVAL - @map or @out is NULL.
/// * SMEM_ENOENT - no such block.
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

/// smem_block_valid_zones_str() - The Linux sysfs valid_zones text of a block.
/// @map: an initialised map, only read (NULL or misaligned: SMEM_EINVAL).
/// @block_id: the block id.
/// @buf: where the text is written, NUL-terminated, without a newline.
/// @len: bytes at @buf.
///
/// Context: never a lock; on targets without 64-bit atomics it may retry while a zone span
/// is being stored.
///
/// Return: SMEM_OK, or on failure:
/// * SMEM_EINVAL - @map or @buf is NULL.
/// * SMEM_ENOENT - no such block.
/// * SMEM_ENOSPC - @len is too small for the text and its NUL.
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

/// smem_for_each_block() - Call a function for every block, in ascending id order.
/// @map: an initialised map, only read (NULL or misaligned: SMEM_EINVAL).
/// @fn: called with @ctx and each block; a non-zero return stops the walk.
/// @ctx: passed to @fn.
///
/// Context: never a lock; on targets without 64-bit atomics it may retry while a zone span
/// is being stored.
///
/// Return: SMEM_OK when @fn returned 0 for every block, or:
/// * SMEM_EINVAL - @map or @fn is NULL.
/// * the non-zero value @fn returned, which stopped the walk.
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
