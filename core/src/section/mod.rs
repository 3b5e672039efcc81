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

pub(crate) mod fake_offline;
pub mod flat;
pub(crate) mod flat_online;
pub mod geometry;
pub(crate) mod locked;
pub(crate) mod shared_nids;
pub(crate) mod table;

use crate::sync::{array_of, maybe_const_fn, AtomicU32, AtomicUsize, Ordering};

use bitflags::bitflags;

use crate::capacity::MAX_SUBSECTIONS;
use crate::memory::block::BlockState;
use crate::memory::zone::Zone;
use crate::repr::u8_enum;

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

u8_enum! {
    /// What one sub-section holds.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
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
}

impl SubState {
    /// The state in the low two bits of `b` (every 2-bit value is a state).
    const fn from_bits(b: usize) -> Self {
        match Self::from_u8((b & 3) as u8) {
            Some(s) => s,
            None => SubState::Absent,
        }
    }
}

// The flag word (`Section::flags`), 32 bits so that every target holds it in one
// atomic: public flags in bits 0..5, VMEMMAP in bit 5, FAKE_OFFLINE in bit 6, the device nid + 1 in bits 8..16 (0: no device
// memory), and the block view (see `BlockView`) in bits 16..30: the block's state code
// in 16..19, its zone in 19..22, its nid + 2 in 22..30.
const PUBLIC_MASK: usize = 0x1f;
/// The first section of a block that carries its own memmap (memmap_on_memory): its
/// first `Geometry::vmemmap_pages` pages are never online. Set before the section
/// becomes present, cleared with everything else when it is removed.
const VMEMMAP: usize = 1 << 5;
/// The section has fake-offline marks in the map's pool (`fake_offline.rs`).
const FAKE_OFFLINE: usize = 1 << 6;
/// Pages of this section may be withheld from the page allocator.
const WITHHELD: usize = VMEMMAP | FAKE_OFFLINE;
const DEV_NID_SHIFT: u32 = 8;
const DEV_NID_MASK: usize = 0xff << DEV_NID_SHIFT;
const VIEW_SHIFT: u32 = 16;
const VIEW_MASK: usize = 0x3fff << VIEW_SHIFT;

/// What the block that holds a section says about it, kept in the section's own flag
/// word so that one load gives a per-pfn query the section's flags and its block's
/// state, zone and nid together (they can never be read from two different moments).
/// The authoritative record is `block` of the block's first section; every section
/// of the block carries this copy, written by the same transition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct BlockView {
    pub(crate) state: BlockState,
    pub(crate) zone: Zone,
    pub(crate) nid: i32,
}

impl BlockView {
    fn encode(v: Option<BlockView>) -> usize {
        let Some(v) = v else { return 0 };
        // BlockState's values are Linux's one-bit MEM_* flags (1, 2, 4, 8): stored
        // as bit index + 1 in three bits, 0 meaning no block.
        let state = ((v.state as u8).trailing_zeros() as usize).wrapping_add(1);
        let nid = (v.nid.wrapping_add(2) as usize) & 0xff;
        (state | (v.zone as usize) << 3 | nid << 6) << VIEW_SHIFT
    }

    fn decode(w: usize) -> Option<BlockView> {
        let v = (w & VIEW_MASK) >> VIEW_SHIFT;
        let bit = (v & 7).checked_sub(1)?;
        let state = BlockState::from_u8(1u8.checked_shl(bit as u32)?)?;
        Some(BlockView {
            state,
            zone: Zone::from_u8(((v >> 3) & 7) as u8)?,
            nid: (((v >> 6) & 0xff) as i32).wrapping_sub(2),
        })
    }
}

/// Whose device memory a section holds, as its flag word says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DeviceNid {
    /// No device memory.
    None,
    /// Device memory of this node only.
    One(i32),
    /// Device memory of several nodes: their nids are per sub-section in the map's
    /// `shared_nids` pool (`shared_nids.rs`).
    Shared,
}

/// The device-nid field's value for `DeviceNid::Shared` (nids are 0..=253 and stored
/// plus one).
const DEV_SHARED: usize = 0xff;

impl DeviceNid {
    /// The device-nid field's value (before its shift).
    fn encode(nid: DeviceNid) -> usize {
        match nid {
            DeviceNid::None => 0,
            DeviceNid::One(n) => (n as usize).wrapping_add(1) & 0xff,
            DeviceNid::Shared => DEV_SHARED,
        }
    }
}

/// One load of a section's flag word, decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Word(usize);

