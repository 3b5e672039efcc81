/* The C contract of include/sparsemem.h (errors per function: docs/semantics.md,
 * "Which error, when several apply"), function by function and error by error. Every
 * error case proves the map unchanged by comparing smem_snapshot bytes. */
#include <stdio.h>
#include "common.h"

static void test_storage_and_init(void **state) {
    (void)state;
    assert_int_equal(smem_map_bytes(), SMEM_MAP_BYTES);
    assert_int_equal(sizeof(smem_map), SMEM_MAP_BYTES);
    smem_map *m = aligned_alloc(SMEM_MAP_ALIGN, sizeof(smem_map));
    memset(m, 0x5a, sizeof *m); /* garbage: smem_init must not read it */
    smem_config cfg;
    smem_config_x86_64(&cfg);
    assert_int_equal(cfg.page_shift, 12);
    assert_int_equal(cfg.section_shift, 27);
    assert_int_equal(cfg.max_phys_bits, 46);
    assert_int_equal(cfg.block_size, 128 * MIB);
    assert_int_equal(cfg.zone_dma_end, 16 * MIB);
    assert_int_equal(cfg.zone_dma32_end, 4 * GIB);
    /* Every rejected configuration leaves the storage untouched. */
    smem_config bad[12];
    for (int i = 0; i < 12; i++) bad[i] = cfg;
    bad[0].page_shift = 11;
    bad[1].page_shift = 17;
    bad[2].subsection_shift = 28;
    bad[3].subsection_shift = 18;           /* 512 sub-sections */
    bad[4].section_shift = 46;
    bad[5].max_phys_bits = 53;
    bad[6].block_size = 192 * MIB;
    bad[7].block_size = 64 * MIB;
    bad[8].zone_dma_end = 16 * MIB + 1;
    bad[9].zone_dma_end = 8 * GIB;          /* above zone_dma32_end */
    bad[10].auto_online = 4;
    bad[11].block_size = 1ull << 47;
    for (int i = 0; i < 12; i++) {
        assert_int_equal(smem_init(m, &bad[i]), SMEM_EINVAL);
        const uint8_t *b = (const uint8_t *)m;
        for (size_t k = 0; k < sizeof *m; k += 4099) assert_int_equal(b[k], 0x5a);
    }
    assert_int_equal(smem_init(NULL, &cfg), SMEM_EINVAL);
    assert_int_equal(smem_init(m, NULL), SMEM_EINVAL);
    assert_int_equal(smem_init((smem_map *)((char *)m + 1), &cfg), SMEM_EINVAL);
    assert_int_equal(smem_init(m, &cfg), SMEM_OK);
    /* The other presets; a NULL cfg is ignored. */
    smem_config_arm64_4k(&cfg);
    assert_int_equal(cfg.max_phys_bits, 48);
    assert_int_equal(cfg.zone_dma_end, 0);
    smem_config_arm64_64k(&cfg);
    assert_int_equal(cfg.page_shift, 16);
    assert_int_equal(cfg.section_shift, 29);
    assert_int_equal(cfg.block_size, 512 * MIB);
    smem_config_x86_64(NULL);
    assert_int_equal(smem_init(m, &cfg), SMEM_OK);
    free(m);
}

static void test_strings_and_version(void **state) {
    (void)state;
    int codes[] = {SMEM_OK, SMEM_EPERM, SMEM_ENOENT, SMEM_ENXIO, SMEM_E2BIG, SMEM_ENOMEM,
                   SMEM_EBUSY, SMEM_EEXIST, SMEM_EINVAL, SMEM_ENOSPC, -999, 42};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        assert_non_null(smem_strerror(codes[i]));
        assert_true(strlen(smem_strerror(codes[i])) > 0);
    }
    assert_string_equal(smem_zone_name(SMEM_ZONE_DMA32), "DMA32");
    assert_string_equal(smem_zone_name(SMEM_ZONE_MOVABLE), "Movable");
    assert_string_equal(smem_zone_name(SMEM_ZONE_NONE), "none");
    assert_string_equal(smem_zone_name(200), "none");
    char v[32];
    snprintf(v, sizeof v, "%d.%d.%d", SMEM_VERSION_MAJOR, SMEM_VERSION_MINOR, SMEM_VERSION_PATCH);
    assert_string_equal(smem_version(), v);
}

static int count_block(void *ctx, const struct smem_block_info *b) {
    uint64_t *ids = ctx;
    ids[ids[0] + 1] = b->id;
    ids[0]++;
    return ids[0] == 100 ? 7 : 0;
}

