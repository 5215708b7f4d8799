/*
 * Target "partition_table": the binary partition table at 0x8000, read by
 * the bootloader (esp_partition_table_verify, the gen_esp32part.py lint, the
 * slot choice over whatever app partitions the table names) and by the app
 * (vb_partition.c: rows up to the first bad magic, MD5 row required), and
 * everything that trusts the partitions it yields: esp_partition_* range
 * checks, esp_ota_* slot counting, NVS mount on a partition of any size, an
 * update written through esp_ota_begin/write/end.
 *
 * Input: [flags] then the 4 KB table sector (shorter input: the rest is
 * 0xFF). flags bit 0: recompute the MD5 row. The rest of
 * the flash is the fuzz layout with valid images in ota_0 and ota_1, so that a
 * table pointing at them can boot.
 */
#include <string.h>

#include "app_update/include/esp_ota_ops.h"
#include "esp_partition.h"
#include "fuzz_common.h"
#include "nvs_flash/include/nvs.h"
#include "nvs_flash/include/nvs_flash.h"

static uint8_t s_flash[FZ_FLASH_SIZE];
static uint8_t s_image_a[2048], s_image_b[2048];
static size_t s_image_a_len, s_image_b_len;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    s_image_a_len = fz_build_image(s_image_a, sizeof(s_image_a), "A", 300, 0x11, true);
    s_image_b_len = fz_build_image(s_image_b, sizeof(s_image_b), "B", 500, 0x22, true);
    FZ_CHECK(s_image_a_len && s_image_b_len, "template images");
    fz_init();
    return 0;
}

/* The app-side loader's rule, independently: rows with magic 0x50AA up to the first other
   magic; that one must be the MD5 row and match the MD5 of the rows before it. */
static int ref_app_rows(const uint8_t *table)
{
    int n = 0;
    while ((n + 1) * 32 <= 0x1000 && table[n * 32] == 0xAA && table[n * 32 + 1] == 0x50) {
        n++;
    }
    if ((n + 1) * 32 > 0x1000 || table[n * 32] != 0xEB || table[n * 32 + 1] != 0xEB) {
        return -1;
    }
    vb_md5_ctx_t md5;   /* MD5 itself is checked against RFC 1321 by the idf tests */
    uint8_t digest[16];
    vb_md5_init(&md5);
    vb_md5_update(&md5, table, (size_t)n * 32);
    vb_md5_final(&md5, digest);
    return memcmp(digest, table + n * 32 + 16, 16) == 0 ? n : -1;
}

static void poke_partition(const esp_partition_t *p)
{
    uint8_t b[16];
    FZ_CHECK(p->label[16] == '\0' || strnlen(p->label, sizeof(p->label)) <= 16, "label not terminated");
    /* Range checks against the partition, whatever the flash holds. */
    esp_err_t err = esp_partition_read(p, 0, b, sizeof(b) < p->size ? sizeof(b) : p->size);
    (void)err;
    FZ_CHECK(esp_partition_read(p, p->size, b, 1) != ESP_OK, "read past the end of %s", p->label);
    if (p->size >= 1) {
        err = esp_partition_read(p, p->size - 1, b, 1);
        /* Beyond the flash chip is an error, never a crash. */
        FZ_CHECK(err == ESP_OK || (uint64_t)p->address + p->size > FZ_FLASH_SIZE, "last byte of %s: 0x%x", p->label,
                 err);
    }
    /* (Type 0xFF is ESP_PARTITION_TYPE_ANY: ESP-IDF cannot look such a row up by its type.) */
    FZ_CHECK(p->type == ESP_PARTITION_TYPE_ANY || esp_partition_verify(p) != NULL,
             "esp_partition_verify of a found partition (type 0x%x subtype 0x%x)", p->type, p->subtype);
}

static void seed_table(const char *dir, const char *name, const uint8_t *table, size_t n)
{
    uint8_t buf[1 + ESP_PARTITION_TABLE_MAX_LEN];
    buf[0] = 0;
    memcpy(buf + 1, table, n);
    fz_seed(dir, name, buf, n + 1);
    char fixed[64];
    snprintf(fixed, sizeof(fixed), "%s-fixup", name);
    buf[0] = 1;   /* MD5 row recomputed after mutation */
    fz_seed(dir, fixed, buf, n + 1);
}

