//! Tests of the whole tool: golden output of the embedded machine, the command line,
//! exit statuses, sysfs verification on a fixture tree, snapshots.
//!
//! Golden files live in `tools/memmap/tests/data/`; after a deliberate change of the
//! output, `MEMMAP_BLESS=1 cargo test -p sparsemem-memmap` rewrites them. A blessed file
//! proves nothing by itself, so each has a second source: default-lsmem.txt and the
//! story's tables are util-linux lsmem's output on the same maps (tests/lsmem_compat.rs),
//! and the story's numbers are derived by hand (`the_storys_numbers_are_derived_by_hand`).

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};

use super::*;
use crate::cli::{parse, Options, Request, Source};
use crate::lsmem::View;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");

fn data(name: &str) -> PathBuf {
    Path::new(DATA).join(name)
}

/// Compares `actual` with a golden file, or rewrites it under MEMMAP_BLESS.
fn golden(name: &str, actual: &str) {
    let path = data(name);
    if std::env::var_os("MEMMAP_BLESS").is_some() {
        fs::write(&path, actual).unwrap();
        return;
    }
    let expected = fs::read_to_string(&path).unwrap();
    assert!(
        expected == actual,
        "{name} differs (MEMMAP_BLESS=1 rewrites it)\n--- expected\n{expected}\n--- actual\n{actual}"
    );
}

fn args(list: &[&str]) -> Vec<OsString> {
    list.iter().map(OsString::from).collect()
}

/// Runs memmap with string arguments: (stdout, exit status) or the failure.
fn memmap(list: &[&str]) -> Result<(String, u8), Failure> {
    run(&args(list))
}

/// A scratch directory of this test process, emptied first.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("memmap-test-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &target);
        } else {
            fs::copy(e.path(), target).unwrap();
        }
    }
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn lsmem_table_of_the_embedded_machine_is_golden() {
    let map = story::boot().unwrap();
    // Also the output of util-linux lsmem on this machine's tree (tests/lsmem_compat.rs).
    golden("default-lsmem.txt", &story::report(&map));
}

#[test]
fn the_story_is_golden() {
    let (out, code) = memmap(&[]).unwrap();
    assert_eq!(code, 0);
    golden("default-story.txt", &out);
}

