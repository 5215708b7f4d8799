/*
 * Target "sha": modules/esp32/xsota_sha.c, the device's streaming SHA-1 and
 * SHA-256 (what xs_ota_digest and the image checks hash with), fed across
 * split points chosen by the fuzzer and compared with OpenSSL's one-shot
 * digest of the same bytes: a differential test.
 *
 * Input: [u8 nsplits] [nsplits x u16 chunk length] [message...]. The chunk
 * lengths cut the message (each taken modulo what is left, 0 allowed: an
 * empty update); whatever remains is the last chunk. Both algorithms hash the
 * same message, and a context is reused after finish (xsota_sha_start again).
 */
#include <string.h>

#include "fuzz_common.h"
#include "xsota_sha.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    fz_init();
    return 0;
}

static void streamed(int sha256, const uint16_t *cuts, int ncuts, const uint8_t *msg, size_t len, uint8_t *out)
{
    xsota_sha_t ctx;
    /* A dirty context first: start must reset everything. */
    memset(&ctx, 0xA5, sizeof(ctx));
    xsota_sha_start(&ctx, sha256);
    size_t done = 0;
    for (int i = 0; i < ncuts && done < len; i++) {
        size_t take = cuts[i] % (len - done + 1);
        xsota_sha_update(&ctx, msg + done, take);
        done += take;
    }
    xsota_sha_update(&ctx, msg + done, len - done);
    size_t n = xsota_sha_finish(&ctx, out);
    FZ_CHECK(n == (sha256 ? 32u : 20u), "digest length %zu", n);
}

void fz_write_seeds(const char *dir)
{
    uint8_t buf[1 + 2 * 3 + 1200];
    static const size_t lens[] = {0, 1, 3, 55, 56, 63, 64, 65, 119, 120, 128, 1000};
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        char name[32];
        buf[0] = 0;   /* no split: one update */
        for (size_t k = 0; k < lens[i]; k++) {
            buf[1 + k] = (uint8_t)('a' + k % 26);
        }
        snprintf(name, sizeof(name), "len%zu", lens[i]);
        fz_seed(dir, name, buf, 1 + lens[i]);
    }
    /* Three cuts: 1, 63 and 64 bytes, then the rest of 300 (block boundaries crossed every way). */
    uint8_t *p = buf;
    *p++ = 3;
    *p++ = 1, *p++ = 0, *p++ = 63, *p++ = 0, *p++ = 64, *p++ = 0;
    for (int k = 0; k < 300; k++) {
        *p++ = (uint8_t)(k * 7);
    }
    fz_seed(dir, "cuts", buf, (size_t)(p - buf));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_reader_t r = {data, size};
    uint16_t cuts[64];
    int ncuts = fz_u8(&r) % 64;
    for (int i = 0; i < ncuts; i++) {
        cuts[i] = fz_u16(&r);
    }
    const uint8_t *msg = r.p;
    size_t len = r.left;

    uint8_t got[32], want[32];
    streamed(1, cuts, ncuts, msg, len, got);
    fz_ref_sha256(msg, len, want);
    FZ_CHECK(memcmp(got, want, 32) == 0, "SHA-256 of %zu bytes in %d+ chunks differs from OpenSSL", len, ncuts);

    streamed(0, cuts, ncuts, msg, len, got);
    fz_ref_sha1(msg, len, want);
    FZ_CHECK(memcmp(got, want, 20) == 0, "SHA-1 of %zu bytes in %d+ chunks differs from OpenSSL", len, ncuts);

    /* Byte by byte, the smallest split of all. */
    if (len <= 512) {
        xsota_sha_t ctx;
        xsota_sha_start(&ctx, 1);
        for (size_t i = 0; i < len; i++) {
            xsota_sha_update(&ctx, msg + i, 1);
        }
        xsota_sha_finish(&ctx, got);
        fz_ref_sha256(msg, len, want);
        FZ_CHECK(memcmp(got, want, 32) == 0, "byte-by-byte SHA-256 of %zu bytes differs from OpenSSL", len);
    }
    return 0;
}
