//! The two-level section table: a root array indexed by the high bits of the section
//! number, pointing (by index) into a fixed pool of leaves of consecutive sections.
//!
//! Like Linux's SPARSEMEM_EXTREME, a sparse 52-bit space costs only its root array until
//! it is populated. Unlike Linux, leaves live in static storage and are **never
//! recycled**: once a root entry names a leaf, it names it until `init`/`restore`, so a
//! lock-free reader can never follow a root entry into a leaf that was reused for other
//! sections (no ABA, no use-after-free: Linux's pfn_valid use-after-free, CVE-2023-52489, cannot happen: see docs/semantics.md, "Inline usage maps, never freed").

use crate::sync::{array_of, maybe_const_fn, AtomicU16, AtomicU32, AtomicUsize, Ordering};

use crate::addr::SectionNr;
use crate::capacity::{MAX_LEAVES, MAX_SECTION_NR_BITS, SECTIONS_PER_LEAF};
use crate::error::{Error, Result};
use crate::section::Section;
use crate::sync::order::{Assign, Before, Guard, Held, OrderedLock, Sections};

/// Leaves in the pool (build.rs rounds the section slots up to whole leaves).
pub(crate) const NR_LEAVES: usize = MAX_LEAVES;
/// Root entries: one per leaf-sized run of section numbers.
pub(crate) const NR_ROOTS: usize = {
    let n = (1usize << MAX_SECTION_NR_BITS) / SECTIONS_PER_LEAF;
    if n == 0 {
        1
    } else {
        n
    }
};
const LEAF_SHIFT: u32 = SECTIONS_PER_LEAF.trailing_zeros();
/// The leaf (root index) a section number belongs to.
pub(crate) const fn leaf_of(nr: u64) -> u64 {
    nr >> LEAF_SHIFT
}
const _: () = assert!(
    NR_LEAVES < u16::MAX as usize,
    "leaf indices are stored in 16 bits"
);

const _: () = assert!(
    NR_ROOTS < u32::MAX as usize,
    "root indices are stored in 32 bits"
);

/// A leaf: `SECTIONS_PER_LEAF` consecutive sections.
#[derive(Debug)]
pub(crate) struct Leaf {
    /// The root index this leaf serves, plus one (0: unused). Stored (Release) under
    /// the assignment lock before the root entry, `used` and the link of the leaf
    /// before it name the leaf; loaded with Acquire by walks.
    root: AtomicU32,
    /// The pool index, plus one, of the used leaf with the next higher sections (0:
    /// none), so that a walk in ascending order follows links instead of searching the
    /// pool for each next leaf. Only leaf assignment writes it, under the assignment
    /// lock: a new leaf's own link first, then (Release) the link of the leaf before
    /// it; loaded with Acquire, so a walk that follows a link sees the leaf's `root`
    /// and its own link. Links only ever gain leaves until `reset` (alone).
    next: AtomicU32,
    pub(crate) sections: [Section; SECTIONS_PER_LEAF],
}

impl Leaf {
    maybe_const_fn! {
        fn new() -> Self {
            Self {
                root: AtomicU32::new(0),
                next: AtomicU32::new(0),
                sections: array_of![Section::new(); SECTIONS_PER_LEAF],
            }
        }
    }
    /// The first section number of this leaf, if it is in use.
    fn first_section(&self) -> Option<u64> {
        let r = self.root.load(Ordering::Acquire).checked_sub(1)?;
        Some(u64::from(r) << LEAF_SHIFT)
    }
}

/// The section table.
#[derive(Debug)]
pub(crate) struct Table {
    /// Leaf index + 1 per root (0: no leaf). Ordering: a root entry is stored with
    /// Release after the leaf's `root` field, and loaded with Acquire; leaf contents are
    /// atomics that start zero and are never recycled, so nothing else needs ordering.
    roots: [AtomicU16; NR_ROOTS],
    /// Leaves handed out so far (only grows until `reset`). Stored (Release) under
    /// `assign` after the new leaf's `root`; loaded with Acquire by walks, so a walk
    /// that counts a leaf also sees which root it serves.
    used: AtomicUsize,
    /// Serialises leaf assignment (rare: once per 16 GiB populated).
    assign: OrderedLock<Assign>,
    leaves: [Leaf; NR_LEAVES],
}

impl Table {
    maybe_const_fn! {
        pub(crate) fn new() -> Self {
            Self {
                roots: array_of![AtomicU16::new(0); NR_ROOTS],
                used: AtomicUsize::new(0),
                assign: OrderedLock::new(),
                leaves: array_of![Leaf::new(); NR_LEAVES],
            }
        }
    }

    fn split(nr: SectionNr) -> (usize, usize) {
        let root = nr.0 >> LEAF_SHIFT;
        let root = usize::try_from(root).unwrap_or(usize::MAX);
        let slot = (nr.0 as usize) & (SECTIONS_PER_LEAF - 1);
        (root, slot)
    }

