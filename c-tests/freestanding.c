/* Firmware-readiness: this program is built with -ffreestanding -nostdlib -static and
 * links libsparsemem.a with no libc at all. It provides only what the linker asks for
 * (the mem* functions the compiler may emit calls to) and a _start that exits through
 * a raw system call with the result as status (0: every check passed). */
#include <stddef.h>
#include <stdint.h>
#include "sparsemem.h"

void *memcpy(void *d, const void *s, size_t n) {
    unsigned char *a = d;
    const unsigned char *b = s;
    while (n--) *a++ = *b++;
    return d;
}
void *memmove(void *d, const void *s, size_t n) {
    unsigned char *a = d;
    const unsigned char *b = s;
    if (a < b) while (n--) *a++ = *b++;
    else while (n--) a[n] = b[n];
    return d;
}
void *memset(void *d, int c, size_t n) {
    unsigned char *a = d;
    while (n--) *a++ = (unsigned char)c;
    return d;
}
int memcmp(const void *x, const void *y, size_t n) {
    const unsigned char *a = x, *b = y;
    for (; n; n--, a++, b++) if (*a != *b) return *a - *b;
    return 0;
}
int bcmp(const void *x, const void *y, size_t n) { return memcmp(x, y, n); }

static smem_map map; /* .bss: no heap */

static int run(void) {
    smem_config cfg;
    smem_config_x86_64(&cfg);
    if (smem_init(&map, &cfg)) return 1;
    if (smem_boot_add_ram(&map, 0, 0x100000, 0x3ff00000)) return 2;
    if (smem_boot_finish(&map)) return 3;
    if (!smem_pfn_online(&map, 0x100) || smem_pfn_valid(&map, 1ull << 30)) return 4;
    if (smem_add_device(&map, 0, 1ull << 32, 2ull << 20)) return 5;
    char z[16];
    if (smem_block_valid_zones_str(&map, 1, z, sizeof z) || z[0] != 'D') return 6;
    return 0;
}

#if defined(__x86_64__)
/* The kernel enters _start with no return address on the stack: align it the way a
 * call would and call into C, which exits with exit(2) = system call 60. */
__attribute__((used)) static void start_c(void) {
    long status = run();
    __asm__ volatile("syscall" : : "a"(60), "D"(status) : "rcx", "r11", "memory");
    for (;;) {}
}
__asm__(".globl _start\n_start:\n\txor %rbp, %rbp\n\tand $-16, %rsp\n\tcall start_c\n\thlt\n");
#else
#error "the freestanding check runs on x86-64 (raw exit system call)"
#endif
