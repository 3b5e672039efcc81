/* The differential driver through the C ABI (issue #8).
 *
 * core/tests/differential.rs (traces_for_the_c_driver) runs random operation
 * sequences against the Rust reference model and writes each as a trace: the
 * operation with the model's return code, then the model's answer for every block,
 * every zone span of nodes 0-2 and a sample of pfns. This program replays each trace
 * through libsparsemem, one cmocka test per trace, and fails at the first answer that
 * differs, naming the trace file and line. The Makefile runs it plain, under
 * AddressSanitizer + UBSan and under valgrind; the traces are read from the directory
 * in SMEM_TRACE_DIR.
 *
 * Trace lines (addresses in hex, the rest decimal):
 *   boot <movable_node>
 *   add_memory <nid> <start> <size> = <rc>        remove_memory <start> <size> = <rc>
 *   offline_and_remove <start> <size> <veto> = <rc>
 *   online <id> online|online_kernel|online_movable <veto> = <rc>
 *   offline <id> <veto> = <rc>
 *   add_device <nid> <start> <size> = <rc>        remove_device <start> <size> = <rc>
 *   snapshot_restore
 *   block <id> absent | block <id> <nid> online|offline <zone> <valid_zones...>
 *   span <nid> <zone> absent | span <nid> <zone> <start_pfn> <end_pfn> <present_pages>
 *   pfn <pfn> <valid> <online> hole|ram|device <nid> <zone>
 * A veto is what the notifier answers to GOING_ONLINE / GOING_OFFLINE. */
#include "common.h"

#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>

#define MAX_TRACES 256

struct replay {
    const char *path;
    unsigned long line;
    smem_config cfg;
    smem_map *map;
    int answer; /* the notifier's answer to GOING_* events */
    unsigned long ops, checks;
};

static int notifier(void *ctx, uint8_t event, const struct smem_block_info *block) {
    const struct replay *r = ctx;
    (void)block;
    return (event == SMEM_MEM_GOING_ONLINE || event == SMEM_MEM_GOING_OFFLINE) ? r->answer : 0;
}

/* Fails the test with the trace position. */
#define CHECK(r, cond, ...)                                                      \
    do {                                                                         \
        if (!(cond)) {                                                           \
            print_error("%s:%lu: ", (r)->path, (r)->line);                       \
            print_error(__VA_ARGS__);                                            \
            print_error("\n");                                                   \
            fail();                                                              \
        }                                                                        \
    } while (0)

static smem_map *fresh_map(struct replay *r) {
    smem_map *m = aligned_alloc(SMEM_MAP_ALIGN, sizeof(smem_map));
    assert_non_null(m);
    assert_int_equal(smem_init(m, &r->cfg), SMEM_OK);
    assert_int_equal(smem_set_notifier(m, notifier, r), SMEM_OK);
    return m;
}

/* The machine of tests/model: node 0 [1 MiB, 2 GiB), node 1 [2 GiB, 3 GiB). */
static void boot(struct replay *r, int movable_node) {
    smem_config_x86_64(&r->cfg);
    r->cfg.movable_node = (uint8_t)movable_node;
    r->map = fresh_map(r);
    assert_int_equal(smem_boot_add_ram(r->map, 0, MIB, 2 * GIB - MIB), SMEM_OK);
    /* The model's world (tools/testkit/src/model.rs, BOOT_RAM). */
    assert_int_equal(smem_boot_add_ram(r->map, 1, 2 * GIB, GIB - 64 * MIB), SMEM_OK);
    assert_int_equal(smem_boot_finish(r->map), SMEM_OK);
}

/* snapshot -> restore into a fresh map -> snapshot must give the same bytes; the
 * fresh map replaces the old one, as in the Rust driver. */
static void snapshot_restore(struct replay *r) {
    snap_t before = snap(r->map);
    smem_map *fresh = fresh_map(r);
    CHECK(r, smem_restore(fresh, before.bytes, before.len) == SMEM_OK, "restore failed");
    snap_t again = snap(fresh);
    CHECK(r, again.len == before.len && memcmp(again.bytes, before.bytes, before.len) == 0,
          "snapshot -> restore -> snapshot differs");
    free(again.bytes);
    free(before.bytes);
    free(r->map);
    r->map = fresh;
}

struct word {
    const char *name;
    uint8_t value;
};

/* The value of a trace word among `n` known ones. */
static uint8_t lookup(struct replay *r, const char *what, const struct word *words, size_t n,
                      const char *word) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(word, words[i].name) == 0) return words[i].value;
    CHECK(r, 0, "unknown %s %s", what, word);
    return 0;
}

static const struct word online_types[] = {
    {"online", SMEM_ONLINE}, {"online_kernel", SMEM_ONLINE_KERNEL}, {"online_movable", SMEM_ONLINE_MOVABLE}};
static const struct word pfn_kinds[] = {
    {"hole", SMEM_PFN_HOLE}, {"ram", SMEM_PFN_RAM}, {"device", SMEM_PFN_DEVICE}};

