//! Input hostility for the C ABI: libFuzzer's bytes are the choices of a session of
//! hostile calls (ffi/tests/hostile) into every exported `smem_` function. A result
//! code that c-api.md does not list for the function, a failed call that changed the
//! map, or a panic anywhere below the C ABI is a crash.
#![no_main]

// The C ABI's source names the core crate `core_map`.
extern crate sparsemem as core_map;

use libfuzzer_sys::fuzz_target;

#[allow(dead_code, unused_imports)]
#[path = "../../ffi/src/lib.rs"]
mod ffi;
#[allow(dead_code)]
#[path = "../../ffi/tests/hostile/mod.rs"]
mod hostile;

fuzz_target!(|data: &[u8]| {
    // About 8 bytes of choices per call; at least one call, at most 300.
    let steps = (data.len() / 8).clamp(1, 300);
    hostile::run(&mut hostile::Bytes(data), steps);
});
