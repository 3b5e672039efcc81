//! The flat valid bitmap: one bit per sub-section for the low part of the address
//! space (`capacity::FLAT_VALID_SUBSECTIONS` of them, sized at build time), so that
//! `pfn_valid` below its limit is one load and a bit test, as a flat table's lookup is.
//! Above the limit the two-level table answers.
//!
//! A bit is the table's `pfn_valid` answer for its sub-section: set for every
//! sub-section of an early section and for every active one of a valid section.
//!
//! # Kept in step with the table
//!
//! The bitmap holds a subset of the table's valid sub-sections at every instant:
//! writers set a bit only after the table says valid (after VALID and the state are
//! published) and clear it before the table stops saying so (before VALID or the state
//! is cleared). So a reader that loads a set bit loads a sub-section that was valid in
//! the table at that moment, and one that loads a clear bit loads one that was invalid,
//! or is being added (the answer before the add) or removed (the answer after the
//! removal): every answer is the table's before or after the concurrent call, as every
//! other per-pfn answer is (`sync/concurrency.rs`). The writers are the places that
//! change a sub-section's valid state, each holding that sub-section: boot (before the
//! Running phase), RAM add and remove (section locks), device add and remove (section
//! locks, or the claim of the sub-section fast path, see [`FlatValid::claim_clear`]),
//! init and restore (alone). `tests/flat_valid.rs` compares the bitmap's answers with
//! the table's over every pfn of the test machines; `tests/loom.rs` races a reader
//! against the writers.
//!
//! # Published to C
//!
//! The first fields are the lookup description of the C ABI (`smem_lookup`, version
//! [`LOOKUP_VERSION`]): with them an inline C function reads the bitmap directly, as
//! Linux's inline `pfn_valid` reads `mem_section`. They are written by `init` only,
//! which happens-before every other call by contract: Relaxed.

use crate::addr::SectionNr;
use crate::capacity::FLAT_VALID_SUBSECTIONS;
use crate::section::geometry::Geometry;
use crate::sync::{array_of, maybe_const_fn, AtomicU32, AtomicUsize, Ordering};

/// The layout version of the lookup description (`SMEM_LOOKUP_VERSION`): changes
/// whenever a field or the meaning of the bitmap changes.
pub const LOOKUP_VERSION: u32 = 1;

/// Bits per bitmap word (the target's `usize`, so no 64-bit atomics are needed).
pub(crate) const WORD_BITS: u64 = usize::BITS as u64;
/// Bitmap words.
const WORDS: usize = FLAT_VALID_SUBSECTIONS.div_ceil(usize::BITS as usize);

/// The flat valid bitmap and its lookup description ([`crate::SparseMap::flat_valid`]).
///
/// `repr(C)`, and its first four fields are `u32`-sized atomics, the C ABI's
/// `smem_lookup`: `version` ([`LOOKUP_VERSION`] once the map is initialised, else 0),
/// `subsection_pfn_shift` (a pfn's sub-section is `pfn >> subsection_pfn_shift`),
/// `covered_shift` (the bitmap covers sub-sections below `1 << covered_shift`) and
/// `words_offset` (the bitmap's `usize` words start this many bytes from the start of
/// the `SparseMap`, so that a reader may keep a copy of the four fields;
/// sub-section `i` is bit `i % usize::BITS` of word `i / usize::BITS`). A set bit is a
/// valid sub-section; the bits change with atomic read-modify-writes and must be read
/// with atomic (Acquire) loads.
#[derive(Debug)]
#[repr(C)]
pub struct FlatValid {
    /// `LOOKUP_VERSION` once the map is initialised, 0 before.
    version: AtomicU32,
    /// log2 of pages per sub-section: a pfn's bit is `pfn >> subsection_pfn_shift`.
    /// 0 before `init`, when every bit is clear.
    subsection_pfn_shift: AtomicU32,
    /// log2 of the sub-sections the bitmap covers (`FLAT_VALID_SUBSECTIONS`).
    covered_shift: AtomicU32,
    /// Offset in bytes of `words` from the start of the map holding this struct.
    words_offset: AtomicU32,
    /// Bit `i % WORD_BITS` of word `i / WORD_BITS`: sub-section `i` is valid.
    /// Ordering: set (Release) after the table publishes the sub-section as valid,
    /// cleared (Release) before it stops being valid; readers load with Acquire, so a
    /// reader that sees a bit set also sees the table state published before it.
    words: [AtomicUsize; WORDS],
}

const _: () = assert!(FLAT_VALID_SUBSECTIONS.is_power_of_two());

impl FlatValid {
    maybe_const_fn! {
        /// An all-clear bitmap with an empty description (an uninitialised map).
        pub(crate) fn new() -> Self {
            Self {
                version: AtomicU32::new(0),
                subsection_pfn_shift: AtomicU32::new(0),
                covered_shift: AtomicU32::new(0),
                words_offset: AtomicU32::new(0),
                words: array_of![AtomicUsize::new(0); WORDS],
            }
        }
    }

