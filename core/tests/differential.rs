//! Differential test (issue #8): random operation sequences applied to sparsemem and to
//! the testkit's reference model, comparing every return code and, after every step,
//! every block, every zone span and a sample of pfn answers.
//!
//! Bounded: DIFF_CASES sequences (default 120) of DIFF_STEPS operations (default 150).
//! A failure prints the seed; `DIFF_SEED=<seed> cargo test --test differential` replays it.
//!
//! `traces_for_the_c_driver` writes the model's side of further sequences to
//! target/tmp/c-diff/*.trace, which c-tests/test_differential.c replays through
//! libsparsemem (plain, under ASan+UBSan and under valgrind).

use sparsemem_testkit::model::driver::{run_case, run_case_traced};
use sparsemem_testkit::seeds::{env_u64, seeds, Rng};

#[test]
fn sparsemem_agrees_with_the_reference_model() {
    let steps = env_u64("DIFF_STEPS").unwrap_or(150) as usize;
    let seeds = seeds("DIFF", 120, 0xd1ff_0000);
    let mut succeeded = 0;
    for seed in &seeds {
        match run_case(&mut Rng::new(*seed), steps) {
            Ok(n) => succeeded += n,
            Err(e) => panic!("seed {seed}: {e}\nreplay: DIFF_SEED={seed} cargo test -p sparsemem --test differential"),
        }
    }
    // The sequences must do real work, not only fail argument checks.
    assert!(
        succeeded > seeds.len() * steps / 5,
        "only {succeeded} operations succeeded"
    );
}

/// Number of traces written for the C driver, and their length.
const C_TRACES: u64 = 16;
const C_TRACE_STEPS: usize = 150;

#[test]
fn traces_for_the_c_driver() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("c-diff");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for i in 0..C_TRACES {
        let seed = 0xc0de_0000 + i;
        let mut trace = String::new();
        // The Rust map is compared too while the trace is written.
        if let Err(e) = run_case_traced(&mut Rng::new(seed), C_TRACE_STEPS, &mut trace) {
            panic!("seed {seed}: {e}");
        }
        std::fs::write(dir.join(format!("seed-{seed}.trace")), trace).unwrap();
    }
    let written = std::fs::read_dir(&dir).unwrap().count() as u64;
    assert_eq!(written, C_TRACES);
}
