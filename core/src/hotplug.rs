//! System RAM hotplug at memory-block granularity: add and remove memory, online and
//! offline blocks with Linux's contig-zones choice, zone span growth and edge
//! shrinking, and notifiers (semantics.md 3.9-3.12), all or nothing.
//!
//! Locking: `hotplug` serialises RAM operations' checks and commits; it is never held
//! while a notifier runs. A block in transition carries BUSY in its record from its
//! GOING_* event until after its last event, so other mutating calls on it are `Busy`
//! while nothing waits for the notifier. Locks follow the order of `order.rs`:
//! hotplug, leaf assignment, sections (ascending), zones.

use crate::addr::{BlockId, Pfn, SectionNr};
use crate::block::{BlockFlags, BlockRecord, BlockState};
use crate::early::nid_ok;
use crate::error::{Error, Result};
use crate::geometry::AutoOnline;
use crate::locked::LockedSections;
use crate::map::{Phase, SparseMap};
use crate::notify::{MemEvent, Notifier};
use crate::order::{Held, Hotplug};
use crate::section::{SectionFlags, SubState};
use crate::zone::{Zone, ZoneSpan};

use crate::sync::Ordering;

/// How to online a block (`SMEM_ONLINE*`, Linux `online`, `online_kernel`,
/// `online_movable`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum OnlineType {
    /// The default zone (Linux `online`).
    Online = 1,
    /// The kernel zone (`online_kernel`).
    Kernel = 2,
    /// ZONE_MOVABLE (`online_movable`).
    Movable = 3,
}

impl OnlineType {
    /// Decodes a `SMEM_ONLINE*` value.
    pub const fn from_u8(v: u8) -> Option<Self> {
        match v {
            1 => Some(Self::Online),
            2 => Some(Self::Kernel),
            3 => Some(Self::Movable),
            _ => None,
        }
    }
}

impl SparseMap {
    fn first_last_sections(&self, s: Pfn, e: Pfn) -> (SectionNr, SectionNr) {
        let g = self.geometry();
        (g.section_of(s), g.section_of(Pfn(e.0.wrapping_sub(1))))
    }

    fn block_ids(&self, s: Pfn, e: Pfn) -> impl Iterator<Item = BlockId> {
        let g = self.geometry();
        (g.block_of(s).0..=g.block_of(Pfn(e.0.wrapping_sub(1))).0).map(BlockId)
    }

    /// Adds System RAM `[start, start+size)` on `nid` (Linux `add_memory`): the new
    /// blocks are OFFLINE, or onlined per the configured auto-online policy (an
    /// auto-online failure leaves that block offline and does not fail the add).
    /// Errors: `Inval` before boot finished, for size 0, a wrap, a start or size not a
    /// multiple of the block size, or an invalid nid; `TooBig` beyond `max_phys_bits`;
    /// `Exist` when any page of the range is present; `NoMem` on capacity. On error
    /// nothing changed.
    pub fn add_memory(&self, nid: i32, start: u64, size: u64, n: &dyn Notifier) -> Result<()> {
        self.require(Phase::Running)?;
        let g = self.geometry();
        if !nid_ok(nid) {
            return Err(Error::Inval);
        }
        let (s, e) = g.aligned_range(start, size, g.block_size())?;
        let (first, last) = self.first_last_sections(s, e);
        {
            let mut top = Held::nothing();
            let mut h = self.hotplug.lock(&mut top);
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
            // The blocks (records and every section's view) first, then the sections
            // become present: a reader that sees a section PRESENT also sees its block
            // (never a present pfn in no block).
            for id in self.block_ids(s, e) {
                let rec = BlockRecord {
                    state: BlockState::Offline,
                    zone: Zone::None,
                    nid,
                    flags: BlockFlags::empty(),
                    busy: false,
                };
                self.set_block(proof, id, Some(rec), None);
            }
            let top = g.subsections_per_section().wrapping_sub(1);
            for (_, sec) in locked.iter() {
                sec.fill(0, top, SubState::Ram);
                sec.set_flags(SectionFlags::PRESENT | SectionFlags::VALID);
            }
        }
        let ty = match self.config().auto_online {
            AutoOnline::Offline => None,
            AutoOnline::Online => Some(OnlineType::Online),
            AutoOnline::OnlineKernel => Some(OnlineType::Kernel),
            AutoOnline::OnlineMovable => Some(OnlineType::Movable),
        };
        if let Some(ty) = ty {
            for id in self.block_ids(s, e) {
                // Linux ignores auto-online errors (semantics.md 3.9 step 13).
                let _ = self.online_block(id, ty, n);
            }
        }
        Ok(())
    }

