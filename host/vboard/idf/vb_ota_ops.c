/*
 * esp_ota_* as app_update/esp_ota_ops.c of ESP-IDF v5.5.1 behaves with
 * CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE=y, no anti-rollback, no flash
 * encryption, no secure boot. Where releases differ (see README.md), this
 * file does what v5.5.1 does:
 *   - esp_ota_begin on an OTA slot erases the inactive otadata sector
 *     (esp_ota_invalidate_inactive_ota_data_slot) after erasing the target;
 *   - esp_ota_set_boot_partition always writes the OTHER sector, with the
 *     smallest seq >= the active one that selects the target, even when the
 *     target is already the active slot (v6.0 rewrites the same sector then);
 *   - esp_ota_write of 0 bytes is ESP_OK.
 *
 * "Running partition": on the chip, the partition holding the code of
 * esp_ota_get_running_partition itself. Here it is the partition at the flash
 * address the bootloader emulation booted (vb_ota_set_running_address).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app_update/include/esp_ota_ops.h"
#include "vb_internal.h"

#define OTA_SLOT(i) ((i) & 0x0F)
#define ALIGN_UP(num, align) (((num) + ((align) - 1)) & ~((align) - 1))

static const char *TAG = "esp_ota_ops";

typedef struct ota_entry {
    uint32_t handle;
    const esp_partition_t *staging;
    const esp_partition_t *final;
    bool finalize_with_copy;
    bool need_erase;
    bool ota_resumption;
    uint32_t wrote_size;
    struct ota_entry *next;
} ota_entry_t;

static ota_entry_t *s_entries;
static uint32_t s_last_handle;
static uint32_t s_running_addr = UINT32_MAX;

void vb_ota_reset(void)
{
    while (s_entries != NULL) {
        ota_entry_t *next = s_entries->next;
        free(s_entries);
        s_entries = next;
    }
    s_last_handle = 0;
    s_running_addr = UINT32_MAX;
}

void vb_ota_set_running_address(uint32_t flash_addr)
{
    s_running_addr = flash_addr;
}

static bool is_ota_partition(const esp_partition_t *p)
{
    return p != NULL && p->type == ESP_PARTITION_TYPE_APP && p->subtype >= ESP_PARTITION_SUBTYPE_APP_OTA_0 &&
           p->subtype < ESP_PARTITION_SUBTYPE_APP_OTA_MAX;
}

static const esp_partition_t *read_otadata(esp_ota_select_entry_t *two)
{
    const esp_partition_t *otadata = esp_partition_find_first(ESP_PARTITION_TYPE_DATA, ESP_PARTITION_SUBTYPE_DATA_OTA, NULL);
    if (otadata == NULL) {
        ESP_LOGE(TAG, "not found otadata");
        return NULL;
    }
    if (esp_partition_read(otadata, 0, &two[0], sizeof(two[0])) != ESP_OK ||
        esp_partition_read(otadata, otadata->erase_size, &two[1], sizeof(two[1])) != ESP_OK) {
        ESP_LOGE(TAG, "mmap otadata filed. Err=0x%8x", ESP_FAIL);
        return NULL;
    }
    return otadata;
}

static esp_err_t image_validate(const esp_partition_t *partition, bool silent)
{
    esp_image_metadata_t data;
    const esp_partition_pos_t pos = {partition->address, partition->size};
    return vb_image_verify(&pos, &data, silent) == ESP_OK ? ESP_OK : ESP_ERR_OTA_VALIDATE_FAILED;
}

static ota_entry_t *find_entry(esp_ota_handle_t handle)
{
    for (ota_entry_t *it = s_entries; it != NULL; it = it->next) {
        if (it->handle == handle) {
            return it;
        }
    }
    return NULL;
}

static void remove_entry(ota_entry_t *entry)
{
    for (ota_entry_t **pp = &s_entries; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == entry) {
            *pp = entry->next;
            free(entry);
            return;
        }
    }
}

static ota_entry_t *new_entry(const esp_partition_t *partition)
{
    ota_entry_t *entry = calloc(1, sizeof(*entry));
    if (entry == NULL) {
        return NULL;
    }
    entry->staging = partition;
    entry->final = partition;
    entry->handle = ++s_last_handle;
    entry->next = s_entries;
    s_entries = entry;
    return entry;
}

esp_err_t esp_ota_begin(const esp_partition_t *partition, size_t image_size, esp_ota_handle_t *out_handle)
{
    if (partition == NULL || out_handle == NULL) {
        return ESP_ERR_INVALID_ARG;
    }
    partition = esp_partition_verify(partition);
    if (partition == NULL) {
        return ESP_ERR_NOT_FOUND;
    }
    if (partition->type == ESP_PARTITION_TYPE_APP) {
        /* The staging partition cannot be factory or test. */
        if (!is_ota_partition(partition)) {
            return ESP_ERR_INVALID_ARG;
        }
        const esp_partition_t *running = esp_ota_get_running_partition();
        if (partition == running) {
            return ESP_ERR_OTA_PARTITION_CONFLICT;
        }
        esp_ota_img_states_t running_state;
        if (esp_ota_get_state_partition(running, &running_state) == ESP_OK &&
            running_state == ESP_OTA_IMG_PENDING_VERIFY) {
            ESP_LOGE(TAG, "Running app has not confirmed state (ESP_OTA_IMG_PENDING_VERIFY)");
            return ESP_ERR_OTA_ROLLBACK_INVALID_STATE;
        }
    }

    ota_entry_t *entry = new_entry(partition);
    if (entry == NULL) {
        return ESP_ERR_NO_MEM;
    }
    entry->need_erase = image_size == OTA_WITH_SEQUENTIAL_WRITES;
    *out_handle = entry->handle;

    if (image_size != OTA_WITH_SEQUENTIAL_WRITES) {
        size_t erase_size = (image_size == 0 || image_size == OTA_SIZE_UNKNOWN)
                                ? partition->size
                                : ALIGN_UP(image_size, (size_t)partition->erase_size);
        /* As in ESP-IDF, a failed erase returns the error but leaves the handle registered. */
        esp_err_t err = esp_partition_erase_range(partition, 0, erase_size);
        if (err != ESP_OK) {
            return err;
        }
    }
    if (is_ota_partition(partition)) {
        esp_ota_invalidate_inactive_ota_data_slot();
    }
    return ESP_OK;
}

