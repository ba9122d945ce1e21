/* SPDX-License-Identifier: MIT */
#ifndef CRC32_H
#define CRC32_H

#include "types.h"

/* zlib's CRC-32 (reflected 0xEDB88320): crc32_update(0, buf, len) is
 * zlib.crc32(buf); feed the result back in to continue. */
uint32_t crc32_update(uint32_t crc, const void *buf, size_t len);

#endif
