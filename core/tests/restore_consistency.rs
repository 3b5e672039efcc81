//! Restore checks meaning, not only the checksum: snapshots edited field by field and
//! re-checksummed (as an attacker or a buggy migration peer would) describe maps that
//! no sequence of operations builds, and every one is refused with `Inval`, the map
//! unchanged. The edits go through the documented byte format, read here
//! independently of the library (offsets and the CRC are this file's own).

use sparsemem::{Error, SparseMap};
use sparsemem_testkit::machines::{modern_config, modern_machine, snapshot as snap};

/// Header (version 4): magic 8, version 4, length 8, 8 option bytes, 3 u64, 16 bytes
/// of policies, 7 u32 counts.
const HEADER: usize = 96;
const COUNTS: usize = 68;
/// The policy in force: its online_policy byte.
const ONLINE_POLICY_IN_FORCE: usize = 61;
const BOOT_REC: usize = 20;
/// x86-64: 64 sub-sections, 2 bits each.
const SECTION_REC: usize = 16 + 16;
const BLOCK_REC: usize = 12;
const SPAN_REC: usize = 32;
/// Section number and a byte per sub-section.
const SHARED_REC: usize = 8 + 64;
/// Group id u64, kind u8 and 3 reserved, nid i32, pages u64.
const GROUP_REC: usize = 24;
/// Section number and a bit per sub-section.
const FAKE_REC: usize = 8 + 8;

