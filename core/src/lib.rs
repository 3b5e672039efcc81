//! # sparsemem
//!
//! Linux-style physical-memory bookkeeping as an embeddable `#![no_std]` library with
//! no heap: SPARSEMEM sections with lock-free 2 MiB sub-section states (so
//! [`SparseMap::pfn_valid`] is a few loads and exact at sub-section granularity),
//! memory blocks with their node, zone and valid zones as Linux reports them in
//! `/sys/devices/system/memory`, boot memory with holes, and zone spans.
//!
//! The semantics are Linux 6.x, with the deliberate differences listed at the top of
//! the project's `spec/semantics.md` (all-or-nothing operations, explicit mixed-node
//! blocks, errors instead of BUG or silent success, page-precise online answers).
//!
//! Module map: [`geometry`] (sizes and configuration), `table` and `section` (the
//! two-level section table and its atomic entries), `boot`/`early` (the firmware map and
//! what boot builds from it), `block` (memory blocks), `zone` (zones, spans, zone
//! choice), `query` (per-pfn answers), `stats`; [`concurrency`] explains the atomics.
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
#[cfg(test)]
extern crate std;

/// Build-time capacity (see `build.rs`; override with `SPARSEMEM_*` variables).
pub mod capacity {
    include!(concat!(env!("OUT_DIR"), "/capacity.rs"));
}

mod addr;
mod atomic64;
mod block;
mod boot;
pub mod concurrency;
mod device;
mod early;
mod error;
mod export;
pub mod geometry;
mod hotplug;
mod locked;
mod map;
mod notify;
mod order;
mod query;
mod section;
mod snapshot;
mod stats;
mod sync;
mod table;
mod zone;

pub use addr::{BlockId, Pfn, PhysAddr, SectionNr};
pub use block::{BlockFlags, BlockInfo, BlockState, Blocks, NID_MIXED, NID_NONE};
pub use boot::BootRange;
pub use error::{Error, Result};
pub use export::{MemRange, RangeKind};
pub use geometry::{AutoOnline, Config, Geometry, MAX_PHYS_BITS};
pub use hotplug::OnlineType;
pub use map::{Phase, SparseMap};
pub use notify::{MemEvent, Notifier};
pub use query::{PfnInfo, PfnKind, SectionInfo, SUBSECTION_WORDS};
pub use section::SectionFlags;
pub use snapshot::snapshot_config;
pub use stats::Stats;
pub use zone::{ValidZones, Zone, ZoneSet, ZoneSpan};

#[cfg(all(test, not(loom)))]
mod tests;

/// The README's Rust example, run as a doctest so that it stays true.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
