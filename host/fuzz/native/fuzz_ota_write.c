/*
 * Target "ota_write": the update path below the native seam, the ESP-IDF
 * calls xsota_native.c makes (xs_ota_begin / xs_ota_write / xs_ota_end /
 * xs_ota_set_boot_slot, and xs_ota_digest's read-back hash), with the image
 * bytes and the chunking from the fuzzer (xs_ota_write hands esp_ota_write
 * whole 4 KB sectors; any chunking is the wider case): esp_ota_begin's erase modes,
 * esp_ota_write's magic check and lazy erase, esp_ota_end's verification,
 * esp_ota_set_boot_partition, and the boots after it (the new image, or the
 * rollback when it cannot run).
 *
 * Input: [u8 mode] [u8 nchunks] [nchunks x u16 chunk length] [image stream].
 * mode: low nibble % 6 picks the size given to esp_ota_begin; bit 4 / bit 5
 * recompute the stream's checksum byte / appended SHA-256.
 * The board first boots ota_0 (a valid image); the stream goes to ota_1,
 * which holds an older image (so a write beyond what begin erased meets
 * programmed bits, as on a chip).
 */
#include <string.h>

#include "app_update/include/esp_ota_ops.h"
#include "esp_partition.h"
#include "fuzz_common.h"
#include "xsota_sha.h"

static uint8_t s_flash[FZ_FLASH_SIZE];
static uint8_t s_img_a[2048], s_img_old[2048];
static size_t s_img_a_len, s_img_old_len;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    s_img_a_len = fz_build_image(s_img_a, sizeof(s_img_a), "A", 256, 0x31, true);
    s_img_old_len = fz_build_image(s_img_old, sizeof(s_img_old), "old", 1200, 0x5a, true);
    FZ_CHECK(s_img_a_len && s_img_old_len, "template images");
    fz_init();
    return 0;
}

/* xs_ota_digest's loop: read back in 1 KB pieces, hash as it goes. */
static void digest_slot(const esp_partition_t *p, uint32_t length, int sha256, uint8_t out[32])
{
    uint8_t buf[1024];
    xsota_sha_t sha;
    xsota_sha_start(&sha, sha256);
    for (uint32_t done = 0; done < length;) {
        uint32_t step = length - done < sizeof(buf) ? length - done : (uint32_t)sizeof(buf);
        FZ_CHECK(esp_partition_read(p, done, buf, step) == ESP_OK, "read back");
        xsota_sha_update(&sha, buf, step);
        done += step;
    }
    xsota_sha_finish(&sha, out);
}

