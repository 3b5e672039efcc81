//! The reference model: sparsemem's hotplug contract (docs/semantics.md, "Linux rules we follow")
//! written the obvious way, over a small x86-64 machine, so that a differential driver
//! can run the same operations on both and compare every answer.
//!
//! The world: 64 memory blocks of 128 MiB (= sections) from 0 to 8 GiB. Boot RAM is
//! node 0 [1 MiB, 2 GiB) and node 1 [2 GiB, 3 GiB - 64 MiB) ([`BOOT_RAM`]): block 0 has
//! a hole below 1 MiB and spans DMA and DMA32 (zone none, never offlinable), blocks
//! 1-23 are DMA32, and block 23's upper half is a hole where device memory can share
//! an early section with RAM. Everything else comes and goes through the operations. State is per block and per 2 MiB
//! sub-section; every derived answer (zone spans, valid_zones, pfn answers) is
//! recomputed from it each time, never updated incrementally.

use std::collections::BTreeMap;

pub mod driver;

use sparsemem::{BlockFlags, Error, RangeKind, Stats, Zone};

use crate::machines::MIB;

/// A memory block (one section), in bytes.
pub const BLOCK: u64 = 128 * MIB;
/// A sub-section, in bytes.
pub const SUB: u64 = 2 * MIB;
/// 4 KiB pages per block.
pub const PAGES_PER_BLOCK: u64 = BLOCK >> 12;
/// 4 KiB pages per sub-section.
pub const PAGES_PER_SUB: u64 = SUB >> 12;
/// Blocks of the model's world, 0 to 8 GiB.
pub const NR_BLOCKS: u64 = 64;
/// Node ids the map accepts are 0..MAX_NODES.
pub const MAX_NODES: i32 = 64;
/// ZONE_DMA ends at 16 MiB (a pfn). ZONE_DMA32's end needs no constant: boot RAM lies
/// below 4 GiB, and a hot-added block's zone follows the zone spans.
const DMA_END: u64 = (16 * MIB) >> 12;
/// The boot RAM ranges `(nid, start, size)` in bytes (the driver registers them).
pub const BOOT_RAM: [(i32, u64, u64); 2] = [
    (0, MIB, 2048 * MIB - MIB),
    (1, 2048 * MIB, 1024 * MIB - 64 * MIB),
];

/// A block's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Online in a zone (`Zone::None` for block 0, whose pages are DMA and DMA32).
    Online(Zone),
    /// Offline.
    Offline,
}

/// One memory block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Block {
    /// Its node.
    pub nid: i32,
    /// Created by boot (its section stays early until removed).
    pub early: bool,
    /// Online (in which zone) or offline.
    pub state: State,
}

/// What `online_block` is asked for (the map's `OnlineType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnlineKind {
    /// The default zone.
    Online,
    /// The kernel zone (DMA, DMA32 or Normal).
    Kernel,
    /// ZONE_MOVABLE.
    Movable,
}

/// What a pfn is (page-granular).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Neither RAM nor device memory.
    Hole,
    /// RAM of an existing block, online or not.
    Ram,
    /// An active device sub-section.
    Device,
}

/// The model's state: blocks and device sub-sections; every answer is derived from it.
#[derive(Clone, Debug)]
pub struct Model {
    /// The map's `movable_node` configuration (new blocks default to Movable).
    pub movable_node: bool,
    /// The existing memory blocks, by id.
    pub blocks: BTreeMap<u64, Block>,
    /// Active device sub-sections (index from 0) and their node.
    pub device: BTreeMap<u64, i32>,
    /// ZONE_DEVICE spans per node: grow on add, never shrink (Linux).
    pub device_span: BTreeMap<i32, (u64, u64)>,
}

/// What an operation returns.
pub type Res = Result<(), Error>;

impl Model {
    /// The machine after boot: blocks 0-15 on node 0 and 16-23 on node 1, online.
    pub fn boot(movable_node: bool) -> Self {
        let mut blocks = BTreeMap::new();
        for id in 0..24 {
            let zone = if id == 0 { Zone::None } else { Zone::Dma32 };
            let nid = if id < 16 { 0 } else { 1 };
            blocks.insert(
                id,
                Block {
                    nid,
                    early: true,
                    state: State::Online(zone),
                },
            );
        }
        Model {
            movable_node,
            blocks,
            device: BTreeMap::new(),
            device_span: BTreeMap::new(),
        }
    }

