/* pfn_valid through the C ABI against a flat one-load table, in one run (`make bench`
 * builds it against libsparsemem.a with -O2 and puts its lines into BENCHMARKS.md).
 * The machine and the pfns are the criterion suite's (core/benches/suite/machines.rs):
 * 1 TiB on two nodes in 256 regions, 1024 random pfns below 1 TiB. Each figure is the
 * median over 31 samples of the time per lookup; a speed figure is only ever read as
 * a ratio to the flat table of the same run. */
#define _POSIX_C_SOURCE 199309L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "sparsemem.h"

#define MIB (1ull << 20)
#define GIB (1ull << 30)
#define BATCH 1024
#define SAMPLES 31

static uint64_t rng_state = 0x5eed0001;
static uint64_t below(uint64_t n) { /* xorshift64* */
    rng_state ^= rng_state >> 12, rng_state ^= rng_state << 25, rng_state ^= rng_state >> 27;
    return (rng_state * 0x2545f4914f6cdd1dull) % n;
}

static void ok(int rc, const char *what) {
    if (rc != SMEM_OK) fprintf(stderr, "%s: %d\n", what, rc), exit(1);
}

/* The flat table: one 64-bit word per 128 MiB section, its 64 sub-section bits. */
static uint64_t *flat;
static inline int flat_valid(const uint64_t *table, uint64_t pfn) {
    return (__atomic_load_n(&table[pfn >> 15], __ATOMIC_ACQUIRE) >> ((pfn >> 9) & 63)) & 1;
}

static double now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e9 + t.tv_nsec;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static smem_map *map;
static uint64_t pfns[BATCH];
static volatile uint64_t sink;

/* Median ns per lookup of `body` over the batch. */
#define MEASURE(out, expr)                                                      \
    do {                                                                        \
        double s_[SAMPLES];                                                     \
        long reps_ = 2000;                                                      \
        for (int k_ = 0; k_ < SAMPLES; k_++) {                                  \
            double t0_ = now_ns();                                              \
            uint64_t n_ = 0;                                                    \
            for (long r_ = 0; r_ < reps_; r_++)                                 \
                for (int i_ = 0; i_ < BATCH; i_++) {                            \
                    uint64_t pfn = pfns[i_];                                    \
                    __asm__ volatile("" : "+r"(pfn));                           \
                    n_ += (expr);                                               \
                }                                                               \
            s_[k_] = (now_ns() - t0_) / ((double)reps_ * BATCH);                \
            sink = n_;                                                          \
        }                                                                       \
        qsort(s_, SAMPLES, sizeof s_[0], cmp);                                  \
        (out) = s_[SAMPLES / 2];                                                \
    } while (0)

int main(void) {
    map = aligned_alloc(SMEM_MAP_ALIGN, sizeof(smem_map));
    smem_config cfg;
    smem_config_x86_64(&cfg);
    ok(smem_init(map, &cfg), "init");
    ok(smem_boot_add_ram(map, 0, 0x1000, 0x9f000 - 0x1000), "boot");
    ok(smem_boot_add_ram(map, 0, MIB, 3 * GIB - MIB), "boot");
    for (uint64_t i = 0; i < 245; i++) {
        uint64_t start = 4 * GIB + i * 4 * GIB;
        ok(smem_boot_add_ram(map, start < 512 * GIB ? 0 : 1, start, 4 * GIB - 30 * MIB), "boot");
    }
    ok(smem_boot_finish(map), "boot_finish");
    ok(smem_add_memory(map, 1, 984 * GIB, 4 * GIB), "add_memory");
    for (uint64_t i = 0; i < 8; i++) ok(smem_add_device(map, 1, 990 * GIB + i * 2 * GIB, GIB + 6 * MIB), "add_device");
    const struct smem_lookup *d = smem_lookup_description(map);
    if (!d || d->version != SMEM_LOOKUP_VERSION) return fprintf(stderr, "lookup\n"), 1;

    uint64_t pfn_end = (1ull << 40) >> 12;
    flat = calloc(pfn_end >> 15, sizeof *flat);
    for (uint64_t p = 0; p < pfn_end; p += 512)
        if (smem_pfn_valid(map, p)) flat[p >> 15] |= 1ull << ((p >> 9) & 63);
    for (int i = 0; i < BATCH; i++) {
        pfns[i] = below(pfn_end);
        int a = smem_pfn_valid(map, pfns[i]), b = smem_pfn_valid_inline(map, d, pfns[i]);
        if (a != b || a != flat_valid(flat, pfns[i])) return fprintf(stderr, "answers differ\n"), 1;
    }
    double t_flat, t_call, t_inline;
    /* Locals, so that the compiler may keep them in registers across the acquire loads
     * (for the flat table too): the map pointer and a copy of its description, as the
     * header suggests. */
    smem_map *const m = map;
    struct smem_lookup l = *d;
    const uint64_t *const ft = flat;
    MEASURE(t_flat, flat_valid(ft, pfn));
    MEASURE(t_call, smem_pfn_valid(m, pfn));
    MEASURE(t_inline, smem_pfn_valid_inline(m, &l, pfn));
    /* Lines for core/benches/suite/report.rs: name, ns per lookup. */
    printf("c_flat_table %.3f\n", t_flat);
    printf("c_smem_pfn_valid %.3f\n", t_call);
    printf("c_smem_pfn_valid_inline %.3f\n", t_inline);
    free(flat);
    free(map);
    return 0;
}
