/*
 * Target "otadata": the two otadata entries as the bootloader and esp_ota_*
 * read them (vb_otadata.c, vb_bootloader.c slot choice and rollback
 * transitions, vb_ota_ops.c), over a sequence of the operations the firmware
 * performs between resets.
 *
 * Input: [flags] [entry 0: 32 bytes] [entry 1: 32 bytes] then pairs [op, arg].
 * flags bit 0 / bit 1: recompute the crc of entry 0 / entry 1. ota_0
 * and ota_1 hold valid images. Every boot (the first one and each reset op)
 * is compared with a model of ESP-IDF v5.5.1's bootloader written here from
 * its rules (README "otadata and the bootloader"): which slot starts, the
 * return code, and the otadata bytes it leaves (PENDING_VERIFY -> ABORTED,
 * NEW -> PENDING_VERIFY, {index + 1, VALID} written into blank otadata).
 * Between boots: set_boot_partition (then get_boot_partition must name it),
 * mark valid / invalid, an update through esp_ota_begin/write/end, erasing
 * the last boot partition, and flash damage (an erased sector).
 */
#include <string.h>

#include "app_update/include/esp_ota_ops.h"
#include "esp_partition.h"
#include "fuzz_common.h"

#define MAX_OPS 24

static uint8_t s_flash[FZ_FLASH_SIZE], s_snap[FZ_FLASH_SIZE];
static uint8_t s_img[2][2048];
static size_t s_img_len[2];
static const esp_partition_t *s_slot[2];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    s_img_len[0] = fz_build_image(s_img[0], sizeof(s_img[0]), "A", 256, 0x31, true);
    s_img_len[1] = fz_build_image(s_img[1], sizeof(s_img[1]), "B", 640, 0x47, true);
    FZ_CHECK(s_img_len[0] && s_img_len[1], "template images");
    fz_init();
    return 0;
}

/* ---- the model ------------------------------------------------------------------------------- */

static uint32_t seq_crc(uint32_t seq)
{
    uint8_t le[4] = {(uint8_t)seq, (uint8_t)(seq >> 8), (uint8_t)(seq >> 16), (uint8_t)(seq >> 24)};
    return fz_ref_crc32(UINT32_MAX, le, 4);
}

static bool entry_invalid(const esp_ota_select_entry_t *e)
{
    return e->ota_seq == UINT32_MAX || e->ota_state == ESP_OTA_IMG_INVALID || e->ota_state == ESP_OTA_IMG_ABORTED;
}

static bool entry_valid(const esp_ota_select_entry_t *e)
{
    return !entry_invalid(e) && e->crc == seq_crc(e->ota_seq);
}

static int active_entry(const esp_ota_select_entry_t e[2])
{
    bool v0 = entry_valid(&e[0]), v1 = entry_valid(&e[1]);
    if (v0 && v1) {
        return e[0].ota_seq >= e[1].ota_seq ? 0 : 1;
    }
    return v0 ? 0 : v1 ? 1 : -1;
}

static uint32_t slot_off(int slot)
{
    return slot == 0 ? FZ_OTA0_OFF : FZ_OTA1_OFF;
}

static void read_entries(const uint8_t *flash, esp_ota_select_entry_t e[2])
{
    memcpy(&e[0], flash + FZ_OTADATA_OFF, sizeof(e[0]));
    memcpy(&e[1], flash + FZ_OTADATA_OFF + 0x1000, sizeof(e[1]));
}

typedef struct {
    int rc;                       /* 0 started, 5 nothing bootable, 6 cannot run */
    int slot;                     /* what started (or failed to run), -1 */
    esp_ota_select_entry_t after[2];
} boot_model_t;

static boot_model_t model_boot(const uint8_t *flash)
{
    boot_model_t m;
    esp_ota_select_entry_t *e = m.after;
    read_entries(flash, e);
    for (int i = 0; i < 2; i++) {
        if (e[i].ota_state == ESP_OTA_IMG_PENDING_VERIFY) {
            e[i].ota_state = ESP_OTA_IMG_ABORTED;
        }
    }
    int start;
    bool blank = false;
    if (entry_invalid(&e[0]) && entry_invalid(&e[1])) {
        start = 0;   /* no factory app in this layout */
        blank = (e[0].ota_seq == UINT32_MAX || e[0].crc != seq_crc(e[0].ota_seq)) &&
                (e[1].ota_seq == UINT32_MAX || e[1].crc != seq_crc(e[1].ota_seq));
    } else {
        int a = active_entry(e);
        if (a >= 0) {
            start = (int)((e[a].ota_seq - 1) % 2u);
            if (e[a].ota_state == ESP_OTA_IMG_NEW) {
                e[a].ota_state = ESP_OTA_IMG_PENDING_VERIFY;
            }
        } else {
            start = -1;   /* "try all partitions" */
        }
    }
    int order[3], n = 0;
    for (int i = start; i >= 0; i--) {
        order[n++] = i;
    }
    for (int i = start + 1; i < 2; i++) {
        order[n++] = i;
    }
    m.rc = 5;
    m.slot = -1;
    for (int k = 0; k < n; k++) {
        fz_ref_image_t img = fz_ref_image_verify(flash, FZ_FLASH_SIZE, slot_off(order[k]), FZ_SLOT_SIZE);
        if (img.ok) {
            m.slot = order[k];
            m.rc = img.has_app_desc && img.segment_count >= 2 ? 0 : 6;
            if (blank) {
                e[0] = fz_otadata_entry((uint32_t)m.slot + 1, ESP_OTA_IMG_VALID);
            }
            break;
        }
    }
    return m;
}

