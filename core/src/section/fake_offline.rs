//! Fake-offline marks: sub-sections of System RAM that a virtio-mem or balloon driver
//! took out of use while their block stays as it is (docs/semantics.md,
//! "Fake-offline"). Few sections ever hold such marks, so they live in a pool sized at
//! build time (`SPARSEMEM_MAX_FAKE_OFFLINE_SECTIONS`), as `shared_nids` does for
//! device nids; a section with marks says so in its flag word (`Word::fake_offline`),
//! so the per-pfn queries look here only then.
//!
//! Ordering: every writer holds the map's hotplug lock, which serialises them. Marking:
//! the entry's owner (a claim), then the mask bits (Release), then the flag word's bit
//! (Release, `Section::set_fake_offline`). Clearing the last mark: the flag word's bit
//! first, then the mask, then the owner. A reader loads the flag word (Acquire), then,
//! when it has the bit, the owner and the mask (Acquire): it sees the marks published
//! with the bit, or later ones; finding no entry means the marks were cleared during
//! the call, and it answers as after that.

use crate::capacity::{MAX_FAKE_OFFLINE_SECTIONS, MAX_SUBSECTIONS};
use crate::error::{Error, Result};
use crate::section::Section;
use crate::sync::{array_of, maybe_const_fn, AtomicUsize, Ordering};

const WORDS: usize = MAX_SUBSECTIONS.div_ceil(usize::BITS as usize);

/// One section's marks.
#[derive(Debug)]
pub(crate) struct Entry {
    /// The address of the owning section; 0 when free.
    owner: AtomicUsize,
    /// Bit i: sub-section i is marked.
    mask: [AtomicUsize; WORDS],
}

impl Entry {
    maybe_const_fn! {
        fn new() -> Self {
            Self {
                owner: AtomicUsize::new(0),
                mask: array_of![AtomicUsize::new(0); WORDS],
            }
        }
    }

    fn bit(idx: u32) -> (usize, usize) {
        let bits = usize::BITS;
        ((idx / bits) as usize, 1usize << (idx % bits))
    }

    /// True when sub-section `idx` is marked.
    pub(crate) fn marked(&self, idx: u32) -> bool {
        let (w, b) = Self::bit(idx);
        self.mask
            .get(w)
            .is_some_and(|m| m.load(Ordering::Acquire) & b != 0)
    }

    /// Marks or unmarks sub-section `idx` (Release: see the module docs).
    pub(crate) fn set(&self, idx: u32, on: bool) {
        let (w, b) = Self::bit(idx);
        if let Some(m) = self.mask.get(w) {
            if on {
                m.fetch_or(b, Ordering::Release);
            } else {
                m.fetch_and(!b, Ordering::Release);
            }
        }
    }

    /// Marked sub-sections.
    pub(crate) fn count(&self) -> u32 {
        self.mask
            .iter()
            .map(|m| m.load(Ordering::Acquire).count_ones())
            .fold(0u32, u32::wrapping_add)
    }
}

/// The pool.
#[derive(Debug)]
pub(crate) struct FakeOffline {
    entries: [Entry; MAX_FAKE_OFFLINE_SECTIONS],
}

fn key(sec: &Section) -> usize {
    sec as *const Section as usize
}

impl FakeOffline {
    maybe_const_fn! {
        pub(crate) fn new() -> Self {
            Self {
                entries: array_of![Entry::new(); MAX_FAKE_OFFLINE_SECTIONS],
            }
        }
    }

    /// The entry of `sec`, if it owns one (a bounded scan of the pool).
    pub(crate) fn find(&self, sec: &Section) -> Option<&Entry> {
        let k = key(sec);
        self.entries
            .iter()
            .find(|e| e.owner.load(Ordering::Acquire) == k)
    }

    /// Free entries.
    pub(crate) fn free(&self) -> usize {
        self.entries
            .iter()
            .filter(|e| e.owner.load(Ordering::Acquire) == 0)
            .count()
    }

    /// The entry of `sec`, claiming a free one if it owns none; `NoMem` when the pool
    /// is full. Callers hold the hotplug lock and counted the free entries first, so
    /// within a commit this cannot fail.
    pub(crate) fn claim(&self, sec: &Section) -> Result<&Entry> {
        if let Some(e) = self.find(sec) {
            return Ok(e);
        }
        let k = key(sec);
        let e = self
            .entries
            .iter()
            .find(|e| e.owner.load(Ordering::Relaxed) == 0)
            .ok_or(Error::NoMem)?;
        e.owner.store(k, Ordering::Release);
        Ok(e)
    }

    /// Frees the entry of `sec`, if it owns one: its mask is cleared for the next
    /// owner, then the entry is free. The caller holds the hotplug lock and cleared
    /// the section's flag-word bit first.
    pub(crate) fn release(&self, sec: &Section) {
        if let Some(e) = self.find(sec) {
            for m in &e.mask {
                m.store(0, Ordering::Relaxed);
            }
            e.owner.store(0, Ordering::Release);
        }
    }

    /// Frees every entry (init and restore only).
    pub(crate) fn reset(&self) {
        for e in &self.entries {
            for m in &e.mask {
                m.store(0, Ordering::Relaxed);
            }
            e.owner.store(0, Ordering::Relaxed);
        }
    }
}
