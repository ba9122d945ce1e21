/* SPDX-License-Identifier: MIT */
#ifndef STORAGE_H
#define STORAGE_H

#include "types.h"

/* Open (or create, filled with 0xFF) the host file behind the NOR. */
bool store_open(void);
/* Byte offsets into the NOR; all return 0 on success, -1 on host I/O error.
 * "budget" is how many bytes may reach the file before a power cut
 * (UINT64_MAX for none): see power_cut_nth in config.h. */
int store_read(uint64_t off, void *dst, uint64_t len);
int store_program(uint64_t off, const void *src, uint64_t len, uint64_t budget);
int store_erase(uint64_t off, uint64_t len, uint64_t budget);

#endif
