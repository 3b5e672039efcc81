//! `PfnRange`: a half-open range of page frames, and the iterators that split one at
//! aligned boundaries (sections, blocks) or at boundaries a rule chooses (zones), so
//! that no caller writes its own splitting loop or boundary arithmetic.

use core::fmt;

use super::Pfn;

/// The page frames `[start, end)`. Empty when `end <= start`; nothing here can overflow
/// or panic, whatever the values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct PfnRange {
    /// The first pfn.
    pub start: Pfn,
    /// One past the last pfn.
    pub end: Pfn,
}

impl PfnRange {
    /// `[start, end)`.
    pub const fn new(start: Pfn, end: Pfn) -> Self {
        Self { start, end }
    }

    /// True when the range holds no pfn.
    pub const fn is_empty(self) -> bool {
        self.end.0 <= self.start.0
    }

    /// The number of pfns (0 when empty).
    pub const fn pages(self) -> u64 {
        self.end.0.saturating_sub(self.start.0)
    }

    /// The last pfn, or `None` when empty.
    pub const fn last(self) -> Option<Pfn> {
        if self.is_empty() {
            None
        } else {
            Some(Pfn(self.end.0.wrapping_sub(1)))
        }
    }

    /// True when `pfn` lies in the range.
    pub const fn contains(self, pfn: Pfn) -> bool {
        self.start.0 <= pfn.0 && pfn.0 < self.end.0
    }

    /// True when both ranges hold a common pfn.
    pub const fn intersects(self, other: PfnRange) -> bool {
        !self.is_empty()
            && !other.is_empty()
            && self.start.0 < other.end.0
            && other.start.0 < self.end.0
    }

    /// `start, start + step, …` while inside the range (`step` > 0).
    pub fn step_up(self, step: u64) -> impl Iterator<Item = Pfn> {
        let first = if self.is_empty() {
            None
        } else {
            Some(self.start)
        };
        core::iter::successors(first, move |p| p.checked_add(step.max(1)))
            .take_while(move |p| p.0 < self.end.0)
    }

    /// `last, last - step, …` while inside the range (`step` > 0).
    pub fn step_down(self, step: u64) -> impl Iterator<Item = Pfn> {
        core::iter::successors(self.last(), move |p| p.0.checked_sub(step.max(1)).map(Pfn))
            .take_while(move |p| p.0 >= self.start.0)
    }

    /// Pieces of the range that each lie in one aligned unit of `pages` pfns (a power
    /// of two: a sub-section, section or block), in ascending order.
    pub fn split_every(self, pages: u64) -> Split<impl FnMut(Pfn) -> Option<Pfn>> {
        let mask = pages.wrapping_sub(1);
        // The next boundary is the last pfn of the unit plus one; `None` past u64::MAX.
        self.split_at(move |p: Pfn| (p.0 | mask).checked_add(1).map(Pfn))
    }

    /// Pieces of the range cut where `next_boundary(piece_start)` says the piece that
    /// starts there must end (`None`: it runs to the end of the range).
    pub fn split_at<F: FnMut(Pfn) -> Option<Pfn>>(self, next_boundary: F) -> Split<F> {
        Split {
            rest: self,
            next_boundary,
        }
    }
}

impl fmt::Display for PfnRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pfns [{:#x}, {:#x})", self.start.0, self.end.0)
    }
}

/// The pieces of a [`PfnRange`], from [`PfnRange::split_every`] or
/// [`PfnRange::split_at`]. Every piece is non-empty; together they are the range.
#[derive(Clone, Debug)]
pub struct Split<F> {
    rest: PfnRange,
    next_boundary: F,
}

impl<F: FnMut(Pfn) -> Option<Pfn>> Iterator for Split<F> {
    type Item = PfnRange;

    fn next(&mut self) -> Option<PfnRange> {
        if self.rest.is_empty() {
            return None;
        }
        let start = self.rest.start;
        // A boundary at or before the start would make no progress: ignore it.
        let end = match (self.next_boundary)(start) {
            Some(b) if start < b && b < self.rest.end => b,
            _ => self.rest.end,
        };
        self.rest.start = end;
        Some(PfnRange { start, end })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    fn r(a: u64, b: u64) -> PfnRange {
        PfnRange::new(Pfn(a), Pfn(b))
    }

    #[test]
    fn split_every_cuts_at_aligned_boundaries_and_covers_the_range() {
        let pieces: Vec<_> = r(3, 21).split_every(8).collect();
        assert_eq!(pieces, [r(3, 8), r(8, 16), r(16, 21)]);
        assert_eq!(r(8, 16).split_every(8).collect::<Vec<_>>(), [r(8, 16)]);
        assert_eq!(r(5, 5).split_every(8).count(), 0);
        assert_eq!(r(9, 5).split_every(8).count(), 0);
    }

    #[test]
    fn split_every_ends_at_the_top_of_the_pfn_space() {
        let top = u64::MAX;
        let pieces: Vec<_> = r(top - 9, top).split_every(8).collect();
        assert_eq!(pieces, [r(top - 9, top - 7), r(top - 7, top)]);
    }

    #[test]
    fn split_at_ignores_boundaries_that_make_no_progress() {
        let stuck: Vec<_> = r(4, 10).split_at(Some).collect();
        assert_eq!(stuck, [r(4, 10)]);
        let zones: Vec<_> = r(0, 100)
            .split_at(|p| [16, 64].into_iter().map(Pfn).find(|b| p < *b))
            .collect();
        assert_eq!(zones, [r(0, 16), r(16, 64), r(64, 100)]);
    }

    #[test]
    fn steps_walk_inward_and_stop_at_the_ends() {
        let up: Vec<_> = r(10, 20).step_up(4).map(|p| p.0).collect();
        assert_eq!(up, [10, 14, 18]);
        let down: Vec<_> = r(10, 20).step_down(4).map(|p| p.0).collect();
        assert_eq!(down, [19, 15, 11]);
        assert_eq!(r(0, 3).step_down(4).map(|p| p.0).collect::<Vec<_>>(), [2]);
        assert_eq!(r(u64::MAX - 1, u64::MAX).step_up(4).count(), 1);
        assert_eq!(r(7, 7).step_down(1).count(), 0);
    }

    #[test]
    fn range_arithmetic_never_overflows() {
        assert_eq!(r(5, 2).pages(), 0);
        assert_eq!(r(5, 2).last(), None);
        assert_eq!(Pfn(u64::MAX - 1).range(5), r(u64::MAX - 1, u64::MAX));
        assert!(!r(0, 4).intersects(r(4, 8)));
        assert!(r(0, 5).intersects(r(4, 8)));
        assert!(!r(3, 3).intersects(r(0, 8)));
    }
}
