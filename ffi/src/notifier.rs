//! The map's C notifier: registered by `smem_set_notifier`, stored in the map next to
//! the core, and called by the core at each online/offline event.

use core::ffi::{c_int, c_void};

use sparsemem::{BlockInfo, MemEvent, Notifier};

use crate::consts::*;
use crate::ptr::map_or_einval;
use crate::types::{smem_block_info, smem_map, smem_notifier_fn, FfiMap};

/// Calls the C notifier stored in the map.
pub(crate) struct CNotifier {
    f: smem_notifier_fn,
    ctx: *mut c_void,
}

impl Notifier for CNotifier {
    fn notify(&self, event: MemEvent, block: &BlockInfo) -> i32 {
        let Some(f) = self.f else { return 0 };
        let info = smem_block_info::from(block);
        // SAFETY: the function and context were registered together by the caller of
        // smem_set_notifier, which promises they stay valid while registered.
        unsafe { f(self.ctx, event.to_c(), &info) }
    }
}

impl FfiMap {
    /// The notifier registered now, for one call into the core.
    pub(crate) fn notifier(&self) -> CNotifier {
        let (f, ctx) = *self.notifier.lock();
        // SAFETY: `f` is 0 or was stored from a `smem_notifier_fn` by
        // smem_set_notifier; `Option<fn>` has the null-pointer niche, so 0 is None.
        let f: smem_notifier_fn = unsafe { core::mem::transmute::<usize, smem_notifier_fn>(f) };
        CNotifier {
            f,
            ctx: ctx as *mut c_void,
        }
    }
}

/// smem_set_notifier() - Set the function called at every online and offline transition.
/// @map: an initialised map (NULL or misaligned: SMEM_EINVAL).
/// @fn: the notifier, or NULL for none. A non-zero return from a GOING_* event vetoes.
/// @ctx: passed to @fn; @fn and @ctx must stay valid while they are set.
///
/// Context: the notifier runs with no lock of the library held, on the thread of the call
/// that transitions the block; it may call every query and change other blocks.
///
/// Return: SMEM_OK, or on failure:
/// * SMEM_EINVAL - @map is NULL.
#[no_mangle]
pub unsafe extern "C" fn smem_set_notifier(
    map: *mut smem_map,
    r#fn: smem_notifier_fn,
    ctx: *mut c_void,
) -> c_int {
    let m = map_or_einval!(map);
    let f = r#fn.map_or(0usize, |f| f as usize);
    *m.notifier.lock() = (f, ctx as usize);
    SMEM_OK
}
