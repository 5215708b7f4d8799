/*
 * App image verification, as esp_image_format.c of ESP-IDF v5.5.1 does it for
 * an ESP32 without secure boot. One implementation serves esp_ota_end,
 * esp_ota_set_boot_partition and the bootloader, as on the chip.
 *
 * Layout: 24-byte header (magic 0xE9, segment count, SPI params, chip id,
 * chip revisions, hash_appended), then segments {load_addr, data_len, data},
 * then zero padding up to a 16-byte boundary whose last byte is the checksum
 * (0xEF xor all data words, folded to a byte), then, when hash_appended, the
 * SHA-256 of everything before it.
 *
 * On ESP32 the image check does not look at esp_app_desc_t (only chips with a
 * configurable MMU page size do); the bootloader emulation checks it before
 * "starting" the app, see vb_bootloader.c.
 */
#include <stdlib.h>
#include <string.h>

#include "esp_image_format.h"
#include "vb_internal.h"

static const char *TAG = "esp_image";

#define MAX_FLASH_ADDR_SIZE 0x1000000u   /* ESP_IMAGE_MAX_FLASH_ADDR_SIZE: 16 MB */
#define CHECKSUM_INITIAL 0xEFu           /* ESP_ROM_CHECKSUM_INITIAL */
#define MMU_PAGE_SIZE 0x10000u           /* ESP32: fixed 64 KB */

/* ESP32 address ranges (soc.h) */
#define SOC_IROM_LOW 0x400D0000u
#define SOC_IROM_HIGH 0x40400000u
#define SOC_DROM_LOW 0x3F400000u
#define SOC_DROM_HIGH 0x3F800000u

#define IS_FIELD_SET(rev_full) (((rev_full) != 65535) && ((rev_full) != 0))

typedef struct {
    bool silent;
    bool verify;
    bool loading;           /* bootloader: RAM segments are "load"ed */
    uint32_t checksum;
    xsota_sha_t sha;
    bool sha_on;
} image_walk_t;

#define FAIL_LOAD(...)                      \
    do {                                    \
        if (!w->silent) {                   \
            ESP_LOGE(TAG, __VA_ARGS__);     \
        }                                   \
        goto err;                           \
    } while (0)

static bool should_map(uint32_t load_addr)
{
    return (load_addr >= SOC_IROM_LOW && load_addr < SOC_IROM_HIGH) ||
           (load_addr >= SOC_DROM_LOW && load_addr < SOC_DROM_HIGH);
}

static bool should_load(uint32_t load_addr)
{
    /* Below 0x10000000 are padding segments, never loaded. */
    return !should_map(load_addr) && load_addr >= 0x10000000u;
}

static esp_err_t check_chip(const esp_image_header_t *image)
{
    /* Printed whatever the silent flag, as bootloader_common_check_chip_validity does. */
    esp_chip_id_t chip_id = CONFIG_IDF_FIRMWARE_CHIP_ID;
    if (image->chip_id != chip_id) {
        ESP_LOGE("boot_comm", "mismatch chip ID, expected %d, found %d", chip_id, image->chip_id);
        return ESP_FAIL;
    }
    unsigned revision = VB_CHIP_REVISION;
    unsigned min_rev = image->min_chip_rev_full;
    if (!(min_rev <= revision)) {
        ESP_LOGE("boot_comm", "chip revision check failed. Required >= v%d.%d, found v%d.%d.", min_rev / 100,
                 min_rev % 100, revision / 100, revision % 100);
        return ESP_FAIL;
    }
    unsigned max_rev = image->max_chip_rev_full;
    if (IS_FIELD_SET(max_rev) && revision > max_rev) {
        ESP_LOGE("boot_comm", "chip revision check failed. Required <= v%d.%d, found v%d.%d.", max_rev / 100,
                 max_rev % 100, revision / 100, revision % 100);
        return ESP_FAIL;
    }
    return ESP_OK;
}

static esp_err_t process_header(image_walk_t *w, esp_image_metadata_t *data, uint32_t part_offset)
{
    esp_err_t err;
    memset(data, 0, sizeof(*data));
    data->start_addr = part_offset;
    err = vb_flash_read(part_offset, &data->image, sizeof(data->image));
    if (err != ESP_OK) {
        return err;
    }
    if (w->verify) {
        if (data->image.hash_appended) {
            xsota_sha_start(&w->sha, 1);
            w->sha_on = true;
            xsota_sha_update(&w->sha, &data->image, sizeof(data->image));
        }
        if (data->image.magic != ESP_IMAGE_HEADER_MAGIC) {
            FAIL_LOAD("image at 0x%" PRIx32 " has invalid magic byte (nothing flashed here?)", part_offset);
        }
        err = check_chip(&data->image);
        if (err != ESP_OK) {
            return err;
        }
    }
    if (data->image.segment_count > ESP_IMAGE_MAX_SEGMENTS) {
        FAIL_LOAD("image at 0x%" PRIx32 " segment count %d exceeds max %d", part_offset, data->image.segment_count,
                  ESP_IMAGE_MAX_SEGMENTS);
    }
    data->image_len = sizeof(esp_image_header_t);
    data->mmu_page_size = MMU_PAGE_SIZE;
    return ESP_OK;
err:
    return ESP_ERR_IMAGE_INVALID;
}