    fn nid_ok(nid: i32) -> bool {
        (0..MAX_NODES).contains(&nid)
    }

    /// Block ids of a block-aligned byte range.
    fn block_ids(start: u64, size: u64) -> std::ops::Range<u64> {
        start / BLOCK..(start + size) / BLOCK
    }

    fn aligned(start: u64, size: u64, align: u64) -> bool {
        size != 0 && start % align == 0 && size % align == 0
    }

    // ---- pages ---------------------------------------------------------------------

    /// What a pfn is.
    pub fn kind(&self, pfn: u64) -> Kind {
        let id = pfn / PAGES_PER_BLOCK;
        if self.ram_of(id).is_some_and(|(s, e)| s <= pfn && pfn < e) {
            Kind::Ram
        } else if self.device.contains_key(&(pfn / PAGES_PER_SUB)) {
            Kind::Device
        } else {
            Kind::Hole
        }
    }

    /// Linux pfn_valid: a whole early section, else an active sub-section. A block
    /// here is one section, and a hot-added block activates all its sub-sections, so
    /// every pfn of an existing block is valid.
    pub fn pfn_valid(&self, pfn: u64) -> bool {
        self.blocks.contains_key(&(pfn / PAGES_PER_BLOCK))
            || self.device.contains_key(&(pfn / PAGES_PER_SUB))
    }

    /// The zone a RAM pfn of an online block is in (block 0 holds DMA and DMA32 pages).
    fn page_zone(&self, pfn: u64) -> Option<Zone> {
        let b = self.blocks.get(&(pfn / PAGES_PER_BLOCK))?;
        match b.state {
            State::Online(Zone::None) if self.kind(pfn) == Kind::Ram => Some(if pfn < DMA_END {
                Zone::Dma
            } else {
                Zone::Dma32
            }),
            State::Online(z) => Some(z),
            State::Offline => None,
        }
    }

    /// Linux pfn_online: a RAM page of an online block.
    pub fn pfn_online(&self, pfn: u64) -> bool {
        self.kind(pfn) == Kind::Ram && self.page_zone(pfn).is_some()
    }

    /// pfn_info's nid: the block's, else the device memory's, else NID_NONE.
    pub fn pfn_nid(&self, pfn: u64) -> i32 {
        if let Some(b) = self.blocks.get(&(pfn / PAGES_PER_BLOCK)) {
            return b.nid;
        }
        self.device
            .get(&(pfn / PAGES_PER_SUB))
            .copied()
            .unwrap_or(-1)
    }

    /// pfn_info's zone: an online RAM page's own zone, Device for device memory.
    pub fn pfn_zone(&self, pfn: u64) -> Zone {
        match self.kind(pfn) {
            Kind::Ram => self.page_zone(pfn).unwrap_or(Zone::None),
            Kind::Device => Zone::Device,
            Kind::Hole => Zone::None,
        }
    }

    // ---- blocks, sections, statistics, ranges --------------------------------------

    /// A block's System RAM pages (block 0 starts at 1 MiB).
    pub fn block_present_pages(&self, id: u64) -> u64 {
        self.ram_of(id).map_or(0, |(s, e)| e - s)
    }

    /// The RAM of an existing block, `[start, end)` in pfns: a hot-added block's all of
    /// it, an early block's what the boot ranges hold (one piece each in this world).
    pub fn ram_of(&self, id: u64) -> Option<(u64, u64)> {
        let b = self.blocks.get(&id)?;
        let (first, last) = (id * PAGES_PER_BLOCK, (id + 1) * PAGES_PER_BLOCK);
        if !b.early {
            return Some((first, last));
        }
        BOOT_RAM
            .iter()
            .map(|(_, start, size)| ((start >> 12).max(first), ((start + size) >> 12).min(last)))
            .find(|(s, e)| s < e)
    }

    /// True when device memory is active in the block's section.
    fn has_device(&self, id: u64) -> bool {
        let per = BLOCK / SUB;
        self.device.range(id * per..(id + 1) * per).next().is_some()
    }

