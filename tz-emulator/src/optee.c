// SPDX-License-Identifier: MIT
/*
 * OP-TEE's SMC ABI, as much as Linux's optee driver (smc_abi.c, 7.2)
 * uses when the secure world offers a static shared memory pool:
 *
 *   fast calls (SMC32, owner Trusted OS 50, or 63 for the UID/revision):
 *     CALLS_UID, CALLS_REVISION, GET_OS_UUID, GET_OS_REVISION,
 *     GET_THREAD_COUNT, EXCHANGE_CAPABILITIES (HAVE_RESERVED_SHM only),
 *     GET_SHM_CONFIG, DISABLE_SHM_CACHE, ENABLE_SHM_CACHE;
 *   standard call CALL_WITH_ARG: x1:x2 = physical address of a struct
 *     optee_msg_arg in that pool, with OPEN_SESSION, INVOKE_COMMAND,
 *     CLOSE_SESSION and CANCEL.
 *
 * Why the static pool: without OPTEE_SMC_SEC_CAP_DYNAMIC_SHM Linux never
 * registers memory or passes page lists; every buffer it hands us is a
 * contiguous "TMEM" physical range inside the pool.  Without RPC_ARG and
 * ASYNC_NOTIF it uses plain CALL_WITH_ARG and needs no interrupt.  The
 * services are synchronous, so no call ever returns an RPC to the normal
 * world (no RETURN_FROM_RPC) and there are no threads to run out of.
 *
 * The services are pseudo-TAs: the device enumeration PTA (so the SCMI
 * PTA appears on Linux's TEE bus) and the SCMI PTA (scmi_pta.c).
 */
#include "optee.h"
#include "uart.h"

/* Function numbers (optee_smc.h); the ids are SMC32. */
#define OWNER_TRUSTED_OS	50
#define OWNER_TRUSTED_OS_END	63
#define FN_CALLS_UID		0xff01
#define FN_CALLS_REVISION	0xff03
#define FN_GET_OS_UUID		0
#define FN_GET_OS_REVISION	1
#define FN_RETURN_FROM_RPC	3
#define FN_CALL_WITH_ARG	4
#define FN_GET_SHM_CONFIG	7
#define FN_EXCHANGE_CAPS	9
#define FN_DISABLE_SHM_CACHE	10
#define FN_ENABLE_SHM_CACHE	11
#define FN_GET_THREAD_COUNT	15

#define RET_OK			0x0
#define RET_EBADADDR		0x4
#define RET_EBADCMD		0x5
#define RET_ENOTAVAIL		0x7
#define RET_UNKNOWN_FUNCTION	0xffffffffu

#define SEC_CAP_HAVE_RESERVED_SHM	(1u << 0)
#define SHM_CACHED		1	/* the pool is normal cached memory */

/* "384fb3e0-e7f8-11e3-af63-0002a5d5c51b": the OP-TEE API (optee_msg.h). */
static const uint32_t api_uid[4] = { 0x384fb3e0, 0xe7f811e3, 0xaf630002, 0xa5d5c51b };
/* OP-TEE OS's own UUID: some tools print it; Linux only logs the revision. */
static const uint32_t os_uuid[4] = { 0x486178e0, 0xe7f811e3, 0xbc5e0002, 0xa5d5c51b };
#define API_REVISION_MAJOR	2
#define API_REVISION_MINOR	0
/* Reported as "optee: revision 4.0 (<build id>)": an emulator, not a
 * real OP-TEE 4.0, but a recent enough number for any Linux check. */
#define OS_REVISION_MAJOR	4
#define OS_REVISION_MINOR	0
#define OS_BUILD_ID		0x7a656d75	/* "zemu" */

