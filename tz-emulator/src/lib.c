// SPDX-License-Identifier: MIT
/* The few libc routines the firmware needs, byte-wise on purpose: the MMU
 * is off at EL3, so wide unaligned accesses would fault. */
#include "types.h"

void *memcpy(void *dst, const void *src, size_t n)
{
	uint8_t *d = dst;
	const uint8_t *s = src;

	while (n--)
		*d++ = *s++;
	return dst;
}

void *memset(void *dst, int c, size_t n)
{
	uint8_t *d = dst;

	while (n--)
		*d++ = (uint8_t)c;
	return dst;
}

/* Overlapping copies: the DTB grows in place (fdt.c). */
void *memmove(void *dst, const void *src, size_t n)
{
	uint8_t *d = dst;
	const uint8_t *s = src;

	if (d <= s || d >= s + n)
		return memcpy(dst, src, n);
	while (n--)
		d[n] = s[n];
	return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const uint8_t *x = a, *y = b;

	for (; n; n--, x++, y++)
		if (*x != *y)
			return *x - *y;
	return 0;
}

size_t strlen(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	return n;
}

int strcmp(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return (uint8_t)*a - (uint8_t)*b;
}

/* Copy with truncation; always NUL-terminates when size > 0. */
char *strlcpy_(char *dst, const char *src, size_t size)
{
	size_t i = 0;

	if (!size)
		return dst;
	for (; i + 1 < size && src[i]; i++)
		dst[i] = src[i];
	dst[i] = '\0';
	return dst;
}

/* Decimal or 0x-prefixed hexadecimal, with optional K/M/G suffix. */
bool parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	unsigned int base = 10;
	bool any = false;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	for (; *s; s++) {
		unsigned int d;

		if (*s >= '0' && *s <= '9')
			d = *s - '0';
		else if (base == 16 && *s >= 'a' && *s <= 'f')
			d = *s - 'a' + 10;
		else if (base == 16 && *s >= 'A' && *s <= 'F')
			d = *s - 'A' + 10;
		else
			break;
		v = v * base + d;
		any = true;
	}
	if (*s == 'K' || *s == 'k')
		v <<= 10, s++;
	else if (*s == 'M' || *s == 'm')
		v <<= 20, s++;
	else if (*s == 'G' || *s == 'g')
		v <<= 30, s++;
	if (!any || *s)
		return false;
	*out = v;
	return true;
}
