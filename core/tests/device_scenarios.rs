//! Device memory at sub-section granularity: scenarios T9-T25 of
//! docs/semantics.md, with its all-or-nothing operations, errors instead of silent
//! success and exact device sub-sections. Every error asserts the map unchanged.

use sparsemem::{
    BlockFlags, BlockId, Error, Pfn, PfnKind, RangeKind, SectionFlags, SectionNr, SparseMap, Zone,
};
use sparsemem_testkit::dump::dump;
use sparsemem_testkit::machines::{machine, s, sa, snapshot, x86, GIB, MIB, SUB};

fn active(map: &sparsemem::SparseMap, nr: u64) -> u64 {
    map.section_info(SectionNr(nr)).map_or(0, |i| i.active[0])
}

#[test]
fn t9_eight_namespaces_in_one_section_removed_in_any_order() {
    let map = machine();
    for i in 0..8 {
        map.add_device(1, sa(40) + i * 16 * MIB, 16 * MIB).unwrap();
        assert_eq!(active(&map, 40).count_ones() as u64, 8 * (i + 1));
        let f = map.section_info(SectionNr(40)).unwrap().flags;
        assert_eq!(
            f,
            SectionFlags::PRESENT | SectionFlags::VALID | SectionFlags::TAINT_DEVICE
        );
    }
    assert_eq!(map.section_info(SectionNr(40)).unwrap().device[0], u64::MAX);
    assert_eq!(
        map.block_info(BlockId(40)),
        Err(Error::NoEnt),
        "device memory creates no block"
    );
    for (n, i) in [3u64, 0, 7, 1, 6, 2, 5, 4].into_iter().enumerate() {
        assert!(map.pfn_valid(Pfn(s(40) + i * 8 * SUB)));
        map.remove_device(sa(40) + i * 16 * MIB, 16 * MIB).unwrap();
        assert!(!map.pfn_valid(Pfn(s(40) + i * 8 * SUB)));
        assert_eq!(active(&map, 40).count_ones() as usize, 64 - 8 * (n + 1));
    }
    assert_eq!(
        map.section_info(SectionNr(40)),
        Err(Error::NoEnt),
        "the entry is absent again"
    );
    assert_eq!(map.next_valid_pfn(Pfn(s(40))), None);
    // The ZONE_DEVICE span grew and never shrinks.
    let span = map.zone_span(1, Zone::Device).unwrap();
    assert_eq!(
        (span.start.0, span.end.0, span.present_pages),
        (s(40), s(41), 0)
    );
}

#[test]
fn t10_overlapping_add_is_eexist_and_changes_nothing() {
    let map = machine();
    map.add_device(0, sa(40), 4 * MIB).unwrap();
    let before = dump(&map);
    assert_eq!(
        map.add_device(0, sa(40) + 2 * MIB, 4 * MIB),
        Err(Error::Exist)
    );
    assert_eq!(active(&map, 40), 0b11);
    assert_eq!(dump(&map), before);
}

