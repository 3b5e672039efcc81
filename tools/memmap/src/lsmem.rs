//! The blocks as util-linux `lsmem` 2.38 prints them: its columns, its merging of
//! consecutive blocks into rows, its four output formats (libsmartcols' table, raw,
//! key="value" pairs, JSON) and its summary. Checked byte for byte against
//! `lsmem --sysroot` by `tests/lsmem_compat.rs`.

use std::fmt::Write as _;

use serde::ser::{Serialize, SerializeMap, Serializer};

use crate::blocks::{Block, Blocks};

/// lsmem's columns, in its order (which `--output-all` shows).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Column {
    Range,
    Size,
    State,
    Removable,
    Block,
    Node,
    Zones,
}

impl Column {
    pub const ALL: [Column; 7] = [
        Column::Range,
        Column::Size,
        Column::State,
        Column::Removable,
        Column::Block,
        Column::Node,
        Column::Zones,
    ];
    /// lsmem's default columns.
    pub const DEFAULT: [Column; 5] = [
        Column::Range,
        Column::Size,
        Column::State,
        Column::Removable,
        Column::Block,
    ];

    pub fn name(self) -> &'static str {
        [
            "RANGE",
            "SIZE",
            "STATE",
            "REMOVABLE",
            "BLOCK",
            "NODE",
            "ZONES",
        ][self as usize]
    }

    /// lsmem's column help, for `--help` and the man page.
    pub fn help(self) -> &'static str {
        [
            "start and end address of the memory range",
            "size of the memory range",
            "online status of the memory range",
            "memory is removable",
            "memory block number or blocks range",
            "numa node of memory",
            "valid zones for the memory range",
        ][self as usize]
    }

    /// A column name, case-insensitive as lsmem takes it.
    pub fn parse(name: &str) -> Result<Column, String> {
        Column::ALL
            .into_iter()
            .find(|c| c.name().eq_ignore_ascii_case(name))
            .ok_or_else(|| format!("unknown column: {name}"))
    }

    /// Only the table is right-aligned except RANGE; SIZE has a width hint of 5.
    fn right_aligned(self) -> bool {
        self != Column::Range
    }
}

/// lsmem's output formats (`-r`, `-P`, `-J`; the default table).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    #[default]
    Table,
    Raw,
    Pairs,
    Json,
}

/// What lsmem's options select.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct View {
    pub columns: Vec<Column>,
    /// The columns whose values split rows (`-S`; by default the shown columns).
    pub split: Vec<Column>,
    /// `-a`: one row per block.
    pub all: bool,
    /// `-b`: sizes in bytes.
    pub bytes: bool,
    /// `-n`.
    pub noheadings: bool,
    pub format: Format,
    /// Whether the table and the summary are printed (`--summary`, and `-J`, `-P`
    /// and `-r` turn the summary off).
    pub table: bool,
    pub summary: bool,
}

impl Default for View {
    fn default() -> Self {
        View {
            columns: Column::DEFAULT.to_vec(),
            split: Column::DEFAULT.to_vec(),
            all: false,
            bytes: false,
            noheadings: false,
            format: Format::Table,
            table: true,
            summary: true,
        }
    }
}

impl View {
    /// `lsmem -o RANGE,SIZE,STATE,REMOVABLE,BLOCK,NODE,ZONES`: the story's view.
    pub fn all_columns() -> Self {
        View {
            columns: Column::ALL.to_vec(),
            split: Column::ALL.to_vec(),
            ..View::default()
        }
    }
}

/// lsmem's zone names; a word of `valid_zones` outside them is "Unknown".
const ZONE_NAMES: [&str; 7] = [
    "DMA", "DMA32", "Normal", "Highmem", "Movable", "Device", "None",
];

/// One row: consecutive blocks that lsmem merges, and what it shows of them.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Row {
    first: u64,
    count: u64,
    /// lsmem's STATE text ("online", "offline", "on->off", "?").
    state: &'static str,
    removable: bool,
    /// The first node link, -1 when none.
    node: i32,
    /// The `valid_zones` words in lsmem's spelling.
    zones: Vec<&'static str>,
}

/// lsmem knows the three states Linux writes and shows "?" for anything else.
fn state_text(state: &str) -> &'static str {
    match state {
        "online" => "online",
        "offline" => "offline",
        "going-offline" => "on->off",
        _ => "?",
    }
}

fn row(b: &Block, have_zones: bool) -> Row {
    let zones = match (&b.valid_zones, have_zones) {
        (Some(z), true) => z
            .split(' ')
            .filter(|w| !w.is_empty())
            .take(ZONE_NAMES.len() + 1)
            .map(|w| {
                let known = ZONE_NAMES.iter().find(|n| n.eq_ignore_ascii_case(w));
                known.copied().unwrap_or("Unknown")
            })
            .collect(),
        _ => Vec::new(),
    };
    Row {
        first: b.id,
        count: 1,
        state: state_text(&b.state),
        removable: b.removable,
        node: b.nodes.first().copied().unwrap_or(-1),
        zones,
    }
}

