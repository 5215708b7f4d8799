/*
 * The second-stage bootloader of ESP-IDF v5.5.1 (bootloader_utility.c), with
 * CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE=y, no anti-rollback, no secure boot,
 * and full image validation at every boot (CONFIG_BOOTLOADER_SKIP_VALIDATE_*
 * off). It runs once per process, before the app:
 *
 *   1. ROM lines, then the bootloader banner and the partition table.
 *   2. Slot choice: every PENDING_VERIFY entry becomes ABORTED (the app it
 *      belongs to was started and did not commit before this reset); then the
 *      active entry (highest valid seq) gives slot (seq - 1) % app_count, and
 *      a NEW active entry becomes PENDING_VERIFY (first boot of an update).
 *   3. Load with fallback: the chosen slot, then lower slots down to factory,
 *      then higher slots, then test; each must pass image verification. The
 *      fallback ignores otadata states. If otadata was blank and there is no
 *      factory app, the slot that boots is recorded as {seq = index + 1,
 *      VALID} in entry 0.
 *   4. Nothing bootable: the chip resets forever; here, exit code 5.
 *
 * The "app" is started by recording its flash address (for
 * esp_ota_get_running_partition) and its esp_app_desc_t, and handing the
 * second segment (the firmware payload) to the caller.
 */
#include <stdlib.h>
#include <string.h>

#include "app_update/include/esp_ota_ops.h"
#include "vb_internal.h"

#define FACTORY_INDEX (-1)
#define TEST_APP_INDEX (-2)
#define INVALID_INDEX (-99)
#define MAX_OTA_SLOTS 16
#define EXIT_NO_BOOTABLE_APP 5
#define EXIT_PANIC 6

static const char *TAG = "boot";

typedef struct {
    esp_partition_pos_t ota_info;
    esp_partition_pos_t factory;
    esp_partition_pos_t test;
    esp_partition_pos_t ota[MAX_OTA_SLOTS];
    uint32_t app_count;
} boot_state_t;

static bool s_ota_has_initial_contents;
static uint8_t *s_payload;

static void print_rom_lines(void)
{
    const char *reason = vb_reset_reason_arg();
    const char *rst = "0x1 (POWERON_RESET)";
    if (strcmp(reason, "sw") == 0 || strcmp(reason, "panic") == 0) {
        rst = "0xc (SW_CPU_RESET)";
    } else if (strcmp(reason, "rtcwdt") == 0) {
        rst = "0x10 (RTCWDT_RTC_RESET)";
    }
    printf("ets Jun  8 2016 00:22:57\n\nrst:%s,boot:0x13 (SPI_FAST_FLASH_BOOT)\n", rst);
    printf("configsip: 0, SPIWP:0xee\n");
    printf("clk_drv:0x00,q_drv:0x00,d_drv:0x00,cs0_drv:0x00,hd_drv:0x00,wp_drv:0x00\n");
    printf("mode:DIO, clock div:2\n");
    printf("load:0x3fff0030,len:6276\nload:0x40078000,len:15748\nload:0x40080400,len:4\n");
    printf("load:0x40080404,len:3860\nentry 0x4008063c\n");
    fflush(stdout);
}

static void print_banner(void)
{
    ESP_LOGI(TAG, "ESP-IDF %s 2nd stage bootloader", IDF_VER);
    ESP_LOGI(TAG, "compile time Aug 30 2025 21:42:28");
    ESP_LOGI(TAG, "Multicore bootloader");
    ESP_LOGI(TAG, "chip revision: v%d.%d", VB_CHIP_REVISION / 100, VB_CHIP_REVISION % 100);
    ESP_LOGI("boot.esp32", "SPI Speed      : 40MHz");
    ESP_LOGI("boot.esp32", "SPI Mode       : DIO");
    ESP_LOGI("boot.esp32", "SPI Flash Size : %uMB", (unsigned)(vb_flash_size() / (1024 * 1024)));
    ESP_LOGI(TAG, "Enabling RNG early entropy source...");
}

