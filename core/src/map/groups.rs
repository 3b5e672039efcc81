//! The memory-group facet of the map: registering groups, the run-time policies, and
//! the auto-movable online policy that decides a zone per group (Linux 6.1
//! `auto_movable_zone_for_pfn` and `auto_movable_can_online_movable`; see
//! docs/semantics.md, "Memory groups and the auto-movable policy").

use crate::addr::{PfnRange, SectionNr};
use crate::capacity::MAX_NODES;
use crate::error::{Error, Result};
use crate::map::{Phase, Policy, SparseMap};
use crate::memory::block::{BlockFlags, BlockRecord, BlockState};
use crate::memory::group::{GroupInfo, GroupKind, MemoryGroups};
use crate::memory::zone::{Zone, NR_ZONES};
use crate::section::geometry::{AutoOnline, OnlinePolicy};
use crate::section::SectionFlags;
use crate::sync::order::Held;

impl SparseMap {
    /// Registers a static memory group (a DIMM or a dax/kmem device of `max_pages`
    /// pages on `nid`; Linux `memory_group_register_static`) and returns its id.
    /// Errors: `Inval` before `init`, for an invalid nid or `max_pages` 0; `NoMem`
    /// when `MAX_GROUPS` groups are registered.
    pub fn group_register_static(&self, nid: i32, max_pages: u64) -> Result<u32> {
        self.group_register(nid, GroupKind::Static { max_pages })
    }

    /// Registers a dynamic memory group (a virtio-mem device on `nid` that plugs
    /// memory in units of `unit_pages`; Linux `memory_group_register_dynamic`) and
    /// returns its id. Errors: `Inval` before `init`, for an invalid nid or a unit that
    /// is not a power of two of at least one memory block; `NoMem` when `MAX_GROUPS`
    /// groups are registered.
    pub fn group_register_dynamic(&self, nid: i32, unit_pages: u64) -> Result<u32> {
        self.group_register(nid, GroupKind::Dynamic { unit_pages })
    }

    fn group_register(&self, nid: i32, kind: GroupKind) -> Result<u32> {
        if self.phase() == Phase::Uninit {
            return Err(Error::Inval);
        }
        MemoryGroups::check(nid, kind, self.geometry().pages_per_block())?;
        let mut top = Held::nothing();
        let _h = self.hotplug.lock(&mut top);
        self.groups.register(nid, kind)
    }

    /// Unregisters a group (Linux `memory_group_unregister`). Errors: `NoEnt` for an
    /// unknown id; `Busy` while a block belongs to it.
    pub fn group_unregister(&self, id: u32) -> Result<()> {
        let mut top = Held::nothing();
        let _h = self.hotplug.lock(&mut top);
        self.groups.get(id).ok_or(Error::NoEnt)?;
        if self.group_has_blocks(id) {
            return Err(Error::Busy);
        }
        self.groups.unregister(id)
    }

    /// A registered group and its present pages; `NoEnt` for an unknown id.
    pub fn group_info(&self, id: u32) -> Result<GroupInfo> {
        self.groups.get(id).ok_or(Error::NoEnt)
    }