/// The golden story's numbers, derived by hand from its firmware map and steps rather
/// than blessed from the tool: each line below must appear in default-story.txt, in
/// this order, spaces collapsed. (Its lsmem tables are also lsmem's own output on the
/// same maps: tests/lsmem_compat.rs.) x86-64: 4 KiB pages, 2 MiB sub-sections,
/// 128 MiB sections and memory blocks, ZONE_DMA below 16 MiB, ZONE_DMA32 below 4 GiB.
#[test]
fn the_storys_numbers_are_derived_by_hand() {
    const MIB: u64 = 1 << 20;
    const GIB: u64 = 1 << 30;
    const PAGE: u64 = 4096;
    const BLOCK: u64 = 128 * MIB;
    const NS: u64 = 16 * MIB; // a pmem namespace: 8 sub-sections of 2 MiB
    let (dimm, pmem, low_ram_end) = (8 * GIB, 10 * GIB, 0xbffd_f000);
    let range = |start: u64, end: u64| format!("{start:#018x}-{:#018x}", end - 1);
    // Boot RAM (usable e820 entries): [4 KiB, 0x9fc00) and [1 MiB, 0xbffdf000) on node
    // 0, [4 GiB, 6 GiB) on node 0, [6 GiB, 8 GiB) on node 1. Block 0 holds DMA and
    // DMA32 pages, so no single zone ("None"); blocks 1-23 end in the last block with
    // RAM below 3 GiB (0xbffdf000 / 128 MiB = 23), all DMA32: 3 GiB - 128 MiB = 2.875
    // GiB, lsmem's "2.9G"; 3-4 GiB holds no RAM; above 4 GiB ZONE_NORMAL.
    // Online: 128 MiB + 2944 MiB + 2 GiB + 2 GiB = 7 GiB.
    let boot = [
        format!("{} 128M online yes 0 0 None", range(0, BLOCK)),
        format!("{} 2.9G online yes 1-23 0 DMA32", range(BLOCK, 3 * GIB)),
        format!("{} 2G online yes 32-47 0 Normal", range(4 * GIB, 6 * GIB)),
        format!("{} 2G online yes 48-63 1 Normal", range(6 * GIB, dimm)),
    ];
    let totals = |online: &str, offline: &str| {
        [
            "Memory block size: 128M".to_string(),
            format!("Total online memory: {online}"),
            format!("Total offline memory: {offline}"),
        ]
    };
    let (first, last) = (dimm / BLOCK, (dimm + GIB) / BLOCK - 1);
    assert_eq!((first, last), (64, 71));
    let section = pmem / BLOCK;
    let section_line =
        format!("section {section}: PRESENT | VALID | TAINT_DEVICE; 64 sub-sections of 2M");
    let masks = |m: u64| [format!("active {m:016x}"), format!("device {m:016x}")];
    // Namespace i is sub-sections 8i..8i+7 of the section.
    let (ns0, all, without_ns3) = (0xffu64, u64::MAX, !(0xffu64 << 24));
    let mut expect: Vec<String> = Vec::new();
    expect.extend(boot.clone());
    expect.extend(totals("7G", "0B"));
    // 1. The DIMM: 1 GiB offline, its default zone Normal first.
    expect.push(format!(
        "add_memory(nid 1, {dimm:#x}, 1G): ok: blocks {first}-{last} exist, offline. Their valid_zones"
    ));
    expect.extend(boot.clone());
    expect.push(format!(
        "{} 1G offline {first}-{last} 1 Normal/Movable",
        range(dimm, dimm + GIB)
    ));
    expect.extend(totals("7G", "1G"));
    // 2. Online movable: ZONE_MOVABLE spans the DIMM's pfns, all present.
    expect.push(format!(
        "online_block(memory{first}..memory{last}, Movable): ok."
    ));
    expect.push(format!(
        "Node 1 ZONE_MOVABLE now spans pfn {:#x}-{:#x} with {} present pages.",
        dimm / PAGE,
        (dimm + GIB) / PAGE,
        GIB / PAGE
    ));
    expect.extend(boot.clone());
    expect.push(format!(
        "{} 1G online yes {first}-{last} 1 Movable",
        range(dimm, dimm + GIB)
    ));
    expect.extend(totals("8G", "0B"));
    // 3. Namespace 0, then all eight, then all but namespace 3.
    for m in [ns0, all, without_ns3] {
        expect.push(section_line.clone());
        expect.extend(masks(m));
    }
    expect.push(format!(
        "pfn {:#x} (namespace 0): valid yes, online no, Device, zone Device, node 1",
        pmem / PAGE
    ));
    expect.push(format!(
        "pfn {:#x} (namespace 3, removed): valid no, online no, Hole, zone none, node -1",
        (pmem + 3 * NS) / PAGE
    ));
    expect.push(format!(
        "pfn {:#x} (boot RAM of node 0): valid yes, online yes, Ram, zone Normal, node 0",
        4 * GIB / PAGE
    ));
    // 4. Block 23 holds RAM up to 0xbffdf000 only; EINVAL.
    let hole_block = low_ram_end / BLOCK;
    expect.push(format!(
        "offline_block(memory{hole_block}): errno -22: invalid argument or state (-22)"
    ));
    expect.push(format!(
        "memory{hole_block} holds {} System RAM pages of {}: firmware reserves its tail from",
        (low_ram_end - hole_block * BLOCK) / PAGE,
        BLOCK / PAGE
    ));
    // 5. Everything removed; ZONE_DEVICE keeps the whole section's span.
    expect.push(format!(
        "offline_block(memory{first}..memory{last}), remove_memory({dimm:#x}, 1G): ok."
    ));
    expect.push(format!(
        "Node 1 ZONE_DEVICE keeps its span pfn {:#x}-{:#x} (Linux never shrinks it).",
        pmem / PAGE,
        (pmem + BLOCK) / PAGE
    ));
    expect.extend(boot);
    expect.extend(totals("7G", "0B"));

    let story = fs::read_to_string(data("default-story.txt")).unwrap();
    let mut lines = story
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "));
    for want in &expect {
        assert!(
            lines.any(|l| l == *want),
            "default-story.txt: no line `{want}` (in this order)"
        );
    }
}

