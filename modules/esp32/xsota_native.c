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
#define xsID_state xsID("state")
#define xsID_valid xsID("valid")
#define xsID_sha1 xsID("sha1")
#define xsID_sha256 xsID("sha256")
#endif

/*
 * ESP-IDF headers as Moddable's module include path finds them: bare where
 * the component's include directory is on its list (make.esp32.mk), else
 * through $(IDF_PATH)/components, as Moddable's own C does. The virtual
 * board's emulated headers sit at the same names (host/vboard/idf/include).
 */
#include "app_update/include/esp_ota_ops.h"
#include "esp_app_desc.h"
#include "esp_image_format.h"
#include "esp_log.h"
#include "esp_mac.h"
#include "esp_partition.h"
#include "esp_rom_crc.h"
#include "esp_system.h"
#include "esp_timer.h"
#include "nvs_flash/include/nvs.h"
#include "nvs_flash/include/nvs_flash.h"

#include "xsota_sha.h"

#define NVS_NAMESPACE "xsota"
/* Flash is read in pieces this big when hashing: small enough for any stack. */
#define READ_CHUNK 1024

/* Throw a JS error that names the ESP-IDF call and its error. */
static void check(xsMachine *the, esp_err_t err, const char *what)
{
	if (err != ESP_OK)
		xsUnknownError("%s: %s (0x%x)", what, esp_err_to_name(err), (unsigned)err);
}

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
 * The virtual board's cap on the XS heap, when it sets one (its XS host
 * defines this); undefined, hence NULL, on the device.
 */
extern size_t vb_heap_ceiling(void) __attribute__((weak));

/*
 * What the virtual board counts as flash: XS's built-ins, which it creates
 * in its heap at boot where the device has them in flash (0 on the device).
 */
extern size_t vb_heap_rom(void) __attribute__((weak));

/*
 * What a slot counts for in the heap figures: its size here. The virtual
 * board's 64-bit build defines it as the ESP32's 16 bytes, so that its
 * figures and its cap mean the device's budget.
 */
#ifndef XS_OTA_HEAP_SLOT_BYTES
#define XS_OTA_HEAP_SLOT_BYTES sizeof(txSlot)
#endif

/*
 * XS heap in bytes: slots plus chunks. `size` is what the machine may use:
 * on the device what it took from the system at creation, on the virtual
 * board (whose heap grows on demand) its cap. `peak` is the most ever in use.
 * `used` is what is live: garbage is collected first, or it would count
 * until the next collection happens to run.
 */
void xs_ota_heap(xsMachine *the)
{
	txMachine *m = (txMachine *)the;
	double slot = (double)XS_OTA_HEAP_SLOT_BYTES;
	double ceiling = vb_heap_ceiling ? (double)vb_heap_ceiling() : 0;
	double rom = vb_heap_rom ? (double)vb_heap_rom() : 0;
	xsCollectGarbage();
	xsmcVars(1);
	xsmcSetNewObject(xsResult);
	xsmcSetNumber(xsVar(0), ceiling > 0 ? ceiling : (double)m->maximumHeapCount * slot + (double)m->maximumChunksSize);
	xsmcSet(xsResult, xsID_size, xsVar(0));
	xsmcSetNumber(xsVar(0), (double)m->currentHeapCount * slot + (double)m->currentChunksSize - rom);
	xsmcSet(xsResult, xsID_used, xsVar(0));
	xsmcSetNumber(xsVar(0), (double)m->peakHeapCount * slot + (double)m->peakChunksSize - rom);
	xsmcSet(xsResult, xsID_peak, xsVar(0));
}

/*
 * Whether `name` is already one of the machine's keys. XS never frees a key:
 * every property name it meets (JSON.parse, obj[name]) stays for the life of
 * the boot, so a client sending fresh names would fill the heap, or the key
 * table. Names from outside are checked with this, which creates nothing,
 * before they can become keys (sys/json-limits, sys/safe-keys).
 */
void xs_ota_is_name(xsMachine *the)
{
	xsmcSetBoolean(xsResult, xsIsID(xsmcToString(xsArg(0))));
}

/* ---- app slots: slot N is the partition ota_N ---------------------------- */

