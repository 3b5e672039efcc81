//! C ABI of sparsemem: a thin shell until the C ABI issue lands (it will export the
//! `smem_*` functions of the C contract and build `libsparsemem.a` / `.so`).
#![no_std]

pub use sparsemem as core_map;