#[test]
fn e820_export_of_the_embedded_machine() {
    let (out, _) = memmap(&["--e820"]).unwrap();
    let lines: Vec<&str> = out.lines().collect();
    // By hand from the story's usable e820 entries: the map holds whole 4 KiB pages, so
    // the first entry's end 0x9fc00 drops its partial page (last byte 0x9efff); the
    // others are page-aligned, and a gap or a change of node separates each from the next.
    assert_eq!(
        lines,
        [
            "[mem 0x0000000000001000-0x000000000009efff] usable           node 0",
            "[mem 0x0000000000100000-0x00000000bffdefff] usable           node 0",
            "[mem 0x0000000100000000-0x000000017fffffff] usable           node 0",
            "[mem 0x0000000180000000-0x00000001ffffffff] usable           node 1",
        ]
    );
}

#[test]
fn help_version_and_bad_usage() {
    let (out, code) = memmap(&["--help"]).unwrap();
    assert_eq!(code, 0);
    assert!(out.contains("Usage: memmap"), "{out}");
    assert!(
        out.contains("ZONES  valid zones for the memory range"),
        "{out}"
    );
    let (out, _) = memmap(&["--version"]).unwrap();
    assert_eq!(out, format!("memmap {}\n", env!("CARGO_PKG_VERSION")));
    for bad in [
        &["--bogus"][..],
        &["--iomem"],
        &["--iomem", "a", "--iomem", "b"],
        &["--json", "--e820"],
        &["-J", "-r"],
        &["-S", "NODE", "-a"],
        &["-J", "--summary=only"],
        &["--summary=sometimes"],
        &["-o", "RANGE,BOGUS"],
        &["--iomem", "a", "--load", "b"],
        &["--sysroot", "a", "--save", "b"],
        &["--node-dir", "d"],
        &["--iomem", "a", "--block-size", "1000"],
        &["--iomem", "a", "--block-size", "xyz"],
        &["--json=1"],
    ] {
        let f = memmap(bad).unwrap_err();
        assert_eq!(f.code, 2, "{bad:?}: {f}");
    }
    let f = memmap(&["--iomem", "a", "--iomem", "b"]).unwrap_err();
    assert!(
        f.msg
            .contains("'--iomem <FILE>' cannot be used multiple times"),
        "{f}"
    );
}

#[test]
fn arguments_take_values_inline_or_next() {
    let Request::Run(o) = parse(&args(&[
        "--iomem=/i",
        "--node-dir",
        "/n",
        "--block-size=0x10000000",
        "--verify-sysfs",
        "/m",
        "-o",
        "+node",
    ]))
    .unwrap() else {
        panic!("not a run")
    };
    let mut view = View::default();
    view.columns.push(lsmem::Column::Node);
    view.split = view.columns.clone();
    assert_eq!(
        *o,
        Options {
            source: Source::Iomem {
                path: "/i".into(),
                node_dir: Some("/n".into()),
                block_size: Some(0x1000_0000),
            },
            view,
            e820: false,
            verify: Some("/m".into()),
            save: None,
            write_sysfs: None,
            script: None,
        }
    );
}