static const esp_partition_t *slot_partition(xsMachine *the, int slot)
{
	const esp_partition_t *p = NULL;
	if (slot >= 0 && slot < 16)
		p = esp_partition_find_first(ESP_PARTITION_TYPE_APP, (esp_partition_subtype_t)(ESP_PARTITION_SUBTYPE_APP_OTA_MIN + slot), NULL);
	if (!p)
		xsRangeError("no app slot %d", slot);
	return p;
}

static int partition_slot(const esp_partition_t *p)
{
	if (!p || p->type != ESP_PARTITION_TYPE_APP || p->subtype < ESP_PARTITION_SUBTYPE_APP_OTA_MIN || p->subtype > ESP_PARTITION_SUBTYPE_APP_OTA_MAX)
		return -1;
	return p->subtype - ESP_PARTITION_SUBTYPE_APP_OTA_MIN;
}

void xs_ota_slot_count(xsMachine *the)
{
	int n = 0;
	while (n < 16 && esp_partition_find_first(ESP_PARTITION_TYPE_APP, (esp_partition_subtype_t)(ESP_PARTITION_SUBTYPE_APP_OTA_MIN + n), NULL))
		n++;
	xsmcSetInteger(xsResult, n);
}

void xs_ota_running_slot(xsMachine *the)
{
	xsmcSetInteger(xsResult, partition_slot(esp_ota_get_running_partition()));
}

void xs_ota_boot_slot(xsMachine *the)
{
	xsmcSetInteger(xsResult, partition_slot(esp_ota_get_boot_partition()));
}

/*
 * {size, state, valid}: the slot's size, its otadata state (-1 when it has no
 * entry) and whether it holds an image ESP-IDF accepts (its app descriptor).
 */
void xs_ota_slot_info(xsMachine *the)
{
	const esp_partition_t *p = slot_partition(the, xsmcToInteger(xsArg(0)));
	esp_ota_img_states_t state;
	esp_app_desc_t desc;
	int stateValue = esp_ota_get_state_partition(p, &state) == ESP_OK ? (int)state : -1;
	xsmcVars(1);
	xsmcSetNewObject(xsResult);
	xsmcSetInteger(xsVar(0), (xsIntegerValue)p->size);
	xsmcSet(xsResult, xsID_size, xsVar(0));
	xsmcSetInteger(xsVar(0), stateValue);
	xsmcSet(xsResult, xsID_state, xsVar(0));
	xsmcSetBoolean(xsVar(0), esp_ota_get_partition_description(p, &desc) == ESP_OK);
	xsmcSet(xsResult, xsID_valid, xsVar(0));
	if (esp_ota_get_partition_description(p, &desc) == ESP_OK)
		set_field(the, xsID_version, desc.version, sizeof(desc.version));
}

/* Length of the valid image in a slot, -1 when it holds none (esp_image_verify). */
void xs_ota_image_length(xsMachine *the)
{
	const esp_partition_t *p = slot_partition(the, xsmcToInteger(xsArg(0)));
	esp_partition_pos_t pos = {.offset = p->address, .size = p->size};
	esp_image_metadata_t data;
	if (esp_image_verify(ESP_IMAGE_VERIFY_SILENT, &pos, &data) == ESP_OK)
		xsmcSetInteger(xsResult, (xsIntegerValue)data.image_len);
	else
		xsmcSetInteger(xsResult, -1);
}

/* Finish a context into a hex string. */
static void hex_digest(xsota_sha_t *sha, char hex[65])
{
	uint8_t digest[32];
	size_t i, n = xsota_sha_finish(sha, digest);
	for (i = 0; i < n; i++)
		snprintf(hex + 2 * i, 3, "%02x", digest[i]);
}

/* Finish a context into `slot` as a hex string. */
static void set_hex_digest(xsMachine *the, xsota_sha_t *sha, xsSlot *slot)
{
	char hex[65];
	hex_digest(sha, hex);
	xsmcSetString(*slot, hex);
}

/*
 * The image write in progress (one at a time, as the updater allows):
 * esp_ota_write gets whole flash sectors, the last write excepted. Callers
 * hand over pieces of any length (a download's are about a TCP segment), and
 * a page a write starts inside is programmed a second time; a sector is a
 * whole number of pages on any SPI NOR flash. The bytes are hashed as they
 * pass, for the digests a package's manifest gives. The block lives here,
 * off the XS heap, and is copied with memcpy.
 */
