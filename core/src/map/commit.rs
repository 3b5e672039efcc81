//! The shape of every mutating operation (docs/semantics.md, "All-or-nothing
//! operations"): check everything and reserve everything that can run out, then
//! commit. The commit is a closure that returns no `Result`, so it cannot fail part-way
//! by construction: there is no `?` in it and nothing to roll back. What the type
//! cannot see, a call into a fallible step from inside a commit, the test builds
//! (`fault-injection`) catch: every fallible step (`fault_step`, reserving table
//! leaves, locking sections, claiming a shared-nid entry) asserts that no commit is
//! running on its thread, so the rollback tests, which reach every such step, would
//! panic. `restore` is the one operation outside this shape: it validates the whole
//! snapshot first and its write pass cannot fail on a validated snapshot.

use crate::map::SparseMap;

#[cfg(all(feature = "fault-injection", not(loom)))]
std::thread_local! {
    /// Commits running on this thread (they do not nest today; a count is cheap).
    static COMMITTING: core::cell::Cell<u32> = const { core::cell::Cell::new(0) };
}

impl SparseMap {
    /// Runs the commit phase of an operation: the writes after every check and
    /// reservation succeeded.
    pub(crate) fn commit<T>(&self, apply: impl FnOnce() -> T) -> T {
        #[cfg(all(feature = "fault-injection", not(loom)))]
        COMMITTING.with(|c| c.set(c.get().saturating_add(1)));
        let done = apply();
        #[cfg(all(feature = "fault-injection", not(loom)))]
        COMMITTING.with(|c| c.set(c.get().saturating_sub(1)));
        done
    }
}

/// In test builds, panics when a commit is running on this thread: `step` is
/// fallible and must come before the commit. Nothing in other builds.
#[inline]
pub(crate) fn assert_preparing(step: &str) {
    #[cfg(all(feature = "fault-injection", not(loom)))]
    #[allow(clippy::panic)]
    if COMMITTING.with(|c| c.get()) != 0 {
        panic!("{step} ran after the commit began: it can fail, and nothing rolls back");
    }
    let _ = step;
}

#[cfg(all(test, feature = "fault-injection"))]
mod tests {
    use crate::{Config, SparseMap};

    /// The guard itself: a fallible step inside a commit panics in test builds.
    #[test]
    #[should_panic(expected = "fault step ran after the commit began")]
    fn a_fallible_step_inside_a_commit_panics() {
        let map = SparseMap::new_boxed(&Config::x86_64()).unwrap();
        map.commit(|| map.fault_step()).unwrap();
    }
}
