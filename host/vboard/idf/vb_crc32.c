/*
 * CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320) with the calling
 * convention of the ESP32 ROM's esp_rom_crc32_le: the caller passes the
 * previous result (or an initial value); the register is its complement.
 * otadata uses init UINT32_MAX, which makes the register start at 0:
 * seq 1 -> 0x4743989A.
 */
#include "vb_internal.h"

uint32_t esp_rom_crc32_le(uint32_t crc, const uint8_t *buf, uint32_t len)
{
    static uint32_t table[256];
    static bool ready;
    if (!ready) {
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++) {
                c = (c & 1) ? (c >> 1) ^ 0xEDB88320u : c >> 1;
            }
            table[i] = c;
        }
        ready = true;
    }
    crc = ~crc;
    for (uint32_t i = 0; i < len; i++) {
        crc = table[(crc ^ buf[i]) & 0xFF] ^ (crc >> 8);
    }
    return ~crc;
}
