//! CRC-32C with the x86-64 instructions made for it: PCLMULQDQ folds the data 128
//! bytes at a time in eight independent 16-byte lanes (carry-less multiplication by
//! constants congruent to a shift modulo the polynomial), and SSE4.2's crc32 reduces
//! what is left. Used when CPUID reports both; detected once, at the first call.
//!
//! Why folding works: the raw CRC (no initial or final inversion) of a message M is
//! `M(x) * x^32 mod P`, so it depends only on `M mod P`, and any prefix may be replaced
//! by a shorter polynomial congruent to it at the same place. A lane holding 128 bits
//! `A * x^64 + B` (A the lower-addressed 64 bits) that has to move `n` bits further
//! becomes `A * (x^(64+n) mod P) + B * (x^n mod P)`, less than 128 bits again.
//!
//! Only for targets with SSE2 in their ABI (not x86_64-unknown-none, whose kernels
//! and firmware must not touch vector registers unasked).
#![allow(unsafe_code)]

use core::arch::x86_64::{
    __cpuid, __m128i, _mm_clmulepi64_si128, _mm_crc32_u64, _mm_crc32_u8, _mm_cvtsi128_si64,
    _mm_cvtsi32_si128, _mm_loadu_si128, _mm_set_epi64x, _mm_unpackhi_epi64, _mm_xor_si128,
};
// Not `crate::sync`: a cached CPUID answer is no part of the map's protocols (the loom
// models have nothing to check here), and it must be a `static`.
use core::sync::atomic::{AtomicU8, Ordering};

use super::CASTAGNOLI;

const LANE: usize = 16;
const LANES: usize = 8;
/// Bytes folded per step: one load per lane.
const BLOCK: usize = LANE * LANES;

/// `x^n mod P` in the reflected form (bit `i` is the coefficient of `x^(31-i)`): one
/// multiplication by `x` per step, as the tables are built. Only run in constants.
const fn x_pow_mod(n: u32) -> u32 {
    let mut r = 1u32 << 31;
    let mut i = 0;
    while i < n {
        r = if r & 1 != 0 {
            (r >> 1) ^ CASTAGNOLI
        } else {
            r >> 1
        };
        i = i.wrapping_add(1);
    }
    r
}

/// The two constants that move a lane `bits` further: for its low (lower-addressed)
/// and its high 64 bits. A 32-bit constant `C` in a 64-bit operand reads as
/// `C * x^32`, and a carry-less product of two reflected 64-bit operands comes out
/// one bit short of a reflected 128-bit value, hence the `- 33`.
const fn fold_keys(bits: u32) -> [u64; 2] {
    [
        x_pow_mod(bits.wrapping_add(64).wrapping_sub(33)) as u64,
        x_pow_mod(bits.wrapping_sub(33)) as u64,
    ]
}

/// Moves a lane one block further (to the lane of the next block).
const BLOCK_KEYS: [u64; 2] = fold_keys((BLOCK * 8) as u32);
/// Moves a lane one lane further (to fold the lanes into one at the end).
const LANE_KEYS: [u64; 2] = fold_keys((LANE * 8) as u32);

/// 0: not asked yet, 1: absent, 2: present.
static HARDWARE: AtomicU8 = AtomicU8::new(0);

/// True when the CPU has SSE4.2 and PCLMULQDQ. Relaxed: the cached byte publishes
/// nothing else, and every thread that races to fill it computes the same answer
/// (CPUID of one machine), so any value it reads is right or "not asked yet".
fn hardware() -> bool {
    if cfg!(all(target_feature = "sse4.2", target_feature = "pclmulqdq")) {
        return true;
    }
    match HARDWARE.load(Ordering::Relaxed) {
        1 => false,
        2 => true,
        _ => {
            // CPUID leaf 1 exists on every x86-64 CPU: ECX bit 20 is SSE4.2, bit 1
            // PCLMULQDQ. (Unsafe before Rust 1.87, safe since.)
            #[allow(unused_unsafe)]
            // SAFETY: the cpuid instruction exists on every x86-64 CPU.
            let ecx = unsafe { __cpuid(1) }.ecx;
            let present = ecx & (1 << 20) != 0 && ecx & (1 << 1) != 0;
            HARDWARE.store(if present { 2 } else { 1 }, Ordering::Relaxed);
            present
        }
    }
}

/// CRC-32C of `data`, or `None` when the CPU lacks the instructions.
pub(super) fn crc32c(data: &[u8]) -> Option<u32> {
    if !hardware() {
        return None;
    }
    // SAFETY: `hardware()` saw both target features on this CPU.
    Some(!unsafe { update(!0, data) })
}

