//! Property test of the boot map (issue 2): random firmware maps (unaligned ranges,
//! holes of every size, 1-4 nodes, the three presets) against a brute-force per-page
//! reference model written from docs/semantics.md: "Boot memory", "Memory blocks",
//! "pfn_valid and pfn_online".
//!
//! Seeds: `SPARSEMEM_SEED` (first seed) and `SPARSEMEM_CASES` (count); a failure
//! prints the seed and the ranges.

use sparsemem::{
    BlockFlags, BlockId, BlockState, Config, Error, Pfn, PfnKind, SparseMap, Zone, NID_MIXED,
};
use sparsemem_testkit::machines::MIB;
use sparsemem_testkit::seeds::Rng;

/// A random firmware map: byte ranges `(nid, start, size)`, non-overlapping, in random
/// order, with gaps from a few bytes to several blocks.
fn random_map(rng: &mut Rng, span: u64, nodes: u64) -> Vec<(i32, u64, u64)> {
    let gaps = [
        1u64,
        0x800,
        0x1000,
        0x3000,
        2 * MIB,
        5 * MIB,
        64 * MIB,
        128 * MIB,
        300 * MIB,
        1024 * MIB,
    ];
    let mut out = Vec::new();
    let g0 = gaps[rng.below(gaps.len() as u64) as usize];
    let mut at = rng.below(3) * g0;
    while at < span && out.len() < 12 {
        let g1 = gaps[rng.below(gaps.len() as u64) as usize];
        let size = 1 + rng.below(3 * g1);
        let nid = rng.below(nodes) as i32;
        if at + size > span {
            break;
        }
        out.push((nid, at, size));
        let g2 = gaps[rng.below(gaps.len() as u64) as usize];
        at += size + g2 * rng.below(3);
    }
    for i in (1..out.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        out.swap(i, j);
    }
    out
}

/// The reference: per page, `None` for a hole or `Some(nid)` for RAM.
struct Model {
    pages: Vec<Option<i32>>,
    /// Per section / per sub-section: holds any RAM page.
    sec_ram: Vec<bool>,
    sub_ram: Vec<bool>,
    g: sparsemem::Geometry,
    cfg: Config,
}

impl Model {
    fn new(cfg: Config, ranges: &[(i32, u64, u64)], npages: u64) -> Self {
        let g = cfg.validate().unwrap();
        let ps = g.page_size();
        let mut pages = vec![None; npages as usize];
        for &(nid, start, size) in ranges {
            let first = start.div_ceil(ps);
            let last = (start + size) / ps;
            for p in first..last {
                pages[p as usize] = Some(nid);
            }
        }
        let (pps, sub) = (g.pages_per_section(), g.pages_per_subsection());
        let mut sec_ram = vec![false; (npages / pps + 1) as usize];
        let mut sub_ram = vec![false; (npages / sub + 1) as usize];
        for (p, r) in pages.iter().enumerate() {
            if r.is_some() {
                sec_ram[p / pps as usize] = true;
                sub_ram[p / sub as usize] = true;
            }
        }
        Model {
            pages,
            sec_ram,
            sub_ram,
            g,
            cfg,
        }
    }
    fn ram(&self, p: u64) -> Option<i32> {
        self.pages.get(p as usize).copied().flatten()
    }
    fn subsection_has_ram(&self, p: u64) -> bool {
        self.sub_ram
            .get((p / self.g.pages_per_subsection()) as usize)
            .copied()
            .unwrap_or(false)
    }
    /// Early sections are valid in full (holes included).
    fn valid(&self, p: u64) -> bool {
        self.sec_ram
            .get((p / self.g.pages_per_section()) as usize)
            .copied()
            .unwrap_or(false)
    }
    fn zone(&self, p: u64) -> Zone {
        let ps = self.g.page_size();
        let (dma, dma32) = (self.cfg.zone_dma_end / ps, self.cfg.zone_dma32_end / ps);
        if dma != 0 && p < dma {
            Zone::Dma
        } else if dma32 != 0 && p < dma32 {
            Zone::Dma32
        } else {
            Zone::Normal
        }
    }
}

