/* The concurrency promises of docs/semantics.md ("Concurrency"), with real threads on one map:
 *
 * - readers hammer the per-pfn queries and check every answer against the operation in
 *   flight: a valid pfn of a hot-added block is always in that block (nid 1, a block
 *   state), an online pfn is in the zone its block is onlined to (Movable), an offline
 *   RAM pfn has no zone, device pfns are never online;
 * - writers add and remove device memory and memory blocks, and online and offline them;
 * - a snapshotter loops smem_snapshot and restores every snapshot into a second map;
 * - a leaf-crossing device writer adds and removes a range across two sections whose
 *   table leaves were handed out in descending address order, while snapshots run (the
 *   lock-order bug that deadlocked smem_snapshot against smem_add_device).
 *
 * Every thread counts its progress; the main thread is a watchdog that ends the process
 * (exit status 1, naming the stuck threads) when a thread makes no progress for
 * SMEM_WATCHDOG_SECONDS (default 5), so a deadlock fails CI instead of hanging it.
 * The work is bounded in iterations (SMEM_THREAD_ITERS, default 20000), not in time: only
 * the watchdog looks at the clock.
 * SMEM_THREAD_TEST=<cmocka pattern> runs only the matching tests.
 *
 * Threads never call cmocka's assert macros (they longjmp into the test's own thread):
 * a worker records the first failed check, stops everybody, and the test fails with it
 * once every thread is joined. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>
#include "common.h"

/* The ranges the writers churn (x86-64 preset: 128 MiB sections and blocks, 2 MiB
 * sub-sections, 128 sections = 16 GiB per table leaf). machine() boots [1 MiB, 3 GiB),
 * all in the leaf of [0, 16 GiB). */
#define DEV_CHURN (40 * GIB)             /* writer: 2 MiB device ranges in [40 GiB, +512 MiB) */
#define RAM_CHURN (4 * GIB)              /* writer: 256 MiB = blocks 32 and 33 */
#define FIELD_BLOCK_START (8 * GIB)      /* block writer: one 128 MiB block, block 64 */
#define FIELD_BLOCK_ID 64
#define CROSS_START (32 * GIB - 2 * MIB) /* leaf-crossing device range: sections 255 and 256 */
#define CROSS_SIZE (4 * MIB)
#define HOT_NID 1                        /* every hot-added range is on node 1 */

#define MAX_WORKERS 8

enum {
    W_READERS = 1,     /* two readers */
    W_WRITER = 2,      /* the original device + block churn */
    W_BLOCKS = 4,      /* add, online movable, offline, remove one block */
    W_CROSSER = 8,     /* leaf-crossing device add/remove */
    W_SNAPSHOTTER = 16 /* snapshot + restore into a second map */
};

struct worker {
    const char *name;
    void (*body)(struct worker *);
    uint64_t salt;
    bool writer; /* the run stops when every writer is done */
    atomic_ulong progress;
    atomic_int done;
    pthread_t tid;
};

static smem_map *g_map;  /* the map every thread works on */
static const struct smem_lookup *g_lookup; /* its description: smem_pfn_valid_inline() */
static smem_map *g_copy; /* the snapshotter's restore target */
static struct worker *g_snapshotter; /* NULL: none in this run */
static long g_iters;
static long g_cross_every; /* the leaf-crossing writer waits for a snapshot this often */
static atomic_int g_stop;
static atomic_int g_writers_left;
static bool g_have_readers;
static atomic_ulong g_writer_steps, g_reader_passes, g_writer_waits;
static atomic_ulong g_snap_starts, g_snap_attempts, g_snap_ok, g_snap_busy, g_snap_enospc;
static atomic_int g_failed, g_fail_ready;
static char g_fail_msg[1024];

/* Records the first failed check of any thread (the test fails with it after the join,
 * or the watchdog prints it), then stops every thread. */