    /// The section entry, if its leaf exists. Wait-free: two loads.
    #[inline]
    pub(crate) fn get(&self, nr: SectionNr) -> Option<&Section> {
        let (root, slot) = Self::split(nr);
        // An empty root entry (0) wraps to usize::MAX, which the pool's bounds check
        // refuses: one compare for both cases on the lookup path.
        let leaf = usize::from(self.roots.get(root)?.load(Ordering::Acquire)).wrapping_sub(1);
        self.leaves.get(leaf)?.sections.get(slot)
    }

    /// The section entry, assigning its leaf if needed. `NoMem` when the pool is empty.
    pub(crate) fn get_or_assign<P: Before<Assign>>(
        &self,
        held: &mut Held<P>,
        nr: SectionNr,
    ) -> Result<&Section> {
        if let Some(s) = self.get(nr) {
            return Ok(s);
        }
        let (root, slot) = Self::split(nr);
        let entry = self.roots.get(root).ok_or(Error::Inval)?;
        let _g = self.assign.lock(held);
        if entry.load(Ordering::Acquire) == 0 {
            let idx = self.used.load(Ordering::Relaxed);
            let leaf = self.leaves.get(idx).ok_or(Error::NoMem)?;
            let first = (root as u64) << LEAF_SHIFT;
            let before = self.leaf_before(first, idx);
            // The new leaf's successor: its predecessor's, or the lowest leaf of all.
            let after = before.map_or_else(
                || {
                    self.lowest_above(Some(first))
                        .map_or(0, |(_, i)| (i as u32).wrapping_add(1))
                },
                |b| b.next.load(Ordering::Relaxed),
            );
            leaf.root
                .store((root as u32).wrapping_add(1), Ordering::Release);
            leaf.next.store(after, Ordering::Release);
            self.used.store(idx.wrapping_add(1), Ordering::Release);
            if let Some(b) = before {
                b.next
                    .store((idx as u32).wrapping_add(1), Ordering::Release);
            }
            entry.store(idx.wrapping_add(1) as u16, Ordering::Release);
        }
        let leaf = usize::from(entry.load(Ordering::Acquire)).wrapping_sub(1);
        self.leaves
            .get(leaf)
            .and_then(|l| l.sections.get(slot))
            .ok_or(Error::NoMem)
    }

    /// Leaves still free.
    pub(crate) fn free_leaves(&self) -> usize {
        NR_LEAVES.saturating_sub(self.used.load(Ordering::Acquire))
    }

    /// Assigns leaves for every section in `first..=last`, all or none: checks
    /// capacity first, so a `NoMem` leaves no new leaf behind.
    pub(crate) fn reserve<P: Before<Assign>>(
        &self,
        held: &mut Held<P>,
        first: SectionNr,
        last: SectionNr,
    ) -> Result<()> {
        crate::map::commit::assert_preparing("leaf reservation");
        let (r0, _) = Self::split(first);
        let (r1, _) = Self::split(last);
        if r1 >= NR_ROOTS || r0 > r1 {
            return Err(Error::Inval);
        }
        let missing = (r0..=r1)
            .filter(|r| {
                self.roots
                    .get(*r)
                    .is_some_and(|e| e.load(Ordering::Acquire) == 0)
            })
            .count();
        if missing > self.free_leaves() {
            return Err(Error::NoMem);
        }
        for r in r0..=r1 {
            self.get_or_assign(held, SectionNr((r as u64) << LEAF_SHIFT))?;
        }
        Ok(())
    }

    /// The used leaf (among the first `used`) with the highest first section below
    /// `first`: the one a new leaf for `first` is linked after. Leaves are mostly
    /// assigned in ascending order (boot, hot-add upwards), so the last one assigned is
    /// tried first: when its sections lie below `first` and no leaf follows it, it is
    /// the one; otherwise a search of the pool (assignment is rare: once per leaf).
    fn leaf_before(&self, first: u64, used: usize) -> Option<&Leaf> {
        let last = self.leaves.get(used.checked_sub(1)?)?;
        if last.next.load(Ordering::Relaxed) == 0 && last.first_section().is_some_and(|f| f < first)
        {
            return Some(last);
        }
        let mut best: Option<(u64, &Leaf)> = None;
        for leaf in self.leaves.iter().take(used) {
            let Some(f) = leaf.first_section().filter(|f| *f < first) else {
                continue;
            };
            if best.is_none_or(|(b, _)| f > b) {
                best = Some((f, leaf));
            }
        }
        best.map(|(_, l)| l)
    }

    /// The leaf after `leaf` in ascending section order, by its link.
    fn linked_next(&self, leaf: &Leaf) -> Option<(u64, &Leaf)> {
        let next = self
            .leaves
            .get((leaf.next.load(Ordering::Acquire) as usize).checked_sub(1)?)?;
        Some((next.first_section()?, next))
    }

    /// The used leaf with the lowest first section above `after` (None: from 0), by
    /// a search of the pool: O(leaves in use), once per walk (walks then follow the
    /// links), so they cost in proportion to what is populated, not to the address
    /// space.
    fn next_leaf(&self, after: Option<u64>) -> Option<(u64, &Leaf)> {
        let (first, idx) = self.lowest_above(after)?;
        Some((first, self.leaves.get(idx)?))
    }

