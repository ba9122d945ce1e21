// SPDX-License-Identifier: MIT
/*
 * The emulated boot chain (docs/boot-chain.md): at power-on, read the GPT
 * and the boot images from the NOR, decide under one boot rule what would
 * boot, say so on the console and record what the rule records.
 *
 * It is the judge of "does the board boot?" for the whole project, so it
 * was written from that page and the reference it cites, never from the
 * agent's code.  The same file builds into the firmware and into the host
 * tool bootchain-host, which differ only in bc_emit()/bc_note() and in
 * what store_read/store_erase/store_program reach.
 */
#include "bootchain.h"
#include "crc32.h"
#include "gpt.h"
#include "nor.h"
#include "storage.h"
#include "strbuf.h"

/* The Radxa Dragon Q6A's boot images, in boot order.  Whether each is a
 * primary/_BACKUP or an _a/_b pair is read from the GPT. */
static const char *const profile[] = {
	"XBL_SC", "XBL_CONFIG", "AOP", "TZ", "HYP", "DEVCFG", "QUP", "UEFI",
	"dtb", "uefisecapp",
};
#define NIMG	ARRAY_SIZE(profile)

enum kind { KIND_PB, KIND_AB };

/* The copy of one profile image that the rule looked at last. */
struct image {
	enum kind kind;
	char part[GPT_NAME_LEN + 1];
	struct mbn_info mi;
};

#define LINE_SIZE	512
#define PART_NAME_SIZE	(GPT_NAME_LEN + 1)

static struct gpt gpt;
static struct image img[NIMG];
static char line[LINE_SIZE];
static const struct bc_params *par;

/* ---- output ---- */

/* Reasons and strings go inside "..."; a quote in an image's string
 * must not end the field early. */
static void sb_put_quoted(struct strbuf *sb, const char *s)
{
	sb_putc(sb, '"');
	for (; *s; s++)
		sb_putc(sb, *s == '"' ? '\'' : *s);
	sb_putc(sb, '"');
}

static void emit_image(const char *base, const char *part, const struct mbn_info *mi)
{
	struct strbuf sb;

	sb_init(&sb, line, sizeof(line));
	sb_puts(&sb, "boot-image: ");
	sb_puts(&sb, base);
	sb_puts(&sb, " part=");
	sb_puts(&sb, part);
	if (mi->valid) {
		sb_puts(&sb, " valid=1 release=");
		sb_puts(&sb, mi->release);
		sb_puts(&sb, " version=");
		sb_puts(&sb, mi->version[0] ? mi->version : "-");
		sb_puts(&sb, " sw_id=");
		sb_putx(&sb, mi->sw_id);
		sb_puts(&sb, " arb=");
		sb_putu(&sb, mi->arb);
	} else {
		sb_puts(&sb, " valid=0 error=");
		sb_put_quoted(&sb, mi->error);
	}
	sb_putc(&sb, '\n');
	bc_emit(line);
}

static const char *const result_names[] = {
	[BC_BOOT] = "boot", [BC_BRICKED] = "bricked", [BC_HANG] = "hang",
};

/* The boot: line; "result" may also be "reset" (ab-attributes). retry < 0
 * prints "-". */
static void emit_boot(const struct bc_outcome *o, const char *result, int retry)
{
	struct strbuf sb;

	sb_init(&sb, line, sizeof(line));
	sb_puts(&sb, "boot: rule=");
	sb_puts(&sb, bc_rule_name(o->rule));
	if (o->rule == BC_RULE_SETS) {
		sb_puts(&sb, " set=");
		sb_putc(&sb, o->set);
	} else if (o->rule == BC_RULE_AB) {
		sb_puts(&sb, " slot=");
		sb_puts(&sb, o->slot);
	}
	sb_puts(&sb, " release=");
	sb_puts(&sb, o->release);
	sb_puts(&sb, " result=");
	sb_puts(&sb, result);
	if (o->rule == BC_RULE_SETS) {
		sb_puts(&sb, " fallback=");
		sb_putc(&sb, o->fallback ? '1' : '0');
	} else if (o->rule == BC_RULE_AB) {
		sb_puts(&sb, " retry=");
		if (retry < 0)
			sb_putc(&sb, '-');
		else
			sb_putu(&sb, (uint64_t)retry);
	}
	sb_puts(&sb, " reason=");
	sb_put_quoted(&sb, o->reason);
	sb_putc(&sb, '\n');
	bc_emit(line);
}