void fz_write_seeds(const char *dir)
{
    uint8_t table[ESP_PARTITION_TABLE_MAX_LEN];
    int n = vb_partition_table_build(fz_partitions, fz_partition_count, table);
    seed_table(dir, "fuzz-layout", table, (size_t)n + 32);
    n = vb_partition_table_build(vb_default_partitions, vb_default_partition_count, table);
    seed_table(dir, "vboard-layout", table, (size_t)n + 32);   /* 3 MB of slots: beyond this flash */
    static const vb_partition_def_t factory[] = {
        {"nvs", PART_TYPE_DATA, 0x02, 0x9000, 0x6000, 0},
        {"phy_init", PART_TYPE_DATA, PART_SUBTYPE_DATA_RF, 0xf000, 0x1000, 0},
        {"factory", PART_TYPE_APP, PART_SUBTYPE_FACTORY, 0x10000, 0x10000, 0},
        {"test", PART_TYPE_APP, PART_SUBTYPE_TEST, 0x20000, 0x10000, 0},
    };
    n = vb_partition_table_build(factory, 4, table);
    seed_table(dir, "factory-test", table, (size_t)n + 32);
    static const vb_partition_def_t three[] = {
        {"nvs", PART_TYPE_DATA, 0x02, 0x9000, 0x3000, 0},
        {"otadata", PART_TYPE_DATA, PART_SUBTYPE_DATA_OTA, 0xc000, 0x2000, 0},
        {"ota_0", PART_TYPE_APP, PART_SUBTYPE_OTA_FLAG + 0, 0x10000, 0x8000, 0},
        {"ota_1", PART_TYPE_APP, PART_SUBTYPE_OTA_FLAG + 1, 0x20000, 0x8000, PART_FLAG_READONLY},
        {"ota_2", PART_TYPE_APP, PART_SUBTYPE_OTA_FLAG + 2, 0x18000, 0x8000, 0},
    };
    n = vb_partition_table_build(three, 5, table);
    seed_table(dir, "three-slots", table, (size_t)n + 32);
    /* Without the MD5 row: the bootloader accepts it, the app does not. */
    n = vb_partition_table_build(fz_partitions, fz_partition_count, table);
    memset(table + n - 32, 0xFF, 32);
    seed_table(dir, "no-md5", table, (size_t)n);
}


