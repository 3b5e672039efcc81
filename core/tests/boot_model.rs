//! Property test of the boot map against a brute-force, per-page reference model.
//!
//! Each case picks a preset (x86_64, arm64_4k, arm64_64k) and 1-4 nodes, generates a
//! random firmware map (byte-granular, non-overlapping RAM ranges with holes of every
//! size, sometimes straddling the 16 MiB and 4 GiB zone boundaries, registered in
//! random order on random nodes), runs `boot_add_ram` + `boot_finish`, and compares
//! **every pfn** from 0 to one section past the highest RAM pfn, every section, every
//! memory block and every zone span with a model written from the spec alone
//! (docs/semantics.md: "Boot memory", "Memory blocks", "pfn_valid and pfn_online").
//! The model computes its geometry from the `Config` fields, not from the library.
//!
//! Reproduce or extend: `SPARSEMEM_SEED` (decimal or 0x-hex; the seed of the first
//! case) and `SPARSEMEM_CASES` (number of cases). A failure prints the case seed, the
//! preset and the ranges in registration order; `SPARSEMEM_SEED=<case seed>
//! SPARSEMEM_CASES=1` replays exactly that case.

use sparsemem::{
    BlockFlags, BlockId, BlockState, Config, Error, Pfn, PfnInfo, PfnKind, SectionFlags, SectionNr,
    SparseMap, Zone, NID_MIXED, SUBSECTION_WORDS,
};
use sparsemem_testkit::seeds::{env_u64, splitmix64, Rng};

const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

/// Seed of the first case when `SPARSEMEM_SEED` is not set.
const DEFAULT_SEED: u64 = 0x5eed_b007_2019_0618;
/// Cases when `SPARSEMEM_CASES` is not set.
const DEFAULT_CASES: u64 = 40;
/// Nodes a case may use (node ids 0..MAX_CASE_NODES).
const MAX_CASE_NODES: u64 = 4;

/// The seed of case `i`: the base seed itself for case 0, so that a printed case seed
/// replays with `SPARSEMEM_CASES=1`.
fn case_seed(base: u64, i: u64) -> u64 {
    if i == 0 {
        base
    } else {
        splitmix64(base ^ i.wrapping_mul(0xd134_2543_de82_ef95))
    }
}

// ---------------------------------------------------------------------------------
// Case generation

const PRESETS: [(&str, Config); 3] = [
    ("x86_64", Config::x86_64()),
    ("arm64_4k", Config::arm64_4k()),
    ("arm64_64k", Config::arm64_64k()),
];

/// The sizes the generator works with, from the `Config` fields.
#[derive(Clone, Copy)]
struct Sizes {
    page: u64,
    sub: u64,
    section: u64,
    block: u64,
}

impl Sizes {
    fn of(cfg: &Config) -> Self {
        Sizes {
            page: 1 << cfg.page_shift,
            sub: 1 << cfg.subsection_shift,
            section: 1 << cfg.section_shift,
            block: cfg.block_size,
        }
    }
}

struct Case {
    seed: u64,
    preset: &'static str,
    cfg: Config,
    nodes: u64,
    /// `(nid, start, size)` in bytes, in registration order.
    ranges: Vec<(i32, u64, u64)>,
}

impl Case {
    /// A case whose ranges (given in address order) are registered in random order.
    fn shuffled(
        seed: u64,
        preset: &'static str,
        cfg: Config,
        nodes: u64,
        mut ranges: Vec<(i32, u64, u64)>,
        rng: &mut Rng,
    ) -> Case {
        for i in (1..ranges.len()).rev() {
            let j = rng.below(i as u64 + 1) as usize;
            ranges.swap(i, j);
        }
        Case {
            seed,
            preset,
            cfg,
            nodes,
            ranges,
        }
    }

    /// Everything needed to understand and replay a failure.
    fn describe(&self) -> String {
        let mut s = format!(
            "case seed {:#x} (replay: SPARSEMEM_SEED={:#x} SPARSEMEM_CASES=1), preset {}, \
             {} node(s), {} range(s) in registration order (nid, start, size, end):",
            self.seed,
            self.seed,
            self.preset,
            self.nodes,
            self.ranges.len()
        );
        for &(nid, start, size) in &self.ranges {
            s.push_str(&format!(
                "\n    ({nid}, {start:#x}, {size:#x}, {:#x})",
                start + size
            ));
        }
        s
    }
}

