//! A 64-bit atomic cell that works on targets without 64-bit atomics (Armv7-M,
//! riscv32): the map keeps pfns and page counts of up to 2^40, which do not fit a word
//! there.
//!
//! With 64-bit atomics it is an `AtomicU64` and every access is wait-free. Without them
//! it is a tiny sequence lock: writers are always serialised by a lock of the map
//! (the boot lock or the zone lock), so the writer side never contends, and a reader
//! retries only while a store is under way (lock-free, not wait-free, on those targets).

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