#define WRITE_BLOCK 4096

typedef struct {
	esp_ota_handle_t handle;
	size_t used;
	int sha1, sha256; /* which digests are taken */
	xsota_sha_t shas[2]; /* [0] SHA-1, [1] SHA-256 */
	uint8_t block[WRITE_BLOCK];
} image_write_t;

static image_write_t *image_write;

static void image_write_close(void)
{
	c_free(image_write);
	image_write = NULL;
}

/*
 * Start writing an image of `size` bytes (0: unknown) into a slot, hashing
 * it with SHA-1 and/or SHA-256 (arguments 2 and 3, truthy) as it passes;
 * returns the handle. Any other size is refused before esp_ota_begin erases:
 * a negative size or one of 2^31 or more would wrap into a size_t that
 * erases nothing (or means "unknown" / "sequential" by accident) and begin
 * would succeed.
 */
void xs_ota_begin(xsMachine *the)
{
	const esp_partition_t *p = slot_partition(the, xsmcToInteger(xsArg(0)));
	double requested = xsmcToNumber(xsArg(1));
	int sha1 = xsmcArgc > 2 && xsmcTest(xsArg(2));
	int sha256 = xsmcArgc > 3 && xsmcTest(xsArg(3));
	size_t size;
	esp_err_t err;
	if (!(requested >= 0 && requested <= p->size))
		xsRangeError("image size %g does not fit slot %d (%u bytes)", requested, partition_slot(p), (unsigned)p->size);
	if (image_write)
		xsUnknownError("an image write is already open");
	size = (size_t)requested;
	/* allocated before esp_ota_begin erases anything */
	image_write = c_malloc(sizeof(image_write_t));
	if (!image_write)
		xsUnknownError("no memory for the image write (%u bytes)", (unsigned)sizeof(image_write_t));
	image_write->used = 0;
	image_write->sha1 = sha1;
	image_write->sha256 = sha256;
	xsota_sha_start(&image_write->shas[0], 0);
	xsota_sha_start(&image_write->shas[1], 1);
	err = esp_ota_begin(p, size ? size : OTA_SIZE_UNKNOWN, &image_write->handle);
	if (err != ESP_OK)
		image_write_close();
	check(the, err, "esp_ota_begin");
	xsmcSetNumber(xsResult, (double)image_write->handle);
}

/*
 * Handles and seeds arrive as JS numbers. Converting a double that does not
 * fit (NaN, negative, >= 2^32) straight to an unsigned type is undefined in
 * C; xsmcToInteger is ECMAScript's ToInt32, defined for every number, and
 * its cast to uint32_t is ToUint32: exact for every value a handle or a
 * CRC can take.
 */
static uint32_t to_uint32(xsMachine *the, xsSlot *slot)
{
	return (uint32_t)xsmcToInteger(*slot);
}

/* The image write the handle names: there is one, and the handle is its. */
static image_write_t *open_image_write(xsMachine *the)
{
	esp_ota_handle_t handle = (esp_ota_handle_t)to_uint32(the, &xsArg(0));
	if (!image_write || image_write->handle != handle)
		xsUnknownError("no image write %u is open", (unsigned)handle);
	return image_write;
}

/* Hash and write bytes the block is not needed for (whole blocks) or holds. */
static esp_err_t write_through(image_write_t *w, const uint8_t *data, size_t length)
{
	if (w->sha1)
		xsota_sha_update(&w->shas[0], data, length);
	if (w->sha256)
		xsota_sha_update(&w->shas[1], data, length);
	return esp_ota_write(w->handle, data, length);
}

/*
 * Bytes of the image, any length: gathered into whole sectors. Whole
 * sectors of the caller's buffer that meet an empty block are written
 * straight from it.
 */