static void finish(struct bc_outcome *o, enum bc_result r, int retry)
{
	o->result = r;
	emit_boot(o, result_names[r], retry);
}

/* ---- images ---- */

static void copy_name(char *out, const char *base, const char *suffix)
{
	struct strbuf sb;

	sb_init(&sb, out, PART_NAME_SIZE);
	sb_puts(&sb, base);
	sb_puts(&sb, suffix);
}

static enum kind kind_of(const char *base)
{
	char n[PART_NAME_SIZE];

	copy_name(n, base, "_a");
	if (gpt_find(&gpt, n) >= 0)
		return KIND_AB;
	copy_name(n, base, "_b");
	return gpt_find(&gpt, n) >= 0 ? KIND_AB : KIND_PB;
}

/* Which copy: 0 is set A (X, X_a), 1 set B (X_BACKUP, X_b). */
static void set_copy_name(char *out, const char *base, enum kind k, int which)
{
	static const char *const suffix[2][2] = {
		[KIND_PB] = { "", "_BACKUP" },
		[KIND_AB] = { "_a", "_b" },
	};

	copy_name(out, base, suffix[k][which]);
}

/* Check partition "part" as profile image i and print its line. */
static bool check_copy(unsigned int i, const char *part)
{
	struct image *im = &img[i];
	struct gpt_part p;
	int idx = gpt_find(&gpt, part);

	strlcpy_(im->part, part, sizeof(im->part));
	memset(&im->mi, 0, sizeof(im->mi));
	if (idx < 0)
		strlcpy_(im->mi.error, "no partition", sizeof(im->mi.error));
	else if (!gpt_part(&gpt, idx, &p))
		strlcpy_(im->mi.error, "partition outside NOR", sizeof(im->mi.error));
	else
		mbn_check(p.off, p.size, &im->mi);
	emit_image(profile[i], part, &im->mi);
	return im->mi.valid;
}

/* Profile image i from copy pb (primary/backup) or ab (A/B): 0 is set A
 * (X, X_a), 1 set B (X_BACKUP, X_b). */
static bool check_image(unsigned int i, int pb, int ab)
{
	char part[PART_NAME_SIZE];

	img[i].kind = kind_of(profile[i]);
	set_copy_name(part, profile[i], img[i].kind, img[i].kind == KIND_AB ? ab : pb);
	return check_copy(i, part);
}

/* "X: why" for the first image that failed. */
static void image_reason(struct strbuf *sb, unsigned int i)
{
	sb_puts(sb, profile[i]);
	sb_puts(sb, ": ");
	sb_puts(sb, img[i].mi.error);
}

/*
 * All images valid: do they carry one release?  If not, say which two
 * differ ("mixed releases: XBL_SC REL-2, TZ REL-1").  The release
 * reported is the one most images carry (the earliest on a tie): after a
 * torn update that is the release the board was running.
 */
static bool consistent(struct strbuf *why, char *release)
{
	unsigned int best = 0, best_n = 0;

	for (unsigned int i = 0; i < NIMG; i++) {
		unsigned int n = 0;

		for (unsigned int j = 0; j < NIMG; j++)
			n += !strcmp(img[i].mi.release, img[j].mi.release);
		if (n > best_n)
			best = i, best_n = n;
	}
	strlcpy_(release, img[best].mi.release, MBN_STR_MAX);
	for (unsigned int i = 1; i < NIMG; i++) {
		if (strcmp(img[i].mi.release, img[0].mi.release)) {
			sb_puts(why, "mixed releases: ");
			sb_puts(why, profile[0]);
			sb_putc(why, ' ');
			sb_puts(why, img[0].mi.release);
			sb_puts(why, ", ");
			sb_puts(why, profile[i]);
			sb_putc(why, ' ');
			sb_puts(why, img[i].mi.release);
			return false;
		}
	}
	return true;
}

/* Every image of one set: valid and consistent?  All are checked, so
 * the console shows the whole set; "why" gets the first problem. */
static bool check_set(int which, struct strbuf *why, char *release)
{
	int bad = -1;

	for (unsigned int i = 0; i < NIMG; i++)
		if (!check_image(i, which, which) && bad < 0)
			bad = (int)i;
	if (bad >= 0) {
		image_reason(why, (unsigned int)bad);
		return false;
	}
	return consistent(why, release);
}

/* ---- rule "sets" and recoveryinfo ---- */

