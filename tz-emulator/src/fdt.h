/* SPDX-License-Identifier: MIT */
#ifndef FDT_H
#define FDT_H

#include "types.h"

/*
 * Edits of /chosen in a flattened device tree, in place: the blob may
 * grow up to "room" bytes in total.  All return 0, or -1 when the blob is
 * not a DTB (v17) or has no room left.
 */
int fdt_chosen_setprop(uint8_t *fdt, uint64_t room, const char *name, const char *value);
/* Append "text" to a string property (created if absent); a leading space
 * of "text" is dropped when the property was empty. */
int fdt_chosen_append(uint8_t *fdt, uint64_t room, const char *name, const char *text);

#endif
