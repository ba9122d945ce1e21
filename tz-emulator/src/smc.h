/* SPDX-License-Identifier: MIT */
#ifndef SMC_H
#define SMC_H

#include "types.h"

/* The caller's registers as saved by smc_entry (start.S). */
struct smc_frame {
	uint64_t x[32];
};

/* SMC Calling Convention function identifier fields. */
#define SMCCC_FAST		(1u << 31)
#define SMCCC_64		(1u << 30)
#define SMCCC_OWNER(fid)	(((fid) >> 24) & 0x3f)
#define SMCCC_OWNER_ARCH	0
#define SMCCC_OWNER_SIP		2
#define SMCCC_OWNER_STANDARD	4

#define SMCCC_NOT_SUPPORTED	((uint64_t)-1)

/* Each returns true if it recognised the function id. */
bool psci_handle(uint32_t fid, struct smc_frame *f);
bool scm_handle(uint32_t fid, struct smc_frame *f);

#endif
