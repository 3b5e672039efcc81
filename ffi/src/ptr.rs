//! Where C pointers become Rust references, and the only place: every other module
//! works with what these helpers return. A NULL or misaligned pointer is `None` (the
//! exported function returns SMEM_EINVAL). What C hands over to be written (an
//! out-parameter, an output buffer, the storage `smem_init` initialises) may be
//! uninitialised memory, so it is only ever seen as `MaybeUninit` and written, never as
//! a `&mut T`; the one exception, for the core's `snapshot`, is `write_only_bytes`.

use core::ffi::c_void;
use core::mem::{size_of, MaybeUninit};

use crate::capacity::SMEM_MAP_BYTES;
use crate::types::{smem_map, FfiMap};

/// The map behind a C pointer: `None` for NULL or misaligned storage.
///
/// # Safety
/// `map` is NULL or points to storage of `SMEM_MAP_BYTES` bytes that `smem_init`
/// initialised (the contract of every function but `smem_init`).
#[inline]
pub(crate) unsafe fn map_ref<'a>(map: *const smem_map) -> Option<&'a FfiMap> {
    if map.is_null() || !map.is_aligned() {
        return None;
    }
    // SAFETY: non-NULL, aligned, and initialised per the caller's contract; FfiMap is
    // only ever accessed through shared references (it is all atomics and locks).
    Some(unsafe { &*map.cast::<FfiMap>() })
}

/// The map behind the C pointer `$map`, or `return SMEM_EINVAL` from the calling
/// function. Each use is under that function's contract for `map` (see `map_ref`).
macro_rules! map_or_einval {
    ($map:expr) => {
        // SAFETY: the caller's contract for `map` (see map_ref).
        match unsafe { $crate::ptr::map_ref($map) } {
            Some(m) => m,
            None => return $crate::consts::SMEM_EINVAL,
        }
    };
}
pub(crate) use map_or_einval;

/// Storage that `smem_init` may turn into a map: checked for NULL and alignment, not
/// yet written (a refused `smem_init` leaves it as it was).
pub(crate) struct MapStorage<'a> {
    bytes: &'a mut [MaybeUninit<u8>],
}

impl<'a> MapStorage<'a> {
    /// `None` for NULL or misaligned storage.
    ///
    /// # Safety
    /// `map` is NULL or points to `SMEM_MAP_BYTES` writable bytes not in use by any
    /// other call (the contract of `smem_init`).
    pub(crate) unsafe fn new(map: *mut smem_map) -> Option<Self> {
        if !map.is_aligned() {
            return None;
        }
        // SAFETY: the caller's contract (out_buf checks NULL).
        let bytes = unsafe { out_buf(map.cast::<u8>(), SMEM_MAP_BYTES) }?;
        Some(MapStorage { bytes })
    }

    /// Zeroes the storage, which makes it a valid, uninitialised map, and returns it.
    pub(crate) fn zeroed(self) -> &'a FfiMap {
        let bytes = zeroed(self.bytes);
        // SAFETY: SMEM_MAP_BYTES aligned bytes (types.rs asserts that FfiMap fits in
        // them with its alignment), now all zero, and all-zero bytes are a valid FfiMap
        // (atomics, integers and spin locks; the core test
        // `all_zero_bytes_are_a_valid_empty_unlocked_map` checks that for SparseMap).
        // The exclusive borrow of the storage ends here: from now on the map is only
        // used through shared references.
        unsafe { &*bytes.as_ptr().cast::<FfiMap>() }
    }
}

/// A C in-parameter: `None` for NULL or misaligned.
///
/// # Safety
/// `p` is NULL or valid for reads of an initialised `T`.
#[inline]
pub(crate) unsafe fn in_ref<'a, T>(p: *const T) -> Option<&'a T> {
    if p.is_null() || !p.is_aligned() {
        return None;
    }
    // SAFETY: non-NULL and aligned; readable and initialised per the caller's contract.
    Some(unsafe { &*p })
}

