//! System RAM hotplug, online/offline, zones and notifiers: scenarios T26-T47 of
//! docs/semantics.md ("Scenarios"), and the zone sequence of the hotplug issue.

use sparsemem::{
    AutoOnline, BlockId, BlockInfo, BlockState, Config, Error, MemEvent, OnlineType, Pfn,
    SectionFlags, SectionNr, SparseMap, Zone,
};
use sparsemem_testkit::dump::{dump, zones_of};
use sparsemem_testkit::machines::{machine, machine_with, s, sa, x86, GIB, MIB, SEC};
use std::sync::Mutex;

fn online(map: &SparseMap, id: u64, ty: OnlineType) -> Result<(), Error> {
    map.online_block(BlockId(id), ty, &())
}

fn offline(map: &SparseMap, id: u64) -> Result<(), Error> {
    map.offline_block(BlockId(id), &())
}

fn span(map: &SparseMap, nid: i32, z: Zone) -> Option<(u64, u64, u64)> {
    map.zone_span(nid, z)
        .ok()
        .map(|s| (s.start.0, s.end.0, s.present_pages))
}

#[test]
fn t26_add_memory_creates_offline_blocks() {
    let map = machine();
    map.add_memory(1, 4 * GIB, 256 * MIB, &()).unwrap();
    for id in [32, 33] {
        let b = map.block_info(BlockId(id)).unwrap();
        assert_eq!(
            (b.state, b.nid, b.zone, b.present_pages),
            (BlockState::Offline, 1, Zone::None, SEC)
        );
        assert_eq!(b.flags, sparsemem::BlockFlags::empty());
        assert_eq!(
            map.valid_zones(BlockId(id)).unwrap().to_string(),
            "Normal Movable"
        );
        assert_eq!(b.default_zone, Zone::Normal);
        let f = map.section_info(SectionNr(id)).unwrap();
        assert_eq!(
            (f.flags, f.active[0]),
            (SectionFlags::PRESENT | SectionFlags::VALID, u64::MAX)
        );
    }
    assert!(map.pfn_valid(Pfn(s(32))));
    assert!(!map.pfn_online(Pfn(s(32))));
}

#[test]
fn t27_t28_add_memory_errors_change_nothing() {
    let map = machine();
    let before = dump(&map);
    for (nid, start, size, err) in [
        (1, 4 * GIB, 64 * MIB, Error::Inval),
        (1, 4 * GIB + 64 * MIB, 384 * MIB, Error::Inval),
        (1, 4 * GIB, 192 * MIB, Error::Inval),
        (1, 4 * GIB, 0, Error::Inval),
        (64, 4 * GIB, 128 * MIB, Error::Inval),
        (-1, 4 * GIB, 128 * MIB, Error::Inval),
        (1, 1 << 46, 128 * MIB, Error::TooBig),
        (1, GIB, 128 * MIB, Error::Exist),
        (1, u64::MAX - (128 * MIB - 1), 128 * MIB, Error::Inval),
    ] {
        assert_eq!(
            map.add_memory(nid, start, size, &()),
            Err(err),
            "{nid} {start:#x} {size:#x}"
        );
    }
    assert_eq!(dump(&map), before);
}

#[test]
fn t30_auto_online_movable_and_ignored_vetoes() {
    let map = machine_with(Config {
        auto_online: AutoOnline::OnlineMovable,
        ..Config::x86_64()
    });
    map.add_memory(1, 4 * GIB, 256 * MIB, &()).unwrap();
    for id in [32, 33] {
        let b = map.block_info(BlockId(id)).unwrap();
        assert_eq!((b.state, b.zone), (BlockState::Online, Zone::Movable));
    }
    // A veto leaves that block offline and the add still succeeds.
    let veto_35 = |ev: MemEvent, b: &BlockInfo| {
        if ev == MemEvent::GoingOnline && b.id.0 == 35 {
            -12
        } else {
            0
        }
    };
    map.add_memory(1, 4 * GIB + 256 * MIB, 256 * MIB, &veto_35)
        .unwrap();
    assert_eq!(
        map.block_info(BlockId(34)).unwrap().state,
        BlockState::Online
    );
    assert_eq!(
        map.block_info(BlockId(35)).unwrap().state,
        BlockState::Offline
    );
}