/// What lsmem learns from the lowest block: whether there are node links at all, and
/// whether `memory0/valid_zones` exists (lsmem's test for zone support).
struct Probe {
    have_nodes: bool,
    have_zones: bool,
}

fn probe(blocks: &Blocks) -> Probe {
    let first = blocks.list.first();
    Probe {
        have_nodes: first.is_some_and(|b| !b.nodes.is_empty()),
        have_zones: first.is_some_and(|b| b.id == 0 && b.valid_zones.is_some()),
    }
}

/// lsmem's `is_mergeable`: the next block, and no split column that differs (zones
/// also split at an "Unknown" zone).
fn mergeable(view: &View, p: &Probe, last: &Row, next: &Row) -> bool {
    let splits = |c| view.split.contains(&c);
    let differs = (splits(Column::State) && last.state != next.state)
        || (splits(Column::Removable) && last.removable != next.removable)
        || (splits(Column::Node) && p.have_nodes && last.node != next.node)
        || (splits(Column::Zones)
            && p.have_zones
            && (last.zones != next.zones || last.zones.contains(&"Unknown")));
    !view.all && last.first.checked_add(last.count) == Some(next.first) && !differs
}

fn rows(blocks: &Blocks, view: &View, p: &Probe) -> Vec<Row> {
    let mut rows: Vec<Row> = Vec::new();
    for b in &blocks.list {
        let next = row(b, p.have_zones);
        match rows.last_mut() {
            Some(last) if mergeable(view, p, last, &next) => last.count += 1,
            _ => rows.push(next),
        }
    }
    rows
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

/// One cell as lsmem fills it; empty where lsmem leaves the cell unset.
fn cell(c: Column, r: &Row, bs: u64, view: &View, p: &Probe) -> String {
    let start = r.first.saturating_mul(bs);
    let size = r.count.saturating_mul(bs);
    match c {
        Column::Range => format!(
            "0x{start:016x}-0x{:016x}",
            start.saturating_add(size).saturating_sub(1)
        ),
        Column::Size if view.bytes => size.to_string(),
        Column::Size => human_size(size),
        Column::State => r.state.to_string(),
        Column::Removable if r.state == "online" => {
            (if r.removable { "yes" } else { "no" }).to_string()
        }
        Column::Removable => String::new(),
        Column::Block if r.count == 1 => r.first.to_string(),
        Column::Block => format!("{}-{}", r.first, r.first.saturating_add(r.count - 1)),
        Column::Node if p.have_nodes => r.node.to_string(),
        Column::Zones if p.have_zones => r.zones.join("/"),
        Column::Node | Column::Zones => String::new(),
    }
}

/// libsmartcols' width: the widest cell, at least the header; a width hint (SIZE's 5)
/// widens a column only when its cells reach the header's width (so SIZE is 5 wide
/// for "128M" but 4 for "3G").
fn column_width(c: Column, cells: impl Iterator<Item = usize>) -> usize {
    let header = c.name().len();
    let widest = cells.max().unwrap_or(0);
    let hint = if c == Column::Size { 5 } else { 0 };
    if widest < header {
        header
    } else {
        widest.max(hint)
    }
}

fn human_table(view: &View, body: &[Vec<String>], out: &mut String) {
    let widths: Vec<usize> = (view.columns.iter().enumerate())
        .map(|(i, c)| column_width(*c, body.iter().map(|r| r[i].len())))
        .collect();
    let header: Vec<String> = view.columns.iter().map(|c| c.name().to_string()).collect();
    let head = (!view.noheadings).then_some(&header);
    for line in head.into_iter().chain(body) {
        let mut text = String::new();
        for (i, (value, c)) in line.iter().zip(&view.columns).enumerate() {
            if i > 0 {
                text.push(' ');
            }
            let w = widths[i];
            let _ = if c.right_aligned() {
                write!(text, "{value:>w$}")
            } else {
                write!(text, "{value:<w$}")
            };
        }
        out.push_str(text.trim_end());
        out.push('\n');
    }
}

/// A row as lsmem -J writes it: string cells, null when empty; NODE (and SIZE in
/// bytes) as numbers; REMOVABLE as a boolean.
struct JsonRow<'a> {
    view: &'a View,
    cells: &'a [String],
}