#define RI_SIZE		64
#define RI_MAGIC	"QSRI"
#define RI_VERSION	1
#define RI_REASON	24
#define RI_REASON_LEN	36
#define RI_CRC		60
#define RI_SET_NONE	0xffff

struct ri_record {
	bool valid;
	uint32_t failed;	/* bit 0 set A, bit 1 set B */
	uint32_t last_set;
	uint32_t fallbacks;
	char reason[RI_REASON_LEN];
};

static void ri_decode(const uint8_t *b, struct ri_record *r)
{
	memset(r, 0, sizeof(*r));
	if (memcmp(b, RI_MAGIC, 4) || get_le32(b + 4) != RI_VERSION ||
	    get_le32(b + RI_CRC) != crc32_update(0, b, RI_CRC))
		return;	/* erased, garbage or torn: no record */
	r->valid = true;
	r->failed = get_le32(b + 8);
	r->last_set = get_le32(b + 12);
	r->fallbacks = get_le32(b + 16);
	memcpy(r->reason, b + RI_REASON, RI_REASON_LEN - 1);
}

static void ri_encode(const struct ri_record *r, uint8_t *b)
{
	memset(b, 0, RI_SIZE);
	memcpy(b, RI_MAGIC, 4);
	put_le32(b + 4, RI_VERSION);
	put_le32(b + 8, r->failed);
	put_le32(b + 12, r->last_set);
	put_le32(b + 16, r->fallbacks);
	/* reserved word at 20 stays 0; the reason is NUL padded */
	strlcpy_((char *)b + RI_REASON, r->reason, RI_REASON_LEN);
	put_le32(b + RI_CRC, crc32_update(0, b, RI_CRC));
}

/*
 * Rewrite the record if it changed: erase the partition's first block,
 * program 64 bytes.  A partition that does not start on an erase block
 * (512-byte-sector tables) gets the same result in its first erase-block
 * worth of bytes, its neighbours' bytes kept.
 */
static uint8_t ri_block[NOR_ERASE_MAX];

static void ri_store(const struct gpt_part *p, const uint8_t *old, const struct ri_record *r)
{
	uint64_t n = p->size < par->erase_size ? p->size : par->erase_size;

	ri_encode(r, ri_block);
	if (!memcmp(ri_block, old, RI_SIZE))
		return;
	if (n < RI_SIZE || n > sizeof(ri_block)) {
		bc_note("recoveryinfo: erase block size not supported, not written");
		return;
	}
	memset(ri_block + RI_SIZE, 0xff, n - RI_SIZE);
	if (p->off % par->erase_size == 0 && n == par->erase_size) {
		if (store_erase(p->off, n, UINT64_MAX) ||
		    store_program(p->off, ri_block, RI_SIZE, UINT64_MAX))
			n = 0;
	} else if (nor_rewrite(par->erase_size, p->off, ri_block, n)) {
		n = 0;
	}
	bc_note(n ? "recoveryinfo: record written" : "recoveryinfo: write failed");
}

static void rule_sets(struct bc_outcome *o)
{
	char why_a[128], why_b[128], rel[MBN_STR_MAX];
	struct strbuf wa, wb, rs;
	uint8_t raw[RI_SIZE];
	struct ri_record rec;
	struct gpt_part rp;
	int ri = gpt_find(&gpt, "recoveryinfo");
	bool have_ri = ri >= 0 && gpt_part(&gpt, ri, &rp) && rp.size >= RI_SIZE;

	memset(raw, 0xff, sizeof(raw));
	if (have_ri && store_read(rp.off, raw, RI_SIZE))
		have_ri = false;
	if (!have_ri)
		bc_note("recoveryinfo: no usable partition, nothing recorded");
	ri_decode(raw, &rec);
	sb_init(&wa, why_a, sizeof(why_a));
	sb_init(&wb, why_b, sizeof(why_b));
	sb_init(&rs, o->reason, sizeof(o->reason));

	if (check_set(0, &wa, rel)) {
		o->set = 'A';
		strlcpy_(o->release, rel, sizeof(o->release));
		sb_puts(&rs, "set A valid");
		if (rec.valid && (rec.failed & 1)) {
			/* Set A boots again: clear its bit, keep the count. */
			rec.failed &= ~1u;
			rec.last_set = 0;
			if (have_ri)
				ri_store(&rp, raw, &rec);
			sb_puts(&rs, ", failure record cleared");
		}
		finish(o, BC_BOOT, -1);
		return;
	}

	o->fallback = true;
	rec.valid = true;
	rec.failed |= 1;
	strlcpy_(rec.reason, why_a, sizeof(rec.reason));
	sb_puts(&rs, "set A: ");
	sb_puts(&rs, why_a);
	if (check_set(1, &wb, rel)) {
		rec.failed &= ~2u;
		rec.last_set = 1;
		rec.fallbacks++;
		o->set = 'B';
		strlcpy_(o->release, rel, sizeof(o->release));
	} else {
		rec.failed |= 2;
		rec.last_set = RI_SET_NONE;
		sb_puts(&rs, "; set B: ");
		sb_puts(&rs, why_b);
	}
	if (have_ri)
		ri_store(&rp, raw, &rec);
	finish(o, o->set == 'B' ? BC_BOOT : BC_BRICKED, -1);
}