static bool failat(int line, const char *expr, const char *fmt, ...) {
    if (atomic_exchange(&g_failed, 1) == 0) {
        char what[768];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(what, sizeof what, fmt, ap);
        va_end(ap);
        snprintf(g_fail_msg, sizeof g_fail_msg, "test_threads.c:%d: check `%s` failed: %s", line,
                 expr, what);
        atomic_store(&g_fail_ready, 1);
    }
    atomic_store(&g_stop, 1);
    return false;
}

/* CHECK(cond, fmt, ...): true, or records the failure and returns false. */
#define CHECK(cond, ...) ((cond) ? true : failat(__LINE__, #cond, __VA_ARGS__))
/* A library call that must return SMEM_OK. */
#define CALL_OK(call) check_ok((call), __LINE__, #call)

static bool check_ok(int rc, int line, const char *call) {
    return rc == SMEM_OK ||
           failat(line, call, "returned %d (%s), expected SMEM_OK", rc, smem_strerror(rc));
}

static bool stopping(void) { return atomic_load(&g_stop) != 0; }

static void tick(struct worker *w) {
    atomic_fetch_add(&w->progress, 1);
    if (w->writer) atomic_fetch_add(&g_writer_steps, 1);
}

/* Waits for the readers to finish one more pass (or the run to stop), so that reads
 * interleave with the churn even where threads do not run in parallel (valgrind runs one
 * thread at a time). Waiting is not progress: a thread that waits for a stuck one is
 * stuck too. */
static void wait_for_reader_pass(void) {
    unsigned long seen = atomic_load(&g_reader_passes);
    while (g_have_readers && atomic_load(&g_reader_passes) == seen && !stopping()) sched_yield();
}

/* Lets the writers take a step before the next snapshot, for a bounded number of yields
 * (a strict handshake could wait on a writer that waits for a snapshot): unpaced, the
 * snapshotter takes most of the time valgrind gives one thread after the other. */
static void pace_snapshots(unsigned long steps_before) {
    for (int k = 0; k < 64 && atomic_load(&g_writer_steps) == steps_before && !stopping(); k++)
        sched_yield();
}

/* Waits for the snapshotter to start its next snapshot, if it is still running. */
static void wait_for_snapshot_start(void) {
    unsigned long seen = atomic_load(&g_snap_starts);
    while (g_snapshotter && !atomic_load(&g_snapshotter->done) &&
           atomic_load(&g_snap_starts) == seen && !stopping())
        sched_yield();
}

static const char *kind_name(uint8_t k) {
    return k == SMEM_PFN_RAM      ? "ram"
           : k == SMEM_PFN_DEVICE ? "device"
           : k == SMEM_PFN_HOLE   ? "hole"
                                  : "?";
}

static const char *state_name(uint8_t s) {
    switch (s) {
    case 0: return "no block";
    case SMEM_BLOCK_ONLINE: return "online";
    case SMEM_BLOCK_GOING_OFFLINE: return "going-offline";
    case SMEM_BLOCK_OFFLINE: return "offline";
    case SMEM_BLOCK_GOING_ONLINE: return "going-online";
    default: return "?";
    }
}

/* All fields of a pfn_info, for failure messages. */
#define PI_FMT                                                                             \
    "pfn %#llx: valid=%u online=%u kind=%s nid=%d zone=%s block %llu state=%s section %llu " \
    "flags=%#x"
#define PI_ARGS(pfn, pi)                                                                   \
    (unsigned long long)(pfn), (pi).valid, (pi).online, kind_name((pi).kind), (pi).nid,  \
        smem_zone_name((pi).zone), (unsigned long long)(pi).block_id,                     \
        state_name((pi).block_state), (unsigned long long)(pi).section_nr, (pi).section_flags

/* smem_pfn_info of `pfn` with the checks every answer passes. Returns false on a failed
 * check; *present is false when the section is absent (SMEM_ENOENT). */
