//! Snapshots: the whole state in a versioned, checksummed, little-endian byte format,
//! for live migration and crash recovery, and `restore`, which validates everything
//! before it writes anything.
//!
//! The byte format (version 4; every older version is still read) is documented field
//! by field in docs/snapshot-format.md: header, boot ranges, section records, block
//! records, zone spans, shared device sections, memory groups, fake-offline marks, then
//! a CRC-32C of everything before it (`crc`). `consistency` holds the checks that make
//! restore refuse a snapshot whose records disagree with each other; `modern` the
//! records version 4 added.
//!
//! Everything is written in ascending order, so snapshot, restore, snapshot gives the
//! same bytes. Time and space are proportional to the populated state.

use crate::addr::{BlockId, Pfn, SectionNr};
use crate::capacity::{
    MAX_BOOT_RANGES, MAX_FAKE_OFFLINE_SECTIONS, MAX_GROUPS, MAX_NODES, MAX_SHARED_DEVICE_SECTIONS,
    SECTIONS_PER_LEAF,
};
use crate::error::{Error, Result};
use crate::map::{Phase, Policy, SparseMap};
use crate::memory::block::nid_ok;
use crate::memory::block::{BlockRecord, BlockState, NID_MIXED};
use crate::memory::boot_ranges::BootRange;
use crate::memory::zone::{Zone, ZoneSpan, NR_ZONES};
use crate::section::geometry::{AutoOnline, Config, MemmapOnMemory, OnlinePolicy};
use crate::section::table::{leaf_of, NR_LEAVES};
use crate::section::{BlockView, DeviceNid, Section, SectionFlags, SubState};
use crate::sync::order::Held;

use crate::sync::Ordering;

mod consistency;
mod crc;
mod modern;
use consistency::{Cursor, Records, Snapshot};

const MAGIC: &[u8; 8] = b"SMEMSNAP";
/// The version written; every version from 1 up to it is read (docs/snapshot-format.md,
/// "Versions"). Version 2 changed the checksum from CRC-32 to CRC-32C; version 3 added
/// the shared device sections (a fifth count and their records); version 4 the policy
/// configuration, the policies in force, memory groups and fake-offline marks.
const VERSION: u32 = 4;
/// Header bytes of a version-4 snapshot: the configuration's 32 bytes, its policies
/// and the policies in force (16), seven counts (28).
const HEADER: usize = 20 + 32 + 16 + 28;
/// A section record's device nid when its device memory is several nodes'.
const SHARED_NID: i32 = -2;

/// Header bytes of a snapshot of `version`.
const fn header_len(version: u32) -> usize {
    match version {
        0..=2 => 68,
        3 => 72,
        _ => HEADER,
    }
}
const BOOT_REC: usize = 20;
const BLOCK_REC: usize = 12;
const SPAN_REC: usize = 32;
const CRC: usize = 4;

/// Appends little-endian integers to a caller's buffer.
struct Writer<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl Writer<'_> {
    fn bytes(&mut self, b: &[u8]) -> Result<()> {
        let end = self.pos.checked_add(b.len()).ok_or(Error::NoSpc)?;
        self.buf
            .get_mut(self.pos..end)
            .ok_or(Error::NoSpc)?
            .copy_from_slice(b);
        self.pos = end;
        Ok(())
    }
    fn u8(&mut self, v: u8) -> Result<()> {
        self.bytes(&[v])
    }
    fn u32(&mut self, v: u32) -> Result<()> {
        self.bytes(&v.to_le_bytes())
    }
    fn i32(&mut self, v: i32) -> Result<()> {
        self.bytes(&v.to_le_bytes())
    }
    fn u64(&mut self, v: u64) -> Result<()> {
        self.bytes(&v.to_le_bytes())
    }
}