    /// A block's flags as `block_info` reports them: EARLY for boot blocks, HOLES when
    /// its RAM is not all of it, DEVICE with device memory in its section, MIXED_ZONES
    /// for block 0 (DMA and DMA32), OFFLINABLE when an offline would pass its checks.
    pub fn block_flags(&self, id: u64) -> BlockFlags {
        let Some(b) = self.blocks.get(&id) else {
            return BlockFlags::empty();
        };
        let mut f = BlockFlags::empty();
        f.set(BlockFlags::EARLY, b.early);
        f.set(
            BlockFlags::HOLES,
            self.block_present_pages(id) < PAGES_PER_BLOCK,
        );
        f.set(BlockFlags::DEVICE, self.has_device(id));
        f.set(BlockFlags::MIXED_ZONES, id == 0);
        f.set(BlockFlags::OFFLINABLE, self.check_offline(id).is_ok());
        f
    }

    /// A section's active and device masks, if it is present (a block here is one
    /// section: its sub-sections holding RAM are active, and device sub-sections).
    pub fn section_masks(&self, nr: u64) -> Option<(u64, u64)> {
        let per = BLOCK / SUB;
        let device = self
            .device
            .range(nr * per..(nr + 1) * per)
            .fold(0u64, |m, (sub, _)| m | 1 << (sub - nr * per));
        let ram = self.ram_of(nr).map_or(0, |(s, e)| {
            (0..per)
                .filter(|i| {
                    let first = nr * PAGES_PER_BLOCK + i * PAGES_PER_SUB;
                    first < e && s < first + PAGES_PER_SUB
                })
                .fold(0u64, |m, i| m | 1 << i)
        });
        let present = self.blocks.contains_key(&nr) || device != 0;
        present.then_some((ram | device, device))
    }

    /// The whole-map counters of `stats`.
    pub fn stats(&self) -> Stats {
        let online = |b: &Block| b.state != State::Offline;
        let sections = (0..NR_BLOCKS).filter(|nr| self.section_masks(*nr).is_some());
        let pages = |f: &dyn Fn(&Block) -> bool| -> u64 {
            self.blocks
                .iter()
                .filter(|(_, b)| f(b))
                .map(|(id, _)| self.block_present_pages(*id))
                .sum()
        };
        Stats {
            present_sections: sections.count() as u64,
            online_sections: self.blocks.values().filter(|b| online(b)).count() as u64,
            blocks: self.blocks.len() as u64,
            online_blocks: self.blocks.values().filter(|b| online(b)).count() as u64,
            ram_pages: pages(&|_| true),
            online_pages: pages(&online),
            device_pages: self.device.len() as u64 * PAGES_PER_SUB,
        }
    }

    /// The range export: page ranges of one kind and node, adjacent ones merged, in
    /// ascending order, holes left out.
    pub fn ranges(&self) -> Vec<(u64, u64, i32, RangeKind)> {
        let mut out: Vec<(u64, u64, i32, RangeKind)> = Vec::new();
        for sub in 0..NR_BLOCKS * (BLOCK / SUB) {
            let (mut start, mut end) = (sub * PAGES_PER_SUB, (sub + 1) * PAGES_PER_SUB);
            let id = start / PAGES_PER_BLOCK;
            let ram = self.ram_of(id).filter(|(s, e)| start < *e && *s < end);
            let what = if let (Some(b), Some((s, e))) = (self.blocks.get(&id), ram) {
                (start, end) = (start.max(s), end.min(e));
                let kind = match b.state {
                    State::Offline => RangeKind::RamOffline,
                    State::Online(_) => RangeKind::RamOnline,
                };
                Some((b.nid, kind))
            } else {
                self.device.get(&sub).map(|nid| (*nid, RangeKind::Device))
            };
            let Some((nid, kind)) = what else { continue };
            match out.last_mut() {
                Some(last) if last.1 == start && (last.2, last.3) == (nid, kind) => last.1 = end,
                _ => out.push((start, end, nid, kind)),
            }
        }
        out
    }

    // ---- zones ---------------------------------------------------------------------

    /// The span and present pages of a zone on a node: the hull of its online RAM
    /// pages (for ZONE_DEVICE: of every device range ever added on the node).
    pub fn zone_span(&self, nid: i32, zone: Zone) -> Option<(u64, u64, u64)> {
        if zone == Zone::Device {
            return self.device_span.get(&nid).map(|(s, e)| (*s, *e, 0));
        }
        let (mut lo, mut hi, mut present) = (u64::MAX, 0, 0);
        for (id, b) in &self.blocks {
            if b.nid != nid {
                continue;
            }
            for (s, e) in self.zone_pages_of_block(*id) {
                if s < e && self.page_zone(s) == Some(zone) {
                    lo = lo.min(s);
                    hi = hi.max(e);
                    present += e - s;
                }
            }
        }
        (present > 0).then_some((lo, hi, present))
    }

