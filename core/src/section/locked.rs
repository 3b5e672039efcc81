//! Writer locks over a run of sections, taken in ascending section order (the one
//! ordering key every path uses for sections; see `order.rs`), released on drop.

use crate::addr::SectionNr;
use crate::section::table::Table;
use crate::section::Section;
use crate::sync::order::{Before, Held, Sections};

/// The section locks of `first..=last`. Every section of the run must have its leaf
/// (callers reserve leaves first), so that the set locked is exactly the set unlocked.
pub(crate) struct LockedSections<'a> {
    table: &'a Table,
    first: u64,
    last: u64,
    held: Held<Sections>,
}

impl<'a> LockedSections<'a> {
    /// Locks the run after the level `held` proves; `None` (holding nothing) when a
    /// section of it has no leaf.
    pub(crate) fn lock<P: Before<Sections>>(
        table: &'a Table,
        held: &'a mut Held<P>,
        first: SectionNr,
        last: SectionNr,
    ) -> Option<Self> {
        crate::map::commit::assert_preparing("section lock");
        if (first.0..=last.0).any(|nr| table.get(SectionNr(nr)).is_none()) {
            return None;
        }
        for nr in first.0..=last.0 {
            if let Some(s) = table.get(SectionNr(nr)) {
                s.lock_raw();
            }
        }
        Some(Self {
            table,
            first: first.0,
            last: last.0,
            held: held.then(),
        })
    }

    /// The locked sections with their numbers.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (SectionNr, &'a Section)> + '_ {
        (self.first..=self.last)
            .filter_map(|nr| self.table.get(SectionNr(nr)).map(|s| (SectionNr(nr), s)))
    }

    /// The token for locks after the sections (the zones lock).
    pub(crate) fn held(&mut self) -> &mut Held<Sections> {
        &mut self.held
    }
}

impl Drop for LockedSections<'_> {
    fn drop(&mut self) {
        for nr in self.first..=self.last {
            if let Some(s) = self.table.get(SectionNr(nr)) {
                s.unlock_raw();
            }
        }
    }
}
