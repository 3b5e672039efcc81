//! # Concurrency design
//!
//! Readers (`pfn_valid`, `pfn_online`, `pfn_info`, `next_valid_pfn`, `section_info`,
//! `block_info`, `zone_span`, walks) never take a lock. Writers serialise among
//! themselves with short locks that are never held across a notifier, taken in one
//! global order.
//!
//! ## The lock order
//!
//! ```text
//! boot → hotplug → leaf assignment → sections (ascending section number) → zones
//! ```
//!
//! Enforced by construction (`order.rs`): a lock is taken only with the token of the
//! level held so far, borrowed for as long as the new guard lives, and only if the
//! two levels are in this order; section locks are taken only as a run in ascending
//! section order (`locked::LockedSections`, and `Table::lock_all` for snapshots, which
//! walks the leaves by section number, not by the order they were handed out in).
//!
//! | operation | takes |
//! |---|---|
//! | `boot_add_ram` | boot |
//! | `boot_finish` | boot, hotplug, assignment (per leaf), zones |
//! | `add_memory`, `remove_memory`, `offline_and_remove_memory` | hotplug, assignment, sections of the range |
//! | `online_block`, `offline_block` | hotplug (before and after the notifier), zones |
//! | `add_device` | assignment (per new leaf), sections of the range, zones only if the ZONE_DEVICE span grows |
//! | `remove_device` | sections of the range |
//! | `snapshot` | boot, hotplug, assignment, every section, zones: only while the state is copied; the checksum is computed after |
//! | `restore`, `init` | not concurrent with any other call (their contract) |
//!
//! Outside this order: the C library's notifier slot has its own lock, held only to
//! copy two words and never together with another lock.
//!
//! ## The atomics, their writers and their ordering
//!
//! | atomic | written by, under | ordering |
//! |---|---|---|
//! | `Table::roots` | leaf assignment, under the assignment lock | Release after the leaf's `root`; readers Acquire |
//! | `Table::used` | leaf assignment | Release after the leaf's `root`; walks Acquire, so a counted leaf shows its root |
//! | `Leaf::root` | leaf assignment | Release; Acquire in walks |
//! | `Leaf::next` (the next leaf up, for walks) | leaf assignment, under the assignment lock | a new leaf's own link, then its predecessor's link to it, Release; Acquire in walks. Links are only added until `reset` (alone), so a walk sees the leaves linked before it passed, and a leaf assigned meanwhile or not (the answer before or after that assignment's add) |
//! | section flag word | RAM and device ops under the section lock; block transitions (view + ONLINE) by compare-and-swap under the hotplug lock; `restore`, which runs alone, by plain stores | every change one read-modify-write with Release (restore: Release stores); loads Acquire |
//! | sub-section state words | holders of the section lock, by compare-and-swap per word | Release; loads Acquire |
//! | flat valid bitmap words (`section/flat.rs`) | every writer that changes a sub-section's valid state, holding it (section locks, boot before Running, the fast device path's claim, which is the bitmap's own compare-and-swap) | set (Release) after the table publishes the sub-section valid, cleared before it stops; loads Acquire. The bitmap is a subset of the table's valid sub-sections at every instant |
//! | flat online bitmap words (`section/flat_online.rs`) | the writers that change a page's online answer, under the hotplug lock (block online and offline, fake-offline marks, removal) or alone (boot before Running, `init`, `restore`); device writers never touch it | set (Release) after the table answers every page of the sub-section online, cleared before any of them stops; loads Acquire. A set bit is a wholly online sub-section at every instant |
//! | block record (`Section::block`) | block transitions, under the hotplug lock | Release; Acquire |
//! | device nid (in the flag word) | device ops, under the section lock (compare-and-swap keeps the lock bit and what lock-free writers change) | stored before the Device states it names, cleared after the last of them |
//! | shared-section nids (`section/shared_nids.rs`) | device ops, under the section lock | owner claimed before the flag word says "shared", each sub-section's nid (Release) before its Device state; released after the word stops saying "shared"; loads Acquire |
//! | zone span cells | under the zones lock | `set` stores start, end, present with Release; `covers` loads end before start |
//! | boot ranges, zone limits (`Published64`) | the boot phase, `init`, `restore` | written before publication (phase word, section flags, both Release); read Relaxed after those Acquire loads |
//! | `phase` | `init`, `boot_finish`, `restore` | Release; Acquire |
//! | `geometry`, `options` | `init` only | Relaxed: `init` happens-before every other call by contract |
//! | `transitions` | block transitions, under the hotplug lock | AcqRel; `snapshot` reads it (Acquire) under the hotplug lock |
//!
//! ## Publication order and the reader protocol
//!
//! *Add* (device or RAM), under the section lock: the sub-section states are stored
//! first, then PRESENT | VALID (and TAINT) are set with Release. A RAM add writes its
//! blocks (record and every section's view) before that. A device add stores the
//! section's device nid before the states.
//!
//! *Remove of the last sub-section* (or of a RAM block): every flag of the section is
//! cleared first (one store, Release; a RAM removal clears the block view with it),
//! then the states, then (RAM) the block records.
//!
//! *Block transitions* change the record and every section's view; when ONLINE
//! changes, it changes in the same compare-and-swap as the view, so ONLINE is never
//! seen with the block's state or zone of before.
//!
//! *The flat valid bitmap* (`section/flat.rs`) mirrors the table's `pfn_valid` answer
//! for the low address space: every writer sets a sub-section's bit after the table says
//! valid and clears it before the table stops saying so, so the set bits are a subset of
//! the table's valid sub-sections at every instant and a bit's answer is one the table
//! had during the call. A fast device remover clears its bits by a compare-and-swap that
//! succeeds only if all of them are set: that is its claim, so a remover that loses a race
//! for the same sub-sections clears nothing.
//!
//! *The flat online bitmap* (`section/flat_online.rs`) holds, for the low address space,
//! the sub-sections every page of which the table answers online, by the same rule: set
//! after, cleared before (an offline clears before the compare-and-swap that clears
//! ONLINE; a fake-offline mark clears before the mark is stored). A clear bit answers
//! nothing on its own.
//!
//! *Readers*: `pfn_valid` below the bitmap's limit loads one bitmap word (Acquire);
//! `pfn_online` loads the online bitmap's word and, if its bit is clear, the valid
//! bitmap's (clear: not online); above the bitmaps, and for a valid sub-section that is
//! not wholly online, `pfn_online` and `next_valid_pfn` load the flag word (Acquire) and then, if VALID, the state: both from before or both consistent with after, by
//! the orders above. `pfn_info` loads the word (flags and block view in one load), the
//! state, and the word again: if the section went absent meanwhile the answer is
//! "absent" (after the removal); a Device state takes its nid from the second load,
//! which follows the state and so sees the nid stored before it, and if that nid is
//! gone the device memory was removed meanwhile and the pfn is answered as after that
//! removal. Every per-pfn query is a fixed number of loads (plus, for a pfn in a boot
//! sub-section with holes, a binary search of the boot ranges): no retry, on every
//! target, so an interrupt handler that preempted a writer on the same CPU finishes.
//!
//! ## What a reader may observe mid-operation
//!
//! A per-pfn answer concurrent with a mutating call is the answer before it or the one
//! after it. Two stated exceptions, both narrower than a field of another block:
//! a pfn_info racing a device add that taints an already-present section may show the
//! `TAINT_DEVICE` flag one step behind the pfn's state (flags and states are two
//! words); and its device nid, for device memory of a section whose last device range
//! was removed and another node's added between the reader's two loads of the word, is
//! the later range's (a section whose device memory is one node's keeps that node in its
//! flag word; only sections shared by several nodes at once keep a node per
//! sub-section, whose answers are always the state's own or a later one).
//! Multi-field results (`section_info`, `block_info`, `stats`, `zone_span`, walks) may
//! mix fields of before and after, as docs/semantics.md, "Concurrency", allows. On targets without 64-bit
//! atomics, the queries that read zone spans (`zone_span`, `block_info`, `valid_zones`,
//! the block walk, `stats`) may retry while a span is being stored.
//!
//! Because the usage state lives inline in the never-recycled table, a reader can never
//! dereference freed memory: the whole class of CVE-2023-52489 cannot exist.
//!
//! ## How it is checked
//!
//! `tests/loom.rs` model-checks a reader against the first add and the last removal of
//! a section, two writers on disjoint and on overlapping ranges of one section, an
//! online racing an offline, a snapshot racing a device add, a snapshot racing a
//! writer that crosses two leaves handed out in descending order (the deadlock of the
//! old leaf-order `lock_all`), and `pfn_info` against `add_memory` and an online to
//! Movable, and the flat valid bitmap against the first add and last removal of a section
//! and against the fast path with two removers racing for one sub-section
//! (`tests/flat_valid.rs` compares the bitmap with the table on every pfn of the test
//! machines after every kind of writer). `tests/stress.rs` and `c-tests/test_threads.c` run readers that check every
//! `pfn_info` field against the operation in flight, a snapshotter, and writers on
//! device ranges (one crossing two leaves) and blocks, with a watchdog that fails the
//! test when a thread makes no progress. The test suite runs under Miri.