/// Device ranges of different nodes share a section, as Linux allows (it keeps a node
/// per page of a ZONE_DEVICE memmap): each pfn reports its own range's node, in
/// `pfn_info` and in the range export, through the removal of any of them and through
/// a snapshot round trip; the fast path (same node beside it) keeps working.
#[test]
fn device_ranges_of_different_nodes_share_a_section() {
    let map = machine();
    let at = |mib: u64| sa(40) + mib * MIB;
    map.add_device(0, at(0), 2 * MIB).unwrap();
    map.add_device(1, at(2), 4 * MIB).unwrap();
    map.add_device(2, at(8), 2 * MIB).unwrap();
    map.add_device(0, at(6), 2 * MIB).unwrap();
    let nids =
        |map: &SparseMap| [0, 2, 4, 6, 8].map(|m| map.pfn_info(Pfn(at(m) >> 12)).unwrap().nid);
    assert_eq!(nids(&map), [0, 1, 1, 0, 2]);
    let device_ranges = |map: &SparseMap| {
        let mut v = Vec::new();
        let _ = map.for_each_range(|r| {
            if r.kind == RangeKind::Device {
                v.push((r.start.0, r.size, r.nid));
            }
            std::ops::ControlFlow::<()>::Continue(())
        });
        v
    };
    assert_eq!(
        device_ranges(&map),
        [
            (at(0), 2 * MIB, 0),
            (at(2), 4 * MIB, 1),
            (at(6), 2 * MIB, 0),
            (at(8), 2 * MIB, 2)
        ]
    );
    let copy = SparseMap::new_boxed(&map.config()).unwrap();
    copy.restore(&snapshot(&map)).unwrap();
    assert_eq!(nids(&copy), [0, 1, 1, 0, 2]);
    assert_eq!(dump(&copy), dump(&map));
    map.remove_device(at(2), 4 * MIB).unwrap();
    // What a removal leaves of the shared section survives a round trip too.
    let copy = SparseMap::new_boxed(&map.config()).unwrap();
    copy.restore(&snapshot(&map)).unwrap();
    assert_eq!(dump(&copy), dump(&map));
    assert_eq!(map.pfn_info(Pfn(at(0) >> 12)).unwrap().nid, 0);
    assert_eq!(map.pfn_info(Pfn(at(8) >> 12)).unwrap().nid, 2);
    // Node 1 again beside node 0's range: the fast path or the shared entry, same answer.
    map.add_device(1, at(2), 2 * MIB).unwrap();
    assert_eq!(map.pfn_info(Pfn(at(2) >> 12)).unwrap().nid, 1);
    for m in [0, 2, 6, 8] {
        map.remove_device(at(m), 2 * MIB).unwrap();
    }
    assert_eq!(map.section_info(SectionNr(40)), Err(Error::NoEnt));
}

/// Each section shared by several nodes keeps an entry of a pool sized at build time:
/// a full pool is `NoMem` and changes nothing, also when the range needed entries for
/// two sections and got only the first; emptied sections give their entries back.
#[test]
fn shared_device_sections_are_capacity_and_give_it_back() {
    let map = machine();
    let max = sparsemem::capacity::MAX_SHARED_DEVICE_SECTIONS as u64;
    for k in 0..max {
        map.add_device(0, sa(100 + k), 2 * MIB).unwrap();
        map.add_device(1, sa(100 + k) + 2 * MIB, 2 * MIB).unwrap();
    }
    // Two more sections with node 0's memory at both ends of a node-1 range across them.
    let (x, y) = (sa(100 + max), sa(101 + max));
    map.add_device(0, x, 2 * MIB).unwrap();
    map.add_device(0, y + 4 * MIB, 2 * MIB).unwrap();
    let before = dump(&map);
    assert_eq!(map.add_device(1, x + 2 * MIB, 2 * MIB), Err(Error::NoMem));
    assert_eq!(map.add_device(1, y - 2 * MIB, 4 * MIB), Err(Error::NoMem));
    assert_eq!(dump(&map), before);
    // One shared section emptied: its entry serves the next; the range needing two
    // entries still gets NoMem (only one is free) and leaves that one free.
    map.remove_device(sa(100), 4 * MIB).unwrap();
    let before = dump(&map);
    assert_eq!(map.add_device(1, y - 2 * MIB, 4 * MIB), Err(Error::NoMem));
    assert_eq!(dump(&map), before);
    map.add_device(1, x + 2 * MIB, 2 * MIB).unwrap();
    assert_eq!(map.pfn_info(Pfn((x + 2 * MIB) >> 12)).unwrap().nid, 1);
    assert_eq!(map.pfn_info(Pfn(x >> 12)).unwrap().nid, 0);
}