static void test_boot_two_node_machine_of_t3(void **state) {
    (void)state;
    smem_map *m = new_map();
    assert_int_equal(smem_boot_add_ram(m, 0, 0x1000, 0x9fc00 - 0x1000), SMEM_OK);
    assert_int_equal(smem_boot_add_ram(m, 0, 0x100000, 512 * MIB - 0x100000), SMEM_OK);
    assert_int_equal(smem_boot_add_ram(m, 1, 512 * MIB, 0x3ffdf000 - 512 * MIB), SMEM_OK);
    EXPECT_ERR_UNCHANGED(m, SMEM_EEXIST, smem_boot_add_ram(m, 1, 0, 0x3000));
    EXPECT_ERR_UNCHANGED(m, SMEM_EINVAL, smem_boot_add_ram(m, 0, 0, 0));
    EXPECT_ERR_UNCHANGED(m, SMEM_EINVAL, smem_boot_add_ram(m, 0, UINT64_MAX, 1));
    EXPECT_ERR_UNCHANGED(m, SMEM_EINVAL, smem_boot_add_ram(m, SMEM_MAX_NODES, 4 * GIB, MIB));
    EXPECT_ERR_UNCHANGED(m, SMEM_E2BIG, smem_boot_add_ram(m, 0, 1ull << 46, MIB));
    EXPECT_ERR_UNCHANGED(m, SMEM_EINVAL, smem_add_memory(m, 0, 4 * GIB, 128 * MIB)); /* before finish */
    assert_int_equal(smem_boot_finish(m), SMEM_OK);
    EXPECT_ERR_UNCHANGED(m, SMEM_EINVAL, smem_boot_finish(m));
    EXPECT_ERR_UNCHANGED(m, SMEM_EINVAL, smem_boot_add_ram(m, 0, 4 * GIB, MIB));
    char z[32];
    assert_int_equal(smem_block_valid_zones_str(m, 0, z, sizeof z), SMEM_OK);
    assert_string_equal(z, "none");
    for (uint64_t id = 1; id < 8; id++) {
        struct smem_block_info b;
        assert_int_equal(smem_block_info(m, id, &b), SMEM_OK);
        assert_int_equal(b.nid, id < 4 ? 0 : 1);
        assert_int_equal(b.state, SMEM_BLOCK_ONLINE);
        assert_int_equal(b.zone, SMEM_ZONE_DMA32);
        assert_int_equal(!!(b.flags & SMEM_BLOCK_F_HOLES), id == 7);
        assert_int_equal(smem_block_valid_zones_str(m, id, z, sizeof z), SMEM_OK);
        assert_string_equal(z, "DMA32");
    }
    EXPECT_ERR_UNCHANGED(m, SMEM_ENOSPC, smem_block_valid_zones_str(m, 1, z, 5));
    EXPECT_ERR_UNCHANGED(m, SMEM_ENOENT, smem_block_valid_zones_str(m, 8, z, sizeof z));
    EXPECT_ERR_UNCHANGED(m, SMEM_EINVAL, smem_block_valid_zones_str(m, 1, NULL, 8));
    uint64_t ids[102] = {0};
    assert_int_equal(smem_for_each_block(m, count_block, ids), SMEM_OK);
    assert_int_equal(ids[0], 8);
    for (uint64_t i = 0; i < 8; i++) assert_int_equal(ids[i + 1], i);
    EXPECT_ERR_UNCHANGED(m, SMEM_EINVAL, smem_for_each_block(m, NULL, ids));
    free(m);
}

static void test_queries(void **state) {
    (void)state;
    smem_map *m = machine();
    assert_true(smem_pfn_valid(m, 0x100));
    assert_true(smem_pfn_online(m, 0x100));
    assert_false(smem_pfn_valid(m, 1ull << 34));
    assert_false(smem_pfn_valid(NULL, 0x100));
    assert_false(smem_pfn_online(NULL, 0x100));
    assert_true(smem_next_valid_pfn(NULL, 0) == SMEM_PFN_NONE);
    assert_true(smem_next_valid_pfn(m, 3 * GIB >> 12) == SMEM_PFN_NONE);
    assert_int_equal(smem_next_valid_pfn(m, 5), 5);
    struct smem_pfn_info pi;
    assert_int_equal(smem_pfn_info(m, 0x300, &pi), SMEM_OK);
    assert_int_equal(pi.kind, SMEM_PFN_RAM);
    assert_int_equal(pi.zone, SMEM_ZONE_DMA);
    assert_int_equal(pi.block_state, SMEM_BLOCK_ONLINE);
    assert_int_equal(pi.valid, 1);
    assert_int_equal(pi.online, 1);
    assert_int_equal(pi.section_flags, SMEM_SECTION_PRESENT | SMEM_SECTION_VALID | SMEM_SECTION_ONLINE | SMEM_SECTION_EARLY);
    EXPECT_ERR_UNCHANGED(m, SMEM_ENOENT, smem_pfn_info(m, 8 * GIB >> 12, &pi));
    EXPECT_ERR_UNCHANGED(m, SMEM_EINVAL, smem_pfn_info(m, 0x300, NULL));
    assert_int_equal(smem_pfn_info(NULL, 0x300, &pi), SMEM_EINVAL);
    struct smem_section_info si;
    assert_int_equal(smem_section_info(m, 0, &si), SMEM_OK);
    assert_int_equal(si.nr_subsections, 64);
    assert_true(si.active[0] == UINT64_MAX);
    EXPECT_ERR_UNCHANGED(m, SMEM_ENOENT, smem_section_info(m, 100, &si));
    EXPECT_ERR_UNCHANGED(m, SMEM_EINVAL, smem_section_info(m, 0, NULL));
    struct smem_stats st;
    assert_int_equal(smem_stats(m, &st), SMEM_OK);
    assert_int_equal(st.blocks, 24);
    assert_int_equal(st.online_blocks, 24);
    EXPECT_ERR_UNCHANGED(m, SMEM_EINVAL, smem_stats(m, NULL));
    uint64_t s, e, p;
    assert_int_equal(smem_zone_span(m, 1, SMEM_ZONE_DMA32, &s, &e, &p), SMEM_OK);
    assert_int_equal(s, 2 * GIB >> 12);
    assert_int_equal(e, 3 * GIB >> 12);
    EXPECT_ERR_UNCHANGED(m, SMEM_ENOENT, smem_zone_span(m, 1, SMEM_ZONE_NORMAL, &s, &e, &p));
    EXPECT_ERR_UNCHANGED(m, SMEM_EINVAL, smem_zone_span(m, 64, SMEM_ZONE_NORMAL, &s, &e, &p));
    EXPECT_ERR_UNCHANGED(m, SMEM_EINVAL, smem_zone_span(m, 0, 9, &s, &e, &p));
    EXPECT_ERR_UNCHANGED(m, SMEM_EINVAL, smem_zone_span(m, 0, SMEM_ZONE_DMA, NULL, &e, &p));
    free(m);
}

