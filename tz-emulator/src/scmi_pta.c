// SPDX-License-Identifier: MIT
/*
 * OP-TEE's SCMI pseudo-TA (UUID a8cfe406-d4f5-4a2e-9f8d-a25dc754c099),
 * the server side of Linux's drivers/firmware/arm_scmi/transports/optee.c:
 *
 *   0 CAPABILITIES                 v[0].a out = SMT | MSG
 *   1 PROCESS_SMT_CHANNEL          v[0].a = channel; message in the
 *                                  channel's SMT area (DT "shmem")
 *   2 PROCESS_SMT_CHANNEL_MESSAGE  v[0].a = channel, memref[1] = an SMT
 *                                  area in OP-TEE shared memory
 *   3 GET_CHANNEL                  v[0].a in = channel id, out = handle;
 *                                  v[0].b = SMT or MSG
 *   4 PROCESS_MSG_CHANNEL          v[0].a = channel, memref[1] = header +
 *                                  payload, memref[2] out = header +
 *                                  status + payload (no "shmem" in DT)
 *
 * There is one channel, id 0; its SMT area is SCMI_SMT_BASE (optee.h),
 * the "arm,scmi-shmem" region of dts/scmi-optee.dtso.
 */
#include "optee.h"
#include "scmi.h"
#include "uart.h"

#define CMD_CAPABILITIES		0
#define CMD_PROCESS_SMT_CHANNEL		1
#define CMD_PROCESS_SMT_CHANNEL_MESSAGE	2
#define CMD_GET_CHANNEL			3
#define CMD_PROCESS_MSG_CHANNEL		4

#define CAPS_SMT_HEADER		(1u << 0)
#define CAPS_MSG_HEADER		(1u << 1)

/* SMT layout (Linux's struct scmi_shared_mem). */
#define SMT_CHANNEL_STATUS	4
#define SMT_FLAGS		16
#define SMT_LENGTH		20	/* header + payload bytes */
#define SMT_HEADER		24
#define SMT_PAYLOAD		28
#define SMT_STATUS_FREE		(1u << 0)
#define SMT_STATUS_ERROR	(1u << 1)

#define CHANNEL_ID		0

/* Secure copies: the normal world may change its buffers at any time. */
static uint8_t req[SCMI_MAX_PAYLOAD];
static uint8_t rsp[SCMI_MAX_PAYLOAD + 8];

static bool scmi_pta_present(void)
{
	return !optee_knobs.scmi_pta_off;
}

static void copy_in(uint8_t *dst, const volatile uint8_t *src, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dst[i] = src[i];
}

static void copy_out(volatile uint8_t *dst, const uint8_t *src, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dst[i] = src[i];
}

/*
 * Process the message in an SMT area of size bytes and leave the answer
 * there: length = header + status + data, channel free again.  The
 * header stays (its token is what Linux matches).
 */
static uint32_t process_smt(volatile uint8_t *smt, size_t size)
{
	uint32_t len = le32_load(smt + SMT_LENGTH), hdr;
	size_t out;

	if (len < 4 || len - 4 > SCMI_MAX_PAYLOAD || SMT_HEADER + len > size) {
		tz_log(1, "scmi: SMT length %u invalid\n", len);
		put_le32(smt + SMT_CHANNEL_STATUS, SMT_STATUS_FREE | SMT_STATUS_ERROR);
		return TEEC_ERROR_BAD_PARAMETERS;
	}
	hdr = le32_load(smt + SMT_HEADER);
	copy_in(req, smt + SMT_PAYLOAD, len - 4);
	out = scmi_process(hdr, req, len - 4, rsp);
	if (SMT_PAYLOAD + out > size) {
		put_le32(smt + SMT_CHANNEL_STATUS, SMT_STATUS_FREE | SMT_STATUS_ERROR);
		return TEEC_ERROR_SHORT_BUFFER;
	}
	copy_out(smt + SMT_PAYLOAD, rsp, out);
	put_le32(smt + SMT_LENGTH, (uint32_t)(4 + out));
	put_le32(smt + SMT_CHANNEL_STATUS, SMT_STATUS_FREE);
	return TEEC_SUCCESS;
}

