//! Input hostility for the C ABI (issue #8): hostile integers and pointers into every
//! exported `smem_` function, in a drawn order, on a map that changes as the calls
//! succeed. The only acceptable outcomes are success or an error that docs/semantics.md
//! ("Which error, when several apply") lists for that function, and a failed call must leave the map's snapshot byte-identical.
//! Each answer is also checked against the others it must agree with (pfn_info with
//! pfn_valid, next_valid_pfn with pfn_valid, a walk's stop value, buffers never
//! written past `len`).
//!
//! Driven by ffi/tests/c_abi_hostile.rs (seeded generator, `cargo test`) and by the
//! cargo-fuzz target fuzz/fuzz_targets/c_abi.rs (libFuzzer's bytes), through the
//! `sparsemem_ffi` rlib with its `std` feature. The only module of the testkit with
//! `unsafe`: it calls the C ABI with raw pointers, as C does.
#![allow(unsafe_code)]

use core::ffi::{c_char, c_int, c_void};
use std::alloc::{alloc_zeroed, Layout};
use std::collections::BTreeMap;

use sparsemem_ffi::*;

use crate::seeds::Source;

/// Zeroed storage for a map on the heap (3 MB: not through the stack).
pub fn storage() -> Box<smem_map> {
    let layout = Layout::new::<smem_map>();
    // SAFETY: the layout has non-zero size; all-zero bytes are a valid smem_map (an
    // array of u64), and Box takes ownership of the allocation of that layout.
    unsafe {
        let p = alloc_zeroed(layout).cast::<smem_map>();
        assert!(!p.is_null());
        Box::from_raw(p)
    }
}

/// What the header's `smem_pfn_valid_inline()` answers, read as it reads it: through
/// `smem_lookup_description()`, one atomic load of the flat valid bitmap below its
/// limit, `smem_pfn_valid()` above it.
///
/// # Safety
/// `map` is an initialised map.
pub unsafe fn inline_pfn_valid(map: *const smem_map, pfn: u64) -> bool {
    use std::sync::atomic::{AtomicUsize, Ordering};
    // SAFETY: the caller's map; the description and the words it names lie inside it.
    unsafe {
        let l = &*smem_lookup_description(map);
        assert_eq!(l.version, SMEM_LOOKUP_VERSION);
        let i = pfn.wrapping_shr(l.subsection_pfn_shift);
        if i.checked_shr(l.covered_shift).unwrap_or(0) != 0 {
            return smem_pfn_valid(map, pfn);
        }
        let bits = u64::from(usize::BITS);
        let words = map
            .cast::<u8>()
            .add(l.words_offset as usize)
            .cast::<AtomicUsize>();
        let w = (*words.add((i / bits) as usize)).load(Ordering::Acquire);
        (w >> (i % bits)) & 1 != 0
    }
}

/// The map's snapshot, the observable state a failed call must not change.
pub fn snapshot(map: &smem_map) -> Vec<u8> {
    // SAFETY: `map` is an initialised map; the buffer is writable for its length.
    unsafe {
        let mut buf = vec![0u8; smem_snapshot_bytes(map)];
        let mut n = 0;
        assert_eq!(
            smem_snapshot(map, buf.as_mut_ptr().cast(), buf.len(), &mut n),
            SMEM_OK
        );
        buf.truncate(n);
        buf
    }
}

/// What `smem_init` must accept, written from its list of EINVAL rules
/// (docs/semantics.md, "Geometry").
pub fn config_is_valid(c: &smem_config) -> bool {
    let (page, sub, sec, phys) = (
        u32::from(c.page_shift),
        u32::from(c.subsection_shift),
        u32::from(c.section_shift),
        u32::from(c.max_phys_bits),
    );
    let page_size = 1u64 << page.min(63);
    (12..=16).contains(&page)
        && page <= sub
        && sub <= sec
        && sec - sub < 64
        && (1u64 << (sec - sub)) <= SMEM_MAX_SUBSECTIONS as u64
        && sec < phys
        && phys <= SMEM_MAX_PHYS_BITS
        && phys - sec <= SMEM_MAX_SECTION_NR_BITS as u32
        && c.block_size.is_power_of_two()
        && c.block_size >= 1u64 << sec
        && c.block_size <= 1u64 << phys
        && c.zone_dma_end % page_size == 0
        && c.zone_dma32_end % page_size == 0
        && !(c.zone_dma_end != 0 && c.zone_dma32_end != 0 && c.zone_dma_end > c.zone_dma32_end)
        && c.auto_online <= SMEM_AUTO_ONLINE_MOVABLE
}

