//! What `restore` checks beyond each record on its own: that the records describe a
//! map the operations could have built. A snapshot whose checksum was recomputed
//! after an edit (a block ONLINE over sections that are not, a zone span whose present
//! pages disagree with its online blocks) is refused with `Inval`, like a torn one.
//!
//! Runs in the validation pass, before anything is written, on the snapshot's bytes
//! (records are fixed-size and sorted, so lookups are binary searches; no heap).

use crate::addr::{BlockId, Pfn, PfnRange, SectionNr};
use crate::capacity::{MAX_NODES, MAX_SUBSECTIONS};
use crate::error::{Error, Result};
use crate::map::SparseMap;
use crate::memory::block::{nid_ok, BlockFlags, BlockRecord, BlockState, NID_MIXED};
use crate::memory::zone::{Zone, NR_ZONES};
use crate::section::{SectionFlags, SubState};

/// Fixed-size records of one kind, sorted by the u64 key each starts with.
#[derive(Clone, Copy)]
pub(super) struct Records<'a> {
    pub(super) buf: &'a [u8],
    pub(super) at: usize,
    pub(super) count: usize,
    pub(super) len: usize,
}

impl<'a> Records<'a> {
    fn get(&self, i: usize) -> Option<&'a [u8]> {
        let p = self.at.checked_add(i.checked_mul(self.len)?)?;
        self.buf.get(p..p.checked_add(self.len)?)
    }

    fn iter(self) -> impl Iterator<Item = &'a [u8]> {
        (0..self.count).filter_map(move |i| self.get(i))
    }

    /// The record whose key is `key`.
    fn find(&self, key: u64) -> Option<&'a [u8]> {
        let (mut lo, mut hi) = (0usize, self.count);
        while lo < hi {
            let mid = lo.wrapping_add(hi.wrapping_sub(lo) / 2);
            let rec = self.get(mid)?;
            match u64_at(rec, 0).cmp(&key) {
                core::cmp::Ordering::Less => lo = mid.wrapping_add(1),
                core::cmp::Ordering::Greater => hi = mid,
                core::cmp::Ordering::Equal => return Some(rec),
            }
        }
        None
    }
}

fn u64_at(rec: &[u8], at: usize) -> u64 {
    rec.get(at..at.wrapping_add(8))
        .and_then(|b| b.try_into().ok())
        .map_or(u64::MAX, u64::from_le_bytes)
}

fn u32_at(rec: &[u8], at: usize) -> u32 {
    rec.get(at..at.wrapping_add(4))
        .and_then(|b| b.try_into().ok())
        .map_or(u32::MAX, u32::from_le_bytes)
}

/// The snapshot's records, already checked one by one.
pub(super) struct Snapshot<'a> {
    pub(super) phase_running: bool,
    pub(super) boot: Records<'a>,
    pub(super) sections: Records<'a>,
    pub(super) blocks: Records<'a>,
    pub(super) spans: Records<'a>,
    pub(super) shared: Records<'a>,
    /// Sub-sections per section.
    pub(super) nsub: u32,
}

/// One section record: flags and sub-section states.
struct SectionRec<'a>(&'a [u8]);

impl SectionRec<'_> {
    fn flags(&self) -> SectionFlags {
        SectionFlags::from_bits_truncate(u32_at(self.0, 8))
    }
    /// Sub-sections of System RAM (state 1 or 2: exactly one of the two bits set),
    /// counted eight state bytes at a time.
    fn ram_subsections(&self) -> u32 {
        const LOW: u64 = 0x5555_5555_5555_5555;
        self.0
            .get(16..)
            .unwrap_or(&[])
            .chunks(8)
            .map(|c| {
                let mut b = [0u8; 8];
                b.iter_mut().zip(c).for_each(|(d, v)| *d = *v);
                let w = u64::from_le_bytes(b);
                ((w ^ (w >> 1)) & LOW).count_ones()
            })
            .sum()
    }

    fn state(&self, i: u32) -> SubState {
        let byte = self.0.get(16usize.wrapping_add((i / 4) as usize)).copied();
        SubState::from_u8((byte.unwrap_or(0) >> ((i % 4).wrapping_mul(2))) & 3)
            .unwrap_or(SubState::Absent)
    }
}