static bool pfn_info_checked(uint64_t pfn, struct smem_pfn_info *pi, bool *present) {
    int rc = smem_pfn_info(g_map, pfn, pi);
    *present = rc == SMEM_OK;
    if (rc == SMEM_ENOENT) return true;
    return CHECK(rc == SMEM_OK, "smem_pfn_info(%#llx) returned %d (%s)", (unsigned long long)pfn,
                 rc, smem_strerror(rc)) &&
           CHECK(!pi->online || (pi->valid && pi->kind == SMEM_PFN_RAM), PI_FMT,
                 PI_ARGS(pfn, *pi)) &&
           CHECK(!(pi->kind == SMEM_PFN_DEVICE && pi->online), PI_FMT, PI_ARGS(pfn, *pi)) &&
           CHECK(!pi->valid || (pi->section_flags & SMEM_SECTION_VALID), PI_FMT,
                 PI_ARGS(pfn, *pi)) &&
           CHECK(!pi->online || (pi->section_flags & SMEM_SECTION_ONLINE), PI_FMT,
                 PI_ARGS(pfn, *pi));
}

/* A pfn of RAM hot-added on HOT_NID in block `block`, which is only ever onlined to
 * ZONE_MOVABLE: every answer must come from one state of the map (docs/semantics.md, "Concurrency": never a
 * present section with a pfn in no block, never an online pfn in a zone other than the
 * one its block is being onlined to). */
static bool check_hot_ram_pfn(uint64_t pfn, uint64_t block) {
    struct smem_pfn_info pi;
    bool present;
    if (!pfn_info_checked(pfn, &pi, &present)) return false;
    if (!present) return true;
    if (pi.valid && !CHECK(pi.nid == HOT_NID && pi.block_state != 0 && pi.block_id == block &&
                               pi.kind == SMEM_PFN_RAM,
                           "a valid pfn of hot-added RAM must be in its block of node %d: " PI_FMT,
                           HOT_NID, PI_ARGS(pfn, pi)))
        return false;
    if (pi.online &&
        !CHECK(pi.zone == SMEM_ZONE_MOVABLE && (pi.block_state == SMEM_BLOCK_ONLINE ||
                                                pi.block_state == SMEM_BLOCK_GOING_OFFLINE),
               "an online pfn must be in the zone its block is onlined to (movable), its block "
               "online or going offline: " PI_FMT,
               PI_ARGS(pfn, pi)))
        return false;
    if (!pi.online && pi.kind == SMEM_PFN_RAM &&
        !CHECK(pi.zone == SMEM_ZONE_NONE, "an offline RAM pfn has no zone: " PI_FMT,
               PI_ARGS(pfn, pi)))
        return false;
    return true;
}

/* A pfn of device memory added on HOT_NID outside every block. */
static bool check_device_pfn(uint64_t pfn) {
    struct smem_pfn_info pi;
    bool present;
    if (!pfn_info_checked(pfn, &pi, &present)) return false;
    if (present && pi.valid &&
        !CHECK(pi.kind == SMEM_PFN_DEVICE && !pi.online && pi.zone == SMEM_ZONE_DEVICE &&
                   pi.nid == HOT_NID && pi.block_state == 0,
               "a valid pfn of a device range of node %d outside every block: " PI_FMT, HOT_NID,
               PI_ARGS(pfn, pi)))
        return false;
    return CHECK(!smem_pfn_online(g_map, pfn), "device pfn %#llx reported online",
                 (unsigned long long)pfn);
}

static void reader(struct worker *w) {
    uint64_t salt = w->salt;
    uint64_t boot_ram = (GIB >> 12) + salt, never = (100 * 128 * MIB >> 12) + 7;
    while (!stopping()) {
        if (!CHECK(smem_pfn_valid(g_map, boot_ram) && smem_pfn_online(g_map, boot_ram),
                   "boot RAM pfn %#llx not valid and online", (unsigned long long)boot_ram) ||
            !CHECK(!smem_pfn_valid(g_map, never), "pfn %#llx never added but valid",
                   (unsigned long long)never) ||
            !CHECK(smem_pfn_valid_inline(g_map, g_lookup, boot_ram) &&
                       !smem_pfn_valid_inline(g_map, g_lookup, never),
                   "smem_pfn_valid_inline: boot RAM invalid or %#llx valid",
                   (unsigned long long)never))
            return;
        for (uint64_t k = 0; k < 64; k++) {
            uint64_t dev = (DEV_CHURN >> 12) + k * 2048 + salt;            /* device churn */
            uint64_t ram = (RAM_CHURN >> 12) + k * 1024;                   /* blocks 32, 33 */
            uint64_t fld = (FIELD_BLOCK_START >> 12) + k * 512 + salt * 7; /* block 64 */
            uint64_t crs = (CROSS_START >> 12) + k * 16 + salt;            /* sections 255, 256 */
            if (!check_device_pfn(dev) || !check_hot_ram_pfn(ram, 32 + k / 32) ||
                !check_hot_ram_pfn(fld, FIELD_BLOCK_ID) || !check_device_pfn(crs))
                return;
        }
        atomic_fetch_add(&g_reader_passes, 1);
        tick(w);
        sched_yield(); /* readers never wait: let valgrind's scheduler run the others */
    }
}

