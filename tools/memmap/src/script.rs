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
//! ```
//!
//! Numbers are decimal or 0x-hex; START and SIZE take a K, M, G or T suffix (binary).
//! A failed step stops the script with the line and the reason (the map is as the
//! step before left it; nothing is saved).

use std::path::Path;

use sparsemem::{BlockId, OnlineType, SparseMap};

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

/// One step applied to the map; the error text says why it was refused.
fn step(map: &SparseMap, words: &[&str]) -> Result<(), String> {
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
             add-device NODE START SIZE, remove-device START SIZE)",
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
        step(map, &words)
            .map_err(|why| Failure::input(format!("{file}:{}: `{content}`: {why}", i + 1)))?;
        say!(out, "== {file}:{}: {content}", i + 1);
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
    use super::number;

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
