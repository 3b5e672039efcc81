//! The man page, generated from the clap definition (`memmap --generate-man`, which
//! `make install` runs), so that it never disagrees with `--help`.

use crate::{cli, Failure};

/// memmap(1) in roff.
pub fn page() -> Result<String, Failure> {
    let mut buf = Vec::new();
    clap_mangen::Man::new(cli::command())
        .render(&mut buf)
        .map_err(|e| Failure::internal(format!("man page: {e}")))?;
    String::from_utf8(buf).map_err(|e| Failure::internal(format!("man page: {e}")))
}