    /// A block's RAM as runs of one zone each (block 0: DMA, then DMA32).
    fn zone_pages_of_block(&self, id: u64) -> Vec<(u64, u64)> {
        match self.ram_of(id) {
            Some((s, e)) if s < DMA_END => vec![(s, DMA_END), (DMA_END, e)],
            Some(ram) => vec![ram],
            None => vec![],
        }
    }

    fn span_meets(&self, nid: i32, zone: Zone, id: u64) -> bool {
        let (s, e) = (id * PAGES_PER_BLOCK, (id + 1) * PAGES_PER_BLOCK);
        self.zone_span(nid, zone)
            .is_some_and(|(lo, hi, _)| lo < e && s < hi)
    }

    /// ONLINE_KERNEL's zone: the lowest of DMA, DMA32 whose span on the node meets the
    /// block, else Normal.
    fn kernel_zone(&self, nid: i32, id: u64) -> Zone {
        [Zone::Dma, Zone::Dma32]
            .into_iter()
            .find(|z| self.span_meets(nid, *z, id))
            .unwrap_or(Zone::Normal)
    }

    /// contig-zones: the one of kernel zone and Movable whose span meets the block
    /// when exactly one does, else Movable with movable_node, else the kernel zone.
    fn default_zone(&self, nid: i32, id: u64) -> Zone {
        let k = self.kernel_zone(nid, id);
        match (
            self.span_meets(nid, k, id),
            self.span_meets(nid, Zone::Movable, id),
        ) {
            (true, false) => k,
            (false, true) => Zone::Movable,
            _ if self.movable_node => Zone::Movable,
            _ => k,
        }
    }

    /// sysfs valid_zones: the zone of an online block ("none" for zone none); for an
    /// offline block the default zone, then the kernel zone, then Movable.
    pub fn valid_zones(&self, id: u64) -> Option<String> {
        let b = self.blocks.get(&id)?;
        Some(match b.state {
            State::Online(z) => z.name().to_string(),
            State::Offline => {
                let mut out: Vec<Zone> = vec![self.default_zone(b.nid, id)];
                for z in [self.kernel_zone(b.nid, id), Zone::Movable] {
                    if !out.contains(&z) {
                        out.push(z);
                    }
                }
                out.iter().map(|z| z.name()).collect::<Vec<_>>().join(" ")
            }
        })
    }

    // ---- operations ----------------------------------------------------------------
    // Each is the map's operation of the same name; `veto` is what the notifier
    // answers to a GOING_* event (0: go ahead).

    /// The error a notifier's answer makes (c-api.md, "Notifiers"): a negative errno
    /// is the result as it is, a positive answer is EPERM.
    fn refusal(veto: i32) -> Option<Error> {
        match veto {
            0 => None,
            v if v > 0 => Some(Error::Perm),
            v => Some(Error::Veto(v)),
        }
    }

    /// New offline blocks over a block-aligned range.
    pub fn add_memory(&mut self, nid: i32, start: u64, size: u64) -> Res {
        if !Self::aligned(start, size, BLOCK) || !Self::nid_ok(nid) {
            return Err(Error::Inval);
        }
        let ids = Self::block_ids(start, size);
        let subs = start / SUB..(start + size) / SUB;
        if ids.clone().any(|id| self.blocks.contains_key(&id))
            || self.device.range(subs).next().is_some()
        {
            return Err(Error::Exist);
        }
        for id in ids {
            self.blocks.insert(
                id,
                Block {
                    nid,
                    early: false,
                    state: State::Offline,
                },
            );
        }
        Ok(())
    }

    fn check_remove(&self, start: u64, size: u64) -> Res {
        if !Self::aligned(start, size, BLOCK) {
            return Err(Error::Inval);
        }
        if Self::block_ids(start, size).any(|id| !self.blocks.contains_key(&id)) {
            return Err(Error::NoEnt);
        }
        Ok(())
    }