/* A reset, checked against the model. Returns the bootloader's code. */
static int reboot_and_check(const char *why)
{
    fz_flash_snapshot(s_snap, FZ_FLASH_SIZE);
    boot_model_t m = model_boot(s_snap);
    fz_flash_reboot();
    const uint8_t *payload;
    size_t len;
    int rc = vb_bootloader_boot(&payload, &len);
    FZ_CHECK(rc == m.rc, "%s: vb_bootloader_boot returned %d, the model %d (slot %d)", why, rc, m.rc, m.slot);
    s_slot[0] = esp_partition_find_first(ESP_PARTITION_TYPE_APP, ESP_PARTITION_SUBTYPE_APP_OTA_0, NULL);
    s_slot[1] = esp_partition_find_first(ESP_PARTITION_TYPE_APP, ESP_PARTITION_SUBTYPE_APP_OTA_1, NULL);
    FZ_CHECK(s_slot[0] && s_slot[1], "the fuzz layout's slots");
    if (rc == 0) {
        FZ_CHECK(esp_ota_get_running_partition() == s_slot[m.slot], "%s: started slot %s, the model slot %d", why,
                 esp_ota_get_running_partition() ? esp_ota_get_running_partition()->label : "none", m.slot);
    }
    fz_flash_snapshot(s_snap, FZ_FLASH_SIZE);
    esp_ota_select_entry_t now[2];
    read_entries(s_snap, now);
    for (int i = 0; i < 2; i++) {
        FZ_CHECK(memcmp(&now[i], &m.after[i], sizeof(now[i])) == 0,
                 "%s: otadata entry %d after boot is {seq %u, state %u, crc 0x%x}, the model {seq %u, state %u, crc 0x%x}",
                 why, i, (unsigned)now[i].ota_seq, (unsigned)now[i].ota_state, (unsigned)now[i].crc,
                 (unsigned)m.after[i].ota_seq, (unsigned)m.after[i].ota_state, (unsigned)m.after[i].crc);
    }
    return rc;
}

static bool slot_image_valid(int slot)
{
    fz_flash_snapshot(s_snap, FZ_FLASH_SIZE);
    return fz_ref_image_verify(s_snap, FZ_FLASH_SIZE, slot_off(slot), FZ_SLOT_SIZE).ok;
}

/* ---- operations ------------------------------------------------------------------------------ */

/* Is there a valid seq (not the erased UINT32_MAX) at or above the active one that selects slot? */
static bool seq_available(int slot)
{
    fz_flash_snapshot(s_snap, FZ_FLASH_SIZE);
    esp_ota_select_entry_t e[2];
    read_entries(s_snap, e);
    int a = active_entry(e);
    if (a < 0) {
        return true;   /* seq = slot + 1 */
    }
    uint64_t s = e[a].ota_seq;
    if ((uint32_t)(e[a].ota_seq - 1) % 2u != (unsigned)slot) {
        s++;
    }
    return s < UINT32_MAX;
}