fn check_case(seed: u64) {
    let mut rng = Rng::new(seed);
    let cfg = [Config::x86_64(), Config::arm64_4k(), Config::arm64_64k()][rng.below(3) as usize];
    let nodes = 1 + rng.below(4);
    // A span around 4 GiB sometimes, so maps cross the DMA32 boundary.
    let (base, span) = if rng.below(3) == 0 {
        (3 << 30, 2 << 30)
    } else {
        (0, 1536 * MIB)
    };
    let ranges: Vec<_> = random_map(&mut rng, span, nodes)
        .into_iter()
        .map(|(n, s, z)| (n, s + base, z))
        .collect();
    let ctx = format!("seed {seed}, {cfg:?}, ranges {ranges:x?}");
    let map = SparseMap::new_boxed(&cfg).unwrap();
    for &(nid, start, size) in &ranges {
        map.boot_add_ram(nid, start, size)
            .unwrap_or_else(|e| panic!("{ctx}: {e:?}"));
    }
    map.boot_finish().unwrap();
    let g = map.geometry();
    let pps = g.pages_per_section();
    let npages = ((base + span) >> g.page_shift()) / pps * pps + 2 * pps;
    let m = Model::new(cfg, &ranges, npages);

    // Every answer is constant between breakpoints (range ends, sub-section
    // boundaries), so checking each breakpoint, its neighbours and a point inside each
    // interval checks every pfn; next_valid_pfn comes from a backward scan of the model.
    let sub = g.pages_per_subsection();
    let ps = g.page_size();
    let mut points: Vec<u64> = Vec::new();
    let mut breaks: Vec<u64> = (0..=npages / sub).map(|k| k * sub).collect();
    for &(_, start, size) in &ranges {
        breaks.push(start.div_ceil(ps));
        breaks.push((start + size) / ps);
    }
    breaks.sort();
    breaks.dedup();
    for w in breaks.windows(2) {
        for p in [
            w[0].saturating_sub(1),
            w[0],
            w[0] + 1,
            (w[0] + w[1]) / 2,
            w[1].saturating_sub(1),
        ] {
            if p < npages {
                points.push(p);
            }
        }
    }
    points.sort();
    points.dedup();
    let mut next_of = vec![None; npages as usize + 1];
    for p in (0..npages).rev() {
        next_of[p as usize] = if m.valid(p) {
            Some(p)
        } else {
            next_of[p as usize + 1]
        };
    }
    for &p in &points {
        let next_valid = next_of[p as usize];
        let pfn = Pfn(p);
        assert_eq!(map.pfn_valid(pfn), m.valid(p), "{ctx}: pfn_valid({p:#x})");
        assert_eq!(
            map.pfn_online(pfn),
            m.ram(p).is_some(),
            "{ctx}: pfn_online({p:#x})"
        );
        let kind = map.pfn_info(pfn).map(|i| i.kind);
        let want = if !m.valid(p) {
            Err(Error::NoEnt)
        } else if m.ram(p).is_some() {
            Ok(PfnKind::Ram)
        } else {
            Ok(PfnKind::Hole)
        };
        assert_eq!(kind, want, "{ctx}: pfn_info({p:#x}).kind");
        assert_eq!(
            map.next_valid_pfn(pfn),
            next_valid.map(Pfn),
            "{ctx}: next_valid_pfn({p:#x})"
        );
        if m.valid(p) && p % sub == 0 {
            let info = map.section_info(g.section_of(pfn)).unwrap();
            let idx = g.subsection_index(pfn);
            let bit = info.active[(idx / 64) as usize] >> (idx % 64) & 1 == 1;
            assert_eq!(
                bit,
                m.subsection_has_ram(p),
                "{ctx}: active bit of {p:#x} (outward rounding)"
            );
        }
    }
    assert_eq!(map.next_valid_pfn(Pfn(npages)), None, "{ctx}");
    assert_eq!(map.next_valid_pfn(Pfn(u64::MAX)), None, "{ctx}");

    // Every block by the rules of docs/semantics.md, "Boot memory".
    let ppb = g.pages_per_block();
    let mut want_ids = Vec::new();
    for id in 0..npages / ppb + 1 {
        let pages: Vec<(u64, i32)> = (id * ppb..(id + 1) * ppb)
            .filter_map(|p| m.ram(p).map(|n| (p, n)))
            .collect();
        let got = map.block_info(BlockId(id));
        if pages.is_empty() {
            assert_eq!(
                got.err(),
                Some(Error::NoEnt),
                "{ctx}: memory{id} must not exist"
            );
            continue;
        }
        want_ids.push(id);
        let b = got.unwrap_or_else(|e| panic!("{ctx}: memory{id}: {e:?}"));
        let mut nids: Vec<i32> = pages.iter().map(|x| x.1).collect();
        nids.dedup();
        nids.sort();
        nids.dedup();
        let mut zones: Vec<Zone> = pages.iter().map(|x| m.zone(x.0)).collect();
        zones.sort();
        zones.dedup();
        let mixed_nodes = nids.len() > 1;
        let zone = if zones.len() == 1 && !mixed_nodes {
            zones[0]
        } else {
            Zone::None
        };
        assert_eq!(b.state, BlockState::Online, "{ctx}: memory{id}");
        assert_eq!(
            b.nid,
            if mixed_nodes { NID_MIXED } else { nids[0] },
            "{ctx}: memory{id} nid"
        );
        assert_eq!(b.zone, zone, "{ctx}: memory{id} zone");
        assert_eq!(
            b.present_pages,
            pages.len() as u64,
            "{ctx}: memory{id} present pages"
        );
        assert_eq!(
            b.flags.contains(BlockFlags::HOLES),
            (pages.len() as u64) < ppb,
            "{ctx}: memory{id} HOLES"
        );
        assert_eq!(
            b.flags.contains(BlockFlags::MIXED_NODES),
            mixed_nodes,
            "{ctx}: memory{id}"
        );
        assert_eq!(
            b.flags.contains(BlockFlags::MIXED_ZONES),
            zones.len() > 1,
            "{ctx}: memory{id}"
        );
        assert!(b.flags.contains(BlockFlags::EARLY));
        assert_eq!(b.default_zone, Zone::None);
        let text = map.valid_zones(BlockId(id)).unwrap().to_string();
        assert_eq!(
            text,
            if zone == Zone::None {
                "none"
            } else {
                zone.name()
            },
            "{ctx}: memory{id} valid_zones"
        );
    }
    assert_eq!(
        map.blocks().map(|b| b.id.0).collect::<Vec<_>>(),
        want_ids,
        "{ctx}: block ids in order"
    );

    // Zone spans per node: lowest to one past the highest RAM pfn, present = count.
    let mut spans = std::collections::BTreeMap::new();
    for p in 0..npages {
        if let Some(nid) = m.ram(p) {
            let e = spans.entry((nid, m.zone(p))).or_insert((p, p + 1, 0u64));
            e.1 = p + 1;
            e.2 += 1;
        }
    }
    for nid in 0..4 {
        for zone in [Zone::Dma, Zone::Dma32, Zone::Normal] {
            let got = map
                .zone_span(nid, zone)
                .map(|s| (s.start.0, s.end.0, s.present_pages));
            let want = spans.get(&(nid, zone)).copied().ok_or(Error::NoEnt);
            assert_eq!(got, want, "{ctx}: zone_span({nid}, {zone})");
        }
    }
}

#[test]
#[cfg_attr(miri, ignore = "brute force over every page")]
fn random_boot_maps_match_the_per_page_reference() {
    let first: u64 = std::env::var("SPARSEMEM_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let cases: u64 = std::env::var("SPARSEMEM_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(24);
    for seed in first..first + cases {
        check_case(seed);
    }
}

#[test]
fn the_generator_makes_varied_maps() {
    // Guard against a generator that makes trivial maps (and so a test that checks
    // nothing): across seeds, ranges must be many, unaligned, and multi-node.
    let (mut ranges, mut unaligned, mut multi) = (0, 0, 0);
    for seed in 1..=24u64 {
        let mut rng = Rng::new(seed);
        let map = random_map(&mut rng, 1536 * MIB, 3);
        ranges += map.len();
        unaligned += map
            .iter()
            .filter(|r| r.1 % 4096 != 0 || r.2 % 4096 != 0)
            .count();
        multi += usize::from(map.iter().any(|r| r.0 != map[0].0));
    }
    assert!(
        ranges > 24 * 3 && unaligned > 10 && multi > 10,
        "{ranges} {unaligned} {multi}"
    );
}
