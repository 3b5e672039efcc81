//! The one error type of sparsemem, and its Linux errno values.

use core::fmt;

/// Why an operation failed. Every variant maps to the negative Linux errno value that
/// the C ABI returns (see `errno`), so C and Rust callers see the same codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Error {
    /// A notifier vetoed with a positive value (`-EPERM`).
    Perm,
    /// No such block, section or range; removing what was never added (`-ENOENT`).
    NoEnt,
    /// Device memory requested over System RAM pages (`-ENXIO`).
    NxIo,
    /// The range ends beyond `max_phys_bits` (`-E2BIG`).
    TooBig,
    /// The map's static capacity is exhausted (`-ENOMEM`).
    NoMem,
    /// An online block is in the way, a block is mid-transition, or a memory group
    /// still has blocks (`-EBUSY`).
    Busy,
    /// Overlap with memory that is already present (`-EEXIST`).
    Exist,
    /// Bad argument, misalignment, wrong state, holes, mixed zones or nodes (`-EINVAL`).
    Inval,
    /// The caller's output buffer is too small (`-ENOSPC`).
    NoSpc,
    /// A notifier vetoed with this negative errno, which is returned as it is.
    Veto(i32),
}

/// Shorthand for results of sparsemem operations.
pub type Result<T> = core::result::Result<T, Error>;

impl Error {
    /// The negative Linux errno value of this error, as the C ABI returns it.
    pub const fn errno(self) -> i32 {
        match self {
            Error::Perm => -1,
            Error::NoEnt => -2,
            Error::NxIo => -6,
            Error::TooBig => -7,
            Error::NoMem => -12,
            Error::Busy => -16,
            Error::Exist => -17,
            Error::Inval => -22,
            Error::NoSpc => -28,
            Error::Veto(e) => e,
        }
    }

    /// The error a notifier's non-zero return value stands for: a negative errno is
    /// kept, a positive value is `Perm` (Linux's `notifier_to_errno` of a bare
    /// NOTIFY_BAD).
    pub const fn from_veto(ret: i32) -> Error {
        if ret > 0 {
            return Error::Perm;
        }
        match ret {
            -1 => Error::Perm,
            -2 => Error::NoEnt,
            -6 => Error::NxIo,
            -7 => Error::TooBig,
            -12 => Error::NoMem,
            -16 => Error::Busy,
            -17 => Error::Exist,
            -22 => Error::Inval,
            -28 => Error::NoSpc,
            other => Error::Veto(other),
        }
    }

    /// A short human-readable description (the text of `smem_strerror`).
    pub const fn description(self) -> &'static str {
        match self {
            Error::Perm => "operation not permitted (notifier veto)",
            Error::NoEnt => "no such block, section or range",
            Error::NxIo => "range contains System RAM",
            Error::TooBig => "range beyond the maximum physical address",
            Error::NoMem => "static capacity exhausted",
            Error::Busy => "busy: a block online or in transition, or a group with blocks",
            Error::Exist => "range overlaps present memory",
            Error::Inval => "invalid argument or state",
            Error::NoSpc => "output buffer too small",
            Error::Veto(_) => "vetoed by notifier",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.description(), self.errno())
    }
}
