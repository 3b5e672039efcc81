//! The embedded default machine and its story: what `memmap` prints with no arguments.
//!
//! The machine is a two-node x86-64 guest with the firmware map QEMU gives an 8 GiB
//! guest (low RAM below the EBDA, RAM from 1 MiB to just under the PCI hole at 3 GiB,
//! RAM above 4 GiB) split between node 0 and node 1, plus a 128 MiB persistent-memory
//! range. The story walks through what sparsemem is for: the boot table as lsmem
//! shows it, a DIMM hot-add, onlining it movable, pmem namespaces at sub-section
//! granularity, a refused offline, and removal.

use sparsemem::{BlockId, Config, OnlineType, Pfn, SectionInfo, SectionNr, SparseMap, Zone};

use crate::lsmem::{self, View};
use crate::{blocks, Failure};

const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

/// An e820 entry type, as Linux names them in its boot log.
#[derive(Clone, Copy, PartialEq, Eq)]
enum E820Type {
    Usable,
    Reserved,
    Persistent,
}

impl E820Type {
    fn name(self) -> &'static str {
        match self {
            E820Type::Usable => "usable",
            E820Type::Reserved => "reserved",
            E820Type::Persistent => "persistent (type 7)",
        }
    }
}

/// (start, end exclusive, type, node) of each firmware map entry.
const FIRMWARE_MAP: &[(u64, u64, E820Type, i32)] = &[
    (0, 0x1000, E820Type::Reserved, 0),
    (0x1000, 0x9_fc00, E820Type::Usable, 0),
    (0x9_fc00, 0x10_0000, E820Type::Reserved, 0),
    (0x10_0000, LOW_RAM_END, E820Type::Usable, 0),
    (LOW_RAM_END, 0xc000_0000, E820Type::Reserved, 0),
    (0xfeff_c000, 0xff00_0000, E820Type::Reserved, 0),
    (0xfffc_0000, 0x1_0000_0000, E820Type::Reserved, 0),
    (4 * GIB, 6 * GIB, E820Type::Usable, 0),
    (6 * GIB, 8 * GIB, E820Type::Usable, 1),
    (PMEM, PMEM + 128 * MIB, E820Type::Persistent, 1),
];

/// Where usable RAM below the PCI hole ends: firmware keeps the rest of that 128 MiB
/// block (ACPI tables), so its block has holes.
const LOW_RAM_END: u64 = 0xbffd_f000;
/// Where the DIMM goes: the hotplug area right above boot RAM.
const DIMM: u64 = 8 * GIB;
const DIMM_SIZE: u64 = GIB;
/// The pmem range: one 128 MiB section, carved into eight namespaces.
const PMEM: u64 = 10 * GIB;
const NAMESPACE: u64 = 16 * MIB;
const NAMESPACES: u64 = 8;

/// An operation of the story failed: a bug in the core or in this story.
fn op<T>(r: sparsemem::Result<T>, what: &str) -> Result<T, Failure> {
    r.map_err(|e| Failure::internal(format!("{what}: {e}")))
}

/// The embedded machine after boot: a map holding every usable entry.
pub fn boot() -> Result<Box<SparseMap>, Failure> {
    let map = op(SparseMap::new_boxed(&Config::x86_64()), "init")?;
    for &(start, end, ty, nid) in FIRMWARE_MAP {
        if ty == E820Type::Usable {
            op(map.boot_add_ram(nid, start, end - start), "boot_add_ram")?;
        }
    }
    op(map.boot_finish(), "boot_finish")?;
    Ok(map)
}

/// The blocks as `lsmem -o RANGE,SIZE,STATE,REMOVABLE,BLOCK,NODE,ZONES` shows them.
pub fn report(map: &SparseMap) -> String {
    lsmem::render(&blocks::from_map(map), &View::all_columns())
}

/// The whole story as text.
pub fn run() -> Result<String, Failure> {
    let mut out = String::new();
    let map = boot()?;
    firmware(&mut out);
    heading(
        &mut out,
        "Boot: the memory blocks, as `lsmem -o RANGE,SIZE,STATE,REMOVABLE,BLOCK,NODE,ZONES` shows them",
    );
    out.push_str(&report(&map));
    let boot_blocks = blocks::from_map(&map);
    hot_add(&map, &mut out)?;
    online_movable(&map, &mut out)?;
    pmem(&map, &mut out)?;
    refused_offline(&map, &mut out)?;
    removal(&map, &mut out)?;
    if blocks::from_map(&map) == boot_blocks {
        say!(out, "\nEvery block is back as it booted.");
    } else {
        return Err(Failure::internal(
            "the blocks differ from the boot table after removal",
        ));
    }
    Ok(out)
}