/// A hole between two ranges: adjacent, sub-page, a few pages, below a sub-section,
/// several sub-sections, about a section or more, several blocks.
fn gap_len(rng: &mut Rng, z: Sizes) -> u64 {
    match rng.below(9) {
        0 => 0,
        1 => rng.range(1, z.page),
        2 => z.page * rng.range(1, 8) + rng.below(z.page),
        3 => rng.range(z.page, z.sub),
        4 => z.sub * rng.range(1, 8) + rng.below(z.sub),
        5 => z.section * rng.range(1, 3) + rng.below(z.section),
        6 => z.block * rng.range(2, 4) + rng.below(z.block),
        _ => rng.below(z.sub * 4),
    }
}

/// A RAM range length: possibly empty after rounding inward, a few pages, below a
/// sub-section, several sub-sections, about a section, several sections.
fn ram_len(rng: &mut Rng, z: Sizes) -> u64 {
    match rng.below(8) {
        0 => rng.range(1, 2 * z.page),
        1 => z.page * rng.range(1, 16) + rng.below(z.page),
        2 => rng.range(z.page, z.sub),
        3 => z.sub * rng.range(1, 8) + rng.below(z.sub),
        4 => rng.range(z.section / 2, z.section * 3 / 2),
        5 => z.section * rng.range(1, 4) + rng.below(z.section),
        _ => rng.range(1, 64 * MIB),
    }
}

fn gen_case(seed: u64) -> Case {
    let mut rng = Rng::new(seed);
    let (preset, cfg) = PRESETS[rng.below(PRESETS.len() as u64) as usize];
    let z = Sizes::of(&cfg);
    let nodes = 1 + rng.below(MAX_CASE_NODES);
    let big_pages = z.page > 4096;
    // Every pfn up to the highest RAM is checked, so keep 4K maps under ~2 GiB except
    // for the occasional tail across 4 GiB; 64K pages afford more.
    let low_limit = if big_pages {
        3 * GIB + GIB / 2
    } else {
        2 * GIB
    };
    let high_tail = rng.chance(1, if big_pages { 2 } else { 6 });

    let mut sorted: Vec<(i32, u64, u64)> = Vec::new();
    let mut nid = rng.below(nodes) as i32;
    let mut pick_nid = |rng: &mut Rng| {
        if rng.chance(1, 2) {
            nid = rng.below(nodes) as i32;
        }
        nid
    };

    // Rarely, a map whose every range is empty after rounding inward (no RAM at all).
    if rng.chance(1, 40) {
        let mut at = rng.below(GIB);
        for _ in 0..rng.range(1, 4) {
            let start = at + gap_len(&mut rng, z);
            let len = rng.range(1, z.page - start % z.page);
            sorted.push((pick_nid(&mut rng), start, len));
            at = start + len;
        }
        return Case::shuffled(seed, preset, cfg, nodes, sorted, &mut rng);
    }

    // Start: sometimes a range straddling 16 MiB (the x86 DMA/DMA32 boundary),
    // sometimes RAM below 16 MiB only in the first block (a DMA-only block on x86).
    let mut at = match rng.below(8) {
        0..=2 => {
            let start = 16 * MIB - 1 - rng.below(6 * MIB);
            let end = 16 * MIB + 1 + rng.below(48 * MIB);
            sorted.push((pick_nid(&mut rng), start, end - start));
            end
        }
        3 => {
            let start = rng.below(MIB);
            let end = rng.range(start + 1, 16 * MIB + 1);
            sorted.push((pick_nid(&mut rng), start, end - start));
            z.block + rng.below(z.block)
        }
        4 => 0,
        5 => rng.below(4 * z.page),
        6 => rng.below(16 * MIB),
        _ => rng.below(z.block),
    };

    let want = rng.range(1, 14) as usize;
    let mut tries = 0;
    while sorted.len() < want && tries < 40 {
        tries += 1;
        // Sometimes aligned, so that fully populated sub-sections and blocks occur.
        let align = match rng.below(8) {
            0..=3 => 1,
            4 | 5 => z.page,
            6 => z.sub,
            _ => z.section,
        };
        let start = (at + gap_len(&mut rng, z)).next_multiple_of(align);
        let len = ram_len(&mut rng, z).next_multiple_of(align);
        if start + len > low_limit {
            continue;
        }
        sorted.push((pick_nid(&mut rng), start, len));
        at = start + len;
    }

    if high_tail {
        // A range across 4 GiB (DMA32/Normal), then a few more above it.
        let t = 4 * GIB;
        let start = (t - 1 - rng.below(300 * MIB)).max(at);
        let len = t + 1 + rng.below(300 * MIB) - start;
        sorted.push((pick_nid(&mut rng), start, len));
        at = start + len;
        for _ in 0..rng.below(4) {
            let start = at + gap_len(&mut rng, z);
            let len = ram_len(&mut rng, z);
            sorted.push((pick_nid(&mut rng), start, len));
            at = start + len;
        }
    }

    Case::shuffled(seed, preset, cfg, nodes, sorted, &mut rng)
}

