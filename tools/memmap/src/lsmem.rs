//! The map as util-linux `lsmem` shows a machine: rows of merged memory blocks, the
//! table in lsmem's column layout, the summary lines, and lsmem's JSON.
//!
//! The target is `lsmem -o RANGE,SIZE,STATE,REMOVABLE,BLOCK,NODE,ZONES` of util-linux
//! 2.38 (checked byte for byte against `lsmem --sysroot` on sysfs trees written from
//! this model): lsmem merges consecutive blocks whose shown attributes (state,
//! removable, node, zones) are equal, so a run of blocks becomes one row "a-b".

use std::fmt::Write as _;
use std::ops::ControlFlow;

use sparsemem::{BlockInfo, BlockState, MemRange, RangeKind, SparseMap, NID_MIXED};

/// One row of the table: consecutive blocks that lsmem merges.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    /// First block id.
    pub first: u64,
    /// Number of blocks.
    pub count: u64,
    /// lsmem's STATE text ("online", "offline", "on->off", "?").
    pub state: &'static str,
    /// The node lsmem prints: the block's node (the lowest one for a block that spans
    /// several nodes, which Linux links to each of them).
    pub node: i32,
    /// lsmem's ZONES text ("None", "DMA32", "Normal/Movable").
    pub zones: String,
}

impl Row {
    /// lsmem prints REMOVABLE only for online blocks; Linux 5.6+ reports 1 for every
    /// block, so an online row is always "yes".
    fn removable(&self) -> Option<bool> {
        (self.state == "online").then_some(true)
    }

    fn block_text(&self) -> String {
        match self.count {
            1 => self.first.to_string(),
            n => format!("{}-{}", self.first, self.first.saturating_add(n - 1)),
        }
    }

    fn range_text(&self, block_size: u64) -> String {
        let start = self.first.saturating_mul(block_size);
        let end = start
            .saturating_add(self.count.saturating_mul(block_size))
            .saturating_sub(1);
        format!("0x{start:016x}-0x{end:016x}")
    }

    fn size(&self, block_size: u64) -> u64 {
        self.count.saturating_mul(block_size)
    }
}

/// lsmem's STATE text for a block: it knows the three sysfs states of Linux and prints
/// "?" for any other (our visible GOING_ONLINE).
pub fn state_text(state: BlockState) -> &'static str {
    match state {
        BlockState::Online => "online",
        BlockState::Offline => "offline",
        BlockState::GoingOffline => "on->off",
        BlockState::GoingOnline => "?",
    }
}

