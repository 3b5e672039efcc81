//! `memmap run SCRIPT`: hotplug steps applied to the map one line at a time, with the
//! blocks (or only what changed) after each step. A hypervisor developer answers "what
//! will the guest show after these hotplugs" without booting a VM.
//!
//! ```text
//! # comment                      blank lines and comments are skipped
//! add-memory NODE START SIZE     a DIMM (Linux add_memory); blocks come offline
//! remove-memory START SIZE       (remove_memory: its blocks must be offline)
//! online BLOCK [kernel|movable]  (the block's sysfs `state` written "online", ...)
//! offline BLOCK
//! add-device NODE START SIZE     ZONE_DEVICE memory, e.g. a pmem namespace
//! remove-device START SIZE
//! group-static NODE SIZE         a DIMM or dax/kmem device as a static memory group
//! group-dynamic NODE UNIT        a virtio-mem device as a dynamic memory group
//! remove-group GROUP             (its blocks must be removed first)
//! add-memory-ex NODE|none GROUP|none START SIZE [memmap]
//!                                Linux add_memory_resource: into a group, memmap in
//!                                the blocks when asked and the configuration allows
//! auto-online offline|online|online_kernel|online_movable
//!                                (sysfs auto_online_blocks)
//! policy contig-zones|auto-movable [RATIO] [numa|no-numa]
//!                                (memory_hotplug.online_policy and its parameters)
//! fake-offline START SIZE        2 MiB pieces taken out of use (virtio-mem, balloons)
//! fake-online START SIZE
//! ```
//!
//! Group ids are handed out lowest first from 0, as Linux does; `group-*` says the id.
//!
//! Numbers are decimal or 0x-hex; START and SIZE take a K, M, G or T suffix (binary).
//! A failed step stops the script with the line and the reason (the map is as the
//! step before left it; nothing is saved).

use std::path::Path;

use sparsemem::{
    AutoOnline, BlockId, MhpFlags, OnlinePolicy, OnlineType, SparseMap, GROUP_NONE, NID_NONE,
};

use crate::blocks::{self, Block, Blocks};
use crate::input::{read_bounded, TEXT_LIMIT};
use crate::lsmem::{self, View};
use crate::Failure;

/// A number: decimal or 0x-hex, with an optional binary K/M/G/T suffix.
fn number(word: &str) -> Result<u64, String> {
    let bad = || format!("`{word}` is not a number (decimal or 0x-hex, optional K/M/G/T)");
    // No suffix letter is a hex digit, so "0x10M" is unambiguous.
    let shift = match word.chars().last().map(|c| c.to_ascii_uppercase()) {
        Some('K') => 10,
        Some('M') => 20,
        Some('G') => 30,
        Some('T') => 40,
        _ => 0,
    };
    let digits = if shift > 0 {
        &word[..word.len() - 1]
    } else {
        word
    };
    let v = match digits.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => digits.parse(),
    }
    .map_err(|_| bad())?;
    v.checked_mul(1 << shift).ok_or_else(bad)
}

fn node(word: &str) -> Result<i32, String> {
    word.parse()
        .map_err(|_| format!("`{word}` is not a node number"))
}

/// A group id, or `none`.
fn group(word: &str) -> Result<u32, String> {
    if word == "none" {
        return Ok(GROUP_NONE);
    }
    word.parse()
        .map_err(|_| format!("`{word}` is not a group id (or `none`)"))
}

