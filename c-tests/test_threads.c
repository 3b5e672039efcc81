/* Readers hammer the pfn queries while a writer adds and removes device memory and
 * memory blocks; no reader may ever see an impossible answer. Bounded in iterations
 * (SMEM_THREAD_ITERS, default 20000) and never timed. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include "common.h"

static smem_map *g_map;
static atomic_int g_stop;
static atomic_ulong g_checks;

static void *reader(void *arg) {
    uint64_t salt = (uint64_t)(uintptr_t)arg;
    uint64_t boot_ram = (GIB >> 12) + salt, never = (100 * 128 * MIB >> 12) + 7;
    while (!atomic_load(&g_stop)) {
        assert_true(smem_pfn_valid(g_map, boot_ram) && smem_pfn_online(g_map, boot_ram));
        assert_false(smem_pfn_valid(g_map, never));
        for (uint64_t k = 0; k < 64; k++) {
            uint64_t p = (40 * 128 * MIB >> 12) + k * 2048 + salt;   /* device churn */
            uint64_t q = (32 * 128 * MIB >> 12) + k * 1024;          /* block churn */
            uint64_t pf[2] = {p, q};
            for (int i = 0; i < 2; i++) {
                struct smem_pfn_info pi;
                if (smem_pfn_info(g_map, pf[i], &pi) == SMEM_OK) {
                    assert_true(!pi.online || (pi.valid && pi.kind == SMEM_PFN_RAM));
                    assert_true(!(pi.kind == SMEM_PFN_DEVICE && pi.online));
                    assert_true(!pi.valid || (pi.section_flags & SMEM_SECTION_VALID));
                }
                assert_false(i == 0 && smem_pfn_online(g_map, pf[i])); /* device pfns never online */
            }
        }
        atomic_fetch_add(&g_checks, 1);
    }
    return NULL;
}

/* Lets the readers finish at least one more pass, so reads interleave with the churn
 * even where threads do not run in parallel (valgrind runs one thread at a time). */
static void wait_for_reader_pass(void) {
    unsigned long seen = atomic_load(&g_checks);
    while (atomic_load(&g_checks) == seen) sched_yield();
}

static void test_readers_never_see_impossible_answers(void **state) {
    (void)state;
    g_map = machine();
    const char *env = getenv("SMEM_THREAD_ITERS");
    long iters = env ? atol(env) : 20000;
    pthread_t r[2];
    for (uintptr_t i = 0; i < 2; i++) assert_int_equal(pthread_create(&r[i], NULL, reader, (void *)i), 0);
    uint64_t s40 = 40 * 128 * MIB;
    wait_for_reader_pass();
    unsigned long before = atomic_load(&g_checks);
    for (long i = 0; i < iters; i++) {
        if (i % 64 == 32) wait_for_reader_pass();
        uint64_t at = s40 + (uint64_t)(i % 256) * 2 * MIB;
        assert_int_equal(smem_add_device(g_map, 1, at, 2 * MIB), SMEM_OK);
        assert_true(smem_pfn_valid(g_map, at >> 12));
        assert_int_equal(smem_remove_device(g_map, at, 2 * MIB), SMEM_OK);
        if (i % 16 == 0) {
            assert_int_equal(smem_add_memory(g_map, 1, 4 * GIB, 256 * MIB), SMEM_OK);
            assert_int_equal(smem_online_block(g_map, 32, SMEM_ONLINE_MOVABLE), SMEM_OK);
            assert_int_equal(smem_offline_and_remove_memory(g_map, 4 * GIB, 256 * MIB), SMEM_OK);
        }
    }
    unsigned long during = atomic_load(&g_checks) - before;
    atomic_store(&g_stop, 1);
    for (int i = 0; i < 2; i++) pthread_join(r[i], NULL);
    /* every 64 writer iterations waited for a reader pass */
    assert_true(during >= (unsigned long)(iters + 31) / 64);
    free(g_map);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_readers_never_see_impossible_answers)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
