//! Every constant of the C contract (`include/sparsemem.h`), as integer literals so that
//! cbindgen writes them into the header as they are, and below them the ties to the
//! core: each constant is checked at compile time against the core value it stands
//! for, for every zone, block state, online type, auto-online policy, section and block
//! flag, pfn kind, range kind, notifier event and errno. A C value and the core's can
//! therefore never differ, and a variant or flag the core gains without a constant here
//! does not compile. The build-time values (capacity, the map's size) are not here but in
//! `capacity.rs`, computed from the core.

/// Success.
pub const SMEM_OK: i32 = 0;
/// A notifier vetoed with a positive value.
pub const SMEM_EPERM: i32 = -1;
/// No such block / section / range; removing what was never added.
pub const SMEM_ENOENT: i32 = -2;
/// Device memory requested over System RAM pages.
pub const SMEM_ENXIO: i32 = -6;
/// Range ends beyond max_phys_bits.
pub const SMEM_E2BIG: i32 = -7;
/// The map's static capacity is exhausted.
pub const SMEM_ENOMEM: i32 = -12;
/// An online block is in the way; a block is mid-transition.
pub const SMEM_EBUSY: i32 = -16;
/// Overlap with memory that is already present.
pub const SMEM_EEXIST: i32 = -17;
/// Bad argument, misalignment, wrong state, holes, mixed zones/nodes, corrupt snapshot.
pub const SMEM_EINVAL: i32 = -22;
/// Caller's output buffer too small.
pub const SMEM_ENOSPC: i32 = -28;

/// No zone.
pub const SMEM_ZONE_NONE: u8 = 0;
/// ZONE_DMA.
pub const SMEM_ZONE_DMA: u8 = 1;
/// ZONE_DMA32.
pub const SMEM_ZONE_DMA32: u8 = 2;
/// ZONE_NORMAL.
pub const SMEM_ZONE_NORMAL: u8 = 3;
/// ZONE_MOVABLE.
pub const SMEM_ZONE_MOVABLE: u8 = 4;
/// ZONE_DEVICE.
pub const SMEM_ZONE_DEVICE: u8 = 5;

/// Node id not set.
pub const SMEM_NID_NONE: i32 = -1;
/// A boot block spanning several nodes.
pub const SMEM_NID_MIXED: i32 = -2;

/// Block state: online.
pub const SMEM_BLOCK_ONLINE: u8 = 1;
/// Block state: an offline is under way.
pub const SMEM_BLOCK_GOING_OFFLINE: u8 = 2;
/// Block state: offline.
pub const SMEM_BLOCK_OFFLINE: u8 = 4;
/// Block state: an online is under way.
pub const SMEM_BLOCK_GOING_ONLINE: u8 = 8;

/// Online into the default zone (Linux `online`).
pub const SMEM_ONLINE: u8 = 1;
/// Online into the kernel zone.
pub const SMEM_ONLINE_KERNEL: u8 = 2;
/// Online into ZONE_MOVABLE.
pub const SMEM_ONLINE_MOVABLE: u8 = 3;

/// Leave hot-added blocks offline.
pub const SMEM_AUTO_OFFLINE: u8 = 0;
/// Online hot-added blocks into the default zone.
pub const SMEM_AUTO_ONLINE: u8 = 1;
/// Online hot-added blocks into the kernel zone.
pub const SMEM_AUTO_ONLINE_KERNEL: u8 = 2;
/// Online hot-added blocks into ZONE_MOVABLE.
pub const SMEM_AUTO_ONLINE_MOVABLE: u8 = 3;

/// Online policy: keep zones contiguous (Linux contig-zones, the default).
pub const SMEM_POLICY_CONTIG_ZONES: u8 = 0;
/// Online policy: Linux auto-movable (Movable while the ratio allows it).
pub const SMEM_POLICY_AUTO_MOVABLE: u8 = 1;