/// One step applied to the map: what it has to say beyond the blocks (a new group's
/// id), or why it was refused.
fn step(map: &SparseMap, words: &[&str]) -> Result<Option<String>, String> {
    let core = |e: sparsemem::Error| e.to_string();
    let pages = |bytes: u64| bytes >> map.geometry().page_shift();
    let registered =
        |r: Result<u32, sparsemem::Error>| r.map(|id| Some(format!("(group {id})"))).map_err(core);
    match words {
        ["group-static", nid, size] => {
            registered(map.group_register_static(node(nid)?, pages(number(size)?)))
        }
        ["group-dynamic", nid, unit] => {
            registered(map.group_register_dynamic(node(nid)?, pages(number(unit)?)))
        }
        ["remove-group", id] => map.group_unregister(group(id)?).map(|_| None).map_err(core),
        ["add-memory-ex", nid, id, start, size, rest @ ..] => {
            let flags = match rest {
                [] => MhpFlags::empty(),
                ["memmap"] => MhpFlags::MEMMAP_ON_MEMORY,
                _ => return Err("add-memory-ex takes `memmap` or nothing after SIZE".into()),
            };
            let nid = if *nid == "none" { NID_NONE } else { node(nid)? };
            map.add_memory_ex(nid, group(id)?, number(start)?, number(size)?, flags, &())
                .map(|_| None)
                .map_err(core)
        }
        ["auto-online", how] => {
            let a = match *how {
                "offline" => AutoOnline::Offline,
                "online" => AutoOnline::Online,
                "online_kernel" => AutoOnline::OnlineKernel,
                "online_movable" => AutoOnline::OnlineMovable,
                _ => {
                    return Err(format!(
                        "`{how}` is not offline, online, online_kernel or online_movable"
                    ))
                }
            };
            map.set_auto_online(a).map(|_| None).map_err(core)
        }
        ["policy", name, rest @ ..] => {
            let now = map.policy();
            let policy = match *name {
                "contig-zones" => OnlinePolicy::ContigZones,
                "auto-movable" => OnlinePolicy::AutoMovable,
                _ => return Err(format!("`{name}` is not contig-zones or auto-movable")),
            };
            let (mut ratio, mut numa) = (now.auto_movable_ratio, now.auto_movable_numa_aware);
            for w in rest {
                match *w {
                    "numa" => numa = true,
                    "no-numa" => numa = false,
                    r => {
                        ratio = r.parse().map_err(|_| {
                            format!("`{r}` is not a ratio (percent), numa or no-numa")
                        })?
                    }
                }
            }
            map.set_online_policy(policy, ratio, numa)
                .map(|_| None)
                .map_err(core)
        }
        ["fake-offline", start, size] => map
            .fake_offline(number(start)?, number(size)?)
            .map(|_| None)
            .map_err(core),
        ["fake-online", start, size] => map
            .fake_online(number(start)?, number(size)?)
            .map(|_| None)
            .map_err(core),
        _ => step_core(map, words).map(|_| None),
    }
}

/// The steps of the first release.
fn step_core(map: &SparseMap, words: &[&str]) -> Result<(), String> {
    let core = |e: sparsemem::Error| e.to_string();
    match words {
        ["add-memory", nid, start, size] => map
            .add_memory(node(nid)?, number(start)?, number(size)?, &())
            .map_err(core),
        ["remove-memory", start, size] => map
            .remove_memory(number(start)?, number(size)?)
            .map_err(core),
        ["online", id, rest @ ..] => {
            let ty = match rest {
                [] => OnlineType::Online,
                ["kernel"] => OnlineType::Kernel,
                ["movable"] => OnlineType::Movable,
                _ => return Err("online takes BLOCK and optionally `kernel` or `movable`".into()),
            };
            map.online_block(BlockId(number(id)?), ty, &())
                .map_err(core)
        }
        ["offline", id] => map.offline_block(BlockId(number(id)?), &()).map_err(core),
        ["add-device", nid, start, size] => map
            .add_device(node(nid)?, number(start)?, number(size)?)
            .map_err(core),
        ["remove-device", start, size] => map
            .remove_device(number(start)?, number(size)?)
            .map_err(core),
        [op, ..] => Err(format!(
            "`{op}` with {} arguments is not a step (add-memory NODE START SIZE, \
             remove-memory START SIZE, online BLOCK [kernel|movable], offline BLOCK, \
             add-device NODE START SIZE, remove-device START SIZE, group-static NODE SIZE, \
             group-dynamic NODE UNIT, remove-group GROUP, \
             add-memory-ex NODE|none GROUP|none START SIZE [memmap], \
             auto-online HOW, policy NAME [RATIO] [numa|no-numa], \
             fake-offline START SIZE, fake-online START SIZE)",
            words.len() - 1
        )),
        [] => Ok(()),
    }
}

fn describe(b: &Block) -> String {
    let nodes: Vec<String> = b.nodes.iter().map(|n| format!("node{n}")).collect();
    format!(
        "{} {} \"{}\"",
        b.state,
        nodes.join(","),
        b.valid_zones.as_deref().unwrap_or("")
    )
}

