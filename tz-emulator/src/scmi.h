/* SPDX-License-Identifier: MIT */
/* A small SCMI server (scmi.c) behind the OP-TEE SCMI PTA (scmi_pta.c). */
#ifndef SCMI_H
#define SCMI_H

#include "types.h"

/*
 * Largest message payload after the 32-bit header, both ways: Linux's
 * SCMI_SHMEM_MAX_PAYLOAD_SIZE, the max_msg_size of its OP-TEE transport.
 * A response is a 32-bit status followed by at most this minus 4 bytes
 * in the MSG layout (header + status + data in 104 bytes), so the server
 * keeps every answer within SCMI_MAX_RESPONSE.
 */
#define SCMI_MAX_PAYLOAD	104
#define SCMI_MAX_RESPONSE	(SCMI_MAX_PAYLOAD - 4)	/* status + data */

/* Message header fields (SCMI spec 4.1.1). */
#define SCMI_HDR_MSG_ID(h)	((h) & 0xff)
#define SCMI_HDR_TYPE(h)	(((h) >> 8) & 0x3)
#define SCMI_HDR_PROTO(h)	(((h) >> 10) & 0xff)

/* Status codes. */
#define SCMI_SUCCESS		0
#define SCMI_NOT_SUPPORTED	-1
#define SCMI_INVALID_PARAMETERS	-2
#define SCMI_DENIED		-3
#define SCMI_NOT_FOUND		-4
#define SCMI_OUT_OF_RANGE	-5
#define SCMI_PROTOCOL_ERROR	-10

/*
 * Handle one command: hdr is its header, in/in_len its parameters.
 * Writes the status and the return values to out (at least
 * SCMI_MAX_PAYLOAD bytes) and returns how many bytes that is.
 */
size_t scmi_process(uint32_t hdr, const uint8_t *in, size_t in_len, uint8_t *out);

#endif