/* struct optee_msg_arg: 32-byte header, then 32-byte parameters. */
#define MSG_CMD_OPEN_SESSION	0
#define MSG_CMD_INVOKE_COMMAND	1
#define MSG_CMD_CLOSE_SESSION	2
#define MSG_CMD_CANCEL		3
#define ARG_CMD			0
#define ARG_FUNC		4
#define ARG_SESSION		8
#define ARG_RET			20
#define ARG_RET_ORIGIN		24
#define ARG_NUM_PARAMS		28
#define ARG_HDR_SIZE		32
#define PARAM_SIZE		32
#define ATTR_META		(1u << 8)
#define ATTR_TYPE_MASK		0xffu
/* Linux adds 2 meta parameters to at most 4 client ones. */
#define MAX_MSG_PARAMS		(TEE_MAX_PARAMS + 2)

#define ORIGIN_TEE		3
#define ORIGIN_TRUSTED_APP	4

#define MAX_SESSIONS		16

struct optee_knobs optee_knobs;

/* Session id (1-based slot) -> pseudo-TA, NULL when free. */
static const struct pta *sessions[MAX_SESSIONS];

static bool enum_pta_present(void)
{
	return true;
}

static uint32_t enum_pta_invoke(uint32_t cmd, struct tee_param *p, uint32_t n);

/* Linux's drivers/tee/optee/device.c opens this to list TEE bus devices. */
static const struct pta enum_pta = {
	.name = "device-enum",
	.uuid = { 0x70, 0x11, 0xa6, 0x88, 0xdd, 0xde, 0x40, 0x53,
		  0xa5, 0xa9, 0x7b, 0x3c, 0x4d, 0xdf, 0x13, 0xb8 },
	.present = enum_pta_present,
	.invoke = enum_pta_invoke,
};

static const struct pta *const ptas[] = { &enum_pta, &scmi_pta };

/* The only normal-world memory we accept: the static pool. */
static bool in_shm(uint64_t pa, uint64_t len)
{
	return pa >= OPTEE_SHM_BASE && len <= OPTEE_SHM_SIZE &&
	       pa - OPTEE_SHM_BASE <= OPTEE_SHM_SIZE - len;
}

volatile uint8_t *tee_memref(const struct tee_param *p, uint64_t min)
{
	if (!tee_param_is_memref(p) || p->b < min || !p->a || !in_shm(p->a, p->b))
		return NULL;
	return (volatile uint8_t *)(uintptr_t)p->a;
}

/*
 * PTA_CMD_GET_DEVICES (0): p[0] memref out, filled with the UUIDs of the
 * services Linux should put on its TEE bus (16 bytes each, big-endian).
 * With a too small (or NULL) buffer: SHORT_BUFFER and the needed size,
 * which is how Linux asks first.  PTA_CMD_GET_DEVICES_SUPP (1) and
 * _RPMB (2): services needing tee-supplicant or RPMB: none.
 */
static uint32_t enum_pta_invoke(uint32_t cmd, struct tee_param *p, uint32_t n)
{
	uint64_t need = 0, off = 0;
	volatile uint8_t *buf;

	if (n < 1 || p[0].type != TEE_PARAM_MEMREF_OUT)
		return TEEC_ERROR_BAD_PARAMETERS;
	if (cmd > 2)
		return TEEC_ERROR_NOT_SUPPORTED;
	if (cmd != 0) {
		p[0].b = 0;		/* an empty list */
		return TEEC_SUCCESS;
	}
	for (size_t i = 0; i < ARRAY_SIZE(ptas); i++)
		if (ptas[i] != &enum_pta && ptas[i]->present())
			need += 16;
	if (p[0].b < need) {
		p[0].b = need;
		return TEEC_ERROR_SHORT_BUFFER;
	}
	p[0].b = need;
	buf = tee_memref(&p[0], need);
	if (need && !buf)
		return TEEC_ERROR_BAD_PARAMETERS;
	for (size_t i = 0; i < ARRAY_SIZE(ptas); i++) {
		if (ptas[i] == &enum_pta)
			continue;
		if (!ptas[i]->present()) {
			tz_log(1, "optee: device enumeration skips %s (off)\n", ptas[i]->name);
			continue;
		}
		for (int b = 0; b < 16; b++)
			buf[off + b] = ptas[i]->uuid[b];
		off += 16;
		tz_log(1, "optee: device enumeration lists %s\n", ptas[i]->name);
	}
	return TEEC_SUCCESS;
}

