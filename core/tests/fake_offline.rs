//! Fake-offline (virtio-mem sub-blocks, balloons): marked System RAM is never online,
//! its block keeps its state, zone, span and counts (docs/semantics.md,
//! "Fake-offline"); every error changes nothing.

use std::sync::Mutex;

use sparsemem::{
    BlockId, BlockInfo, Config, Error, MemEvent, MemmapOnMemory, OnlineType, Pfn, PfnKind,
    SparseMap, Zone,
};
use sparsemem_testkit::dump::dump;
use sparsemem_testkit::machines::{machine, machine_with, GIB, MIB, SUB};

const BLOCK: u64 = 128 * MIB;

fn pfn(addr: u64) -> Pfn {
    Pfn(addr / 4096)
}

/// `machine()` with block 32 (4 GiB) hot-added and online Movable, block 33 offline.
fn plugged() -> Box<SparseMap> {
    let map = machine();
    map.add_memory(1, 4 * GIB, 2 * BLOCK, &()).unwrap();
    map.online_block(BlockId(32), OnlineType::Movable, &())
        .unwrap();
    map
}

#[test]
fn marked_pages_are_never_online_and_their_block_keeps_everything() {
    let map = plugged();
    let stats = map.stats();
    let span = map.zone_span(1, Zone::Movable).unwrap();
    map.fake_offline(4 * GIB + 2 * MIB, 4 * MIB).unwrap();
    for (addr, online) in [
        (4 * GIB, true),
        (4 * GIB + 2 * MIB, false),
        (4 * GIB + 6 * MIB - 4096, false),
        (4 * GIB + 6 * MIB, true),
    ] {
        assert_eq!(map.pfn_online(pfn(addr)), online, "{addr:#x}");
        let info = map.pfn_info(pfn(addr)).unwrap();
        assert_eq!(
            (info.kind, info.zone, info.online),
            (PfnKind::Ram, Zone::Movable, online)
        );
    }
    let b = map.block_info(BlockId(32)).unwrap();
    assert_eq!(
        (b.fake_offline_pages, b.zone, b.present_pages),
        (2 * SUB, Zone::Movable, 32768)
    );
    assert_eq!(map.stats(), stats);
    assert_eq!(map.zone_span(1, Zone::Movable).unwrap(), span);
    // The marks survive offline and online of the block.
    map.offline_block(BlockId(32), &()).unwrap();
    map.online_block(BlockId(32), OnlineType::Movable, &())
        .unwrap();
    assert!(!map.pfn_online(pfn(4 * GIB + 2 * MIB)));
    // Marks on an offline block, and on boot RAM.
    map.fake_offline(4 * GIB + BLOCK, 2 * MIB).unwrap();
    map.fake_offline(64 * MIB, 2 * MIB).unwrap();
    assert!(!map.pfn_online(pfn(64 * MIB)));
    assert_eq!(map.block_info(BlockId(0)).unwrap().fake_offline_pages, SUB);
    // Clearing: only what is marked; the last mark of a section frees its entry.
    map.fake_online(4 * GIB + 2 * MIB, 2 * MIB).unwrap();
    assert!(map.pfn_online(pfn(4 * GIB + 2 * MIB)));
    assert!(!map.pfn_online(pfn(4 * GIB + 4 * MIB)));
    map.fake_online(4 * GIB + 4 * MIB, 2 * MIB).unwrap();
    assert_eq!(map.block_info(BlockId(32)).unwrap().fake_offline_pages, 0);
}

#[test]
fn marks_go_with_the_memory_when_it_is_removed() {
    let map = plugged();
    map.fake_offline(4 * GIB + BLOCK, BLOCK).unwrap();
    map.remove_memory(4 * GIB + BLOCK, BLOCK).unwrap();
    map.add_memory(1, 4 * GIB + BLOCK, BLOCK, &()).unwrap();
    map.online_block(BlockId(33), OnlineType::Movable, &())
        .unwrap();
    assert!(map.pfn_online(pfn(4 * GIB + BLOCK)));
    assert_eq!(map.block_info(BlockId(33)).unwrap().fake_offline_pages, 0);
    assert_eq!(map.fake_online(4 * GIB + BLOCK, 2 * MIB), Err(Error::NoEnt));
}

