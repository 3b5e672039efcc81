//! loom models of the reader/writer and writer/writer races (issue 5; scenarios
//! T49-T51 of docs/semantics.md). Run with a tiny table so each model iteration is cheap:
//!
//! ```sh
//! make loom   # RUSTFLAGS="--cfg loom" SPARSEMEM_*=small cargo test --test loom --release
//! ```
#![cfg(loom)]

use loom::sync::Arc;
use loom::thread;
use sparsemem::capacity::{MAX_SECTIONS, SECTIONS_PER_LEAF};
use sparsemem::{
    BlockId, BlockState, Config, Error, OnlineType, Pfn, PfnKind, SectionFlags, SparseMap, Zone,
};
use std::sync::atomic::{AtomicUsize, Ordering};

const MIB: u64 = 1 << 20;
/// Section 1's first pfn (x86-64 geometry: 32768 pages per section).
const S1: u64 = 32768;
/// x86-64 geometry: 128 MiB sections (and memory blocks), 2 MiB sub-sections.
const SECTION: u64 = 128 * MIB;

/// x86-64 geometry in a 35-bit space: 256 section numbers fit the loom build's table.
fn cfg() -> Config {
    Config {
        max_phys_bits: 35,
        ..Config::x86_64()
    }
}

/// Boot RAM in section 0 only; sections 1.. are free for device memory and hotplug.
fn booted() -> Arc<Box<SparseMap>> {
    let map = SparseMap::new_boxed(&cfg()).unwrap();
    map.boot_add_ram(0, 0, 64 * MIB).unwrap();
    map.boot_finish().unwrap();
    Arc::new(map)
}

/// Runs a model with a bounded number of preemptions and reports how many
/// interleavings it explored.
fn model(name: &str, f: impl Fn() + Sync + Send + 'static) {
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    RUNS.store(0, Ordering::Relaxed);
    let mut b = loom::model::Builder::new();
    if b.preemption_bound.is_none() {
        b.preemption_bound = Some(3);
    }
    // An operation is a few hundred atomic steps (section locks, block scans).
    b.max_branches = 100_000;
    b.check(move || {
        RUNS.fetch_add(1, Ordering::Relaxed);
        f();
    });
    println!(
        "loom model {name}: {} interleavings explored",
        RUNS.load(Ordering::Relaxed)
    );
}

/// A reader's per-pfn answers must be mutually consistent and be the answer before
/// or after the concurrent call.
fn read_device_pfn(map: &SparseMap, p: Pfn) -> bool {
    let valid = map.pfn_valid(p);
    assert!(!map.pfn_online(p), "a device pfn is never online");
    match map.pfn_info(p) {
        Ok(i) => assert!(
            i.kind == PfnKind::Device
                && i.valid
                && !i.online
                && i.nid == 0
                && i.zone == Zone::Device
                && i.block_state.is_none(),
            "torn pfn_info {i:?}"
        ),
        Err(e) => assert_eq!(e, Error::NoEnt),
    }
    valid
}

#[test]
fn t49_reader_against_the_first_device_add_of_a_section() {
    model("reader vs add", || {
        let map = booted();
        let m2 = map.clone();
        let reader = thread::spawn(move || read_device_pfn(&m2, Pfn(S1)));
        map.add_device(0, 128 * MIB, 2 * MIB).unwrap();
        reader.join().unwrap();
        assert!(map.pfn_valid(Pfn(S1)), "an add that returned is visible");
    });
}

#[test]
fn t49_t50_reader_against_the_removal_of_the_last_subsection() {
    model("reader vs remove-last", || {
        let map = booted();
        map.add_device(0, 128 * MIB, 2 * MIB).unwrap();
        let m2 = map.clone();
        let reader = thread::spawn(move || read_device_pfn(&m2, Pfn(S1)));
        map.remove_device(128 * MIB, 2 * MIB).unwrap();
        reader.join().unwrap();
        assert!(
            !map.pfn_valid(Pfn(S1)),
            "a remove that returned is never contradicted"
        );
        assert_eq!(map.pfn_info(Pfn(S1)), Err(Error::NoEnt));
    });
}

