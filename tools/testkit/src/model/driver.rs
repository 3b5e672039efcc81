//! The differential driver: draws operations from a [`Source`], applies each to
//! sparsemem and to the [`Model`], and compares every return code (the model derives a
//! veto's own) and, after every step, every block with its flags and present pages,
//! every section's masks, the statistics, the whole range export, every zone span of
//! nodes 0-2 and a sample of pfn answers. Used by
//! core/tests/differential.rs (seeded generator) and by the cargo-fuzz target
//! fuzz/fuzz_targets/differential.rs (libFuzzer's bytes). A run can also write
//! its trace: every operation with the model's return code, and every expected answer
//! of the comparisons, which c-tests/test_differential.c replays through libsparsemem.

use std::cell::Cell;
use std::fmt::Write;

use super::{Kind, Model, OnlineKind, State, BLOCK, BOOT_RAM, NR_BLOCKS, PAGES_PER_BLOCK, SUB};
use crate::machines::{GIB, MIB};
use crate::seeds::Source;
use sparsemem::{
    BlockId, BlockState, Config, Error, MemEvent, OnlineType, Pfn, PfnKind, SectionNr, SparseMap,
    Zone,
};

/// The operations the driver draws from.
#[derive(Debug, Clone, Copy)]
enum Op {
    AddMemory {
        nid: i32,
        start: u64,
        size: u64,
    },
    RemoveMemory {
        start: u64,
        size: u64,
    },
    OfflineAndRemove {
        start: u64,
        size: u64,
        veto: i32,
    },
    Online {
        id: u64,
        kind: OnlineKind,
        veto: i32,
    },
    Offline {
        id: u64,
        veto: i32,
    },
    AddDevice {
        nid: i32,
        start: u64,
        size: u64,
    },
    RemoveDevice {
        start: u64,
        size: u64,
    },
    SnapshotRestore,
}

fn nid(r: &mut impl Source) -> i32 {
    [0, 0, 1, 1, 2, -1, 64][r.below(7) as usize]
}

/// A block-granular range, now and then misaligned or empty.
fn blocks(r: &mut impl Source) -> (u64, u64) {
    let start = r.below(NR_BLOCKS) * BLOCK;
    let size = (1 + r.below(3)).min(NR_BLOCKS - start / BLOCK) * BLOCK;
    match r.below(20) {
        0 => (start + MIB, size),
        1 => (start, 0),
        2 => (start, size - 4096),
        _ => (start, size),
    }
}

/// A sub-section range, mostly above boot RAM (sometimes in the hole of block 23's early
/// section), now and then misaligned or empty.
fn subs(r: &mut impl Source) -> (u64, u64) {
    let start = match r.below(4) {
        0 => r.below(8 * GIB / SUB) * SUB,
        // The hole of block 23's early section, beside its RAM.
        1 => 3 * GIB - 64 * MIB + r.below(32) * SUB,
        _ => (3 * GIB / SUB + r.below(5 * GIB / SUB)) * SUB,
    };
    let size = ((1 + r.below(8)) * SUB).min(8 * GIB - start);
    match r.below(20) {
        0 => (start + 4096, size),
        1 => (start, 0),
        _ => (start, size),
    }
}

/// A notifier answer: mostly none, sometimes -EBUSY, sometimes a bare positive value.
fn veto(r: &mut impl Source) -> i32 {
    match r.below(10) {
        0 => -16,
        1 => 1,
        _ => 0,
    }
}