#[test]
fn t11_misaligned_and_malformed_adds_are_einval() {
    let map = machine();
    let before = dump(&map);
    for (nid, start, size) in [
        (0, sa(40) + MIB, 2 * MIB),
        (0, sa(40), 3 * MIB),
        (0, sa(40), 0),
        (0, u64::MAX - 2 * MIB + 1, 2 * MIB),
        (64, sa(40), 2 * MIB),
        (-2, sa(40), 2 * MIB),
    ] {
        assert_eq!(
            map.add_device(nid, start, size),
            Err(Error::Inval),
            "{nid} {start:#x} {size:#x}"
        );
    }
    // Invalid nid is EINVAL even when the range is also beyond max_phys_bits.
    assert_eq!(map.add_device(64, 1 << 46, 2 * MIB), Err(Error::Inval));
    assert_eq!(
        map.add_device(0, (1 << 46) - 2 * MIB, 4 * MIB),
        Err(Error::TooBig)
    );
    assert_eq!(dump(&map), before);
}

#[test]
fn t12_removing_inactive_subsections_is_enoent_and_changes_nothing() {
    let map = machine();
    map.add_device(0, sa(40), 2 * MIB).unwrap();
    let before = dump(&map);
    assert_eq!(
        map.remove_device(sa(40) + 64 * MIB, 2 * MIB),
        Err(Error::NoEnt)
    );
    assert_eq!(map.remove_device(sa(40), 4 * MIB), Err(Error::NoEnt));
    assert_eq!(map.remove_device(sa(40) + MIB, 2 * MIB), Err(Error::Inval));
    assert_eq!(map.remove_device(sa(40), 0), Err(Error::Inval));
    assert_eq!(map.remove_device(1 << 50, 2 * MIB), Err(Error::NoEnt));
    // RAM is not device memory.
    assert_eq!(map.remove_device(sa(1), 2 * MIB), Err(Error::NoEnt));
    assert_eq!(dump(&map), before);
    assert_eq!(active(&map, 40), 1, "sub-section 0 stays active");
}

#[test]
fn t13_remove_across_an_inactive_and_an_active_section_is_all_or_nothing() {
    let map = machine();
    map.add_device(0, sa(41), 128 * MIB).unwrap();
    let before = dump(&map);
    // Linux skips section 40 with a WARN and removes 41; docs/semantics.md,
    // "Errors instead of BUG or silent success": ENOENT, no change.
    assert_eq!(map.remove_device(sa(40), 256 * MIB), Err(Error::NoEnt));
    assert_eq!(dump(&map), before);
}

#[test]
fn t14_a_range_crossing_sections_is_split_and_removed_whole() {
    let map = machine();
    map.add_device(0, sa(40) + 120 * MIB, 16 * MIB).unwrap();
    assert_eq!(active(&map, 40), 0xf << 60);
    assert_eq!(active(&map, 41), 0xf);
    for nr in [40, 41] {
        assert!(map
            .section_info(SectionNr(nr))
            .unwrap()
            .flags
            .contains(SectionFlags::TAINT_DEVICE));
    }
    map.remove_device(sa(40) + 120 * MIB, 16 * MIB).unwrap();
    assert_eq!(map.section_info(SectionNr(40)), Err(Error::NoEnt));
    assert_eq!(map.section_info(SectionNr(41)), Err(Error::NoEnt));
}

#[test]
fn t15_a_full_section_twice_is_eexist() {
    let map = machine();
    map.add_device(0, sa(40), 128 * MIB).unwrap();
    assert_eq!(active(&map, 40), u64::MAX);
    assert!(!map
        .section_info(SectionNr(40))
        .unwrap()
        .flags
        .contains(SectionFlags::TAINT_DEVICE));
    let before = dump(&map);
    assert_eq!(map.add_device(0, sa(40), 128 * MIB), Err(Error::Exist));
    assert_eq!(dump(&map), before);
}

#[test]
fn t17_partial_failure_rolls_back_every_section() {
    let map = machine();
    map.add_device(0, sa(42) + 10 * MIB, 2 * MIB).unwrap();
    let before = dump(&map);
    assert_eq!(map.add_device(0, sa(41), 256 * MIB), Err(Error::Exist));
    assert_eq!(dump(&map), before, "section 41 was not added");
    map.remove_device(sa(42) + 10 * MIB, 2 * MIB).unwrap();
    map.add_device(0, sa(41), 256 * MIB).unwrap();
    assert_eq!((active(&map, 41), active(&map, 42)), (u64::MAX, u64::MAX));
}

