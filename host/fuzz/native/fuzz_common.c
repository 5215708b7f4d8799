/*
 * Shared by the native fuzz targets: see fuzz_common.h.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "fuzz_common.h"

const vb_partition_def_t fz_partitions[] = {
    {"nvs", PART_TYPE_DATA, 0x02, FZ_NVS_OFF, FZ_NVS_SIZE, 0},
    {"otadata", PART_TYPE_DATA, PART_SUBTYPE_DATA_OTA, FZ_OTADATA_OFF, 0x2000, 0},
    {"phy_init", PART_TYPE_DATA, PART_SUBTYPE_DATA_RF, 0xf000, 0x1000, 0},
    {"ota_0", PART_TYPE_APP, PART_SUBTYPE_OTA_FLAG + 0, FZ_OTA0_OFF, FZ_SLOT_SIZE, 0},
    {"ota_1", PART_TYPE_APP, PART_SUBTYPE_OTA_FLAG + 1, FZ_OTA1_OFF, FZ_SLOT_SIZE, 0},
};
const int fz_partition_count = (int)(sizeof(fz_partitions) / sizeof(fz_partitions[0]));

static int s_memfd = -1;
static char s_path[64];
static size_t s_size;

static int s_report_fd = 2;

void fz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    dprintf(s_report_fd, "FUZZ CHECK FAILED (%s:%d): %s\n  %s\n", file, line, cond, msg);
    abort();
}

void fz_seed(const char *dir, const char *name, const void *data, size_t len)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/seed-%s", dir, name);
    FILE *f = fopen(path, "wb");
    FZ_CHECK(f != NULL, "cannot write %s", path);
    FZ_CHECK(fwrite(data, 1, len, f) == len && fclose(f) == 0, "writing %s", path);
}

void fz_init(void)
{
    int fd = dup(2);
    if (fd >= 0) {
        s_report_fd = fd;
    }
    const char *verbose = getenv("FUZZ_VERBOSE");
    if (verbose == NULL || strcmp(verbose, "1") != 0) {
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0) {
            fflush(stdout);
            dup2(null, 1);
            close(null);
        }
    }
    /* The references check themselves: a wrong reference would hide findings. */
    static const uint8_t seq1[4] = {1, 0, 0, 0};
    FZ_CHECK(fz_ref_crc32(UINT32_MAX, seq1, 4) == 0x4743989Au, "reference crc32 of seq 1");
    FZ_CHECK(fz_ref_crc32(0, (const uint8_t *)"123456789", 9) == 0xCBF43926u, "reference crc32 check value");
    uint8_t d[32];
    static const uint8_t abc_sha256[4] = {0xba, 0x78, 0x16, 0xbf};
    fz_ref_sha256("abc", 3, d);
    FZ_CHECK(memcmp(d, abc_sha256, 4) == 0, "reference sha256(abc)");

    const char *seeds = getenv("FUZZ_SEED_DIR");
    if (seeds != NULL && *seeds) {
        fz_write_seeds(seeds);
        exit(0);
    }
}

void fz_flash_template(uint8_t *buf)
{
    memset(buf, 0xFF, FZ_FLASH_SIZE);
    int n = vb_partition_table_build(fz_partitions, fz_partition_count, buf + FZ_TABLE_OFF);
    FZ_CHECK(n > 0, "building the fuzz partition table");
}

void fz_flash_load(const uint8_t *buf, size_t size)
{
    if (s_memfd < 0) {
        s_memfd = memfd_create("fuzz-flash", 0);
        FZ_CHECK(s_memfd >= 0, "memfd_create");
        snprintf(s_path, sizeof(s_path), "/proc/self/fd/%d", s_memfd);
    }
    FZ_CHECK(size > 0 && size % VB_FLASH_SECTOR_SIZE == 0, "flash size %zu", size);
    FZ_CHECK(ftruncate(s_memfd, (off_t)size) == 0, "ftruncate");
    FZ_CHECK(pwrite(s_memfd, buf, size, 0) == (ssize_t)size, "pwrite flash");
    s_size = size;
    fz_flash_reboot();
}

