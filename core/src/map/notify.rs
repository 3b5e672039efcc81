//! Memory notifiers: the events of an online or offline transition, and the callback
//! that may veto its GOING_* event (Linux `register_memory_notifier`).

use crate::memory::block::BlockInfo;
use crate::repr::u8_enum;

u8_enum! {
    /// A transition event, with the values of `SMEM_MEM_*`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub enum MemEvent {
        /// An online is about to happen; a non-zero answer vetoes it.
        GoingOnline = 1,
        /// The block is online.
        Online = 2,
        /// A vetoed online is being cancelled.
        CancelOnline = 3,
        /// An offline is about to happen; a non-zero answer vetoes it.
        GoingOffline = 4,
        /// The block is offline.
        Offline = 5,
        /// A vetoed offline is being cancelled.
        CancelOffline = 6,
    }
}

/// Receives transition events. Runs with no internal lock held: it may query the map
/// and change *other* blocks; a change of the block in transition is `Busy`.
pub trait Notifier {
    /// Called for each event. For `GoingOnline` / `GoingOffline`, a non-zero value
    /// vetoes (a negative errno is returned as is, a positive value as `Perm`); the
    /// value is ignored for the other events.
    fn notify(&self, event: MemEvent, block: &BlockInfo) -> i32;
}

/// No notifier: every transition proceeds.
impl Notifier for () {
    fn notify(&self, _event: MemEvent, _block: &BlockInfo) -> i32 {
        0
    }
}

impl<F: Fn(MemEvent, &BlockInfo) -> i32> Notifier for F {
    fn notify(&self, event: MemEvent, block: &BlockInfo) -> i32 {
        self(event, block)
    }
}
