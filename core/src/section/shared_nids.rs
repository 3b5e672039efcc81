//! Node ids per sub-section, for the few sections that hold device memory of more than
//! one node at once. Linux keeps a node per page of a ZONE_DEVICE memmap, so device
//! ranges of different nodes may share a section (docs/semantics.md, "Device memory
//! rules"). A section whose device memory is all one node's keeps that nid in its flag
//! word; when a second node's range arrives, the section claims an entry of this pool,
//! which records every device sub-section's nid, and its flag word says "shared". The
//! pool is sized at build time (`SPARSEMEM_MAX_SHARED_DEVICE_SECTIONS`); claiming from
//! a full pool is `NoMem`.
//!
//! Ordering: an entry is owned by the address of its section (sections never move:
//! they live in the map's static storage). Writers hold the section exclusively while
//! they claim, write or release its entry. A sub-section's nid byte is stored
//! (Release) before the Device state it names is published, and the owner before the
//! flag word says "shared"; a reader loads the state, then the flag word, then (for a
//! shared section) the owner and the byte, each Acquire, so it finds the nid of the
//! state it loaded or of a later one. An entry is released only after its section's
//! flag word stopped saying "shared"; a reader that then finds no entry answers as
//! after the removal that emptied the section (`query.rs`).

use crate::capacity::{MAX_SHARED_DEVICE_SECTIONS, MAX_SUBSECTIONS};
use crate::error::{Error, Result};
use crate::section::Section;
use crate::sync::{array_of, maybe_const_fn, AtomicU8, AtomicUsize, Ordering};

/// One shared section's nids.
#[derive(Debug)]
pub(crate) struct Entry {
    /// The address of the owning section; 0 when free.
    owner: AtomicUsize,
    /// Per sub-section: the device memory's nid + 1, or 0.
    nids: [AtomicU8; MAX_SUBSECTIONS],
}

impl Entry {
    maybe_const_fn! {
        fn new() -> Self {
            Self {
                owner: AtomicUsize::new(0),
                nids: array_of![AtomicU8::new(0); MAX_SUBSECTIONS],
            }
        }
    }

    /// The nid recorded for sub-section `idx`, if any.
    pub(crate) fn nid(&self, idx: u32) -> Option<i32> {
        let v = self.nids.get(idx as usize)?.load(Ordering::Acquire);
        i32::from(v).checked_sub(1)
    }

    /// Records `nid` for sub-sections `first..=last` (before their states are
    /// published; the caller holds the section exclusively).
    pub(crate) fn set(&self, first: u32, last: u32, nid: i32) {
        // MAX_NODES <= 254, so nid + 1 fits a byte.
        let v = u8::try_from(nid.wrapping_add(1)).unwrap_or(0);
        for n in self
            .nids
            .iter()
            .take((last as usize).saturating_add(1))
            .skip(first as usize)
        {
            n.store(v, Ordering::Release);
        }
    }
}

/// The pool of entries.
#[derive(Debug)]
pub(crate) struct SharedNids {
    entries: [Entry; MAX_SHARED_DEVICE_SECTIONS],
}

fn key(sec: &Section) -> usize {
    sec as *const Section as usize
}

impl SharedNids {
    maybe_const_fn! {
        pub(crate) fn new() -> Self {
            Self {
                entries: array_of![Entry::new(); MAX_SHARED_DEVICE_SECTIONS],
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

    /// The entry of `sec`, claiming a free one (all nids 0) if it owns none; `NoMem`
    /// when the pool is full. The caller holds `sec` exclusively.
    pub(crate) fn claim(&self, sec: &Section) -> Result<&Entry> {
        crate::map::commit::assert_preparing("shared-nid claim");
        if let Some(e) = self.find(sec) {
            return Ok(e);
        }
        let k = key(sec);
        self.entries
            .iter()
            .find(|e| {
                e.owner
                    .compare_exchange(0, k, Ordering::AcqRel, Ordering::Relaxed)
                    .is_ok()
            })
            .ok_or(Error::NoMem)
    }

    /// Frees the entry of `sec`, if it owns one: its nids are cleared for the next
    /// owner, then the entry is free. The caller holds `sec` exclusively and its flag
    /// word no longer says "shared".
    pub(crate) fn release(&self, sec: &Section) {
        if let Some(e) = self.find(sec) {
            for n in &e.nids {
                n.store(0, Ordering::Relaxed);
            }
            e.owner.store(0, Ordering::Release);
        }
    }

    /// Frees every entry (init and restore only).
    pub(crate) fn reset(&self) {
        for e in &self.entries {
            for n in &e.nids {
                n.store(0, Ordering::Relaxed);
            }
            e.owner.store(0, Ordering::Relaxed);
        }
    }
}