void fz_flash_reboot(void)
{
    vb_config_t cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.flash_path = s_path;
    cfg.virtual_clock = 1;   /* log timestamps stay 0: the same input gives the same run */
    cfg.reset_reason = "poweron";
    FZ_CHECK(vb_idf_init(&cfg) == 0, "vb_idf_init on the fuzz flash");
}

void fz_flash_snapshot(uint8_t *buf, size_t size)
{
    FZ_CHECK(size <= s_size && pread(s_memfd, buf, size, 0) == (ssize_t)size, "reading the fuzz flash back");
}

size_t fz_flash_size(void)
{
    return s_size;
}

/* ---- builders ---------------------------------------------------------------------------- */

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

size_t fz_build_image(uint8_t *out, size_t cap, const char *version, size_t payload_len, uint8_t fill, bool hash)
{
    size_t len1 = (payload_len + 3) & ~(size_t)3;
    size_t unpadded = 24 + 8 + sizeof(esp_app_desc_t) + 8 + len1;
    size_t padded = (unpadded + 1 + 15) & ~(size_t)15;
    size_t total = padded + (hash ? 32 : 0);
    if (total > cap) {
        return 0;
    }
    memset(out, 0, total);
    /* header */
    out[0] = ESP_IMAGE_HEADER_MAGIC;
    out[1] = 2;                      /* segments */
    out[2] = ESP_IMAGE_SPI_MODE_DIO;
    out[3] = (uint8_t)(ESP_IMAGE_FLASH_SIZE_4MB << 4);
    put32(out + 4, 0x400D1000u);     /* entry */
    out[8] = 0xEE;                   /* wp pin */
    /* the board's chip id at 12..13, min_chip_rev 0, min full 0, max full 399 (v3.99) */
    out[12] = (uint8_t)(CONFIG_IDF_FIRMWARE_CHIP_ID & 0xFF);
    out[13] = (uint8_t)(CONFIG_IDF_FIRMWARE_CHIP_ID >> 8);
    out[17] = (uint8_t)(399 & 0xFF);
    out[18] = (uint8_t)(399 >> 8);
    out[23] = hash ? 1 : 0;
    /* segment 0: esp_app_desc_t, mapped (DROM): its data at flash offset 0x20 of a 64 KB page */
    uint8_t *p = out + 24;
    put32(p, 0x3F400020u);
    put32(p + 4, (uint32_t)sizeof(esp_app_desc_t));
    esp_app_desc_t desc;
    memset(&desc, 0, sizeof(desc));
    desc.magic_word = ESP_APP_DESC_MAGIC_WORD;
    snprintf(desc.version, sizeof(desc.version), "%s", version);
    snprintf(desc.project_name, sizeof(desc.project_name), "%s", "xs-ota-fuzz");
    snprintf(desc.time, sizeof(desc.time), "%s", "00:00:00");
    snprintf(desc.date, sizeof(desc.date), "%s", "Jan  1 2025");
    snprintf(desc.idf_ver, sizeof(desc.idf_ver), "%s", "v5.5.1");
    for (int i = 0; i < 32; i++) {
        desc.app_elf_sha256[i] = (uint8_t)(i * 7 + fill);
    }
    memcpy(p + 8, &desc, sizeof(desc));
    p += 8 + sizeof(desc);
    /* segment 1: the payload (DRAM, loaded) */
    put32(p, 0x3FFB0000u);
    put32(p + 4, (uint32_t)len1);
    for (size_t i = 0; i < len1; i++) {
        p[8 + i] = i < payload_len ? (uint8_t)(fill + i * 13) : 0;
    }
    /* checksum over the segments' data words */
    uint32_t sum = 0xEF;
    const uint8_t *seg0 = out + 24 + 8, *seg1 = p + 8;
    for (size_t i = 0; i < sizeof(desc); i += 4) {
        sum ^= get32(seg0 + i);
    }
    for (size_t i = 0; i < len1; i += 4) {
        sum ^= get32(seg1 + i);
    }
    out[padded - 1] = (uint8_t)(sum ^ (sum >> 8) ^ (sum >> 16) ^ (sum >> 24));
    if (hash) {
        fz_ref_sha256(out, padded, out + padded);
    }
    return total;
}