#[test]
fn t31_adjacent_dimms_on_two_nodes_stay_single_node() {
    let map = machine();
    map.add_memory(0, 7 * GIB, 128 * MIB, &()).unwrap();
    map.add_memory(1, 7 * GIB + 128 * MIB, 128 * MIB, &())
        .unwrap();
    online(&map, 56, OnlineType::Kernel).unwrap();
    online(&map, 57, OnlineType::Movable).unwrap();
    let (b56, b57) = (
        map.block_info(BlockId(56)).unwrap(),
        map.block_info(BlockId(57)).unwrap(),
    );
    assert_eq!(
        (b56.nid, b56.zone, b57.nid, b57.zone),
        (0, Zone::Normal, 1, Zone::Movable)
    );
    assert_eq!(span(&map, 0, Zone::Normal), Some((s(56), s(57), SEC)));
    assert_eq!(span(&map, 1, Zone::Movable), Some((s(57), s(58), SEC)));
}

#[test]
fn t32_t33_state_machine_and_no_stale_online_type() {
    let map = machine();
    map.add_memory(1, 4 * GIB, 256 * MIB, &()).unwrap();
    online(&map, 33, OnlineType::Movable).unwrap();
    assert_eq!(map.valid_zones(BlockId(33)).unwrap().to_string(), "Movable");
    let before = dump(&map);
    assert_eq!(online(&map, 33, OnlineType::Online), Err(Error::Inval));
    assert_eq!(online(&map, 33, OnlineType::Movable), Err(Error::Inval));
    assert_eq!(dump(&map), before);
    offline(&map, 33).unwrap();
    let before = dump(&map);
    assert_eq!(offline(&map, 33), Err(Error::Inval));
    assert_eq!(dump(&map), before);
    // No stale online type (docs/semantics.md): a plain online uses the default zone, not the rejected request.
    assert_eq!(
        map.valid_zones(BlockId(33)).unwrap().to_string(),
        "Normal Movable"
    );
    online(&map, 33, OnlineType::Online).unwrap();
    assert_eq!(map.block_info(BlockId(33)).unwrap().zone, Zone::Normal);
}

#[test]
fn t34_zone_inheritance_sequence_of_the_issue() {
    let map = machine();
    map.add_memory(1, 4 * GIB, 256 * MIB, &()).unwrap();
    map.add_memory(1, 4 * GIB + 256 * MIB, 256 * MIB, &())
        .unwrap();
    assert_eq!(zones_of(&map, &[32, 33, 34, 35]), ["Normal Movable"; 4]);
    online(&map, 33, OnlineType::Movable).unwrap();
    online(&map, 35, OnlineType::Movable).unwrap();
    assert_eq!(
        zones_of(&map, &[32, 33, 34, 35]),
        ["Normal Movable", "Movable", "Movable Normal", "Movable"]
    );
    online(&map, 34, OnlineType::Online).unwrap();
    assert_eq!(map.block_info(BlockId(34)).unwrap().zone, Zone::Movable);
    online(&map, 32, OnlineType::Kernel).unwrap();
    assert_eq!(
        zones_of(&map, &[32, 33, 34, 35]),
        ["Normal", "Movable", "Movable", "Movable"]
    );
    offline(&map, 34).unwrap();
    assert_eq!(
        zones_of(&map, &[34]),
        ["Movable Normal"],
        "inside the Movable span"
    );
    online(&map, 34, OnlineType::Kernel).unwrap();
    // Normal spans 32..34 and Movable 33..35: they overlap.
    assert_eq!(span(&map, 1, Zone::Normal), Some((s(32), s(35), 2 * SEC)));
    assert_eq!(span(&map, 1, Zone::Movable), Some((s(33), s(36), 2 * SEC)));
    offline(&map, 33).unwrap();
    assert_eq!(
        span(&map, 1, Zone::Movable),
        Some((s(35), s(36), SEC)),
        "Movable shrinks to 35"
    );
    assert_eq!(zones_of(&map, &[33]), ["Normal Movable"]);
    online(&map, 33, OnlineType::Online).unwrap();
    assert_eq!(map.block_info(BlockId(33)).unwrap().zone, Zone::Normal);
    assert_eq!(
        zones_of(&map, &[32, 33, 34, 35]),
        ["Normal", "Normal", "Normal", "Movable"]
    );
}

