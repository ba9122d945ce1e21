/* SPDX-License-Identifier: MIT */
/*
 * A minimal OP-TEE: the part of OP-TEE's SMC ABI that Linux's "optee"
 * driver needs (drivers/tee/optee/smc_abi.c), two pseudo-TAs (device
 * enumeration and SCMI) and nothing else.  See docs/scmi-optee.md.
 */
#ifndef OPTEE_H
#define OPTEE_H

#include "smc.h"
#include "types.h"

/*
 * Non-secure RAM that the overlay dts/scmi-optee.dtso reserves (no-map)
 * at the top of the default 1 GiB: OP-TEE's static shared memory pool
 * (GET_SHM_CONFIG) and the SCMI SMT channel ("arm,scmi-shmem").  Keep
 * both files in step.
 */
#define OPTEE_SHM_BASE		0x7e000000UL
#define OPTEE_SHM_SIZE		0x00200000UL
#define SCMI_SMT_BASE		0x7e200000UL
#define SCMI_SMT_SIZE		0x00001000UL

/* OP-TEE message parameter types (optee_msg.h), META flag stripped. */
#define TEE_PARAM_NONE		0x0
#define TEE_PARAM_VALUE_IN	0x1
#define TEE_PARAM_VALUE_OUT	0x2
#define TEE_PARAM_VALUE_INOUT	0x3
#define TEE_PARAM_MEMREF_IN	0x9	/* "TMEM": physical address + size */
#define TEE_PARAM_MEMREF_OUT	0xa
#define TEE_PARAM_MEMREF_INOUT	0xb

/* GlobalPlatform TEE client return codes, as Linux sees them. */
#define TEEC_SUCCESS			0x00000000u
#define TEEC_ERROR_GENERIC		0xffff0000u
#define TEEC_ERROR_ACCESS_DENIED	0xffff0001u
#define TEEC_ERROR_BAD_PARAMETERS	0xffff0006u
#define TEEC_ERROR_ITEM_NOT_FOUND	0xffff0008u
#define TEEC_ERROR_NOT_SUPPORTED	0xffff000au
#define TEEC_ERROR_SHORT_BUFFER		0xffff0010u

/*
 * One parameter of an open-session/invoke request, copied out of the
 * normal world's struct optee_msg_param.  Values use a/b/c; memory
 * references use a = physical address, b = size (updated for outputs).
 */
struct tee_param {
	uint32_t type;
	uint64_t a, b, c;
};

#define TEE_MAX_PARAMS		4

/* A pseudo-TA: a service inside "OP-TEE" reached by UUID. */
struct pta {
	const char *name;
	uint8_t uuid[16];		/* big-endian, as printed */
	bool (*present)(void);		/* listed by device enumeration */
	uint32_t (*invoke)(uint32_t cmd, struct tee_param *p, uint32_t n);
};

extern const struct pta scmi_pta;

/* Failure knobs (config keys, see optee_config_set()). */
struct optee_knobs {
	bool off;			/* optee=off: no OP-TEE at all */
	bool open_session_fail;		/* refuse sessions to the SCMI PTA */
	bool scmi_pta_off;		/* scmi_pta=off: no SCMI PTA */
};
extern struct optee_knobs optee_knobs;

/* SMC dispatch: returns true if fid belongs to the Trusted OS range. */
bool optee_handle(uint32_t fid, struct smc_frame *f);

/* Config hook: returns true if key is ours; *ok says if val was valid. */
bool optee_config_set(const char *key, const char *val, bool *ok);

/*
 * Pointer to a memory reference's buffer, or NULL unless it lies inside
 * the static shared memory and is at least min bytes long.
 */
volatile uint8_t *tee_memref(const struct tee_param *p, uint64_t min);

static inline bool tee_param_is_value_in(const struct tee_param *p)
{
	return p->type == TEE_PARAM_VALUE_IN || p->type == TEE_PARAM_VALUE_INOUT;
}

static inline bool tee_param_is_value_out(const struct tee_param *p)
{
	return p->type == TEE_PARAM_VALUE_OUT || p->type == TEE_PARAM_VALUE_INOUT;
}

static inline bool tee_param_is_memref(const struct tee_param *p)
{
	return p->type >= TEE_PARAM_MEMREF_IN && p->type <= TEE_PARAM_MEMREF_INOUT;
}

/* Byte-wise 16/32-bit little-endian access (types.h has the 64-bit
 * ones): EL3 runs with the MMU off, so unaligned wide accesses fault. */
static inline uint32_t le32_load(const volatile void *p)
{
	const volatile uint8_t *b = p;

	return b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static inline void le16_store(volatile void *p, uint16_t v)
{
	volatile uint8_t *b = p;

	b[0] = (uint8_t)v;
	b[1] = (uint8_t)(v >> 8);
}

#endif
