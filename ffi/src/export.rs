//! Whole-map views: the e820-style range walk, the counters, a node's zone span.

use core::ffi::{c_int, c_void};
use core::ops::ControlFlow;

use sparsemem::{MemRange, Zone};

use crate::consts::*;
use crate::ptr::{map_or_einval, out_ref};
use crate::types::{smem_map, smem_range, smem_range_fn, smem_stats};

/// Visits page-granular ranges in ascending order, merged by kind and nid.
///
/// # Safety
/// `map` is NULL or an initialised map; `fn` is NULL or a valid callback.
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

/// Whole-map counters. Never a lock; on targets without 64-bit atomics it may retry
/// while a zone span is being stored.
///
/// # Safety
/// `map` is NULL or an initialised map; `out` is NULL or writable.
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

/// Linux's per-node zone span [start_pfn, end_pfn) and present pages. Never a lock;
/// on targets without 64-bit atomics it may retry while the span is being stored.
///
/// # Safety
/// `map` is NULL or an initialised map; the out-pointers are NULL or writable.
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
