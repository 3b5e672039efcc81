//! Address newtypes. They only wrap integers; every conversion between them goes
//! through a validated [`Geometry`](crate::Geometry) and is checked, so no input can make
//! an address computation overflow or panic.

use core::fmt;

macro_rules! newtype {
    ($(#[$m:meta])* $name:ident, $fmt:literal) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
        #[repr(transparent)]
        pub struct $name(pub u64);

        impl $name {
            /// Wraps a raw value.
            pub const fn new(v: u64) -> Self {
                Self(v)
            }
            /// The raw value.
            pub const fn get(self) -> u64 {
                self.0
            }
        }

        impl From<u64> for $name {
            fn from(v: u64) -> Self {
                Self(v)
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
