/*
 * The binary partition table at 0x8000: 32-byte rows with magic 0x50AA, an
 * MD5 row (0xEBEB, 14 x 0xFF, MD5 of all preceding rows) and a terminator row
 * of 0xFF. esp_partition_table_verify is the bootloader's check
 * (flash_partitions.c); the app-side loader, stricter about the MD5 row, is in
 * vb_partition.c. The layout rules of gen_esp32part.py are in
 * vb_partition_table_lint: the chip does not check them, the tool that makes
 * tables does.
 */
#include <stdio.h>
#include <string.h>

#include "vb_internal.h"

static const char *TAG = "flash_parts";

const vb_partition_def_t vb_default_partitions[] = {
    {"nvs", PART_TYPE_DATA, 0x02, 0x9000, 0x4000, 0},
    {"otadata", PART_TYPE_DATA, PART_SUBTYPE_DATA_OTA, 0xd000, 0x2000, 0},
    {"phy_init", PART_TYPE_DATA, PART_SUBTYPE_DATA_RF, 0xf000, 0x1000, 0},
    {"ota_0", PART_TYPE_APP, PART_SUBTYPE_OTA_FLAG + 0, 0x10000, 0x180000, 0},
    {"ota_1", PART_TYPE_APP, PART_SUBTYPE_OTA_FLAG + 1, 0x190000, 0x180000, 0},
};
const int vb_default_partition_count = (int)(sizeof(vb_default_partitions) / sizeof(vb_default_partitions[0]));

esp_err_t esp_partition_table_verify(const esp_partition_info_t *partition_table, bool log_errors, int *num_partitions)
{
    bool md5_found = false;
    uint32_t chip_size = vb_flash_size();
    *num_partitions = 0;

    for (size_t num_parts = 0; num_parts < ESP_PARTITION_TABLE_MAX_ENTRIES; num_parts++) {
        const esp_partition_info_t *part = &partition_table[num_parts];

        if (part->magic == ESP_PARTITION_MAGIC) {
            const esp_partition_pos_t *pos = &part->pos;
            if (pos->offset > chip_size || pos->offset + pos->size > chip_size || pos->offset + pos->size < pos->offset) {
                if (log_errors) {
                    ESP_LOGE(TAG, "partition %d invalid - offset 0x%" PRIx32 " size 0x%" PRIx32 " exceeds flash chip size 0x%" PRIx32,
                             (int)num_parts, pos->offset, pos->size, chip_size);
                }
                return ESP_ERR_INVALID_SIZE;
            }
        } else if (part->magic == ESP_PARTITION_MAGIC_MD5) {
            if (md5_found) {
                if (log_errors) {
                    ESP_LOGE(TAG, "Only one MD5 checksum is allowed");
                }
                return ESP_ERR_INVALID_STATE;
            }
            vb_md5_ctx_t ctx;
            uint8_t digest[16];
            vb_md5_init(&ctx);
            vb_md5_update(&ctx, partition_table, num_parts * sizeof(esp_partition_info_t));
            vb_md5_final(&ctx, digest);
            if (memcmp((const uint8_t *)part + ESP_PARTITION_MD5_OFFSET, digest, sizeof(digest)) != 0) {
                if (log_errors) {
                    ESP_LOGE(TAG, "Incorrect MD5 checksum");
                }
                return ESP_ERR_INVALID_STATE;
            }
            md5_found = true;
        } else if (num_parts != 0 && part->magic == 0xFFFF && part->type == PART_TYPE_END &&
                   part->subtype == PART_SUBTYPE_END) {
            *num_partitions = (int)num_parts - (md5_found ? 1 : 0);
            return ESP_OK;
        } else {
            if (log_errors) {
                ESP_LOGE(TAG, "partition %d invalid magic number 0x%x", (int)num_parts, part->magic);
            }
            return ESP_ERR_INVALID_STATE;
        }
    }

    if (log_errors) {
        ESP_LOGE(TAG, "partition table has no terminating entry, not valid");
    }
    return ESP_ERR_INVALID_STATE;
}

int vb_partition_table_build(const vb_partition_def_t *defs, int count, uint8_t *out)
{
    /* Rows, the MD5 row and at least one terminator row must fit in 0xC00 bytes. */
    if (count < 0 || (size_t)(count + 2) > ESP_PARTITION_TABLE_MAX_ENTRIES) {
        return -1;
    }
    memset(out, 0xFF, ESP_PARTITION_TABLE_MAX_LEN);
    esp_partition_info_t *rows = (esp_partition_info_t *)out;
    for (int i = 0; i < count; i++) {
        esp_partition_info_t row;
        memset(&row, 0, sizeof(row));
        row.magic = ESP_PARTITION_MAGIC;
        row.type = defs[i].type;
        row.subtype = defs[i].subtype;
        row.pos.offset = defs[i].offset;
        row.pos.size = defs[i].size;
        /* Labels are NUL-padded, without a terminator when exactly 16 characters. */
        size_t label_len = strlen(defs[i].label);
        memcpy(row.label, defs[i].label, label_len < sizeof(row.label) ? label_len : sizeof(row.label));
        row.flags = defs[i].flags;
        memcpy(&rows[i], &row, sizeof(row));
    }
    uint8_t *md5_row = out + (size_t)count * sizeof(esp_partition_info_t);
    md5_row[0] = 0xEB;
    md5_row[1] = 0xEB;
    vb_md5_ctx_t ctx;
    vb_md5_init(&ctx);
    vb_md5_update(&ctx, out, (size_t)count * sizeof(esp_partition_info_t));
    vb_md5_final(&ctx, md5_row + ESP_PARTITION_MD5_OFFSET);
    return (count + 1) * (int)sizeof(esp_partition_info_t);
}