esp_err_t esp_ota_resume(const esp_partition_t *partition, const size_t erase_size, const size_t image_offset,
                         esp_ota_handle_t *out_handle)
{
    if (partition == NULL || out_handle == NULL) {
        return ESP_ERR_INVALID_ARG;
    }
    if (image_offset > partition->size) {
        return ESP_ERR_INVALID_ARG;
    }
    partition = esp_partition_verify(partition);
    if (partition == NULL) {
        return ESP_ERR_NOT_FOUND;
    }
    if (partition->type == ESP_PARTITION_TYPE_APP && !is_ota_partition(partition)) {
        return ESP_ERR_INVALID_ARG;
    }
    if (partition == esp_ota_get_running_partition()) {
        return ESP_ERR_OTA_PARTITION_CONFLICT;
    }
    ota_entry_t *entry = new_entry(partition);
    if (entry == NULL) {
        return ESP_ERR_NO_MEM;
    }
    entry->ota_resumption = true;
    entry->wrote_size = (uint32_t)image_offset;
    entry->need_erase = erase_size == OTA_WITH_SEQUENTIAL_WRITES;
    *out_handle = entry->handle;
    return ESP_OK;
}

esp_err_t esp_ota_set_final_partition(esp_ota_handle_t handle, const esp_partition_t *final, bool finalize_with_copy)
{
    ota_entry_t *it = find_entry(handle);
    if (final == NULL) {
        return ESP_ERR_INVALID_ARG;
    }
    if (it == NULL) {
        return ESP_ERR_NOT_FOUND;
    }
    if (!it->ota_resumption && it->wrote_size != 0) {
        return ESP_ERR_INVALID_STATE;
    }
    if (it->staging != final) {
        const esp_partition_t *final_partition = esp_partition_verify(final);
        if (final_partition == NULL) {
            return ESP_ERR_NOT_FOUND;
        }
        ESP_LOGI(TAG, "Staging partition - <%s>. Final partition - <%s>.", it->staging->label, final_partition->label);
        it->final = final_partition;
        it->finalize_with_copy = finalize_with_copy;
    }
    return ESP_OK;
}

