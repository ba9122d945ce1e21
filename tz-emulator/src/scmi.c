// SPDX-License-Identifier: MIT
/*
 * A small SCMI platform (server), enough for Linux 7.2's SCMI core and
 * its clock and hwmon drivers to probe and work:
 *
 *   0x10 base    v2.0: vendor "meta-qcom-scm", sub-vendor "tz-emulator",
 *                      protocol list, one agent;
 *   0x11 power   v3.0: two power domains, synchronous STATE_SET/GET;
 *   0x14 clock   v3.0: three clocks (two with rate lists, one with a
 *                      range), RATE_GET/SET, CONFIG_SET/GET, attributes;
 *   0x15 sensor  v1.0: three sensors (two temperatures in m°C, one
 *                      voltage in mV) whose readings follow a counter:
 *                      reading k (0-based, per sensor) of sensor s is
 *                      base[s] + step[s] * (k % period[s]).
 *
 * Versions are at most what Linux 7.2 supports (base 0x20001, power
 * 0x30001, clock 0x30000, sensor 0x30001), so it never negotiates; the older sensor
 * version keeps the descriptors to the 28-byte v1 layout and needs no
 * update-interval command.  Everything is synchronous: no delayed
 * responses, no notifications (PROTOCOL_MESSAGE_ATTRIBUTES says
 * NOT_FOUND for them, so Linux does not ask).
 *
 * Unknown protocol or message: NOT_SUPPORTED, as the spec asks.
 */
#include "optee.h"
#include "scmi.h"
#include "uart.h"

#define MSG_PROTOCOL_VERSION		0x0
#define MSG_PROTOCOL_ATTRIBUTES		0x1
#define MSG_PROTOCOL_MESSAGE_ATTRIBUTES	0x2

#define VENDOR			"meta-qcom-scm"
#define SUB_VENDOR		"tz-emulator"
#define IMPL_VERSION		0x00010000u	/* 1.0 */
#define NAME_LEN		16		/* SCMI short names, with NUL */

/* Response under construction: out[0..3] is the status, data follows. */
struct resp {
	uint8_t *buf;
	size_t len;
};

static void r32(struct resp *r, uint32_t v)
{
	if (r->len + 4 <= SCMI_MAX_RESPONSE)
		put_le32(r->buf + r->len, v);
	r->len += 4;
}

static void r64(struct resp *r, uint64_t v)
{
	r32(r, (uint32_t)v);
	r32(r, (uint32_t)(v >> 32));
}

/* A short name: 16 bytes, NUL-padded (and always NUL-terminated). */
static void rname(struct resp *r, const char *s)
{
	uint8_t *p = r->buf + r->len;

	memset(p, 0, NAME_LEN);
	for (int i = 0; i < NAME_LEN - 1 && s[i]; i++)
		p[i] = (uint8_t)s[i];
	r->len += NAME_LEN;
}

typedef int32_t (*scmi_msg_fn)(const uint8_t *in, size_t in_len, struct resp *r);

struct scmi_protocol {
	uint8_t id;
	uint32_t version;
	const scmi_msg_fn *msgs;	/* indexed by message id; NULL: none */
	size_t num_msgs;
};

static const struct scmi_protocol *find_protocol(uint32_t id);

/* ---- base protocol (0x10) ------------------------------------------ */

/* Protocols listed by DISCOVER_LIST_PROTOCOLS (base itself is not). */
static const uint8_t listed_protocols[] = { 0x11, 0x14, 0x15 };

static int32_t base_attributes(const uint8_t *in, size_t in_len, struct resp *r)
{
	(void)in, (void)in_len;
	/* [7:0] protocols other than base, [15:8] agents (just Linux). */
	r32(r, ARRAY_SIZE(listed_protocols) | 1u << 8);
	return SCMI_SUCCESS;
}

static int32_t base_vendor(const uint8_t *in, size_t in_len, struct resp *r)
{
	(void)in, (void)in_len;
	rname(r, VENDOR);
	return SCMI_SUCCESS;
}

static int32_t base_sub_vendor(const uint8_t *in, size_t in_len, struct resp *r)
{
	(void)in, (void)in_len;
	rname(r, SUB_VENDOR);
	return SCMI_SUCCESS;
}

static int32_t base_impl_version(const uint8_t *in, size_t in_len, struct resp *r)
{
	(void)in, (void)in_len;
	r32(r, IMPL_VERSION);
	return SCMI_SUCCESS;
}

