// SPDX-License-Identifier: MIT
/*
 * Cold boot at EL3: read the configuration, open the NOR image, run the
 * boot chain (which may end the run: bricked, hung, boot_only), hand the
 * GIC to the normal world and enter the kernel that the harness has
 * already loaded (-device loader) with x0 = DTB.
 */
#include "board.h"
#include "boot.h"
#include "config.h"
#include "optee.h"
#include "semihost.h"
#include "smc.h"
#include "storage.h"
#include "uart.h"

#define GICD_CTLR		0x000
#define GICD_TYPER		0x004
#define GICD_IGROUPR(n)		(0x080 + 4 * (n))
#define GICC_CTLR		0x000
#define GICC_PMR		0x004

#define SCR_NS			(1u << 0)
#define SCR_RES1		(3u << 4)
#define SCR_HCE			(1u << 8)
#define SCR_RW			(1u << 10)	/* lower ELs are AArch64 */

#define SPSR_DAIF		(0xfu << 6)
#define SPSR_EL1H		0x5
#define SPSR_EL2H		0x9

#define HCR_RW			(1ul << 31)

void enter_normal_world(uint64_t entry, uint64_t dtb, uint64_t spsr,
			uint64_t scr) __attribute__((noreturn));
void tz_main(void) __attribute__((noreturn));
void smc_handler(struct smc_frame *f);
void el3_panic(uint64_t vector) __attribute__((noreturn));

#define read_sysreg(r) ({ uint64_t v; __asm__ volatile("mrs %0, " #r : "=r"(v)); v; })
#define write_sysreg(r, v) __asm__ volatile("msr " #r ", %0" : : "r"((uint64_t)(v)))

/*
 * Put every interrupt in Group 1 (non-secure) and enable both groups, so
 * Linux, which only sees the non-secure GIC view, can use all of them.
 * GICD_IGROUPR0 is banked per CPU; we only run CPU 0.
 */
static void gic_init(void)
{
	uint32_t lines = ((mmio_read32(GICD_BASE + GICD_TYPER) & 0x1f) + 1) * 32;

	for (uint32_t i = 0; i < lines / 32; i++)
		mmio_write32(GICD_BASE + GICD_IGROUPR(i), 0xffffffff);
	mmio_write32(GICD_BASE + GICD_CTLR, 3);
	/* Only the secure side can open the priority mask fully. */
	mmio_write32(GICC_BASE + GICC_PMR, 0xff);
	mmio_write32(GICC_BASE + GICC_CTLR, 3);
}

static bool have_el2(void)
{
	return ((read_sysreg(id_aa64pfr0_el1) >> 8) & 0xf) != 0;
}

void tz_main(void)
{
	uint64_t scr = SCR_RES1 | SCR_NS | SCR_RW, spsr;

	if (!config_load())
		sh_exit(EXIT_CONFIG_ERROR);
	log_level = cfg.log_level;
	if (cfg.log_secure_uart)
		uart_select(UART1_BASE);
	tz_log(1, "tz-emulator: NOR %s, %lu x %u bytes, page %u, write %s%s\n",
	       cfg.nor_path, cfg.total_blocks, cfg.block_size, cfg.page_size,
	       cfg.write_mode == WRITE_AND ? "AND" : "overwrite",
	       cfg.read_only ? ", read-only" : "");
	if (!cfg.block_size || !cfg.total_blocks || !store_open())
		sh_exit(EXIT_CONFIG_ERROR);
	boot_chain();
	gic_init();

	if (cfg.el2) {
		if (!have_el2()) {
			log_printf("[tz] el2=1 needs -machine virt,virtualization=on\n");
			sh_exit(EXIT_CONFIG_ERROR);
		}
		scr |= SCR_HCE;
		spsr = SPSR_DAIF | SPSR_EL2H;
	} else {
		if (have_el2()) {
			/* EL2 exists but nobody runs there: make EL1 AArch64
			 * and let it use the physical timer and counter. */
			write_sysreg(hcr_el2, HCR_RW);
			write_sysreg(cnthctl_el2, 3);
			write_sysreg(cntvoff_el2, 0);
			write_sysreg(vpidr_el2, read_sysreg(midr_el1));
			write_sysreg(vmpidr_el2, read_sysreg(mpidr_el1));
		}
		spsr = SPSR_DAIF | SPSR_EL1H;
	}
	tz_log(1, "entering kernel at 0x%lx (EL%d), dtb 0x%lx\n", cfg.kernel_addr,
	       cfg.el2 ? 2 : 1, cfg.dtb_addr);
	enter_normal_world(cfg.kernel_addr, cfg.dtb_addr, spsr, scr);
}

#define ESR_EC(esr)	(((esr) >> 26) & 0x3f)
#define EC_SMC64	0x17

void smc_handler(struct smc_frame *f)
{
	uint64_t esr = read_sysreg(esr_el3);
	uint32_t fid = (uint32_t)f->x[0];

	if (ESR_EC(esr) != EC_SMC64)
		el3_panic(8);
	if (SMCCC_OWNER(fid) == SMCCC_OWNER_SIP) {
		if (scm_handle(fid, f))
			return;
	} else if (optee_handle(fid, f)) {	/* Trusted OS owners 50..63 */
		return;
	} else if (psci_handle(fid, f)) {
		return;
	}
	tz_log(2, "unknown SMC 0x%x\n", fid);
	f->x[0] = SMCCC_NOT_SUPPORTED;
}

void el3_panic(uint64_t vector)
{
	log_printf("[tz] PANIC: vector %lu ESR_EL3=0x%lx ELR_EL3=0x%lx FAR_EL3=0x%lx\n",
		   vector, read_sysreg(esr_el3), read_sysreg(elr_el3), read_sysreg(far_el3));
	sh_exit(EXIT_PANIC);
}