// ---------------------------------------------------------------------------------
// Reference model, from the spec

/// Expected block, docs/semantics.md, "Boot memory" and "Explicit mixed-node blocks".
#[derive(Clone, Copy, Debug)]
struct ExpBlock {
    present: u64,
    nid: i32,
    zone: Zone,
    flags: BlockFlags,
}

/// Expected zone span of one (node, zone).
#[derive(Clone, Copy, Debug)]
struct ExpSpan {
    start: u64,
    end: u64,
    present: u64,
}

struct Model {
    page_size: u64,
    pages_per_section: u64,
    pages_per_block: u64,
    subs_per_section: u64,
    /// One past the highest pfn the geometry addresses.
    pfn_limit: u64,
    /// Pfns `0..npages` are compared one by one (a whole number of blocks, at least
    /// one section past the highest RAM pfn).
    npages: u64,
    dma_end: u64,
    dma32_end: u64,
    /// Per page: -1 for a hole, else the node of its RAM.
    page: Vec<i8>,
    /// Per section: holds a RAM page (so it is early).
    sec_ram: Vec<bool>,
    /// Per section: the first pfn of the first early section at or after it.
    next_early: Vec<Option<u64>>,
    /// Per sub-section: holds a RAM page (so it is active).
    sub_ram: Vec<bool>,
    /// Per block id `0..npages / pages_per_block`.
    blocks: Vec<Option<ExpBlock>>,
    /// `[nid][Dma, Dma32, Normal]`.
    spans: Vec<[Option<ExpSpan>; 3]>,
}

const KERNEL_ZONES: [Zone; 3] = [Zone::Dma, Zone::Dma32, Zone::Normal];