esp_err_t esp_ota_write(esp_ota_handle_t handle, const void *data, size_t size)
{
    const uint8_t *bytes = data;
    if (data == NULL) {
        ESP_LOGE(TAG, "write data is invalid");
        return ESP_ERR_INVALID_ARG;
    }
    if (size == 0) {
        return ESP_OK;
    }
    ota_entry_t *it = find_entry(handle);
    if (it == NULL) {
        ESP_LOGE(TAG, "not found the handle");
        return ESP_ERR_INVALID_ARG;
    }
    esp_err_t ret;
    if (it->need_erase) {
        /* Erase lazily: every sector this write reaches that earlier writes have not erased. */
        uint32_t sector = it->staging->erase_size;
        uint32_t first_sector = it->wrote_size / sector;
        uint32_t last_sector = (uint32_t)((it->wrote_size + size - 1) / sector);
        ret = ESP_OK;
        if (it->wrote_size % sector == 0) {
            ret = esp_partition_erase_range(it->staging, it->wrote_size, (last_sector - first_sector + 1) * sector);
        } else if (first_sector != last_sector) {
            ret = esp_partition_erase_range(it->staging, (first_sector + 1) * sector, (last_sector - first_sector) * sector);
        }
        if (ret != ESP_OK) {
            return ret;
        }
    }
    if (it->wrote_size == 0) {
        if (it->final->type == ESP_PARTITION_TYPE_APP || it->final->type == ESP_PARTITION_TYPE_BOOTLOADER) {
            if (bytes[0] != ESP_IMAGE_HEADER_MAGIC) {
                ESP_LOGE(TAG, "OTA image has invalid magic byte (expected 0xE9, saw 0x%02x)", bytes[0]);
                return ESP_ERR_OTA_VALIDATE_FAILED;
            }
        } else if (it->final->type == ESP_PARTITION_TYPE_PARTITION_TABLE) {
            uint16_t magic = (uint16_t)(bytes[0] | (size > 1 ? bytes[1] << 8 : 0));
            if (magic != ESP_PARTITION_MAGIC) {
                ESP_LOGE(TAG, "Partition table image has invalid magic word (expected 0x50AA, saw 0x%04x)", magic);
                return ESP_ERR_OTA_VALIDATE_FAILED;
            }
        }
    }
    ret = esp_partition_write(it->staging, it->wrote_size, bytes, size);
    if (ret == ESP_OK) {
        it->wrote_size += (uint32_t)size;
    }
    return ret;
}

esp_err_t esp_ota_write_with_offset(esp_ota_handle_t handle, const void *data, size_t size, uint32_t offset)
{
    if (data == NULL) {
        ESP_LOGE(TAG, "write data is invalid");
        return ESP_ERR_INVALID_ARG;
    }
    ota_entry_t *it = find_entry(handle);
    if (it == NULL) {
        ESP_LOGE(TAG, "OTA handle not found");
        return ESP_ERR_INVALID_ARG;
    }
    if (it->need_erase) {
        /* ESP-IDF asserts here (sequential-erase mode cannot write at random offsets): a panic. */
        printf("assert failed: esp_ota_write_with_offset esp_ota_ops.c: it->need_erase == 0 && "
               "\"must erase the partition before writing to it\"\n");
        esp_system_abort("assert failed");
    }
    esp_err_t ret = esp_partition_write(it->staging, offset, data, size);
    if (ret == ESP_OK) {
        it->wrote_size += (uint32_t)size;
    }
    return ret;
}

