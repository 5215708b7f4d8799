/*
 * esp_partition_* over the flash file, as ESP-IDF v5.5.1's partition.c and
 * partition_linux.c do it: the table is read once, at first use, from the
 * 4 KB sector at 0x8000; rows are taken until the first row whose magic is
 * not 0x50AA, and the MD5 row is required and checked
 * (CONFIG_PARTITION_TABLE_MD5=y). Range checks and error codes follow
 * partition_linux.c; the NOR rules are vb_flash.c's. esp_partition_mmap hands
 * out a copy: the virtual board has no MMU, and firmware only reads through it.
 */
#include <stdlib.h>
#include <string.h>

#include "esp_partition.h"
#include "vb_internal.h"

#define MAX_PARTITIONS (ESP_PARTITION_TABLE_SIZE / sizeof(esp_partition_info_t))

static const char *TAG = "partition";

static esp_partition_t s_parts[MAX_PARTITIONS];
static int s_count;
static bool s_loaded;

struct esp_partition_iterator_opaque_ {
    esp_partition_type_t type;
    esp_partition_subtype_t subtype;
    const char *label;
    int next_index;
    const esp_partition_t *info;
};

static void unmap_all(void);

void vb_partition_reset(void)
{
    s_count = 0;
    s_loaded = false;
    unmap_all();
}

static esp_err_t load_partitions(void)
{
    uint32_t sector[ESP_PARTITION_TABLE_SIZE / sizeof(uint32_t)];
    esp_err_t err = vb_flash_read(ESP_PARTITION_TABLE_OFFSET, sector, sizeof(sector));
    if (err != ESP_OK) {
        return err;
    }
    const uint8_t *bytes = (const uint8_t *)sector;
    const uint8_t *md5_row = NULL;
    vb_md5_ctx_t md5;
    vb_md5_init(&md5);
    int count = 0;

    for (size_t off = 0; off + sizeof(esp_partition_info_t) <= sizeof(sector); off += sizeof(esp_partition_info_t)) {
        esp_partition_info_t entry;
        memcpy(&entry, bytes + off, sizeof(entry));
        if (entry.magic == ESP_PARTITION_MAGIC_MD5) {
            md5_row = bytes + off;
            break;
        }
        if (entry.magic != ESP_PARTITION_MAGIC) {
            break;
        }
        vb_md5_update(&md5, &entry, sizeof(entry));
        esp_partition_t *p = &s_parts[count++];
        memset(p, 0, sizeof(*p));
        p->flash_chip = NULL;
        p->address = entry.pos.offset;
        p->size = entry.pos.size;
        p->erase_size = VB_FLASH_SECTOR_SIZE;
        p->type = (esp_partition_type_t)entry.type;
        p->subtype = (esp_partition_subtype_t)entry.subtype;
        p->encrypted = false;   /* flash encryption is not enabled on the virtual board */
        p->readonly = (entry.flags & PART_FLAG_READONLY) != 0;
        memcpy(p->label, entry.label, sizeof(entry.label));
        p->label[16] = '\0';
    }

    if (md5_row == NULL) {
        ESP_LOGE(TAG, "No MD5 found in partition table");
        err = ESP_ERR_NOT_FOUND;
    } else {
        uint8_t digest[16];
        vb_md5_final(&md5, digest);
        if (memcmp(digest, md5_row + ESP_PARTITION_MD5_OFFSET, sizeof(digest)) != 0) {
            ESP_LOGE(TAG, "Partition table MD5 mismatch");
            err = ESP_ERR_INVALID_STATE;
        }
    }
    if (err != ESP_OK) {
        s_count = 0;
        return err;
    }
    s_count = count;
    return ESP_OK;
}

static esp_err_t ensure_loaded(void)
{
    if (s_loaded) {
        return ESP_OK;
    }
    if (!vb_flash_is_open()) {
        return ESP_ERR_INVALID_STATE;
    }
    esp_err_t err = load_partitions();
    if (err != ESP_OK) {
        ESP_LOGE(TAG, "load_partitions returned 0x%x", err);
        return err;
    }
    s_loaded = true;
    return ESP_OK;
}