static const char *usage_of(const esp_partition_info_t *p)
{
    switch (p->type) {
    case PART_TYPE_APP:
        if (p->subtype == PART_SUBTYPE_FACTORY) {
            return "factory app";
        }
        if (p->subtype == PART_SUBTYPE_TEST) {
            return "test app";
        }
        return (p->subtype & ~PART_SUBTYPE_OTA_MASK) == PART_SUBTYPE_OTA_FLAG ? "OTA app" : "Unknown app";
    case PART_TYPE_DATA:
        switch (p->subtype) {
        case PART_SUBTYPE_DATA_OTA:
            return "OTA data";
        case PART_SUBTYPE_DATA_RF:
            return "RF data";
        case PART_SUBTYPE_DATA_WIFI:
            return "WiFi data";
        case PART_SUBTYPE_DATA_NVS_KEYS:
            return "NVS keys";
        case PART_SUBTYPE_DATA_EFUSE_EM:
            return "efuse";
        default:
            return "Unknown data";
        }
    case PART_TYPE_BOOTLOADER:
        return p->subtype == PART_SUBTYPE_BOOTLOADER_PRIMARY ? "primary bootloader"
               : p->subtype == PART_SUBTYPE_BOOTLOADER_OTA   ? "ota bootloader"
               : p->subtype == PART_SUBTYPE_BOOTLOADER_RECOVERY ? "recovery bootloader"
                                                                : "unknown";
    case PART_TYPE_PARTITION_TABLE:
        return p->subtype == PART_SUBTYPE_PARTITION_TABLE_PRIMARY ? "primary partition_table"
               : p->subtype == PART_SUBTYPE_PARTITION_TABLE_OTA   ? "ota partition_table"
                                                                  : "unknown";
    default:
        return "unknown";
    }
}

static bool load_partition_table(boot_state_t *bs)
{
    uint32_t table[ESP_PARTITION_TABLE_MAX_LEN / sizeof(uint32_t)];
    memset(bs, 0, sizeof(*bs));
    if (vb_flash_read(ESP_PARTITION_TABLE_OFFSET, table, sizeof(table)) != ESP_OK) {
        ESP_LOGE(TAG, "bootloader_mmap(0x%x, 0x%x) failed", ESP_PARTITION_TABLE_OFFSET, ESP_PARTITION_TABLE_MAX_LEN);
        return false;
    }
    const esp_partition_info_t *rows = (const esp_partition_info_t *)table;
    int num = 0;
    if (esp_partition_table_verify(rows, true, &num) != ESP_OK) {
        ESP_LOGE(TAG, "Failed to verify partition table");
        return false;
    }
    ESP_LOGI(TAG, "Partition Table:");
    ESP_LOGI(TAG, "## Label            Usage          Type ST Offset   Length");
    for (int i = 0; i < num; i++) {
        const esp_partition_info_t *p = &rows[i];
        if (p->type == PART_TYPE_APP) {
            if (p->subtype == PART_SUBTYPE_FACTORY) {
                bs->factory = p->pos;
            } else if (p->subtype == PART_SUBTYPE_TEST) {
                bs->test = p->pos;
            } else if ((p->subtype & ~PART_SUBTYPE_OTA_MASK) == PART_SUBTYPE_OTA_FLAG) {
                /* Every OTA subtype counts, gaps or not: the bootloader's app_count. */
                bs->ota[p->subtype & PART_SUBTYPE_OTA_MASK] = p->pos;
                bs->app_count++;
            }
        } else if (p->type == PART_TYPE_DATA && p->subtype == PART_SUBTYPE_DATA_OTA) {
            bs->ota_info = p->pos;
        }
        char label[17];
        memcpy(label, p->label, 16);
        label[16] = '\0';
        ESP_LOGI(TAG, "%2d %-16s %-16s %02x %02x %08" PRIx32 " %08" PRIx32, i, label, usage_of(p), p->type, p->subtype,
                 p->pos.offset, p->pos.size);
    }
    ESP_LOGI(TAG, "End of partition table");

    char why[160];
    if (vb_partition_table_lint(rows, num, vb_flash_size(), why, sizeof(why)) != 0) {
        /* The chip boots such a table; gen_esp32part.py would not have made it. */
        fprintf(stderr, "vboard: partition table breaks a gen_esp32part.py rule: %s\n", why);
    }
    return true;
}

static esp_partition_pos_t index_to_partition(const boot_state_t *bs, int index)
{
    if (index == FACTORY_INDEX) {
        return bs->factory;
    }
    if (index == TEST_APP_INDEX) {
        return bs->test;
    }
    if (index >= 0 && index < MAX_OTA_SLOTS && index < (int)bs->app_count) {
        return bs->ota[index];
    }
    esp_partition_pos_t invalid = {0, 0};
    return invalid;
}

