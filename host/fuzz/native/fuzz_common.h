/*
 * What the native fuzz targets share: an in-memory flash for the emulated
 * ESP-IDF (a memfd that vb_flash opens through /proc/self/fd), a small
 * partition layout, builders of valid app images / otadata entries, and the
 * independent references the targets compare against (OpenSSL's SHA-1 and
 * SHA-256, a bitwise CRC-32, an app image checker written from the ESP-IDF
 * rules rather than from vb_image.c).
 *
 * Nothing here is compiled into the virtual board; it is test code.
 */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "esp_app_desc.h"
#include "esp_app_format.h"
#include "esp_flash_partitions.h"
#include "esp_image_format.h"
#include "vb_idf.h"

/* ---- the fuzz board's flash: 192 KB, the virtual board's layout made small -------------- */
#define FZ_FLASH_SIZE 0x30000u
#define FZ_TABLE_OFF 0x8000u
#define FZ_NVS_OFF 0x9000u
#define FZ_NVS_SIZE 0x4000u
#define FZ_OTADATA_OFF 0xd000u
#define FZ_OTA0_OFF 0x10000u
#define FZ_OTA1_OFF 0x20000u
#define FZ_SLOT_SIZE 0x10000u

extern const vb_partition_def_t fz_partitions[];
extern const int fz_partition_count;

/* A check that failed is a finding: say what (on the original stderr, which libFuzzer's
   -close_fd_mask=2 keeps for itself and the sanitizers), then abort() so that libFuzzer keeps
   the input. */
void fz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 4, 5)));
#define FZ_CHECK(cond, ...)                                    \
    do {                                                       \
        if (!(cond)) {                                         \
            fz_fail(__FILE__, __LINE__, #cond, __VA_ARGS__);   \
        }                                                      \
    } while (0)

/* Called from LLVMFuzzerInitialize. The board's UART (stdout) goes to /dev/null unless
   FUZZ_VERBOSE=1; the references check themselves once. With FUZZ_SEED_DIR=<dir> in the
   environment, the target writes its seed inputs there (fz_write_seeds) and the process exits. */
void fz_init(void);
/* Each target defines it: valid (and a few boundary) inputs, made by the builders below. */
void fz_write_seeds(const char *dir);
void fz_seed(const char *dir, const char *name, const void *data, size_t len);

/* Fresh 192 KB of erased flash (0xFF) with the layout's partition table, in buf. */
void fz_flash_template(uint8_t *buf);
/* Makes buf (FZ_FLASH_SIZE bytes) the board's flash and brings the emulated ESP-IDF up on it
   (vb_idf_init: a power-on; nothing booted yet). Aborts if that fails. */
void fz_flash_load(const uint8_t *buf, size_t size);
/* A reset: vb_idf_init again on the same flash contents. */
void fz_flash_reboot(void);
/* The flash as it is now (size bytes from 0), read around the emulation. */
void fz_flash_snapshot(uint8_t *buf, size_t size);
size_t fz_flash_size(void);

/* ---- builders ---------------------------------------------------------------------------- */
/* A valid ESP32 app image as fwpack makes it: header, segment 0 = esp_app_desc_t (DROM),
   segment 1 = payload (DRAM), checksum, SHA-256 appended when hash. Returns its length,
   0 if cap is too small. The payload bytes are derived from `fill`. */
size_t fz_build_image(uint8_t *out, size_t cap, const char *version, size_t payload_len, uint8_t fill, bool hash);
/* An otadata entry {seq, state} with its crc (0xFF in seq_label, as ESP-IDF leaves it). */
esp_ota_select_entry_t fz_otadata_entry(uint32_t seq, uint32_t state);

/* ---- checksum fix-ups ------------------------------------------------------------------------
 * Inputs carry a flag to have their checksums recomputed after mutation, so that the fuzzer
 * reaches the checks behind them (segments, states, rows) instead of stopping at the crc. */
/* The image checksum byte (and the appended SHA-256 when the header asks for it), if the
   segments as the header describes them end inside the buffer. */
void fz_fix_image(uint8_t *img, size_t len, bool checksum, bool sha);
/* The MD5 row of a partition table: the first row with magic 0xEBEB gets the MD5 of the rows
   before it. */
void fz_fix_table_md5(uint8_t *table, size_t len);

/* ---- references ----------------------------------------------------------------------------- */
void fz_ref_sha1(const void *data, size_t len, uint8_t out[20]);
void fz_ref_sha256(const void *data, size_t len, uint8_t out[32]);
/* zlib's crc32(crc, buf, len): what esp_rom_crc32_le computes. */
uint32_t fz_ref_crc32(uint32_t crc, const uint8_t *buf, size_t len);

typedef struct {
    bool ok;
    uint32_t image_len;      /* header .. padding (+ 32 when hash appended) */
    uint8_t segment_count;
    uint32_t seg_data[ESP_IMAGE_MAX_SEGMENTS];   /* flash address of each segment's data */
    uint32_t seg_len[ESP_IMAGE_MAX_SEGMENTS];
    bool hash_appended;
    bool has_app_desc;       /* esp_app_desc_t magic at offset 32 */
    const char *why;         /* first rule broken */
} fz_ref_image_t;
/* ESP-IDF v5.5.1's esp_image_verify for an ESP32 app (chip v3.1), written from the rules in
   host/vboard/idf/README.md over a plain buffer of the whole flash. */
fz_ref_image_t fz_ref_image_verify(const uint8_t *flash, size_t flash_size, uint32_t part_off, uint32_t part_size);

/* ---- input reading ------------------------------------------------------------------------- */
typedef struct {
    const uint8_t *p;
    size_t left;
} fz_reader_t;
uint8_t fz_u8(fz_reader_t *r);     /* 0 once the input is used up */
uint16_t fz_u16(fz_reader_t *r);
uint32_t fz_u32(fz_reader_t *r);
/* Up to n bytes; returns how many were available. */
size_t fz_bytes(fz_reader_t *r, void *out, size_t n);

#endif
