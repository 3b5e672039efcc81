//! Memory groups, the auto-movable online policy, run-time policies and
//! memmap_on_memory (docs/semantics.md, "Memory groups and the auto-movable policy").
//!
//! The expected zones are derived by hand from Linux 6.1's `auto_movable_zone_for_pfn`
//! and `auto_movable_can_online_movable` on the test machine (`machine()`): node 0 has
//! boot RAM [1 MiB, 2 GiB) = 524,032 early kernel pages (DMA and DMA32), node 1
//! [2 GiB, 3 GiB) = 262,144; a block is 32,768 pages. With the default ratio 301 the
//! whole machine allows 301 * 786,176 / 100 = 2,366,389 Movable pages, node 1 alone
//! 301 * 262,144 / 100 = 789,053.

use sparsemem::{
    AutoOnline, BlockId, Config, Error, GroupKind, MemmapOnMemory, MhpFlags, OnlinePolicy,
    OnlineType, Pfn, SparseMap, Zone, GROUP_NONE, NID_NONE,
};
use sparsemem_testkit::dump::dump;
use sparsemem_testkit::machines::{machine, machine_with, s, GIB, MIB, SEC};

const BLOCK: u64 = 128 * MIB;

fn auto_movable(ratio: u32, numa_aware: bool) -> Box<SparseMap> {
    machine_with(Config {
        online_policy: OnlinePolicy::AutoMovable,
        auto_movable_ratio: ratio,
        auto_movable_numa_aware: numa_aware,
        ..Config::x86_64()
    })
}

fn online(map: &SparseMap, id: u64, ty: OnlineType) -> Result<(), Error> {
    map.online_block(BlockId(id), ty, &())
}

fn zone(map: &SparseMap, id: u64) -> Zone {
    map.block_info(BlockId(id)).unwrap().zone
}

fn valid_zones(map: &SparseMap, id: u64) -> String {
    map.valid_zones(BlockId(id)).unwrap().to_string()
}

/// Block id of the byte address `a`.
fn blk(a: u64) -> u64 {
    a / BLOCK
}

#[test]
fn a_static_group_goes_movable_only_if_the_whole_group_fits_on_its_node() {
    // 4 GiB = 1,048,576 pages: fits the machine (2,366,389) but not node 1 (789,053).
    for (numa_aware, expect, text) in [
        (true, Zone::Normal, "Normal Movable"),
        (false, Zone::Movable, "Movable Normal"),
    ] {
        let map = auto_movable(301, numa_aware);
        let g = map.group_register_static(1, 4 * GIB / 4096).unwrap();
        map.add_memory_ex(NID_NONE, g, 4 * GIB, BLOCK, MhpFlags::empty(), &())
            .unwrap();
        assert_eq!(map.block_info(BlockId(32)).unwrap().nid, 1);
        assert_eq!(map.block_info(BlockId(32)).unwrap().group, g);
        assert_eq!(valid_zones(&map, 32), text, "numa_aware {numa_aware}");
        online(&map, 32, OnlineType::Online).unwrap();
        assert_eq!(zone(&map, 32), expect, "numa_aware {numa_aware}");
    }
}

#[test]
fn a_static_group_with_kernel_memory_puts_the_rest_in_the_kernel_zone() {
    // 2 GiB = 524,288 pages fits node 1 (789,053): Movable, unless a block of the
    // group is already in a kernel zone.
    let map = auto_movable(301, true);
    let g = map.group_register_static(1, 2 * GIB / 4096).unwrap();
    map.add_memory_ex(1, g, 4 * GIB, 3 * BLOCK, MhpFlags::empty(), &())
        .unwrap();
    online(&map, 32, OnlineType::Online).unwrap();
    assert_eq!(zone(&map, 32), Zone::Movable);
    let info = map.group_info(g).unwrap();
    assert_eq!(
        (info.present_movable_pages, info.present_kernel_pages),
        (SEC, 0)
    );
    online(&map, 33, OnlineType::Kernel).unwrap();
    assert_eq!(map.group_info(g).unwrap().present_kernel_pages, SEC);
    assert_eq!(valid_zones(&map, 34), "Normal Movable");
    online(&map, 34, OnlineType::Online).unwrap();
    assert_eq!(zone(&map, 34), Zone::Normal);
}