/// A configuration as the test prints it.
pub fn show(c: &smem_config) -> String {
    format!(
        "page {} sub {} section {} phys {} block {:#x} dma {:#x} dma32 {:#x} auto {} movable {}",
        c.page_shift,
        c.subsection_shift,
        c.section_shift,
        c.max_phys_bits,
        c.block_size,
        c.zone_dma_end,
        c.zone_dma32_end,
        c.auto_online,
        c.movable_node
    )
}

fn preset(which: u64) -> smem_config {
    let mut c = smem_config {
        page_shift: 0,
        subsection_shift: 0,
        section_shift: 0,
        max_phys_bits: 0,
        movable_node: 0,
        auto_online: 0,
        block_size: 0,
        zone_dma_end: 0,
        zone_dma32_end: 0,
        online_policy: 0,
        auto_movable_numa_aware: 0,
        memmap_on_memory: 0,
        reserved: 0,
        auto_movable_ratio: 0,
    };
    match which {
        0 => smem_config_x86_64(&mut c),
        1 => smem_config_arm64_4k(&mut c),
        _ => smem_config_arm64_64k(&mut c),
    }
    c
}

/// The notifier's answer to GOING_* events, and how many events it saw.
#[derive(Default)]
struct Notify {
    answer: c_int,
    events: u64,
}

unsafe extern "C" fn notifier(ctx: *mut c_void, event: u8, _: *const smem_block_info) -> c_int {
    // SAFETY: ctx is the harness's Notify, alive while the map holds it.
    let n = unsafe { &mut *ctx.cast::<Notify>() };
    n.events += 1;
    match event {
        SMEM_MEM_GOING_ONLINE | SMEM_MEM_GOING_OFFLINE => n.answer,
        _ => 0,
    }
}

/// Walk callbacks stop after `left` items with `stop`; they record what they saw.
struct Walk {
    left: u64,
    stop: c_int,
    seen: Vec<(u64, u64)>,
}

impl Walk {
    /// Records an item; answers `stop` once `left` items have passed.
    fn visit(&mut self, item: (u64, u64)) -> c_int {
        self.seen.push(item);
        if self.left == 0 {
            return self.stop;
        }
        self.left -= 1;
        0
    }
}

unsafe extern "C" fn walk_block(ctx: *mut c_void, b: *const smem_block_info) -> c_int {
    // SAFETY: ctx is a Walk; b is valid during the call.
    unsafe { (*ctx.cast::<Walk>()).visit(((*b).id, (*b).size)) }
}

unsafe extern "C" fn walk_range(ctx: *mut c_void, r: *const smem_range) -> c_int {
    // SAFETY: ctx is a Walk; r is valid during the call.
    unsafe { (*ctx.cast::<Walk>()).visit(((*r).start, (*r).size)) }
}

unsafe extern "C" fn collect_block(ctx: *mut c_void, b: *const smem_block_info) -> c_int {
    // SAFETY: ctx is a Vec of ids; b is valid during the call.
    unsafe { (*ctx.cast::<Vec<u64>>()).push((*b).id) };
    0
}

unsafe extern "C" fn collect_device(ctx: *mut c_void, r: *const smem_range) -> c_int {
    // SAFETY: ctx is a Vec of ranges; r is valid during the call.
    unsafe {
        if (*r).kind == SMEM_RANGE_DEVICE {
            (*ctx.cast::<Vec<(u64, u64)>>()).push(((*r).start, (*r).size));
        }
    }
    0
}

/// One hostile session on one map.
pub struct Hostile {
    map: Box<smem_map>,
    /// The configuration of the last successful smem_init.
    cfg: smem_config,
    notify: Box<Notify>,
    /// Snapshots taken along the way: restore's raw material.
    saved: Vec<Vec<u8>>,
    /// Calls made.
    pub calls: u64,
    /// Mutating calls among them.
    pub mutations: u64,
    /// Mutating calls that succeeded.
    pub successes: u64,
    /// Result codes per mutating function.
    pub outcomes: BTreeMap<(&'static str, c_int), u64>,
}

const EINVAL: &[c_int] = &[SMEM_EINVAL];

impl Hostile {
    /// A session on a fresh map initialised with a preset drawn from `d`.
    pub fn new(d: &mut impl Source) -> Self {
        match Self::start(storage(), preset(d.below(3))) {
            Ok(h) => h,
            Err(_) => panic!("a preset was refused"),
        }
    }