esp_err_t esp_ota_abort(esp_ota_handle_t handle)
{
    ota_entry_t *it = find_entry(handle);
    if (it == NULL) {
        return ESP_ERR_NOT_FOUND;
    }
    remove_entry(it);
    return ESP_OK;
}

static esp_err_t verify_written(const ota_entry_t *it)
{
    if (it->final->type == ESP_PARTITION_TYPE_APP || it->final->type == ESP_PARTITION_TYPE_BOOTLOADER) {
        esp_image_metadata_t data;
        const esp_partition_pos_t pos = {it->staging->address, it->staging->size};
        if (vb_image_verify(&pos, &data, false) != ESP_OK) {
            return ESP_ERR_OTA_VALIDATE_FAILED;
        }
    } else if (it->final->type == ESP_PARTITION_TYPE_PARTITION_TABLE) {
        uint32_t table[ESP_PARTITION_TABLE_MAX_LEN / sizeof(uint32_t)];
        esp_err_t err = esp_partition_read(it->staging, 0, table, sizeof(table));
        if (err != ESP_OK) {
            return err;
        }
        int num;
        if (esp_partition_table_verify((const esp_partition_info_t *)table, true, &num) != ESP_OK) {
            return ESP_ERR_OTA_VALIDATE_FAILED;
        }
    }
    return ESP_OK;
}

esp_err_t esp_ota_end(esp_ota_handle_t handle)
{
    ota_entry_t *it = find_entry(handle);
    if (it == NULL) {
        return ESP_ERR_NOT_FOUND;
    }
    esp_err_t ret;
    if (it->wrote_size == 0) {
        ret = ESP_ERR_INVALID_ARG;
    } else {
        ret = verify_written(it);
        if (ret != ESP_OK) {
            ESP_LOGE(TAG, "New image failed verification");
        } else if (it->finalize_with_copy) {
            ESP_LOGI(TAG, "Copy from <%s> staging partition to <%s>...", it->staging->label, it->final->label);
            ret = esp_partition_copy(it->final, 0, it->staging, 0, it->final->size);
        }
    }
    /* The handle is freed whatever the outcome. */
    remove_entry(it);
    return ret;
}

static esp_err_t rewrite_ota_seq(esp_ota_select_entry_t *two, uint32_t seq, uint8_t sec_id, const esp_partition_t *otadata)
{
    if (two == NULL || sec_id > 1) {
        return ESP_ERR_INVALID_ARG;
    }
    two[sec_id].ota_seq = seq;
    two[sec_id].crc = vb_otadata_crc(&two[sec_id]);
    esp_err_t ret = esp_partition_erase_range(otadata, sec_id * otadata->erase_size, otadata->erase_size);
    if (ret != ESP_OK) {
        return ret;
    }
    return esp_partition_write(otadata, otadata->erase_size * sec_id, &two[sec_id], sizeof(two[sec_id]));
}

/*
 * The smallest seq >= current_seq whose slot ((seq - 1) % count) is slot, as
 * ESP-IDF finds it: i = 0; while (current_seq > base + i * count) i++; in
 * uint32_t arithmetic, which wraps past UINT32_MAX. Here the same answer is
 * computed lap by lap of that wrap-around instead of step by step: with an
 * active seq near UINT32_MAX (otadata with a good crc, crafted or corrupt)
 * ESP-IDF's loop takes up to 2^32 steps (seconds here, beyond the task
 * watchdog on the chip), and for some slot counts (4, 8, 16) it never ends;
 * false then. Each lap starts below count, so count + 1 laps see them all.
 * False too when the answer is UINT32_MAX: ESP-IDF writes that seq, which
 * reads back as an erased entry, so set_boot_partition "succeeds" and the
 * boot partition stays what it was.
 */