#[test]
fn t35_movable_node_prefers_movable() {
    let map = machine_with(Config {
        movable_node: true,
        ..Config::x86_64()
    });
    map.add_memory(1, 4 * GIB, 256 * MIB, &()).unwrap();
    assert_eq!(zones_of(&map, &[32]), ["Movable Normal"]);
    online(&map, 32, OnlineType::Online).unwrap();
    assert_eq!(map.block_info(BlockId(32)).unwrap().zone, Zone::Movable);
}

#[test]
fn t36_t37_notifier_vetoes_restore_everything() {
    let map = machine();
    map.add_memory(1, 4 * GIB, 256 * MIB, &()).unwrap();
    let events = Mutex::new(Vec::new());
    let veto_online = |ev: MemEvent, b: &BlockInfo| {
        events.lock().unwrap().push((ev, b.state));
        if ev == MemEvent::GoingOnline {
            -12
        } else {
            0
        }
    };
    let before = dump(&map);
    assert_eq!(
        map.online_block(BlockId(32), OnlineType::Online, &veto_online),
        Err(Error::NoMem)
    );
    assert_eq!(dump(&map), before);
    assert_eq!(
        *events.lock().unwrap(),
        [
            (MemEvent::GoingOnline, BlockState::GoingOnline),
            (MemEvent::CancelOnline, BlockState::GoingOnline)
        ]
    );
    online(&map, 32, OnlineType::Kernel).unwrap();
    let before = dump(&map);
    let bad = |ev: MemEvent, _: &BlockInfo| if ev == MemEvent::GoingOffline { 1 } else { 0 };
    assert_eq!(
        map.offline_block(BlockId(32), &bad),
        Err(Error::Perm),
        "NOTIFY_BAD is EPERM"
    );
    assert_eq!(dump(&map), before);
    let intr = |ev: MemEvent, _: &BlockInfo| if ev == MemEvent::GoingOffline { -4 } else { 0 };
    assert_eq!(map.offline_block(BlockId(32), &intr), Err(Error::Veto(-4)));
    assert_eq!(Error::Veto(-4).errno(), -4);
    assert_eq!(dump(&map), before);
    assert_eq!(map.transitions_in_progress(), 0);
}

#[test]
fn notifier_sees_transitions_and_may_change_other_blocks() {
    let map = machine();
    map.add_memory(1, 4 * GIB, 256 * MIB, &()).unwrap();
    let seen = Mutex::new(Vec::new());
    let n = |ev: MemEvent, b: &BlockInfo| {
        if ev == MemEvent::GoingOnline {
            // The block in transition is busy; another block may be changed.
            seen.lock().unwrap().push(map.offline_block(b.id, &()));
            seen.lock()
                .unwrap()
                .push(map.remove_memory(4 * GIB, 128 * MIB));
            seen.lock()
                .unwrap()
                .push(map.online_block(BlockId(33), OnlineType::Movable, &()));
            assert_eq!(map.block_info(b.id).unwrap().state, BlockState::GoingOnline);
            assert_eq!(map.transitions_in_progress(), 1);
        }
        if ev == MemEvent::Online {
            assert_eq!(map.block_info(b.id).unwrap().state, BlockState::Online);
            seen.lock().unwrap().push(map.offline_block(b.id, &()));
        }
        0
    };
    map.online_block(BlockId(32), OnlineType::Kernel, &n)
        .unwrap();
    assert_eq!(
        *seen.lock().unwrap(),
        [Err(Error::Busy), Err(Error::Busy), Ok(()), Err(Error::Busy)]
    );
    assert_eq!(map.block_info(BlockId(33)).unwrap().zone, Zone::Movable);
}

#[test]
fn t39_offline_and_online_boot_blocks() {
    let map = machine();
    for id in [1, 2, 5, 6] {
        offline(&map, id).unwrap();
        assert_eq!(zones_of(&map, &[id]), ["DMA32 Movable"]);
    }
    // Node 0 RAM is [1 MiB, 2 GiB): DMA32 still spans 3..15 and the edges moved in.
    online(&map, 6, OnlineType::Movable).unwrap();
    assert_eq!(span(&map, 0, Zone::Movable), Some((s(6), s(7), SEC)));
    assert_eq!(zones_of(&map, &[5]), ["DMA32 Movable"]);
    offline(&map, 6).unwrap();
    assert_eq!(map.zone_span(0, Zone::Movable), Err(Error::NoEnt));
    online(&map, 6, OnlineType::Online).unwrap();
    assert_eq!(map.block_info(BlockId(6)).unwrap().zone, Zone::Dma32);
    let st = map.stats();
    assert_eq!(st.online_blocks, st.blocks - 3);
}

