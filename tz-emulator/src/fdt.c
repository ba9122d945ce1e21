// SPDX-License-Identifier: MIT
/*
 * Just enough of the devicetree specification (v0.4, chapter 5: the
 * flattened blob) to tell Linux what the boot chain decided: string
 * properties in /chosen, added, replaced or appended to, in the blob the
 * harness loaded at dtb_addr.
 *
 * The blob grows in place: the struct block opens up with memmove, new
 * property names go at the end of the strings block, and the header's
 * offsets and sizes follow.  Everything is byte-wise: with the MMU off,
 * normal-world RAM is Device memory to us and the blob's words need not
 * be aligned to anything we can prove.
 */
#include "fdt.h"

#define FDT_MAGIC		0xd00dfeed
#define FDT_BEGIN_NODE		1
#define FDT_END_NODE		2
#define FDT_PROP		3
#define FDT_NOP			4
#define FDT_END			9

/* Header words (byte offsets). */
#define F_TOTALSIZE		4
#define F_OFF_STRUCT		8
#define F_OFF_STRINGS		12
#define F_OFF_RSVMAP		16
#define F_VERSION		20
#define F_SIZE_STRINGS		32
#define F_SIZE_STRUCT		36

#define ALIGN4(x)		(((x) + 3) & ~(uint32_t)3)

static char value_buf[4096];

static uint32_t hdr(const uint8_t *fdt, unsigned int field)
{
	return get_be32(fdt + field);
}

static void set_hdr(uint8_t *fdt, unsigned int field, uint32_t v)
{
	put_be32(fdt + field, v);
}

static bool fdt_ok(const uint8_t *fdt)
{
	uint32_t total = hdr(fdt, F_TOTALSIZE);

	return get_be32(fdt) == FDT_MAGIC && hdr(fdt, F_VERSION) >= 17 &&
	       hdr(fdt, F_OFF_STRUCT) + hdr(fdt, F_SIZE_STRUCT) <= total &&
	       hdr(fdt, F_OFF_STRINGS) + hdr(fdt, F_SIZE_STRINGS) <= total;
}

static uint32_t max_u32(uint32_t a, uint32_t b)
{
	return a > b ? a : b;
}

/* End of the last block in use (the memory reservation map ends with an
 * all-zero entry): the room after it is free. */
static uint32_t used_end(const uint8_t *fdt)
{
	uint32_t rsv = hdr(fdt, F_OFF_RSVMAP), total = hdr(fdt, F_TOTALSIZE);

	while (rsv + 16 <= total && (get_le64(fdt + rsv) || get_le64(fdt + rsv + 8)))
		rsv += 16;
	return max_u32(rsv + 16, max_u32(hdr(fdt, F_OFF_STRUCT) + hdr(fdt, F_SIZE_STRUCT),
					 hdr(fdt, F_OFF_STRINGS) + hdr(fdt, F_SIZE_STRINGS)));
}

/* Blocks that start at or after pos move by delta, except "grown", the
 * block whose inside (or end) pos is. */
static void shift_offsets(uint8_t *fdt, uint32_t pos, int32_t delta, unsigned int grown)
{
	static const unsigned int fields[] = { F_OFF_STRUCT, F_OFF_STRINGS, F_OFF_RSVMAP };

	for (size_t i = 0; i < ARRAY_SIZE(fields); i++) {
		uint32_t off = hdr(fdt, fields[i]);

		if (fields[i] != grown && off >= pos)
			set_hdr(fdt, fields[i], (uint32_t)(off + delta));
	}
}

/* Open n bytes at pos inside block "grown"; the caller fixes its size. */
static int open_gap(uint8_t *fdt, uint64_t room, uint32_t pos, uint32_t n, unsigned int grown)
{
	uint32_t end = used_end(fdt);

	if ((uint64_t)end + n > room)
		return -1;
	memmove(fdt + pos + n, fdt + pos, end - pos);
	shift_offsets(fdt, pos, (int32_t)n, grown);
	if (end + n > hdr(fdt, F_TOTALSIZE))
		set_hdr(fdt, F_TOTALSIZE, end + n);
	return 0;
}

/* The struct block loses n bytes at pos. */
static void close_gap(uint8_t *fdt, uint32_t pos, uint32_t n)
{
	uint32_t end = used_end(fdt);

	memmove(fdt + pos, fdt + pos + n, end - pos - n);
	shift_offsets(fdt, pos, -(int32_t)n, F_OFF_STRUCT);
}

/* Offset of the token after the node name that starts at p. */
static uint32_t skip_name(const uint8_t *fdt, uint32_t p)
{
	uint32_t q = p;

	while (fdt[q])
		q++;
	return ALIGN4(q + 1);
}

/* Offset of the next token after the one at p. */
static uint32_t next_token(const uint8_t *fdt, uint32_t p)
{
	switch (get_be32(fdt + p)) {
	case FDT_BEGIN_NODE:
		return skip_name(fdt, p + 4);
	case FDT_PROP:
		return p + 12 + ALIGN4(get_be32(fdt + p + 4));
	default:
		return p + 4;
	}
}

/*
 * Offset of the first token inside /chosen (its properties come first).
 * Without a /chosen, one is made just before the root's END_NODE.
 */
