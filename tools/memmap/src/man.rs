//! The man pages, generated from the clap definition (`memmap --generate-man DIR`,
//! which `make install` runs), so that they never disagree with `--help`: memmap.1
//! and memmap-run.1.

use std::path::Path;

use crate::{cli, Failure};

/// Writes the pages into `dir`: the names of the files written.
pub fn write(dir: &Path) -> Result<String, Failure> {
    let failed =
        |e: std::io::Error| Failure::input(format!("{}: cannot write: {e}", dir.display()));
    std::fs::create_dir_all(dir).map_err(failed)?;
    clap_mangen::generate_to(cli::command(), dir).map_err(failed)?;
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map_err(failed)?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with("memmap") && n.ends_with(".1"))
        .collect();
    names.sort();
    Ok(names.join("\n") + "\n")
}
