/* SPDX-License-Identifier: MIT */
/* Bare-metal test payload: entered like a Linux Image (x0 = DTB), at
 * non-secure EL1 (or EL2), MMU off. */
	.section .text.boot, "ax"
	.global _start
_start:
	ldr	x1, =__stack_top
	mov	sp, x1
	ldr	x1, =__bss_start
	ldr	x2, =__bss_end
1:	cmp	x1, x2
	b.hs	2f
	strb	wzr, [x1], #1
	b	1b
2:	bl	payload_main
3:	wfe
	b	3b