/// The blocks that appeared, went or changed between two states.
fn changes(before: &Blocks, after: &Blocks, out: &mut String) {
    let find = |list: &[Block], id| list.iter().find(|b| b.id == id).cloned();
    let mut ids: Vec<u64> = before
        .list
        .iter()
        .chain(&after.list)
        .map(|b| b.id)
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let len = out.len();
    for id in ids {
        match (find(&before.list, id), find(&after.list, id)) {
            (None, Some(a)) => say!(out, "+ memory{id}: {}", describe(&a)),
            (Some(b), None) => say!(out, "- memory{id}: {}", describe(&b)),
            (Some(b), Some(a)) if a != b => {
                say!(out, "~ memory{id}: {} -> {}", describe(&b), describe(&a));
            }
            _ => {}
        }
    }
    if out.len() == len {
        say!(out, "(no block changed)");
    }
}

/// Runs a script on the map: the output after every step.
pub fn run(
    map: &SparseMap,
    path: &Path,
    view: &View,
    only_changes: bool,
) -> Result<String, Failure> {
    let file = path.display().to_string();
    let bytes = read_bounded(path, TEXT_LIMIT)?;
    let text =
        String::from_utf8(bytes).map_err(|_| Failure::input(format!("{file}: not UTF-8 text")))?;
    let mut out = String::new();
    for (i, line) in text.lines().enumerate() {
        let content = line.split('#').next().unwrap_or("").trim();
        if content.is_empty() {
            continue;
        }
        let words: Vec<&str> = content.split_whitespace().collect();
        let before = blocks::from_map(map);
        let note = step(map, &words)
            .map_err(|why| Failure::input(format!("{file}:{}: `{content}`: {why}", i + 1)))?;
        say!(out, "== {file}:{}: {content}", i + 1);
        if let Some(note) = note {
            say!(out, "{note}");
        }
        let after = blocks::from_map(map);
        if only_changes {
            changes(&before, &after, &mut out);
        } else {
            out.push_str(&lsmem::render(&after, view));
        }
        out.push('\n');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::{number, step};
    use sparsemem::{BlockId, Config, SparseMap, Zone};

    /// The modern steps, on a two-node machine: a static group under the
    /// auto-movable policy, a virtio-mem group with fake-offline pieces, errors.
    #[test]
    fn groups_policies_and_fake_offline_steps() {
        let map = SparseMap::new_boxed(&Config::x86_64()).unwrap();
        map.boot_add_ram(0, 1 << 20, (2 << 30) - (1 << 20)).unwrap();
        map.boot_add_ram(1, 2 << 30, 1 << 30).unwrap();
        map.boot_finish().unwrap();
        let run = |line: &str| step(&map, &line.split_whitespace().collect::<Vec<_>>());
        assert_eq!(run("group-static 1 1G"), Ok(Some("(group 0)".into())));
        assert_eq!(run("group-dynamic 0 128M"), Ok(Some("(group 1)".into())));
        assert_eq!(run("policy auto-movable 301 numa"), Ok(None));
        assert_eq!(run("auto-online online"), Ok(None));
        assert_eq!(run("add-memory-ex none 0 4G 256M"), Ok(None));
        // 1 GiB of group fits node 1's 3.01 x 1 GiB: Movable, onlined at once.
        let b = map.block_info(BlockId(32)).unwrap();
        assert_eq!((b.zone, b.group, b.nid), (Zone::Movable, 0, 1));
        assert_eq!(run("add-memory-ex 0 1 6G 128M"), Ok(None));
        assert_eq!(run("fake-offline 6G 4M"), Ok(None));
        assert_eq!(
            map.block_info(BlockId(48)).unwrap().fake_offline_pages,
            1024
        );
        assert_eq!(run("fake-online 6G 2M"), Ok(None));
        // Its block is still there: busy.
        assert!(run("remove-group 1").unwrap_err().contains("(-16)"));
        assert!(run("remove-group x")
            .unwrap_err()
            .contains("not a group id"));
        assert!(run("policy sideways").unwrap_err().contains("contig-zones"));
        assert!(run("add-memory-ex 0 1 6G 128M bogus")
            .unwrap_err()
            .contains("memmap"));
    }

    #[test]
    fn numbers_take_hex_and_binary_suffixes() {
        assert_eq!(number("128M"), Ok(128 << 20));
        assert_eq!(number("0x200000000"), Ok(8 << 30));
        assert_eq!(number("4G"), Ok(4 << 30));
        assert_eq!(number("64"), Ok(64));
        assert!(number("0xfffffffffffffffff").is_err());
        assert!(number("16777216T").is_err());
        assert!(number("12Q").is_err());
    }
}