impl Model {
    fn new(case: &Case) -> Self {
        let cfg = &case.cfg;
        let page_size = 1u64 << cfg.page_shift;
        let pages_per_sub = 1u64 << (cfg.subsection_shift - cfg.page_shift);
        let pages_per_section = 1u64 << (cfg.section_shift - cfg.page_shift);
        let pages_per_block = cfg.block_size / page_size;
        let subs_per_section = pages_per_section / pages_per_sub;
        let pfn_limit = 1u64 << (cfg.max_phys_bits - cfg.page_shift);

        // Round inward to whole pages; an empty result is ignored.
        let pfn_ranges: Vec<(i32, u64, u64)> = case
            .ranges
            .iter()
            .map(|&(nid, start, size)| (nid, start.div_ceil(page_size), (start + size) / page_size))
            .filter(|&(_, s, e)| s < e)
            .collect();
        let top = pfn_ranges.iter().map(|r| r.2).max().unwrap_or(0);
        // One whole section past the section of the highest RAM pfn, in whole blocks.
        let last_sec = top.saturating_sub(1) / pages_per_section;
        let npages = ((last_sec + 2) * pages_per_section).next_multiple_of(pages_per_block);

        let mut page = vec![-1i8; npages as usize];
        for &(nid, s, e) in &pfn_ranges {
            for p in &mut page[s as usize..e as usize] {
                assert_eq!(*p, -1, "generator produced overlapping ranges");
                *p = nid as i8;
            }
        }
        let nsec = (npages / pages_per_section) as usize;
        let mut sec_ram = vec![false; nsec];
        let mut sub_ram = vec![false; (npages / pages_per_sub) as usize];
        for (p, &r) in page.iter().enumerate() {
            if r >= 0 {
                sec_ram[p / pages_per_section as usize] = true;
                sub_ram[p / pages_per_sub as usize] = true;
            }
        }
        let mut next_early = vec![None; nsec + 1];
        for s in (0..nsec).rev() {
            next_early[s] = if sec_ram[s] {
                Some(s as u64 * pages_per_section)
            } else {
                next_early[s + 1]
            };
        }

        let mut m = Model {
            page_size,
            pages_per_section,
            pages_per_block,
            subs_per_section,
            pfn_limit,
            npages,
            dma_end: cfg.zone_dma_end / page_size,
            dma32_end: cfg.zone_dma32_end / page_size,
            page,
            sec_ram,
            next_early,
            sub_ram,
            blocks: Vec::new(),
            spans: vec![[None; 3]; MAX_CASE_NODES as usize],
        };

        // Blocks: RAM page count, nodes and zones of their RAM pages.
        let nblocks = (npages / pages_per_block) as usize;
        for b in 0..nblocks {
            let (mut present, mut nids, mut zones) = (0u64, 0u32, 0u32);
            let first = b as u64 * pages_per_block;
            for p in first..first + pages_per_block {
                let r = m.page[p as usize];
                if r >= 0 {
                    present += 1;
                    nids |= 1 << r;
                    zones |= 1 << (m.zone_of(p) as u8);
                }
            }
            if present == 0 {
                m.blocks.push(None);
                continue;
            }
            let mixed_nodes = nids.count_ones() > 1;
            let mixed_zones = zones.count_ones() > 1;
            let nid = if mixed_nodes {
                NID_MIXED
            } else {
                nids.trailing_zeros() as i32
            };
            let zone = if mixed_nodes || mixed_zones {
                Zone::None
            } else {
                Zone::from_u8(zones.trailing_zeros() as u8).unwrap()
            };
            let holes = present < pages_per_block;
            let mut flags = BlockFlags::EARLY;
            flags.set(BlockFlags::HOLES, holes);
            flags.set(BlockFlags::MIXED_ZONES, mixed_zones);
            flags.set(BlockFlags::MIXED_NODES, mixed_nodes);
            // docs/semantics.md, "Memory blocks" (OFFLINABLE): an offline would pass every check (online, zone not NONE, no
            // holes, no device sub-sections).
            flags.set(BlockFlags::OFFLINABLE, zone != Zone::None && !holes);
            m.blocks.push(Some(ExpBlock {
                present,
                nid,
                zone,
                flags,
            }));
        }

        // Zone spans: lowest to one past the highest RAM pfn of (node, zone).
        for p in 0..npages {
            let r = m.page[p as usize];
            if r < 0 {
                continue;
            }
            let zi = KERNEL_ZONES
                .iter()
                .position(|&z| z == m.zone_of(p))
                .unwrap();
            let slot = &mut m.spans[r as usize][zi];
            let s = slot.get_or_insert(ExpSpan {
                start: p,
                end: p + 1,
                present: 0,
            });
            s.start = s.start.min(p);
            s.end = s.end.max(p + 1);
            s.present += 1;
        }
        m
    }

    /// The zone of a page by address (docs/semantics.md, "Zones and zone spans").
    fn zone_of(&self, p: u64) -> Zone {
        if self.dma_end != 0 && p < self.dma_end {
            Zone::Dma
        } else if self.dma32_end != 0 && p < self.dma32_end {
            Zone::Dma32
        } else {
            Zone::Normal
        }
    }

    /// RAM pages in total (all of them lie below `npages`).
    fn ram_pages(&self) -> u64 {
        self.page.iter().filter(|&&r| r >= 0).count() as u64
    }

