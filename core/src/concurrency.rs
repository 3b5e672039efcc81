//! # Concurrency design
//!
//! Readers (`pfn_valid`, `pfn_online`, `pfn_info`, `section_info`, `next_valid_pfn`,
//! `block_info`, `zone_span`, walks) never take a lock and never wait: each is a
//! bounded sequence of atomic loads (the boot-range binary search included). Writers
//! serialise among themselves with short locks that are never held across a notifier.
//!
//! ## The atomics and who writes them
//!
//! | atomic | written by | under |
//! |---|---|---|
//! | root entry (`table`) | leaf assignment | the assignment lock; Release after the leaf's `root` |
//! | section flag word (`section`) | device ops, RAM ops, boot, online/offline | that section's lock bit (bit 7 of the same word) |
//! | sub-section state words | device ops, RAM add/remove, boot | the section lock |
//! | block record (first section of a block) | RAM ops, online/offline | the hotplug lock |
//! | zone span cells (`zone`) | boot, online/offline, device add | the zones lock |
//! | boot ranges | `boot_add_ram`, `restore` | the boot lock, before the phase word says Running |
//! | phase, transition count (`map`) | boot_finish / restore; transitions | the hotplug lock |
//!
//! Lock order: boot → hotplug → leaf assignment → sections (ascending) → zones. Device
//! operations take only section locks (and, briefly and never while holding a section
//! lock, the assignment lock, and after their section locks the zones lock), so device
//! operations on different sections never wait for each other or for RAM operations.
//!
//! ## Publication order
//!
//! *Add* (device or RAM): under the section lock, the sub-section states are stored
//! first, then PRESENT | VALID (and TAINT) are set with Release. A reader loads the flag
//! word with Acquire, then the state: if it sees VALID it also sees the states that were
//! published with it.
//!
//! *Remove of the last sub-section* (or of a RAM block): every flag of the section is
//! cleared first (Release), then the states. A reader that sees the old flags reads
//! either the old state (the answer before the removal) or the cleared state; in the
//! latter case the flag word is already clear (the state store is ordered after it),
//! so `pfn_info` re-reads the flags and answers "absent" (the answer after the
//! removal). `pfn_valid` needs no re-read: a cleared state already answers false.
//!
//! *Sub-section states* hold a sub-section's "active" and "device" facts in one 2-bit
//! field of one word, so no reader can combine an old "active" with a new "device" (the
//! reason the C API's two masks are not stored as two words).
//!
//! *Blocks*: an online or offline marks the block BUSY (and GOING_*) under the hotplug
//! lock, calls the notifier with no lock held, then commits under the lock. Other
//! mutating calls on a BUSY block are `Busy`; nothing waits for a notifier.
//!
//! ## What a reader may observe mid-operation
//!
//! A per-pfn answer concurrent with a mutating call is the answer before it or the one
//! after it: the flags/state pair above is read in the publication order, and a
//! multi-section operation changes each section as one step under that section's lock.
//! Multi-field results (`section_info`, `block_info`, `stats`, `zone_span`, walks) may
//! mix fields of before and after, as c-api.md allows. Because the usage state lives
//! inline in the never-recycled table, a reader can never dereference freed memory: the
//! whole class of CVE-2023-52489 cannot exist (decision 5).
//!
//! ## How it is checked
//!
//! `tests/loom.rs` model-checks a reader against the first add and the last removal of
//! a section (T49/T50), two writers on disjoint and on overlapping ranges of one section
//! (T51), an online racing an offline of one block, and a snapshot racing a device add.
//! `tests/stress.rs` runs readers against churning writers with real threads, and the
//! test suite runs under Miri.
