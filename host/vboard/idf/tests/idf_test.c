/*
 * Tests of the emulated ESP-IDF. TAP on stdout; the board's own UART output
 * (ROM lines, ESP_LOGx) goes to idf_test.log in the working directory, where
 * tests that check log lines read it back.
 *
 * Flash files are prepared with plain pwrite (not through the code under
 * test), so a fault in vb_flash cannot hide itself.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "esp_app_desc.h"
#include "esp_app_format.h"
#include "esp_image_format.h"
#include "esp_log.h"
#include "esp_mac.h"
#include "app_update/include/esp_ota_ops.h"
#include "esp_partition.h"
#include "esp_system.h"
#include "esp_timer.h"
#include "nvs_flash/include/nvs_flash.h"
#include "vb_idf.h"

/* ---- TAP ---------------------------------------------------------------------------------- */

static FILE *tap;
static int n_tests, n_failed;

static void ok(int cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void ok(int cond, const char *fmt, ...)
{
    va_list ap;
    n_tests++;
    if (!cond) {
        n_failed++;
    }
    fprintf(tap, "%s %d - ", cond ? "ok" : "not ok", n_tests);
    va_start(ap, fmt);
    vfprintf(tap, fmt, ap);
    va_end(ap);
    fprintf(tap, "\n");
    fflush(tap);
}

static void diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void diag(const char *fmt, ...)
{
    va_list ap;
    fprintf(tap, "# ");
    va_start(ap, fmt);
    vfprintf(tap, fmt, ap);
    va_end(ap);
    fprintf(tap, "\n");
    fflush(tap);
}

#define OK_ERR(expr, want, what)                                                                          \
    do {                                                                                                  \
        esp_err_t got_ = (expr);                                                                          \
        ok(got_ == (want), "%s: %s (got %s 0x%x)", what, esp_err_to_name(want), esp_err_to_name(got_),    \
           (unsigned)got_);                                                                               \
    } while (0)

/* ---- log capture ---------------------------------------------------------------------------- */

static const char *LOG_PATH = "idf_test.log";

static long log_mark(void)
{
    fflush(stdout);
    struct stat st;
    return stat(LOG_PATH, &st) == 0 ? (long)st.st_size : 0;
}

/* Log text written since mark (static buffer). */
static const char *log_since(long mark)
{
    static char buf[65536];
    fflush(stdout);
    buf[0] = '\0';
    FILE *f = fopen(LOG_PATH, "r");
    if (f == NULL) {
        return buf;
    }
    fseek(f, mark, SEEK_SET);
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* ---- flash files -------------------------------------------------------------------------- */

static char tmpdir[64];

static const char *tmp_path(const char *name)
{
    static char path[8][128];
    static int next;
    char *p = path[next++ % 8];
    snprintf(p, 128, "%s/%s", tmpdir, name);
    return p;
}

static void file_write(const char *path, uint32_t addr, const void *data, size_t len)
{
    int fd = open(path, O_RDWR);
    if (fd < 0 || pwrite(fd, data, len, addr) != (ssize_t)len) {
        diag("cannot write %s: %s", path, strerror(errno));
        exit(99);
    }
    close(fd);
}

static void file_read(const char *path, uint32_t addr, void *data, size_t len)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0 || pread(fd, data, len, addr) != (ssize_t)len) {
        diag("cannot read %s: %s", path, strerror(errno));
        exit(99);
    }
    close(fd);
}

static void file_fill(const char *path, uint32_t addr, uint8_t value, size_t len)
{
    uint8_t *buf = malloc(len);
    memset(buf, value, len);
    file_write(path, addr, buf, len);
    free(buf);
}

/* A 4 MB erased flash with the given partition table (the board's by default). */
static void make_flash_with(const char *path, const vb_partition_def_t *defs, int count)
{
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || ftruncate(fd, 0) != 0) {
        diag("cannot create %s", path);
        exit(99);
    }
    close(fd);
    file_fill(path, 0, 0xFF, VB_FLASH_DEFAULT_SIZE);
    uint8_t table[ESP_PARTITION_TABLE_MAX_LEN];
    vb_partition_table_build(defs, count, table);
    file_write(path, ESP_PARTITION_TABLE_OFFSET, table, sizeof(table));
}

static void make_flash(const char *path)
{
    make_flash_with(path, vb_default_partitions, vb_default_partition_count);
}

#define OTADATA_ADDR 0xd000u
#define OTA0_ADDR 0x10000u
#define OTA1_ADDR 0x190000u
#define SLOT_SIZE 0x180000u
#define NVS_ADDR 0x9000u

static uint32_t crc_of_seq(uint32_t seq)
{
    uint8_t le[4] = {(uint8_t)seq, (uint8_t)(seq >> 8), (uint8_t)(seq >> 16), (uint8_t)(seq >> 24)};
    return esp_rom_crc32_le(UINT32_MAX, le, 4);
}

static void set_entry(const char *path, int index, uint32_t seq, uint32_t state, bool good_crc)
{
    esp_ota_select_entry_t e;
    memset(&e, 0xFF, sizeof(e));
    e.ota_seq = seq;
    e.ota_state = state;
    e.crc = good_crc ? crc_of_seq(seq) : crc_of_seq(seq) ^ 0x1;
    file_fill(path, OTADATA_ADDR + (uint32_t)index * 0x1000, 0xFF, 0x1000);
    file_write(path, OTADATA_ADDR + (uint32_t)index * 0x1000, &e, sizeof(e));
}

static void erase_entry(const char *path, int index)
{
    file_fill(path, OTADATA_ADDR + (uint32_t)index * 0x1000, 0xFF, 0x1000);
}

static esp_ota_select_entry_t get_entry(const char *path, int index)
{
    esp_ota_select_entry_t e;
    file_read(path, OTADATA_ADDR + (uint32_t)index * 0x1000, &e, sizeof(e));
    return e;
}

/* ---- app images --------------------------------------------------------------------------- */

typedef struct {
    uint8_t *data;
    size_t len;
} image_t;

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

/* A valid ESP32 app image as ESP-IDF's build makes it: segment 0 = esp_app_desc_t (DROM),
   segment 1 = the firmware payload (DROM), checksum, appended SHA-256. Load addresses are
   congruent with flash offsets modulo 64 KB for any 64 KB-aligned partition. */
static image_t build_image(const char *version, const char *payload_text, size_t pad_to)
{
    size_t text_len = strlen(payload_text);
    size_t payload_len = (8 + text_len + 3) & ~(size_t)3;
    if (payload_len < pad_to) {
        payload_len = pad_to;
    }
    size_t cap = 24 + 8 + 256 + 8 + payload_len + 16 + 32 + 16;
    uint8_t *img = calloc(1, cap);
    esp_image_header_t h;
    memset(&h, 0, sizeof(h));
    h.magic = ESP_IMAGE_HEADER_MAGIC;
    h.segment_count = 2;
    h.spi_mode = ESP_IMAGE_SPI_MODE_DIO;
    h.spi_speed = ESP_IMAGE_SPI_SPEED_DIV_2;
    h.spi_size = ESP_IMAGE_FLASH_SIZE_4MB;
    h.entry_addr = 0x40081000;
    h.wp_pin = 0xEE;
    h.chip_id = CONFIG_IDF_FIRMWARE_CHIP_ID;
    h.min_chip_rev_full = 0;
    h.max_chip_rev_full = 399;
    h.hash_appended = 1;
    memcpy(img, &h, sizeof(h));
    size_t off = 24;

    esp_app_desc_t d;
    memset(&d, 0, sizeof(d));
    d.magic_word = ESP_APP_DESC_MAGIC_WORD;
    snprintf(d.version, sizeof(d.version), "%s", version);
    snprintf(d.project_name, sizeof(d.project_name), "%s", "xs-ota");
    snprintf(d.time, sizeof(d.time), "%s", "12:00:00");
    snprintf(d.date, sizeof(d.date), "%s", "Jan  1 2026");
    snprintf(d.idf_ver, sizeof(d.idf_ver), "%s", "v5.5.1");
    for (int i = 0; i < 32; i++) {
        d.app_elf_sha256[i] = (uint8_t)(i * 7 + version[0]);
    }
    d.mmu_page_size = 16;
    put32(img + off, 0x3F400000u + (uint32_t)(off + 8));
    put32(img + off + 4, sizeof(d));
    memcpy(img + off + 8, &d, sizeof(d));
    off += 8 + sizeof(d);

    uint32_t data_off = (uint32_t)off + 8;
    put32(img + off, 0x3F410000u + (data_off % 0x10000u));
    put32(img + off + 4, (uint32_t)payload_len);
    memcpy(img + off + 8, "XSVBMODS", 8);
    memcpy(img + off + 16, payload_text, text_len);
    off += 8 + payload_len;

    uint32_t checksum = 0xEF;
    size_t seg0 = 24 + 8, seg1 = 24 + 8 + 256 + 8;
    for (size_t i = 0; i < 256; i += 4) {
        checksum ^= (uint32_t)img[seg0 + i] | ((uint32_t)img[seg0 + i + 1] << 8) | ((uint32_t)img[seg0 + i + 2] << 16) |
                    ((uint32_t)img[seg0 + i + 3] << 24);
    }
    for (size_t i = 0; i < payload_len; i += 4) {
        checksum ^= (uint32_t)img[seg1 + i] | ((uint32_t)img[seg1 + i + 1] << 8) | ((uint32_t)img[seg1 + i + 2] << 16) |
                    ((uint32_t)img[seg1 + i + 3] << 24);
    }
    size_t padded = (off + 1 + 15) & ~(size_t)15;
    img[padded - 1] = (uint8_t)((checksum >> 24) ^ (checksum >> 16) ^ (checksum >> 8) ^ checksum);
    off = padded;
    xsota_sha_t sha;
    xsota_sha_start(&sha, 1);
    xsota_sha_update(&sha, img, off);
    xsota_sha_finish(&sha, img + off);
    off += 32;
    image_t r = {img, off};
    return r;
}

/* Recomputes checksum and SHA-256 after a test changed bytes on purpose. */
static void reseal_image(image_t *img)
{
    esp_image_header_t h;
    memcpy(&h, img->data, sizeof(h));
    size_t off = 24;
    uint32_t checksum = 0xEF;
    for (int s = 0; s < h.segment_count; s++) {
        uint32_t len = (uint32_t)img->data[off + 4] | ((uint32_t)img->data[off + 5] << 8) |
                       ((uint32_t)img->data[off + 6] << 16) | ((uint32_t)img->data[off + 7] << 24);
        off += 8;
        for (size_t i = 0; i + 4 <= len; i += 4) {
            checksum ^= (uint32_t)img->data[off + i] | ((uint32_t)img->data[off + i + 1] << 8) |
                        ((uint32_t)img->data[off + i + 2] << 16) | ((uint32_t)img->data[off + i + 3] << 24);
        }
        off += len;
    }
    size_t padded = (off + 1 + 15) & ~(size_t)15;
    img->data[padded - 1] = (uint8_t)((checksum >> 24) ^ (checksum >> 16) ^ (checksum >> 8) ^ checksum);
    xsota_sha_t sha;
    xsota_sha_start(&sha, 1);
    xsota_sha_update(&sha, img->data, padded);
    xsota_sha_finish(&sha, img->data + padded);
}

static void put_image(const char *path, uint32_t addr, const image_t *img)
{
    file_fill(path, addr, 0xFF, SLOT_SIZE);
    file_write(path, addr, img->data, img->len);
}

/* The two images every boot test uses: "A" in ota_0, "B" in ota_1. */
static image_t IMG_A, IMG_B, IMG_C;

static void make_board(const char *path)
{
    make_flash(path);
    put_image(path, OTA0_ADDR, &IMG_A);
    put_image(path, OTA1_ADDR, &IMG_B);
}

static void corrupt_slot(const char *path, uint32_t addr)
{
    uint8_t b;
    file_read(path, addr + 300, &b, 1);
    b ^= 0x55;
    file_write(path, addr + 300, &b, 1);
}

/* ---- board lifetime ----------------------------------------------------------------------------- */

static int board_init(const char *path, const char *reason, long cut_at)
{
    vb_config_t cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.flash_path = path;
    cfg.power_cut_at = (int)cut_at;
    cfg.virtual_clock = 1;
    cfg.reset_reason = reason;
    return vb_idf_init(&cfg);
}

static const uint8_t *g_payload;
static size_t g_payload_len;

/* One boot: init + bootloader. Returns the bootloader's code. */
static int boot(const char *path, const char *reason)
{
    int rc = board_init(path, reason, 0);
    if (rc != 0) {
        return 100 + rc;
    }
    return vb_bootloader_boot(&g_payload, &g_payload_len);
}

/* Which image the bootloader started: 'A', 'B', 'C', or '?' */
static char booted(void)
{
    if (g_payload == NULL || g_payload_len < 9 || memcmp(g_payload, "XSVBMODS", 8) != 0) {
        return '?';
    }
    return (char)g_payload[8];
}

static void flush_all(void)
{
    fflush(stdout);
    fflush(stderr);
    fflush(tap);
}

