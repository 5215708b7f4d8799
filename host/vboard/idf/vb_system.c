/*
 * The chip around the app: reset reason, eFuse MAC, esp_restart, the running
 * app's description, error names, and vb_idf_init, which brings the emulated
 * ESP-IDF up for one boot (one process).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "esp_mac.h"
#include "app_update/include/esp_ota_ops.h"
#include "esp_image_format.h"
#include "nvs_flash/include/nvs.h"
#include "vb_internal.h"

#define EXIT_USAGE 2
#define EXIT_RESTART 3
#define EXIT_PANIC 6
#define MAX_SHUTDOWN_HANDLERS 5

static const char *s_reset_reason = "poweron";
static uint8_t s_base_mac[6];
static esp_app_desc_t s_app_desc;
static shutdown_handler_t s_shutdown_handlers[MAX_SHUTDOWN_HANDLERS];

static void default_app_desc(void)
{
    memset(&s_app_desc, 0, sizeof(s_app_desc));
    s_app_desc.magic_word = ESP_APP_DESC_MAGIC_WORD;
    snprintf(s_app_desc.version, sizeof(s_app_desc.version), "%s", "unknown");
    snprintf(s_app_desc.project_name, sizeof(s_app_desc.project_name), "%s", "vboard");
    snprintf(s_app_desc.idf_ver, sizeof(s_app_desc.idf_ver), "%s", IDF_VER);
    s_app_desc.mmu_page_size = 16;
}

void vb_system_set_app_desc(const esp_app_desc_t *desc)
{
    s_app_desc = *desc;
}

void vb_system_reset(void)
{
    s_reset_reason = "poweron";
    memset(s_base_mac, 0, sizeof(s_base_mac));
    memset(s_shutdown_handlers, 0, sizeof(s_shutdown_handlers));
    default_app_desc();
}

const char *vb_reset_reason_arg(void)
{
    return s_reset_reason;
}

static void derive_default_mac(const char *seed)
{
    /* Espressif's OUI, and three bytes that depend only on the flash file's path, so each
       virtual board keeps its MAC across boots and two boards differ. */
    uint32_t h = esp_rom_crc32_le(0, (const uint8_t *)seed, (uint32_t)strlen(seed));
    s_base_mac[0] = 0x24;
    s_base_mac[1] = 0x0A;
    s_base_mac[2] = 0xC4;
    s_base_mac[3] = (uint8_t)(h >> 16);
    s_base_mac[4] = (uint8_t)(h >> 8);
    s_base_mac[5] = (uint8_t)h;
}

void vb_idf_shutdown(void)
{
    vb_nvs_reset();
    vb_ota_reset();
    vb_partition_reset();
    vb_timers_reset();
    vb_log_reset();
    vb_system_reset();
    vb_flash_close();
    vb_flash_reset_counters();
}

