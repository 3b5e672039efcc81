//! The synchronisation primitives the map is built from, in one place so that the
//! loom models (`cfg(loom)`) can swap every atomic and lock for loom's checked ones.
//!
//! Normal builds use `core::sync::atomic` and `spin::Mutex`, and every constructor is
//! a `const fn` (a map can be a `static`). Under loom, constructors are plain
//! functions and arrays are built element by element, because loom's atomics track
//! each access and cannot be created in a constant.

pub(crate) mod atomic64;
pub mod concurrency;
pub(crate) mod order;

#[cfg(all(not(loom), target_has_atomic = "64"))]
pub(crate) use core::sync::atomic::AtomicU64;
#[cfg(not(loom))]
pub(crate) use core::sync::atomic::{AtomicU16, AtomicU32, AtomicU8, AtomicUsize, Ordering};
#[cfg(loom)]
pub(crate) use loom::sync::atomic::{
    AtomicU16, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering,
};

/// Busy-wait hint for writers spinning on a section lock (under loom: a yield, so the
/// model checker can schedule the lock holder).
#[inline]
pub(crate) fn spin_loop() {
    #[cfg(not(loom))]
    core::hint::spin_loop();
    #[cfg(loom)]
    loom::thread::yield_now();
}

/// A writer-side lock (never taken by readers). `spin::Mutex`, or loom's mutex in the
/// models; an embedder needing IRQ-safe locking would swap it here.
#[derive(Debug, Default)]
pub(crate) struct Lock {
    #[cfg(not(loom))]
    inner: spin::Mutex<()>,
    #[cfg(loom)]
    inner: loom::sync::Mutex<()>,
}

/// Holds a [`Lock`] until dropped.
#[cfg(not(loom))]
pub(crate) type LockGuard<'a> = spin::MutexGuard<'a, ()>;
/// Holds a [`Lock`] until dropped.
#[cfg(loom)]
pub(crate) type LockGuard<'a> = loom::sync::MutexGuard<'a, ()>;

impl Lock {
    /// An unlocked lock.
    #[cfg(not(loom))]
    pub(crate) const fn new() -> Self {
        Self {
            inner: spin::Mutex::new(()),
        }
    }
    /// An unlocked lock.
    #[cfg(loom)]
    pub(crate) fn new() -> Self {
        Self {
            inner: loom::sync::Mutex::new(()),
        }
    }

    /// True while held (tests).
    #[cfg(all(test, not(loom)))]
    pub(crate) fn is_locked(&self) -> bool {
        self.inner.is_locked()
    }

    /// Takes the lock.
    pub(crate) fn lock(&self) -> LockGuard<'_> {
        #[cfg(not(loom))]
        return self.inner.lock();
        #[cfg(loom)]
        return self.inner.lock().unwrap_or_else(|e| e.into_inner());
    }
}

/// Defines a constructor that is `const` except under loom.
macro_rules! maybe_const_fn {
    ($(#[$m:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),*) -> $ret:ty $body:block) => {
        #[cfg(not(loom))]
        $(#[$m])* $vis const fn $name($($arg: $ty),*) -> $ret $body
        #[cfg(loom)]
        $(#[$m])* $vis fn $name($($arg: $ty),*) -> $ret $body
    };
}

/// `[expr; N]` for non-`Copy` values: a const array normally, built element by element
/// under loom.
macro_rules! array_of {
    ($e:expr; $n:expr) => {{
        #[cfg(not(loom))]
        let a = [const { $e }; $n];
        #[cfg(loom)]
        let a = core::array::from_fn(|_| $e);
        a
    }};
}

pub(crate) use {array_of, maybe_const_fn};
