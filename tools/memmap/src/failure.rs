//! memmap's errors: each carries what to tell the user and the exit status.

use std::fmt;

/// Why memmap stops: a message and the exit status it stops with.
#[derive(Debug)]
pub struct Failure {
    /// Exit status: 1 for an internal error, 2 for bad usage or input.
    pub code: u8,
    /// What to tell the user.
    pub msg: String,
}

impl Failure {
    /// Bad command line.
    pub fn usage(msg: impl Into<String>) -> Self {
        Failure {
            code: 2,
            msg: format!("{}\n(memmap --help lists the flags)", msg.into()),
        }
    }
    /// An input file or directory that cannot be read or is malformed.
    pub fn input(msg: impl Into<String>) -> Self {
        Failure {
            code: 2,
            msg: msg.into(),
        }
    }
    /// Something that cannot happen unless memmap or the core has a bug.
    pub fn internal(msg: impl Into<String>) -> Self {
        Failure {
            code: 1,
            msg: format!("internal error: {}", msg.into()),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.msg)
    }
}