/// Reads little-endian integers; any short read is a corrupt snapshot (`Inval`).
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N]> {
        let end = self.pos.checked_add(N).ok_or(Error::Inval)?;
        let s = self.buf.get(self.pos..end).ok_or(Error::Inval)?;
        self.pos = end;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }
    fn slice(&mut self, n: usize) -> Result<&[u8]> {
        let end = self.pos.checked_add(n).ok_or(Error::Inval)?;
        let s = self.buf.get(self.pos..end).ok_or(Error::Inval)?;
        self.pos = end;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8> {
        Ok(self.take::<1>()?[0])
    }
    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.take()?))
    }
    fn i32(&mut self) -> Result<i32> {
        Ok(i32::from_le_bytes(self.take()?))
    }
    fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.take()?))
    }
}

/// A byte that holds a flag: 0 or 1.
fn flag(b: u8) -> Result<bool> {
    match b {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(Error::Inval),
    }
}

/// The header up to the record counts: magic, version, length, configuration, phase,
/// and the policies in force (a version before 4: the configuration's).
fn read_config(r: &mut Reader<'_>, len: usize) -> Result<(Config, u8, u32, Policy)> {
    if r.slice(8)? != MAGIC {
        return Err(Error::Inval);
    }
    let version = r.u32()?;
    if !(1..=VERSION).contains(&version) || r.u64()? != len as u64 {
        return Err(Error::Inval);
    }
    let page_shift = r.u8()?;
    let subsection_shift = r.u8()?;
    let section_shift = r.u8()?;
    let max_phys_bits = r.u8()?;
    let movable_node = match r.u8()? {
        0 => false,
        1 => true,
        _ => return Err(Error::Inval),
    };
    let auto_online = AutoOnline::from_u8(r.u8()?).ok_or(Error::Inval)?;
    let phase = r.u8()?;
    if r.u8()? != 0 || phase > Phase::Running as u8 {
        return Err(Error::Inval);
    }
    let mut cfg = Config {
        page_shift,
        subsection_shift,
        section_shift,
        max_phys_bits,
        movable_node,
        auto_online,
        block_size: r.u64()?,
        zone_dma_end: r.u64()?,
        zone_dma32_end: r.u64()?,
        ..Config::LINUX_DEFAULTS
    };
    if version < 4 {
        return Ok((cfg, phase, version, Policy::of(&cfg)));
    }
    cfg.online_policy = OnlinePolicy::from_u8(r.u8()?).ok_or(Error::Inval)?;
    cfg.auto_movable_numa_aware = flag(r.u8()?)?;
    cfg.memmap_on_memory = MemmapOnMemory::from_u8(r.u8()?).ok_or(Error::Inval)?;
    if r.u8()? != 0 {
        return Err(Error::Inval);
    }
    cfg.auto_movable_ratio = r.u32()?;
    let auto_online = AutoOnline::from_u8(r.u8()?).ok_or(Error::Inval)?;
    let online_policy = OnlinePolicy::from_u8(r.u8()?).ok_or(Error::Inval)?;
    let auto_movable_numa_aware = flag(r.u8()?)?;
    if r.u8()? != 0 {
        return Err(Error::Inval);
    }
    let policy = Policy {
        auto_online,
        online_policy,
        auto_movable_numa_aware,
        auto_movable_ratio: r.u32()?,
    };
    Ok((cfg, phase, version, policy))
}

/// `Inval` unless the last 4 bytes are the checksum of the rest: CRC-32C, or CRC-32
/// in a version-1 snapshot.
fn check_crc(buf: &[u8]) -> Result<()> {
    let body = buf.len().checked_sub(CRC).ok_or(Error::Inval)?;
    let (data, sum) = buf.split_at(body);
    let version = buf
        .get(8..12)
        .and_then(|v| v.try_into().ok())
        .map(u32::from_le_bytes);
    let crc = if version == Some(1) {
        crc::crc32_ieee(data)
    } else {
        crc::crc32c(data)
    };
    if crc != (Reader { buf: sum, pos: 0 }).u32()? {
        return Err(Error::Inval);
    }
    Ok(())
}

/// The configuration a snapshot was taken with, so that a tool can initialise a map
/// for `restore` (which requires exactly it). Checks the magic, version, length and
/// checksum; `Inval` otherwise. The records are checked only by `restore`.
pub fn snapshot_config(buf: &[u8]) -> Result<Config> {
    check_crc(buf)?;
    read_config(&mut Reader { buf, pos: 0 }, buf.len()).map(|(cfg, ..)| cfg)
}

