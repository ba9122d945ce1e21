/* SPDX-License-Identifier: MIT */
/* Freestanding basics: the firmware links against no C library. */
#ifndef TYPES_H
#define TYPES_H

#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static inline uint32_t mmio_read32(uintptr_t addr)
{
	return *(volatile uint32_t *)addr;
}

static inline void mmio_write32(uintptr_t addr, uint32_t val)
{
	*(volatile uint32_t *)addr = val;
}

/* lib.c: the compiler may emit calls to memcpy/memset even with -ffreestanding. */
void *memcpy(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
void *memmove(void *dst, const void *src, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
char *strlcpy_(char *dst, const char *src, size_t size);
bool parse_u64(const char *s, uint64_t *out);

/* Little-endian loads/stores that never make an unaligned access:
 * EL3 runs with the MMU off, so all memory is Device memory for us. */
static inline uint64_t get_le64(const volatile void *p)
{
	const volatile uint8_t *b = p;
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | b[i];
	return v;
}

static inline void put_le64(volatile void *p, uint64_t v)
{
	volatile uint8_t *b = p;

	for (int i = 0; i < 8; i++, v >>= 8)
		b[i] = (uint8_t)v;
}

static inline uint32_t get_le32(const volatile void *p)
{
	const volatile uint8_t *b = p;

	return b[0] | b[1] << 8 | b[2] << 16 | (uint32_t)b[3] << 24;
}

static inline uint16_t get_le16(const volatile void *p)
{
	const volatile uint8_t *b = p;

	return (uint16_t)(b[0] | b[1] << 8);
}

/* Device-tree cells are big endian. */
static inline uint32_t get_be32(const volatile void *p)
{
	const volatile uint8_t *b = p;

	return (uint32_t)b[0] << 24 | b[1] << 16 | b[2] << 8 | b[3];
}

static inline void put_be32(volatile void *p, uint32_t v)
{
	volatile uint8_t *b = p;

	for (int i = 3; i >= 0; i--, v >>= 8)
		b[i] = (uint8_t)v;
}

static inline void put_le32(volatile void *p, uint32_t v)
{
	volatile uint8_t *b = p;

	for (int i = 0; i < 4; i++, v >>= 8)
		b[i] = (uint8_t)v;
}

#endif
