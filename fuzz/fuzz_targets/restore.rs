//! Input hostility for `restore`: arbitrary bytes into a booted map with device memory
//! and hot-added blocks. The only acceptable outcomes: an error with the map exactly as
//! before (byte-identical snapshot), or success with a map whose snapshot restores
//! again to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sparsemem::{OnlineType, SparseMap};
use sparsemem_testkit::machines::{machine, GIB, MIB};

/// The tests' two-node machine with a hot-added block online and device memory.
fn machine_with_hotplug() -> Box<SparseMap> {
    let map = machine();
    map.add_memory(1, 4 * GIB, 256 * MIB, &()).unwrap();
    map.online_block(sparsemem::BlockId(32), OnlineType::Movable, &())
        .unwrap();
    map.add_device(1, 6 * GIB, 18 * MIB).unwrap();
    map
}

fn snapshot(map: &SparseMap) -> Vec<u8> {
    let mut buf = vec![0u8; map.snapshot_bytes()];
    let n = map.snapshot(&mut buf).unwrap();
    buf.truncate(n);
    buf
}

fuzz_target!(|data: &[u8]| {
    let map = machine_with_hotplug();
    let before = snapshot(&map);
    match map.restore(data) {
        Err(_) => assert_eq!(snapshot(&map), before, "a failed restore changed the map"),
        Ok(()) => {
            let after = snapshot(&map);
            let again = SparseMap::new_boxed(&map.config()).unwrap();
            again.restore(&after).unwrap();
            assert_eq!(
                snapshot(&again),
                after,
                "snapshot -> restore -> snapshot differs"
            );
        }
    }
});