fn draw(r: &mut impl Source, m: &Model) -> Op {
    match r.below(16) {
        0..=2 => {
            let (start, size) = blocks(r);
            Op::AddMemory {
                nid: nid(r),
                start,
                size,
            }
        }
        3 => {
            let (start, size) = blocks(r);
            Op::RemoveMemory { start, size }
        }
        4 => {
            let (start, size) = blocks(r);
            Op::OfflineAndRemove {
                start,
                size,
                veto: veto(r),
            }
        }
        5..=7 => {
            let kind =
                [OnlineKind::Online, OnlineKind::Kernel, OnlineKind::Movable][r.below(3) as usize];
            Op::Online {
                id: r.below(NR_BLOCKS),
                kind,
                veto: veto(r),
            }
        }
        8..=9 => Op::Offline {
            id: r.below(NR_BLOCKS),
            veto: veto(r),
        },
        10..=11 => {
            let (start, size) = subs(r);
            Op::AddDevice {
                nid: nid(r),
                start,
                size,
            }
        }
        12..=13 => {
            // Mostly a part of what is there, so that removals succeed.
            let keys: Vec<u64> = m.device.keys().copied().collect();
            if keys.is_empty() || r.below(4) == 0 {
                let (start, size) = subs(r);
                Op::RemoveDevice { start, size }
            } else {
                let s = keys[r.below(keys.len() as u64) as usize];
                Op::RemoveDevice {
                    start: s * SUB,
                    size: (1 + r.below(3)) * SUB,
                }
            }
        }
        14 => Op::SnapshotRestore,
        _ => Op::Offline {
            id: r.below(24),
            veto: 0,
        },
    }
}

/// Linux's sysfs `state` word for each online type.
fn online_word(kind: OnlineKind) -> &'static str {
    match kind {
        OnlineKind::Online => "online",
        OnlineKind::Kernel => "online_kernel",
        OnlineKind::Movable => "online_movable",
    }
}

/// The trace line of an operation (without its result).
fn trace_op(op: Op) -> String {
    match op {
        Op::AddMemory { nid, start, size } => format!("add_memory {nid} {start:#x} {size:#x}"),
        Op::RemoveMemory { start, size } => format!("remove_memory {start:#x} {size:#x}"),
        Op::OfflineAndRemove { start, size, veto } => {
            format!("offline_and_remove {start:#x} {size:#x} {veto}")
        }
        Op::Online { id, kind, veto } => format!("online {id} {} {veto}", online_word(kind)),
        Op::Offline { id, veto } => format!("offline {id} {veto}"),
        Op::AddDevice { nid, start, size } => format!("add_device {nid} {start:#x} {size:#x}"),
        Op::RemoveDevice { start, size } => format!("remove_device {start:#x} {size:#x}"),
        Op::SnapshotRestore => "snapshot_restore".to_string(),
    }
}

/// The C return code of a result.
fn rc(r: Result<(), Error>) -> i32 {
    r.err().map_or(0, Error::errno)
}

/// Applies one operation to both; returns (map's result, model's result).
fn apply(
    map: &mut Box<SparseMap>,
    m: &mut Model,
    op: Op,
) -> (Result<(), Error>, Result<(), Error>) {
    let answer = Cell::new(0);
    let notifier = |ev: MemEvent, _: &sparsemem::BlockInfo| match ev {
        MemEvent::GoingOnline | MemEvent::GoingOffline => answer.get(),
        _ => 0,
    };
    match op {
        Op::AddMemory { nid, start, size } => (
            map.add_memory(nid, start, size, &notifier),
            m.add_memory(nid, start, size),
        ),
        Op::RemoveMemory { start, size } => {
            (map.remove_memory(start, size), m.remove_memory(start, size))
        }
        Op::OfflineAndRemove { start, size, veto } => {
            answer.set(veto);
            (
                map.offline_and_remove_memory(start, size, &notifier),
                m.offline_and_remove_memory(start, size, veto),
            )
        }
        Op::Online { id, kind, veto } => {
            answer.set(veto);
            let ty = match kind {
                OnlineKind::Online => OnlineType::Online,
                OnlineKind::Kernel => OnlineType::Kernel,
                OnlineKind::Movable => OnlineType::Movable,
            };
            (
                map.online_block(BlockId(id), ty, &notifier),
                m.online_block(id, kind, veto),
            )
        }
        Op::Offline { id, veto } => {
            answer.set(veto);
            (
                map.offline_block(BlockId(id), &notifier),
                m.offline_block(id, veto),
            )
        }
        Op::AddDevice { nid, start, size } => (
            map.add_device(nid, start, size),
            m.add_device(nid, start, size),
        ),
        Op::RemoveDevice { start, size } => {
            (map.remove_device(start, size), m.remove_device(start, size))
        }
        Op::SnapshotRestore => {
            let mut buf = vec![0u8; map.snapshot_bytes()];
            let n = map.snapshot(&mut buf).unwrap();
            let fresh = SparseMap::new_boxed(&map.config()).unwrap();
            fresh.restore(&buf[..n]).unwrap();
            let mut again = vec![0u8; fresh.snapshot_bytes()];
            let k = fresh.snapshot(&mut again).unwrap();
            assert_eq!(
                buf[..n],
                again[..k],
                "snapshot -> restore -> snapshot differs"
            );
            *map = fresh;
            (Ok(()), Ok(()))
        }
    }
}