static esp_err_t process_segment_data(image_walk_t *w, uint32_t data_addr, uint32_t data_len)
{
    uint8_t buf[4096];
    for (uint32_t off = 0; off < data_len;) {
        uint32_t chunk = data_len - off < sizeof(buf) ? data_len - off : (uint32_t)sizeof(buf);
        if (vb_flash_read(data_addr + off, buf, chunk) != ESP_OK) {
            ESP_LOGE(TAG, "bootloader_mmap(0x%" PRIx32 ", 0x%" PRIx32 ") failed", data_addr, data_len);
            return ESP_FAIL;
        }
        for (uint32_t i = 0; i + 4 <= chunk; i += 4) {
            w->checksum ^= (uint32_t)buf[i] | ((uint32_t)buf[i + 1] << 8) | ((uint32_t)buf[i + 2] << 16) |
                           ((uint32_t)buf[i + 3] << 24);
        }
        if (w->sha_on) {
            xsota_sha_update(&w->sha, buf, chunk);
        }
        off += chunk;
    }
    return ESP_OK;
}

static esp_err_t process_segments(image_walk_t *w, esp_image_metadata_t *data)
{
    esp_err_t err;
    uint32_t start_segments = data->start_addr + data->image_len;
    uint32_t next_addr = start_segments;
    for (int i = 0; i < data->image.segment_count; i++) {
        esp_image_segment_header_t *header = &data->segments[i];
        err = vb_flash_read(next_addr, header, sizeof(*header));
        if (err != ESP_OK) {
            ESP_LOGE(TAG, "bootloader_flash_read failed at 0x%08" PRIx32, next_addr);
            return err;
        }
        if (w->sha_on) {
            xsota_sha_update(&w->sha, header, sizeof(*header));
        }
        uint32_t load_addr = header->load_addr;
        uint32_t data_len = header->data_len;
        uint32_t data_addr = next_addr + sizeof(esp_image_segment_header_t);

        if ((data_len & 3) != 0 || data_len >= MAX_FLASH_ADDR_SIZE) {
            if (!w->silent) {
                ESP_LOGE(TAG, "invalid segment length 0x%" PRIx32, data_len);
            }
            return ESP_ERR_IMAGE_INVALID;
        }
        bool is_mapping = should_map(load_addr);
        if (is_mapping && (data_addr % MMU_PAGE_SIZE) != (load_addr % MMU_PAGE_SIZE)) {
            if (!w->silent) {
                ESP_LOGE(TAG, "Segment %d load address 0x%08" PRIx32 ", doesn't match data 0x%08" PRIx32, i, load_addr,
                         data_addr);
            }
            return ESP_ERR_IMAGE_INVALID;
        }
        bool do_load = w->loading && should_load(load_addr);
        if (!w->silent) {
            ESP_LOGI(TAG, "segment %d: paddr=%08" PRIx32 " vaddr=%08" PRIx32 " size=%05" PRIx32 "h (%6" PRIu32 ") %s", i,
                     data_addr, load_addr, data_len, data_len, do_load ? "load" : is_mapping ? "map" : "");
        }
        if (w->verify) {
            err = process_segment_data(w, data_addr, data_len);
            if (err != ESP_OK) {
                return err;
            }
        }
        data->segment_data[i] = data_addr;
        next_addr = data_addr + data_len;
        if (next_addr < data_addr) {
            goto wrapped;
        }
    }
    if (next_addr < data->start_addr) {
        goto wrapped;
    }
    data->image_len += next_addr - start_segments;
    return ESP_OK;
wrapped:
    if (!w->silent) {
        ESP_LOGE(TAG, "image offset has wrapped");
    }
    return ESP_ERR_IMAGE_INVALID;
}

static esp_err_t process_checksum(image_walk_t *w, esp_image_metadata_t *data)
{
    uint32_t unpadded = data->image_len;
    uint32_t length = ((unpadded + 1 + 15) & ~15u) - unpadded;
    uint8_t buf[16] = {0};
    if (w->verify || w->sha_on) {
        esp_err_t err = vb_flash_read(data->start_addr + unpadded, buf, length);
        if (err != ESP_OK) {
            return err;
        }
    }
    uint8_t read_checksum = buf[length - 1];
    uint8_t calc_checksum = (uint8_t)((w->checksum >> 24) ^ (w->checksum >> 16) ^ (w->checksum >> 8) ^ w->checksum);
    if (w->verify && calc_checksum != read_checksum) {
        FAIL_LOAD("Checksum failed. Calculated 0x%x read 0x%x", calc_checksum, read_checksum);
    }
    if (w->sha_on) {
        xsota_sha_update(&w->sha, buf, length);
    }
    data->image_len += length;
    return ESP_OK;
err:
    return ESP_ERR_IMAGE_INVALID;
}

