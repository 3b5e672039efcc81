//! Input hostility for the C ABI (issue #8), bounded, in `cargo test`: seeded sessions
//! of hostile calls (the testkit's `hostile`), and every shift combination of `smem_config`
//! against the rules docs/semantics.md lists under "Geometry". The unbounded version is the cargo-fuzz target
//! fuzz/fuzz_targets/c_abi.rs.
//!
//! The calls are the exported `extern "C"` functions themselves, through the crate's
//! rlib (built with its `std` feature). HOSTILE_CASES / HOSTILE_STEPS size the run; a
//! failure prints its seed, and HOSTILE_SEED replays it.

use sparsemem_ffi::*;
use sparsemem_testkit::hostile::{self, config_is_valid, show, storage, Hostile};
use sparsemem_testkit::seeds::{env_u64, seeds, Rng};

#[test]
fn hostile_calls_get_success_or_a_documented_error_and_change_nothing_on_error() {
    let steps = env_u64("HOSTILE_STEPS").unwrap_or(400) as usize;
    let seeds = seeds("HOSTILE", 48, 0x4057_0000);
    let (mut calls, mut mutations, mut successes) = (0, 0, 0);
    let mut outcomes = std::collections::BTreeMap::new();
    for &seed in &seeds {
        let r = std::panic::catch_unwind(|| hostile::run(&mut Rng::new(seed), steps));
        match r {
            Ok(h) => {
                calls += h.calls;
                mutations += h.mutations;
                successes += h.successes;
                for (k, n) in h.outcomes {
                    *outcomes.entry(k).or_insert(0) += n;
                }
            }
            Err(_) => panic!("seed {seed} failed; replay: HOSTILE_SEED={seed} cargo test -p sparsemem-ffi --test c_abi_hostile"),
        }
    }
    // The sessions must reach states where calls succeed, not only bounce off checks.
    for ((name, rc), n) in &outcomes {
        eprintln!("{name:>32} {rc:>4}: {n}");
    }
    eprintln!("{calls} hostile calls; {successes} of {mutations} mutating calls succeeded");
    assert!(
        successes * 5 > mutations,
        "only {successes} of {mutations} mutating calls succeeded"
    );
}

/// Every combination of the four shifts (0..=64 each, and values that overflow any
/// shift: 65, 127, 128, 255) with the block size of the section: smem_init accepts
/// exactly what its rules allow (docs/semantics.md, "Geometry"), a refusal leaves the storage untouched, and an
/// accepted geometry survives a few hostile calls (its edges at 2^max_phys_bits, its
/// first block and sub-section).
#[test]
fn every_shift_combination_is_accepted_exactly_when_the_rules_allow() {
    let values: Vec<u8> = (0..=64).chain([65, 127, 128, 255]).collect();
    let steps = env_u64("HOSTILE_GEOMETRY_STEPS").unwrap_or(6);
    let mut map = Some(storage());
    let (mut accepted, mut refused, mut calls) = (0u64, 0u64, 0u64);
    for &page in &values {
        for &sub in &values {
            for &section in &values {
                for &phys in &values {
                    let mut c = smem_config {
                        page_shift: page,
                        subsection_shift: sub,
                        section_shift: section,
                        max_phys_bits: phys,
                        movable_node: 0,
                        auto_online: SMEM_AUTO_OFFLINE,
                        block_size: 1u64.checked_shl(u32::from(section)).unwrap_or(0),
                        zone_dma_end: 0,
                        zone_dma32_end: 1 << 32,
                        online_policy: SMEM_POLICY_CONTIG_ZONES,
                        auto_movable_numa_aware: 1,
                        memmap_on_memory: SMEM_MEMMAP_ON_MEMORY_OFF,
                        reserved: 0,
                        auto_movable_ratio: 301,
                    };
                    if sub == section {
                        // Also a block of several sections.
                        c.block_size = c.block_size.wrapping_shl(2);
                    }
                    let storage = map.take().unwrap();
                    let head: Vec<u64> = storage._opaque[..64].to_vec();
                    match Hostile::start(storage, c) {
                        Ok(mut h) => {
                            assert!(config_is_valid(&c), "accepted: {}", show(&c));
                            accepted += 1;
                            let mut rng = Rng::new(u64::from_le_bytes([
                                page, sub, section, phys, 0, 0, 0, 0,
                            ]));
                            for _ in 0..steps {
                                h.step(&mut rng);
                            }
                            calls += h.calls;
                            map = Some(h.into_storage());
                        }
                        Err((storage, rc)) => {
                            assert!(
                                !config_is_valid(&c) && rc == SMEM_EINVAL,
                                "refused with {rc}: {}",
                                show(&c)
                            );
                            assert!(
                                storage._opaque[..64] == head[..],
                                "a refused smem_init wrote: {}",
                                show(&c)
                            );
                            refused += 1;
                            map = Some(storage);
                        }
                    }
                }
            }
        }
    }
    eprintln!("{accepted} geometries accepted ({calls} hostile calls on them), {refused} refused");
    assert!(accepted > 10_000 && refused > accepted);
}
