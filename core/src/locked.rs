//! Writer locks over a run of sections, taken in ascending section order (the one lock
//! order every multi-section writer uses, so writers never deadlock), released on drop.

use crate::addr::SectionNr;
use crate::section::Section;
use crate::table::Table;

/// The section locks of `first..=last`. Every section of the run must have its leaf
/// (callers reserve leaves first), so that the set locked is exactly the set unlocked.
pub(crate) struct LockedSections<'a> {
    table: &'a Table,
    first: u64,
    last: u64,
}

impl<'a> LockedSections<'a> {
    /// Locks the run; `None` (holding nothing) when a section of it has no leaf.
    pub(crate) fn lock(table: &'a Table, first: SectionNr, last: SectionNr) -> Option<Self> {
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
        })
    }

    /// The locked sections with their numbers.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (SectionNr, &'a Section)> + '_ {
        (self.first..=self.last)
            .filter_map(|nr| self.table.get(SectionNr(nr)).map(|s| (SectionNr(nr), s)))
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
