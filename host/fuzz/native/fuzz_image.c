/*
 * Target "image": the app image verifier of the emulated ESP-IDF
 * (host/vboard/idf/vb_image.c: header, chip revision, segments, mapping,
 * checksum, appended SHA-256, length against the partition) and what is
 * built on it: esp_image_get_metadata, vb_image_payload,
 * esp_partition_get_sha256, esp_ota_get_partition_description and the
 * bootloader's "load" of that image.
 *
 * Input: [flags] then the contents of slot ota_0 (up to 64 KB; the rest of
 * the flash is the fuzz layout, erased). flags bit 0: recompute the checksum
 * byte, bit 1: the appended SHA-256 (so that mutations get past them). Verdicts and lengths are compared with
 * fz_ref_image_verify (written from the rules, not from vb_image.c), digests
 * with OpenSSL, payloads with the bytes in flash.
 */
#include <string.h>

#include "app_update/include/esp_ota_ops.h"
#include "esp_partition.h"
#include "fuzz_common.h"
#include "vb_internal.h"   /* vb_image_verify: the logging variant */

static uint8_t s_flash[FZ_FLASH_SIZE];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    fz_init();
    return 0;
}

static void check_verify(const esp_partition_pos_t *pos, const char *what)
{
    esp_image_metadata_t md, md_logged;
    esp_err_t err = esp_image_verify(ESP_IMAGE_VERIFY_SILENT, pos, &md);
    fz_ref_image_t ref = fz_ref_image_verify(s_flash, FZ_FLASH_SIZE, pos->offset, pos->size);
    FZ_CHECK((err == ESP_OK) == ref.ok, "%s: esp_image_verify says 0x%x, the reference says %s (%s)", what, err,
             ref.ok ? "valid" : "invalid", ref.why ? ref.why : "-");
    /* The logging variant (what esp_ota_end and the bootloader use) decides the same. */
    esp_err_t err2 = vb_image_verify(pos, &md_logged, false);
    FZ_CHECK(err2 == err, "%s: silent 0x%x, logged 0x%x", what, err, err2);
    if (err != ESP_OK) {
        static const esp_image_metadata_t zero;
        FZ_CHECK(memcmp(&md, &zero, sizeof(md)) == 0, "%s: metadata not cleared on failure", what);
        return;
    }
    FZ_CHECK(memcmp(&md, &md_logged, sizeof(md)) == 0, "%s: metadata differ between silent and logged", what);
    FZ_CHECK(md.image_len == ref.image_len, "%s: image_len %u, reference %u", what, (unsigned)md.image_len,
             (unsigned)ref.image_len);
    FZ_CHECK(md.image_len <= pos->size, "%s: image_len %u beyond partition size %u", what, (unsigned)md.image_len,
             (unsigned)pos->size);
    FZ_CHECK(md.start_addr == pos->offset, "%s: start_addr", what);
    FZ_CHECK(md.image.segment_count == ref.segment_count, "%s: segment count", what);
    for (int i = 0; i < md.image.segment_count; i++) {
        FZ_CHECK(md.segment_data[i] == ref.seg_data[i] && md.segments[i].data_len == ref.seg_len[i],
                 "%s: segment %d at 0x%x+%u, reference 0x%x+%u", what, i, (unsigned)md.segment_data[i],
                 (unsigned)md.segments[i].data_len, (unsigned)ref.seg_data[i], (unsigned)ref.seg_len[i]);
    }
    if (md.image.hash_appended) {
        uint8_t want[32];
        fz_ref_sha256(s_flash + pos->offset, md.image_len - 32, want);
        FZ_CHECK(memcmp(want, md.image_digest, 32) == 0, "%s: accepted an image whose appended SHA-256 is wrong", what);
    }

    /* esp_image_get_metadata (no verification) walks the same structure. */
    esp_image_metadata_t meta;
    FZ_CHECK(esp_image_get_metadata(pos, &meta) == ESP_OK, "%s: get_metadata fails on a verified image", what);
    FZ_CHECK(meta.image_len == md.image_len, "%s: get_metadata length %u, verify %u", what, (unsigned)meta.image_len,
             (unsigned)md.image_len);

    /* The firmware payload: the second segment's bytes, as stored. */
    uint8_t *payload = NULL;
    size_t payload_len = 0;
    esp_err_t perr = vb_image_payload(pos, &payload, &payload_len);
    if (md.image.segment_count < 2) {
        FZ_CHECK(perr == ESP_ERR_NOT_FOUND, "%s: payload of a one-segment image: 0x%x", what, perr);
    } else {
        FZ_CHECK(perr == ESP_OK, "%s: vb_image_payload 0x%x", what, perr);
        FZ_CHECK(payload_len == md.segments[1].data_len &&
                     memcmp(payload, s_flash + md.segment_data[1], payload_len) == 0,
                 "%s: payload differs from the flash bytes", what);
    }
    free(payload);
}

static void seed_image(const char *dir, const char *name, const uint8_t *img, size_t n)
{
    static uint8_t buf[1 + 16384];
    buf[0] = 0;   /* checksums as built */
    memcpy(buf + 1, img, n);
    fz_seed(dir, name, buf, n + 1);
    char fixed[64];
    snprintf(fixed, sizeof(fixed), "%s-fixup", name);
    buf[0] = 3;   /* checksum and hash recomputed after mutation */
    fz_seed(dir, fixed, buf, n + 1);
}

