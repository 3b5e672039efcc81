//! The flat valid and online bitmaps (core/src/section/flat.rs, flat_online.rs) against
//! the two-level table: after every kind of writer (boot, RAM add and remove, online
//! and offline, memmap_on_memory, fake-offline marks, device add and remove on both
//! paths, restore, init), `pfn_valid` and `pfn_online` answer what the table answers
//! (`pfn_info(..).valid` and `.online`) on every pfn of the test machines, and at
//! sub-section and section strides over the rest of the bitmaps. The concurrent side
//! is in stress.rs (readers against fast and exclusive device writers) and loom.rs.

use sparsemem::capacity::FLAT_VALID_SUBSECTIONS;
use sparsemem::{BlockId, Config, OnlineType, Pfn, SparseMap};
use sparsemem_testkit::flat::{assert_agrees, covered_pfns};
use sparsemem_testkit::machines::{
    busy_machine, machine, modern_machine, sa, shared_device_machine, snapshot, GIB, MIB, SEC, SUB,
};

/// Every pfn below 12 GiB (the test machines' RAM, hot-added blocks and device
/// memory), every sub-section below 64 GiB, every section of the rest of the bitmap.
fn check(map: &SparseMap, what: &str) {
    let all = covered_pfns(map, (12 * GIB) >> 12);
    assert_agrees(map, 0..all, 1, what);
    let subs = covered_pfns(map, (64 * GIB) >> 12);
    let sub = map.geometry().pages_per_subsection();
    assert_agrees(map, all..subs, sub, what);
    let end = covered_pfns(map, u64::MAX);
    assert_agrees(map, subs..end, map.geometry().pages_per_section(), what);
}

#[test]
#[cfg_attr(miri, ignore)]
fn the_bitmap_answers_what_the_table_answers_on_every_test_machine() {
    check(&machine(), "machine");
    check(&busy_machine(), "busy machine");
    check(&shared_device_machine(), "shared device machine");
}

/// The online bitmap (a bit per wholly online sub-section) through every change of a
/// page's online answer: blocks offline and online, the memmap pages of a block that
/// carries its own, fake-offline marks set and cleared, removal, restore. Each check
/// compares `pfn_online` with the table on every pfn below 12 GiB, memmap and marked
/// pages included.
#[test]
#[cfg_attr(miri, ignore)]
fn the_online_bitmap_follows_every_change_of_the_online_answer() {
    let map = modern_machine();
    check(&map, "modern machine");
    let marked = Pfn((7 * GIB + 2 * MIB) >> 12);
    let memmap = Pfn((6 * GIB) >> 12);
    assert!(!map.pfn_online(marked) && !map.pfn_online(memmap));
    assert!(map.pfn_online(Pfn((7 * GIB + 8 * MIB) >> 12)));
    map.fake_online(7 * GIB + 2 * MIB, 4 * MIB).unwrap();
    assert!(map.pfn_online(marked));
    check(&map, "after fake_online");
    map.fake_offline(7 * GIB + 4 * MIB, 2 * MIB).unwrap();
    check(&map, "after fake_offline");
    map.offline_block(BlockId(56), &()).unwrap();
    assert!(!map.pfn_online(marked));
    check(&map, "after offlining a block with marks");
    map.online_block(BlockId(56), OnlineType::Movable, &())
        .unwrap();
    check(&map, "after onlining it again");
    map.offline_block(BlockId(48), &()).unwrap();
    check(&map, "after offlining the block carrying its memmap");
    map.online_block(BlockId(48), OnlineType::Online, &())
        .unwrap();
    assert!(!map.pfn_online(memmap));
    assert!(map.pfn_online(Pfn(memmap.0 + SUB)));
    check(&map, "after onlining it again");
    let image = snapshot(&map);
    map.remove_memory(7 * GIB + 128 * MIB, 128 * MIB).unwrap();
    check(&map, "after removing an offline block with marks");
    let copy = SparseMap::new_boxed(&map.config()).unwrap();
    copy.restore(&image).unwrap();
    check(&copy, "restored");
    map.restore(&image).unwrap();
    check(&map, "restored over the map it came from");
}