static void log_invalid_app_partition(int index)
{
    switch (index) {
    case FACTORY_INDEX:
        ESP_LOGE(TAG, "Factory app partition is not bootable");
        break;
    case TEST_APP_INDEX:
        ESP_LOGE(TAG, "Factory test app partition is not bootable");
        break;
    default:
        ESP_LOGE(TAG, "OTA app partition slot %d is not bootable", index);
        break;
    }
}

static void write_otadata(const esp_ota_select_entry_t *entry, const boot_state_t *bs, int index)
{
    esp_err_t err = vb_otadata_write_at(bs->ota_info.offset, index, entry);
    if (err != ESP_OK) {
        ESP_LOGE(TAG, "Error in write_otadata operation. err = 0x%x", err);
    }
}

static int get_selected_boot_partition(const boot_state_t *bs)
{
    esp_ota_select_entry_t two[2];
    int boot_index = FACTORY_INDEX;

    if (bs->ota_info.offset == 0) {
        return FACTORY_INDEX;
    }
    if (bs->ota_info.size < 2 * VB_FLASH_SECTOR_SIZE) {
        ESP_LOGE(TAG, "ota_info partition size %" PRIu32 " is too small (minimum %d bytes)", bs->ota_info.size,
                 2 * (int)VB_FLASH_SECTOR_SIZE);
        return INVALID_INDEX;
    }
    if (vb_otadata_read_at(bs->ota_info.offset, two) != ESP_OK) {
        return INVALID_INDEX;
    }
    s_ota_has_initial_contents = false;

    /* Rollback: whatever was waiting for verification did not confirm before this reset.
       The crc is not looked at, as in bootloader_utility.c. */
    for (int i = 0; i < 2; i++) {
        if (two[i].ota_state == ESP_OTA_IMG_PENDING_VERIFY) {
            two[i].ota_state = ESP_OTA_IMG_ABORTED;
            write_otadata(&two[i], bs, i);
        }
    }

    if ((vb_otadata_entry_invalid(&two[0]) && vb_otadata_entry_invalid(&two[1])) || bs->app_count == 0) {
        if (bs->factory.offset != 0) {
            ESP_LOGI(TAG, "Defaulting to factory image");
            boot_index = FACTORY_INDEX;
        } else {
            ESP_LOGI(TAG, "No factory image, trying OTA 0");
            boot_index = 0;
            if ((two[0].ota_seq == UINT32_MAX || two[0].crc != vb_otadata_crc(&two[0])) &&
                (two[1].ota_seq == UINT32_MAX || two[1].crc != vb_otadata_crc(&two[1]))) {
                s_ota_has_initial_contents = true;
            }
        }
        return boot_index;
    }

    int active = vb_otadata_active(two);
    if (active != -1) {
        boot_index = (int)((two[active].ota_seq - 1) % bs->app_count);
        if (two[active].ota_state == ESP_OTA_IMG_NEW) {
            /* First boot of a new image: from now on a reset without commit rolls back. */
            two[active].ota_state = ESP_OTA_IMG_PENDING_VERIFY;
            write_otadata(&two[active], bs, active);
        }
    } else if (bs->factory.offset != 0) {
        ESP_LOGE(TAG, "ota data partition invalid, falling back to factory");
        boot_index = FACTORY_INDEX;
    } else {
        ESP_LOGE(TAG, "ota data partition invalid and no factory, will try all partitions");
        boot_index = FACTORY_INDEX;
    }
    return boot_index;
}

static bool try_load_partition(const esp_partition_pos_t *part, esp_image_metadata_t *data)
{
    if (part->size == 0) {
        return false;
    }
    if (vb_image_load(part, data) == ESP_OK) {
        ESP_LOGI(TAG, "Loaded app from partition at offset 0x%" PRIx32, part->offset);
        return true;
    }
    return false;
}

static void set_actual_ota_seq(const boot_state_t *bs, int index)
{
    if (index > FACTORY_INDEX && s_ota_has_initial_contents) {
        esp_ota_select_entry_t entry;
        memset(&entry, 0xFF, sizeof(entry));
        entry.ota_seq = (uint32_t)index + 1;
        entry.ota_state = ESP_OTA_IMG_VALID;
        entry.crc = vb_otadata_crc(&entry);
        write_otadata(&entry, bs, 0);
        ESP_LOGI(TAG, "Set actual ota_seq=%" PRIu32 " in otadata[0]", entry.ota_seq);
    }
}