/// Device memory of a second node joins a section (its nids move into the shared
/// pool: the nid bytes are written before the states they name) and leaves again,
/// against a reader: node 0's pfn reads as node 0's device memory throughout, and node
/// 1's pfn, whenever it reads as device memory, as node 1's.
#[test]
fn shared_section_nids_against_a_second_nodes_add_and_remove() {
    model("shared nids", || {
        let map = booted();
        map.add_device(0, 128 * MIB, 2 * MIB).unwrap();
        let m2 = map.clone();
        let reader = thread::spawn(move || {
            let a = m2.pfn_info(Pfn(S1)).unwrap();
            assert_eq!((a.kind, a.nid), (PfnKind::Device, 0), "node 0's pfn");
            if let Ok(b) = m2.pfn_info(Pfn(S1 + 512)) {
                if b.kind == PfnKind::Device {
                    assert_eq!(b.nid, 1, "node 1's pfn");
                }
            }
        });
        map.add_device(1, 128 * MIB + 2 * MIB, 2 * MIB).unwrap();
        map.remove_device(128 * MIB + 2 * MIB, 2 * MIB).unwrap();
        reader.join().unwrap();
    });
}

/// Fake-offline marks come and go in boot RAM (a pool of one entry in this build, so
/// the entry is released and claimed again) while a reader asks about the other
/// sub-sections of the section: they are online throughout, and a marked one reads as
/// RAM whichever way the race goes.
#[test]
fn fake_offline_marks_against_a_reader() {
    model("fake-offline", || {
        let map = booted();
        let m2 = map.clone();
        let reader = thread::spawn(move || {
            assert!(m2.pfn_online(Pfn(0)), "an unmarked sub-section");
            let i = m2.pfn_info(Pfn(512)).unwrap();
            assert!(i.kind == PfnKind::Ram && i.valid, "torn pfn_info {i:?}");
            assert!(m2.pfn_online(Pfn(3 * 512)), "an unmarked sub-section");
        });
        map.fake_offline(2 * MIB, 2 * MIB).unwrap();
        map.fake_online(2 * MIB, 2 * MIB).unwrap();
        map.fake_offline(4 * MIB, 2 * MIB).unwrap();
        reader.join().unwrap();
        assert!(map.pfn_online(Pfn(512)) && !map.pfn_online(Pfn(2 * 512)));
    });
}

#[test]
fn t51_two_writers_add_disjoint_ranges_in_one_section() {
    model("disjoint writers", || {
        let map = booted();
        let m2 = map.clone();
        let other = thread::spawn(move || m2.add_device(0, 128 * MIB + 2 * MIB, 2 * MIB));
        let mine = map.add_device(0, 128 * MIB, 2 * MIB);
        assert_eq!((mine, other.join().unwrap()), (Ok(()), Ok(())));
        assert_eq!(
            map.section_info(sparsemem::SectionNr(1)).unwrap().active[0],
            0b11,
            "no lost bit"
        );
    });
}

#[test]
fn overlapping_writers_exactly_one_wins_and_the_loser_leaves_nothing() {
    model("overlapping writers", || {
        let map = booted();
        let m2 = map.clone();
        let other = thread::spawn(move || m2.add_device(0, 128 * MIB + 2 * MIB, 4 * MIB));
        let mine = map.add_device(0, 128 * MIB, 4 * MIB);
        let theirs = other.join().unwrap();
        let active = map.section_info(sparsemem::SectionNr(1)).unwrap().active[0];
        match (mine, theirs) {
            (Ok(()), Err(Error::Exist)) => assert_eq!(active, 0b11),
            (Err(Error::Exist), Ok(())) => assert_eq!(active, 0b110),
            other => panic!("exactly one must win: {other:?}"),
        }
    });
}

#[test]
fn online_racing_offline_of_the_same_block() {
    model("online vs offline", || {
        let map = booted();
        map.add_memory(0, 128 * MIB, 128 * MIB, &()).unwrap();
        let m2 = map.clone();
        let off = thread::spawn(move || m2.offline_block(BlockId(1), &()));
        let on = map.online_block(BlockId(1), OnlineType::Movable, &());
        let off = off.join().unwrap();
        let b = map.block_info(BlockId(1)).unwrap();
        let span = map.zone_span(0, sparsemem::Zone::Movable);
        assert_eq!(
            on,
            Ok(()),
            "the block starts offline and nothing else onlines it"
        );
        match off {
            Ok(()) => {
                assert_eq!(b.state, sparsemem::BlockState::Offline);
                assert_eq!(span, Err(Error::NoEnt));
            }
            Err(Error::Inval) | Err(Error::Busy) => {
                assert_eq!(b.state, sparsemem::BlockState::Online);
                assert_eq!(span.unwrap().present_pages, 32768);
            }
            Err(e) => panic!("unexpected {e:?}"),
        }
        assert_eq!(map.transitions_in_progress(), 0);
    });
}