    /// `LOOKUP_VERSION` once the map is initialised, 0 before.
    pub fn version(&self) -> u32 {
        self.version.load(Ordering::Relaxed)
    }
    /// log2 of pages per sub-section (0 before `init`).
    pub fn subsection_pfn_shift(&self) -> u32 {
        self.subsection_pfn_shift.load(Ordering::Relaxed)
    }
    /// log2 of the sub-sections the bitmap covers (0 before `init`).
    pub fn covered_shift(&self) -> u32 {
        self.covered_shift.load(Ordering::Relaxed)
    }
    /// Offset in bytes of the bitmap's words from the start of the `SparseMap` (0
    /// before `init`).
    pub fn words_offset(&self) -> u32 {
        self.words_offset.load(Ordering::Relaxed)
    }

    /// Publishes the description for a map whose sub-sections are `2^shift` pages and
    /// which holds this struct `at` bytes from its start (`init` only).
    pub(crate) fn describe(&self, subsection_pfn_shift: u32, at: usize) {
        self.subsection_pfn_shift
            .store(subsection_pfn_shift, Ordering::Relaxed);
        self.covered_shift
            .store(FLAT_VALID_SUBSECTIONS.trailing_zeros(), Ordering::Relaxed);
        let offset = at.wrapping_add(core::mem::offset_of!(FlatValid, words));
        self.words_offset
            .store(u32::try_from(offset).unwrap_or(0), Ordering::Relaxed);
        self.version.store(LOOKUP_VERSION, Ordering::Relaxed);
    }

    /// The bitmap's answer for `pfn`, or `None` above the bitmap (ask the table).
    /// One load of the shift and one of the word.
    #[inline]
    pub(crate) fn pfn_valid(&self, pfn: u64) -> Option<bool> {
        self.valid_at(self.subsection_of(pfn))
    }

    /// The sub-section of `pfn`, the bit index of both flat bitmaps (this one and the
    /// online bitmap, `section/flat_online.rs`): one load of the shift.
    #[inline]
    pub(crate) fn subsection_of(&self, pfn: u64) -> u64 {
        pfn.wrapping_shr(self.subsection_pfn_shift.load(Ordering::Relaxed))
    }

    /// The bit of sub-section `i`, or `None` above the bitmap.
    #[inline]
    pub(crate) fn valid_at(&self, i: u64) -> Option<bool> {
        if i >= FLAT_VALID_SUBSECTIONS as u64 {
            return None;
        }
        let w = self.words.get((i / WORD_BITS) as usize)?;
        Some(w.load(Ordering::Acquire) >> (i % WORD_BITS) & 1 != 0)
    }

    /// Sets the bits of sub-sections `first..=last` (those the bitmap covers), one
    /// read-modify-write per word. Call after the table publishes them as valid.
    pub(crate) fn set(&self, first: u64, last: u64) {
        self.for_each_word(first, last, |w, mask| {
            w.fetch_or(mask, Ordering::Release);
        });
    }

    /// Clears the bits of sub-sections `first..=last`. Call before the table stops
    /// publishing them as valid.
    pub(crate) fn clear(&self, first: u64, last: u64) {
        self.for_each_word(first, last, |w, mask| {
            w.fetch_and(!mask, Ordering::Release);
        });
    }