static const struct pta *find_pta(const uint8_t uuid[16])
{
	for (size_t i = 0; i < ARRAY_SIZE(ptas); i++)
		if (!memcmp(ptas[i]->uuid, uuid, 16))
			return ptas[i];
	return NULL;
}

/* Read n optee_msg_param at pp into p[] (META flag dropped). */
static void params_in(volatile uint8_t *pp, struct tee_param *p, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++, pp += PARAM_SIZE) {
		p[i].type = le32_load(pp) & ATTR_TYPE_MASK;
		p[i].a = get_le64(pp + 8);
		p[i].b = get_le64(pp + 16);
		p[i].c = get_le64(pp + 24);
	}
}

/* Write back what the normal world may read: output values and the
 * (possibly updated) sizes of memory references.  buf_ptr and shm_ref
 * are Linux's and stay as they were. */
static void params_out(volatile uint8_t *pp, const struct tee_param *p, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++, pp += PARAM_SIZE) {
		if (tee_param_is_value_out(&p[i])) {
			put_le64(pp + 8, p[i].a);
			put_le64(pp + 16, p[i].b);
			put_le64(pp + 24, p[i].c);
		} else if (tee_param_is_memref(&p[i]) && p[i].type != TEE_PARAM_MEMREF_IN) {
			put_le64(pp + 16, p[i].b);
		}
	}
}

static bool params_valid(const struct tee_param *p, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		switch (p[i].type) {
		case TEE_PARAM_NONE:
		case TEE_PARAM_VALUE_IN:
		case TEE_PARAM_VALUE_OUT:
		case TEE_PARAM_VALUE_INOUT:
			break;
		case TEE_PARAM_MEMREF_IN:
		case TEE_PARAM_MEMREF_OUT:
		case TEE_PARAM_MEMREF_INOUT:
			/* NULL memrefs (size query) are fine; else in the pool. */
			if (p[i].a && !in_shm(p[i].a, p[i].b))
				return false;
			break;
		default:
			/* RMEM/FMEM: we never offered registered memory. */
			return false;
		}
	}
	return true;
}

static void set_ret(volatile uint8_t *arg, uint32_t ret, uint32_t origin)
{
	put_le32(arg + ARG_RET, ret);
	put_le32(arg + ARG_RET_ORIGIN, origin);
}

static void open_session(volatile uint8_t *arg, uint32_t nparams)
{
	volatile uint8_t *pp = arg + ARG_HDR_SIZE;
	uint8_t uuid[16];
	const struct pta *ta;
	uint32_t slot;

	/* params[0] = TA UUID, params[1] = client identity, both META. */
	if (nparams < 2 || !(le32_load(pp) & ATTR_META) ||
	    !(le32_load(pp + PARAM_SIZE) & ATTR_META)) {
		set_ret(arg, TEEC_ERROR_BAD_PARAMETERS, ORIGIN_TEE);
		return;
	}
	for (int i = 0; i < 16; i++)
		uuid[i] = pp[8 + i];
	ta = find_pta(uuid);
	if (!ta || !ta->present()) {
		tz_log(1, "optee: open session: no TA %02x%02x%02x%02x-...\n",
		       uuid[0], uuid[1], uuid[2], uuid[3]);
		set_ret(arg, TEEC_ERROR_ITEM_NOT_FOUND, ORIGIN_TEE);
		return;
	}
	if (ta == &scmi_pta && optee_knobs.open_session_fail) {
		tz_log(1, "optee: open session %s refused (optee_open_session_fail)\n",
		       ta->name);
		set_ret(arg, TEEC_ERROR_ACCESS_DENIED, ORIGIN_TEE);
		return;
	}
	for (slot = 0; slot < MAX_SESSIONS && sessions[slot]; slot++)
		;
	if (slot == MAX_SESSIONS) {
		tz_log(1, "optee: out of sessions\n");
		set_ret(arg, TEEC_ERROR_GENERIC, ORIGIN_TEE);
		return;
	}
	sessions[slot] = ta;
	put_le32(arg + ARG_SESSION, slot + 1);
	set_ret(arg, TEEC_SUCCESS, ORIGIN_TEE);
	tz_log(2, "optee: session %u opened (%s)\n", slot + 1, ta->name);
}

