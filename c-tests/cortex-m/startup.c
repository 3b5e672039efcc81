/* Minimal Cortex-M startup for QEMU's mps2-an386: the vector table, a reset handler that
 * copies .data, zeroes .bss, enables the FPU (the library is built for the hard-float
 * ABI) and runs main(), and semihosting (output, exit status) through `bkpt 0xab`. */
#include <stdint.h>
#include "semihost.h"

extern uint32_t _data_start, _data_end, _data_load, _bss_start, _bss_end, _stack_top;
int main(void);

/* Semihosting: r0 the operation, r1 its argument; QEMU runs it at the breakpoint. */
static int semihost(int op, const void *arg) {
    register int r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

void sh_puts(const char *s) { semihost(0x04, s); } /* SYS_WRITE0: a NUL-terminated string */

/* SYS_EXIT: QEMU exits with status 0 for ADP_Stopped_ApplicationExit, 1 for any other. */
void sh_exit(int status) {
    semihost(0x18, (const void *)(uintptr_t)(status == 0 ? 0x20026 : 0x20023));
    for (;;) {}
}

void reset_handler(void) {
    uint32_t *d = &_data_start, *s = &_data_load;
    while (d < &_data_end) *d++ = *s++;
    for (uint32_t *b = &_bss_start; b < &_bss_end; b++) *b = 0;
    *(volatile uint32_t *)0xE000ED88 |= 0xFu << 20; /* CPACR: CP10, CP11 full access */
    __asm__ volatile("dsb\n\tisb" ::: "memory");
    sh_exit(main());
}

/* A fault or an unexpected interrupt ends the run as a failure instead of hanging. */
static void fault_handler(void) {
    sh_puts("cortex-m: fault or unexpected exception\n");
    sh_exit(1);
}

__attribute__((section(".vectors"), used)) static void (*const vectors[16])(void) = {
    (void (*)(void))&_stack_top, reset_handler, fault_handler, fault_handler, fault_handler,
    fault_handler, fault_handler, 0, 0, 0, 0, fault_handler, fault_handler, 0, fault_handler,
    fault_handler,
};