    /// The early-section flags of boot (docs/semantics.md, "Sections and sub-sections").
    fn early_flags() -> SectionFlags {
        SectionFlags::PRESENT | SectionFlags::VALID | SectionFlags::ONLINE | SectionFlags::EARLY
    }

    /// The full expected `pfn_info` of pfn `p < npages`.
    fn pfn_info(&self, p: u64) -> Result<PfnInfo, Error> {
        let s = (p / self.pages_per_section) as usize;
        if !self.sec_ram[s] {
            return Err(Error::NoEnt);
        }
        let b = p / self.pages_per_block;
        let blk = self.blocks[b as usize].expect("a present section lies in a block with RAM");
        let ram = self.page[p as usize] >= 0;
        Ok(PfnInfo {
            section_nr: SectionNr(s as u64),
            block_id: BlockId(b),
            section_flags: Self::early_flags(),
            nid: blk.nid,
            kind: if ram { PfnKind::Ram } else { PfnKind::Hole },
            zone: if ram { self.zone_of(p) } else { Zone::None },
            block_state: Some(BlockState::Online),
            valid: true,
            online: ram,
        })
    }
}

// ---------------------------------------------------------------------------------
// The comparison

/// Runs one case; returns the number of pfns compared one by one.
fn check_case(case: &Case) -> u64 {
    let ctx = case.describe();
    let map = SparseMap::new_boxed(&case.cfg).unwrap();
    for &(nid, start, size) in &case.ranges {
        assert_eq!(
            map.boot_add_ram(nid, start, size),
            Ok(()),
            "{ctx}\nboot_add_ram({nid}, {start:#x}, {size:#x})"
        );
    }
    assert_eq!(map.boot_finish(), Ok(()), "{ctx}\nboot_finish");
    let m = Model::new(case);

    check_pfns(&map, &m, &ctx);
    check_beyond(&map, &m, &ctx);
    check_sections(&map, &m, &ctx);
    check_blocks(&map, &m, &ctx);
    check_zone_spans(&map, &m, &ctx);
    m.npages
}

/// Every pfn in `0..npages`: pfn_valid, pfn_online, pfn_info, next_valid_pfn.
fn check_pfns(map: &SparseMap, m: &Model, ctx: &str) {
    for p in 0..m.npages {
        let pfn = Pfn(p);
        let s = (p / m.pages_per_section) as usize;
        let early = m.sec_ram[s];
        let ram = m.page[p as usize] >= 0;
        // 3.2: an early section is valid in full, holes included.
        assert_eq!(map.pfn_valid(pfn), early, "{ctx}\npfn_valid({p:#x})");
        // docs/semantics.md, "Page-precise online answer": every boot block is online.
        assert_eq!(map.pfn_online(pfn), ram, "{ctx}\npfn_online({p:#x})");
        let want = m.pfn_info(p);
        let got = map.pfn_info(pfn);
        assert_eq!(
            got.map(|i| i.kind),
            want.map(|i| i.kind),
            "{ctx}\npfn_info({p:#x}).kind"
        );
        assert_eq!(got, want, "{ctx}\npfn_info({p:#x})");
        let next = if early { Some(p) } else { m.next_early[s + 1] };
        assert_eq!(
            map.next_valid_pfn(pfn),
            next.map(Pfn),
            "{ctx}\nnext_valid_pfn({p:#x})"
        );
    }
}

