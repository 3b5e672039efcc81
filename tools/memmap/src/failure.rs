//! memmap's errors: each carries what to tell the user and the exit status.

use std::fmt;

/// Why memmap stops: a message and the exit status it stops with.
#[derive(Debug)]
pub struct Failure {
    /// Exit status: 1 for an internal error or unwritable output, 2 for bad usage or
    /// input.
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
    /// A command line clap refused; its message already says how to get help.
    pub fn clap(rendered: String) -> Self {
        Failure {
            code: 2,
            msg: rendered
                .trim_end()
                .trim_start_matches("error: ")
                .to_string(),
        }
    }
    /// Standard output could not be written (closed pipe, full disk).
    pub fn output(e: std::io::Error) -> Self {
        Failure {
            code: 1,
            msg: format!("cannot write the output: {e}"),
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
