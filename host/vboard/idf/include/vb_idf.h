/*
 * What the virtual board adds to the emulated ESP-IDF: the clock and timer
 * hooks of the run loop, fault injection and statistics of the flash, the
 * firmware payload of an app image, and helpers for tools and tests.
 * Device code never includes this; the host (main.c, xs/) and tests do.
 */
#ifndef VB_IDF_H
#define VB_IDF_H

#include <stddef.h>
#include <stdint.h>
#include "vb_boot.h"
#include "esp_err.h"
#include "esp_flash_partitions.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- clock and esp_timer, for the run loop ---------------------------------
 * One clock for esp_timer_get_time, esp_timer alarms and log timestamps.
 * Real: microseconds of CLOCK_MONOTONIC since vb_idf_init. Virtual: starts at
 * 0 and moves only through vb_clock_advance_to.
 */
int64_t vb_clock_now_us(void);
int vb_clock_is_virtual(void);
/* Virtual clock: set to us if later than now (time never goes back). Real clock: no effect. */
void vb_clock_advance_to(int64_t us);
/* Alarm time (clock microseconds) of the earliest armed esp_timer, INT64_MAX if none. */
int64_t vb_timers_next_due_us(void);
/* Fires, in alarm order, every callback due at the current clock (periodic timers re-arm,
   and fire again in the same call if they are still due, as esp_timer catches up). */
void vb_timers_run_due(void);

/* ---- flash ---------------------------------------------------------------- */
#define VB_FLASH_SECTOR_SIZE 0x1000u
#define VB_FLASH_BLOCK_SIZE 0x10000u
#define VB_FLASH_DEFAULT_SIZE 0x400000u

typedef struct {
    uint64_t ops;             /* counted operations: writes + erase commands (what --power-cut-at counts) */
    uint64_t writes;
    uint64_t write_bytes;
    uint64_t erases;          /* erase commands: one per 4 KB sector or 64 KB block */
    uint64_t erased_bytes;
    uint64_t reads;
    uint64_t read_bytes;
    uint64_t nor_violations;  /* refused writes of a 1 over a 0, and refused unaligned erases */
    /* What the operations take on the chip by the timing model's table (README "Flash timing"),
       in nanoseconds; kept whether or not the board waits for it (--flash-timing). */
    uint64_t erase_ns;
    uint64_t program_ns;
    uint64_t read_ns;
} vb_flash_stats_t;

/* ---- flash timing: typical figures of a Winbond W25Q32JV (README "Flash timing") ---- */
#define VB_FLASH_PAGE_SIZE 256u
#define VB_FLASH_SECTOR_ERASE_NS 45000000ull   /* tSE, 4 KB sector erase, typical */
#define VB_FLASH_BLOCK_ERASE_NS 150000000ull   /* tBE2, 64 KB block erase, typical */
#define VB_FLASH_PAGE_PROGRAM_NS 400000ull     /* tPP, page program, typical */
#define VB_FLASH_BUS_NS_PER_BYTE 100ull        /* 40 MHz DIO (ESP-IDF's default flash mode): 2 bits a clock, 10 MB/s */

/* Whether each flash operation also takes its modelled time on the board's clock: on the virtual
   clock the clock moves on by it, on the real clock the board waits for it. Off at vb_idf_init
   unless cfg->flash_timing. */
void vb_flash_set_timing(int on);
/* Called with 1 before and 0 after each real-clock wait of the model (the XS host's task
   watchdog: the chip's task sleeps while the flash is busy). NULL: no hook. */
void vb_flash_on_wait(void (*hook)(int waiting));
/* The model's time for an operation: an erase of len bytes at addr (64 KB blocks where aligned,
   4 KB sectors elsewhere), a write of len bytes at addr (a page program per 256-byte page it
   touches, plus the data over the bus), a read of len bytes. */
uint64_t vb_flash_erase_time_ns(uint32_t addr, uint32_t len);
uint64_t vb_flash_write_time_ns(uint32_t addr, size_t len);
uint64_t vb_flash_read_time_ns(size_t len);

const vb_flash_stats_t *vb_flash_stats(void);
/* Power cut: the after-th operation from now (1 = the next one) ends the process with _exit(4)
   before it is applied, so exactly after-1 more operations reach the file. torn: the cut
   operation is half applied first (a write's first half of bytes, or an erase's first half of
   each 4 KB sector). One cut is armed at a time; after 0 disarms. Returns the number of the
   operation that will be cut, counted from vb_idf_init (which arms cfg->power_cut_at), or 0. */
uint64_t vb_flash_arm_power_cut(long after, int torn);
uint32_t vb_flash_size(void);
/* Raw access by flash address, with the same NOR rules and counting as esp_partition_*. */
esp_err_t vb_flash_read(uint32_t addr, void *buf, size_t len);
esp_err_t vb_flash_write(uint32_t addr, const void *buf, size_t len);
esp_err_t vb_flash_erase_range(uint32_t addr, uint32_t len);

/* ---- app images ------------------------------------------------------------ */
/* Copies the data of the image's SECOND segment (the firmware's module archive, README
   "Firmware payload") into malloc'd memory the caller owns. The image must verify. */
esp_err_t vb_image_payload(const esp_partition_pos_t *pos, uint8_t **out, size_t *out_len);

/* ---- partition tables --------------------------------------------------------- */
typedef struct {
    const char *label;
    uint8_t type;
    uint8_t subtype;
    uint32_t offset;
    uint32_t size;
    uint32_t flags;
} vb_partition_def_t;

/* The virtual board's layout (boards/virtual/partitions.csv, README "Flash layout"). */
extern const vb_partition_def_t vb_default_partitions[];
extern const int vb_default_partition_count;

/* Writes rows, the MD5 row and 0xFF padding into out (ESP_PARTITION_TABLE_MAX_LEN bytes).
   Returns the number of bytes of rows + MD5 row, or -1 if count is out of range. */
int vb_partition_table_build(const vb_partition_def_t *defs, int count, uint8_t *out);
/* The layout rules of gen_esp32part.py (esp-idf.md section 4) that the loader itself does not
   check: alignment, overlaps, unique names, one 8 KB otadata, nvs >= 12 KB, no gaps in ota_N.
   Returns 0 if the rows pass, else writes the first problem to why and returns -1. */
int vb_partition_table_lint(const esp_partition_info_t *rows, int count, uint32_t flash_size,
                            char *why, size_t why_len);

/* ---- checksums -------------------------------------------------------------- */
/* esp_rom_crc32_le semantics: the register is ~crc on entry and inverted on exit, so
   crc 0xFFFFFFFF over le32(seq) is the otadata crc (zlib.crc32(data, 0xFFFFFFFF)). */
uint32_t esp_rom_crc32_le(uint32_t crc, const uint8_t *buf, uint32_t len);

typedef struct {
    uint32_t state[4];
    uint64_t length;
    uint8_t block[64];
} vb_md5_ctx_t;
void vb_md5_init(vb_md5_ctx_t *ctx);
void vb_md5_update(vb_md5_ctx_t *ctx, const void *data, size_t len);
void vb_md5_final(vb_md5_ctx_t *ctx, uint8_t digest[16]);

/* SHA-256 is the device module's own (modules/esp32/xsota_sha.h): one
   implementation for the firmware's digest checks and the image checks here. */
#include "xsota_sha.h"

/* ---- lifetime (tests) ---------------------------------------------------------- */
/* Closes the flash and forgets every emulated state (partitions, running app, OTA handles,
   NVS, timers), so that a test can vb_idf_init again in the same process. */
void vb_idf_shutdown(void);

#ifdef __cplusplus
}
#endif

#endif
