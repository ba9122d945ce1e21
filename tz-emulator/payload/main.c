// SPDX-License-Identifier: MIT
/*
 * SCM test payload: issues the SCM calls the way Linux's SCM driver does
 * (SMC64, SiP owner, arginfo, one buffer holding {command; details; data})
 * and prints one line per result on UART0; tests/tz/test_payload.py reads
 * them and also inspects the host NOR file afterwards.
 *
 * Output lines:
 *   EL <n>
 *   SMC <name> x0=<hex> x1=<hex>
 *   ST <name> n=<storage call number> st=<status>
 *   INFO st=.. blocks=.. block_size=.. page_size=.. num_physical=.. type=.. product=..
 *   CHECK <name> <0|1>
 *   WRITE2 and=<0|1> overwrite=<0|1>
 *   DONE
 */
#include "types.h"

#define UART0_DR	0x09000000UL
#define UART0_FR	0x09000018UL

#define SCM_INFO_AVAIL_FAST	0xc2000601u
#define SCM_STORAGE_STD		0x42001a01u
#define SCM_WAITQ_STD		0x42002401u
/* QCOM_SCM_ARGS(4, RO, VAL, RW, VAL) */
#define STORAGE_ARGINFO		(4 | (1 << 4) | (0 << 6) | (2 << 8) | (0 << 10))

enum { ST_INIT, ST_READ, ST_WRITE, ST_ERASE, ST_GET_INFO, ST_DEINIT };

/* The driver's layout: command (40) + details (32) + data, contiguous. */
#define SHM		((volatile uint8_t *)0x40800000UL)
#define DETAILS		(SHM + 40)
#define DATA		(SHM + 72)

struct res {
	uint64_t x0, x1, x2, x3;
};

static uint64_t total_blocks = 8192, block_size = 4096;
static unsigned int calls;
static bool quiet;

/*
 * Mode word, zero unless the harness stores something there with
 * -device loader,addr=0x40700000,data=...,data-len=4 (RAM starts zeroed).
 */
#define MODE_WORD	((volatile uint32_t *)0x40700000UL)
#define MODE_STRESS	0x53545245u	/* "STRE": endless erase+write loop */

static void putc_(char c)
{
	while (mmio_read32(UART0_FR) & (1u << 5))
		;
	mmio_write32(UART0_DR, (uint8_t)c);
}

static void puts_(const char *s)
{
	while (*s)
		putc_(*s++);
}

static void putx(uint64_t v)
{
	char b[17];
	int n = 0;

	do {
		b[n++] = "0123456789abcdef"[v & 0xf];
		v >>= 4;
	} while (v);
	puts_("0x");
	while (n)
		putc_(b[--n]);
}