static void test_memory_hotplug(void **state) {
    (void)state;
    smem_map *m = machine();
    EXPECT_ERR_UNCHANGED(m, SMEM_EINVAL, smem_add_memory(m, 1, 4 * GIB, 64 * MIB));
    EXPECT_ERR_UNCHANGED(m, SMEM_EINVAL, smem_add_memory(m, 1, 4 * GIB + 64 * MIB, 128 * MIB));
    EXPECT_ERR_UNCHANGED(m, SMEM_EINVAL, smem_add_memory(m, -1, 4 * GIB, 128 * MIB));
    EXPECT_ERR_UNCHANGED(m, SMEM_EINVAL, smem_add_memory(NULL, 1, 4 * GIB, 128 * MIB));
    EXPECT_ERR_UNCHANGED(m, SMEM_E2BIG, smem_add_memory(m, 1, 1ull << 46, 128 * MIB));
    EXPECT_ERR_UNCHANGED(m, SMEM_EEXIST, smem_add_memory(m, 1, GIB, 128 * MIB));
    assert_int_equal(smem_add_memory(m, 1, 4 * GIB, 256 * MIB), SMEM_OK);
    char z[32];
    assert_int_equal(smem_block_valid_zones_str(m, 32, z, sizeof z), SMEM_OK);
    assert_string_equal(z, "Normal Movable");
    EXPECT_ERR_UNCHANGED(m, SMEM_EINVAL, smem_online_block(m, 33, 9));
    EXPECT_ERR_UNCHANGED(m, SMEM_ENOENT, smem_online_block(m, 99, SMEM_ONLINE));
    EXPECT_ERR_UNCHANGED(m, SMEM_EINVAL, smem_online_block(m, 1, SMEM_ONLINE)); /* already online */
    assert_int_equal(smem_online_block(m, 33, SMEM_ONLINE_MOVABLE), SMEM_OK);
    assert_int_equal(smem_block_valid_zones_str(m, 32, z, sizeof z), SMEM_OK);
    assert_string_equal(z, "Normal Movable"); /* the Movable span [33] does not touch 32 */
    assert_int_equal(smem_block_valid_zones_str(m, 33, z, sizeof z), SMEM_OK);
    assert_string_equal(z, "Movable");
    EXPECT_ERR_UNCHANGED(m, SMEM_EBUSY, smem_remove_memory(m, 4 * GIB, 256 * MIB));
    EXPECT_ERR_UNCHANGED(m, SMEM_ENOENT, smem_remove_memory(m, 8 * GIB, 128 * MIB));
    EXPECT_ERR_UNCHANGED(m, SMEM_EINVAL, smem_remove_memory(m, 4 * GIB, 0));
    EXPECT_ERR_UNCHANGED(m, SMEM_EINVAL, smem_offline_block(m, 32)); /* offline already */
    EXPECT_ERR_UNCHANGED(m, SMEM_ENOENT, smem_offline_block(m, 99));
    assert_int_equal(smem_offline_block(m, 33), SMEM_OK);
    assert_int_equal(smem_block_valid_zones_str(m, 33, z, sizeof z), SMEM_OK);
    assert_string_equal(z, "Normal Movable");
    assert_int_equal(smem_online_block(m, 33, SMEM_ONLINE_KERNEL), SMEM_OK);
    EXPECT_ERR_UNCHANGED(m, SMEM_ENOENT, smem_offline_and_remove_memory(m, 4 * GIB, 512 * MIB));
    assert_int_equal(smem_offline_and_remove_memory(m, 4 * GIB, 256 * MIB), SMEM_OK);
    struct smem_block_info b;
    assert_int_equal(smem_block_info(m, 32, &b), SMEM_ENOENT);
    /* A boot block with a mixed zone cannot be offlined (offline: EINVAL, remove: EBUSY). */
    EXPECT_ERR_UNCHANGED(m, SMEM_EINVAL, smem_offline_block(m, 0));
    EXPECT_ERR_UNCHANGED(m, SMEM_EBUSY, smem_remove_memory(m, 0, 128 * MIB));
    EXPECT_ERR_UNCHANGED(m, SMEM_EINVAL, smem_offline_and_remove_memory(m, 0, 128 * MIB));
    free(m);
}

