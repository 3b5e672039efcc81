//! Differential test (issue #8): random operation sequences applied to sparsemem and to
//! the reference model in tests/model, comparing every return code and, after every
//! step, every block, every zone span and a sample of pfn answers.
//!
//! Bounded: DIFF_CASES sequences (default 120) of DIFF_STEPS operations (default 150).
//! A failure prints the seed; `DIFF_SEED=<seed> cargo test --test differential` replays it.

mod common;
mod model;

use common::Rng;
use model::driver::{run_case, Source};

impl Source for Rng {
    fn below(&mut self, n: u64) -> u64 {
        Rng::below(self, n)
    }
}

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn sparsemem_agrees_with_the_reference_model() {
    let steps = env("DIFF_STEPS", 150) as usize;
    let seeds: Vec<u64> = match std::env::var("DIFF_SEED") {
        Ok(s) => vec![s.parse().expect("DIFF_SEED is a number")],
        Err(_) => (0..env("DIFF_CASES", 120))
            .map(|i| 0xd1ff_0000 + i)
            .collect(),
    };
    let mut succeeded = 0;
    for seed in &seeds {
        match run_case(&mut Rng(*seed | 1), steps) {
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