void xs_ota_write(xsMachine *the)
{
	image_write_t *w = open_image_write(the);
	void *buffer;
	xsUnsignedValue length;
	esp_err_t err = ESP_OK;
	xsmcGetBufferReadable(xsArg(1), &buffer, &length);
	const uint8_t *data = buffer;
	while (length > 0 && err == ESP_OK) {
		size_t take;
		if (w->used == 0 && length >= WRITE_BLOCK) {
			take = length - length % WRITE_BLOCK;
			err = write_through(w, data, take);
		} else {
			take = WRITE_BLOCK - w->used < length ? WRITE_BLOCK - w->used : length;
			memcpy(w->block + w->used, data, take);
			w->used += take;
			if (w->used == WRITE_BLOCK) {
				w->used = 0;
				err = write_through(w, w->block, WRITE_BLOCK);
			}
		}
		data += take;
		length -= take;
	}
	check(the, err, "esp_ota_write");
}

/*
 * Write what is left, finish and validate the image (esp_ota_end); returns
 * {sha1, sha256}, the hex digests taken of the bytes written (a digest not
 * asked for is absent). The write is closed whatever the outcome: ESP-IDF
 * frees its handle in esp_ota_end even when the image is refused.
 */
void xs_ota_end(xsMachine *the)
{
	image_write_t *w = open_image_write(the);
	char sha1[65] = "", sha256[65] = "";
	esp_err_t err = w->used ? write_through(w, w->block, w->used) : ESP_OK;
	if (err != ESP_OK) {
		esp_ota_abort(w->handle);
		image_write_close();
		check(the, err, "esp_ota_write");
	}
	err = esp_ota_end(w->handle);
	if (err == ESP_OK && w->sha1)
		hex_digest(&w->shas[0], sha1);
	if (err == ESP_OK && w->sha256)
		hex_digest(&w->shas[1], sha256);
	/* closed before anything that may throw */
	image_write_close();
	check(the, err, "esp_ota_end");
	xsmcVars(1);
	xsmcSetNewObject(xsResult);
	if (sha1[0]) {
		xsmcSetString(xsVar(0), sha1);
		xsmcSet(xsResult, xsID_sha1, xsVar(0));
	}
	if (sha256[0]) {
		xsmcSetString(xsVar(0), sha256);
		xsmcSet(xsResult, xsID_sha256, xsVar(0));
	}
}

void xs_ota_abort(xsMachine *the)
{
	image_write_t *w = open_image_write(the);
	esp_err_t err = esp_ota_abort(w->handle);
	image_write_close();
	check(the, err, "esp_ota_abort");
}

void xs_ota_set_boot_slot(xsMachine *the)
{
	check(the, esp_ota_set_boot_partition(slot_partition(the, xsmcToInteger(xsArg(0)))), "esp_ota_set_boot_partition");
}

void xs_ota_mark_valid(xsMachine *the)
{
	check(the, esp_ota_mark_app_valid_cancel_rollback(), "esp_ota_mark_app_valid_cancel_rollback");
}

/* Returns only on failure: on success the board restarts into the other slot. */
void xs_ota_mark_invalid_and_reboot(xsMachine *the)
{
	check(the, esp_ota_mark_app_invalid_rollback_and_reboot(), "esp_ota_mark_app_invalid_rollback_and_reboot");
}

/* Bytes [offset, offset + length) of a slot, as an ArrayBuffer. */
void xs_ota_read(xsMachine *the)
{
	const esp_partition_t *p = slot_partition(the, xsmcToInteger(xsArg(0)));
	uint32_t offset = (uint32_t)xsmcToInteger(xsArg(1));
	uint32_t length = (uint32_t)xsmcToInteger(xsArg(2));
	if (offset > p->size || length > p->size - offset)
		xsRangeError("read beyond slot %d", partition_slot(p));
	xsmcSetArrayBuffer(xsResult, NULL, length);
	check(the, esp_partition_read(p, offset, xsmcToArrayBuffer(xsResult), length), "esp_partition_read");
}

/*
 * Hash [offset, offset + length) of a slot into each of `count` started
 * contexts, read back from flash once: what was written is what is checked,
 * never what was meant.
 */