static int32_t base_list_protocols(const uint8_t *in, size_t in_len, struct resp *r)
{
	uint32_t skip, n;
	uint8_t *p;

	if (in_len < 4)
		return SCMI_PROTOCOL_ERROR;
	skip = le32_load(in);
	if (skip > ARRAY_SIZE(listed_protocols))
		return SCMI_INVALID_PARAMETERS;
	n = ARRAY_SIZE(listed_protocols) - skip;
	r32(r, n);
	/* One byte per protocol, padded to a 32-bit multiple. */
	p = r->buf + r->len;
	memset(p, 0, (n + 3) & ~3u);
	for (uint32_t i = 0; i < n; i++)
		p[i] = listed_protocols[skip + i];
	r->len += (n + 3) & ~3u;
	return SCMI_SUCCESS;
}

static int32_t base_discover_agent(const uint8_t *in, size_t in_len, struct resp *r)
{
	uint32_t id;

	if (in_len < 4)
		return SCMI_PROTOCOL_ERROR;
	id = le32_load(in);
	if (id == 0xffffffff)
		id = 1;			/* "the calling agent": Linux */
	if (id > 1)
		return SCMI_NOT_FOUND;
	r32(r, id);
	rname(r, id ? "OSPM" : "platform");
	return SCMI_SUCCESS;
}

static const scmi_msg_fn base_msgs[] = {
	[MSG_PROTOCOL_ATTRIBUTES] = base_attributes,
	[0x3] = base_vendor,
	[0x4] = base_sub_vendor,
	[0x5] = base_impl_version,
	[0x6] = base_list_protocols,
	[0x7] = base_discover_agent,
};

/* ---- power domain protocol (0x11) ---------------------------------- */

#define POWER_DOMAIN_ATTRIBUTES	0x3
#define POWER_STATE_SET		0x4
#define POWER_STATE_GET		0x5
#define POWER_SET_ASYNC		(1u << 0)
#define POWER_ON		0x00000000u	/* SCMI_POWER_STATE_GENERIC_ON */
#define POWER_OFF		0x40000000u	/* GENERIC_OFF: context lost */

struct power_domain {
	const char *name;
	uint32_t state;
};

static struct power_domain power_domains[] = {
	{ "gpu_pd", POWER_OFF },
	{ "venus_pd", POWER_ON },
};

static struct power_domain *domain_arg(const uint8_t *in)
{
	uint32_t id = le32_load(in);

	return id < ARRAY_SIZE(power_domains) ? &power_domains[id] : NULL;
}

static int32_t power_proto_attributes(const uint8_t *in, size_t in_len, struct resp *r)
{
	(void)in, (void)in_len;
	/* [15:0] domains; then a statistics area: none. */
	r32(r, ARRAY_SIZE(power_domains));
	r32(r, 0);
	r32(r, 0);
	r32(r, 0);
	return SCMI_SUCCESS;
}

static int32_t power_domain_attributes(const uint8_t *in, size_t in_len, struct resp *r)
{
	struct power_domain *d;

	if (in_len < 4)
		return SCMI_PROTOCOL_ERROR;
	d = domain_arg(in);
	if (!d)
		return SCMI_NOT_FOUND;
	r32(r, 1u << 29);		/* synchronous STATE_SET only */
	rname(r, d->name);
	return SCMI_SUCCESS;
}

static int32_t power_state_set(const uint8_t *in, size_t in_len, struct resp *r)
{
	struct power_domain *d;
	uint32_t state;

	(void)r;
	if (in_len < 12)
		return SCMI_PROTOCOL_ERROR;
	d = domain_arg(in + 4);
	if (!d)
		return SCMI_NOT_FOUND;
	if (le32_load(in) & POWER_SET_ASYNC)
		return SCMI_NOT_SUPPORTED;
	state = le32_load(in + 8);
	if (state != POWER_ON && state != POWER_OFF)
		return SCMI_INVALID_PARAMETERS;	/* only the generic states */
	if (d->state != state)
		tz_log(1, "scmi: power domain %s %s\n", d->name,
		       state == POWER_ON ? "on" : "off");
	d->state = state;
	return SCMI_SUCCESS;
}

static int32_t power_state_get(const uint8_t *in, size_t in_len, struct resp *r)
{
	struct power_domain *d;

	if (in_len < 4)
		return SCMI_PROTOCOL_ERROR;
	d = domain_arg(in);
	if (!d)
		return SCMI_NOT_FOUND;
	r32(r, d->state);
	return SCMI_SUCCESS;
}