void esp_partition_unload_all(void)
{
    vb_partition_reset();
}

esp_partition_iterator_t esp_partition_next(esp_partition_iterator_t it)
{
    if (it == NULL) {
        return NULL;
    }
    for (; it->next_index < s_count; it->next_index++) {
        const esp_partition_t *p = &s_parts[it->next_index];
        if (it->type != ESP_PARTITION_TYPE_ANY && it->type != p->type) {
            continue;
        }
        if (it->subtype != ESP_PARTITION_SUBTYPE_ANY && it->subtype != p->subtype) {
            continue;
        }
        if (it->label != NULL && strcmp(it->label, p->label) != 0) {
            continue;
        }
        it->info = p;
        it->next_index++;
        return it;
    }
    esp_partition_iterator_release(it);
    return NULL;
}

static esp_err_t find_err(esp_partition_type_t type, esp_partition_subtype_t subtype, const char *label,
                                 esp_partition_iterator_t *out)
{
    if (out == NULL) {
        return ESP_ERR_INVALID_ARG;
    }
    *out = NULL;
    esp_err_t err = ensure_loaded();
    if (err != ESP_OK) {
        return err;
    }
    /* A subtype without a type is a usage error in ESP-IDF too. */
    if (type == ESP_PARTITION_TYPE_ANY && subtype != ESP_PARTITION_SUBTYPE_ANY) {
        return ESP_ERR_INVALID_ARG;
    }
    struct esp_partition_iterator_opaque_ *it = malloc(sizeof(*it));
    if (it == NULL) {
        return ESP_ERR_NO_MEM;
    }
    it->type = type;
    it->subtype = subtype;
    it->label = label;
    it->next_index = 0;
    it->info = NULL;
    *out = esp_partition_next(it);
    return *out == NULL ? ESP_ERR_NOT_FOUND : ESP_OK;
}

esp_partition_iterator_t esp_partition_find(esp_partition_type_t type, esp_partition_subtype_t subtype, const char *label)
{
    esp_partition_iterator_t it;
    if (find_err(type, subtype, label, &it) != ESP_OK) {
        return NULL;
    }
    return it;
}

static esp_err_t find_first_err(esp_partition_type_t type, esp_partition_subtype_t subtype, const char *label,
                                       const esp_partition_t **partition)
{
    if (partition == NULL) {
        return ESP_ERR_INVALID_ARG;
    }
    esp_partition_iterator_t it = NULL;
    esp_err_t err = find_err(type, subtype, label, &it);
    if (err != ESP_OK || it == NULL) {
        *partition = NULL;
        return err;
    }
    *partition = esp_partition_get(it);
    esp_partition_iterator_release(it);
    return *partition == NULL ? ESP_ERR_NOT_FOUND : ESP_OK;
}

const esp_partition_t *esp_partition_find_first(esp_partition_type_t type, esp_partition_subtype_t subtype, const char *label)
{
    const esp_partition_t *p;
    if (find_first_err(type, subtype, label, &p) != ESP_OK) {
        return NULL;
    }
    return p;
}

void esp_partition_iterator_release(esp_partition_iterator_t iterator)
{
    free(iterator);
}

const esp_partition_t *esp_partition_get(esp_partition_iterator_t iterator)
{
    return iterator != NULL ? iterator->info : NULL;
}

static esp_err_t verify_err(const esp_partition_t *partition, const esp_partition_t **out_partition)
{
    if (partition == NULL || out_partition == NULL) {
        return ESP_ERR_INVALID_ARG;
    }
    *out_partition = NULL;
    const char *label = strlen(partition->label) > 0 ? partition->label : NULL;
    esp_partition_iterator_t it = NULL;
    esp_err_t err = find_err(partition->type, partition->subtype, label, &it);
    if (err != ESP_OK) {
        return err;
    }
    while (it != NULL) {
        const esp_partition_t *p = esp_partition_get(it);
        if (p->flash_chip == partition->flash_chip && p->address == partition->address && p->size == partition->size &&
            p->encrypted == partition->encrypted) {
            esp_partition_iterator_release(it);
            *out_partition = p;
            return ESP_OK;
        }
        it = esp_partition_next(it);
    }
    return ESP_ERR_NOT_FOUND;
}

