//! All-or-nothing operations (docs/semantics.md). Every mutating operation checks
//! and reserves everything that can fail, then commits with a closure that cannot fail
//! (core/src/map/commit.rs); in these test builds a fallible step reached inside a
//! commit panics. So the proof is: every fault point, reached one after the other here,
//! must leave the map identical, and must not panic (none runs inside a commit); and
//! the reservation that capacity can refuse part-way (the second of two table leaves)
//! must consume nothing (T18, with real capacity).

use sparsemem::{BlockId, Error, OnlineType, SparseMap};
use sparsemem_testkit::dump::dump;
use sparsemem_testkit::machines::{machine, sa, x86, GIB, MIB};

/// Runs `op` with a failure injected at step 1, 2, ... until it succeeds; every
/// injected failure must be `NoMem` and leave the dump unchanged. Returns the number
/// of steps the operation has.
fn fail_every_step(
    map: &SparseMap,
    what: &str,
    op: impl Fn(&SparseMap) -> Result<(), Error>,
) -> usize {
    let before = dump(map);
    for n in 1.. {
        map.fail_at_step(n);
        match op(map) {
            Err(Error::NoMem) => assert_eq!(
                dump(map),
                before,
                "{what}: failure at step {n} changed the map"
            ),
            Ok(()) => {
                map.fail_at_step(0);
                assert!(n > 1, "{what}: no injection point was reached");
                return n - 1;
            }
            Err(e) => panic!("{what}: step {n}: unexpected {e:?}"),
        }
    }
    unreachable!()
}

#[test]
#[cfg_attr(miri, ignore = "slow under Miri")]
fn every_step_of_every_operation_rolls_back() {
    let map = machine();
    // T29: block creation fails part-way through four blocks.
    let steps = fail_every_step(&map, "add_memory", |m| {
        m.add_memory(1, 4 * GIB, 512 * MIB, &())
    });
    assert!(steps >= 4, "one step per section at least, got {steps}");
    fail_every_step(&map, "add_device", |m| {
        m.add_device(1, sa(40) + 120 * MIB, 16 * MIB)
    });
    fail_every_step(&map, "add_device (full sections)", |m| {
        m.add_device(0, sa(60), 384 * MIB)
    });
    fail_every_step(&map, "remove_device", |m| {
        m.remove_device(sa(40) + 120 * MIB, 16 * MIB)
    });
    fail_every_step(&map, "remove_memory", |m| {
        m.remove_memory(4 * GIB + 256 * MIB, 256 * MIB)
    });
    map.online_block(BlockId(32), OnlineType::Movable, &())
        .unwrap();
    fail_every_step(&map, "offline_and_remove_memory", |m| {
        m.offline_and_remove_memory(4 * GIB, 256 * MIB, &())
    });
    assert_eq!(map.blocks().filter(|b| b.id.0 >= 32).count(), 0);
}

#[test]
#[cfg_attr(miri, ignore = "slow under Miri")]
fn boot_finish_rolls_back_at_every_step() {
    let map = x86();
    map.boot_add_ram(0, MIB, 2 * GIB).unwrap();
    map.boot_add_ram(1, 64 * GIB, 2 * GIB).unwrap();
    let steps = fail_every_step(&map, "boot_finish", |m| m.boot_finish());
    assert_eq!(steps, 2);
    assert_eq!(map.blocks().count(), 17 + 16);
}

#[test]
#[cfg_attr(miri, ignore = "slow under Miri")]
fn capacity_exhaustion_is_nomem_and_changes_nothing() {
    use sparsemem::capacity::{MAX_SECTIONS, SECTIONS_PER_LEAF};
    let map = machine();
    // Fill every free leaf with one device sub-section 16 GiB apart (one leaf each).
    let leaf_bytes = SECTIONS_PER_LEAF as u64 * 128 * MIB;
    let mut k = 1u64;
    loop {
        match map.add_device(0, k * leaf_bytes + 64 * GIB, 2 * MIB) {
            Ok(()) => k += 1,
            Err(Error::NoMem) => break,
            Err(e) => panic!("{e:?}"),
        }
        assert!(k as usize <= MAX_SECTIONS / SECTIONS_PER_LEAF + 1);
    }
    let before = dump(&map);
    assert_eq!(
        map.add_memory(0, 1 << 45, 128 * MIB, &()),
        Err(Error::NoMem)
    );
    assert_eq!(
        map.add_device(0, (1 << 45) + GIB, 2 * MIB),
        Err(Error::NoMem)
    );
    // EEXIST and ENXIO still win over ENOMEM.
    assert_eq!(
        map.add_device(0, 64 * GIB + leaf_bytes, 2 * MIB),
        Err(Error::Exist)
    );
    assert_eq!(map.add_device(0, 0, 2 * MIB), Err(Error::NxIo));
    assert_eq!(dump(&map), before);
    // Within an assigned leaf there is still room.
    map.add_device(0, 64 * GIB + leaf_bytes + 128 * MIB, 2 * MIB)
        .unwrap();
}

/// T18: capacity runs out in the middle of an add. A range that needs two new table
/// leaves when one is free is `NoMem`, changes nothing, and leaves that one leaf free
/// (reservation checks every leaf before it assigns the first: nothing to roll back).
#[test]
#[cfg_attr(miri, ignore = "slow under Miri")]
fn t18_nomem_for_the_second_of_two_leaves_consumes_nothing() {
    use sparsemem::capacity::SECTIONS_PER_LEAF;
    let leaf_bytes = SECTIONS_PER_LEAF as u64 * 128 * MIB;
    let one_leaf_each = |map: &SparseMap, n: u64| {
        (1..=n)
            .map(|k| map.add_device(0, k * leaf_bytes + 64 * GIB, 2 * MIB))
            .take_while(Result::is_ok)
            .count() as u64
    };
    // How many leaves a machine has free, then a machine with exactly one free.
    let free = one_leaf_each(&machine(), u64::MAX);
    let map = machine();
    assert_eq!(one_leaf_each(&map, free - 1), free - 1);
    let before = dump(&map);
    // The last section of one unassigned leaf and the first of the next.
    let boundary = 1u64 << 44;
    assert_eq!(
        map.add_memory(0, boundary - 128 * MIB, 256 * MIB, &()),
        Err(Error::NoMem)
    );
    assert_eq!(
        map.add_device(0, boundary - 2 * MIB, 4 * MIB),
        Err(Error::NoMem)
    );
    assert_eq!(dump(&map), before);
    // The free leaf is still free: a range inside one new leaf fits.
    map.add_memory(0, boundary, 256 * MIB, &()).unwrap();
}