#[test]
fn ratio_zero_always_chooses_the_kernel_zone() {
    let map = auto_movable(0, true);
    map.add_memory(1, 4 * GIB, BLOCK, &()).unwrap();
    assert_eq!(valid_zones(&map, 32), "Normal Movable");
    online(&map, 32, OnlineType::Online).unwrap();
    assert_eq!(zone(&map, 32), Zone::Normal);
}

#[test]
fn a_dynamic_unit_with_kernel_memory_puts_the_rest_of_the_unit_there() {
    // Units of 4 blocks: the first plain online judges the whole unit (131,072 pages:
    // fits node 1) and goes Movable; once a block of the unit is Normal, the rest
    // follows it. A block of the next unit is judged afresh.
    let map = auto_movable(301, true);
    let g = map.group_register_dynamic(1, 4 * SEC).unwrap();
    map.add_memory_ex(1, g, 4 * GIB, 5 * BLOCK, MhpFlags::empty(), &())
        .unwrap();
    online(&map, 32, OnlineType::Online).unwrap();
    assert_eq!(zone(&map, 32), Zone::Movable);
    online(&map, 33, OnlineType::Kernel).unwrap();
    assert_eq!(valid_zones(&map, 34), "Normal Movable");
    online(&map, 34, OnlineType::Online).unwrap();
    assert_eq!(zone(&map, 34), Zone::Normal);
    online(&map, 36, OnlineType::Online).unwrap();
    assert_eq!(zone(&map, 36), Zone::Movable);
}

#[test]
fn dynamic_groups_reserve_early_kernel_memory_for_their_movable_memory() {
    // Ratio 100 on node 1 (262,144 early kernel pages), the machine-wide check
    // never binding (786,176). Group A holds 6 Movable blocks (196,608 pages), which
    // need as many early kernel pages: B may use the rest, 65,536 pages = 2 blocks.
    // B's third block goes Normal; that Normal block adds 32,768 to B's own
    // allowance, so its fourth goes Movable again.
    let map = auto_movable(100, true);
    let a = map.group_register_dynamic(1, SEC).unwrap();
    let b = map.group_register_dynamic(1, SEC).unwrap();
    map.add_memory_ex(1, a, 4 * GIB, 6 * BLOCK, MhpFlags::empty(), &())
        .unwrap();
    for id in 32..38 {
        online(&map, id, OnlineType::Movable).unwrap();
    }
    map.add_memory_ex(1, b, 8 * GIB, 4 * BLOCK, MhpFlags::empty(), &())
        .unwrap();
    let first = blk(8 * GIB);
    let zones: Vec<Zone> = (first..first + 4)
        .map(|id| {
            online(&map, id, OnlineType::Online).unwrap();
            zone(&map, id)
        })
        .collect();
    assert_eq!(
        zones,
        [Zone::Movable, Zone::Movable, Zone::Normal, Zone::Movable]
    );
    let info = map.group_info(b).unwrap();
    assert_eq!(
        (info.present_movable_pages, info.present_kernel_pages),
        (3 * SEC, SEC)
    );
}

#[test]
fn policies_change_at_run_time_for_later_calls_only() {
    let map = machine();
    map.add_memory(1, 4 * GIB, BLOCK, &()).unwrap();
    assert_eq!(valid_zones(&map, 32), "Normal Movable");
    map.set_online_policy(OnlinePolicy::AutoMovable, 301, true)
        .unwrap();
    assert_eq!(valid_zones(&map, 32), "Movable Normal");
    map.set_auto_online(AutoOnline::Online).unwrap();
    map.add_memory(1, 5 * GIB, BLOCK, &()).unwrap();
    assert_eq!(zone(&map, blk(5 * GIB)), Zone::Movable);
    // The configuration `init` was given is unchanged (restore compares it).
    assert_eq!(map.config(), Config::x86_64());
    assert_eq!(map.policy().auto_online, AutoOnline::Online);
}