/// CRC-32C (Castagnoli, reflected), as the format specifies since version 2.
fn crc32c(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for b in data {
        crc ^= u32::from(*b);
        for _ in 0..8 {
            crc = (crc >> 1) ^ (0x82f6_3b78 & (crc & 1).wrapping_neg());
        }
    }
    !crc
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

/// The record offsets of a snapshot.
struct Layout {
    sections: usize,
    blocks: usize,
    spans: usize,
    nspans: usize,
    shared: usize,
    nshared: usize,
    groups: usize,
    fakes: usize,
}

fn layout(s: &[u8]) -> Layout {
    let count = |i: usize| u32_at(s, COUNTS + 4 * i) as usize;
    let sections = HEADER + count(0) * BOOT_REC;
    let blocks = sections + count(1) * SECTION_REC;
    let spans = blocks + count(2) * BLOCK_REC;
    let shared = spans + count(3) * SPAN_REC;
    let groups = shared + count(4) * SHARED_REC;
    let fakes = groups + count(5) * GROUP_REC;
    Layout {
        sections,
        blocks,
        spans,
        nspans: count(3),
        shared,
        nshared: count(4),
        groups,
        fakes,
    }
}

fn section_at(s: &[u8], l: &Layout, nr: u64) -> usize {
    (0..)
        .map(|i| l.sections + i * SECTION_REC)
        .find(|p| u64_at(s, *p) == nr)
        .unwrap()
}

fn block_at(s: &[u8], l: &Layout, id: u64) -> usize {
    (0..)
        .map(|i| l.blocks + i * BLOCK_REC)
        .find(|p| u64_at(s, *p) == id)
        .unwrap()
}

/// The span record of (nid, zone).
fn span_at(s: &[u8], l: &Layout, nid: u32, zone: u32) -> usize {
    (0..l.nspans)
        .map(|i| l.spans + i * SPAN_REC)
        .find(|p| u32_at(s, *p) == nid && u32_at(s, *p + 4) == zone)
        .unwrap()
}

/// Re-checksums an edited snapshot.
fn reseal(s: &mut [u8]) {
    let n = s.len() - 4;
    let crc = crc32c(&s[..n]);
    s[n..].copy_from_slice(&crc.to_le_bytes());
}

const ZONE_NORMAL: u32 = 3;
const ZONE_MOVABLE: u32 = 4;
/// Section flag ONLINE and EARLY bits (c-api `SMEM_SECTION_*`).
const ONLINE: u32 = 1 << 2;
const EARLY: u32 = 1 << 3;

/// An edit of a snapshot's bytes, named by the invariant it breaks.
type Edit = (&'static str, Box<dyn Fn(&mut Vec<u8>)>);

/// Each edit of a good snapshot.
fn edits() -> Vec<Edit> {
    vec![
        (
            "a block ONLINE whose sections are not",
            Box::new(|s: &mut Vec<u8>| {
                let l = layout(s);
                let p = section_at(s, &l, 32) + 8;
                let f = u32_at(s, p) & !ONLINE;
                s[p..p + 4].copy_from_slice(&f.to_le_bytes());
            }),
        ),
        (
            "sections ONLINE in an offline block",
            Box::new(|s: &mut Vec<u8>| {
                let l = layout(s);
                let p = section_at(s, &l, 33) + 8;
                let f = u32_at(s, p) | ONLINE;
                s[p..p + 4].copy_from_slice(&f.to_le_bytes());
            }),
        ),
        (
            "an online block turned offline over online sections",
            Box::new(|s: &mut Vec<u8>| {
                let l = layout(s);
                let p = block_at(s, &l, 32) + 8;
                // state OFFLINE (4), zone NONE, the rest kept.
                let w = (u32_at(s, p) & !0xffff) | 4;
                s[p..p + 4].copy_from_slice(&w.to_le_bytes());
            }),
        ),
        (
            "a block moved to another zone than its span's",
            Box::new(|s: &mut Vec<u8>| {
                let l = layout(s);
                let p = block_at(s, &l, 32) + 8;
                let w = (u32_at(s, p) & !0xff00) | ZONE_NORMAL << 8;
                s[p..p + 4].copy_from_slice(&w.to_le_bytes());
            }),
        ),
        (
            "a zone span's present pages one off",
            Box::new(|s: &mut Vec<u8>| {
                let l = layout(s);
                let p = span_at(s, &l, 0, ZONE_MOVABLE) + 24;
                let n = u64_at(s, p) + 1;
                s[p..p + 8].copy_from_slice(&n.to_le_bytes());
            }),
        ),
        (
            "a zone span that no longer covers its online block",
            Box::new(|s: &mut Vec<u8>| {
                let l = layout(s);
                let p = span_at(s, &l, 0, ZONE_MOVABLE) + 16;
                let end = u64_at(s, p) - 512;
                s[p..p + 8].copy_from_slice(&end.to_le_bytes());
            }),
        ),
        (
            "an early section that lost EARLY",
            Box::new(|s: &mut Vec<u8>| {
                let l = layout(s);
                let p = section_at(s, &l, 2) + 8;
                let f = u32_at(s, p) & !EARLY;
                s[p..p + 4].copy_from_slice(&f.to_le_bytes());
            }),
        ),
        (
            "an early sub-section whose boot RAM is gone",
            Box::new(|s: &mut Vec<u8>| {
                let l = layout(s);
                // Section 2, sub-section 0: Ram (1) becomes Absent.
                let p = section_at(s, &l, 2) + 16;
                s[p] &= !3;
            }),
        ),
        (
            "an early sub-section with holes marked whole",
            Box::new(|s: &mut Vec<u8>| {
                let l = layout(s);
                // Section 0, sub-section 0: boot RAM from 1 MiB, RamPartial (2) becomes
                // Ram (1).
                let p = section_at(s, &l, 0) + 16;
                assert_eq!(s[p] & 3, 2);
                s[p] = (s[p] & !3) | 1;
            }),
        ),
        (
            "a block record with bits the format does not have",
            Box::new(|s: &mut Vec<u8>| {
                let l = layout(s);
                let p = block_at(s, &l, 33) + 8;
                // Bit 29 is OFFLINABLE, derived, never stored.
                let w = u32_at(s, p) | 1 << 29;
                s[p..p + 4].copy_from_slice(&w.to_le_bytes());
            }),
        ),
        (
            "a shared section's node where no device memory is",
            Box::new(|s: &mut Vec<u8>| {
                let l = layout(s);
                assert_eq!(l.nshared, 1);
                // 6 MiB of node 1 then 4 MiB of node 2 at 8 GiB: sub-section 5 is empty.
                s[l.shared + 8 + 5] = 1 + 1;
            }),
        ),
        (
            "a device sub-section of a shared section without a node",
            Box::new(|s: &mut Vec<u8>| {
                let l = layout(s);
                s[l.shared + 8] = 0;
            }),
        ),
        (
            "a shared section whose section record names one node",
            Box::new(|s: &mut Vec<u8>| {
                let l = layout(s);
                let p = section_at(s, &l, u64_at(s, l.shared)) + 12;
                s[p..p + 4].copy_from_slice(&1i32.to_le_bytes());
            }),
        ),
        (
            "a block in a group of another node",
            Box::new(|s: &mut Vec<u8>| {
                // Group 0 (the DIMM of block 48, node 1) said to be node 0's.
                let l = layout(s);
                assert_eq!(u64_at(s, l.groups), 0);
                s[l.groups + 12..l.groups + 16].copy_from_slice(&0i32.to_le_bytes());
            }),
        ),
        (
            "a block in a group the snapshot does not have",
            Box::new(|s: &mut Vec<u8>| {
                let l = layout(s);
                let p = block_at(s, &l, 56) + 8;
                // Group id + 1 in bits 4..8 and 11..16: group 5.
                let w = (u32_at(s, p) & !(0xf << 4 | 0x1f << 11)) | 6 << 4;
                s[p..p + 4].copy_from_slice(&w.to_le_bytes());
            }),
        ),
        (
            "an early block in a group",
            Box::new(|s: &mut Vec<u8>| {
                let l = layout(s);
                // Block 1 (boot RAM of node 0) in group 1 (virtio-mem, node 0).
                let p = block_at(s, &l, 1) + 8;
                let w = (u32_at(s, p) & !(0xf << 4 | 0x1f << 11)) | 2 << 4;
                s[p..p + 4].copy_from_slice(&w.to_le_bytes());
            }),
        ),
        (
            "an early block carrying its memmap",
            Box::new(|s: &mut Vec<u8>| {
                let l = layout(s);
                let p = block_at(s, &l, 1) + 8;
                let w = u32_at(s, p) | 0x40 << 24;
                s[p..p + 4].copy_from_slice(&w.to_le_bytes());
            }),
        ),
        (
            "a group of a kind that does not exist",
            Box::new(|s: &mut Vec<u8>| {
                let l = layout(s);
                s[l.groups + 8] = 3;
            }),
        ),
        (
            "a dynamic group whose unit is not a power of two",
            Box::new(|s: &mut Vec<u8>| {
                let l = layout(s);
                let p = l.groups + GROUP_REC + 16;
                s[p..p + 8].copy_from_slice(&(3u64 * 32768).to_le_bytes());
            }),
        ),
        (
            "a fake-offline mark over a block's memmap",
            Box::new(|s: &mut Vec<u8>| {
                // The marks of section 56 moved to block 48's first section, whose
                // sub-section 0 holds the memmap.
                let l = layout(s);
                assert_eq!(u64_at(s, l.fakes), 56);
                s[l.fakes..l.fakes + 8].copy_from_slice(&48u64.to_le_bytes());
                s[l.fakes + 8] |= 1;
            }),
        ),
        (
            "a fake-offline record without a mark",
            Box::new(|s: &mut Vec<u8>| {
                let l = layout(s);
                s[l.fakes + 8..l.fakes + FAKE_REC].fill(0);
            }),
        ),
        (
            "a fake-offline mark over device memory",
            Box::new(|s: &mut Vec<u8>| {
                let l = layout(s);
                let p = l.fakes + FAKE_REC;
                assert_eq!(u64_at(s, p), 57);
                s[p..p + 8].copy_from_slice(&64u64.to_le_bytes());
            }),
        ),
        (
            "a policy in force that does not exist",
            Box::new(|s: &mut Vec<u8>| {
                s[ONLINE_POLICY_IN_FORCE] = 2;
            }),
        ),
        (
            "a populated map in the boot phase",
            Box::new(|s: &mut Vec<u8>| {
                // Option byte 6 (after magic, version, length) is the phase: BOOT.
                s[20 + 6] = 1;
            }),
        ),
    ]
}

#[test]
fn checksum_valid_but_inconsistent_snapshots_are_refused_and_change_nothing() {
    let good = snap(&modern_machine());
    // The good snapshot restores (so each edit below is what makes restore fail).
    let target = SparseMap::new_boxed(&modern_config()).unwrap();
    target.restore(&good).unwrap();
    assert_eq!(snap(&target), good);

    let before = snap(&target);
    let mut accepted = Vec::new();
    for (what, edit) in edits() {
        let mut bad = good.clone();
        edit(&mut bad);
        reseal(&mut bad);
        assert_ne!(bad, good, "{what}: the edit changed nothing");
        if target.restore(&bad) != Err(Error::Inval) {
            accepted.push(what);
            target.restore(&before).unwrap();
        }
        assert_eq!(snap(&target), before, "{what}: the map changed");
    }
    assert!(accepted.is_empty(), "accepted: {accepted:#?}");
}

/// A block record right after the last section record, with the same number as key:
/// a reader that walks records past their count took the block for a section and
/// refused this good snapshot (found by the hostile C-call test).
#[test]
fn records_are_never_read_past_their_count() {
    let map = SparseMap::new_boxed(&sparsemem::Config::x86_64()).unwrap();
    map.boot_finish().unwrap();
    map.add_memory(0, 102 * (128 << 20), 128 << 20, &())
        .unwrap();
    map.online_block(sparsemem::BlockId(102), sparsemem::OnlineType::Kernel, &())
        .unwrap();
    let good = snap(&map);
    let target = SparseMap::new_boxed(&sparsemem::Config::x86_64()).unwrap();
    assert_eq!(target.restore(&good), Ok(()));
    assert_eq!(snap(&target), good);
}
