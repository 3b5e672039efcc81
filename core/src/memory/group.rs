//! Memory groups (Linux `struct memory_group`, drivers/base/memory.c): the blocks one
//! device added, which the auto-movable policy onlines as a unit. A *static* group is
//! a DIMM or a dax/kmem device of a known size; a *dynamic* one a virtio-mem device,
//! whose memory comes and goes in units. See docs/semantics.md, "Memory groups".
//!
//! The registry is a fixed array of `MAX_GROUPS` slots (a group id is its slot, the
//! lowest free one, as Linux's `xa_alloc` hands out ids). Writers hold the map's
//! hotplug lock; the fields are atomics so that queries may read them without it.

use crate::capacity::MAX_GROUPS;
use crate::error::{Error, Result};
use crate::memory::block::nid_ok;
use crate::sync::atomic64::Atomic64;
use crate::sync::{array_of, maybe_const_fn, AtomicU32, Ordering};

/// `SMEM_GROUP_NONE`: a block in no group.
pub const GROUP_NONE: u32 = u32::MAX;

/// What a group is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupKind {
    /// A device of `max_pages` pages, onlined as a whole (Linux `memory_group.s`).
    Static {
        /// Pages of the whole device.
        max_pages: u64,
    },
    /// A device that plugs memory in units of `unit_pages` (Linux `memory_group.d`).
    Dynamic {
        /// Pages per unit: a power of two of at least one memory block.
        unit_pages: u64,
    },
}

/// A registered group and its present-page counters (Linux
/// `present_kernel_pages`/`present_movable_pages`: pages of its online blocks).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GroupInfo {
    /// The group's id.
    pub id: u32,
    /// The node every block of the group belongs to.
    pub nid: i32,
    /// Static or dynamic, with its size.
    pub kind: GroupKind,
    /// Present pages of its blocks online in a kernel zone.
    pub present_kernel_pages: u64,
    /// Present pages of its blocks online in ZONE_MOVABLE.
    pub present_movable_pages: u64,
}

// `Slot::def`: 0 for a free slot, else the kind in bits 0..8 and nid + 1 in 8..16.
const STATIC: u32 = 1;
const DYNAMIC: u32 = 2;

#[derive(Debug)]
struct Slot {
    /// Kind and nid (see above). Release when a group is registered, after its other
    /// fields; Acquire when read.
    def: AtomicU32,
    /// `max_pages` or `unit_pages`.
    pages: Atomic64,
    kernel: Atomic64,
    movable: Atomic64,
}

impl Slot {
    maybe_const_fn! {
        fn new() -> Self {
            Self {
                def: AtomicU32::new(0),
                pages: Atomic64::new(0),
                kernel: Atomic64::new(0),
                movable: Atomic64::new(0),
            }
        }
    }
}

/// The registry. Writers hold the map's hotplug lock (the `_proof`-free methods are
/// called only under it; restore and init run alone).
#[derive(Debug)]
pub(crate) struct MemoryGroups {
    slots: [Slot; MAX_GROUPS],
}

impl MemoryGroups {
    maybe_const_fn! {
        pub(crate) fn new() -> Self {
            Self {
                slots: array_of![Slot::new(); MAX_GROUPS],
            }
        }
    }

    /// Forgets every group (init, restore).
    pub(crate) fn reset(&self) {
        for s in &self.slots {
            s.def.store(0, Ordering::Relaxed);
            s.pages.store(0);
            s.kernel.store(0);
            s.movable.store(0);
        }
    }

    /// Checks a new group's arguments as Linux `memory_group_register_*` does: `Inval`
    /// for an invalid nid, no pages, or a unit that is not a power of two of at least
    /// `block_pages`.
    pub(crate) fn check(nid: i32, kind: GroupKind, block_pages: u64) -> Result<()> {
        let ok = nid_ok(nid)
            && match kind {
                GroupKind::Static { max_pages } => max_pages != 0,
                GroupKind::Dynamic { unit_pages } => {
                    unit_pages.is_power_of_two() && unit_pages >= block_pages
                }
            };
        if ok {
            Ok(())
        } else {
            Err(Error::Inval)
        }
    }