/* MSG layout: in = header + payload, out = header + status + data. */
static uint32_t process_msg(struct tee_param *in, struct tee_param *outp)
{
	volatile uint8_t *ib = tee_memref(in, 4), *ob;
	uint32_t hdr;
	size_t len, out;

	if (!ib || in->b - 4 > SCMI_MAX_PAYLOAD ||
	    (outp->type != TEE_PARAM_MEMREF_OUT && outp->type != TEE_PARAM_MEMREF_INOUT))
		return TEEC_ERROR_BAD_PARAMETERS;
	len = in->b - 4;
	hdr = le32_load(ib);
	copy_in(req, ib + 4, len);	/* in and out may be one buffer */
	out = scmi_process(hdr, req, len, rsp);
	if (outp->b < 4 + out) {
		outp->b = 4 + out;
		return TEEC_ERROR_SHORT_BUFFER;
	}
	ob = tee_memref(outp, 4 + out);
	if (!ob)
		return TEEC_ERROR_BAD_PARAMETERS;
	put_le32(ob, hdr);
	copy_out(ob + 4, rsp, out);
	outp->b = 4 + out;
	return TEEC_SUCCESS;
}

static bool channel_ok(const struct tee_param *p, uint32_t n)
{
	return n >= 1 && tee_param_is_value_in(&p[0]) && p[0].a == CHANNEL_ID;
}

static uint32_t scmi_pta_invoke(uint32_t cmd, struct tee_param *p, uint32_t n)
{
	switch (cmd) {
	case CMD_CAPABILITIES:
		if (n < 1 || !tee_param_is_value_out(&p[0]))
			return TEEC_ERROR_BAD_PARAMETERS;
		p[0].a = CAPS_SMT_HEADER | CAPS_MSG_HEADER;
		p[0].b = 0;
		return TEEC_SUCCESS;
	case CMD_GET_CHANNEL:
		/* One channel; SMT (with "shmem") or MSG, as Linux asks. */
		if (n < 1 || p[0].type != TEE_PARAM_VALUE_INOUT || p[0].a != CHANNEL_ID ||
		    !(p[0].b & (CAPS_SMT_HEADER | CAPS_MSG_HEADER)) ||
		    (p[0].b & ~(uint64_t)(CAPS_SMT_HEADER | CAPS_MSG_HEADER)))
			return TEEC_ERROR_BAD_PARAMETERS;
		tz_log(1, "scmi: channel %lu opened (%s)\n", p[0].a,
		       p[0].b & CAPS_MSG_HEADER ? "MSG" : "SMT");
		/* The platform owns the SMT area's initial state: Linux
		 * waits for "channel free" before its first message. */
		if (p[0].b & CAPS_SMT_HEADER) {
			volatile uint8_t *smt = (volatile uint8_t *)SCMI_SMT_BASE;

			for (size_t i = 0; i < SMT_PAYLOAD; i++)
				smt[i] = 0;
			put_le32(smt + SMT_CHANNEL_STATUS, SMT_STATUS_FREE);
		}
		p[0].a = CHANNEL_ID;	/* the handle */
		p[0].b = 0;
		return TEEC_SUCCESS;
	case CMD_PROCESS_SMT_CHANNEL:
		if (!channel_ok(p, n))
			return TEEC_ERROR_BAD_PARAMETERS;
		return process_smt((volatile uint8_t *)SCMI_SMT_BASE, SCMI_SMT_SIZE);
	case CMD_PROCESS_SMT_CHANNEL_MESSAGE: {
		volatile uint8_t *smt;

		if (!channel_ok(p, n) || n < 2 || p[1].type != TEE_PARAM_MEMREF_INOUT)
			return TEEC_ERROR_BAD_PARAMETERS;
		smt = tee_memref(&p[1], SMT_PAYLOAD);
		if (!smt)
			return TEEC_ERROR_BAD_PARAMETERS;
		return process_smt(smt, p[1].b);
	}
	case CMD_PROCESS_MSG_CHANNEL:
		if (!channel_ok(p, n) || n < 3)
			return TEEC_ERROR_BAD_PARAMETERS;
		return process_msg(&p[1], &p[2]);
	default:
		return TEEC_ERROR_NOT_SUPPORTED;
	}
}

const struct pta scmi_pta = {
	.name = "scmi",
	.uuid = { 0xa8, 0xcf, 0xe4, 0x06, 0xd4, 0xf5, 0x4a, 0x2e,
		  0x9f, 0x8d, 0xa2, 0x5d, 0xc7, 0x54, 0xc0, 0x99 },
	.present = scmi_pta_present,
	.invoke = scmi_pta_invoke,
};
