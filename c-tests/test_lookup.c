/* smem_pfn_valid_inline() (the header's inline reader of the published lookup
 * description) against the library's smem_pfn_valid(): the same answer on every pfn the
 * checks visit, after every kind of change, below and above the flat valid bitmap. The
 * concurrent side is in test_threads.c. */
#include "common.h"

/* Every pfn of [from, to) at `step` and, when it skips pfns, the first and last pfn of
 * each sub-section it visits: the inline reader and the library agree. */
static void agree(const smem_map *m, uint64_t from, uint64_t to, uint64_t step) {
    const struct smem_lookup *l = smem_lookup_description(m);
    assert_non_null(l);
    for (uint64_t p = from; p < to; p += step) {
        uint64_t edges[3] = {p, p | 511, p & ~511ull};
        for (int e = 0; e < (step == 1 ? 1 : 3); e++) {
            bool lib = smem_pfn_valid(m, edges[e]), in = smem_pfn_valid_inline(m, l, edges[e]);
            if (lib != in)
                fail_msg("pfn %#llx: smem_pfn_valid %d, smem_pfn_valid_inline %d",
                         (unsigned long long)edges[e], lib, in);
        }
    }
}

/* Every pfn of the ranges the tests change (the first 256 MiB: boot RAM with the PC
 * holes and boot block 1; 4 GiB: hot-added RAM; 8 GiB: device memory), every
 * sub-section below 64 GiB, every section up to past the end of the bitmap. */
static void check(const smem_map *m) {
    const uint64_t sub = 512, sec = 32768;
    agree(m, 0, (256 * MIB) >> 12, 1);
    agree(m, (4 * GIB) >> 12, (4 * GIB + 256 * MIB) >> 12, 1);
    agree(m, (8 * GIB) >> 12, (8 * GIB + 128 * MIB) >> 12, 1);
    agree(m, 0, (64 * GIB) >> 12, sub);
    uint64_t end = (uint64_t)SMEM_FLAT_VALID_SUBSECTIONS * sub;
    agree(m, (64 * GIB) >> 12, end + 4 * sec, sec);
}

static void test_the_description_is_published_and_versioned(void **state) {
    (void)state;
    assert_null(smem_lookup_description(NULL));
    smem_map *m = machine();
    const struct smem_lookup *l = smem_lookup_description(m);
    assert_non_null(l);
    assert_int_equal(l->version, SMEM_LOOKUP_VERSION);
    assert_int_equal(l->subsection_pfn_shift, 21 - 12);
    assert_int_equal(1ull << l->covered_shift, SMEM_FLAT_VALID_SUBSECTIONS);
    /* Inside the map's storage, and so is the bitmap. */
    assert_true((const char *)l >= (const char *)m &&
                (const char *)l < (const char *)m + sizeof(smem_map) &&
                l->words_offset + (uint64_t)SMEM_FLAT_VALID_SUBSECTIONS / 8 <= sizeof(smem_map));
    /* A copy answers as the original: the fields locate the bitmap from the map. */
    struct smem_lookup copy = *l;
    for (uint64_t p = 0; p < (4 * GIB >> 12); p += 4099)
        assert_int_equal(smem_pfn_valid_inline(m, &copy, p), smem_pfn_valid(m, p));
    free(m);
}

static void test_inline_answers_match_on_every_pfn_after_every_change(void **state) {
    (void)state;
    smem_map *m = machine();
    check(m);
    /* Hot-added RAM, device memory (exclusive path, then the sub-section fast path). */
    assert_int_equal(smem_add_memory(m, 0, 4 * GIB, 256 * MIB), SMEM_OK);
    assert_int_equal(smem_add_device(m, 1, 8 * GIB, 6 * MIB), SMEM_OK);
    assert_int_equal(smem_remove_device(m, 8 * GIB + 2 * MIB, 2 * MIB), SMEM_OK);
    check(m);
    assert_int_equal(smem_add_device(m, 1, 8 * GIB + 2 * MIB, 2 * MIB), SMEM_OK);
    assert_true(smem_pfn_valid_inline(m, smem_lookup_description(m), (8 * GIB + 2 * MIB) >> 12));
    check(m);
    /* A snapshot restored into a fresh map. */
    snap_t s = snap(m);
    smem_map *copy = new_map();
    assert_int_equal(smem_restore(copy, s.bytes, s.len), SMEM_OK);
    check(copy);
    free(s.bytes);
    /* Removals: device memory, hot-added RAM, a boot block. */
    assert_int_equal(smem_remove_device(m, 8 * GIB, 6 * MIB), SMEM_OK);
    assert_int_equal(smem_remove_memory(m, 4 * GIB, 256 * MIB), SMEM_OK);
    assert_int_equal(smem_offline_and_remove_memory(m, 128 * MIB, 128 * MIB), SMEM_OK);
    assert_false(smem_pfn_valid_inline(m, smem_lookup_description(m), (128 * MIB >> 12) + 3));
    check(m);
    /* init again: an empty map, every answer false. */
    smem_config cfg;
    smem_config_x86_64(&cfg);
    assert_int_equal(smem_init(m, &cfg), SMEM_OK);
    check(m);
    free(copy);
    free(m);
}

/* A 48-bit map: above the bitmap the inline reader calls smem_pfn_valid(). */
static void test_above_the_bitmap_the_library_answers(void **state) {
    (void)state;
    smem_map *m = aligned_alloc(SMEM_MAP_ALIGN, sizeof(smem_map));
    assert_non_null(m);
    smem_config cfg;
    smem_config_arm64_4k(&cfg);
    assert_int_equal(smem_init(m, &cfg), SMEM_OK);
    assert_int_equal(smem_boot_add_ram(m, 0, 0, GIB), SMEM_OK);
    assert_int_equal(smem_boot_finish(m), SMEM_OK);
    uint64_t high = (uint64_t)SMEM_FLAT_VALID_SUBSECTIONS * 2 * MIB + 128 * MIB;
    assert_int_equal(smem_add_device(m, 0, high, 2 * MIB), SMEM_OK);
    const struct smem_lookup *l = smem_lookup_description(m);
    assert_true(smem_pfn_valid_inline(m, l, high >> 12));
    assert_false(smem_pfn_valid_inline(m, l, (high >> 12) + 512));
    agree(m, (high >> 12) - 32768, (high >> 12) + 32768, 1);
    check(m);
    free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_the_description_is_published_and_versioned),
        cmocka_unit_test(test_inline_answers_match_on_every_pfn_after_every_change),
        cmocka_unit_test(test_above_the_bitmap_the_library_answers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
