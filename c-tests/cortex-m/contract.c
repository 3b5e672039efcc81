/* The C contract on an emulated Cortex-M4 (QEMU mps2-an386, `make c-test-cortex-m`):
 * libsparsemem built for thumbv7em-none-eabihf with the README's small firmware capacity,
 * no libc and no heap (the maps and snapshot buffers are static). A subset of
 * c-tests/test_api.c: init, boot with holes, the pfn answers, RAM hotplug to the table's
 * capacity, device memory, the notifier, a snapshot round trip. Every failed call must
 * leave the map's snapshot unchanged. Prints one line per test and the closing
 * "c-tests: N passed, M failed" over semihosting; exits 1 when a test failed. */
#include <stddef.h>
#include <stdint.h>
#include "sparsemem.h"
#include "semihost.h"

#define MIB (1ull << 20)
#define GIB (1ull << 30)

/* What the compiler may call for struct copies and zeroing (no libc here). */
void *memcpy(void *d, const void *s, size_t n) {
    unsigned char *a = d;
    const unsigned char *b = s;
    while (n--) *a++ = *b++;
    return d;
}
void *memset(void *d, int c, size_t n) {
    unsigned char *a = d;
    while (n--) *a++ = (unsigned char)c;
    return d;
}
static int bytes_equal(const void *x, const void *y, size_t n) {
    const unsigned char *a = x, *b = y;
    for (; n; n--) if (*a++ != *b++) return 0;
    return 1;
}
static int str_equal(const char *a, const char *b) {
    while (*a && *a == *b) a++, b++;
    return *a == *b;
}

static smem_map map, map2;                   /* .bss, SMEM_MAP_BYTES each */
static uint8_t snap_a[16384], snap_b[16384]; /* snapshot buffers */
static int failed_checks;

static void put_uint(unsigned v) {
    char buf[12], *p = buf + sizeof buf - 1;
    *p = 0;
    do *--p = (char)('0' + v % 10); while (v /= 10);
    sh_puts(p);
}

