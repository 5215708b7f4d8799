/*
 * otadata entries and the rules to read them (bootloader_common_loader.c of
 * ESP-IDF v5.5.1), shared by the bootloader emulation and esp_ota_*.
 *
 * Two 4 KB sectors, one 32-byte esp_ota_select_entry_t at the start of each.
 * The crc covers ota_seq only: esp_rom_crc32_le(UINT32_MAX, &ota_seq, 4).
 * Each sector is rewritten alone (erase, then write 32 bytes): a power cut
 * between the two leaves an erased entry, which is invalid, so the other one
 * decides. That is the whole power-loss argument of the format.
 */
#include <string.h>

#include "vb_internal.h"

uint32_t vb_otadata_crc(const esp_ota_select_entry_t *s)
{
    uint8_t seq[4] = {
        (uint8_t)s->ota_seq, (uint8_t)(s->ota_seq >> 8), (uint8_t)(s->ota_seq >> 16), (uint8_t)(s->ota_seq >> 24),
    };
    return esp_rom_crc32_le(UINT32_MAX, seq, sizeof(seq));
}

bool vb_otadata_entry_invalid(const esp_ota_select_entry_t *s)
{
    return s->ota_seq == UINT32_MAX || s->ota_state == ESP_OTA_IMG_INVALID || s->ota_state == ESP_OTA_IMG_ABORTED;
}

bool vb_otadata_entry_valid(const esp_ota_select_entry_t *s)
{
    return !vb_otadata_entry_invalid(s) && s->crc == vb_otadata_crc(s);
}

int vb_otadata_select(const esp_ota_select_entry_t *two, const bool *valid_two, bool max)
{
    if (two == NULL || valid_two == NULL) {
        return -1;
    }
    if (valid_two[0] && valid_two[1]) {
        uint32_t a = two[0].ota_seq, b = two[1].ota_seq;
        uint32_t pick = max ? (a > b ? a : b) : (a < b ? a : b);
        /* On a tie entry 0 wins, as in bootloader_common_select_otadata. */
        return pick == a ? 0 : 1;
    }
    for (int i = 0; i < 2; i++) {
        if (valid_two[i]) {
            return i;
        }
    }
    return -1;
}

int vb_otadata_active(const esp_ota_select_entry_t *two)
{
    bool valid[2] = {vb_otadata_entry_valid(&two[0]), vb_otadata_entry_valid(&two[1])};
    return vb_otadata_select(two, valid, true);
}

esp_err_t vb_otadata_read_at(uint32_t base, esp_ota_select_entry_t two[2])
{
    esp_err_t err = vb_flash_read(base, &two[0], sizeof(two[0]));
    if (err == ESP_OK) {
        err = vb_flash_read(base + VB_FLASH_SECTOR_SIZE, &two[1], sizeof(two[1]));
    }
    return err;
}

esp_err_t vb_otadata_write_at(uint32_t base, int index, const esp_ota_select_entry_t *entry)
{
    uint32_t sector = base + (uint32_t)index * VB_FLASH_SECTOR_SIZE;
    esp_err_t err = vb_flash_erase_range(sector, VB_FLASH_SECTOR_SIZE);
    if (err == ESP_OK) {
        err = vb_flash_write(sector, entry, sizeof(*entry));
    }
    return err;
}