#[test]
#[cfg_attr(miri, ignore)]
fn removals_clear_exactly_what_goes_invalid() {
    // The sub-section fast path: a device sub-section of a section that keeps others,
    // away and back (node 1's span covers it, the section stays as it is).
    let map = busy_machine();
    let sub = Pfn((8 * GIB + 2 * MIB) >> 12);
    map.remove_device(8 * GIB + 2 * MIB, 2 * MIB).unwrap();
    assert!(!map.pfn_valid(sub));
    check(&map, "after a fast device remove");
    map.add_device(1, 8 * GIB + 2 * MIB, 2 * MIB).unwrap();
    assert!(map.pfn_valid(sub));
    check(&map, "after a fast device add");
    // The exclusive path: node 1's memory goes from a section that node 2's shares,
    // then node 2's, the last: the section goes absent.
    let map = shared_device_machine();
    map.remove_device(8 * GIB + 2 * MIB, 2 * MIB).unwrap();
    map.remove_device(8 * GIB, 2 * MIB).unwrap();
    map.remove_device(8 * GIB + 4 * MIB, 2 * MIB).unwrap();
    check(&map, "after node 1's device memory went");
    map.remove_device(8 * GIB + 6 * MIB, 4 * MIB).unwrap();
    assert!(!map.pfn_valid(Pfn((8 * GIB) >> 12)));
    check(&map, "after the section's last device memory went");
    // Hot-added RAM, then boot RAM (an early section goes absent).
    map.offline_block(BlockId(32), &()).unwrap();
    map.remove_memory(4 * GIB, 256 * MIB).unwrap();
    check(&map, "after remove_memory of hot-added blocks");
    map.offline_block(BlockId(1), &()).unwrap();
    map.remove_memory(sa(1), 128 * MIB).unwrap();
    assert!(!map.pfn_valid(Pfn(SEC + 5)));
    check(&map, "after remove_memory of a boot block");
    // And back.
    map.add_memory(0, sa(1), 128 * MIB, &()).unwrap();
    map.add_device(1, 8 * GIB + 2 * MIB, 2 * MIB).unwrap();
    check(&map, "after adding again");
}

#[test]
#[cfg_attr(miri, ignore)]
fn an_early_section_stays_valid_around_device_memory_in_its_hole() {
    let map = SparseMap::new_boxed(&Config::x86_64()).unwrap();
    map.boot_add_ram(0, 0, 64 * MIB).unwrap();
    map.boot_finish().unwrap();
    let hole = Pfn((96 * MIB) >> 12);
    assert!(
        map.pfn_valid(hole),
        "an early section is valid in its holes"
    );
    map.add_device(0, 96 * MIB, 2 * MIB).unwrap();
    map.add_device(0, 100 * MIB, 2 * MIB).unwrap();
    check(&map, "device memory in an early section");
    // Both removals: one on the fast path (another range stays), one exclusive.
    map.remove_device(96 * MIB, 2 * MIB).unwrap();
    map.remove_device(100 * MIB, 2 * MIB).unwrap();
    assert!(map.pfn_valid(hole), "still early: still valid");
    check(&map, "after the device memory of an early section went");
}

#[test]
#[cfg_attr(miri, ignore)]
fn restore_and_init_replace_the_bitmap_with_the_new_table() {
    // An early section with a hole: restore sets its bits whole.
    let holes = SparseMap::new_boxed(&Config::x86_64()).unwrap();
    holes.boot_add_ram(0, 0, 64 * MIB).unwrap();
    holes.boot_finish().unwrap();
    let copy = SparseMap::new_boxed(&holes.config()).unwrap();
    copy.restore(&snapshot(&holes)).unwrap();
    assert!(copy.pfn_valid(Pfn((96 * MIB) >> 12)));
    check(&copy, "restored early section with a hole");
    let busy = shared_device_machine();
    let image = snapshot(&busy);
    // Into a fresh map, and into one that held something else.
    let fresh = SparseMap::new_boxed(&busy.config()).unwrap();
    fresh.restore(&image).unwrap();
    check(&fresh, "restored into a fresh map");
    let other = machine();
    other.add_device(0, 40 * GIB, 2 * MIB).unwrap();
    other.add_memory(1, 20 * GIB, 128 * MIB, &()).unwrap();
    other.restore(&image).unwrap();
    assert!(!other.pfn_valid(Pfn((40 * GIB) >> 12)));
    assert!(!other.pfn_valid(Pfn((20 * GIB) >> 12)));
    check(&other, "restored over another map");
    // init forgets everything, whatever the new geometry.
    other.init(&Config::x86_64()).unwrap();
    check(&other, "init again");
    assert!(!other.pfn_valid(Pfn(5)));
    busy.init(&Config::arm64_64k()).unwrap();
    check(&busy, "init with another geometry");
    busy.boot_add_ram(0, 0, 3 * GIB).unwrap();
    busy.boot_finish().unwrap();
    busy.add_device(0, 8 * GIB, 2 * MIB).unwrap();
    check(&busy, "arm64 64K machine");
}

#[test]
#[cfg_attr(miri, ignore)]
fn above_the_bitmap_the_table_answers() {
    let cfg = Config::arm64_4k(); // 48 bits: above what the default bitmap covers
    let map = SparseMap::new_boxed(&cfg).unwrap();
    map.boot_add_ram(0, 0, GIB).unwrap();
    map.boot_finish().unwrap();
    let limit = (FLAT_VALID_SUBSECTIONS as u64) * 2 * MIB;
    let high = limit.max(64 * GIB) + 128 * MIB;
    map.add_device(0, high, 2 * MIB).unwrap();
    assert!(map.pfn_valid(Pfn(high >> 12)));
    assert!(map.pfn_valid(Pfn((high >> 12) + SUB - 1)));
    assert!(!map.pfn_valid(Pfn((high >> 12) + SUB)));
    assert!(!map.pfn_valid(Pfn((high >> 12) - 1)));
    check(&map, "arm64 4K machine");
    map.remove_device(high, 2 * MIB).unwrap();
    assert!(!map.pfn_valid(Pfn(high >> 12)));
}