#[test]
fn group_errors_change_nothing() {
    let map = machine();
    let before = dump(&map);
    let block_pages = SEC;
    for (r, err) in [
        (map.group_register_static(-1, 1), Error::Inval),
        (map.group_register_static(64, 1), Error::Inval),
        (map.group_register_static(0, 0), Error::Inval),
        (map.group_register_dynamic(0, 0), Error::Inval),
        (map.group_register_dynamic(0, 3 * block_pages), Error::Inval),
        (map.group_register_dynamic(0, block_pages / 2), Error::Inval),
    ] {
        assert_eq!(r, Err(err));
    }
    assert_eq!(map.group_unregister(0), Err(Error::NoEnt));
    assert_eq!(map.group_unregister(GROUP_NONE), Err(Error::NoEnt));
    assert_eq!(dump(&map), before);
    let g = map.group_register_static(1, 2 * SEC).unwrap();
    let with_group = dump(&map);
    for (nid, group, start, size, err) in [
        // Argument errors first, then E2BIG, then the group, then the range.
        (NID_NONE, GROUP_NONE, 4 * GIB, BLOCK, Error::Inval),
        (1, g, 4 * GIB, BLOCK / 2, Error::Inval),
        (1, g + 1, 1 << 46, BLOCK, Error::TooBig),
        (1, g + 1, 4 * GIB, BLOCK, Error::NoEnt),
        (0, g, 4 * GIB, BLOCK, Error::Inval),
        (1, g, 0, BLOCK, Error::Exist),
    ] {
        assert_eq!(
            map.add_memory_ex(nid, group, start, size, MhpFlags::empty(), &()),
            Err(err),
            "nid {nid} group {group} start {start:#x}"
        );
        assert_eq!(dump(&map), with_group);
    }
    map.add_memory_ex(1, g, 4 * GIB, BLOCK, MhpFlags::empty(), &())
        .unwrap();
    assert_eq!(map.group_unregister(g), Err(Error::Busy));
    map.remove_memory(4 * GIB, BLOCK).unwrap();
    map.group_unregister(g).unwrap();
    assert_eq!(map.group_info(g), Err(Error::NoEnt));
}

#[test]
fn group_ids_are_the_lowest_free_slot_until_capacity() {
    let map = machine();
    let ids: Vec<u32> = (0..sparsemem::capacity::MAX_GROUPS)
        .map(|_| map.group_register_dynamic(0, SEC).unwrap())
        .collect();
    assert_eq!(ids, (0..ids.len() as u32).collect::<Vec<_>>());
    let full = dump(&map);
    assert_eq!(map.group_register_static(0, 1), Err(Error::NoMem));
    assert_eq!(dump(&map), full);
    map.group_unregister(3).unwrap();
    assert_eq!(map.group_register_static(0, 1), Ok(3));
    let g = map.group_info(3).unwrap();
    assert_eq!((g.nid, g.kind), (0, GroupKind::Static { max_pages: 1 }));
}

fn memmap(mode: MemmapOnMemory) -> Box<SparseMap> {
    machine_with(Config {
        memmap_on_memory: mode,
        ..Config::x86_64()
    })
}