fn heading(out: &mut String, title: &str) {
    say!(out, "\n== {title}\n");
}

fn firmware(out: &mut String) {
    say!(
        out,
        "memmap: sparsemem on an embedded two-node x86-64 machine (x86-64 preset:"
    );
    say!(
        out,
        "4K pages, 2M sub-sections, 128M sections and memory blocks)."
    );
    heading(
        out,
        "Firmware memory map (e820); only usable entries are boot RAM",
    );
    for &(start, end, ty, nid) in FIRMWARE_MAP {
        let node = if ty == E820Type::Reserved {
            String::new()
        } else {
            format!(" node {nid}")
        };
        say!(
            out,
            "BIOS-e820: [mem {start:#018x}-{:#018x}] {}{node}",
            end - 1,
            ty.name()
        );
    }
}

/// Prints the table and summary after a step that changed blocks.
fn table(map: &SparseMap, out: &mut String) {
    out.push('\n');
    out.push_str(&report(map));
}

fn dimm_blocks(map: &SparseMap) -> std::ops::Range<u64> {
    let bs = map.geometry().block_size();
    DIMM / bs..(DIMM + DIMM_SIZE) / bs
}

fn hot_add(map: &SparseMap, out: &mut String) -> Result<(), Failure> {
    heading(out, "1. Hot-add a 1 GiB DIMM on node 1 (add_memory)");
    op(map.add_memory(1, DIMM, DIMM_SIZE, &()), "add_memory")?;
    let ids = dimm_blocks(map);
    say!(
        out,
        "add_memory(nid 1, {DIMM:#x}, 1G): ok: blocks {}-{} exist, offline. Their valid_zones",
        ids.start,
        ids.end - 1
    );
    say!(
        out,
        "list the default zone first: Normal, since no Movable span of node 1 touches them."
    );
    table(map, out);
    Ok(())
}

fn online_movable(map: &SparseMap, out: &mut String) -> Result<(), Failure> {
    heading(
        out,
        "2. Online the DIMM's blocks movable (online_block, online_movable)",
    );
    for id in dimm_blocks(map) {
        op(
            map.online_block(BlockId(id), OnlineType::Movable, &()),
            "online_block",
        )?;
    }
    let ids = dimm_blocks(map);
    say!(
        out,
        "online_block(memory{}..memory{}, Movable): ok.",
        ids.start,
        ids.end - 1
    );
    let span = op(map.zone_span(1, Zone::Movable), "zone_span")?;
    say!(
        out,
        "Node 1 ZONE_MOVABLE now spans pfn {:#x}-{:#x} with {} present pages.",
        span.start.0,
        span.end.0,
        span.present_pages
    );
    table(map, out);
    Ok(())
}

/// The section's flags and masks, one line each.
fn section_lines(out: &mut String, s: &SectionInfo) {
    let flags: Vec<&str> = s.flags.iter_names().map(|(n, _)| n).collect();
    say!(
        out,
        "  section {}: {}; {} sub-sections of 2M",
        s.nr.0,
        flags.join(" | "),
        s.nr_subsections
    );
    say!(out, "    active {}", mask_hex(&s.active, s.nr_subsections));
    say!(out, "    device {}", mask_hex(&s.device, s.nr_subsections));
}

/// A mask of `bits` bits as hex, most significant word first.
fn mask_hex(words: &[u64], bits: u32) -> String {
    let n = (bits as usize).div_ceil(64).clamp(1, words.len().max(1));
    words
        .iter()
        .take(n)
        .rev()
        .map(|w| format!("{w:016x}"))
        .collect::<Vec<_>>()
        .join("_")
}

/// One pfn's answers: pfn_valid, pfn_online and pfn_info.
fn pfn_line(map: &SparseMap, out: &mut String, pfn: u64, what: &str) {
    let p = Pfn(pfn);
    let yes = |b: bool| if b { "yes" } else { "no" };
    let info = match map.pfn_info(p) {
        Ok(i) => format!("{:?}, zone {}, node {}", i.kind, i.zone, i.nid),
        Err(e) => format!("pfn_info: {e}"),
    };
    say!(
        out,
        "  pfn {pfn:#x} ({what}): valid {}, online {}, {info}",
        yes(map.pfn_valid(p)),
        yes(map.pfn_online(p))
    );
}