static const scmi_msg_fn power_msgs[] = {
	[MSG_PROTOCOL_ATTRIBUTES] = power_proto_attributes,
	[POWER_DOMAIN_ATTRIBUTES] = power_domain_attributes,
	[POWER_STATE_SET] = power_state_set,
	[POWER_STATE_GET] = power_state_get,
};

/* ---- clock protocol (0x14) ----------------------------------------- */

#define CLOCK_ATTRIBUTES	0x3
#define CLOCK_DESCRIBE_RATES	0x4
#define CLOCK_RATE_SET		0x5
#define CLOCK_RATE_GET		0x6
#define CLOCK_CONFIG_SET	0x7
#define CLOCK_CONFIG_GET	0xb

#define RATE_SET_ASYNC		(1u << 0)
#define RATE_SET_ROUND_UP	(1u << 2)
#define RATE_SET_ROUND_AUTO	(1u << 3)

struct clock {
	const char *name;
	const uint64_t *rates;		/* discrete, ascending; NULL: range */
	uint32_t num_rates;
	uint64_t min, max, step;	/* range clocks */
	uint64_t rate;
	bool enabled;
};

static const uint64_t cpu_rates[] = { 300000000, 600000000, 1200000000, 1800000000 };
static const uint64_t ddr_rates[] = { 200000000, 400000000, 800000000 };

/* Mutable: lives in .data (copied to secure RAM at boot). */
static struct clock clocks[] = {
	{ "cpu_cluster", cpu_rates, ARRAY_SIZE(cpu_rates), 0, 0, 0, 1200000000, true },
	{ "ddr", ddr_rates, ARRAY_SIZE(ddr_rates), 0, 0, 0, 800000000, true },
	{ "gpu", NULL, 0, 100000000, 800000000, 50000000, 400000000, false },
};

static struct clock *clock_arg(const uint8_t *in, size_t in_len, size_t need)
{
	uint32_t id;

	if (in_len < need)
		return NULL;
	id = le32_load(in);
	return id < ARRAY_SIZE(clocks) ? &clocks[id] : NULL;
}

static int32_t clock_proto_attributes(const uint8_t *in, size_t in_len, struct resp *r)
{
	(void)in, (void)in_len;
	/* [15:0] clocks, [23:16] max async requests: none. */
	r32(r, ARRAY_SIZE(clocks));
	return SCMI_SUCCESS;
}

static int32_t clock_attributes(const uint8_t *in, size_t in_len, struct resp *r)
{
	struct clock *c = clock_arg(in, in_len, 4);

	if (in_len < 4)
		return SCMI_PROTOCOL_ERROR;
	if (!c)
		return SCMI_NOT_FOUND;
	/* bit 0: enabled; no notifications, extended names, parents,
	 * permissions or extended config. */
	r32(r, c->enabled);
	rname(r, c->name);
	r32(r, 0);			/* enable latency: unknown */
	return SCMI_SUCCESS;
}

/*
 * Rates from index rate_index on.  [11:0] returned, [12] range format
 * (min, max, step), [31:16] remaining.  At most 10 per answer (fits in
 * SCMI_MAX_RESPONSE).
 */
static int32_t clock_describe_rates(const uint8_t *in, size_t in_len, struct resp *r)
{
	struct clock *c = clock_arg(in, in_len, 8);
	uint32_t idx, n;

	if (in_len < 8)
		return SCMI_PROTOCOL_ERROR;
	if (!c)
		return SCMI_NOT_FOUND;
	idx = le32_load(in + 4);
	if (!c->rates) {
		if (idx)
			return SCMI_INVALID_PARAMETERS;
		r32(r, 3 | 1u << 12);
		r64(r, c->min);
		r64(r, c->max);
		r64(r, c->step);
		return SCMI_SUCCESS;
	}
	if (idx > c->num_rates)
		return SCMI_INVALID_PARAMETERS;
	n = c->num_rates - idx;
	if (n > 10)
		n = 10;
	r32(r, n | (c->num_rates - idx - n) << 16);
	for (uint32_t i = 0; i < n; i++)
		r64(r, c->rates[idx + i]);
	return SCMI_SUCCESS;
}

/* The rate a request ends up at, following the rounding flags, or 0 if
 * none is possible (OUT_OF_RANGE). */