#define CHECK(cond)                                             \
    do {                                                        \
        if (!(cond)) {                                          \
            sh_puts("  check failed, line ");                   \
            put_uint(__LINE__);                                 \
            sh_puts(": " #cond "\n");                           \
            failed_checks++;                                    \
            return;                                             \
        }                                                       \
    } while (0)

static size_t snapshot(const smem_map *m, uint8_t *buf, size_t cap) {
    size_t n = 0;
    if (smem_snapshot_bytes(m) > cap || smem_snapshot(m, buf, cap, &n) != SMEM_OK) return 0;
    return n;
}

/* A call that must fail with `err` and leave the map as it was. */
#define CHECK_ERR_UNCHANGED(m, err, call)                                          \
    do {                                                                           \
        size_t before_ = snapshot((m), snap_a, sizeof snap_a);                     \
        CHECK(before_ > 0);                                                        \
        CHECK((call) == (err));                                                    \
        CHECK(snapshot((m), snap_b, sizeof snap_b) == before_);                    \
        CHECK(bytes_equal(snap_a, snap_b, before_));                               \
    } while (0)

/* x86-64's geometry in the firmware capacity's 40-bit space (2^13 sections of 128 MiB). */
static smem_config firmware_config(void) {
    smem_config cfg;
    smem_config_x86_64(&cfg);
    cfg.max_phys_bits = 40;
    return cfg;
}

static int init(smem_map *m) {
    smem_config cfg = firmware_config();
    return smem_init(m, &cfg);
}

/* The T3 machine of test_api.c: node 0 with the low holes, node 1 up to 0x3ffdf000. */
static int boot(smem_map *m) {
    if (init(m) || smem_boot_add_ram(m, 0, 0x1000, 0x9fc00 - 0x1000) ||
        smem_boot_add_ram(m, 0, MIB, 512 * MIB - MIB) ||
        smem_boot_add_ram(m, 1, 512 * MIB, 0x3ffdf000 - 512 * MIB))
        return -1;
    return smem_boot_finish(m);
}

static void test_storage_and_init(void) {
    CHECK(smem_map_bytes() == SMEM_MAP_BYTES && sizeof(smem_map) == SMEM_MAP_BYTES);
    CHECK(SMEM_MAX_SECTION_NR_BITS == 13 && SMEM_MAX_SECTIONS == 256 && SMEM_MAX_NODES == 4);
    smem_config cfg;
    smem_config_x86_64(&cfg); /* 46 bits: 19 bits of section number, more than 13 */
    CHECK(smem_init(&map, &cfg) == SMEM_EINVAL);
    cfg = firmware_config();
    CHECK(smem_init(NULL, &cfg) == SMEM_EINVAL);
    CHECK(smem_init(&map, NULL) == SMEM_EINVAL);
    CHECK(smem_init((smem_map *)((char *)&map + 4), &cfg) == SMEM_EINVAL);
    CHECK(smem_init(&map, &cfg) == SMEM_OK);
#define STR_(x) #x
#define STR(x) STR_(x)
    CHECK(str_equal(smem_version(),
                    STR(SMEM_VERSION_MAJOR) "." STR(SMEM_VERSION_MINOR) "." STR(SMEM_VERSION_PATCH)));
    CHECK(str_equal(smem_zone_name(SMEM_ZONE_DMA32), "DMA32"));
}

static void test_boot_with_holes(void) {
    smem_map *m = &map;
    CHECK(init(m) == SMEM_OK);
    CHECK(smem_boot_add_ram(m, 0, 0x1000, 0x9fc00 - 0x1000) == SMEM_OK);
    CHECK(smem_boot_add_ram(m, 0, MIB, 512 * MIB - MIB) == SMEM_OK);
    CHECK(smem_boot_add_ram(m, 1, 512 * MIB, 0x3ffdf000 - 512 * MIB) == SMEM_OK);
    CHECK_ERR_UNCHANGED(m, SMEM_EEXIST, smem_boot_add_ram(m, 1, 0, 0x3000));
    CHECK_ERR_UNCHANGED(m, SMEM_EINVAL, smem_boot_add_ram(m, 0, 0, 0));
    CHECK_ERR_UNCHANGED(m, SMEM_EINVAL, smem_boot_add_ram(m, SMEM_MAX_NODES, 4 * GIB, MIB));
    CHECK_ERR_UNCHANGED(m, SMEM_E2BIG, smem_boot_add_ram(m, 0, 1ull << 40, MIB));
    CHECK_ERR_UNCHANGED(m, SMEM_EINVAL, smem_add_memory(m, 0, 4 * GIB, 128 * MIB)); /* before finish */
    CHECK(smem_boot_finish(m) == SMEM_OK);
    CHECK_ERR_UNCHANGED(m, SMEM_EINVAL, smem_boot_finish(m));
    char z[32];
    CHECK(smem_block_valid_zones_str(m, 0, z, sizeof z) == SMEM_OK && str_equal(z, "none"));
    for (uint64_t id = 1; id < 8; id++) {
        struct smem_block_info b;
        CHECK(smem_block_info(m, id, &b) == SMEM_OK);
        CHECK(b.nid == (id < 4 ? 0 : 1) && b.state == SMEM_BLOCK_ONLINE && b.zone == SMEM_ZONE_DMA32);
        CHECK(!!(b.flags & SMEM_BLOCK_F_HOLES) == (id == 7));
        CHECK(smem_block_valid_zones_str(m, id, z, sizeof z) == SMEM_OK && str_equal(z, "DMA32"));
    }
    CHECK_ERR_UNCHANGED(m, SMEM_ENOSPC, smem_block_valid_zones_str(m, 1, z, 5));
    CHECK_ERR_UNCHANGED(m, SMEM_ENOENT, smem_block_valid_zones_str(m, 8, z, sizeof z));
}

static void test_pfn_answers(void) {
    smem_map *m = &map;
    CHECK(boot(m) == SMEM_OK);
    struct smem_pfn_info p;
    /* RAM in ZONE_DMA. */
    CHECK(smem_pfn_valid(m, 0x100) && smem_pfn_online(m, 0x100));
    CHECK(smem_pfn_info(m, 0x100, &p) == SMEM_OK);
    CHECK(p.kind == SMEM_PFN_RAM && p.zone == SMEM_ZONE_DMA && p.nid == 0 && p.valid && p.online);
    CHECK(p.block_id == 0 && p.block_state == SMEM_BLOCK_ONLINE && (p.section_flags & SMEM_SECTION_EARLY));
    /* The legacy hole below 1 MiB: valid (an early section), not online, a hole. */
    CHECK(smem_pfn_valid(m, 0xa0) && !smem_pfn_online(m, 0xa0));
    CHECK(smem_pfn_info(m, 0xa0, &p) == SMEM_OK && p.kind == SMEM_PFN_HOLE && p.valid && !p.online);
    /* The firmware-reserved tail of node 1's last block. */
    CHECK(smem_pfn_online(m, 0x3ffde) && !smem_pfn_online(m, 0x3ffdf) && smem_pfn_valid(m, 0x3ffdf));
    CHECK(smem_pfn_info(m, 0x3ffde, &p) == SMEM_OK && p.nid == 1 && p.zone == SMEM_ZONE_DMA32);
    /* Nothing above 1 GiB; nothing beyond 40 bits. */
    CHECK(!smem_pfn_valid(m, 0x40000) && !smem_pfn_online(m, 0x40000));
    CHECK(smem_pfn_info(m, 0x40000, &p) == SMEM_ENOENT);
    CHECK(smem_pfn_info(m, 1ull << 28, &p) == SMEM_ENOENT && !smem_pfn_valid(m, UINT64_MAX));
    CHECK(smem_next_valid_pfn(m, 0x40000) == SMEM_PFN_NONE && smem_next_valid_pfn(m, 0) == 0);
    CHECK(smem_pfn_info(NULL, 0x100, &p) == SMEM_EINVAL && smem_pfn_info(m, 0x100, NULL) == SMEM_EINVAL);
}

static void test_ram_hotplug(void) {
    smem_map *m = &map;
    CHECK(boot(m) == SMEM_OK);
    const uint64_t base = 4 * GIB, id = base / (128 * MIB);
    CHECK(smem_add_memory(m, 1, base, 256 * MIB) == SMEM_OK);
    struct smem_block_info b;
    CHECK(smem_block_info(m, id, &b) == SMEM_OK && b.state == SMEM_BLOCK_OFFLINE && b.nid == 1);
    CHECK(smem_pfn_valid(m, base >> 12) && !smem_pfn_online(m, base >> 12));
    CHECK_ERR_UNCHANGED(m, SMEM_EEXIST, smem_add_memory(m, 0, base, 128 * MIB));
    CHECK_ERR_UNCHANGED(m, SMEM_EINVAL, smem_add_memory(m, 0, base + MIB, 128 * MIB));
    CHECK_ERR_UNCHANGED(m, SMEM_E2BIG, smem_add_memory(m, 0, 1ull << 40, 128 * MIB));
    CHECK(smem_online_block(m, id, SMEM_ONLINE) == SMEM_OK);
    CHECK(smem_block_info(m, id, &b) == SMEM_OK && b.state == SMEM_BLOCK_ONLINE && b.zone == SMEM_ZONE_NORMAL);
    CHECK(smem_pfn_online(m, base >> 12));
    CHECK_ERR_UNCHANGED(m, SMEM_EINVAL, smem_online_block(m, id, SMEM_ONLINE));
    CHECK_ERR_UNCHANGED(m, SMEM_EBUSY, smem_remove_memory(m, base, 256 * MIB));
    CHECK_ERR_UNCHANGED(m, SMEM_ENOENT, smem_online_block(m, id + 2, SMEM_ONLINE));
    CHECK(smem_offline_block(m, id) == SMEM_OK && !smem_pfn_online(m, base >> 12));
    CHECK_ERR_UNCHANGED(m, SMEM_EINVAL, smem_offline_block(m, id));
    CHECK(smem_remove_memory(m, base, 256 * MIB) == SMEM_OK);
    CHECK(!smem_pfn_valid(m, base >> 12) && smem_block_info(m, id, &b) == SMEM_ENOENT);
    /* Online and gone in one call. */
    CHECK(smem_add_memory(m, 0, base, 128 * MIB) == SMEM_OK);
    CHECK(smem_online_block(m, id, SMEM_ONLINE_MOVABLE) == SMEM_OK);
    CHECK(smem_pfn_info(m, base >> 12, &(struct smem_pfn_info){0}) == SMEM_OK);
    CHECK(smem_offline_and_remove_memory(m, base, 128 * MIB) == SMEM_OK && !smem_pfn_valid(m, base >> 12));
}

/* SMEM_MAX_LEAVES runs of SMEM_SECTIONS_PER_LEAF sections: boot RAM holds the first,
 * one section in each other run fills the table, and the next run is ENOMEM. */
static void test_capacity(void) {
    smem_map *m = &map;
    CHECK(boot(m) == SMEM_OK);
    const uint64_t run = SMEM_SECTIONS_PER_LEAF * 128 * MIB;
    CHECK(SMEM_MAX_LEAVES == 8 && run == 4 * GIB);
    for (uint64_t i = 1; i < SMEM_MAX_LEAVES; i++) CHECK(smem_add_memory(m, 0, i * run, 128 * MIB) == SMEM_OK);
    CHECK_ERR_UNCHANGED(m, SMEM_ENOMEM, smem_add_memory(m, 0, SMEM_MAX_LEAVES * run, 128 * MIB));
    CHECK_ERR_UNCHANGED(m, SMEM_ENOMEM, smem_add_device(m, 0, SMEM_MAX_LEAVES * run + run - 2 * MIB, 2 * MIB));
    /* A run already in use still takes more sections. */
    CHECK(smem_add_memory(m, 0, run + 128 * MIB, (SMEM_SECTIONS_PER_LEAF - 1) * 128 * MIB) == SMEM_OK);
    /* A removed section's leaf stays with its run: its slot is free again, for that run only. */
    CHECK(smem_remove_memory(m, 7 * run, 128 * MIB) == SMEM_OK);
    CHECK_ERR_UNCHANGED(m, SMEM_ENOMEM, smem_add_memory(m, 0, SMEM_MAX_LEAVES * run, 128 * MIB));
    CHECK(smem_add_device(m, 1, 7 * run, 2 * MIB) == SMEM_OK);
    struct smem_stats st;
    /* Boot's 8, one in each other run (run 7's now device memory), 31 more in run 1. */
    CHECK(smem_stats(m, &st) == SMEM_OK);
    CHECK(st.present_sections == 8 + (SMEM_MAX_LEAVES - 1) + (SMEM_SECTIONS_PER_LEAF - 1));
}

static void test_device_memory(void) {
    smem_map *m = &map;
    CHECK(boot(m) == SMEM_OK);
    const uint64_t dev = 8 * GIB + 2 * MIB;
    CHECK(smem_add_device(m, 2, dev, 4 * MIB) == SMEM_OK);
    struct smem_pfn_info p;
    CHECK(smem_pfn_valid(m, dev >> 12) && !smem_pfn_online(m, dev >> 12));
    CHECK(!smem_pfn_valid(m, (dev >> 12) - 1)); /* the sub-section before it is not active */
    CHECK(smem_pfn_info(m, dev >> 12, &p) == SMEM_OK);
    CHECK(p.kind == SMEM_PFN_DEVICE && p.zone == SMEM_ZONE_DEVICE && p.nid == 2 && p.block_state == 0);
    CHECK((p.section_flags & SMEM_SECTION_TAINT_DEVICE) != 0);
    CHECK_ERR_UNCHANGED(m, SMEM_EEXIST, smem_add_device(m, 2, dev + 2 * MIB, 4 * MIB));
    CHECK_ERR_UNCHANGED(m, SMEM_ENXIO, smem_add_device(m, 0, 2 * MIB, 2 * MIB));
    CHECK_ERR_UNCHANGED(m, SMEM_EINVAL, smem_add_device(m, 0, dev + 4096, 2 * MIB));
    CHECK_ERR_UNCHANGED(m, SMEM_ENOENT, smem_remove_device(m, dev + 4 * MIB, 2 * MIB));
    CHECK(smem_remove_device(m, dev, 2 * MIB) == SMEM_OK);
    CHECK(!smem_pfn_valid(m, dev >> 12) && smem_pfn_valid(m, (dev + 2 * MIB) >> 12));
    CHECK(smem_remove_device(m, dev + 2 * MIB, 2 * MIB) == SMEM_OK);
    CHECK(smem_pfn_info(m, dev >> 12, &p) == SMEM_ENOENT);
}

/* A notifier called through a function pointer on the target: it vetoes onlining. */
static int events;
static int veto_online(void *ctx, uint8_t event, const struct smem_block_info *b) {
    (void)b;
    events++;
    return event == SMEM_MEM_GOING_ONLINE ? *(int *)ctx : 0;
}

static void test_notifier(void) {
    smem_map *m = &map;
    CHECK(boot(m) == SMEM_OK);
    int veto = -16;
    CHECK(smem_add_memory(m, 0, 4 * GIB, 128 * MIB) == SMEM_OK);
    CHECK(smem_set_notifier(m, veto_online, &veto) == SMEM_OK);
    events = 0;
    CHECK_ERR_UNCHANGED(m, SMEM_EBUSY, smem_online_block(m, 32, SMEM_ONLINE));
    CHECK(events == 2); /* GOING_ONLINE, CANCEL_ONLINE */
    veto = 1;
    CHECK_ERR_UNCHANGED(m, SMEM_EPERM, smem_online_block(m, 32, SMEM_ONLINE));
    veto = 0;
    CHECK(smem_online_block(m, 32, SMEM_ONLINE) == SMEM_OK && smem_pfn_online(m, (4 * GIB) >> 12));
    CHECK(smem_set_notifier(m, NULL, NULL) == SMEM_OK);
}

static void test_snapshot_round_trip(void) {
    CHECK(boot(&map) == SMEM_OK);
    CHECK(smem_add_memory(&map, 1, 4 * GIB, 256 * MIB) == SMEM_OK);
    CHECK(smem_online_block(&map, 33, SMEM_ONLINE_MOVABLE) == SMEM_OK);
    CHECK(smem_add_device(&map, 3, 8 * GIB, 2 * MIB) == SMEM_OK);
    size_t n = 0, n2 = 0;
    CHECK(smem_snapshot_bytes(&map) <= sizeof snap_a);
    CHECK(smem_snapshot(&map, snap_a, 16, &n) == SMEM_ENOSPC && n == 0);
    CHECK(smem_snapshot(&map, snap_a, sizeof snap_a, &n) == SMEM_OK && n > 0);
    CHECK(init(&map2) == SMEM_OK && smem_restore(&map2, snap_a, n) == SMEM_OK);
    CHECK(smem_snapshot(&map2, snap_b, sizeof snap_b, &n2) == SMEM_OK);
    CHECK(n2 == n && bytes_equal(snap_a, snap_b, n));
    CHECK(smem_pfn_online(&map2, (4 * GIB + 128 * MIB) >> 12) && !smem_pfn_online(&map2, (4 * GIB) >> 12));
    struct smem_pfn_info p;
    CHECK(smem_pfn_info(&map2, (8 * GIB) >> 12, &p) == SMEM_OK && p.kind == SMEM_PFN_DEVICE && p.nid == 3);
    /* A corrupt or truncated snapshot is refused and changes nothing. */
    snap_b[n / 2] ^= 1;
    CHECK(init(&map2) == SMEM_OK);
    size_t empty = snapshot(&map2, snap_a, sizeof snap_a);
    CHECK(empty > 0 && smem_restore(&map2, snap_b, n) == SMEM_EINVAL);
    CHECK(smem_restore(&map2, snap_b, n / 2) == SMEM_EINVAL);
    CHECK(snapshot(&map2, snap_b, sizeof snap_b) == empty && bytes_equal(snap_a, snap_b, empty));
}

int main(void) {
    static const struct { const char *name; void (*fn)(void); } tests[] = {
        {"storage_and_init", test_storage_and_init},
        {"boot_with_holes", test_boot_with_holes},
        {"pfn_answers", test_pfn_answers},
        {"ram_hotplug", test_ram_hotplug},
        {"capacity", test_capacity},
        {"device_memory", test_device_memory},
        {"notifier", test_notifier},
        {"snapshot_round_trip", test_snapshot_round_trip},
    };
    unsigned passed = 0, failed = 0;
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
        int before = failed_checks;
        tests[i].fn();
        if (failed_checks == before) {
            passed++;
            sh_puts("ok     ");
        } else {
            failed++;
            sh_puts("FAILED ");
        }
        sh_puts(tests[i].name);
        sh_puts("\n");
    }
    sh_puts("c-tests: ");
    put_uint(passed);
    sh_puts(" passed, ");
    put_uint(failed);
    sh_puts(" failed\n");
    return failed != 0 || passed == 0;
}
