//! System RAM hotplug at memory-block granularity: add and remove memory, online and
//! offline blocks with Linux's contig-zones choice, zone span growth and edge
//! shrinking, and notifiers (docs/semantics.md, "System RAM hotplug"), all or nothing.
//!
//! Locking: `hotplug` serialises RAM operations' checks and commits; it is never held
//! while a notifier runs. A block in transition carries BUSY in its record from its
//! GOING_* event until after its last event, so other mutating calls on it are `Busy`
//! while nothing waits for the notifier. Locks follow the order of `order.rs`:
//! hotplug, leaf assignment, sections (ascending), zones.

use crate::addr::{BlockId, Pfn, PfnRange, SectionNr};
use crate::error::{Error, Result};
use crate::map::notify::{MemEvent, Notifier};
use crate::map::{Phase, SparseMap};
use crate::memory::block::nid_ok;
use crate::memory::block::{BlockFlags, BlockRecord, BlockState, NID_NONE};
use crate::memory::group::GROUP_NONE;
use crate::memory::zone::{Zone, ZoneSpan};
use crate::section::geometry::{AutoOnline, MemmapOnMemory};
use crate::section::locked::LockedSections;
use crate::section::{SectionFlags, SubState};
use crate::sync::order::{Held, Hotplug};

use crate::repr::u8_enum;
use crate::sync::Ordering;

u8_enum! {
    /// How to online a block (`SMEM_ONLINE*`, Linux `online`, `online_kernel`,
    /// `online_movable`).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub enum OnlineType {
        /// The default zone (Linux `online`).
        Online = 1,
        /// The kernel zone (`online_kernel`).
        Kernel = 2,
        /// ZONE_MOVABLE (`online_movable`).
        Movable = 3,
    }
}

impl OnlineType {}

bitflags::bitflags! {
    /// Flags of `add_memory_ex` (`SMEM_MHP_*`, Linux `mhp_t`).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
    pub struct MhpFlags: u32 {
        /// Each new block carries its own memmap, where supported
        /// (`SMEM_MHP_MEMMAP_ON_MEMORY`, Linux MHP_MEMMAP_ON_MEMORY).
        const MEMMAP_ON_MEMORY = 1;
    }
}

impl SparseMap {
    fn block_ids(&self, r: PfnRange) -> impl Iterator<Item = BlockId> {
        self.geometry().blocks_in(r)
    }

    /// Adds System RAM `[start, start+size)` on `nid` as the ACPI DIMM driver does
    /// (Linux `add_memory`): `add_memory_ex` with no group and memmap_on_memory where
    /// supported.
    pub fn add_memory(&self, nid: i32, start: u64, size: u64, n: &dyn Notifier) -> Result<()> {
        self.add_memory_ex(nid, GROUP_NONE, start, size, MhpFlags::MEMMAP_ON_MEMORY, n)
    }

