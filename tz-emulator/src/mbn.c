// SPDX-License-Identifier: MIT
/*
 * Qualcomm signed images ("MBN"): an ELF64 whose hash segment (header
 * version 6) holds one SHA-384 digest per program header.  The checks are
 * those of docs/boot-chain.md, which follow Linux's mdt_loader.c and
 * qtestsign's layout (reference section 4).  Signatures are not checked:
 * the emulated board, like an unfused one, has no secure boot.
 *
 * Images are hashed as they stream through one 64 KiB buffer; the release
 * and version strings are looked for in the same pass.
 */
#include "mbn.h"
#include "sha512.h"
#include "storage.h"
#include "strbuf.h"

#define PT_LOAD			1
#define EHDR_SIZE		64
#define PHDR_SIZE		56
#define PHNUM_MAX		64
#define SEG_TYPE(flags)		(((flags) >> 24) & 7)
#define SEG_TYPE_HASH		2

/* Hash segment header v6: twelve little-endian u32 words. */
#define HS_HDR_SIZE		48
#define HS_VERSION		1
#define HS_QTI_SIG		2
#define HS_QTI_CHAIN		3
#define HS_TOTAL		4
#define HS_HASH_SIZE		5
#define HS_SIG_SIZE		7
#define HS_CHAIN_SIZE		9
#define HS_QTI_META		10
#define HS_OEM_META		11

/* Metadata words we report (120-byte metadata, reference section 4). */
#define MD_SW_ID		(2 * 4)
#define MD_ARB			(29 * 4)
#define MD_SIZE			120

#define CHUNK			0x10000

struct phdr {
	uint32_t type;
	uint32_t flags;
	uint64_t offset;
	uint64_t filesz;
};

/* Looks for "MARKERvalue\0" in a byte stream; reset at segment starts. */
struct scan {
	const char *marker;
	size_t mlen;
	size_t matched;		/* marker bytes seen so far */
	size_t vlen;		/* value bytes, once the marker is complete */
	bool done;		/* first occurrence found and judged */
	bool ok;		/* ... and well formed */
	char *value;
};

static uint8_t buf[CHUNK] __attribute__((aligned(16)));
static uint8_t ph_raw[PHNUM_MAX * PHDR_SIZE];
static uint8_t table[PHNUM_MAX * 48];
static struct phdr ph[PHNUM_MAX];

static const char release_marker[] = "QCOM_SCM_RELEASE_STRING=";
static const char version_marker[] = "QC_IMAGE_VERSION_STRING=";

/* Record why the image is not valid; returns -1 for the callers' sake. */
static int fail(struct mbn_info *mi, const char *what, int index, const char *rest)
{
	struct strbuf sb;

	sb_init(&sb, mi->error, sizeof(mi->error));
	sb_puts(&sb, what);
	if (index >= 0) {
		sb_putu(&sb, (uint64_t)index);
		sb_puts(&sb, rest);
	}
	mi->valid = false;
	return -1;
}

static void scan_init(struct scan *s, const char *marker, char *value)
{
	s->marker = marker;
	s->mlen = strlen(marker);
	s->matched = 0;
	s->vlen = 0;
	s->done = false;
	s->ok = false;
	s->value = value;
	value[0] = '\0';
}

/* Judge the first occurrence: 1-63 printable characters, then a NUL. */
static void scan_end(struct scan *s, bool ok)
{
	s->done = true;
	s->ok = ok;
	if (!ok)
		s->value[0] = '\0';
}

static void scan_byte(struct scan *s, uint8_t c)
{
	if (s->matched < s->mlen) {
		/* Neither marker repeats its first letter, so after a
		 * mismatch only that letter can start a new match. */
		if (c == (uint8_t)s->marker[s->matched])
			s->matched++;
		else
			s->matched = c == (uint8_t)s->marker[0];
		return;
	}
	if (c == 0) {
		scan_end(s, s->vlen > 0);
	} else if (c < 0x20 || c > 0x7e || s->vlen == MBN_STR_MAX - 1) {
		scan_end(s, false);
	} else {
		s->value[s->vlen++] = (char)c;
		s->value[s->vlen] = '\0';
	}
}