static bool seq_for_slot(uint32_t current_seq, uint32_t slot, uint8_t count, uint32_t *out)
{
    if (count == 0) {
        *out = 0;
        return true;
    }
    uint64_t v = (slot + 1) % count;   /* base + i * count, modulo 2^32 */
    for (unsigned lap = 0; lap <= count; lap++) {
        if (v >= current_seq) {
            *out = (uint32_t)v;
            return v != UINT32_MAX;
        }
        uint64_t first = v + (current_seq - v + count - 1) / count * count;   /* first >= current_seq in this lap */
        if (first <= UINT32_MAX) {
            *out = (uint32_t)first;
            return first != UINT32_MAX;
        }
        v = v + ((UINT32_MAX - v) / count + 1) * count - ((uint64_t)1 << 32);   /* first value after the wrap */
    }
    return false;
}

uint8_t esp_ota_get_app_partition_count(void)
{
    uint16_t count = 0;
    while (count < 16 &&
           esp_partition_find_first(ESP_PARTITION_TYPE_APP, ESP_PARTITION_SUBTYPE_APP_OTA_MIN + count, NULL) != NULL) {
        count++;
    }
    return (uint8_t)count;
}

static esp_err_t rewrite_ota_data(esp_partition_subtype_t subtype)
{
    esp_ota_select_entry_t two[2];
    const esp_partition_t *otadata = read_otadata(two);
    if (otadata == NULL) {
        return ESP_ERR_NOT_FOUND;
    }
    uint8_t count = esp_ota_get_app_partition_count();
    if (OTA_SLOT(subtype) >= count) {
        return ESP_ERR_INVALID_ARG;
    }
    int active = vb_otadata_active(two);
    int next;
    uint32_t new_seq;
    if (active != -1) {
        /* v5.5.1 writes the other sector even when the target is already the active slot: the
           seq found is then the active one, so both entries end up with it and the previous
           slot's entry is gone. (v6.0 rewrites the active sector instead.) */
        next = (~active) & 1;
        if (!seq_for_slot(two[active].ota_seq, OTA_SLOT(subtype), count, &new_seq)) {
            ESP_LOGE(TAG, "otadata seq %" PRIu32 ": no valid seq from there selects ota_%d", two[active].ota_seq,
                     OTA_SLOT(subtype));
            return ESP_ERR_OTA_SELECT_INFO_INVALID;
        }
    } else {
        /* Both entries invalid, e.g. never written. */
        next = 0;
        new_seq = OTA_SLOT(subtype) + 1;
    }
    two[next].ota_state = ESP_OTA_IMG_NEW;   /* CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE */
    return rewrite_ota_seq(two, new_seq, (uint8_t)next, otadata);
}

esp_err_t esp_ota_set_boot_partition(const esp_partition_t *partition)
{
    if (partition == NULL) {
        return ESP_ERR_INVALID_ARG;
    }
    if (image_validate(partition, false) != ESP_OK) {
        return ESP_ERR_OTA_VALIDATE_FAILED;
    }
    if (partition->type != ESP_PARTITION_TYPE_APP) {
        return ESP_ERR_INVALID_ARG;
    }
    if (partition->subtype == ESP_PARTITION_SUBTYPE_APP_FACTORY) {
        /* Booting factory means no otadata at all. */
        const esp_partition_t *otadata = esp_partition_find_first(ESP_PARTITION_TYPE_DATA, ESP_PARTITION_SUBTYPE_DATA_OTA, NULL);
        if (otadata == NULL) {
            return ESP_ERR_NOT_FOUND;
        }
        return esp_partition_erase_range(otadata, 0, otadata->size);
    }
    return rewrite_ota_data(partition->subtype);
}