    /// Adds System RAM `[start, start+size)` (Linux `add_memory_resource`): the new
    /// blocks belong to group `group` (or none: `GROUP_NONE`) and its node, carry their
    /// own memmap when `flags` asks for it and the configuration supports it
    /// (`memmap_on_memory`), and are OFFLINE, or onlined per the auto-online policy in
    /// force (an auto-online failure leaves that block offline and does not fail the
    /// add). Errors, in order: `Inval` before boot finished, for an invalid nid (with a
    /// group, `NID_NONE` is its node), size 0, a wrap, a start or size not a multiple
    /// of the block size; `TooBig` beyond `max_phys_bits`; `NoEnt` for an unknown
    /// group; `Inval` for a nid that is not the group's; `Exist` when any page of the
    /// range is present; `NoMem` on capacity. On error nothing changed.
    pub fn add_memory_ex(
        &self,
        nid: i32,
        group: u32,
        start: u64,
        size: u64,
        flags: MhpFlags,
        n: &dyn Notifier,
    ) -> Result<()> {
        self.require(Phase::Running)?;
        let g = self.geometry();
        // With a group, NID_NONE stands for the group's node.
        if !(nid_ok(nid) || group != GROUP_NONE && nid == NID_NONE) {
            return Err(Error::Inval);
        }
        let r = g.aligned_range(start, size, g.block_size())?;
        let (first, last) = g.section_bounds(r);
        {
            let mut top = Held::nothing();
            let mut h = self.hotplug.lock(&mut top);
            let nid = if group == GROUP_NONE {
                nid
            } else {
                let grp = self.groups.get(group).ok_or(Error::NoEnt)?;
                if nid != NID_NONE && nid != grp.nid {
                    return Err(Error::Inval);
                }
                grp.nid
            };
            let (held, proof) = h.split();
            let present = |nr: u64| {
                self.table
                    .get(SectionNr(nr))
                    .is_some_and(|sec| sec.flags().contains(SectionFlags::PRESENT))
            };
            if (first.0..=last.0).any(present) {
                return Err(Error::Exist);
            }
            for _ in first.0..=last.0 {
                self.fault_step()?;
            }
            self.table.reserve(held, first, last)?;
            let locked =
                LockedSections::lock(&self.table, held, first, last).ok_or(Error::NoMem)?;
            // Device writers do not take the hotplug lock: check again under the locks.
            if locked
                .iter()
                .any(|(_, sec)| sec.flags().contains(SectionFlags::PRESENT))
            {
                return Err(Error::Exist);
            }
            let vmemmap =
                flags.contains(MhpFlags::MEMMAP_ON_MEMORY) && self.memmap_on_memory_supported(r);
            // The blocks (records and every section's view) first, then the sections
            // become present: a reader that sees a section PRESENT also sees its block
            // (never a present pfn in no block), and the memmap mark with it.
            self.commit(|| {
                for id in self.block_ids(r) {
                    let rec = BlockRecord {
                        group,
                        vmemmap,
                        ..BlockRecord::new(BlockState::Offline, Zone::None, nid)
                    };
                    self.set_block(proof, id, Some(rec), None);
                    if vmemmap {
                        self.for_first_block_section(id, |sec| sec.set_vmemmap());
                    }
                }
                let top = g.subsections_per_section().wrapping_sub(1);
                for (nr, sec) in locked.iter() {
                    sec.fill(0, top, SubState::Ram);
                    sec.set_flags(SectionFlags::PRESENT | SectionFlags::VALID);
                    // The flat bitmap after the table (section/flat.rs).
                    self.flat.set_section(&g, nr);
                }
            });
        }
        let ty = match self.policy().auto_online {
            AutoOnline::Offline => None,
            AutoOnline::Online => Some(OnlineType::Online),
            AutoOnline::OnlineKernel => Some(OnlineType::Kernel),
            AutoOnline::OnlineMovable => Some(OnlineType::Movable),
        };
        if let Some(ty) = ty {
            for id in self.block_ids(r) {
                // Linux ignores auto-online errors (docs/semantics.md, "Auto-online").
                let _ = self.online_block(id, ty, n);
            }
        }
        Ok(())
    }

    /// Whether each block of `r` can carry its own memmap (Linux
    /// `mhp_supports_memmap_on_memory`): the configuration allows it for a range of
    /// this many blocks and the geometry's memmap is whole PMDs.
    fn memmap_on_memory_supported(&self, r: PfnRange) -> bool {
        let g = self.geometry();
        let one_block = r.pages() == g.pages_per_block();
        g.vmemmap_pages().is_some()
            && match self.config().memmap_on_memory {
                MemmapOnMemory::Off => false,
                MemmapOnMemory::SingleBlock => one_block,
                MemmapOnMemory::PerBlock => true,
            }
    }

    /// Calls `f` on the first section of block `id`, if its leaf exists.
    fn for_first_block_section(&self, id: BlockId, f: impl FnOnce(&crate::section::Section)) {
        if let Some(sec) = self
            .geometry()
            .block_first_section(id)
            .and_then(|nr| self.table.get(nr))
        {
            f(sec);
        }
    }

    /// Linux `try_remove_memory`'s memmap_on_memory rule: memory is removed in the
    /// granularity it was added with its memmap. With `SingleBlock` a range holding a
    /// block that carries its memmap must be exactly that block; with `PerBlock`
    /// every block of the range carries its memmap or none does. `Inval` otherwise.
    fn check_vmemmap_granularity(&self, r: PfnRange) -> Result<()> {
        let (mut with, mut without) = (0u64, 0u64);
        for id in self.block_ids(r) {
            match self.block_record(id).map(|rec| rec.vmemmap) {
                Some(true) => with = with.wrapping_add(1),
                _ => without = without.wrapping_add(1),
            }
        }
        let ok = with == 0
            || match self.config().memmap_on_memory {
                MemmapOnMemory::SingleBlock => with == 1 && without == 0,
                MemmapOnMemory::PerBlock | MemmapOnMemory::Off => without == 0,
            };
        if ok {
            Ok(())
        } else {
            Err(Error::Inval)
        }
    }

