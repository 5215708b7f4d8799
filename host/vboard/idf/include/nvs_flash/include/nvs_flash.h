/*
 * nvs_flash.h for the virtual board (ESP-IDF v5.5.1 names). Only the default
 * partition (label "nvs") and partitions by label are supported.
 */
#ifndef VB_NVS_FLASH_H
#define VB_NVS_FLASH_H

#include "esp_err.h"
#include "nvs.h"

#ifdef __cplusplus
extern "C" {
#endif

esp_err_t nvs_flash_init(void);
esp_err_t nvs_flash_init_partition(const char *partition_label);
esp_err_t nvs_flash_deinit(void);
esp_err_t nvs_flash_deinit_partition(const char *partition_label);
esp_err_t nvs_flash_erase(void);
esp_err_t nvs_flash_erase_partition(const char *part_name);

#ifdef __cplusplus
}
#endif

#endif
