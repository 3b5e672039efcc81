//! Multi-threaded stress (issue 5): readers check invariants while writers churn
//! device sub-sections and memory blocks, a snapshotter snapshots and restores the
//! churning map, and a watchdog turns a deadlock into a failure naming the stuck
//! threads. It checks the promises of docs/semantics.md, "Concurrency":
//!
//! - a snapshot racing device and block operations never deadlocks, even against a
//!   device range that crosses two table leaves handed out in descending address order,
//!   and every snapshot it takes restores into a map of the same configuration;
//! - `pfn_info` is a per-pfn answer: all its fields come from one state of the map (a
//!   valid pfn of a hot-added block reports that block's node and state; an online pfn
//!   reports the zone its block is being onlined to);
//! - everything a call did is visible to a query that starts after it returned.
//!
//! Bounded in time (`STRESS_MILLIS`, default 2000) and iterations; not a timed test (it
//! asserts invariants, never speed). The watchdog gives each thread
//! `STRESS_WATCHDOG_SECS` (default 5) to make progress; a thread that makes none is
//! reported and the process exits, since a deadlocked thread can never be joined. Under
//! Miri it runs a few iterations, so that Miri's data-race detector sees real
//! reader/writer interleavings.

use sparsemem::{
    BlockId, BlockState, Error, OnlineType, Pfn, PfnInfo, PfnKind, Result, SparseMap, Zone,
};
use sparsemem_testkit::flat::{assert_agrees, first_disagreement};
use sparsemem_testkit::machines::{machine, s, sa, GIB, MIB, SEC, SUB};
use sparsemem_testkit::seeds::env_u64;
use std::io::Write;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
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

// ---------------------------------------------------------------------------------
// The field block: one block that a writer adds, onlines to Movable, offlines and
// removes in a loop, announcing each step; readers judge every `pfn_info` field
// against the steps that overlapped their call.

/// The field block: 128 MiB at 8 GiB (section and block 64), node 1. Nothing else in
/// this test touches sections 64..65.
const FIELD_NID: i32 = 1;
const FIELD_START: u64 = 8 * GIB;
const FIELD_SIZE: u64 = 128 * MIB;
const FIELD_BLOCK: BlockId = BlockId(64);
/// Pfns of the field block the readers ask about: first, middle, last.
const FIELD_PFNS: [u64; 3] = [64 * SEC, 64 * SEC + SEC / 2 + 1, 65 * SEC - 1];

/// The writer's steps, in order: step `seq` of the writer is `CYCLE[seq % 8]`. The
/// writer bumps its sequence number before and after each call, so a reader that
/// loads it before and after its query knows every call its query may overlap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    /// Settled: no block.
    Removed,
    /// `add_memory` in flight.
    Adding,
    /// Settled: the block exists, offline.
    Added,
    /// `online_block(Movable)` in flight.
    Onlining,
    /// Settled: the block is online in Movable.
    Online,
    /// `offline_block` in flight.
    Offlining,
    /// Settled: the block is offline again.
    Offline,
    /// `remove_memory` in flight.
    Removing,
}

const CYCLE: [Step; 8] = [
    Step::Removed,
    Step::Adding,
    Step::Added,
    Step::Onlining,
    Step::Online,
    Step::Offlining,
    Step::Offline,
    Step::Removing,
];

impl Step {
    fn of(seq: u64) -> Step {
        CYCLE[(seq % 8) as usize]
    }
    fn in_flight(self) -> bool {
        matches!(
            self,
            Step::Adding | Step::Onlining | Step::Offlining | Step::Removing
        )
    }
    fn describe(self) -> &'static str {
        match self {
            Step::Adding => "add_memory(nid 1, 8 GiB, 128 MiB)",
            Step::Onlining => "online_block(64, Movable)",
            Step::Offlining => "offline_block(64)",
            Step::Removing => "remove_memory(8 GiB, 128 MiB)",
            Step::Removed => "none (block removed)",
            Step::Added => "none (block added, offline)",
            Step::Online => "none (block online in Movable)",
            Step::Offline => "none (block offlined)",
        }
    }
}

