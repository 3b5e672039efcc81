//! Snapshots (round trips, every corruption and truncation rejected with the map
//! unchanged) and the range export.

use sparsemem::{
    BlockId, BlockInfo, Config, Error, MemEvent, MemRange, OnlineType, PhysAddr, RangeKind,
    SparseMap,
};
use sparsemem_testkit::dump::dump;
use sparsemem_testkit::machines::{machine, machine_with, x86, GIB, MIB};
use sparsemem_testkit::seeds::Rng;
use std::ops::ControlFlow;

fn snap(map: &SparseMap) -> Vec<u8> {
    let mut buf = vec![0u8; map.snapshot_bytes()];
    let n = map.snapshot(&mut buf).unwrap();
    buf.truncate(n);
    buf
}

fn ranges(map: &SparseMap) -> Vec<(u64, u64, i32, RangeKind)> {
    let mut v = Vec::new();
    let _ = map.for_each_range(|r: MemRange| {
        v.push((r.start.0, r.size, r.nid, r.kind));
        ControlFlow::<()>::Continue(())
    });
    v
}

/// A map in a random state reached through random operations (failures allowed).
fn random_state(seed: u64) -> Box<SparseMap> {
    let mut rng = Rng::new(seed);
    let map = machine();
    for _ in 0..60 {
        let block = 32 + rng.below(24);
        let nid = rng.below(3) as i32;
        let _ = match rng.below(6) {
            0 => map.add_memory(nid, block * 128 * MIB, 128 * MIB * (1 + rng.below(2)), &()),
            1 => map.online_block(
                BlockId(block),
                OnlineType::from_u8(1 + rng.below(3) as u8).unwrap(),
                &(),
            ),
            2 => map.offline_block(BlockId(rng.below(56)), &()),
            3 => map.remove_memory(block * 128 * MIB, 128 * MIB),
            4 => map.add_device(
                nid,
                (64 + rng.below(8)) * 128 * MIB + rng.below(64) * 2 * MIB,
                2 * MIB * (1 + rng.below(40)),
            ),
            _ => map.remove_device(
                (64 + rng.below(8)) * 128 * MIB + rng.below(64) * 2 * MIB,
                2 * MIB * (1 + rng.below(4)),
            ),
        };
    }
    map
}

#[test]
#[cfg_attr(miri, ignore = "slow under Miri")]
fn snapshot_restore_snapshot_is_byte_identical_on_random_states() {
    for seed in 1..=20u64 {
        let map = random_state(seed);
        let bytes = snap(&map);
        let other = machine();
        other
            .restore(&bytes)
            .unwrap_or_else(|e| panic!("seed {seed}: {e:?}"));
        assert_eq!(snap(&other), bytes, "seed {seed}");
        assert_eq!(dump(&other), dump(&map), "seed {seed}");
        // A restored map keeps working.
        let _ = other.add_device(0, 100 * 128 * MIB, 2 * MIB);
        // Restoring into an uninitialised-looking fresh map of the same config works too.
        let fresh = SparseMap::new_boxed(&Config::x86_64()).unwrap();
        fresh.restore(&bytes).unwrap();
        assert_eq!(snap(&fresh), bytes, "seed {seed}");
    }
}