#[test]
fn snapshot_racing_a_device_add_sees_all_or_nothing() {
    // The two possible answers, computed without concurrency.
    let bytes_of = |m: &SparseMap| {
        let mut b = vec![0u8; m.snapshot_bytes() + 64];
        let n = m.snapshot(&mut b).unwrap();
        b.truncate(n);
        b
    };
    model("snapshot vs add", move || {
        let map = booted();
        let before = bytes_of(&map);
        let m2 = map.clone();
        let writer =
            thread::spawn(move || m2.add_device(1, 128 * MIB + 126 * MIB, 4 * MIB).unwrap());
        let seen = bytes_of(&map);
        writer.join().unwrap();
        let after = bytes_of(&map);
        assert!(
            seen == before || seen == after,
            "a snapshot saw half of a device add"
        );
    });
}

/// A snapshot locks every section; a writer locks the sections of its range in
/// ascending order. The two must agree on one lock order even when the table's leaves
/// were handed out out of address order, and the snapshot must see the range whole.
#[test]
fn snapshot_against_a_writer_crossing_two_leaves_handed_out_in_descending_order() {
    // Boot RAM takes the leaf of sections 0.., the model two more.
    assert!(
        MAX_SECTIONS.div_ceil(SECTIONS_PER_LEAF) >= 3,
        "the loom build needs 3 table leaves (see LOOM_CAPACITY in the Makefile)"
    );
    let per_leaf = SECTIONS_PER_LEAF as u64;
    // The first sections of the lower and the higher leaf; the writer's range crosses
    // the boundary between them: the last sub-section of the lower leaf's last section
    // and the first sub-section of the higher leaf's first section.
    let (lower, higher) = (per_leaf, 2 * per_leaf);
    let boundary = higher * SECTION;
    let crossing = boundary - 2 * MIB;
    let bytes = |m: &SparseMap, len: usize| {
        let mut b = vec![0u8; len];
        let n = m
            .snapshot(&mut b)
            .expect("no block is in transition: a snapshot must succeed");
        b.truncate(n);
        b
    };
    model("snapshot vs leaf-crossing writer", move || {
        let map = booted();
        // The higher leaf is handed out first, then the lower one: in the leaf pool
        // (the order a snapshot locks sections in) they are in descending address
        // order, while writers lock ascending section numbers.
        map.add_device(0, higher * SECTION + 64 * MIB, 2 * MIB)
            .unwrap();
        map.add_device(0, lower * SECTION + 64 * MIB, 2 * MIB)
            .unwrap();
        // Room for the section the writer adds on top of the present ones.
        let len = map.snapshot_bytes() + 4096;
        let m2 = map.clone();
        let writer = thread::spawn(move || {
            m2.add_device(0, crossing, 4 * MIB).unwrap();
            m2.remove_device(crossing, 4 * MIB).unwrap();
        });
        let seen = bytes(&map, len);
        writer.join().unwrap();
        let copy = SparseMap::new_boxed(&cfg()).unwrap();
        copy.restore(&seen).unwrap();
        let below = copy.pfn_valid(Pfn(crossing >> 12));
        let above = copy.pfn_valid(Pfn(boundary >> 12));
        assert_eq!(
            below, above,
            "a snapshot saw half of a device range crossing two leaves"
        );
    });
}

/// A pfn that reads as valid RAM of a hot-added block has that block (its record and
/// nid), and one that reads as online has the zone it was onlined into.
#[test]
fn pfn_info_against_add_memory_and_online_movable() {
    model("pfn_info vs add_memory + online", || {
        let map = booted();
        let m2 = map.clone();
        let reader = thread::spawn(move || match m2.pfn_info(Pfn(S1)) {
            Ok(i) => {
                if i.valid {
                    assert_eq!(i.kind, PfnKind::Ram, "torn pfn_info {i:?}");
                    assert_eq!(
                        i.nid, 1,
                        "a valid pfn of the new block without its nid: {i:?}"
                    );
                    assert!(
                        i.block_state.is_some(),
                        "a valid pfn of the new block without its block: {i:?}"
                    );
                }
                if i.online {
                    assert_eq!(
                        i.zone,
                        Zone::Movable,
                        "an online pfn of a block onlined movable: {i:?}"
                    );
                    assert_eq!(i.block_state, Some(BlockState::Online), "torn: {i:?}");
                } else if i.valid {
                    assert_eq!(i.zone, Zone::None, "an offline pfn with a zone: {i:?}");
                    assert!(
                        matches!(
                            i.block_state,
                            Some(BlockState::Offline | BlockState::GoingOnline)
                        ),
                        "an offline pfn of a block that is online: {i:?}"
                    );
                }
                assert_eq!(
                    i.section_flags.contains(SectionFlags::ONLINE),
                    i.online,
                    "section ONLINE and the pfn's answer disagree: {i:?}"
                );
            }
            Err(e) => assert_eq!(e, Error::NoEnt),
        });
        map.add_memory(1, SECTION, SECTION, &()).unwrap();
        map.online_block(BlockId(1), OnlineType::Movable, &())
            .unwrap();
        reader.join().unwrap();
    });
}