static esp_err_t process_appended_hash(image_walk_t *w, esp_image_metadata_t *data, uint32_t part_len)
{
    if (data->image.hash_appended) {
        esp_err_t err = vb_flash_read(data->start_addr + data->image_len, data->image_digest, ESP_IMAGE_HASH_LEN);
        if (err != ESP_OK) {
            return err;
        }
        data->image_len += ESP_IMAGE_HASH_LEN;
    }
    if (data->image_len > part_len) {
        FAIL_LOAD("Image length %" PRIu32 " doesn't fit in partition length %" PRIu32, data->image_len, part_len);
    }
    return ESP_OK;
err:
    return ESP_ERR_IMAGE_INVALID;
}

static esp_err_t walk(image_walk_t *w, const esp_partition_pos_t *part, esp_image_metadata_t *data)
{
    esp_err_t err;
    if (data == NULL || part == NULL) {
        return ESP_ERR_INVALID_ARG;
    }
    if (part->size > MAX_FLASH_ADDR_SIZE) {
        if (!w->silent) {
            ESP_LOGE(TAG, "partition size 0x%" PRIx32 " invalid, larger than 16MB", part->size);
        }
        err = ESP_ERR_INVALID_ARG;
        goto fail;
    }
    w->checksum = CHECKSUM_INITIAL;
    if ((err = process_header(w, data, part->offset)) != ESP_OK ||
        (err = process_segments(w, data)) != ESP_OK ||
        (err = process_checksum(w, data)) != ESP_OK ||
        (err = process_appended_hash(w, data, part->size)) != ESP_OK) {
        goto fail;
    }
    if (w->verify && w->sha_on) {
        uint8_t digest[32];
        xsota_sha_finish(&w->sha, digest);
        w->sha_on = false;
        if (memcmp(digest, data->image_digest, sizeof(digest)) != 0) {
            ESP_LOGE(TAG, "Image hash failed - image is corrupt");
            err = ESP_ERR_IMAGE_INVALID;
            goto fail;
        }
    }
    return ESP_OK;
fail:
    /* Prevent invalid or incomplete data leaking out, as ESP-IDF does. */
    memset(data, 0, sizeof(*data));
    return err;
}

esp_err_t vb_image_verify(const esp_partition_pos_t *part, esp_image_metadata_t *data, bool silent)
{
    image_walk_t w = {.silent = silent, .verify = true, .loading = false};
    return walk(&w, part, data);
}

/* The bootloader's bootloader_load_image(): full verify, "load" lines for RAM segments. */
esp_err_t vb_image_load(const esp_partition_pos_t *part, esp_image_metadata_t *data)
{
    image_walk_t w = {.silent = false, .verify = true, .loading = true};
    return walk(&w, part, data);
}

esp_err_t esp_image_verify(esp_image_load_mode_t mode, const esp_partition_pos_t *part, esp_image_metadata_t *data)
{
    return vb_image_verify(part, data, mode == ESP_IMAGE_VERIFY_SILENT);
}

esp_err_t esp_image_get_metadata(const esp_partition_pos_t *part, esp_image_metadata_t *metadata)
{
    if (metadata == NULL || part == NULL || part->size > MAX_FLASH_ADDR_SIZE) {
        return ESP_ERR_INVALID_ARG;
    }
    image_walk_t w = {.silent = true, .verify = false, .loading = false};
    return walk(&w, part, metadata);
}

int esp_image_get_flash_size(esp_image_flash_size_t app_flash_size)
{
    if (app_flash_size >= ESP_IMAGE_FLASH_SIZE_MAX) {
        return 0;
    }
    return (1 << (int)app_flash_size) * 1024 * 1024;
}

esp_err_t vb_image_payload(const esp_partition_pos_t *pos, uint8_t **out, size_t *out_len)
{
    if (pos == NULL || out == NULL || out_len == NULL) {
        return ESP_ERR_INVALID_ARG;
    }
    *out = NULL;
    *out_len = 0;
    esp_image_metadata_t data;
    esp_err_t err = vb_image_verify(pos, &data, true);
    if (err != ESP_OK) {
        return err;
    }
    if (data.image.segment_count < 2) {
        return ESP_ERR_NOT_FOUND;
    }
    size_t len = data.segments[1].data_len;
    uint8_t *buf = malloc(len > 0 ? len : 1);
    if (buf == NULL) {
        return ESP_ERR_NO_MEM;
    }
    err = vb_flash_read(data.segment_data[1], buf, len);
    if (err != ESP_OK) {
        free(buf);
        return err;
    }
    *out = buf;
    *out_len = len;
    return ESP_OK;
}