/* The emulated app start: what the chip's app would find in flash, handed to the host. */
static int start_app(const esp_image_metadata_t *data, const uint8_t **payload, size_t *payload_len)
{
    ESP_LOGI(TAG, "Disabling RNG early entropy source...");
    esp_app_desc_t desc;
    if (vb_flash_read(data->start_addr + sizeof(esp_image_header_t) + sizeof(esp_image_segment_header_t), &desc,
                      sizeof(desc)) != ESP_OK ||
        desc.magic_word != ESP_APP_DESC_MAGIC_WORD || data->image.segment_count < 2) {
        /* A real app without its descriptor or code would crash at start: a panic reset. */
        fprintf(stderr, "vboard: the image at 0x%x has no esp_app_desc_t or no second segment (firmware payload); "
                        "the app cannot start\n", (unsigned)data->start_addr);
        return EXIT_PANIC;
    }
    vb_ota_set_running_address(data->start_addr);
    vb_system_set_app_desc(&desc);

    free(s_payload);
    s_payload = NULL;
    size_t len = data->segments[1].data_len;
    s_payload = malloc(len > 0 ? len : 1);
    if (s_payload == NULL || vb_flash_read(data->segment_data[1], s_payload, len) != ESP_OK) {
        fprintf(stderr, "vboard: cannot read the firmware payload\n");
        return EXIT_PANIC;
    }
    *payload = s_payload;
    *payload_len = len;

    char sha[17];
    for (int i = 0; i < 8; i++) {
        snprintf(sha + 2 * i, 3, "%02x", desc.app_elf_sha256[i]);
    }
    ESP_LOGI("cpu_start", "Multicore app");
    ESP_LOGI("app_init", "Application information:");
    ESP_LOGI("app_init", "Project name:     %.32s", desc.project_name);
    ESP_LOGI("app_init", "App version:      %.32s", desc.version);
    ESP_LOGI("app_init", "Compile time:     %.16s %.16s", desc.date, desc.time);
    ESP_LOGI("app_init", "ELF file SHA256:  %s...", sha);
    ESP_LOGI("app_init", "ESP-IDF:          %.32s", desc.idf_ver);
    ESP_LOGI("main_task", "Calling app_main()");
    return 0;
}

/* Load the app of slot `index` if it holds a valid image, recording it in otadata as the bootloader does. */
static bool try_boot_index(const boot_state_t *bs, int index, esp_image_metadata_t *data)
{
    esp_partition_pos_t part = index_to_partition(bs, index);
    if (part.size == 0) {
        return false;
    }
    if (try_load_partition(&part, data)) {
        set_actual_ota_seq(bs, index);
        return true;
    }
    log_invalid_app_partition(index);
    return false;
}

int vb_bootloader_boot(const uint8_t **payload, size_t *payload_len)
{
    boot_state_t bs;
    esp_image_metadata_t data;

    if (payload == NULL || payload_len == NULL) {
        return 2;
    }
    *payload = NULL;
    *payload_len = 0;
    if (!vb_flash_is_open()) {
        fprintf(stderr, "vboard: vb_bootloader_boot without a flash (call vb_idf_init with a flash_path)\n");
        return 2;
    }
    print_rom_lines();
    print_banner();
    if (!load_partition_table(&bs)) {
        ESP_LOGE(TAG, "load partition table error!");
        return EXIT_NO_BOOTABLE_APP;
    }
    int start_index = get_selected_boot_partition(&bs);
    if (start_index == INVALID_INDEX) {
        return EXIT_NO_BOOTABLE_APP;
    }

    if (start_index == TEST_APP_INDEX) {
        if (try_load_partition(&bs.test, &data)) {
            return start_app(&data, payload, payload_len);
        }
        ESP_LOGE(TAG, "No bootable test partition in the partition table");
        return EXIT_NO_BOOTABLE_APP;
    }
    /* ESP-IDF's fallback scan: downward from the chosen slot, then upward, ignoring states. */
    for (int index = start_index; index >= FACTORY_INDEX; index--) {
        if (try_boot_index(&bs, index, &data)) {
            return start_app(&data, payload, payload_len);
        }
    }
    for (int index = start_index + 1; index < (int)bs.app_count; index++) {
        if (try_boot_index(&bs, index, &data)) {
            return start_app(&data, payload, payload_len);
        }
    }
    if (try_load_partition(&bs.test, &data)) {
        ESP_LOGW(TAG, "Falling back to test app as only bootable partition");
        return start_app(&data, payload, payload_len);
    }
    ESP_LOGE(TAG, "No bootable app partitions in the partition table");
    return EXIT_NO_BOOTABLE_APP;
}
