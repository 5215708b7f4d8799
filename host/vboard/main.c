/*
 * vboard: one boot of the virtual board (host/vboard/README.md).
 *
 *   vboard --flash FILE [--clock real|virtual] [--reset-reason poweron|sw|panic|rtcwdt]
 *          [--power-cut-at N [--power-cut-mode clean|torn]] [--mac AA:BB:CC:DD:EE:FF]
 *          [--mem-limit BYTES] [--config JSON] [--flash-timing off|typical]
 *   vboard --modules ARCHIVE [--clock real|virtual] [--mem-limit BYTES] [--config JSON]
 *   vboard --version
 *
 * --modules runs a module archive file directly, without flash and
 * bootloader: for testing the XS host on its own.
 * --config is the firmware's mc/config: a JSON object of flat settings
 * (strings, numbers, booleans), as mcconfig builds it into a device.
 * --flash-timing typical: flash operations take a W25Q32JV's typical times
 * on the board's clock (idf/README.md, "Flash timing"); off by default.
 */
#include "esp_idf_version.h"
#include "vb_boot.h"
#include "vb_host.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void vb_usage(const char *problem)
{
	fprintf(stderr, "vboard: %s\n"
		"usage: vboard --flash FILE [--clock real|virtual] [--reset-reason poweron|sw|panic|rtcwdt]\n"
		"              [--power-cut-at N [--power-cut-mode clean|torn]] [--mac AA:BB:CC:DD:EE:FF]\n"
		"              [--mem-limit BYTES] [--config JSON] [--flash-timing off|typical]\n"
		"       vboard --modules ARCHIVE [--clock real|virtual] [--mem-limit BYTES] [--config JSON]\n"
		"       vboard --version\n"
		"--config: mc/config, a JSON object of flat settings, e.g. '{\"httpPort\":8080,\"mqttServer\":\"127.0.0.1:1883\"}'\n", problem);
	exit(VB_EXIT_USAGE);
}

static unsigned long long vb_parse_number(const char *text, const char *option)
{
	char *end;
	unsigned long long value;
	errno = 0;
	value = strtoull(text, &end, 0);
	if (errno || end == text || *text == '-')
		goto bad;
	if (*end == 'k' || *end == 'K')
		value *= 1024, end++;
	else if (*end == 'm' || *end == 'M')
		value *= 1024 * 1024, end++;
	if (*end == 0)
		return value;
bad:
	fprintf(stderr, "vboard: %s: not a number: %s\n", option, text);
	vb_usage("bad option value");
	return 0;
}

static void vb_parse_mac(const char *text, uint8_t mac[6])
{
	unsigned int b[6];
	char tail;
	int i;
	if (sscanf(text, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5], &tail) != 6)
		vb_usage("--mac: expected AA:BB:CC:DD:EE:FF");
	for (i = 0; i < 6; i++)
		mac[i] = (uint8_t)b[i];
}

static uint8_t *vb_read_file(const char *path, size_t *size)
{
	FILE *file = fopen(path, "rb");
	uint8_t *data = NULL;
	long length;
	if (!file || fseek(file, 0, SEEK_END) || (length = ftell(file)) < 0 || fseek(file, 0, SEEK_SET))
		goto fail;
	data = malloc(length ? (size_t)length : 1);
	if (!data || fread(data, 1, (size_t)length, file) != (size_t)length)
		goto fail;
	fclose(file);
	*size = (size_t)length;
	return data;
fail:
	fprintf(stderr, "vboard: cannot read %s: %s\n", path, strerror(errno));
	exit(VB_EXIT_USAGE);
}

int main(int argc, char **argv)
{
	vb_config_t cfg = {
		.flash_path = NULL,
		.power_cut_at = 0,
		.power_cut_torn = 0,
		.virtual_clock = 0,
		.flash_timing = 0,
		.reset_reason = "poweron",
		.mac = { 0 },   /* none given: the idf layer derives one */
	};
	const char *modules_path = NULL;
	unsigned long long mem_limit = 0;
	const uint8_t *payload;
	size_t payload_size;
	int i, rc;

	for (i = 1; i < argc; i++) {
		const char *option = argv[i];
		const char *value = (i + 1 < argc) ? argv[i + 1] : NULL;
		if (!strcmp(option, "--help") || !strcmp(option, "-h"))
			vb_usage("help");
		if (!strcmp(option, "--version")) {
			/* The supervisor runs this first: a board program that cannot start says so here. */
			printf("vboard %d-bit: %s, emulated ESP-IDF %s\n", (int)(sizeof(void *) * 8), vb_xs_version(), esp_get_idf_version());
			return 0;
		}
		if (strncmp(option, "--", 2))
			vb_usage("unexpected argument");
		if (!value)
			vb_usage("option without a value");
		i++;
		if (!strcmp(option, "--flash"))
			cfg.flash_path = value;
		else if (!strcmp(option, "--modules"))
			modules_path = value;
		else if (!strcmp(option, "--clock")) {
			if (!strcmp(value, "virtual"))
				cfg.virtual_clock = 1;
			else if (strcmp(value, "real"))
				vb_usage("--clock: real or virtual");
		}
		else if (!strcmp(option, "--flash-timing")) {
			if (!strcmp(value, "typical"))
				cfg.flash_timing = 1;
			else if (strcmp(value, "off"))
				vb_usage("--flash-timing: off or typical");
		}
		else if (!strcmp(option, "--reset-reason")) {
			if (strcmp(value, "poweron") && strcmp(value, "sw") && strcmp(value, "panic") && strcmp(value, "rtcwdt"))
				vb_usage("--reset-reason: poweron, sw, panic or rtcwdt");
			cfg.reset_reason = value;
		}
		else if (!strcmp(option, "--power-cut-at")) {
			unsigned long long n = vb_parse_number(value, option);
			if (n < 1 || n > 0x7fffffff)
				vb_usage("--power-cut-at: a flash operation number from 1");
			cfg.power_cut_at = (int)n;
		}
		else if (!strcmp(option, "--power-cut-mode")) {
			if (strcmp(value, "clean") && strcmp(value, "torn"))
				vb_usage("--power-cut-mode: clean or torn");
			cfg.power_cut_torn = !strcmp(value, "torn");
		}
		else if (!strcmp(option, "--config")) {
			const char *problem = vb_mc_config_set(value);
			if (problem) {
				fprintf(stderr, "vboard: --config: %s\n", problem);
				vb_usage("--config: a JSON object of strings, numbers and booleans");
			}
		}
		else if (!strcmp(option, "--mac"))
			vb_parse_mac(value, cfg.mac);
		else if (!strcmp(option, "--mem-limit")) {
			mem_limit = vb_parse_number(value, option);
			if (!mem_limit || mem_limit > (size_t)-1)
				vb_usage("--mem-limit: a positive number of bytes");
		}
		else
			vb_usage("unknown option");
	}
	if (!cfg.flash_path == !modules_path)
		vb_usage("give either --flash or --modules");

	rc = vb_idf_init(&cfg);
	if (rc)
		return rc;
	if (modules_path)
		payload = vb_read_file(modules_path, &payload_size);
	else {
		rc = vb_bootloader_boot(&payload, &payload_size);
		if (rc)
			return rc;
	}
	vb_xs_run(payload, payload_size, (size_t)mem_limit);
}
