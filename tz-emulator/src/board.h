/* SPDX-License-Identifier: MIT */
/*
 * Memory map of QEMU's "virt" machine with secure=on, as used by the
 * emulator.  Everything here is a fact of QEMU 7.2 or a choice of ours
 * that the run script and docs/emulated-board.md repeat.
 */
#ifndef BOARD_H
#define BOARD_H

/* Secure-only flash: QEMU loads -bios here and the CPU resets to 0. */
#define FLASH_BASE		0x00000000UL
/* Secure-only RAM: our .data, .bss, stack and scratch buffer. */
#define SEC_RAM_BASE		0x0e000000UL
#define SEC_RAM_SIZE		0x01000000UL

/* GICv2 (virt's default gic-version=2). */
#define GICD_BASE		0x08000000UL
#define GICC_BASE		0x08010000UL

/* PL011: UART0 is the non-secure console, UART1 is secure-only. */
#define UART0_BASE		0x09000000UL
#define UART1_BASE		0x09040000UL

/* Normal-world RAM; the harness loads the kernel, DTB and initramfs here. */
#define NS_RAM_BASE		0x40000000UL
#define DEFAULT_KERNEL_ADDR	0x40200000UL
#define DEFAULT_DTB_ADDR	0x48000000UL
#define DEFAULT_INITRD_ADDR	0x48200000UL /* used by run-qemu only */

#endif
