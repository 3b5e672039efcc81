/* How a hypervisor uses sparsemem: the guest's firmware map, a DIMM hot-add onlined
 * movable, a pmem namespace, the questions vCPU threads ask, and a snapshot carried
 * to a second map as live migration would. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sparsemem.h"

#define MIB (1ull << 20)
#define GIB (1ull << 30)

static int print_range(void *ctx, const smem_range *r) {
    static const char *kinds[] = {"?", "RAM online", "RAM offline", "device"};
    (void)ctx;
    printf("  [%#014llx-%#014llx] node %d %s\n", (unsigned long long)r->start,
           (unsigned long long)(r->start + r->size - 1), r->nid, kinds[r->kind <= 3 ? r->kind : 0]);
    return 0;
}

int main(void) {
    static const struct { int nid; uint64_t start, size; } e820[] = {
        {0, 0x1000, 0x9fc00 - 0x1000}, {0, MIB, 3 * GIB - MIB}, {1, 4 * GIB, 2 * GIB}};
    smem_map *map = aligned_alloc(SMEM_MAP_ALIGN, sizeof(smem_map));
    smem_config cfg;
    smem_config_x86_64(&cfg);
    if (!map || smem_init(map, &cfg)) return 1;
    for (size_t i = 0; i < sizeof e820 / sizeof e820[0]; i++)
        if (smem_boot_add_ram(map, e820[i].nid, e820[i].start, e820[i].size)) return 1;
    if (smem_boot_finish(map)) return 1;

    int err = smem_add_memory(map, 1, 8 * GIB, GIB);                   /* DIMM: memory64-71 */
    for (uint64_t id = 64; !err && id < 72; id++) err = smem_online_block(map, id, SMEM_ONLINE_MOVABLE);
    if (!err) err = smem_add_device(map, 1, 16 * GIB + 16 * MIB, 64 * MIB);   /* pmem namespace */
    printf("hotplug: %s\n", smem_strerror(err));

    uint64_t pfns[] = {0x500, 0xa0, 8 * GIB >> 12, (16 * GIB + 32 * MIB) >> 12};
    for (size_t i = 0; i < 4; i++) {
        struct smem_pfn_info pi;
        int r = smem_pfn_info(map, pfns[i], &pi);
        printf("pfn %#llx: valid %d online %d zone %s%s\n", (unsigned long long)pfns[i], smem_pfn_valid(map, pfns[i]),
               smem_pfn_online(map, pfns[i]), r ? "-" : smem_zone_name(pi.zone), r ? " (no section)" : "");
    }
    puts("memory map:");
    smem_for_each_range(map, print_range, NULL);

    size_t len = smem_snapshot_bytes(map), used = 0;
    void *buf = malloc(len);
    smem_map *target = aligned_alloc(SMEM_MAP_ALIGN, sizeof(smem_map));
    if (!buf || !target || smem_snapshot(map, buf, len, &used) || smem_init(target, &cfg) ||
        smem_restore(target, buf, used)) return 1;
    printf("migrated %zu bytes of state; target pfn %#llx online: %d\n", used,
           (unsigned long long)(8 * GIB >> 12), smem_pfn_online(target, 8 * GIB >> 12));
    free(buf);
    free(target);
    free(map);
    return err ? 1 : 0;
}