    /// A session on `map` initialised with `cfg`; a refused config gives the storage
    /// back with smem_init's result.
    pub fn start(mut map: Box<smem_map>, cfg: smem_config) -> Result<Self, (Box<smem_map>, c_int)> {
        // SAFETY: `map` is storage of the right size and alignment.
        let rc = unsafe { smem_init(&mut *map, &cfg) };
        if rc != SMEM_OK {
            return Err((map, rc));
        }
        Ok(Hostile {
            map,
            cfg,
            notify: Box::default(),
            saved: Vec::new(),
            calls: 0,
            mutations: 0,
            successes: 0,
            outcomes: BTreeMap::new(),
        })
    }

    /// The map's storage, for the next session.
    pub fn into_storage(self) -> Box<smem_map> {
        self.map
    }

    fn page(&self) -> u64 {
        1 << self.cfg.page_shift
    }

    /// A hostile address: edges of the address space and of the configuration, now and
    /// then misaligned by a byte or a page, and mostly plausible aligned addresses in
    /// the first 16 GiB so that calls also succeed.
    fn addr(&self, d: &mut impl Source) -> u64 {
        let c = &self.cfg;
        let unit = d.pick(&[
            self.page(),
            1 << c.subsection_shift,
            1 << c.section_shift,
            c.block_size,
        ]);
        let top = 1u64 << c.max_phys_bits;
        let base = match d.below(16) {
            0 => 0,
            1 => u64::MAX,
            2 => u64::MAX - unit + 1,
            3 => top,
            4 => top - unit,
            5 => 1 << d.below(64),
            6 => d.any(),
            7 => 1 << 63,
            _ => unit * d.below((16 << 30) / unit),
        };
        match d.below(12) {
            0 => base.wrapping_add(1),
            1 => base.wrapping_sub(self.page()),
            2 => base.wrapping_add(self.page()),
            _ => base,
        }
    }

    /// A hostile size for `start`: zero, units, sizes that reach or wrap past 2^64,
    /// beyond max_phys_bits, or anything.
    fn size(&self, d: &mut impl Source, start: u64) -> u64 {
        let c = &self.cfg;
        let unit = d.pick(&[1 << c.subsection_shift, c.block_size]);
        match d.below(14) {
            0 => 0,
            1 => u64::MAX,
            2 => 0u64.wrapping_sub(start),
            3 => 0u64.wrapping_sub(start).wrapping_add(unit),
            4 => 1 << c.max_phys_bits,
            5 => d.any(),
            6 => self.page(),
            7 => unit + 1,
            _ => unit * (1 + d.below(4)),
        }
    }

    /// A range for a hotplug call: half the time a plausible one (`unit`-aligned, in the
    /// first 16 GiB, up to four units) so that the map's state moves, else hostile.
    fn range(&self, d: &mut impl Source, unit: u64) -> (u64, u64) {
        if d.below(2) == 0 {
            (unit * d.below((16 << 30) / unit), unit * (1 + d.below(4)))
        } else {
            let start = self.addr(d);
            (start, self.size(d, start))
        }
    }

    /// The ids of the blocks that exist.
    fn blocks(&self) -> Vec<u64> {
        let mut ids: Vec<u64> = Vec::new();
        // SAFETY: an initialised map; the callback's context is `ids`.
        let rc = unsafe {
            smem_for_each_block(
                &*self.map,
                Some(collect_block),
                (&mut ids as *mut Vec<u64>).cast(),
            )
        };
        assert_eq!(rc, SMEM_OK);
        ids
    }

    /// A block id: half the time one that exists, else hostile.
    fn block_id(&self, d: &mut impl Source) -> u64 {
        let ids = self.blocks();
        if ids.is_empty() || d.below(2) == 0 {
            self.index(d, self.block_shift())
        } else {
            d.pick(&ids)
        }
    }

    /// A range of whole blocks for removal: half the time existing blocks, else hostile.
    fn block_range(&self, d: &mut impl Source) -> (u64, u64) {
        let ids = self.blocks();
        if ids.is_empty() || d.below(2) == 0 {
            return self.range(d, self.cfg.block_size);
        }
        let i = d.below(ids.len() as u64) as usize;
        let n = 1 + d.below(2.min(ids.len() - i) as u64) as usize;
        (ids[i] * self.cfg.block_size, n as u64 * self.cfg.block_size)
    }

    /// A sub-section range for device removal: half the time part of present device
    /// memory, else hostile.
    fn device_range(&self, d: &mut impl Source) -> (u64, u64) {
        let sub = 1u64 << self.cfg.subsection_shift;
        let mut ranges: Vec<(u64, u64)> = Vec::new();
        // SAFETY: an initialised map; the callback's context is `ranges`.
        let rc = unsafe {
            smem_for_each_range(
                &*self.map,
                Some(collect_device),
                (&mut ranges as *mut Vec<(u64, u64)>).cast(),
            )
        };
        assert_eq!(rc, SMEM_OK);
        if ranges.is_empty() || d.below(2) == 0 {
            return self.range(d, sub);
        }
        let (start, size) = d.pick(&ranges);
        let first = d.below(size / sub);
        (start + first * sub, sub * (1 + d.below(size / sub - first)))
    }