impl Serialize for JsonRow<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.cells.len()))?;
        for (c, v) in self.view.columns.iter().zip(self.cells) {
            let key = c.name().to_ascii_lowercase();
            let number = *c == Column::Node || (*c == Column::Size && self.view.bytes);
            if *c == Column::Removable {
                m.serialize_entry(&key, &(v == "yes"))?;
            } else if v.is_empty() {
                m.serialize_entry(&key, &())?;
            } else if let (true, Ok(n)) = (number, v.parse::<serde_json::Number>()) {
                // libsmartcols writes a number cell as it is.
                m.serialize_entry(&key, &n)?;
            } else {
                m.serialize_entry(&key, v)?;
            }
        }
        m.end()
    }
}

/// serde_json's pretty layout with libsmartcols' two differences: a 3-space indent
/// and array elements joined by `},{` on one line.
struct ScolsFormatter {
    pretty: serde_json::ser::PrettyFormatter<'static>,
}

impl serde_json::ser::Formatter for ScolsFormatter {
    fn begin_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.pretty.begin_array(w)
    }
    fn end_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.pretty.end_array(w)
    }
    fn begin_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        if first {
            self.pretty.begin_array_value(w, first)
        } else {
            w.write_all(b",")
        }
    }
    fn end_array_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.pretty.end_array_value(w)
    }
    fn begin_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.pretty.begin_object(w)
    }
    fn end_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.pretty.end_object(w)
    }
    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.pretty.begin_object_key(w, first)
    }
    fn begin_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.pretty.begin_object_value(w)
    }
    fn end_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.pretty.end_object_value(w)
    }
}

fn json(view: &View, body: &[Vec<String>], out: &mut String) {
    let rows: Vec<JsonRow> = body.iter().map(|cells| JsonRow { view, cells }).collect();
    let doc = std::collections::BTreeMap::from([("memory", rows)]);
    let mut buf = Vec::new();
    let fmt = ScolsFormatter {
        pretty: serde_json::ser::PrettyFormatter::with_indent(b"   "),
    };
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    // Writing into a Vec cannot fail, and every key is a string.
    let _ = doc.serialize(&mut ser);
    out.push_str(&String::from_utf8_lossy(&buf));
    out.push('\n');
}

/// The table in the view's format.
fn table(view: &View, body: &[Vec<String>], out: &mut String) {
    let names = || view.columns.iter().map(|c| c.name());
    match view.format {
        Format::Table => human_table(view, body, out),
        Format::Json => json(view, body, out),
        Format::Raw => {
            let head = names().map(String::from).collect::<Vec<_>>();
            for line in (!view.noheadings).then_some(&head).into_iter().chain(body) {
                say!(out, "{}", line.join(" "));
            }
        }
        Format::Pairs => {
            for line in body {
                let pairs: Vec<String> = names()
                    .zip(line)
                    .map(|(n, v)| format!("{n}=\"{v}\""))
                    .collect();
                say!(out, "{}", pairs.join(" "));
            }
        }
    }
}

/// The three summary lines (`%-23s %5s`, or `%15` digits with -b); lsmem counts
/// whole blocks, holes included.
fn summary(blocks: &Blocks, view: &View, out: &mut String) {
    let bs = blocks.block_size;
    let online = blocks.list.iter().filter(|b| b.state == "online").count() as u64;
    let offline = blocks.list.len() as u64 - online;
    for (label, bytes) in [
        ("Memory block size:", bs),
        ("Total online memory:", online.saturating_mul(bs)),
        ("Total offline memory:", offline.saturating_mul(bs)),
    ] {
        if view.bytes {
            say!(out, "{label:<23} {bytes:>15}");
        } else {
            say!(out, "{label:<23} {:>5}", human_size(bytes));
        }
    }
}

/// What lsmem prints for these blocks with these options.
pub fn render(blocks: &Blocks, view: &View) -> String {
    let p = probe(blocks);
    let mut out = String::new();
    if view.table {
        let body: Vec<Vec<String>> = rows(blocks, view, &p)
            .iter()
            .map(|r| {
                let bs = blocks.block_size;
                view.columns
                    .iter()
                    .map(|c| cell(*c, r, bs, view, &p))
                    .collect()
            })
            .collect();
        table(view, &body, &mut out);
        if view.summary {
            out.push('\n');
        }
    }
    if view.summary {
        summary(blocks, view, &mut out);
    }
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
    fn size_column_takes_its_hint_only_below_it() {
        assert_eq!(column_width(Column::Size, [2].into_iter()), 4);
        assert_eq!(column_width(Column::Size, [4].into_iter()), 5);
        assert_eq!(column_width(Column::Size, [6].into_iter()), 6);
        assert_eq!(column_width(Column::Node, [1].into_iter()), 4);
    }

    #[test]
    fn column_names_are_case_insensitive() {
        assert_eq!(Column::parse("zones"), Ok(Column::Zones));
        assert!(Column::parse("ZONE").is_err());
    }
}
