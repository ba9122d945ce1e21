// SPDX-License-Identifier: MIT
/*
 * Qualcomm SCM calls in the "SMC ARM 64" convention, as Linux's
 * drivers/firmware/qcom/qcom_scm-smc.c issues them:
 *
 *   x0 = SMCCC function id: fast or standard, SMC64, owner SiP (2),
 *        function number (svc << 8) | cmd
 *   x1 = arginfo (argument count and types), x2..x5 = arguments
 *   return: x0 = 0 when the call itself worked, x1..x3 = results.
 *
 * Linux picks this convention at probe by asking INFO/IS_CALL_AVAIL
 * (0xC2000601) about itself and expecting x0 = 0, x1 = 1.
 */
#include "board.h"
#include "config.h"
#include "semihost.h"
#include "smc.h"
#include "storage.h"
#include "uart.h"

#define SCM_SVC_INFO		0x06
#define SCM_INFO_IS_CALL_AVAIL	0x01
#define SCM_SVC_STORAGE		0x1a
#define SCM_STORAGE_CMD		0x01

#define SCM_FNID(svc, cmd)	(((svc) << 8) | (cmd))

/* Storage command ids (enum qcom_scm_storage_cmd_id). */
enum { ST_INIT, ST_READ, ST_WRITE, ST_ERASE, ST_GET_INFO, ST_DEINIT };
#define STORAGE_SPINOR		1

/* Storage status codes, returned in x1 (res.result[0]). */
enum {
	ST_SUCCESS,
	ST_NO_MEMORY,
	ST_INVALID_PARAMETER,
	ST_STORAGE_ERROR,
	ST_ACCESS_DENIED,
	ST_NOT_SUPPORTED,
	ST_MAC_MISMATCH,
	ST_ALREADY_RUNNING,
	ST_PARTITION_NOT_FOUND,
	ST_READ_ONLY,
};

#define CMD_BLOCK_SIZE		40	/* 5 x __le64 */
#define DETAILS_BLOCK_SIZE	32	/* 4 x __le64 */
#define STORAGE_INFO_SIZE	105	/* packed struct qcom_scm_storage_info */

static const char *const cmd_names[] = {
	"INIT", "READ", "WRITE", "ERASE", "GET_INFO", "DEINIT",
};

/*
 * Optional NOR timing (erase_us, program_us): the call returns only after
 * the time the chip would take, measured on the generic timer, so that
 * benchmarks in the VM see device time, not just the SMC round trip.
 */
static void device_time(uint64_t us)
{
	uint64_t freq, start, now;

	if (!us)
		return;
	__asm__ volatile("mrs %0, cntfrq_el0" : "=r"(freq));
	__asm__ volatile("isb; mrs %0, cntpct_el0" : "=r"(start));
	do
		__asm__ volatile("isb; mrs %0, cntpct_el0" : "=r"(now));
	while ((now - start) < us * freq / 1000000);
}

static uint64_t storage_calls;
static uint64_t storage_writes;	/* WRITE and ERASE calls, for fail_writes */

/*
 * The normal world may only hand us its own RAM: refuse anything that
 * reaches below it (secure flash and RAM, devices) or wraps around.
 */
static bool ns_buffer_ok(uint64_t pa, uint64_t len)
{
	return pa >= NS_RAM_BASE && pa + len >= pa;
}

/* LBA range and length checks shared by READ, WRITE and ERASE. */
static bool range_ok(uint64_t lba, uint64_t length)
{
	uint64_t blocks;

	if (!length || length % cfg.block_size)
		return false;
	blocks = length / cfg.block_size;
	return lba < cfg.total_blocks && blocks <= cfg.total_blocks - lba;
}

static void fill_info(uint8_t *p)
{
	/* Byte-wise: the buffer is packed and the MMU is off. */
	memset(p, 0, STORAGE_INFO_SIZE);
	put_le64(p + 0, cfg.total_blocks);
	put_le32(p + 8, cfg.block_size);
	put_le32(p + 12, cfg.page_size);
	put_le32(p + 16, cfg.num_physical);
	put_le64(p + 20, cfg.manufacturer_id);
	put_le64(p + 28, cfg.serial_num);
	memcpy(p + 36, cfg.fw_version, strlen(cfg.fw_version));
	memcpy(p + 68, cfg.memory_type, strlen(cfg.memory_type));
	memcpy(p + 73, cfg.product_name, strlen(cfg.product_name));
}

static uint64_t storage_do(uint64_t type, uint64_t cmd, uint64_t lba,
			   uint64_t length, uint64_t data_ptr, uint64_t data_size,
			   uint64_t budget)
{
	uint64_t off = lba * cfg.block_size;

	if (type != STORAGE_SPINOR)
		return ST_INVALID_PARAMETER;

	switch (cmd) {
	case ST_INIT:
	case ST_DEINIT:
		/* Nothing to set up: the image was opened at boot. */
		return ST_SUCCESS;
	case ST_GET_INFO:
		/* On the Radxa Q6A this fails when Linux runs at EL2 (KVM, no
		 * Gunyah); emulate that unless told otherwise. */
		if (cfg.el2 && !cfg.el2_getinfo_ok)
			return ST_INVALID_PARAMETER;
		if (data_size < STORAGE_INFO_SIZE ||
		    !ns_buffer_ok(data_ptr, STORAGE_INFO_SIZE))
			return ST_INVALID_PARAMETER;
		fill_info((uint8_t *)(uintptr_t)data_ptr);
		return ST_SUCCESS;
	case ST_READ:
	case ST_WRITE:
		if (!range_ok(lba, length) || data_size < length ||
		    !ns_buffer_ok(data_ptr, length))
			return ST_INVALID_PARAMETER;
		if (cmd == ST_READ)
			return store_read(off, (void *)(uintptr_t)data_ptr, length)
				? ST_STORAGE_ERROR : ST_SUCCESS;
		if (cfg.read_only)
			return ST_READ_ONLY;
		return store_program(off, (const void *)(uintptr_t)data_ptr,
				     length, budget) ? ST_STORAGE_ERROR : ST_SUCCESS;
	case ST_ERASE:
		if (!range_ok(lba, length))
			return ST_INVALID_PARAMETER;
		if (cfg.read_only)
			return ST_READ_ONLY;
		return store_erase(off, length, budget) ? ST_STORAGE_ERROR : ST_SUCCESS;
	default:
		return ST_NOT_SUPPORTED;
	}
}

