// SPDX-License-Identifier: MIT
/*
 * GUID Partition Table (UEFI 2.10, section 5.3) on the NOR: parse either
 * copy, and write attribute changes back to both, as ABL's
 * UpdatePartitionAttributes does (docs/boot-chain.md).
 *
 * Written from the UEFI specification for the emulated boot chain; it
 * shares nothing with the agent's GPT code, whose output it judges.
 */
#include "crc32.h"
#include "gpt.h"
#include "nor.h"
#include "storage.h"

#define GPT_SIGNATURE		"EFI PART"
#define GPT_REVISION		0x00010000u
#define GPT_HDR_MIN		92

/* Header fields (byte offsets). */
#define H_REVISION		8
#define H_SIZE			12
#define H_CRC			16
#define H_MY_LBA		24
#define H_ALT_LBA		32
#define H_ENTRIES_LBA		72
#define H_NUM_ENTRIES		80
#define H_ENTRY_SIZE		84
#define H_ENTRIES_CRC		88

/* Entry fields. */
#define E_TYPE_GUID		0
#define E_FIRST_LBA		32
#define E_LAST_LBA		40
#define E_ATTR			48
#define E_NAME			56

static uint8_t sector_buf[GPT_SECTOR_MAX] __attribute__((aligned(16)));

struct gpt_hdr_info {
	uint32_t size;
	uint64_t alt_lba;
	uint64_t entries_lba;
	uint32_t num, esize;
	uint32_t entries_crc;
};

static uint32_t hdr_crc(const uint8_t *hdr, uint32_t size)
{
	uint8_t zero[4] = { 0 };
	uint32_t crc;

	crc = crc32_update(0, hdr, H_CRC);
	crc = crc32_update(crc, zero, 4);
	return crc32_update(crc, hdr + H_CRC + 4, size - H_CRC - 4);
}

/* The header at "lba" read into hdr[] and checked on its own (signature,
 * revision, size, CRC, own LBA, a sane entry array). */
static bool hdr_check(const struct gpt *g, uint32_t ss, uint64_t lba, uint8_t *hdr,
		      struct gpt_hdr_info *hi)
{
	uint64_t last = g->nor_size / ss - 1, bytes;

	if (store_read(lba * ss, hdr, GPT_HDR_MAX))
		return false;
	if (memcmp(hdr, GPT_SIGNATURE, 8) || get_le32(hdr + H_REVISION) != GPT_REVISION)
		return false;
	hi->size = get_le32(hdr + H_SIZE);
	if (hi->size < GPT_HDR_MIN || hi->size > GPT_HDR_MAX || hi->size > ss)
		return false;
	if (get_le32(hdr + H_CRC) != hdr_crc(hdr, hi->size))
		return false;
	if (get_le64(hdr + H_MY_LBA) != lba)
		return false;
	hi->alt_lba = get_le64(hdr + H_ALT_LBA);
	hi->entries_lba = get_le64(hdr + H_ENTRIES_LBA);
	hi->num = get_le32(hdr + H_NUM_ENTRIES);
	hi->esize = get_le32(hdr + H_ENTRY_SIZE);
	hi->entries_crc = get_le32(hdr + H_ENTRIES_CRC);
	/* Entry size is 128 x 2^n; we hold up to GPT_ENTRIES_MAX bytes. */
	if (hi->esize < 128 || (hi->esize & (hi->esize - 1)) || !hi->num)
		return false;
	bytes = (uint64_t)hi->num * hi->esize;
	if (bytes > GPT_ENTRIES_MAX || hi->entries_lba < 1 ||
	    hi->entries_lba > last || hi->entries_lba * ss + bytes > (last + 1) * ss)
		return false;
	return true;
}

/* A whole copy: header plus entry array with a matching CRC. */
static bool copy_check(const struct gpt *g, uint32_t ss, uint64_t lba, uint8_t *hdr,
		       uint8_t *entries, struct gpt_hdr_info *hi)
{
	uint32_t bytes;

	if (!hdr_check(g, ss, lba, hdr, hi))
		return false;
	bytes = hi->num * hi->esize;
	if (store_read(hi->entries_lba * ss, entries, bytes))
		return false;
	return crc32_update(0, entries, bytes) == hi->entries_crc;
}

static void load_names(struct gpt *g)
{
	for (uint32_t i = 0; i < GPT_MAX_PARTS; i++) {
		const uint8_t *e = g->entries + (size_t)i * g->entry_size;
		char *n = g->names[i];
		bool used = false;

		n[0] = '\0';
		if (i >= g->num_entries)
			continue;
		for (int k = 0; k < 16; k++)
			used |= e[E_TYPE_GUID + k] != 0;
		if (!used)
			continue;
		/* UTF-16LE to ASCII: partition names on these boards are. */
		for (int k = 0; k < GPT_NAME_LEN; k++) {
			uint16_t c = get_le16(e + E_NAME + 2 * k);

			if (!c)
				break;
			n[k] = c < 0x80 ? (char)c : '?';
			n[k + 1] = '\0';
		}
	}
}

/* Take the copy whose header is in hdr[], entries in entries[]. */
static void adopt(struct gpt *g, uint32_t ss, const uint8_t *hdr, const struct gpt_hdr_info *hi)
{
	g->sector = ss;
	g->last_lba = g->nor_size / ss - 1;
	g->hdr_size = hi->size;
	memcpy(g->hdr, hdr, GPT_HDR_MAX);
	g->num_entries = hi->num;
	g->entry_size = hi->esize;
	memcpy(g->on_flash, g->entries, hi->num * hi->esize);
	load_names(g);
}

