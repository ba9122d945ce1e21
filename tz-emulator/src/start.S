/* SPDX-License-Identifier: MIT */
/*
 * Reset entry and EL3 exception vectors.
 *
 * QEMU starts every CPU at EL3, address 0 (secure flash), MMU and caches
 * off.  We only run CPU 0: Linux gets a single CPU and CPU_ON answers
 * NOT_SUPPORTED, so the others sleep forever.
 */
	.section .text.boot, "ax"
	.global _start
_start:
	mrs	x0, mpidr_el1
	and	x0, x0, #0xffffff		/* Aff2..Aff0 */
	cbnz	x0, park

	/* Vectors first, so a fault during set-up is reported. */
	adr	x0, el3_vectors
	msr	vbar_el3, x0
	isb

	ldr	x0, =__stack_top
	mov	sp, x0

	/* .data is linked in secure RAM but stored in flash after .rodata. */
	ldr	x0, =__data_start
	ldr	x1, =__data_end
	ldr	x2, =__data_load
1:	cmp	x0, x1
	b.hs	2f
	ldrb	w3, [x2], #1
	strb	w3, [x0], #1
	b	1b
2:	ldr	x0, =__bss_start
	ldr	x1, =__bss_end
3:	cmp	x0, x1
	b.hs	4f
	strb	wzr, [x0], #1
	b	3b
4:
	/* No traps of FP/SIMD to EL3: Linux uses them freely. */
	msr	cptr_el3, xzr
	isb
	bl	tz_main			/* does not return */
park:
	wfe
	b	park

/*
 * enter_normal_world(entry, dtb, spsr, scr): the Linux arm64 boot protocol
 * wants x0 = DTB and x1..x3 = 0.
 */
	.text
	.global enter_normal_world
enter_normal_world:
	msr	elr_el3, x0
	msr	spsr_el3, x2
	msr	scr_el3, x3
	isb
	mov	x0, x1
	mov	x1, xzr
	mov	x2, xzr
	mov	x3, xzr
	eret