impl Word {
    /// The public flags.
    pub(crate) fn flags(self) -> SectionFlags {
        SectionFlags::from_bits_truncate((self.0 & PUBLIC_MASK) as u32)
    }
    /// Whose device memory the section holds.
    pub(crate) fn device_nid(self) -> DeviceNid {
        match (self.0 & DEV_NID_MASK) >> DEV_NID_SHIFT {
            0 => DeviceNid::None,
            DEV_SHARED => DeviceNid::Shared,
            v => DeviceNid::One((v as i32).wrapping_sub(1)),
        }
    }
    /// True when the section has fake-offline marks.
    pub(crate) fn fake_offline(self) -> bool {
        self.0 & FAKE_OFFLINE != 0
    }
    /// True when some pages of the section may be withheld from the page allocator
    /// (memmap or fake-offline): one test for the per-pfn fast path.
    pub(crate) fn withholds(self) -> bool {
        self.0 & WITHHELD != 0
    }
    /// The view of the block holding the section, if one does.
    pub(crate) fn block(self) -> Option<BlockView> {
        BlockView::decode(self.0)
    }
}

// The writers' word (`Section::writers`): the exclusive lock in bit 31, device writers
// on the fast path in bits 16..31, and the count of Device sub-sections in bits 0..16.
const EXCLUSIVE: u32 = 1 << 31;
const FAST_ONE: u32 = 1 << 16;
const FAST_MASK: u32 = 0x7fff << 16;
const DEVICES_MASK: u32 = 0xffff;
const _: () = assert!(MAX_SUBSECTIONS < DEVICES_MASK as usize);

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
    /// The flag word: see `Word` and the layout above.
    ///
    /// Ordering (the reader protocol is in `query.rs`, the whole argument in
    /// `concurrency.rs`): every change is one atomic read-modify-write with Release,
    /// every load is Acquire. Writers store sub-section states before they set VALID
    /// and clear VALID before they clear the states, so a reader that sees VALID sees
    /// the states published with it; a block's view is written before PRESENT and
    /// changes together with ONLINE in one compare-and-swap, so one load gives a
    /// section's flags and its block's state, zone and nid from one moment.
    flags: AtomicUsize,
    /// 2-bit sub-section states; see the module docs. Changed by the exclusive holder
    /// of the section or by fast device writers (see `writers`), always by
    /// compare-and-swap (Release); read by anyone (Acquire).
    states: [AtomicUsize; STATE_WORDS],
    /// The memory block record when this is the first section of a block
    /// (see `block::BlockRecord`), else 0. Written under the hotplug lock (Release),
    /// read by anyone (Acquire).
    block: AtomicU32,
    /// Writers of this section (see the constants above): a writer that changes what
    /// the whole section is (present, its device nid, TAINT, a RAM block) takes the
    /// section exclusively; a device writer that only flips sub-section states of a
    /// section that stays as it is registers here as a fast writer and claims its
    /// states by compare-and-swap, so fast writers never wait for each other. The
    /// exclusive lock waits for fast writers to leave; fast writers never wait: they
    /// fall back to the exclusive path. Never read by readers.
    writers: AtomicU32,
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
                writers: AtomicU32::new(0),
            }
        }
    }

    /// One load of the flag word. Acquire: pairs with the Release of every change,
    /// so the states published before a change are visible after it is seen.
    #[inline]
    pub(crate) fn word(&self) -> Word {
        Word(self.flags.load(Ordering::Acquire))
    }

    /// The public flags (one Acquire load, see `word`).
    #[inline]
    pub(crate) fn flags(&self) -> SectionFlags {
        self.word().flags()
    }

    /// The nid of the section's device memory, if it has any.
    pub(crate) fn device_nid(&self) -> DeviceNid {
        self.word().device_nid()
    }

    /// Takes the section exclusively, spinning while another writer holds it, then
    /// waits for fast writers in flight to leave (a few instructions each; they never
    /// wait for anything). Only `locked::LockedSections` and `Table::lock_all` call
    /// this, in ascending section order (the lock order of `order.rs`). Holders keep it for a bounded
    /// number of instructions and never across a notifier. Readers never take it.
    pub(crate) fn lock_raw(&self) {
        let mut pause = 1u32;
        loop {
            let cur = self.writers.load(Ordering::Relaxed);
            // Acquire: pairs with the Release of the previous unlock.
            if cur & EXCLUSIVE == 0
                && self
                    .writers
                    .compare_exchange_weak(
                        cur,
                        cur | EXCLUSIVE,
                        Ordering::Acquire,
                        Ordering::Relaxed,
                    )
                    .is_ok()
            {
                break;
            }
            // Back off: a waiter that keeps loading the word pulls its cache line
            // away from the holder.
            for _ in 0..pause {
                crate::sync::spin_loop();
            }
            pause = pause.saturating_mul(2).min(64);
        }
        // Acquire: pairs with the Release of `fast_exit`, so the fast writers'
        // stores are visible to the holder.
        while self.writers.load(Ordering::Acquire) & FAST_MASK != 0 {
            crate::sync::spin_loop();
        }
    }

    /// Releases the exclusive lock. Release: everything written under it is visible
    /// to the next writer.
    ///
    /// A load and a plain store, not a read-modify-write: while EXCLUSIVE is set only
    /// its holder changes the word (waiters and `fast_enter` change it only when the bit
    /// is clear, and the fast writers in flight left before `lock_raw` returned), so
    /// the store loses no one's update, and a snapshot, which unlocks every populated
    /// section, pays no locked instruction per section for it.
    pub(crate) fn unlock_raw(&self) {
        let cur = self.writers.load(Ordering::Relaxed);
        self.writers.store(cur & !EXCLUSIVE, Ordering::Release);
    }

    /// Registers a fast device writer unless the section is held exclusively; a
    /// remover of `remove` Device sub-sections also takes them off the count, and only
    /// if at least one other stays (so the last device memory of a section, which
    /// changes the section, always goes the exclusive way). Acquire: the fast writer
    /// sees what the last exclusive holder wrote. `false`: take the exclusive path.
    pub(crate) fn fast_enter(&self, remove: u32) -> bool {
        let mut cur = self.writers.load(Ordering::Relaxed);
        loop {
            if cur & EXCLUSIVE != 0
                || cur & FAST_MASK == FAST_MASK
                || (remove != 0 && cur & DEVICES_MASK <= remove)
            {
                return false;
            }
            let new = cur.wrapping_add(FAST_ONE).wrapping_sub(remove);
            match self
                .writers
                .compare_exchange_weak(cur, new, Ordering::Acquire, Ordering::Relaxed)
            {
                Ok(_) => return true,
                Err(v) => cur = v,
            }
        }
    }

    /// A fast writer leaves, adding `devices` to the count (what it added, or what a
    /// failed remover gives back). Release: its stores are visible to the next
    /// exclusive holder, which waits for the count of fast writers to drop.
    pub(crate) fn fast_exit(&self, devices: u32) {
        self.writers
            .fetch_add(devices.wrapping_sub(FAST_ONE), Ordering::Release);
    }

    /// Changes the count of Device sub-sections (holders of the exclusive lock).
    pub(crate) fn count_devices(&self, added: u32, removed: u32) {
        self.writers
            .fetch_add(added.wrapping_sub(removed), Ordering::Relaxed);
    }

    /// Sub-sections `first..=last` (in one state word) go from `from` to `to` in one
    /// compare-and-swap, only if every one of them is `from`: the claim of a fast
    /// device writer. `Err` otherwise (nothing changed). Release: publishes the
    /// change.
    pub(crate) fn swap_states(
        &self,
        first: u32,
        last: u32,
        from: SubState,
        to: SubState,
    ) -> core::result::Result<(), ()> {
        let mut mask_of = (0usize, 0usize);
        for_each_word_mask(first, last, |word, mask| mask_of = (word, mask));
        let (word, mask) = mask_of;
        let Some(w) = self.states.get(word) else {
            return Err(());
        };
        let (from, to) = (
            LOW_BITS.wrapping_mul(from as usize) & mask,
            LOW_BITS.wrapping_mul(to as usize) & mask,
        );
        let mut cur = w.load(Ordering::Relaxed);
        loop {
            if cur & mask != from {
                return Err(());
            }
            match w.compare_exchange_weak(
                cur,
                (cur & !mask) | to,
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Ok(()),
                Err(v) => cur = v,
            }
        }
    }

    /// Replaces the bits of `mask` with `bits` in one compare-and-swap loop (the
    /// other bits are kept). Release on success: the states
    /// and records written before are visible with the new word; Relaxed on failure,
    /// since the retry reads the word again.
    fn update(&self, mask: usize, bits: usize) {
        let mut cur = self.flags.load(Ordering::Relaxed);
        loop {
            let new = (cur & !mask) | (bits & mask);
            match self
                .flags
                .compare_exchange_weak(cur, new, Ordering::Release, Ordering::Relaxed)
            {
                Ok(_) => return,
                Err(v) => cur = v,
            }
        }
    }

    /// The section's memory is all gone: every public flag and the device nid are
    /// cleared in one store; the block view stays (a section inside a block keeps its
    /// view while the block exists).
    pub(crate) fn clear_present(&self) {
        self.flags
            .fetch_and(!(PUBLIC_MASK | DEV_NID_MASK), Ordering::Release);
    }

    /// Clears every flag, the device nid and the block view (the section's block is
    /// removed).
    pub(crate) fn clear_all(&self) {
        self.flags.fetch_and(0, Ordering::Release);
    }

    /// Records whose device memory the section holds. Callers hold the section
    /// exclusively, which is what orders these changes against each other; the
    /// compare-and-swap keeps the flags that block transitions change meanwhile.
    pub(crate) fn set_device_nid(&self, nid: DeviceNid) {
        let enc = DeviceNid::encode(nid);
        // Only an exclusive holder changes the nid, so an equal nid stays equal: skip
        // the store (and its cache-line transfer).
        if self.flags.load(Ordering::Relaxed) & DEV_NID_MASK == enc << DEV_NID_SHIFT {
            return;
        }
        self.update(DEV_NID_MASK, enc << DEV_NID_SHIFT);
    }

    /// Marks the first section of a block that carries its own memmap, before the
    /// section becomes present (Release, as every change of the word).
    pub(crate) fn set_vmemmap(&self) {
        self.flags.fetch_or(VMEMMAP, Ordering::Release);
    }

    /// Sets or clears the fake-offline bit (writers hold the hotplug lock; Release,
    /// as every change of the word: the marks stored before are published with it).
    pub(crate) fn set_fake_offline(&self, on: bool) {
        if on {
            self.flags.fetch_or(FAKE_OFFLINE, Ordering::Release);
        } else {
            self.flags.fetch_and(!FAKE_OFFLINE, Ordering::Release);
        }
    }

    /// Restore only (it runs alone, on a reset entry): the flags and the device nid
    /// in one plain store, where live writers need a read-modify-write. Release, as
    /// every change of the word: the states stored before are published with it.
    pub(crate) fn restore_word(&self, f: SectionFlags, nid: DeviceNid) {
        let word = f.bits() as usize | DeviceNid::encode(nid) << DEV_NID_SHIFT;
        self.flags.store(word, Ordering::Release);
    }

    /// Restore only (it runs alone): the block view, the other bits kept, by a load
    /// and a store (nothing can change the word in between).
    pub(crate) fn restore_block_view(&self, view: Option<BlockView>) {
        let cur = self.flags.load(Ordering::Relaxed);
        let word = (cur & !VIEW_MASK) | BlockView::encode(view);
        self.flags.store(word, Ordering::Release);
    }

    /// Sets flags. Release: publishes the states written before (see `flags`).
    pub(crate) fn set_flags(&self, f: SectionFlags) {
        self.flags.fetch_or(f.bits() as usize, Ordering::Release);
    }

    /// Writes the block view and, when `online` is given, sets or clears ONLINE in
    /// the same compare-and-swap, so no reader sees ONLINE with the view of before.
    pub(crate) fn set_block_view(&self, view: Option<BlockView>, online: Option<bool>) {
        let (mask, bits) = match online {
            None => (VIEW_MASK, BlockView::encode(view)),
            Some(on) => (
                VIEW_MASK | SectionFlags::ONLINE.bits() as usize,
                BlockView::encode(view)
                    | if on {
                        SectionFlags::ONLINE.bits() as usize
                    } else {
                        0
                    },
            ),
        };
        self.update(mask, bits);
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

    /// `fill` by a load and a store per state word, for a writer that runs alone
    /// (`boot_finish`'s commit: every other writer of sections waits for the Running
    /// phase): no locked instruction. Release, as `fill`; readers may run beside it.
    pub(crate) fn fill_alone(&self, first: u32, last: u32, state: SubState) {
        let pattern = LOW_BITS.wrapping_mul(state as usize);
        for_each_word_mask(first, last, |word, mask| {
            if let Some(w) = self.states.get(word) {
                let cur = w.load(Ordering::Relaxed);
                w.store((cur & !mask) | (pattern & mask), Ordering::Release);
            }
        });
    }

    /// Sets sub-sections `first..=last` to `state`, one compare-and-swap per state
    /// word, so writers on other sub-sections of the same word never lose an update.
    /// Release: a reader that sees the new state of one sub-section sees everything
    /// written before it.
    pub(crate) fn fill(&self, first: u32, last: u32, state: SubState) {
        let pattern = LOW_BITS.wrapping_mul(state as usize);
        for_each_word_mask(first, last, |word, mask| {
            if let Some(w) = self.states.get(word) {
                let mut cur = w.load(Ordering::Relaxed);
                loop {
                    let new = (cur & !mask) | (pattern & mask);
                    match w.compare_exchange_weak(cur, new, Ordering::Release, Ordering::Relaxed) {
                        Ok(_) => break,
                        Err(v) => cur = v,
                    }
                }
            }
        });
    }

    /// Writes the 2-bit states as bytes, four sub-sections a byte from sub-section 0
    /// up, lowest bits first (the snapshot format): the little-endian bytes of the
    /// state words, one Acquire load each.
    pub(crate) fn copy_state_bytes(&self, out: &mut [u8]) {
        const W: usize = core::mem::size_of::<usize>();
        for (chunk, word) in out.chunks_mut(W).zip(self.states.iter()) {
            let bytes = word.load(Ordering::Acquire).to_le_bytes();
            for (o, b) in chunk.iter_mut().zip(bytes.iter()) {
                *o = *b;
            }
        }
    }

    /// Sets every state from bytes in the format of `copy_state_bytes` (restore, which
    /// runs alone): one store per state word; words past the bytes are cleared.
    pub(crate) fn load_state_bytes(&self, bytes: &[u8]) {
        const W: usize = core::mem::size_of::<usize>();
        let mut chunks = bytes.chunks(W);
        for word in self.states.iter() {
            let mut b = [0u8; W];
            if let Some(chunk) = chunks.next() {
                b.iter_mut().zip(chunk).for_each(|(d, v)| *d = *v);
            }
            word.store(usize::from_le_bytes(b), Ordering::Release);
        }
    }

    /// True when any sub-section in `first..=last` satisfies `pred`.
    pub(crate) fn any_in(&self, first: u32, last: u32, pred: impl Fn(SubState) -> bool) -> bool {
        let mut found = false;
        self.for_each_state(first, last, |_, st| found |= pred(st));
        found
    }

    /// Calls `f(index, state)` for sub-sections `first..=last`, loading each state word
    /// once (so a scan of a section is a handful of loads, not one per sub-section).
    /// Calls `f(index)` for each Device sub-section in `first..=last`.
    pub(crate) fn for_each_device(&self, first: u32, last: u32, mut f: impl FnMut(u32)) {
        self.for_each_state(first, last, |i, st| {
            if st == SubState::Device {
                f(i);
            }
        });
    }

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

    /// Calls `f(first, last)` for each maximal run of `Ram` sub-sections (every page
    /// System RAM) in `0..=last`.
    pub(crate) fn for_each_ram_run(&self, last: u32, f: impl FnMut(u32, u32)) {
        // LOW_BITS is `Ram` (0b01) in every slot.
        self.for_each_run(last, |s| s == SubState::Ram, |v| v == LOW_BITS, f);
    }

    /// Calls `f(first, last)` for each maximal run of active sub-sections (any state
    /// but `Absent`) in `0..=last`.
    pub(crate) fn for_each_active_run(&self, last: u32, f: impl FnMut(u32, u32)) {
        self.for_each_run(
            last,
            |s| s != SubState::Absent,
            |v| (v | v >> 1) & LOW_BITS == LOW_BITS,
            f,
        );
    }

    /// The runs of sub-sections in `0..=last` whose state satisfies `pred`, one load
    /// per state word and a whole word at a time when `whole(word)` says every state in
    /// it does (a boot section's or a hot-added block's common case).
    fn for_each_run(
        &self,
        last: u32,
        pred: impl Fn(SubState) -> bool,
        whole: impl Fn(usize) -> bool,
        mut f: impl FnMut(u32, u32),
    ) {
        let mut run: Option<u32> = None;
        let mut i = 0u32;
        for w in self.states.iter() {
            if i > last {
                break;
            }
            let v = w.load(Ordering::Acquire);
            if whole(v) {
                run.get_or_insert(i);
            } else {
                for k in 0..SUBS_PER_WORD {
                    let idx = i.wrapping_add(k);
                    if pred(SubState::from_bits(v >> k.wrapping_mul(BITS_PER_STATE))) {
                        run.get_or_insert(idx);
                    } else if let Some(a) = run.take().filter(|a| *a <= last) {
                        f(a, idx.wrapping_sub(1).min(last));
                    }
                }
            }
            i = i.wrapping_add(SUBS_PER_WORD);
        }
        if let Some(a) = run.filter(|a| *a <= last) {
            f(a, i.wrapping_sub(1).min(last));
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

    /// Replaces the block record. Writers serialise with the hotplug lock; Release
    /// pairs with the Acquire of `block_record`.
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
        self.writers.store(0, Ordering::Relaxed);
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