    /// Registers a checked group in the lowest free slot; `NoMem` when every slot is
    /// taken. Callers hold the hotplug lock.
    pub(crate) fn register(&self, nid: i32, kind: GroupKind) -> Result<u32> {
        let (id, slot) = self
            .slots
            .iter()
            .enumerate()
            .find(|(_, s)| s.def.load(Ordering::Acquire) == 0)
            .ok_or(Error::NoMem)?;
        self.install(slot, nid, kind, 0, 0);
        u32::try_from(id).map_err(|_| Error::NoMem)
    }

    /// Writes a slot: its fields, then (Release) its definition.
    fn install(&self, slot: &Slot, nid: i32, kind: GroupKind, kernel: u64, movable: u64) {
        let (code, pages) = match kind {
            GroupKind::Static { max_pages } => (STATIC, max_pages),
            GroupKind::Dynamic { unit_pages } => (DYNAMIC, unit_pages),
        };
        slot.pages.store(pages);
        slot.kernel.store(kernel);
        slot.movable.store(movable);
        let nid_code = (nid.wrapping_add(1) as u32) & 0xff;
        slot.def.store(code | nid_code << 8, Ordering::Release);
    }

    /// Restores a group with its id, no pages counted yet (restore, which runs
    /// alone). `Inval` for an id beyond the capacity or taken.
    pub(crate) fn restore(&self, id: u32, nid: i32, kind: GroupKind) -> Result<()> {
        let slot = self.slot(id).ok_or(Error::Inval)?;
        if slot.def.load(Ordering::Relaxed) != 0 {
            return Err(Error::Inval);
        }
        self.install(slot, nid, kind, 0, 0);
        Ok(())
    }

    /// Frees a slot. Callers hold the hotplug lock and checked that no block is in
    /// the group.
    pub(crate) fn unregister(&self, id: u32) -> Result<()> {
        let slot = self.slot(id).ok_or(Error::NoEnt)?;
        if slot.def.load(Ordering::Acquire) == 0 {
            return Err(Error::NoEnt);
        }
        slot.def.store(0, Ordering::Release);
        Ok(())
    }

    fn slot(&self, id: u32) -> Option<&Slot> {
        self.slots.get(usize::try_from(id).ok()?)
    }

    /// A registered group, if `id` is one.
    pub(crate) fn get(&self, id: u32) -> Option<GroupInfo> {
        let slot = self.slot(id)?;
        let def = slot.def.load(Ordering::Acquire);
        let pages = slot.pages.load();
        let kind = match def & 0xff {
            STATIC => GroupKind::Static { max_pages: pages },
            DYNAMIC => GroupKind::Dynamic { unit_pages: pages },
            _ => return None,
        };
        Some(GroupInfo {
            id,
            nid: (((def >> 8) & 0xff) as i32).wrapping_sub(1),
            kind,
            present_kernel_pages: slot.kernel.load(),
            present_movable_pages: slot.movable.load(),
        })
    }

    /// Every registered group, in id order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = GroupInfo> + '_ {
        (0..MAX_GROUPS as u32).filter_map(|id| self.get(id))
    }

    /// Adds (or with a negative `delta`, removes) present pages of a block of group
    /// `id` in a kernel zone or ZONE_MOVABLE (Linux `adjust_present_page_count`).
    /// Callers hold the hotplug lock.
    pub(crate) fn account(&self, id: u32, movable: bool, delta: i64) {
        if let Some(slot) = self.slot(id) {
            let cell = if movable { &slot.movable } else { &slot.kernel };
            cell.store(cell.load().wrapping_add(delta as u64));
        }
    }
}