static uint8_t zone_by_name(struct replay *r, const char *name) {
    for (uint8_t z = SMEM_ZONE_NONE; z <= SMEM_ZONE_DEVICE; z++)
        if (strcmp(smem_zone_name(z), name) == 0) return z;
    CHECK(r, 0, "unknown zone %s", name);
    return 0;
}

/* Parses "... = <rc>" after the operation's arguments. */
static int expected_rc(struct replay *r, const char *args) {
    const char *eq = strrchr(args, '=');
    int rc;
    CHECK(r, eq && sscanf(eq + 1, "%d", &rc) == 1, "no result in '%s'", args);
    return rc;
}

static void apply(struct replay *r, const char *op, const char *args) {
    int32_t nid;
    int veto = 0;
    uint64_t start, size, id;
    char word[32];
    int got;
    if (strcmp(op, "add_memory") == 0) {
        CHECK(r, sscanf(args, "%" SCNd32 " %" SCNx64 " %" SCNx64, &nid, &start, &size) == 3, "bad args");
        got = smem_add_memory(r->map, nid, start, size);
    } else if (strcmp(op, "remove_memory") == 0) {
        CHECK(r, sscanf(args, "%" SCNx64 " %" SCNx64, &start, &size) == 2, "bad args");
        got = smem_remove_memory(r->map, start, size);
    } else if (strcmp(op, "offline_and_remove") == 0) {
        CHECK(r, sscanf(args, "%" SCNx64 " %" SCNx64 " %d", &start, &size, &veto) == 3, "bad args");
        r->answer = veto;
        got = smem_offline_and_remove_memory(r->map, start, size);
    } else if (strcmp(op, "online") == 0) {
        CHECK(r, sscanf(args, "%" SCNu64 " %31s %d", &id, word, &veto) == 3, "bad args");
        r->answer = veto;
        got = smem_online_block(r->map, id, lookup(r, "online type", online_types, 3, word));
    } else if (strcmp(op, "offline") == 0) {
        CHECK(r, sscanf(args, "%" SCNu64 " %d", &id, &veto) == 2, "bad args");
        r->answer = veto;
        got = smem_offline_block(r->map, id);
    } else if (strcmp(op, "add_device") == 0) {
        CHECK(r, sscanf(args, "%" SCNd32 " %" SCNx64 " %" SCNx64, &nid, &start, &size) == 3, "bad args");
        got = smem_add_device(r->map, nid, start, size);
    } else if (strcmp(op, "remove_device") == 0) {
        CHECK(r, sscanf(args, "%" SCNx64 " %" SCNx64, &start, &size) == 2, "bad args");
        got = smem_remove_device(r->map, start, size);
    } else {
        CHECK(r, 0, "unknown line '%s %s'", op, args);
        return;
    }
    r->answer = 0;
    int want = expected_rc(r, args);
    CHECK(r, got == want, "%s %s: libsparsemem %d (%s), model %d (%s)", op, args, got,
          smem_strerror(got), want, smem_strerror(want));
    r->ops++;
}

static void check_block(struct replay *r, const char *args) {
    uint64_t id;
    int n = 0;
    CHECK(r, sscanf(args, "%" SCNu64 " %n", &id, &n) == 1 && n > 0, "bad block line");
    const char *rest = args + n;
    struct smem_block_info b;
    int rc = smem_block_info(r->map, id, &b);
    if (strcmp(rest, "absent") == 0) {
        CHECK(r, rc == SMEM_ENOENT, "block %" PRIu64 ": libsparsemem %d, model absent", id, rc);
        return;
    }
    int32_t nid;
    char state[16], zone[16], vz[64];
    CHECK(r, sscanf(rest, "%" SCNd32 " %15s %15s %n", &nid, state, zone, &n) == 3, "bad block line");
    const char *want_vz = rest + n;
    CHECK(r, rc == SMEM_OK, "block %" PRIu64 ": libsparsemem %d, model present", id, rc);
    uint8_t want_state = strcmp(state, "online") == 0 ? SMEM_BLOCK_ONLINE : SMEM_BLOCK_OFFLINE;
    CHECK(r, b.nid == nid && b.state == want_state && b.zone == zone_by_name(r, zone),
          "block %" PRIu64 ": libsparsemem nid %d state %u zone %s, model %s", id, b.nid,
          b.state, smem_zone_name(b.zone), rest);
    CHECK(r, smem_block_valid_zones_str(r->map, id, vz, sizeof vz) >= 0, "valid_zones failed");
    CHECK(r, strcmp(vz, want_vz) == 0, "block %" PRIu64 " valid_zones: libsparsemem '%s', model '%s'",
          id, vz, want_vz);
}

