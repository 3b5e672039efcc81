//! Boot scenarios T1-T8 of docs/semantics.md ("Scenarios"), the boot part of T20, and the
//! 1 GiB two-node machine as Linux 6.1 reports it.

use sparsemem::{
    AutoOnline, BlockFlags, BlockId, BlockState, Config, Error, Pfn, PfnKind, Phase, SectionFlags,
    SectionNr, SparseMap, Zone, NID_MIXED,
};

const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;
/// Pages per x86-64 sub-section and section.
const SUB: u64 = 512;
const SEC: u64 = 32768;

fn s(k: u64) -> u64 {
    k * SEC
}

fn x86() -> Box<SparseMap> {
    SparseMap::new_boxed(&Config::x86_64()).unwrap()
}

fn vz(map: &SparseMap, id: u64) -> String {
    map.valid_zones(BlockId(id)).unwrap().to_string()
}

/// The machine of T3 / the issue: 1 GiB, RAM [0x1000,0x9fc00) and [1 MiB,0x3ffdf000),
/// nodes 0/1 split at 512 MiB.
fn one_gib_two_nodes() -> Box<SparseMap> {
    let map = x86();
    map.boot_add_ram(0, 0x1000, 0x9fc00 - 0x1000).unwrap();
    map.boot_add_ram(0, 0x10_0000, 512 * MIB - 0x10_0000)
        .unwrap();
    map.boot_add_ram(1, 512 * MIB, 0x3ffd_f000 - 512 * MIB)
        .unwrap();
    map.boot_finish().unwrap();
    map
}

#[test]
fn t1_subsection_index_and_outward_rounding() {
    let map = x86();
    // RAM from the middle of sub-section 0 for one sub-section's worth: touches 0 and 1.
    map.boot_add_ram(0, (s(3) + SUB / 2) << 12, SUB << 12)
        .unwrap();
    map.boot_finish().unwrap();
    assert_eq!(map.geometry().subsection_index(Pfn(s(3) + 5 * SUB + 17)), 5);
    let info = map.section_info(SectionNr(3)).unwrap();
    assert_eq!(info.active, [0b11, 0, 0, 0]);
    assert_eq!(info.device, [0; 4]);
    assert_eq!(info.nr_subsections, 64);
}

#[test]
fn t2_pfn_valid_rejects_out_of_range_pfns_without_table_access() {
    let map = one_gib_two_nodes();
    assert!(map.pfn_valid(Pfn(0x100)));
    // Upper bits set: pfn << 12 overflows.
    assert!(!map.pfn_valid(Pfn(u64::MAX)));
    assert!(!map.pfn_valid(Pfn(1 << 60)));
    // Section >= NR_MEM_SECTIONS (2^19 with 46 bits).
    let limit = 1u64 << (46 - 12);
    assert!(!map.pfn_valid(Pfn(limit)));
    assert!(!map.pfn_online(Pfn(limit)));
    assert_eq!(map.pfn_info(Pfn(limit)), Err(Error::NoEnt));
    assert_eq!(map.next_valid_pfn(Pfn(limit)), None);
    assert_eq!(map.section_info(SectionNr(1 << 19)), Err(Error::NoEnt));
    assert_eq!(map.block_info(BlockId(u64::MAX)), Err(Error::NoEnt));
}