    /// Checks a remove range: `Inval` for size 0, a wrap or misalignment; `NoEnt`
    /// beyond `max_phys_bits` or when any block of the range does not exist.
    fn remove_range(&self, start: u64, size: u64) -> Result<(Pfn, Pfn)> {
        let g = self.geometry();
        let (s, e) = match g.aligned_range(start, size, g.block_size()) {
            Err(Error::TooBig) => return Err(Error::NoEnt),
            r => r?,
        };
        if self
            .block_ids(s, e)
            .any(|id| self.block_record(id).is_none())
        {
            return Err(Error::NoEnt);
        }
        Ok((s, e))
    }

    /// Makes the sections of `[s, e)` absent and deletes the blocks. The caller holds
    /// `hotplug` (the guard is passed) and checked that every block is offline.
    fn commit_remove(
        &self,
        h: &mut crate::order::Guard<'_, Hotplug>,
        s: Pfn,
        e: Pfn,
    ) -> Result<()> {
        let (first, last) = self.first_last_sections(s, e);
        let (held, proof) = h.split();
        let locked = LockedSections::lock(&self.table, held, first, last).ok_or(Error::NoEnt)?;
        let top = self.geometry().subsections_per_section().wrapping_sub(1);
        for (_, sec) in locked.iter() {
            // The flags and the block view go first, in one store (Release), so no
            // reader trusts the states being cleared.
            sec.clear_all();
            sec.fill(0, top, SubState::Absent);
        }
        for id in self.block_ids(s, e) {
            self.set_block(proof, id, None, None);
        }
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
        let (s, e) = self.remove_range(start, size)?;
        let busy = self
            .block_ids(s, e)
            .filter_map(|id| self.block_record(id))
            .any(|r| r.busy || r.state != BlockState::Offline);
        if busy {
            return Err(Error::Busy);
        }
        for _ in self.block_ids(s, e) {
            self.fault_step()?;
        }
        self.commit_remove(&mut h, s, e)
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
        let (s, e) = self.block_pfns(id).ok_or(Error::NoEnt)?;
        let choice = self.zone_choice(rec.nid, s, e);
        let zone = match ty {
            OnlineType::Movable => Zone::Movable,
            OnlineType::Kernel => choice.kernel,
            OnlineType::Online => choice.default,
        };
        // A kernel zone must hold the whole block: no address-zone boundary inside it.
        if zone.is_kernel() && self.addr_zone_end(s) < e.0 {
            return Err(Error::Inval);
        }
        Ok(zone)
    }

