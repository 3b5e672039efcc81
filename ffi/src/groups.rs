//! Memory groups, smem_add_memory_ex and the run-time policies (Linux 5.15+ hotplug:
//! virtio-mem and DIMMs in groups, the auto-movable online policy, memmap_on_memory).

use core::ffi::c_int;

use sparsemem::{AutoOnline, MhpFlags, OnlinePolicy};

use crate::consts::*;
use crate::ptr::{map_or_einval, out_ref};
use crate::types::smem_map;

/// Writes a new group's id to `mgid`, or returns the error.
fn registered(r: Result<u32, sparsemem::Error>, mgid: *mut u32) -> c_int {
    // SAFETY: the caller passes NULL (checked before the call) or a writable u32.
    match (r, unsafe { out_ref(mgid) }) {
        (Ok(id), Some(out)) => {
            out.write(id);
            SMEM_OK
        }
        (Ok(_), None) => SMEM_EINVAL,
        (Err(e), _) => errno(e),
    }
}

/// smem_group_register_static() - Register a static memory group (a DIMM, a dax/kmem device).
/// @map: an initialised map (NULL or misaligned: SMEM_EINVAL).
/// @nid: the node of every block of the group, 0 .. SMEM_MAX_NODES-1.
/// @max_pages: pages of the whole device: the auto-movable policy onlines the group to
///             ZONE_MOVABLE only if all of them would fit its ratio.
/// @mgid: where the new group's id goes (never SMEM_GROUP_NONE).
///
/// Return: SMEM_OK, or on failure, with the map unchanged, the first that applies:
/// * SMEM_EINVAL - @map or @mgid is NULL; @map is not initialised; @nid is invalid;
///   @max_pages is 0.
/// * SMEM_ENOMEM - SMEM_MAX_GROUPS groups are registered.
#[no_mangle]
pub unsafe extern "C" fn smem_group_register_static(
    map: *mut smem_map,
    nid: i32,
    max_pages: u64,
    mgid: *mut u32,
) -> c_int {
    let m = map_or_einval!(map);
    if mgid.is_null() {
        return SMEM_EINVAL;
    }
    registered(m.core.group_register_static(nid, max_pages), mgid)
}

/// smem_group_register_dynamic() - Register a dynamic memory group (a virtio-mem device).
/// @map: an initialised map (NULL or misaligned: SMEM_EINVAL).
/// @nid: the node of every block of the group, 0 .. SMEM_MAX_NODES-1.
/// @unit_pages: pages per unit the device plugs, a power of two of at least one memory
///              block: the auto-movable policy decides per unit.
/// @mgid: where the new group's id goes (never SMEM_GROUP_NONE).
///
/// Return: SMEM_OK, or on failure, with the map unchanged, the first that applies:
/// * SMEM_EINVAL - @map or @mgid is NULL; @map is not initialised; @nid is invalid;
///   @unit_pages is not a power of two or is below the pages of a memory block.
/// * SMEM_ENOMEM - SMEM_MAX_GROUPS groups are registered.
#[no_mangle]
pub unsafe extern "C" fn smem_group_register_dynamic(
    map: *mut smem_map,
    nid: i32,
    unit_pages: u64,
    mgid: *mut u32,
) -> c_int {
    let m = map_or_einval!(map);
    if mgid.is_null() {
        return SMEM_EINVAL;
    }
    registered(m.core.group_register_dynamic(nid, unit_pages), mgid)
}

/// smem_group_unregister() - Unregister a memory group.
/// @map: an initialised map (NULL or misaligned: SMEM_EINVAL).
/// @mgid: the group's id.
///
/// Return: SMEM_OK, or on failure, with the map unchanged, the first that applies:
/// * SMEM_EINVAL - @map is NULL.
/// * SMEM_ENOENT - no group has id @mgid.
/// * SMEM_EBUSY - a memory block belongs to the group.
#[no_mangle]
pub unsafe extern "C" fn smem_group_unregister(map: *mut smem_map, mgid: u32) -> c_int {
    let m = map_or_einval!(map);
    rc(m.core.group_unregister(mgid))
}

/// smem_add_memory_ex() - Hot-add System RAM in whole memory blocks, into a memory group.
/// @map: an initialised map (NULL or misaligned: SMEM_EINVAL).
/// @nid: the node of the new memory; with a group, its node or SMEM_NID_NONE.
/// @mgid: the group the new blocks join, or SMEM_GROUP_NONE.
/// @start: physical address, a multiple of the block size.
/// @size: bytes, a non-zero multiple of the block size.
/// @mhp_flags: SMEM_MHP_* flags: SMEM_MHP_MEMMAP_ON_MEMORY puts each new block's memmap
///             in its first pages where the configuration's memmap_on_memory supports it.
///
/// smem_add_memory(m, nid, s, n) is smem_add_memory_ex(m, nid, SMEM_GROUP_NONE, s, n,
/// SMEM_MHP_MEMMAP_ON_MEMORY), as the ACPI DIMM driver asks. The new blocks are
/// OFFLINE, or onlined per the auto-online policy in force (smem_set_auto_online; a
/// failed auto-online leaves its block offline and does not fail the call).
///
/// Return: SMEM_OK, or on failure, with the map unchanged, the first that applies:
/// * SMEM_EINVAL - @map is NULL; smem_boot_finish() has not succeeded on @map; @nid is
///   invalid (SMEM_NID_NONE is valid with a group); unknown bits in @mhp_flags; @size is
///   0; @start + @size wraps; @start or @size is not a multiple of the block size.
/// * SMEM_E2BIG - the range ends beyond max_phys_bits.
/// * SMEM_ENOENT - @mgid is neither a group nor SMEM_GROUP_NONE.
/// * SMEM_EINVAL - @nid is neither the group's node nor SMEM_NID_NONE.
/// * SMEM_EEXIST - a section of the range is already present (RAM or device memory).
/// * SMEM_ENOMEM - the range touches more aligned runs of SMEM_SECTIONS_PER_LEAF sections
///   than the table has free (SMEM_MAX_LEAVES in all).
#[no_mangle]
pub unsafe extern "C" fn smem_add_memory_ex(
    map: *mut smem_map,
    nid: i32,
    mgid: u32,
    start: u64,
    size: u64,
    mhp_flags: u32,
) -> c_int {
    let m = map_or_einval!(map);
    let Some(flags) = MhpFlags::from_bits(mhp_flags) else {
        return SMEM_EINVAL;
    };
    rc(m.core
        .add_memory_ex(nid, mgid, start, size, flags, &m.notifier()))
}