static void putd(uint64_t v)
{
	char b[21];
	int n = 0;

	do {
		b[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		putc_(b[--n]);
}

static struct res smc(uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3,
		      uint64_t a4, uint64_t a5)
{
	register uint64_t x0 __asm__("x0") = a0;
	register uint64_t x1 __asm__("x1") = a1;
	register uint64_t x2 __asm__("x2") = a2;
	register uint64_t x3 __asm__("x3") = a3;
	register uint64_t x4 __asm__("x4") = a4;
	register uint64_t x5 __asm__("x5") = a5;

	__asm__ volatile("smc #0"
			 : "+r"(x0), "+r"(x1), "+r"(x2), "+r"(x3), "+r"(x4), "+r"(x5)
			 :
			 : "x6", "x7", "x8", "x9", "x10", "x11", "x12", "x13",
			   "x14", "x15", "x16", "x17", "memory");
	return (struct res){ x0, x1, x2, x3 };
}

static void report_smc(const char *name, struct res r)
{
	puts_("SMC ");
	puts_(name);
	puts_(" x0=");
	putx(r.x0);
	puts_(" x1=");
	putx(r.x1);
	puts_("\n");
}

/* One storage call with full control over the fields. */
static uint64_t storage_raw(const char *name, uint64_t type, uint64_t cmd,
			    uint64_t lba, uint64_t length, uint64_t data_size,
			    uint64_t cmd_len)
{
	struct res r;

	for (int i = 0; i < 72; i++)
		SHM[i] = 0;
	put_le64(SHM + 0, type);
	put_le64(SHM + 32, cmd);
	put_le64(DETAILS + 0, lba);
	put_le64(DETAILS + 8, length);
	put_le64(DETAILS + 16, (uintptr_t)DATA);
	put_le64(DETAILS + 24, data_size);
	r = smc(SCM_STORAGE_STD, STORAGE_ARGINFO, (uintptr_t)SHM, cmd_len,
		(uintptr_t)DETAILS, 32);
	calls++;
	if (quiet)
		return r.x0 ? (uint64_t)-1 : r.x1;
	puts_("ST ");
	puts_(name);
	puts_(" n=");
	putd(calls);
	puts_(" x0=");
	putx(r.x0);
	puts_(" st=");
	putd(r.x1);
	puts_("\n");
	return r.x0 ? (uint64_t)-1 : r.x1;
}

static uint64_t storage(const char *name, uint64_t cmd, uint64_t lba, uint64_t length)
{
	return storage_raw(name, 1, cmd, lba, length, length, 40);
}

/* Test patterns, computed rather than stored. */
static uint8_t pat_a(uint64_t i) { return (uint8_t)(i * 7 + 1); }
static uint8_t pat_b(uint64_t i) { return (uint8_t)(0xf0 ^ i); }
static uint8_t pat_c(uint64_t i) { return (uint8_t)(i >> 3) ^ 0x33; }
static uint8_t pat_d(uint64_t i) { return (uint8_t)(i ^ 0x5a); }

static void fill(uint8_t (*pat)(uint64_t), uint64_t len)
{
	for (uint64_t i = 0; i < len; i++)
		DATA[i] = pat(i);
}

static void check(const char *name, bool ok)
{
	puts_("CHECK ");
	puts_(name);
	puts_(ok ? " 1\n" : " 0\n");
}

static bool data_is(uint8_t (*pat)(uint64_t), uint64_t len)
{
	for (uint64_t i = 0; i < len; i++)
		if (DATA[i] != pat(i))
			return false;
	return true;
}

static uint8_t pat_ff(uint64_t i) { (void)i; return 0xff; }
static uint8_t pat_ab(uint64_t i) { return pat_a(i) & pat_b(i); }
static uint8_t pat_0f(uint64_t i) { (void)i; return 0x0f; }

static void get_info(void)
{
	uint64_t st = storage_raw("get_info", 1, ST_GET_INFO, 0, 105, 105, 40);
	char type[6], product[33];

	puts_("INFO st=");
	putd(st);
	if (st == 0) {
		total_blocks = get_le64(DATA);
		block_size = get_le64(DATA + 8) & 0xffffffff;
		memcpy(type, (const void *)(DATA + 68), 5);
		type[5] = 0;
		memcpy(product, (const void *)(DATA + 73), 32);
		product[32] = 0;
		puts_(" blocks=");
		putd(total_blocks);
		puts_(" block_size=");
		putd(block_size);
		puts_(" page_size=");
		putd(get_le64(DATA + 12) & 0xffffffff);
		puts_(" num_physical=");
		putd(get_le64(DATA + 16) & 0xffffffff);
		puts_(" type=");
		puts_(type);
		puts_(" product=");
		for (char *p = product; *p; p++)
			putc_(*p == ' ' ? '_' : *p);
	}
	puts_("\n");
}

/*
 * Until QEMU is killed: erase and program blocks 1000..1015 in turn, each
 * with a pattern stamped with the iteration, and print "STRESS <i>" once
 * the WRITE has been acknowledged.  The test kills QEMU (a power cut) and
 * checks that every acknowledged write is in the image.
 */
static void stress(void)
{
	quiet = true;
	for (uint64_t i = 0;; i++) {
		uint64_t lba = 1000 + i % 16;

		if (storage("stress_erase", ST_ERASE, lba, block_size))
			break;
		for (uint64_t k = 0; k < block_size; k++)
			DATA[k] = (uint8_t)(i * 31 + k);
		put_le64(DATA, i);
		if (storage("stress_write", ST_WRITE, lba, block_size))
			break;
		puts_("STRESS ");
		putd(i);
		puts_("\n");
	}
	puts_("STRESS failed\n");
}

void payload_main(void)
{
	uint64_t el, bs, last;

	if (*MODE_WORD == MODE_STRESS) {
		stress();
		return;
	}

	__asm__ volatile("mrs %0, CurrentEL" : "=r"(el));
	puts_("EL ");
	putd(el >> 2);
	puts_("\n");

	report_smc("smccc_version", smc(0x80000000, 0, 0, 0, 0, 0));
	report_smc("psci_version", smc(0x84000000, 0, 0, 0, 0, 0));
	report_smc("psci_features_off", smc(0x8400000a, 0x84000008, 0, 0, 0, 0));
	report_smc("psci_cpu_on", smc(0xc4000003, 1, 0x40200000, 0, 0, 0));
	report_smc("avail_info", smc(SCM_INFO_AVAIL_FAST, 1, 0x02000601, 0, 0, 0));
	report_smc("avail_storage", smc(SCM_INFO_AVAIL_FAST, 1, 0x02001a01, 0, 0, 0));
	report_smc("avail_storage_std", smc(0x42000601, 1, 0x02001a01, 0, 0, 0));
	report_smc("avail_waitq", smc(SCM_INFO_AVAIL_FAST, 1, 0x02002401, 0, 0, 0));
	report_smc("waitq", smc(SCM_WAITQ_STD, 0, 0, 0, 0, 0));

	storage("init", ST_INIT, 0, 0);
	get_info();
	storage_raw("info_small_buf", 1, ST_GET_INFO, 0, 104, 104, 40);
	bs = block_size;
	last = total_blocks - 1;

	/* Erase, program, read back. */
	storage("erase1", ST_ERASE, 1, bs);
	storage("read1", ST_READ, 1, bs);
	check("erased_ff", data_is(pat_ff, bs));
	fill(pat_a, bs);
	storage("write_a", ST_WRITE, 1, bs);
	for (uint64_t i = 0; i < bs; i++)
		DATA[i] = 0;
	storage("read_a", ST_READ, 1, bs);
	check("read_a", data_is(pat_a, bs));

	/* Program again without erasing: NOR ANDs, an erase-first firmware
	 * overwrites. */
	fill(pat_b, bs);
	storage("write_b", ST_WRITE, 1, bs);
	storage("read_b", ST_READ, 1, bs);
	puts_("WRITE2 and=");
	puts_(data_is(pat_ab, bs) ? "1" : "0");
	puts_(" overwrite=");
	puts_(data_is(pat_b, bs) ? "1\n" : "0\n");

	/* Several blocks in one call. */
	storage("erase_multi", ST_ERASE, 2, 3 * bs);
	fill(pat_c, 3 * bs);
	storage("write_multi", ST_WRITE, 2, 3 * bs);
	for (uint64_t i = 0; i < 3 * bs; i++)
		DATA[i] = 0;
	storage("read_multi", ST_READ, 2, 3 * bs);
	check("read_multi", data_is(pat_c, 3 * bs));

	/* Bounds and argument checks: all INVALID_PARAMETER (2) except the
	 * unknown command (NOT_SUPPORTED, 5). */
	storage("read_oob", ST_READ, total_blocks, bs);
	storage("read_span", ST_READ, last, 2 * bs);
	storage("read_huge_lba", ST_READ, (uint64_t)1 << 63, bs);
	storage("read_unaligned_len", ST_READ, 0, 100);
	storage("read_zero_len", ST_READ, 0, 0);
	storage_raw("read_small_buf", 1, ST_READ, 0, bs, bs - 1, 40);
	storage("write_oob", ST_WRITE, total_blocks, bs);
	storage("erase_span", ST_ERASE, last, 2 * bs);
	storage("erase_unaligned_len", ST_ERASE, 0, bs / 2);
	storage("unknown_cmd", 9, 0, bs);
	storage_raw("bad_type", 0, ST_READ, 0, bs, bs, 40);
	storage_raw("bad_cmd_len", 1, ST_READ, 0, bs, bs, 41);

	/* Leave marks for the host-side checks (see test_payload.py):
	 * block 100 pattern D after erase, blocks 200-201 erased, block 300
	 * programmed with 0x0f without erase, the last block pattern D. */
	storage("erase_100", ST_ERASE, 100, bs);
	fill(pat_d, bs);
	storage("write_100", ST_WRITE, 100, bs);
	storage("erase_200", ST_ERASE, 200, 2 * bs);
	fill(pat_0f, bs);
	storage("write_300", ST_WRITE, 300, bs);
	storage("erase_last", ST_ERASE, last, bs);
	fill(pat_d, bs);
	storage("write_last", ST_WRITE, last, bs);
	storage("read_last", ST_READ, last, bs);
	check("read_last", data_is(pat_d, bs));

	storage("deinit", ST_DEINIT, 0, 0);
	puts_("DONE\n");
	smc(0x84000008, 0, 0, 0, 0, 0);	/* PSCI SYSTEM_OFF */
}