static void test_device_memory(void **state) {
    (void)state;
    smem_map *m = machine();
    uint64_t s40 = 40 * 128 * MIB;
    for (int i = 0; i < 8; i++) assert_int_equal(smem_add_device(m, 1, s40 + i * 16 * MIB, 16 * MIB), SMEM_OK);
    struct smem_section_info si;
    assert_int_equal(smem_section_info(m, 40, &si), SMEM_OK);
    assert_true(si.device[0] == UINT64_MAX);
    assert_true(si.flags & SMEM_SECTION_TAINT_DEVICE);
    EXPECT_ERR_UNCHANGED(m, SMEM_EEXIST, smem_add_device(m, 1, s40, 2 * MIB));
    EXPECT_ERR_UNCHANGED(m, SMEM_ENXIO, smem_add_device(m, 0, GIB, 2 * MIB));
    EXPECT_ERR_UNCHANGED(m, SMEM_EINVAL, smem_add_device(m, 0, s40 + MIB, 2 * MIB));
    EXPECT_ERR_UNCHANGED(m, SMEM_EINVAL, smem_add_device(m, 77, 100 * GIB, 2 * MIB));
    EXPECT_ERR_UNCHANGED(m, SMEM_E2BIG, smem_add_device(m, 0, (1ull << 46) - 2 * MIB, 4 * MIB));
    EXPECT_ERR_UNCHANGED(m, SMEM_ENOENT, smem_remove_device(m, s40 + 128 * MIB, 2 * MIB));
    EXPECT_ERR_UNCHANGED(m, SMEM_EINVAL, smem_remove_device(m, s40 + MIB, 2 * MIB));
    int order[8] = {3, 0, 7, 1, 6, 2, 5, 4};
    for (int i = 0; i < 8; i++) assert_int_equal(smem_remove_device(m, s40 + order[i] * 16 * MIB, 16 * MIB), SMEM_OK);
    assert_int_equal(smem_section_info(m, 40, &si), SMEM_ENOENT);
    /* Capacity: a device sub-section per 16 GiB leaf until the table is full. */
    int r = SMEM_OK;
    uint64_t k = 1;
    for (; r == SMEM_OK && k < 100000; k++) r = smem_add_device(m, 0, 64 * GIB + k * 16 * GIB, 2 * MIB);
    assert_int_equal(r, SMEM_ENOMEM);
    EXPECT_ERR_UNCHANGED(m, SMEM_ENOMEM, smem_add_device(m, 0, 64 * GIB + (k + 5) * 16 * GIB, 2 * MIB));
    EXPECT_ERR_UNCHANGED(m, SMEM_ENOMEM, smem_add_memory(m, 0, 64 * GIB + (k + 5) * 16 * GIB, 128 * MIB));
    free(m);
}

/* Device ranges of different nodes share a section; each pfn reports its own node. */
static void test_device_nodes_share_a_section(void **state) {
    (void)state;
    smem_map *m = machine();
    uint64_t s44 = 44 * 128 * MIB;
    assert_int_equal(smem_add_device(m, 0, s44, 2 * MIB), SMEM_OK);
    assert_int_equal(smem_add_device(m, 1, s44 + 2 * MIB, 4 * MIB), SMEM_OK);
    assert_int_equal(smem_add_device(m, 2, s44 + 6 * MIB, 2 * MIB), SMEM_OK);
    const int32_t want[] = {0, 1, 1, 2};
    for (int i = 0; i < 4; i++) {
        struct smem_pfn_info pi;
        assert_int_equal(smem_pfn_info(m, (s44 + (uint64_t)i * 2 * MIB) >> 12, &pi), SMEM_OK);
        assert_int_equal(pi.nid, want[i]);
        assert_int_equal(pi.zone, SMEM_ZONE_DEVICE);
    }
    assert_int_equal(smem_remove_device(m, s44 + 2 * MIB, 4 * MIB), SMEM_OK);
    struct smem_pfn_info pi;
    assert_int_equal(smem_pfn_info(m, (s44 + 6 * MIB) >> 12, &pi), SMEM_OK);
    assert_int_equal(pi.nid, 2);
    free(m);
}

/* Capacity: section slots are handed out a leaf (an aligned run of SMEM_SECTIONS_PER_LEAF
 * section numbers) at a time, so any set of sections fits that touches at most
 * SMEM_MAX_LEAVES runs. The contract's floor for the default build: 256 sections
 * scattered one per run, and SMEM_MAX_SECTIONS (4 TiB of 128 MiB sections) in runs. */
