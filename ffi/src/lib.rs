//! C ABI of sparsemem (thin shell until the C ABI issue lands).
#![no_std]

pub use sparsemem;