#[test]
fn t3_boot_blocks_of_a_two_node_machine() {
    let map = one_gib_two_nodes();
    let blocks: Vec<_> = map.blocks().collect();
    assert_eq!(
        blocks.iter().map(|b| b.id.0).collect::<Vec<_>>(),
        (0..8).collect::<Vec<_>>()
    );
    for b in &blocks {
        assert_eq!(b.state, BlockState::Online, "memory{}", b.id.0);
        assert!(b.flags.contains(BlockFlags::EARLY));
        assert_eq!(
            b.nid,
            if b.id.0 < 4 { 0 } else { 1 },
            "nodes split at block 4"
        );
        assert_eq!(b.size, 128 * MIB);
        assert_eq!(b.default_zone, Zone::None);
    }
    // memory0: DMA + DMA32, so no zone and "none".
    assert_eq!(blocks[0].zone, Zone::None);
    assert_eq!(vz(&map, 0), "none");
    assert!(blocks[0]
        .flags
        .contains(BlockFlags::MIXED_ZONES | BlockFlags::HOLES));
    assert!(!blocks[0].flags.contains(BlockFlags::OFFLINABLE));
    for id in 1..8 {
        assert_eq!(blocks[id as usize].zone, Zone::Dma32);
        assert_eq!(vz(&map, id), "DMA32");
    }
    for b in &blocks[1..7] {
        assert!(!b.flags.contains(BlockFlags::HOLES), "memory{}", b.id.0);
        assert!(b.flags.contains(BlockFlags::OFFLINABLE), "memory{}", b.id.0);
        assert_eq!(b.present_pages, SEC);
    }
    for nr in 0..8 {
        let f = map.section_info(SectionNr(nr)).unwrap().flags;
        assert_eq!(
            f,
            SectionFlags::EARLY
                | SectionFlags::ONLINE
                | SectionFlags::VALID
                | SectionFlags::PRESENT
        );
    }
    assert_eq!(map.section_info(SectionNr(8)), Err(Error::NoEnt));
    assert_eq!(map.block_info(BlockId(8)), Err(Error::NoEnt));
    // Zone spans: DMA [1, 0x9f) + [0x100, 0x1000) on node 0; DMA32 split by node.
    let dma = map.zone_span(0, Zone::Dma).unwrap();
    assert_eq!(
        (dma.start.0, dma.end.0, dma.present_pages),
        (1, 0x1000, 0x9f - 1 + 0x1000 - 0x100)
    );
    let d32_0 = map.zone_span(0, Zone::Dma32).unwrap();
    assert_eq!(
        (d32_0.start.0, d32_0.end.0, d32_0.present_pages),
        (0x1000, 0x20000, 0x1f000)
    );
    let d32_1 = map.zone_span(1, Zone::Dma32).unwrap();
    assert_eq!(
        (d32_1.start.0, d32_1.end.0, d32_1.present_pages),
        (0x20000, 0x3ffdf, 0x1ffdf)
    );
    assert_eq!(map.zone_span(1, Zone::Dma), Err(Error::NoEnt));
    assert_eq!(map.zone_span(0, Zone::Normal), Err(Error::NoEnt));
    assert_eq!(map.zone_span(0, Zone::None), Err(Error::Inval));
    assert_eq!(map.zone_span(64, Zone::Normal), Err(Error::Inval));
    assert_eq!(map.zone_span(-1, Zone::Normal), Err(Error::Inval));
    let st = map.stats();
    assert_eq!(
        (
            st.blocks,
            st.online_blocks,
            st.present_sections,
            st.online_sections
        ),
        (8, 8, 8, 8)
    );
    let ram = (0x9f - 1) + (0x3ffdf - 0x100);
    assert_eq!(
        (st.ram_pages, st.online_pages, st.device_pages),
        (ram, ram, 0)
    );
}

#[test]
fn t4_trailing_hole_keeps_one_zone_but_is_not_offlinable() {
    let map = one_gib_two_nodes();
    let b7 = map.block_info(BlockId(7)).unwrap();
    assert_eq!(vz(&map, 7), "DMA32");
    assert_eq!(b7.zone, Zone::Dma32);
    assert!(b7.flags.contains(BlockFlags::HOLES));
    assert!(!b7.flags.contains(BlockFlags::OFFLINABLE));
    assert_eq!(b7.present_pages, 0x3ffdf - 0x38000);
    // The hole at the end is valid (early section) but not online.
    assert!(map.pfn_valid(Pfn(0x3ffdf)));
    assert!(!map.pfn_online(Pfn(0x3ffdf)));
    assert!(map.pfn_online(Pfn(0x3ffde)));
    assert_eq!(map.pfn_info(Pfn(0x3ffdf)).unwrap().kind, PfnKind::Hole);
    assert_eq!(map.pfn_info(Pfn(0x3ffde)).unwrap().kind, PfnKind::Ram);
}

