/* SPDX-License-Identifier: MIT */
#ifndef UART_H
#define UART_H

#include "types.h"

void uart_select(uintptr_t base);
void uart_putc(char c);
void uart_puts(const char *s);
/* Console text: UART0 always, and the firmware log UART too when the
 * log went to the secure one (log_uart=secure). */
void console_puts(const char *s);
/* printf subset: %s %c %d %u %x %p, with l/ll and a zero-padded width. */
void log_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Firmware log: "[tz] " prefix so it can be told apart from Linux. */
extern unsigned int log_level;
#define tz_log(lvl, fmt, ...) \
	do { if (log_level >= (lvl)) log_printf("[tz] " fmt, ##__VA_ARGS__); } while (0)

#endif