/// Every block, every zone span of nodes 0-2, and `samples` pfn answers; with a trace,
/// also writes the model's answer to each as a check line.
fn compare(
    map: &SparseMap,
    m: &Model,
    r: &mut impl Source,
    samples: usize,
    mut trace: Option<&mut String>,
) -> Result<(), String> {
    for id in 0..NR_BLOCKS {
        let got = map.block_info(BlockId(id));
        let want = m.blocks.get(&id);
        if let Some(t) = trace.as_deref_mut() {
            match want {
                None => writeln!(t, "block {id} absent"),
                Some(w) => {
                    let (state, zone) = match w.state {
                        State::Online(z) => ("online", z),
                        State::Offline => ("offline", Zone::None),
                    };
                    let vz = m.valid_zones(id).unwrap_or_default();
                    writeln!(t, "block {id} {} {state} {zone} {vz}", w.nid)
                }
            }
            .unwrap();
        }
        match (got, want) {
            (Err(Error::NoEnt), None) => {}
            (Ok(b), Some(w)) => {
                let state = match w.state {
                    State::Online(_) => BlockState::Online,
                    State::Offline => BlockState::Offline,
                };
                let zone = match w.state {
                    State::Online(z) => z,
                    State::Offline => Zone::None,
                };
                if (b.nid, b.state, b.zone) != (w.nid, state, zone) {
                    return Err(format!(
                        "block {id}: map {:?} {:?} {:?}, model {w:?}",
                        b.nid, b.state, b.zone
                    ));
                }
                let want = (m.block_flags(id), m.block_present_pages(id));
                if (b.flags, b.present_pages) != want {
                    return Err(format!(
                        "block {id} flags, present pages: map {:?} {}, model {want:?}",
                        b.flags, b.present_pages
                    ));
                }
                let vz = map.valid_zones(BlockId(id)).unwrap().to_string();
                if Some(&vz) != m.valid_zones(id).as_ref() {
                    return Err(format!(
                        "block {id} valid_zones: map {vz:?}, model {:?}",
                        m.valid_zones(id)
                    ));
                }
            }
            (got, want) => return Err(format!("block {id}: map {got:?}, model {want:?}")),
        }
    }
    for nid in 0..3 {
        for zone in [
            Zone::Dma,
            Zone::Dma32,
            Zone::Normal,
            Zone::Movable,
            Zone::Device,
        ] {
            let got = map
                .zone_span(nid, zone)
                .ok()
                .map(|s| (s.start.0, s.end.0, s.present_pages));
            let want = m.zone_span(nid, zone);
            if let Some(t) = trace.as_deref_mut() {
                match want {
                    None => writeln!(t, "span {nid} {zone} absent"),
                    Some((start, end, present)) => {
                        writeln!(t, "span {nid} {zone} {start:#x} {end:#x} {present}")
                    }
                }
                .unwrap();
            }
            if got != want {
                return Err(format!(
                    "node {nid} {zone:?} span: map {got:x?}, model {want:x?}"
                ));
            }
        }
    }
    compare_sections_and_ranges(map, m)?;
    for _ in 0..samples {
        let pfn = r.below(NR_BLOCKS * PAGES_PER_BLOCK);
        let p = Pfn(pfn);
        let kind = match m.kind(pfn) {
            Kind::Hole => PfnKind::Hole,
            Kind::Ram => PfnKind::Ram,
            Kind::Device => PfnKind::Device,
        };
        let want = (
            m.pfn_valid(pfn),
            m.pfn_online(pfn),
            kind,
            m.pfn_nid(pfn),
            m.pfn_zone(pfn),
        );
        if let Some(t) = trace.as_deref_mut() {
            let (valid, online, kind, nid, zone) = want;
            let kind = match kind {
                PfnKind::Hole => "hole",
                PfnKind::Ram => "ram",
                PfnKind::Device => "device",
            };
            let (valid, online) = (u8::from(valid), u8::from(online));
            writeln!(t, "pfn {pfn:#x} {valid} {online} {kind} {nid} {zone}").unwrap();
        }
        let got = (
            map.pfn_valid(p),
            map.pfn_online(p),
            map.pfn_info(p).map_or(PfnKind::Hole, |i| i.kind),
            map.pfn_info(p).map_or(-1, |i| i.nid),
            map.pfn_info(p).map_or(Zone::None, |i| i.zone),
        );
        if got != want {
            return Err(format!("pfn {pfn:#x}: map {got:?}, model {want:?}"));
        }
    }
    Ok(())
}