    /// Ends a transition: clears BUSY and the transition count.
    fn end_transition(&self, id: BlockId) {
        let mut top = Held::nothing();
        let h = self.hotplug.lock(&mut top);
        if let Some(mut rec) = self.block_record(id) {
            rec.busy = false;
            self.set_block(h.proof(), id, Some(rec), None);
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
        let zone = {
            let mut top = Held::nothing();
            let h = self.hotplug.lock(&mut top);
            let rec = self.block_record(id).ok_or(Error::NoEnt)?;
            let zone = self.online_zone(id, &rec, ty)?;
            self.set_block(
                h.proof(),
                id,
                Some(BlockRecord {
                    state: BlockState::GoingOnline,
                    busy: true,
                    ..rec
                }),
                None,
            );
            self.transitions.fetch_add(1, Ordering::AcqRel);
            zone
        };
        let veto = self.notify(n, MemEvent::GoingOnline, id);
        if veto != 0 {
            self.notify(n, MemEvent::CancelOnline, id);
            {
                let mut top = Held::nothing();
                let h = self.hotplug.lock(&mut top);
                if let Some(rec) = self.block_record(id) {
                    self.set_block(
                        h.proof(),
                        id,
                        Some(BlockRecord {
                            state: BlockState::Offline,
                            ..rec
                        }),
                        None,
                    );
                }
            }
            self.end_transition(id);
            return Err(Error::from_veto(veto));
        }
        {
            let mut top = Held::nothing();
            let mut h = self.hotplug.lock(&mut top);
            if let (Some(rec), Some((s, e))) = (self.block_record(id), self.block_pfns(id)) {
                let pages = self.block_info(id).map_or(0, |i| i.present_pages);
                self.grow_span(h.held(), rec.nid, zone, s, e, pages);
                // ONLINE and the block's new state and zone in one store per section.
                self.set_block(
                    h.proof(),
                    id,
                    Some(BlockRecord {
                        state: BlockState::Online,
                        zone,
                        ..rec
                    }),
                    Some(true),
                );
            }
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
            self.set_block(
                h.proof(),
                id,
                Some(BlockRecord {
                    state: BlockState::GoingOffline,
                    busy: true,
                    ..rec
                }),
                None,
            );
            self.transitions.fetch_add(1, Ordering::AcqRel);
        }
        let veto = self.notify(n, MemEvent::GoingOffline, id);
        if veto != 0 {
            self.cancel_offline(id, n);
            self.end_transition(id);
            return Err(Error::from_veto(veto));
        }
        self.commit_offline(id);
        self.notify(n, MemEvent::Offline, id);
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
        if let Some(rec) = self.block_record(id) {
            self.set_block(
                h.proof(),
                id,
                Some(BlockRecord {
                    state: BlockState::Online,
                    ..rec
                }),
                None,
            );
        }
    }

    /// Takes a block in GOING_OFFLINE to OFFLINE: sections lose ONLINE, the zone span
    /// shrinks at its edges, the block forgets its zone.
    fn commit_offline(&self, id: BlockId) {
        let mut top = Held::nothing();
        let mut h = self.hotplug.lock(&mut top);
        let (Some(rec), Some((s, e))) = (self.block_record(id), self.block_pfns(id)) else {
            return;
        };
        let pages = self.block_info(id).map_or(0, |i| i.present_pages);
        // ONLINE goes with the block's new state and zone, in one store per section.
        self.set_block(
            h.proof(),
            id,
            Some(BlockRecord {
                state: BlockState::Offline,
                zone: Zone::None,
                ..rec
            }),
            Some(false),
        );
        self.shrink_span(h.held(), rec.nid, rec.zone, s, e, pages);
    }

    /// Offlines every online block of the range and removes it, all or nothing
    /// (decision 1): every check first, then GOING_OFFLINE to each online block in
    /// ascending order; a veto cancels them all and returns its error. Errors: those
    /// of `remove_memory`, except that an online block must instead pass every check
    /// of `offline_block`.
    pub fn offline_and_remove_memory(&self, start: u64, size: u64, n: &dyn Notifier) -> Result<()> {
        self.require(Phase::Running)?;
        let (s, e) = {
            let mut top = Held::nothing();
            let h = self.hotplug.lock(&mut top);
            let (s, e) = self.remove_range(start, size)?;
            for id in self.block_ids(s, e) {
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
            for _ in self.block_ids(s, e) {
                self.fault_step()?;
            }
            // Claim every block: online ones enter GOING_OFFLINE, offline ones are
            // only marked busy so nobody onlines them under our feet.
            for id in self.block_ids(s, e) {
                if let Some(rec) = self.block_record(id) {
                    let state = if rec.state == BlockState::Online {
                        BlockState::GoingOffline
                    } else {
                        rec.state
                    };
                    self.set_block(
                        h.proof(),
                        id,
                        Some(BlockRecord {
                            state,
                            busy: true,
                            ..rec
                        }),
                        None,
                    );
                    self.transitions.fetch_add(1, Ordering::AcqRel);
                }
            }
            (s, e)
        };
        let going = |id: &BlockId| {
            self.block_record(*id)
                .is_some_and(|r| r.state == BlockState::GoingOffline)
        };
        let mut vetoed: Option<(BlockId, i32)> = None;
        for id in self.block_ids(s, e).filter(going) {
            let v = self.notify(n, MemEvent::GoingOffline, id);
            if v != 0 {
                vetoed = Some((id, v));
                break;
            }
        }
        if let Some((stop, v)) = vetoed {
            for id in self
                .block_ids(s, e)
                .filter(|id| id.0 <= stop.0)
                .filter(going)
            {
                self.cancel_offline(id, n);
            }
            // Blocks after the veto never got GOING_OFFLINE: they go back to ONLINE
            // without an event.
            for id in self
                .block_ids(s, e)
                .filter(|id| id.0 > stop.0)
                .filter(going)
            {
                self.restore_online(id);
            }
            for id in self.block_ids(s, e) {
                self.end_transition(id);
            }
            return Err(Error::from_veto(v));
        }
        for id in self.block_ids(s, e).filter(going) {
            self.commit_offline(id);
            self.notify(n, MemEvent::Offline, id);
        }
        let mut top = Held::nothing();
        let mut h = self.hotplug.lock(&mut top);
        self.transitions
            .fetch_sub(self.block_ids(s, e).count(), Ordering::AcqRel);
        self.commit_remove(&mut h, s, e)
    }

    /// Linux `resize_zone_range` plus present-page accounting.
    fn grow_span(
        &self,
        held: &mut Held<Hotplug>,
        nid: i32,
        zone: Zone,
        s: Pfn,
        e: Pfn,
        pages: u64,
    ) {
        let z = self.zones.lock.lock(held);
        if let Ok(span) = self.zones.get(nid, zone) {
            let mut g = span.grown(s, e);
            g.present_pages = g.present_pages.wrapping_add(pages);
            let _ = self.zones.set(z.proof(), nid, zone, g);
        }
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
            self.zone_by_addr(pfn)
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
    fn shrink_span(
        &self,
        held: &mut Held<Hotplug>,
        nid: i32,
        zone: Zone,
        s: Pfn,
        e: Pfn,
        pages: u64,
    ) {
        let z = self.zones.lock.lock(held);
        let Ok(span) = self.zones.get(nid, zone) else {
            return;
        };
        let pps = self.geometry().pages_per_subsection();
        let same = |p: Pfn| self.online_zone_nid(p) == Some((zone, nid));
        let mut new = ZoneSpan {
            present_pages: span.present_pages.saturating_sub(pages),
            ..span
        };
        if span.start == s {
            let mut p = e.0;
            let mut found = None;
            while p < span.end.0 {
                if same(Pfn(p)) {
                    found = Some(p);
                    break;
                }
                p = p.saturating_add(pps);
            }
            match found {
                Some(p) => new.start = Pfn(p),
                None => new = ZoneSpan::default(),
            }
        } else if span.end == e {
            let mut p = s.0.checked_sub(1);
            let mut found = None;
            while let Some(q) = p.filter(|q| *q >= span.start.0) {
                if same(Pfn(q)) {
                    found = Some(q);
                    break;
                }
                p = q.checked_sub(pps);
            }
            match found {
                Some(q) => new.end = Pfn(q.wrapping_add(1)),
                None => new = ZoneSpan::default(),
            }
        }
        let _ = self.zones.set(z.proof(), nid, zone, new);
    }

    /// Blocks between their GOING_* event and their last event.
    pub fn transitions_in_progress(&self) -> usize {
        self.transitions.load(Ordering::Acquire)
    }
}
