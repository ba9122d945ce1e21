/* SPDX-License-Identifier: MIT */
#ifndef STRBUF_H
#define STRBUF_H

#include "types.h"

/* A bounded text buffer: appends truncate silently and the text stays
 * NUL-terminated, so a long reason can never overrun a record field. */
struct strbuf {
	char *buf;
	size_t size;
	size_t len;
};

void sb_init(struct strbuf *sb, char *buf, size_t size);
void sb_putc(struct strbuf *sb, char c);
void sb_puts(struct strbuf *sb, const char *s);
void sb_putu(struct strbuf *sb, uint64_t v);
void sb_putx(struct strbuf *sb, uint64_t v);	/* "0x..." */

#endif