impl Snapshot<'_> {
    /// System RAM pages of the boot ranges inside `r`.
    fn boot_pages(&self, r: PfnRange) -> u64 {
        self.boot_pieces(r).map(|(_, p)| p.pages()).sum()
    }

    /// The parts of the boot ranges inside `r`, with their nid. The ranges are sorted
    /// and disjoint, so their ends ascend too: a binary search finds the first one that
    /// ends after `r` starts (early sections ask this for each of their sub-sections).
    fn boot_pieces(&self, r: PfnRange) -> impl Iterator<Item = (i32, PfnRange)> + '_ {
        let end_of = |i: usize| self.boot.get(i).map_or(u64::MAX, |b| u64_at(b, 8));
        let (mut lo, mut hi) = (0usize, self.boot.count);
        while lo < hi {
            let mid = lo.wrapping_add(hi.wrapping_sub(lo) / 2);
            if end_of(mid) <= r.start.0 {
                lo = mid.wrapping_add(1);
            } else {
                hi = mid;
            }
        }
        (lo..self.boot.count)
            .map_while(move |i| self.boot.get(i))
            .take_while(move |b| u64_at(b, 0) < r.end.0)
            .filter_map(move |b| {
                let (start, end) = (Pfn(u64_at(b, 0)), Pfn(u64_at(b, 8)));
                let piece = PfnRange::new(start.max(r.start), end.min(r.end));
                (!piece.is_empty()).then_some((u32_at(b, 16) as i32, piece))
            })
    }

    fn block(&self, id: BlockId) -> Option<BlockRecord> {
        self.blocks
            .find(id.0)
            .and_then(|b| BlockRecord::decode(u32_at(b, 8)))
    }
}

impl SparseMap {
    /// Every cross-record invariant of a snapshot (see the module docs).
    pub(super) fn check_consistency(&self, s: &Snapshot<'_>) -> Result<()> {
        let populated = s.sections.count | s.blocks.count | s.spans.count;
        if !s.phase_running && populated != 0 {
            return Err(Error::Inval);
        }
        self.check_sections(s)?;
        self.check_shared(s)?;
        self.check_blocks_and_spans(s)
    }

    /// Each shared device section's nids: its section record says "shared", and a
    /// sub-section has a valid nid exactly when it is device memory.
    fn check_shared(&self, s: &Snapshot<'_>) -> Result<()> {
        let mut prev: Option<u64> = None;
        for raw in s.shared.iter() {
            let nr = u64_at(raw, 0);
            let sec = s.sections.find(nr).map(SectionRec).ok_or(Error::Inval)?;
            if prev.is_some_and(|p| nr <= p) || u32_at(sec.0, 12) as i32 != super::SHARED_NID {
                return Err(Error::Inval);
            }
            prev = Some(nr);
            let nids = raw.get(8..).unwrap_or(&[]);
            for (i, v) in (0..s.nsub).zip(nids) {
                let nid = i32::from(*v).checked_sub(1);
                let device = sec.state(i) == SubState::Device;
                if device != nid.is_some_and(nid_ok) || (!device && *v != 0) {
                    return Err(Error::Inval);
                }
            }
        }
        Ok(())
    }

    /// Each section against its block and, for early sections, the boot ranges.
    fn check_sections(&self, s: &Snapshot<'_>) -> Result<()> {
        let g = self.geometry();
        let pps = g.pages_per_subsection();
        let nsub = g.subsections_per_section();
        for raw in s.sections.iter() {
            let nr = SectionNr(u64_at(raw, 0));
            let sec = SectionRec(raw);
            let f = sec.flags();
            let is_ram = |st: SubState| matches!(st, SubState::Ram | SubState::RamPartial);
            let ram = sec.ram_subsections() != 0;
            let block = s.block(g.block_of_section(nr));
            let online_block = block.is_some_and(|b| b.state == BlockState::Online);
            let early_block = block.is_some_and(|b| b.flags.contains(BlockFlags::EARLY));
            // RAM belongs to a block; ONLINE exactly when that block is online; EARLY
            // sections are those of early blocks.
            if (ram && block.is_none())
                || f.contains(SectionFlags::ONLINE) != (ram && online_block)
                || (ram && f.contains(SectionFlags::EARLY) != early_block)
            {
                return Err(Error::Inval);
            }
            if !f.contains(SectionFlags::EARLY) {
                continue;
            }
            // An early section's RAM is what the boot ranges say, sub-section by
            // sub-section: all of it (Ram), part of it (RamPartial) or none. The boot
            // pieces of the section, cut at sub-sections, give each one's pages.
            let mut pages = [0u64; MAX_SUBSECTIONS];
            let sec_range = g.section_range(nr).ok_or(Error::Inval)?;
            for (_, piece) in s.boot_pieces(sec_range) {
                for sub in piece.split_every(pps) {
                    let i = g.subsection_index(sub.start) as usize;
                    if let Some(p) = pages.get_mut(i) {
                        *p = p.saturating_add(sub.pages());
                    }
                }
            }
            for (i, p) in pages.iter().take(nsub as usize).enumerate() {
                let want = match *p {
                    0 => None,
                    p if p == pps => Some(SubState::Ram),
                    _ => Some(SubState::RamPartial),
                };
                let st = sec.state(i as u32);
                if want.is_some_and(|w| w != st) || (want.is_none() && is_ram(st)) {
                    return Err(Error::Inval);
                }
            }
        }
        Ok(())
    }