/* A segment ended: a value cut by its end is not well formed. */
static void scan_segment_end(struct scan *s)
{
	if (!s->done && s->matched == s->mlen)
		scan_end(s, false);
	s->matched = 0;
	s->vlen = 0;
}

static void scan_bytes(struct scan *s, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n && !s->done; i++)
		scan_byte(s, p[i]);
}

/* SHA-384 of [off, off + len) of the NOR, scanning it when asked. */
static int digest_range(uint64_t off, uint64_t len, uint8_t out[SHA384_DIGEST],
			struct scan *s1, struct scan *s2)
{
	struct sha512_ctx c;

	sha384_init(&c);
	while (len) {
		uint64_t n = len < CHUNK ? len : CHUNK;

		if (store_read(off, buf, n))
			return -1;
		sha512_update(&c, buf, n);
		if (s1)
			scan_bytes(s1, buf, n);
		if (s2)
			scan_bytes(s2, buf, n);
		off += n;
		len -= n;
	}
	if (s1)
		scan_segment_end(s1);
	if (s2)
		scan_segment_end(s2);
	sha384_final(&c, out);
	return 0;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	while (n--)
		if (*p++)
			return false;
	return true;
}

static bool inside(uint64_t off, uint64_t len, uint64_t size)
{
	return len <= size && off <= size - len;
}

/* Rules 1-3: ELF header, program headers, the hash segment's index. */
static int check_elf(uint64_t off, uint64_t size, struct mbn_info *mi, unsigned int *phnum)
{
	uint8_t eh[EHDR_SIZE];
	uint64_t phoff;
	unsigned int n, hash = PHNUM_MAX;

	if (size < EHDR_SIZE || store_read(off, eh, EHDR_SIZE))
		return fail(mi, "not ELF", -1, NULL);
	if (memcmp(eh, "\x7f" "ELF", 4) || eh[4] != 2 || eh[5] != 1)
		return fail(mi, "not ELF", -1, NULL);
	phoff = get_le64(eh + 0x20);
	n = get_le16(eh + 0x38);
	if (get_le16(eh + 0x36) != PHDR_SIZE || n < 1 || n > PHNUM_MAX)
		return fail(mi, "bad ELF header", -1, NULL);
	if (!inside(phoff, (uint64_t)n * PHDR_SIZE, size))
		return fail(mi, "program headers outside partition", -1, NULL);
	if (store_read(off + phoff, ph_raw, n * PHDR_SIZE))
		return fail(mi, "read error", -1, NULL);
	for (unsigned int i = 0; i < n; i++) {
		const uint8_t *p = ph_raw + i * PHDR_SIZE;

		ph[i].type = get_le32(p);
		ph[i].flags = get_le32(p + 4);
		ph[i].offset = get_le64(p + 8);
		ph[i].filesz = get_le64(p + 32);
		if (hash == PHNUM_MAX && ph[i].type != PT_LOAD &&
		    SEG_TYPE(ph[i].flags) == SEG_TYPE_HASH)
			hash = i;
	}
	if (ph[0].type == PT_LOAD)
		return fail(mi, "phdr 0 is PT_LOAD", -1, NULL);
	if (hash == PHNUM_MAX)
		return fail(mi, "no hash segment", -1, NULL);
	for (unsigned int i = 0; i < n; i++)
		if (!inside(ph[i].offset, ph[i].filesz, size))
			return fail(mi, "segment ", (int)i, " outside partition");
	/* Entry 0 covers the image's first p_filesz bytes, wherever phdr 0
	 * says its own bytes are. */
	if (ph[0].filesz > size)
		return fail(mi, "segment 0 outside partition", -1, NULL);
	*phnum = n;
	return (int)hash;
}

