// SPDX-License-Identifier: MIT
/*
 * Polled PL011 output.  QEMU's PL011 transmits without any set-up, and we
 * must not reprogram UART0 behind Linux's back, so there is no init.
 */
#include <stdarg.h>
#include "board.h"
#include "uart.h"

#define UART_DR		0x00
#define UART_FR		0x18
#define UART_FR_TXFF	(1u << 5)

static uintptr_t uart_base = UART0_BASE;
unsigned int log_level = 1;

void uart_select(uintptr_t base)
{
	uart_base = base;
}

void uart_putc(char c)
{
	if (c == '\n')
		uart_putc('\r');
	while (mmio_read32(uart_base + UART_FR) & UART_FR_TXFF)
		;
	mmio_write32(uart_base + UART_DR, (uint8_t)c);
}

void uart_puts(const char *s)
{
	while (*s)
		uart_putc(*s++);
}

void console_puts(const char *s)
{
	uintptr_t log_base = uart_base;

	uart_base = UART0_BASE;
	uart_puts(s);
	uart_base = log_base;
	if (log_base != UART0_BASE)
		uart_puts(s);
}

static void put_num(uint64_t v, unsigned int base, int width, bool neg)
{
	char buf[24];
	int n = 0;

	do {
		unsigned int d = v % base;

		buf[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
		v /= base;
	} while (v);
	if (neg)
		buf[n++] = '-';
	while (n < width)
		buf[n++] = '0';
	while (n)
		uart_putc(buf[--n]);
}

void log_printf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	for (; *fmt; fmt++) {
		int width = 0, longs = 0;

		if (*fmt != '%') {
			uart_putc(*fmt);
			continue;
		}
		fmt++;
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (*fmt++ - '0');
		while (*fmt == 'l')
			longs++, fmt++;
		switch (*fmt) {
		case 's':
			uart_puts(va_arg(ap, const char *));
			break;
		case 'c':
			uart_putc((char)va_arg(ap, int));
			break;
		case 'd': {
			int64_t v = longs ? va_arg(ap, int64_t) : va_arg(ap, int);

			put_num(v < 0 ? -(uint64_t)v : (uint64_t)v, 10, width, v < 0);
			break;
		}
		case 'u':
			put_num(longs ? va_arg(ap, uint64_t) : va_arg(ap, unsigned int),
				10, width, false);
			break;
		case 'x':
			put_num(longs ? va_arg(ap, uint64_t) : va_arg(ap, unsigned int),
				16, width, false);
			break;
		case 'p':
			uart_puts("0x");
			put_num((uintptr_t)va_arg(ap, void *), 16, width, false);
			break;
		case '%':
			uart_putc('%');
			break;
		default:
			uart_putc('?');
			break;
		}
	}
	va_end(ap);
}