    /// Removes offline blocks.
    pub fn remove_memory(&mut self, start: u64, size: u64) -> Res {
        self.check_remove(start, size)?;
        let ids = Self::block_ids(start, size);
        if ids
            .clone()
            .any(|id| self.blocks[&id].state != State::Offline)
        {
            return Err(Error::Busy);
        }
        for id in ids {
            self.blocks.remove(&id);
        }
        Ok(())
    }

    /// The checks of offline_block that come before any notifier.
    fn check_offline(&self, id: u64) -> Res {
        let b = self.blocks.get(&id).ok_or(Error::NoEnt)?;
        match b.state {
            State::Offline => Err(Error::Inval),
            State::Online(Zone::None) => Err(Error::Inval), // mixed zones (block 0)
            State::Online(_) if self.block_present_pages(id) < PAGES_PER_BLOCK => {
                Err(Error::Inval) // holes
            }
            State::Online(_) if self.has_device(id) => Err(Error::Inval),
            State::Online(_) => Ok(()),
        }
    }

    /// Offlines an online block (never an early block with holes, device memory or
    /// mixed zones).
    pub fn offline_block(&mut self, id: u64, veto: i32) -> Res {
        self.check_offline(id)?;
        if let Some(e) = Self::refusal(veto) {
            return Err(e);
        }
        self.blocks.get_mut(&id).unwrap().state = State::Offline;
        Ok(())
    }

    /// Offlines the online blocks of a range, then removes them all.
    pub fn offline_and_remove_memory(&mut self, start: u64, size: u64, veto: i32) -> Res {
        self.check_remove(start, size)?;
        let ids = Self::block_ids(start, size);
        let online: Vec<u64> = ids
            .clone()
            .filter(|id| self.blocks[id].state != State::Offline)
            .collect();
        for id in &online {
            self.check_offline(*id)?;
        }
        if let (Some(e), false) = (Self::refusal(veto), online.is_empty()) {
            return Err(e);
        }
        for id in ids {
            self.blocks.remove(&id);
        }
        Ok(())
    }

    /// Onlines an offline block in the zone `kind` chooses.
    pub fn online_block(&mut self, id: u64, kind: OnlineKind, veto: i32) -> Res {
        let b = *self.blocks.get(&id).ok_or(Error::NoEnt)?;
        if b.state != State::Offline {
            return Err(Error::Inval);
        }
        let zone = match kind {
            OnlineKind::Movable => Zone::Movable,
            OnlineKind::Kernel => self.kernel_zone(b.nid, id),
            OnlineKind::Online => self.default_zone(b.nid, id),
        };
        if let Some(e) = Self::refusal(veto) {
            return Err(e);
        }
        self.blocks.get_mut(&id).unwrap().state = State::Online(zone);
        Ok(())
    }

    /// Activates device sub-sections outside any block.
    pub fn add_device(&mut self, nid: i32, start: u64, size: u64) -> Res {
        if !Self::aligned(start, size, SUB) || !Self::nid_ok(nid) {
            return Err(Error::Inval);
        }
        let (first, last) = (start >> 12, (start + size) >> 12);
        let ram_in = |p: u64| {
            self.ram_of(p / PAGES_PER_BLOCK)
                .is_some_and(|(s, e)| p < e && s < p + PAGES_PER_SUB)
        };
        if (first..last).step_by(PAGES_PER_SUB as usize).any(ram_in) {
            return Err(Error::NxIo);
        }
        let subs = start / SUB..(start + size) / SUB;
        if self.device.range(subs.clone()).next().is_some() {
            return Err(Error::Exist);
        }
        // Device ranges of different nodes may share a section; each keeps its node.
        // (sparsemem's pool of shared sections holds more than the model's 64 sections.)
        for s in subs {
            self.device.insert(s, nid);
        }
        let span = self.device_span.entry(nid).or_insert((first, last));
        *span = (span.0.min(first), span.1.max(last));
        Ok(())
    }

    /// Deactivates active device sub-sections.
    pub fn remove_device(&mut self, start: u64, size: u64) -> Res {
        if !Self::aligned(start, size, SUB) {
            return Err(Error::Inval);
        }
        let subs = start / SUB..(start + size) / SUB;
        if subs.clone().any(|s| !self.device.contains_key(&s)) {
            return Err(Error::NoEnt);
        }
        for s in subs {
            self.device.remove(&s);
        }
        Ok(())
    }
}