#[test]
#[cfg_attr(miri, ignore = "slow under Miri")]
fn every_corruption_and_truncation_is_rejected_and_changes_nothing() {
    let src = random_state(7);
    let bytes = snap(&src);
    let target = random_state(8);
    let before = snap(&target);
    let before_dump = dump(&target);
    for len in 0..bytes.len() {
        assert_eq!(
            target.restore(&bytes[..len]),
            Err(Error::Inval),
            "truncated to {len}"
        );
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert_eq!(target.restore(&longer), Err(Error::Inval));
    for i in 0..bytes.len() {
        for bit in [0x01u8, 0x80] {
            let mut c = bytes.clone();
            c[i] ^= bit;
            assert_eq!(
                target.restore(&c),
                Err(Error::Inval),
                "byte {i} bit {bit:#x}"
            );
        }
    }
    assert_eq!(snap(&target), before);
    assert_eq!(dump(&target), before_dump);
}

#[test]
fn restore_rejects_a_foreign_configuration() {
    let bytes = snap(&machine());
    let other = machine_with(Config {
        movable_node: true,
        ..Config::x86_64()
    });
    let before = snap(&other);
    assert_eq!(other.restore(&bytes), Err(Error::Inval));
    assert_eq!(snap(&other), before);
    let arm = SparseMap::new_boxed(&Config::arm64_4k()).unwrap();
    assert_eq!(arm.restore(&bytes), Err(Error::Inval));
    // An uninitialised map has no configuration to match.
    static UNINIT: SparseMap = SparseMap::new();
    assert_eq!(UNINIT.restore(&bytes), Err(Error::Inval));
}

#[test]
fn snapshot_errors() {
    let map = machine();
    let need = map.snapshot(&mut vec![0u8; map.snapshot_bytes()]).unwrap();
    let before = snap(&map);
    assert_eq!(map.snapshot(&mut vec![0u8; need - 1]), Err(Error::NoSpc));
    assert_eq!(map.snapshot(&mut []), Err(Error::NoSpc));
    // During a transition (from the notifier) a snapshot is EBUSY.
    map.add_memory(1, 4 * GIB, 128 * MIB, &()).unwrap();
    let seen = std::sync::Mutex::new(None);
    let n = |ev: MemEvent, _: &BlockInfo| {
        if ev == MemEvent::GoingOnline {
            *seen.lock().unwrap() = Some(map.snapshot(&mut vec![0u8; 1 << 20]));
        }
        0
    };
    map.online_block(BlockId(32), OnlineType::Movable, &n)
        .unwrap();
    assert_eq!(*seen.lock().unwrap(), Some(Err(Error::Busy)));
    assert_ne!(snap(&map), before);
    // Every phase can be snapshotted; a boot-phase snapshot restores to the boot phase.
    let boot = x86();
    boot.boot_add_ram(0, 0, GIB).unwrap();
    let b = snap(&boot);
    let other = x86();
    other.restore(&b).unwrap();
    other.boot_finish().unwrap();
    assert_eq!(other.blocks().count(), 8);
}

#[test]
fn ranges_of_the_two_node_machine_with_pmem_and_hotplug() {
    let map = machine();
    assert_eq!(
        ranges(&map),
        [
            (MIB, 2 * GIB - MIB, 0, RangeKind::RamOnline),
            (2 * GIB, GIB, 1, RangeKind::RamOnline)
        ]
    );
    map.add_memory(1, 4 * GIB, 256 * MIB, &()).unwrap();
    map.online_block(BlockId(33), OnlineType::Movable, &())
        .unwrap();
    map.offline_block(BlockId(1), &()).unwrap();
    map.add_device(1, 8 * GIB + 16 * MIB, 32 * MIB).unwrap();
    map.add_device(1, 8 * GIB + 48 * MIB, 16 * MIB).unwrap();
    assert_eq!(
        ranges(&map),
        [
            (MIB, 127 * MIB, 0, RangeKind::RamOnline),
            (128 * MIB, 128 * MIB, 0, RangeKind::RamOffline),
            (256 * MIB, 2 * GIB - 256 * MIB, 0, RangeKind::RamOnline),
            (2 * GIB, GIB, 1, RangeKind::RamOnline),
            (4 * GIB, 128 * MIB, 1, RangeKind::RamOffline),
            (4 * GIB + 128 * MIB, 128 * MIB, 1, RangeKind::RamOnline),
            (8 * GIB + 16 * MIB, 48 * MIB, 1, RangeKind::Device),
        ]
    );
    // A non-zero answer stops the walk and is returned.
    let mut n = 0;
    let r = map.for_each_range(|_| {
        n += 1;
        if n == 2 {
            ControlFlow::Break(-5)
        } else {
            ControlFlow::Continue(())
        }
    });
    assert_eq!((r, n), (ControlFlow::Break(-5), 2));
}

#[test]
fn a_mixed_block_exports_one_range_per_node_and_page_exact_holes() {
    let map = x86();
    map.boot_add_ram(0, 0x1000, 448 * MIB - 0x1000).unwrap();
    map.boot_add_ram(1, 448 * MIB, 64 * MIB - 0x3000).unwrap();
    map.boot_finish().unwrap();
    map.add_device(1, 512 * MIB - 2 * MIB, 2 * MIB).unwrap_err();
    assert_eq!(
        ranges(&map),
        [
            (0x1000, 448 * MIB - 0x1000, 0, RangeKind::RamOnline),
            (448 * MIB, 64 * MIB - 0x3000, 1, RangeKind::RamOnline)
        ]
    );
    assert_eq!(PhysAddr(0x1000).get(), 0x1000);
}

#[test]
fn snapshot_config_reads_the_configuration_and_rejects_damage() {
    for seed in 0..4 {
        let map = random_state(seed);
        let buf = snap(&map);
        assert_eq!(sparsemem::snapshot_config(&buf), Ok(map.config()));
        // Truncated, one byte flipped in the header, and in a record: all Inval.
        assert_eq!(
            sparsemem::snapshot_config(&buf[..buf.len() - 1]),
            Err(Error::Inval)
        );
        for at in [0, 20, buf.len() / 2] {
            let mut bad = buf.clone();
            bad[at] ^= 0x10;
            assert_eq!(
                sparsemem::snapshot_config(&bad),
                Err(Error::Inval),
                "byte {at}"
            );
        }
    }
    assert_eq!(sparsemem::snapshot_config(&[]), Err(Error::Inval));
}