static const esp_partition_t *find_default_boot_partition(void)
{
    const esp_partition_t *result = esp_partition_find_first(ESP_PARTITION_TYPE_APP, ESP_PARTITION_SUBTYPE_APP_FACTORY, NULL);
    if (result != NULL) {
        return result;
    }
    for (int s = ESP_PARTITION_SUBTYPE_APP_OTA_MIN; s != ESP_PARTITION_SUBTYPE_APP_OTA_MAX; s++) {
        result = esp_partition_find_first(ESP_PARTITION_TYPE_APP, (esp_partition_subtype_t)s, NULL);
        if (result != NULL) {
            return result;
        }
    }
    result = esp_partition_find_first(ESP_PARTITION_TYPE_APP, ESP_PARTITION_SUBTYPE_APP_TEST, NULL);
    if (result != NULL) {
        return result;
    }
    ESP_LOGE(TAG, "invalid partition table, no app partitions");
    return NULL;
}

const esp_partition_t *esp_ota_get_boot_partition(void)
{
    esp_ota_select_entry_t two[2];
    if (read_otadata(two) == NULL) {
        return NULL;
    }
    int count = esp_ota_get_app_partition_count();
    if ((vb_otadata_entry_invalid(&two[0]) && vb_otadata_entry_invalid(&two[1])) || count == 0) {
        return find_default_boot_partition();
    }
    int active = vb_otadata_active(two);
    if (active != -1) {
        int slot = (int)((two[active].ota_seq - 1) % (uint32_t)count);
        return esp_partition_find_first(ESP_PARTITION_TYPE_APP, ESP_PARTITION_SUBTYPE_APP_OTA_MIN + slot, NULL);
    }
    ESP_LOGE(TAG, "ota data invalid, no current app. Assuming factory");
    return find_default_boot_partition();
}

const esp_partition_t *esp_ota_get_running_partition(void)
{
    static bool warned;
    if (s_running_addr == UINT32_MAX) {
        /* ESP-IDF aborts when the code address is in no partition; without a booted image
           (main.c --modules, or a test) there is none, and NULL is the gentler answer. */
        if (!warned) {
            fprintf(stderr, "vboard: esp_ota_get_running_partition: no app was booted from flash\n");
            warned = true;
        }
        return NULL;
    }
    esp_partition_iterator_t it = esp_partition_find(ESP_PARTITION_TYPE_APP, ESP_PARTITION_SUBTYPE_ANY, NULL);
    while (it != NULL) {
        const esp_partition_t *p = esp_partition_get(it);
        if (p->address <= s_running_addr && s_running_addr - p->address < p->size) {
            esp_partition_iterator_release(it);
            return p;
        }
        it = esp_partition_next(it);
    }
    return NULL;
}

const esp_partition_t *esp_ota_get_next_update_partition(const esp_partition_t *start_from)
{
    const esp_partition_t *default_ota = NULL;
    bool next_is_result = false;
    start_from = start_from == NULL ? esp_ota_get_running_partition() : esp_partition_verify(start_from);
    for (int t = ESP_PARTITION_SUBTYPE_APP_OTA_0; t != ESP_PARTITION_SUBTYPE_APP_OTA_MAX; t++) {
        const esp_partition_t *p = esp_partition_find_first(ESP_PARTITION_TYPE_APP, (esp_partition_subtype_t)t, NULL);
        if (p == NULL) {
            continue;
        }
        if (default_ota == NULL) {
            default_ota = p;
        }
        if (p == start_from) {
            next_is_result = true;
        } else if (next_is_result) {
            return p;
        }
    }
    return default_ota;
}