#define SECTION (128 * MIB)
#define RUN ((uint64_t)SMEM_SECTIONS_PER_LEAF * SECTION)

static smem_map *booted_empty(void) {
    smem_map *m = new_map();
    assert_int_equal(smem_boot_finish(m), SMEM_OK);
    return m;
}

static void test_capacity_sections_scattered_one_per_run(void **state) {
    (void)state;
    assert_int_equal(SMEM_MAX_SECTIONS, SMEM_MAX_LEAVES * SMEM_SECTIONS_PER_LEAF);
    assert_true(SMEM_MAX_LEAVES >= 256 && SMEM_SECTIONS_PER_LEAF == 128);
    smem_map *m = booted_empty();
    for (uint64_t i = 0; i < SMEM_MAX_LEAVES; i++)
        assert_int_equal(smem_add_memory(m, 0, i * RUN + (i % SMEM_SECTIONS_PER_LEAF) * SECTION, SECTION), SMEM_OK);
    struct smem_stats st;
    assert_int_equal(smem_stats(m, &st), SMEM_OK);
    assert_int_equal(st.present_sections, SMEM_MAX_LEAVES);
    /* One run more is refused, RAM or device memory; another section of a run in use fits. */
    EXPECT_ERR_UNCHANGED(m, SMEM_ENOMEM, smem_add_memory(m, 0, SMEM_MAX_LEAVES * RUN, SECTION));
    EXPECT_ERR_UNCHANGED(m, SMEM_ENOMEM, smem_add_device(m, 0, SMEM_MAX_LEAVES * RUN + RUN - 2 * MIB, 2 * MIB));
    assert_int_equal(smem_add_memory(m, 0, RUN - SECTION, SECTION), SMEM_OK);
    free(m);
}

static void test_capacity_max_sections_in_runs(void **state) {
    (void)state;
    assert_true(SMEM_MAX_SECTIONS >= 32768);
    smem_map *m = booted_empty();
    assert_int_equal(smem_add_memory(m, 1, 0, SMEM_MAX_SECTIONS * SECTION), SMEM_OK);
    struct smem_stats st;
    assert_int_equal(smem_stats(m, &st), SMEM_OK);
    assert_int_equal(st.present_sections, SMEM_MAX_SECTIONS);
    assert_int_equal(st.blocks, SMEM_MAX_SECTIONS);
    EXPECT_ERR_UNCHANGED(m, SMEM_ENOMEM, smem_add_memory(m, 1, SMEM_MAX_SECTIONS * SECTION, SECTION));
    EXPECT_ERR_UNCHANGED(m, SMEM_ENOMEM, smem_add_device(m, 1, (SMEM_MAX_SECTIONS + 1) * SECTION, 2 * MIB));
    /* A removed section's slot is free again: its leaf stays with its run. */
    assert_int_equal(smem_remove_memory(m, 0, SECTION), SMEM_OK);
    assert_int_equal(smem_add_device(m, 1, 0, 2 * MIB), SMEM_OK);
    free(m);
}

static int range_cb(void *ctx, const smem_range *r) {
    smem_range *out = ctx;
    int n = (int)out[0].size;
    out[n + 1] = *r;
    out[0].size++;
    return out[0].size == 2 ? -123 : 0;
}

static void test_ranges_and_snapshots(void **state) {
    (void)state;
    smem_map *m = machine();
    assert_int_equal(smem_add_device(m, 1, 8 * GIB, 32 * MIB), SMEM_OK);
    smem_range rs[8];
    memset(rs, 0, sizeof rs);
    assert_int_equal(smem_for_each_range(m, range_cb, rs), -123); /* stops at the 2nd */
    assert_int_equal(rs[1].start, MIB);
    assert_int_equal(rs[1].kind, SMEM_RANGE_RAM_ONLINE);
    assert_int_equal(rs[2].nid, 1);
    EXPECT_ERR_UNCHANGED(m, SMEM_EINVAL, smem_for_each_range(m, NULL, rs));
    snap_t a = snap(m);
    size_t w;
    EXPECT_ERR_UNCHANGED(m, SMEM_ENOSPC, smem_snapshot(m, a.bytes, a.len - 1, &w));
    EXPECT_ERR_UNCHANGED(m, SMEM_EINVAL, smem_snapshot(m, NULL, a.len, &w));
    EXPECT_ERR_UNCHANGED(m, SMEM_EINVAL, smem_snapshot(m, a.bytes, a.len, NULL));
    smem_map *other = machine();
    assert_int_equal(smem_add_memory(other, 0, 4 * GIB, 128 * MIB), SMEM_OK);
    /* Truncated and corrupted snapshots are rejected and change nothing. */
    for (size_t len = 0; len < a.len; len += 7) EXPECT_ERR_UNCHANGED(other, SMEM_EINVAL, smem_restore(other, a.bytes, len));
    for (size_t i = 0; i < a.len; i += 3) {
        a.bytes[i] ^= 0x10;
        EXPECT_ERR_UNCHANGED(other, SMEM_EINVAL, smem_restore(other, a.bytes, a.len));
        a.bytes[i] ^= 0x10;
    }
    EXPECT_ERR_UNCHANGED(other, SMEM_EINVAL, smem_restore(other, NULL, a.len));
    /* A foreign configuration. */
    smem_map *arm = aligned_alloc(SMEM_MAP_ALIGN, sizeof(smem_map));
    smem_config cfg;
    smem_config_arm64_4k(&cfg);
    assert_int_equal(smem_init(arm, &cfg), SMEM_OK);
    EXPECT_ERR_UNCHANGED(arm, SMEM_EINVAL, smem_restore(arm, a.bytes, a.len));
    /* snapshot -> restore -> snapshot is byte-identical. */
    assert_int_equal(smem_restore(other, a.bytes, a.len), SMEM_OK);
    snap_t b = snap(other);
    assert_int_equal(b.len, a.len);
    assert_memory_equal(a.bytes, b.bytes, a.len);
    /* A map copied with memcpy is a working map too. */
    smem_map *copy = aligned_alloc(SMEM_MAP_ALIGN, sizeof(smem_map));
    memcpy(copy, other, sizeof *copy);
    assert_true(smem_pfn_valid(copy, 8 * GIB >> 12));
    free(a.bytes);
    free(b.bytes);
    free(m);
    free(other);
    free(arm);
    free(copy);
}

