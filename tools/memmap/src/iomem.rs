//! Reading a machine's memory map from Linux: the System RAM lines of `/proc/iomem`,
//! and node membership of memory blocks from `/sys/devices/system/node`.
//!
//! `/proc/iomem` is a tree written as indented lines `START-END : NAME`, addresses in
//! hex without `0x` and END inclusive. Only top-level "System RAM" lines are boot RAM:
//! nested entries ("Kernel code", "Kernel bss", "reserved", or "System RAM (kmem)" under
//! a dax device) describe parts of something else. Every line is still checked, because
//! a malformed line anywhere means the file is not what we think it is.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

use crate::input::{read_bounded, TEXT_LIMIT};
use crate::Failure;

/// One top-level System RAM line: `[start, end)` (end made exclusive) and where it was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RamLine {
    /// 1-based line number in the file.
    pub line: usize,
    /// First byte.
    pub start: u64,
    /// One past the last byte.
    pub end: u64,
}

/// Why one line of `/proc/iomem` cannot be read.
fn line_error(file: &str, line: usize, msg: impl std::fmt::Display) -> Failure {
    Failure::input(format!("{file}:{line}: {msg}"))
}

/// A hex address as /proc/iomem prints it (an optional `0x` is tolerated).
fn parse_hex(text: &str) -> Option<u64> {
    let t = text.trim();
    let digits = t
        .strip_prefix("0x")
        .or_else(|| t.strip_prefix("0X"))
        .unwrap_or(t);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(digits, 16).ok()
}

/// One parsed line: whether it is top-level (not indented), its inclusive range, its
/// name.
struct Entry<'a> {
    top_level: bool,
    start: u64,
    last: u64,
    name: &'a str,
}

/// Parses `START-END : NAME` with any amount of spaces or tabs around the parts.
fn parse_line(text: &str) -> Result<Entry<'_>, String> {
    let body = text.trim_start();
    let top_level = body.len() == text.len();
    let (range, name) = body
        .split_once(':')
        .ok_or_else(|| format!("expected `START-END : NAME`, found `{}`", text.trim()))?;
    let (a, b) = range
        .split_once('-')
        .ok_or_else(|| format!("expected `START-END` before ':', found `{}`", range.trim()))?;
    let start = parse_hex(a)
        .ok_or_else(|| format!("`{}` is not a 64-bit hexadecimal address", a.trim()))?;
    let last = parse_hex(b)
        .ok_or_else(|| format!("`{}` is not a 64-bit hexadecimal address", b.trim()))?;
    if last < start {
        return Err(format!(
            "range end {last:#x} lies below its start {start:#x}"
        ));
    }
    Ok(Entry {
        top_level,
        start,
        last,
        name: name.trim(),
    })
}

/// The name of boot RAM in /proc/iomem.
const RAM: &str = "System RAM";

/// The top-level System RAM ranges of an iomem text, in file order. `file` names the
/// input in error messages. Errors (with the line number): a line that is not UTF-8 or
/// not `START-END : NAME`, a bad address, an end below its start, a range ending at
/// 2^64, a top-level name that is a strict prefix of "System RAM" (a copy cut inside
/// the line would otherwise drop that RAM silently), no System RAM at all, or only
/// zero addresses (what a non-root reader sees).
pub fn parse(file: &str, bytes: &[u8]) -> Result<Vec<RamLine>, Failure> {
    let mut ram = Vec::new();
    for (i, raw) in bytes.split(|b| *b == b'\n').enumerate() {
        let n = i + 1;
        let text = std::str::from_utf8(raw).map_err(|_| line_error(file, n, "not UTF-8 text"))?;
        let text = text.strip_suffix('\r').unwrap_or(text);
        if text.trim().is_empty() {
            continue;
        }
        let e = parse_line(text).map_err(|m| line_error(file, n, m))?;
        if e.top_level && e.name.len() < RAM.len() && RAM.starts_with(e.name) {
            return Err(line_error(
                file,
                n,
                format!(
                    "`{}` looks like a `{RAM}` line cut short (a truncated copy?): \
                     refused rather than dropping its RAM",
                    text.trim()
                ),
            ));
        }
        if !(e.top_level && e.name == RAM) {
            continue;
        }
        let end = e
            .last
            .checked_add(1)
            .ok_or_else(|| line_error(file, n, "System RAM reaches the end of the 64-bit space"))?;
        ram.push(RamLine {
            line: n,
            start: e.start,
            end,
        });
    }
    if ram.is_empty() {
        return Err(Failure::input(format!(
            "{file}: no top-level `System RAM` line (is this a /proc/iomem?)"
        )));
    }
    if ram.iter().all(|r| r.start == 0 && r.end == 1) {
        return Err(Failure::input(format!(
            "{file}:{}: every address is zero: the kernel hides /proc/iomem addresses \
             from readers without CAP_SYS_ADMIN; run as root or pass a saved copy",
            ram[0].line
        )));
    }
    Ok(ram)
}

