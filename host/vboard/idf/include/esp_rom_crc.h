/*
 * esp_rom_crc.h for the virtual board: the ROM's CRC-32 (zlib semantics when
 * chained: crc = esp_rom_crc32_le(crc, buf, len), starting from 0).
 */
#ifndef VB_ESP_ROM_CRC_H
#define VB_ESP_ROM_CRC_H

#include <stdint.h>

uint32_t esp_rom_crc32_le(uint32_t crc, const uint8_t *buf, uint32_t len);

#endif