#[test]
fn t5_hole_inside_an_early_section() {
    let map = x86();
    // Section 2 with sub-sections 10 and 11 (4 MiB) missing.
    map.boot_add_ram(0, s(2) << 12, (10 * SUB) << 12).unwrap();
    map.boot_add_ram(
        0,
        (s(2) + 12 * SUB) << 12,
        ((SEC - 12 * SUB) << 12) + (SEC << 12),
    )
    .unwrap();
    map.boot_finish().unwrap();
    let info = map.section_info(SectionNr(2)).unwrap();
    assert_eq!(info.active[0], !0b1100_0000_0000u64);
    let hole = Pfn(s(2) + 10 * SUB + 7);
    let ram = Pfn(s(2) + 9 * SUB);
    assert!(map.pfn_valid(hole), "early section: every pfn valid");
    assert!(!map.pfn_online(hole));
    assert!(map.pfn_online(ram));
    let i = map.pfn_info(hole).unwrap();
    assert_eq!(
        (i.kind, i.valid, i.online, i.zone),
        (PfnKind::Hole, true, false, Zone::None)
    );
    let b = map.block_info(BlockId(2)).unwrap();
    assert!(b.flags.contains(BlockFlags::HOLES));
    assert!(!b.flags.contains(BlockFlags::OFFLINABLE));
    assert_eq!(b.present_pages, SEC - 2 * SUB);
    // next_valid_pfn inside an early section is the pfn itself, holes included.
    assert_eq!(map.next_valid_pfn(hole), Some(hole));
    // Block 3 is whole.
    assert!(map
        .block_info(BlockId(3))
        .unwrap()
        .flags
        .contains(BlockFlags::OFFLINABLE));
}

#[test]
fn t6_block_split_between_two_nodes_is_mixed() {
    let map = x86();
    map.boot_add_ram(0, 0, 448 * MIB).unwrap();
    map.boot_add_ram(1, 448 * MIB, 576 * MIB).unwrap();
    map.boot_finish().unwrap();
    let b3 = map.block_info(BlockId(3)).unwrap();
    assert_eq!(b3.nid, NID_MIXED);
    assert_eq!(b3.zone, Zone::None);
    assert!(b3.flags.contains(BlockFlags::MIXED_NODES));
    assert!(!b3
        .flags
        .contains(BlockFlags::MIXED_ZONES | BlockFlags::HOLES | BlockFlags::OFFLINABLE));
    assert_eq!(vz(&map, 3), "none");
    assert_eq!(map.block_info(BlockId(2)).unwrap().nid, 0);
    assert_eq!(map.block_info(BlockId(4)).unwrap().nid, 1);
    // A pfn of the mixed block reports the block's nid, and its own zone when online.
    let i = map.pfn_info(Pfn(((448 * MIB) >> 12) + 1)).unwrap();
    assert_eq!((i.nid, i.zone, i.online), (NID_MIXED, Zone::Dma32, true));
}

#[test]
fn t8_block_size_must_be_a_power_of_two_of_at_least_a_section() {
    for bad in [192 * MIB, 64 * MIB, 0, 3 * GIB, 1 << 47] {
        let cfg = Config {
            block_size: bad,
            ..Config::x86_64()
        };
        assert_eq!(cfg.validate(), Err(Error::Inval), "block size {bad:#x}");
        assert_eq!(SparseMap::new_boxed(&cfg).err(), Some(Error::Inval));
    }
    for good in [128 * MIB, 256 * MIB, 2 * GIB, 1 << 46] {
        assert!(Config {
            block_size: good,
            ..Config::x86_64()
        }
        .validate()
        .is_ok());
    }
}

#[test]
fn t20_boot_part_ram_in_half_a_section() {
    let map = x86();
    map.boot_add_ram(0, s(8) << 12, 64 * MIB).unwrap();
    map.boot_finish().unwrap();
    let info = map.section_info(SectionNr(8)).unwrap();
    assert_eq!(info.active[0], 0xffff_ffff, "bits 0..31");
    assert_eq!(
        info.flags,
        SectionFlags::EARLY | SectionFlags::ONLINE | SectionFlags::VALID | SectionFlags::PRESENT
    );
    // The upper half is valid (early) but neither RAM nor online.
    let upper = Pfn(s(8) + 32 * SUB);
    assert!(map.pfn_valid(upper));
    assert!(!map.pfn_online(upper));
    assert_eq!(map.pfn_info(upper).unwrap().kind, PfnKind::Hole);
    assert!(map
        .block_info(BlockId(8))
        .unwrap()
        .flags
        .contains(BlockFlags::HOLES));
}