/// Pfns past the compared range and beyond `max_phys_bits`: nothing is valid there,
/// and a pfn with bits above `max_phys_bits` never aliases a valid one.
fn check_beyond(map: &SparseMap, m: &Model, ctx: &str) {
    let far = [
        m.npages,
        m.npages + 1,
        m.npages + 7 * m.pages_per_section + 3,
        m.npages + 128 * m.pages_per_section,
        m.npages + 1000 * m.pages_per_section + 12345,
        (m.npages + 1).next_power_of_two() << 8,
        m.pfn_limit / 2,
        m.pfn_limit - 1,
    ];
    for p in far {
        assert!(p < m.pfn_limit);
        assert!(!map.pfn_valid(Pfn(p)), "{ctx}\npfn_valid({p:#x}) far");
        assert!(!map.pfn_online(Pfn(p)), "{ctx}\npfn_online({p:#x}) far");
        assert_eq!(
            map.pfn_info(Pfn(p)),
            Err(Error::NoEnt),
            "{ctx}\npfn_info({p:#x}) far"
        );
        assert_eq!(
            map.next_valid_pfn(Pfn(p)),
            None,
            "{ctx}\nnext_valid_pfn({p:#x}) far"
        );
    }
    // Beyond max_phys_bits, including aliases of the lowest valid pfn.
    let first_valid = m.next_early[0].unwrap_or(0);
    let beyond = [
        m.pfn_limit,
        m.pfn_limit + 1,
        m.pfn_limit + first_valid,
        m.pfn_limit * 2 + first_valid,
        (1 << 63) | first_valid,
        (1 << 52) | first_valid,
        u64::MAX,
    ];
    for p in beyond {
        assert!(!map.pfn_valid(Pfn(p)), "{ctx}\npfn_valid({p:#x}) beyond");
        assert!(!map.pfn_online(Pfn(p)), "{ctx}\npfn_online({p:#x}) beyond");
        assert_eq!(
            map.pfn_info(Pfn(p)),
            Err(Error::NoEnt),
            "{ctx}\npfn_info({p:#x}) beyond"
        );
        assert_eq!(
            map.next_valid_pfn(Pfn(p)),
            None,
            "{ctx}\nnext_valid_pfn({p:#x}) beyond"
        );
    }
}

/// Every section in range: early with the sub-sections that hold RAM active (3.1:
/// partial sub-sections round outward, RAM-free ones stay inactive), or absent.
fn check_sections(map: &SparseMap, m: &Model, ctx: &str) {
    let nsec = m.npages / m.pages_per_section;
    for s in 0..nsec + 3 {
        let got = map.section_info(SectionNr(s));
        if !m.sec_ram.get(s as usize).copied().unwrap_or(false) {
            assert_eq!(
                got.map(|i| i.nr),
                Err(Error::NoEnt),
                "{ctx}\nsection_info({s})"
            );
            continue;
        }
        let info = got.unwrap_or_else(|e| panic!("{ctx}\nsection_info({s}): {e:?}"));
        let mut active = [0u64; SUBSECTION_WORDS];
        for i in 0..m.subs_per_section {
            if m.sub_ram[(s * m.subs_per_section + i) as usize] {
                active[(i / 64) as usize] |= 1 << (i % 64);
            }
        }
        assert_eq!(info.nr, SectionNr(s), "{ctx}\nsection_info({s}).nr");
        assert_eq!(
            info.flags,
            Model::early_flags(),
            "{ctx}\nsection_info({s}).flags"
        );
        assert_eq!(
            u64::from(info.nr_subsections),
            m.subs_per_section,
            "{ctx}\nsection_info({s}).nr_subsections"
        );
        assert_eq!(info.active, active, "{ctx}\nsection_info({s}).active");
        assert_eq!(
            info.device, [0; SUBSECTION_WORDS],
            "{ctx}\nsection_info({s}).device"
        );
    }
}