/// lsmem's ZONES text: it maps each word of sysfs `valid_zones` through its own zone
/// name table (so "none" becomes "None") and joins them with '/'.
pub fn zones_text(valid_zones: &str) -> String {
    const NAMES: [&str; 7] = [
        "DMA", "DMA32", "Normal", "Highmem", "Movable", "Device", "None",
    ];
    valid_zones
        .split_whitespace()
        .map(|w| {
            NAMES
                .iter()
                .find(|n| n.eq_ignore_ascii_case(w))
                .copied()
                .unwrap_or("Unknown")
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// The nodes whose System RAM lies in a block, ascending (from the range export, which
/// never reports a mixed node).
pub fn block_nodes(map: &SparseMap, b: &BlockInfo) -> Vec<i32> {
    let end = b.start.0.saturating_add(b.size);
    let mut nodes = Vec::new();
    let _ = map.for_each_range(|r: MemRange| {
        if r.start.0 >= end {
            return ControlFlow::Break(());
        }
        let r_end = r.start.0.saturating_add(r.size);
        let ram = matches!(r.kind, RangeKind::RamOnline | RangeKind::RamOffline);
        if ram && r_end > b.start.0 && !nodes.contains(&r.nid) {
            nodes.push(r.nid);
        }
        ControlFlow::Continue(())
    });
    nodes.sort_unstable();
    nodes
}

/// The node lsmem would print for a block (see [`Row::node`]).
fn lsmem_node(map: &SparseMap, b: &BlockInfo) -> i32 {
    if b.nid != NID_MIXED {
        return b.nid;
    }
    block_nodes(map, b).first().copied().unwrap_or(b.nid)
}

/// The rows of the map, merged as lsmem merges them.
pub fn rows(map: &SparseMap) -> Vec<Row> {
    let mut rows: Vec<Row> = Vec::new();
    for b in map.blocks() {
        let row = Row {
            first: b.id.0,
            count: 1,
            state: state_text(b.state),
            node: lsmem_node(map, &b),
            zones: zones_text(&b.valid_zones_text().to_string()),
        };
        match rows.last_mut() {
            Some(last) if mergeable(last, &row) => last.count += 1,
            _ => rows.push(row),
        }
    }
    rows
}

/// lsmem's merge rule: the next block id, and equal state, removable, node and zones.
/// (It refuses to merge an "Unknown" zone list, which we never produce.)
fn mergeable(last: &Row, next: &Row) -> bool {
    last.first.checked_add(last.count) == Some(next.first)
        && last.state == next.state
        && last.node == next.node
        && last.zones == next.zones
}

/// Totals of the summary: lsmem counts whole blocks, holes included.
pub fn totals(rows: &[Row], block_size: u64) -> (u64, u64) {
    rows.iter().fold((0u64, 0u64), |(on, off), r| {
        if r.state == "online" {
            (on.saturating_add(r.size(block_size)), off)
        } else {
            (on, off.saturating_add(r.size(block_size)))
        }
    })
}

/// util-linux `size_to_human_string(SIZE_SUFFIX_1LETTER)`: binary units, one decimal
/// rounded half up, no decimal when it rounds to zero ("128M", "2.9G", "0B").
pub fn human_size(bytes: u64) -> String {
    let mut exp = 0u32;
    while exp < 60 && bytes >= 1u64 << (exp + 10) {
        exp += 10;
    }
    let letter = ["B", "K", "M", "G", "T", "P", "E"][(exp / 10) as usize];
    let mut dec = bytes >> exp;
    let rest = bytes & ((1u64 << exp) - 1);
    // Tenths, rounded half up, computed in u128 so that no size overflows.
    let mut tenths = (((u128::from(rest) * 1000) >> exp) + 50) / 100;
    if tenths >= 10 {
        dec += 1;
        tenths = 0;
    }
    if tenths == 0 {
        format!("{dec}{letter}")
    } else {
        format!("{dec}.{tenths}{letter}")
    }
}

/// Column alignment, as lsmem declares its columns to libsmartcols.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Align {
    Left,
    Right,
}

/// (header, alignment, width hint) of the seven columns.
const COLUMNS: [(&str, Align, usize); 7] = [
    ("RANGE", Align::Left, 0),
    ("SIZE", Align::Right, 5),
    ("STATE", Align::Right, 0),
    ("REMOVABLE", Align::Right, 0),
    ("BLOCK", Align::Right, 0),
    ("NODE", Align::Right, 0),
    ("ZONES", Align::Right, 0),
];

/// libsmartcols' column width: the widest cell, at least the header; a width hint
/// widens a column only when its cells already reach the header's width (so SIZE is
/// 5 wide for "128M" but 4 for "3G").
fn column_width(header: usize, widest: usize, hint: usize) -> usize {
    if widest < header {
        header
    } else if hint > widest && hint > header {
        hint
    } else {
        widest
    }
}

/// The cells of one row, in column order.
fn cells(r: &Row, block_size: u64) -> [String; 7] {
    [
        r.range_text(block_size),
        human_size(r.size(block_size)),
        r.state.to_string(),
        r.removable().map_or(String::new(), |_| "yes".to_string()),
        r.block_text(),
        r.node.to_string(),
        r.zones.clone(),
    ]
}

/// The table, header included, one line per row.
pub fn table(rows: &[Row], block_size: u64) -> String {
    let body: Vec<[String; 7]> = rows.iter().map(|r| cells(r, block_size)).collect();
    let widths: Vec<usize> = COLUMNS
        .iter()
        .enumerate()
        .map(|(i, (h, _, hint))| {
            let widest = body.iter().map(|c| c[i].len()).max().unwrap_or(0);
            column_width(h.len(), widest, *hint)
        })
        .collect();
    let header = COLUMNS.map(|(h, _, _)| h.to_string());
    let mut out = String::new();
    for line in std::iter::once(&header).chain(&body) {
        let mut text = String::new();
        for (i, cell) in line.iter().enumerate() {
            if i > 0 {
                text.push(' ');
            }
            let w = widths[i];
            let _ = match COLUMNS[i].1 {
                Align::Left => write!(text, "{cell:<w$}"),
                Align::Right => write!(text, "{cell:>w$}"),
            };
        }
        out.push_str(text.trim_end());
        out.push('\n');
    }
    out
}

/// The three summary lines, aligned as lsmem 2.38 prints them (`%-23s %5s`).
pub fn summary(rows: &[Row], block_size: u64) -> String {
    let (online, offline) = totals(rows, block_size);
    let mut out = String::new();
    for (label, bytes) in [
        ("Memory block size:", block_size),
        ("Total online memory:", online),
        ("Total offline memory:", offline),
    ] {
        let _ = writeln!(out, "{label:<23} {:>5}", human_size(bytes));
    }
    out
}

/// What `lsmem` prints with our seven columns: the table, a blank line, the summary.
pub fn report(map: &SparseMap) -> String {
    let bs = map.geometry().block_size();
    let rows = rows(map);
    format!("{}\n{}", table(&rows, bs), summary(&rows, bs))
}

/// A JSON string literal (our strings are ASCII, but escape properly anyway).
pub fn json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The rows as `lsmem -J` prints them (same keys, value types and layout), followed by
/// a "summary" object in bytes that lsmem does not have, for scripts.
pub fn json(map: &SparseMap) -> String {
    let bs = map.geometry().block_size();
    let rows = rows(map);
    let mut out = String::from("{\n   \"memory\": [");
    for (i, r) in rows.iter().enumerate() {
        out.push_str(if i == 0 { "\n      {\n" } else { ",{\n" });
        let fields = [
            ("range", json_string(&r.range_text(bs))),
            ("size", json_string(&human_size(r.size(bs)))),
            ("state", json_string(r.state)),
            ("removable", r.removable().unwrap_or(false).to_string()),
            ("block", json_string(&r.block_text())),
            ("node", r.node.to_string()),
            ("zones", json_string(&r.zones)),
        ];
        let last = fields.len() - 1;
        for (k, (key, value)) in fields.iter().enumerate() {
            let comma = if k < last { "," } else { "" };
            let _ = writeln!(out, "         \"{key}\": {value}{comma}");
        }
        out.push_str("      }");
    }
    let (online, offline) = totals(&rows, bs);
    let _ = write!(
        out,
        "\n   ],\n   \"summary\": {{\n      \"block_size\": {bs},\n      \"online\": {online},\n      \"offline\": {offline}\n   }}\n}}\n"
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_sizes_follow_util_linux() {
        let m = 1u64 << 20;
        assert_eq!(human_size(0), "0B");
        assert_eq!(human_size(1023), "1023B");
        assert_eq!(human_size(128 * m), "128M");
        assert_eq!(human_size(23 * 128 * m), "2.9G");
        assert_eq!(human_size(24 << 30), "24G");
        assert_eq!(human_size((20 << 30) + 128 * m), "20.1G");
        // 1023.96M: the tenths round to 10 and carry into the units.
        assert_eq!(human_size(1024 * m - 41_943), "1024M");
        assert_eq!(human_size(u64::MAX), "16E");
    }

    #[test]
    fn zones_use_lsmem_names() {
        assert_eq!(zones_text("none"), "None");
        assert_eq!(zones_text("Normal Movable"), "Normal/Movable");
        assert_eq!(zones_text("DMA32"), "DMA32");
        assert_eq!(zones_text("Weird"), "Unknown");
    }

    #[test]
    fn size_column_takes_its_hint_only_when_cells_reach_the_header() {
        assert_eq!(column_width(4, 2, 5), 4);
        assert_eq!(column_width(4, 4, 5), 5);
        assert_eq!(column_width(4, 5, 5), 5);
        assert_eq!(column_width(5, 6, 0), 6);
    }

    #[test]
    fn json_strings_are_escaped() {
        assert_eq!(json_string("a\"b\\c\n"), "\"a\\\"b\\\\c\\u000a\"");
    }
}
