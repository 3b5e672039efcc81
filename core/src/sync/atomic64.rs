//! A 64-bit atomic cell that works on targets without 64-bit atomics (Armv7-M,
//! riscv32): the map keeps pfns and page counts of up to 2^40, which do not fit a word
//! there.
//!
//! Two kinds, by who may read while a store is under way:
//!
//! - [`Atomic64`], for zone spans, which change while readers run: with 64-bit
//!   atomics an `AtomicU64` (wait-free); without them a tiny sequence lock whose
//!   writers are serialised by the zones lock and whose readers retry while a store is
//!   under way (lock-free, not wait-free, on those targets; only multi-field queries
//!   read spans, and the C header says which may retry).
//! - [`Published64`], for boot ranges and zone limits, which the per-pfn queries read:
//!   stored only before the Release store that makes them reachable (the boot phase,
//!   `init`, `restore`), so a reader that reached them through an Acquire load can
//!   never see a store under way. Without 64-bit atomics it is two 32-bit halves read
//!   once each: no retry, so the per-pfn queries finish in a bounded number of steps
//!   on every target.

#[cfg(any(loom, target_has_atomic = "64"))]
mod imp {
    use crate::sync::{AtomicU64, Ordering};

    /// A 64-bit value readable without a lock; see the module docs.
    #[derive(Debug)]
    #[repr(transparent)]
    pub struct Atomic64(AtomicU64);

    impl Atomic64 {
        crate::sync::maybe_const_fn! {
            /// A cell holding `v`.
            pub fn new(v: u64) -> Self {
                Self(AtomicU64::new(v))
            }
        }
        /// Reads the value. Acquire: data published before a `store` is visible.
        #[inline]
        pub fn load(&self) -> u64 {
            self.0.load(Ordering::Acquire)
        }
        /// Writes the value. Release pairs with the Acquire of `load`. Callers serialise
        /// stores to one cell with a map lock.
        #[inline]
        pub fn store(&self, v: u64) {
            self.0.store(v, Ordering::Release)
        }
    }
}

#[cfg(not(any(loom, target_has_atomic = "64")))]
mod imp {
    use core::sync::atomic::{fence, AtomicU32, Ordering};

    /// A 64-bit value readable without a lock; see the module docs.
    #[derive(Debug)]
    pub struct Atomic64 {
        seq: AtomicU32,
        lo: AtomicU32,
        hi: AtomicU32,
    }

    impl Atomic64 {
        /// A cell holding `v`.
        pub const fn new(v: u64) -> Self {
            Self {
                seq: AtomicU32::new(0),
                lo: AtomicU32::new(v as u32),
                hi: AtomicU32::new((v >> 32) as u32),
            }
        }
        /// Reads the value: retries while a store is under way (odd sequence) or a
        /// store completed between the two sequence reads.
        #[inline]
        pub fn load(&self) -> u64 {
            loop {
                let s1 = self.seq.load(Ordering::Acquire);
                let lo = self.lo.load(Ordering::Relaxed);
                let hi = self.hi.load(Ordering::Relaxed);
                fence(Ordering::Acquire);
                if s1 & 1 == 0 && self.seq.load(Ordering::Relaxed) == s1 {
                    return u64::from(lo) | u64::from(hi) << 32;
                }
                core::hint::spin_loop();
            }
        }
        /// Writes the value. Stores to one cell must be serialised by the caller.
        #[inline]
        pub fn store(&self, v: u64) {
            let s = self.seq.load(Ordering::Relaxed);
            self.seq.store(s.wrapping_add(1), Ordering::Relaxed);
            fence(Ordering::Release);
            self.lo.store(v as u32, Ordering::Relaxed);
            self.hi.store((v >> 32) as u32, Ordering::Relaxed);
            self.seq.store(s.wrapping_add(2), Ordering::Release);
        }
    }
}

pub use imp::Atomic64;

/// A 64-bit value written only before it is published; see the module docs.
#[cfg(any(loom, target_has_atomic = "64"))]
#[derive(Debug)]
#[repr(transparent)]
pub struct Published64(crate::sync::AtomicU64);

#[cfg(any(loom, target_has_atomic = "64"))]
impl Published64 {
    crate::sync::maybe_const_fn! {
        /// A cell holding `v`.
        pub fn new(v: u64) -> Self {
            Self(crate::sync::AtomicU64::new(v))
        }
    }
    /// Reads the value. Relaxed: the Acquire load that reached this cell (the phase
    /// word, a section's flag word) ordered its stores before this load.
    #[inline]
    pub fn load(&self) -> u64 {
        self.0.load(crate::sync::Ordering::Relaxed)
    }
    /// Writes the value; only before it is published (see the module docs).
    #[inline]
    pub fn store(&self, v: u64) {
        self.0.store(v, crate::sync::Ordering::Relaxed)
    }
}

/// A 64-bit value written only before it is published; see the module docs.
#[cfg(not(any(loom, target_has_atomic = "64")))]
#[derive(Debug)]
pub struct Published64 {
    lo: core::sync::atomic::AtomicU32,
    hi: core::sync::atomic::AtomicU32,
}

#[cfg(not(any(loom, target_has_atomic = "64")))]
impl Published64 {
    /// A cell holding `v`.
    pub const fn new(v: u64) -> Self {
        Self {
            lo: core::sync::atomic::AtomicU32::new(v as u32),
            hi: core::sync::atomic::AtomicU32::new((v >> 32) as u32),
        }
    }
    /// Reads the value: each half once, never a retry. Relaxed, as above.
    #[inline]
    pub fn load(&self) -> u64 {
        use core::sync::atomic::Ordering::Relaxed;
        u64::from(self.lo.load(Relaxed)) | u64::from(self.hi.load(Relaxed)) << 32
    }
    /// Writes the value; only before it is published (see the module docs).
    #[inline]
    pub fn store(&self, v: u64) {
        use core::sync::atomic::Ordering::Relaxed;
        self.lo.store(v as u32, Relaxed);
        self.hi.store((v >> 32) as u32, Relaxed);
    }
}