esp_err_t esp_ota_get_partition_description(const esp_partition_t *partition, esp_app_desc_t *app_desc)
{
    if (partition == NULL || app_desc == NULL) {
        return ESP_ERR_INVALID_ARG;
    }
    if (partition->type != ESP_PARTITION_TYPE_APP) {
        return ESP_ERR_NOT_SUPPORTED;
    }
    esp_err_t err = esp_partition_read(partition, sizeof(esp_image_header_t) + sizeof(esp_image_segment_header_t),
                                       app_desc, sizeof(*app_desc));
    if (err != ESP_OK) {
        return err;
    }
    return app_desc->magic_word == ESP_APP_DESC_MAGIC_WORD ? ESP_OK : ESP_ERR_NOT_FOUND;
}

bool esp_ota_check_rollback_is_possible(void)
{
    esp_ota_select_entry_t two[2];
    if (read_otadata(two) == NULL) {
        return false;
    }
    int count = esp_ota_get_app_partition_count();
    if (count == 0) {
        return false;
    }
    bool valid[2] = {vb_otadata_entry_valid(&two[0]), vb_otadata_entry_valid(&two[1])};
    int active = vb_otadata_select(two, valid, true);
    if (active == -1) {
        return false;
    }
    int last_active = (~active) & 1;
    const esp_partition_t *partition;
    if (!valid[last_active]) {
        partition = esp_partition_find_first(ESP_PARTITION_TYPE_APP, ESP_PARTITION_SUBTYPE_APP_FACTORY, NULL);
        if (partition != NULL && image_validate(partition, true) == ESP_OK) {
            return true;
        }
    }
    if (valid[last_active]) {
        int slot = (int)((two[last_active].ota_seq - 1) % (uint32_t)count);
        partition = esp_partition_find_first(ESP_PARTITION_TYPE_APP, ESP_PARTITION_SUBTYPE_APP_OTA_MIN + slot, NULL);
        if (partition != NULL && image_validate(partition, true) == ESP_OK) {
            return true;
        }
    }
    return false;
}

/* valid: commit the running app; !valid: mark it INVALID so that the next boot rolls back. */
static esp_err_t current_ota_is_workable(bool valid)
{
    esp_ota_select_entry_t two[2];
    const esp_partition_t *otadata = read_otadata(two);
    if (otadata == NULL) {
        return ESP_ERR_NOT_FOUND;
    }
    int active = vb_otadata_active(two);
    if (active == -1 || esp_ota_get_app_partition_count() == 0) {
        ESP_LOGE(TAG, "Running firmware is factory");
        return ESP_FAIL;
    }
    if (valid && two[active].ota_state != ESP_OTA_IMG_VALID) {
        two[active].ota_state = ESP_OTA_IMG_VALID;
        return rewrite_ota_seq(two, two[active].ota_seq, (uint8_t)active, otadata);
    }
    if (!valid) {
        if (!esp_ota_check_rollback_is_possible()) {
            ESP_LOGE(TAG, "Rollback is not possible, do not have any suitable apps in slots");
            return ESP_ERR_OTA_ROLLBACK_FAILED;
        }
        two[active].ota_state = ESP_OTA_IMG_INVALID;
        esp_err_t err = rewrite_ota_seq(two, two[active].ota_seq, (uint8_t)active, otadata);
        if (err != ESP_OK) {
            return err;
        }
        ESP_LOGI(TAG, "Rollback to previously worked partition.");
    }
    return ESP_OK;
}

esp_err_t esp_ota_mark_app_valid_cancel_rollback(void)
{
    return current_ota_is_workable(true);
}

esp_err_t esp_ota_mark_app_invalid_rollback(void)
{
    return current_ota_is_workable(false);
}

esp_err_t esp_ota_mark_app_invalid_rollback_and_reboot(void)
{
    esp_err_t ret = esp_ota_mark_app_invalid_rollback();
    if (ret == ESP_OK) {
        esp_restart();
    }
    return ret;
}

static bool entry_is_invalidated(const esp_ota_select_entry_t *s)
{
    return s->ota_seq != UINT32_MAX && s->crc == vb_otadata_crc(s) &&
           (s->ota_state == ESP_OTA_IMG_INVALID || s->ota_state == ESP_OTA_IMG_ABORTED);
}

