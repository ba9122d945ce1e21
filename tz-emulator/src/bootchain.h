/* SPDX-License-Identifier: MIT */
#ifndef BOOTCHAIN_H
#define BOOTCHAIN_H

#include "mbn.h"
#include "types.h"

/* docs/boot-chain.md "The three rules"; NONE skips the chain. */
enum bc_rule {
	BC_RULE_NONE,
	BC_RULE_SETS,
	BC_RULE_AB,
	BC_RULE_PER_IMAGE,
};

enum bc_result {
	BC_BOOT,
	BC_BRICKED,
	BC_HANG,
};

struct bc_params {
	enum bc_rule rule;
	uint64_t nor_size;
	uint32_t erase_size;	/* NOR erase block, for the chain's writes */
};

/* What the chain decided, for the exit code and for /chosen. */
struct bc_outcome {
	enum bc_rule rule;
	enum bc_result result;
	char set;		/* 'A' or 'B' under sets, '-' otherwise */
	char slot[3];		/* "_a" or "_b" under ab-attributes, "-" otherwise */
	bool fallback;		/* set A (or the first slot) failed this power-on */
	char release[MBN_STR_MAX];	/* "-" when unknown */
	char reason[160];
};

/* Decide what boots, print the boot-image:/boot: lines through
 * bc_emit(), and write what the rule writes (recoveryinfo, GPT). */
void bootchain_run(const struct bc_params *p, struct bc_outcome *o);
const char *bc_rule_name(enum bc_rule r);
bool bc_rule_parse(const char *s, enum bc_rule *r);

/* Provided by the firmware and by the host build. */
void bc_emit(const char *line);		/* one console line, with '\n' */
void bc_note(const char *msg);		/* a diagnostic (firmware log), no '\n' */

#endif