/// The writer steps that a query may have overlapped, given the sequence numbers it
/// loaded before (`before`) and after (`after`) it.
fn steps(before: u64, after: u64) -> Vec<Step> {
    // A whole cycle or more: anything may have happened.
    let after = after.min(before + 8);
    (before..=after).map(Step::of).collect()
}

fn describe_steps(steps: &[Step]) -> String {
    if steps.len() > 8 {
        return "a whole add/online/offline/remove cycle (the query was descheduled)".into();
    }
    let busy: Vec<&str> = steps
        .iter()
        .filter(|s| s.in_flight())
        .map(|s| s.describe())
        .collect();
    if busy.is_empty() {
        steps[0].describe().to_string()
    } else {
        busy.join(" then ")
    }
}

/// The field of a `pfn_info` answer about a field-block pfn that no single state of
/// the map can produce, if any: (field, what is wrong with it). True in every state:
/// the block is only ever onlined to Movable, on node 1.
fn wrong_field(i: &PfnInfo) -> Option<(&'static str, String)> {
    if i.valid && i.nid != FIELD_NID {
        return Some((
            "nid",
            format!(
                "nid = {}, expected {FIELD_NID}: the pfn is valid, so its block exists",
                i.nid
            ),
        ));
    }
    if i.valid && i.block_state.is_none() {
        return Some((
            "block_state",
            "block_state = None, expected Some(_): the pfn is valid, so its block exists"
                .to_string(),
        ));
    }
    if i.online && i.zone != Zone::Movable {
        return Some((
            "zone",
            format!(
                "zone = {:?} for an online pfn, expected Movable (the only zone this \
                 block is ever onlined to)",
                i.zone
            ),
        ));
    }
    if i.online
        && !matches!(
            i.block_state,
            Some(BlockState::Online | BlockState::GoingOffline)
        )
    {
        return Some((
            "block_state",
            format!(
                "block_state = {:?} for an online pfn, expected Online or GoingOffline",
                i.block_state
            ),
        ));
    }
    if i.kind == PfnKind::Ram && !i.online && i.zone != Zone::None {
        return Some((
            "zone",
            format!("zone = {:?} for an offline RAM pfn, expected None", i.zone),
        ));
    }
    None
}

/// Judges one answer about a field-block pfn, given the writer steps the query may
/// have overlapped: (field, what is wrong), or None when the answer is possible.
fn judge(steps: &[Step], r: &Result<PfnInfo>) -> Option<(&'static str, String)> {
    let may_be_absent = steps
        .iter()
        .any(|s| matches!(s, Step::Removed | Step::Adding | Step::Removing));
    let may_be_present = steps.iter().any(|s| *s != Step::Removed);
    let i = match r {
        Err(Error::NoEnt) if may_be_absent => return None,
        Err(Error::NoEnt) => {
            return Some((
                "result",
                "Err(NoEnt), but the block exists from before the call to after it".into(),
            ))
        }
        Err(e) => return Some(("result", format!("Err({e:?}), expected Ok or Err(NoEnt)"))),
        Ok(i) if !may_be_present => {
            return Some((
                "result",
                format!("Ok({i:?}) after remove_memory returned, expected Err(NoEnt)"),
            ))
        }
        Ok(i) => i,
    };
    if let Some(w) = wrong_field(i) {
        return Some(w);
    }
    // No call overlapped the query: the answer is the settled state's, in full.
    if let [only] = steps {
        let settled = match only {
            Step::Online => {
                i.valid
                    && i.online
                    && i.kind == PfnKind::Ram
                    && i.zone == Zone::Movable
                    && i.block_state == Some(BlockState::Online)
            }
            Step::Added | Step::Offline => {
                i.valid
                    && !i.online
                    && i.kind == PfnKind::Ram
                    && i.zone == Zone::None
                    && i.block_state == Some(BlockState::Offline)
            }
            _ => true,
        };
        if !settled {
            return Some((
                "settled state",
                "not the state the last returned call left".to_string(),
            ));
        }
    }
    None
}

/// Whether a reader goes on after `rounds` rounds: until stopped. Under Miri at least
/// 3 rounds and at most 12, each followed by a yield, so that the interpreter spends
/// its time on the writers' few iterations rather than on reader rounds.
fn reading(stop: &AtomicBool, rounds: u64) -> bool {
    if cfg!(miri) {
        rounds < 3 || (rounds < 12 && !stop.load(Ordering::Relaxed))
    } else {
        !stop.load(Ordering::Relaxed)
    }
}