/// The sub-section fast path against the exclusive path on one section: a fast writer
/// adds and removes its sub-section (the section is present, tainted, of its node, and
/// the span covers it), while another writer removes the section's other device
/// memory, which is the last of it (exclusive: the section goes absent) or not (fast),
/// depending on the interleaving; a reader checks the fast writer's pfn meanwhile. No
/// interleaving may leave the section present and empty, lose a state, or show the
/// reader a device pfn without its node.
#[test]
fn fast_subsection_writers_against_the_exclusive_path() {
    model("fast vs exclusive writers", || {
        let map = booted();
        let (a, b) = (SECTION, SECTION + 2 * MIB);
        // The span of node 0 covers both; the section holds device memory at `a` only.
        map.add_device(0, a, 4 * MIB).unwrap();
        map.remove_device(b, 2 * MIB).unwrap();
        let (m2, m3) = (map.clone(), map.clone());
        let fast = thread::spawn(move || {
            m2.add_device(0, b, 2 * MIB).unwrap();
            m2.remove_device(b, 2 * MIB).unwrap();
        });
        let reader = thread::spawn(move || {
            if let Ok(i) = m3.pfn_info(Pfn(b >> 12)) {
                if i.kind == PfnKind::Device {
                    assert_eq!((i.nid, i.zone, i.valid), (0, Zone::Device, true), "{i:?}");
                }
            }
        });
        map.remove_device(a, 2 * MIB).unwrap();
        fast.join().unwrap();
        reader.join().unwrap();
        assert_eq!(
            map.section_info(sparsemem::SectionNr(1)),
            Err(Error::NoEnt),
            "every sub-section is gone: the section must be absent"
        );
        // The count of device sub-sections is right: both can be added and removed
        // again, and the section goes absent again.
        map.add_device(0, a, 4 * MIB).unwrap();
        map.remove_device(a, 2 * MIB).unwrap();
        map.remove_device(b, 2 * MIB).unwrap();
        assert_eq!(map.section_info(sparsemem::SectionNr(1)), Err(Error::NoEnt));
    });
}

/// The table's own `pfn_valid` answer (`pfn_info` reads the table, never the flat
/// valid bitmap that `pfn_valid` reads in the loom build's first 16 sections).
fn table_valid(map: &SparseMap, p: Pfn) -> bool {
    map.pfn_info(p).is_ok_and(|i| i.valid)
}

/// Against an add, the bitmap is set after the table: a reader that sees the bit and
/// then asks the table finds the pfn valid there too.
fn bit_implies_table_after(map: &SparseMap, p: Pfn) {
    let bit = map.pfn_valid(p);
    assert!(
        !bit || table_valid(map, p),
        "{p}: the bit set before the table"
    );
}

/// Against a removal, the bitmap is cleared before the table: a reader that finds the
/// pfn gone from the table and then asks the bitmap finds it gone there too.
fn table_gone_implies_bit_gone(map: &SparseMap, p: Pfn) {
    let table = table_valid(map, p);
    assert!(
        table || !map.pfn_valid(p),
        "{p}: the bit cleared after the table"
    );
}

/// The flat valid bitmap against the exclusive device path (section/flat.rs): the
/// first add of a section sets the bit after the table, the removal of its last
/// sub-section clears it before; a call that returned is seen by the bitmap.
#[test]
fn flat_bitmap_against_the_first_add_and_the_last_removal_of_a_section() {
    model("flat bitmap vs exclusive add", || {
        let map = booted();
        let m2 = map.clone();
        let reader = thread::spawn(move || bit_implies_table_after(&m2, Pfn(S1)));
        map.add_device(0, 128 * MIB, 2 * MIB).unwrap();
        reader.join().unwrap();
        assert!(map.pfn_valid(Pfn(S1)));
    });
    model("flat bitmap vs exclusive remove", || {
        let map = booted();
        map.add_device(0, 128 * MIB, 2 * MIB).unwrap();
        let m2 = map.clone();
        let reader = thread::spawn(move || table_gone_implies_bit_gone(&m2, Pfn(S1)));
        map.remove_device(128 * MIB, 2 * MIB).unwrap();
        reader.join().unwrap();
        assert!(!map.pfn_valid(Pfn(S1)));
    });
}