static void op_set_boot(int slot)
{
    bool valid = slot_image_valid(slot);
    bool available = seq_available(slot);
    esp_err_t err = esp_ota_set_boot_partition(s_slot[slot]);
    if (valid && !available) {
        FZ_CHECK(err == ESP_ERR_OTA_SELECT_INFO_INVALID, "set_boot_partition(ota_%d) with no seq left: 0x%x", slot, err);
        return;
    }
    if (err == ESP_OK) {
        FZ_CHECK(valid, "set_boot_partition accepted an invalid image in slot %d", slot);
        const esp_partition_t *b = esp_ota_get_boot_partition();
        FZ_CHECK(b == s_slot[slot], "set_boot_partition(ota_%d) OK, but get_boot_partition says %s", slot,
                 b ? b->label : "none");
        fz_flash_snapshot(s_snap, FZ_FLASH_SIZE);
        esp_ota_select_entry_t e[2];
        read_entries(s_snap, e);
        int a = active_entry(e);
        /* (Not necessarily NEW: v5.5.1 writes the other sector with the same seq when the slot is
           already active, and on a tie entry 0 wins: README, first row of the release table.) */
        FZ_CHECK(a >= 0 && (e[a].ota_seq - 1) % 2u == (unsigned)slot,
                 "after set_boot_partition(ota_%d) the active entry is %d", slot, a);
    } else {
        FZ_CHECK(!valid, "set_boot_partition(ota_%d) of a valid image failed: 0x%x", slot, err);
    }
}

static void op_mark(bool valid)
{
    esp_err_t err = valid ? esp_ota_mark_app_valid_cancel_rollback() : esp_ota_mark_app_invalid_rollback();
    if (err != ESP_OK) {
        return;
    }
    fz_flash_snapshot(s_snap, FZ_FLASH_SIZE);
    esp_ota_select_entry_t e[2];
    read_entries(s_snap, e);
    int a = active_entry(e);
    if (valid) {
        FZ_CHECK(a >= 0 && e[a].ota_state == ESP_OTA_IMG_VALID, "mark valid OK, the active entry is %d", a);
    }
}

static void op_update(uint8_t arg)
{
    const esp_partition_t *target = esp_ota_get_next_update_partition(NULL);
    FZ_CHECK(target != NULL && target != esp_ota_get_running_partition(), "next update partition");
    int which = (arg >> 6) & 1;
    size_t len = s_img_len[which];
    size_t sizes[4] = {OTA_SIZE_UNKNOWN, len, OTA_WITH_SEQUENTIAL_WRITES, 0};
    esp_ota_handle_t h;
    esp_err_t err = esp_ota_begin(target, sizes[arg & 3], &h);
    if (err != ESP_OK) {
        FZ_CHECK(err == ESP_ERR_OTA_ROLLBACK_INVALID_STATE, "esp_ota_begin: 0x%x", err);
        return;
    }
    bool truncated = (arg & 0x80) != 0;
    size_t upto = truncated ? len / 2 : len, chunk = ((arg >> 2) & 0xF) * 97 + 1;
    for (size_t off = 0; off < upto; off += chunk) {
        size_t n = upto - off < chunk ? upto - off : chunk;
        err = esp_ota_write(h, s_img[which] + off, n);
        FZ_CHECK(err == ESP_OK, "esp_ota_write of %zu bytes at %zu: 0x%x", n, off, err);
    }
    err = esp_ota_end(h);
    FZ_CHECK((err == ESP_OK) == !truncated, "esp_ota_end of a %s image: 0x%x", truncated ? "truncated" : "whole", err);
    if (err == ESP_OK) {
        op_set_boot(target == s_slot[0] ? 0 : 1);
    }
}

static void op_damage(uint8_t arg)
{
    if (arg & 2) {
        FZ_CHECK(vb_flash_erase_range(slot_off(arg & 1), 0x1000) == ESP_OK, "erase a slot sector");
    } else {
        FZ_CHECK(vb_flash_erase_range(FZ_OTADATA_OFF + (arg & 1) * 0x1000u, 0x1000) == ESP_OK, "erase otadata");
    }
}

