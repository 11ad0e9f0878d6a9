/* Minimal ARM semihosting calls (no newlib stdio, no heap). */
#ifndef FS_SEMIHOST_H
#define FS_SEMIHOST_H
#include <stdint.h>

int32_t sh_open(const char *path, uint32_t mode);
int32_t sh_close(int32_t handle);
/* Returns bytes read. */
uint32_t sh_read(int32_t handle, void *buf, uint32_t len);
void sh_write0(const char *s);
void sh_exit(int ok);
#endif