const esp_partition_t *esp_partition_verify(const esp_partition_t *partition)
{
    const esp_partition_t *out;
    return verify_err(partition, &out) == ESP_OK ? out : NULL;
}

esp_err_t esp_partition_read(const esp_partition_t *partition, size_t src_offset, void *dst, size_t size)
{
    if (partition == NULL || dst == NULL) {
        return ESP_ERR_INVALID_ARG;
    }
    if (partition->encrypted) {
        return ESP_ERR_NOT_SUPPORTED;
    }
    if (src_offset > partition->size) {
        return ESP_ERR_INVALID_ARG;
    }
    if (size > partition->size - src_offset) {
        return ESP_ERR_INVALID_SIZE;
    }
    return vb_flash_read(partition->address + (uint32_t)src_offset, dst, size);
}

esp_err_t esp_partition_write(const esp_partition_t *partition, size_t dst_offset, const void *src, size_t size)
{
    if (partition == NULL || src == NULL) {
        return ESP_ERR_INVALID_ARG;
    }
    if (partition->readonly) {
        return ESP_ERR_NOT_ALLOWED;
    }
    if (partition->encrypted) {
        return ESP_ERR_NOT_SUPPORTED;
    }
    if (dst_offset > partition->size) {
        return ESP_ERR_INVALID_ARG;
    }
    if (size > partition->size - dst_offset) {
        return ESP_ERR_INVALID_SIZE;
    }
    return vb_flash_write(partition->address + (uint32_t)dst_offset, src, size);
}

esp_err_t esp_partition_read_raw(const esp_partition_t *partition, size_t src_offset, void *dst, size_t size)
{
    return esp_partition_read(partition, src_offset, dst, size);
}

esp_err_t esp_partition_write_raw(const esp_partition_t *partition, size_t dst_offset, const void *src, size_t size)
{
    return esp_partition_write(partition, dst_offset, src, size);
}

esp_err_t esp_partition_erase_range(const esp_partition_t *partition, size_t offset, size_t size)
{
    if (partition == NULL) {
        return ESP_ERR_INVALID_ARG;
    }
    if (partition->readonly) {
        return ESP_ERR_NOT_ALLOWED;
    }
    if (offset > partition->size || offset % partition->erase_size != 0) {
        return ESP_ERR_INVALID_ARG;
    }
    if (size > partition->size - offset || size % partition->erase_size != 0) {
        return ESP_ERR_INVALID_SIZE;
    }
    if (size == 0) {
        return ESP_OK;
    }
    return vb_flash_erase_range(partition->address + (uint32_t)offset, (uint32_t)size);
}

#define MAX_MAPPINGS 16
static void *s_mappings[MAX_MAPPINGS];

esp_err_t esp_partition_mmap(const esp_partition_t *partition, size_t offset, size_t size,
                             esp_partition_mmap_memory_t memory, const void **out_ptr,
                             esp_partition_mmap_handle_t *out_handle)
{
    (void)memory;
    if (partition == NULL || out_ptr == NULL || out_handle == NULL) {
        return ESP_ERR_INVALID_ARG;
    }
    if (offset > partition->size) {
        return ESP_ERR_INVALID_ARG;
    }
    if (size > partition->size - offset) {
        return ESP_ERR_INVALID_SIZE;
    }
    for (int i = 0; i < MAX_MAPPINGS; i++) {
        if (s_mappings[i] == NULL) {
            void *copy = malloc(size > 0 ? size : 1);
            if (copy == NULL) {
                return ESP_ERR_NO_MEM;
            }
            esp_err_t err = vb_flash_read(partition->address + (uint32_t)offset, copy, size);
            if (err != ESP_OK) {
                free(copy);
                return err;
            }
            s_mappings[i] = copy;
            *out_ptr = copy;
            *out_handle = (esp_partition_mmap_handle_t)(i + 1);
            return ESP_OK;
        }
    }
    return ESP_ERR_NO_MEM;   /* like running out of MMU pages */
}