void fz_write_seeds(const char *dir)
{
    static const uint8_t ops_update[] = {4, 0x00, 3, 0, 1, 0, 4, 0x41, 3, 0, 2, 0, 6, 1, 5, 1, 3, 0};
    static const uint8_t ops_trial[] = {0, 1, 3, 0, 3, 0, 0, 0, 3, 0, 1, 0, 6, 0, 4, 0x9e, 3, 0};
    static const uint8_t ops_damage[] = {4, 0x02, 7, 3, 3, 0, 7, 0, 3, 0, 4, 0x53, 0, 0, 3, 0};
    struct {
        const char *name;
        uint32_t seq[2], state[2];
        bool blank[2];
        const uint8_t *ops;
        size_t nops;
    } seeds[] = {
        {"blank", {0, 0}, {0, 0}, {true, true}, ops_update, sizeof(ops_update)},
        {"valid-1", {1, 0}, {ESP_OTA_IMG_VALID, 0}, {false, true}, ops_trial, sizeof(ops_trial)},
        {"new-2", {1, 2}, {ESP_OTA_IMG_VALID, ESP_OTA_IMG_NEW}, {false, false}, ops_trial, sizeof(ops_trial)},
        {"pending-2", {1, 2}, {ESP_OTA_IMG_VALID, ESP_OTA_IMG_PENDING_VERIFY}, {false, false}, ops_update, sizeof(ops_update)},
        {"aborted", {3, 2}, {ESP_OTA_IMG_ABORTED, ESP_OTA_IMG_VALID}, {false, false}, ops_damage, sizeof(ops_damage)},
        {"invalid-both", {5, 4}, {ESP_OTA_IMG_INVALID, ESP_OTA_IMG_ABORTED}, {false, false}, ops_update, sizeof(ops_update)},
        {"undefined-state", {7, 6}, {ESP_OTA_IMG_UNDEFINED, ESP_OTA_IMG_UNDEFINED}, {false, false}, ops_trial, sizeof(ops_trial)},
    };
    for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
        uint8_t buf[1 + 64 + 64];
        buf[0] = 0;
        for (int k = 0; k < 2; k++) {
            esp_ota_select_entry_t e = fz_otadata_entry(seeds[i].seq[k], seeds[i].state[k]);
            if (seeds[i].blank[k]) {
                memset(&e, 0xFF, sizeof(e));
            }
            memcpy(buf + 1 + 32 * k, &e, 32);
        }
        memcpy(buf + 65, seeds[i].ops, seeds[i].nops);
        fz_seed(dir, seeds[i].name, buf, 65 + seeds[i].nops);
        char fixed[64];
        snprintf(fixed, sizeof(fixed), "%s-fixup", seeds[i].name);
        buf[0] = 3;   /* both crcs recomputed after mutation */
        fz_seed(dir, fixed, buf, 65 + seeds[i].nops);
    }
    /* A good crc, but the other entry's is wrong. */
    uint8_t buf[65 + sizeof(ops_trial)];
    esp_ota_select_entry_t e0 = fz_otadata_entry(4, ESP_OTA_IMG_VALID), e1 = fz_otadata_entry(9, ESP_OTA_IMG_NEW);
    e1.crc ^= 1;
    buf[0] = 0;
    memcpy(buf + 1, &e0, 32);
    memcpy(buf + 33, &e1, 32);
    memcpy(buf + 65, ops_trial, sizeof(ops_trial));
    fz_seed(dir, "bad-crc", buf, sizeof(buf));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_reader_t r = {data, size};
    uint8_t flags = fz_u8(&r);
    fz_flash_template(s_flash);
    memcpy(s_flash + FZ_OTA0_OFF, s_img[0], s_img_len[0]);
    memcpy(s_flash + FZ_OTA1_OFF, s_img[1], s_img_len[1]);
    fz_bytes(&r, s_flash + FZ_OTADATA_OFF, 32);
    fz_bytes(&r, s_flash + FZ_OTADATA_OFF + 0x1000, 32);
    for (int i = 0; i < 2; i++) {
        if (flags & (1 << i)) {
            esp_ota_select_entry_t *e = (esp_ota_select_entry_t *)(s_flash + FZ_OTADATA_OFF + 0x1000 * i);
            e->crc = seq_crc(e->ota_seq);
        }
    }
    fz_flash_load(s_flash, FZ_FLASH_SIZE);

    /* Before anything booted, the app-side readers of otadata (the firmware's view at boot). */
    const esp_partition_t *boot = esp_ota_get_boot_partition();
    FZ_CHECK(boot == NULL || boot->type == ESP_PARTITION_TYPE_APP, "boot partition");

    int rc = reboot_and_check("first boot");
    for (int i = 0; i < MAX_OPS && rc == 0 && r.left >= 2; i++) {
        uint8_t op = fz_u8(&r), arg = fz_u8(&r);
        esp_ota_img_states_t st;
        switch (op % 8) {
        case 0:
            op_set_boot(arg & 1);
            break;
        case 1:
            op_mark(true);
            break;
        case 2:
            op_mark(false);
            rc = reboot_and_check("reset after mark invalid");
            break;
        case 3:
            rc = reboot_and_check("reset");
            break;
        case 4:
            op_update(arg);
            break;
        case 5:
            (void)(arg & 1 ? esp_ota_erase_last_boot_app_partition() : esp_ota_invalidate_inactive_ota_data_slot());
            break;
        case 6:
            (void)esp_ota_check_rollback_is_possible();
            (void)esp_ota_get_last_invalid_partition();
            (void)esp_ota_get_state_partition(s_slot[arg & 1], &st);
            boot = esp_ota_get_boot_partition();
            FZ_CHECK(boot == NULL || boot->type == ESP_PARTITION_TYPE_APP, "boot partition");
            break;
        default:
            op_damage(arg);
            break;
        }
    }
    return 0;
}