/// smem_set_auto_online() - Change how later hot-adds online their blocks.
/// @map: an initialised map (NULL or misaligned: SMEM_EINVAL).
/// @auto_online: SMEM_AUTO_*, as Linux's sysfs auto_online_blocks.
///
/// Return: SMEM_OK, or SMEM_EINVAL (map unchanged) for a NULL or uninitialised @map or
/// an unknown @auto_online.
#[no_mangle]
pub unsafe extern "C" fn smem_set_auto_online(map: *mut smem_map, auto_online: u8) -> c_int {
    let m = map_or_einval!(map);
    let Some(a) = AutoOnline::from_c(auto_online) else {
        return SMEM_EINVAL;
    };
    rc(m.core.set_auto_online(a))
}

/// smem_set_online_policy() - Change how later plain onlines choose their zone.
/// @map: an initialised map (NULL or misaligned: SMEM_EINVAL).
/// @policy: SMEM_POLICY_*, as Linux's memory_hotplug.online_policy.
/// @auto_movable_ratio: percent, as memory_hotplug.auto_movable_ratio (0: never Movable).
/// @numa_aware: non-zero: the ratio also holds per node (auto_movable_numa_aware).
///
/// Under SMEM_POLICY_AUTO_MOVABLE, SMEM_ONLINE (and auto-online "online") chooses
/// ZONE_MOVABLE while the whole unit not yet online (the rest of a static group, of a
/// dynamic group's unit, or the block) fits the ratio, as Linux 6.1's
/// auto_movable_zone_for_pfn; valid_zones then lists that zone first.
///
/// Return: SMEM_OK, or SMEM_EINVAL (map unchanged) for a NULL or uninitialised @map or
/// an unknown @policy.
#[no_mangle]
pub unsafe extern "C" fn smem_set_online_policy(
    map: *mut smem_map,
    policy: u8,
    auto_movable_ratio: u32,
    numa_aware: u8,
) -> c_int {
    let m = map_or_einval!(map);
    let Some(p) = OnlinePolicy::from_c(policy) else {
        return SMEM_EINVAL;
    };
    rc(m.core
        .set_online_policy(p, auto_movable_ratio, numa_aware != 0))
}

/// smem_fake_offline() - Take System RAM out of use without offlining its block.
/// @map: an initialised map (NULL or misaligned: SMEM_EINVAL).
/// @start: physical address, a multiple of the sub-section size.
/// @size: bytes, a non-zero multiple of the sub-section size.
///
/// What virtio-mem (unplugged sub-blocks) and balloon drivers do: the pages are never
/// online (smem_pfn_online false) while the block keeps its state, zone, span and
/// present pages, and they stay in ram_pages and, while the block is online, in
/// online_pages. The marks survive offline and online of the block and go with the
/// memory when it is removed; smem_block_info.fake_offline_pages counts them.
///
/// Return: SMEM_OK, or on failure, with the map unchanged, the first that applies:
/// * SMEM_EINVAL - @map is NULL; smem_boot_finish() has not succeeded on @map; @size is
///   0; @start + @size wraps; @start or @size is not a multiple of the sub-section size.
/// * SMEM_ENOENT - a part of the range is not System RAM of an existing block (a boot
///   hole, device memory, nothing).
/// * SMEM_EINVAL - a part of the range carries its block's own memmap.
/// * SMEM_EEXIST - a part of the range is already marked.
/// * SMEM_EBUSY - a block of the range is mid-transition.
/// * SMEM_ENOMEM - more than SMEM_MAX_FAKE_OFFLINE_SECTIONS sections would hold marks.
#[no_mangle]
pub unsafe extern "C" fn smem_fake_offline(map: *mut smem_map, start: u64, size: u64) -> c_int {
    let m = map_or_einval!(map);
    rc(m.core.fake_offline(start, size))
}

/// smem_fake_online() - Give fake-offline System RAM back.
/// @map: an initialised map (NULL or misaligned: SMEM_EINVAL).
/// @start: physical address, a multiple of the sub-section size.
/// @size: bytes, a non-zero multiple of the sub-section size.
///
/// Return: SMEM_OK, or on failure, with the map unchanged, the first that applies:
/// * SMEM_EINVAL - @map is NULL; smem_boot_finish() has not succeeded on @map; @size is
///   0; @start + @size wraps; @start or @size is not a multiple of the sub-section size.
/// * SMEM_ENOENT - a part of the range is not marked by smem_fake_offline().
/// * SMEM_EBUSY - a block of the range is mid-transition.
#[no_mangle]
pub unsafe extern "C" fn smem_fake_online(map: *mut smem_map, start: u64, size: u64) -> c_int {
    let m = map_or_einval!(map);
    rc(m.core.fake_online(start, size))
}
