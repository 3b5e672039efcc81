//! The seeded generator and the seed/size environment variables of the randomised
//! tests. No sparsemem types here: ffi/tests includes this file by path, because a
//! dependency on the testkit would turn on the core's `alloc` feature in the no_std C
//! library that the ffi tests build.

/// A small deterministic generator (xorshift64*, Vigna) for property tests; seeds are
/// printed on failure by the tests that use it.
pub struct Rng(pub u64);

/// Mixes a seed bijectively (splitmix64's finaliser), so that distinct seeds start
/// distinct streams; setting the low bit instead would give seeds 2k and 2k+1 one stream.
pub fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Rng {
    /// The generator of a seed; every seed works (0 is xorshift's fixed point).
    pub fn new(seed: u64) -> Self {
        Rng(splitmix64(seed).max(1))
    }
    /// The next value of the stream (rand's name: `next` would read as an iterator's).
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// In `0..n` (0 for n == 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
    /// In `lo..hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo)
    }
    /// True with probability `num / den`.
    pub fn chance(&mut self, num: u64, den: u64) -> bool {
        self.below(den) < num
    }
}

/// An integer from the environment, decimal or 0x-hex; a malformed value panics rather
/// than silently running the default.
pub fn env_u64(name: &str) -> Option<u64> {
    let s = std::env::var(name).ok()?;
    let s = s.trim();
    let v = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => s.parse(),
    };
    Some(v.unwrap_or_else(|_| panic!("{name}={s:?} is not an integer")))
}

/// The seeds of a randomised test: `$<PREFIX>_SEED` alone when set (a replay), else
/// `$<PREFIX>_CASES` (default `cases`) seeds counting up from `first`.
pub fn seeds(prefix: &str, cases: u64, first: u64) -> Vec<u64> {
    match env_u64(&format!("{prefix}_SEED")) {
        Some(seed) => vec![seed],
        None => {
            let n = env_u64(&format!("{prefix}_CASES")).unwrap_or(cases);
            (0..n).map(|i| first + i).collect()
        }
    }
}

/// Where a randomised test's choices come from: the seeded [`Rng`] in `cargo test`,
/// libFuzzer's bytes ([`Bytes`]) in the fuzz targets.
pub trait Source {
    /// A value below `n` (0 when `n` is 0).
    fn below(&mut self, n: u64) -> u64;
    /// Any 64-bit value.
    fn any(&mut self) -> u64 {
        (self.below(1 << 32) << 32) | self.below(1 << 32)
    }
    /// One element of a non-empty slice.
    fn pick<T: Copy>(&mut self, from: &[T]) -> T {
        from[self.below(from.len() as u64) as usize]
    }
}

impl Source for Rng {
    fn below(&mut self, n: u64) -> u64 {
        Rng::below(self, n)
    }
}

/// libFuzzer's input read as a stream of choices; zeros once it is used up.
pub struct Bytes<'a>(pub &'a [u8]);

impl Source for Bytes<'_> {
    fn below(&mut self, n: u64) -> u64 {
        let want = if n > 1 << 16 { 4 } else { 2 };
        let take = self.0.len().min(want);
        let (head, rest) = self.0.split_at(take);
        self.0 = rest;
        let v = head.iter().fold(0u64, |a, b| (a << 8) | u64::from(*b));
        v % n.max(1)
    }
}