/// Every block id in range plus a few beyond, and the `blocks()` walk.
fn check_blocks(map: &SparseMap, m: &Model, ctx: &str) {
    let block_size = m.pages_per_block * m.page_size;
    let mut expected_ids = Vec::new();
    let nblocks = m.blocks.len() as u64;
    for id in 0..nblocks + 3 {
        let got = map.block_info(BlockId(id));
        let Some(want) = m.blocks.get(id as usize).copied().flatten() else {
            assert_eq!(
                got.map(|b| b.id),
                Err(Error::NoEnt),
                "{ctx}\nblock_info({id}) of a block without RAM"
            );
            assert!(
                map.valid_zones(BlockId(id)).is_err(),
                "{ctx}\nvalid_zones({id}) of a block without RAM"
            );
            continue;
        };
        expected_ids.push(id);
        let b = got.unwrap_or_else(|e| panic!("{ctx}\nblock_info({id}): {e:?}"));
        let what = format!("{ctx}\nblock_info({id}) = {b:?}\nexpected {want:?}");
        assert_eq!(b.id, BlockId(id), "{what}: id");
        assert_eq!(b.start.0, id * block_size, "{what}: start");
        assert_eq!(b.size, block_size, "{what}: size");
        assert_eq!(b.state, BlockState::Online, "{what}: state");
        assert!(b.flags.contains(BlockFlags::EARLY), "{what}: EARLY");
        assert_eq!(
            b.flags.contains(BlockFlags::HOLES),
            want.present < m.pages_per_block,
            "{what}: HOLES"
        );
        assert_eq!(b.present_pages, want.present, "{what}: present_pages");
        assert_eq!(b.nid, want.nid, "{what}: nid");
        assert_eq!(b.zone, want.zone, "{what}: zone");
        assert_eq!(b.flags, want.flags, "{what}: flags");
        assert_eq!(b.default_zone, Zone::None, "{what}: default_zone");
        let text = if want.zone == Zone::None {
            "none"
        } else {
            want.zone.name()
        };
        assert_eq!(
            b.valid_zones_text().to_string(),
            text,
            "{what}: valid_zones_text"
        );
        assert_eq!(
            map.valid_zones(BlockId(id)).map(|v| v.to_string()),
            Ok(text.to_string()),
            "{what}: valid_zones"
        );
    }
    let far = [
        nblocks + 100,
        nblocks * 1000 + 7,
        (m.pfn_limit / m.pages_per_block) - 1,
        m.pfn_limit / m.pages_per_block,
        u64::MAX,
    ];
    for id in far {
        assert_eq!(
            map.block_info(BlockId(id)).map(|b| b.id),
            Err(Error::NoEnt),
            "{ctx}\nblock_info({id}) far"
        );
    }
    let walked: Vec<u64> = map.blocks().map(|b| b.id.0).collect();
    assert_eq!(walked, expected_ids, "{ctx}\nblocks() ids");
    let present: u64 = map.blocks().map(|b| b.present_pages).sum();
    assert_eq!(present, m.ram_pages(), "{ctx}\nsum of present_pages");
}

/// Per node and zone: `[lowest, highest + 1)` RAM pfn and the RAM page count, or
/// `NoEnt`; Movable and Device are empty after boot.
fn check_zone_spans(map: &SparseMap, m: &Model, ctx: &str) {
    for nid in 0..MAX_CASE_NODES as i32 {
        for (zi, &zone) in KERNEL_ZONES.iter().enumerate() {
            let got = map
                .zone_span(nid, zone)
                .map(|s| (s.start.0, s.end.0, s.present_pages));
            let want = match m.spans[nid as usize][zi] {
                Some(s) => Ok((s.start, s.end, s.present)),
                None => Err(Error::NoEnt),
            };
            assert_eq!(got, want, "{ctx}\nzone_span({nid}, {zone:?})");
        }
        for zone in [Zone::Movable, Zone::Device] {
            assert_eq!(
                map.zone_span(nid, zone).map(|s| s.start),
                Err(Error::NoEnt),
                "{ctx}\nzone_span({nid}, {zone:?})"
            );
        }
    }
}

#[test]
fn boot_map_matches_per_page_model() {
    let base = env_u64("SPARSEMEM_SEED").unwrap_or(DEFAULT_SEED);
    let cases = env_u64("SPARSEMEM_CASES").unwrap_or(DEFAULT_CASES);
    eprintln!("boot_model: SPARSEMEM_SEED={base:#x} SPARSEMEM_CASES={cases}");
    let t0 = std::time::Instant::now();
    let mut pfns = 0u64;
    for i in 0..cases {
        let case = gen_case(case_seed(base, i));
        let t = std::time::Instant::now();
        let npages = check_case(&case);
        pfns += npages;
        eprintln!(
            "case {i}: seed {:#x} {} nodes {} ranges {} pfns {npages} in {:?}",
            case.seed,
            case.preset,
            case.nodes,
            case.ranges.len(),
            t.elapsed()
        );
    }
    eprintln!(
        "boot_model: {cases} cases, {pfns} pfns compared, {:?}",
        t0.elapsed()
    );
}
