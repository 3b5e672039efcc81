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
    assert!(map.online.is_clear());
}

/// The flat online bitmap is exact where the public tests can only see it is sound
/// (a clear bit still answers right, through the table): after every kind of change,
/// a sub-section's bit is set if and only if the table answers every page of it online.
/// A writer that forgot to publish would pass the public tests and lose the speed.
#[test]
#[cfg_attr(miri, ignore)]
fn the_flat_online_bitmap_holds_exactly_the_wholly_online_sub_sections() {
    use crate::{BlockId, MemmapOnMemory, MhpFlags, OnlineType};
    const MIB: u64 = 1 << 20;
    const GIB: u64 = 1 << 30;
    let exact = |map: &SparseMap, what: &str| {
        let pages = map.geometry().pages_per_subsection();
        for i in 0..(12 * GIB) / (2 * MIB) {
            // pfn_info answers from the table.
            let whole = (i * pages..(i + 1) * pages)
                .all(|p| map.pfn_info(crate::Pfn(p)).is_ok_and(|info| info.online));
            assert_eq!(
                map.online.wholly_online(i),
                whole,
                "{what}: sub-section {i}"
            );
        }
    };
    let cfg = crate::Config {
        memmap_on_memory: MemmapOnMemory::SingleBlock,
        ..crate::Config::x86_64()
    };
    let map = SparseMap::new_boxed(&cfg).unwrap();
    // Boot RAM with holes: partial sub-sections at both ends.
    map.boot_add_ram(0, MIB, 3 * GIB - 3 * MIB).unwrap();
    map.boot_finish().unwrap();
    exact(&map, "boot");
    map.add_memory(0, 4 * GIB, 256 * MIB, &()).unwrap();
    map.online_block(BlockId(32), OnlineType::Movable, &())
        .unwrap();
    map.add_device(0, 4 * GIB + 256 * MIB, 4 * MIB).unwrap();
    exact(&map, "hot-added and device memory");
    map.add_memory_ex(
        0,
        crate::GROUP_NONE,
        6 * GIB,
        128 * MIB,
        MhpFlags::MEMMAP_ON_MEMORY,
        &(),
    )
    .unwrap();
    map.online_block(BlockId(48), OnlineType::Online, &())
        .unwrap();
    exact(&map, "a block carrying its memmap");
    map.fake_offline(4 * GIB + 2 * MIB, 4 * MIB).unwrap();
    exact(&map, "fake-offline");
    map.offline_block(BlockId(32), &()).unwrap();
    exact(&map, "offline");
    map.online_block(BlockId(32), OnlineType::Online, &())
        .unwrap();
    map.fake_online(4 * GIB + 2 * MIB, 2 * MIB).unwrap();
    exact(&map, "online again, one mark gone");
    let mut buf = std::vec![0u8; map.snapshot_bytes()];
    let n = map.snapshot(&mut buf).unwrap();
    map.offline_block(BlockId(1), &()).unwrap();
    map.remove_memory(128 * MIB, 128 * MIB).unwrap();
    exact(&map, "a boot block removed");
    map.restore(&buf[..n]).unwrap();
    exact(&map, "restored");
}

/// Walks visit the table's leaves in ascending section order by their links, whatever
/// order the leaves were handed out in (ascending, descending, interleaved): every
/// populated section once, in order, and `next_valid_pfn` finds each from below.
#[test]
fn walks_follow_the_leaves_in_ascending_order_whatever_order_they_were_assigned() {
    use crate::capacity::{MAX_LEAVES, SECTIONS_PER_LEAF};
    const MIB: u64 = 1 << 20;
    let map = SparseMap::new_boxed(&crate::Config::x86_64()).unwrap();
    map.boot_add_ram(0, 0, 64 * MIB).unwrap();
    map.boot_finish().unwrap();
    let leaf = SECTIONS_PER_LEAF as u64 * 128 * MIB;
    let n = (MAX_LEAVES as u64 - 1).min(40);
    // 1..=n in an order that is neither ascending nor descending: k * 17 mod a prime
    // above n, skipping what is out of range.
    let order: std::vec::Vec<u64> = (1..=43u64)
        .map(|k| k * 17 % 43)
        .filter(|k| (1..=n).contains(k))
        .collect();
    for k in &order {
        map.add_device(0, k * leaf, 2 * MIB).unwrap();
    }
    let mut seen = std::vec::Vec::new();
    map.table.for_each(|nr, sec| {
        if sec.flags().contains(crate::SectionFlags::PRESENT) {
            seen.push(nr.0);
        }
    });
    let expected: std::vec::Vec<u64> = core::iter::once(0)
        .chain((1..=n).map(|k| k * SECTIONS_PER_LEAF as u64))
        .collect();
    assert_eq!(seen, expected, "assigned in the order {order:?}");
    let pages = leaf >> 12;
    for k in 1..=n {
        assert_eq!(
            map.next_valid_pfn(crate::Pfn((k - 1) * pages + ((128 * MIB) >> 12))),
            Some(crate::Pfn(k * pages)),
            "from below leaf {k}"
        );
    }
}