fn pmem_section(map: &SparseMap) -> SectionNr {
    SectionNr(PMEM / map.geometry().section_size())
}

fn pmem(map: &SparseMap, out: &mut String) -> Result<(), Failure> {
    heading(
        out,
        "3. Eight 16 MiB pmem namespaces in one section (add_device, remove_device)",
    );
    let nr = pmem_section(map);
    say!(
        out,
        "Device memory is tracked per 2M sub-section and never gets a memory block."
    );
    op(map.add_device(1, PMEM, NAMESPACE), "add_device")?;
    say!(out, "add_device(nid 1, {PMEM:#x}, 16M), namespace 0:");
    section_lines(out, &op(map.section_info(nr), "section_info")?);
    for i in 1..NAMESPACES {
        op(
            map.add_device(1, PMEM + i * NAMESPACE, NAMESPACE),
            "add_device",
        )?;
    }
    say!(out, "namespaces 1-7 added:");
    section_lines(out, &op(map.section_info(nr), "section_info")?);
    op(
        map.remove_device(PMEM + 3 * NAMESPACE, NAMESPACE),
        "remove_device",
    )?;
    say!(out, "remove_device of namespace 3 alone:");
    section_lines(out, &op(map.section_info(nr), "section_info")?);
    let page = map.geometry().page_size();
    pfn_line(map, out, PMEM / page, "namespace 0");
    pfn_line(
        map,
        out,
        (PMEM + 3 * NAMESPACE) / page,
        "namespace 3, removed",
    );
    pfn_line(map, out, (4 * GIB) / page, "boot RAM of node 0");
    say!(out, "The lsmem table is unchanged.");
    Ok(())
}

fn refused_offline(map: &SparseMap, out: &mut String) -> Result<(), Failure> {
    heading(
        out,
        "4. Offline a boot block with holes (offline_block): refused",
    );
    let id = BlockId(LOW_RAM_END / map.geometry().block_size());
    let info = op(map.block_info(id), "block_info")?;
    let pages = info.size / map.geometry().page_size();
    match map.offline_block(id, &()) {
        Ok(()) => {
            return Err(Failure::internal(
                "the offline of a block with holes succeeded",
            ))
        }
        Err(e) => say!(
            out,
            "offline_block(memory{}): errno {}: {e}",
            id.0,
            e.errno()
        ),
    }
    say!(
        out,
        "memory{} holds {} System RAM pages of {pages}: firmware reserves its tail from",
        id.0,
        info.present_pages
    );
    say!(
        out,
        "{LOW_RAM_END:#x}, and Linux refuses to offline \"memory holes\" (EINVAL). Its valid_zones"
    );
    say!(
        out,
        "still says \"{}\": one zone, just not offlinable.",
        info.valid_zones_text()
    );
    Ok(())
}

fn removal(map: &SparseMap, out: &mut String) -> Result<(), Failure> {
    heading(
        out,
        "5. Removal: offline and remove the DIMM, remove the namespaces",
    );
    for id in dimm_blocks(map) {
        op(map.offline_block(BlockId(id), &()), "offline_block")?;
    }
    op(map.remove_memory(DIMM, DIMM_SIZE), "remove_memory")?;
    let ids = dimm_blocks(map);
    say!(
        out,
        "offline_block(memory{}..memory{}), remove_memory({DIMM:#x}, 1G): ok.",
        ids.start,
        ids.end - 1
    );
    for i in (0..NAMESPACES).filter(|i| *i != 3) {
        op(
            map.remove_device(PMEM + i * NAMESPACE, NAMESPACE),
            "remove_device",
        )?;
    }
    let nr = pmem_section(map);
    match map.section_info(nr) {
        Ok(s) => section_lines(out, &s),
        Err(e) => say!(
            out,
            "remove_device of namespaces 0-2 and 4-7: ok; section {} is gone (section_info: {e}).",
            nr.0
        ),
    }
    match map.zone_span(1, Zone::Device) {
        Ok(s) => say!(
            out,
            "Node 1 ZONE_DEVICE keeps its span pfn {:#x}-{:#x} (Linux never shrinks it).",
            s.start.0,
            s.end.0
        ),
        Err(e) => say!(out, "Node 1 ZONE_DEVICE: {e}"),
    }
    table(map, out);
    Ok(())
}