#[test]
#[cfg_attr(miri, ignore = "needs 52-bit capacity; the Miri build has 19")]
fn init_validates_every_rule_of_smem_init() {
    let base = Config::x86_64();
    let bad = [
        Config {
            page_shift: 11,
            ..base
        },
        Config {
            page_shift: 17,
            ..base
        },
        Config {
            page_shift: 16,
            subsection_shift: 15,
            ..base
        },
        Config {
            subsection_shift: 28,
            ..base
        },
        Config {
            subsection_shift: 18,
            ..base
        }, // 512 sub-sections > 256
        Config {
            section_shift: 46,
            ..base
        },
        Config {
            max_phys_bits: 53,
            ..base
        },
        Config {
            max_phys_bits: 52,
            section_shift: 26,
            subsection_shift: 21,
            block_size: 64 * MIB,
            ..base
        }, // 26 bits of sections
        Config {
            block_size: 1 << 47,
            ..base
        },
        Config {
            zone_dma_end: 16 * MIB + 1,
            ..base
        },
        Config {
            zone_dma32_end: 4 * GIB - 2048,
            ..base
        },
        Config {
            zone_dma_end: 8 * GIB,
            ..base
        },
    ];
    for cfg in bad {
        assert_eq!(cfg.validate(), Err(Error::Inval), "{cfg:?}");
        // A rejected re-init leaves a map as it was.
        let map = one_gib_two_nodes();
        let before: Vec<_> = map.blocks().collect();
        assert_eq!(map.init(&cfg), Err(Error::Inval));
        assert_eq!(map.blocks().collect::<Vec<_>>(), before);
        assert_eq!(map.phase(), Phase::Running);
    }
    for good in [
        Config::x86_64(),
        Config::arm64_4k(),
        Config::arm64_64k(),
        Config {
            max_phys_bits: 52,
            ..base
        },
        Config {
            subsection_shift: 27,
            ..base
        },
        Config {
            page_shift: 21,
            ..base
        }
        .with_page(12),
        Config {
            zone_dma_end: 0,
            zone_dma32_end: 0,
            ..base
        },
        Config {
            auto_online: AutoOnline::OnlineMovable,
            movable_node: true,
            ..base
        },
    ] {
        assert!(good.validate().is_ok(), "{good:?}");
        let map = SparseMap::new_boxed(&good).unwrap();
        assert_eq!(map.config(), good);
    }
}

trait WithPage {
    fn with_page(self, p: u8) -> Self;
}
impl WithPage for Config {
    fn with_page(mut self, p: u8) -> Self {
        self.page_shift = p;
        self
    }
}

#[test]
#[cfg_attr(miri, ignore = "needs 52-bit capacity; the Miri build has 19")]
fn presets_have_linux_geometry() {
    let g = Config::x86_64().validate().unwrap();
    assert_eq!(
        (
            g.pages_per_section(),
            g.pages_per_subsection(),
            g.subsections_per_section()
        ),
        (32768, 512, 64)
    );
    assert_eq!(g.nr_sections(), 1 << 19);
    let g = Config::arm64_4k().validate().unwrap();
    assert_eq!(
        (
            g.pages_per_section(),
            g.subsections_per_section(),
            g.nr_sections()
        ),
        (32768, 64, 1 << 21)
    );
    let g = Config::arm64_64k().validate().unwrap();
    assert_eq!(
        (
            g.pages_per_section(),
            g.pages_per_subsection(),
            g.subsections_per_section()
        ),
        (8192, 32, 256)
    );
    assert_eq!(
        (g.section_size(), g.block_size(), g.nr_sections()),
        (512 * MIB, 512 * MIB, 1 << 19)
    );
    let g = Config {
        max_phys_bits: 52,
        ..Config::x86_64()
    }
    .validate()
    .unwrap();
    assert_eq!(g.nr_sections(), 1 << 25, "T54: 5-level paging");
}