    /// Checks a remove range: `Inval` for size 0, a wrap or misalignment; `NoEnt`
    /// beyond `max_phys_bits` or when any block of the range does not exist.
    fn remove_range(&self, start: u64, size: u64) -> Result<PfnRange> {
        let g = self.geometry();
        let r = match g.aligned_range(start, size, g.block_size()) {
            Err(Error::TooBig) => return Err(Error::NoEnt),
            r => r?,
        };
        if self.block_ids(r).any(|id| self.block_record(id).is_none()) {
            return Err(Error::NoEnt);
        }
        Ok(r)
    }

    /// Makes the sections of `r` absent and deletes the blocks. The caller holds
    /// `hotplug` (the guard is passed) and checked that every block is offline.
    fn commit_remove(
        &self,
        h: &mut crate::sync::order::Guard<'_, Hotplug>,
        r: PfnRange,
    ) -> Result<()> {
        let (first, last) = self.geometry().section_bounds(r);
        let (held, proof) = h.split();
        let locked = LockedSections::lock(&self.table, held, first, last).ok_or(Error::NoEnt)?;
        let g = self.geometry();
        let top = g.subsections_per_section().wrapping_sub(1);
        self.commit(|| {
            for (nr, sec) in locked.iter() {
                // The flat bitmaps before the table (section/flat.rs; the online
                // bits are clear already, the blocks being offline), then the flags
                // and the block view, in one store (Release), so no reader trusts the
                // states being cleared; fake-offline marks go with the memory (their
                // word bit went with the flags).
                self.online.clear_section(&g, nr);
                self.flat.clear_section(&g, nr);
                sec.clear_all();
                sec.fill(0, top, SubState::Absent);
                self.fake.release(sec);
            }
            for id in self.block_ids(r) {
                self.set_block(proof, id, None, None);
            }
        });
        Ok(())
    }

    /// Removes System RAM (Linux `remove_memory`): the sections become absent (early
    /// ones lose EARLY; re-adding makes them hot-added). Errors: `Inval` before boot
    /// finished, for size 0, a wrap or misalignment; `NoEnt` when any block of the range
    /// does not exist; `Busy` when any block is mid-transition or not OFFLINE.
    pub fn remove_memory(&self, start: u64, size: u64) -> Result<()> {
        self.require(Phase::Running)?;
        let mut top = Held::nothing();
        let mut h = self.hotplug.lock(&mut top);
        let r = self.remove_range(start, size)?;
        let busy = self
            .block_ids(r)
            .filter_map(|id| self.block_record(id))
            .any(|r| r.busy || r.state != BlockState::Offline);
        if busy {
            return Err(Error::Busy);
        }
        self.check_vmemmap_granularity(r)?;
        for _ in self.block_ids(r) {
            self.fault_step()?;
        }
        self.commit_remove(&mut h, r)
    }

    /// The checks `offline_block` makes of an online block, in order.
    fn offline_checks(&self, id: BlockId, rec: &BlockRecord) -> Result<()> {
        if rec.busy {
            return Err(Error::Busy);
        }
        if rec.state != BlockState::Online || rec.zone == Zone::None {
            return Err(Error::Inval);
        }
        let info = self.block_info(id)?;
        if info
            .flags
            .intersects(BlockFlags::HOLES | BlockFlags::DEVICE)
        {
            return Err(Error::Inval);
        }
        Ok(())
    }

    /// The zone an online of `id` would use, or why it is refused.
    fn online_zone(&self, id: BlockId, rec: &BlockRecord, ty: OnlineType) -> Result<Zone> {
        if rec.busy {
            return Err(Error::Busy);
        }
        if rec.state != BlockState::Offline {
            return Err(Error::Inval);
        }
        let info = self.block_info(id)?;
        if info
            .flags
            .intersects(BlockFlags::HOLES | BlockFlags::DEVICE | BlockFlags::MIXED_NODES)
            || !nid_ok(rec.nid)
        {
            return Err(Error::Inval);
        }
        let r = self.block_pfns(id).ok_or(Error::NoEnt)?;
        let choice = self.block_zone_choice(rec, r);
        let zone = match ty {
            OnlineType::Movable => Zone::Movable,
            OnlineType::Kernel => choice.kernel,
            OnlineType::Online => choice.default,
        };
        // A kernel zone must hold the whole block: no address-zone boundary inside it.
        if zone.is_kernel() && !self.addr_zones.within_one(r) {
            return Err(Error::Inval);
        }
        Ok(zone)
    }