int vb_idf_init(const vb_config_t *cfg)
{
    if (cfg == NULL) {
        return EXIT_USAGE;
    }
    vb_idf_shutdown();
    vb_clock_init(cfg->virtual_clock);

    const char *reason = cfg->reset_reason != NULL ? cfg->reset_reason : "poweron";
    if (strcmp(reason, "poweron") == 0 || strcmp(reason, "sw") == 0 || strcmp(reason, "panic") == 0 ||
        strcmp(reason, "rtcwdt") == 0) {
        s_reset_reason = reason;
    } else {
        fprintf(stderr, "vboard: unknown reset reason \"%s\" (poweron, sw, panic or rtcwdt)\n", reason);
        return EXIT_USAGE;
    }

    static const uint8_t zero[6];
    if (memcmp(cfg->mac, zero, sizeof(zero)) != 0) {
        memcpy(s_base_mac, cfg->mac, sizeof(s_base_mac));
    } else {
        derive_default_mac(cfg->flash_path != NULL ? cfg->flash_path : "vboard");
    }

    if (cfg->flash_path != NULL) {
        if (vb_flash_open(cfg->flash_path) != 0) {
            return EXIT_USAGE;
        }
    } else {
        /* No flash file (main.c --modules): a throwaway flash with the board's partition
           table, so that NVS and otadata work; there is no app image in it. */
        uint8_t table[ESP_PARTITION_TABLE_MAX_LEN];
        if (vb_flash_open_anonymous() != 0 ||
            vb_partition_table_build(vb_default_partitions, vb_default_partition_count, table) < 0 ||
            vb_flash_write(ESP_PARTITION_TABLE_OFFSET, table, sizeof(table)) != ESP_OK) {
            return EXIT_USAGE;
        }
        /* Nothing was booted; the firmware runs "from" the first app slot, so that
           esp_ota_get_running_partition and the update path have their usual answers. */
        for (int i = 0; i < vb_default_partition_count; i++) {
            if (vb_default_partitions[i].type == PART_TYPE_APP) {
                vb_ota_set_running_address(vb_default_partitions[i].offset);
                break;
            }
        }
    }
    vb_flash_reset_counters();
    vb_flash_arm_power_cut(cfg->power_cut_at, cfg->power_cut_torn);
    /* After the partition table of a throwaway flash is in: the model times the board, not its setup. */
    vb_flash_set_timing(cfg->flash_timing);
    return 0;
}

/* ---- esp_system.h ---- */

esp_err_t esp_register_shutdown_handler(shutdown_handler_t handler)
{
    for (int i = 0; i < MAX_SHUTDOWN_HANDLERS; i++) {
        if (s_shutdown_handlers[i] == handler) {
            return ESP_ERR_INVALID_STATE;
        }
        if (s_shutdown_handlers[i] == NULL) {
            s_shutdown_handlers[i] = handler;
            return ESP_OK;
        }
    }
    return ESP_ERR_NO_MEM;
}

esp_err_t esp_unregister_shutdown_handler(shutdown_handler_t handler)
{
    for (int i = 0; i < MAX_SHUTDOWN_HANDLERS; i++) {
        if (s_shutdown_handlers[i] == handler) {
            s_shutdown_handlers[i] = NULL;
            return ESP_OK;
        }
    }
    return ESP_ERR_INVALID_STATE;
}

void esp_restart(void)
{
    for (int i = MAX_SHUTDOWN_HANDLERS - 1; i >= 0; i--) {
        if (s_shutdown_handlers[i] != NULL) {
            s_shutdown_handlers[i]();
        }
    }
    fflush(stdout);
    fflush(stderr);
    exit(EXIT_RESTART);
}

esp_reset_reason_t esp_reset_reason(void)
{
    if (strcmp(s_reset_reason, "sw") == 0) {
        return ESP_RST_SW;
    }
    if (strcmp(s_reset_reason, "panic") == 0) {
        return ESP_RST_PANIC;
    }
    if (strcmp(s_reset_reason, "rtcwdt") == 0) {
        return ESP_RST_WDT;
    }
    return ESP_RST_POWERON;
}

/* The XS host measures its own memory; these report a plausible ESP32 figure. */
uint32_t esp_get_free_heap_size(void)
{
    return 180 * 1024;
}

uint32_t esp_get_free_internal_heap_size(void)
{
    return 180 * 1024;
}

uint32_t esp_get_minimum_free_heap_size(void)
{
    return 160 * 1024;
}

void esp_system_abort(const char *details)
{
    printf("\nabort() was called: %s\n", details != NULL ? details : "");
    fflush(stdout);
    exit(EXIT_PANIC);
}

const char *esp_get_idf_version(void)
{
    return IDF_VER;
}

/* ---- esp_mac.h ---- */

esp_err_t esp_base_mac_addr_set(const uint8_t *mac)
{
    if (mac == NULL) {
        return ESP_ERR_INVALID_ARG;
    }
    if (mac[0] & 0x01) {
        return ESP_ERR_INVALID_ARG;   /* multicast */
    }
    memcpy(s_base_mac, mac, 6);
    return ESP_OK;
}