/// A C out-parameter, only to be written: `None` for NULL or misaligned.
///
/// # Safety
/// `p` is NULL or valid for writes of a `T` (its memory may be uninitialised).
#[inline]
pub(crate) unsafe fn out_ref<'a, T>(p: *mut T) -> Option<&'a mut MaybeUninit<T>> {
    if p.is_null() || !p.is_aligned() {
        return None;
    }
    // SAFETY: non-NULL and aligned; writable per the caller's contract. MaybeUninit<T>
    // has T's layout and needs no initialised contents.
    Some(unsafe { &mut *p.cast::<MaybeUninit<T>>() })
}

/// Whether `len` values of `T` fit in one Rust slice (at most isize::MAX bytes). A
/// longer C buffer cannot exist, so a caller claiming one has broken its contract.
#[inline]
fn fits_a_slice<T>(len: usize) -> bool {
    len.checked_mul(size_of::<T>())
        .is_some_and(|n| n <= isize::MAX.unsigned_abs())
}

/// A C input buffer of `len` bytes: `None` for NULL or an impossible length.
///
/// # Safety
/// `p` is NULL or readable for `len` initialised bytes.
#[inline]
pub(crate) unsafe fn in_bytes<'a>(p: *const c_void, len: usize) -> Option<&'a [u8]> {
    if p.is_null() || !fits_a_slice::<u8>(len) {
        return None;
    }
    // SAFETY: non-NULL, and a u8 needs no alignment; readable for `len` bytes per the
    // caller's contract.
    Some(unsafe { core::slice::from_raw_parts(p.cast::<u8>(), len) })
}

/// A C output buffer of `len` values, only to be written: `None` for NULL,
/// misaligned, or an impossible length.
///
/// # Safety
/// `p` is NULL or valid for writes of `len` values of `T` (maybe uninitialised).
#[inline]
pub(crate) unsafe fn out_buf<'a, T>(p: *mut T, len: usize) -> Option<&'a mut [MaybeUninit<T>]> {
    if p.is_null() || !p.is_aligned() || !fits_a_slice::<T>(len) {
        return None;
    }
    // SAFETY: non-NULL, aligned, at most isize::MAX bytes; writable per the caller's
    // contract, and MaybeUninit needs no initialised contents.
    Some(unsafe { core::slice::from_raw_parts_mut(p.cast::<MaybeUninit<T>>(), len) })
}

/// Zeroes an output buffer and returns it as bytes, for the core functions that take a
/// `&mut [u8]` to write into.
#[inline]
pub(crate) fn zeroed(buf: &mut [MaybeUninit<u8>]) -> &mut [u8] {
    // SAFETY: `buf` is valid for writes of its length (a memset, also in unoptimised
    // builds, where a loop over the 3 MB of a map would be slow); then every byte is
    // initialised, and MaybeUninit<u8> has u8's layout.
    unsafe {
        buf.as_mut_ptr().write_bytes(0, buf.len());
        &mut *(core::ptr::from_mut(buf) as *mut [u8])
    }
}

/// An output buffer as the `&mut [u8]` that a core function writes into, without
/// writing it first: for `smem_snapshot`, whose failed call must leave the caller's
/// buffer as it was (c-tests/test_api.c restores from the buffer of a refused snapshot),
/// so it cannot be zeroed beforehand.
///
/// The one place where the crate sees C memory that may be uninitialised as `u8`s.
/// Whether a `&mut [u8]` to uninitialised bytes is itself undefined behaviour is not
/// settled in Rust's rules (unsafe-code-guidelines #77, #346); reading such a byte is,
/// and that never happens (the code before this crate was split did the same). TODO(core): a core `snapshot` into
/// `&mut [MaybeUninit<u8>]` removes this function.
///
/// # Safety
/// The slice goes only to code that reads no byte it has not written first (the core's
/// `snapshot` writes the state, then reads back what it wrote for the checksum).
#[inline]
pub(crate) unsafe fn write_only_bytes(buf: &mut [MaybeUninit<u8>]) -> &mut [u8] {
    // SAFETY: MaybeUninit<u8> has u8's layout; no uninitialised byte is read (the
    // caller's contract).
    unsafe { &mut *(core::ptr::from_mut(buf) as *mut [u8]) }
}
