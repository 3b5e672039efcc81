//! The flat online bitmap: one bit per sub-section for the low part of the address
//! space (`capacity::FLAT_ONLINE_SUBSECTIONS` of them, sized at build time), set when
//! every page of the sub-section is online, so that `pfn_online` of such a page is one
//! load and a bit test, as `pfn_valid` is with the flat valid bitmap (`section/flat.rs`,
//! whose sub-section shift it shares).
//!
//! A clear bit answers nothing by itself: the sub-section is offline, not System RAM,
//! or only partly online (boot holes, the pages carrying a block's own memmap,
//! fake-offline marks). `pfn_online` then asks the valid bitmap (not valid: not online)
//! and, for a valid sub-section, the table.
//!
//! # Kept in step with the table
//!
//! A set bit is a sub-section every page of which the table answers online at that
//! instant: writers set a bit only after the table says so (after the ONLINE flag, the
//! block record and the marks are published) and clear it before any page of it stops
//! being online (before ONLINE is cleared or a mark is set). So a reader that loads a
//! set bit answers what the table answered at that moment. Every writer holds the
//! hotplug lock (block online and offline, fake-offline marks, removal) or runs alone
//! (boot before the Running phase, `init`, `restore`): device writers never change a
//! page's online answer and never touch this bitmap. Which sub-sections are wholly
//! online is the map's to say (`map/flat_bitmaps.rs`); `tests/flat_valid.rs` compares
//! the bitmap with the table's answers on the test machines after every kind of change,
//! and the loom model `flat_online_against_offline_and_fake_offline` races a reader
//! against the writers.

use crate::addr::SectionNr;
use crate::capacity::FLAT_ONLINE_SUBSECTIONS;
use crate::section::flat::{for_each_word, write_alone, WORD_BITS};
use crate::section::geometry::Geometry;
use crate::sync::{array_of, maybe_const_fn, AtomicUsize, Ordering};

/// Bitmap words.
const WORDS: usize = FLAT_ONLINE_SUBSECTIONS.div_ceil(usize::BITS as usize);

const _: () = assert!(FLAT_ONLINE_SUBSECTIONS.is_power_of_two());

/// The flat online bitmap (see the module).
#[derive(Debug)]
pub(crate) struct FlatOnline {
    /// Bit `i % WORD_BITS` of word `i / WORD_BITS`: every page of sub-section `i` is
    /// online. Ordering: set (Release) after the table publishes the pages online,
    /// cleared (Release) before any of them stops being online; loaded with Acquire,
    /// as the valid bitmap is.
    words: [AtomicUsize; WORDS],
}

impl FlatOnline {
    maybe_const_fn! {
        /// An all-clear bitmap (an uninitialised map).
        pub(crate) fn new() -> Self {
            Self {
                words: array_of![AtomicUsize::new(0); WORDS],
            }
        }
    }

    /// True when sub-section `i` (a pfn's `FlatValid::subsection_of`) is wholly
    /// online; false when it is not, is only partly online, or lies above the bitmap.
    #[inline]
    pub(crate) fn wholly_online(&self, i: u64) -> bool {
        if i >= FLAT_ONLINE_SUBSECTIONS as u64 {
            return false;
        }
        self.words
            .get((i / WORD_BITS) as usize)
            .is_some_and(|w| w.load(Ordering::Acquire) >> (i % WORD_BITS) & 1 != 0)
    }

    /// True when the bitmap holds bits of section `nr` (its first sub-section lies
    /// below the limit): the writers skip the sections above it without a look at
    /// their states.
    pub(crate) fn covers(&self, g: &Geometry, nr: SectionNr) -> bool {
        nr.0.checked_shl(g.subsections_shift()).is_some_and(|i| {
            i < FLAT_ONLINE_SUBSECTIONS as u64 && i >> g.subsections_shift() == nr.0
        })
    }

    /// Sets the bits of sub-sections `first..=last` of section `nr`. Call after the
    /// table answers every page of them online.
    pub(crate) fn set_in(&self, g: &Geometry, nr: SectionNr, first: u32, last: u32) {
        let base = nr.0.wrapping_shl(g.subsections_shift());
        let (a, b) = (
            base.wrapping_add(u64::from(first)),
            base.wrapping_add(u64::from(last)),
        );
        for_each_word(&self.words, a, b, |w, mask| {
            w.fetch_or(mask, Ordering::Release);
        });
    }

    /// Clears the bits of sub-sections `first..=last` of section `nr`. Call before
    /// any page of them stops being online.
    pub(crate) fn clear_in(&self, g: &Geometry, nr: SectionNr, first: u32, last: u32) {
        let base = nr.0.wrapping_shl(g.subsections_shift());
        let (a, b) = (
            base.wrapping_add(u64::from(first)),
            base.wrapping_add(u64::from(last)),
        );
        for_each_word(&self.words, a, b, |w, mask| {
            w.fetch_and(!mask, Ordering::Release);
        });
    }

    /// `FlatValid::write_alone` for this bitmap (writers that run alone).
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

    /// Clears every bit of section `nr`.
    pub(crate) fn clear_section(&self, g: &Geometry, nr: SectionNr) {
        self.clear_in(g, nr, 0, g.subsections_per_section().wrapping_sub(1));
    }

    /// True when every bit is clear (tests).
    #[cfg(all(test, not(loom)))]
    pub(crate) fn is_clear(&self) -> bool {
        self.words.iter().all(|w| w.load(Ordering::Relaxed) == 0)
    }
}