    /// Ends a transition: clears BUSY and the transition count.
    fn end_transition(&self, id: BlockId) {
        let mut top = Held::nothing();
        let h = self.hotplug.lock(&mut top);
        if let Some(rec) = self.block_record(id) {
            self.change_state(h.proof(), id, rec.state, None, false);
        }
        // AcqRel under the hotplug lock: `snapshot` reads it under the same lock.
        self.transitions.fetch_sub(1, Ordering::AcqRel);
    }

    fn notify(&self, n: &dyn Notifier, ev: MemEvent, id: BlockId) -> i32 {
        match self.block_info(id) {
            Ok(info) => n.notify(ev, &info),
            Err(_) => 0,
        }
    }

    /// Onlines a block (Linux `online_pages` via sysfs `state`). Errors, in order:
    /// `Inval` before boot finished; `NoEnt` for no such block; `Busy` while it is
    /// mid-transition; `Inval` if it is not OFFLINE, has holes, device sub-sections,
    /// mixed nodes, or a kernel zone that would not be single; a notifier veto.
    pub fn online_block(&self, id: BlockId, ty: OnlineType, n: &dyn Notifier) -> Result<()> {
        self.require(Phase::Running)?;
        // The span grows before GOING_ONLINE, as Linux's move_pfn_range_to_zone does:
        // a notifier sees it (docs/semantics.md, "Notifier-visible state is Linux's").
        let (zone, nid, r, grown) = {
            let mut top = Held::nothing();
            let mut h = self.hotplug.lock(&mut top);
            let rec = self.block_record(id).ok_or(Error::NoEnt)?;
            let zone = self.online_zone(id, &rec, ty)?;
            let r = self.block_pfns(id).ok_or(Error::NoEnt)?;
            let grown = self.commit(|| {
                self.change_state(h.proof(), id, BlockState::GoingOnline, None, true);
                self.transitions.fetch_add(1, Ordering::AcqRel);
                self.update_span(h.held(), rec.nid, zone, |s| s.grown(r.start, r.end))
            });
            (zone, rec.nid, r, grown)
        };
        let veto = self.notify(n, MemEvent::GoingOnline, id);
        if veto != 0 {
            self.notify(n, MemEvent::CancelOnline, id);
            {
                // All or nothing: the span the GOING_ONLINE grew goes back exactly as
                // it was. Only if another block's transition changed it meanwhile
                // (notifiers run without the hotplug lock) do the edges this block
                // touched shrink back instead, as Linux's cancel path
                // (remove_pfn_range_from_zone) does.
                let mut top = Held::nothing();
                let mut h = self.hotplug.lock(&mut top);
                self.change_state(h.proof(), id, BlockState::Offline, None, true);
                let restored = grown.and_then(|(before, after)| {
                    self.update_span(h.held(), nid, zone, |s| if s == after { before } else { s })
                        .filter(|(now, _)| *now == after)
                });
                if restored.is_none() {
                    self.shrink_span(h.held(), nid, zone, r);
                }
            }
            self.end_transition(id);
            return Err(Error::from_veto(veto));
        }
        {
            // Present pages rise after GOING_ONLINE, before ONLINE.
            let mut top = Held::nothing();
            let mut h = self.hotplug.lock(&mut top);
            let pages = self.block_info(id).map_or(0, |i| i.present_pages);
            self.update_span(h.held(), nid, zone, |s| {
                s.with_present(s.present_pages.saturating_add(pages))
            });
            if let Some(rec) = self.block_record(id) {
                self.groups
                    .account(rec.group, zone == Zone::Movable, pages as i64);
            }
            self.change_state(h.proof(), id, BlockState::Online, Some(zone), true);
        }
        self.notify(n, MemEvent::Online, id);
        self.end_transition(id);
        Ok(())
    }

    /// Offlines a block (Linux `offline_pages`). Errors, in order: `Inval` before boot
    /// finished; `NoEnt`; `Busy` mid-transition; `Inval` if it is not ONLINE, its zone
    /// is none (mixed zones or nodes), or it has holes or device sub-sections (no
    /// notifier is called for these); a notifier veto.
    pub fn offline_block(&self, id: BlockId, n: &dyn Notifier) -> Result<()> {
        self.require(Phase::Running)?;
        {
            let mut top = Held::nothing();
            let h = self.hotplug.lock(&mut top);
            let rec = self.block_record(id).ok_or(Error::NoEnt)?;
            self.offline_checks(id, &rec)?;
            self.commit(|| {
                self.change_state(h.proof(), id, BlockState::GoingOffline, None, true);
                self.transitions.fetch_add(1, Ordering::AcqRel);
            });
        }
        let veto = self.notify(n, MemEvent::GoingOffline, id);
        if veto != 0 {
            self.cancel_offline(id, n);
            self.end_transition(id);
            return Err(Error::from_veto(veto));
        }
        let shrink = self.commit_offline(id);
        self.notify(n, MemEvent::Offline, id);
        self.shrink_after_offline(shrink);
        self.end_transition(id);
        Ok(())
    }