#[test]
fn memmap_pages_are_present_ram_in_the_zone_but_never_online() {
    // A 128 MiB block's memmap: 32,768 pages x 64 bytes = 2 MiB = 512 pages.
    let map = memmap(MemmapOnMemory::SingleBlock);
    map.add_memory(1, 4 * GIB, BLOCK, &()).unwrap();
    let b = map.block_info(BlockId(32)).unwrap();
    assert_eq!((b.vmemmap_pages, b.present_pages), (512, SEC));
    let before = map.stats();
    online(&map, 32, OnlineType::Movable).unwrap();
    let after = map.stats();
    assert_eq!(after.ram_pages, before.ram_pages);
    assert_eq!(after.online_pages, before.online_pages + SEC - 512);
    assert_eq!(map.zone_span(1, Zone::Movable).unwrap().present_pages, SEC);
    for (pfn, online) in [(s(32), false), (s(32) + 511, false), (s(32) + 512, true)] {
        assert_eq!(map.pfn_online(Pfn(pfn)), online, "pfn {pfn:#x}");
        let info = map.pfn_info(Pfn(pfn)).unwrap();
        assert_eq!(
            (info.kind, info.zone, info.online, info.valid),
            (sparsemem::PfnKind::Ram, Zone::Movable, online, true)
        );
    }
    map.offline_block(BlockId(32), &()).unwrap();
    assert!(!map.pfn_online(Pfn(s(32) + 512)));
    assert_eq!(map.pfn_info(Pfn(s(32))).unwrap().zone, Zone::None);
    map.remove_memory(4 * GIB, BLOCK).unwrap();
    // The mark goes with the memory: the block re-added without it is all online.
    map.add_memory_ex(1, GROUP_NONE, 4 * GIB, BLOCK, MhpFlags::empty(), &())
        .unwrap();
    online(&map, 32, OnlineType::Movable).unwrap();
    assert!(map.pfn_online(Pfn(s(32))));
    assert_eq!(map.block_info(BlockId(32)).unwrap().vmemmap_pages, 0);
}

#[test]
fn memmap_on_memory_modes_choose_which_blocks_carry_their_memmap() {
    let vmemmap = |map: &SparseMap, id: u64| map.block_info(BlockId(id)).unwrap().vmemmap_pages;
    // Off: never. Linux 6.1 (single block): only a one-block range. Per block: each.
    let off = memmap(MemmapOnMemory::Off);
    off.add_memory(1, 4 * GIB, BLOCK, &()).unwrap();
    assert_eq!(vmemmap(&off, 32), 0);
    let single = memmap(MemmapOnMemory::SingleBlock);
    single.add_memory(1, 4 * GIB, 2 * BLOCK, &()).unwrap();
    single.add_memory(1, 5 * GIB, BLOCK, &()).unwrap();
    assert_eq!(
        [
            vmemmap(&single, 32),
            vmemmap(&single, 33),
            vmemmap(&single, 40)
        ],
        [0, 0, 512]
    );
    let per = memmap(MemmapOnMemory::PerBlock);
    per.add_memory(1, 4 * GIB, 2 * BLOCK, &()).unwrap();
    assert_eq!([vmemmap(&per, 32), vmemmap(&per, 33)], [512, 512]);
    // Not asked for: none.
    per.add_memory_ex(1, GROUP_NONE, 5 * GIB, BLOCK, MhpFlags::empty(), &())
        .unwrap();
    assert_eq!(vmemmap(&per, 40), 0);
}

#[test]
fn memory_with_its_memmap_is_removed_as_it_was_added() {
    // Single block: a range holding a block with its memmap must be that block.
    let single = memmap(MemmapOnMemory::SingleBlock);
    single.add_memory(1, 4 * GIB, BLOCK, &()).unwrap();
    single
        .add_memory_ex(
            1,
            GROUP_NONE,
            4 * GIB + BLOCK,
            BLOCK,
            MhpFlags::empty(),
            &(),
        )
        .unwrap();
    let before = dump(&single);
    assert_eq!(single.remove_memory(4 * GIB, 2 * BLOCK), Err(Error::Inval));
    assert_eq!(
        single.offline_and_remove_memory(4 * GIB, 2 * BLOCK, &()),
        Err(Error::Inval)
    );
    assert_eq!(dump(&single), before);
    single.remove_memory(4 * GIB, BLOCK).unwrap();
    // Per block: all of a range's blocks carry their memmap, or none does.
    let per = memmap(MemmapOnMemory::PerBlock);
    per.add_memory(1, 4 * GIB, 2 * BLOCK, &()).unwrap();
    per.add_memory_ex(
        1,
        GROUP_NONE,
        4 * GIB + 2 * BLOCK,
        BLOCK,
        MhpFlags::empty(),
        &(),
    )
    .unwrap();
    let before = dump(&per);
    assert_eq!(
        per.remove_memory(4 * GIB + BLOCK, 2 * BLOCK),
        Err(Error::Inval)
    );
    assert_eq!(dump(&per), before);
    per.remove_memory(4 * GIB + BLOCK, BLOCK).unwrap();
    per.remove_memory(4 * GIB, BLOCK).unwrap();
    per.remove_memory(4 * GIB + 2 * BLOCK, BLOCK).unwrap();
}