    /// A group id: mostly the first few slots (ids are handed out lowest first).
    fn group(d: &mut impl Source) -> u32 {
        match d.below(8) {
            0 => d.any() as u32,
            1 => SMEM_GROUP_NONE,
            _ => d.below(4) as u32,
        }
    }

    fn nid(d: &mut impl Source) -> i32 {
        match d.below(10) {
            0 => d.pick(&[
                i32::MIN,
                -2,
                -1,
                SMEM_MAX_NODES,
                SMEM_MAX_NODES + 1,
                i32::MAX,
            ]),
            1 => d.any() as i32,
            2 => SMEM_MAX_NODES - 1,
            _ => d.below(3) as i32,
        }
    }

    fn pfn(&self, d: &mut impl Source) -> u64 {
        let top = 1u64 << (self.cfg.max_phys_bits - self.cfg.page_shift);
        match d.below(10) {
            0 => d.pick(&[u64::MAX, u64::MAX - 1, top - 1, top, top + 1, 1 << 63]),
            1 => d.any(),
            _ => self.addr(d) >> self.cfg.page_shift,
        }
    }

    /// A block id or section number: mostly small, sometimes at or past the end.
    fn index(&self, d: &mut impl Source, shift: u8) -> u64 {
        let end = 1u64 << (self.cfg.max_phys_bits - shift);
        match d.below(8) {
            0 => d.pick(&[u64::MAX, end - 1, end, end + 1, 1 << 63]),
            1 => d.any(),
            _ => d.below(160),
        }
    }

    fn block_shift(&self) -> u8 {
        self.cfg.block_size.trailing_zeros() as u8
    }

    fn veto(d: &mut impl Source) -> c_int {
        match d.below(12) {
            0 => d.pick(&[SMEM_EBUSY, SMEM_EINVAL, -4095, i32::MIN, 1, i32::MAX]),
            1 => d.any() as c_int,
            _ => 0,
        }
    }

    /// A configuration: a preset with one field changed (every shift, any byte), or
    /// every field drawn.
    fn config(&self, d: &mut impl Source) -> smem_config {
        let mut c = preset(d.below(3));
        let byte = |d: &mut dyn FnMut(u64) -> u64| -> u8 {
            if d(2) == 0 {
                d(256) as u8
            } else {
                d(66) as u8
            }
        };
        let mut b = |n| d.below(n);
        match b(11) {
            0 => c.page_shift = byte(&mut b),
            1 => c.subsection_shift = byte(&mut b),
            2 => c.section_shift = byte(&mut b),
            3 => c.max_phys_bits = byte(&mut b),
            4 => c.auto_online = byte(&mut b),
            5 => c.movable_node = byte(&mut b),
            6 => c.block_size = 1u64.wrapping_shl(b(70) as u32) + b(2),
            7 => c.zone_dma_end = b(1 << 32) << b(24),
            8 => c.zone_dma32_end = b(1 << 32) << b(24),
            9 => {
                c.page_shift = byte(&mut b);
                c.subsection_shift = byte(&mut b);
                c.section_shift = byte(&mut b);
                c.max_phys_bits = byte(&mut b);
                c.block_size = 1u64.wrapping_shl(b(70) as u32);
            }
            _ => {}
        }
        c
    }

    /// Runs `call`, which must succeed or fail with one of `errors`; a failure must
    /// leave the snapshot as it was. Returns the result code.
    fn mutate(
        &mut self,
        name: &'static str,
        errors: &[c_int],
        call: impl FnOnce() -> c_int,
    ) -> c_int {
        let before = snapshot(&self.map);
        let rc = call();
        self.mutations += 1;
        *self.outcomes.entry((name, rc)).or_default() += 1;
        if rc == SMEM_OK {
            self.successes += 1;
        } else {
            assert!(
                errors.contains(&rc),
                "{name}: {rc} is not one of its errors {errors:?}"
            );
            assert!(
                snapshot(&self.map) == before,
                "{name} failed with {rc} and changed the map"
            );
        }
        rc
    }

    /// The errors of a call that runs notifiers: its own, plus what the veto makes of
    /// the notifier's answer (the answer itself if negative, EPERM if positive).
    fn with_veto(&self, errors: &[c_int]) -> Vec<c_int> {
        let mut v = errors.to_vec();
        match self.notify.answer {
            0 => {}
            a if a > 0 => v.push(SMEM_EPERM),
            a => v.push(a),
        }
        v
    }