/// Set by the snapshotter to hold the RAM writers before their next online.
struct Hold(AtomicBool);

impl Hold {
    fn set(&self, on: bool) {
        self.0.store(on, Ordering::SeqCst);
    }
    fn wait(&self, stop: &AtomicBool) {
        while self.0.load(Ordering::SeqCst) && !stop.load(Ordering::Relaxed) {
            std::thread::yield_now();
        }
    }
}

// ---------------------------------------------------------------------------------
// The crew: named threads with progress counters, failures collected by key, and the
// watchdog.

/// Check failures, at most one per key, so that a reader may go on checking and the
/// report lists every distinct way the map was wrong.
#[derive(Default)]
struct Failures(Mutex<Vec<(String, String, u64)>>);

impl Failures {
    /// Records the first failure of a kind (`key`); later ones of that kind are counted.
    fn record(&self, key: String, msg: impl FnOnce() -> String) {
        let mut v = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, _, n)) = v.iter_mut().find(|(k, _, _)| *k == key) {
            *n += 1;
        } else if v.len() < 16 {
            v.push((key, msg(), 1));
        }
    }
    fn messages(&self) -> Vec<String> {
        let v = self.0.lock().unwrap_or_else(|e| e.into_inner());
        v.iter()
            .map(|(_, m, n)| match n {
                1 => m.clone(),
                n => format!("{m} [{n} times]"),
            })
            .collect()
    }
}

struct Member {
    name: &'static str,
    /// Writers run a bounded number of iterations; under Miri the readers run until
    /// every writer is done.
    writer: bool,
    progress: Arc<AtomicU64>,
    handle: JoinHandle<u64>,
}

struct Crew {
    members: Vec<Member>,
    failures: Arc<Failures>,
}

impl Crew {
    /// Spawns `body`, which bumps its progress counter at least once per iteration and
    /// returns a count for the final report. A panic is recorded as a failure.
    fn spawn(
        &mut self,
        name: &'static str,
        writer: bool,
        body: impl FnOnce(&dyn Fn()) -> u64 + Send + 'static,
    ) {
        let progress = Arc::new(AtomicU64::new(0));
        let (p, failures) = (progress.clone(), self.failures.clone());
        let handle = std::thread::Builder::new()
            .name(name.to_string())
            .spawn(move || {
                let tick = || {
                    p.fetch_add(1, Ordering::Relaxed);
                };
                match std::panic::catch_unwind(AssertUnwindSafe(|| body(&tick))) {
                    Ok(n) => n,
                    Err(e) => {
                        let msg = e
                            .downcast_ref::<String>()
                            .cloned()
                            .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                            .unwrap_or_default();
                        failures.record(format!("panic {name}"), || {
                            format!("{name} panicked: {msg}")
                        });
                        std::panic::resume_unwind(e)
                    }
                }
            })
            .unwrap();
        self.members.push(Member {
            name,
            writer,
            progress,
            handle,
        });
    }

