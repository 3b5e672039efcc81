//! The one global lock order, as types, so that a path taking locks out of order does
//! not compile:
//!
//! ```text
//! boot → hotplug → leaf assignment → sections (ascending section number) → zones
//! ```
//!
//! Taking a lock needs the token of the level held so far ([`Held`]), borrowed
//! mutably for as long as the new guard lives, and the pair of levels must be in
//! order ([`Before`]). The guard hands out the token of its own level for the next
//! lock. So while a guard lives, nothing below it can be locked through it, and a
//! function that is handed `&mut Held<Zones>` cannot take any other lock. Section
//! locks are taken only by [`crate::section::locked::LockedSections`], which takes a whole
//! run (or every section of the table) in ascending section-number order: the single
//! ordering key every path uses, `smem_snapshot` included.
//!
//! A fresh [`Held<Nothing>`] is made only at the entry of a public operation
//! (`Held::nothing`), never inside a helper that may run with a lock held.

use core::marker::PhantomData;

use crate::sync::{Lock, LockGuard};

/// No lock held.
#[derive(Debug)]
pub(crate) enum Nothing {}
/// The boot lock (boot ranges).
#[derive(Debug)]
pub(crate) enum Boot {}
/// The hotplug lock (block records, System RAM operations).
#[derive(Debug)]
pub(crate) enum Hotplug {}
/// The leaf-assignment lock of the section table.
#[derive(Debug)]
pub(crate) enum Assign {}
/// Section locks (a run, ascending).
#[derive(Debug)]
pub(crate) enum Sections {}
/// The zones lock (zone spans).
#[derive(Debug)]
pub(crate) enum Zones {}

/// `Self` may be held while `Next` is taken.
pub(crate) trait Before<Next> {}
macro_rules! order {
    ($($lo:ident < $($hi:ident),+;)*) => { $($(impl Before<$hi> for $lo {})+)* };
}
order! {
    Nothing < Boot, Hotplug, Assign, Sections, Zones;
    Boot < Hotplug, Assign, Sections, Zones;
    Hotplug < Assign, Sections, Zones;
    Assign < Sections;
    Sections < Zones;
}

/// Proof that the locks held so far end at level `L`.
#[derive(Debug)]
pub(crate) struct Held<L>(PhantomData<L>);

impl Held<Nothing> {
    /// The token of a public operation's entry: nothing held yet.
    pub(crate) const fn nothing() -> Self {
        Held(PhantomData)
    }
}

impl<L> Held<L> {
    /// The token of the next level; only lock constructors call this.
    pub(crate) fn then<N>(&mut self) -> Held<N>
    where
        L: Before<N>,
    {
        Held(PhantomData)
    }
}

/// Proof, lent by a [`Guard`], that its lock at level `L` is held: what a helper
/// that writes state the lock serialises asks for ("the caller holds the lock" as a
/// type).
#[derive(Debug)]
pub(crate) struct Proof<L>(PhantomData<L>);

/// A writer lock at level `L` of the order.
#[derive(Debug)]
pub(crate) struct OrderedLock<L> {
    lock: Lock,
    _level: PhantomData<L>,
}

/// Holds an [`OrderedLock`] at level `L`; [`Guard::held`] lends the token for the
/// next lock.
pub(crate) struct Guard<'a, L> {
    _guard: LockGuard<'a>,
    held: Held<L>,
    proof: Proof<L>,
}

impl<L> Guard<'_, L> {
    /// The token for locks after this one.
    pub(crate) fn held(&mut self) -> &mut Held<L> {
        &mut self.held
    }
    /// Proof that this lock is held.
    pub(crate) fn proof(&self) -> &Proof<L> {
        &self.proof
    }
    /// Both at once: the token for the next locks and the proof of this one.
    pub(crate) fn split(&mut self) -> (&mut Held<L>, &Proof<L>) {
        (&mut self.held, &self.proof)
    }
}

impl<L> OrderedLock<L> {
    crate::sync::maybe_const_fn! {
        /// An unlocked lock.
        pub(crate) fn new() -> Self {
            Self {
                lock: Lock::new(),
                _level: PhantomData,
            }
        }
    }

    /// Takes the lock after the level `held` proves.
    pub(crate) fn lock<'a, P: Before<L>>(&'a self, held: &'a mut Held<P>) -> Guard<'a, L> {
        Guard {
            held: held.then(),
            proof: Proof(PhantomData),
            _guard: self.lock.lock(),
        }
    }

    /// True while held (tests).
    #[cfg(all(test, not(loom)))]
    pub(crate) fn is_locked(&self) -> bool {
        self.lock.is_locked()
    }
}
