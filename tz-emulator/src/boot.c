// SPDX-License-Identifier: MIT
/*
 * The firmware's side of the boot chain (bootchain.c decides): its lines
 * on the console, the exit code when Linux is not entered, and /chosen
 * of the DTB that Linux gets (docs/boot-chain.md, "What the chain tells
 * the world").
 */
#include "board.h"
#include "boot.h"
#include "bootchain.h"
#include "config.h"
#include "fdt.h"
#include "semihost.h"
#include "uart.h"

/* run-qemu puts the initramfs 2 MiB after the DTB: the DTB may grow to
 * that much. */
#define DTB_ROOM	(DEFAULT_INITRD_ADDR - DEFAULT_DTB_ADDR)

#define read_sysreg(r) ({ uint64_t v; __asm__ volatile("mrs %0, " #r : "=r"(v)); v; })

void bc_emit(const char *line)
{
	console_puts(line);
}

void bc_note(const char *msg)
{
	tz_log(1, "boot chain: %s\n", msg);
}

static void publish(const struct bc_outcome *o)
{
	uint8_t *fdt = (uint8_t *)cfg.dtb_addr;
	char slot_arg[32];
	int err;

	err = fdt_chosen_setprop(fdt, DTB_ROOM, "scm-emu,boot-rule", bc_rule_name(o->rule));
	if (o->rule == BC_RULE_SETS) {
		char set[2] = { o->set, '\0' };

		err |= fdt_chosen_setprop(fdt, DTB_ROOM, "scm-emu,boot-set", set);
	}
	if (o->rule == BC_RULE_AB) {
		err |= fdt_chosen_setprop(fdt, DTB_ROOM, "scm-emu,boot-slot", o->slot);
		/* What ABL appends to the kernel command line. */
		strlcpy_(slot_arg, " androidboot.slot_suffix=", sizeof(slot_arg));
		strlcpy_(slot_arg + strlen(slot_arg), o->slot, sizeof(slot_arg) - strlen(slot_arg));
		err |= fdt_chosen_append(fdt, DTB_ROOM, "bootargs", slot_arg);
	}
	err |= fdt_chosen_setprop(fdt, DTB_ROOM, "scm-emu,boot-reason", o->reason);
	err |= fdt_chosen_setprop(fdt, DTB_ROOM, "scm-emu,fallback", o->fallback ? "1" : "0");
	if (err)
		log_printf("[tz] boot chain: no usable DTB at 0x%lx, /chosen not updated\n",
			   cfg.dtb_addr);
}

void boot_chain(void)
{
	struct bc_params p = {
		.rule = cfg.boot_rule,
		.nor_size = cfg.total_blocks * cfg.block_size,
		.erase_size = cfg.block_size,
	};
	struct bc_outcome o;
	uint64_t t0 = read_sysreg(cntpct_el0), hz = read_sysreg(cntfrq_el0);

	if (cfg.boot_rule == BC_RULE_NONE)
		return;
	bootchain_run(&p, &o);
	tz_log(1, "boot chain: rule %s took %lu ms\n", bc_rule_name(o.rule),
	       hz ? (read_sysreg(cntpct_el0) - t0) * 1000 / hz : 0);
	if (o.result == BC_BRICKED)
		sh_exit(EXIT_BRICKED);
	if (o.result == BC_HANG)
		sh_exit(EXIT_HUNG);
	if (cfg.boot_only)
		sh_exit(EXIT_BOOT_ONLY);
	publish(&o);
}