#[test]
fn errors_come_in_order_and_change_nothing() {
    let map = plugged();
    map.add_device(1, 8 * GIB, 4 * MIB).unwrap();
    map.fake_offline(4 * GIB + 8 * MIB, 2 * MIB).unwrap();
    let before = dump(&map);
    for (start, size, err) in [
        (4 * GIB + MIB, 2 * MIB, Error::Inval),
        (4 * GIB, MIB, Error::Inval),
        (4 * GIB, 0, Error::Inval),
        (u64::MAX - MIB, 4 * MIB, Error::Inval),
        // Not System RAM of a block: boot holes, device memory, nothing, beyond.
        (0, 2 * MIB, Error::NoEnt),
        (8 * GIB, 2 * MIB, Error::NoEnt),
        (6 * GIB, 2 * MIB, Error::NoEnt),
        (4 * GIB + 2 * BLOCK - 2 * MIB, 4 * MIB, Error::NoEnt),
        (1 << 46, 2 * MIB, Error::NoEnt),
        // Already marked, wholly or in part.
        (4 * GIB + 6 * MIB, 4 * MIB, Error::Exist),
    ] {
        assert_eq!(
            map.fake_offline(start, size),
            Err(err),
            "{start:#x}+{size:#x}"
        );
        assert_eq!(dump(&map), before);
    }
    for (start, size, err) in [
        (4 * GIB + MIB, 2 * MIB, Error::Inval),
        (4 * GIB + 6 * MIB, 4 * MIB, Error::NoEnt),
        (8 * GIB, 2 * MIB, Error::NoEnt),
    ] {
        assert_eq!(
            map.fake_online(start, size),
            Err(err),
            "{start:#x}+{size:#x}"
        );
        assert_eq!(dump(&map), before);
    }
}

#[test]
fn a_block_in_transition_is_busy() {
    let map = plugged();
    let seen = Mutex::new(Vec::new());
    let n = |ev: MemEvent, _: &BlockInfo| {
        if ev == MemEvent::GoingOffline {
            let before = dump(&map);
            seen.lock()
                .unwrap()
                .push(map.fake_offline(4 * GIB, 2 * MIB));
            assert_eq!(dump(&map), before);
        }
        0
    };
    map.offline_block(BlockId(32), &n).unwrap();
    assert_eq!(*seen.lock().unwrap(), [Err(Error::Busy)]);
}

#[test]
fn memmap_pages_cannot_be_marked() {
    let map = machine_with(Config {
        memmap_on_memory: MemmapOnMemory::SingleBlock,
        ..Config::x86_64()
    });
    map.add_memory(1, 4 * GIB, BLOCK, &()).unwrap();
    let before = dump(&map);
    assert_eq!(map.fake_offline(4 * GIB, 4 * MIB), Err(Error::Inval));
    assert_eq!(dump(&map), before);
    map.fake_offline(4 * GIB + 2 * MIB, 2 * MIB).unwrap();
}

#[test]
fn sections_with_marks_are_a_bounded_pool() {
    // One mark in each of as many sections as the pool holds, then one more.
    let map = machine();
    map.add_memory(0, 4 * GIB, 16 * GIB, &()).unwrap();
    // A removal gives its sections' entries back (else the loop below runs short).
    map.fake_offline(20 * GIB - BLOCK, 2 * MIB).unwrap();
    map.remove_memory(20 * GIB - BLOCK, BLOCK).unwrap();
    let cap = sparsemem::capacity::MAX_FAKE_OFFLINE_SECTIONS as u64;
    for i in 0..cap {
        map.fake_offline(4 * GIB + i * BLOCK, 2 * MIB).unwrap();
    }
    let full = dump(&map);
    // Two sections, the first of which already has an entry: all or nothing.
    let last = 4 * GIB + (cap - 1) * BLOCK;
    assert_eq!(
        map.fake_offline(last + BLOCK - 2 * MIB, 4 * MIB),
        Err(Error::NoMem)
    );
    assert_eq!(dump(&map), full);
    // A section that has an entry takes more marks.
    map.fake_offline(last + 2 * MIB, 2 * MIB).unwrap();
    map.fake_online(4 * GIB, 2 * MIB).unwrap();
    map.fake_offline(last + BLOCK, 2 * MIB).unwrap();
}
