// SPDX-License-Identifier: MIT
/*
 * Run-time configuration, so that one firmware binary covers every test:
 *
 *  1. defaults (a Radxa Dragon Q6A: 8192 x 4 KiB NOR, page 256);
 *  2. the file "tz-emulator.conf" in QEMU's working directory, if the
 *     semihosting command line is empty;
 *  3. otherwise the semihosting command line (-semihosting-config
 *     arg=KEY=VALUE,...), where "conf=PATH" reads a key=value file at
 *     that point.
 */
#include "board.h"
#include "config.h"
#include "optee.h"
#include "semihost.h"
#include "uart.h"

struct tz_config cfg;

static char file_buf[4096];
static char cmdline[1024];
static bool in_file;
static char bad[128];

static void config_defaults(void)
{
	memset(&cfg, 0, sizeof(cfg));
	strlcpy_(cfg.nor_path, "nor.img", sizeof(cfg.nor_path));
	cfg.total_blocks = 8192;
	cfg.block_size = 4096;
	cfg.page_size = 256;
	cfg.num_physical = 1;
	cfg.manufacturer_id = 0xef;	/* Winbond, as on the Q6A */
	cfg.serial_num = 0x5a5a0001;
	strlcpy_(cfg.fw_version, "tz-emulator-1.0", sizeof(cfg.fw_version));
	/* memory_type is char[5]: "NOR" plus NUL padding. */
	strlcpy_(cfg.memory_type, "NOR", sizeof(cfg.memory_type));
	strlcpy_(cfg.product_name, "W25Q256JW (emulated)", sizeof(cfg.product_name));
	cfg.write_mode = WRITE_AND;
	cfg.fail_count = 1;
	cfg.fail_status = 3;	/* STORAGE_ERROR */
	cfg.kernel_addr = DEFAULT_KERNEL_ADDR;
	cfg.dtb_addr = DEFAULT_DTB_ADDR;
	cfg.log_level = 1;
	cfg.boot_rule = BC_RULE_SETS;	/* the Q6A's most likely behaviour */
}

static bool set_bool(const char *v, bool *out)
{
	uint64_t n;

	if (!strcmp(v, "yes") || !strcmp(v, "on") || !strcmp(v, "true")) {
		*out = true;
		return true;
	}
	if (!strcmp(v, "no") || !strcmp(v, "off") || !strcmp(v, "false")) {
		*out = false;
		return true;
	}
	if (!parse_u64(v, &n) || n > 1)
		return false;
	*out = n;
	return true;
}

static bool load_file(const char *path, bool must_exist);

/* Text settings, truncated to their field (GET_INFO has fixed sizes). */
static const struct {
	const char *key;
	char *dst;
	size_t size;
} string_keys[] = {
	{ "nor", cfg.nor_path, sizeof(cfg.nor_path) },
	{ "memory_type", cfg.memory_type, sizeof(cfg.memory_type) },
	{ "product_name", cfg.product_name, sizeof(cfg.product_name) },
	{ "fw_version", cfg.fw_version, sizeof(cfg.fw_version) },
};

/* Apply one "key=value"; unknown keys are an error so typos do not
 * silently run a test with the wrong settings. */