/// The flat valid bitmap against the sub-section fast path: a fast add sets the bit
/// after its states; two removers race for one sub-section, and only the one whose
/// claim of the bits wins clears them (before its states); the loser clears nothing,
/// so the neighbouring sub-section that stays reads valid throughout.
#[test]
fn flat_bitmap_against_the_fast_path_and_racing_removers() {
    // Section 1 holds device memory at `a` and the sub-section after `b` (both stay,
    // so both removers of `b` may take the fast path), and node 0's span covers `b`.
    let setup = || {
        let map = booted();
        map.add_device(0, SECTION, 6 * MIB).unwrap();
        map
    };
    let (a, b) = (Pfn(S1), Pfn(S1 + 512));
    model("flat bitmap vs fast add", move || {
        let map = setup();
        map.remove_device(SECTION + 2 * MIB, 2 * MIB).unwrap();
        let m2 = map.clone();
        let reader = thread::spawn(move || bit_implies_table_after(&m2, b));
        map.add_device(0, SECTION + 2 * MIB, 2 * MIB).unwrap();
        reader.join().unwrap();
        assert!(map.pfn_valid(b) && map.pfn_valid(a));
    });
    model("flat bitmap vs racing fast removers", move || {
        let map = setup();
        let (m2, m3) = (map.clone(), map.clone());
        let other = thread::spawn(move || m2.remove_device(SECTION + 2 * MIB, 2 * MIB));
        let reader = thread::spawn(move || {
            table_gone_implies_bit_gone(&m3, b);
            assert!(m3.pfn_valid(a), "a sub-section no one removes read invalid");
        });
        let mine = map.remove_device(SECTION + 2 * MIB, 2 * MIB);
        let theirs = other.join().unwrap();
        reader.join().unwrap();
        assert!(
            mine.is_ok() != theirs.is_ok(),
            "exactly one remover wins: {mine:?} {theirs:?}"
        );
        assert!(!map.pfn_valid(b) && !table_valid(&map, b));
        assert!(map.pfn_valid(a) && table_valid(&map, a));
    });
}

/// The table's own `pfn_online` answer (`pfn_info` never reads the flat bitmaps).
fn table_online(map: &SparseMap, p: Pfn) -> bool {
    map.pfn_info(p).is_ok_and(|i| i.online)
}

/// The flat online bitmap (section/flat_online.rs) against the writers that take pages
/// out of use and put them back: a fake-offline mark and a block's offline clear the
/// bits before the table stops answering online, an online sets them after. In each
/// model the pages change one way only, so a reader that asks the bitmap, the table
/// and the bitmap again must see the answers change at most once, in that direction.
#[test]
fn flat_online_against_offline_and_fake_offline() {
    // Block 1 (section 1) hot-added; `marked` is in the sub-section the mark takes,
    // `other` in one only the offline takes.
    let (marked, other) = (Pfn(S1 + 512), Pfn(S1 + 2 * 512));
    let going = |map: &SparseMap, p: Pfn| {
        let (first, table, second) = (map.pfn_online(p), table_online(map, p), map.pfn_online(p));
        assert!(first || !table, "{p}: offline, then online in the table");
        assert!(table || !second, "{p}: the bit cleared after the table");
    };
    let online_block = || {
        let map = booted();
        map.add_memory(0, SECTION, SECTION, &()).unwrap();
        map.online_block(BlockId(1), OnlineType::Movable, &())
            .unwrap();
        map
    };
    model("flat online vs fake-offline", move || {
        let map = online_block();
        let m2 = map.clone();
        let reader = thread::spawn(move || going(&m2, marked));
        map.fake_offline(SECTION + 2 * MIB, 2 * MIB).unwrap();
        reader.join().unwrap();
        assert!(!map.pfn_online(marked) && map.pfn_online(other));
    });
    model("flat online vs offline", move || {
        let map = online_block();
        let m2 = map.clone();
        let reader = thread::spawn(move || going(&m2, other));
        map.offline_block(BlockId(1), &()).unwrap();
        reader.join().unwrap();
        assert!(!map.pfn_online(other));
    });
    model("flat online vs online", move || {
        let map = booted();
        map.add_memory(0, SECTION, SECTION, &()).unwrap();
        let m2 = map.clone();
        let reader = thread::spawn(move || {
            let (first, table, second) = (
                m2.pfn_online(other),
                table_online(&m2, other),
                m2.pfn_online(other),
            );
            assert!(!first || table, "the bit set before the table");
            assert!(!table || second, "online in the table, then the bit gone");
        });
        map.online_block(BlockId(1), OnlineType::Movable, &())
            .unwrap();
        reader.join().unwrap();
        assert!(map.pfn_online(other) && map.pfn_online(marked));
    });
}