static const struct pta *session_pta(uint32_t id)
{
	return id >= 1 && id <= MAX_SESSIONS ? sessions[id - 1] : NULL;
}

static void invoke(volatile uint8_t *arg, uint32_t nparams)
{
	uint32_t id = le32_load(arg + ARG_SESSION), func = le32_load(arg + ARG_FUNC);
	const struct pta *ta = session_pta(id);
	struct tee_param p[TEE_MAX_PARAMS];
	uint32_t ret;

	if (!ta) {
		set_ret(arg, TEEC_ERROR_BAD_PARAMETERS, ORIGIN_TEE);
		return;
	}
	if (nparams > TEE_MAX_PARAMS) {
		set_ret(arg, TEEC_ERROR_BAD_PARAMETERS, ORIGIN_TEE);
		return;
	}
	params_in(arg + ARG_HDR_SIZE, p, nparams);
	if (!params_valid(p, nparams)) {
		tz_log(1, "optee: %s cmd %u: bad parameters\n", ta->name, func);
		set_ret(arg, TEEC_ERROR_BAD_PARAMETERS, ORIGIN_TEE);
		return;
	}
	ret = ta->invoke(func, p, nparams);
	params_out(arg + ARG_HDR_SIZE, p, nparams);
	set_ret(arg, ret, ORIGIN_TRUSTED_APP);
	tz_log(ret && ret != TEEC_ERROR_SHORT_BUFFER ? 1 : 2,
	       "optee: %s cmd %u -> 0x%x\n", ta->name, func, ret);
}

static void close_session(volatile uint8_t *arg)
{
	uint32_t id = le32_load(arg + ARG_SESSION);

	if (!session_pta(id)) {
		set_ret(arg, TEEC_ERROR_BAD_PARAMETERS, ORIGIN_TEE);
		return;
	}
	tz_log(2, "optee: session %u closed\n", id);
	sessions[id - 1] = NULL;
	set_ret(arg, TEEC_SUCCESS, ORIGIN_TEE);
}

/* CALL_WITH_ARG: x1:x2 = physical address of the struct optee_msg_arg. */
static uint64_t call_with_arg(uint64_t pa)
{
	volatile uint8_t *arg = (volatile uint8_t *)(uintptr_t)pa;
	uint32_t cmd, n;

	if (!in_shm(pa, ARG_HDR_SIZE))
		return RET_EBADADDR;
	cmd = le32_load(arg + ARG_CMD);
	n = le32_load(arg + ARG_NUM_PARAMS);
	if (n > MAX_MSG_PARAMS || !in_shm(pa, ARG_HDR_SIZE + n * PARAM_SIZE))
		return RET_EBADADDR;

	switch (cmd) {
	case MSG_CMD_OPEN_SESSION:
		open_session(arg, n);
		break;
	case MSG_CMD_INVOKE_COMMAND:
		invoke(arg, n);
		break;
	case MSG_CMD_CLOSE_SESSION:
		close_session(arg);
		break;
	case MSG_CMD_CANCEL:
		/* Nothing is ever pending: every call completes at once. */
		set_ret(arg, TEEC_SUCCESS, ORIGIN_TEE);
		break;
	default:
		/* REGISTER_SHM, async notification, protected memory... */
		tz_log(1, "optee: message command %u not supported\n", cmd);
		return RET_EBADCMD;
	}
	return RET_OK;
}

static void ret4(struct smc_frame *f, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3)
{
	f->x[0] = a0;
	f->x[1] = a1;
	f->x[2] = a2;
	f->x[3] = a3;
}

