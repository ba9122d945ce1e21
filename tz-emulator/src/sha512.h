/* SPDX-License-Identifier: MIT */
#ifndef SHA512_H
#define SHA512_H

#include "types.h"

#define SHA512_BLOCK	128
#define SHA384_DIGEST	48

struct sha512_ctx {
	uint64_t h[8];
	uint64_t bytes;			/* message length so far */
	uint8_t block[SHA512_BLOCK] __attribute__((aligned(8)));
	unsigned int fill;		/* bytes waiting in block[] */
};

void sha384_init(struct sha512_ctx *c);
void sha512_update(struct sha512_ctx *c, const void *data, size_t len);
void sha384_final(struct sha512_ctx *c, uint8_t out[SHA384_DIGEST]);

#endif
