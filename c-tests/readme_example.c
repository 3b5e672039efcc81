#include <stdio.h>
#include <stdlib.h>
#include "sparsemem.h"

int main(void) {
    smem_map *map = aligned_alloc(SMEM_MAP_ALIGN, sizeof(smem_map)); /* ~3 MiB: not on a stack */
    smem_config cfg;
    smem_config_x86_64(&cfg);
    if (!map || smem_init(map, &cfg) != SMEM_OK) return 1;
    smem_boot_add_ram(map, 0, 0x100000, 0x3ff00000);             /* e820 usable RAM, node 0 */
    smem_boot_finish(map);
    int err = smem_add_memory(map, 0, 4ull << 30, 256ull << 20);  /* a DIMM: memory32, memory33 */
    if (!err) err = smem_online_block(map, 32, SMEM_ONLINE_MOVABLE);
    printf("%s; pfn 0x100000 online: %d\n", smem_strerror(err), smem_pfn_online(map, 0x100000));
    free(map);
    return err != SMEM_OK;
}