/* Runs fn in a child process; returns its exit code (or 128 + signal). */
static int in_child(void (*fn)(void *), void *arg)
{
    flush_all();
    pid_t pid = fork();
    if (pid == 0) {
        fn(arg);
        flush_all();
        _exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* ---- tests: checksums ---------------------------------------------------------------------------- */

static void hex(const uint8_t *d, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) {
        sprintf(out + 2 * i, "%02x", d[i]);
    }
}

static void test_checksums(void)
{
    ok(crc_of_seq(1) == 0x4743989Au, "otadata crc of seq 1 is 0x4743989A");
    ok(crc_of_seq(2) == 0x55F63774u, "otadata crc of seq 2 is 0x55F63774");
    ok(crc_of_seq(3) == 0xED4A5011u, "otadata crc of seq 3 is 0xED4A5011");
    ok(crc_of_seq(0xFFFFFFFFu) == 0x2144DF1Cu, "otadata crc of an erased seq is 0x2144DF1C, so it never matches 0xFFFFFFFF");
    ok(esp_rom_crc32_le(0, (const uint8_t *)"123456789", 9) == 0xCBF43926u, "crc32 check value of \"123456789\"");

    static const struct {
        const char *in;
        const char *md5;
    } md5v[] = {
        {"", "d41d8cd98f00b204e9800998ecf8427e"},
        {"a", "0cc175b9c0f1b6a831c399e269772661"},
        {"abc", "900150983cd24fb0d6963f7d28e17f72"},
        {"message digest", "f96b697d7cb7938d525a2f31aaf161d0"},
        {"abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"},
        {"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", "d174ab98d277d9f5a5611c2c9f419d9f"},
        {"12345678901234567890123456789012345678901234567890123456789012345678901234567890",
         "57edf4a22be3c955ac49da2e2107b67a"},
    };
    for (size_t i = 0; i < sizeof(md5v) / sizeof(md5v[0]); i++) {
        vb_md5_ctx_t c;
        uint8_t d[16];
        char h[33];
        vb_md5_init(&c);
        vb_md5_update(&c, md5v[i].in, strlen(md5v[i].in));
        vb_md5_final(&c, d);
        hex(d, 16, h);
        ok(strcmp(h, md5v[i].md5) == 0, "MD5 RFC 1321 vector \"%.20s\"", md5v[i].in);
    }

    static const struct {
        const char *in;
        const char *sha;
    } shav[] = {
        {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
    };
    for (size_t i = 0; i < sizeof(shav) / sizeof(shav[0]); i++) {
        xsota_sha_t c;
        uint8_t d[32];
        char h[65];
        xsota_sha_start(&c, 1);
        xsota_sha_update(&c, shav[i].in, strlen(shav[i].in));
        xsota_sha_finish(&c, d);
        hex(d, 32, h);
        ok(strcmp(h, shav[i].sha) == 0, "SHA-256 FIPS 180 vector \"%.20s\"", shav[i].in);
    }
    {
        xsota_sha_t c;
        uint8_t d[32];
        char h[65];
        char chunk[1001];
        memset(chunk, 'a', sizeof(chunk));
        xsota_sha_start(&c, 1);
        for (int i = 0; i < 1000; i++) {
            xsota_sha_update(&c, chunk, i % 2 ? 999 : 1001);   /* odd chunks cross block edges */
        }
        xsota_sha_finish(&c, d);
        hex(d, 32, h);
        ok(strcmp(h, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0") == 0,
           "SHA-256 of one million 'a'");
    }

    /* SHA-1, the fw.zip manifests' cs_sha1: the device module's digest check. */
    static const struct {
        const char *in;
        const char *sha;
    } sha1v[] = {
        {"abc", "a9993e364706816aba3e25717850c26c9cd0d89d"},
        {"", "da39a3ee5e6b4b0d3255bfef95601890afd80709"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "84983e441c3bd26ebaae4aa1f95129e5e54670f1"},
    };
    for (size_t i = 0; i < sizeof(sha1v) / sizeof(sha1v[0]); i++) {
        xsota_sha_t c;
        uint8_t d[32];
        char h[65];
        xsota_sha_start(&c, 0);
        xsota_sha_update(&c, sha1v[i].in, strlen(sha1v[i].in));
        ok(xsota_sha_finish(&c, d) == 20, "SHA-1 digest is 20 bytes");
        hex(d, 20, h);
        ok(strcmp(h, sha1v[i].sha) == 0, "SHA-1 FIPS 180 vector \"%.20s\"", sha1v[i].in);
    }
}

/* ---- tests: partition table ------------------------------------------------------------------------- */

static void test_partition_table(void)
{
    const char *path = tmp_path("pt.bin");
    make_flash(path);
    ok(board_init(path, "poweron", 0) == 0, "vb_idf_init opens a flash file");

    uint32_t table[ESP_PARTITION_TABLE_MAX_LEN / 4];
    file_read(path, ESP_PARTITION_TABLE_OFFSET, table, sizeof(table));
    int num = -1;
    OK_ERR(esp_partition_table_verify((const esp_partition_info_t *)table, true, &num), ESP_OK,
           "generated table verifies (magic, MD5 row, terminator)");
    ok(num == 5, "generated table has 5 partitions (%d)", num);
    const uint8_t *md5_row = (const uint8_t *)table + 5 * 32;
    ok(md5_row[0] == 0xEB && md5_row[1] == 0xEB && md5_row[2] == 0xFF && md5_row[15] == 0xFF,
       "MD5 row starts EB EB then 14 x FF");
    char why[160];
    ok(vb_partition_table_lint((const esp_partition_info_t *)table, num, VB_FLASH_DEFAULT_SIZE, why, sizeof(why)) == 0,
       "board layout passes the gen_esp32part.py rules");

    const esp_partition_t *nvs = esp_partition_find_first(ESP_PARTITION_TYPE_DATA, ESP_PARTITION_SUBTYPE_DATA_NVS, NULL);
    ok(nvs != NULL && nvs->address == 0x9000 && nvs->size == 0x4000 && strcmp(nvs->label, "nvs") == 0 &&
           nvs->erase_size == 4096,
       "nvs partition found with address, size, label, erase size");
    const esp_partition_t *ota1 = esp_partition_find_first(ESP_PARTITION_TYPE_APP, ESP_PARTITION_SUBTYPE_ANY, "ota_1");
    ok(ota1 != NULL && ota1->address == OTA1_ADDR && ota1->subtype == ESP_PARTITION_SUBTYPE_APP_OTA_1,
       "find by label ota_1");
    int apps = 0;
    for (esp_partition_iterator_t it = esp_partition_find(ESP_PARTITION_TYPE_APP, ESP_PARTITION_SUBTYPE_ANY, NULL);
         it != NULL; it = esp_partition_next(it)) {
        apps++;
    }
    ok(apps == 2, "iterator over app partitions yields 2");
    ok(esp_partition_find_first(ESP_PARTITION_TYPE_ANY, ESP_PARTITION_SUBTYPE_DATA_NVS, NULL) == NULL,
       "subtype without type finds nothing (ESP_ERR_INVALID_ARG in find_err)");
    esp_partition_t copy = *ota1;
    ok(esp_partition_verify(&copy) == ota1, "esp_partition_verify maps a copy to the table's partition");
    copy.size = 0x1000;
    ok(esp_partition_verify(&copy) == NULL, "esp_partition_verify refuses a partition not in the table");
    uint8_t b[16];
    OK_ERR(esp_partition_read(nvs, 0x4000 - 8, b, 16), ESP_ERR_INVALID_SIZE, "read past the partition end");
    OK_ERR(esp_partition_write(nvs, 0x4001, b, 1), ESP_ERR_INVALID_ARG, "write at an offset past the partition");
    OK_ERR(esp_partition_erase_range(nvs, 0x800, 0x1000), ESP_ERR_INVALID_ARG, "erase at an unaligned offset");
    OK_ERR(esp_partition_erase_range(nvs, 0, 0x800), ESP_ERR_INVALID_SIZE, "erase of an unaligned size");

    /* One byte changed in a row: the MD5 row no longer matches. */
    uint8_t byte;
    file_read(path, ESP_PARTITION_TABLE_OFFSET + 3 * 32 + 9, &byte, 1);
    byte ^= 0x01;
    file_write(path, ESP_PARTITION_TABLE_OFFSET + 3 * 32 + 9, &byte, 1);
    file_read(path, ESP_PARTITION_TABLE_OFFSET, table, sizeof(table));
    OK_ERR(esp_partition_table_verify((const esp_partition_info_t *)table, false, &num), ESP_ERR_INVALID_STATE,
           "a table with a corrupted byte fails the MD5 check");
    board_init(path, "poweron", 0);
    ok(esp_partition_find_first(ESP_PARTITION_TYPE_DATA, ESP_PARTITION_SUBTYPE_ANY, NULL) == NULL,
       "the app-side loader refuses the corrupted table");
    const uint8_t *p;
    size_t n;
    long mark = log_mark();
    ok(vb_bootloader_boot(&p, &n) == 5, "the bootloader refuses the corrupted table: exit code 5");
    ok(strstr(log_since(mark), "E (0) flash_parts: Incorrect MD5 checksum") != NULL &&
           strstr(log_since(mark), "Failed to verify partition table") != NULL,
       "and says why, as ESP-IDF does");

    /* Without an MD5 row: the bootloader accepts, the app (CONFIG_PARTITION_TABLE_MD5=y) does not. */
    make_flash(path);
    file_fill(path, ESP_PARTITION_TABLE_OFFSET + 5 * 32, 0xFF, 32);
    file_read(path, ESP_PARTITION_TABLE_OFFSET, table, sizeof(table));
    board_init(path, "poweron", 0);
    OK_ERR(esp_partition_table_verify((const esp_partition_info_t *)table, false, &num), ESP_OK,
           "bootloader check accepts a table without MD5 row");
    ok(esp_partition_find_first(ESP_PARTITION_TYPE_APP, ESP_PARTITION_SUBTYPE_ANY, NULL) == NULL,
       "app-side loader requires the MD5 row");

    /* Table rules the chip does not check. */
    vb_partition_def_t gap[] = {
        {"otadata", 1, 0, 0xd000, 0x2000, 0},
        {"ota_0", 0, 0x10, 0x10000, 0x100000, 0},
        {"ota_2", 0, 0x12, 0x110000, 0x100000, 0},
    };
    uint8_t t2[ESP_PARTITION_TABLE_MAX_LEN];
    vb_partition_table_build(gap, 3, t2);
    ok(vb_partition_table_lint((const esp_partition_info_t *)t2, 3, VB_FLASH_DEFAULT_SIZE, why, sizeof(why)) != 0 &&
           strstr(why, "ota_1 is missing") != NULL,
       "lint rejects a gap in ota_N (%s)", why);
    gap[2].subtype = 0x11;
    gap[2].offset = 0x108000;
    vb_partition_table_build(gap, 3, t2);
    ok(vb_partition_table_lint((const esp_partition_info_t *)t2, 3, VB_FLASH_DEFAULT_SIZE, why, sizeof(why)) != 0,
       "lint rejects an app not 64 KB aligned (%s)", why);
    gap[2].offset = 0x100000;
    vb_partition_table_build(gap, 3, t2);
    ok(vb_partition_table_lint((const esp_partition_info_t *)t2, 3, VB_FLASH_DEFAULT_SIZE, why, sizeof(why)) != 0 &&
           strstr(why, "overlap") != NULL,
       "lint rejects overlapping partitions (%s)", why);
    gap[2].offset = 0x110000;
    gap[0].size = 0x1000;
    vb_partition_table_build(gap, 3, t2);
    ok(vb_partition_table_lint((const esp_partition_info_t *)t2, 3, VB_FLASH_DEFAULT_SIZE, why, sizeof(why)) != 0,
       "lint rejects an otadata that is not 8 KB (%s)", why);

    /* A readonly partition refuses writes and erases. */
    vb_partition_def_t ro[] = {
        {"nvs", 1, 2, 0x9000, 0x4000, 0},
        {"factory_cfg", 1, 0x40, 0xd000, 0x1000, 2},
    };
    make_flash_with(path, ro, 2);
    board_init(path, "poweron", 0);
    const esp_partition_t *cfg = esp_partition_find_first(ESP_PARTITION_TYPE_DATA, ESP_PARTITION_SUBTYPE_ANY, "factory_cfg");
    ok(cfg != NULL && cfg->readonly, "readonly flag is read from the table");
    OK_ERR(esp_partition_write(cfg, 0, "x", 1), ESP_ERR_NOT_ALLOWED, "write to a readonly partition");
    OK_ERR(esp_partition_erase_range(cfg, 0, 0x1000), ESP_ERR_NOT_ALLOWED, "erase of a readonly partition");
    vb_idf_shutdown();
}

/* ---- tests: flash NOR rules and power cuts ------------------------------------------------------ */

static void test_nor_rules(void)
{
    const char *path = tmp_path("nor.bin");
    make_flash(path);
    board_init(path, "poweron", 0);
    const uint32_t a = 0x300000;
    uint8_t v;
    OK_ERR(vb_flash_write(a, "\xF0", 1), ESP_OK, "write 0xF0 over erased flash");
    OK_ERR(vb_flash_write(a, "\x00", 1), ESP_OK, "write 0x00 over 0xF0 (only clears bits)");
    uint64_t violations = vb_flash_stats()->nor_violations;
    OK_ERR(vb_flash_write(a, "\xFF", 1), ESP_ERR_FLASH_OP_FAIL, "write 0xFF over 0x00 (a 1 over a 0) is refused");
    file_read(path, a, &v, 1);
    ok(v == 0x00 && vb_flash_stats()->nor_violations == violations + 1, "refused write changed nothing, counted as a violation");
    OK_ERR(vb_flash_write(a + 1, "\x0F\x0F", 2), ESP_OK, "write 0x0F 0x0F");
    OK_ERR(vb_flash_write(a + 1, "\x0F\xF0", 2), ESP_ERR_FLASH_OP_FAIL, "a write with one bad byte is refused whole");
    uint8_t two[2];
    file_read(path, a + 1, two, 2);
    ok(two[0] == 0x0F && two[1] == 0x0F, "nothing of the refused write reached the file");
    OK_ERR(vb_flash_erase_range(a + 0x800, 0x1000), ESP_ERR_INVALID_ARG, "unaligned erase is refused");
    OK_ERR(vb_flash_erase_range(a, 0x1800), ESP_ERR_INVALID_ARG, "erase of a partial sector is refused");
    uint64_t erases = vb_flash_stats()->erases;
    OK_ERR(vb_flash_erase_range(a, 0x11000), ESP_OK, "erase 64 KB + 4 KB at a 64 KB boundary");
    ok(vb_flash_stats()->erases == erases + 2, "that is one block erase and one sector erase (%llu)",
       (unsigned long long)(vb_flash_stats()->erases - erases));
    file_read(path, a, &v, 1);
    ok(v == 0xFF, "erase sets bytes to 0xFF");
    OK_ERR(vb_flash_write(VB_FLASH_DEFAULT_SIZE - 1, "ab", 2), ESP_ERR_INVALID_SIZE, "write past the end of flash");
    vb_idf_shutdown();
}

/* ---- tests: the flash timing model (README "Flash timing") -------------------------------------- */

static int timed_init(const char *path, int virtual_clock, int timing)
{
    vb_config_t cfg = {.flash_path = path, .virtual_clock = virtual_clock, .flash_timing = timing, .reset_reason = "poweron"};
    return vb_idf_init(&cfg);
}

/* How far an action moved the virtual clock, in microseconds. */
#define CLOCK_MOVE_US(action) ({ int64_t before_ = esp_timer_get_time(); action; esp_timer_get_time() - before_; })

static int wait_hook_calls;
static void count_wait(int waiting)
{
    wait_hook_calls += waiting;
}

static double monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void test_flash_timing(void)
{
    const char *path = tmp_path("timing.bin");
    const uint32_t a = 0x300000;   /* 64 KB aligned */
    uint8_t page[VB_FLASH_PAGE_SIZE];
    memset(page, 0x5A, sizeof(page));

    make_flash(path);
    timed_init(path, 1, 0);
    ok(CLOCK_MOVE_US(vb_flash_erase_range(a + 0x1000, 0x1000)) == 0, "timing off: an erase leaves the clock where it was");
    ok(vb_flash_stats()->erase_ns == VB_FLASH_SECTOR_ERASE_NS, "timing off: its modelled time is counted all the same");

    timed_init(path, 1, 1);
    ok(CLOCK_MOVE_US(vb_flash_erase_range(a + 0x1000, 3 * 0x1000)) == 3 * VB_FLASH_SECTOR_ERASE_NS / 1000,
       "3 sectors off a block boundary: 3 x tSE (45 ms) on the virtual clock");
    ok(CLOCK_MOVE_US(vb_flash_erase_range(a, 0x11000)) == (VB_FLASH_BLOCK_ERASE_NS + VB_FLASH_SECTOR_ERASE_NS) / 1000,
       "64 KB + 4 KB at a block boundary: tBE2 (150 ms) + tSE");
    const esp_partition_t *ota0 = esp_partition_find_first(ESP_PARTITION_TYPE_APP, ESP_PARTITION_SUBTYPE_APP_OTA_0, NULL);
    int64_t slot_us = CLOCK_MOVE_US(esp_partition_erase_range(ota0, 0, ota0->size));
    ok(slot_us == (int64_t)(ota0->size / VB_FLASH_BLOCK_SIZE) * (int64_t)(VB_FLASH_BLOCK_ERASE_NS / 1000),
       "erasing the 1.5 MB ota_0 is 24 block erases: %.1f ms", slot_us / 1e3);
    /* 425.6 us: the clock takes whole microseconds and carries the rest to the next operation. */
    int64_t page_us = CLOCK_MOVE_US(vb_flash_write(a, page, sizeof(page)));
    ok(page_us == 425 || page_us == 426, "a page at a page boundary: tPP (0.4 ms) + 256 bytes at 10 MB/s (%lld us)",
       (long long)page_us);
    ok(vb_flash_write_time_ns(a + 0x1FF, 2) == 2 * VB_FLASH_PAGE_PROGRAM_NS + 2 * VB_FLASH_BUS_NS_PER_BYTE,
       "2 bytes across a page boundary are two page programs");
    ok(vb_flash_write_time_ns(a, 0x1000) == 16 * VB_FLASH_PAGE_PROGRAM_NS + 0x1000 * VB_FLASH_BUS_NS_PER_BYTE,
       "4 KB from a page boundary: 16 page programs");
    uint8_t byte;
    int64_t reads_us = CLOCK_MOVE_US(for (int i = 0; i < 25; i++) vb_flash_read(a, &byte, 1));
    ok(reads_us == 2, "25 one-byte reads (100 ns each) move the clock 2 us, the rest is carried (%lld)",
       (long long)reads_us);
    uint64_t erase_ns = vb_flash_stats()->erase_ns;
    OK_ERR(vb_flash_write(a, "\xFF", 1), ESP_ERR_FLASH_OP_FAIL, "a refused write ...");
    ok(vb_flash_stats()->erase_ns == erase_ns && vb_flash_stats()->program_ns ==
           VB_FLASH_PAGE_PROGRAM_NS + sizeof(page) * VB_FLASH_BUS_NS_PER_BYTE,
       "... takes no time");

    timed_init(path, 0, 1);
    vb_flash_on_wait(count_wait);
    double start = monotonic_ms();
    vb_flash_erase_range(a + 0x1000, 0x1000);
    double waited = monotonic_ms() - start;
    ok(waited >= 45 && waited < 45 + 500, "real clock: a sector erase waits tSE (%.1f ms)", waited);
    ok(wait_hook_calls == 1, "and tells the wait hook once (%d)", wait_hook_calls);
    wait_hook_calls = 0;
    vb_flash_read(a, &byte, 1);
    ok(wait_hook_calls == 0, "a 100 ns read is owed, not slept");
    vb_flash_on_wait(NULL);
    vb_idf_shutdown();
}

typedef struct {
    const char *path;
    int armed_after;   /* operations done before vb_flash_arm_power_cut; -1: armed by vb_idf_init (--power-cut-at) */
    long cut_after;
    int torn;
} cut_args_t;

/* Six counted operations: four writes and two erases, with a power cut armed where the test says. */
static void six_ops(void *arg)
{
    const cut_args_t *c = arg;
    vb_config_t cfg = {.flash_path = c->path, .virtual_clock = 1, .reset_reason = "poweron"};
    if (c->armed_after < 0) {
        cfg.power_cut_at = (int)c->cut_after;
        cfg.power_cut_torn = c->torn;
    }
    if (vb_idf_init(&cfg) != 0) {
        _exit(90);
    }
    for (int op = 0; op < 6; op++) {
        if (op == c->armed_after) {
            vb_flash_arm_power_cut(c->cut_after, c->torn);
        }
        switch (op) {
        case 0: vb_flash_write(0x200000, "\x11\x11\x11\x11\x11\x11\x11\x11", 8); break;
        case 1: vb_flash_write(0x201000, "\x22\x22\x22\x22\x22\x22\x22\x22", 8); break;
        case 2: vb_flash_erase_range(0x200000, 0x1000); break;
        case 3: vb_flash_write(0x202000, "\x33\x33\x33\x33\x33\x33\x33\x33", 8); break;
        case 4: vb_flash_erase_range(0x201000, 0x1000); break;
        case 5: vb_flash_write(0x203000, "\x44\x44\x44\x44\x44\x44\x44\x44", 8); break;
        }
    }
}

/* Whether the flash holds exactly the first `done` operations of six_ops. */
static bool six_ops_applied(const char *path, long done)
{
    uint8_t w1[8], w2[8], w4[8], w6[8];
    file_read(path, 0x200000, w1, 8);
    file_read(path, 0x201000, w2, 8);
    file_read(path, 0x202000, w4, 8);
    file_read(path, 0x203000, w6, 8);
    /* Each prefix leaves a different picture. */
    uint8_t e1 = done >= 3 ? 0xFF : done >= 1 ? 0x11 : 0xFF;
    uint8_t e2 = done >= 5 ? 0xFF : done >= 2 ? 0x22 : 0xFF;
    uint8_t e4 = done >= 4 ? 0x33 : 0xFF;
    uint8_t e6 = done >= 6 ? 0x44 : 0xFF;
    return w1[0] == e1 && w1[7] == e1 && w2[0] == e2 && w4[0] == e4 && w6[0] == e6 && w2[7] == e2 && w6[7] == e6;
}

static void test_power_cut(void)
{
    const char *path = tmp_path("cut.bin");
    for (long n = 1; n <= 7; n++) {
        make_flash(path);
        cut_args_t c = {path, -1, n, 0};
        int code = in_child(six_ops, &c);
        ok(code == (n <= 6 ? 4 : 0) && six_ops_applied(path, n - 1),
           "power cut at operation %ld: exit %d, exactly %ld operations applied", n, code, n - 1);
    }
    /* Torn: the cut write is half applied. */
    make_flash(path);
    cut_args_t c = {path, -1, 2, 1};
    int code = in_child(six_ops, &c);
    uint8_t w2[8];
    file_read(path, 0x201000, w2, 8);
    ok(code == 4 && w2[0] == 0x22 && w2[3] == 0x22 && w2[4] == 0xFF && w2[7] == 0xFF,
       "torn write: the first half of the cut write reached flash");
    make_flash(path);
    file_fill(path, 0x201008, 0x00, 0x1000 - 8);   /* op 2 writes the first 8 bytes */
    cut_args_t c5 = {path, -1, 5, 1};
    code = in_child(six_ops, &c5);
    uint8_t lo, hi;
    file_read(path, 0x201400, &lo, 1);
    file_read(path, 0x201000 + 0x800, &hi, 1);
    ok(code == 4 && lo == 0xFF && hi == 0x00, "torn erase: the first half of the sector was erased");
}

/* Cuts armed at run time (the link's "power" message): counted from the operations done so far. */
static void test_power_cut_armed_later(void)
{
    const char *path = tmp_path("cut-later.bin");
    char failures[256] = "";
    int points = 0, wrong = 0;
    for (int before = 0; before <= 6; before++) {
        for (long after = 1; before + after <= 7; after++, points++) {
            make_flash(path);
            cut_args_t c = {path, before, after, 0};
            int code = in_child(six_ops, &c);
            long cut = before + after;
            if (code != (cut <= 6 ? 4 : 0) || !six_ops_applied(path, cut - 1)) {
                wrong++;
                size_t used = strlen(failures);
                snprintf(failures + used, sizeof(failures) - used, " %d+%ld:exit %d", before, after, code);
            }
        }
    }
    ok(wrong == 0, "a cut armed after k operations for the m-th from then leaves exactly k+m-1 applied (%d points)%s",
       points, failures);

    make_flash(path);
    board_init(path, "poweron", 0);
    vb_flash_write(0x200000, "\x11", 1);
    vb_flash_write(0x200001, "\x11", 1);
    ok(vb_flash_arm_power_cut(3, 1) == 5, "arming 3 operations ahead after 2 names operation 5");
    ok(vb_flash_arm_power_cut(0, 1) == 0 && vb_flash_write(0x200002, "\x11", 1) == ESP_OK &&
           vb_flash_write(0x200003, "\x11", 1) == ESP_OK && vb_flash_write(0x200004, "\x11", 1) == ESP_OK,
       "cut_after 0 disarms: operation 5 goes through");
    vb_idf_shutdown();

    /* Torn is the arm's, not the process's: a clean cut after a torn one is clean, and back. */
    make_flash(path);
    cut_args_t clean = {path, 2, 2, 0};
    int code = in_child(six_ops, &clean);
    ok(code == 4 && six_ops_applied(path, 3), "a clean cut armed at run time applies nothing of operation 4");
    make_flash(path);
    cut_args_t torn = {path, 2, 2, 1};
    code = in_child(six_ops, &torn);
    uint8_t w4[8];
    file_read(path, 0x202000, w4, 8);
    ok(code == 4 && w4[0] == 0x33 && w4[3] == 0x33 && w4[4] == 0xFF, "a torn cut armed at run time half-applies operation 4");
    make_flash(path);
    cut_args_t torn_at_boot = {path, -1, 4, 1};
    code = in_child(six_ops, &torn_at_boot);
    file_read(path, 0x202000, w4, 8);
    ok(code == 4 && w4[3] == 0x33 && w4[4] == 0xFF, "power_cut_torn (--power-cut-mode torn) tears the boot-time cut");
}

/* ---- tests: app images ----------------------------------------------------------------------------- */

static esp_err_t verify_at(uint32_t addr, bool silent)
{
    esp_partition_pos_t pos = {addr, SLOT_SIZE};
    esp_image_metadata_t md;
    return esp_image_verify(silent ? ESP_IMAGE_VERIFY_SILENT : ESP_IMAGE_VERIFY, &pos, &md);
}

static void test_images(void)
{
    const char *path = tmp_path("img.bin");
    make_board(path);
    board_init(path, "poweron", 0);
    esp_partition_pos_t pos = {OTA0_ADDR, SLOT_SIZE};
    esp_image_metadata_t md;
    OK_ERR(esp_image_verify(ESP_IMAGE_VERIFY, &pos, &md), ESP_OK, "a well-formed image verifies");
    ok(md.image_len == IMG_A.len && md.image.segment_count == 2 && md.segment_data[0] == OTA0_ADDR + 32,
       "metadata: image length, segment count, segment 0 data at image offset 32");
    uint8_t *payload = NULL;
    size_t payload_len = 0;
    OK_ERR(vb_image_payload(&pos, &payload, &payload_len), ESP_OK, "vb_image_payload");
    ok(payload != NULL && payload_len >= 9 && memcmp(payload, "XSVBMODS", 8) == 0 && payload[8] == 'A',
       "the payload is the second segment's data");
    free(payload);

    struct {
        const char *what;
        size_t off;
        uint8_t xor_with;
        bool reseal;
        const char *log;
    } bad[] = {
        {"bad magic byte", 0, 0xFF, true, "has invalid magic byte"},
        {"max chip revision v3.0 (the chip is v3.1)", 17, 0x8F ^ 0x2C /* 399 -> 300 */, true, "chip revision check failed"},
        {"segment count 17", 1, 0x13, false, "segment count 17 exceeds max 16"},
        {"segment length not a multiple of 4", 24 + 4, 0x01, false, "invalid segment length"},
        {"DROM load address not congruent with its flash offset", 24 + 1, 0x01, true, "doesn't match data"},
        {"a payload byte changed (checksum)", 300, 0x40, false, "Checksum failed"},
        {"appended SHA-256 changed", 0, 0, false, "Image hash failed - image is corrupt"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        image_t img = build_image("1.0.0", "A bad one", 0);
        if (strstr(bad[i].what, "SHA-256")) {
            img.data[img.len - 1] ^= 0x01;
        } else {
            img.data[bad[i].off] ^= bad[i].xor_with;
            if (bad[i].reseal) {
                reseal_image(&img);
            }
        }
        put_image(path, OTA1_ADDR, &img);
        long mark = log_mark();
        esp_err_t err = verify_at(OTA1_ADDR, false);
        ok(err != ESP_OK && strstr(log_since(mark), bad[i].log) != NULL, "image with %s is refused, log says \"%s\"",
           bad[i].what, bad[i].log);
        free(img.data);
    }
    {
        /* The images a real ESP32 or ESP32-C3 boots: refused with the words of their own bootloader. */
        static const struct {
            esp_chip_id_t chip;
            const char *log;
        } other[] = {
            {ESP_CHIP_ID_ESP32, "boot_comm: mismatch chip ID, expected 16982, found 0"},
            {ESP_CHIP_ID_ESP32C3, "boot_comm: mismatch chip ID, expected 16982, found 5"},
        };
        for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++) {
            image_t img = build_image("1.0.0", "for a real chip", 0);
            img.data[12] = (uint8_t)other[i].chip;
            img.data[13] = (uint8_t)(other[i].chip >> 8);
            reseal_image(&img);
            put_image(path, OTA1_ADDR, &img);
            long mark = log_mark();
            esp_err_t err = verify_at(OTA1_ADDR, true);
            ok(err != ESP_OK && strstr(log_since(mark), other[i].log) != NULL,
               "image with chip id %d is refused, even silently, log says \"%s\"", other[i].chip, other[i].log);
            free(img.data);
        }
    }
    {
        image_t img = build_image("1.0.0", "checksum and hash both fixed: fine", 0);
        img.data[300] ^= 0x40;
        reseal_image(&img);
        put_image(path, OTA1_ADDR, &img);
        OK_ERR(verify_at(OTA1_ADDR, false), ESP_OK, "a changed byte with checksum and hash recomputed verifies");
        free(img.data);
    }
    {
        long mark = log_mark();
        corrupt_slot(path, OTA1_ADDR);
        OK_ERR(verify_at(OTA1_ADDR, true), ESP_ERR_IMAGE_INVALID, "silent verify of a corrupt image");
        ok(strstr(log_since(mark), "Checksum failed") == NULL, "silent verify prints no checksum error");
    }
    {
        /* An image longer than its partition. */
        vb_partition_def_t small[] = {
            {"otadata", 1, 0, 0xd000, 0x2000, 0},
            {"ota_0", 0, 0x10, 0x10000, 0x10000, 0},
            {"ota_1", 0, 0x11, 0x20000, 0x10000, 0},
        };
        make_flash_with(path, small, 3);
        image_t img = build_image("1.0.0", "big", 0x10000);
        file_write(path, 0x20000, img.data, 0x10000);
        file_write(path, 0x30000, img.data + 0x10000, img.len - 0x10000);
        board_init(path, "poweron", 0);
        esp_partition_pos_t p2 = {0x20000, 0x10000};
        long mark = log_mark();
        ok(esp_image_verify(ESP_IMAGE_VERIFY, &p2, &md) != ESP_OK &&
               strstr(log_since(mark), "doesn't fit in partition length 65536") != NULL,
           "an image longer than its partition is refused");
        free(img.data);
    }
    vb_idf_shutdown();
}

/* ---- tests: the bootloader ---------------------------------------------------------------------- */

typedef struct {
    const char *name;
    /* entry: seq, state, crc ok; seq 0 + state 0 + crc 0 = erased */
    uint32_t seq0, state0;
    int crc0;
    uint32_t seq1, state1;
    int crc1;
    char expect;           /* image booted */
    uint32_t after_state0, after_state1;   /* 0xEEEEEEEE = do not check; 0xFFFFFFFF with seq FF = erased */
} boot_case_t;

#define ERASED 0, 0, -1
#define NOCHK 0xEEEEEEEEu

static void test_boot_selection(void)
{
    const char *path = tmp_path("boot.bin");
    const boot_case_t cases[] = {
        {"both entries erased: ota_0, recorded as seq 1 VALID", ERASED, ERASED, 'A', ESP_OTA_IMG_VALID, NOCHK},
        {"{1 VALID}, erased: ota_0", 1, ESP_OTA_IMG_VALID, 1, ERASED, 'A', ESP_OTA_IMG_VALID, NOCHK},
        {"erased, {2 VALID}: ota_1 from entry 1 alone", ERASED, 2, ESP_OTA_IMG_VALID, 1, 'B', NOCHK, ESP_OTA_IMG_VALID},
        {"{1 VALID}, {2 NEW}: ota_1, NEW becomes PENDING_VERIFY", 1, ESP_OTA_IMG_VALID, 1, 2, ESP_OTA_IMG_NEW, 1, 'B',
         ESP_OTA_IMG_VALID, ESP_OTA_IMG_PENDING_VERIFY},
        {"{1 VALID}, {2 PENDING_VERIFY}: ABORTED, rolls back to ota_0", 1, ESP_OTA_IMG_VALID, 1, 2,
         ESP_OTA_IMG_PENDING_VERIFY, 1, 'A', ESP_OTA_IMG_VALID, ESP_OTA_IMG_ABORTED},
        {"{1 VALID}, {2 VALID}: ota_1", 1, ESP_OTA_IMG_VALID, 1, 2, ESP_OTA_IMG_VALID, 1, 'B', ESP_OTA_IMG_VALID,
         ESP_OTA_IMG_VALID},
        {"{1 VALID}, {2 UNDEFINED}: ota_1 (rollback not tracked)", 1, ESP_OTA_IMG_VALID, 1, 2, ESP_OTA_IMG_UNDEFINED, 1,
         'B', ESP_OTA_IMG_VALID, ESP_OTA_IMG_UNDEFINED},
        {"{1 VALID}, {2 INVALID}: ota_0", 1, ESP_OTA_IMG_VALID, 1, 2, ESP_OTA_IMG_INVALID, 1, 'A', ESP_OTA_IMG_VALID,
         ESP_OTA_IMG_INVALID},
        {"{1 VALID}, {2 ABORTED}: ota_0", 1, ESP_OTA_IMG_VALID, 1, 2, ESP_OTA_IMG_ABORTED, 1, 'A', ESP_OTA_IMG_VALID,
         ESP_OTA_IMG_ABORTED},
        {"{3 VALID}, {2 VALID}: higher seq wins, slot (3-1)%2 = ota_0", 3, ESP_OTA_IMG_VALID, 1, 2, ESP_OTA_IMG_VALID, 1,
         'A', NOCHK, NOCHK},
        {"{4 VALID}, {3 VALID}: slot (4-1)%2 = ota_1", 4, ESP_OTA_IMG_VALID, 1, 3, ESP_OTA_IMG_VALID, 1, 'B', NOCHK,
         NOCHK},
        {"{2 VALID}, {2 VALID} tie: entry 0 wins, ota_1", 2, ESP_OTA_IMG_VALID, 1, 2, ESP_OTA_IMG_VALID, 1, 'B', NOCHK,
         NOCHK},
        {"{1 VALID}, {2 VALID bad crc}: ota_0", 1, ESP_OTA_IMG_VALID, 1, 2, ESP_OTA_IMG_VALID, 0, 'A', NOCHK, NOCHK},
        {"both crcs bad: no active entry, tries all slots from ota_0, writes nothing", 1, ESP_OTA_IMG_VALID, 0, 2,
         ESP_OTA_IMG_VALID, 0, 'A', ESP_OTA_IMG_VALID, ESP_OTA_IMG_VALID},
        {"{1 ABORTED}, {2 INVALID}: both invalid, no factory: ota_0", 1, ESP_OTA_IMG_ABORTED, 1, 2, ESP_OTA_IMG_INVALID,
         1, 'A', ESP_OTA_IMG_ABORTED, ESP_OTA_IMG_INVALID},
        {"{0xFFFFFFFE VALID}, {0xFFFFFFFD VALID}: unsigned max, slot 0xFFFFFFFD%2 = ota_1", 0xFFFFFFFEu,
         ESP_OTA_IMG_VALID, 1, 0xFFFFFFFDu, ESP_OTA_IMG_VALID, 1, 'B', NOCHK, NOCHK},
        {"{0 VALID} alone: seq 0 wraps, slot 0xFFFFFFFF%2 = ota_1", 0, ESP_OTA_IMG_VALID, 1, ERASED, 'B', NOCHK, NOCHK},
        {"{2 PENDING_VERIFY}, {3 PENDING_VERIFY}: both ABORTED, ota_0", 2, ESP_OTA_IMG_PENDING_VERIFY, 1, 3,
         ESP_OTA_IMG_PENDING_VERIFY, 1, 'A', ESP_OTA_IMG_ABORTED, ESP_OTA_IMG_ABORTED},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const boot_case_t *c = &cases[i];
        make_board(path);
        if (c->crc0 >= 0) {
            set_entry(path, 0, c->seq0, c->state0, c->crc0 == 1);
        }
        if (c->crc1 >= 0) {
            set_entry(path, 1, c->seq1, c->state1, c->crc1 == 1);
        }
        int rc = boot(path, "poweron");
        esp_ota_select_entry_t e0 = get_entry(path, 0), e1 = get_entry(path, 1);
        bool states = (c->after_state0 == NOCHK || e0.ota_state == c->after_state0) &&
                      (c->after_state1 == NOCHK || e1.ota_state == c->after_state1);
        ok(rc == 0 && booted() == c->expect && states, "boot: %s (rc %d, booted %c, states %x/%x)", c->name, rc,
           booted(), (unsigned)e0.ota_state, (unsigned)e1.ota_state);
    }

    /* The initial-contents rule writes seq = index + 1 into entry 0. */
    make_board(path);
    corrupt_slot(path, OTA0_ADDR);
    int rc = boot(path, "poweron");
    esp_ota_select_entry_t e0 = get_entry(path, 0);
    ok(rc == 0 && booted() == 'B' && e0.ota_seq == 2 && e0.ota_state == ESP_OTA_IMG_VALID && e0.crc == crc_of_seq(2),
       "blank otadata, ota_0 corrupt: ota_1 boots and is recorded as {seq 2, VALID}");

    /* Fallback scans ignore states. */
    make_board(path);
    set_entry(path, 0, 1, ESP_OTA_IMG_VALID, true);
    set_entry(path, 1, 2, ESP_OTA_IMG_NEW, true);
    corrupt_slot(path, OTA1_ADDR);
    long mark = log_mark();
    rc = boot(path, "poweron");
    ok(rc == 0 && booted() == 'A' && get_entry(path, 1).ota_state == ESP_OTA_IMG_PENDING_VERIFY,
       "NEW image corrupt: entry goes PENDING_VERIFY, fallback down boots ota_0");
    ok(strstr(log_since(mark), "E (0) boot: OTA app partition slot 1 is not bootable") != NULL,
       "the bootloader logs the slot it skipped");
    rc = boot(path, "poweron");
    ok(rc == 0 && booted() == 'A' && get_entry(path, 1).ota_state == ESP_OTA_IMG_ABORTED,
       "next boot: PENDING_VERIFY becomes ABORTED, ota_0 again");

    make_board(path);
    set_entry(path, 0, 1, ESP_OTA_IMG_VALID, true);
    corrupt_slot(path, OTA0_ADDR);
    rc = boot(path, "poweron");
    ok(rc == 0 && booted() == 'B', "selected ota_0 corrupt: fallback upwards boots ota_1, even with no entry for it");

    make_board(path);
    set_entry(path, 0, 1, ESP_OTA_IMG_VALID, true);
    set_entry(path, 1, 2, ESP_OTA_IMG_INVALID, true);
    corrupt_slot(path, OTA0_ADDR);
    rc = boot(path, "poweron");
    ok(rc == 0 && booted() == 'B', "only image left is INVALID in otadata: the fallback still boots it");

    make_board(path);
    corrupt_slot(path, OTA0_ADDR);
    corrupt_slot(path, OTA1_ADDR);
    mark = log_mark();
    rc = boot(path, "poweron");
    ok(rc == 5 && strstr(log_since(mark), "No bootable app partitions in the partition table") != NULL,
       "nothing bootable: exit code 5 and ESP-IDF's message");

    /* With a factory app. */
    vb_partition_def_t with_factory[] = {
        {"nvs", 1, 2, 0x9000, 0x4000, 0},
        {"otadata", 1, 0, 0xd000, 0x2000, 0},
        {"factory", 0, 0x00, 0x10000, 0x100000, 0},
        {"ota_0", 0, 0x10, 0x110000, 0x100000, 0},
        {"ota_1", 0, 0x11, 0x210000, 0x100000, 0},
    };
    make_flash_with(path, with_factory, 5);
    file_write(path, 0x10000, IMG_C.data, IMG_C.len);
    file_write(path, 0x110000, IMG_A.data, IMG_A.len);
    file_write(path, 0x210000, IMG_B.data, IMG_B.len);
    mark = log_mark();
    rc = boot(path, "poweron");
    ok(rc == 0 && booted() == 'C' && strstr(log_since(mark), "Defaulting to factory image") != NULL &&
           get_entry(path, 0).ota_seq == 0xFFFFFFFF,
       "factory present, otadata blank: factory boots, otadata untouched");
    set_entry(path, 0, 1, ESP_OTA_IMG_VALID, false);
    set_entry(path, 1, 2, ESP_OTA_IMG_VALID, false);
    mark = log_mark();
    rc = boot(path, "poweron");
    ok(rc == 0 && booted() == 'C' && strstr(log_since(mark), "ota data partition invalid, falling back to factory") != NULL,
       "factory present, both crcs bad: falls back to factory");
    set_entry(path, 0, 1, ESP_OTA_IMG_VALID, true);
    erase_entry(path, 1);
    rc = boot(path, "poweron");
    ok(rc == 0 && booted() == 'A', "factory present, {1 VALID}: ota_0");
}

static void test_boot_sequence_and_log(void)
{
    const char *path = tmp_path("seq.bin");
    make_board(path);
    set_entry(path, 0, 1, ESP_OTA_IMG_VALID, true);
    set_entry(path, 1, 2, ESP_OTA_IMG_NEW, true);
    long mark = log_mark();
    int rc = boot(path, "poweron");
    const char *log = log_since(mark);
    ok(rc == 0 && booted() == 'B', "update: first boot runs the new image");
    const char *rom = "ets Jun  8 2016 00:22:57\n\nrst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)\n";
    ok(strncmp(log, rom, strlen(rom)) == 0,
       "ROM lines come first: ets banner, blank line, rst:0x1 (POWERON_RESET)");
    ok(strstr(log, "I (0) boot: ESP-IDF v5.5.1 2nd stage bootloader\n") != NULL, "bootloader banner names ESP-IDF v5.5.1");
    ok(strstr(log, "I (0) boot:  3 ota_0            OTA app          00 10 00010000 00180000\n") != NULL,
       "partition list line in ESP-IDF's format");
    ok(strstr(log, "I (0) boot: Loaded app from partition at offset 0x190000\n") != NULL,
       "\"Loaded app from partition at offset 0x190000\"");
    ok(strstr(log, "I (0) esp_image: segment 1: paddr=00190128 vaddr=3f410128 size=") != NULL,
       "segment lines with paddr/vaddr");
    ok(strstr(log, "I (0) app_init: App version:      2.0.0\n") != NULL, "app_init prints the app version");
    ok(strcmp(esp_app_get_description()->version, "2.0.0") == 0, "esp_app_get_description() is the booted image's");
    const esp_partition_t *running = esp_ota_get_running_partition();
    ok(running != NULL && running->address == OTA1_ADDR, "esp_ota_get_running_partition() is the booted slot");
    esp_ota_img_states_t st;
    OK_ERR(esp_ota_get_state_partition(running, &st), ESP_OK, "state of the running slot");
    ok(st == ESP_OTA_IMG_PENDING_VERIFY, "running slot is PENDING_VERIFY on its first boot");

    mark = log_mark();
    rc = boot(path, "sw");
    log = log_since(mark);
    ok(rc == 0 && booted() == 'A' && get_entry(path, 1).ota_state == ESP_OTA_IMG_ABORTED,
       "reset before commit: the second boot rolls back to ota_0, entry ABORTED");
    ok(strstr(log, "rst:0xc (SW_CPU_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)") != NULL, "reason sw prints rst:0xc");
    ok(esp_reset_reason() == ESP_RST_SW, "esp_reset_reason() is ESP_RST_SW");
    ok(esp_ota_get_last_invalid_partition() != NULL && esp_ota_get_last_invalid_partition()->address == OTA1_ADDR,
       "esp_ota_get_last_invalid_partition() is ota_1");
    rc = boot(path, "poweron");
    ok(rc == 0 && booted() == 'A' && get_entry(path, 1).ota_state == ESP_OTA_IMG_ABORTED,
       "third boot: still ota_0, still ABORTED");

    mark = log_mark();
    rc = boot(path, "panic");
    ok(strstr(log_since(mark), "rst:0xc (SW_CPU_RESET)") != NULL && esp_reset_reason() == ESP_RST_PANIC,
       "reason panic: rst:0xc, ESP_RST_PANIC");
    mark = log_mark();
    rc = boot(path, "rtcwdt");
    ok(strstr(log_since(mark), "rst:0x10 (RTCWDT_RTC_RESET)") != NULL && esp_reset_reason() == ESP_RST_WDT,
       "reason rtcwdt: rst:0x10 (RTCWDT_RTC_RESET), ESP_RST_WDT");
    vb_config_t cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.flash_path = path;
    cfg.reset_reason = "brownout";
    ok(vb_idf_init(&cfg) == 2, "an unknown reset reason is a usage error (2)");

    /* Commit path: NEW -> PENDING_VERIFY -> VALID stays. */
    make_board(path);
    set_entry(path, 0, 1, ESP_OTA_IMG_VALID, true);
    set_entry(path, 1, 2, ESP_OTA_IMG_NEW, true);
    boot(path, "poweron");
    OK_ERR(esp_ota_mark_app_valid_cancel_rollback(), ESP_OK, "commit on first boot");
    rc = boot(path, "sw");
    ok(rc == 0 && booted() == 'B' && get_entry(path, 1).ota_state == ESP_OTA_IMG_VALID,
       "after commit, resets keep the new image (VALID)");

    /* Power cut in the bootloader's own otadata write. */
    make_board(path);
    set_entry(path, 0, 1, ESP_OTA_IMG_VALID, true);
    set_entry(path, 1, 2, ESP_OTA_IMG_PENDING_VERIFY, true);
    flush_all();
    pid_t pid = fork();
    if (pid == 0) {
        board_init(path, "poweron", 1);   /* the erase of entry 1's sector */
        vb_bootloader_boot(&g_payload, &g_payload_len);
        _exit(0);
    }
    int status;
    waitpid(pid, &status, 0);
    ok(WIFEXITED(status) && WEXITSTATUS(status) == 4 && get_entry(path, 1).ota_state == ESP_OTA_IMG_PENDING_VERIFY,
       "power cut before the bootloader's ABORTED write: entry untouched");
    flush_all();
    pid = fork();
    if (pid == 0) {
        board_init(path, "poweron", 2);   /* the write after the erase */
        vb_bootloader_boot(&g_payload, &g_payload_len);
        _exit(0);
    }
    waitpid(pid, &status, 0);
    ok(WIFEXITED(status) && WEXITSTATUS(status) == 4 && get_entry(path, 1).ota_seq == 0xFFFFFFFF,
       "power cut between erase and write: entry erased (invalid)");
    rc = boot(path, "poweron");
    ok(rc == 0 && booted() == 'A', "and the next boot runs ota_0: the cut rolled back as a reset would");
}

/* ---- tests: esp_ota_* ---------------------------------------------------------------------------- */

static esp_err_t write_image(const esp_partition_t *part, const image_t *img, size_t size_arg, size_t chunk,
                             esp_ota_handle_t *h_out)
{
    esp_ota_handle_t h;
    esp_err_t err = esp_ota_begin(part, size_arg, &h);
    if (err != ESP_OK) {
        return err;
    }
    for (size_t off = 0; off < img->len; off += chunk) {
        size_t n = img->len - off < chunk ? img->len - off : chunk;
        err = esp_ota_write(h, img->data + off, n);
        if (err != ESP_OK) {
            esp_ota_abort(h);
            return err;
        }
    }
    if (h_out != NULL) {
        *h_out = h;
        return ESP_OK;
    }
    return esp_ota_end(h);
}

static void mark_invalid_child(void *arg)
{
    /* The child inherits the booted state (running ota_1) and the open flash file. */
    (void)arg;
    esp_ota_mark_app_invalid_rollback_and_reboot();
    _exit(7);   /* not reached when it reboots */
}

static void restart_child(void *arg)
{
    (void)arg;
    printf("before restart\n");
    esp_restart();
}

static void test_ota_ops(void)
{
    const char *path = tmp_path("ota.bin");
    make_flash(path);
    put_image(path, OTA0_ADDR, &IMG_A);
    ok(boot(path, "poweron") == 0 && booted() == 'A', "fresh board boots ota_0");
    const esp_partition_t *ota0 = esp_partition_find_first(ESP_PARTITION_TYPE_APP, ESP_PARTITION_SUBTYPE_APP_OTA_0, NULL);
    const esp_partition_t *ota1 = esp_partition_find_first(ESP_PARTITION_TYPE_APP, ESP_PARTITION_SUBTYPE_APP_OTA_1, NULL);
    const esp_partition_t *nvs = esp_partition_find_first(ESP_PARTITION_TYPE_DATA, ESP_PARTITION_SUBTYPE_DATA_NVS, NULL);
    ok(esp_ota_get_running_partition() == ota0, "running partition is ota_0");
    ok(esp_ota_get_boot_partition() == ota0, "boot partition is ota_0");
    ok(esp_ota_get_next_update_partition(NULL) == ota1, "next update partition is ota_1");
    ok(esp_ota_get_next_update_partition(ota1) == ota0, "after ota_1 comes ota_0 again");
    ok(esp_ota_get_app_partition_count() == 2, "two OTA slots");
    esp_app_desc_t desc;
    OK_ERR(esp_ota_get_partition_description(ota0, &desc), ESP_OK, "description of ota_0");
    ok(strcmp(desc.version, "1.0.0") == 0, "ota_0 version is 1.0.0");
    OK_ERR(esp_ota_get_partition_description(ota1, &desc), ESP_ERR_NOT_FOUND, "description of an empty slot");
    OK_ERR(esp_ota_get_partition_description(nvs, &desc), ESP_ERR_NOT_SUPPORTED, "description of a data partition");
    OK_ERR(esp_ota_mark_app_valid_cancel_rollback(), ESP_OK, "commit when already VALID");

    esp_ota_handle_t h;
    OK_ERR(esp_ota_begin(ota0, OTA_SIZE_UNKNOWN, &h), ESP_ERR_OTA_PARTITION_CONFLICT, "begin on the running partition");
    OK_ERR(esp_ota_begin(nvs, OTA_SIZE_UNKNOWN, NULL), ESP_ERR_INVALID_ARG, "begin without a handle pointer");
    esp_partition_t fake = *ota1;
    fake.address = 0x300000;
    OK_ERR(esp_ota_begin(&fake, OTA_SIZE_UNKNOWN, &h), ESP_ERR_NOT_FOUND, "begin on a partition not in the table");
    OK_ERR(esp_ota_end(12345), ESP_ERR_NOT_FOUND, "end of an unknown handle");
    OK_ERR(esp_ota_abort(12345), ESP_ERR_NOT_FOUND, "abort of an unknown handle");

    /* Bad first byte. */
    OK_ERR(esp_ota_begin(ota1, OTA_SIZE_UNKNOWN, &h), ESP_OK, "begin on ota_1 (whole partition erased)");
    OK_ERR(esp_ota_write(h, "\x00\x01\x02\x03", 4), ESP_ERR_OTA_VALIDATE_FAILED, "first byte not 0xE9");
    OK_ERR(esp_ota_write(h, "", 0), ESP_OK, "a write of 0 bytes is ESP_OK (v6.0)");
    OK_ERR(esp_ota_end(h), ESP_ERR_INVALID_ARG, "end with nothing written");
    OK_ERR(esp_ota_abort(h), ESP_ERR_NOT_FOUND, "end freed the handle");

    /* A corrupt image. */
    image_t bad = build_image("9.9.9", "Bad image", 0);
    bad.data[bad.len - 40] ^= 0x10;
    OK_ERR(write_image(ota1, &bad, OTA_SIZE_UNKNOWN, 1000, NULL), ESP_ERR_OTA_VALIDATE_FAILED,
           "end of a corrupt image: ESP_ERR_OTA_VALIDATE_FAILED");
    OK_ERR(esp_ota_set_boot_partition(ota1), ESP_ERR_OTA_VALIDATE_FAILED, "set_boot_partition validates the image");
    free(bad.data);
    OK_ERR(esp_ota_set_boot_partition(nvs), ESP_ERR_OTA_VALIDATE_FAILED, "set_boot_partition of a data partition");

    /* The good update. */
    uint64_t erases = vb_flash_stats()->erases;
    OK_ERR(write_image(ota1, &IMG_B, OTA_SIZE_UNKNOWN, 777, NULL), ESP_OK, "begin/write/end of image B");
    ok(vb_flash_stats()->erases - erases == SLOT_SIZE / VB_FLASH_BLOCK_SIZE,
       "OTA_SIZE_UNKNOWN erased the whole slot in 64 KB blocks (%llu)",
       (unsigned long long)(vb_flash_stats()->erases - erases));
    OK_ERR(esp_ota_set_boot_partition(ota1), ESP_OK, "set_boot_partition(ota_1)");
    esp_ota_select_entry_t e1 = get_entry(path, 1);
    ok(e1.ota_seq == 2 && e1.ota_state == ESP_OTA_IMG_NEW && e1.crc == 0x55F63774u,
       "otadata entry 1 = {seq 2, NEW, crc 0x55F63774}");
    ok(get_entry(path, 0).ota_seq == 1, "entry 0 untouched");
    ok(esp_ota_get_boot_partition() == ota1, "boot partition is now ota_1");
    esp_ota_img_states_t st;
    OK_ERR(esp_ota_get_state_partition(ota1, &st), ESP_OK, "state of ota_1");
    ok(st == ESP_OTA_IMG_NEW, "ota_1 is NEW");
    OK_ERR(esp_ota_get_state_partition(nvs, &st), ESP_ERR_NOT_SUPPORTED, "state of a data partition");

    /* Reboot into the update. */
    ok(boot(path, "sw") == 0 && booted() == 'B', "reboot runs image B");
    ota0 = esp_partition_find_first(ESP_PARTITION_TYPE_APP, ESP_PARTITION_SUBTYPE_APP_OTA_0, NULL);
    ota1 = esp_partition_find_first(ESP_PARTITION_TYPE_APP, ESP_PARTITION_SUBTYPE_APP_OTA_1, NULL);
    OK_ERR(esp_ota_get_state_partition(ota1, &st), ESP_OK, "state after reboot");
    ok(st == ESP_OTA_IMG_PENDING_VERIFY, "ota_1 is PENDING_VERIFY");
    OK_ERR(esp_ota_begin(ota0, OTA_SIZE_UNKNOWN, &h), ESP_ERR_OTA_ROLLBACK_INVALID_STATE,
           "begin while PENDING_VERIFY: ESP_ERR_OTA_ROLLBACK_INVALID_STATE");
    ok(esp_ota_check_rollback_is_possible(), "rollback is possible (ota_0 valid in entry 0)");

    /* Revert: INVALID, then esp_restart (exit code 3). */
    int code = in_child(mark_invalid_child, NULL);
    ok(code == 3, "mark_app_invalid_rollback_and_reboot ends the process with exit code 3 (%d)", code);
    ok(get_entry(path, 1).ota_state == ESP_OTA_IMG_INVALID, "and left entry 1 INVALID");
    ok(boot(path, "sw") == 0 && booted() == 'A', "the next boot runs ota_0");
    ota1 = esp_partition_find_first(ESP_PARTITION_TYPE_APP, ESP_PARTITION_SUBTYPE_APP_OTA_1, NULL);
    ok(esp_ota_get_last_invalid_partition() == ota1, "last invalid partition is ota_1");
    OK_ERR(esp_ota_mark_app_invalid_rollback(), ESP_ERR_OTA_ROLLBACK_FAILED,
           "revert of ota_0 with only an INVALID entry left: ESP_ERR_OTA_ROLLBACK_FAILED");

    /* Update again, commit, then begin invalidates the inactive otadata sector (v6.0). */
    ota0 = esp_partition_find_first(ESP_PARTITION_TYPE_APP, ESP_PARTITION_SUBTYPE_APP_OTA_0, NULL);
    ota1 = esp_partition_find_first(ESP_PARTITION_TYPE_APP, ESP_PARTITION_SUBTYPE_APP_OTA_1, NULL);
    OK_ERR(write_image(ota1, &IMG_C, IMG_C.len, 4096, NULL), ESP_OK, "update to image C with a known size");
    OK_ERR(esp_ota_set_boot_partition(ota1), ESP_OK, "set_boot_partition(ota_1)");
    e1 = get_entry(path, 1);
    ok(e1.ota_seq == 2 && e1.ota_state == ESP_OTA_IMG_NEW, "entry 1 = {seq 2, NEW} (was INVALID, not active)");
    ok(boot(path, "sw") == 0 && booted() == 'C', "reboot runs C");
    OK_ERR(esp_ota_mark_app_valid_cancel_rollback(), ESP_OK, "commit C");
    ok(get_entry(path, 1).ota_state == ESP_OTA_IMG_VALID && get_entry(path, 1).ota_seq == 2,
       "entry 1 VALID, same seq, same sector");
    ok(esp_ota_check_rollback_is_possible(), "rollback to A would be possible");
    ota0 = esp_partition_find_first(ESP_PARTITION_TYPE_APP, ESP_PARTITION_SUBTYPE_APP_OTA_0, NULL);
    ota1 = esp_partition_find_first(ESP_PARTITION_TYPE_APP, ESP_PARTITION_SUBTYPE_APP_OTA_1, NULL);

    /* A known image size erases only that much. */
    uint8_t marker[4] = {1, 2, 3, 4};
    file_write(path, OTA0_ADDR + SLOT_SIZE - 4, marker, 4);
    OK_ERR(esp_ota_begin(ota0, 5000, &h), ESP_OK, "begin(ota_0, 5000)");
    uint8_t m[4];
    file_read(path, OTA0_ADDR + SLOT_SIZE - 4, m, 4);
    ok(memcmp(m, marker, 4) == 0, "begin with a size erases only ALIGN_UP(size, 4 KB)");
    ok(get_entry(path, 0).ota_seq == 0xFFFFFFFF,
       "begin erased the inactive otadata sector (esp_ota_invalidate_inactive_ota_data_slot, v6.0)");
    ok(!esp_ota_check_rollback_is_possible(), "so rollback is no longer possible");
    OK_ERR(esp_ota_abort(h), ESP_OK, "abort");

    /* Sequential writes erase as they go; write_with_offset. */
    put_image(path, OTA0_ADDR, &IMG_A);   /* old content, so a missing erase would be a NOR violation */
    uint64_t violations = vb_flash_stats()->nor_violations;
    erases = vb_flash_stats()->erases;
    OK_ERR(write_image(ota0, &IMG_B, OTA_WITH_SEQUENTIAL_WRITES, 100, NULL), ESP_OK,
           "OTA_WITH_SEQUENTIAL_WRITES in 100-byte writes");
    ok(vb_flash_stats()->nor_violations == violations && vb_flash_stats()->erases - erases == (IMG_B.len + 4095) / 4096,
       "sequential mode erased exactly the sectors written, lazily (%llu)",
       (unsigned long long)(vb_flash_stats()->erases - erases));
    OK_ERR(esp_ota_begin(ota0, OTA_SIZE_UNKNOWN, &h), ESP_OK, "begin for write_with_offset");
    OK_ERR(esp_ota_write_with_offset(h, IMG_A.data + 24, IMG_A.len - 24, 24), ESP_OK, "write the tail first");
    OK_ERR(esp_ota_write_with_offset(h, IMG_A.data, 24, 0), ESP_OK, "then the header");
    OK_ERR(esp_ota_end(h), ESP_OK, "end verifies the image written out of order");

    /* erase_last_boot_app_partition: the inactive entry points at ota_0 again after set_boot. */
    OK_ERR(esp_ota_set_boot_partition(ota0), ESP_OK, "set_boot_partition(ota_0)");
    esp_ota_select_entry_t e0 = get_entry(path, 0);
    ok(e0.ota_seq == 3 && e0.ota_state == ESP_OTA_IMG_NEW, "entry 0 = {seq 3, NEW}: smallest seq >= 2 for slot 0");
    OK_ERR(esp_ota_set_boot_partition(ota1), ESP_OK, "set_boot_partition(ota_1) back");
    e1 = get_entry(path, 1);
    ok(e1.ota_seq == 4 && e1.ota_state == ESP_OTA_IMG_NEW, "entry 1 = {seq 4, NEW}");
    OK_ERR(esp_ota_erase_last_boot_app_partition(), ESP_OK, "erase_last_boot_app_partition");
    uint8_t first;
    file_read(path, OTA0_ADDR, &first, 1);
    ok(first == 0xFF && get_entry(path, 0).ota_seq == 0xFFFFFFFF, "ota_0 and its otadata sector are erased");

    /* Factory-less board with otadata erased after boot: commit says "factory". */
    erase_entry(path, 0);
    erase_entry(path, 1);
    OK_ERR(esp_ota_mark_app_valid_cancel_rollback(), ESP_FAIL, "commit with no otadata entry: ESP_FAIL");
    ok(esp_ota_get_boot_partition() == ota0, "boot partition with blank otadata is the first OTA slot");

    code = in_child(restart_child, NULL);
    ok(code == 3, "esp_restart() exits with code 3");

    /* v5.5.1: set_boot_partition on the slot that is already active writes the OTHER sector with
       the same seq, which loses the entry of the previous slot (v6.0 rewrites the same sector). */
    make_flash(path);
    put_image(path, OTA0_ADDR, &IMG_A);
    boot(path, "poweron");
    ota1 = esp_partition_find_first(ESP_PARTITION_TYPE_APP, ESP_PARTITION_SUBTYPE_APP_OTA_1, NULL);
    OK_ERR(write_image(ota1, &IMG_B, OTA_SIZE_UNKNOWN, 4096, NULL), ESP_OK, "update to B");
    OK_ERR(esp_ota_set_boot_partition(ota1), ESP_OK, "set_boot_partition(ota_1)");
    OK_ERR(esp_ota_set_boot_partition(ota1), ESP_OK, "set_boot_partition(ota_1) a second time");
    e0 = get_entry(path, 0);
    e1 = get_entry(path, 1);
    ok(e0.ota_seq == 2 && e0.ota_state == ESP_OTA_IMG_NEW && e1.ota_seq == 2 && e1.ota_state == ESP_OTA_IMG_NEW,
       "v5.5.1: the second call wrote the other sector with the same seq: both entries {2, NEW}, ota_0's entry is gone");
    ok(boot(path, "sw") == 0 && booted() == 'B' && get_entry(path, 0).ota_state == ESP_OTA_IMG_PENDING_VERIFY,
       "first boot: entry 0 (tie) goes PENDING_VERIFY, B runs");
    ok(boot(path, "sw") == 0 && booted() == 'B' && get_entry(path, 0).ota_state == ESP_OTA_IMG_ABORTED &&
           get_entry(path, 1).ota_state == ESP_OTA_IMG_PENDING_VERIFY,
       "reset without commit: entry 0 ABORTED, but entry 1 (NEW) starts B again: no rollback yet");
    ok(boot(path, "sw") == 0 && booted() == 'A', "second reset without commit: both entries ABORTED, ota_0 boots");
    vb_idf_shutdown();
}

/* ---- tests: NVS ------------------------------------------------------------------------------ */

static void test_nvs_basic(void)
{
    const char *path = tmp_path("nvs.bin");
    make_flash(path);
    board_init(path, "poweron", 0);
    nvs_handle_t h, ro;
    OK_ERR(nvs_open("ota", NVS_READWRITE, &h), ESP_ERR_NVS_NOT_INITIALIZED, "open before nvs_flash_init");
    OK_ERR(nvs_flash_init(), ESP_OK, "nvs_flash_init on an erased partition");
    OK_ERR(nvs_open("ota", NVS_READONLY, &ro), ESP_ERR_NVS_NOT_FOUND, "read-only open of a namespace that does not exist");
    OK_ERR(nvs_open("ota", NVS_READWRITE, &h), ESP_OK, "read-write open creates it");
    OK_ERR(nvs_open("a_namespace_too_long", NVS_READWRITE, &ro), ESP_ERR_NVS_KEY_TOO_LONG, "namespace of 20 characters");
    OK_ERR(nvs_set_u32(h, "timeout", 300), ESP_OK, "set_u32");
    OK_ERR(nvs_set_i32(h, "delta", -5), ESP_OK, "set_i32");
    OK_ERR(nvs_set_u8(h, "slot", 1), ESP_OK, "set_u8");
    OK_ERR(nvs_set_str(h, "url", "http://example.com/fw.zip"), ESP_OK, "set_str");
    OK_ERR(nvs_set_blob(h, "rec", "\x01\x02\x03", 3), ESP_OK, "set_blob");
    OK_ERR(nvs_set_u32(h, "a_key_that_is_too_long", 1), ESP_ERR_NVS_KEY_TOO_LONG, "key of 22 characters");
    OK_ERR(nvs_commit(h), ESP_OK, "commit");
    uint32_t u32 = 0;
    int32_t i32 = 0;
    uint8_t u8 = 0;
    OK_ERR(nvs_get_u32(h, "timeout", &u32), ESP_OK, "get_u32");
    ok(u32 == 300, "u32 value back");
    OK_ERR(nvs_get_i32(h, "delta", &i32), ESP_OK, "get_i32");
    ok(i32 == -5, "i32 value back");
    OK_ERR(nvs_get_u8(h, "slot", &u8), ESP_OK, "get_u8");
    ok(u8 == 1, "u8 value back");
    OK_ERR(nvs_get_u8(h, "timeout", &u8), ESP_ERR_NVS_TYPE_MISMATCH, "get with the wrong type");
    size_t len = 0;
    OK_ERR(nvs_get_str(h, "url", NULL, &len), ESP_OK, "get_str length query");
    ok(len == strlen("http://example.com/fw.zip") + 1, "length includes the NUL");
    char s[64];
    len = 5;
    OK_ERR(nvs_get_str(h, "url", s, &len), ESP_ERR_NVS_INVALID_LENGTH, "get_str into a short buffer");
    len = sizeof(s);
    OK_ERR(nvs_get_str(h, "url", s, &len), ESP_OK, "get_str");
    ok(strcmp(s, "http://example.com/fw.zip") == 0, "string value back");
    uint8_t blob[8];
    len = sizeof(blob);
    OK_ERR(nvs_get_blob(h, "rec", blob, &len), ESP_OK, "get_blob");
    ok(len == 3 && blob[2] == 3, "blob value back");
    uint64_t ops = vb_flash_stats()->ops;
    OK_ERR(nvs_set_u32(h, "timeout", 300), ESP_OK, "set the same value again");
    ok(vb_flash_stats()->ops == ops, "setting an unchanged value writes nothing");
    OK_ERR(nvs_erase_key(h, "delta"), ESP_OK, "erase_key");
    OK_ERR(nvs_get_i32(h, "delta", &i32), ESP_ERR_NVS_NOT_FOUND, "erased key is gone");
    OK_ERR(nvs_erase_key(h, "delta"), ESP_ERR_NVS_NOT_FOUND, "erase of a missing key");
    OK_ERR(nvs_open("ota", NVS_READONLY, &ro), ESP_OK, "read-only open of an existing namespace");
    OK_ERR(nvs_set_u32(ro, "timeout", 1), ESP_ERR_NVS_READ_ONLY, "set through a read-only handle");
    nvs_handle_t other;
    OK_ERR(nvs_open("other", NVS_READWRITE, &other), ESP_OK, "second namespace");
    OK_ERR(nvs_get_u32(other, "timeout", &u32), ESP_ERR_NVS_NOT_FOUND, "namespaces are separate");
    nvs_close(ro);
    OK_ERR(nvs_get_u32(ro, "timeout", &u32), ESP_ERR_NVS_INVALID_HANDLE, "closed handle");
    char big[4100];
    memset(big, 'x', sizeof(big));
    OK_ERR(nvs_set_blob(h, "big", big, 4001), ESP_ERR_NVS_VALUE_TOO_LONG, "a blob over 4000 bytes");
    OK_ERR(nvs_set_blob(h, "big", big, 4000), ESP_OK, "a blob of 4000 bytes");

    /* Persistence across a reboot. */
    board_init(path, "poweron", 0);
    OK_ERR(nvs_flash_init(), ESP_OK, "nvs_flash_init after reboot");
    OK_ERR(nvs_open("ota", NVS_READWRITE, &h), ESP_OK, "open after reboot");
    u32 = 0;
    ok(nvs_get_u32(h, "timeout", &u32) == ESP_OK && u32 == 300, "u32 survived the reboot");
    OK_ERR(nvs_get_i32(h, "delta", &i32), ESP_ERR_NVS_NOT_FOUND, "the erase survived the reboot");
    len = sizeof(big);
    ok(nvs_get_blob(h, "big", big, &len) == ESP_OK && len == 4000, "the 4000-byte blob survived");

    /* Many updates: compaction must keep every value. */
    bool all_ok = true;
    for (uint32_t i = 0; i < 600 && all_ok; i++) {
        char key[16];
        snprintf(key, sizeof(key), "k%u", i % 7);
        uint8_t val[300];
        memset(val, (int)(i & 0xFF), sizeof(val));
        all_ok = nvs_set_blob(h, key, val, 100 + (i % 200)) == ESP_OK;
    }
    ok(all_ok, "600 updates of 7 blobs (100..300 bytes) in a 16 KB partition");
    ok(vb_flash_stats()->nor_violations == 0, "no NOR violation during compaction");
    board_init(path, "poweron", 0);
    nvs_flash_init();
    nvs_open("ota", NVS_READWRITE, &h);
    all_ok = true;
    for (uint32_t i = 593; i < 600; i++) {
        char key[16];
        snprintf(key, sizeof(key), "k%u", i % 7);
        uint8_t val[300];
        len = sizeof(val);
        all_ok = all_ok && nvs_get_blob(h, key, val, &len) == ESP_OK && len == 100 + (i % 200) && val[0] == (i & 0xFF);
    }
    ok(all_ok, "after compaction and reboot every key holds its last value");
    ok(nvs_get_u32(h, "timeout", &u32) == ESP_OK && u32 == 300, "and the old untouched key is still there");
    OK_ERR(nvs_erase_all(h), ESP_OK, "erase_all");
    OK_ERR(nvs_get_u32(h, "timeout", &u32), ESP_ERR_NVS_NOT_FOUND, "erase_all removed the keys");
    OK_ERR(nvs_flash_erase(), ESP_OK, "nvs_flash_erase");
    OK_ERR(nvs_open("ota", NVS_READWRITE, &h), ESP_ERR_NVS_NOT_INITIALIZED, "erase deinitialises");
    OK_ERR(nvs_flash_init(), ESP_OK, "init after erase");
    OK_ERR(nvs_open("ota", NVS_READONLY, &h), ESP_ERR_NVS_NOT_FOUND, "the namespace is gone");

    /* Garbage in the partition (another format): erased at init, like ESP-IDF's erase-and-retry. */
    file_fill(path, NVS_ADDR, 0x12, 0x1000);
    board_init(path, "poweron", 0);
    OK_ERR(nvs_flash_init(), ESP_OK, "init over a page of foreign data");
    vb_idf_shutdown();
}

/* The power-cut sequence: each step sets or erases one key. Values are numbered so the
   expected state after any prefix can be recomputed. */
#define NVS_KEYS 5
#define NVS_STEPS 150   /* enough bytes for several compactions of the 16 KB partition */

typedef struct {
    int key;        /* 0..NVS_KEYS-1 */
    int value;      /* -1: erase */
} nvs_step_t;

static nvs_step_t g_steps[NVS_STEPS];

static void nvs_make_steps(void)
{
    uint32_t x = 12345;
    for (int i = 0; i < NVS_STEPS; i++) {
        x = x * 1103515245u + 12345u;
        g_steps[i].key = (int)((x >> 16) % NVS_KEYS);
        g_steps[i].value = ((x >> 8) % 11 == 0) ? -1 : i + 1;
    }
}

/* Value bytes for value v of key k: length and content depend on v, so a mix-up shows. */
static size_t nvs_value(int k, int v, uint8_t *out)
{
    size_t len = 40 + (size_t)((v * 37 + k * 11) % 400);
    for (size_t i = 0; i < len; i++) {
        out[i] = (uint8_t)(v * 31 + k + i);
    }
    return len;
}

static void nvs_expected(int steps_done, int state[NVS_KEYS])
{
    for (int k = 0; k < NVS_KEYS; k++) {
        state[k] = 0;   /* 0: initial value (set before the sequence) */
    }
    for (int i = 0; i < steps_done; i++) {
        state[g_steps[i].key] = g_steps[i].value;
    }
}

typedef struct {
    const char *path;
    long cut_at;
    int torn;
    int progress_fd;
} nvs_child_args_t;

static void nvs_child(void *arg)
{
    const nvs_child_args_t *a = arg;
    if (board_init(a->path, "poweron", 0) != 0) {
        _exit(90);
    }
    vb_flash_arm_power_cut(a->cut_at, a->torn);
    if (nvs_flash_init() != ESP_OK) {
        _exit(91);
    }
    nvs_handle_t h;
    if (nvs_open("cfg", NVS_READWRITE, &h) != ESP_OK) {
        _exit(92);
    }
    for (int i = 0; i < NVS_STEPS; i++) {
        /* Tell the parent which step is in flight before touching flash. */
        uint8_t step = (uint8_t)i;
        if (write(a->progress_fd, &step, 1) != 1) {
            _exit(93);
        }
        char key[16];
        snprintf(key, sizeof(key), "key%d", g_steps[i].key);
        esp_err_t err;
        if (g_steps[i].value < 0) {
            err = nvs_erase_key(h, key);
            if (err == ESP_ERR_NVS_NOT_FOUND) {
                err = ESP_OK;
            }
        } else {
            uint8_t val[512];
            size_t len = nvs_value(g_steps[i].key, g_steps[i].value, val);
            err = nvs_set_blob(h, key, val, len);
        }
        if (err != ESP_OK) {
            _exit(94);
        }
    }
    uint8_t done = NVS_STEPS;
    if (write(a->progress_fd, &done, 1) != 1) {
        _exit(93);
    }
    printf("nvs sequence: %llu flash operations, %llu erases\n", (unsigned long long)vb_flash_stats()->ops,
           (unsigned long long)vb_flash_stats()->erases);
}

/* Reads the state back; returns false if any key holds something that is no value at all. */
static bool nvs_read_state(int state[NVS_KEYS])
{
    nvs_handle_t h;
    if (nvs_open("cfg", NVS_READWRITE, &h) != ESP_OK) {
        return false;
    }
    for (int k = 0; k < NVS_KEYS; k++) {
        char key[16];
        snprintf(key, sizeof(key), "key%d", k);
        uint8_t val[512], want[512];
        size_t len = sizeof(val);
        esp_err_t err = nvs_get_blob(h, key, val, &len);
        if (err == ESP_ERR_NVS_NOT_FOUND) {
            state[k] = -1;
            continue;
        }
        if (err != ESP_OK) {
            return false;
        }
        state[k] = -2;
        for (int v = 0; v <= NVS_STEPS; v++) {
            size_t wl = nvs_value(k, v, want);
            if (wl == len && memcmp(want, val, len) == 0) {
                state[k] = v;
                break;
            }
        }
        if (state[k] == -2) {
            return false;
        }
    }
    nvs_close(h);
    return true;
}

/* Prepares the initial state: every key set to value 0. */
static void nvs_prepare(const char *path)
{
    make_flash(path);
    board_init(path, "poweron", 0);
    nvs_flash_init();
    nvs_handle_t h;
    nvs_open("cfg", NVS_READWRITE, &h);
    for (int k = 0; k < NVS_KEYS; k++) {
        char key[16];
        uint8_t val[512];
        snprintf(key, sizeof(key), "key%d", k);
        size_t len = nvs_value(k, 0, val);
        nvs_set_blob(h, key, val, len);
    }
    vb_idf_shutdown();
}

static int run_nvs_child(const char *path, long cut_at, int torn, int *last_step)
{
    int fds[2];
    if (pipe(fds) != 0) {
        return -1;
    }
    nvs_child_args_t a = {path, cut_at, torn, fds[1]};
    flush_all();
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        nvs_child(&a);
        flush_all();
        _exit(0);
    }
    close(fds[1]);
    *last_step = -1;
    uint8_t b;
    while (read(fds[0], &b, 1) == 1) {
        *last_step = b;
    }
    close(fds[0]);
    int status;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void test_nvs_power_cuts(void)
{
    const char *path = tmp_path("nvscut.bin");
    nvs_make_steps();
    nvs_prepare(path);
    int last = -1;
    long mark = log_mark();
    int code = run_nvs_child(path, 0, 0, &last);
    long total = -1, erases = -1;
    const char *line = strstr(log_since(mark), "nvs sequence: ");
    if (line != NULL) {
        char *end;
        total = strtol(line + 14, &end, 10);
        const char *e = strstr(end, ", ");
        erases = e != NULL ? strtol(e + 2, NULL, 10) : -1;
    }
    ok(code == 0 && last == NVS_STEPS && total > NVS_STEPS && erases >= 3,
       "uncut NVS sequence: %d steps, %ld flash operations, %ld page erases (compactions)", NVS_STEPS, total, erases);

    for (int torn = 0; torn <= 1; torn++) {
        int failures = 0, cuts = 0;
        char first_failure[200] = "";
        for (long n = 1; n <= total; n++) {
            nvs_prepare(path);
            code = run_nvs_child(path, n, torn, &last);
            if (code != 4) {
                failures++;
                if (!first_failure[0]) {
                    snprintf(first_failure, sizeof(first_failure), "cut %ld: child exit %d", n, code);
                }
                continue;
            }
            cuts++;
            /* Reboot and check: the state is that before step `last`, or after it. */
            board_init(path, "poweron", 0);
            esp_err_t err = nvs_flash_init();
            int got[NVS_KEYS], before[NVS_KEYS], after[NVS_KEYS];
            bool readable = err == ESP_OK && nvs_read_state(got);
            nvs_expected(last, before);
            nvs_expected(last + 1, after);
            bool match_before = true, match_after = true;
            for (int k = 0; k < NVS_KEYS; k++) {
                match_before = match_before && got[k] == before[k];
                match_after = match_after && got[k] == after[k];
            }
            /* Still usable: one more write and read back. */
            nvs_handle_t h;
            uint32_t v = 0;
            bool usable = nvs_open("cfg", NVS_READWRITE, &h) == ESP_OK && nvs_set_u32(h, "after", (uint32_t)n) == ESP_OK &&
                          nvs_get_u32(h, "after", &v) == ESP_OK && v == (uint32_t)n &&
                          vb_flash_stats()->nor_violations == 0;
            if (!readable || !(match_before || match_after) || !usable) {
                failures++;
                if (!first_failure[0]) {
                    snprintf(first_failure, sizeof(first_failure),
                             "cut %ld in step %d: init 0x%x readable %d old %d new %d usable %d", n, last, err, readable,
                             match_before, match_after, usable);
                }
            }
            vb_idf_shutdown();
        }
        ok(failures == 0 && cuts == total,
           "NVS power cut at every one of %ld operations%s: each key old or new, still writable (%d cuts) %s", total,
           torn ? " (torn writes)" : "", cuts, first_failure);
    }
}

/* ---- tests: timers ------------------------------------------------------------------------------ */

static char g_fired[256];

static void note(void *arg)
{
    size_t n = strlen(g_fired);
    if (n + 2 < sizeof(g_fired)) {
        g_fired[n] = *(const char *)arg;
        g_fired[n + 1] = '\0';
    }
}

static esp_timer_handle_t g_self_deleting;

static void delete_self(void *arg)
{
    note(arg);
    esp_timer_delete(g_self_deleting);
}

static void test_timers(void)
{
    const char *path = tmp_path("timer.bin");
    make_flash(path);
    board_init(path, "poweron", 0);
    ok(vb_clock_is_virtual() == 1 && esp_timer_get_time() == 0, "virtual clock starts at 0");
    esp_timer_handle_t a, b, c, d;
    esp_timer_create_args_t args = {.callback = note, .arg = "A", .name = "A"};
    OK_ERR(esp_timer_create(&args, &a), ESP_OK, "create A");
    args.arg = "B";
    OK_ERR(esp_timer_create(&args, &b), ESP_OK, "create B");
    args.arg = "C";
    OK_ERR(esp_timer_create(&args, &c), ESP_OK, "create C");
    args.callback = NULL;
    OK_ERR(esp_timer_create(&args, &d), ESP_ERR_INVALID_ARG, "create without callback");
    ok(vb_timers_next_due_us() == INT64_MAX, "no armed timer: next due is INT64_MAX");
    OK_ERR(esp_timer_start_once(a, 300), ESP_OK, "A once at 300");
    OK_ERR(esp_timer_start_periodic(b, 100), ESP_OK, "B every 100");
    OK_ERR(esp_timer_start_once(c, 100), ESP_OK, "C once at 100 (armed after B)");
    OK_ERR(esp_timer_start_once(a, 10), ESP_ERR_INVALID_STATE, "start of an armed timer");
    OK_ERR(esp_timer_delete(a), ESP_ERR_INVALID_STATE, "delete of an armed timer");
    ok(vb_timers_next_due_us() == 100, "next due 100");
    vb_timers_run_due();
    ok(g_fired[0] == '\0', "nothing fires before its time");
    vb_clock_advance_to(100);
    vb_timers_run_due();
    ok(strcmp(g_fired, "BC") == 0, "at 100: B then C, in arming order (%s)", g_fired);
    vb_clock_advance_to(250);
    vb_timers_run_due();
    vb_clock_advance_to(300);
    vb_timers_run_due();
    ok(strcmp(g_fired, "BCBAB") == 0, "at 200 B; at 300 A (armed at 0) before B (re-armed at 200) (%s)", g_fired);
    ok(esp_timer_is_active(b) && !esp_timer_is_active(a), "periodic stays active, one-shot does not");
    vb_clock_advance_to(200);
    ok(esp_timer_get_time() == 300, "the virtual clock never goes back");
    OK_ERR(esp_timer_stop(a), ESP_ERR_INVALID_STATE, "stop of a timer that is not armed");
    g_fired[0] = '\0';
    vb_clock_advance_to(1000);
    vb_timers_run_due();
    ok(strcmp(g_fired, "BBBBBBB") == 0, "a jump of 700 us fires the periodic timer 7 times (%s)", g_fired);
    OK_ERR(esp_timer_stop(b), ESP_OK, "stop B");
    ok(vb_timers_next_due_us() == INT64_MAX, "nothing armed after stop");
    OK_ERR(esp_timer_start_once(a, 50), ESP_OK, "A again");
    OK_ERR(esp_timer_restart(a, 500), ESP_OK, "restart A to 500 from now");
    uint64_t expiry = 0;
    OK_ERR(esp_timer_get_expiry_time(a, &expiry), ESP_OK, "expiry time");
    ok(expiry == 1500 && vb_timers_next_due_us() == 1500, "A due at 1500");
    args.callback = delete_self;
    args.arg = "D";
    OK_ERR(esp_timer_create(&args, &g_self_deleting), ESP_OK, "create D, which deletes itself");
    OK_ERR(esp_timer_start_once(g_self_deleting, 0), ESP_OK, "D due now");
    g_fired[0] = '\0';
    vb_timers_run_due();
    ok(strcmp(g_fired, "D") == 0, "a callback may delete its own timer (%s)", g_fired);
    OK_ERR(esp_timer_stop(a), ESP_OK, "stop A");
    OK_ERR(esp_timer_delete(a), ESP_OK, "delete A");
    OK_ERR(esp_timer_delete(b), ESP_OK, "delete B");
    OK_ERR(esp_timer_delete(c), ESP_OK, "delete C");

    vb_config_t cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.flash_path = path;
    vb_idf_init(&cfg);
    int64_t t0 = esp_timer_get_time();
    usleep(2000);
    ok(!vb_clock_is_virtual() && esp_timer_get_time() - t0 >= 2000, "real clock moves with CLOCK_MONOTONIC");
    vb_idf_shutdown();
}

/* ---- tests: system ------------------------------------------------------------------------------ */

static void test_system(void)
{
    const char *path = tmp_path("sys.bin");
    make_flash(path);
    board_init(path, "poweron", 0);
    uint8_t mac[6], mac2[6], ap[6];
    OK_ERR(esp_read_mac(mac, ESP_MAC_WIFI_STA), ESP_OK, "esp_read_mac STA");
    ok(mac[0] == 0x24 && mac[1] == 0x0A && mac[2] == 0xC4, "default MAC has Espressif's OUI 24:0A:C4");
    board_init(path, "poweron", 0);
    esp_read_mac(mac2, ESP_MAC_WIFI_STA);
    ok(memcmp(mac, mac2, 6) == 0, "default MAC is the same on every boot of this flash file");
    board_init(tmp_path("other.bin"), "poweron", 0);
    esp_read_mac(mac2, ESP_MAC_WIFI_STA);
    ok(memcmp(mac, mac2, 6) != 0, "another flash file gets another MAC");
    vb_config_t cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.flash_path = path;
    cfg.virtual_clock = 1;
    memcpy(cfg.mac, "\x02\x11\x22\x33\x44\x55", 6);
    vb_idf_init(&cfg);
    esp_read_mac(mac, ESP_MAC_WIFI_STA);
    esp_read_mac(ap, ESP_MAC_WIFI_SOFTAP);
    ok(memcmp(mac, "\x02\x11\x22\x33\x44\x55", 6) == 0 && ap[5] == 0x56, "configured MAC; soft-AP is base + 1");

    ok(esp_ota_get_running_partition() == NULL, "with a flash file but no boot, there is no running partition");
    long mark = log_mark();
    ESP_LOGI("tag", "x=%d", 5);
    ESP_LOGD("tag", "debug is below the default level");
    ok(strcmp(log_since(mark), "I (0) tag: x=5\n") == 0, "ESP_LOGI prints \"I (ms) tag: msg\"; ESP_LOGD is filtered");
    ok(strcmp(esp_err_to_name(ESP_ERR_OTA_ROLLBACK_INVALID_STATE), "ESP_ERR_OTA_ROLLBACK_INVALID_STATE") == 0,
       "esp_err_to_name");

    /* No flash file (--modules): NVS still works on a throwaway flash with the board's table. */
    memset(&cfg, 0, sizeof(cfg));
    ok(vb_idf_init(&cfg) == 0, "vb_idf_init without a flash path");
    nvs_handle_t h;
    uint32_t v = 0;
    ok(nvs_flash_init() == ESP_OK && nvs_open("x", NVS_READWRITE, &h) == ESP_OK && nvs_set_u32(h, "k", 7) == ESP_OK &&
           nvs_get_u32(h, "k", &v) == ESP_OK && v == 7,
       "NVS works without a flash file");
    const esp_partition_t *run = esp_ota_get_running_partition();
    ok(run != NULL && run->address == OTA0_ADDR, "without a flash file the firmware runs from ota_0");
    const void *map;
    esp_partition_mmap_handle_t mh;
    const esp_partition_t *nvsp = esp_partition_find_first(ESP_PARTITION_TYPE_DATA, ESP_PARTITION_SUBTYPE_DATA_NVS, NULL);
    OK_ERR(esp_partition_mmap(nvsp, 0, 16, ESP_PARTITION_MMAP_DATA, &map, &mh), ESP_OK, "esp_partition_mmap (a copy)");
    ok(memcmp(map, "VBNV", 4) == 0, "the mapped bytes are the partition's (an NVS page header)");
    esp_partition_munmap(mh);
    vb_idf_shutdown();
}

/* ------------------------------------------------------------------------------------------------ */

int main(void)
{
    tap = fdopen(dup(1), "w");
    /* The board's UART and the emulator's diagnostics go to files; TAP alone to the terminal. */
    if (tap == NULL || freopen(LOG_PATH, "w", stdout) == NULL || freopen("idf_test.stderr.log", "w", stderr) == NULL) {
        return 99;
    }
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/idf-test-XXXXXX");
    if (mkdtemp(tmpdir) == NULL) {
        return 99;
    }
    diag("emulated ESP-IDF v5.5.1 tests (%zu-bit), log in %s", sizeof(void *) * 8, LOG_PATH);
    IMG_A = build_image("1.0.0", "A: the factory-flashed firmware", 0);
    IMG_B = build_image("2.0.0", "B: the update", 0);
    IMG_C = build_image("3.0.0", "C: another one", 0);

    test_checksums();
    test_partition_table();
    test_nor_rules();
    test_flash_timing();
    test_power_cut();
    test_power_cut_armed_later();
    test_images();
    test_boot_selection();
    test_boot_sequence_and_log();
    test_ota_ops();
    test_nvs_basic();
    test_nvs_power_cuts();
    test_timers();
    test_system();

    fprintf(tap, "1..%d\n", n_tests);
    fprintf(tap, "# %d passed, %d failed\n", n_tests - n_failed, n_failed);
    fflush(tap);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
    if (system(cmd) != 0) {
        diag("could not remove %s", tmpdir);
    }
    return n_failed == 0 ? 0 : 1;
}
