#include "semihost.h"

static int32_t sh_call(uint32_t op, void *arg)
{
    register uint32_t r0 __asm__("r0") = op;
    register void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    return (int32_t)r0;
}

static uint32_t c_strlen(const char *s)
{
    uint32_t n = 0;
    while (s[n] != '\0') {
        n++;
    }
    return n;
}

int32_t sh_open(const char *path, uint32_t mode)
{
    uint32_t args[3];
    args[0] = (uint32_t)(uintptr_t)path;
    args[1] = mode;
    args[2] = c_strlen(path);
    return sh_call(0x01u, args);
}

int32_t sh_close(int32_t handle)
{
    uint32_t args[1];
    args[0] = (uint32_t)handle;
    return sh_call(0x02u, args);
}

uint32_t sh_read(int32_t handle, void *buf, uint32_t len)
{
    uint32_t args[3];
    args[0] = (uint32_t)handle;
    args[1] = (uint32_t)(uintptr_t)buf;
    args[2] = len;
    return len - (uint32_t)sh_call(0x06u, args);
}

void sh_write0(const char *s)
{
    sh_call(0x04u, (void *)s);
}

void sh_exit(int ok)
{
    /* SYS_EXIT with ADP_Stopped_ApplicationExit (0x20026) -> QEMU exit status 0; else 1. */
    sh_call(0x18u, (void *)(uintptr_t)(ok ? 0x20026u : 0x20024u));
    for (;;) {
    }
}
