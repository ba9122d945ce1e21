/* SPDX-License-Identifier: MIT */
#ifndef CONFIG_H
#define CONFIG_H

#include "bootchain.h"
#include "types.h"

enum write_mode {
	WRITE_AND,		/* real NOR: programming only clears bits */
	WRITE_OVERWRITE,	/* firmware that erases before it writes */
};

/* Exit codes seen by the harness (QEMU's own exit status). */
#define EXIT_SYSTEM_OFF		80
#define EXIT_SYSTEM_RESET	81
#define EXIT_PANIC		82	/* unexpected exception at EL3 */
#define EXIT_CONFIG_ERROR	83	/* bad config or NOR image */
#define EXIT_POWER_CUT		84	/* power_cut_nth knob fired */
#define EXIT_BRICKED		85	/* boot chain: nothing bootable */
#define EXIT_HUNG		86	/* boot chain: mixed releases, watchdog reset */
#define EXIT_BOOT_ONLY		87	/* boot_only=1: decided, Linux not entered */

struct tz_config {
	char nor_path[256];
	uint64_t total_blocks;
	uint32_t block_size;
	uint32_t page_size;
	uint32_t num_physical;
	uint64_t manufacturer_id;
	uint64_t serial_num;
	char fw_version[32];
	char memory_type[5];
	char product_name[32];
	enum write_mode write_mode;
	bool read_only;		/* WRITE/ERASE answer READ_ONLY */
	uint64_t fail_nth;	/* 1-based storage call to fail; 0 = never */
	uint64_t fail_count;	/* how many calls fail from fail_nth on */
	bool fail_writes;	/* fail_nth counts only WRITE and ERASE calls */
	uint64_t erase_us;	/* device time of one block erase (0: instant) */
	uint64_t program_us;	/* device time of one page program (0: instant) */
	uint64_t fail_status;
	uint64_t power_cut_nth;	/* storage call during which power is cut */
	uint64_t power_cut_bytes; /* bytes of that WRITE/ERASE that land first */
	bool el2;		/* enter the kernel at EL2 instead of EL1 */
	bool el2_getinfo_ok;	/* at EL2, answer GET_INFO anyway */
	uint64_t kernel_addr;
	uint64_t dtb_addr;
	enum bc_rule boot_rule;	/* docs/boot-chain.md */
	bool boot_only;		/* stop after the chain's decision */
	unsigned int log_level;
	bool log_secure_uart;
};

extern struct tz_config cfg;

/* Fill cfg with defaults, then apply the semihosting command line and
 * any config file it names.  Returns false on a malformed setting. */
bool config_load(void);

#endif