#[test]
fn unreadable_and_malformed_inputs_exit_2_with_the_line() {
    let dir = scratch("malformed");
    let missing = dir.join("missing");
    let f = memmap(&["--iomem", s(&missing)]).unwrap_err();
    assert_eq!(f.code, 2);
    assert!(f.msg.contains("cannot read"), "{f}");

    let bad = dir.join("iomem");
    fs::write(
        &bad,
        "00001000-0009fbff : System RAM\n00100000-zzz : System RAM\n",
    )
    .unwrap();
    let f = memmap(&["--iomem", s(&bad)]).unwrap_err();
    assert_eq!(
        (f.code, f.msg.clone()),
        (
            2,
            format!(
                "{}:2: `zzz` is not a 64-bit hexadecimal address",
                bad.display()
            )
        )
    );

    // Overlapping System RAM is refused by the map, reported at the second line.
    fs::write(
        &bad,
        "00001000-3fffffff : System RAM\n20000000-4fffffff : System RAM\n",
    )
    .unwrap();
    let f = memmap(&["--iomem", s(&bad)]).unwrap_err();
    assert_eq!(f.code, 2);
    assert!(f.msg.starts_with(&format!("{}:2: ", bad.display())), "{f}");
    assert!(f.msg.contains("overlaps"), "{f}");

    // Beyond the 46-bit space of the x86-64 preset.
    fs::write(&bad, "400000000000-400007ffffff : System RAM\n").unwrap();
    let f = memmap(&["--iomem", s(&bad)]).unwrap_err();
    assert!(
        f.msg.starts_with(&format!("{}:1: ", bad.display())) && f.msg.contains("46-bit"),
        "{f}"
    );

    // A node directory that does not exist, a sysfs directory that does not exist.
    fs::write(&bad, "00001000-3fffffff : System RAM\n").unwrap();
    let f = memmap(&["--iomem", s(&bad), "--node-dir", s(&missing)]).unwrap_err();
    assert_eq!(f.code, 2, "{f}");
    let f = memmap(&["--iomem", s(&bad), "--verify-sysfs", s(&missing)]).unwrap_err();
    assert_eq!(f.code, 2, "{f}");
    // Directories that exist but are not what the flags expect.
    let f = memmap(&["--iomem", s(&bad), "--node-dir", s(&dir)]).unwrap_err();
    assert!(f.code == 2 && f.msg.contains("no nodeN"), "{f}");
    let f = memmap(&["--iomem", s(&bad), "--verify-sysfs", s(&dir)]).unwrap_err();
    assert!(f.code == 2 && f.msg.contains("no memoryN"), "{f}");
    let _ = fs::remove_dir_all(dir);
}

#[test]
fn iomem_of_the_vm_gives_lsmems_table() {
    let (out, code) = memmap(&[
        "--iomem",
        s(&data("iomem-vm.txt")),
        "-o",
        "RANGE,SIZE,STATE,REMOVABLE,BLOCK,NODE,ZONES",
    ])
    .unwrap();
    assert_eq!(code, 0);
    // What `lsmem -o RANGE,SIZE,STATE,REMOVABLE,BLOCK,NODE,ZONES` printed on that VM.
    let expected = "\
RANGE                                  SIZE  STATE REMOVABLE  BLOCK NODE  ZONES
0x0000000000000000-0x0000000007ffffff  128M online       yes      0    0   None
0x0000000008000000-0x00000000bfffffff  2.9G online       yes   1-23    0  DMA32
0x0000000100000000-0x000000063fffffff   21G online       yes 32-199    0 Normal

Memory block size:       128M
Total online memory:      24G
Total offline memory:      0B
";
    assert_eq!(out, expected);
}

fn fixture(name: &str) -> PathBuf {
    data("sysfs-2node").join(name)
}

/// memmap booted from the two-node fixture's iomem and node directory, plus `extra`.
fn memmap_on_fixture(extra: &[&str]) -> (String, u8) {
    let (iomem, node) = (fixture("iomem"), fixture("node"));
    let mut list = vec!["--iomem", s(&iomem), "--node-dir", s(&node)];
    list.extend_from_slice(extra);
    memmap(&list).unwrap()
}

