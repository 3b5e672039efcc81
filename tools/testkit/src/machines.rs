//! The x86-64 maps the behaviour tests start from, and the units they are written in.

use sparsemem::{
    AutoOnline, BlockId, Config, MemmapOnMemory, MhpFlags, OnlinePolicy, OnlineType, SparseMap,
    NID_NONE,
};

/// One MiB, in bytes.
pub const MIB: u64 = 1 << 20;
/// One GiB, in bytes.
pub const GIB: u64 = 1 << 30;
/// x86-64: pages per 2 MiB sub-section.
pub const SUB: u64 = 512;
/// x86-64: pages per 128 MiB section.
pub const SEC: u64 = 32768;

/// The first pfn of x86-64 section `k`.
pub fn s(k: u64) -> u64 {
    k * SEC
}

/// Byte address of x86-64 section `k`.
pub fn sa(k: u64) -> u64 {
    k * 128 * MIB
}

/// An empty map with the x86-64 preset, before boot.
pub fn x86() -> Box<SparseMap> {
    SparseMap::new_boxed(&Config::x86_64()).unwrap()
}

/// A two-node x86-64 machine: node 0 RAM [1 MiB, 2 GiB), node 1 [2 GiB, 3 GiB), both
/// with boot blocks online; room for hot-add above 4 GiB.
pub fn machine_with(cfg: Config) -> Box<SparseMap> {
    let map = SparseMap::new_boxed(&cfg).unwrap();
    map.boot_add_ram(0, MIB, 2 * GIB - MIB).unwrap();
    map.boot_add_ram(1, 2 * GIB, GIB).unwrap();
    map.boot_finish().unwrap();
    map
}

/// [`machine_with`] the x86-64 preset.
pub fn machine() -> Box<SparseMap> {
    machine_with(Config::x86_64())
}

/// [`machine`] with something of every kind in it, for snapshot tests: early block 1
/// offlined and re-onlined movable, hot-added blocks 32 (online movable) and 33
/// (offline) on node 0, and 6 MiB of device memory of node 1 at 8 GiB.
pub fn busy_machine() -> Box<SparseMap> {
    make_busy(machine())
}

/// The steps of [`busy_machine`] on a booted machine of any configuration.
fn make_busy(map: Box<SparseMap>) -> Box<SparseMap> {
    map.offline_block(BlockId(1), &()).unwrap();
    map.online_block(BlockId(1), OnlineType::Movable, &())
        .unwrap();
    map.add_memory(0, 4 * GIB, 256 * MIB, &()).unwrap();
    map.online_block(BlockId(32), OnlineType::Movable, &())
        .unwrap();
    map.add_device(1, 8 * GIB, 6 * MIB).unwrap();
    map
}

/// [`busy_machine`] with a section shared by two nodes' device memory: 4 MiB of node
/// 2's beside node 1's 6 MiB at 8 GiB (snapshot version 3 and later).
pub fn shared_device_machine() -> Box<SparseMap> {
    let map = busy_machine();
    map.add_device(2, 8 * GIB + 6 * MIB, 4 * MIB).unwrap();
    map
}

/// The configuration of [`modern_machine`]: the auto-movable policy (ratio 200, not
/// NUMA-aware) and Linux 6.1's memmap_on_memory.
pub fn modern_config() -> Config {
    Config {
        online_policy: OnlinePolicy::AutoMovable,
        auto_movable_ratio: 200,
        auto_movable_numa_aware: false,
        memmap_on_memory: MemmapOnMemory::SingleBlock,
        ..Config::x86_64()
    }
}

/// Everything of [`shared_device_machine`] under [`modern_config`], and what Linux 5.15+
/// hotplug adds (snapshot version 4 and later): a one-block DIMM of static group 0 on
/// node 1 carrying its memmap (block 48, onlined by the policy), a virtio-mem device as
/// dynamic group 1 on node 0 (blocks 56 online Movable and 57 offline, with
/// fake-offline marks in both), and auto-online changed at run time to `online`.
pub fn modern_machine() -> Box<SparseMap> {
    let map = make_busy(machine_with(modern_config()));
    map.add_device(2, 8 * GIB + 6 * MIB, 4 * MIB).unwrap();
    let dimm = map.group_register_static(1, SEC).unwrap();
    map.add_memory_ex(
        NID_NONE,
        dimm,
        6 * GIB,
        128 * MIB,
        MhpFlags::MEMMAP_ON_MEMORY,
        &(),
    )
    .unwrap();
    map.online_block(BlockId(48), OnlineType::Online, &())
        .unwrap();
    let virtio = map.group_register_dynamic(0, SEC).unwrap();
    map.add_memory_ex(0, virtio, 7 * GIB, 256 * MIB, MhpFlags::empty(), &())
        .unwrap();
    map.online_block(BlockId(56), OnlineType::Movable, &())
        .unwrap();
    map.fake_offline(7 * GIB + 2 * MIB, 4 * MIB).unwrap();
    map.fake_offline(7 * GIB + 128 * MIB, 2 * MIB).unwrap();
    map.set_auto_online(AutoOnline::Online).unwrap();
    map
}

/// The bytes of a snapshot of `map`.
pub fn snapshot(map: &SparseMap) -> Vec<u8> {
    let mut buf = vec![0u8; map.snapshot_bytes()];
    let n = map.snapshot(&mut buf).unwrap();
    buf.truncate(n);
    buf
}