static int find_chosen(uint8_t *fdt, uint64_t room, uint32_t *body)
{
	uint32_t p = hdr(fdt, F_OFF_STRUCT);
	uint32_t end = p + hdr(fdt, F_SIZE_STRUCT);
	int depth = 0;

	while (p < end) {
		uint32_t tok = get_be32(fdt + p);

		if (tok == FDT_BEGIN_NODE) {
			depth++;
			if (depth == 2 && !strcmp((const char *)fdt + p + 4, "chosen")) {
				*body = skip_name(fdt, p + 4);
				return 0;
			}
		} else if (tok == FDT_END_NODE) {
			if (--depth == 0)
				break;
		} else if (tok == FDT_END) {
			return -1;
		}
		p = next_token(fdt, p);
	}
	if (p >= end || open_gap(fdt, room, p, 16, F_OFF_STRUCT))
		return -1;
	/* BEGIN_NODE "chosen\0" (8 bytes with padding) END_NODE */
	put_be32(fdt + p, FDT_BEGIN_NODE);
	memcpy(fdt + p + 4, "chosen\0", 8);
	put_be32(fdt + p + 12, FDT_END_NODE);
	set_hdr(fdt, F_SIZE_STRUCT, hdr(fdt, F_SIZE_STRUCT) + 16);
	*body = p + 12;
	return 0;
}

static const char *prop_name(const uint8_t *fdt, uint32_t p)
{
	return (const char *)fdt + hdr(fdt, F_OFF_STRINGS) + get_be32(fdt + p + 8);
}

/* The PROP token of "name" directly in the node whose body is at p, or 0. */
static uint32_t find_prop(const uint8_t *fdt, uint32_t p, const char *name)
{
	for (;;) {
		uint32_t tok = get_be32(fdt + p);

		if (tok == FDT_PROP && !strcmp(prop_name(fdt, p), name))
			return p;
		if (tok != FDT_PROP && tok != FDT_NOP)
			return 0;
		p = next_token(fdt, p);
	}
}

/* Offset of "name" in the strings block, appended if missing. */
static int string_offset(uint8_t *fdt, uint64_t room, const char *name, uint32_t *out)
{
	uint32_t base = hdr(fdt, F_OFF_STRINGS), size = hdr(fdt, F_SIZE_STRINGS);
	uint32_t len = (uint32_t)strlen(name) + 1;

	for (uint32_t i = 0; i + len <= size; i++) {
		if (!memcmp(fdt + base + i, name, len)) {
			*out = i;
			return 0;
		}
	}
	if (open_gap(fdt, room, base + size, len, F_OFF_STRINGS))
		return -1;
	memcpy(fdt + base + size, name, len);
	set_hdr(fdt, F_SIZE_STRINGS, size + len);
	*out = size;
	return 0;
}

int fdt_chosen_setprop(uint8_t *fdt, uint64_t room, const char *name, const char *value)
{
	uint32_t len = (uint32_t)strlen(value) + 1, nameoff, body, p, old;
	int32_t delta;

	/* The name first: a strings block before the struct would move it. */
	if (!fdt_ok(fdt) || string_offset(fdt, room, name, &nameoff) ||
	    find_chosen(fdt, room, &body))
		return -1;
	p = find_prop(fdt, body, name);
	if (!p) {
		p = body;
		if (open_gap(fdt, room, p, 12, F_OFF_STRUCT))
			return -1;
		set_hdr(fdt, F_SIZE_STRUCT, hdr(fdt, F_SIZE_STRUCT) + 12);
		put_be32(fdt + p, FDT_PROP);
		put_be32(fdt + p + 4, 0);
		put_be32(fdt + p + 8, nameoff);
	}
	old = ALIGN4(get_be32(fdt + p + 4));
	delta = (int32_t)ALIGN4(len) - (int32_t)old;
	if (delta > 0 && open_gap(fdt, room, p + 12 + old, (uint32_t)delta, F_OFF_STRUCT))
		return -1;
	if (delta < 0)
		close_gap(fdt, p + 12 + ALIGN4(len), (uint32_t)-delta);
	set_hdr(fdt, F_SIZE_STRUCT, (uint32_t)(hdr(fdt, F_SIZE_STRUCT) + delta));
	put_be32(fdt + p + 4, len);
	memcpy(fdt + p + 12, value, len);
	memset(fdt + p + 12 + len, 0, ALIGN4(len) - len);
	return 0;
}

int fdt_chosen_append(uint8_t *fdt, uint64_t room, const char *name, const char *text)
{
	uint32_t body, p, len = 0;
	size_t tl = strlen(text);

	if (!fdt_ok(fdt) || find_chosen(fdt, room, &body))
		return -1;
	p = find_prop(fdt, body, name);
	if (p) {
		len = get_be32(fdt + p + 4);
		while (len && !fdt[p + 12 + len - 1])
			len--;		/* the NUL(s) */
	}
	if (!len && *text == ' ')
		text++, tl--;
	if (len + tl + 1 > sizeof(value_buf))
		return -1;
	memcpy(value_buf, fdt + p + 12, len);
	memcpy(value_buf + len, text, tl + 1);
	return fdt_chosen_setprop(fdt, room, name, value_buf);
}
