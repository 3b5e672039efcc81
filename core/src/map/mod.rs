//! The map itself (storage, configuration, phase, initialisation in place) and, one
//! file each, the facets of its operations.

pub(crate) mod blocks;
pub(crate) mod boot;
pub(crate) mod commit;
pub(crate) mod device;
pub(crate) mod export;
pub(crate) mod fake_offline;
pub(crate) mod flat_bitmaps;
pub(crate) mod groups;
pub(crate) mod hotplug;
pub(crate) mod notify;
pub(crate) mod query;
pub(crate) mod snapshot;
pub(crate) mod stats;

use crate::sync::{maybe_const_fn, AtomicU32, AtomicUsize, Ordering};

use crate::addr::{PfnRange, PhysAddr};
use crate::error::{Error, Result};
use crate::memory::boot_ranges::BootRanges;
use crate::memory::group::MemoryGroups;
use crate::memory::policy::{AddrZones, ZoneChoice};
use crate::memory::spans::Zones;
use crate::memory::zone::{Zone, ZoneSpan};
use crate::repr::u8_enum;
use crate::section::fake_offline::FakeOffline;
use crate::section::flat::FlatValid;
use crate::section::flat_online::FlatOnline;
use crate::section::geometry::{AutoOnline, Config, Geometry, MemmapOnMemory, OnlinePolicy};
use crate::section::shared_nids::SharedNids;
use crate::section::table::Table;
use crate::sync::atomic64::Atomic64;
use crate::sync::order::{Hotplug, OrderedLock};

u8_enum! {
    /// Where a map is in its life.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Phase {
        /// Not initialised (an all-zero map): answers as an empty map, refuses every change.
        Uninit = 0,
        /// Initialised; boot RAM ranges are being registered.
        Boot = 1,
        /// `boot_finish` succeeded; hotplug operations are allowed.
        Running = 2,
    }
}

/// The run-time policies of a map (Linux's `auto_online_blocks` and the writable
/// `memory_hotplug` module parameters).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    /// How `add_memory` onlines the blocks it creates.
    pub auto_online: AutoOnline,
    /// How a plain online chooses its zone.
    pub online_policy: OnlinePolicy,
    /// Movable pages allowed per 100 early kernel pages (auto-movable).
    pub auto_movable_ratio: u32,
    /// The ratio also holds per node (auto-movable).
    pub auto_movable_numa_aware: bool,
}

impl Policy {
    /// The policies a configuration starts with.
    pub fn of(cfg: &Config) -> Self {
        Self {
            auto_online: cfg.auto_online,
            online_policy: cfg.online_policy,
            auto_movable_ratio: cfg.auto_movable_ratio,
            auto_movable_numa_aware: cfg.auto_movable_numa_aware,
        }
    }

    pub(crate) fn pack(self) -> u64 {
        u64::from(self.auto_online as u8)
            | u64::from(self.online_policy as u8) << 8
            | u64::from(self.auto_movable_numa_aware) << 16
            | u64::from(self.auto_movable_ratio) << 32
    }

    pub(crate) fn unpack(w: u64) -> Self {
        Self {
            auto_online: AutoOnline::from_u8(w as u8).unwrap_or_default(),
            online_policy: OnlinePolicy::from_u8((w >> 8) as u8).unwrap_or_default(),
            auto_movable_numa_aware: (w >> 16) & 1 != 0,
            auto_movable_ratio: (w >> 32) as u32,
        }
    }
}