struct notes { smem_map *m; int events[16]; int n; int veto_at; int veto; int inner[4]; };

static int notifier(void *ctx, uint8_t ev, const struct smem_block_info *b) {
    struct notes *t = ctx;
    if (t->n < 16) t->events[t->n++] = ev;
    if (ev == SMEM_MEM_GOING_ONLINE || ev == SMEM_MEM_GOING_OFFLINE) {
        assert_int_equal(b->state, ev == SMEM_MEM_GOING_ONLINE ? SMEM_BLOCK_GOING_ONLINE : SMEM_BLOCK_GOING_OFFLINE);
        t->inner[0] = smem_offline_block(t->m, b->id);
        uint8_t buf[64];
        size_t w;
        t->inner[1] = smem_snapshot(t->m, buf, sizeof buf, &w);
        if (ev == t->veto_at) return t->veto;
    }
    return 0;
}

static void test_notifiers(void **state) {
    (void)state;
    smem_map *m = machine();
    assert_int_equal(smem_add_memory(m, 1, 4 * GIB, 256 * MIB), SMEM_OK);
    struct notes t = {m, {0}, 0, SMEM_MEM_GOING_ONLINE, -12, {0}};
    assert_int_equal(smem_set_notifier(m, notifier, &t), SMEM_OK);
    assert_int_equal(smem_set_notifier(NULL, notifier, &t), SMEM_EINVAL);
    EXPECT_ERR_UNCHANGED(m, SMEM_ENOMEM, smem_online_block(m, 32, SMEM_ONLINE));
    assert_int_equal(t.n, 2);
    assert_int_equal(t.events[1], SMEM_MEM_CANCEL_ONLINE);
    assert_int_equal(t.inner[0], SMEM_EBUSY); /* the block in transition */
    assert_int_equal(t.inner[1], SMEM_EBUSY); /* a snapshot mid-transition */
    t.veto_at = 0;
    t.n = 0;
    assert_int_equal(smem_online_block(m, 32, SMEM_ONLINE_MOVABLE), SMEM_OK);
    assert_int_equal(t.events[1], SMEM_MEM_ONLINE);
    assert_int_equal(smem_online_block(m, 33, SMEM_ONLINE_KERNEL), SMEM_OK);
    t.veto_at = SMEM_MEM_GOING_OFFLINE;
    t.veto = 1; /* positive: EPERM */
    EXPECT_ERR_UNCHANGED(m, SMEM_EPERM, smem_offline_block(m, 32));
    EXPECT_ERR_UNCHANGED(m, SMEM_EPERM, smem_offline_and_remove_memory(m, 4 * GIB, 256 * MIB));
    assert_int_equal(smem_set_notifier(m, NULL, NULL), SMEM_OK);
    assert_int_equal(smem_offline_and_remove_memory(m, 4 * GIB, 256 * MIB), SMEM_OK);
    free(m);
}

/* Memory groups, smem_add_memory_ex, the run-time policies, memmap_on_memory
 * (c-api.md, "Memory groups, online policy, memmap_on_memory, fake-offline"). */
