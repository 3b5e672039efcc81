//! Every constant of the C contract (`spec/c-api.md`), as integer literals so that
//! cbindgen writes them into the header as they are. The capacity figures describe the
//! default build; `lib.rs` asserts at compile time that they match the core, so a
//! build with other capacities fails until this file is regenerated
//! (`make capacity-consts`, which prints it from the `sizes` example).

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
pub const SMEM_VERSION_MINOR: u32 = 1;
/// Patch version.
pub const SMEM_VERSION_PATCH: u32 = 0;

/// Physical address bits a map can be configured with at most.
pub const SMEM_MAX_PHYS_BITS: u32 = 52;
/// Section numbers are below 2^this.
pub const SMEM_MAX_SECTION_NR_BITS: usize = 25;
/// Section slots (sections present at once, handed out 128 at a time).
pub const SMEM_MAX_SECTIONS: usize = 32768;
/// Sub-sections per section the table holds.
pub const SMEM_MAX_SUBSECTIONS: usize = 256;
/// 64-bit words of the active and device masks.
pub const SMEM_SUBSECTION_WORDS: usize = 4;
/// Node ids are 0 .. SMEM_MAX_NODES-1.
pub const SMEM_MAX_NODES: i32 = 64;
/// Boot ranges smem_boot_add_ram accepts.
pub const SMEM_MAX_BOOT_RANGES: usize = 1024;
/// sizeof(smem_map).
pub const SMEM_MAP_BYTES: usize = 3181688;
/// _Alignof(smem_map).
pub const SMEM_MAP_ALIGN: usize = 8;
/// SMEM_MAP_BYTES in 64-bit words: the length of smem_map's private storage.
pub const SMEM_MAP_WORDS: usize = 397711;
