// SPDX-License-Identifier: MIT
/*
 * The emulated SPI-NOR: a host file reached through semihosting.
 *
 * Every WRITE and ERASE reaches the host file (QEMU does a plain write(2))
 * before the SMC returns, and nothing is cached here, so killing QEMU
 * behaves like a power cut: the image holds exactly what was acknowledged
 * (plus, at most, the part of the operation that was in flight).
 */
#include "config.h"
#include "semihost.h"
#include "storage.h"
#include "uart.h"

/* Secure-RAM bounce buffer for read-modify-write and erase patterns. */
#define CHUNK	0x10000
static uint8_t scratch[CHUNK] __attribute__((aligned(16)));
static long nor_fd = -1;

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* The harness decided to cut the power in the middle of this operation. */
static void power_cut(uint64_t off)
{
	tz_log(1, "power cut at NOR offset 0x%lx: exit %d\n", off, EXIT_POWER_CUT);
	sh_exit(EXIT_POWER_CUT);
}

bool store_open(void)
{
	uint64_t size = cfg.total_blocks * cfg.block_size;
	long len;

	nor_fd = sh_open(cfg.nor_path, SH_MODE_RPB);
	if (nor_fd < 0) {
		/* No image yet: a factory-fresh part is all 0xFF. */
		nor_fd = sh_open(cfg.nor_path, SH_MODE_WPB);
		if (nor_fd < 0) {
			log_printf("[tz] cannot open or create NOR image %s\n", cfg.nor_path);
			return false;
		}
		tz_log(1, "created NOR image %s\n", cfg.nor_path);
	}
	len = sh_flen(nor_fd);
	if (len < 0)
		return false;
	if ((uint64_t)len < size) {
		/* Grow a short image with erased bytes rather than refuse it. */
		tz_log(1, "NOR image %s: padding %ld -> %lu bytes with 0xff\n",
		       cfg.nor_path, len, size);
		if (store_erase((uint64_t)len, size - (uint64_t)len, UINT64_MAX))
			return false;
	} else if ((uint64_t)len > size) {
		tz_log(1, "NOR image %s is larger (%ld) than the geometry (%lu): tail unused\n",
		       cfg.nor_path, len, size);
	}
	return true;
}

int store_read(uint64_t off, void *dst, uint64_t len)
{
	/* Semihosting reads straight into normal-world RAM: EL3's (secure)
	 * view of the address space includes it. */
	if (sh_seek(nor_fd, off) != 0 || sh_read(nor_fd, dst, len) != 0)
		return -1;
	return 0;
}

/* Erase (src == NULL) or program [off, off+len) chunk by chunk; after
 * "budget" bytes the power is cut. */
static int store_update(uint64_t off, uint64_t len, uint64_t budget,
			const uint8_t *src)
{
	while (len) {
		uint64_t n = min_u64(len, CHUNK);

		if (budget == 0)
			power_cut(off);
		n = min_u64(n, budget);
		if (!src) {
			memset(scratch, 0xff, n);		/* erase */
		} else if (cfg.write_mode == WRITE_AND) {
			/* NOR programming can only turn 1s into 0s. */
			if (store_read(off, scratch, n))
				return -1;
			for (uint64_t i = 0; i < n; i++)
				scratch[i] &= src[i];
		} else {
			memcpy(scratch, src, n);		/* erase-first firmware */
		}
		if (sh_seek(nor_fd, off) != 0 || sh_write(nor_fd, scratch, n) != 0)
			return -1;
		off += n;
		len -= n;
		budget -= budget == UINT64_MAX ? 0 : n;
		if (src)
			src += n;
	}
	/* A cut call never returns, even if all its bytes made it. */
	if (budget != UINT64_MAX)
		power_cut(off);
	return 0;
}

int store_program(uint64_t off, const void *src, uint64_t len, uint64_t budget)
{
	return store_update(off, len, budget, src);
}

int store_erase(uint64_t off, uint64_t len, uint64_t budget)
{
	return store_update(off, len, budget, NULL);
}