static uint64_t clock_round(const struct clock *c, uint64_t want, uint32_t flags)
{
	uint64_t lo = 0, hi = 0;

	if (!c->rates) {
		if (want < c->min || want > c->max)
			return 0;
		lo = c->min + (want - c->min) / c->step * c->step;
		hi = lo == want ? lo : lo + c->step;
		if (hi > c->max)
			hi = lo;
	} else {
		for (uint32_t i = 0; i < c->num_rates; i++) {
			if (c->rates[i] <= want)
				lo = c->rates[i];
			if (c->rates[i] >= want && !hi)
				hi = c->rates[i];
		}
	}
	if (flags & RATE_SET_ROUND_AUTO) {
		if (!lo || !hi)
			return lo ? lo : hi;
		return want - lo <= hi - want ? lo : hi;
	}
	return flags & RATE_SET_ROUND_UP ? hi : lo;
}

static int32_t clock_rate_set(const uint8_t *in, size_t in_len, struct resp *r)
{
	struct clock *c = clock_arg(in + 4, in_len >= 4 ? in_len - 4 : 0, 4);
	uint32_t flags;
	uint64_t want, rate;

	(void)r;
	if (in_len < 16)
		return SCMI_PROTOCOL_ERROR;
	if (!c)
		return SCMI_NOT_FOUND;
	flags = le32_load(in);
	if (flags & RATE_SET_ASYNC)
		return SCMI_NOT_SUPPORTED;	/* we said: no async requests */
	want = le32_load(in + 8) | (uint64_t)le32_load(in + 12) << 32;
	rate = clock_round(c, want, flags);
	if (!rate) {
		tz_log(1, "scmi: clock %s: rate %lu out of range\n", c->name, want);
		return SCMI_OUT_OF_RANGE;
	}
	tz_log(1, "scmi: clock %s rate %lu -> %lu (asked %lu)\n", c->name, c->rate,
	       rate, want);
	c->rate = rate;
	return SCMI_SUCCESS;
}

static int32_t clock_rate_get(const uint8_t *in, size_t in_len, struct resp *r)
{
	struct clock *c = clock_arg(in, in_len, 4);

	if (in_len < 4)
		return SCMI_PROTOCOL_ERROR;
	if (!c)
		return SCMI_NOT_FOUND;
	r64(r, c->rate);
	return SCMI_SUCCESS;
}

/* id, attributes ([1:0] 0 off, 1 on, 3 unchanged; [23:16] OEM type),
 * then (v2.1+) an OEM value, which we do not use. */
static int32_t clock_config_set(const uint8_t *in, size_t in_len, struct resp *r)
{
	struct clock *c = clock_arg(in, in_len, 8);
	uint32_t attr;

	(void)r;
	if (in_len < 8)
		return SCMI_PROTOCOL_ERROR;
	if (!c)
		return SCMI_NOT_FOUND;
	attr = le32_load(in + 4);
	if ((attr >> 16) & 0xff)
		return SCMI_NOT_SUPPORTED;	/* no OEM configs */
	switch (attr & 3) {
	case 0:
	case 1:
		if (c->enabled != (attr & 1))
			tz_log(1, "scmi: clock %s %s\n", c->name,
			       attr & 1 ? "enabled" : "disabled");
		c->enabled = attr & 1;
		return SCMI_SUCCESS;
	case 3:
		return SCMI_SUCCESS;
	default:
		return SCMI_INVALID_PARAMETERS;
	}
}

static int32_t clock_config_get(const uint8_t *in, size_t in_len, struct resp *r)
{
	struct clock *c = clock_arg(in, in_len, 8);

	if (in_len < 8)
		return SCMI_PROTOCOL_ERROR;
	if (!c)
		return SCMI_NOT_FOUND;
	if (le32_load(in + 4) & 0xff)
		return SCMI_NOT_SUPPORTED;	/* OEM config requested */
	r32(r, 0);			/* attributes: reserved */
	r32(r, c->enabled);		/* config: bit 0 enabled */
	r32(r, 0);			/* OEM value */
	return SCMI_SUCCESS;
}

static const scmi_msg_fn clock_msgs[] = {
	[MSG_PROTOCOL_ATTRIBUTES] = clock_proto_attributes,
	[CLOCK_ATTRIBUTES] = clock_attributes,
	[CLOCK_DESCRIBE_RATES] = clock_describe_rates,
	[CLOCK_RATE_SET] = clock_rate_set,
	[CLOCK_RATE_GET] = clock_rate_get,
	[CLOCK_CONFIG_SET] = clock_config_set,
	[CLOCK_CONFIG_GET] = clock_config_get,
};

