//! libFuzzer drives the testkit's differential driver: its bytes are the
//! choices of an operation sequence run on sparsemem and on the reference model. Any
//! difference in a return code, a block, a zone span or a pfn answer is a crash.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sparsemem_testkit::model::driver::run_case;
use sparsemem_testkit::seeds::Bytes;

fuzz_target!(|data: &[u8]| {
    // About 12 bytes of choices per operation; at least one step, at most 200.
    let steps = (data.len() / 12).clamp(1, 200);
    if let Err(e) = run_case(&mut Bytes(data), steps) {
        panic!("sparsemem and the model differ: {e}");
    }
});