    fn cancel_offline(&self, id: BlockId, n: &dyn Notifier) {
        self.notify(n, MemEvent::CancelOffline, id);
        self.restore_online(id);
    }

    /// Puts a block in GOING_OFFLINE back to ONLINE, in the zone it kept.
    fn restore_online(&self, id: BlockId) {
        let mut top = Held::nothing();
        let h = self.hotplug.lock(&mut top);
        self.change_state(h.proof(), id, BlockState::Online, None, true);
    }

    /// Takes a block in GOING_OFFLINE to OFFLINE: sections lose ONLINE, the zone's
    /// present pages drop, the block forgets its zone. Returns what the span shrink
    /// needs, which comes after the OFFLINE event (`shrink_after_offline`), as Linux
    /// calls remove_pfn_range_from_zone after MEM_OFFLINE.
    fn commit_offline(&self, id: BlockId) -> Option<(i32, Zone, PfnRange)> {
        let mut top = Held::nothing();
        let mut h = self.hotplug.lock(&mut top);
        let (rec, r) = (self.block_record(id)?, self.block_pfns(id)?);
        let pages = self.block_info(id).map_or(0, |i| i.present_pages);
        self.update_span(h.held(), rec.nid, rec.zone, |s| {
            s.with_present(s.present_pages.saturating_sub(pages))
        });
        self.groups.account(
            rec.group,
            rec.zone == Zone::Movable,
            (pages as i64).wrapping_neg(),
        );
        self.change_state(h.proof(), id, BlockState::Offline, Some(Zone::None), true);
        Some((rec.nid, rec.zone, r))
    }

    /// The zone-span shrink of an offline, after its OFFLINE event.
    fn shrink_after_offline(&self, shrink: Option<(i32, Zone, PfnRange)>) {
        if let Some((nid, zone, r)) = shrink {
            let mut top = Held::nothing();
            let mut h = self.hotplug.lock(&mut top);
            self.shrink_span(h.held(), nid, zone, r);
        }
    }

    /// Offlines every online block of the range and removes it, all or nothing
    /// (docs/semantics.md, "All-or-nothing operations"): every check first, then GOING_OFFLINE to each online block in
    /// ascending order; a veto cancels them all and returns its error. Errors: those
    /// of `remove_memory`, except that an online block must instead pass every check
    /// of `offline_block`.
    pub fn offline_and_remove_memory(&self, start: u64, size: u64, n: &dyn Notifier) -> Result<()> {
        self.require(Phase::Running)?;
        let r = {
            let mut top = Held::nothing();
            let h = self.hotplug.lock(&mut top);
            let r = self.remove_range(start, size)?;
            for id in self.block_ids(r) {
                let rec = self.block_record(id).ok_or(Error::NoEnt)?;
                if rec.busy {
                    return Err(Error::Busy);
                }
                if rec.state == BlockState::Online {
                    self.offline_checks(id, &rec)?;
                } else if rec.state != BlockState::Offline {
                    return Err(Error::Busy);
                }
            }
            self.check_vmemmap_granularity(r)?;
            for _ in self.block_ids(r) {
                self.fault_step()?;
            }
            // Claim every block: online ones enter GOING_OFFLINE, offline ones are
            // only marked busy so nobody onlines them under our feet.
            self.commit(|| {
                for id in self.block_ids(r) {
                    if let Some(rec) = self.block_record(id) {
                        let state = if rec.state == BlockState::Online {
                            BlockState::GoingOffline
                        } else {
                            rec.state
                        };
                        self.change_state(h.proof(), id, state, None, true);
                        self.transitions.fetch_add(1, Ordering::AcqRel);
                    }
                }
            });
            r
        };
        let going = |id: &BlockId| {
            self.block_record(*id)
                .is_some_and(|r| r.state == BlockState::GoingOffline)
        };
        let mut vetoed: Option<(BlockId, i32)> = None;
        for id in self.block_ids(r).filter(going) {
            let v = self.notify(n, MemEvent::GoingOffline, id);
            if v != 0 {
                vetoed = Some((id, v));
                break;
            }
        }
        if let Some((stop, v)) = vetoed {
            for id in self.block_ids(r).filter(|id| id.0 <= stop.0).filter(going) {
                self.cancel_offline(id, n);
            }
            // Blocks after the veto never got GOING_OFFLINE: they go back to ONLINE
            // without an event.
            for id in self.block_ids(r).filter(|id| id.0 > stop.0).filter(going) {
                self.restore_online(id);
            }
            for id in self.block_ids(r) {
                self.end_transition(id);
            }
            return Err(Error::from_veto(v));
        }
        for id in self.block_ids(r).filter(going) {
            let shrink = self.commit_offline(id);
            self.notify(n, MemEvent::Offline, id);
            self.shrink_after_offline(shrink);
        }
        let mut top = Held::nothing();
        let mut h = self.hotplug.lock(&mut top);
        self.transitions
            .fetch_sub(self.block_ids(r).count(), Ordering::AcqRel);
        self.commit_remove(&mut h, r)
    }