esp_ota_select_entry_t fz_otadata_entry(uint32_t seq, uint32_t state)
{
    esp_ota_select_entry_t e;
    memset(&e, 0xFF, sizeof(e));
    e.ota_seq = seq;
    e.ota_state = state;
    uint8_t le[4];
    put32(le, seq);
    e.crc = fz_ref_crc32(UINT32_MAX, le, 4);
    return e;
}

/* ---- checksum fix-ups ------------------------------------------------------------------------ */

void fz_fix_image(uint8_t *img, size_t len, bool checksum, bool sha)
{
    if (len < 24) {
        return;
    }
    uint64_t pos = 24;
    uint32_t sum = 0xEF;
    for (int i = 0; i < img[1] && i < 16; i++) {
        if (pos + 8 > len) {
            return;
        }
        uint32_t seg_len = get32(img + pos + 4);
        pos += 8;
        if (seg_len % 4 != 0 || pos + seg_len > len) {
            return;
        }
        for (uint32_t k = 0; k < seg_len; k += 4) {
            sum ^= get32(img + pos + k);
        }
        pos += seg_len;
    }
    uint64_t padded = (pos + 1 + 15) & ~(uint64_t)15;
    if (padded > len) {
        return;
    }
    if (checksum) {
        img[padded - 1] = (uint8_t)(sum ^ (sum >> 8) ^ (sum >> 16) ^ (sum >> 24));
    }
    if (sha && img[23] != 0 && padded + 32 <= len) {
        fz_ref_sha256(img, (size_t)padded, img + padded);
    }
}

void fz_fix_table_md5(uint8_t *table, size_t len)
{
    for (size_t off = 0; off + 32 <= len; off += 32) {
        if (table[off] == 0xEB && table[off + 1] == 0xEB) {
            vb_md5_ctx_t md5;
            vb_md5_init(&md5);
            vb_md5_update(&md5, table, off);
            vb_md5_final(&md5, table + off + 16);
            return;
        }
    }
}

/* ---- references ----------------------------------------------------------------------------- */

static void evp_digest(const EVP_MD *md, const void *data, size_t len, uint8_t *out)
{
    unsigned int n = 0;
    FZ_CHECK(EVP_Digest(data, len, out, &n, md, NULL) == 1, "OpenSSL EVP_Digest");
}

void fz_ref_sha1(const void *data, size_t len, uint8_t out[20])
{
    evp_digest(EVP_sha1(), data, len, out);
}

void fz_ref_sha256(const void *data, size_t len, uint8_t out[32])
{
    evp_digest(EVP_sha256(), data, len, out);
}

uint32_t fz_ref_crc32(uint32_t crc, const uint8_t *buf, size_t len)
{
    crc = ~crc;
    for (size_t i = 0; i < len; i++) {
        crc ^= buf[i];
        for (int k = 0; k < 8; k++) {
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
        }
    }
    return ~crc;
}

static bool have(size_t flash_size, uint64_t addr, uint64_t len)
{
    return addr + len <= flash_size;
}

static bool mapped(uint32_t a)
{
    return (a >= 0x400D0000u && a < 0x40400000u) || (a >= 0x3F400000u && a < 0x3F800000u);
}

