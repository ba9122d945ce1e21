// SPDX-License-Identifier: MIT
/*
 * SHA-384 (FIPS 180-4, section 6.5: SHA-512 with other initial values,
 * truncated to 48 bytes): the digest of Qualcomm hash segments v6/v7.
 *
 * It runs over every boot image at every power-on under TCG, so the
 * compression function reads 64-bit words straight from the caller's
 * buffer when it is 8-byte aligned (an aligned load is fine on the Device
 * memory we see with the MMU off) and only copies unaligned tails.
 */
#include "sha512.h"

static const uint64_t K[80] = {
	0x428a2f98d728ae22ULL, 0x7137449123ef65cdULL,
	0xb5c0fbcfec4d3b2fULL, 0xe9b5dba58189dbbcULL,
	0x3956c25bf348b538ULL, 0x59f111f1b605d019ULL,
	0x923f82a4af194f9bULL, 0xab1c5ed5da6d8118ULL,
	0xd807aa98a3030242ULL, 0x12835b0145706fbeULL,
	0x243185be4ee4b28cULL, 0x550c7dc3d5ffb4e2ULL,
	0x72be5d74f27b896fULL, 0x80deb1fe3b1696b1ULL,
	0x9bdc06a725c71235ULL, 0xc19bf174cf692694ULL,
	0xe49b69c19ef14ad2ULL, 0xefbe4786384f25e3ULL,
	0x0fc19dc68b8cd5b5ULL, 0x240ca1cc77ac9c65ULL,
	0x2de92c6f592b0275ULL, 0x4a7484aa6ea6e483ULL,
	0x5cb0a9dcbd41fbd4ULL, 0x76f988da831153b5ULL,
	0x983e5152ee66dfabULL, 0xa831c66d2db43210ULL,
	0xb00327c898fb213fULL, 0xbf597fc7beef0ee4ULL,
	0xc6e00bf33da88fc2ULL, 0xd5a79147930aa725ULL,
	0x06ca6351e003826fULL, 0x142929670a0e6e70ULL,
	0x27b70a8546d22ffcULL, 0x2e1b21385c26c926ULL,
	0x4d2c6dfc5ac42aedULL, 0x53380d139d95b3dfULL,
	0x650a73548baf63deULL, 0x766a0abb3c77b2a8ULL,
	0x81c2c92e47edaee6ULL, 0x92722c851482353bULL,
	0xa2bfe8a14cf10364ULL, 0xa81a664bbc423001ULL,
	0xc24b8b70d0f89791ULL, 0xc76c51a30654be30ULL,
	0xd192e819d6ef5218ULL, 0xd69906245565a910ULL,
	0xf40e35855771202aULL, 0x106aa07032bbd1b8ULL,
	0x19a4c116b8d2d0c8ULL, 0x1e376c085141ab53ULL,
	0x2748774cdf8eeb99ULL, 0x34b0bcb5e19b48a8ULL,
	0x391c0cb3c5c95a63ULL, 0x4ed8aa4ae3418acbULL,
	0x5b9cca4f7763e373ULL, 0x682e6ff3d6b2b8a3ULL,
	0x748f82ee5defb2fcULL, 0x78a5636f43172f60ULL,
	0x84c87814a1f0ab72ULL, 0x8cc702081a6439ecULL,
	0x90befffa23631e28ULL, 0xa4506cebde82bde9ULL,
	0xbef9a3f7b2c67915ULL, 0xc67178f2e372532bULL,
	0xca273eceea26619cULL, 0xd186b8c721c0c207ULL,
	0xeada7dd6cde0eb1eULL, 0xf57d4f7fee6ed178ULL,
	0x06f067aa72176fbaULL, 0x0a637dc5a2c898a6ULL,
	0x113f9804bef90daeULL, 0x1b710b35131c471bULL,
	0x28db77f523047d84ULL, 0x32caab7b40c72493ULL,
	0x3c9ebe0a15c9bebcULL, 0x431d67c49c100d4cULL,
	0x4cc5d4becb3e42b6ULL, 0x597f299cfc657e2aULL,
	0x5fcb6fab3ad6faecULL, 0x6c44198c4a475817ULL,
};

/* Section 5.3.4: the SHA-384 initial hash value. */
static const uint64_t H384[8] = {
	0xcbbb9d5dc1059ed8ULL, 0x629a292a367cd507ULL,
	0x9159015a3070dd17ULL, 0x152fecd8f70e5939ULL,
	0x67332667ffc00b31ULL, 0x8eb44a8768581511ULL,
	0xdb0c2e0d64f98fa7ULL, 0x47b5481dbefa4fa4ULL,
};

static inline uint64_t ror(uint64_t x, unsigned int n)
{
	return (x >> n) | (x << (64 - n));
}

