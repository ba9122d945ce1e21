// SPDX-License-Identifier: MIT
/* The boot chain's writes (GPT attributes, recoveryinfo) on the NOR, in
 * whole erase blocks through store_erase/store_program. */
#include "nor.h"
#include "storage.h"

static uint8_t erase_buf[NOR_ERASE_MAX] __attribute__((aligned(16)));

int nor_rewrite(uint32_t erase_size, uint64_t off, const uint8_t *src, uint64_t len)
{
	uint64_t es = erase_size;

	if (!es || es > NOR_ERASE_MAX)
		return -1;
	while (len) {
		uint64_t base = off - off % es, in = off - base;
		uint64_t n = es - in < len ? es - in : len;
		bool changed = false;

		if (store_read(base, erase_buf, es))
			return -1;
		for (uint64_t i = 0; i < n; i++) {
			changed |= erase_buf[in + i] != src[i];
			erase_buf[in + i] = src[i];
		}
		if (changed && (store_erase(base, es, UINT64_MAX) ||
				store_program(base, erase_buf, es, UINT64_MAX)))
			return -1;
		off += n;
		src += n;
		len -= n;
	}
	return 0;
}