void fz_write_seeds(const char *dir)
{
    static uint8_t buf[2 + 64 + 16384];
    static uint8_t img[16000];
    struct {
        const char *name;
        uint8_t mode;
        uint16_t chunks[4];
        int nchunks;
        size_t payload;
        bool hash;
    } seeds[] = {
        {"unknown-size", 0, {0}, 0, 900, true},
        {"exact-size", 1, {24, 1000}, 2, 3000, true},
        {"aligned-size", 2, {4096, 1}, 2, 5000, false},
        {"sequential", 3, {100, 4000, 5000, 3}, 4, 9000, true},
        {"zero-size", 4, {1}, 1, 100, true},
        {"half-size", 5, {512}, 1, 6000, true},
        {"tiny", 0, {1, 1, 1, 1}, 4, 0, false},
    };
    for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
        size_t n = fz_build_image(img, sizeof(img), "2.0.0", seeds[i].payload, (uint8_t)(0x60 + i), seeds[i].hash);
        uint8_t *p = buf;
        *p++ = seeds[i].mode;
        *p++ = (uint8_t)seeds[i].nchunks;
        for (int k = 0; k < seeds[i].nchunks; k++) {
            *p++ = (uint8_t)seeds[i].chunks[k];
            *p++ = (uint8_t)(seeds[i].chunks[k] >> 8);
        }
        memcpy(p, img, n);
        fz_seed(dir, seeds[i].name, buf, (size_t)(p - buf) + n);
        char fixed[64];
        snprintf(fixed, sizeof(fixed), "%s-fixup", seeds[i].name);
        buf[0] |= 0x30;   /* checksum and hash recomputed after mutation */
        fz_seed(dir, fixed, buf, (size_t)(p - buf) + n);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_reader_t r = {data, size};
    uint8_t mode = fz_u8(&r);
    int nchunks = fz_u8(&r) % 32;
    uint16_t chunks[32];
    for (int i = 0; i < nchunks; i++) {
        chunks[i] = fz_u16(&r);
    }
    static uint8_t stream[FZ_SLOT_SIZE + 64];
    size_t len = r.left > sizeof(stream) ? sizeof(stream) : r.left;
    memcpy(stream, r.p, len);
    fz_fix_image(stream, len, mode & 0x10, mode & 0x20);

    fz_flash_template(s_flash);
    memcpy(s_flash + FZ_OTA0_OFF, s_img_a, s_img_a_len);
    memcpy(s_flash + FZ_OTA1_OFF, s_img_old, s_img_old_len);
    fz_flash_load(s_flash, FZ_FLASH_SIZE);
    const uint8_t *payload;
    size_t payload_len;
    FZ_CHECK(vb_bootloader_boot(&payload, &payload_len) == 0, "first boot");
    const esp_partition_t *ota0 = esp_ota_get_running_partition();
    const esp_partition_t *target = esp_ota_get_next_update_partition(NULL);
    FZ_CHECK(ota0 && ota0->address == FZ_OTA0_OFF && target && target->address == FZ_OTA1_OFF, "slots");

    size_t sizes[6] = {OTA_SIZE_UNKNOWN, len, (len + 0xFFF) & ~(size_t)0xFFF, OTA_WITH_SEQUENTIAL_WRITES, 0, len / 2};
    size_t image_size = sizes[(mode & 0x0F) % 6];
    esp_ota_handle_t h;
    esp_err_t err = esp_ota_begin(target, image_size, &h);
    if (image_size != OTA_SIZE_UNKNOWN && image_size != OTA_WITH_SEQUENTIAL_WRITES && image_size > FZ_SLOT_SIZE) {
        FZ_CHECK(err != ESP_OK, "esp_ota_begin of %zu bytes into a 64 KB slot", image_size);
        return 0;
    }
    FZ_CHECK(err == ESP_OK, "esp_ota_begin(%zu): 0x%x", image_size, err);
    /* What begin erased: writes inside it must succeed (lazy erase covers the rest in sequential mode). */
    size_t erased = image_size == OTA_SIZE_UNKNOWN || image_size == 0 || image_size == OTA_WITH_SEQUENTIAL_WRITES
                        ? FZ_SLOT_SIZE
                        : (image_size + 0xFFF) & ~(size_t)0xFFF;

    size_t done = 0;
    bool failed = false;
    for (int i = 0; !failed && done < len; i++) {
        size_t n = i < nchunks ? chunks[i] % (len - done + 1) : len - done;
        err = esp_ota_write(h, stream + done, n);
        if (err != ESP_OK) {
            bool bad_magic = done == 0 && n > 0 && stream[0] != 0xE9;
            bool past_slot = done + n > FZ_SLOT_SIZE;
            bool past_erase = done + n > erased;
            FZ_CHECK(bad_magic || past_slot || past_erase, "esp_ota_write of %zu bytes at %zu failed: 0x%x", n, done, err);
            failed = true;
            break;
        }
        FZ_CHECK(!(done == 0 && n > 0 && stream[0] != 0xE9), "esp_ota_write took an image without the 0xE9 magic");
        done += n;
    }
    if (failed) {
        FZ_CHECK(esp_ota_abort(h) == ESP_OK, "abort");
        FZ_CHECK(esp_ota_end(h) == ESP_ERR_NOT_FOUND, "end after abort");
        return 0;
    }
    FZ_CHECK(done == len, "everything written");

    /* What was written is what is in flash (the digest the firmware checks). */
    uint8_t got[32], want[32];
    digest_slot(target, (uint32_t)len, 1, got);
    fz_ref_sha256(stream, len, want);
    FZ_CHECK(memcmp(got, want, 32) == 0, "the slot's SHA-256 differs from the stream's");
    digest_slot(target, (uint32_t)len, 0, got);
    fz_ref_sha1(stream, len, want);
    FZ_CHECK(memcmp(got, want, 20) == 0, "the slot's SHA-1 differs from the stream's");

    uint8_t *snap = malloc(FZ_FLASH_SIZE);
    fz_flash_snapshot(snap, FZ_FLASH_SIZE);
    fz_ref_image_t ref = fz_ref_image_verify(snap, FZ_FLASH_SIZE, FZ_OTA1_OFF, FZ_SLOT_SIZE);
    free(snap);
    err = esp_ota_end(h);
    if (len == 0) {
        FZ_CHECK(err == ESP_ERR_INVALID_ARG, "esp_ota_end with nothing written: 0x%x", err);
        return 0;
    }
    FZ_CHECK((err == ESP_OK) == ref.ok, "esp_ota_end says 0x%x, the reference: %s", err, ref.why ? ref.why : "valid");
    if (err != ESP_OK) {
        return 0;
    }
    FZ_CHECK(esp_ota_set_boot_partition(target) == ESP_OK, "set_boot_partition of a verified image");
    FZ_CHECK(esp_ota_get_boot_partition() == target, "boot partition after set");

    /* Reset: the new image starts (PENDING_VERIFY) if it can run; if it cannot (no app
       descriptor or payload: a panic), the reset after that rolls back to ota_0. */
    fz_flash_reboot();
    int rc = vb_bootloader_boot(&payload, &payload_len);
    bool runnable = ref.has_app_desc && ref.segment_count >= 2;
    FZ_CHECK(rc == (runnable ? 0 : 6), "boot of the new image: %d", rc);
    if (runnable) {
        FZ_CHECK(esp_ota_get_running_partition() == target, "the new image is running");
        esp_ota_img_states_t st;
        FZ_CHECK(esp_ota_get_state_partition(target, &st) == ESP_OK && st == ESP_OTA_IMG_PENDING_VERIFY,
                 "first boot of an update is PENDING_VERIFY");
        return 0;
    }
    fz_flash_reboot();
    rc = vb_bootloader_boot(&payload, &payload_len);
    FZ_CHECK(rc == 0 && esp_ota_get_running_partition() != NULL &&
                 esp_ota_get_running_partition()->address == FZ_OTA0_OFF,
             "no rollback to ota_0 after the new image panicked (rc %d)", rc);
    return 0;
}
