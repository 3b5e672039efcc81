/* Output and exit of the Cortex-M test program through semihosting (startup.c). */
#ifndef SMEM_SEMIHOST_H
#define SMEM_SEMIHOST_H
void sh_puts(const char *s);
_Noreturn void sh_exit(int status);
#endif
