/*
 * On-flash formats of the partition table and of otadata, as ESP-IDF v5.5.1
 * defines them (components/bootloader_support/include/esp_flash_partitions.h).
 */
#ifndef VB_ESP_FLASH_PARTITIONS_H
#define VB_ESP_FLASH_PARTITIONS_H

#include "esp_assert.h"
#include <stdint.h>
#include <stdbool.h>
#include "esp_err.h"
#include "sdkconfig.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ESP_PARTITION_MAGIC 0x50AA
#define ESP_PARTITION_MAGIC_MD5 0xEBEB

#define PART_TYPE_APP 0x00
#define PART_SUBTYPE_FACTORY  0x00
#define PART_SUBTYPE_OTA_FLAG 0x10
#define PART_SUBTYPE_OTA_MASK 0x0f
#define PART_SUBTYPE_TEST     0x20
#define PART_SUBTYPE_TEE_0    0x30
#define PART_SUBTYPE_TEE_1    0x31

#define PART_TYPE_DATA 0x01
#define PART_SUBTYPE_DATA_OTA 0x00
#define PART_SUBTYPE_DATA_RF  0x01
#define PART_SUBTYPE_DATA_WIFI 0x02
#define PART_SUBTYPE_DATA_NVS_KEYS 0x04
#define PART_SUBTYPE_DATA_EFUSE_EM 0x05

#define PART_TYPE_BOOTLOADER 0x02
#define PART_SUBTYPE_BOOTLOADER_PRIMARY 0x00
#define PART_SUBTYPE_BOOTLOADER_OTA 0x01
#define PART_SUBTYPE_BOOTLOADER_RECOVERY 0x02

#define PART_TYPE_PARTITION_TABLE 0x03
#define PART_SUBTYPE_PARTITION_TABLE_PRIMARY 0x00
#define PART_SUBTYPE_PARTITION_TABLE_OTA 0x01

#define PART_SUBTYPE_DATA_TEE_OTA 0x90

#define PART_TYPE_END 0xff
#define PART_SUBTYPE_END 0xff

#define PART_FLAG_ENCRYPTED (1 << 0)
#define PART_FLAG_READONLY (1 << 1)

#define ESP_PARTITION_MD5_OFFSET 16

#define ESP_BOOTLOADER_OFFSET CONFIG_BOOTLOADER_OFFSET_IN_FLASH
#define ESP_PRIMARY_BOOTLOADER_OFFSET CONFIG_BOOTLOADER_OFFSET_IN_FLASH
#define ESP_PARTITION_TABLE_OFFSET CONFIG_PARTITION_TABLE_OFFSET
#define ESP_PRIMARY_PARTITION_TABLE_OFFSET CONFIG_PARTITION_TABLE_OFFSET
#define ESP_PARTITION_TABLE_SIZE (0x1000)
#define ESP_PARTITION_TABLE_MAX_LEN 0xC00
#define ESP_PARTITION_TABLE_MAX_ENTRIES (ESP_PARTITION_TABLE_MAX_LEN / sizeof(esp_partition_info_t))

typedef enum {
    ESP_OTA_IMG_NEW             = 0x0U,
    ESP_OTA_IMG_PENDING_VERIFY  = 0x1U,
    ESP_OTA_IMG_VALID           = 0x2U,
    ESP_OTA_IMG_INVALID         = 0x3U,
    ESP_OTA_IMG_ABORTED         = 0x4U,
    ESP_OTA_IMG_UNDEFINED       = 0xFFFFFFFFU,
} esp_ota_img_states_t;

/* One otadata entry; entry 0 at offset 0 of otadata, entry 1 at offset 0x1000. */
typedef struct {
    uint32_t ota_seq;
    uint8_t  seq_label[20];
    uint32_t ota_state;
    uint32_t crc; /* CRC32 of ota_seq field only */
} esp_ota_select_entry_t;

typedef struct {
    uint32_t offset;
    uint32_t size;
} esp_partition_pos_t;

/* One 32-byte row of the partition table. */
typedef struct {
    uint16_t magic;
    uint8_t  type;
    uint8_t  subtype;
    esp_partition_pos_t pos;
    uint8_t  label[16];
    uint32_t flags;
} esp_partition_info_t;

ESP_STATIC_ASSERT(sizeof(esp_ota_select_entry_t) == 32, "otadata entry is 32 bytes");
ESP_STATIC_ASSERT(sizeof(esp_partition_info_t) == 32, "partition table row is 32 bytes");

/* The bootloader's check of a table (magic, optional MD5 row, terminator, bounds). */
esp_err_t esp_partition_table_verify(const esp_partition_info_t *partition_table, bool log_errors, int *num_partitions);

#ifdef __cplusplus
}
#endif

#endif