#[test]
fn t53_arm64_64k_sections_have_256_subsections() {
    let map = SparseMap::new_boxed(&Config::arm64_64k()).unwrap();
    // 2 MiB of RAM at 1 GiB: section 2, sub-section 0 of 256.
    map.boot_add_ram(0, GIB, 2 * MIB).unwrap();
    map.boot_finish().unwrap();
    let info = map.section_info(SectionNr(2)).unwrap();
    assert_eq!((info.nr_subsections, info.active), (256, [1, 0, 0, 0]));
    let b = map.block_info(BlockId(2)).unwrap();
    assert_eq!(
        (b.size, b.present_pages, b.zone),
        (512 * MIB, 32, Zone::Dma32)
    );
    // An address above 4 GiB is Normal, the last sub-section of a section is index 255.
    let map = SparseMap::new_boxed(&Config::arm64_64k()).unwrap();
    map.boot_add_ram(3, 8 * GIB - 2 * MIB, 4 * MIB).unwrap();
    map.boot_finish().unwrap();
    assert_eq!(
        map.section_info(SectionNr(15)).unwrap().active,
        [0, 0, 0, 1 << 63]
    );
    assert_eq!(
        map.section_info(SectionNr(16)).unwrap().active,
        [1, 0, 0, 0]
    );
    assert_eq!(map.block_info(BlockId(16)).unwrap().zone, Zone::Normal);
    assert_eq!(map.block_info(BlockId(15)).unwrap().nid, 3);
}

#[test]
#[cfg_attr(miri, ignore = "needs 52-bit capacity; the Miri build has 19")]
fn t54_the_pfn_limit_follows_max_phys_bits() {
    let above_46 = 1u64 << (46 - 12);
    for (bits, valid) in [(46u8, false), (52, true)] {
        let map = SparseMap::new_boxed(&Config {
            max_phys_bits: bits,
            ..Config::x86_64()
        })
        .unwrap();
        let r = map.boot_add_ram(0, above_46 << 12, 128 * MIB);
        if valid {
            r.unwrap();
        } else {
            assert_eq!(r, Err(Error::TooBig));
        }
        map.boot_finish().unwrap();
        assert_eq!(map.pfn_valid(Pfn(above_46)), valid);
    }
}

#[test]
fn boot_add_ram_errors_change_nothing() {
    let map = x86();
    map.boot_add_ram(0, 0x1000, 64 * MIB).unwrap();
    let cases: [(i32, u64, u64, Error); 8] = [
        (0, 0, 0, Error::Inval),                    // size 0
        (0, u64::MAX, 1, Error::Inval),             // reaches 2^64
        (0, 1, u64::MAX, Error::Inval),             // wraps
        (64, GIB, MIB, Error::Inval),               // nid too large
        (-1, GIB, MIB, Error::Inval),               // negative nid
        (0, (1 << 46) - 4096, 8192, Error::TooBig), // beyond 46 bits
        (1, 32 * MIB, 64 * MIB, Error::Exist),      // overlap
        (1, 0, 0x2001, Error::Exist),               // overlaps after rounding inward
    ];
    for (nid, start, size, err) in cases {
        assert_eq!(
            map.boot_add_ram(nid, start, size),
            Err(err),
            "{nid} {start:#x} {size:#x}"
        );
    }
    // Empty after rounding inward: accepted and ignored.
    map.boot_add_ram(1, 0x800, 0x800).unwrap();
    map.boot_add_ram(1, 64 * MIB + 0x1001, 0xfff).unwrap();
    // Adjacent is fine, in any order.
    map.boot_add_ram(1, 0, 0x1000).unwrap();
    map.boot_add_ram(1, 64 * MIB + 0x1000, MIB).unwrap();
    map.boot_finish().unwrap();
    assert_eq!(
        map.block_info(BlockId(0)).unwrap().present_pages,
        (64 * MIB + MIB + 0x1000) >> 12
    );
    assert_eq!(map.block_info(BlockId(0)).unwrap().nid, NID_MIXED);
    // After boot_finish: both boot calls are refused and change nothing.
    let before: Vec<_> = map.blocks().collect();
    assert_eq!(map.boot_add_ram(0, GIB, MIB), Err(Error::Inval));
    assert_eq!(map.boot_finish(), Err(Error::Inval));
    assert_eq!(map.blocks().collect::<Vec<_>>(), before);
    assert!(!map.pfn_valid(Pfn(GIB >> 12)));
}