    /// `next_leaf`'s search: the first section and pool index of that leaf.
    fn lowest_above(&self, after: Option<u64>) -> Option<(u64, usize)> {
        let used = self.used.load(Ordering::Acquire);
        let mut best: Option<(u64, usize)> = None;
        for (idx, leaf) in self.leaves.iter().enumerate().take(used) {
            let Some(first) = leaf.first_section() else {
                continue;
            };
            if after.is_some_and(|a| first <= a) {
                continue;
            }
            if best.is_none_or(|(b, _)| first < b) {
                best = Some((first, idx));
            }
        }
        best
    }

    /// The first section entry with number >= `from` whose leaf exists and that
    /// satisfies `pred`, with its number.
    pub(crate) fn find_from(
        &self,
        from: SectionNr,
        pred: impl Fn(&Section) -> bool,
    ) -> Option<(SectionNr, &Section)> {
        let leaf_first = from.0 & !((SECTIONS_PER_LEAF as u64).wrapping_sub(1));
        let mut cur = self.leaf_at(leaf_first).map(|l| (leaf_first, l));
        if cur.is_none() {
            cur = self.next_leaf(Some(leaf_first));
        }
        while let Some((first, leaf)) = cur {
            // In the leaf holding `from`, start at its slot (a walk asks once per pfn).
            let skip = usize::try_from(from.0.saturating_sub(first)).unwrap_or(usize::MAX);
            for (i, s) in leaf.sections.iter().enumerate().skip(skip) {
                if pred(s) {
                    return Some((SectionNr(first.wrapping_add(i as u64)), s));
                }
            }
            cur = self.linked_next(leaf);
        }
        None
    }

    fn leaf_at(&self, first: u64) -> Option<&Leaf> {
        let (root, _) = Self::split(SectionNr(first));
        let idx = usize::from(self.roots.get(root)?.load(Ordering::Acquire)).checked_sub(1)?;
        self.leaves.get(idx)
    }

    /// Visits every section entry of every assigned leaf in ascending section order.
    pub(crate) fn for_each(&self, mut f: impl FnMut(SectionNr, &Section)) {
        self.for_each_leaf(|first, leaf| {
            for (i, s) in leaf.sections.iter().enumerate() {
                f(SectionNr(first.wrapping_add(i as u64)), s);
            }
        });
    }

    /// Locks every section of every assigned leaf, in ascending section order (the
    /// order every other writer uses), and holds off leaf assignment until the
    /// returned value is dropped, so that nothing in the table changes meanwhile
    /// (snapshots).
    pub(crate) fn lock_all<'a, P: Before<Assign>>(
        &'a self,
        held: &'a mut Held<P>,
    ) -> AllLocked<'a> {
        let mut assign = self.assign.lock(held);
        let sections = assign.held().then();
        self.for_each_leaf(|_, leaf| leaf.sections.iter().for_each(Section::lock_raw));
        AllLocked {
            table: self,
            sections,
            _assign: assign,
        }
    }

    /// Visits every assigned leaf in ascending section order.
    fn for_each_leaf(&self, mut f: impl FnMut(u64, &Leaf)) {
        let mut cur = self.next_leaf(None);
        while let Some((first, leaf)) = cur {
            f(first, leaf);
            cur = self.linked_next(leaf);
        }
    }

    /// True while leaf assignment is locked (tests).
    #[cfg(test)]
    pub(crate) fn assign_locked(&self) -> bool {
        self.assign.is_locked()
    }

    /// Forgets every leaf (init and restore only; never concurrent with other calls).
    pub(crate) fn reset(&self) {
        let used = self.used.load(Ordering::Relaxed);
        for leaf in self.leaves.iter().take(used) {
            if let Some(first) = leaf.first_section() {
                let (root, _) = Self::split(SectionNr(first));
                if let Some(e) = self.roots.get(root) {
                    e.store(0, Ordering::Relaxed);
                }
            }
            leaf.root.store(0, Ordering::Relaxed);
            leaf.next.store(0, Ordering::Relaxed);
            for s in &leaf.sections {
                s.reset();
            }
        }
        self.used.store(0, Ordering::Release);
    }
}

/// Every section lock of the table, and the leaf-assignment lock (see
/// [`Table::lock_all`]).
pub(crate) struct AllLocked<'a> {
    table: &'a Table,
    sections: Held<Sections>,
    _assign: Guard<'a, Assign>,
}

impl AllLocked<'_> {
    /// The token for locks after the sections (the zones lock).
    pub(crate) fn held(&mut self) -> &mut Held<Sections> {
        &mut self.sections
    }
}

impl Drop for AllLocked<'_> {
    fn drop(&mut self) {
        // The leaves are those locked: assignment is held off until after this.
        self.table
            .for_each_leaf(|_, leaf| leaf.sections.iter().for_each(Section::unlock_raw));
    }
}