esp_err_t esp_base_mac_addr_get(uint8_t *mac)
{
    if (mac == NULL) {
        return ESP_ERR_INVALID_ARG;
    }
    memcpy(mac, s_base_mac, 6);
    return ESP_OK;
}

esp_err_t esp_efuse_mac_get_custom(uint8_t *mac)
{
    (void)mac;
    return ESP_ERR_INVALID_MAC;   /* no custom MAC burned */
}

esp_err_t esp_efuse_mac_get_default(uint8_t *mac)
{
    return esp_base_mac_addr_get(mac);
}

esp_err_t esp_read_mac(uint8_t *mac, esp_mac_type_t type)
{
    if (mac == NULL) {
        return ESP_ERR_INVALID_ARG;
    }
    uint8_t add;
    switch (type) {
    case ESP_MAC_WIFI_STA:
    case ESP_MAC_BASE:
    case ESP_MAC_EFUSE_FACTORY:
        add = 0;
        break;
    case ESP_MAC_WIFI_SOFTAP:
        add = 1;
        break;
    case ESP_MAC_BT:
        add = 2;
        break;
    case ESP_MAC_ETH:
        add = 3;
        break;
    case ESP_MAC_EFUSE_CUSTOM:
        return esp_efuse_mac_get_custom(mac);
    default:
        return ESP_ERR_NOT_SUPPORTED;
    }
    memcpy(mac, s_base_mac, 6);
    mac[5] = (uint8_t)(mac[5] + add);
    return ESP_OK;
}

esp_err_t esp_derive_local_mac(uint8_t *local_mac, const uint8_t *universal_mac)
{
    if (local_mac == NULL || universal_mac == NULL) {
        return ESP_ERR_INVALID_ARG;
    }
    memcpy(local_mac, universal_mac, 6);
    for (int idx = 0; idx < 64; idx++) {
        local_mac[0] = (uint8_t)((universal_mac[0] | 0x02) ^ (idx << 2));
        if (memcmp(local_mac, universal_mac, 6) != 0) {
            break;
        }
    }
    return ESP_OK;
}

size_t esp_mac_addr_len_get(esp_mac_type_t type)
{
    return type == ESP_MAC_IEEE802154 ? 8 : type == ESP_MAC_EFUSE_EXT ? 2 : 6;
}

/* ---- esp_app_desc.h ---- */

const esp_app_desc_t *esp_app_get_description(void)
{
    if (s_app_desc.magic_word != ESP_APP_DESC_MAGIC_WORD) {
        default_app_desc();
    }
    return &s_app_desc;
}

int esp_app_get_elf_sha256(char *dst, size_t size)
{
    if (dst == NULL || size < 2) {
        return 0;
    }
    size_t n = 0;
    for (size_t i = 0; i < sizeof(s_app_desc.app_elf_sha256) && n + 2 < size; i++) {
        snprintf(dst + n, 3, "%02x", s_app_desc.app_elf_sha256[i]);
        n += 2;
    }
    dst[n] = '\0';
    return (int)n + 1;
}

/* The v5 names kept for old code (app_update/esp_ota_app_desc.c). */
const esp_app_desc_t *esp_ota_get_app_description(void)
{
    return esp_app_get_description();
}

int esp_ota_get_app_elf_sha256(char *dst, size_t size)
{
    return esp_app_get_elf_sha256(dst, size);
}

/* ---- esp_err.h ---- */