#[test]
fn boot_add_ram_ranges_past_the_range_capacity_are_nomem() {
    let map = x86();
    let cap = sparsemem::capacity::MAX_BOOT_RANGES as u64;
    for i in 0..cap {
        map.boot_add_ram(0, i * 2 * MIB, MIB).unwrap();
    }
    assert_eq!(map.boot_add_ram(0, cap * 2 * MIB, MIB), Err(Error::NoMem));
    // Overlap is reported before capacity (EEXIST precedes ENOMEM).
    assert_eq!(map.boot_add_ram(0, 0, MIB), Err(Error::Exist));
    map.boot_finish().unwrap();
    assert_eq!(map.stats().ram_pages, cap * 256);
}

#[test]
fn an_uninitialised_map_is_empty_and_refuses_changes() {
    static MAP: SparseMap = SparseMap::new();
    assert_eq!(MAP.phase(), Phase::Uninit);
    assert!(!MAP.pfn_valid(Pfn(0)));
    assert!(!MAP.pfn_online(Pfn(0)));
    assert_eq!(MAP.next_valid_pfn(Pfn(0)), None);
    assert_eq!(MAP.pfn_info(Pfn(0)), Err(Error::NoEnt));
    assert_eq!(MAP.blocks().count(), 0);
    assert_eq!(MAP.boot_add_ram(0, 0, MIB), Err(Error::Inval));
    assert_eq!(MAP.boot_finish(), Err(Error::Inval));
    // Before boot_finish an initialised map answers as an empty one, too.
    let map = x86();
    map.boot_add_ram(0, 0, GIB).unwrap();
    assert!(!map.pfn_valid(Pfn(0)));
    assert_eq!(map.blocks().count(), 0);
    assert_eq!(map.stats(), sparsemem::Stats::default());
    // A map with no boot RAM at all is fine.
    let empty = x86();
    empty.boot_finish().unwrap();
    assert_eq!(empty.phase(), Phase::Running);
    assert_eq!(empty.blocks().count(), 0);
}

#[test]
#[cfg_attr(miri, ignore = "needs 52-bit capacity; the Miri build has 19")]
fn next_valid_pfn_skips_whole_sections_and_leaves() {
    let map = SparseMap::new_boxed(&Config {
        max_phys_bits: 52,
        ..Config::x86_64()
    })
    .unwrap();
    map.boot_add_ram(0, 0, 64 * MIB).unwrap();
    // Far away in a 52-bit space: another leaf of the table.
    let far = 1u64 << 50;
    map.boot_add_ram(1, far + 6 * MIB, 2 * MIB).unwrap();
    map.boot_finish().unwrap();
    assert_eq!(map.next_valid_pfn(Pfn(5)), Some(Pfn(5)));
    // Early section 0 is valid through its end, holes included.
    assert_eq!(map.next_valid_pfn(Pfn(SEC - 1)), Some(Pfn(SEC - 1)));
    assert_eq!(map.next_valid_pfn(Pfn(SEC)), Some(Pfn(far >> 12)));
    assert!(map.pfn_valid(Pfn(far >> 12)), "early section");
    assert_eq!(map.next_valid_pfn(Pfn((far >> 12) + SEC)), None);
    assert_eq!(map.next_valid_pfn(Pfn(u64::MAX)), None);
}

#[test]
fn section_flags_and_block_nids_never_bleed_across_nodes() {
    // Linux once stored the boot nid over the section flag bits (fixed by "mm/sparse:
    // set SECTION_NID_SHIFT to 6", 5.14): nid >= 2 must never set taint or early bits.
    let map = x86();
    for nid in 0..8 {
        map.boot_add_ram(nid, (nid as u64) * GIB, 512 * MIB)
            .unwrap();
    }
    map.boot_finish().unwrap();
    for nid in 0..8u64 {
        let f = map.section_info(SectionNr(nid * 8)).unwrap().flags;
        assert!(!f.contains(SectionFlags::TAINT_DEVICE));
        assert_eq!(map.block_info(BlockId(nid * 8)).unwrap().nid, nid as i32);
        assert_eq!(map.section_info(SectionNr(nid * 8 + 4)), Err(Error::NoEnt));
    }
}
