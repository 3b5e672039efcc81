//! One section entry of the table: an atomic flag word and the sub-section states.
//!
//! # Sub-section states
//!
//! Each sub-section has a 2-bit state, packed into `AtomicUsize` words (32 per word on
//! 64-bit targets, 16 on 32-bit ones, so no 64-bit atomics are needed):
//!
//! | state | meaning | active bit | device bit |
//! |---|---|---|---|
//! | `Absent` | not populated | 0 | 0 |
//! | `Ram` | System RAM, every page of it | 1 | 0 |
//! | `RamPartial` | boot RAM that covers only part of it (rounded outward) | 1 | 0 |
//! | `Device` | ZONE_DEVICE memory | 1 | 1 |
//!
//! The C API reports separate active and device masks; we store them interleaved
//! because a reader must see a sub-section's "active" and "device" facts in **one**
//! load. With two separate words, a reader can order its loads for add (active after
//! device) or for remove (device after active) but not for both, and would then report a
//! device pfn as online RAM. `RamPartial` tells `pfn_online` that this sub-section has
//! holes and the boot ranges must be consulted; every other sub-section answers from
//! this word alone.

use crate::sync::{array_of, maybe_const_fn, AtomicU32, AtomicUsize, Ordering};

use bitflags::bitflags;

use crate::capacity::MAX_SUBSECTIONS;

bitflags! {
    /// Section flags, with the values of `SMEM_SECTION_*` (Linux's section_mem_map bits).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
    pub struct SectionFlags: u32 {
        /// Memory was registered for the section (Linux SECTION_MARKED_PRESENT).
        const PRESENT = 1;
        /// The section has a memory map; its sub-section states may be trusted
        /// (Linux SECTION_HAS_MEM_MAP).
        const VALID = 2;
        /// Part of the section was onlined (Linux SECTION_IS_ONLINE).
        const ONLINE = 4;
        /// Created from the boot map: every pfn of it is valid (Linux SECTION_IS_EARLY).
        const EARLY = 8;
        /// A device range starts or ends inside the section
        /// (Linux SECTION_TAINT_ZONE_DEVICE). Never cleared while the section is present.
        const TAINT_DEVICE = 16;
    }
}

/// What one sub-section holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum SubState {
    /// Not populated.
    Absent = 0,
    /// System RAM, every page.
    Ram = 1,
    /// Boot System RAM with holes inside the sub-section.
    RamPartial = 2,
    /// ZONE_DEVICE memory.
    Device = 3,
}

impl SubState {
    const fn from_bits(b: usize) -> Self {
        match b & 3 {
            0 => SubState::Absent,
            1 => SubState::Ram,
            2 => SubState::RamPartial,
            _ => SubState::Device,
        }
    }
}

/// Bits of the flag word that are internal and never reported.
const LOCK: usize = 1 << 7;
const DEV_NID_SHIFT: u32 = 8;
const DEV_NID_MASK: usize = 0xff << DEV_NID_SHIFT;
const PUBLIC_MASK: usize = 0x1f;

const BITS_PER_STATE: u32 = 2;
/// Sub-sections per state word.
pub(crate) const SUBS_PER_WORD: u32 = usize::BITS / BITS_PER_STATE;
/// State words per section.
pub(crate) const STATE_WORDS: usize = MAX_SUBSECTIONS / SUBS_PER_WORD as usize;
/// `0b01` repeated: selects the low bit of every state.
const LOW_BITS: usize = usize::MAX / 3;

/// One section of the table. All-zero is an absent section.
#[derive(Debug)]
pub(crate) struct Section {
    /// `SectionFlags` in bits 0..5, the writer lock in bit 7, the device nid + 1 in bits
    /// 8..16 (0: no device memory).
    ///
    /// Ordering: writers store sub-section states first and then set VALID with
    /// Release; readers load this word with Acquire before they load a state, so a
    /// reader that sees VALID sees the states that were published with it. On removal
    /// VALID is cleared (Release) before the states are cleared, so a reader either sees
    /// the section invalid or reads a state that is the one before or after the removal.
    flags: AtomicUsize,
    /// 2-bit sub-section states; see the module docs. Written only under the section
    /// lock; read by anyone.
    states: [AtomicUsize; STATE_WORDS],
    /// The memory block record when this is the first section of a block
    /// (see `block::BlockRecord`), else 0.
    block: AtomicU32,
}

/// Holds a section's writer lock; unlocks on drop.
pub(crate) struct SectionGuard<'a>(&'a Section);

impl Drop for SectionGuard<'_> {
    fn drop(&mut self) {
        self.0.unlock_raw();
    }
}

impl Default for Section {
    fn default() -> Self {
        Self::new()
    }
}