const esp_partition_t *esp_ota_get_last_invalid_partition(void)
{
    esp_ota_select_entry_t two[2];
    if (read_otadata(two) == NULL) {
        return NULL;
    }
    bool invalid[2] = {entry_is_invalidated(&two[0]), entry_is_invalidated(&two[1])};
    /* Of two invalidated entries, the older (lower seq) one. */
    int which = vb_otadata_select(two, invalid, false);
    int count = esp_ota_get_app_partition_count();
    if (which == -1 || count == 0) {
        return NULL;
    }
    int slot = (int)((two[which].ota_seq - 1) % (uint32_t)count);
    const esp_partition_t *p = esp_partition_find_first(ESP_PARTITION_TYPE_APP, ESP_PARTITION_SUBTYPE_APP_OTA_MIN + slot, NULL);
    if (p != NULL && image_validate(p, true) != ESP_OK) {
        return NULL;
    }
    return p;
}

esp_err_t esp_ota_get_state_partition(const esp_partition_t *partition, esp_ota_img_states_t *ota_state)
{
    if (partition == NULL || ota_state == NULL) {
        return ESP_ERR_INVALID_ARG;
    }
    if (!is_ota_partition(partition)) {
        return ESP_ERR_NOT_SUPPORTED;
    }
    esp_ota_select_entry_t two[2];
    int count = esp_ota_get_app_partition_count();
    if (read_otadata(two) == NULL || count == 0) {
        return ESP_ERR_NOT_FOUND;
    }
    int req_slot = partition->subtype - ESP_PARTITION_SUBTYPE_APP_OTA_MIN;
    /* Entry 0 first, then entry 1; the first whose slot matches and whose crc is good answers,
       whether or not it is the active one. */
    for (int i = 0; i < 2; i++) {
        int slot = (int)((two[i].ota_seq - 1) % (uint32_t)count);
        if (slot == req_slot && two[i].crc == vb_otadata_crc(&two[i])) {
            *ota_state = (esp_ota_img_states_t)two[i].ota_state;
            return ESP_OK;
        }
    }
    return ESP_ERR_NOT_FOUND;
}

static esp_err_t erase_last_boot_app_partition(bool skip_app_part_erase)
{
    esp_ota_select_entry_t two[2];
    const esp_partition_t *otadata = read_otadata(two);
    if (otadata == NULL) {
        return ESP_FAIL;
    }
    int active = vb_otadata_active(two);
    int count = esp_ota_get_app_partition_count();
    if (active == -1 || count == 0) {
        return ESP_FAIL;
    }
    int inactive = (~active) & 1;
    if (two[inactive].ota_seq == UINT32_MAX || two[inactive].crc != vb_otadata_crc(&two[inactive])) {
        return ESP_FAIL;
    }
    int slot = (int)((two[inactive].ota_seq - 1) % (uint32_t)count);
    const esp_partition_t *last = esp_partition_find_first(ESP_PARTITION_TYPE_APP, ESP_PARTITION_SUBTYPE_APP_OTA_MIN + slot, NULL);
    if (last == NULL) {
        return ESP_FAIL;
    }
    const esp_partition_t *running = esp_ota_get_running_partition();
    if (running == NULL || last == running) {
        return ESP_FAIL;
    }
    if (!skip_app_part_erase) {
        esp_err_t err = esp_partition_erase_range(last, 0, last->size);
        if (err != ESP_OK) {
            return err;
        }
    }
    return esp_partition_erase_range(otadata, (size_t)inactive * otadata->erase_size, otadata->erase_size);
}

esp_err_t esp_ota_erase_last_boot_app_partition(void)
{
    return erase_last_boot_app_partition(false);
}

esp_err_t esp_ota_invalidate_inactive_ota_data_slot(void)
{
    return erase_last_boot_app_partition(true);
}
