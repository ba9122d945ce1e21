/* SPDX-License-Identifier: MIT */
#ifndef NOR_H
#define NOR_H

#include "types.h"

#define NOR_ERASE_MAX	0x10000		/* largest erase block we rewrite */

/* Make [off, off + len) of the NOR hold src: each erase block touched is
 * read, patched, and erased + programmed only if it changed (NOR cannot
 * set bits without an erase); bytes outside the range are kept.  0, or -1
 * on an I/O error or an erase block we cannot handle. */
int nor_rewrite(uint32_t erase_size, uint64_t off, const uint8_t *src, uint64_t len);

#endif