/* ---- rule "per-image" ---- */

static void rule_per_image(struct bc_outcome *o)
{
	struct strbuf rs;
	int bad = -1;

	sb_init(&rs, o->reason, sizeof(o->reason));
	for (unsigned int i = 0; i < NIMG; i++) {
		if (check_image(i, 0, 0))
			continue;
		o->fallback = true;
		if (!check_image(i, 1, 1) && bad < 0)
			bad = (int)i;
	}
	if (bad >= 0) {
		sb_puts(&rs, profile[bad]);
		sb_puts(&rs, ": no valid copy");
		finish(o, BC_BRICKED, -1);
	} else if (!consistent(&rs, o->release)) {
		finish(o, BC_HANG, -1);
	} else {
		sb_puts(&rs, o->fallback ? "every image valid, some from their backup" :
			"every image valid from its primary");
		finish(o, BC_BOOT, -1);
	}
}

/* ---- rule "ab-attributes" (ABL, reference section 2) ---- */

/* Byte 6 of the attribute field: bits 48-55. */
#define AB_SHIFT	48
#define AB_PRIO		0x03
#define AB_ACTIVE	0x04
#define AB_RETRY_SHIFT	3
#define AB_RETRY	(7 << AB_RETRY_SHIFT)
#define AB_OK		0x40
#define AB_UNBOOTABLE	0x80
#define AB_MAX_PRIO	3
#define AB_MAX_RETRY	7
#define AB_MAX_RESETS	4

static const char *const slot_names[2] = { "_a", "_b" };

/* GPT indexes of the slot entry's _a and _b (dtb_a/dtb_b on the Q6A
 * profile), -1 where missing. */
struct slots {
	int entry[2];
};

static unsigned int ab_get(int idx)
{
	return (unsigned int)(gpt_attr(&gpt, idx) >> AB_SHIFT) & 0xff;
}

static void ab_set(int idx, unsigned int v)
{
	uint64_t a = gpt_attr(&gpt, idx) & ~(0xffull << AB_SHIFT);

	gpt_set_attr(&gpt, idx, a | (uint64_t)(v & 0xff) << AB_SHIFT);
}

static unsigned int ab_retry(unsigned int v)
{
	return (v & AB_RETRY) >> AB_RETRY_SHIFT;
}

static void ab_write(void)
{
	int r = gpt_commit(&gpt);

	if (r < 0)
		bc_note("GPT: write failed");
	else if (r > 0)
		bc_note("GPT: attributes written to both copies");
}

/* The slot entry: the first A/B image of the profile the GPT has. */
static bool find_slots(struct slots *s)
{
	for (unsigned int i = 0; i < NIMG; i++) {
		if (kind_of(profile[i]) != KIND_AB)
			continue;
		for (int k = 0; k < 2; k++) {
			char n[PART_NAME_SIZE];

			copy_name(n, profile[i], slot_names[k]);
			s->entry[k] = gpt_find(&gpt, n);
		}
		return true;
	}
	return false;
}

/* GetActiveSlot: active and a priority above the best so far (from 0). */
static int active_slot(const struct slots *s)
{
	unsigned int best = 0;
	int pick = -1;

	for (int k = 0; k < 2; k++) {
		unsigned int v;

		if (s->entry[k] < 0)
			continue;
		v = ab_get(s->entry[k]);
		if ((v & AB_ACTIVE) && (v & AB_PRIO) > best) {
			best = v & AB_PRIO;
			pick = k;
		}
	}
	return pick;
}

