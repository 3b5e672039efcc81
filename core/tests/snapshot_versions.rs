//! A newer library restores every snapshot version an older one wrote (see
//! docs/snapshot-format.md, "Versions"). Each version's snapshot of the testkit's
//! `busy_machine` is checked in under tests/data/snapshots and restored here forever:
//! it must give exactly the map the current library builds by running the operations.

use sparsemem::{snapshot_config, SparseMap};
use sparsemem_testkit::machines::{busy_machine, snapshot};
use std::path::PathBuf;

/// The format version this library writes (the u32 after the magic).
const CURRENT: u32 = 2;

fn fixture(version: u32) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(format!("tests/data/snapshots/v{version}-busy-machine.snap"))
}

#[test]
fn every_version_ever_written_restores_to_the_same_map() {
    let want = snapshot(&busy_machine());
    assert_eq!(u32::from_le_bytes(want[8..12].try_into().unwrap()), CURRENT);
    for version in 1..=CURRENT {
        let bytes = std::fs::read(fixture(version)).expect("every version has a fixture");
        let cfg = snapshot_config(&bytes).unwrap();
        let map = SparseMap::new_boxed(&cfg).unwrap();
        map.restore(&bytes).unwrap();
        assert_eq!(
            snapshot(&map),
            want,
            "version {version} restored differently"
        );
    }
}

/// Writes the current version's fixture when it does not exist yet (run once when the
/// version changes: `cargo test -p sparsemem --test snapshot_versions -- --ignored`).
/// An existing fixture is never rewritten: old versions are frozen.
#[test]
#[ignore]
fn write_the_current_versions_fixture() {
    let path = fixture(CURRENT);
    if !path.exists() {
        std::fs::write(&path, snapshot(&busy_machine())).unwrap();
    }
}