static void digest_slot(xsMachine *the, xsota_sha_t *shas, int count)
{
	const esp_partition_t *p = slot_partition(the, xsmcToInteger(xsArg(0)));
	uint32_t offset = (uint32_t)xsmcToInteger(xsArg(1));
	uint32_t length = (uint32_t)xsmcToInteger(xsArg(2));
	uint8_t buf[READ_CHUNK];
	esp_err_t err = ESP_OK;
	uint32_t done = 0;
	int i;
	if (offset > p->size || length > p->size - offset)
		xsRangeError("digest beyond slot %d", partition_slot(p));
	while (done < length && err == ESP_OK) {
		uint32_t step = length - done < READ_CHUNK ? length - done : READ_CHUNK;
		err = esp_partition_read(p, offset + done, buf, step);
		if (err == ESP_OK)
			for (i = 0; i < count; i++)
				xsota_sha_update(&shas[i], buf, step);
		done += step;
	}
	check(the, err, "esp_partition_read");
}

/* Hex SHA-1 or SHA-256 ("sha1", "sha256") of [offset, offset + length) of a slot. */
void xs_ota_digest(xsMachine *the)
{
	const char *algorithm = xsmcToString(xsArg(3));
	int sha256 = !strcmp(algorithm, "sha256");
	xsota_sha_t sha;
	if (!sha256 && strcmp(algorithm, "sha1"))
		xsRangeError("no digest %s", algorithm);
	xsota_sha_start(&sha, sha256);
	digest_slot(the, &sha, 1);
	set_hex_digest(the, &sha, &xsResult);
}

/*
 * {sha1, sha256}: both hex digests of [offset, offset + length) of a slot
 * from one read of it, for a manifest that gives both.
 */
void xs_ota_digests(xsMachine *the)
{
	xsota_sha_t shas[2];
	xsota_sha_start(&shas[0], 0);
	xsota_sha_start(&shas[1], 1);
	digest_slot(the, shas, 2);
	xsmcVars(1);
	xsmcSetNewObject(xsResult);
	set_hex_digest(the, &shas[0], &xsVar(0));
	xsmcSet(xsResult, xsID_sha1, xsVar(0));
	set_hex_digest(the, &shas[1], &xsVar(0));
	xsmcSet(xsResult, xsID_sha256, xsVar(0));
}

/* zlib-style CRC-32 of a buffer, continuing from `seed` (the zip entries' check). */
void xs_ota_crc32(xsMachine *the)
{
	void *data;
	xsUnsignedValue length;
	uint32_t seed = to_uint32(the, &xsArg(1));
	xsmcGetBufferReadable(xsArg(0), &data, &length);
	xsmcSetNumber(xsResult, (double)esp_rom_crc32_le(seed, data, length));
}

/*
 * The app image checksum continued over a buffer: `seed` xor every byte.
 * ESP-IDF xors the segments' 32-bit words and folds the result to a byte;
 * folding each word first gives the same byte, whatever the buffer's length
 * or alignment (spec/esp-idf.md §5), so the image can arrive in any pieces.
 */
void xs_ota_image_checksum(xsMachine *the)
{
	void *data;
	xsUnsignedValue length, i;
	uint8_t sum = (uint8_t)to_uint32(the, &xsArg(1));
	xsmcGetBufferReadable(xsArg(0), &data, &length);
	for (i = 0; i < length; i++)
		sum ^= ((const uint8_t *)data)[i];
	xsmcSetInteger(xsResult, sum);
}

/* ---- the rollback timer -------------------------------------------------- */

static esp_timer_handle_t rollback_timer;

/*
 * Runs in the esp_timer task, never touches XS: an uncommitted image whose
 * time is up is marked invalid and the board boots the previous one. If that
 * fails, a plain restart still ends the trial, because the bootloader aborts
 * a PENDING_VERIFY image at the next boot.
 */
static void rollback_now(void *arg)
{
	(void)arg;
	ESP_LOGE("ota", "Update commit timeout expired, reverting");
	esp_ota_mark_app_invalid_rollback_and_reboot();
	esp_restart();
}

void xs_ota_rollback_timer_arm(xsMachine *the)
{
	double ms = xsmcToNumber(xsArg(0));
	int64_t us;
	/* beyond ~292,000 years the microseconds overflow int64 and the timer
	   would fire at once: refuse rather than revert the trial image now */
	if (!(ms >= 0 && ms <= 9.2e15))
		xsRangeError("rollback timer: %g ms out of range", ms);
	us = (int64_t)(ms * 1000.0);
	if (!rollback_timer) {
		esp_timer_create_args_t args = {.callback = rollback_now, .name = "ota_rollback"};
		check(the, esp_timer_create(&args, &rollback_timer), "esp_timer_create");
	}
	esp_timer_stop(rollback_timer); /* ESP_ERR_INVALID_STATE when not running: fine */
	check(the, esp_timer_start_once(rollback_timer, us), "esp_timer_start_once");
}

