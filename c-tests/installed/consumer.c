/* A program built against an installed libsparsemem (make install-check): found by
 * pkg-config or by CMake's find_package, it checks that the header it compiled with
 * belongs to the library it runs with, then boots a small machine. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sparsemem.h>

#define STR_(x) #x
#define STR(x) STR_(x)

int main(void) {
    const char *want = STR(SMEM_VERSION_MAJOR) "." STR(SMEM_VERSION_MINOR) "." STR(SMEM_VERSION_PATCH);
    if (strcmp(smem_version(), want) != 0 || smem_map_bytes() != SMEM_MAP_BYTES) {
        fprintf(stderr, "header %s (%zu bytes) does not match library %s (%zu bytes)\n", want,
                (size_t)SMEM_MAP_BYTES, smem_version(), smem_map_bytes());
        return 1;
    }
    smem_map *map = aligned_alloc(SMEM_MAP_ALIGN, sizeof(smem_map));
    smem_config cfg;
    smem_config_x86_64(&cfg);
    int err = map ? smem_init(map, &cfg) : SMEM_ENOMEM;
    if (!err) err = smem_boot_add_ram(map, 0, 1ull << 20, (1ull << 30) - (1ull << 20));
    if (!err) err = smem_boot_finish(map);
    if (err || !smem_pfn_online(map, 0x100) || smem_pfn_valid(map, 1ull << 20)) {
        fprintf(stderr, "boot: %s\n", smem_strerror(err));
        return 1;
    }
    printf("libsparsemem %s: ok\n", smem_version());
    free(map);
    return 0;
}