static void unmap_all(void)
{
    for (int i = 0; i < MAX_MAPPINGS; i++) {
        free(s_mappings[i]);
        s_mappings[i] = NULL;
    }
}

void esp_partition_munmap(esp_partition_mmap_handle_t handle)
{
    if (handle >= 1 && handle <= MAX_MAPPINGS) {
        free(s_mappings[handle - 1]);
        s_mappings[handle - 1] = NULL;
    }
}

esp_err_t esp_partition_get_sha256(const esp_partition_t *partition, uint8_t *sha_256)
{
    if (partition == NULL || sha_256 == NULL) {
        return ESP_ERR_INVALID_ARG;
    }
    uint32_t len = partition->size;
    if (partition->type == ESP_PARTITION_TYPE_APP) {
        /* For an app, ESP-IDF hashes the image, not the partition (bootloader_common_get_sha256_of_partition). */
        esp_partition_pos_t pos = {partition->address, partition->size};
        esp_image_metadata_t data;
        if (vb_image_verify(&pos, &data, true) != ESP_OK) {
            return ESP_ERR_IMAGE_INVALID;
        }
        if (data.image.hash_appended) {
            memcpy(sha_256, data.image_digest, 32);
            return ESP_OK;
        }
        len = data.image_len;
    }
    xsota_sha_t ctx;
    xsota_sha_start(&ctx, 1);
    uint8_t buf[4096];
    for (uint32_t off = 0; off < len;) {
        uint32_t chunk = len - off < sizeof(buf) ? len - off : (uint32_t)sizeof(buf);
        esp_err_t err = vb_flash_read(partition->address + off, buf, chunk);
        if (err != ESP_OK) {
            return err;
        }
        xsota_sha_update(&ctx, buf, chunk);
        off += chunk;
    }
    xsota_sha_finish(&ctx, sha_256);
    return ESP_OK;
}

bool esp_partition_check_identity(const esp_partition_t *partition_1, const esp_partition_t *partition_2)
{
    uint8_t a[32], b[32];
    if (esp_partition_get_sha256(partition_1, a) != ESP_OK || esp_partition_get_sha256(partition_2, b) != ESP_OK) {
        return false;
    }
    return memcmp(a, b, sizeof(a)) == 0;
}

uint32_t esp_partition_get_main_flash_sector_size(void)
{
    return VB_FLASH_SECTOR_SIZE;
}

esp_err_t esp_partition_copy(const esp_partition_t *dest_part, uint32_t dest_offset, const esp_partition_t *src_part,
                             uint32_t src_offset, size_t size)
{
    if (src_part == NULL || dest_part == NULL || src_part == dest_part) {
        return ESP_ERR_INVALID_ARG;
    }
    if (src_offset > src_part->size || dest_offset > dest_part->size) {
        return ESP_ERR_INVALID_SIZE;
    }
    size_t dest_erase_size = size;
    if (size == SIZE_MAX) {
        size = src_part->size - src_offset;
        dest_erase_size = dest_part->size - dest_offset;
    }
    if (size > src_part->size - src_offset || size > dest_part->size - dest_offset) {
        return ESP_ERR_INVALID_SIZE;
    }
    size_t erase = (dest_erase_size + VB_FLASH_SECTOR_SIZE - 1) & ~(size_t)(VB_FLASH_SECTOR_SIZE - 1);
    esp_err_t err = esp_partition_erase_range(dest_part, dest_offset, erase);
    if (err != ESP_OK) {
        ESP_LOGE(TAG, "Erasing destination partition range failed (err=0x%x)", err);
        return err;
    }
    uint8_t buf[4096];
    for (size_t off = 0; off < size;) {
        size_t chunk = size - off < sizeof(buf) ? size - off : sizeof(buf);
        err = esp_partition_read(src_part, src_offset + off, buf, chunk);
        if (err == ESP_OK) {
            err = esp_partition_write(dest_part, dest_offset + off, buf, chunk);
        }
        if (err != ESP_OK) {
            return err;
        }
        off += chunk;
    }
    return ESP_OK;
}