#[test]
fn t40_t21_refusals_call_no_notifier_and_change_nothing() {
    let map = x86();
    map.boot_add_ram(0, 0, 448 * MIB).unwrap();
    map.boot_add_ram(1, 448 * MIB, 576 * MIB).unwrap();
    map.boot_finish().unwrap();
    let called = Mutex::new(0);
    let n = |_: MemEvent, _: &BlockInfo| {
        *called.lock().unwrap() += 1;
        0
    };
    let before = dump(&map);
    assert_eq!(
        map.offline_block(BlockId(0), &n),
        Err(Error::Inval),
        "DMA + DMA32"
    );
    assert_eq!(
        map.offline_block(BlockId(3), &n),
        Err(Error::Inval),
        "T6: two nodes"
    );
    assert_eq!(map.remove_memory(sa(3), 128 * MIB), Err(Error::Busy));
    assert_eq!(
        map.online_block(BlockId(2), OnlineType::Online, &n),
        Err(Error::Inval),
        "already online"
    );
    assert_eq!(map.offline_block(BlockId(99), &n), Err(Error::NoEnt));
    assert_eq!(
        map.online_block(BlockId(99), OnlineType::Online, &n),
        Err(Error::NoEnt)
    );
    assert_eq!(*called.lock().unwrap(), 0);
    assert_eq!(dump(&map), before);
}

#[test]
fn t42_t43_t44_t45_remove_memory() {
    let map = machine();
    map.add_memory(1, 4 * GIB, 256 * MIB, &()).unwrap();
    online(&map, 33, OnlineType::Movable).unwrap();
    let before = dump(&map);
    assert_eq!(map.remove_memory(4 * GIB, 256 * MIB), Err(Error::Busy));
    assert_eq!(map.remove_memory(4 * GIB, 64 * MIB), Err(Error::Inval));
    assert_eq!(map.remove_memory(4 * GIB, 0), Err(Error::Inval));
    assert_eq!(map.remove_memory(8 * GIB, 128 * MIB), Err(Error::NoEnt));
    assert_eq!(
        map.remove_memory(4 * GIB, 512 * MIB),
        Err(Error::NoEnt),
        "ENOENT before EBUSY"
    );
    assert_eq!(dump(&map), before);
    offline(&map, 33).unwrap();
    map.remove_memory(4 * GIB, 256 * MIB).unwrap();
    assert_eq!(map.block_info(BlockId(32)), Err(Error::NoEnt));
    assert_eq!(map.section_info(SectionNr(33)), Err(Error::NoEnt));
    assert!(!map.pfn_valid(Pfn(s(32))));
    map.add_memory(1, 4 * GIB, 256 * MIB, &()).unwrap();
    assert_eq!(
        map.block_info(BlockId(33)).unwrap().state,
        BlockState::Offline
    );
}

#[test]
fn t46_offline_and_remove_is_all_or_nothing() {
    let map = machine();
    map.add_memory(1, 4 * GIB, 256 * MIB, &()).unwrap();
    online(&map, 32, OnlineType::Movable).unwrap();
    online(&map, 33, OnlineType::Kernel).unwrap();
    let before = dump(&map);
    let events = Mutex::new(Vec::new());
    let busy_33 = |ev: MemEvent, b: &BlockInfo| {
        events.lock().unwrap().push((ev, b.id.0));
        if ev == MemEvent::GoingOffline && b.id.0 == 33 {
            -16
        } else {
            0
        }
    };
    assert_eq!(
        map.offline_and_remove_memory(4 * GIB, 256 * MIB, &busy_33),
        Err(Error::Busy)
    );
    assert_eq!(
        dump(&map),
        before,
        "32 is back online in Movable, spans as before"
    );
    assert_eq!(
        *events.lock().unwrap(),
        [
            (MemEvent::GoingOffline, 32),
            (MemEvent::GoingOffline, 33),
            (MemEvent::CancelOffline, 32),
            (MemEvent::CancelOffline, 33)
        ]
    );
    map.offline_and_remove_memory(4 * GIB, 256 * MIB, &())
        .unwrap();
    assert_eq!(map.blocks().filter(|b| b.id.0 >= 32).count(), 0);
    assert_eq!(map.zone_span(1, Zone::Movable), Err(Error::NoEnt));
    assert_eq!(map.zone_span(1, Zone::Normal), Err(Error::NoEnt));
}