/* x2 = phys(command block), x3 = 40, x4 = phys(details block), x5 = 32. */
static void storage_call(struct smc_frame *f)
{
	uint64_t n = ++storage_calls;
	uint64_t cmd_pa = f->x[2], det_pa = f->x[4];
	uint64_t type, cmd, lba, length, data_ptr, data_size, status;
	uint64_t budget = UINT64_MAX;
	const uint8_t *c, *d;

	f->x[0] = 0;	/* the SMC itself succeeded; x1 carries the status */
	if (f->x[3] != CMD_BLOCK_SIZE || f->x[5] != DETAILS_BLOCK_SIZE ||
	    !ns_buffer_ok(cmd_pa, CMD_BLOCK_SIZE) ||
	    !ns_buffer_ok(det_pa, DETAILS_BLOCK_SIZE)) {
		tz_log(1, "storage #%lu: bad blocks cmd=0x%lx/%lu details=0x%lx/%lu\n",
		       n, cmd_pa, f->x[3], det_pa, f->x[5]);
		f->x[1] = ST_INVALID_PARAMETER;
		return;
	}
	c = (const uint8_t *)(uintptr_t)cmd_pa;
	d = (const uint8_t *)(uintptr_t)det_pa;
	type = get_le64(c + 0);		/* slot_num, lun, guid_ptr unused */
	cmd = get_le64(c + 32);
	lba = get_le64(d + 0);
	length = get_le64(d + 8);
	data_ptr = get_le64(d + 16);
	data_size = get_le64(d + 24);

	/* With fail_writes the knob counts writes and erases only: booting and
	 * reading do none, so "the 5th write" is a point inside an update. */
	uint64_t nth = n;

	if (cfg.fail_writes)
		nth = (cmd == ST_WRITE || cmd == ST_ERASE) ? ++storage_writes : 0;
	if (cfg.fail_nth && nth >= cfg.fail_nth && nth - cfg.fail_nth < cfg.fail_count) {
		status = cfg.fail_status;
		tz_log(1, "storage #%lu %s lba=%lu len=%lu: injected failure %lu\n", n,
		       cmd < ARRAY_SIZE(cmd_names) ? cmd_names[cmd] : "?", lba, length,
		       status);
		f->x[1] = status;
		return;
	}
	if (cfg.power_cut_nth == n) {
		budget = cfg.power_cut_bytes;
		if (cmd != ST_WRITE && cmd != ST_ERASE)
			budget = 0;	/* nothing to tear: cut at once */
		tz_log(1, "storage #%lu: power cut after %lu bytes\n", n, budget);
		if (budget == 0) {
			f->x[1] = ST_STORAGE_ERROR;
			sh_exit(EXIT_POWER_CUT);
		}
	}

	status = storage_do(type, cmd, lba, length, data_ptr, data_size, budget);
	f->x[1] = status;
	if (status == ST_SUCCESS && cmd == ST_ERASE)
		device_time(length / cfg.block_size * cfg.erase_us);
	else if (status == ST_SUCCESS && cmd == ST_WRITE)
		device_time(length / cfg.page_size * cfg.program_us);
	tz_log(status ? 1 : 2, "storage #%lu %s type=%lu lba=%lu len=%lu size=%lu -> %lu\n",
	       n, cmd < ARRAY_SIZE(cmd_names) ? cmd_names[cmd] : "?", type, lba, length,
	       data_size, status);
}

static bool call_available(uint64_t queried)
{
	uint32_t fnid = queried & 0xffff;

	if (SMCCC_OWNER(queried) != SMCCC_OWNER_SIP)
		return false;
	return fnid == SCM_FNID(SCM_SVC_INFO, SCM_INFO_IS_CALL_AVAIL) ||
	       fnid == SCM_FNID(SCM_SVC_STORAGE, SCM_STORAGE_CMD);
}

bool scm_handle(uint32_t fid, struct smc_frame *f)
{
	uint32_t fnid = fid & 0xffff;

	/* Only the 64-bit SiP range; fast and standard calls alike. */
	if (SMCCC_OWNER(fid) != SMCCC_OWNER_SIP || !(fid & SMCCC_64))
		return false;

	if (fnid == SCM_FNID(SCM_SVC_INFO, SCM_INFO_IS_CALL_AVAIL)) {
		bool avail = call_available(f->x[2]);

		tz_log(1, "SCM IS_CALL_AVAIL(0x%lx) -> %d\n", f->x[2], avail);
		f->x[0] = 0;
		f->x[1] = avail;
		return true;
	}
	if (fnid == SCM_FNID(SCM_SVC_STORAGE, SCM_STORAGE_CMD)) {
		storage_call(f);
		return true;
	}
	/* Everything else (waitqueue 0x24, download mode, ...): log once per
	 * call so a new driver requirement is visible, answer "no". */
	tz_log(1, "SCM call 0x%x (svc 0x%x cmd 0x%x) not supported\n", fid,
	       (fnid >> 8) & 0xff, fnid & 0xff);
	f->x[0] = SMCCC_NOT_SUPPORTED;
	return true;
}
