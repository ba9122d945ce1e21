// SPDX-License-Identifier: MIT
/*
 * bootchain-host: the firmware's boot chain (src/bootchain.c and the
 * parsers under it, the same files) run on the host over a NOR image
 * file, as a second opinion for tests that never boot QEMU.
 *
 *   bootchain-host [--rule R] [--write] [--erase-size N] [--size N] NOR.img
 *
 * Prints the boot-image:/boot: lines the firmware prints and exits with
 * its codes: 0 would boot, 85 bricked, 86 hung (2 usage, 83 I/O error).
 * The image is read into memory and the chain's writes (retry counts,
 * recoveryinfo) change that copy; only --write puts them in the file.
 * --size is the firmware's blocks x block_size: a longer file's tail is
 * ignored, a shorter one reads as erased (0xFF) beyond its end.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bootchain.h"
#include "storage.h"

#define EXIT_USAGE	2
#define EXIT_IO		83
#define EXIT_BRICKED	85
#define EXIT_HUNG	86

static uint8_t *nor;
static uint64_t nor_size;
static int nor_fd = -1;
static bool write_back;
static bool io_error;

void bc_emit(const char *line)
{
	fputs(line, stdout);
}

void bc_note(const char *msg)
{
	fprintf(stderr, "bootchain-host: %s\n", msg);
}

/* lib.c's helper, which the firmware links and we do not. */
char *strlcpy_(char *dst, const char *src, size_t size)
{
	size_t n;

	if (!size)
		return dst;
	n = strnlen(src, size - 1);
	memcpy(dst, src, n);
	dst[n] = '\0';
	return dst;
}

static bool in_range(uint64_t off, uint64_t len)
{
	return len <= nor_size && off <= nor_size - len;
}

static int flush(uint64_t off, uint64_t len)
{
	if (!write_back)
		return 0;
	if (pwrite(nor_fd, nor + off, len, (off_t)off) != (ssize_t)len) {
		io_error = true;
		return -1;
	}
	return 0;
}

int store_read(uint64_t off, void *dst, uint64_t len)
{
	if (!in_range(off, len))
		return -1;
	memcpy(dst, nor + off, len);
	return 0;
}

/* NOR semantics, as the firmware's default write_mode=and. */
int store_program(uint64_t off, const void *src, uint64_t len, uint64_t budget)
{
	const uint8_t *s = src;

	(void)budget;
	if (!in_range(off, len))
		return -1;
	for (uint64_t i = 0; i < len; i++)
		nor[off + i] &= s[i];
	return flush(off, len);
}

int store_erase(uint64_t off, uint64_t len, uint64_t budget)
{
	(void)budget;
	if (!in_range(off, len))
		return -1;
	memset(nor + off, 0xff, len);
	return flush(off, len);
}

static void usage(void)
{
	fputs("usage: bootchain-host [--rule sets|ab-attributes|per-image|none] [--write]\n"
	      "                      [--erase-size BYTES] [--size BYTES] NOR.img\n", stderr);
	exit(EXIT_USAGE);
}

static void load(const char *path, uint64_t size)
{
	struct stat st;
	uint64_t have;

	nor_fd = open(path, write_back ? O_RDWR : O_RDONLY);
	if (nor_fd < 0 || fstat(nor_fd, &st)) {
		fprintf(stderr, "bootchain-host: %s: %s\n", path, strerror(errno));
		exit(EXIT_IO);
	}
	have = (uint64_t)st.st_size;
	nor_size = size ? size : have;
	have = have < nor_size ? have : nor_size;
	nor = malloc(nor_size ? nor_size : 1);
	if (nor)
		memset(nor + have, 0xff, nor_size - have);
	if (!nor || pread(nor_fd, nor, have, 0) != (ssize_t)have) {
		fprintf(stderr, "bootchain-host: cannot read %s\n", path);
		exit(EXIT_IO);
	}
}

int main(int argc, char **argv)
{
	struct bc_params p = { .rule = BC_RULE_SETS, .erase_size = 4096 };
	struct bc_outcome o;
	const char *path = NULL;
	uint64_t size = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--rule") && i + 1 < argc) {
			if (!bc_rule_parse(argv[++i], &p.rule))
				usage();
		} else if (!strcmp(argv[i], "--write")) {
			write_back = true;
		} else if (!strcmp(argv[i], "--erase-size") && i + 1 < argc) {
			p.erase_size = (uint32_t)strtoul(argv[++i], NULL, 0);
		} else if (!strcmp(argv[i], "--size") && i + 1 < argc) {
			size = strtoull(argv[++i], NULL, 0);
		} else if (argv[i][0] == '-' || path) {
			usage();
		} else {
			path = argv[i];
		}
	}
	if (!path)
		usage();
	load(path, size);
	p.nor_size = nor_size;
	bootchain_run(&p, &o);
	fflush(stdout);
	if (io_error)
		return EXIT_IO;
	if (o.result == BC_BRICKED)
		return EXIT_BRICKED;
	return o.result == BC_HANG ? EXIT_HUNG : 0;
}
