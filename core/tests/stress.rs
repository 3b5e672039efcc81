//! Multi-threaded stress (issue 5): readers check invariants while writers churn
//! device sub-sections and memory blocks. Bounded in time and iterations; not a timed
//! test (it asserts invariants, never speed). Under Miri it runs a few iterations, so
//! that Miri's data-race detector sees real reader/writer interleavings.

mod common;
use common::*;
use sparsemem::{BlockId, OnlineType, Pfn, PfnKind, SparseMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A pfn whose add has completed and whose removal has not started, tagged with a
/// generation so that a reader can tell "the same publication" from a new one.
struct Published(AtomicU64);

impl Published {
    const NONE: u64 = 0;
    /// generation << 40 | pfn (pfns here are < 2^40).
    fn set(&self, gen: u64, pfn: Option<u64>) {
        self.0
            .store(pfn.map_or(Self::NONE, |p| gen << 40 | p), Ordering::SeqCst);
    }
    fn get(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

fn check_pfn(map: &SparseMap, p: Pfn) {
    let valid = map.pfn_valid(p);
    let online = map.pfn_online(p);
    // online ⇒ valid (each call is linearizable, and nothing offlines boot RAM here).
    if let Ok(i) = map.pfn_info(p) {
        assert!(i.section_flags.contains(sparsemem::SectionFlags::PRESENT));
        assert!(
            !i.valid || i.section_flags.contains(sparsemem::SectionFlags::VALID),
            "valid ⇒ present: {i:?}"
        );
        assert!(
            !i.online || (i.valid && i.kind == PfnKind::Ram),
            "online ⇒ valid ∧ RAM: {i:?}"
        );
        assert!(
            !(i.kind == PfnKind::Device && i.online),
            "a device pfn online: {i:?}"
        );
    }
    let _ = (valid, online);
}

#[test]
fn readers_see_only_possible_answers_while_writers_churn() {
    let map: Arc<Box<SparseMap>> = Arc::new(machine());
    let stop = Arc::new(AtomicBool::new(false));
    let device_pub = Arc::new(Published(AtomicU64::new(0)));
    let ram_pub = Arc::new(Published(AtomicU64::new(0)));
    let deadline = Instant::now() + Duration::from_millis(if cfg!(miri) { 0 } else { 1500 });
    let max_gen: u64 = if cfg!(miri) { 6 } else { 200_000 };
    let pfns: u64 = if cfg!(miri) { 2 } else { 64 };
    let mut handles = Vec::new();

    // Writer 1: device sub-sections in sections 40..44, added and removed in turn.
    {
        let (map, stop, publ) = (map.clone(), stop.clone(), device_pub.clone());
        handles.push(std::thread::spawn(move || {
            let mut gen = 1u64;
            while !stop.load(Ordering::Relaxed) && gen < max_gen {
                let sub = gen % 256;
                let start = sa(40) + sub * 2 * MIB;
                map.add_device(1, start, 2 * MIB).unwrap();
                publ.set(gen, Some(start >> 12));
                gen += 1;
                publ.set(gen, None);
                map.remove_device(start, 2 * MIB).unwrap();
                gen += 1;
            }
            gen
        }));
    }
    // Writer 2: a DIMM at 4 GiB added, onlined, offlined, removed.
    {
        let (map, stop, publ) = (map.clone(), stop.clone(), ram_pub.clone());
        handles.push(std::thread::spawn(move || {
            let mut gen = 1u64;
            while !stop.load(Ordering::Relaxed) && gen < max_gen {
                map.add_memory(1, 4 * GIB, 256 * MIB, &()).unwrap();
                publ.set(gen, Some(((4 * GIB) >> 12) + gen % 65536));
                map.online_block(BlockId(32 + gen % 2), OnlineType::Movable, &())
                    .unwrap();
                map.offline_block(BlockId(32 + gen % 2), &()).unwrap();
                gen += 1;
                publ.set(gen, None);
                map.remove_memory(4 * GIB, 256 * MIB).unwrap();
                gen += 1;
            }
            gen
        }));
    }
    // Readers.
    for r in 0..2u64 {
        let (map, stop) = (map.clone(), stop.clone());
        let pubs = [device_pub.clone(), ram_pub.clone()];
        handles.push(std::thread::spawn(move || {
            let mut checks = 0u64;
            let boot_ram = Pfn((GIB >> 12) + r);
            let never = Pfn(s(100) + 7);
            while !stop.load(Ordering::Relaxed) || (cfg!(miri) && checks < 3) {
                // Boot RAM stays valid and online; an untouched section stays invalid.
                assert!(map.pfn_valid(boot_ram) && map.pfn_online(boot_ram));
                assert!(!map.pfn_valid(never));
                for p in &pubs {
                    let before = p.get();
                    if before == Published::NONE {
                        continue;
                    }
                    let pfn = Pfn(before & ((1 << 40) - 1));
                    let valid = map.pfn_valid(pfn);
                    // Still the same publication: the add completed before our call
                    // and the removal had not started, so the pfn must be valid.
                    if p.get() == before {
                        assert!(valid, "{pfn} published but not valid");
                    }
                    check_pfn(&map, pfn);
                }
                for k in 0..pfns {
                    check_pfn(&map, Pfn(s(40) + k * 4 * SUB + r));
                    check_pfn(&map, Pfn(s(32) + k * 1024));
                }
                checks += 1;
            }
            checks
        }));
    }
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    if cfg!(miri) {
        // Let the writers finish their few iterations before the readers stop.
        for h in &handles[..2] {
            while !h.is_finished() {
                std::thread::yield_now();
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    let counts: Vec<u64> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    println!(
        "writer generations {:?}, reader rounds {:?}",
        &counts[..2],
        &counts[2..]
    );
    assert!(
        counts.iter().all(|c| *c > 1),
        "every thread made progress: {counts:?}"
    );
}
