//! The flat bitmaps against the table: `pfn_valid` answers from the valid bitmap below
//! its limit (`capacity::FLAT_VALID_SUBSECTIONS` sub-sections) and `pfn_online` from
//! the online bitmap for wholly online sub-sections, `pfn_info(..).valid` and
//! `pfn_info(..).online` always from the two-level table, so comparing them compares
//! the bitmaps with the table they must mirror.

use sparsemem::{Pfn, SparseMap};

/// The table's `pfn_valid` answer: `pfn_info(..).valid`, false for an absent section.
pub fn table_valid(map: &SparseMap, pfn: Pfn) -> bool {
    map.pfn_info(pfn).is_ok_and(|i| i.valid)
}

/// The table's `pfn_online` answer: `pfn_info(..).online`, false for an absent
/// section.
pub fn table_online(map: &SparseMap, pfn: Pfn) -> bool {
    map.pfn_info(pfn).is_ok_and(|i| i.online)
}

/// The first pfn in `pfns` (taken every `step`) where `pfn_valid` and the table
/// disagree, with both answers: `(pfn, pfn_valid, table)`.
pub fn first_disagreement(
    map: &SparseMap,
    pfns: core::ops::Range<u64>,
    step: u64,
) -> Option<(u64, bool, bool)> {
    pfns.step_by(step as usize)
        .find_map(|p| disagreement(map, p))
}

/// `(pfn, pfn_valid, table)` when `pfn_valid` and the table disagree at `p`.
fn disagreement(map: &SparseMap, p: u64) -> Option<(u64, bool, bool)> {
    let (fast, table) = (map.pfn_valid(Pfn(p)), table_valid(map, Pfn(p)));
    (fast != table).then_some((p, fast, table))
}

/// `(pfn, pfn_online, table)` when `pfn_online` and the table disagree at `p`.
fn online_disagreement(map: &SparseMap, p: u64) -> Option<(u64, bool, bool)> {
    let (fast, table) = (map.pfn_online(Pfn(p)), table_online(map, Pfn(p)));
    (fast != table).then_some((p, fast, table))
}

/// The pfns below the bitmap's limit in `map`'s geometry (all of them when the
/// bitmap covers the whole address space), capped at `cap`.
pub fn covered_pfns(map: &SparseMap, cap: u64) -> u64 {
    let g = map.geometry();
    let covered = (sparsemem::capacity::FLAT_VALID_SUBSECTIONS as u64)
        .checked_shl(g.pfn_subsection_shift())
        .unwrap_or(u64::MAX);
    covered.min(g.pfn_limit()).min(cap)
}

/// Panics unless `pfn_valid` and `pfn_online` agree with the table at every `step`-th
/// pfn of `pfns` and at the last pfn of every sub-section `step` skips over.
pub fn assert_agrees(map: &SparseMap, pfns: core::ops::Range<u64>, step: u64, what: &str) {
    let sub = map.geometry().pages_per_subsection();
    let ends = (pfns.start / sub..pfns.end.div_ceil(sub)).map(|s| s * sub + sub - 1);
    let asked = || {
        pfns.clone()
            .step_by(step as usize)
            .chain(ends.clone().filter(|p| pfns.contains(p)))
    };
    if let Some((p, fast, table)) = asked().find_map(|p| disagreement(map, p)) {
        panic!("{what}: pfn_valid({p:#x}) = {fast}, but the table says {table}");
    }
    if let Some((p, fast, table)) = asked().find_map(|p| online_disagreement(map, p)) {
        panic!("{what}: pfn_online({p:#x}) = {fast}, but the table says {table}");
    }
}