/* The original writer: device add/remove in [40 GiB, +512 MiB), and every 16 iterations
 * add 256 MiB at 4 GiB, online its first block movable, offline and remove it all. */
static void writer(struct worker *w) {
    for (long i = 0; i < g_iters && !stopping(); i++) {
        if (i % 64 == 32) {
            wait_for_reader_pass();
            atomic_fetch_add(&g_writer_waits, 1);
        }
        uint64_t at = DEV_CHURN + (uint64_t)(i % 256) * 2 * MIB;
        if (!CALL_OK(smem_add_device(g_map, HOT_NID, at, 2 * MIB)) ||
            !CHECK(smem_pfn_valid(g_map, at >> 12), "device pfn %#llx not valid after its add",
                   (unsigned long long)(at >> 12)) ||
            !CHECK(smem_pfn_valid_inline(g_map, g_lookup, (at >> 12) + 511),
                   "smem_pfn_valid_inline: device pfn %#llx not valid after its add",
                   (unsigned long long)(at >> 12) + 511) ||
            !CALL_OK(smem_remove_device(g_map, at, 2 * MIB)))
            return;
        tick(w);
        if (i % 16 == 0) {
            if (!CALL_OK(smem_add_memory(g_map, HOT_NID, RAM_CHURN, 256 * MIB)) ||
                !CALL_OK(smem_online_block(g_map, 32, SMEM_ONLINE_MOVABLE)) ||
                !CALL_OK(smem_offline_and_remove_memory(g_map, RAM_CHURN, 256 * MIB)))
                return;
            tick(w);
        }
    }
}

/* One block through its whole life, over and over: add (offline, auto-online is off),
 * online movable, offline, remove. The readers check its pfns against each step. */
static void block_writer(struct worker *w) {
    for (long i = 0; i < g_iters && !stopping(); i++) {
        if (i % 64 == 8) wait_for_reader_pass();
        if (!CALL_OK(smem_add_memory(g_map, HOT_NID, FIELD_BLOCK_START, 128 * MIB))) return;
        tick(w);
        if (!CALL_OK(smem_online_block(g_map, FIELD_BLOCK_ID, SMEM_ONLINE_MOVABLE))) return;
        tick(w);
        if (!CALL_OK(smem_offline_block(g_map, FIELD_BLOCK_ID))) return;
        tick(w);
        if (!CALL_OK(smem_remove_memory(g_map, FIELD_BLOCK_START, 128 * MIB))) return;
        tick(w);
    }
}

/* Device memory across the boundary of sections 255 and 256, whose leaves were handed
 * out in descending address order (see setup_leaves): a writer locks 255 then 256.
 * Every g_cross_every iterations it waits for the snapshotter to start a snapshot, so
 * that its iterations run while a snapshot takes its locks (an iteration is ~100 times
 * faster than a snapshot: unpaced, all of them would be over after a few snapshots). */
static void crosser(struct worker *w) {
    for (long i = 0; i < g_iters && !stopping(); i++) {
        if (i % g_cross_every == g_cross_every / 2) wait_for_snapshot_start();
        if (!CALL_OK(smem_add_device(g_map, HOT_NID, CROSS_START, CROSS_SIZE))) return;
        tick(w);
        if (!CALL_OK(smem_remove_device(g_map, CROSS_START, CROSS_SIZE))) return;
        tick(w);
    }
}