static void test_groups_and_policies(void **state) {
    (void)state;
    smem_config cfg;
    smem_config_x86_64(&cfg);
    assert_int_equal(cfg.online_policy, SMEM_POLICY_CONTIG_ZONES);
    assert_int_equal(cfg.auto_movable_numa_aware, 1);
    assert_int_equal(cfg.memmap_on_memory, SMEM_MEMMAP_ON_MEMORY_OFF);
    assert_int_equal(cfg.reserved, 0);
    assert_int_equal(cfg.auto_movable_ratio, 301);
    smem_map *m = machine();
    smem_config bad[3] = {cfg, cfg, cfg};
    bad[0].online_policy = 2;
    bad[1].memmap_on_memory = 3;
    bad[2].reserved = 1;
    for (int i = 0; i < 3; i++) EXPECT_ERR_UNCHANGED(m, SMEM_EINVAL, smem_init(m, &bad[i]));

    uint32_t g = SMEM_GROUP_NONE, g2;
    EXPECT_ERR_UNCHANGED(m, SMEM_EINVAL, smem_group_register_static(m, 1, 0, &g));
    EXPECT_ERR_UNCHANGED(m, SMEM_EINVAL, smem_group_register_static(m, SMEM_MAX_NODES, 1, &g));
    EXPECT_ERR_UNCHANGED(m, SMEM_EINVAL, smem_group_register_static(m, 1, 1, NULL));
    EXPECT_ERR_UNCHANGED(m, SMEM_EINVAL, smem_group_register_dynamic(m, 1, 3 * 32768, &g));
    EXPECT_ERR_UNCHANGED(m, SMEM_EINVAL, smem_group_register_dynamic(m, 1, 16384, &g));
    EXPECT_ERR_UNCHANGED(m, SMEM_ENOENT, smem_group_unregister(m, 0));
    assert_int_equal(g, SMEM_GROUP_NONE);
    assert_int_equal(smem_group_register_static(m, 1, 2 * 32768, &g), SMEM_OK);
    assert_int_equal(g, 0);
    assert_int_equal(smem_group_register_dynamic(m, 0, 32768, &g2), SMEM_OK);
    assert_int_equal(g2, 1);

    /* smem_add_memory_ex's order: argument errors (unknown flags too), E2BIG, the
     * group, its node, then the range. */
    struct { int32_t nid; uint32_t g; uint64_t start; uint32_t flags; int err; } adds[] = {
        {1, g, 1ull << 46, 2, SMEM_EINVAL},
        {SMEM_NID_NONE, SMEM_GROUP_NONE, 4 * GIB, 0, SMEM_EINVAL},
        {1, 7, 1ull << 46, 0, SMEM_E2BIG},
        {1, 7, 4 * GIB, 0, SMEM_ENOENT},
        {0, g, 4 * GIB, 0, SMEM_EINVAL},
        {1, g, 0, 0, SMEM_EEXIST},
    };
    for (size_t i = 0; i < sizeof adds / sizeof adds[0]; i++)
        EXPECT_ERR_UNCHANGED(m, adds[i].err,
                             smem_add_memory_ex(m, adds[i].nid, adds[i].g, adds[i].start,
                                                128 * MIB, adds[i].flags));
    assert_int_equal(smem_add_memory_ex(m, SMEM_NID_NONE, g, 4 * GIB, 128 * MIB,
                                        SMEM_MHP_MEMMAP_ON_MEMORY), SMEM_OK);
    struct smem_block_info b;
    assert_int_equal(smem_block_info(m, 32, &b), SMEM_OK);
    assert_int_equal(b.group, g);
    assert_int_equal(b.nid, 1);
    assert_int_equal(b.vmemmap_pages, 0); /* memmap_on_memory is off */
    assert_int_equal(b.fake_offline_pages, 0);
    EXPECT_ERR_UNCHANGED(m, SMEM_EBUSY, smem_group_unregister(m, g));

    /* The policies in force change for later calls; 2 GiB of group fit node 1. */
    char vz[32];
    assert_int_equal(smem_block_valid_zones_str(m, 32, vz, sizeof vz), SMEM_OK);
    assert_string_equal(vz, "Normal Movable");
    EXPECT_ERR_UNCHANGED(m, SMEM_EINVAL, smem_set_online_policy(m, 2, 301, 1));
    EXPECT_ERR_UNCHANGED(m, SMEM_EINVAL, smem_set_auto_online(m, 4));
    assert_int_equal(smem_set_online_policy(m, SMEM_POLICY_AUTO_MOVABLE, 301, 1), SMEM_OK);
    assert_int_equal(smem_block_valid_zones_str(m, 32, vz, sizeof vz), SMEM_OK);
    assert_string_equal(vz, "Movable Normal");
    assert_int_equal(smem_set_auto_online(m, SMEM_AUTO_ONLINE), SMEM_OK);
    assert_int_equal(smem_add_memory_ex(m, 1, g, 4 * GIB + 128 * MIB, 128 * MIB, 0), SMEM_OK);
    assert_int_equal(smem_block_info(m, 33, &b), SMEM_OK);
    assert_int_equal(b.zone, SMEM_ZONE_MOVABLE);
    free(m);

    /* memmap_on_memory as Linux 6.1: a one-block add carries its 512 memmap pages,
     * RAM that is never online. */
    m = aligned_alloc(SMEM_MAP_ALIGN, sizeof(smem_map));
    cfg.memmap_on_memory = SMEM_MEMMAP_ON_MEMORY_SINGLE_BLOCK;
    assert_int_equal(smem_init(m, &cfg), SMEM_OK);
    assert_int_equal(smem_boot_add_ram(m, 0, MIB, 2 * GIB - MIB), SMEM_OK);
    assert_int_equal(smem_boot_finish(m), SMEM_OK);
    assert_int_equal(smem_add_memory(m, 0, 4 * GIB, 128 * MIB), SMEM_OK);
    assert_int_equal(smem_add_memory(m, 0, 5 * GIB, 256 * MIB), SMEM_OK);
    assert_int_equal(smem_block_info(m, 32, &b), SMEM_OK);
    assert_int_equal(b.vmemmap_pages, 512);
    assert_int_equal(smem_block_info(m, 40, &b), SMEM_OK);
    assert_int_equal(b.vmemmap_pages, 0);
    assert_int_equal(smem_online_block(m, 32, SMEM_ONLINE_MOVABLE), SMEM_OK);
    uint64_t pfn = 4 * GIB / 4096;
    assert_false(smem_pfn_online(m, pfn + 511));
    assert_true(smem_pfn_online(m, pfn + 512));
    struct smem_pfn_info pi;
    assert_int_equal(smem_pfn_info(m, pfn, &pi), SMEM_OK);
    assert_int_equal(pi.kind, SMEM_PFN_RAM);
    assert_int_equal(pi.zone, SMEM_ZONE_MOVABLE);
    assert_false(pi.online);
    free(m);
}