#[test]
fn verify_sysfs_of_a_matching_tree() {
    let (out, code) = memmap_on_fixture(&["--verify-sysfs", s(&fixture("memory"))]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.starts_with("no differences: 8 memory blocks of "),
        "{out}"
    );
}

#[test]
fn the_fixture_table_shows_the_mixed_block_and_1g_blocks() {
    // `lsmem -o RANGE,SIZE,STATE,REMOVABLE,BLOCK,NODE,ZONES --sysroot` of the fixture.
    let (out, _) = memmap_on_fixture(&[
        "--block-size",
        "40000000",
        "-o",
        "RANGE,SIZE,STATE,REMOVABLE,BLOCK,NODE,ZONES",
    ]);
    let expected = "\
RANGE                                 SIZE  STATE REMOVABLE BLOCK NODE  ZONES
0x0000000000000000-0x000000003fffffff   1G online       yes     0    0   None
0x0000000040000000-0x000000007fffffff   1G online       yes     1    0  DMA32
0x0000000100000000-0x000000017fffffff   2G online       yes   4-5    0 Normal
0x0000000180000000-0x00000001bfffffff   1G online       yes     6    0   None
0x00000001c0000000-0x000000027fffffff   3G online       yes   7-9    1 Normal

Memory block size:         1G
Total online memory:       8G
Total offline memory:      0B
";
    assert_eq!(out, expected);
}

