//! Unit tests of internals that the public API cannot reach.

use crate::SparseMap;
use std::boxed::Box;
use std::mem::MaybeUninit;

/// The all-zero bytes of storage are a valid, empty, unlocked map: what
/// `init_in_place` (and the C `smem_init`) rely on. Every field is an atomic integer
/// or a `spin::Mutex<()>` (an AtomicBool), whose zero value is the one `new()` gives it.
#[test]
fn all_zero_bytes_are_a_valid_empty_unlocked_map() {
    let mut slot: Box<MaybeUninit<SparseMap>> = Box::new_uninit();
    #[allow(unsafe_code)]
    // SAFETY: zero bytes are a valid SparseMap (see above; checked field by field
    // below through every lock and query).
    let map = unsafe {
        core::ptr::write_bytes(slot.as_mut_ptr(), 0, 1);
        slot.assume_init_mut()
    };
    assert_eq!(map.phase(), crate::Phase::Uninit);
    assert!(!map.hotplug.is_locked() && !map.boot.lock.is_locked() && !map.zones.lock.is_locked());
    assert!(!map.table.assign_locked());
    assert!(!map.pfn_valid(crate::Pfn(0)));
    assert_eq!(map.transitions_in_progress(), 0);
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
    // Every lock works: boot, hotplug, leaf assignment, sections, zones.
    map.boot_add_ram(0, 0, 256 << 20).unwrap();
    map.boot_finish().unwrap();
    map.add_device(0, 1 << 30, 2 << 20).unwrap();
    let mut buf = std::vec![0u8; map.snapshot_bytes()];
    map.snapshot(&mut buf).unwrap();
}

/// `init` clears every bit of the flat valid bitmap that the map's table set,
/// whatever the geometry before and after (the public tests compare the bitmap with
/// the table pfn by pfn; this checks the words it has no query for).
#[test]
fn init_leaves_the_flat_bitmap_clear() {
    let map = SparseMap::new_boxed(&crate::Config::x86_64()).unwrap();
    assert!(map.flat.is_clear());
    map.boot_add_ram(0, 0, 3 << 30).unwrap();
    map.boot_finish().unwrap();
    map.add_device(0, 40 << 30, 6 << 20).unwrap();
    map.add_memory(1, 8 << 30, 256 << 20, &()).unwrap();
    assert!(!map.flat.is_clear());
    map.init(&crate::Config::arm64_64k()).unwrap();
    assert!(map.flat.is_clear());
}