/* Fake-offline (virtio-mem sub-blocks, balloons): never online, the block unchanged. */
static void test_fake_offline(void **state) {
    (void)state;
    smem_map *m = machine();
    assert_int_equal(smem_add_memory(m, 1, 4 * GIB, 128 * MIB), SMEM_OK);
    assert_int_equal(smem_online_block(m, 32, SMEM_ONLINE_MOVABLE), SMEM_OK);
    EXPECT_ERR_UNCHANGED(m, SMEM_EINVAL, smem_fake_offline(NULL, 4 * GIB, 2 * MIB));
    EXPECT_ERR_UNCHANGED(m, SMEM_EINVAL, smem_fake_offline(m, 4 * GIB + MIB, 2 * MIB));
    EXPECT_ERR_UNCHANGED(m, SMEM_EINVAL, smem_fake_offline(m, 4 * GIB, 0));
    EXPECT_ERR_UNCHANGED(m, SMEM_ENOENT, smem_fake_offline(m, 0, 2 * MIB));     /* boot hole */
    EXPECT_ERR_UNCHANGED(m, SMEM_ENOENT, smem_fake_offline(m, 6 * GIB, 2 * MIB));
    EXPECT_ERR_UNCHANGED(m, SMEM_ENOENT, smem_fake_online(m, 4 * GIB, 2 * MIB));
    struct smem_stats st0, st1;
    assert_int_equal(smem_stats(m, &st0), SMEM_OK);
    assert_int_equal(smem_fake_offline(m, 4 * GIB + 2 * MIB, 2 * MIB), SMEM_OK);
    assert_int_equal(smem_stats(m, &st1), SMEM_OK);
    assert_memory_equal(&st0, &st1, sizeof st0);
    uint64_t pfn = (4 * GIB + 2 * MIB) / 4096;
    assert_false(smem_pfn_online(m, pfn));
    assert_true(smem_pfn_online(m, pfn - 1));
    struct smem_block_info b;
    assert_int_equal(smem_block_info(m, 32, &b), SMEM_OK);
    assert_int_equal(b.fake_offline_pages, 512);
    assert_int_equal(b.zone, SMEM_ZONE_MOVABLE);
    EXPECT_ERR_UNCHANGED(m, SMEM_EEXIST, smem_fake_offline(m, 4 * GIB, 4 * MIB));
    /* A snapshot carries the marks (format version 4). */
    snap_t with_marks = snap(m);
    smem_map *copy = new_map();
    assert_int_equal(smem_restore(copy, with_marks.bytes, with_marks.len), SMEM_OK);
    assert_false(smem_pfn_online(copy, pfn));
    assert_unchanged(copy, with_marks);
    free(copy);
    assert_int_equal(smem_fake_online(m, 4 * GIB + 2 * MIB, 2 * MIB), SMEM_OK);
    assert_true(smem_pfn_online(m, pfn));
    EXPECT_ERR_UNCHANGED(m, SMEM_ENOENT, smem_fake_online(m, 4 * GIB + 2 * MIB, 2 * MIB));
    free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_storage_and_init),
        cmocka_unit_test(test_strings_and_version),
        cmocka_unit_test(test_boot_two_node_machine_of_t3),
        cmocka_unit_test(test_queries),
        cmocka_unit_test(test_memory_hotplug),
        cmocka_unit_test(test_device_memory),
        cmocka_unit_test(test_device_nodes_share_a_section),
        cmocka_unit_test(test_capacity_sections_scattered_one_per_run),
        cmocka_unit_test(test_capacity_max_sections_in_runs),
        cmocka_unit_test(test_ranges_and_snapshots),
        cmocka_unit_test(test_notifiers),
        cmocka_unit_test(test_groups_and_policies),
        cmocka_unit_test(test_fake_offline),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