/// The raw CRC (no inversions) of `data` after `crc`.
///
/// # Safety
///
/// The CPU must have SSE4.2 and PCLMULQDQ.
#[target_feature(enable = "sse4.2,pclmulqdq")]
unsafe fn update(crc: u32, data: &[u8]) -> u32 {
    // Folding pays from two blocks on; below, the crc32 instruction alone is as fast.
    if data.len() < 2 * BLOCK {
        return tail(crc, data);
    }
    let (first, rest) = data.split_at(BLOCK);
    let mut lanes = [_mm_cvtsi32_si128(0); LANES];
    for (lane, bytes) in lanes.iter_mut().zip(first.chunks_exact(LANE)) {
        *lane = load(bytes);
    }
    // The running CRC joins the first four bytes (raw CRC: `crc * x^(8 len)` added to
    // `M * x^32`, i.e. `crc` added to M's highest 32 bits).
    if let Some(lane) = lanes.first_mut() {
        *lane = _mm_xor_si128(*lane, _mm_cvtsi32_si128(crc as i32));
    }
    let keys = key_register(BLOCK_KEYS);
    let mut blocks = rest.chunks_exact(BLOCK);
    for block in &mut blocks {
        for (lane, bytes) in lanes.iter_mut().zip(block.chunks_exact(LANE)) {
            *lane = _mm_xor_si128(fold(*lane, keys), load(bytes));
        }
    }
    let keys = key_register(LANE_KEYS);
    let [head, others @ ..] = lanes;
    let acc = others
        .iter()
        .fold(head, |acc, lane| _mm_xor_si128(fold(acc, keys), *lane));
    // The folded prefix is 16 bytes congruent to everything before the remainder.
    let lo = _mm_cvtsi128_si64(acc) as u64;
    let hi = _mm_cvtsi128_si64(_mm_unpackhi_epi64(acc, acc)) as u64;
    let crc = _mm_crc32_u64(_mm_crc32_u64(0, lo), hi) as u32;
    tail(crc, blocks.remainder())
}

/// The folding constants as one register: low half for the low 64 bits of a lane.
#[inline]
#[target_feature(enable = "sse4.2,pclmulqdq")]
unsafe fn key_register(k: [u64; 2]) -> __m128i {
    _mm_set_epi64x(k[1] as i64, k[0] as i64)
}

/// `fold(lane)`: the lane moved to the position `keys` were made for.
#[inline]
#[target_feature(enable = "sse4.2,pclmulqdq")]
unsafe fn fold(lane: __m128i, keys: __m128i) -> __m128i {
    _mm_xor_si128(
        _mm_clmulepi64_si128(lane, keys, 0x00),
        _mm_clmulepi64_si128(lane, keys, 0x11),
    )
}

/// Sixteen bytes as a lane (callers pass `chunks_exact(LANE)`, so the length check
/// folds away).
#[inline]
#[target_feature(enable = "sse4.2,pclmulqdq")]
unsafe fn load(bytes: &[u8]) -> __m128i {
    match <&[u8; LANE]>::try_from(bytes) {
        // SAFETY: 16 readable bytes; movdqu has no alignment requirement.
        Ok(lane) => _mm_loadu_si128(lane.as_ptr().cast()),
        Err(_) => _mm_cvtsi32_si128(0),
    }
}

/// The raw CRC of `data` after `crc` with the crc32 instruction: eight bytes at a
/// time, then byte by byte.
#[target_feature(enable = "sse4.2,pclmulqdq")]
unsafe fn tail(crc: u32, data: &[u8]) -> u32 {
    let mut crc = u64::from(crc);
    let mut words = data.chunks_exact(8);
    for w in &mut words {
        crc = _mm_crc32_u64(crc, u64::from_le_bytes(w.try_into().unwrap_or([0; 8])));
    }
    let mut crc = crc as u32;
    for b in words.remainder() {
        crc = _mm_crc32_u8(crc, *b);
    }
    crc
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The instructions agree with the portable slice-by-8 at every length up to
    /// past five blocks and at every alignment of a 16-byte lane, on pseudo-random
    /// bytes; and give CRC-32C's check value.
    #[test]
    fn agrees_with_the_portable_path() {
        if !hardware() {
            std::eprintln!("no SSE4.2 and PCLMULQDQ here: nothing to compare");
            return;
        }
        assert_eq!(crc32c(b"123456789"), Some(0xe306_9283));
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let data: std::vec::Vec<u8> = (0..5 * BLOCK + 2 * LANE)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 24) as u8
            })
            .collect();
        for start in 0..LANE {
            for len in 0..data.len() - start {
                let d = &data[start..start + len];
                assert_eq!(
                    crc32c(d),
                    Some(super::super::crc32c_portable(d)),
                    "{len} bytes at offset {start}"
                );
            }
        }
    }

    /// The folding constants are the powers of x they stand for: x^32 mod P is the
    /// polynomial itself, x^31 is the top bit.
    #[test]
    fn powers_of_x() {
        assert_eq!(x_pow_mod(0), 1 << 31);
        assert_eq!(x_pow_mod(31), 1);
        assert_eq!(x_pow_mod(32), CASTAGNOLI);
    }
}