#[test]
fn an_uninitialised_or_booting_map_refuses_and_stays_as_it_was() {
    let blank = SparseMap::new_boxed(&Config::x86_64()).unwrap();
    blank.init(&Config::x86_64()).unwrap();
    let before = dump(&blank);
    // Booting: groups and policies may be set up, memory not added.
    assert_eq!(
        blank.add_memory_ex(0, GROUP_NONE, 4 * GIB, BLOCK, MhpFlags::empty(), &()),
        Err(Error::Inval)
    );
    assert_eq!(blank.fake_offline(0, 2 * MIB), Err(Error::Inval));
    assert_eq!(blank.fake_online(0, 2 * MIB), Err(Error::Inval));
    assert_eq!(dump(&blank), before);
    // An all-zero map is megabytes: on a thread with room for it.
    std::thread::Builder::new()
        .stack_size(4 * sparsemem::SparseMap::BYTES)
        .spawn(|| {
            let uninit = sparsemem::SparseMap::new();
            assert_eq!(uninit.group_register_static(0, 1), Err(Error::Inval));
            assert_eq!(
                uninit.set_auto_online(AutoOnline::Online),
                Err(Error::Inval)
            );
            assert_eq!(
                uninit.set_online_policy(OnlinePolicy::AutoMovable, 1, true),
                Err(Error::Inval)
            );
            assert_eq!(uninit.policy().auto_online, AutoOnline::Offline);
            assert_eq!(uninit.groups().count(), 0);
        })
        .unwrap()
        .join()
        .unwrap();
}

/// `add_memory_ex`'s own ENOMEM: with every table leaf handed out, a range that needs a
/// new one is refused, with and without a group and memmap_on_memory, and changes
/// nothing (the snapshot, which holds the groups' counters, is byte-identical); a range
/// in a leaf already held still goes in.
#[test]
#[cfg_attr(miri, ignore)]
fn add_memory_ex_without_a_free_leaf_is_nomem_and_changes_nothing() {
    use sparsemem::capacity::{MAX_LEAVES, SECTIONS_PER_LEAF};
    use sparsemem_testkit::machines::snapshot;
    let map = machine_with(Config {
        memmap_on_memory: MemmapOnMemory::SingleBlock,
        ..Config::x86_64()
    });
    let leaf = SECTIONS_PER_LEAF as u64 * BLOCK;
    let group = map.group_register_dynamic(0, SEC).unwrap();
    // The boot RAM holds leaf 0; one device sub-section in each of the others.
    for k in 1..MAX_LEAVES as u64 {
        map.add_device(0, k * leaf, 2 * MIB).unwrap();
    }
    let before = snapshot(&map);
    let past = MAX_LEAVES as u64 * leaf;
    for (g, flags) in [
        (group, MhpFlags::empty()),
        (group, MhpFlags::MEMMAP_ON_MEMORY),
        (GROUP_NONE, MhpFlags::empty()),
    ] {
        assert_eq!(
            map.add_memory_ex(0, g, past, BLOCK, flags, &()),
            Err(Error::NoMem)
        );
        assert_eq!(snapshot(&map), before, "group {g:#x}, {flags:?}");
    }
    map.add_memory_ex(0, group, leaf + BLOCK, BLOCK, MhpFlags::empty(), &())
        .unwrap();
    let b = map.block_info(BlockId((leaf + BLOCK) / BLOCK)).unwrap();
    assert_eq!(b.group, group);
}
