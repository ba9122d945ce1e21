// SPDX-License-Identifier: MIT
/* Text building for the boot chain's lines and reasons; shared by the
 * firmware and the host build, which both print whole lines. */
#include "strbuf.h"

void sb_init(struct strbuf *sb, char *buf, size_t size)
{
	sb->buf = buf;
	sb->size = size;
	sb->len = 0;
	if (size)
		buf[0] = '\0';
}

void sb_putc(struct strbuf *sb, char c)
{
	if (sb->len + 1 >= sb->size)
		return;
	sb->buf[sb->len++] = c;
	sb->buf[sb->len] = '\0';
}

void sb_puts(struct strbuf *sb, const char *s)
{
	while (*s)
		sb_putc(sb, *s++);
}

static void sb_putnum(struct strbuf *sb, uint64_t v, unsigned int base)
{
	char tmp[20];
	int n = 0;

	do {
		unsigned int d = v % base;

		tmp[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
		v /= base;
	} while (v);
	while (n)
		sb_putc(sb, tmp[--n]);
}

void sb_putu(struct strbuf *sb, uint64_t v)
{
	sb_putnum(sb, v, 10);
}

void sb_putx(struct strbuf *sb, uint64_t v)
{
	sb_puts(sb, "0x");
	sb_putnum(sb, v, 16);
}
