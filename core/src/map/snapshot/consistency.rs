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
    /// Record `i`, if there is one (never the bytes after the last record).
    fn get(&self, i: usize) -> Option<&'a [u8]> {
        if i >= self.count {
            return None;
        }
        let p = self.at.checked_add(i.checked_mul(self.len)?)?;
        self.buf.get(p..p.checked_add(self.len)?)
    }

    fn iter(self) -> impl Iterator<Item = &'a [u8]> {
        (0..self.count).filter_map(move |i| self.get(i))
    }

    /// The record whose key is `key`.
    pub(super) fn find(&self, key: u64) -> Option<&'a [u8]> {
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

/// The key a record starts with.
pub(super) fn key(rec: &[u8]) -> u64 {
    u64_at(rec, 0)
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
                let w = super::le_word(c);
                ((w ^ (w >> 1)) & LOW).count_ones()
            })
            .sum()
    }

    /// States `32 * w ..` as a little-endian word (zero past the record).
    fn state_word(&self, w: usize) -> u64 {
        let at = 16usize.wrapping_add(w.wrapping_mul(8));
        let bytes = self.0.get(at..).unwrap_or(&[]);
        super::le_word(bytes.get(..8).unwrap_or(bytes))
    }

    fn state(&self, i: u32) -> SubState {
        let byte = self.0.get(16usize.wrapping_add((i / 4) as usize)).copied();
        SubState::from_u8((byte.unwrap_or(0) >> ((i % 4).wrapping_mul(2))) & 3)
            .unwrap_or(SubState::Absent)
    }
}

/// A walk over sorted records by ascending keys: each lookup moves forward only, so
/// a pass that asks in ascending order costs one step per record in all.
pub(super) struct Cursor<'a> {
    records: Records<'a>,
    next: usize,
}

impl<'a> Cursor<'a> {
    pub(super) fn new(records: Records<'a>) -> Self {
        Self { records, next: 0 }
    }

    /// The first record whose key is at least `key` (keys asked never descend).
    pub(super) fn seek(&mut self, key: u64) -> Option<&'a [u8]> {
        while let Some(rec) = self.records.get(self.next) {
            if u64_at(rec, 0) >= key {
                return Some(rec);
            }
            self.next = self.next.wrapping_add(1);
        }
        None
    }

    /// The record whose key is `key` (keys asked never descend).
    fn find(&mut self, key: u64) -> Option<&'a [u8]> {
        self.seek(key).filter(|rec| u64_at(rec, 0) == key)
    }
}

/// The boot ranges for ranges asked in ascending order: the ranges are sorted and
/// disjoint, so their ends ascend too, and the first one that ends after a range
/// starts only moves forward.
struct BootCursor<'a> {
    boot: Records<'a>,
    next: usize,
}

impl<'a> BootCursor<'a> {
    /// The parts of the boot ranges inside `r`, with their nid (`r.start` never
    /// descends between calls).
    fn pieces(&mut self, r: PfnRange) -> impl Iterator<Item = (i32, PfnRange)> + 'a {
        while self
            .boot
            .get(self.next)
            .is_some_and(|b| u64_at(b, 8) <= r.start.0)
        {
            self.next = self.next.wrapping_add(1);
        }
        let boot = self.boot;
        (self.next..boot.count)
            .map_while(move |i| boot.get(i))
            .take_while(move |b| u64_at(b, 0) < r.end.0)
            .filter_map(move |b| {
                let (start, end) = (Pfn(u64_at(b, 0)), Pfn(u64_at(b, 8)));
                let piece = PfnRange::new(start.max(r.start), end.min(r.end));
                (!piece.is_empty()).then_some((u32_at(b, 16) as i32, piece))
            })
    }
}

/// 2-bit states packed as the section records hold them, 32 to a u64 (every
/// sub-section a section can have).
const STATE_WORDS: usize = MAX_SUBSECTIONS / 32;
/// `0b01` in every state: selects its low bit.
const LOW: u64 = 0x5555_5555_5555_5555;

/// The sub-section states the boot ranges give an early section: `states` holds each
/// covered sub-section's state (Ram or RamPartial), `covered` both bits of each.
#[derive(Default)]
struct BootStates {
    states: [u64; STATE_WORDS],
    covered: [u64; STATE_WORDS],
}

impl BootStates {
    /// Sub-sections `first..=last` hold `state`.
    fn set(&mut self, first: u64, last: u64, state: SubState) {
        let pattern = LOW.wrapping_mul(state as u64);
        let mut i = first;
        while i <= last {
            let (word, lo) = ((i / 32) as usize, i % 32);
            let hi = last.min(i | 31) % 32;
            let bits = hi.wrapping_sub(lo).wrapping_add(1).wrapping_mul(2);
            let mask = u64::MAX
                .checked_shr(64u64.wrapping_sub(bits) as u32)
                .unwrap_or(0)
                .wrapping_shl(lo.wrapping_mul(2) as u32);
            if let (Some(s), Some(c)) = (self.states.get_mut(word), self.covered.get_mut(word)) {
                *s = (*s & !mask) | (pattern & mask);
                *c |= mask;
            }
            i = (i | 31).wrapping_add(1);
        }
    }

    /// True when the record's states agree: each covered sub-section has its state,
    /// no other one is System RAM (exactly one of its two bits set).
    fn agree(&self, sec: &SectionRec<'_>) -> bool {
        (0..STATE_WORDS).all(|w| {
            let actual = sec.state_word(w);
            let (want, covered) = (
                self.states.get(w).copied().unwrap_or(0),
                self.covered.get(w).copied().unwrap_or(0),
            );
            actual & covered == want && (actual ^ actual >> 1) & LOW & !covered == 0
        })
    }
}

