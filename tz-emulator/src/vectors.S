/* SPDX-License-Identifier: MIT */
/* EL3 exception vectors and the SMC entry/exit path. */
	.text
/*
 * Vector table: 16 entries of 0x80 bytes, 2 KiB aligned.  Only the
 * "lower EL, AArch64, synchronous" entry (+0x400) is expected: that is
 * where an SMC from the normal world arrives.  Everything else is a bug
 * in us or a stray exception, and ends the emulation with EXIT_PANIC.
 */
	.macro	vector_panic idx
	.balign	0x80
	mov	x0, #\idx
	b	el3_panic_entry
	.endm

	.balign	0x800
	.global	el3_vectors
el3_vectors:
	vector_panic 0		/* current EL, SP_EL0: sync */
	vector_panic 1		/* irq */
	vector_panic 2		/* fiq */
	vector_panic 3		/* serror */
	vector_panic 4		/* current EL, SP_ELx: sync */
	vector_panic 5
	vector_panic 6
	vector_panic 7
	.balign	0x80		/* lower EL, AArch64: sync (SMC) */
	b	smc_entry
	vector_panic 9
	vector_panic 10
	vector_panic 11
	vector_panic 12		/* lower EL, AArch32 */
	vector_panic 13
	vector_panic 14
	vector_panic 15

el3_panic_entry:
	ldr	x1, =__stack_top	/* the stack may be what broke */
	mov	sp, x1
	bl	el3_panic		/* does not return */

/*
 * Save the caller's x0..x30 in a frame on the EL3 stack, let C handle the
 * call (it rewrites the frame's x0..x3 with the results), restore and
 * return.  Restoring every register keeps the SMCCC promise that x4..x30
 * are preserved.
 */
smc_entry:
	sub	sp, sp, #(32 * 8)
	stp	x0, x1, [sp, #(0 * 8)]
	stp	x2, x3, [sp, #(2 * 8)]
	stp	x4, x5, [sp, #(4 * 8)]
	stp	x6, x7, [sp, #(6 * 8)]
	stp	x8, x9, [sp, #(8 * 8)]
	stp	x10, x11, [sp, #(10 * 8)]
	stp	x12, x13, [sp, #(12 * 8)]
	stp	x14, x15, [sp, #(14 * 8)]
	stp	x16, x17, [sp, #(16 * 8)]
	stp	x18, x19, [sp, #(18 * 8)]
	stp	x20, x21, [sp, #(20 * 8)]
	stp	x22, x23, [sp, #(22 * 8)]
	stp	x24, x25, [sp, #(24 * 8)]
	stp	x26, x27, [sp, #(26 * 8)]
	stp	x28, x29, [sp, #(28 * 8)]
	str	x30, [sp, #(30 * 8)]
	mov	x0, sp
	bl	smc_handler
	ldp	x0, x1, [sp, #(0 * 8)]
	ldp	x2, x3, [sp, #(2 * 8)]
	ldp	x4, x5, [sp, #(4 * 8)]
	ldp	x6, x7, [sp, #(6 * 8)]
	ldp	x8, x9, [sp, #(8 * 8)]
	ldp	x10, x11, [sp, #(10 * 8)]
	ldp	x12, x13, [sp, #(12 * 8)]
	ldp	x14, x15, [sp, #(14 * 8)]
	ldp	x16, x17, [sp, #(16 * 8)]
	ldp	x18, x19, [sp, #(18 * 8)]
	ldp	x20, x21, [sp, #(20 * 8)]
	ldp	x22, x23, [sp, #(22 * 8)]
	ldp	x24, x25, [sp, #(24 * 8)]
	ldp	x26, x27, [sp, #(26 * 8)]
	ldp	x28, x29, [sp, #(28 * 8)]
	ldr	x30, [sp, #(30 * 8)]
	add	sp, sp, #(32 * 8)
	eret
