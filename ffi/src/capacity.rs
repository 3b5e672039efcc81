//! The C contract's build-time values: the capacity of the core's build (its
//! `SPARSEMEM_*` variables) and the map's storage on the target. Each is computed from
//! the core, so the library builds for every target and capacity without an edit.
//!
//! cbindgen cannot evaluate these expressions, so `make header` (ffi/header.sh) compiles
//! this crate for the target with `--cfg smem_header_values --emit asm`: the
//! `global_asm!` below writes one `->NAME value doc` line per constant into the
//! assembly, where the script reads them (the trick of Linux's asm-offsets). Doc
//! comments here must not hold double quotes or braces (they go into that assembly).

use core::mem::{align_of, size_of};

use sparsemem::capacity;

use crate::types::{smem_map, FfiMap};

macro_rules! build_values {
    ($($(#[doc = $doc:literal])+ $name:ident: $ty:ty = $value:expr;)+) => {
        $($(#[doc = $doc])+ pub const $name: $ty = $value;)+

        #[cfg(smem_header_values)]
        core::arch::global_asm!(
            $(concat!(".ascii \"->", stringify!($name), " {", stringify!($name), "}", $($doc),+, "\""),)+
            $($name = const $name,)+
        );
    };
}

build_values! {
    /// Section numbers are below 2^SMEM_MAX_SECTION_NR_BITS.
    SMEM_MAX_SECTION_NR_BITS: usize = capacity::MAX_SECTION_NR_BITS;
    /// Section slots: SMEM_MAX_LEAVES * SMEM_SECTIONS_PER_LEAF. Slots are handed out a leaf
    /// at a time, so any set of present sections fits that touches at most SMEM_MAX_LEAVES
    /// aligned runs of SMEM_SECTIONS_PER_LEAF section numbers: SMEM_MAX_SECTIONS sections in
    /// runs, SMEM_MAX_LEAVES sections scattered one per run.
    SMEM_MAX_SECTIONS: usize = capacity::MAX_SECTIONS;
    /// Sections per table leaf (a run of section numbers that shares one leaf).
    SMEM_SECTIONS_PER_LEAF: usize = capacity::SECTIONS_PER_LEAF;
    /// Table leaves (see SMEM_MAX_SECTIONS).
    SMEM_MAX_LEAVES: usize = capacity::MAX_LEAVES;
    /// Sub-sections per section the table holds.
    SMEM_MAX_SUBSECTIONS: usize = capacity::MAX_SUBSECTIONS;
    /// 64-bit words of the active and device masks.
    SMEM_SUBSECTION_WORDS: usize = sparsemem::SUBSECTION_WORDS;
    /// Node ids are 0 .. SMEM_MAX_NODES-1.
    SMEM_MAX_NODES: i32 = capacity::MAX_NODES as i32;
    /// Boot ranges smem_boot_add_ram accepts.
    SMEM_MAX_BOOT_RANGES: usize = capacity::MAX_BOOT_RANGES;
    /// Sections that may hold device memory of two or more nodes at once (each keeps
    /// a node per sub-section); one more is SMEM_ENOMEM from smem_add_device.
    SMEM_MAX_SHARED_DEVICE_SECTIONS: usize = capacity::MAX_SHARED_DEVICE_SECTIONS;
    /// Sections that may hold fake-offline marks at once; one more is SMEM_ENOMEM from
    /// smem_fake_offline.
    SMEM_MAX_FAKE_OFFLINE_SECTIONS: usize = capacity::MAX_FAKE_OFFLINE_SECTIONS;
    /// Memory groups registered at once; one more is SMEM_ENOMEM from
    /// smem_group_register_static and smem_group_register_dynamic.
    SMEM_MAX_GROUPS: usize = capacity::MAX_GROUPS;
    /// Sub-sections the flat valid bitmap covers from address 0: below them
    /// smem_pfn_valid() and smem_pfn_valid_inline() read one bit (one per sub-section).
    SMEM_FLAT_VALID_SUBSECTIONS: usize = capacity::FLAT_VALID_SUBSECTIONS;
    /// Sub-sections the flat online bitmap covers from address 0: below them
    /// smem_pfn_online() of a sub-section whose every page is online reads one bit.
    SMEM_FLAT_ONLINE_SUBSECTIONS: usize = capacity::FLAT_ONLINE_SUBSECTIONS;
    /// sizeof(smem_map) on this header's target: compare with smem_map_bytes().
    SMEM_MAP_BYTES: usize = size_of::<smem_map>();
    /// _Alignof(smem_map).
    SMEM_MAP_ALIGN: usize = align_of::<smem_map>();
    /// SMEM_MAP_BYTES in 64-bit words: the length of smem_map's private storage.
    SMEM_MAP_WORDS: usize = size_of::<FfiMap>().div_ceil(8);
}

// The map's storage holds the map, aligned for it; the contract caps the alignment.
const _: () =
    assert!(size_of::<FfiMap>() <= SMEM_MAP_BYTES && SMEM_MAP_BYTES == SMEM_MAP_WORDS * 8);
const _: () = assert!(align_of::<FfiMap>() <= SMEM_MAP_ALIGN && SMEM_MAP_ALIGN <= 4096);
const _: () = assert!(capacity::MAX_NODES <= i32::MAX as usize);