static bool grow(uint8_t **a, uint8_t **b, size_t *cap, size_t need) {
    if (need <= *cap) return true;
    uint8_t *na = realloc(*a, need);
    if (na) *a = na;
    uint8_t *nb = na ? realloc(*b, need) : NULL;
    if (nb) *b = nb;
    if (!CHECK(na && nb, "out of memory for a %zu-byte snapshot", need)) return false;
    *cap = need;
    return true;
}

/* Loops smem_snapshot into a buffer sized by smem_snapshot_bytes (a writer may grow the
 * state in between: SMEM_ENOSPC, retried with a larger buffer; SMEM_EBUSY while a block
 * is mid-transition), restores every snapshot into g_copy (initialised with the same
 * config) and checks snapshot -> restore -> snapshot is byte-identical. */
static void snapshotter(struct worker *w) {
    uint8_t *buf = NULL, *again = NULL;
    size_t cap = 0;
    while (!stopping()) {
        unsigned long steps = atomic_load(&g_writer_steps);
        if (!grow(&buf, &again, &cap, smem_snapshot_bytes(g_map))) break;
        size_t len = 0;
        int rc;
        for (int tries = 0;; tries++) {
            atomic_fetch_add(&g_snap_starts, 1);
            rc = smem_snapshot(g_map, buf, cap, &len);
            if (rc != SMEM_ENOSPC || tries == 16) break;
            atomic_fetch_add(&g_snap_enospc, 1);
            size_t need = smem_snapshot_bytes(g_map);
            if (!grow(&buf, &again, &cap, need > 2 * cap ? need : 2 * cap)) goto out;
        }
        atomic_fetch_add(&g_snap_attempts, 1);
        tick(w);
        if (rc == SMEM_EBUSY) {
            atomic_fetch_add(&g_snap_busy, 1);
            pace_snapshots(steps);
            continue;
        }
        if (!CHECK(rc == SMEM_OK, "smem_snapshot returned %d (%s)", rc, smem_strerror(rc)) ||
            !CHECK(len > 0 && len <= cap, "smem_snapshot wrote %zu bytes into %zu", len, cap))
            break;
        rc = smem_restore(g_copy, buf, len);
        if (!CHECK(rc == SMEM_OK, "smem_restore of a %zu-byte snapshot returned %d (%s)", len, rc,
                   smem_strerror(rc)))
            break;
        size_t len2 = 0;
        rc = smem_snapshot(g_copy, again, cap, &len2);
        if (!CHECK(rc == SMEM_OK && len2 == len && memcmp(buf, again, len) == 0,
                   "snapshot -> restore -> snapshot not byte-identical (%d, %zu vs %zu bytes)", rc,
                   len2, len))
            break;
        atomic_fetch_add(&g_snap_ok, 1);
        tick(w);
        pace_snapshots(steps);
    }
out:
    free(buf);
    free(again);
}

