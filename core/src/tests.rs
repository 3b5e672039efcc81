//! Unit tests of internals that the public API cannot reach.

use crate::SparseMap;
use std::boxed::Box;
use std::mem::MaybeUninit;

static STATIC_MAP: SparseMap = SparseMap::new();

#[test]
fn zeroed_storage_equals_new() {
    // `init_in_place` relies on all-zero bytes being a valid map equal to `new()`.
    let p = &STATIC_MAP as *const SparseMap as *const u8;
    #[allow(unsafe_code)]
    // SAFETY: reading the bytes of a static we own, for its whole size.
    let bytes = unsafe { core::slice::from_raw_parts(p, core::mem::size_of::<SparseMap>()) };
    assert!(bytes.iter().all(|b| *b == 0));
}

#[test]
fn init_in_place_over_garbage() {
    let mut slot: Box<MaybeUninit<SparseMap>> = Box::new_uninit();
    #[allow(unsafe_code)]
    // SAFETY: filling uninitialised storage with garbage bytes, as C callers do.
    unsafe {
        core::ptr::write_bytes(slot.as_mut_ptr(), 0xa5, 1)
    };
    let map = SparseMap::init_in_place(&mut slot, &crate::Config::x86_64()).unwrap();
    assert_eq!(map.phase(), crate::Phase::Boot);
    assert!(!map.pfn_valid(crate::Pfn(0)));
}