/* MarkPtnActive(S): bit 50 on every X_S, off on every other _a/_b. */
static void mark_active(int slot)
{
	for (uint32_t i = 0; i < gpt.num_entries && i < GPT_MAX_PARTS; i++) {
		const char *n = gpt.names[i];
		size_t len = strlen(n);
		unsigned int v;

		if (len < 2 || n[len - 2] != '_' || (n[len - 1] != 'a' && n[len - 1] != 'b'))
			continue;
		v = ab_get((int)i);
		if (!strcmp(n + len - 2, slot_names[slot]))
			v |= AB_ACTIVE;
		else
			v &= ~AB_ACTIVE;
		ab_set((int)i, v);
	}
	ab_write();
}

/*
 * HandleActiveSlotUnbootable: mark S unbootable; only an other slot that
 * is bootable and already successful is switched to (SetActiveSlot, then
 * a reset).  Returns true for "reset", false for "bricked".
 */
static bool slot_unbootable(const struct slots *s, int slot, const char *why,
			    struct bc_outcome *o)
{
	int other = !slot, oe = s->entry[other];
	struct strbuf rs;
	unsigned int v;

	ab_set(s->entry[slot], ab_get(s->entry[slot]) | AB_UNBOOTABLE);
	ab_write();
	sb_init(&rs, o->reason, sizeof(o->reason));
	sb_puts(&rs, "slot ");
	sb_puts(&rs, slot_names[slot]);
	sb_puts(&rs, ": ");
	sb_puts(&rs, why);
	if (oe < 0 || (ab_get(oe) & (AB_UNBOOTABLE | AB_OK)) != AB_OK) {
		sb_puts(&rs, ", slot ");
		sb_puts(&rs, slot_names[other]);
		sb_puts(&rs, oe < 0 ? " missing" :
			(ab_get(oe) & AB_UNBOOTABLE) ? " unbootable" : " never marked successful");
		finish(o, BC_BRICKED, (int)ab_retry(ab_get(s->entry[slot])));
		return false;
	}
	/* SetActiveSlot(other, ResetSuccessBit=FALSE); no GUID swap here. */
	v = ab_get(oe) & ~(AB_PRIO | AB_RETRY | AB_UNBOOTABLE);
	ab_set(oe, v | AB_MAX_PRIO | AB_ACTIVE | AB_MAX_RETRY << AB_RETRY_SHIFT);
	v = ab_get(s->entry[slot]) & ~(AB_PRIO | AB_ACTIVE);
	ab_set(s->entry[slot], v | 2);
	ab_write();
	sb_puts(&rs, ", switching to ");
	sb_puts(&rs, slot_names[other]);
	emit_boot(o, "reset", (int)ab_retry(ab_get(s->entry[slot])));
	return true;
}

/* Step 3: the images of slot S; primary/backup images from either copy. */
static int check_slot_images(int slot, struct strbuf *why, bool *fatal)
{
	int bad = -1;

	*fatal = false;
	for (unsigned int i = 0; i < NIMG; i++) {
		if (check_image(i, 0, slot))
			continue;
		if (img[i].kind == KIND_PB && check_image(i, 1, slot))
			continue;
		if (bad < 0) {
			bad = (int)i;
			*fatal = img[i].kind == KIND_PB;
			if (*fatal) {
				sb_puts(why, profile[i]);
				sb_puts(why, ": no valid copy");
			} else {
				sb_puts(why, img[i].part);
				sb_puts(why, ": ");
				sb_puts(why, img[i].mi.error);
			}
		}
	}
	return bad;
}

enum ab_step { AB_DONE, AB_RESET };

static enum ab_step ab_attempt(struct bc_outcome *o)
{
	char why[128];
	struct strbuf rs, ws;
	struct slots s;
	unsigned int v, r;
	int slot, e;
	bool first = false, fatal;

	sb_init(&rs, o->reason, sizeof(o->reason));
	strlcpy_(o->slot, "-", sizeof(o->slot));
	strlcpy_(o->release, "-", sizeof(o->release));
	if (!find_slots(&s)) {
		sb_puts(&rs, "no A/B slot entry in the GPT");
		finish(o, BC_BRICKED, -1);
		return AB_DONE;
	}
	slot = active_slot(&s);
	if (slot < 0 && s.entry[0] >= 0 &&
	    !(ab_get(s.entry[0]) & (AB_PRIO | AB_ACTIVE | AB_OK | AB_UNBOOTABLE))) {
		/* First boot: _a gets priority 3, active, retry 7. */
		v = ab_get(s.entry[0]) & ~(AB_RETRY | AB_OK | AB_UNBOOTABLE);
		ab_set(s.entry[0], v | AB_MAX_PRIO | AB_ACTIVE | AB_MAX_RETRY << AB_RETRY_SHIFT);
		ab_write();
		slot = 0;
		first = true;
	}
	if (slot < 0) {
		sb_puts(&rs, "no active slot");
		finish(o, BC_BRICKED, -1);
		return AB_DONE;
	}
	strlcpy_(o->slot, slot_names[slot], sizeof(o->slot));
	e = s.entry[slot];