int LLVMFuzzerTestOneInput(const uint8_t *input, size_t input_size)
{
    if (input_size < 1) {
        return 0;
    }
    const uint8_t *data = input + 1;
    size_t size = input_size - 1 > 0x1000 ? 0x1000 : input_size - 1;
    fz_flash_template(s_flash);
    memcpy(s_flash + FZ_OTA0_OFF, s_image_a, s_image_a_len);
    memcpy(s_flash + FZ_OTA1_OFF, s_image_b, s_image_b_len);
    memset(s_flash + FZ_TABLE_OFF, 0xFF, 0x1000);
    memcpy(s_flash + FZ_TABLE_OFF, data, size);
    if (input[0] & 1) {
        fz_fix_table_md5(s_flash + FZ_TABLE_OFF, 0x1000);
    }
    fz_flash_load(s_flash, FZ_FLASH_SIZE);
    const uint8_t *table = s_flash + FZ_TABLE_OFF;

    /* The bootloader's check, with and without its log lines. */
    int num = -1, num2 = -1;
    esp_err_t verr = esp_partition_table_verify((const esp_partition_info_t *)table, false, &num);
    esp_err_t verr2 = esp_partition_table_verify((const esp_partition_info_t *)table, true, &num2);
    FZ_CHECK(verr == verr2 && num == num2, "verify differs with logging");
    if (verr == ESP_OK) {
        FZ_CHECK(num >= 0 && (size_t)num < ESP_PARTITION_TABLE_MAX_ENTRIES, "num_partitions %d", num);
        char why[160];
        (void)vb_partition_table_lint((const esp_partition_info_t *)table, num, FZ_FLASH_SIZE, why, sizeof(why));
        /* As in ESP-IDF, an MD5 row may sit between partition rows: num_partitions is then one
           less than the rows before the terminator, so the bootloader's first `num` rows hold
           the MD5 row and miss the last partition (gen_esp32part.py always puts MD5 last). */
        for (int i = 0; i < num; i++) {
            const esp_partition_info_t *row = (const esp_partition_info_t *)table + i;
            FZ_CHECK(row->magic == ESP_PARTITION_MAGIC || row->magic == ESP_PARTITION_MAGIC_MD5,
                     "row %d of a verified table has magic 0x%x", i, row->magic);
            FZ_CHECK(row->magic != ESP_PARTITION_MAGIC || (uint64_t)row->pos.offset + row->pos.size <= FZ_FLASH_SIZE,
                     "row %d beyond the flash", i);
        }
    }

    /* The app side. */
    int want_rows = ref_app_rows(table);
    int rows = 0;
    esp_partition_iterator_t it = esp_partition_find(ESP_PARTITION_TYPE_ANY, ESP_PARTITION_SUBTYPE_ANY, NULL);
    while (it != NULL) {
        poke_partition(esp_partition_get(it));
        rows++;
        it = esp_partition_next(it);
    }
    FZ_CHECK(rows == (want_rows < 0 ? 0 : want_rows), "the app sees %d partitions, the reference %d", rows, want_rows);
    for (int type = 0; type < 4; type++) {
        for (int sub = 0; sub < 0x22; sub++) {
            const esp_partition_t *p = esp_partition_find_first((esp_partition_type_t)type, (esp_partition_subtype_t)sub, NULL);
            FZ_CHECK(p == NULL || ((int)p->type == type && (int)p->subtype == sub), "find_first type/subtype");
        }
    }
    uint8_t count = esp_ota_get_app_partition_count();
    FZ_CHECK(count <= 16, "app partition count %u", count);
    const esp_partition_t *boot = esp_ota_get_boot_partition();
    FZ_CHECK(boot == NULL || boot->type == ESP_PARTITION_TYPE_APP, "boot partition is not an app");
    const esp_partition_t *next = esp_ota_get_next_update_partition(NULL);
    FZ_CHECK(next == NULL || next->type == ESP_PARTITION_TYPE_APP, "next update partition is not an app");

    /* NVS on whatever partition the table calls "nvs". */
    if (nvs_flash_init() == ESP_OK) {
        nvs_handle_t h;
        if (nvs_open("xsota", NVS_READWRITE, &h) == ESP_OK) {
            uint8_t v[8] = {1, 2, 3, 4, 5, 6, 7, 8}, back[8];
            size_t len = sizeof(back);
            if (nvs_set_blob(h, "k", v, sizeof(v)) == ESP_OK) {
                FZ_CHECK(nvs_get_blob(h, "k", back, &len) == ESP_OK && len == 8 && memcmp(back, v, 8) == 0,
                         "NVS value read back differs");
            }
            nvs_close(h);
        }
        nvs_flash_deinit();
    }

    /* Boot from this table, then an update of the other slot, as the firmware does it. */
    const uint8_t *payload;
    size_t payload_len;
    int rc = vb_bootloader_boot(&payload, &payload_len);
    FZ_CHECK(rc == 0 || rc == 5 || rc == 6, "vb_bootloader_boot returned %d", rc);
    if (rc != 0) {
        return 0;
    }
    FZ_CHECK(verr == ESP_OK, "booted from a table the bootloader refuses");
    FZ_CHECK(payload != NULL && payload_len > 0, "boot without a payload");
    const esp_partition_t *target = esp_ota_get_next_update_partition(NULL);
    if (target == NULL || target == esp_ota_get_running_partition()) {
        return 0;
    }
    esp_ota_handle_t h;
    if (esp_ota_begin(target, OTA_SIZE_UNKNOWN, &h) != ESP_OK) {
        return 0;
    }
    esp_err_t werr = esp_ota_write(h, s_image_b, s_image_b_len);
    esp_err_t eerr = esp_ota_end(h);
    if (werr == ESP_OK && eerr == ESP_OK) {
        FZ_CHECK(s_image_b_len <= target->size, "an image longer than its slot was accepted");
        esp_err_t serr = esp_ota_set_boot_partition(target);
        if (serr == ESP_OK) {
            const esp_partition_t *b = esp_ota_get_boot_partition();
            FZ_CHECK(b == target, "set_boot_partition(%s) OK but the boot partition is %s", target->label,
                     b ? b->label : "none");
        }
    }
    return 0;
}
