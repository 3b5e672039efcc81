//! The records version 4 added (docs/snapshot-format.md): memory groups and
//! fake-offline marks, and the block-record fields that refer to them (a block's group
//! and whether it carries its own memmap). Groups' present-page counters are not
//! stored: restore counts them again from the blocks.

use super::consistency::Records;
use super::{Header, Reader, Writer, BLOCK_REC, BOOT_REC, SPAN_REC};
use crate::addr::SectionNr;
use crate::error::{Error, Result};
use crate::map::SparseMap;
use crate::memory::block::{nid_ok, BlockFlags, BlockRecord, BlockState};
use crate::memory::group::{GroupKind, MemoryGroups, GROUP_NONE};
use crate::memory::zone::Zone;
use crate::section::geometry::MemmapOnMemory;
use crate::section::{Section, SubState};

/// A group record: id (u64), kind (u8: 1 static, 2 dynamic), 3 reserved bytes, nid
/// (i32), max_pages or unit_pages (u64).
pub(super) const GROUP_REC: usize = 24;
const STATIC: u8 = 1;
const DYNAMIC: u8 = 2;

impl SparseMap {
    /// A fake-offline record: the section number and a bit per sub-section.
    pub(super) fn fake_rec(&self) -> usize {
        8usize.wrapping_add((self.geometry().subsections_per_section() as usize).div_ceil(8))
    }

    pub(super) fn write_groups(&self, w: &mut Writer<'_>) -> Result<()> {
        for g in self.groups.iter() {
            let (kind, pages) = match g.kind {
                GroupKind::Static { max_pages } => (STATIC, max_pages),
                GroupKind::Dynamic { unit_pages } => (DYNAMIC, unit_pages),
            };
            w.u64(u64::from(g.id))?;
            w.bytes(&[kind, 0, 0, 0])?;
            w.i32(g.nid)?;
            w.u64(pages)?;
        }
        Ok(())
    }

    /// The fake-offline record of section `nr`, which has marks.
    pub(super) fn write_fake(&self, w: &mut Writer<'_>, nr: SectionNr, s: &Section) -> Result<()> {
        let nsub = self.geometry().subsections_per_section();
        let entry = self.fake.find(s);
        w.u64(nr.0)?;
        let mut byte = 0u8;
        for i in 0..nsub {
            if entry.is_some_and(|e| e.marked(i)) {
                byte |= 1 << (i % 8);
            }
            if i % 8 == 7 || i == nsub.wrapping_sub(1) {
                w.u8(byte)?;
                byte = 0;
            }
        }
        Ok(())
    }

    /// Where a snapshot's group records start (they follow the shared sections).
    fn groups_at(&self, h: &Header) -> usize {
        super::header_len(h.version)
            .wrapping_add(h.boot.wrapping_mul(BOOT_REC))
            .wrapping_add(h.sections.wrapping_mul(self.section_rec()))
            .wrapping_add(h.blocks.wrapping_mul(BLOCK_REC))
            .wrapping_add(h.spans.wrapping_mul(SPAN_REC))
            .wrapping_add(h.shared.wrapping_mul(self.shared_rec()))
    }