#[test]
fn t47_boot_block_offline_remove_readd_remove() {
    let map = machine();
    offline(&map, 2).unwrap();
    map.remove_memory(sa(2), 128 * MIB).unwrap();
    assert!(!map.pfn_valid(Pfn(s(2))));
    map.add_memory(0, sa(2), 128 * MIB, &()).unwrap();
    let f = map.section_info(SectionNr(2)).unwrap().flags;
    assert_eq!(
        f,
        SectionFlags::PRESENT | SectionFlags::VALID,
        "hot-added now, not early"
    );
    online(&map, 2, OnlineType::Kernel).unwrap();
    assert_eq!(map.block_info(BlockId(2)).unwrap().zone, Zone::Dma32);
    offline(&map, 2).unwrap();
    map.remove_memory(sa(2), 128 * MIB).unwrap();
    assert_eq!(map.block_info(BlockId(2)), Err(Error::NoEnt));
}

#[test]
fn online_refuses_a_kernel_zone_across_a_zone_boundary() {
    // DMA32 ends inside block 33 in this configuration.
    let cfg = Config {
        zone_dma32_end: 4 * GIB + 192 * MIB,
        ..Config::x86_64()
    };
    let map = machine_with(cfg);
    map.add_memory(1, 4 * GIB, 256 * MIB, &()).unwrap();
    let before = dump(&map);
    assert_eq!(online(&map, 33, OnlineType::Kernel), Err(Error::Inval));
    assert_eq!(dump(&map), before);
    online(&map, 33, OnlineType::Movable).unwrap();
}

#[test]
fn mutations_before_boot_finish_are_einval() {
    let map = x86();
    map.boot_add_ram(0, 0, GIB).unwrap();
    let before = dump(&map);
    assert_eq!(
        map.add_memory(0, 4 * GIB, 128 * MIB, &()),
        Err(Error::Inval)
    );
    assert_eq!(map.remove_memory(0, 128 * MIB), Err(Error::Inval));
    assert_eq!(
        map.offline_and_remove_memory(0, 128 * MIB, &()),
        Err(Error::Inval)
    );
    assert_eq!(
        map.online_block(BlockId(1), OnlineType::Online, &()),
        Err(Error::Inval)
    );
    assert_eq!(map.offline_block(BlockId(1), &()), Err(Error::Inval));
    assert_eq!(map.add_device(0, 8 * GIB, 2 * MIB), Err(Error::Inval));
    assert_eq!(map.remove_device(8 * GIB, 2 * MIB), Err(Error::Inval));
    assert_eq!(dump(&map), before);
}

#[test]
fn t38_an_unmovable_page_veto_is_ebusy_and_going_offline_is_transient() {
    let map = machine();
    map.add_memory(1, 4 * GIB, 128 * MIB, &()).unwrap();
    online(&map, 32, OnlineType::Kernel).unwrap();
    let before = dump(&map);
    let states = Mutex::new(Vec::new());
    let unmovable = |ev: MemEvent, b: &BlockInfo| {
        states
            .lock()
            .unwrap()
            .push(map.block_info(b.id).unwrap().state);
        if ev == MemEvent::GoingOffline {
            -16
        } else {
            0
        }
    };
    assert_eq!(map.offline_block(BlockId(32), &unmovable), Err(Error::Busy));
    assert_eq!(
        *states.lock().unwrap(),
        [BlockState::GoingOffline, BlockState::GoingOffline]
    );
    assert_eq!(
        map.block_info(BlockId(32)).unwrap().state,
        BlockState::Online
    );
    assert_eq!(dump(&map), before);
}