bool optee_handle(uint32_t fid, struct smc_frame *f)
{
	uint32_t owner = SMCCC_OWNER(fid), fn = fid & 0xffff;

	/*
	 * OP-TEE's calls are SMC32 (x1..x7 carry 32 bits).  SMC64 ids in
	 * the Trusted OS range are someone else's (Qualcomm's QSEECOM probe
	 * uses 0x72000602): leave them to the generic "not supported".
	 */
	if (owner < OWNER_TRUSTED_OS || owner > OWNER_TRUSTED_OS_END || (fid & SMCCC_64))
		return false;
	if (optee_knobs.off) {
		/* As if no Trusted OS were installed (what TF-A answers). */
		tz_log(1, "optee=off: SMC 0x%x unknown\n", fid);
		f->x[0] = RET_UNKNOWN_FUNCTION;
		return true;
	}

	if (owner == OWNER_TRUSTED_OS_END) {
		switch (fn) {
		case FN_CALLS_UID:
			tz_log(1, "optee: CALLS_UID\n");
			ret4(f, api_uid[0], api_uid[1], api_uid[2], api_uid[3]);
			return true;
		case FN_CALLS_REVISION:
			ret4(f, API_REVISION_MAJOR, API_REVISION_MINOR, 0, 0);
			return true;
		}
	} else if (fid & SMCCC_FAST) {
		switch (fn) {
		case FN_GET_OS_UUID:
			ret4(f, os_uuid[0], os_uuid[1], os_uuid[2], os_uuid[3]);
			return true;
		case FN_GET_OS_REVISION:
			ret4(f, OS_REVISION_MAJOR, OS_REVISION_MINOR, OS_BUILD_ID, 0);
			return true;
		case FN_GET_THREAD_COUNT:
			/* Calls never block, so any number works; more than one
			 * lets Linux reserve a "system thread" for SCMI. */
			ret4(f, RET_OK, 4, 0, 0);
			return true;
		case FN_EXCHANGE_CAPS:
			tz_log(1, "optee: EXCHANGE_CAPABILITIES(0x%lx): reserved shm\n",
			       f->x[1] & 0xffffffff);
			/* a2 = max notification value, a3 = RPC params: none. */
			ret4(f, RET_OK, SEC_CAP_HAVE_RESERVED_SHM, 0, 0);
			return true;
		case FN_GET_SHM_CONFIG:
			ret4(f, RET_OK, OPTEE_SHM_BASE, OPTEE_SHM_SIZE, SHM_CACHED);
			return true;
		case FN_DISABLE_SHM_CACHE:
			/* We cache no shared memory objects: "cache empty". */
			f->x[0] = RET_ENOTAVAIL;
			return true;
		case FN_ENABLE_SHM_CACHE:
			/* Linux loops until OK: never answer "busy" here. */
			f->x[0] = RET_OK;
			return true;
		}
	} else {
		switch (fn) {
		case FN_CALL_WITH_ARG:
			f->x[0] = call_with_arg((f->x[1] & 0xffffffff) << 32 |
						(f->x[2] & 0xffffffff));
			return true;
		case FN_RETURN_FROM_RPC:
			/* We never return an RPC, so nothing can resume. */
			tz_log(1, "optee: unexpected RETURN_FROM_RPC\n");
			break;
		}
	}
	tz_log(1, "optee: SMC 0x%x not supported\n", fid);
	f->x[0] = RET_UNKNOWN_FUNCTION;
	return true;
}

static bool parse_onoff(const char *v, bool *out)
{
	if (!strcmp(v, "on") || !strcmp(v, "1") || !strcmp(v, "yes") || !strcmp(v, "true"))
		*out = true;
	else if (!strcmp(v, "off") || !strcmp(v, "0") || !strcmp(v, "no") || !strcmp(v, "false"))
		*out = false;
	else
		return false;
	return true;
}

bool optee_config_set(const char *key, const char *val, bool *ok)
{
	bool on = true;

	if (!strcmp(key, "optee")) {
		*ok = parse_onoff(val, &on);
		optee_knobs.off = !on;
	} else if (!strcmp(key, "scmi_pta")) {
		*ok = parse_onoff(val, &on);
		optee_knobs.scmi_pta_off = !on;
	} else if (!strcmp(key, "optee_open_session_fail")) {
		*ok = parse_onoff(val, &optee_knobs.open_session_fail);
	} else {
		return false;
	}
	return true;
}