/* Rule 4: the v6 header; reads the metadata and the hash table. */
static int check_hash_segment(uint64_t off, unsigned int hash, unsigned int phnum,
			      struct mbn_info *mi)
{
	uint8_t hdr[HS_HDR_SIZE], md[MD_SIZE];
	uint64_t seg = off + ph[hash].offset, total, parts;
	uint32_t w[12], md_size;

	if (ph[hash].filesz < HS_HDR_SIZE || store_read(seg, hdr, HS_HDR_SIZE))
		return fail(mi, "hash segment too small", -1, NULL);
	for (int i = 0; i < 12; i++)
		w[i] = get_le32(hdr + 4 * i);
	if (w[HS_VERSION] != 6)
		return fail(mi, "hash segment version ", (int)w[HS_VERSION], "");
	total = w[HS_TOTAL];
	parts = (uint64_t)w[HS_QTI_META] + w[HS_OEM_META] + w[HS_HASH_SIZE] +
		w[HS_QTI_SIG] + w[HS_QTI_CHAIN] + w[HS_SIG_SIZE] + w[HS_CHAIN_SIZE];
	if (HS_HDR_SIZE + total > ph[hash].filesz || parts != total)
		return fail(mi, "hash segment sizes", -1, NULL);
	if (w[HS_HASH_SIZE] != phnum * 48)
		return fail(mi, "hash table size", -1, NULL);

	/* sw_id and anti-rollback from the OEM metadata, else the QTI one. */
	md_size = w[HS_OEM_META] ? w[HS_OEM_META] : w[HS_QTI_META];
	memset(md, 0, sizeof(md));
	if (md_size) {
		uint64_t at = seg + HS_HDR_SIZE + (w[HS_OEM_META] ? w[HS_QTI_META] : 0);

		if (store_read(at, md, md_size < MD_SIZE ? md_size : MD_SIZE))
			return fail(mi, "read error", -1, NULL);
	}
	mi->sw_id = get_le32(md + MD_SW_ID);
	mi->arb = get_le32(md + MD_ARB);

	if (store_read(seg + HS_HDR_SIZE + w[HS_QTI_META] + w[HS_OEM_META], table,
		       phnum * 48))
		return fail(mi, "read error", -1, NULL);
	return 0;
}

void mbn_check(uint64_t off, uint64_t size, struct mbn_info *mi)
{
	struct scan rel, ver;
	unsigned int phnum = 0;
	int hash;

	memset(mi, 0, sizeof(*mi));
	scan_init(&rel, release_marker, mi->release);
	scan_init(&ver, version_marker, mi->version);
	hash = check_elf(off, size, mi, &phnum);
	if (hash < 0 || check_hash_segment(off, (unsigned int)hash, phnum, mi))
		return;

	/* Rule 5, entry by entry; rule 6 rides along on PT_LOAD bytes. */
	for (unsigned int i = 0; i < phnum; i++) {
		uint8_t d[SHA384_DIGEST];
		const uint8_t *want = table + i * 48;
		bool load = ph[i].type == PT_LOAD;

		if ((int)i == hash || ph[i].filesz == 0) {
			if (all_zero(want, 48))
				continue;
			fail(mi, "digest ", (int)i, " mismatch");
			return;
		}
		if (digest_range(off + (i ? ph[i].offset : 0), ph[i].filesz, d,
				 load ? &rel : NULL, load ? &ver : NULL)) {
			fail(mi, "read error", -1, NULL);
			return;
		}
		if (memcmp(d, want, 48)) {
			fail(mi, "digest ", (int)i, " mismatch");
			return;
		}
	}
	if (!rel.ok) {
		fail(mi, rel.done ? "bad release string" : "no release string", -1, NULL);
		return;
	}
	if (!ver.ok)
		mi->version[0] = '\0';
	mi->valid = true;
}