/// Up to eight bytes as a little-endian word, zero-extended. Eight bytes take one
/// load; a byte loop into an array would compile to a `memcpy` call per word.
fn le_word(bytes: &[u8]) -> u64 {
    if let Ok(word) = <[u8; 8]>::try_from(bytes) {
        return u64::from_le_bytes(word);
    }
    let mut b = [0u8; 8];
    b.iter_mut().zip(bytes).for_each(|(d, v)| *d = *v);
    u64::from_le_bytes(b)
}

/// What a section record's state bytes hold, read eight bytes (32 sub-sections) at a
/// time: in each 2-bit state the low bit is set for RAM and device memory, the high
/// bit for RAM with holes and device memory.
struct StateBytes {
    /// A non-zero state past the section's last sub-section.
    padding: bool,
    /// Any sub-section populated.
    any: bool,
    /// Device sub-sections.
    devices: u32,
    /// Any sub-section of boot RAM with holes.
    partial: bool,
}

impl StateBytes {
    fn of(states: &[u8], nsub: u32) -> Self {
        const LOW: u64 = 0x5555_5555_5555_5555;
        let mut s = StateBytes {
            padding: false,
            any: false,
            devices: 0,
            partial: false,
        };
        // Bits of the states that exist, counted from the start of the record.
        let mut valid_bits = u64::from(nsub).saturating_mul(2);
        for chunk in states.chunks(8) {
            let w = le_word(chunk);
            let mask = 1u64
                .checked_shl(valid_bits as u32)
                .map_or(u64::MAX, |m| m.wrapping_sub(1));
            valid_bits = valid_bits.saturating_sub(64);
            s.padding |= w & !mask != 0;
            let (lo, hi) = (w & LOW, (w >> 1) & LOW);
            s.any |= w != 0;
            s.devices = s.devices.saturating_add((lo & hi).count_ones());
            s.partial |= hi & !lo != 0;
        }
        s
    }
}

/// What the table holds, as a snapshot counts it.
#[derive(Default)]
struct Counts {
    /// Present sections.
    sections: usize,
    /// Blocks.
    blocks: usize,
    /// Present sections whose device memory is several nodes'.
    shared: usize,
    /// Registered memory groups.
    groups: usize,
    /// Present sections with fake-offline marks.
    fakes: usize,
}

/// Where the writing pass puts the records of a section entry: the regions of the
/// format that follow the table's order.
struct Regions<'a> {
    sections: Writer<'a>,
    blocks: Writer<'a>,
    shared: Writer<'a>,
    fakes: Writer<'a>,
}

/// The parts of a snapshot header that decide its layout.
struct Header {
    cfg: Config,
    phase: u8,
    version: u32,
    policy: Policy,
    boot: usize,
    sections: usize,
    blocks: usize,
    spans: usize,
    shared: usize,
    groups: usize,
    fakes: usize,
}

impl SparseMap {
    /// Bytes of the sub-section states of one section record.
    fn state_bytes(&self) -> usize {
        (self.geometry().subsections_per_section() as usize).div_ceil(4)
    }

    fn section_rec(&self) -> usize {
        16usize.wrapping_add(self.state_bytes())
    }

    /// A shared device section's record: its number and a byte per sub-section.
    fn shared_rec(&self) -> usize {
        8usize.wrapping_add(self.geometry().subsections_per_section() as usize)
    }

    /// Present sections, blocks and shared device sections: one pass over the table.
    fn counts(&self) -> Counts {
        let mut n = Counts::default();
        self.table.for_each(|_, s| {
            let w = s.word();
            if w.flags().contains(SectionFlags::PRESENT) {
                n.sections = n.sections.wrapping_add(1);
                if w.device_nid() == DeviceNid::Shared {
                    n.shared = n.shared.wrapping_add(1);
                }
                if w.fake_offline() {
                    n.fakes = n.fakes.wrapping_add(1);
                }
            }
            if BlockRecord::decode(s.block_record()).is_some() {
                n.blocks = n.blocks.wrapping_add(1);
            }
        });
        n.groups = self.groups.iter().count();
        n
    }