impl Snapshot<'_> {
    /// The block records by ascending id.
    fn block_cursor(&self) -> Cursor<'_> {
        Cursor::new(self.blocks)
    }

    fn boot_cursor(&self) -> BootCursor<'_> {
        BootCursor {
            boot: self.boot,
            next: 0,
        }
    }

    /// The zone span record of `nid`'s `zone` (spans are sorted by node, then zone).
    fn span(&self, nid: i32, zone: Zone) -> Option<&[u8]> {
        let key = (nid as u32, zone as u32);
        let (mut lo, mut hi) = (0usize, self.spans.count);
        while lo < hi {
            let mid = lo.wrapping_add(hi.wrapping_sub(lo) / 2);
            let rec = self.spans.get(mid)?;
            match (u32_at(rec, 0), u32_at(rec, 4)).cmp(&key) {
                core::cmp::Ordering::Less => lo = mid.wrapping_add(1),
                core::cmp::Ordering::Greater => hi = mid,
                core::cmp::Ordering::Equal => return Some(rec),
            }
        }
        None
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

    /// Each section against its block and, for early sections, the boot ranges: one
    /// pass, with the blocks and the boot ranges walked alongside.
    fn check_sections(&self, s: &Snapshot<'_>) -> Result<()> {
        let g = self.geometry();
        let pps = g.pages_per_subsection();
        let mut blocks = s.block_cursor();
        let mut boot = s.boot_cursor();
        for raw in s.sections.iter() {
            let nr = SectionNr(u64_at(raw, 0));
            let sec = SectionRec(raw);
            let f = sec.flags();
            let ram = sec.ram_subsections() != 0;
            let block = blocks
                .find(g.block_of_section(nr).0)
                .and_then(|b| BlockRecord::decode(u32_at(b, 8)));
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
            // sub-section: all of it (Ram), part of it (RamPartial) or none. Pieces
            // ascend, so a sub-section's pages are complete once a piece starts past it.
            let sec_range = g.section_range(nr).ok_or(Error::Inval)?;
            let mut want = BootStates::default();
            // The sub-section the last piece ended in, and its pages so far.
            let mut open: Option<(u64, u64)> = None;
            let close = |want: &mut BootStates, open: Option<(u64, u64)>| {
                if let Some((i, pages)) = open {
                    let st = if pages == pps {
                        SubState::Ram
                    } else {
                        SubState::RamPartial
                    };
                    want.set(i, i, st);
                }
            };
            for (_, piece) in boot.pieces(sec_range) {
                let start = piece.start.0.wrapping_sub(sec_range.start.0);
                let end = piece.end.0.wrapping_sub(sec_range.start.0);
                let shift = g.pfn_subsection_shift();
                let (first, last) = (
                    start.wrapping_shr(shift),
                    end.wrapping_sub(1).wrapping_shr(shift),
                );
                // The first sub-section's pages of this piece.
                let head = if first == last {
                    end.wrapping_sub(start)
                } else {
                    first.wrapping_add(1).wrapping_mul(pps).wrapping_sub(start)
                };
                open = match open {
                    Some((i, p)) if i == first => Some((i, p.wrapping_add(head))),
                    other => {
                        close(&mut want, other);
                        Some((first, head))
                    }
                };
                if first != last {
                    close(&mut want, open);
                    if last.wrapping_sub(first) > 1 {
                        want.set(first.wrapping_add(1), last.wrapping_sub(1), SubState::Ram);
                    }
                    open = Some((last, end.wrapping_sub(last.wrapping_mul(pps))));
                }
            }
            close(&mut want, open);
            if !want.agree(&sec) {
                return Err(Error::Inval);
            }
        }
        Ok(())
    }

    /// Each block against its sections, and the zone spans against the online
    /// blocks: every span's present pages are the pages of the online blocks in it,
    /// and every span covers the RAM of its single-zone online blocks. One pass over
    /// the blocks, with the sections and the boot ranges walked alongside.
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
        let mut sections = Cursor::new(s.sections);
        let mut boot = s.boot_cursor();
        for raw in s.blocks.iter() {
            let id = BlockId(u64_at(raw, 0));
            let rec = BlockRecord::decode(u32_at(raw, 8)).ok_or(Error::Inval)?;
            let range = g.block_range(id).ok_or(Error::Inval)?;
            let (first, last) = g.section_bounds(range);
            let mut ram_subs = 0u64;
            while let Some(sec) = sections.seek(first.0).map(SectionRec) {
                if u64_at(sec.0, 0) > last.0 {
                    break;
                }
                ram_subs = ram_subs.saturating_add(u64::from(sec.ram_subsections()));
                sections.next = sections.next.wrapping_add(1);
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
                for (nid, piece) in boot.pieces(range) {
                    for (zone, part) in self.addr_zones.zones_in(piece) {
                        add(nid, zone, part.pages())?;
                    }
                }
                continue;
            }
            let (pages, ram) = if early {
                // The boot pages of the block, and the span from its first to its
                // last boot pfn.
                let (mut pages, mut ram) = (0u64, None::<PfnRange>);
                for (_, p) in boot.pieces(range) {
                    pages = pages.saturating_add(p.pages());
                    ram = Some(ram.map_or(p, |r| PfnRange::new(r.start, p.end)));
                }
                (pages, ram.ok_or(Error::Inval)?)
            } else {
                (ram_subs.saturating_mul(g.pages_per_subsection()), range)
            };
            add(rec.nid, rec.zone, pages)?;
            let covered = s
                .span(rec.nid, rec.zone)
                .is_some_and(|sp| u64_at(sp, 8) <= ram.start.0 && ram.end.0 <= u64_at(sp, 16));
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