static bool config_set(char *kv)
{
	char *v = kv;
	uint64_t n = 0;
	bool num, ok;

	while (*v && *v != '=')
		v++;
	if (!*v)
		return false;
	*v++ = '\0';
	num = parse_u64(v, &n);

	if (!strcmp(kv, "conf"))
		return !in_file && load_file(v, true);
	for (size_t i = 0; i < ARRAY_SIZE(string_keys); i++) {
		if (!strcmp(kv, string_keys[i].key)) {
			strlcpy_(string_keys[i].dst, v, string_keys[i].size);
			return true;
		}
	}
	if (!strcmp(kv, "write_mode")) {
		if (!strcmp(v, "and"))
			cfg.write_mode = WRITE_AND;
		else if (!strcmp(v, "overwrite") || !strcmp(v, "erase-first"))
			cfg.write_mode = WRITE_OVERWRITE;
		else
			return false;
		return true;
	}
	/* OP-TEE/SCMI failure knobs live with their code (optee.c). */
	if (optee_config_set(kv, v, &ok))
		return ok;
	if (!strcmp(kv, "el2"))
		return set_bool(v, &cfg.el2);
	if (!strcmp(kv, "el2_getinfo_ok"))
		return set_bool(v, &cfg.el2_getinfo_ok);
	if (!strcmp(kv, "fail_writes"))
		return set_bool(v, &cfg.fail_writes);
	if (!strcmp(kv, "read_only"))
		return set_bool(v, &cfg.read_only);
	if (!strcmp(kv, "boot_rule"))
		return bc_rule_parse(v, &cfg.boot_rule);
	if (!strcmp(kv, "boot_only"))
		return set_bool(v, &cfg.boot_only);
	if (!strcmp(kv, "log_uart")) {
		if (!strcmp(v, "secure"))
			cfg.log_secure_uart = true;
		else if (!strcmp(v, "console"))
			cfg.log_secure_uart = false;
		else
			return false;
		return true;
	}

	if (!num)
		return false;
	if (!strcmp(kv, "blocks"))
		cfg.total_blocks = n;
	else if (!strcmp(kv, "block_size"))
		cfg.block_size = (uint32_t)n;
	else if (!strcmp(kv, "page_size"))
		cfg.page_size = (uint32_t)n;
	else if (!strcmp(kv, "num_physical"))
		cfg.num_physical = (uint32_t)n;
	else if (!strcmp(kv, "manufacturer_id"))
		cfg.manufacturer_id = n;
	else if (!strcmp(kv, "serial_num"))
		cfg.serial_num = n;
	else if (!strcmp(kv, "fail_nth"))
		cfg.fail_nth = n;
	else if (!strcmp(kv, "erase_us"))
		cfg.erase_us = n;
	else if (!strcmp(kv, "program_us"))
		cfg.program_us = n;
	else if (!strcmp(kv, "fail_count"))
		cfg.fail_count = n;
	else if (!strcmp(kv, "fail_status"))
		cfg.fail_status = n;
	else if (!strcmp(kv, "power_cut_nth"))
		cfg.power_cut_nth = n;
	else if (!strcmp(kv, "power_cut_bytes"))
		cfg.power_cut_bytes = n;
	else if (!strcmp(kv, "kernel_addr"))
		cfg.kernel_addr = n;
	else if (!strcmp(kv, "dtb_addr"))
		cfg.dtb_addr = n;
	else if (!strcmp(kv, "log"))
		cfg.log_level = (unsigned int)n;
	else
		return false;
	return true;
}

/* Split on whitespace (command line) or newlines (file); '#' starts a
 * comment in files.  Values cannot contain spaces. */
static bool apply_text(char *s, bool is_file)
{
	while (*s) {
		char *tok;

		while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
			s++;
		if (!*s)
			break;
		if (is_file && *s == '#') {
			while (*s && *s != '\n')
				s++;
			continue;
		}
		tok = s;
		while (*s && *s != ' ' && *s != '\t' && *s != '\n' && *s != '\r')
			s++;
		if (*s)
			*s++ = '\0';
		/* config_set() splits the token at '=': keep a copy to report. */
		strlcpy_(bad, tok, sizeof(bad));
		if (!config_set(tok)) {
			log_printf("[tz] config: bad setting '%s'\n", bad);
			return false;
		}
	}
	return true;
}

static bool load_file(const char *path, bool must_exist)
{
	long fd = sh_open(path, SH_MODE_RB), len;
	bool ok;

	if (fd < 0) {
		if (must_exist)
			log_printf("[tz] config: cannot open %s\n", path);
		return !must_exist;
	}
	len = sh_flen(fd);
	if (len < 0 || (size_t)len >= sizeof(file_buf) ||
	    sh_read(fd, file_buf, (size_t)len) != 0) {
		log_printf("[tz] config: cannot read %s\n", path);
		sh_close(fd);
		return false;
	}
	sh_close(fd);
	file_buf[len] = '\0';
	in_file = true;	/* file_buf is parsed in place: no nested conf= */
	ok = apply_text(file_buf, true);
	in_file = false;
	return ok;
}

bool config_load(void)
{
	config_defaults();
	memset(cmdline, 0, sizeof(cmdline));
	if (sh_get_cmdline(cmdline, sizeof(cmdline)) != 0 || !cmdline[0])
		return load_file("tz-emulator.conf", false);
	return apply_text(cmdline, false);
}
