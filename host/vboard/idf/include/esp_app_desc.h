/*
 * The application description (ESP-IDF v5.5.1,
 * components/esp_app_format/include/esp_app_desc.h). On the virtual board it
 * is read from the booted image, 32 bytes into it.
 */
#ifndef VB_ESP_APP_DESC_H
#define VB_ESP_APP_DESC_H

#include "esp_assert.h"
#include <stdint.h>
#include <stdbool.h>
#include <stddef.h>
#include "esp_err.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ESP_APP_DESC_MAGIC_WORD (0xABCD5432)

typedef struct {
    uint32_t magic_word;
    uint32_t secure_version;
    uint32_t reserv1[2];
    char version[32];
    char project_name[32];
    char time[16];
    char date[16];
    char idf_ver[32];
    uint8_t app_elf_sha256[32];
    uint16_t min_efuse_blk_rev_full;
    uint16_t max_efuse_blk_rev_full;
    uint8_t mmu_page_size;
    uint8_t reserv3[3];
    uint32_t reserv2[18];
} esp_app_desc_t;

ESP_STATIC_ASSERT(sizeof(esp_app_desc_t) == 256, "esp_app_desc_t should be 256 bytes");

/* Description of the running app (the image the bootloader booted). */
const esp_app_desc_t *esp_app_get_description(void);
/* Hex of app_elf_sha256, at most size-1 characters; returns the count written including the NUL. */
int esp_app_get_elf_sha256(char *dst, size_t size);

#ifdef __cplusplus
}
#endif

#endif