#[test]
fn t19_removing_one_range_keeps_the_other() {
    let map = machine();
    map.add_device(0, sa(40), 2 * MIB).unwrap();
    map.add_device(0, sa(40) + 2 * MIB, 2 * MIB).unwrap();
    map.remove_device(sa(40), 2 * MIB).unwrap();
    assert!(map.pfn_valid(Pfn(s(40) + SUB)));
    assert!(!map.pfn_valid(Pfn(s(40))));
    // Any aligned part of a range can be removed.
    map.add_device(0, sa(44), 16 * MIB).unwrap();
    map.remove_device(sa(44) + 4 * MIB, 2 * MIB).unwrap();
    assert_eq!(active(&map, 44), 0xff & !0b100);
}

/// T20: boot RAM covers the lower half of section 8; pmem goes into the upper half.
fn t20_map() -> Box<sparsemem::SparseMap> {
    let map = x86();
    map.boot_add_ram(0, MIB, sa(8) + 64 * MIB - MIB).unwrap();
    map.boot_finish().unwrap();
    map.add_device(0, sa(8) + 64 * MIB, 64 * MIB).unwrap();
    map
}

#[test]
fn t20_ram_and_pmem_share_an_early_section() {
    let map = t20_map();
    let info = map.section_info(SectionNr(8)).unwrap();
    assert_eq!(info.active[0], u64::MAX);
    assert_eq!(info.device[0], 0xffff_ffff << 32);
    let all =
        SectionFlags::PRESENT | SectionFlags::VALID | SectionFlags::ONLINE | SectionFlags::EARLY;
    assert_eq!(info.flags, all | SectionFlags::TAINT_DEVICE);
    let pmem = Pfn(s(8) + 40 * SUB);
    let ram = Pfn(s(8) + 3);
    assert!(map.pfn_valid(pmem) && map.pfn_valid(ram));
    assert!(!map.pfn_online(pmem));
    assert!(map.pfn_online(ram));
    let i = map.pfn_info(pmem).unwrap();
    assert_eq!((i.kind, i.zone, i.nid), (PfnKind::Device, Zone::Device, 0));
    let b = map.block_info(BlockId(8)).unwrap();
    assert!(b.flags.contains(BlockFlags::DEVICE | BlockFlags::HOLES));
    assert!(!b.flags.contains(BlockFlags::OFFLINABLE));
    assert_eq!(map.stats().device_pages, 32 * SUB);
}

#[test]
fn t21_a_block_with_pmem_cannot_be_offlined_or_removed() {
    let map = t20_map();
    let before = dump(&map);
    assert_eq!(map.offline_block(BlockId(8), &()), Err(Error::Inval));
    assert_eq!(map.remove_memory(sa(8), 128 * MIB), Err(Error::Busy));
    assert_eq!(
        map.offline_and_remove_memory(sa(8), 128 * MIB, &()),
        Err(Error::Inval)
    );
    assert_eq!(dump(&map), before);
}

#[test]
fn t22_removing_the_pmem_keeps_the_early_section_and_taint() {
    let map = t20_map();
    map.remove_device(sa(8) + 64 * MIB, 64 * MIB).unwrap();
    let info = map.section_info(SectionNr(8)).unwrap();
    assert_eq!(info.active[0], 0xffff_ffff);
    assert_eq!(info.device[0], 0);
    assert!(info.flags.contains(
        SectionFlags::EARLY
            | SectionFlags::ONLINE
            | SectionFlags::VALID
            | SectionFlags::TAINT_DEVICE
    ));
    let pmem = Pfn(s(8) + 40 * SUB);
    assert!(map.pfn_valid(pmem), "early section");
    assert!(!map.pfn_online(pmem));
    assert_eq!(map.pfn_info(pmem).unwrap().kind, PfnKind::Hole);
}

