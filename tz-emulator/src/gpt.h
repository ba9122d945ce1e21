/* SPDX-License-Identifier: MIT */
#ifndef GPT_H
#define GPT_H

#include "types.h"

/* ABL's MAX_PARTITION_ENTRIES_SZ: 256 entries of 128 bytes. */
#define GPT_ENTRIES_MAX		(32 * 1024)
#define GPT_MAX_PARTS		(GPT_ENTRIES_MAX / 128)
#define GPT_NAME_LEN		36	/* UTF-16 code units in an entry */
#define GPT_HDR_MAX		512	/* we keep headers up to this size */
#define GPT_SECTOR_MAX		4096

/* A partition as the chain needs it: where its bytes are on the NOR. */
struct gpt_part {
	uint64_t off;
	uint64_t size;
};

struct gpt {
	uint64_t nor_size;
	uint32_t erase_size;		/* NOR erase block, for rewrites */
	uint32_t sector;		/* bytes per LBA: 4096 or 512 */
	uint64_t last_lba;
	bool primary_ok, backup_ok;	/* as read at gpt_load() */
	bool using_backup;		/* entries[] came from the backup */
	uint32_t hdr_size;
	uint8_t hdr[GPT_HDR_MAX];	/* header of the copy in use */
	uint64_t primary_entries_lba;
	uint64_t backup_lba, backup_entries_lba;
	uint32_t num_entries, entry_size;
	uint8_t entries[GPT_ENTRIES_MAX];	/* the copy in use, as edited */
	uint8_t on_flash[GPT_ENTRIES_MAX];	/* as last read or written */
	char names[GPT_MAX_PARTS][GPT_NAME_LEN + 1];	/* "" if unused */
};

/* Find and check a GPT on the NOR (4096-byte sectors, then 512; primary
 * at LBA 1, else the backup at the last LBA).  False if none is valid. */
bool gpt_load(struct gpt *g, uint64_t nor_size, uint32_t erase_size);
/* Index of the first used entry with this name, or -1. */
int gpt_find(const struct gpt *g, const char *name);
/* False when the entry's LBA range is not inside the NOR. */
bool gpt_part(const struct gpt *g, int idx, struct gpt_part *p);
uint64_t gpt_attr(const struct gpt *g, int idx);
void gpt_set_attr(struct gpt *g, int idx, uint64_t attr);
/* If the entries differ from what the NOR holds, write both copies,
 * primary then backup, CRCs recomputed.  1 written, 0 unchanged, -1 I/O
 * error. */
int gpt_commit(struct gpt *g);

#endif