/// Every section's masks, the statistics and the whole range export.
fn compare_sections_and_ranges(map: &SparseMap, m: &Model) -> Result<(), String> {
    for nr in 0..NR_BLOCKS {
        let got = map
            .section_info(SectionNr(nr))
            .ok()
            .map(|i| (i.active[0], i.device[0]));
        let want = m.section_masks(nr);
        if got != want {
            return Err(format!("section {nr} masks: map {got:x?}, model {want:x?}"));
        }
    }
    let got = map.stats();
    let want = m.stats();
    if got != want {
        return Err(format!("stats: map {got:?}, model {want:?}"));
    }
    let mut got = Vec::new();
    let _ = map.for_each_range(|r| {
        got.push((r.start.0 >> 12, (r.start.0 + r.size) >> 12, r.nid, r.kind));
        std::ops::ControlFlow::<()>::Continue(())
    });
    let want = m.ranges();
    if got != want {
        return Err(format!("ranges: map {got:x?}, model {want:x?}"));
    }
    Ok(())
}

/// One sequence; Err describes the first difference.
pub fn run_case(r: &mut impl Source, steps: usize) -> Result<usize, String> {
    run(r, steps, None)
}

/// One sequence that also writes its trace for the C driver (c-tests/test_differential.c):
/// `boot`, then per step the operation with the model's return code (`op args = rc`)
/// and the check lines of the comparison after it.
pub fn run_case_traced(
    r: &mut impl Source,
    steps: usize,
    trace: &mut String,
) -> Result<usize, String> {
    run(r, steps, Some(trace))
}

fn run(r: &mut impl Source, steps: usize, mut trace: Option<&mut String>) -> Result<usize, String> {
    let verbose = std::env::var_os("DIFF_TRACE").is_some();
    let movable_node = r.below(4) == 0;
    let mut map = SparseMap::new_boxed(&Config {
        movable_node,
        ..Config::x86_64()
    })
    .unwrap();
    for (nid, start, size) in BOOT_RAM {
        map.boot_add_ram(nid, start, size).unwrap();
    }
    map.boot_finish().unwrap();
    let mut m = Model::boot(movable_node);
    if let Some(t) = trace.as_deref_mut() {
        writeln!(t, "boot {}", u8::from(movable_node)).unwrap();
    }
    compare(&map, &m, r, 64, trace.as_deref_mut()).map_err(|e| format!("after boot: {e}"))?;
    let mut ok = 0;
    for step in 0..steps {
        let op = draw(r, &m);
        let (got, want) = apply(&mut map, &mut m, op);
        if verbose {
            eprintln!("{step}: {op:x?} -> {got:?}");
        }
        if let Some(t) = trace.as_deref_mut() {
            writeln!(t, "{} = {}", trace_op(op), rc(want)).unwrap();
        }
        // Return codes, as C sees them (the model names a veto's errno its own way).
        if rc(got) != rc(want) {
            return Err(format!("step {step} {op:?}: map {got:?}, model {want:?}"));
        }
        ok += usize::from(got.is_ok());
        compare(&map, &m, r, 24, trace.as_deref_mut())
            .map_err(|e| format!("after step {step} {op:?}: {e}"))?;
    }
    Ok(ok)
}