void fz_write_seeds(const char *dir)
{
    static uint8_t img[16384];
    size_t n;
    n = fz_build_image(img, sizeof(img), "1.0.0", 256, 0x10, true);
    seed_image(dir, "hashed", img, n);
    n = fz_build_image(img, sizeof(img), "1.0.1", 300, 0x20, false);
    seed_image(dir, "unhashed", img, n);
    n = fz_build_image(img, sizeof(img), "1.0.2", 0, 0x30, true);
    seed_image(dir, "empty-payload", img, n);
    n = fz_build_image(img, sizeof(img), "1.0.3", 8000, 0x40, true);
    seed_image(dir, "big-payload", img, n);
    /* A one-segment image (the descriptor only): valid, but it cannot run. */
    n = fz_build_image(img, sizeof(img), "1.0.4", 4, 0x50, false);
    img[1] = 1;
    uint32_t sum = 0xEF;
    for (size_t i = 0; i < sizeof(esp_app_desc_t); i += 4) {
        sum ^= (uint32_t)img[32 + i] | (uint32_t)img[33 + i] << 8 | (uint32_t)img[34 + i] << 16 | (uint32_t)img[35 + i] << 24;
    }
    size_t unpadded = 24 + 8 + sizeof(esp_app_desc_t), padded = (unpadded + 1 + 15) & ~(size_t)15;
    memset(img + unpadded, 0, padded - unpadded);
    img[padded - 1] = (uint8_t)(sum ^ (sum >> 8) ^ (sum >> 16) ^ (sum >> 24));
    seed_image(dir, "one-segment", img, padded);
}

int LLVMFuzzerTestOneInput(const uint8_t *input, size_t input_size)
{
    if (input_size < 1) {
        return 0;
    }
    uint8_t flags = input[0];
    const uint8_t *data = input + 1;
    size_t size = input_size - 1 > FZ_SLOT_SIZE ? FZ_SLOT_SIZE : input_size - 1;
    fz_flash_template(s_flash);
    memcpy(s_flash + FZ_OTA0_OFF, data, size);
    fz_fix_image(s_flash + FZ_OTA0_OFF, size, flags & 1, flags & 2);
    data = s_flash + FZ_OTA0_OFF;
    fz_flash_load(s_flash, FZ_FLASH_SIZE);

    esp_partition_pos_t slot = {FZ_OTA0_OFF, FZ_SLOT_SIZE};
    check_verify(&slot, "slot");
    /* A partition just as long as the input (to 4 bytes): images that spill over are refused. */
    esp_partition_pos_t tight = {FZ_OTA0_OFF, (uint32_t)((size + 3) & ~(size_t)3)};
    check_verify(&tight, "tight");
    /* A partition reaching to the end of the flash (two slots). */
    esp_partition_pos_t wide = {FZ_OTA0_OFF, FZ_FLASH_SIZE - FZ_OTA0_OFF};
    check_verify(&wide, "wide");
    esp_partition_pos_t huge = {FZ_OTA0_OFF, 0x1000001u};
    esp_image_metadata_t md;
    FZ_CHECK(esp_image_verify(ESP_IMAGE_VERIFY_SILENT, &huge, &md) != ESP_OK, "a partition over 16 MB verified");

    fz_ref_image_t ref = fz_ref_image_verify(s_flash, FZ_FLASH_SIZE, FZ_OTA0_OFF, FZ_SLOT_SIZE);

    /* esp_partition_get_sha256 of the app partition: the image's hash. */
    const esp_partition_t *ota0 = esp_partition_find_first(ESP_PARTITION_TYPE_APP, ESP_PARTITION_SUBTYPE_APP_OTA_0, NULL);
    FZ_CHECK(ota0 != NULL && ota0->address == FZ_OTA0_OFF, "ota_0 of the fuzz layout");
    uint8_t sha[32], want[32];
    esp_err_t err = esp_partition_get_sha256(ota0, sha);
    FZ_CHECK((err == ESP_OK) == ref.ok, "esp_partition_get_sha256 0x%x, reference %d", err, ref.ok);
    if (err == ESP_OK) {
        if (ref.hash_appended) {
            memcpy(want, s_flash + FZ_OTA0_OFF + ref.image_len - 32, 32);
        } else {
            fz_ref_sha256(s_flash + FZ_OTA0_OFF, ref.image_len, want);
        }
        FZ_CHECK(memcmp(sha, want, 32) == 0, "esp_partition_get_sha256 differs");
    }

    esp_app_desc_t desc;
    err = esp_ota_get_partition_description(ota0, &desc);
    FZ_CHECK((err == ESP_OK) == (size >= 36 && memcmp(data + 32, "\x32\x54\xcd\xab", 4) == 0),
             "esp_ota_get_partition_description 0x%x", err);

    /* Boot: otadata is blank and there is no factory app, so the bootloader tries ota_0, then
       ota_1 (erased). It starts the first image that verifies, if that image can run. */
    const uint8_t *payload;
    size_t payload_len;
    int rc = vb_bootloader_boot(&payload, &payload_len);
    int want_rc = !ref.ok ? 5 : (ref.has_app_desc && ref.segment_count >= 2) ? 0 : 6;
    FZ_CHECK(rc == want_rc, "vb_bootloader_boot returned %d, expected %d", rc, want_rc);
    if (rc == 0) {
        FZ_CHECK(payload_len == ref.seg_len[1] && memcmp(payload, s_flash + ref.seg_data[1], payload_len) == 0,
                 "booted payload differs from segment 1");
        const esp_partition_t *running = esp_ota_get_running_partition();
        FZ_CHECK(running == ota0, "running partition after boot");
    }
    return 0;
}
