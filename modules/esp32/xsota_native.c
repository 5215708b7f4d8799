/*
 * The one native module of xs-ota: thin xsmc functions, each over one or two
 * ESP-IDF calls. All policy lives in TypeScript; this file only reaches what
 * JavaScript cannot. The same file is compiled into the virtual board, where
 * ESP-IDF is emulated (host/vboard/idf/), so it runs in CI.
 *
 * The XS machine internals (xsAll.h) are read for heap statistics, which the
 * public xsmc API does not expose.
 */

#include "xsAll.h"
#include "xsmc.h"
#ifdef ESP_PLATFORM
#include "mc.xs.h" /* xsID_* of the device build */
#endif

#include <stdio.h>
#include <string.h>

/*
 * On the device, xsl generates the xsID_* constants (mc.xs.h); the virtual
 * board parses at run time, so it looks the same keys up by name.
 */
#ifndef xsID_version
#define xsID_version xsID("version")
#define xsID_projectName xsID("projectName")
#define xsID_date xsID("date")
#define xsID_time xsID("time")
#define xsID_idfVersion xsID("idfVersion")
#define xsID_elfSha256 xsID("elfSha256")
#define xsID_size xsID("size")
#define xsID_used xsID("used")
#define xsID_peak xsID("peak")
#endif

#include "esp_app_desc.h"
#include "esp_mac.h"
#include "esp_system.h"
#include "esp_timer.h"

void xs_ota_restart(xsMachine *the)
{
	(void)the;
	esp_restart();
}

void xs_ota_uptime_us(xsMachine *the)
{
	/* A double holds microseconds exactly for 285 years of uptime. */
	xsmcSetNumber(xsResult, (double)esp_timer_get_time());
}

void xs_ota_mac(xsMachine *the)
{
	uint8_t mac[6];
	char text[13];
	if (esp_read_mac(mac, ESP_MAC_WIFI_STA) != ESP_OK)
		xsUnknownError("cannot read the MAC address");
	snprintf(text, sizeof(text), "%02X%02X%02X%02X%02X%02X", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
	xsmcSetString(xsResult, text);
}

/* Copy a fixed-size, maybe unterminated, descriptor field into a JS string. */
static void set_field(xsMachine *the, xsIndex id, const char *field, size_t size)
{
	char text[64];
	size_t n = strnlen(field, size < sizeof(text) ? size : sizeof(text) - 1);
	memcpy(text, field, n);
	text[n] = 0;
	xsmcSetString(xsVar(0), text);
	xsmcSet(xsResult, id, xsVar(0));
}

void xs_ota_app_description(xsMachine *the)
{
	const esp_app_desc_t *desc = esp_app_get_description();
	char sha[65];
	int i;
	for (i = 0; i < 32; i++)
		snprintf(sha + 2 * i, 3, "%02x", desc->app_elf_sha256[i]);
	xsmcVars(1);
	xsmcSetNewObject(xsResult);
	set_field(the, xsID_version, desc->version, sizeof(desc->version));
	set_field(the, xsID_projectName, desc->project_name, sizeof(desc->project_name));
	set_field(the, xsID_date, desc->date, sizeof(desc->date));
	set_field(the, xsID_time, desc->time, sizeof(desc->time));
	set_field(the, xsID_idfVersion, desc->idf_ver, sizeof(desc->idf_ver));
	set_field(the, xsID_elfSha256, sha, sizeof(sha));
}

/*
 * XS heap in bytes: slots plus chunks. `size` is what the machine has taken
 * from the system (fixed at creation on the device), `peak` the most ever in use.
 */
void xs_ota_heap(xsMachine *the)
{
	txMachine *m = (txMachine *)the;
	double slot = (double)sizeof(txSlot);
	xsmcVars(1);
	xsmcSetNewObject(xsResult);
	xsmcSetNumber(xsVar(0), (double)m->maximumHeapCount * slot + (double)m->maximumChunksSize);
	xsmcSet(xsResult, xsID_size, xsVar(0));
	xsmcSetNumber(xsVar(0), (double)m->currentHeapCount * slot + (double)m->currentChunksSize);
	xsmcSet(xsResult, xsID_used, xsVar(0));
	xsmcSetNumber(xsVar(0), (double)m->peakHeapCount * slot + (double)m->peakChunksSize);
	xsmcSet(xsResult, xsID_peak, xsVar(0));
}
