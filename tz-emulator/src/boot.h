/* SPDX-License-Identifier: MIT */
#ifndef BOOT_H
#define BOOT_H

/* Run the boot chain (cfg.boot_rule) on the opened NOR; returns only if
 * Linux is to be entered, with /chosen updated.  Otherwise exits with
 * EXIT_BRICKED, EXIT_HUNG or EXIT_BOOT_ONLY. */
void boot_chain(void);

#endif