    /// One hostile call.
    pub fn step(&mut self, d: &mut impl Source) {
        // Queries run on a shared reference, as C's `const smem_map *`.
        let map: *mut smem_map = &mut *self.map;
        let null: bool = d.below(32) == 0;
        self.calls += 1;
        // SAFETY (every call below): `map` is an initialised map owned by self, or NULL
        // where `null` says so; every out pointer is a live local of the right type.
        unsafe {
            match d.below(31) {
                // A successful init resets the map to the boot phase: rarely.
                0 if d.below(4) == 0 => {
                    let c = self.config(d);
                    let want = if config_is_valid(&c) {
                        SMEM_OK
                    } else {
                        SMEM_EINVAL
                    };
                    let before = snapshot(&self.map);
                    let rc = smem_init(map, &c);
                    assert_eq!(rc, want, "smem_init of {}", show(&c));
                    if rc == SMEM_OK {
                        self.successes += 1;
                        self.cfg = c;
                        self.saved.clear();
                    } else {
                        assert!(
                            snapshot(&self.map) == before,
                            "a refused smem_init changed the map"
                        );
                    }
                }
                1 => {
                    let c = self.config(d);
                    assert_eq!(smem_init(core::ptr::null_mut(), &c), SMEM_EINVAL);
                    assert_eq!(smem_init(map, core::ptr::null()), SMEM_EINVAL);
                    // Misaligned storage.
                    let misaligned = map.cast::<u8>().wrapping_add(4).cast::<smem_map>();
                    self.mutate("smem_init(misaligned)", EINVAL, || {
                        smem_init(misaligned, &c)
                    });
                }
                2..=3 => {
                    let nid = Self::nid(d);
                    let (start, size) = self.range(d, self.cfg.block_size);
                    let errors = [SMEM_EINVAL, SMEM_E2BIG, SMEM_EEXIST, SMEM_ENOMEM];
                    self.mutate("smem_boot_add_ram", &errors, || {
                        smem_boot_add_ram(map, nid, start, size)
                    });
                }
                0 | 4 => {
                    self.mutate("smem_boot_finish", &[SMEM_EINVAL, SMEM_ENOMEM], || {
                        smem_boot_finish(map)
                    });
                }
                5..=6 => {
                    let pfn = self.pfn(d);
                    let valid = smem_pfn_valid(map, pfn);
                    assert_eq!(
                        inline_pfn_valid(map, pfn),
                        valid,
                        "pfn {pfn:#x}: the lookup description's answer"
                    );
                    let online = smem_pfn_online(map, pfn);
                    let next = smem_next_valid_pfn(map, pfn);
                    assert!(!online || valid, "pfn {pfn:#x} online but not valid");
                    assert_eq!(
                        valid,
                        next == pfn && pfn != SMEM_PFN_NONE,
                        "pfn {pfn:#x}: valid {valid}, next {next:#x}"
                    );
                    assert!(next == SMEM_PFN_NONE || (next >= pfn && smem_pfn_valid(map, next)));
                    let mut info = core::mem::zeroed::<smem_pfn_info>();
                    match smem_pfn_info(map, pfn, &mut info) {
                        SMEM_OK => {
                            assert_eq!(
                                (info.valid != 0, info.online != 0),
                                (valid, online),
                                "pfn {pfn:#x}"
                            )
                        }
                        SMEM_ENOENT => assert!(!valid, "pfn {pfn:#x} valid in no section"),
                        rc => panic!("smem_pfn_info({pfn:#x}): {rc}"),
                    }
                    assert_eq!(smem_pfn_info(map, pfn, core::ptr::null_mut()), SMEM_EINVAL);
                    assert!(
                        !smem_pfn_valid(core::ptr::null(), pfn)
                            && !smem_pfn_online(core::ptr::null(), pfn)
                    );
                    assert_eq!(smem_next_valid_pfn(core::ptr::null(), pfn), SMEM_PFN_NONE);
                }
                7 => {
                    let nr = self.index(d, self.cfg.section_shift);
                    let mut info = core::mem::zeroed::<smem_section_info>();
                    match smem_section_info(map, nr, &mut info) {
                        SMEM_OK => assert_eq!(info.nr, nr),
                        SMEM_ENOENT => {}
                        rc => panic!("smem_section_info({nr:#x}): {rc}"),
                    }
                }
                8 => {
                    let id = self.index(d, self.block_shift());
                    let mut b = core::mem::zeroed::<smem_block_info>();
                    match smem_block_info(map, id, &mut b) {
                        SMEM_OK => assert_eq!((b.id, b.size), (id, self.cfg.block_size)),
                        SMEM_ENOENT => {}
                        rc => panic!("smem_block_info({id}): {rc}"),
                    }
                    // Never a byte past `len`; NUL-terminated inside it on success.
                    let len = d.below(34) as usize;
                    let mut buf = [0x55 as c_char; 64];
                    let rc = smem_block_valid_zones_str(map, id, buf.as_mut_ptr(), len);
                    assert!(
                        buf[len..].iter().all(|&c| c == 0x55),
                        "valid_zones wrote past len {len}"
                    );
                    match rc {
                        SMEM_OK => {
                            assert!(buf[..len].contains(&0), "valid_zones text not terminated")
                        }
                        SMEM_ENOENT | SMEM_ENOSPC => {}
                        rc => panic!("smem_block_valid_zones_str({id}, {len}): {rc}"),
                    }
                }
                9 => {
                    let limit = d.below(8);
                    let mut w = Walk {
                        left: limit,
                        stop: Self::veto(d),
                        seen: Vec::new(),
                    };
                    let ctx = (&mut w as *mut Walk).cast();
                    let (rc, ranges) = if d.below(2) == 0 {
                        (smem_for_each_block(map, Some(walk_block), ctx), false)
                    } else {
                        (smem_for_each_range(map, Some(walk_range), ctx), true)
                    };
                    // The callback answers `stop` from item limit+1 on; 0 does not stop.
                    let stopped = w.stop != 0 && w.seen.len() as u64 > limit;
                    assert_eq!(rc, if stopped { w.stop } else { SMEM_OK });
                    assert!(
                        w.stop == 0 || w.seen.len() as u64 <= limit + 1,
                        "the walk went on after a stop"
                    );
                    // Ascending and, for ranges, disjoint.
                    for pair in w.seen.windows(2) {
                        let ((a, sa), (b, _)) = (pair[0], pair[1]);
                        assert!(
                            if ranges { a + sa <= b } else { a < b },
                            "walk out of order: {:x?}",
                            w.seen
                        );
                    }
                    assert_eq!(smem_for_each_block(map, None, ctx), SMEM_EINVAL);
                }
                10..=11 => {
                    let nid = Self::nid(d);
                    let (start, size) = self.range(d, self.cfg.block_size);
                    let errors =
                        self.with_veto(&[SMEM_EINVAL, SMEM_E2BIG, SMEM_EEXIST, SMEM_ENOMEM]);
                    self.mutate("smem_add_memory", &errors, || {
                        smem_add_memory(map, nid, start, size)
                    });
                }
                12 => {
                    let (start, size) = self.block_range(d);
                    let errors = [SMEM_EINVAL, SMEM_E2BIG, SMEM_ENOENT, SMEM_EBUSY];
                    self.mutate("smem_remove_memory", &errors, || {
                        smem_remove_memory(map, start, size)
                    });
                }
                13 => {
                    let (start, size) = self.block_range(d);
                    let errors =
                        self.with_veto(&[SMEM_EINVAL, SMEM_E2BIG, SMEM_ENOENT, SMEM_EBUSY]);
                    self.mutate("smem_offline_and_remove_memory", &errors, || {
                        smem_offline_and_remove_memory(map, start, size)
                    });
                }
                14..=15 => {
                    let id = self.block_id(d);
                    let ty = if d.below(4) == 0 {
                        d.below(256) as u8
                    } else {
                        1 + d.below(3) as u8
                    };
                    let errors = self.with_veto(&[SMEM_EINVAL, SMEM_ENOENT, SMEM_EBUSY]);
                    self.mutate("smem_online_block", &errors, || {
                        smem_online_block(map, id, ty)
                    });
                }
                16 => {
                    let id = self.block_id(d);
                    let errors = self.with_veto(&[SMEM_EINVAL, SMEM_ENOENT, SMEM_EBUSY]);
                    self.mutate("smem_offline_block", &errors, || {
                        smem_offline_block(map, id)
                    });
                }
                17..=18 => {
                    let nid = Self::nid(d);
                    let (start, size) = self.range(d, 1 << self.cfg.subsection_shift);
                    let errors = [
                        SMEM_EINVAL,
                        SMEM_E2BIG,
                        SMEM_ENXIO,
                        SMEM_EEXIST,
                        SMEM_ENOMEM,
                    ];
                    self.mutate("smem_add_device", &errors, || {
                        smem_add_device(map, nid, start, size)
                    });
                }
                19 => {
                    let (start, size) = self.device_range(d);
                    let errors = [SMEM_EINVAL, SMEM_E2BIG, SMEM_ENOENT];
                    self.mutate("smem_remove_device", &errors, || {
                        smem_remove_device(map, start, size)
                    });
                }
                20 => {
                    self.notify.answer = Self::veto(d);
                    let (f, ctx): (smem_notifier_fn, *mut c_void) = if d.below(4) == 0 {
                        (None, core::ptr::null_mut())
                    } else {
                        (Some(notifier), (&mut *self.notify as *mut Notify).cast())
                    };
                    assert_eq!(smem_set_notifier(map, f, ctx), SMEM_OK);
                }
                21 => {
                    let mut s = core::mem::zeroed::<smem_stats>();
                    assert_eq!(smem_stats(map, &mut s), SMEM_OK);
                    assert!(s.online_blocks <= s.blocks && s.online_sections <= s.present_sections);
                    assert!(
                        s.online_pages <= s.ram_pages,
                        "{:?}",
                        (s.online_pages, s.ram_pages)
                    );
                    assert_eq!(smem_stats(map, core::ptr::null_mut()), SMEM_EINVAL);
                }
                22 => {
                    let nid = Self::nid(d);
                    let zone = if d.below(4) == 0 {
                        d.below(256) as u8
                    } else {
                        d.below(6) as u8
                    };
                    let (mut s, mut e, mut p) = (0, 0, 0);
                    let rc = smem_zone_span(map, nid, zone, &mut s, &mut e, &mut p);
                    let valid_args = (0..SMEM_MAX_NODES).contains(&nid)
                        && (SMEM_ZONE_DMA..=SMEM_ZONE_DEVICE).contains(&zone);
                    match rc {
                        SMEM_OK => assert!(
                            valid_args && s <= e && p <= e - s,
                            "span {s:#x}..{e:#x} {p}"
                        ),
                        SMEM_ENOENT => assert!(valid_args),
                        SMEM_EINVAL => assert!(!valid_args || zone == SMEM_ZONE_NONE),
                        rc => panic!("smem_zone_span({nid}, {zone}): {rc}"),
                    }
                }
                23 => {
                    // A short buffer is ENOSPC and is never written past its length.
                    let need = smem_snapshot_bytes(map);
                    let len = match d.below(4) {
                        0 => 0,
                        1 => d.below(need as u64) as usize,
                        _ => need,
                    };
                    let mut buf = vec![0xa5u8; need + 64];
                    let mut n = usize::MAX;
                    let rc = smem_snapshot(map, buf.as_mut_ptr().cast(), len, &mut n);
                    assert!(
                        buf[len..].iter().all(|&b| b == 0xa5),
                        "snapshot wrote past len {len}"
                    );
                    match rc {
                        SMEM_OK => {
                            assert!(n <= len);
                            buf.truncate(n);
                            if self.saved.len() < 8 {
                                self.saved.push(buf);
                            }
                        }
                        SMEM_ENOSPC => assert!(len < need),
                        rc => panic!("smem_snapshot(len {len} of {need}): {rc}"),
                    }
                }
                24 => {
                    // A saved snapshot, damaged or not: EINVAL and nothing changed, or
                    // success and the map's snapshot is the restored bytes.
                    let from_saved = !self.saved.is_empty() && d.below(8) != 0;
                    let mut bytes = if from_saved {
                        self.saved[d.below(self.saved.len() as u64) as usize].clone()
                    } else {
                        (0..d.below(256)).map(|_| d.below(256) as u8).collect()
                    };
                    let intact = from_saved
                        && match d.below(4) {
                            0 if !bytes.is_empty() => {
                                let i = d.below(bytes.len() as u64) as usize;
                                bytes[i] ^= 1 << d.below(8);
                                false
                            }
                            1 => {
                                bytes.truncate(d.below(bytes.len() as u64 + 1) as usize);
                                false
                            }
                            _ => true,
                        };
                    let ptr = if null {
                        core::ptr::null()
                    } else {
                        bytes.as_ptr().cast()
                    };
                    let rc = self.mutate("smem_restore", EINVAL, || {
                        smem_restore(map, ptr, bytes.len())
                    });
                    if rc == SMEM_OK {
                        assert!(snapshot(&self.map) == bytes, "restore -> snapshot differs");
                    } else {
                        assert!(
                            !intact || null,
                            "an intact snapshot of {} bytes was refused: {rc}; config {}",
                            bytes.len(),
                            show(&self.cfg)
                        );
                    }
                }
                26 => {
                    // Memory groups: ids mostly of existing groups, sizes mostly sane.
                    let nid = Self::nid(d);
                    let pages = match d.below(4) {
                        0 => d.any(),
                        1 => 0,
                        _ => (self.cfg.block_size >> self.cfg.page_shift) << d.below(4),
                    };
                    let mut id = u32::MAX;
                    let rc = if d.below(2) == 0 {
                        self.mutate(
                            "smem_group_register_static",
                            &[SMEM_EINVAL, SMEM_ENOMEM],
                            || smem_group_register_static(map, nid, pages, &mut id),
                        )
                    } else {
                        self.mutate(
                            "smem_group_register_dynamic",
                            &[SMEM_EINVAL, SMEM_ENOMEM],
                            || smem_group_register_dynamic(map, nid, pages, &mut id),
                        )
                    };
                    assert!(rc != SMEM_OK || id != SMEM_GROUP_NONE);
                    assert_eq!(
                        smem_group_register_static(map, 0, 1, core::ptr::null_mut()),
                        SMEM_EINVAL
                    );
                }
                27 => {
                    let id = Self::group(d);
                    self.mutate("smem_group_unregister", &[SMEM_ENOENT, SMEM_EBUSY], || {
                        smem_group_unregister(map, id)
                    });
                }
                28 => {
                    let nid = if d.below(2) == 0 {
                        SMEM_NID_NONE
                    } else {
                        Self::nid(d)
                    };
                    let group = if d.below(3) == 0 {
                        SMEM_GROUP_NONE
                    } else {
                        Self::group(d)
                    };
                    let flags = match d.below(4) {
                        0 => d.any() as u32,
                        1 => 0,
                        _ => SMEM_MHP_MEMMAP_ON_MEMORY,
                    };
                    let (start, size) = self.range(d, self.cfg.block_size);
                    let errors = self.with_veto(&[
                        SMEM_EINVAL,
                        SMEM_E2BIG,
                        SMEM_ENOENT,
                        SMEM_EEXIST,
                        SMEM_ENOMEM,
                    ]);
                    self.mutate("smem_add_memory_ex", &errors, || {
                        smem_add_memory_ex(map, nid, group, start, size, flags)
                    });
                }
                29 => {
                    let v = if d.below(4) == 0 {
                        d.below(256) as u8
                    } else {
                        d.below(4) as u8
                    };
                    if d.below(2) == 0 {
                        self.mutate("smem_set_auto_online", &[SMEM_EINVAL], || {
                            smem_set_auto_online(map, v)
                        });
                    } else {
                        let ratio = d.pick(&[0, 1, 100, 301, u32::MAX]);
                        let numa = d.below(3) as u8;
                        self.mutate("smem_set_online_policy", &[SMEM_EINVAL], || {
                            smem_set_online_policy(map, v % 3, ratio, numa)
                        });
                    }
                }
                30 => {
                    let (start, size) = self.range(d, 1 << self.cfg.subsection_shift);
                    if d.below(2) == 0 {
                        let errors = [
                            SMEM_EINVAL,
                            SMEM_ENOENT,
                            SMEM_EEXIST,
                            SMEM_EBUSY,
                            SMEM_ENOMEM,
                        ];
                        self.mutate("smem_fake_offline", &errors, || {
                            smem_fake_offline(map, start, size)
                        });
                    } else {
                        let errors = [SMEM_EINVAL, SMEM_ENOENT, SMEM_EBUSY];
                        self.mutate("smem_fake_online", &errors, || {
                            smem_fake_online(map, start, size)
                        });
                    }
                }
                _ => {
                    let err = d.any() as c_int;
                    assert!(!smem_strerror(err).is_null());
                    assert!(!smem_zone_name(d.below(256) as u8).is_null());
                    assert_eq!(smem_map_bytes(), SMEM_MAP_BYTES);
                }
            }
        }
    }

    /// snapshot -> restore into fresh storage -> snapshot must give the same bytes.
    pub fn check_round_trip(&self) {
        let bytes = snapshot(&self.map);
        let mut other = storage();
        // SAFETY: fresh storage, the map's own configuration and snapshot.
        unsafe {
            assert_eq!(smem_init(&mut *other, &self.cfg), SMEM_OK);
            assert_eq!(
                smem_restore(&mut *other, bytes.as_ptr().cast(), bytes.len()),
                SMEM_OK
            );
        }
        assert!(
            snapshot(&other) == bytes,
            "snapshot -> restore -> snapshot differs"
        );
    }
}

/// A session of `steps` hostile calls.
pub fn run(d: &mut impl Source, steps: usize) -> Hostile {
    let mut h = Hostile::new(d);
    for i in 0..steps {
        h.step(d);
        if i % 64 == 63 {
            h.check_round_trip();
        }
    }
    h.check_round_trip();
    h
}