	/* FindBootableSlot */
	v = ab_get(e);
	r = ab_retry(v);
	if (v & AB_UNBOOTABLE)
		return slot_unbootable(&s, slot, "unbootable", o) ? AB_RESET : AB_DONE;
	if (!(v & AB_OK)) {
		if (!r)
			return slot_unbootable(&s, slot, "retries exhausted", o) ? AB_RESET : AB_DONE;
		ab_set(e, (v & ~AB_RETRY) | (r - 1) << AB_RETRY_SHIFT);
		ab_write();
	}

	sb_init(&ws, why, sizeof(why));
	if (check_slot_images(slot, &ws, &fatal) >= 0) {
		if (!fatal)
			return slot_unbootable(&s, slot, why, o) ? AB_RESET : AB_DONE;
		sb_puts(&rs, why);
		finish(o, BC_BRICKED, (int)ab_retry(ab_get(e)));
		return AB_DONE;
	}
	mark_active(slot);

	if (!consistent(&rs, o->release)) {
		finish(o, BC_HANG, (int)ab_retry(ab_get(e)));
		return AB_DONE;
	}
	sb_puts(&rs, "slot ");
	sb_puts(&rs, slot_names[slot]);
	if (v & AB_OK) {
		sb_puts(&rs, ": successful");
	} else {
		sb_puts(&rs, first ? ": first boot, retry " : ": not yet successful, retry ");
		sb_putu(&rs, r);
		sb_puts(&rs, " -> ");
		sb_putu(&rs, r - 1);
	}
	finish(o, BC_BOOT, (int)ab_retry(ab_get(e)));
	return AB_DONE;
}

/* A "reset" starts the chain again, within this power-on, from a GPT read
 * back from the NOR. */
static void rule_ab(struct bc_outcome *o)
{
	for (int resets = 0;; resets++) {
		if (ab_attempt(o) == AB_DONE)
			return;
		o->fallback = true;
		if (!gpt_load(&gpt, par->nor_size, par->erase_size)) {
			strlcpy_(o->reason, "no valid GPT", sizeof(o->reason));
			strlcpy_(o->slot, "-", sizeof(o->slot));
			finish(o, BC_BRICKED, -1);
			return;
		}
		if (resets == AB_MAX_RESETS) {
			strlcpy_(o->reason, "too many resets", sizeof(o->reason));
			finish(o, BC_BRICKED, -1);
			return;
		}
	}
}

/* ---- entry ---- */

static const char *const rule_names[] = {
	[BC_RULE_NONE] = "none",
	[BC_RULE_SETS] = "sets",
	[BC_RULE_AB] = "ab-attributes",
	[BC_RULE_PER_IMAGE] = "per-image",
};

const char *bc_rule_name(enum bc_rule r)
{
	return rule_names[r];
}

bool bc_rule_parse(const char *s, enum bc_rule *r)
{
	for (size_t i = 0; i < ARRAY_SIZE(rule_names); i++) {
		if (!strcmp(s, rule_names[i])) {
			*r = (enum bc_rule)i;
			return true;
		}
	}
	return false;
}

void bootchain_run(const struct bc_params *p, struct bc_outcome *o)
{
	memset(o, 0, sizeof(*o));
	o->rule = p->rule;
	o->set = '-';
	strlcpy_(o->slot, "-", sizeof(o->slot));
	strlcpy_(o->release, "-", sizeof(o->release));
	o->result = BC_BOOT;
	par = p;
	if (p->rule == BC_RULE_NONE)
		return;
	if (!gpt_load(&gpt, p->nor_size, p->erase_size)) {
		strlcpy_(o->reason, "no valid GPT", sizeof(o->reason));
		finish(o, BC_BRICKED, -1);
		return;
	}
	if (!gpt.primary_ok || !gpt.backup_ok)
		bc_note(gpt.primary_ok ? "GPT: backup copy invalid" : "GPT: primary invalid, using the backup");
	if (p->rule == BC_RULE_SETS)
		rule_sets(o);
	else if (p->rule == BC_RULE_AB)
		rule_ab(o);
	else
		rule_per_image(o);
}