#[test]
fn t23_t24_pmem_over_system_ram_is_enxio() {
    let map = t20_map();
    let before = dump(&map);
    assert_eq!(map.add_device(0, sa(8), 128 * MIB), Err(Error::NxIo));
    assert_eq!(
        map.add_device(0, sa(7) + 126 * MIB, 4 * MIB),
        Err(Error::NxIo)
    );
    // ENXIO is checked before EEXIST: a range over both RAM and pmem.
    assert_eq!(
        map.add_device(0, sa(8) + 62 * MIB, 4 * MIB),
        Err(Error::NxIo)
    );
    assert_eq!(
        map.add_device(0, sa(8) + 64 * MIB, 2 * MIB),
        Err(Error::Exist)
    );
    // A hot-added RAM block is System RAM, too.
    map.add_memory(0, 4 * GIB, 128 * MIB, &()).unwrap();
    assert_eq!(map.add_device(0, 4 * GIB, 2 * MIB), Err(Error::NxIo));
    map.remove_memory(4 * GIB, 128 * MIB).unwrap();
    assert_eq!(dump(&map), before);
    // Device memory of another node in the same section is accepted (see
    // device_ranges_of_different_nodes_share_a_section); inside a memory block a pfn
    // reports the block's node, device memory or not.
    map.remove_device(sa(8) + 64 * MIB, 32 * MIB).unwrap();
    map.add_device(1, sa(8) + 64 * MIB, 2 * MIB).unwrap();
    let i = map.pfn_info(Pfn(s(8) + 16384)).unwrap();
    assert_eq!((i.kind, i.nid), (PfnKind::Device, 0));
}

#[test]
fn t25_a_section_aligned_device_range_is_untainted_and_never_online() {
    let map = machine();
    map.add_device(1, sa(50), 256 * MIB).unwrap();
    for nr in [50, 51] {
        let f = map.section_info(SectionNr(nr)).unwrap().flags;
        assert_eq!(f, SectionFlags::PRESENT | SectionFlags::VALID);
    }
    assert!(!map.pfn_online(Pfn(s(50))));
    assert_eq!(map.blocks().filter(|b| b.id.0 >= 50).count(), 0);
    let i = map.pfn_info(Pfn(s(51) + 5)).unwrap();
    assert_eq!((i.nid, i.block_state, i.kind), (1, None, PfnKind::Device));
}

#[test]
fn device_adds_fill_partial_sections_beside_hot_added_ram_never() {
    // A hot-added block owns whole sections, so device memory cannot share them.
    let map = machine();
    map.add_memory(1, 4 * GIB, 128 * MIB, &()).unwrap();
    assert_eq!(
        map.add_device(1, 4 * GIB + 126 * MIB, 4 * MIB),
        Err(Error::NxIo)
    );
    map.add_device(1, 4 * GIB + 128 * MIB, 4 * MIB).unwrap();
    assert_eq!(
        map.add_memory(1, 4 * GIB + 128 * MIB, 128 * MIB, &()),
        Err(Error::Exist)
    );
}

#[test]
fn t7_mixed_node_block_with_pmem_stays_refused() {
    let map = x86();
    map.boot_add_ram(0, 0, 448 * MIB).unwrap();
    map.boot_add_ram(1, 448 * MIB, 64 * MIB - 4 * MIB).unwrap();
    map.boot_add_ram(1, 512 * MIB, 512 * MIB).unwrap();
    map.boot_finish().unwrap();
    map.add_device(1, sa(4) - 4 * MIB, 4 * MIB).unwrap();
    let before = dump(&map);
    assert_eq!(map.offline_block(BlockId(3), &()), Err(Error::Inval));
    assert_eq!(map.remove_memory(sa(3), 128 * MIB), Err(Error::Busy));
    assert_eq!(dump(&map), before);
    let pmem = Pfn(s(4) - 1);
    assert!(!map.pfn_online(pmem));
    let i = map.pfn_info(pmem).unwrap();
    assert_eq!(
        (i.kind, i.nid, i.zone),
        (PfnKind::Device, sparsemem::NID_MIXED, Zone::Device)
    );
    assert!(map
        .block_info(BlockId(3))
        .unwrap()
        .flags
        .contains(BlockFlags::DEVICE | BlockFlags::MIXED_NODES));
}