/* ---- sensor protocol (0x15) ---------------------------------------- */

#define SENSOR_DESCRIPTION_GET	0x3
#define SENSOR_READING_GET	0x6
#define SENSOR_CONFIG_GET	0x9
#define SENSOR_CONFIG_SET	0xa
#define SENSOR_READ_ASYNC	(1u << 0)
#define SENSOR_CFG_ENABLED	(1u << 0)

#define SENSOR_TEMPERATURE_C	0x2	/* enum scmi_sensor_class */
#define SENSOR_VOLTAGE		0x5

struct sensor {
	const char *name;
	uint8_t type;
	int8_t scale;			/* value * 10^scale units */
	int64_t base, step;
	uint32_t period;
	uint32_t reads;			/* READING_GETs answered so far */
	uint32_t config;		/* CONFIG_SET/GET: bit 0 enabled */
};

/* docs/scmi-optee.md and tests/tz/test_scmi_optee.py repeat this model. */
static struct sensor sensors[] = {
	{ "soc_thermal", SENSOR_TEMPERATURE_C, -3, 45000, 250, 8, 0, SENSOR_CFG_ENABLED },
	{ "ddr_thermal", SENSOR_TEMPERATURE_C, -3, 38000, 500, 4, 0, SENSOR_CFG_ENABLED },
	{ "vdd_core", SENSOR_VOLTAGE, -3, 800, 25, 5, 0, SENSOR_CFG_ENABLED },
};

#define SENSOR_DESC_SIZE	28	/* v1: id, attributes low/high, name */
#define SENSORS_PER_ANSWER	3	/* 4 + 3 * 28 = 88 <= SCMI_MAX_RESPONSE - 4 */

static int32_t sensor_proto_attributes(const uint8_t *in, size_t in_len, struct resp *r)
{
	(void)in, (void)in_len;
	/* [15:0] sensors, [23:16] max pending async reads; then the
	 * address and size of a shared event log: none. */
	r32(r, ARRAY_SIZE(sensors));
	r32(r, 0);
	r32(r, 0);
	r32(r, 0);
	return SCMI_SUCCESS;
}

static int32_t sensor_description_get(const uint8_t *in, size_t in_len, struct resp *r)
{
	uint32_t idx, n;

	if (in_len < 4)
		return SCMI_PROTOCOL_ERROR;
	idx = le32_load(in);
	if (idx > ARRAY_SIZE(sensors))
		return SCMI_INVALID_PARAMETERS;
	n = ARRAY_SIZE(sensors) - idx;
	if (n > SENSORS_PER_ANSWER)
		n = SENSORS_PER_ANSWER;
	le16_store(r->buf + r->len, (uint16_t)n);
	le16_store(r->buf + r->len + 2, (uint16_t)(ARRAY_SIZE(sensors) - idx - n));
	r->len += 4;
	for (uint32_t i = idx; i < idx + n; i++) {
		const struct sensor *s = &sensors[i];

		r32(r, i);
		r32(r, 0);	/* low: synchronous reads, no trip points */
		/* high: [15:11] scale (5-bit two's complement), [7:0] type */
		r32(r, ((uint32_t)s->scale & 0x1f) << 11 | s->type);
		rname(r, s->name);
	}
	return SCMI_SUCCESS;
}

static int32_t sensor_reading_get(const uint8_t *in, size_t in_len, struct resp *r)
{
	struct sensor *s;
	int64_t v;
	uint32_t id;

	if (in_len < 8)
		return SCMI_PROTOCOL_ERROR;
	id = le32_load(in);
	if (id >= ARRAY_SIZE(sensors))
		return SCMI_NOT_FOUND;
	if (le32_load(in + 4) & SENSOR_READ_ASYNC)
		return SCMI_NOT_SUPPORTED;
	s = &sensors[id];
	v = s->base + s->step * (int64_t)(s->reads % s->period);
	tz_log(2, "scmi: sensor %s reading #%u = %ld\n", s->name, s->reads, v);
	s->reads++;
	r64(r, (uint64_t)v);
	return SCMI_SUCCESS;
}

/*
 * CONFIG_GET/SET are sensor v2.0+ messages, but Linux's hwmon driver
 * enables every temperature sensor with CONFIG_SET whatever the version
 * (and logs an error if that fails).  The configuration is kept and
 * reported back; readings do not depend on it.
 */