static void label_of(const esp_partition_info_t *row, char out[17])
{
    memcpy(out, row->label, 16);
    out[16] = '\0';
}

#define LINT_FAIL(...)                                    \
    do {                                                  \
        if (why != NULL && why_len > 0) {                 \
            snprintf(why, why_len, __VA_ARGS__);          \
        }                                                 \
        return -1;                                        \
    } while (0)

int vb_partition_table_lint(const esp_partition_info_t *rows, int count, uint32_t flash_size, char *why, size_t why_len)
{
    uint32_t table_end = ESP_PARTITION_TABLE_OFFSET + ESP_PARTITION_TABLE_SIZE;
    int otadata_count = 0;
    bool ota_present[16] = {false};
    int ota_max = -1;

    for (int i = 0; i < count; i++) {
        const esp_partition_info_t *p = &rows[i];
        char name[17];
        label_of(p, name);
        uint32_t align = p->type == PART_TYPE_APP ? 0x10000 : 0x1000;
        if (p->pos.offset % align != 0) {
            LINT_FAIL("partition %s: offset 0x%x is not aligned to 0x%x", name, (unsigned)p->pos.offset, (unsigned)align);
        }
        if (p->type == PART_TYPE_APP && p->pos.size % 0x1000 != 0) {
            LINT_FAIL("partition %s: app size 0x%x is not a multiple of 0x1000", name, (unsigned)p->pos.size);
        }
        if (p->pos.size == 0) {
            LINT_FAIL("partition %s: size is 0", name);
        }
        if (p->pos.offset < table_end) {
            LINT_FAIL("partition %s: offset 0x%x is below the end of the partition table (0x%x)", name,
                      (unsigned)p->pos.offset, (unsigned)table_end);
        }
        if ((uint64_t)p->pos.offset + p->pos.size > flash_size) {
            LINT_FAIL("partition %s: ends at 0x%llx, beyond the flash size 0x%x", name,
                      (unsigned long long)p->pos.offset + p->pos.size, (unsigned)flash_size);
        }
        for (int k = 0; k < i; k++) {
            char other[17];
            label_of(&rows[k], other);
            if (strcmp(name, other) == 0) {
                LINT_FAIL("partition name %s is used twice", name);
            }
            uint32_t a0 = p->pos.offset, a1 = p->pos.offset + p->pos.size;
            uint32_t b0 = rows[k].pos.offset, b1 = rows[k].pos.offset + rows[k].pos.size;
            if (a0 < b1 && b0 < a1) {
                LINT_FAIL("partitions %s and %s overlap", other, name);
            }
        }
        if (p->type == PART_TYPE_DATA && p->subtype == PART_SUBTYPE_DATA_OTA) {
            otadata_count++;
            if (p->pos.size != 0x2000) {
                LINT_FAIL("otadata partition %s must be 0x2000 bytes, not 0x%x", name, (unsigned)p->pos.size);
            }
        }
        if (p->type == PART_TYPE_DATA && p->subtype == 0x02 && p->pos.size < 0x3000) {
            LINT_FAIL("nvs partition %s is 0x%x bytes; the minimum is 0x3000", name, (unsigned)p->pos.size);
        }
        if (p->type == PART_TYPE_APP && (p->subtype & ~PART_SUBTYPE_OTA_MASK) == PART_SUBTYPE_OTA_FLAG) {
            int slot = p->subtype & PART_SUBTYPE_OTA_MASK;
            if (ota_present[slot]) {
                LINT_FAIL("ota_%d appears twice", slot);
            }
            ota_present[slot] = true;
            if (slot > ota_max) {
                ota_max = slot;
            }
        }
    }
    if (otadata_count > 1) {
        LINT_FAIL("more than one otadata partition");
    }
    for (int slot = 0; slot <= ota_max; slot++) {
        /* esp_ota_* counts ota_0.. up to the first gap, the bootloader counts them all. */
        if (!ota_present[slot]) {
            LINT_FAIL("ota_%d is missing but ota_%d exists: the app and the bootloader would count slots differently",
                      slot, ota_max);
        }
    }
    if (ota_max >= 0 && otadata_count == 0) {
        LINT_FAIL("OTA app partitions without an otadata partition");
    }
    return 0;
}
