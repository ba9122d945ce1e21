// SPDX-License-Identifier: MIT
/*
 * CRC-32 as zlib and the UEFI GPT define it (polynomial 0x04C11DB7,
 * reflected, initial and final XOR 0xFFFFFFFF), by table.  The table is
 * computed on first use rather than typed out.
 */
#include "crc32.h"

static uint32_t table[256];
static bool table_ready;

static void crc32_table(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
		table[i] = c;
	}
	table_ready = true;
}

uint32_t crc32_update(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	if (!table_ready)
		crc32_table();
	crc = ~crc;
	while (len--)
		crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}