static void check_span(struct replay *r, const char *args) {
    int32_t nid;
    char zone[16];
    int n = 0;
    CHECK(r, sscanf(args, "%" SCNd32 " %15s %n", &nid, zone, &n) == 2 && n > 0, "bad span line");
    const char *rest = args + n;
    uint64_t start, end, present;
    int rc = smem_zone_span(r->map, nid, zone_by_name(r, zone), &start, &end, &present);
    if (strcmp(rest, "absent") == 0) {
        CHECK(r, rc == SMEM_ENOENT, "node %d %s: libsparsemem %d, model empty", nid, zone, rc);
        return;
    }
    uint64_t ws, we, wp;
    CHECK(r, sscanf(rest, "%" SCNx64 " %" SCNx64 " %" SCNu64, &ws, &we, &wp) == 3, "bad span line");
    CHECK(r, rc == SMEM_OK && start == ws && end == we && present == wp,
          "node %d %s: libsparsemem %d [%#" PRIx64 ", %#" PRIx64 ") %" PRIu64 ", model %s", nid,
          zone, rc, start, end, present, rest);
}

static void check_pfn(struct replay *r, const char *args) {
    uint64_t pfn;
    int valid, online;
    int32_t nid;
    char kind[16], zone[16];
    CHECK(r, sscanf(args, "%" SCNx64 " %d %d %15s %" SCNd32 " %15s", &pfn, &valid, &online, kind,
                    &nid, zone) == 6, "bad pfn line");
    struct smem_pfn_info info;
    int rc = smem_pfn_info(r->map, pfn, &info);
    if (rc != SMEM_OK) {
        CHECK(r, rc == SMEM_ENOENT, "pfn_info %#" PRIx64 ": %d", pfn, rc);
        info.kind = SMEM_PFN_HOLE;
        info.nid = -1;
        info.zone = SMEM_ZONE_NONE;
    } else {
        CHECK(r, info.valid == smem_pfn_valid(r->map, pfn) && info.online == smem_pfn_online(r->map, pfn),
              "pfn %#" PRIx64 ": pfn_info disagrees with pfn_valid/pfn_online", pfn);
    }
    CHECK(r, smem_pfn_valid(r->map, pfn) == (valid != 0) && smem_pfn_online(r->map, pfn) == (online != 0) &&
              info.kind == lookup(r, "pfn kind", pfn_kinds, 3, kind) && info.nid == nid && info.zone == zone_by_name(r, zone),
          "pfn %#" PRIx64 ": libsparsemem %d %d kind %u nid %d %s, model %s", pfn,
          smem_pfn_valid(r->map, pfn), smem_pfn_online(r->map, pfn), info.kind, info.nid,
          smem_zone_name(info.zone), args);
}

static void replay_trace(void **state) {
    struct replay r = {.path = *state};
    FILE *f = fopen(r.path, "r");
    assert_non_null(f);
    char line[256];
    while (fgets(line, sizeof line, f)) {
        r.line++;
        line[strcspn(line, "\n")] = '\0';
        char op[32];
        int n = 0;
        CHECK(&r, sscanf(line, "%31s %n", op, &n) == 1, "empty line");
        const char *args = line + n;
        if (strcmp(op, "boot") == 0) {
            CHECK(&r, r.map == NULL, "second boot");
            boot(&r, atoi(args));
        } else {
            CHECK(&r, r.map != NULL, "'%s' before boot", op);
            if (strcmp(op, "block") == 0) {
                check_block(&r, args);
                r.checks++;
            } else if (strcmp(op, "span") == 0) {
                check_span(&r, args);
                r.checks++;
            } else if (strcmp(op, "pfn") == 0) {
                check_pfn(&r, args);
                r.checks++;
            } else if (strcmp(op, "snapshot_restore") == 0) {
                snapshot_restore(&r);
                r.ops++;
            } else {
                apply(&r, op, args);
            }
        }
    }
    fclose(f);
    free(r.map);
    /* A trace that checks nothing proves nothing. */
    CHECK(&r, r.ops >= 100 && r.checks >= 100 * r.ops, "only %lu operations, %lu checks", r.ops,
          r.checks);
    print_message("%s: %lu operations, %lu checks agree\n", strrchr(r.path, '/') + 1, r.ops, r.checks);
}

static int by_name(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(void) {
    const char *dir = getenv("SMEM_TRACE_DIR");
    if (!dir) {
        fprintf(stderr, "SMEM_TRACE_DIR is not set (traces: cargo test -p sparsemem --test differential)\n");
        return 1;
    }
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "%s: no trace directory\n", dir);
        return 1;
    }
    static char *paths[MAX_TRACES];
    static struct CMUnitTest tests[MAX_TRACES];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < MAX_TRACES) {
        size_t len = strlen(e->d_name);
        if (len < 6 || strcmp(e->d_name + len - 6, ".trace") != 0) continue;
        paths[n] = malloc(strlen(dir) + len + 2);
        assert_non_null(paths[n]);
        sprintf(paths[n], "%s/%s", dir, e->d_name);
        n++;
    }
    closedir(d);
    if (n == 0) {
        fprintf(stderr, "%s: no .trace files\n", dir);
        return 1;
    }
    qsort(paths, n, sizeof *paths, by_name);
    for (size_t i = 0; i < n; i++)
        tests[i] = (struct CMUnitTest){strrchr(paths[i], '/') + 1, replay_trace, NULL, NULL, paths[i]};
    int failed = _cmocka_run_group_tests("differential", tests, n, NULL, NULL);
    for (size_t i = 0; i < n; i++) free(paths[i]);
    return failed;
}