    /// Bytes of the records of `n` and `spans` zone spans, checksum included.
    fn bytes_of(&self, n: &Counts, spans: usize) -> usize {
        HEADER
            .saturating_add(self.boot.len().saturating_mul(BOOT_REC))
            .saturating_add(n.sections.saturating_mul(self.section_rec()))
            .saturating_add(n.blocks.saturating_mul(BLOCK_REC))
            .saturating_add(spans.saturating_mul(SPAN_REC))
            .saturating_add(n.shared.saturating_mul(self.shared_rec()))
            .saturating_add(n.groups.saturating_mul(modern::GROUP_REC))
            .saturating_add(n.fakes.saturating_mul(self.fake_rec()))
            .saturating_add(CRC)
    }

    fn spans(&self) -> impl Iterator<Item = (i32, Zone, ZoneSpan)> + '_ {
        (0..MAX_NODES as i32).flat_map(move |nid| {
            (1..NR_ZONES as u8).filter_map(move |z| {
                let zone = Zone::from_u8(z)?;
                let s = self.zones.get(nid, zone).ok()?;
                (s != ZoneSpan::default()).then_some((nid, zone, s))
            })
        })
    }

    /// An upper bound of the bytes `snapshot` writes for the current state
    /// (`smem_snapshot_bytes`).
    pub fn snapshot_bytes(&self) -> usize {
        self.bytes_of(&self.counts(), MAX_NODES.saturating_mul(NR_ZONES))
    }

    /// Serialises the whole state (configuration, phase, boot ranges, sections, blocks,
    /// zone spans; not a notifier) into `buf`, returning the bytes written. `Busy`
    /// while a block is mid-transition; `NoSpc` when `buf` is too short.
    ///
    /// Locking: boot, hotplug, every section (ascending) and zones, in the order of
    /// `order.rs`, held only while the state is copied into `buf` (the format is a
    /// plain copy of the words: 2-bit states are written as the state words' bytes);
    /// the checksum is computed after every lock is released.
    pub fn snapshot(&self, buf: &mut [u8]) -> Result<usize> {
        let len = {
            let mut top = Held::nothing();
            let mut b = self.boot.lock.lock(&mut top);
            let mut h = self.hotplug.lock(b.held());
            // Under the hotplug lock, which every transition holds when it changes it.
            if self.transitions.load(Ordering::Acquire) != 0 {
                return Err(Error::Busy);
            }
            let mut t = self.table.lock_all(h.held());
            let _z = self.zones.lock.lock(t.held());
            self.copy_state(buf)?
        };
        let body = buf.get(..len).ok_or(Error::NoSpc)?;
        let crc = crc::crc32c(body);
        let mut w = Writer { buf, pos: len };
        w.u32(crc)?;
        Ok(w.pos)
    }

    /// Copies the state into `buf` (everything but the checksum); the caller holds
    /// every lock. Returns the bytes written.
    ///
    /// One pass counts, one writes: the counts give every region's offset, so the
    /// writing pass fills the section, block and shared-section regions side by side.
    fn copy_state(&self, buf: &mut [u8]) -> Result<usize> {
        let n = self.counts();
        let spans = self.spans().count();
        let total = self.bytes_of(&n, spans);
        if buf.len() < total {
            return Err(Error::NoSpc);
        }
        let body = buf.get_mut(..total.wrapping_sub(CRC)).ok_or(Error::NoSpc)?;
        // The regions, in the order of the format: header, boot ranges and sections;
        // blocks; spans; shared sections; groups; fake-offline marks. Their sizes are the counts' (no overflow:
        // `total` is within the buffer).
        let sections_end = HEADER
            .wrapping_add(self.boot.len().wrapping_mul(BOOT_REC))
            .wrapping_add(n.sections.wrapping_mul(self.section_rec()));
        let (head, rest) = body
            .split_at_mut_checked(sections_end)
            .ok_or(Error::NoSpc)?;
        let (blocks, rest) = rest
            .split_at_mut_checked(n.blocks.wrapping_mul(BLOCK_REC))
            .ok_or(Error::NoSpc)?;
        let (span_buf, rest) = rest
            .split_at_mut_checked(spans.wrapping_mul(SPAN_REC))
            .ok_or(Error::NoSpc)?;
        let (shared, rest) = rest
            .split_at_mut_checked(n.shared.wrapping_mul(self.shared_rec()))
            .ok_or(Error::NoSpc)?;
        let (groups, fakes) = rest
            .split_at_mut_checked(n.groups.wrapping_mul(modern::GROUP_REC))
            .ok_or(Error::NoSpc)?;
        let mut w = Writer { buf: head, pos: 0 };
        self.write_header(&mut w, total, &n, spans)?;
        let mut out = Regions {
            sections: w,
            blocks: Writer {
                buf: blocks,
                pos: 0,
            },
            shared: Writer {
                buf: shared,
                pos: 0,
            },
            fakes: Writer { buf: fakes, pos: 0 },
        };
        let mut res = Ok(());
        self.table.for_each(|nr, s| {
            if res.is_ok() {
                res = self.write_section(&mut out, nr, s);
            }
        });
        res?;
        let mut w = Writer {
            buf: span_buf,
            pos: 0,
        };
        for (nid, zone, s) in self.spans() {
            w.u32(nid as u32)?;
            w.u32(zone as u32)?;
            w.u64(s.start.0)?;
            w.u64(s.end.0)?;
            w.u64(s.present_pages)?;
        }
        self.write_groups(&mut Writer {
            buf: groups,
            pos: 0,
        })?;
        Ok(total.wrapping_sub(CRC))
    }

    /// The header and the boot ranges.
    fn write_header(
        &self,
        w: &mut Writer<'_>,
        total: usize,
        n: &Counts,
        spans: usize,
    ) -> Result<()> {
        let cfg = self.config();
        w.bytes(MAGIC)?;
        w.u32(VERSION)?;
        w.u64(total as u64)?;
        for v in [
            cfg.page_shift,
            cfg.subsection_shift,
            cfg.section_shift,
            cfg.max_phys_bits,
        ] {
            w.u8(v)?;
        }
        w.u8(u8::from(cfg.movable_node))?;
        w.u8(cfg.auto_online as u8)?;
        w.u8(self.phase() as u8)?;
        w.u8(0)?;
        w.u64(cfg.block_size)?;
        w.u64(cfg.zone_dma_end)?;
        w.u64(cfg.zone_dma32_end)?;
        let policy = self.policy();
        for v in [
            cfg.online_policy as u8,
            u8::from(cfg.auto_movable_numa_aware),
            cfg.memmap_on_memory as u8,
            0,
        ] {
            w.u8(v)?;
        }
        w.u32(cfg.auto_movable_ratio)?;
        for v in [
            policy.auto_online as u8,
            policy.online_policy as u8,
            u8::from(policy.auto_movable_numa_aware),
            0,
        ] {
            w.u8(v)?;
        }
        w.u32(policy.auto_movable_ratio)?;
        for n in [
            self.boot.len(),
            n.sections,
            n.blocks,
            spans,
            n.shared,
            n.groups,
            n.fakes,
        ] {
            w.u32(u32::try_from(n).map_err(|_| Error::NoSpc)?)?;
        }
        for r in self.boot.iter() {
            w.u64(r.start.0)?;
            w.u64(r.end.0)?;
            w.i32(r.nid)?;
        }
        Ok(())
    }

    /// The records of one section entry: its section record if present, its block
    /// record if a block starts there, its shared-section record if shared.
    fn write_section(&self, out: &mut Regions<'_>, nr: SectionNr, s: &Section) -> Result<()> {
        let word = s.word();
        let f = word.flags();
        if f.contains(SectionFlags::PRESENT) {
            let w = &mut out.sections;
            w.u64(nr.0)?;
            w.u32(f.bits())?;
            w.i32(match word.device_nid() {
                DeviceNid::None => -1,
                DeviceNid::One(n) => n,
                DeviceNid::Shared => SHARED_NID,
            })?;
            let state_bytes = self.state_bytes();
            let end = w.pos.wrapping_add(state_bytes);
            s.copy_state_bytes(w.buf.get_mut(w.pos..end).ok_or(Error::NoSpc)?);
            w.pos = end;
        }
        if let Some(rec) = BlockRecord::decode(s.block_record()) {
            let w = &mut out.blocks;
            w.u64(self.geometry().block_of_section(nr).0)?;
            w.u32(BlockRecord { busy: false, ..rec }.encode())?;
        }
        if f.contains(SectionFlags::PRESENT) && word.device_nid() == DeviceNid::Shared {
            let w = &mut out.shared;
            let entry = self.shared_nids.find(s);
            w.u64(nr.0)?;
            for i in 0..self.geometry().subsections_per_section() {
                // A removed sub-section's byte is left behind: only Device counts.
                let device = s.state(i) == SubState::Device;
                let nid = entry.filter(|_| device).and_then(|e| e.nid(i));
                w.u8(nid.map_or(0, |n| n.wrapping_add(1) as u8))?;
            }
        }
        if f.contains(SectionFlags::PRESENT) && word.fake_offline() {
            self.write_fake(&mut out.fakes, nr, s)?;
        }
        Ok(())
    }

    fn read_header(&self, r: &mut Reader<'_>, len: usize) -> Result<Header> {
        let (cfg, phase, version, policy) = read_config(r, len)?;
        let mut count = || -> Result<usize> { usize::try_from(r.u32()?).map_err(|_| Error::Inval) };
        let h = Header {
            cfg,
            phase,
            version,
            policy,
            boot: count()?,
            sections: count()?,
            blocks: count()?,
            spans: count()?,
            shared: if version >= 3 { count()? } else { 0 },
            groups: if version >= 4 { count()? } else { 0 },
            fakes: if version >= 4 { count()? } else { 0 },
        };
        let expect = header_len(version)
            .checked_add(h.boot.checked_mul(BOOT_REC).ok_or(Error::Inval)?)
            .and_then(|v| v.checked_add(h.sections.checked_mul(self.section_rec())?))
            .and_then(|v| v.checked_add(h.blocks.checked_mul(BLOCK_REC)?))
            .and_then(|v| v.checked_add(h.spans.checked_mul(SPAN_REC)?))
            .and_then(|v| v.checked_add(h.shared.checked_mul(self.shared_rec())?))
            .and_then(|v| v.checked_add(h.groups.checked_mul(modern::GROUP_REC)?))
            .and_then(|v| v.checked_add(h.fakes.checked_mul(self.fake_rec())?))
            .and_then(|v| v.checked_add(CRC))
            .ok_or(Error::Inval)?;
        if expect != len
            || h.cfg != self.config()
            || self.phase() == Phase::Uninit
            || h.boot > MAX_BOOT_RANGES
            || h.shared > MAX_SHARED_DEVICE_SECTIONS
            || h.groups > MAX_GROUPS
            || h.fakes > MAX_FAKE_OFFLINE_SECTIONS
        {
            return Err(Error::Inval);
        }
        Ok(h)
    }

    /// Replaces the whole state with a snapshot's. The map must have been initialised
    /// with the same configuration; it keeps nothing of its own state. `Inval` for a
    /// corrupt, truncated, foreign-version or mismatched snapshot, and then the map is
    /// unchanged: everything is validated before anything is written. Must not run
    /// concurrently with any other call.
    pub fn restore(&self, buf: &[u8]) -> Result<()> {
        check_crc(buf)?;
        let h = self.read_header(&mut Reader { buf, pos: 0 }, buf.len())?;
        self.apply(buf, &h, false)?;
        // The flat bitmaps follow the table: cleared while the table still says which
        // sections they hold, loaded from the table written.
        let g = self.geometry();
        self.forget_flat_bitmaps(&g);
        let written = self.apply(buf, &h, true);
        self.load_flat_bitmaps(&g);
        written
    }

    /// Reads the records after the header; with `write` false only validates them
    /// (every check is made in that pass), with `write` true replaces the state.
    fn apply(&self, buf: &[u8], h: &Header, write: bool) -> Result<()> {
        let g = self.geometry();
        // Restore runs alone (its contract); the locks only give the writes below the
        // tokens that the lock order asks for.
        let mut top = Held::nothing();
        let mut b = self.boot.lock.lock(&mut top);
        let mut hp = self.hotplug.lock(b.held());
        let held = hp.held();
        let header = header_len(h.version);
        let mut r = Reader { buf, pos: header };
        if write {
            self.table.reset();
            self.zones.reset();
            self.shared_nids.reset();
            self.fake.reset();
            self.groups.reset();
            self.set_policy(h.policy);
            self.transitions.store(0, Ordering::Relaxed);
        }
        let mut boot_ranges = Reader { buf, pos: header };
        let mut prev_end = 0u64;
        for _ in 0..h.boot {
            let (start, end, nid) = (r.u64()?, r.u64()?, r.i32()?);
            if start >= end || start < prev_end || end > g.pfn_limit() || !nid_ok(nid) {
                return Err(Error::Inval);
            }
            prev_end = end;
        }
        if write {
            self.boot.replace((0..h.boot).map(|_| {
                let start = boot_ranges.u64().unwrap_or(0);
                let end = boot_ranges.u64().unwrap_or(0);
                BootRange {
                    start: Pfn(start),
                    end: Pfn(end),
                    nid: boot_ranges.i32().unwrap_or(0),
                }
            }));
        }
        let nsub = g.subsections_per_section();
        let mut prev: Option<u64> = None;
        let mut shared_sections = 0usize;
        let mut leaves = 0usize;
        let mut last_root: Option<u64> = None;
        for _ in 0..h.sections {
            let nr = r.u64()?;
            let flags = SectionFlags::from_bits(r.u32()?).ok_or(Error::Inval)?;
            let dev_nid = r.i32()?;
            let states = r.slice(self.state_bytes())?;
            if prev.is_some_and(|p| nr <= p)
                || nr >= g.nr_sections()
                || !flags.contains(SectionFlags::PRESENT | SectionFlags::VALID)
            {
                return Err(Error::Inval);
            }
            prev = Some(nr);
            let StateBytes {
                padding,
                any,
                devices,
                partial,
            } = StateBytes::of(states, nsub);
            let device = devices != 0;
            let shared = dev_nid == SHARED_NID && h.version >= 3;
            let nid_bad = if device {
                !nid_ok(dev_nid) && !shared
            } else {
                dev_nid != -1
            };
            if shared {
                shared_sections = shared_sections.wrapping_add(1);
            }
            if padding || !any || nid_bad || (partial && !flags.contains(SectionFlags::EARLY)) {
                return Err(Error::Inval);
            }
            let root = leaf_of(nr);
            if last_root != Some(root) {
                leaves = leaves.wrapping_add(1);
                last_root = Some(root);
            }
            if write {
                let sec = self.table.get_or_assign(held, SectionNr(nr))?;
                sec.load_state_bytes(states);
                if devices != 0 {
                    sec.count_devices(devices, 0);
                }
                let nid = match (device, shared) {
                    (false, _) => DeviceNid::None,
                    (true, true) => DeviceNid::Shared,
                    (true, false) => DeviceNid::One(dev_nid),
                };
                sec.restore_word(flags, nid);
            }
        }
        let sections_end = r.pos;
        // The section records, for the leaves of blocks (ascending, like the blocks).
        let mut section_records = Cursor::new(Records {
            buf,
            at: sections_end.wrapping_sub(h.sections.wrapping_mul(self.section_rec())),
            count: h.sections,
            len: self.section_rec(),
        });
        let mut prev: Option<u64> = None;
        for _ in 0..h.blocks {
            let id = r.u64()?;
            let word = r.u32()?;
            let rec = BlockRecord::decode(word).ok_or(Error::Inval)?;
            // Canonical records only: what restore keeps is what snapshot writes.
            if rec.encode() != word {
                return Err(Error::Inval);
            }
            let first = g.block_first_section(BlockId(id)).ok_or(Error::Inval)?;
            let ok_state = matches!(rec.state, BlockState::Online | BlockState::Offline);
            let ok_nid = nid_ok(rec.nid) || rec.nid == NID_MIXED;
            if prev.is_some_and(|p| id <= p)
                || !ok_state
                || !ok_nid
                || rec.busy
                || rec.zone == Zone::Device
                || !self.block_extras_ok(buf, h, &rec)
            {
                return Err(Error::Inval);
            }
            prev = Some(id);
            let root = leaf_of(first.0);
            let leaf_first = first.0 & !(SECTIONS_PER_LEAF as u64).wrapping_sub(1);
            let has_root = section_records
                .seek(leaf_first)
                .is_some_and(|rec| leaf_of(consistency::key(rec)) == root);
            if !has_root && last_root != Some(root) {
                leaves = leaves.wrapping_add(1);
                last_root = Some(root);
            }
            if write {
                // The record and every section's view of it (ONLINE came with the
                // section flags above): `set_block` without its read-modify-writes,
                // which restore, running alone, does not need.
                let sec = self.table.get_or_assign(held, first)?;
                sec.set_block_record(rec.encode());
                let view = Some(BlockView {
                    state: rec.state,
                    zone: rec.zone,
                    nid: rec.nid,
                });
                self.for_each_block_section(BlockId(id), |s| s.restore_block_view(view));
                if rec.vmemmap {
                    sec.set_vmemmap();
                }
            }
        }
        if leaves > NR_LEAVES {
            return Err(Error::Inval);
        }
        let blocks_end = r.pos;
        let z = self.zones.lock.lock(held);
        let mut prev: Option<(u32, u32)> = None;
        for _ in 0..h.spans {
            let (nid, zone) = (r.u32()?, r.u32()?);
            let span = ZoneSpan {
                start: Pfn(r.u64()?),
                end: Pfn(r.u64()?),
                present_pages: r.u64()?,
            };
            let zone_of = u8::try_from(zone)
                .ok()
                .and_then(|z| Zone::try_from(z).ok())
                .filter(|z| *z != Zone::None)
                .ok_or(Error::Inval)?;
            let n = i32::try_from(nid).map_err(|_| Error::Inval)?;
            if prev.is_some_and(|p| (nid, zone) <= p)
                || !nid_ok(n)
                || span.start >= span.end
                || span.end.0 > g.pfn_limit()
            {
                return Err(Error::Inval);
            }
            prev = Some((nid, zone));
            if write {
                self.zones.set(z.proof(), n, zone_of, span)?;
            }
        }
        drop(z);
        // One record per section whose record says "shared" (each record's section
        // and bytes are checked in `check_consistency`).
        let spans_end = r.pos;
        if shared_sections != h.shared {
            return Err(Error::Inval);
        }
        for _ in 0..h.shared {
            let nr = SectionNr(r.u64()?);
            let nids = r.slice(nsub as usize)?;
            if write {
                let sec = self.table.get(nr).ok_or(Error::Inval)?;
                let entry = self.shared_nids.claim(sec)?;
                for (i, v) in (0..nsub).zip(nids) {
                    if let Some(nid) = i32::from(*v).checked_sub(1) {
                        entry.set(i, i, nid);
                    }
                }
            }
        }
        let shared_end = r.pos;
        self.apply_modern(buf, h, shared_end, write)?;
        if !write {
            let records = |at: usize, count: usize, len: usize| Records {
                buf,
                at,
                count,
                len,
            };
            self.check_consistency(&Snapshot {
                phase_running: h.phase == Phase::Running as u8,
                boot: records(header, h.boot, BOOT_REC),
                sections: records(
                    sections_end.wrapping_sub(h.sections.wrapping_mul(self.section_rec())),
                    h.sections,
                    self.section_rec(),
                ),
                blocks: records(sections_end, h.blocks, BLOCK_REC),
                spans: records(blocks_end, h.spans, SPAN_REC),
                shared: records(spans_end, h.shared, self.shared_rec()),
                nsub,
            })?;
        }
        if write {
            self.set_phase(Phase::from_u8(h.phase).unwrap_or(Phase::Uninit));
        }
        Ok(())
    }
}