static void *start(void *arg) {
    struct worker *w = arg;
    w->body(w);
    if (w->writer && atomic_fetch_sub(&g_writers_left, 1) == 1) atomic_store(&g_stop, 1);
    atomic_store(&w->done, 1);
    return NULL;
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static double watchdog_seconds(void) {
    const char *env = getenv("SMEM_WATCHDOG_SECONDS");
    double s = env ? strtod(env, NULL) : 5;
    return s > 0 ? s : 5;
}

/* The watchdog: every 250 ms, every thread that is not done must have made progress
 * within the last SMEM_WATCHDOG_SECONDS, else the process ends with status 1 (_exit: the
 * stuck threads can be neither joined nor cancelled, and nothing else would end the run). */
static void watch(struct worker *ws, int n) {
    double limit = watchdog_seconds();
    unsigned long last[MAX_WORKERS];
    double since[MAX_WORKERS];
    double t0 = now();
    for (int i = 0; i < n; i++) last[i] = 0, since[i] = t0;
    for (unsigned wake = 1;; wake++) {
        struct timespec q = {0, 25 * 1000 * 1000}; /* notices the end within 25 ms */
        nanosleep(&q, NULL);
        bool all_done = true, stuck = false;
        for (int i = 0; i < n; i++) all_done = all_done && atomic_load(&ws[i].done);
        if (all_done) return;
        if (wake % 10) continue; /* progress is checked every 250 ms */
        double t = now();
        for (int i = 0; i < n; i++) {
            if (atomic_load(&ws[i].done)) continue;
            unsigned long p = atomic_load(&ws[i].progress);
            if (p != last[i]) last[i] = p, since[i] = t;
            else if (t - since[i] >= limit) stuck = true;
        }
        if (!stuck) continue;
        fflush(stdout);
        for (int i = 0; i < n; i++)
            if (!atomic_load(&ws[i].done) && t - since[i] >= limit)
                fprintf(stderr, "watchdog: thread %s made no progress for %g s: deadlock?\n",
                        ws[i].name, limit);
        fprintf(stderr, "watchdog: progress:");
        for (int i = 0; i < n; i++) {
            fprintf(stderr, " %s=%lu", ws[i].name, atomic_load(&ws[i].progress));
            if (atomic_load(&ws[i].done)) fprintf(stderr, " (done)");
            else if (t - since[i] >= 0.5) fprintf(stderr, " (none for %.1f s)", t - since[i]);
        }
        fprintf(stderr, "; snapshots %lu ok, %lu busy, %lu enospc\n", atomic_load(&g_snap_ok),
                atomic_load(&g_snap_busy), atomic_load(&g_snap_enospc));
        if (atomic_load(&g_fail_ready))
            fprintf(stderr, "watchdog: earlier failure: %s\n", g_fail_msg);
        fflush(stderr);
        _exit(1);
    }
}

/* The recipe of the snapshot deadlock: the leaf of [32, 48) GiB is handed out before the
 * leaf of [16, 32) GiB (device memory at 40 GiB, then at 20 GiB), so the pool order that
 * smem_snapshot used to lock sections in is not the ascending section order device
 * writers lock in. The 40 GiB range goes again (it is in the writer's churn); leaves are
 * never recycled, and the 20 GiB range stays. */
static void setup_leaves(void) {
    assert_int_equal(smem_add_device(g_map, HOT_NID, 40 * GIB, 2 * MIB), SMEM_OK);
    assert_int_equal(smem_add_device(g_map, HOT_NID, 20 * GIB, 2 * MIB), SMEM_OK);
    assert_int_equal(smem_remove_device(g_map, 40 * GIB, 2 * MIB), SMEM_OK);
}

/* Boots the machine, runs the workers in `mask` until every writer did g_iters
 * iterations (or a check failed), watching them, and fails with the first failed check.
 * The leaf-crossing writer waits for a snapshot every `cross_every` iterations. */
static void run(unsigned mask, long cross_every) {
    g_cross_every = cross_every;
    const char *env = getenv("SMEM_THREAD_ITERS");
    g_iters = env ? atol(env) : 20000;
    g_map = machine();
    g_lookup = smem_lookup_description(g_map);
    assert_int_equal(g_lookup->version, SMEM_LOOKUP_VERSION);
    setup_leaves();
    g_copy = (mask & W_SNAPSHOTTER) ? new_map() : NULL;
    atomic_store(&g_stop, 0);
    atomic_store(&g_failed, 0);
    atomic_store(&g_fail_ready, 0);
    atomic_store(&g_writer_steps, 0);
    atomic_store(&g_reader_passes, 0);
    atomic_store(&g_writer_waits, 0);
    atomic_store(&g_snap_starts, 0);
    atomic_store(&g_snap_attempts, 0);
    atomic_store(&g_snap_ok, 0);
    atomic_store(&g_snap_busy, 0);
    atomic_store(&g_snap_enospc, 0);

    static struct worker ws[MAX_WORKERS];
    int n = 0, writers = 0;
#define ADD(flag, nm, fn, salt_, is_writer)                                      \
    if (mask & (flag)) {                                                         \
        ws[n].name = (nm), ws[n].body = (fn), ws[n].salt = (salt_);             \
        ws[n].writer = (is_writer), writers += (is_writer);                     \
        atomic_store(&ws[n].progress, 0), atomic_store(&ws[n].done, 0), n++;    \
    }
    ADD(W_READERS, "reader0", reader, 0, false)
    ADD(W_READERS, "reader1", reader, 1, false)
    ADD(W_WRITER, "writer", writer, 0, true)
    ADD(W_BLOCKS, "block-writer", block_writer, 0, true)
    ADD(W_CROSSER, "leaf-crossing-device-writer", crosser, 0, true)
    ADD(W_SNAPSHOTTER, "snapshotter", snapshotter, 0, false)
#undef ADD
    g_snapshotter = NULL;
    for (int i = 0; i < n; i++)
        if (ws[i].body == snapshotter) g_snapshotter = &ws[i];
    g_have_readers = (mask & W_READERS) != 0;
    assert_true(writers > 0 && n <= MAX_WORKERS);
    atomic_store(&g_writers_left, writers);
    for (int i = 0; i < n; i++)
        assert_int_equal(pthread_create(&ws[i].tid, NULL, start, &ws[i]), 0);
    watch(ws, n);
    for (int i = 0; i < n; i++) pthread_join(ws[i].tid, NULL);
    if (atomic_load(&g_failed)) fail_msg("%s", g_fail_msg);
    /* The writers are done: the inline reader agrees with the library on every pfn of
     * the first 4 GiB and at one pfn of every sub-section up to 48 GiB (the
     * churned device and RAM ranges, the leaf-crossing range, the field block). */
    for (uint64_t p = 0; p < (48 * GIB >> 12); p += (p < (4 * GIB >> 12) ? 1 : 511)) {
        if (smem_pfn_valid(g_map, p) != smem_pfn_valid_inline(g_map, g_lookup, p))
            fail_msg("after the run: pfn %#llx: smem_pfn_valid %d, smem_pfn_valid_inline %d",
                     (unsigned long long)p, smem_pfn_valid(g_map, p),
                     smem_pfn_valid_inline(g_map, g_lookup, p));
    }

    if (mask & W_READERS) {
        assert_true(atomic_load(&g_reader_passes) > 0);
        /* every 64 writer iterations waited for a reader pass */
        assert_true(atomic_load(&g_reader_passes) >= atomic_load(&g_writer_waits));
        if (mask & W_WRITER)
            assert_true(atomic_load(&g_writer_waits) >= (unsigned long)(g_iters + 31) / 64);
    }
    if (mask & W_SNAPSHOTTER) {
        printf("snapshots: %lu restored, %lu busy, %lu enospc retries\n", atomic_load(&g_snap_ok),
               atomic_load(&g_snap_busy), atomic_load(&g_snap_enospc));
        assert_true(atomic_load(&g_snap_ok) > 0);
    }
    free(g_copy);
    free(g_map);
}

/* pfn_info against a block going through add, online (movable), offline and remove. */
static void test_pfn_info_matches_the_operation_in_flight(void **state) {
    (void)state;
    run(W_READERS | W_BLOCKS, 64);
}

/* smem_snapshot against device add/remove across two sections whose leaves are in
 * descending order in the pool: neither may wait forever. */
static void test_snapshot_never_deadlocks_with_leaf_crossing_device_ops(void **state) {
    (void)state;
    run(W_CROSSER | W_SNAPSHOTTER, 8);
}

/* Everything at once: readers, the original writer, the block writer, the leaf-crossing
 * device writer and the snapshotter. */
static void test_readers_never_see_impossible_answers(void **state) {
    (void)state;
    run(W_READERS | W_WRITER | W_BLOCKS | W_CROSSER | W_SNAPSHOTTER, 64);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pfn_info_matches_the_operation_in_flight),
        cmocka_unit_test(test_snapshot_never_deadlocks_with_leaf_crossing_device_ops),
        cmocka_unit_test(test_readers_never_see_impossible_answers),
    };
    const char *only = getenv("SMEM_THREAD_TEST");
    if (only) cmocka_set_test_filter(only);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
