/* Shared helpers of the C tests: map allocation, a booted machine, and the snapshot
 * comparison that proves a failed call changed nothing. */
#ifndef SMEM_TEST_COMMON_H
#define SMEM_TEST_COMMON_H
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "sparsemem.h"

#define MIB (1ull << 20)
#define GIB (1ull << 30)

static inline smem_map *new_map(void) {
    smem_map *m = aligned_alloc(SMEM_MAP_ALIGN, sizeof(smem_map));
    assert_non_null(m);
    smem_config cfg;
    smem_config_x86_64(&cfg);
    assert_int_equal(smem_init(m, &cfg), SMEM_OK);
    return m;
}

/* Two nodes: node 0 RAM [1 MiB, 2 GiB), node 1 [2 GiB, 3 GiB), booted. */
static inline smem_map *machine(void) {
    smem_map *m = new_map();
    assert_int_equal(smem_boot_add_ram(m, 0, MIB, 2 * GIB - MIB), SMEM_OK);
    assert_int_equal(smem_boot_add_ram(m, 1, 2 * GIB, GIB), SMEM_OK);
    assert_int_equal(smem_boot_finish(m), SMEM_OK);
    return m;
}

typedef struct { uint8_t *bytes; size_t len; } snap_t;

static inline snap_t snap(const smem_map *m) {
    snap_t s;
    size_t cap = smem_snapshot_bytes(m);
    s.bytes = malloc(cap);
    assert_non_null(s.bytes);
    assert_int_equal(smem_snapshot(m, s.bytes, cap, &s.len), SMEM_OK);
    return s;
}

/* Asserts the map's snapshot equals `before`, then frees `before`. */
static inline void assert_unchanged(const smem_map *m, snap_t before) {
    snap_t after = snap(m);
    assert_int_equal(after.len, before.len);
    assert_memory_equal(after.bytes, before.bytes, before.len);
    free(after.bytes);
    free(before.bytes);
}

/* Runs a call that must fail with `err` and change nothing. */
#define EXPECT_ERR_UNCHANGED(m, err, call)        \
    do {                                          \
        snap_t before_ = snap(m);                 \
        assert_int_equal((call), (err));          \
        assert_unchanged((m), before_);           \
    } while (0)

#endif