/// Linux-style physical memory bookkeeping: sections with sub-section states, memory
/// blocks, zones and nodes, in one fixed-size value.
///
/// A map is megabytes of static storage (see the README for the figures) and must not
/// travel by value: put it in a `static`, or initialise it in place with
/// [`SparseMap::init_in_place`]. All-zero bytes are a valid, uninitialised map, so a
/// `static` lives in `.bss`. Every method takes `&self` and may run concurrently with
/// any other, except `init` and `restore`.
///
/// ```
/// use sparsemem::{Config, Pfn, SparseMap};
/// static MAP: SparseMap = SparseMap::new();
/// MAP.init(&Config::x86_64()).unwrap();
/// MAP.boot_add_ram(0, 0x1000, 0x3fff_f000).unwrap();
/// MAP.boot_finish().unwrap();
/// assert!(MAP.pfn_valid(Pfn(0x100)));
/// assert_eq!(MAP.block_info(sparsemem::BlockId(1)).unwrap().valid_zones_text().to_string(), "DMA32");
/// ```
///
/// Layout: `repr(C)` fixes the field order so that what every reader loads (the
/// geometry words and the flat valid bitmap's description, then the bitmap and the
/// root array at the start of the table) never shares a cache line with what writers
/// store on every operation (the hotplug lock and the transition count, last). With the compiler's order they shared one line and a
/// writer churning on another core cost readers a fifth of their throughput.
#[derive(Debug)]
#[repr(C)]
pub struct SparseMap {
    /// `Geometry::pack`; read (Relaxed) by every query: `init` happens-before any
    /// other call by contract, so no ordering is needed.
    geometry: AtomicU32,
    /// block shift | movable_node << 8 | auto_online << 16. Written by `init` only,
    /// which happens-before every other call by contract: Relaxed, as `geometry`.
    options: AtomicU32,
    /// The configuration's online_policy | auto_movable_numa_aware << 8 |
    /// memmap_on_memory << 16, as `init` was given them. Written by `init` and
    /// `restore` only: Relaxed, as `options`.
    init_policy: AtomicU32,
    /// The configuration's auto_movable_ratio, as `init` was given it (Relaxed, as
    /// `init_policy`).
    init_ratio: AtomicU32,
    /// The policies in force (`Policy::pack`): set by `init`, `restore`,
    /// `set_auto_online` and `set_online_policy` (those two under the hotplug lock,
    /// which serialises the stores); one load gives all of them from one moment.
    policy: Atomic64,
    /// `Phase`. Stored with Release when boot finishes, loaded with Acquire.
    phase: AtomicU32,
    /// The geometry's `pfn_section_shift`, kept apart so that the two-level lookup
    /// (`pfn_valid` above the flat bitmap) starts with one load and one shift instead of
    /// unpacking `geometry`. Written by `init` only: Relaxed, as `geometry`.
    pub(crate) pfn_section_shift: AtomicU32,
    /// The flat valid bitmap of the low address space and its description for C
    /// (`section/flat.rs`): `pfn_valid` below its limit reads only this.
    pub(crate) flat: FlatValid,
    /// The flat online bitmap (`section/flat_online.rs`): `pfn_online` of a wholly
    /// online sub-section below its limit reads only this and `flat`'s shift.
    pub(crate) online: FlatOnline,
    /// ZONE_DMA end and ZONE_DMA32 end: the address rule for boot RAM's zones.
    pub(crate) addr_zones: AddrZones,
    pub(crate) table: Table,
    pub(crate) boot: BootRanges,
    pub(crate) zones: Zones,
    /// Per-sub-section nids of the sections that hold several nodes' device memory.
    pub(crate) shared_nids: SharedNids,
    /// Memory groups. Changed under the hotplug lock.
    pub(crate) groups: MemoryGroups,
    /// Fake-offline marks of the sections that have any. Changed under the hotplug
    /// lock.
    pub(crate) fake: FakeOffline,
    /// Blocks currently between their GOING_* event and their last event. Changed
    /// (AcqRel) and read by `snapshot` (Acquire) under the hotplug lock, which is what
    /// orders it; `transitions_in_progress` reads it lock-free as a hint.
    pub(crate) transitions: AtomicUsize,
    /// Serialises System RAM operations (add, remove, online, offline commit steps).
    /// Never held while a notifier runs; never taken by readers.
    pub(crate) hotplug: OrderedLock<Hotplug>,
    /// Steps left before an injected failure (0: none). Present in every build (only
    /// the `fault-injection` feature reads it) so that the map's size, and with it
    /// `SMEM_MAP_BYTES`, is one number whatever the features.
    /// Relaxed: tests set it and run the failing operation on one thread.
    #[cfg_attr(not(feature = "fault-injection"), allow(dead_code))]
    fault_countdown: AtomicUsize,
}

impl Default for SparseMap {
    fn default() -> Self {
        Self::new()
    }
}

impl SparseMap {
    maybe_const_fn! {
        /// An uninitialised map (all zero). Usable as a `static` initialiser.
        pub fn new() -> Self {
            Self {
                geometry: AtomicU32::new(0),
                options: AtomicU32::new(0),
                addr_zones: AddrZones::new(),
                init_policy: AtomicU32::new(0),
                init_ratio: AtomicU32::new(0),
                policy: Atomic64::new(0),
                phase: AtomicU32::new(0),
                pfn_section_shift: AtomicU32::new(0),
                flat: FlatValid::new(),
                online: FlatOnline::new(),
                transitions: AtomicUsize::new(0),
                table: Table::new(),
                boot: BootRanges::new(),
                zones: Zones::new(),
                shared_nids: SharedNids::new(),
                groups: MemoryGroups::new(),
                fake: FakeOffline::new(),
                hotplug: OrderedLock::new(),
                fault_countdown: AtomicUsize::new(0),
            }
        }
    }