#[test]
#[cfg_attr(miri, ignore = "slow under Miri")]
fn t41_selftest_online_all_offline_some_online_again() {
    let map = machine();
    map.add_memory(1, 4 * GIB, 2 * GIB, &()).unwrap();
    let offline_ids: Vec<u64> = map
        .blocks()
        .filter(|b| b.state == BlockState::Offline)
        .map(|b| b.id.0)
        .collect();
    assert_eq!(offline_ids.len(), 16);
    for id in &offline_ids {
        online(&map, *id, OnlineType::Online).unwrap();
    }
    let offlinable: Vec<u64> = map
        .blocks()
        .filter(|b| b.flags.contains(sparsemem::BlockFlags::OFFLINABLE))
        .map(|b| b.id.0)
        .collect();
    // 2% of the blocks, at least one, every one of them succeeds.
    let some: Vec<u64> = offlinable.iter().copied().step_by(50).collect();
    for id in &some {
        offline(&map, *id).unwrap();
    }
    for id in &some {
        online(&map, *id, OnlineType::Online).unwrap();
    }
    assert_eq!(map.stats().online_blocks, map.stats().blocks);
}

/// What a notifier sees of the zone span at each event is what Linux has done by then
/// (docs/semantics.md, "Notifier-visible state is Linux's"): the span grows before
/// GOING_ONLINE and shrinks back only after CANCEL_ONLINE; present pages rise after
/// GOING_ONLINE; on offline they drop before OFFLINE and the span shrinks after it.
#[test]
fn notifiers_see_zone_spans_as_linux_has_them() {
    let map = machine();
    map.add_memory(0, sa(32), 128 * MIB, &()).unwrap();
    let seen = Mutex::new(Vec::new());
    let veto = Mutex::new(-16);
    let n = |ev: MemEvent, _: &BlockInfo| {
        seen.lock()
            .unwrap()
            .push((ev, span(&map, 0, Zone::Movable)));
        match ev {
            MemEvent::GoingOnline => *veto.lock().unwrap(),
            _ => 0,
        }
    };
    let block = Some((s(32), s(33), 0));
    let online_block = Some((s(32), s(33), SEC));

    assert_eq!(
        map.online_block(BlockId(32), OnlineType::Movable, &n),
        Err(Error::Busy)
    );
    assert_eq!(
        seen.lock().unwrap().split_off(0),
        [
            (MemEvent::GoingOnline, block),
            (MemEvent::CancelOnline, block)
        ]
    );
    assert_eq!(
        span(&map, 0, Zone::Movable),
        None,
        "the cancel shrank it back"
    );

    *veto.lock().unwrap() = 0;
    map.online_block(BlockId(32), OnlineType::Movable, &n)
        .unwrap();
    assert_eq!(
        seen.lock().unwrap().split_off(0),
        [
            (MemEvent::GoingOnline, block),
            (MemEvent::Online, online_block)
        ]
    );

    map.offline_block(BlockId(32), &n).unwrap();
    assert_eq!(
        seen.lock().unwrap().split_off(0),
        [
            (MemEvent::GoingOffline, online_block),
            (MemEvent::Offline, block)
        ]
    );
    assert_eq!(span(&map, 0, Zone::Movable), None, "shrunk after OFFLINE");
}

/// A vetoed online changes nothing, also beside boot RAM that starts inside a
/// sub-section: a cancel that only shrank the grown edge back left the Normal span
/// starting at that sub-section's start, 4 KiB early (found by the c_abi fuzz target).
#[test]
fn a_vetoed_online_puts_the_zone_span_back_exactly() {
    let map = x86();
    map.boot_add_ram(0, 4 * GIB + 4096, 4 * GIB - 4096).unwrap();
    map.boot_finish().unwrap();
    // Just below: no DMA32 span on the node, so the kernel zone is Normal, whose span
    // the online grows down to the block.
    map.add_memory(0, 4 * GIB - 128 * MIB, 128 * MIB, &())
        .unwrap();
    let before = dump(&map);
    let veto = |ev: MemEvent, _: &BlockInfo| match ev {
        MemEvent::GoingOnline => -16,
        _ => 0,
    };
    for ty in [OnlineType::Kernel, OnlineType::Online, OnlineType::Movable] {
        assert_eq!(map.online_block(BlockId(31), ty, &veto), Err(Error::Busy));
        assert_eq!(dump(&map), before, "{ty:?}");
    }
}
