//! Address types, in the style of the x86_64 crate: each wraps an integer, is built
//! one way (its tuple constructor; any value is representable, validity depends on the
//! map's geometry), and every conversion between them goes through a validated
//! [`Geometry`](crate::Geometry) and is checked, so no input can make an address
//! computation overflow or panic. [`PfnRange`] and its splitting iterators carry the
//! range arithmetic.

use core::fmt;

mod range;
pub use range::{PfnRange, Split};

macro_rules! newtype {
    ($(#[$m:meta])* $name:ident, $fmt:literal) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
        #[repr(transparent)]
        pub struct $name(pub u64);

        impl $name {
            /// The raw value.
            pub const fn get(self) -> u64 {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, $fmt, self.0)
            }
        }
    };
}

newtype!(
    /// A page frame number: a physical address divided by the page size.
    Pfn, "pfn {:#x}"
);
newtype!(
    /// A physical address in bytes.
    PhysAddr, "{:#x}"
);
newtype!(
    /// A SPARSEMEM section number: `pfn >> PFN_SECTION_SHIFT`.
    SectionNr, "section {}"
);
newtype!(
    /// A memory block id: first section number / sections per block (Linux `memoryN`).
    BlockId, "memory{}"
);

impl Pfn {
    /// The pfn `pages` after this one, or `None` past `u64::MAX`.
    pub const fn checked_add(self, pages: u64) -> Option<Pfn> {
        match self.0.checked_add(pages) {
            Some(p) => Some(Pfn(p)),
            None => None,
        }
    }

    /// The pfns from `base` to this one, or `None` when `base` lies above it.
    pub const fn pages_since(self, base: Pfn) -> Option<u64> {
        self.0.checked_sub(base.0)
    }

    /// Rounded down to a multiple of `pages` (a power of two).
    pub const fn align_down(self, pages: u64) -> Pfn {
        Pfn(self.0 & !pages.wrapping_sub(1))
    }

    /// True when the pfn is a multiple of `pages` (a power of two).
    pub const fn is_aligned(self, pages: u64) -> bool {
        self.0 & pages.wrapping_sub(1) == 0
    }

    /// The range `[self, self + pages)`, clipped at `u64::MAX`.
    pub const fn range(self, pages: u64) -> PfnRange {
        PfnRange::new(self, Pfn(self.0.saturating_add(pages)))
    }
}