    /// Each block against its sections, and the zone spans against the online
    /// blocks: every span's present pages are the pages of the online blocks in it,
    /// and every span covers the RAM of its single-zone online blocks.
    fn check_blocks_and_spans(&self, s: &Snapshot<'_>) -> Result<()> {
        let g = self.geometry();
        let mut present = [[0u64; NR_ZONES]; MAX_NODES];
        let mut add = |nid: i32, zone: Zone, pages: u64| -> Result<()> {
            let cell = usize::try_from(nid)
                .ok()
                .and_then(|n| present.get_mut(n))
                .and_then(|z| z.get_mut(zone as usize))
                .ok_or(Error::Inval)?;
            *cell = cell.saturating_add(pages);
            Ok(())
        };
        for raw in s.blocks.iter() {
            let id = BlockId(u64_at(raw, 0));
            let rec = BlockRecord::decode(u32_at(raw, 8)).ok_or(Error::Inval)?;
            let range = g.block_range(id).ok_or(Error::Inval)?;
            let (first, last) = g.section_bounds(range);
            let mut ram_subs = 0u64;
            for nr in first.0..=last.0 {
                if let Some(sec) = s.sections.find(nr).map(SectionRec) {
                    ram_subs = ram_subs.saturating_add(u64::from(sec.ram_subsections()));
                }
            }
            let early = rec.flags.contains(BlockFlags::EARLY);
            let mixed = rec
                .flags
                .intersects(BlockFlags::MIXED_NODES | BlockFlags::MIXED_ZONES);
            let online = rec.state == BlockState::Online;
            if ram_subs == 0
                || rec.flags.contains(BlockFlags::MIXED_NODES) != (rec.nid == NID_MIXED)
                || (mixed && !early)
                || (online && !mixed && rec.zone == Zone::None)
                || (!online && rec.zone != Zone::None)
                || (mixed && rec.zone != Zone::None)
            {
                return Err(Error::Inval);
            }
            if !online {
                continue;
            }
            if mixed {
                // Each boot piece counts in its own node and address zone.
                for (nid, piece) in s.boot_pieces(range) {
                    for (zone, part) in self.addr_zones.zones_in(piece) {
                        add(nid, zone, part.pages())?;
                    }
                }
                continue;
            }
            let (pages, ram) = if early {
                let mut pieces = s.boot_pieces(range).map(|(_, p)| p);
                let first = pieces.next().ok_or(Error::Inval)?;
                let end = pieces.last().map_or(first.end, |p| p.end);
                (s.boot_pages(range), PfnRange::new(first.start, end))
            } else {
                (ram_subs.saturating_mul(g.pages_per_subsection()), range)
            };
            add(rec.nid, rec.zone, pages)?;
            let covered = s.spans.iter().any(|sp| {
                u32_at(sp, 0) as i32 == rec.nid
                    && u32_at(sp, 4) == rec.zone as u32
                    && u64_at(sp, 8) <= ram.start.0
                    && ram.end.0 <= u64_at(sp, 16)
            });
            if !covered {
                return Err(Error::Inval);
            }
        }
        // Every span's present pages, and the absent spans' zero, are the sums.
        let mut listed = [[false; NR_ZONES]; MAX_NODES];
        for sp in s.spans.iter() {
            let (nid, zone) = (u32_at(sp, 0) as usize, u32_at(sp, 4) as usize);
            let want = present
                .get(nid)
                .and_then(|z| z.get(zone))
                .ok_or(Error::Inval)?;
            if u64_at(sp, 24) != *want {
                return Err(Error::Inval);
            }
            if let Some(l) = listed.get_mut(nid).and_then(|z| z.get_mut(zone)) {
                *l = true;
            }
        }
        let unlisted_pages = present
            .iter()
            .zip(listed.iter())
            .flat_map(|(p, l)| p.iter().zip(l.iter()))
            .any(|(p, l)| *p != 0 && !*l);
        if unlisted_pages {
            return Err(Error::Inval);
        }
        Ok(())
    }
}