/// memmap_on_memory: never.
pub const SMEM_MEMMAP_ON_MEMORY_OFF: u8 = 0;
/// memmap_on_memory as Linux 6.1: only a range of exactly one block carries its memmap.
pub const SMEM_MEMMAP_ON_MEMORY_SINGLE_BLOCK: u8 = 1;
/// memmap_on_memory as later kernels: each block of a range carries its own memmap.
pub const SMEM_MEMMAP_ON_MEMORY_PER_BLOCK: u8 = 2;

/// No memory group (smem_add_memory_ex, smem_block_info.group).
pub const SMEM_GROUP_NONE: u32 = u32::MAX;
/// smem_add_memory_ex flag: each new block carries its own memmap, where supported.
pub const SMEM_MHP_MEMMAP_ON_MEMORY: u32 = 1;

/// Section flag: present.
pub const SMEM_SECTION_PRESENT: u32 = 1;
/// Section flag: has a memory map (Linux HAS_MEM_MAP).
pub const SMEM_SECTION_VALID: u32 = 2;
/// Section flag: online.
pub const SMEM_SECTION_ONLINE: u32 = 4;
/// Section flag: created at boot.
pub const SMEM_SECTION_EARLY: u32 = 8;
/// Section flag: a device range starts or ends inside.
pub const SMEM_SECTION_TAINT_DEVICE: u32 = 16;

/// Block flag: created from the boot map.
pub const SMEM_BLOCK_F_EARLY: u32 = 1;
/// Block flag: fewer System RAM pages than the block spans.
pub const SMEM_BLOCK_F_HOLES: u32 = 2;
/// Block flag: device sub-sections inside the block's sections.
pub const SMEM_BLOCK_F_DEVICE: u32 = 4;
/// Block flag: boot RAM of several zones.
pub const SMEM_BLOCK_F_MIXED_ZONES: u32 = 8;
/// Block flag: boot RAM of several nodes.
pub const SMEM_BLOCK_F_MIXED_NODES: u32 = 16;
/// Block flag: an offline request would pass every check of the library.
pub const SMEM_BLOCK_F_OFFLINABLE: u32 = 32;

/// Notifier event: an online is about to happen (may veto).
pub const SMEM_MEM_GOING_ONLINE: u8 = 1;
/// Notifier event: the block is online.
pub const SMEM_MEM_ONLINE: u8 = 2;
/// Notifier event: a vetoed online is cancelled.
pub const SMEM_MEM_CANCEL_ONLINE: u8 = 3;
/// Notifier event: an offline is about to happen (may veto).
pub const SMEM_MEM_GOING_OFFLINE: u8 = 4;
/// Notifier event: the block is offline.
pub const SMEM_MEM_OFFLINE: u8 = 5;
/// Notifier event: a vetoed offline is cancelled.
pub const SMEM_MEM_CANCEL_OFFLINE: u8 = 6;

/// Pfn kind: neither RAM nor device memory.
pub const SMEM_PFN_HOLE: u8 = 0;
/// Pfn kind: System RAM.
pub const SMEM_PFN_RAM: u8 = 1;
/// Pfn kind: device memory.
pub const SMEM_PFN_DEVICE: u8 = 2;

/// Range kind: System RAM, online.
pub const SMEM_RANGE_RAM_ONLINE: u8 = 1;
/// Range kind: System RAM, offline.
pub const SMEM_RANGE_RAM_OFFLINE: u8 = 2;
/// Range kind: device memory.
pub const SMEM_RANGE_DEVICE: u8 = 3;

/// No pfn.
pub const SMEM_PFN_NONE: u64 = 0xffff_ffff_ffff_ffff;

/// Library version, equal to the workspace version in Cargo.toml (c-tests compare it
/// with smem_version(), which is built from Cargo.toml).
pub const SMEM_VERSION_MAJOR: u32 = 0;
/// Minor version.
pub const SMEM_VERSION_MINOR: u32 = 4;
/// Patch version.
pub const SMEM_VERSION_PATCH: u32 = 0;

