//! # sparsemem
//!
//! Linux-style physical-memory bookkeeping as an embeddable `#![no_std]` library with
//! no heap: SPARSEMEM sections with lock-free 2 MiB sub-section states (so
//! [`SparseMap::pfn_valid`] is a few loads and exact at sub-section granularity),
//! memory blocks with their node, zone and valid zones as Linux reports them in
//! `/sys/devices/system/memory`, boot memory with holes, and zone spans.
//!
//! ```
//! use sparsemem::{BlockId, Config, Pfn, SparseMap};
//!
//! static MAP: SparseMap = SparseMap::new(); // all zero: lives in .bss
//!
//! MAP.init(&Config::x86_64()).unwrap();
//! MAP.boot_add_ram(0, 0x1000, 0x9fc00 - 0x1000).unwrap(); // e820 entries, any order
//! MAP.boot_add_ram(0, 0x10_0000, 0x3ff0_0000).unwrap();
//! MAP.boot_finish().unwrap();
//! assert!(MAP.pfn_valid(Pfn(0x500)));
//! assert_eq!(MAP.valid_zones(BlockId(1)).unwrap().to_string(), "DMA32");
//! ```
//!
//! Every fallible operation returns an [`Error`], whose [`Error::errno`] is the negative
//! Linux errno the C ABI returns for it; a failed operation leaves the map unchanged.
//!
//! The semantics are Linux 6.x, with the deliberate differences listed at the top of
//! docs/semantics.md (all-or-nothing operations, explicit mixed-node
//! blocks, errors instead of BUG or silent success, page-precise online answers).
//!
//! Layout (data flows downward; no module imports one above it):
//!
//! - `map/`: [`SparseMap`] and its operations, one facet per file: `boot`, `query`,
//!   `blocks`, `hotplug`, `device`, `snapshot`, `export`, `stats`, `notify`; `commit`
//!   states the shape they share (validate and reserve, then a commit that cannot fail).
//! - `memory/`: memory blocks and their states, zones and the zone rules (`policy`),
//!   per-node zone spans, the boot RAM ranges.
//! - `section/`: the two-level section table, the flat valid bitmap that mirrors it for
//!   the low address space (`flat`), one section's atomic entry, runs of
//!   locked sections, the per-sub-section nids of sections shared by several nodes'
//!   device memory, and the [`geometry`] (sizes, configuration, conversions).
//! - `addr/`: [`Pfn`], [`PhysAddr`], [`SectionNr`], [`BlockId`] and [`PfnRange`].
//! - `sync/`: the atomics (loom-switchable), the lock order as types, and the
//!   [`concurrency`] design.
//! - [`capacity`]: the build-time limits.
#![no_std]
#![cfg_attr(
    not(test),
    deny(
        clippy::arithmetic_side_effects,
        clippy::indexing_slicing,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic
    )
)]

#[cfg(feature = "alloc")]
extern crate alloc;
// Tests, and the test-only `fault-injection` feature (its commit guard, map/commit.rs).
#[cfg(any(test, feature = "fault-injection"))]
extern crate std;

pub mod capacity;

mod addr;
mod error;
mod map;
mod memory;
mod repr;
mod section;
mod sync;

pub use section::geometry;
pub use sync::concurrency;

pub use addr::{BlockId, Pfn, PfnRange, PhysAddr, SectionNr, Split};
pub use error::{Error, Result};
pub use geometry::{
    AutoOnline, Config, Geometry, MemmapOnMemory, OnlinePolicy, DEFAULT_AUTO_MOVABLE_RATIO,
    MAX_PHYS_BITS,
};
pub use map::blocks::Blocks;
pub use map::export::{MemRange, RangeKind};
pub use map::hotplug::{MhpFlags, OnlineType};
pub use map::notify::{MemEvent, Notifier};
pub use map::query::{PfnInfo, PfnKind, SectionInfo, SUBSECTION_WORDS};
pub use map::snapshot::snapshot_config;
pub use map::stats::Stats;
pub use map::{Phase, Policy, SparseMap};
pub use memory::block::{BlockFlags, BlockInfo, BlockState, NID_MIXED, NID_NONE};
pub use memory::boot_ranges::BootRange;
pub use memory::group::{GroupInfo, GroupKind, GROUP_NONE};
pub use memory::zone::{ValidZones, Zone, ZoneSet, ZoneSpan};
pub use section::flat::{FlatValid, LOOKUP_VERSION};
pub use section::SectionFlags;

#[cfg(all(test, not(loom)))]
mod tests;

/// The README's Rust example, run as a doctest so that it stays true.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