static const struct {
    esp_err_t code;
    const char *name;
} s_err_names[] = {
#define ERR_NAME(x) {x, #x}
    ERR_NAME(ESP_OK),
    ERR_NAME(ESP_FAIL),
    ERR_NAME(ESP_ERR_NO_MEM),
    ERR_NAME(ESP_ERR_INVALID_ARG),
    ERR_NAME(ESP_ERR_INVALID_STATE),
    ERR_NAME(ESP_ERR_INVALID_SIZE),
    ERR_NAME(ESP_ERR_NOT_FOUND),
    ERR_NAME(ESP_ERR_NOT_SUPPORTED),
    ERR_NAME(ESP_ERR_TIMEOUT),
    ERR_NAME(ESP_ERR_INVALID_RESPONSE),
    ERR_NAME(ESP_ERR_INVALID_CRC),
    ERR_NAME(ESP_ERR_INVALID_VERSION),
    ERR_NAME(ESP_ERR_INVALID_MAC),
    ERR_NAME(ESP_ERR_NOT_FINISHED),
    ERR_NAME(ESP_ERR_NOT_ALLOWED),
    ERR_NAME(ESP_ERR_FLASH_OP_FAIL),
    ERR_NAME(ESP_ERR_FLASH_OP_TIMEOUT),
    ERR_NAME(ESP_ERR_IMAGE_FLASH_FAIL),
    ERR_NAME(ESP_ERR_IMAGE_INVALID),
    ERR_NAME(ESP_ERR_OTA_PARTITION_CONFLICT),
    ERR_NAME(ESP_ERR_OTA_SELECT_INFO_INVALID),
    ERR_NAME(ESP_ERR_OTA_VALIDATE_FAILED),
    ERR_NAME(ESP_ERR_OTA_SMALL_SEC_VER),
    ERR_NAME(ESP_ERR_OTA_ROLLBACK_FAILED),
    ERR_NAME(ESP_ERR_OTA_ROLLBACK_INVALID_STATE),
    ERR_NAME(ESP_ERR_NVS_NOT_INITIALIZED),
    ERR_NAME(ESP_ERR_NVS_NOT_FOUND),
    ERR_NAME(ESP_ERR_NVS_TYPE_MISMATCH),
    ERR_NAME(ESP_ERR_NVS_READ_ONLY),
    ERR_NAME(ESP_ERR_NVS_NOT_ENOUGH_SPACE),
    ERR_NAME(ESP_ERR_NVS_INVALID_NAME),
    ERR_NAME(ESP_ERR_NVS_INVALID_HANDLE),
    ERR_NAME(ESP_ERR_NVS_REMOVE_FAILED),
    ERR_NAME(ESP_ERR_NVS_KEY_TOO_LONG),
    ERR_NAME(ESP_ERR_NVS_PAGE_FULL),
    ERR_NAME(ESP_ERR_NVS_INVALID_STATE),
    ERR_NAME(ESP_ERR_NVS_INVALID_LENGTH),
    ERR_NAME(ESP_ERR_NVS_NO_FREE_PAGES),
    ERR_NAME(ESP_ERR_NVS_VALUE_TOO_LONG),
    ERR_NAME(ESP_ERR_NVS_PART_NOT_FOUND),
    ERR_NAME(ESP_ERR_NVS_NEW_VERSION_FOUND),
#undef ERR_NAME
};

const char *esp_err_to_name(esp_err_t code)
{
    for (size_t i = 0; i < sizeof(s_err_names) / sizeof(s_err_names[0]); i++) {
        if (s_err_names[i].code == code) {
            return s_err_names[i].name;
        }
    }
    return "UNKNOWN ERROR";
}

const char *esp_err_to_name_r(esp_err_t code, char *buf, size_t buflen)
{
    const char *name = esp_err_to_name(code);
    if (buf != NULL && buflen > 0) {
        if (strcmp(name, "UNKNOWN ERROR") == 0) {
            snprintf(buf, buflen, "Unknown error 0x%x", (unsigned)code);
        } else {
            snprintf(buf, buflen, "%s", name);
        }
    }
    return buf;
}

void vb_esp_error_check_failed(esp_err_t rc, const char *file, int line, const char *function, const char *expression)
{
    printf("ESP_ERROR_CHECK failed: esp_err_t 0x%x (%s) at 0x%08x\nfile: \"%s\" line %d\nfunc: %s\nexpression: %s\n",
           (unsigned)rc, esp_err_to_name(rc), 0x400d0000u, file, line, function, expression);
    esp_system_abort("ESP_ERROR_CHECK failed");
}