/// Physical address bits a map can be configured with at most.
pub const SMEM_MAX_PHYS_BITS: u32 = 52;
// ---- Ties to the core ---------------------------------------------------------------
// Nothing below is `pub`: cbindgen writes only the literals above into the header.

use core::ffi::c_int;

use sparsemem::{
    AutoOnline, BlockFlags, BlockState, Error, MemEvent, MemmapOnMemory, MhpFlags, OnlinePolicy,
    OnlineType, PfnKind, RangeKind, SectionFlags, Zone, GROUP_NONE,
};

/// A core enum whose every variant has one C constant.
pub(crate) trait CEnum: Sized {
    /// The C type of the constants.
    type C;
    /// The variant's C constant.
    fn to_c(self) -> Self::C;
    /// The variant a C value names; `None` for any other value.
    fn from_c(v: Self::C) -> Option<Self>;
}

/// Ties a `repr(u8)` core enum to its C constants in one list: each constant must equal
/// the variant's discriminant (a compile-time assertion), `to_c` is an exhaustive match
/// (a variant the core gains without a constant does not compile), and `from_c` is the
/// core's `TryFrom<u8>`, whose values the assertions tie to these constants.
macro_rules! c_enum {
    ($core:ident as $c:ty { $($variant:ident = $name:ident,)+ }) => {
        $(const _: () = assert!($name == $core::$variant as $c);)+

        impl CEnum for $core {
            type C = $c;
            #[inline]
            fn to_c(self) -> $c {
                match self {
                    $($core::$variant => $name,)+
                }
            }
            #[inline]
            fn from_c(v: $c) -> Option<Self> {
                // The core's own decoder: the assertions above make its values these.
                $core::try_from(v).ok()
            }
        }
    };
}

/// Ties a core bitflags type to its C constants: each constant equals its flag, and
/// together they are every flag the core defines.
macro_rules! c_flags {
    ($core:ident { $($flag:ident = $name:ident,)+ }) => {
        $(const _: () = assert!($name == $core::$flag.bits());)+
        const _: () = assert!($core::all().bits() == 0 $(| $name)+);
    };
}

/// Ties each error to its errno constant (equal to `Error::errno`, checked at compile
/// time) and defines `errno`, an exhaustive match: an error the core gains without a
/// constant does not compile. A notifier's veto is returned as the notifier gave it.
macro_rules! c_errno {
    ($($variant:ident = $name:ident,)+) => {
        $(const _: () = assert!($name == Error::$variant.errno());)+

        /// The negative errno of an error, as the C ABI returns it.
        pub(crate) fn errno(e: Error) -> c_int {
            match e {
                $(Error::$variant => $name,)+
                Error::Veto(v) => v,
            }
        }
    };
}

/// SMEM_OK, or the error's errno.
pub(crate) fn rc(r: Result<(), Error>) -> c_int {
    match r {
        Ok(()) => SMEM_OK,
        Err(e) => errno(e),
    }
}

c_errno! {
    Perm = SMEM_EPERM,
    NoEnt = SMEM_ENOENT,
    NxIo = SMEM_ENXIO,
    TooBig = SMEM_E2BIG,
    NoMem = SMEM_ENOMEM,
    Busy = SMEM_EBUSY,
    Exist = SMEM_EEXIST,
    Inval = SMEM_EINVAL,
    NoSpc = SMEM_ENOSPC,
}

c_enum!(Zone as u8 {
    None = SMEM_ZONE_NONE,
    Dma = SMEM_ZONE_DMA,
    Dma32 = SMEM_ZONE_DMA32,
    Normal = SMEM_ZONE_NORMAL,
    Movable = SMEM_ZONE_MOVABLE,
    Device = SMEM_ZONE_DEVICE,
});

c_enum!(BlockState as u8 {
    Online = SMEM_BLOCK_ONLINE,
    GoingOffline = SMEM_BLOCK_GOING_OFFLINE,
    Offline = SMEM_BLOCK_OFFLINE,
    GoingOnline = SMEM_BLOCK_GOING_ONLINE,
});