    /// Runs the crew until `deadline` (under Miri: until every writer is done), then
    /// stops it and joins it; returns each member's count. Every `POLL` it checks that
    /// each running member made progress within `limit`; one that did not is reported
    /// with every other stuck member, and the process exits with status 101: a
    /// deadlocked thread can never be joined, and the test must not hang.
    fn run(
        self,
        stop: &AtomicBool,
        deadline: Instant,
        limit: Duration,
    ) -> Vec<(&'static str, u64, u64)> {
        const POLL: Duration = Duration::from_millis(100);
        let mut seen: Vec<(u64, Instant)> = self
            .members
            .iter()
            .map(|_| (u64::MAX, Instant::now()))
            .collect();
        loop {
            let now = Instant::now();
            let writers_done = self
                .members
                .iter()
                .all(|m| !m.writer || m.handle.is_finished());
            if now >= deadline && (!cfg!(miri) || writers_done) {
                stop.store(true, Ordering::Relaxed);
            }
            if self.members.iter().all(|m| m.handle.is_finished()) {
                break;
            }
            let mut stuck = Vec::new();
            for (m, (count, since)) in self.members.iter().zip(seen.iter_mut()) {
                let c = m.progress.load(Ordering::Relaxed);
                if m.handle.is_finished() || c != *count {
                    (*count, *since) = (c, now);
                } else if now.duration_since(*since) >= limit {
                    stuck.push(m.name);
                }
            }
            if !stuck.is_empty() {
                self.give_up(&stuck, &seen, limit);
            }
            std::thread::sleep(POLL);
        }
        let mut counts = Vec::new();
        let mut panicked = Vec::new();
        for m in self.members {
            match m.handle.join() {
                Ok(n) => counts.push((m.name, n, m.progress.load(Ordering::Relaxed))),
                Err(_) => panicked.push(m.name),
            }
        }
        let failures = self.failures.messages();
        assert!(
            failures.is_empty() && panicked.is_empty(),
            "{} check(s) failed (threads that panicked: {panicked:?}):\n{}",
            failures.len(),
            failures.join("\n")
        );
        counts
    }

    /// Reports stuck members (and the failures recorded so far) on the real stderr,
    /// past the test harness's capture, and exits.
    fn give_up(&self, stuck: &[&str], seen: &[(u64, Instant)], limit: Duration) -> ! {
        let mut out = String::new();
        for name in stuck {
            out += &format!(
                "watchdog: {name} made no progress for {} s (deadlock?)\n",
                limit.as_secs_f64()
            );
        }
        let progress: Vec<String> = self
            .members
            .iter()
            .zip(seen)
            .map(|(m, (_, since))| {
                let state = if m.handle.is_finished() {
                    "done".to_string()
                } else {
                    format!("idle {:.1} s", since.elapsed().as_secs_f64())
                };
                format!(
                    "{}={} ({state})",
                    m.name,
                    m.progress.load(Ordering::Relaxed)
                )
            })
            .collect();
        out += &format!("watchdog: progress counters: {}\n", progress.join(", "));
        for f in self.failures.messages() {
            out += &format!("watchdog: failure recorded before: {f}\n");
        }
        out += "watchdog: exiting with status 101 (stuck threads cannot be joined)\n";
        let _ = std::io::stderr().lock().write_all(out.as_bytes());
        std::process::exit(101)
    }
}

