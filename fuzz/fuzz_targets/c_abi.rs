//! Input hostility for the C ABI: libFuzzer's bytes are the choices of a session of
//! hostile calls (the testkit's `hostile`) into every exported `smem_` function. A
//! result code that docs/semantics.md does not list for the function, a failed call that changed the
//! map, or a panic anywhere below the C ABI is a crash.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sparsemem_testkit::hostile;
use sparsemem_testkit::seeds::Bytes;

fuzz_target!(|data: &[u8]| {
    // About 8 bytes of choices per call; at least one call, at most 300.
    let steps = (data.len() / 8).clamp(1, 300);
    hostile::run(&mut Bytes(data), steps);
});