impl Section {
    maybe_const_fn! {
        /// An absent section.
        pub(crate) fn new() -> Self {
            Self {
                flags: AtomicUsize::new(0),
                states: array_of![AtomicUsize::new(0); STATE_WORDS],
                block: AtomicU32::new(0),
            }
        }
    }

    /// The public flags. Acquire: see the ordering argument on `flags`.
    #[inline]
    pub(crate) fn flags(&self) -> SectionFlags {
        SectionFlags::from_bits_truncate((self.flags.load(Ordering::Acquire) & PUBLIC_MASK) as u32)
    }

    /// The nid of the section's device memory, if it has any.
    pub(crate) fn device_nid(&self) -> Option<i32> {
        let v = (self.flags.load(Ordering::Acquire) & DEV_NID_MASK) >> DEV_NID_SHIFT;
        (v as i32).checked_sub(1).filter(|n| *n >= 0)
    }

    /// Takes the writer lock, spinning while another writer holds it. Writers hold it
    /// for a bounded number of instructions and never across a notifier, so the spin
    /// is short. Readers never take it. Every method below that writes requires it.
    pub(crate) fn lock(&self) -> SectionGuard<'_> {
        self.lock_raw();
        SectionGuard(self)
    }

    /// Takes the writer lock without a guard (for ranges of sections locked in
    /// ascending order; see `hotplug::LockedSections`).
    pub(crate) fn lock_raw(&self) {
        loop {
            // Acquire: pairs with the Release of the previous unlock.
            let old = self.flags.fetch_or(LOCK, Ordering::Acquire);
            if old & LOCK == 0 {
                return;
            }
            while self.flags.load(Ordering::Relaxed) & LOCK != 0 {
                crate::sync::spin_loop();
            }
        }
    }

    /// Releases the writer lock. Release: everything written under the lock is
    /// visible to the next holder.
    pub(crate) fn unlock_raw(&self) {
        self.flags.fetch_and(!LOCK, Ordering::Release);
    }

    /// Clears flags (Release, ordered after the writes before it).
    pub(crate) fn clear_flags(&self, f: SectionFlags) {
        self.flags
            .fetch_and(!(f.bits() as usize), Ordering::Release);
    }

    /// Clears every flag and the device nid (the section becomes absent); keeps the
    /// lock bit.
    pub(crate) fn clear_all(&self) {
        self.flags.fetch_and(LOCK, Ordering::Release);
    }

    /// Records the nid of the section's device memory (`None`: no device memory).
    pub(crate) fn set_device_nid(&self, nid: Option<i32>) {
        let enc = nid.map_or(0, |n| (n as usize).wrapping_add(1) & 0xff);
        let mut cur = self.flags.load(Ordering::Relaxed);
        loop {
            let new = (cur & !DEV_NID_MASK) | enc << DEV_NID_SHIFT;
            match self
                .flags
                .compare_exchange_weak(cur, new, Ordering::Release, Ordering::Relaxed)
            {
                Ok(_) => return,
                Err(v) => cur = v,
            }
        }
    }

    /// Sets flags. Release: publishes the states written before (see `flags`).
    pub(crate) fn set_flags(&self, f: SectionFlags) {
        self.flags.fetch_or(f.bits() as usize, Ordering::Release);
    }

    /// The state of sub-section `idx` (out of range: `Absent`). Acquire, so that
    /// whatever was published before the state (its flags) is seen with it.
    #[inline]
    pub(crate) fn state(&self, idx: u32) -> SubState {
        let word = (idx / SUBS_PER_WORD) as usize;
        let shift = (idx % SUBS_PER_WORD).wrapping_mul(BITS_PER_STATE);
        match self.states.get(word) {
            Some(w) => SubState::from_bits(w.load(Ordering::Acquire) >> shift),
            None => SubState::Absent,
        }
    }

    /// Sets sub-sections `first..=last` to `state`. Release: a reader that sees the
    /// new state of one sub-section sees everything written before it.
    pub(crate) fn fill(&self, first: u32, last: u32, state: SubState) {
        let pattern = LOW_BITS.wrapping_mul(state as usize);
        for_each_word_mask(first, last, |word, mask| {
            if let Some(w) = self.states.get(word) {
                let old = w.load(Ordering::Relaxed);
                w.store((old & !mask) | (pattern & mask), Ordering::Release);
            }
        });
    }

    /// True when any sub-section in `first..=last` satisfies `pred`.
    pub(crate) fn any_in(&self, first: u32, last: u32, pred: impl Fn(SubState) -> bool) -> bool {
        let mut found = false;
        self.for_each_state(first, last, |_, st| found |= pred(st));
        found
    }

    /// Calls `f(index, state)` for sub-sections `first..=last`, loading each state word
    /// once (so a scan of a section is a handful of loads, not one per sub-section).
    fn for_each_state(&self, first: u32, last: u32, mut f: impl FnMut(u32, SubState)) {
        let mut i = first;
        while i <= last {
            let Some(w) = self.states.get((i / SUBS_PER_WORD) as usize) else {
                return;
            };
            let v = w.load(Ordering::Acquire);
            loop {
                let shift = (i % SUBS_PER_WORD).wrapping_mul(BITS_PER_STATE);
                f(i, SubState::from_bits(v >> shift));
                match i.checked_add(1) {
                    Some(n) if n <= last => i = n,
                    _ => return,
                }
                if i % SUBS_PER_WORD == 0 {
                    break;
                }
            }
        }
    }

    /// Bit masks of the active and the device sub-sections, in 64-bit words as the C
    /// API reports them.
    pub(crate) fn masks<const W: usize>(&self) -> ([u64; W], [u64; W]) {
        let mut active = [0u64; W];
        let mut device = [0u64; W];
        self.for_each_state(0, (MAX_SUBSECTIONS as u32).wrapping_sub(1), |i, s| {
            let (word, bit) = ((i / 64) as usize, i % 64);
            if s != SubState::Absent {
                if let Some(a) = active.get_mut(word) {
                    *a |= 1u64 << bit;
                }
            }
            if s == SubState::Device {
                if let Some(d) = device.get_mut(word) {
                    *d |= 1u64 << bit;
                }
            }
        });
        (active, device)
    }

    /// The first active sub-section at or after `from`, if any.
    pub(crate) fn next_active(&self, from: u32) -> Option<u32> {
        let mut word = (from / SUBS_PER_WORD) as usize;
        let mut skip = (from % SUBS_PER_WORD).wrapping_mul(BITS_PER_STATE);
        while let Some(w) = self.states.get(word) {
            let v = w.load(Ordering::Acquire);
            // One bit per active sub-section, at the low bit of its pair.
            let active = (v | v >> 1) & LOW_BITS;
            let active = active & usize::MAX.checked_shl(skip).unwrap_or(0);
            if active != 0 {
                let idx = (word as u32)
                    .wrapping_mul(SUBS_PER_WORD)
                    .wrapping_add(active.trailing_zeros() / BITS_PER_STATE);
                return Some(idx);
            }
            word = word.wrapping_add(1);
            skip = 0;
        }
        None
    }

    /// Counts sub-sections in `first..=last` by predicate.
    pub(crate) fn count_in(&self, first: u32, last: u32, pred: impl Fn(SubState) -> bool) -> u32 {
        let mut n = 0u32;
        self.for_each_state(first, last, |_, st| {
            if pred(st) {
                n = n.wrapping_add(1);
            }
        });
        n
    }

    /// The raw block record.
    #[inline]
    pub(crate) fn block_record(&self) -> u32 {
        // Acquire: a block record is published after the sections it describes.
        self.block.load(Ordering::Acquire)
    }

    /// Replaces the block record. Writers serialise with the hotplug lock.
    pub(crate) fn set_block_record(&self, v: u32) {
        self.block.store(v, Ordering::Release);
    }

    /// Zeroes the entry (init and restore only; never concurrent with other calls).
    pub(crate) fn reset(&self) {
        self.flags.store(0, Ordering::Relaxed);
        for w in &self.states {
            w.store(0, Ordering::Relaxed);
        }
        self.block.store(0, Ordering::Relaxed);
    }
}

/// Calls `f(word, mask)` for every state word touched by sub-sections `first..=last`,
/// with the mask of their state bits in that word.
fn for_each_word_mask(first: u32, last: u32, mut f: impl FnMut(usize, usize)) {
    let mut i = first;
    while i <= last {
        let word = i / SUBS_PER_WORD;
        let lo = i % SUBS_PER_WORD;
        let word_last = word
            .wrapping_mul(SUBS_PER_WORD)
            .wrapping_add(SUBS_PER_WORD - 1);
        let hi = if last < word_last {
            last % SUBS_PER_WORD
        } else {
            SUBS_PER_WORD - 1
        };
        let nbits = (hi.wrapping_sub(lo).wrapping_add(1)).wrapping_mul(BITS_PER_STATE);
        let ones = if nbits >= usize::BITS {
            usize::MAX
        } else {
            (1usize << nbits).wrapping_sub(1)
        };
        f(
            word as usize,
            ones << (lo.wrapping_mul(BITS_PER_STATE) % usize::BITS),
        );
        match word_last.checked_add(1) {
            Some(n) => i = n,
            None => break,
        }
    }
}