    fn group_records<'a>(&self, buf: &'a [u8], h: &Header) -> Records<'a> {
        Records {
            buf,
            at: self.groups_at(h),
            count: h.groups,
            len: GROUP_REC,
        }
    }

    /// A block record's group and memmap fields: none before version 4; then a group
    /// must be one of the snapshot's, of the block's node, and only hot-added blocks
    /// (never early) belong to groups or carry their memmap, which the configuration
    /// must allow.
    pub(super) fn block_extras_ok(&self, buf: &[u8], h: &Header, rec: &BlockRecord) -> bool {
        if h.version < 4 {
            return !rec.vmemmap && rec.group == GROUP_NONE;
        }
        let early = rec.flags.contains(BlockFlags::EARLY);
        let group_ok = rec.group == GROUP_NONE
            || (!early
                && self
                    .group_records(buf, h)
                    .find(u64::from(rec.group))
                    .and_then(|g| Some(i32::from_le_bytes(g.get(12..16)?.try_into().ok()?)))
                    == Some(rec.nid));
        let vmemmap_ok = !rec.vmemmap
            || (!early
                && h.cfg.memmap_on_memory != MemmapOnMemory::Off
                && self.geometry().vmemmap_pages().is_some());
        group_ok && vmemmap_ok
    }

    /// Reads (and with `write`, restores) the group and fake-offline records, which
    /// start at `at`; with `write`, also counts the groups' present pages again.
    pub(super) fn apply_modern(
        &self,
        buf: &[u8],
        h: &Header,
        at: usize,
        write: bool,
    ) -> Result<()> {
        let g = self.geometry();
        let mut r = Reader { buf, pos: at };
        let mut prev: Option<u64> = None;
        for _ in 0..h.groups {
            let id = r.u64()?;
            let kind: [u8; 4] = r.take()?;
            let nid = r.i32()?;
            let pages = r.u64()?;
            let kind = match kind {
                [STATIC, 0, 0, 0] => GroupKind::Static { max_pages: pages },
                [DYNAMIC, 0, 0, 0] => GroupKind::Dynamic { unit_pages: pages },
                _ => return Err(Error::Inval),
            };
            let id32 = u32::try_from(id).map_err(|_| Error::Inval)?;
            if prev.is_some_and(|p| id <= p) || id32 == GROUP_NONE {
                return Err(Error::Inval);
            }
            prev = Some(id);
            MemoryGroups::check(nid, kind, g.pages_per_block()).map_err(|_| Error::Inval)?;
            if write {
                self.groups.restore(id32, nid, kind)?;
            } else if !nid_ok(nid) || id32 as usize >= crate::capacity::MAX_GROUPS {
                return Err(Error::Inval);
            }
        }
        let sections = Records {
            buf,
            at: super::header_len(h.version).wrapping_add(h.boot.wrapping_mul(BOOT_REC)),
            count: h.sections,
            len: self.section_rec(),
        };
        let blocks = Records {
            buf,
            at: sections
                .at
                .wrapping_add(h.sections.wrapping_mul(sections.len)),
            count: h.blocks,
            len: BLOCK_REC,
        };
        let nsub = g.subsections_per_section();
        let memmap_subs = g
            .vmemmap_pages()
            .and_then(|p| p.checked_div(g.pages_per_subsection()))
            .unwrap_or(0);
        let mut prev: Option<u64> = None;
        for _ in 0..h.fakes {
            let nr = r.u64()?;
            let mask = r.slice(self.fake_rec().wrapping_sub(8))?;
            let section = sections.find(nr).ok_or(Error::Inval)?;
            let block = g.block_of_section(SectionNr(nr));
            let rec = blocks
                .find(block.0)
                .and_then(|b| Some(u32::from_le_bytes(b.get(8..12)?.try_into().ok()?)))
                .and_then(BlockRecord::decode)
                .ok_or(Error::Inval)?;
            let first_of_block = g.block_first_section(block) == Some(SectionNr(nr));
            let marked = |i: u32| {
                mask.get((i / 8) as usize)
                    .is_some_and(|b| b >> (i % 8) & 1 != 0)
            };
            let state = |i: u32| {
                let byte = section.get(16usize.wrapping_add((i / 4) as usize)).copied();
                SubState::from_u8((byte.unwrap_or(0) >> ((i % 4).wrapping_mul(2))) & 3)
            };
            let padding = (nsub..(mask.len() as u32).wrapping_mul(8)).any(marked);
            let any = (0..nsub).any(marked);
            let bad = (0..nsub).filter(|i| marked(*i)).any(|i| {
                state(i) != Some(SubState::Ram)
                    || (rec.vmemmap && first_of_block && u64::from(i) < memmap_subs)
            });
            if prev.is_some_and(|p| nr <= p) || padding || !any || bad {
                return Err(Error::Inval);
            }
            prev = Some(nr);
            if write {
                let sec = self.table.get(SectionNr(nr)).ok_or(Error::Inval)?;
                let entry = self.fake.claim(sec)?;
                (0..nsub)
                    .filter(|i| marked(*i))
                    .for_each(|i| entry.set(i, true));
                sec.set_fake_offline(true);
            }
        }
        if write {
            self.recount_groups();
        }
        Ok(())
    }

    /// Each group's present pages, from its online blocks (every page of a hot-added
    /// block is present).
    fn recount_groups(&self) {
        let per_block = self.geometry().pages_per_block() as i64;
        self.table.for_each(|_, s| {
            if let Some(rec) = BlockRecord::decode(s.block_record()) {
                if rec.group != GROUP_NONE && rec.state == BlockState::Online {
                    self.groups
                        .account(rec.group, rec.zone == Zone::Movable, per_block);
                }
            }
        });
    }
}
