//! Whole-map views: the e820-style range walk, the counters, a node's zone span.

use core::ffi::{c_int, c_void};
use core::ops::ControlFlow;

use sparsemem::{MemRange, Zone};

use crate::consts::*;
use crate::ptr::{map_or_einval, out_ref};
use crate::types::{smem_map, smem_range, smem_range_fn, smem_stats};

/// smem_for_each_range() - Call a function for each memory range, e820-style.
/// @map: an initialised map, only read (NULL or misaligned: SMEM_EINVAL).
/// @fn: called with @ctx and each range; a non-zero return stops the walk.
/// @ctx: passed to @fn.
///
/// Ranges are page-granular, in ascending order, adjacent ranges of equal kind and node
/// merged; holes are not reported.
///
/// Return: SMEM_OK when @fn returned 0 for every range, or:
/// * SMEM_EINVAL - @map or @fn is NULL.
/// * the non-zero value @fn returned, which stopped the walk.
#[no_mangle]
pub unsafe extern "C" fn smem_for_each_range(
    map: *const smem_map,
    r#fn: smem_range_fn,
    ctx: *mut c_void,
) -> c_int {
    let m = map_or_einval!(map);
    let Some(f) = r#fn else { return SMEM_EINVAL };
    let r = m.core.for_each_range(|r: MemRange| {
        let c = smem_range::from(&r);
        // SAFETY: the caller's callback and context.
        match unsafe { f(ctx, &c) } {
            0 => ControlFlow::Continue(()),
            v => ControlFlow::Break(v),
        }
    });
    match r {
        ControlFlow::Break(v) => v,
        ControlFlow::Continue(()) => SMEM_OK,
    }
}

/// smem_stats() - Whole-map counters: sections, blocks, pages.
/// @map: an initialised map, only read (NULL or misaligned: SMEM_EINVAL).
/// @out: where the counters is written (NULL: SMEM_EINVAL); untouched on failure.
///
/// Context: never a lock; on targets without 64-bit atomics it may retry while a zone span
/// is being stored.
///
/// Return: SMEM_OK, or on failure:
/// * SMEM_EINVAL - @map or @out is NULL.
#[no_mangle]
pub unsafe extern "C" fn smem_stats(map: *const smem_map, out: *mut smem_stats) -> c_int {
    let m = map_or_einval!(map);
    // SAFETY: caller's contract.
    let Some(out) = (unsafe { out_ref(out) }) else {
        return SMEM_EINVAL;
    };
    out.write(smem_stats::from(&m.core.stats()));
    SMEM_OK
}

/// smem_zone_span() - Linux's span of a zone on a node, and its present pages.
/// @map: an initialised map, only read (NULL or misaligned: SMEM_EINVAL).
/// @nid: the node, 0 .. SMEM_MAX_NODES-1.
/// @zone: SMEM_ZONE_DMA .. SMEM_ZONE_DEVICE.
/// @start_pfn: where the first pfn of the span is written.
/// @end_pfn: where the pfn one past its end is written.
/// @present_pages: where its present pages are written (0 for a device zone).
///
/// Context: never a lock; on targets without 64-bit atomics it may retry while the span
/// is being stored.
///
/// Return: SMEM_OK, or on failure:
/// * SMEM_EINVAL - @map or an out-pointer is NULL; @nid is invalid; @zone is unknown.
/// * SMEM_ENOENT - the span is empty (Linux zone_is_empty()).
#[no_mangle]
pub unsafe extern "C" fn smem_zone_span(
    map: *const smem_map,
    nid: i32,
    zone: u8,
    start_pfn: *mut u64,
    end_pfn: *mut u64,
    present_pages: *mut u64,
) -> c_int {
    let m = map_or_einval!(map);
    // SAFETY: caller's contract.
    let (Some(s), Some(e), Some(p)) = (
        unsafe { out_ref(start_pfn) },
        unsafe { out_ref(end_pfn) },
        unsafe { out_ref(present_pages) },
    ) else {
        return SMEM_EINVAL;
    };
    let Some(z) = Zone::from_c(zone) else {
        return SMEM_EINVAL;
    };
    match m.core.zone_span(nid, z) {
        Ok(span) => {
            s.write(span.start.0);
            e.write(span.end.0);
            p.write(span.present_pages);
            SMEM_OK
        }
        Err(err) => errno(err),
    }
}