#[test]
fn readers_see_only_possible_answers_while_writers_churn() {
    let map: Arc<Box<SparseMap>> = Arc::new(machine());
    let stop = Arc::new(AtomicBool::new(false));
    let device_pub = Arc::new(Published(AtomicU64::new(0)));
    let ram_pub = Arc::new(Published(AtomicU64::new(0)));
    let leaf_pub = Arc::new(Published(AtomicU64::new(0)));
    let field_seq = Arc::new(AtomicU64::new(0));
    let hold = Arc::new(Hold(AtomicBool::new(false)));
    let millis = env_u64("STRESS_MILLIS").unwrap_or(2000);
    let deadline = Instant::now() + Duration::from_millis(if cfg!(miri) { 0 } else { millis });
    // Under Miri the clock is virtual (it advances with the work interpreted; the whole
    // Miri-size run takes about 30 s of it) and the iteration bounds keep the run short;
    // the watchdog only turns a deadlock into a failure there, eventually.
    let watchdog = Duration::from_secs(env_u64("STRESS_WATCHDOG_SECS").unwrap_or(if cfg!(miri) {
        300
    } else {
        5
    }));
    let max_gen: u64 = if cfg!(miri) { 6 } else { 200_000 };
    let max_iter: u64 = if cfg!(miri) { 1 } else { 100_000_000 };
    let pfns: u64 = if cfg!(miri) { 2 } else { 64 };
    let mut crew = Crew {
        members: Vec::new(),
        failures: Arc::new(Failures::default()),
    };

    // The machine: RAM [1 MiB, 3 GiB) in leaf 0 (sections 0..127, [0, 16 GiB)). The
    // leaf-crossing writer needs the leaf of [32, 48 GiB) handed out before the one of
    // [16, 32 GiB): a device at 40 GiB, then one at 20 GiB, make them pool leaves 1
    // and 2. A snapshot locks sections in pool order (leaf 1's 256..383, then leaf
    // 2's 128..255); a device range over sections 255 and 256 locks them in
    // ascending order. Both devices stay; nothing else touches 16..48 GiB.
    map.add_device(1, 40 * GIB, 2 * MIB).unwrap();
    map.add_device(1, 20 * GIB, 2 * MIB).unwrap();
    const CROSS_START: u64 = 32 * GIB - 2 * MIB;
    const CROSS_SIZE: u64 = 4 * MIB;

    // Writer 1: device sub-sections in sections 40..44, added and removed in turn.
    {
        let (map, stop, publ) = (map.clone(), stop.clone(), device_pub.clone());
        crew.spawn("device-writer", true, move |tick| {
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
                tick();
            }
            gen
        });
    }
    // Writer 2: a DIMM at 4 GiB added, onlined, offlined, removed.
    {
        let (map, stop, publ) = (map.clone(), stop.clone(), ram_pub.clone());
        let hold = hold.clone();
        crew.spawn("ram-writer", true, move |tick| {
            let mut gen = 1u64;
            while !stop.load(Ordering::Relaxed) && gen < max_gen {
                map.add_memory(1, 4 * GIB, 256 * MIB, &()).unwrap();
                publ.set(gen, Some(((4 * GIB) >> 12) + gen % 65536));
                hold.wait(&stop);
                map.online_block(BlockId(32 + gen % 2), OnlineType::Movable, &())
                    .unwrap();
                map.offline_block(BlockId(32 + gen % 2), &()).unwrap();
                gen += 1;
                publ.set(gen, None);
                map.remove_memory(4 * GIB, 256 * MIB).unwrap();
                gen += 1;
                tick();
            }
            gen
        });
    }
    // Writer 3: device memory over the leaf boundary at 32 GiB (sections 255 and 256,
    // in leaves handed out in descending order), added and removed in turn.
    {
        let (map, stop, publ) = (map.clone(), stop.clone(), leaf_pub.clone());
        crew.spawn("leaf-crossing-writer", true, move |tick| {
            let mut gen = 1u64;
            while !stop.load(Ordering::Relaxed) && gen < 2 * max_iter {
                map.add_device(1, CROSS_START, CROSS_SIZE).unwrap();
                // Alternately a pfn below and above the leaf boundary.
                publ.set(gen, Some((CROSS_START >> 12) + (gen / 2 % 2) * SUB));
                gen += 1;
                tick();
                publ.set(gen, None);
                map.remove_device(CROSS_START, CROSS_SIZE).unwrap();
                gen += 1;
                tick();
            }
            gen
        });
    }
    // Writer 4: the field block, through every state, announcing each step.
    {
        let (map, stop, seq) = (map.clone(), stop.clone(), field_seq.clone());
        let hold = hold.clone();
        crew.spawn("field-writer", true, move |tick| {
            let step = || seq.fetch_add(1, Ordering::SeqCst);
            let mut cycles = 0u64;
            while !stop.load(Ordering::Relaxed) && cycles < max_iter {
                step();
                map.add_memory(FIELD_NID, FIELD_START, FIELD_SIZE, &())
                    .unwrap();
                step();
                hold.wait(&stop);
                step();
                map.online_block(FIELD_BLOCK, OnlineType::Movable, &())
                    .unwrap();
                step();
                step();
                map.offline_block(FIELD_BLOCK, &()).unwrap();
                step();
                step();
                map.remove_memory(FIELD_START, FIELD_SIZE).unwrap();
                step();
                cycles += 1;
                tick();
            }
            cycles
        });
    }
    // The snapshotter: snapshots the churning map (Busy mid-transition, NoSpc when
    // the map grew) and restores every snapshot into a second map, which must accept
    // it, snapshot to the same bytes, and hold a possible state of the field block.
    // Two RAM writers are in a transition most of the time: after a run of Busy
    // answers it holds their next online until a snapshot succeeds (the snapshot
    // still races with the device writers and with RAM add and remove).
    {
        let (map, stop, failures) = (map.clone(), stop.clone(), crew.failures.clone());
        let hold = hold.clone();
        crew.spawn("snapshotter", true, move |tick| {
            let copy = SparseMap::new_boxed(&map.config()).unwrap();
            let mut buf = vec![0u8; map.snapshot_bytes()];
            let mut again = Vec::new();
            let (mut taken, mut busy, mut busy_run) = (0u64, 0u64, 0u64);
            let mut i = 0u64;
            // On until one snapshot succeeded, also after the writers stopped (on a
            // loaded machine this thread may get few turns while they run; once they
            // stop no block is mid-transition, unless a transition leaked: bounded).
            let mut after_stop = 0u64;
            while if stop.load(Ordering::Relaxed) {
                after_stop += 1;
                taken == 0 && after_stop <= 10_000
            } else {
                i < max_iter || taken == 0
            } {
                i += 1;
                match map.snapshot(&mut buf) {
                    Ok(n) => {
                        copy.restore(&buf[..n]).unwrap_or_else(|e| {
                            panic!("restore of snapshot #{taken} ({n} bytes) failed: {e:?}")
                        });
                        again.resize(copy.snapshot_bytes(), 0);
                        let m = copy.snapshot(&mut again).unwrap();
                        assert!(
                            again[..m] == buf[..n],
                            "snapshot #{taken}: the restored map snapshots to other bytes"
                        );
                        for p in FIELD_PFNS {
                            let r = copy.pfn_info(Pfn(p));
                            let wrong = match &r {
                                Err(Error::NoEnt) => None,
                                Err(e) => Some(("result", format!("Err({e:?})"))),
                                Ok(i) => wrong_field(i),
                            };
                            if let Some((field, what)) = wrong {
                                failures.record(format!("snapshot {field}"), || {
                                    format!(
                                        "restored snapshot: pfn_info({p:#x}) {what}; \
                                         answer: {r:?}"
                                    )
                                });
                            }
                        }
                        taken += 1;
                        busy_run = 0;
                        hold.set(false);
                    }
                    Err(Error::Busy) => {
                        busy += 1;
                        busy_run += 1;
                        if busy_run >= if cfg!(miri) { 1 } else { 16 } {
                            hold.set(true);
                        }
                        std::thread::yield_now();
                    }
                    Err(Error::NoSpc) => {
                        let need = map.snapshot_bytes().max(buf.len() * 2);
                        buf.resize(need, 0);
                    }
                    Err(e) => panic!("snapshot failed: {e:?}"),
                }
                tick();
            }
            hold.set(false);
            println!("snapshots taken {taken}, busy {busy}, attempts {i}");
            assert!(
                taken > 0,
                "no snapshot succeeded in {i} attempts ({busy} busy)"
            );
            i
        });
    }
    // Writers 5 and 6: the sub-section fast path and the flat valid bitmap. Section 48
    // (6 GiB) keeps device memory in its last sub-section; two writers churn its
    // sub-sections 0 and 1 (a fast add sets the bit after the state, a fast remove
    // claims and clears the bits before the states) and each also tries to remove
    // the other's sub-section, so removers race for the same bits: the loser must
    // clear nothing. Readers check that the sub-section that stays reads valid
    // throughout, and at the end the bitmap must agree with the table everywhere.
    const FAST_SECTION: u64 = 48;
    map.add_device(1, sa(FAST_SECTION), 128 * MIB).unwrap();
    map.remove_device(sa(FAST_SECTION), 126 * MIB).unwrap();
    for (me, name) in [(0u64, "fast-writer-0"), (1, "fast-writer-1")] {
        let (map, stop) = (map.clone(), stop.clone());
        crew.spawn(name, true, move |tick| {
            let (mine, theirs) = (
                sa(FAST_SECTION) + me * 2 * MIB,
                sa(FAST_SECTION) + (1 - me) * 2 * MIB,
            );
            // Bounded well below the run: two more threads churning one section on two
            // cores would otherwise starve the snapshotter of the CPU it needs to see a
            // snapshot succeed (a waiter spins while a descheduled writer holds a lock).
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) && i < max_gen.min(20_000) {
                match map.add_device(1, mine, 2 * MIB) {
                    Ok(()) | Err(Error::Exist) => {}
                    Err(e) => panic!("fast add: {e:?}"),
                }
                for r in [theirs, mine] {
                    match map.remove_device(r, 2 * MIB) {
                        Ok(()) | Err(Error::NoEnt) => {}
                        Err(e) => panic!("fast remove: {e:?}"),
                    }
                }
                i += 1;
                tick();
                std::thread::yield_now();
            }
            i
        });
    }
    // Readers.
    for (r, name) in [(0u64, "reader-0"), (1, "reader-1")] {
        let (map, stop) = (map.clone(), stop.clone());
        let pubs = [device_pub.clone(), ram_pub.clone(), leaf_pub.clone()];
        crew.spawn(name, false, move |tick| {
            let mut checks = 0u64;
            let boot_ram = Pfn((GIB >> 12) + r);
            let never = Pfn(s(100) + 7);
            while reading(&stop, checks) {
                // Boot RAM stays valid and online; an untouched section stays invalid;
                // the device memory that stays beside the fast writers stays valid.
                assert!(map.pfn_valid(boot_ram) && map.pfn_online(boot_ram));
                assert!(!map.pfn_valid(never));
                assert!(map.pfn_valid(Pfn(s(FAST_SECTION + 1) - 1 - r)));
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
                tick();
                if cfg!(miri) {
                    std::thread::yield_now();
                }
            }
            checks
        });
    }
    // The field reader: every pfn_info field of the field block, judged against the
    // writer steps the query overlapped; it records each distinct failure and goes on.
    {
        let (map, stop, seq) = (map.clone(), stop.clone(), field_seq.clone());
        let failures = crew.failures.clone();
        crew.spawn("field-reader", false, move |tick| {
            let mut rounds = 0u64;
            while reading(&stop, rounds) {
                for p in FIELD_PFNS {
                    let before = seq.load(Ordering::SeqCst);
                    let r = map.pfn_info(Pfn(p));
                    let after = seq.load(Ordering::SeqCst);
                    let steps = steps(before, after);
                    if let Some((field, what)) = judge(&steps, &r) {
                        let during = describe_steps(&steps);
                        failures.record(format!("{field} during {during}"), || {
                            format!(
                                "pfn_info({p:#x}): wrong {field}: {what}; operation in \
                                 flight: {during}; answer: {r:?}"
                            )
                        });
                    }
                    // pfn_online answers from the flat online bitmap here (8 GiB lies
                    // below its limit): online only while the block may be online,
                    // and online when it settled online.
                    let before = seq.load(Ordering::SeqCst);
                    let online = map.pfn_online(Pfn(p));
                    let overlapped = crate::steps(before, seq.load(Ordering::SeqCst));
                    let may = overlapped
                        .iter()
                        .any(|s| matches!(s, Step::Onlining | Step::Online | Step::Offlining));
                    let must = matches!(overlapped.as_slice(), [Step::Online]);
                    if online && !may || !online && must {
                        let during = describe_steps(&overlapped);
                        failures.record(format!("pfn_online during {during}"), || {
                            format!("pfn_online({p:#x}) = {online} during {during}")
                        });
                    }
                }
                rounds += 1;
                tick();
                if cfg!(miri) {
                    std::thread::yield_now();
                }
            }
            rounds
        });
    }

    // (thread, its count, its progress ticks: one per completed iteration)
    let counts = crew.run(&stop, deadline, watchdog);
    println!("counts and ticks per thread: {counts:?}");
    assert!(
        counts.iter().all(|(_, _, ticks)| *ticks > 0),
        "every thread made progress: {counts:?}"
    );
    // Every writer is done: the flat valid bitmap agrees with the table on every
    // sub-section the writers touched. Under Miri, where a query costs about 0.07 s,
    // at each section's first pfn and at every sub-section of the fast writers'
    // section, whose bits they race for.
    if cfg!(miri) {
        let fast = s(FAST_SECTION)..s(FAST_SECTION + 1);
        assert_agrees(&map, fast, SUB, "after the stress run");
        let bad = first_disagreement(&map, 0..s(330), SEC);
        assert!(bad.is_none(), "after the stress run: {bad:?}");
    } else {
        assert_agrees(&map, 0..s(330), SUB, "after the stress run");
    }
}
