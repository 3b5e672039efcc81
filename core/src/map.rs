//! The map itself: storage, configuration, phase, and initialisation in place.

use crate::sync::{maybe_const_fn, AtomicU32, AtomicUsize, Ordering};

use crate::addr::Pfn;
use crate::atomic64::Published64;
use crate::boot::BootRanges;
use crate::error::{Error, Result};
use crate::geometry::{AutoOnline, Config, Geometry};
use crate::order::{Hotplug, OrderedLock};
use crate::table::Table;
use crate::zone::{Zone, Zones};

/// Where a map is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Phase {
    /// Not initialised (an all-zero map): answers as an empty map, refuses every change.
    Uninit = 0,
    /// Initialised; boot RAM ranges are being registered.
    Boot = 1,
    /// `boot_finish` succeeded; hotplug operations are allowed.
    Running = 2,
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
/// geometry words, then the root array at the start of the table) never shares a cache
/// line with what writers store on every operation (the hotplug lock and the
/// transition count, last). With the compiler's order they shared one line and a
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
    /// `Phase`. Stored with Release when boot finishes, loaded with Acquire.
    phase: AtomicU32,
    /// ZONE_DMA end and ZONE_DMA32 end, in pfns. Written by `init` only (which
    /// happens-before every other call), so read without ordering or retry.
    dma_end: Published64,
    dma32_end: Published64,
    pub(crate) table: Table,
    pub(crate) boot: BootRanges,
    pub(crate) zones: Zones,
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
                dma_end: Published64::new(0),
                dma32_end: Published64::new(0),
                phase: AtomicU32::new(0),
                transitions: AtomicUsize::new(0),
                table: Table::new(),
                boot: BootRanges::new(),
                zones: Zones::new(),
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
        self.table.reset();
        self.boot.reset();
        self.zones.reset();
        self.transitions.store(0, Ordering::Relaxed);
        self.geometry.store(g.pack(), Ordering::Relaxed);
        let opts = u32::from(g.block_shift)
            | u32::from(cfg.movable_node) << 8
            | u32::from(cfg.auto_online as u8) << 16;
        self.options.store(opts, Ordering::Relaxed);
        self.dma_end.store(g.pfn_down(cfg.zone_dma_end.into()).0);
        self.dma32_end
            .store(g.pfn_down(cfg.zone_dma32_end.into()).0);
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
            zone_dma_end: g.addr_of(Pfn(self.dma_end.load())).map_or(0, |a| a.0),
            zone_dma32_end: g.addr_of(Pfn(self.dma32_end.load())).map_or(0, |a| a.0),
        }
    }

    /// Where the map is in its life.
    pub fn phase(&self) -> Phase {
        match self.phase.load(Ordering::Acquire) {
            1 => Phase::Boot,
            2 => Phase::Running,
            _ => Phase::Uninit,
        }
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

    /// The zone boot RAM at `pfn` belongs to, by address: DMA below `zone_dma_end`,
    /// DMA32 below `zone_dma32_end`, Normal above.
    pub(crate) fn zone_by_addr(&self, pfn: Pfn) -> Zone {
        let dma = self.dma_end.load();
        let dma32 = self.dma32_end.load();
        if dma != 0 && pfn.0 < dma {
            Zone::Dma
        } else if dma32 != 0 && pfn.0 < dma32 {
            Zone::Dma32
        } else {
            Zone::Normal
        }
    }

    /// The end (exclusive) of the address zone that holds `pfn`, or `u64::MAX` for
    /// Normal. Splits ranges at zone boundaries.
    pub(crate) fn addr_zone_end(&self, pfn: Pfn) -> u64 {
        let dma = self.dma_end.load();
        let dma32 = self.dma32_end.load();
        if dma != 0 && pfn.0 < dma {
            dma
        } else if dma32 != 0 && pfn.0 < dma32 {
            dma32
        } else {
            u64::MAX
        }
    }

    /// A fault-injection point in the prepare phase of an operation (before anything
    /// visible is written). With the `fault-injection` feature, `fail_at_step(n)`
    /// makes the n-th such point from now fail with `NoMem`.
    #[inline]
    pub(crate) fn fault_step(&self) -> Result<()> {
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