    /// Every registered group, in id order.
    pub fn groups(&self) -> impl Iterator<Item = GroupInfo> + '_ {
        self.groups.iter()
    }

    /// True when a block belongs to group `id`.
    pub(crate) fn group_has_blocks(&self, id: u32) -> bool {
        self.table
            .find_from(SectionNr(0), |s| {
                BlockRecord::decode(s.block_record()).is_some_and(|r| r.group == id)
            })
            .is_some()
    }

    /// Changes how later `add_memory` calls online their blocks (Linux sysfs
    /// `auto_online_blocks`). `Inval` before `init`.
    pub fn set_auto_online(&self, auto_online: AutoOnline) -> Result<()> {
        self.change_policy(|p| Policy { auto_online, ..p })
    }

    /// Changes how later plain onlines choose their zone (Linux's writable
    /// `memory_hotplug.online_policy`, `auto_movable_ratio` and
    /// `auto_movable_numa_aware`). `Inval` before `init`.
    pub fn set_online_policy(
        &self,
        online_policy: OnlinePolicy,
        auto_movable_ratio: u32,
        auto_movable_numa_aware: bool,
    ) -> Result<()> {
        self.change_policy(|p| Policy {
            online_policy,
            auto_movable_ratio,
            auto_movable_numa_aware,
            ..p
        })
    }

    fn change_policy(&self, f: impl FnOnce(Policy) -> Policy) -> Result<()> {
        if self.phase() == Phase::Uninit {
            return Err(Error::Inval);
        }
        // The hotplug lock serialises the stores, and an online chooses its zone
        // under it: a policy applies to whole operations.
        let mut top = Held::nothing();
        let _h = self.hotplug.lock(&mut top);
        self.set_policy(f(self.policy()));
        Ok(())
    }

    /// The zone a plain online of block `r` (record `rec`) chooses under the
    /// auto-movable policy (Linux `auto_movable_zone_for_pfn`): ZONE_MOVABLE when the
    /// whole unit not yet online (the rest of a static group, the rest of a dynamic
    /// group's unit, or the block) still fits the ratio, globally and, when NUMA-aware,
    /// on the node; otherwise `kernel`.
    pub(crate) fn auto_movable_zone(&self, rec: &BlockRecord, r: PfnRange, kernel: Zone) -> Zone {
        let policy = self.policy();
        if policy.auto_movable_ratio == 0 {
            return kernel;
        }
        let g = self.geometry();
        let group = self.groups.get(rec.group);
        let block_pages = r.pages();
        let (max_pages, online_pages) = match group.map(|g| (g, g.kind)) {
            Some((grp, GroupKind::Static { max_pages })) => {
                // Anything of the group in a kernel zone puts the rest there too.
                if grp.present_kernel_pages != 0 {
                    return kernel;
                }
                (max_pages, grp.present_movable_pages)
            }
            Some((_, GroupKind::Dynamic { unit_pages })) if unit_pages != block_pages => {
                // The unit's online sections (hot-added memory: one zone per section).
                let unit_start = r.start.0 & !unit_pages.wrapping_sub(1);
                let unit = PfnRange::new(
                    crate::addr::Pfn(unit_start),
                    crate::addr::Pfn(unit_start.saturating_add(unit_pages)),
                );
                let mut online = 0u64;
                for piece in g.section_pieces(unit) {
                    let Some(word) = self.table.get(piece.nr).map(|s| s.word()) else {
                        continue;
                    };
                    if !word.flags().contains(SectionFlags::ONLINE) {
                        continue;
                    }
                    if word.block().map(|b| b.zone) != Some(Zone::Movable) {
                        return kernel;
                    }
                    online = online.saturating_add(g.pages_per_section());
                }
                (unit_pages, online)
            }
            _ => (block_pages, 0),
        };
        let nr_pages = max_pages.saturating_sub(online_pages);
        let fits = |nid: Option<i32>| self.can_online_movable(&policy, nid, group, nr_pages);
        if !fits(None) || (policy.auto_movable_numa_aware && !fits(Some(rec.nid))) {
            return kernel;
        }
        Zone::Movable
    }

    /// Linux `auto_movable_can_online_movable`: whether `nr_pages` more Movable pages
    /// keep `movable <= ratio * kernel_early / 100` over the whole machine (`nid`
    /// `None`) or one node, where the early kernel pages that other dynamic groups
    /// need for their own Movable memory are not available, and a dynamic group's own
    /// kernel pages add to its allowance.
    fn can_online_movable(
        &self,
        policy: &Policy,
        nid: Option<i32>,
        group: Option<GroupInfo>,
        nr_pages: u64,
    ) -> bool {
        let ratio = u64::from(policy.auto_movable_ratio);
        let (mut kernel_early, mut movable) = self.kernel_early_and_movable(nid);
        let (mut required, mut grouped_movable) = (0u64, 0u64);
        for other in self.groups.iter() {
            let dynamic = matches!(other.kind, GroupKind::Dynamic { .. });
            if !dynamic
                || group.is_some_and(|g| g.id == other.id)
                || nid.is_some_and(|n| n != other.nid)
            {
                continue;
            }
            // Early kernel pages this group needs to keep its own Movable memory
            // within the ratio (ratio is not 0 here).
            let needs = other
                .present_movable_pages
                .saturating_mul(100)
                .checked_div(ratio)
                .unwrap_or(0);
            required = required.saturating_add(needs.saturating_sub(other.present_kernel_pages));
            grouped_movable = grouped_movable.saturating_add(other.present_movable_pages);
        }
        if kernel_early <= required {
            return false;
        }
        kernel_early = kernel_early.wrapping_sub(required);
        movable = movable.saturating_sub(grouped_movable);
        if let Some(g) = group.filter(|g| matches!(g.kind, GroupKind::Dynamic { .. })) {
            kernel_early = kernel_early.saturating_add(g.present_kernel_pages);
        }
        let allowed = u128::from(ratio).saturating_mul(u128::from(kernel_early)) / 100;
        u128::from(movable.saturating_add(nr_pages)) <= allowed
    }

    /// Present pages of the kernel zones in early sections (Linux
    /// `present_early_pages`) and of ZONE_MOVABLE, on one node or on all. Early pages
    /// are a kernel zone's present pages less those of its hot-added blocks (every
    /// page of a hot-added block is present).
    fn kernel_early_and_movable(&self, nid: Option<i32>) -> (u64, u64) {
        let (mut kernel, mut movable) = (0u64, 0u64);
        let nodes = match nid {
            Some(n) => n..n.saturating_add(1),
            None => 0..MAX_NODES as i32,
        };
        for n in nodes {
            for z in 1..NR_ZONES as u8 {
                let Some(zone) = Zone::from_u8(z) else {
                    continue;
                };
                let present = self.zones.get(n, zone).map_or(0, |s| s.present_pages);
                if zone == Zone::Movable {
                    movable = movable.saturating_add(present);
                } else if zone.is_kernel() {
                    kernel = kernel.saturating_add(present);
                }
            }
        }
        let per_block = self.geometry().pages_per_block();
        let mut hot_kernel = 0u64;
        self.table.for_each(|_, s| {
            if let Some(r) = BlockRecord::decode(s.block_record()) {
                if r.state == BlockState::Online
                    && r.zone.is_kernel()
                    && !r.flags.contains(BlockFlags::EARLY)
                    && nid.is_none_or(|n| n == r.nid)
                {
                    hot_kernel = hot_kernel.saturating_add(per_block);
                }
            }
        });
        (kernel.saturating_sub(hot_kernel), movable)
    }
}
