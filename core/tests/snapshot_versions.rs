//! A newer library restores every snapshot version an older one wrote (see
//! docs/snapshot-format.md, "Versions"). Each version's snapshots of the testkit's
//! machines are checked in under tests/data/snapshots and restored here forever: each
//! must give exactly the map the current library builds by running the operations.

use sparsemem::{snapshot_config, SparseMap};
use sparsemem_testkit::dump::dump;
use sparsemem_testkit::machines::{busy_machine, modern_machine, shared_device_machine, snapshot};
use std::path::PathBuf;

/// The format version this library writes (the u32 after the magic).
const CURRENT: u32 = 4;

/// A machine of the testkit, as a fixture holds it.
type Machine = fn() -> Box<SparseMap>;

/// Each fixture: the version that wrote it, its name, and the machine it holds. A
/// machine enters with the first version that can hold it.
const FIXTURES: &[(u32, &str, Machine)] = &[
    (1, "busy-machine", busy_machine),
    (2, "busy-machine", busy_machine),
    (3, "busy-machine", busy_machine),
    (3, "shared-device-machine", shared_device_machine),
    (4, "busy-machine", busy_machine),
    (4, "modern-machine", modern_machine),
];

fn fixture(version: u32, name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(format!("tests/data/snapshots/v{version}-{name}.snap"))
}

#[test]
fn every_version_ever_written_restores_to_the_same_map() {
    assert!(FIXTURES.iter().any(|(v, _, _)| *v == CURRENT));
    for (version, name, machine) in FIXTURES {
        let want = snapshot(&machine());
        assert_eq!(u32::from_le_bytes(want[8..12].try_into().unwrap()), CURRENT);
        let bytes = std::fs::read(fixture(*version, name)).expect("every fixture is checked in");
        let cfg = snapshot_config(&bytes).unwrap();
        let map = SparseMap::new_boxed(&cfg).unwrap();
        map.restore(&bytes).unwrap();
        assert_eq!(
            snapshot(&map),
            want,
            "v{version} {name} restored differently"
        );
        // Every query alike too (what the format leaves out, such as the groups'
        // present pages, restore counts again). Not under Miri: a dump is thousands of
        // queries, minutes each there; the bytes above are compared.
        if !cfg!(miri) {
            assert_eq!(dump(&map), dump(&machine()), "v{version} {name}");
        }
    }
}

/// Writes the current version's fixtures that do not exist yet (run once when the
/// version changes: `cargo test -p sparsemem --test snapshot_versions -- --ignored`).
/// An existing fixture is never rewritten: old versions are frozen.
#[test]
#[ignore]
fn write_the_current_versions_fixtures() {
    for (version, name, machine) in FIXTURES.iter().filter(|(v, _, _)| *v == CURRENT) {
        let path = fixture(*version, name);
        if !path.exists() {
            std::fs::write(&path, snapshot(&machine())).unwrap();
        }
    }
}
