/*
 * Seams between the files of the emulated ESP-IDF. Not for device code.
 */
#ifndef VB_INTERNAL_H
#define VB_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include "esp_err.h"
#include "esp_log.h"
#include "esp_flash_partitions.h"
#include "esp_image_format.h"
#include "esp_app_desc.h"
#include "esp_system.h"
#include "vb_idf.h"

/* Flash structures are little-endian and read straight into C structs. */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the virtual board needs a little-endian host");

/* vb_flash.c */
int vb_flash_open(const char *path);          /* 0, or -1 with a message on stderr */
int vb_flash_open_anonymous(void);            /* unlinked temporary 4 MB file of erased flash */
void vb_flash_close(void);
bool vb_flash_is_open(void);
void vb_flash_reset_counters(void);

/* vb_log.c */
void vb_log_reset(void);

/* vb_timer.c */
void vb_clock_init(int virtual_clock);
void vb_timers_reset(void);

/* vb_partition.c */
void vb_partition_reset(void);

/* vb_otadata.c: the otadata entry rules shared by the bootloader and esp_ota_* */
uint32_t vb_otadata_crc(const esp_ota_select_entry_t *s);
bool vb_otadata_entry_invalid(const esp_ota_select_entry_t *s);   /* seq empty, or INVALID/ABORTED */
bool vb_otadata_entry_valid(const esp_ota_select_entry_t *s);     /* not invalid and crc good */
int vb_otadata_select(const esp_ota_select_entry_t *two, const bool *valid_two, bool max);
int vb_otadata_active(const esp_ota_select_entry_t *two);
/* Reads both entries of the otadata partition at flash offset base. */
esp_err_t vb_otadata_read_at(uint32_t base, esp_ota_select_entry_t two[2]);
/* Erases the sector of entry index and writes the entry (what the bootloader's write_otadata does). */
esp_err_t vb_otadata_write_at(uint32_t base, int index, const esp_ota_select_entry_t *entry);

/* vb_image.c */
/* esp_image_verify with a choice of log style: the bootloader prints "load"/"map" segment lines. */
esp_err_t vb_image_verify(const esp_partition_pos_t *part, esp_image_metadata_t *data, bool silent);
/* The bootloader's bootloader_load_image: the same checks, segment lines say "load" for RAM. */
esp_err_t vb_image_load(const esp_partition_pos_t *part, esp_image_metadata_t *data);

/* vb_ota_ops.c */
void vb_ota_reset(void);
void vb_ota_set_running_address(uint32_t flash_addr);   /* set by the bootloader: where the app "executes" */

/* vb_system.c */
void vb_system_set_app_desc(const esp_app_desc_t *desc);
void vb_system_reset(void);
const char *vb_reset_reason_arg(void);

/* vb_nvs.c */
void vb_nvs_reset(void);

/* Emulated chip: an ESP32, revision v3.1, whose apps carry the virtual board's chip id (CONFIG_IDF_FIRMWARE_CHIP_ID). */
#define VB_CHIP_REVISION 301

#endif
