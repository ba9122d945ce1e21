// SPDX-License-Identifier: MIT
/*
 * PSCI 1.0 and the SMCCC architecture calls, just what a single-CPU Linux
 * asks for.  Power-off and reset end QEMU through semihosting with exit
 * codes the harness checks (config.h).
 */
#include "config.h"
#include "semihost.h"
#include "smc.h"
#include "uart.h"

#define SMCCC_VERSION		0x80000000u
#define SMCCC_ARCH_FEATURES	0x80000001u

#define PSCI_VERSION		0x84000000u
#define PSCI_CPU_SUSPEND	0xc4000001u
#define PSCI_CPU_OFF		0x84000002u
#define PSCI_CPU_ON		0xc4000003u
#define PSCI_AFFINITY_INFO	0xc4000004u
#define PSCI_MIGRATE_INFO_TYPE	0x84000006u
#define PSCI_SYSTEM_OFF		0x84000008u
#define PSCI_SYSTEM_RESET	0x84000009u
#define PSCI_FEATURES		0x8400000au

#define PSCI_SUCCESS		0
#define PSCI_NOT_SUPPORTED	((uint64_t)-1)
#define PSCI_MIGRATE_NONE	2	/* no Trusted OS that needs migrating */

/* 32-bit ids may arrive with the SMC64 bit set for the 64-bit variants. */
static uint32_t psci_canon(uint32_t fid)
{
	return fid & ~SMCCC_64;
}

static bool psci_implemented(uint32_t fid)
{
	switch (psci_canon(fid)) {
	case PSCI_VERSION:
	case PSCI_FEATURES:
	case PSCI_SYSTEM_OFF:
	case PSCI_SYSTEM_RESET:
	case PSCI_MIGRATE_INFO_TYPE:
	case SMCCC_VERSION:
		return true;
	default:
		return false;
	}
}

bool psci_handle(uint32_t fid, struct smc_frame *f)
{
	switch (psci_canon(fid)) {
	case SMCCC_VERSION:
		f->x[0] = 0x10001;	/* 1.1: Linux then asks ARCH_FEATURES */
		return true;
	case SMCCC_ARCH_FEATURES:
		/* No Spectre workaround calls: "not required/not supported". */
		f->x[0] = psci_implemented((uint32_t)f->x[1]) ? 0 : SMCCC_NOT_SUPPORTED;
		return true;
	case PSCI_VERSION:
		f->x[0] = 0x10000;	/* 1.0 */
		return true;
	case PSCI_FEATURES:
		f->x[0] = psci_implemented((uint32_t)f->x[1]) ? PSCI_SUCCESS
							     : PSCI_NOT_SUPPORTED;
		return true;
	case PSCI_MIGRATE_INFO_TYPE:
		f->x[0] = PSCI_MIGRATE_NONE;
		return true;
	case PSCI_SYSTEM_OFF:
		tz_log(1, "PSCI SYSTEM_OFF: exit %d\n", EXIT_SYSTEM_OFF);
		sh_exit(EXIT_SYSTEM_OFF);
	case PSCI_SYSTEM_RESET:
		/* A real reset would re-run the boot chain; the harness
		 * restarts QEMU instead (the NOR image is a host file). */
		tz_log(1, "PSCI SYSTEM_RESET: exit %d\n", EXIT_SYSTEM_RESET);
		sh_exit(EXIT_SYSTEM_RESET);
	case PSCI_CPU_ON & ~SMCCC_64:
	case PSCI_CPU_SUSPEND & ~SMCCC_64:
	case PSCI_CPU_OFF:
	case PSCI_AFFINITY_INFO & ~SMCCC_64:
		f->x[0] = PSCI_NOT_SUPPORTED;	/* single CPU, no idle states */
		return true;
	default:
		return false;
	}
}
