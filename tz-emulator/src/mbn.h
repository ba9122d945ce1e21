/* SPDX-License-Identifier: MIT */
#ifndef MBN_H
#define MBN_H

#include "types.h"

#define MBN_STR_MAX	64	/* 63 characters and the NUL */

/* What the chain learns about the image in one partition. */
struct mbn_info {
	bool valid;
	char error[40];			/* why not valid: "digest 3 mismatch" */
	char release[MBN_STR_MAX];	/* QCOM_SCM_RELEASE_STRING= value */
	char version[MBN_STR_MAX];	/* QC_IMAGE_VERSION_STRING= value, "" if none */
	uint32_t sw_id;
	uint32_t arb;			/* anti_rollback_version */
};

/* Check the image held by the partition [off, off + size) of the NOR
 * against docs/boot-chain.md "What makes an image valid". */
void mbn_check(uint64_t off, uint64_t size, struct mbn_info *mi);

#endif