    /// Clears sub-sections `first..=last`, which lie in one bitmap word, only if all
    /// their bits are set, in one compare-and-swap: the claim of a fast device remover
    /// (`map/device.rs`), which clears its bits before its states and must not clear
    /// them when it does not own the sub-sections (another remover's claim won, or an
    /// add has not set them yet). `true`: cleared; `false`: nothing changed. Above
    /// the bitmap there is nothing to clear: `true`.
    pub(crate) fn claim_clear(&self, first: u64, last: u64) -> bool {
        let end = (FLAT_VALID_SUBSECTIONS as u64).wrapping_sub(1);
        if first > end {
            return true;
        }
        let last = last.min(end);
        // One word or nothing: a claim over two words could win one and lose the other.
        if first / WORD_BITS != last / WORD_BITS {
            return false;
        }
        let mut claimed = false;
        self.for_each_word(first, last, |w, mask| {
            let mut cur = w.load(Ordering::Relaxed);
            while cur & mask == mask {
                match w.compare_exchange_weak(
                    cur,
                    cur & !mask,
                    Ordering::Release,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        claimed = true;
                        return;
                    }
                    Err(v) => cur = v,
                }
            }
        });
        claimed
    }

    /// Calls `f(word, mask)` for every word holding bits of `first..=last` below the
    /// bitmap's end, with the mask of those bits.
    fn for_each_word(&self, first: u64, last: u64, f: impl FnMut(&AtomicUsize, usize)) {
        for_each_word(&self.words, first, last, f);
    }

    /// Sets the bits of sub-sections `first..=last` of section `nr`.
    pub(crate) fn set_in(&self, g: &Geometry, nr: SectionNr, first: u32, last: u32) {
        let base = nr.0.wrapping_shl(g.subsections_shift());
        self.set(
            base.wrapping_add(u64::from(first)),
            base.wrapping_add(u64::from(last)),
        );
    }

    /// Clears the bits of sub-sections `first..=last` of section `nr`.
    pub(crate) fn clear_in(&self, g: &Geometry, nr: SectionNr, first: u32, last: u32) {
        let base = nr.0.wrapping_shl(g.subsections_shift());
        self.clear(
            base.wrapping_add(u64::from(first)),
            base.wrapping_add(u64::from(last)),
        );
    }

    /// The claim of `claim_clear` for sub-sections `first..=last` of section `nr`.
    pub(crate) fn claim_clear_in(
        &self,
        g: &Geometry,
        nr: SectionNr,
        first: u32,
        last: u32,
    ) -> bool {
        let base = nr.0.wrapping_shl(g.subsections_shift());
        self.claim_clear(
            base.wrapping_add(u64::from(first)),
            base.wrapping_add(u64::from(last)),
        )
    }

    /// Sets every bit of section `nr` (an early section, or one that is all RAM).
    pub(crate) fn set_section(&self, g: &Geometry, nr: SectionNr) {
        self.set_in(g, nr, 0, g.subsections_per_section().wrapping_sub(1));
    }

    /// Clears every bit of section `nr`.
    pub(crate) fn clear_section(&self, g: &Geometry, nr: SectionNr) {
        self.clear_in(g, nr, 0, g.subsections_per_section().wrapping_sub(1));
    }

    /// Sets (`set`) or clears the bits of sub-sections `first..=last` of section `nr`
    /// by plain loads and stores: for writers that run alone (`init`, `restore`,
    /// `boot_finish`'s commit).
    pub(crate) fn write_alone(
        &self,
        g: &Geometry,
        nr: SectionNr,
        first: u32,
        last: u32,
        set: bool,
    ) {
        write_alone(&self.words, g, nr, (first, last), set);
    }

    /// True when every bit is clear (tests).
    #[cfg(all(test, not(loom)))]
    pub(crate) fn is_clear(&self) -> bool {
        self.words.iter().all(|w| w.load(Ordering::Relaxed) == 0)
    }
}

/// Sets (`set`) or clears the bits of sub-sections `first..=last` of section `nr` of
/// the bitmap `words` by a load and a store per word: for writers that run alone (`init`,
/// `restore`, `boot_finish`'s commit, before any other writer may run), so no locked
/// read-modify-write is needed; Release, so a reader that sees a bit sees the table
/// state written before it. Shared by the valid and the online bitmap.
pub(crate) fn write_alone(
    words: &[AtomicUsize],
    g: &Geometry,
    nr: SectionNr,
    (first, last): (u32, u32),
    set: bool,
) {
    let base = nr.0.wrapping_shl(g.subsections_shift());
    let (a, b) = (
        base.wrapping_add(u64::from(first)),
        base.wrapping_add(u64::from(last)),
    );
    for_each_word(words, a, b, |w, mask| {
        let cur = w.load(Ordering::Relaxed);
        w.store(
            if set { cur | mask } else { cur & !mask },
            Ordering::Release,
        );
    });
}

/// Calls `f(word, mask)` for every word of the bitmap `words` (bit `i % usize::BITS` of
/// word `i / usize::BITS`) that holds bits of `first..=last`, with the mask of those
/// bits; bits beyond the last word are ignored. Shared by the valid and the online
/// bitmap.
pub(crate) fn for_each_word(
    words: &[AtomicUsize],
    first: u64,
    last: u64,
    mut f: impl FnMut(&AtomicUsize, usize),
) {
    let end = (words.len() as u64).wrapping_mul(WORD_BITS);
    if end == 0 {
        return;
    }
    let last = last.min(end.wrapping_sub(1));
    let mut i = first;
    while i <= last {
        let word_last = i | (WORD_BITS - 1);
        let hi = last.min(word_last);
        let bits = hi.wrapping_sub(i).wrapping_add(1);
        let ones = if bits >= WORD_BITS {
            usize::MAX
        } else {
            (1usize << bits).wrapping_sub(1)
        };
        if let Some(w) = words.get((i / WORD_BITS) as usize) {
            f(w, ones << (i % WORD_BITS));
        }
        match word_last.checked_add(1) {
            Some(n) => i = n,
            None => break,
        }
    }
}