static uint64_t entry_sectors(const struct gpt *g)
{
	return ((uint64_t)g->num_entries * g->entry_size + g->sector - 1) / g->sector;
}

static bool load_primary(struct gpt *g, uint32_t ss)
{
	struct gpt_hdr_info hi, bi;

	if (!copy_check(g, ss, 1, g->hdr, g->entries, &hi))
		return false;
	adopt(g, ss, g->hdr, &hi);
	g->primary_ok = true;
	g->primary_entries_lba = hi.entries_lba;
	/* The backup is where the primary says (UEFI does not make a wrong
	 * alternate LBA fatal: then the last LBA); on_flash[] is scratch
	 * here and is restored from entries[] below. */
	g->backup_lba = hi.alt_lba > 1 && hi.alt_lba <= g->last_lba ? hi.alt_lba : g->last_lba;
	g->backup_ok = copy_check(g, ss, g->backup_lba, sector_buf, g->on_flash, &bi) &&
		       bi.num == hi.num && bi.esize == hi.esize;
	g->backup_entries_lba = g->backup_ok ? bi.entries_lba :
				g->backup_lba - entry_sectors(g);
	memcpy(g->on_flash, g->entries, hi.num * hi.esize);
	return true;
}

static bool load_backup(struct gpt *g, uint32_t ss)
{
	struct gpt_hdr_info hi;
	uint64_t last = g->nor_size / ss - 1;

	if (!copy_check(g, ss, last, g->hdr, g->entries, &hi))
		return false;
	adopt(g, ss, g->hdr, &hi);
	g->using_backup = true;
	g->backup_ok = true;
	g->backup_lba = last;
	g->backup_entries_lba = hi.entries_lba;
	/* A rewrite rebuilds the primary where UEFI puts it: LBA 1, then
	 * its entries from LBA 2. */
	g->primary_entries_lba = 2;
	return true;
}

bool gpt_load(struct gpt *g, uint64_t nor_size, uint32_t erase_size)
{
	static const uint32_t sizes[] = { 4096, 512 };

	g->nor_size = nor_size;
	g->erase_size = erase_size;
	for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
		g->primary_ok = g->backup_ok = g->using_backup = false;
		if (nor_size < 4 * (uint64_t)sizes[i])
			continue;
		if (load_primary(g, sizes[i]) || load_backup(g, sizes[i]))
			return true;
	}
	return false;
}

int gpt_find(const struct gpt *g, const char *name)
{
	for (uint32_t i = 0; i < g->num_entries && i < GPT_MAX_PARTS; i++)
		if (g->names[i][0] && !strcmp(g->names[i], name))
			return (int)i;
	return -1;
}

bool gpt_part(const struct gpt *g, int idx, struct gpt_part *p)
{
	const uint8_t *e = g->entries + (size_t)idx * g->entry_size;
	uint64_t first = get_le64(e + E_FIRST_LBA), last = get_le64(e + E_LAST_LBA);

	if (first > last || last > g->last_lba)
		return false;
	p->off = first * g->sector;
	p->size = (last - first + 1) * g->sector;
	return true;
}

uint64_t gpt_attr(const struct gpt *g, int idx)
{
	return get_le64(g->entries + (size_t)idx * g->entry_size + E_ATTR);
}

void gpt_set_attr(struct gpt *g, int idx, uint64_t attr)
{
	put_le64(g->entries + (size_t)idx * g->entry_size + E_ATTR, attr);
}

/* One copy: entries first, then the header that vouches for them, so a
 * write cut in between leaves a copy whose CRC does not match. */
static int write_copy(struct gpt *g, uint64_t lba, uint64_t alt, uint64_t entries_lba,
		      uint32_t entries_crc)
{
	uint32_t bytes = g->num_entries * g->entry_size;
	uint32_t hs = g->hdr_size;

	memset(sector_buf, 0, sizeof(sector_buf));
	memcpy(sector_buf, g->hdr, hs);
	put_le64(sector_buf + H_MY_LBA, lba);
	put_le64(sector_buf + H_ALT_LBA, alt);
	put_le64(sector_buf + H_ENTRIES_LBA, entries_lba);
	put_le32(sector_buf + H_ENTRIES_CRC, entries_crc);
	put_le32(sector_buf + H_CRC, hdr_crc(sector_buf, hs));
	if (nor_rewrite(g->erase_size, entries_lba * g->sector, g->entries, bytes))
		return -1;
	return nor_rewrite(g->erase_size, lba * g->sector, sector_buf, g->sector);
}

int gpt_commit(struct gpt *g)
{
	uint32_t bytes = g->num_entries * g->entry_size, crc;

	if (!memcmp(g->entries, g->on_flash, bytes))
		return 0;
	crc = crc32_update(0, g->entries, bytes);
	if (write_copy(g, 1, g->backup_lba, g->primary_entries_lba, crc) ||
	    write_copy(g, g->backup_lba, 1, g->backup_entries_lba, crc))
		return -1;
	memcpy(g->on_flash, g->entries, bytes);
	g->primary_ok = g->backup_ok = true;
	return 1;
}