void xs_ota_rollback_timer_disarm(xsMachine *the)
{
	(void)the;
	if (rollback_timer)
		esp_timer_stop(rollback_timer);
}

/* ---- the NVS record: one blob per key in our namespace ------------------- */

static nvs_handle_t open_nvs(xsMachine *the)
{
	static int initialized;
	nvs_handle_t handle;
	if (!initialized) {
		check(the, nvs_flash_init(), "nvs_flash_init");
		initialized = 1;
	}
	check(the, nvs_open(NVS_NAMESPACE, NVS_READWRITE, &handle), "nvs_open");
	return handle;
}

/* The blob stored under a key, or undefined when there is none. */
void xs_ota_nvs_get(xsMachine *the)
{
	nvs_handle_t h = open_nvs(the);
	char *key = xsmcToString(xsArg(0));
	size_t length = 0;
	esp_err_t err = nvs_get_blob(h, key, NULL, &length);
	if (err == ESP_ERR_NVS_NOT_FOUND) {
		nvs_close(h);
		return;
	}
	if (err != ESP_OK) {
		nvs_close(h);
		check(the, err, "nvs_get_blob");
	}
	xsmcSetArrayBuffer(xsResult, NULL, length);
	key = xsmcToString(xsArg(0)); /* the allocation may have moved the string */
	err = nvs_get_blob(h, key, xsmcToArrayBuffer(xsResult), &length);
	nvs_close(h);
	check(the, err, "nvs_get_blob");
}

void xs_ota_nvs_set(xsMachine *the)
{
	nvs_handle_t h = open_nvs(the);
	void *data;
	xsUnsignedValue length;
	esp_err_t err;
	xsmcGetBufferReadable(xsArg(1), &data, &length);
	err = nvs_set_blob(h, xsmcToString(xsArg(0)), data, length);
	if (err == ESP_OK)
		err = nvs_commit(h);
	nvs_close(h);
	check(the, err, "nvs_set_blob");
}

void xs_ota_nvs_erase(xsMachine *the)
{
	nvs_handle_t h = open_nvs(the);
	esp_err_t err = nvs_erase_key(h, xsmcToString(xsArg(0)));
	if (err == ESP_OK)
		err = nvs_commit(h);
	nvs_close(h);
	if (err != ESP_ERR_NVS_NOT_FOUND)
		check(the, err, "nvs_erase_key");
}

/* ---- base64, for OTA.Write's data: decoded without a JS loop over bytes --- */

static int base64_value(char c)
{
	if (c >= 'A' && c <= 'Z') return c - 'A';
	if (c >= 'a' && c <= 'z') return c - 'a' + 26;
	if (c >= '0' && c <= '9') return c - '0' + 52;
	if (c == '+' || c == '-') return 62;
	if (c == '/' || c == '_') return 63;
	return -1;
}

/* Standard or URL-safe base64, padding optional; anything else is a RangeError. */
void xs_ota_base64_decode(xsMachine *the)
{
	const char *text = xsmcToString(xsArg(0));
	size_t length = strlen(text), count = 0, i;
	uint8_t *out;
	uint32_t bits = 0;
	int have = 0;
	while (length > 0 && text[length - 1] == '=')
		length--;
	for (i = 0; i < length; i++)
		if (base64_value(text[i]) < 0)
			xsRangeError("invalid base64 at %u", (unsigned)i);
	if (length % 4 == 1)
		xsRangeError("invalid base64 length");
	xsmcSetArrayBuffer(xsResult, NULL, length * 3 / 4);
	text = xsmcToString(xsArg(0)); /* the allocation may have moved the string */
	out = xsmcToArrayBuffer(xsResult);
	for (i = 0; i < length; i++) {
		bits = (bits << 6) | (uint32_t)base64_value(text[i]);
		have += 6;
		if (have >= 8) {
			have -= 8;
			out[count++] = (uint8_t)(bits >> have);
		}
	}
}
