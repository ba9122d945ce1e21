/* SPDX-License-Identifier: MIT */
#ifndef SEMIHOST_H
#define SEMIHOST_H

#include "types.h"

/* SYS_OPEN modes (fopen equivalents). */
#define SH_MODE_RB	1	/* "rb" */
#define SH_MODE_RPB	3	/* "r+b" */
#define SH_MODE_WPB	7	/* "w+b" */

long sh_open(const char *path, int mode);
long sh_close(long fd);
/* Both return the number of bytes NOT transferred (0 = all done). */
long sh_read(long fd, void *buf, size_t len);
long sh_write(long fd, const void *buf, size_t len);
long sh_seek(long fd, uint64_t pos);
long sh_flen(long fd);
long sh_get_cmdline(char *buf, size_t len);
void sh_exit(unsigned int code) __attribute__((noreturn));

#endif
