// SPDX-License-Identifier: MIT
/*
 * Arm semihosting (AArch64: HLT #0xF000, operation in w0, parameter block
 * in x1).  With -semihosting-config enable=on,target=native, QEMU performs
 * the file operations on the host itself, which is how the NOR image lives
 * in an ordinary host file.
 */
#include "semihost.h"

#define SYS_OPEN	0x01
#define SYS_CLOSE	0x02
#define SYS_WRITE	0x05
#define SYS_READ	0x06
#define SYS_SEEK	0x0a
#define SYS_FLEN	0x0c
#define SYS_GET_CMDLINE	0x15
#define SYS_EXIT	0x18

#define ADP_STOPPED_APPLICATION_EXIT	0x20026

static long semihost(unsigned long op, volatile void *param)
{
	register unsigned long x0 __asm__("x0") = op;
	register volatile void *x1 __asm__("x1") = param;

	/* The "memory" clobber makes sure the parameter block is written
	 * before the trap and re-read after it. */
	__asm__ volatile("hlt #0xf000" : "+r"(x0) : "r"(x1) : "memory");
	return (long)x0;
}

long sh_open(const char *path, int mode)
{
	volatile uint64_t p[3] = { (uintptr_t)path, (uint64_t)mode, strlen(path) };

	return semihost(SYS_OPEN, p);
}

long sh_close(long fd)
{
	volatile uint64_t p[1] = { (uint64_t)fd };

	return semihost(SYS_CLOSE, p);
}

long sh_read(long fd, void *buf, size_t len)
{
	volatile uint64_t p[3] = { (uint64_t)fd, (uintptr_t)buf, len };

	return semihost(SYS_READ, p);
}

long sh_write(long fd, const void *buf, size_t len)
{
	volatile uint64_t p[3] = { (uint64_t)fd, (uintptr_t)buf, len };

	return semihost(SYS_WRITE, p);
}

long sh_seek(long fd, uint64_t pos)
{
	volatile uint64_t p[2] = { (uint64_t)fd, pos };

	return semihost(SYS_SEEK, p);
}

long sh_flen(long fd)
{
	volatile uint64_t p[1] = { (uint64_t)fd };

	return semihost(SYS_FLEN, p);
}

/* QEMU builds the command line from -semihosting-config arg=... options. */
long sh_get_cmdline(char *buf, size_t len)
{
	volatile uint64_t p[2] = { (uintptr_t)buf, len };

	return semihost(SYS_GET_CMDLINE, p);
}

void sh_exit(unsigned int code)
{
	volatile uint64_t p[2] = { ADP_STOPPED_APPLICATION_EXIT, code };

	for (;;)
		semihost(SYS_EXIT, p);
}