static int32_t sensor_config_get(const uint8_t *in, size_t in_len, struct resp *r)
{
	uint32_t id;

	if (in_len < 4)
		return SCMI_PROTOCOL_ERROR;
	id = le32_load(in);
	if (id >= ARRAY_SIZE(sensors))
		return SCMI_NOT_FOUND;
	r32(r, sensors[id].config);
	return SCMI_SUCCESS;
}

static int32_t sensor_config_set(const uint8_t *in, size_t in_len, struct resp *r)
{
	uint32_t id;

	(void)r;
	if (in_len < 8)
		return SCMI_PROTOCOL_ERROR;
	id = le32_load(in);
	if (id >= ARRAY_SIZE(sensors))
		return SCMI_NOT_FOUND;
	sensors[id].config = le32_load(in + 4);
	return SCMI_SUCCESS;
}

static const scmi_msg_fn sensor_msgs[] = {
	[MSG_PROTOCOL_ATTRIBUTES] = sensor_proto_attributes,
	[SENSOR_DESCRIPTION_GET] = sensor_description_get,
	[SENSOR_READING_GET] = sensor_reading_get,
	[SENSOR_CONFIG_GET] = sensor_config_get,
	[SENSOR_CONFIG_SET] = sensor_config_set,
};

/* ---- dispatch ------------------------------------------------------ */

static const struct scmi_protocol protocols[] = {
	{ 0x10, 0x20000, base_msgs, ARRAY_SIZE(base_msgs) },
	{ 0x11, 0x30000, power_msgs, ARRAY_SIZE(power_msgs) },
	{ 0x14, 0x30000, clock_msgs, ARRAY_SIZE(clock_msgs) },
	{ 0x15, 0x10000, sensor_msgs, ARRAY_SIZE(sensor_msgs) },
};

static const struct scmi_protocol *find_protocol(uint32_t id)
{
	for (size_t i = 0; i < ARRAY_SIZE(protocols); i++)
		if (protocols[i].id == id)
			return &protocols[i];
	return NULL;
}

static bool msg_implemented(const struct scmi_protocol *p, uint32_t msg)
{
	if (msg == MSG_PROTOCOL_VERSION || msg == MSG_PROTOCOL_MESSAGE_ATTRIBUTES)
		return true;
	return msg < p->num_msgs && p->msgs[msg];
}

static int32_t dispatch(uint32_t hdr, const uint8_t *in, size_t in_len, struct resp *r)
{
	const struct scmi_protocol *p = find_protocol(SCMI_HDR_PROTO(hdr));
	uint32_t msg = SCMI_HDR_MSG_ID(hdr);

	if (SCMI_HDR_TYPE(hdr) != 0)	/* only commands come this way */
		return SCMI_PROTOCOL_ERROR;
	if (!p || !msg_implemented(p, msg))
		return SCMI_NOT_SUPPORTED;
	if (msg == MSG_PROTOCOL_VERSION) {
		r32(r, p->version);
		return SCMI_SUCCESS;
	}
	if (msg == MSG_PROTOCOL_MESSAGE_ATTRIBUTES) {
		if (in_len < 4)
			return SCMI_PROTOCOL_ERROR;
		if (!msg_implemented(p, le32_load(in)))
			return SCMI_NOT_FOUND;
		r32(r, 0);	/* no fast channels */
		return SCMI_SUCCESS;
	}
	return p->msgs[msg](in, in_len, r);
}

size_t scmi_process(uint32_t hdr, const uint8_t *in, size_t in_len, uint8_t *out)
{
	struct resp r = { out, 4 };
	int32_t status = dispatch(hdr, in, in_len, &r);

	if (status != SCMI_SUCCESS || r.len > SCMI_MAX_RESPONSE) {
		if (status == SCMI_SUCCESS)
			status = SCMI_PROTOCOL_ERROR;	/* a bug of ours */
		r.len = 4;
	}
	put_le32(out, (uint32_t)status);
	/* Unknown commands at level 1: a new Linux requirement shows. */
	tz_log(status == SCMI_NOT_SUPPORTED ? 1 : 2, "scmi: proto 0x%x msg 0x%x -> %d (%u bytes)\n",
	       SCMI_HDR_PROTO(hdr), SCMI_HDR_MSG_ID(hdr), status, (unsigned int)r.len);
	return r.len;
}