    /// Replaces the span of `zone` on `nid` with `f` of it (Linux's
    /// `resize_zone_range` and present-page accounting); the span before and after,
    /// as stored.
    fn update_span(
        &self,
        held: &mut Held<Hotplug>,
        nid: i32,
        zone: Zone,
        f: impl FnOnce(ZoneSpan) -> ZoneSpan,
    ) -> Option<(ZoneSpan, ZoneSpan)> {
        let z = self.zones.lock.lock(held);
        let before = self.zones.get(nid, zone).ok()?;
        self.zones.set(z.proof(), nid, zone, f(before)).ok()?;
        Some((before, self.zones.get(nid, zone).ok()?))
    }

    /// The zone and node of an online RAM sub-section at `pfn`, as Linux's
    /// `shrink_zone_span` sees them (`pfn_to_online_page`, `page_zone`, `pfn_to_nid`).
    fn online_zone_nid(&self, pfn: Pfn) -> Option<(Zone, i32)> {
        let g = self.geometry();
        let sec = self.table.get(g.section_of(pfn))?;
        let f = sec.flags();
        if !f.contains(SectionFlags::VALID | SectionFlags::ONLINE)
            || !matches!(
                sec.state(g.subsection_index(pfn)),
                SubState::Ram | SubState::RamPartial
            )
        {
            return None;
        }
        let rec = self.block_record(g.block_of(pfn))?;
        let zone = if rec.zone == Zone::None {
            self.addr_zones.zone_at(pfn).0
        } else {
            rec.zone
        };
        let nid = if nid_ok(rec.nid) {
            rec.nid
        } else {
            self.boot.find(pfn).map(|r| r.nid)?
        };
        Some((zone, nid))
    }

    /// Linux `shrink_zone_span`: only an edge moves, to the nearest remaining online
    /// sub-section of the same zone and node; no such sub-section empties the span.
    fn shrink_span(&self, held: &mut Held<Hotplug>, nid: i32, zone: Zone, r: PfnRange) {
        let z = self.zones.lock.lock(held);
        let Ok(span) = self.zones.get(nid, zone) else {
            return;
        };
        let pps = self.geometry().pages_per_subsection();
        let same = |p: Pfn| self.online_zone_nid(p) == Some((zone, nid));
        let mut new = span;
        // Only an edge the block touches moves: to the next online sub-section of the
        // same zone and node inward from it, or nowhere (the span empties).
        let edge = if span.start == r.start {
            let inward = PfnRange::new(r.end, span.end)
                .step_up(pps)
                .find(|p| same(*p));
            Some(inward.map(|p| ZoneSpan { start: p, ..new }))
        } else if span.end == r.end {
            let inward = PfnRange::new(span.start, r.start)
                .step_down(pps)
                .find(|p| same(*p));
            Some(
                inward
                    .and_then(|q| q.checked_add(1))
                    .map(|end| ZoneSpan { end, ..new }),
            )
        } else {
            None
        };
        if let Some(moved) = edge {
            new = moved.unwrap_or_default();
        }
        let _ = self.zones.set(z.proof(), nid, zone, new);
    }

    /// Blocks between their GOING_* event and their last event.
    pub fn transitions_in_progress(&self) -> usize {
        self.transitions.load(Ordering::Acquire)
    }
}