/// Reads and parses an iomem file; an unreadable file is an input error.
pub fn read(path: &Path) -> Result<Vec<RamLine>, Failure> {
    let file = path.display().to_string();
    parse(&file, &read_bounded(path, TEXT_LIMIT)?)
}

/// `prefix` followed by decimal digits only: "node3" with "node" is Some(3).
pub fn numbered(name: &str, prefix: &str) -> Option<u64> {
    let digits = name.strip_prefix(prefix)?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The entries of a directory whose names are `prefix` + a number, ascending.
pub fn numbered_entries(dir: &Path, prefix: &str) -> Result<Vec<u64>, Failure> {
    let rd = fs::read_dir(dir)
        .map_err(|e| Failure::input(format!("{}: cannot read: {e}", dir.display())))?;
    let mut out = Vec::new();
    for entry in rd {
        let entry =
            entry.map_err(|e| Failure::input(format!("{}: cannot read: {e}", dir.display())))?;
        if let Some(n) = entry.file_name().to_str().and_then(|s| numbered(s, prefix)) {
            out.push(n);
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// Block id → the nodes listing it, from `DIR/nodeN/memoryM` (the symlinks Linux
/// creates; in a copied tree any entry of that name counts).
pub type NodeMap = BTreeMap<u64, BTreeSet<i32>>;

/// Reads the node directory (`/sys/devices/system/node`).
pub fn read_nodes(dir: &Path) -> Result<NodeMap, Failure> {
    let nodes = numbered_entries(dir, "node")?;
    if nodes.is_empty() {
        return Err(Failure::input(format!(
            "{}: no nodeN directories (is this /sys/devices/system/node?)",
            dir.display()
        )));
    }
    let mut map = NodeMap::new();
    for node in nodes {
        let nid = i32::try_from(node).map_err(|_| {
            Failure::input(format!("{}: node{node}: bad node number", dir.display()))
        })?;
        for block in numbered_entries(&dir.join(format!("node{node}")), "memory")? {
            map.entry(block).or_default().insert(nid);
        }
    }
    Ok(map)
}

/// A piece of boot RAM on one node, with the iomem line it came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Piece {
    /// Line of the System RAM entry.
    pub line: usize,
    /// Node.
    pub nid: i32,
    /// First byte.
    pub start: u64,
    /// One past the last byte.
    pub end: u64,
}

/// Splits the System RAM lines into per-node pieces: a block's RAM belongs to the node
/// that lists the block, node 0 when none does (or when there is no node directory).
///
/// A block listed under several nodes holds RAM of each, but sysfs does not say where
/// the boundary lies; its RAM is split into equal parts in address order, lowest node
/// first. That keeps the block mixed, which is all the block table can show.
pub fn split_by_node(ram: &[RamLine], nodes: &NodeMap, block_size: u64) -> Vec<Piece> {
    // Pieces cut at block boundaries, each with its block id.
    let mut cut: Vec<(u64, Piece)> = Vec::new();
    for r in ram {
        let mut s = r.start;
        while s < r.end {
            let block = s / block_size;
            let e = block
                .checked_add(1)
                .and_then(|b| b.checked_mul(block_size))
                .map_or(r.end, |b| b.min(r.end));
            let piece = Piece {
                line: r.line,
                nid: 0,
                start: s,
                end: e,
            };
            cut.push((block, piece));
            s = e;
        }
    }
    let mut out: Vec<Piece> = Vec::new();
    let mut i = 0;
    while i < cut.len() {
        let block = cut[i].0;
        let j = i + cut[i..].iter().take_while(|(b, _)| *b == block).count();
        let listed: Vec<i32> = nodes
            .get(&block)
            .map(|s| s.iter().copied().collect())
            .unwrap_or_default();
        let pieces: Vec<Piece> = cut[i..j].iter().map(|(_, p)| *p).collect();
        for p in assign_nodes(&pieces, &listed) {
            push_merged(&mut out, p);
        }
        i = j;
    }
    out
}

/// The pieces of one block with their nodes (see [`split_by_node`]).
fn assign_nodes(pieces: &[Piece], nodes: &[i32]) -> Vec<Piece> {
    match nodes {
        [] => pieces.to_vec(),
        [nid] => pieces.iter().map(|p| Piece { nid: *nid, ..*p }).collect(),
        _ => split_equally(pieces, nodes),
    }
}

/// Gives each of `nodes` an equal share of the pieces' bytes, in address order, with
/// cut points on 4 KiB page boundaries so that no page is lost to rounding.
fn split_equally(pieces: &[Piece], nodes: &[i32]) -> Vec<Piece> {
    const PAGE: u64 = 4096;
    let n = nodes.len() as u64;
    let total: u64 = pieces.iter().map(|p| p.end - p.start).sum();
    let share = (total / n.max(1)).max(1);
    let mut out = Vec::new();
    let mut done = 0u64; // bytes handed out so far
    for p in pieces {
        let mut s = p.start;
        while s < p.end {
            // The node whose share `done` falls in, and where that share ends.
            let k = (done / share).min(n - 1);
            let mut e = p.end;
            if k + 1 < n {
                let room = (k + 1) * share - done; // > 0 because done < (k + 1) * share
                e = e.min(s.saturating_add(room));
                if e < p.end {
                    e = e
                        .div_ceil(PAGE)
                        .checked_mul(PAGE)
                        .map_or(p.end, |x| x.min(p.end));
                }
            }
            out.push(Piece {
                nid: nodes.get(k as usize).copied().unwrap_or(0),
                start: s,
                end: e,
                ..*p
            });
            done += e - s;
            s = e;
        }
    }
    out
}

/// Appends a piece, joining it to the previous one when they touch on the same node
/// and line (fewer boot ranges; the map holds a bounded number).
fn push_merged(out: &mut Vec<Piece>, p: Piece) {
    if let Some(last) = out.last_mut() {
        if last.end == p.start && last.nid == p.nid && last.line == p.line {
            last.end = p.end;
            return;
        }
    }
    out.push(p);
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    fn parse_ok(text: &str) -> Vec<(usize, u64, u64)> {
        parse("t", text.as_bytes())
            .unwrap()
            .into_iter()
            .map(|r| (r.line, r.start, r.end))
            .collect()
    }

    fn parse_err(text: &str) -> String {
        parse("t", text.as_bytes()).unwrap_err().msg
    }

    #[test]
    fn real_iomem_files() {
        // /proc/iomem of the cloud VM this tool was written on.
        let vm = include_str!("../tests/data/iomem-vm.txt");
        assert_eq!(
            parse_ok(vm),
            vec![
                (2, 0x1000, 0x9fc00),
                (6, 0x10_0000, 0xc000_0000),
                (16, 0x1_0000_0000, 0x6_4000_0000),
            ]
        );
        // A QEMU guest with 10 GiB on two nodes.
        let qemu = include_str!("../tests/data/sysfs-2node/iomem");
        assert_eq!(
            parse_ok(qemu),
            vec![
                (2, 0x1000, 0x9fc00),
                (8, 0x10_0000, 0x7ffd_f000),
                (24, 0x1_0000_0000, 0x2_8000_0000),
            ]
        );
    }

    #[test]
    fn nested_and_non_ram_entries_are_ignored() {
        let text = "00000000-00000fff : Reserved\n\
                    00001000-0009fbff : System RAM\n\
                    00100000-3fffffff : System RAM\n\
                    \x20 01000000-01ffffff : Kernel code\n\
                    \x20 02000000-02ffffff : System RAM\n\
                    c0000000-febfffff : PCI Bus 0000:00\n\
                    \x20 d0000000-d0ffffff : System RAM (kmem)\n\
                    100000000-13fffffff : Persistent Memory\n\
                    140000000-17fffffff : System RAM (kmem)\n";
        assert_eq!(
            parse_ok(text),
            vec![(2, 0x1000, 0x9fc00), (3, 0x10_0000, 0x4000_0000)]
        );
    }

    #[test]
    fn odd_spacing_64_bit_addresses_and_inclusive_ends() {
        let text = "00001000 - 0009fbff:System RAM\r\n\
                    \n\
                    100000000-63fffffff   :   System RAM   \n\
                    0x4000000000-0x40ffffffff\t:\tSystem RAM\n";
        assert_eq!(
            parse_ok(text),
            vec![
                (1, 0x1000, 0x9fc00),
                (3, 0x1_0000_0000, 0x6_4000_0000),
                (4, 0x40_0000_0000, 0x41_0000_0000),
            ]
        );
    }

    #[test]
    fn malformed_lines_name_their_line() {
        let ram = "00100000-3fffffff : System RAM\n";
        for (text, line, what) in [
            ("garbage\n", 2, "expected `START-END : NAME`"),
            ("00001000 : System RAM\n", 2, "expected `START-END`"),
            ("0000zz00-0009fbff : System RAM\n", 2, "`0000zz00` is not"),
            ("00001000- : System RAM\n", 2, "`` is not"),
            (
                "10000000000000000-1ffffffffffffffff : System RAM\n",
                2,
                "is not a 64-bit",
            ),
            (
                "0009fbff-00001000 : System RAM\n",
                2,
                "lies below its start",
            ),
            (
                "f000000000000000-ffffffffffffffff : System RAM\n",
                2,
                "end of the 64-bit",
            ),
            (
                "  00001000-0009fbff Kernel code\n",
                2,
                "expected `START-END : NAME`",
            ),
        ] {
            let msg = parse_err(&format!("{ram}{text}"));
            assert!(msg.starts_with(&format!("t:{line}: ")), "{msg}");
            assert!(msg.contains(what), "{msg} lacks {what}");
        }
        let msg = parse("t", b"00100000-3fffffff : System RAM\n\xff\xfe\n")
            .unwrap_err()
            .msg;
        assert_eq!(msg, "t:2: not UTF-8 text");
    }

    #[test]
    fn a_file_without_ram_or_with_hidden_addresses_is_refused() {
        assert!(parse_err("00000000-00000fff : Reserved\n").contains("no top-level `System RAM`"));
        assert!(parse_err("").contains("no top-level"));
        let hidden = "00000000-00000000 : Reserved\n00000000-00000000 : System RAM\n";
        let msg = parse_err(hidden);
        assert!(msg.starts_with("t:2: every address is zero"), "{msg}");
    }

    #[test]
    fn pieces_follow_the_blocks_each_node_lists() {
        let ram = [RamLine {
            line: 7,
            start: 0,
            end: 512 * MIB,
        }];
        let mut nodes = NodeMap::new();
        for b in 2..4 {
            nodes.entry(b).or_default().insert(1);
        }
        let p = split_by_node(&ram, &nodes, 128 * MIB);
        let got: Vec<(i32, u64, u64)> = p.iter().map(|p| (p.nid, p.start, p.end)).collect();
        assert_eq!(got, vec![(0, 0, 256 * MIB), (1, 256 * MIB, 512 * MIB)]);
        assert!(p.iter().all(|p| p.line == 7));
    }

    #[test]
    fn a_block_under_two_nodes_is_shared_in_page_aligned_halves() {
        let ram = [
            RamLine {
                line: 1,
                start: 0x1000,
                end: 0x9fc00,
            },
            RamLine {
                line: 2,
                start: 0x10_0000,
                end: 128 * MIB,
            },
        ];
        let mut nodes = NodeMap::new();
        nodes.entry(0).or_default().extend([0, 1]);
        let p = split_by_node(&ram, &nodes, 128 * MIB);
        assert_eq!(p.first().map(|p| p.nid), Some(0));
        assert_eq!(p.last().map(|p| (p.nid, p.end)), Some((1, 128 * MIB)));
        let bytes = |nid| -> u64 {
            p.iter()
                .filter(|p| p.nid == nid)
                .map(|p| p.end - p.start)
                .sum()
        };
        assert!(bytes(0).abs_diff(bytes(1)) <= 2 * 4096, "{p:?}");
        assert!(p.windows(2).all(|w| w[0].end <= w[1].start));
        assert!(p.iter().all(|p| p.start < p.end));
    }
}