    /// Initialises storage in place, whatever it held before, without ever building
    /// a map on the stack. The configuration is validated first: on `Inval` the
    /// storage is left untouched.
    #[cfg(not(loom))]
    pub fn init_in_place<'a>(
        slot: &'a mut core::mem::MaybeUninit<SparseMap>,
        cfg: &Config,
    ) -> Result<&'a mut SparseMap> {
        cfg.validate()?;
        // SAFETY: a SparseMap consists only of atomics, integers in atomics and
        // `spin::Mutex<()>` (an AtomicBool and a unit), for all of which the all-zero
        // bit pattern is a valid value; the test `all_zero_bytes_are_a_valid_empty_unlocked_map`
        // checks the result. So after writing zeros over every byte
        // the slot holds a valid (uninitialised-phase) map.
        #[allow(unsafe_code)]
        let map = unsafe {
            core::ptr::write_bytes(slot.as_mut_ptr(), 0, 1);
            slot.assume_init_mut()
        };
        map.init(cfg)?;
        Ok(map)
    }

    /// A map on the heap, initialised with `cfg`, built in place (never on the stack).
    /// `Inval` for a configuration [`SparseMap::init`] rejects.
    #[cfg(all(feature = "alloc", not(loom)))]
    pub fn new_boxed(cfg: &Config) -> Result<alloc::boxed::Box<SparseMap>> {
        let mut slot = alloc::boxed::Box::<SparseMap>::new_uninit();
        Self::init_in_place(&mut slot, cfg)?;
        // SAFETY: `init_in_place` succeeded, so every byte of the slot was written
        // and holds a valid map.
        #[allow(unsafe_code)]
        Ok(unsafe { slot.assume_init() })
    }

    /// A map on the heap (loom models: loom's atomics have no all-zero form, and the
    /// models' maps are small).
    #[cfg(all(feature = "alloc", loom))]
    pub fn new_boxed(cfg: &Config) -> Result<alloc::boxed::Box<SparseMap>> {
        let map = alloc::boxed::Box::new(SparseMap::new());
        map.init(cfg)?;
        Ok(map)
    }

    /// (Re)initialises the map with a configuration: everything it held is forgotten
    /// and it enters the boot phase. `Inval` for a configuration `smem_init` rejects;
    /// the map is then unchanged. Must not run concurrently with any other call.
    pub fn init(&self, cfg: &Config) -> Result<()> {
        let g = cfg.validate()?;
        // The bitmap holds only valid sections of the table: clear those, laid out as
        // the previous geometry laid them out, before the table forgets them.
        self.forget_flat_bitmaps(&self.geometry());
        self.table.reset();
        self.boot.reset();
        self.zones.reset();
        self.shared_nids.reset();
        self.groups.reset();
        self.fake.reset();
        self.transitions.store(0, Ordering::Relaxed);
        self.geometry.store(g.pack(), Ordering::Relaxed);
        self.pfn_section_shift
            .store(g.pfn_section_shift(), Ordering::Relaxed);
        self.flat.describe(
            g.pfn_subsection_shift(),
            core::mem::offset_of!(SparseMap, flat),
        );
        let opts = u32::from(g.block_shift)
            | u32::from(cfg.movable_node) << 8
            | u32::from(cfg.auto_online as u8) << 16;
        self.options.store(opts, Ordering::Relaxed);
        let init_policy = u32::from(cfg.online_policy as u8)
            | u32::from(cfg.auto_movable_numa_aware) << 8
            | u32::from(cfg.memmap_on_memory as u8) << 16;
        self.init_policy.store(init_policy, Ordering::Relaxed);
        self.init_ratio
            .store(cfg.auto_movable_ratio, Ordering::Relaxed);
        self.policy.store(Policy::of(cfg).pack());
        self.addr_zones.set(
            g.pfn_down(PhysAddr(cfg.zone_dma_end)),
            g.pfn_down(PhysAddr(cfg.zone_dma32_end)),
        );
        self.phase.store(Phase::Boot as u32, Ordering::Release);
        Ok(())
    }

    /// The validated geometry (all zero before `init`).
    #[inline]
    pub fn geometry(&self) -> Geometry {
        let opts = self.options.load(Ordering::Relaxed);
        Geometry::unpack(self.geometry.load(Ordering::Relaxed), opts as u8)
    }

    /// The geometry without its block shift: one load, for the per-pfn fast paths
    /// that never look at blocks.
    #[inline]
    pub(crate) fn pfn_geometry(&self) -> Geometry {
        Geometry::unpack(self.geometry.load(Ordering::Relaxed), 0)
    }

    /// The configuration the map was initialised with.
    pub fn config(&self) -> Config {
        let g = self.geometry();
        let opts = self.options.load(Ordering::Relaxed);
        let (dma_end, dma32_end) = self.addr_zones.limits();
        let init_policy = self.init_policy.load(Ordering::Relaxed);
        Config {
            page_shift: g.page_shift,
            subsection_shift: g.subsection_shift,
            section_shift: g.section_shift,
            max_phys_bits: g.max_phys_bits,
            movable_node: (opts >> 8) & 1 != 0,
            auto_online: AutoOnline::from_u8((opts >> 16) as u8).unwrap_or_default(),
            block_size: if self.phase() == Phase::Uninit {
                0
            } else {
                g.block_size()
            },
            zone_dma_end: g.addr_of(dma_end).map_or(0, |a| a.0),
            zone_dma32_end: g.addr_of(dma32_end).map_or(0, |a| a.0),
            online_policy: OnlinePolicy::from_u8(init_policy as u8).unwrap_or_default(),
            auto_movable_numa_aware: (init_policy >> 8) & 1 != 0,
            memmap_on_memory: MemmapOnMemory::from_u8((init_policy >> 16) as u8)
                .unwrap_or_default(),
            auto_movable_ratio: self.init_ratio.load(Ordering::Relaxed),
        }
    }

    /// The policies in force: the configuration's, as `set_auto_online` and
    /// `set_online_policy` changed them since.
    pub fn policy(&self) -> Policy {
        Policy::unpack(self.policy.load())
    }

    /// Replaces the policies in force (init, restore, the setters).
    pub(crate) fn set_policy(&self, p: Policy) {
        self.policy.store(p.pack());
    }

    /// Where the map is in its life.
    pub fn phase(&self) -> Phase {
        u8::try_from(self.phase.load(Ordering::Acquire))
            .ok()
            .and_then(Phase::from_u8)
            .unwrap_or(Phase::Uninit)
    }

    pub(crate) fn set_phase(&self, p: Phase) {
        self.phase.store(p as u32, Ordering::Release);
    }

    /// `Inval` unless the map is in phase `p`.
    pub(crate) fn require(&self, p: Phase) -> Result<()> {
        if self.phase() == p {
            Ok(())
        } else {
            Err(Error::Inval)
        }
    }

    /// Linux `zone_for_pfn_range` for an offline block: the kernel zone, and the
    /// default zone by the online policy in force (contiguous zones, or auto-movable,
    /// which then ignores `movable_node`).
    pub(crate) fn block_zone_choice(
        &self,
        rec: &crate::memory::block::BlockRecord,
        block: PfnRange,
    ) -> ZoneChoice {
        let contig = ZoneChoice::for_block(&self.zones, rec.nid, block, self.config().movable_node);
        if self.policy().online_policy != OnlinePolicy::AutoMovable || contig.kernel == Zone::None {
            return contig;
        }
        ZoneChoice {
            default: self.auto_movable_zone(rec, block, contig.kernel),
            ..contig
        }
    }

    /// Linux's per-node zone span `[start, end)` and present pages. `Inval` for a nid
    /// outside `0..MAX_NODES` or `Zone::None`; `NoEnt` when the span is empty.
    pub fn zone_span(&self, nid: i32, zone: Zone) -> Result<ZoneSpan> {
        let s = self.zones.get(nid, zone)?;
        if s.is_empty() {
            return Err(Error::NoEnt);
        }
        Ok(s)
    }

    /// A fault-injection point in the prepare phase of an operation (before its commit,
    /// see `commit.rs`). With the `fault-injection` feature, `fail_at_step(n)`
    /// makes the n-th such point from now fail with `NoMem`.
    #[inline]
    pub(crate) fn fault_step(&self) -> Result<()> {
        commit::assert_preparing("fault step");
        #[cfg(feature = "fault-injection")]
        {
            let n = self.fault_countdown.load(Ordering::Relaxed);
            if n == 1 {
                self.fault_countdown.store(0, Ordering::Relaxed);
                return Err(Error::NoMem);
            }
            if n > 1 {
                self.fault_countdown
                    .store(n.wrapping_sub(1), Ordering::Relaxed);
            }
        }
        Ok(())
    }

    /// Makes the `n`-th internal step from now fail with `NoMem` (0: never). Test-only.
    #[cfg(feature = "fault-injection")]
    pub fn fail_at_step(&self, n: usize) {
        self.fault_countdown.store(n, Ordering::Relaxed);
    }

    /// Bytes of storage a map takes (`SMEM_MAP_BYTES`).
    pub const BYTES: usize = core::mem::size_of::<SparseMap>();
}

/// The default map must fit the footprint budget of the project: 4 MiB.
const _: () =
    assert!(!crate::capacity::DEFAULT_CAPACITY || core::mem::size_of::<SparseMap>() <= 4 << 20);