c_enum!(OnlineType as u8 {
    Online = SMEM_ONLINE,
    Kernel = SMEM_ONLINE_KERNEL,
    Movable = SMEM_ONLINE_MOVABLE,
});

c_enum!(AutoOnline as u8 {
    Offline = SMEM_AUTO_OFFLINE,
    Online = SMEM_AUTO_ONLINE,
    OnlineKernel = SMEM_AUTO_ONLINE_KERNEL,
    OnlineMovable = SMEM_AUTO_ONLINE_MOVABLE,
});

c_enum!(OnlinePolicy as u8 {
    ContigZones = SMEM_POLICY_CONTIG_ZONES,
    AutoMovable = SMEM_POLICY_AUTO_MOVABLE,
});

c_enum!(MemmapOnMemory as u8 {
    Off = SMEM_MEMMAP_ON_MEMORY_OFF,
    SingleBlock = SMEM_MEMMAP_ON_MEMORY_SINGLE_BLOCK,
    PerBlock = SMEM_MEMMAP_ON_MEMORY_PER_BLOCK,
});

c_flags!(MhpFlags {
    MEMMAP_ON_MEMORY = SMEM_MHP_MEMMAP_ON_MEMORY,
});

const _: () = assert!(SMEM_GROUP_NONE == GROUP_NONE);

c_enum!(MemEvent as u8 {
    GoingOnline = SMEM_MEM_GOING_ONLINE,
    Online = SMEM_MEM_ONLINE,
    CancelOnline = SMEM_MEM_CANCEL_ONLINE,
    GoingOffline = SMEM_MEM_GOING_OFFLINE,
    Offline = SMEM_MEM_OFFLINE,
    CancelOffline = SMEM_MEM_CANCEL_OFFLINE,
});

c_enum!(PfnKind as u8 {
    Hole = SMEM_PFN_HOLE,
    Ram = SMEM_PFN_RAM,
    Device = SMEM_PFN_DEVICE,
});

c_enum!(RangeKind as u8 {
    RamOnline = SMEM_RANGE_RAM_ONLINE,
    RamOffline = SMEM_RANGE_RAM_OFFLINE,
    Device = SMEM_RANGE_DEVICE,
});

c_flags!(SectionFlags {
    PRESENT = SMEM_SECTION_PRESENT,
    VALID = SMEM_SECTION_VALID,
    ONLINE = SMEM_SECTION_ONLINE,
    EARLY = SMEM_SECTION_EARLY,
    TAINT_DEVICE = SMEM_SECTION_TAINT_DEVICE,
});

c_flags!(BlockFlags {
    EARLY = SMEM_BLOCK_F_EARLY,
    HOLES = SMEM_BLOCK_F_HOLES,
    DEVICE = SMEM_BLOCK_F_DEVICE,
    MIXED_ZONES = SMEM_BLOCK_F_MIXED_ZONES,
    MIXED_NODES = SMEM_BLOCK_F_MIXED_NODES,
    OFFLINABLE = SMEM_BLOCK_F_OFFLINABLE,
});

// `smem_pfn_info.block_state` is 0 for a pfn in no block: no block state may be 0.
const _: () = assert!(
    SMEM_BLOCK_ONLINE != 0
        && SMEM_BLOCK_GOING_OFFLINE != 0
        && SMEM_BLOCK_OFFLINE != 0
        && SMEM_BLOCK_GOING_ONLINE != 0
);

const _: () = assert!(SMEM_NID_NONE == sparsemem::NID_NONE);
const _: () = assert!(SMEM_NID_MIXED == sparsemem::NID_MIXED);

const _: () = assert!(SMEM_MAX_PHYS_BITS == sparsemem::MAX_PHYS_BITS);

/// The layout version of `smem_lookup` this header describes.
pub const SMEM_LOOKUP_VERSION: u32 = 1;
const _: () = assert!(SMEM_LOOKUP_VERSION == sparsemem::LOOKUP_VERSION);