/* p is 8-byte aligned: one aligned load per word, then byte swap. */
static inline uint64_t load_be64(const uint8_t *p)
{
	uint64_t v = *(const uint64_t *)(const void *)p;

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	v = __builtin_bswap64(v);
#endif
	return v;
}

#define CH(x, y, z)	(((x) & (y)) ^ (~(x) & (z)))
#define MAJ(x, y, z)	(((x) & (y)) ^ ((x) & (z)) ^ ((y) & (z)))
#define BSIG0(x)	(ror(x, 28) ^ ror(x, 34) ^ ror(x, 39))
#define BSIG1(x)	(ror(x, 14) ^ ror(x, 18) ^ ror(x, 41))
#define SSIG0(x)	(ror(x, 1) ^ ror(x, 8) ^ ((x) >> 7))
#define SSIG1(x)	(ror(x, 19) ^ ror(x, 61) ^ ((x) >> 6))

/* One round; the eight calls of a group rotate the names instead of
 * moving the values. */
#define ROUND(a, b, c, d, e, f, g, h, i) do {				\
	uint64_t t1 = h + BSIG1(e) + CH(e, f, g) + K[i] + w[i];		\
	uint64_t t2 = BSIG0(a) + MAJ(a, b, c);				\
	d += t1;							\
	h = t1 + t2;							\
} while (0)

/* Section 6.4.2 on one aligned 128-byte block. */
static void compress(uint64_t st[8], const uint8_t *blk)
{
	uint64_t w[80];
	uint64_t a = st[0], b = st[1], c = st[2], d = st[3];
	uint64_t e = st[4], f = st[5], g = st[6], h = st[7];

	for (int i = 0; i < 16; i++)
		w[i] = load_be64(blk + 8 * i);
	for (int i = 16; i < 80; i++)
		w[i] = SSIG1(w[i - 2]) + w[i - 7] + SSIG0(w[i - 15]) + w[i - 16];
	for (int i = 0; i < 80; i += 8) {
		ROUND(a, b, c, d, e, f, g, h, i);
		ROUND(h, a, b, c, d, e, f, g, i + 1);
		ROUND(g, h, a, b, c, d, e, f, i + 2);
		ROUND(f, g, h, a, b, c, d, e, i + 3);
		ROUND(e, f, g, h, a, b, c, d, i + 4);
		ROUND(d, e, f, g, h, a, b, c, i + 5);
		ROUND(c, d, e, f, g, h, a, b, i + 6);
		ROUND(b, c, d, e, f, g, h, a, i + 7);
	}
	st[0] += a; st[1] += b; st[2] += c; st[3] += d;
	st[4] += e; st[5] += f; st[6] += g; st[7] += h;
}

void sha384_init(struct sha512_ctx *c)
{
	for (int i = 0; i < 8; i++)
		c->h[i] = H384[i];
	c->bytes = 0;
	c->fill = 0;
}

void sha512_update(struct sha512_ctx *c, const void *data, size_t len)
{
	const uint8_t *p = data;

	c->bytes += len;
	/* Finish a partial block first. */
	while (c->fill && len) {
		c->block[c->fill++] = *p++;
		len--;
		if (c->fill == SHA512_BLOCK) {
			compress(c->h, c->block);
			c->fill = 0;
		}
	}
	if (((uintptr_t)p & 7) == 0) {
		for (; len >= SHA512_BLOCK; p += SHA512_BLOCK, len -= SHA512_BLOCK)
			compress(c->h, p);
	} else {
		for (; len >= SHA512_BLOCK; p += SHA512_BLOCK, len -= SHA512_BLOCK) {
			memcpy(c->block, p, SHA512_BLOCK);
			compress(c->h, c->block);
		}
	}
	while (len--)
		c->block[c->fill++] = *p++;
}

/* Section 5.1.2 padding: 0x80, zeros, the 128-bit bit length. */
void sha384_final(struct sha512_ctx *c, uint8_t out[SHA384_DIGEST])
{
	uint64_t bits = c->bytes << 3;
	unsigned int i;

	c->block[c->fill++] = 0x80;
	if (c->fill > SHA512_BLOCK - 16) {
		memset(c->block + c->fill, 0, SHA512_BLOCK - c->fill);
		compress(c->h, c->block);
		c->fill = 0;
	}
	memset(c->block + c->fill, 0, SHA512_BLOCK - 8 - c->fill);
	/* Images are far below 2^61 bytes: the top 64 length bits stay 0. */
	for (i = 0; i < 8; i++)
		c->block[SHA512_BLOCK - 1 - i] = (uint8_t)(bits >> (8 * i));
	compress(c->h, c->block);
	for (i = 0; i < SHA384_DIGEST; i++)
		out[i] = (uint8_t)(c->h[i / 8] >> (56 - 8 * (i % 8)));
}
