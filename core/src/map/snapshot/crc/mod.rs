//! The snapshot checksums: CRC-32C (Castagnoli) for versions 2 and up, CRC-32 (IEEE
//! 802.3) to read version 1. See docs/snapshot-format.md, "Checksum".
//!
//! CRC-32C runs on the CPU's instructions where there are some (`x86`: SSE4.2's crc32
//! and PCLMULQDQ, detected at run time), else slice-by-8 from tables built at compile
//! time (8 KiB), the portable path every target has and Miri runs. CRC-32 is read
//! byte by byte (1 KiB of table): only old snapshots need it.

#[cfg(all(target_arch = "x86_64", target_feature = "sse2", not(miri)))]
mod x86;

/// Reflected CRC-32C polynomial.
const CASTAGNOLI: u32 = 0x82f6_3b78;
/// Reflected CRC-32 (IEEE 802.3) polynomial.
const IEEE: u32 = 0xedb8_8320;

/// `N` tables of the reflected CRC with polynomial `poly`: table 0 is the classic
/// byte-at-a-time table; table `k` advances a byte's CRC past `k` more zero bytes.
// Only ever evaluated in a constant: an out-of-bounds index or an overflow here would
// be a build error, never a run-time panic.
#[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
const fn tables<const N: usize>(poly: u32) -> [[u32; 256]; N] {
    let mut t = [[0u32; 256]; N];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut bit = 0;
        while bit < 8 {
            c = if c & 1 != 0 { (c >> 1) ^ poly } else { c >> 1 };
            bit += 1;
        }
        t[0][i] = c;
        i += 1;
    }
    let mut k = 1;
    while k < N {
        let mut i = 0;
        while i < 256 {
            let prev = t[k - 1][i];
            t[k][i] = (prev >> 8) ^ t[0][(prev & 0xff) as usize];
            i += 1;
        }
        k += 1;
    }
    t
}

static CASTAGNOLI_TABLES: [[u32; 256]; 8] = tables::<8>(CASTAGNOLI);
static IEEE_TABLE: [[u32; 256]; 1] = tables::<1>(IEEE);

/// `table[byte]` (a byte always indexes a 256-entry table).
#[inline(always)]
fn at(table: &[u32; 256], byte: u32) -> u32 {
    table.get((byte & 0xff) as usize).copied().unwrap_or(0)
}

/// One byte into a running (inverted) CRC.
#[inline(always)]
fn byte(table: &[u32; 256], crc: u32, b: u8) -> u32 {
    (crc >> 8) ^ at(table, crc ^ u32::from(b))
}

/// CRC-32C of `data`.
pub(super) fn crc32c(data: &[u8]) -> u32 {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2", not(miri)))]
    if let Some(crc) = x86::crc32c(data) {
        return crc;
    }
    crc32c_portable(data)
}

/// CRC-32C of `data`, slice-by-8: eight table lookups per eight bytes.
fn crc32c_portable(data: &[u8]) -> u32 {
    let [t0, t1, t2, t3, t4, t5, t6, t7] = &CASTAGNOLI_TABLES;
    let mut crc = !0u32;
    let mut words = data.chunks_exact(8);
    for w in &mut words {
        let v = u64::from_le_bytes(w.try_into().unwrap_or([0; 8])) ^ u64::from(crc);
        let (lo, hi) = (v as u32, (v >> 32) as u32);
        crc = at(t7, lo)
            ^ at(t6, lo >> 8)
            ^ at(t5, lo >> 16)
            ^ at(t4, lo >> 24)
            ^ at(t3, hi)
            ^ at(t2, hi >> 8)
            ^ at(t1, hi >> 16)
            ^ at(t0, hi >> 24);
    }
    for b in words.remainder() {
        crc = byte(t0, crc, *b);
    }
    !crc
}

/// CRC-32 (IEEE 802.3) of `data`: the checksum of version-1 snapshots.
pub(super) fn crc32_ieee(data: &[u8]) -> u32 {
    !data
        .iter()
        .fold(!0u32, |crc, b| byte(&IEEE_TABLE[0], crc, *b))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The check values of both CRCs (the CRC of the ASCII bytes "123456789"), and
    /// CRC-32C's iSCSI test vector (RFC 3720, B.4: 32 bytes of zeros), on the path
    /// this CPU takes and on the portable one.
    #[test]
    fn standard_check_values() {
        for crc32c in [crc32c, crc32c_portable] {
            assert_eq!(crc32c(b"123456789"), 0xe306_9283);
            assert_eq!(crc32c(&[0u8; 32]), 0x8a91_36aa);
        }
        assert_eq!(crc32_ieee(b"123456789"), 0xcbf4_3926);
    }

    /// Slice-by-8 and the byte loop agree at every length and alignment.
    #[test]
    fn every_length_and_offset_agrees_with_the_byte_loop() {
        let data: std::vec::Vec<u8> = (0..200u32).map(|i| (i * 37 + 11) as u8).collect();
        for start in 0..8 {
            for end in start..data.len() {
                let d = &data[start..end];
                let slow = !d
                    .iter()
                    .fold(!0u32, |c, b| byte(&CASTAGNOLI_TABLES[0], c, *b));
                assert_eq!(crc32c_portable(d), slow, "bytes {start}..{end}");
            }
        }
    }
}