#[test]
fn verify_sysfs_lists_each_difference() {
    let dir = scratch("verify");
    let mem = dir.join("memory");
    copy_tree(&fixture("memory"), &mem);
    fs::write(mem.join("memory5/state"), "offline\n").unwrap();
    fs::write(mem.join("memory5/valid_zones"), "Normal Movable\n").unwrap();
    fs::remove_file(mem.join("memory6/node1")).unwrap();
    fs::write(mem.join("memory7/phys_index"), "00000017\n").unwrap();
    fs::remove_dir_all(mem.join("memory9")).unwrap();
    copy_tree(&mem.join("memory8"), &mem.join("memory12"));
    let (out, code) = memmap_on_fixture(&["--verify-sysfs", s(&mem)]);
    assert_eq!(code, 1);
    let expected = format!(
        "\
memory5: state: sysfs \"offline\", memmap \"online\"
memory5: valid_zones: sysfs \"Normal Movable\", memmap \"Normal\"
memory6: node: sysfs node0, memmap node0,node1
memory7: phys_index: sysfs \"00000017\", memmap \"00000007\"
memory9: only in memmap (online, node1, \"Normal\")
memory12: only in sysfs (online, node1)
6 differences with {}
",
        mem.display()
    );
    assert_eq!(out, expected);
    let _ = fs::remove_dir_all(dir);
}

#[test]
fn verify_sysfs_lists_a_run_of_blocks_once_and_a_block_size_mismatch_once() {
    let dir = scratch("verify-ranges");
    let mem = dir.join("memory");
    copy_tree(&fixture("memory"), &mem);
    for b in 7..=9 {
        fs::write(mem.join(format!("memory{b}/state")), "offline\n").unwrap();
    }
    let (out, code) = memmap_on_fixture(&["--verify-sysfs", s(&mem)]);
    assert_eq!(code, 1);
    let first = out.lines().next().unwrap();
    assert_eq!(
        first,
        "memory7-9: state: sysfs \"offline\", memmap \"online\""
    );
    assert!(
        out.ends_with(&format!("1 differences with {}\n", mem.display())),
        "{out}"
    );

    // 128 MiB blocks against the tree's 1 GiB: one line, not one per block.
    let (out, code) = memmap_on_fixture(&["--block-size", "8000000", "--verify-sysfs", s(&mem)]);
    assert_eq!(code, 1);
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(out.starts_with("block size: sysfs 0x40000000 ("), "{out}");
    assert!(
        out.contains("memmap 0x8000000: no block can match"),
        "{out}"
    );
    let _ = fs::remove_dir_all(dir);
}

#[test]
fn inputs_are_read_with_a_bound() {
    for flag in ["--iomem", "--load"] {
        let f = memmap(&[flag, "/dev/zero"]).unwrap_err();
        assert_eq!(f.code, 2, "{flag}: {f}");
        assert!(f.msg.starts_with("/dev/zero: larger than "), "{flag}: {f}");
    }
}

#[test]
fn an_iomem_cut_inside_a_system_ram_line_is_refused_with_its_line() {
    let dir = scratch("cut");
    let cut = dir.join("iomem");
    fs::write(
        &cut,
        "00001000-0009fbff : System RAM\n00100000-3ffdefff : System",
    )
    .unwrap();
    let f = memmap(&["--iomem", s(&cut)]).unwrap_err();
    assert_eq!(f.code, 2);
    assert!(f.msg.starts_with(&format!("{}:2: ", cut.display())), "{f}");
    assert!(f.msg.contains("cut short"), "{f}");
    let _ = fs::remove_dir_all(dir);
}

#[test]
fn snapshots_save_and_load_the_same_map() {
    let dir = scratch("snapshot");
    let file = dir.join("vm.snap");
    let (table, _) = memmap(&["--iomem", s(&data("iomem-vm.txt")), "--save", s(&file)]).unwrap();
    let (loaded, code) = memmap(&["--load", s(&file)]).unwrap();
    assert_eq!((loaded.as_str(), code), (table.as_str(), 0));

    // Any corruption, truncation or foreign file is an input error (exit 2) that
    // names the check it failed.
    let good = fs::read(&file).unwrap();
    let mut flipped = good.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0x40;
    let mut version = good.clone();
    version[8] = 5;
    for (name, bytes, check) in [
        ("flipped", flipped, "checksum mismatch"),
        (
            "truncated",
            good[..good.len() - 5].to_vec(),
            "length: the header says",
        ),
        ("short", good[..30].to_vec(), "bad magic"),
        (
            "text",
            b"00001000-0009fbff : System RAM\n".to_vec(),
            "bad magic",
        ),
        ("version", version, "unknown format version 5"),
        ("inconsistent", inconsistent(&good), "inconsistent records"),
        // A block size (bytes 28-35) of 128 MiB + 1.
        (
            "config",
            resealed(&good, 28, 1),
            "its configuration (bytes 20-51, and 52-59 from version 4)",
        ),
    ] {
        let p = dir.join(name);
        fs::write(&p, bytes).unwrap();
        let f = memmap(&["--load", s(&p)]).unwrap_err();
        assert_eq!(f.code, 2, "{name}: {f}");
        let prefix = format!("{}: snapshot rejected: {check}", p.display());
        assert!(f.msg.starts_with(&prefix), "{name}: {f}");
        // The reason, not the path (a temporary directory's name holds the pid).
        let reason = &f.msg[prefix.len()..];
        assert!(
            !reason.contains("errno") && !reason.contains("-22"),
            "{name}: {f}"
        );
    }
    let _ = fs::remove_dir_all(dir);
}

/// A snapshot edited at `at`, its CRC-32C recomputed: well-formed again.
fn resealed(good: &[u8], at: usize, byte: u8) -> Vec<u8> {
    let mut bad = good.to_vec();
    bad[at] = byte;
    let n = bad.len() - 4;
    let crc = crate::snapshot::crc32c(&bad[..n]);
    bad[n..].copy_from_slice(&crc.to_le_bytes());
    bad
}

/// A well-formed snapshot whose first block record says offline while its sections
/// are online: through docs/snapshot-format.md's offsets.
fn inconsistent(good: &[u8]) -> Vec<u8> {
    let count = |at: usize| u32::from_le_bytes(good[at..at + 4].try_into().unwrap()) as usize;
    let section_record = 16 + 64 / 4; // x86-64: 64 sub-sections of 2 bits
    let header = 96; // version 4: policies and seven counts
    let block = header + count(68) * 20 + count(72) * section_record;
    assert_eq!(good[block + 8], 1, "the first block is online");
    resealed(good, block + 8, 4)
}