fz_ref_image_t fz_ref_image_verify(const uint8_t *flash, size_t flash_size, uint32_t part_off, uint32_t part_size)
{
    fz_ref_image_t r;
    memset(&r, 0, sizeof(r));
#define REF_FAIL(what)   \
    do {                 \
        r.why = (what);  \
        r.ok = false;    \
        return r;        \
    } while (0)
    if (part_size > 0x1000000u) {
        REF_FAIL("partition larger than 16 MB");
    }
    if (!have(flash_size, part_off, 24)) {
        REF_FAIL("header beyond the flash");
    }
    const uint8_t *h = flash + part_off;
    if (h[0] != 0xE9) {
        REF_FAIL("magic");
    }
    unsigned chip_id = h[12] | (h[13] << 8);
    unsigned min_full = h[15] | (h[16] << 8);
    unsigned max_full = h[17] | (h[18] << 8);
    if (chip_id != CONFIG_IDF_FIRMWARE_CHIP_ID) {
        REF_FAIL("chip id");
    }
    if (min_full > 301) {
        REF_FAIL("min chip revision");
    }
    if (max_full != 0 && max_full != 0xFFFF && 301 > max_full) {
        REF_FAIL("max chip revision");
    }
    if (h[1] > 16) {
        REF_FAIL("segment count");
    }
    r.segment_count = h[1];
    r.hash_appended = h[23] != 0;
    uint64_t pos = (uint64_t)part_off + 24;
    uint32_t sum = 0xEF;
    for (int i = 0; i < h[1]; i++) {
        if (!have(flash_size, pos, 8)) {
            REF_FAIL("segment header beyond the flash");
        }
        uint32_t load = get32(flash + pos), len = get32(flash + pos + 4);
        uint64_t data = pos + 8;
        if (len % 4 != 0 || len >= 0x1000000u) {
            REF_FAIL("segment length");
        }
        if (mapped(load) && data % 0x10000u != load % 0x10000u) {
            REF_FAIL("mapped segment not congruent");
        }
        if (!have(flash_size, data, len)) {
            REF_FAIL("segment data beyond the flash");
        }
        for (uint32_t k = 0; k < len; k += 4) {
            sum ^= get32(flash + data + k);
        }
        r.seg_data[i] = (uint32_t)data;
        r.seg_len[i] = len;
        pos = data + len;
    }
    uint64_t unpadded = pos - part_off;
    uint64_t padded = (unpadded + 1 + 15) & ~(uint64_t)15;
    if (!have(flash_size, part_off, padded)) {
        REF_FAIL("checksum beyond the flash");
    }
    uint8_t folded = (uint8_t)(sum ^ (sum >> 8) ^ (sum >> 16) ^ (sum >> 24));
    if (flash[part_off + padded - 1] != folded) {
        REF_FAIL("checksum");
    }
    uint64_t total = padded + (r.hash_appended ? 32 : 0);
    if (!have(flash_size, part_off, total)) {
        REF_FAIL("hash beyond the flash");
    }
    if (total > part_size) {
        REF_FAIL("image longer than the partition");
    }
    if (r.hash_appended) {
        uint8_t d[32];
        fz_ref_sha256(flash + part_off, (size_t)padded, d);
        if (memcmp(d, flash + part_off + padded, 32) != 0) {
            REF_FAIL("sha256");
        }
    }
    r.ok = true;
    r.image_len = (uint32_t)total;
    r.has_app_desc = r.segment_count >= 1 && have(flash_size, (uint64_t)part_off + 32, 4) &&
                     get32(flash + part_off + 32) == ESP_APP_DESC_MAGIC_WORD;
    return r;
#undef REF_FAIL
}

/* ---- input reading ------------------------------------------------------------------------- */

uint8_t fz_u8(fz_reader_t *r)
{
    if (r->left == 0) {
        return 0;
    }
    r->left--;
    return *r->p++;
}

uint16_t fz_u16(fz_reader_t *r)
{
    uint16_t lo = fz_u8(r);
    return (uint16_t)(lo | (fz_u8(r) << 8));
}

uint32_t fz_u32(fz_reader_t *r)
{
    uint32_t lo = fz_u16(r);
    return lo | ((uint32_t)fz_u16(r) << 16);
}

size_t fz_bytes(fz_reader_t *r, void *out, size_t n)
{
    size_t k = n < r->left ? n : r->left;
    memcpy(out, r->p, k);
    r->p += k;
    r->left -= k;
    return k;
}
