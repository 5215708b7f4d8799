/*
 * Target "nvs": the NVS of the emulated ESP-IDF (host/vboard/idf/vb_nvs.c,
 * its own page/record format) mounted on a partition whose bytes come from
 * the fuzzer, then driven through the nvs_* API the firmware uses.
 *
 * Input: [u8 nops] [nops x 4 bytes: op, key, length, seed] [the 16 KB NVS
 * partition, from its start; shorter: the rest is erased]. nops bit 7: the
 * crcs of page headers and records are recomputed (so that mutated records
 * get past their crc and reach the parser's other rules).
 *
 * Checks:
 *  - a reference parser written here from the format in vb_nvs.c's comment
 *    and README "NVS" (pages EMPTY / VALID "VBNV" / GARBAGE, records with a
 *    crc, the highest seq of a key wins, tombstones, names are C strings:
 *    a record whose name holds a NUL is skipped) gives, for every key
 *    the partition holds, the answer nvs_get_* must give after mount (when
 *    mount has no interrupted compaction to finish, which may drop records);
 *  - a model of what the operations did: a successful set must read back,
 *    an erase must read back as not found, and both must survive
 *    nvs_flash_deinit/init and a reset; a set refused for lack of space
 *    changes nothing.
 */
#include <string.h>

#include "esp_partition.h"
#include "fuzz_common.h"
#include "nvs_flash/include/nvs.h"
#include "nvs_flash/include/nvs_flash.h"

#define PAGE 0x1000u
#define NPAGES (FZ_NVS_SIZE / PAGE)
#define MAX_OPS 32
#define NKEYS 6
#define NNS 2

static uint8_t s_flash[FZ_FLASH_SIZE];
static const char *const s_ns[NNS] = {"xsota", "other"};
static const char *const s_keys[NKEYS] = {"boot", "k1", "k2", "a_fifteen_char_", "x", "sixteen_chars_ab"};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    fz_init();
    return 0;
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

/* Page header crcs where the magic is right, and record crcs along each page for as long as the
   lengths make sense. */
static void fix_crcs(uint8_t *part)
{
    for (unsigned pg = 0; pg < NPAGES; pg++) {
        uint8_t *b = part + pg * PAGE;
        if (rd32(b) != 0x564E4256u) {
            continue;
        }
        uint32_t crc = fz_ref_crc32(0, b, 12);
        memcpy(b + 12, &crc, 4);
        for (uint32_t off = 16; off + 20 <= PAGE;) {
            uint8_t *h = b + off;
            uint32_t len = h[0] | (h[1] << 8);
            if (len % 4 || len < 20 || off + len > PAGE) {
                break;
            }
            crc = fz_ref_crc32(0, h, len - 4);
            memcpy(h + len - 4, &crc, 4);
            off += len;
        }
    }
}

/* ---- the reference parser --------------------------------------------------------------------- */

typedef struct {
    uint8_t type;
    uint32_t seq;
    uint8_t ns[16], key[16];
    uint32_t ns_len, key_len, vlen;
    const uint8_t *value;
} ref_rec_t;

static ref_rec_t s_recs[NPAGES * (PAGE / 20)];
static int s_nrecs;
/* The names (as C strings) of every whole record, the skipped ones too: each is asked for. */
static struct {
    char ns[16], key[16];
} s_names[NPAGES * (PAGE / 20)];
static int s_nnames;

/* Returns the number of EMPTY or GARBAGE pages (mount leaves records alone when there is one). */
static int ref_parse(const uint8_t *part)
{
    int spare = 0;
    s_nrecs = s_nnames = 0;
    for (unsigned pg = 0; pg < NPAGES; pg++) {
        const uint8_t *b = part + pg * PAGE;
        bool empty = true;
        for (unsigned i = 0; i < PAGE && empty; i++) {
            empty = b[i] == 0xFF;
        }
        if (empty || rd32(b) != 0x564E4256u || rd32(b + 8) != 1 || fz_ref_crc32(0, b, 12) != rd32(b + 12)) {
            spare++;
            continue;
        }
        for (uint32_t off = 16; off + 20 <= PAGE;) {
            const uint8_t *h = b + off;
            uint32_t len = h[0] | (h[1] << 8), ns_len = h[3], key_len = h[4], vlen = rd32(h + 12);
            if (len % 4 || len < 20 || off + len > PAGE || ns_len > 15 || key_len < 1 || key_len > 15 || vlen > 4000 ||
                16 + ns_len + key_len + vlen + 4 > len || fz_ref_crc32(0, h, len - 4) != rd32(h + len - 4)) {
                break;   /* erased tail or a bad record: nothing after it counts */
            }
            off += len;
            if (h[2] != 0xA0) {
                memset(&s_names[s_nnames], 0, sizeof(s_names[0]));
                memcpy(s_names[s_nnames].ns, h + 16, ns_len);
                memcpy(s_names[s_nnames].key, h + 16 + ns_len, key_len);
                s_nnames++;
            }
            if (memchr(h + 16, 0, ns_len + key_len) != NULL) {
                continue;   /* names are C strings: such a record is no one's value */
            }
            ref_rec_t *r = &s_recs[s_nrecs++];
            memset(r, 0, sizeof(*r));
            r->type = h[2];
            r->seq = rd32(h + 8);
            r->ns_len = ns_len;
            r->key_len = key_len;
            r->vlen = vlen;
            memcpy(r->ns, h + 16, ns_len);
            memcpy(r->key, h + 16 + ns_len, key_len);
            r->value = h + 16 + ns_len + key_len;
        }
    }
    return spare;
}

static bool name_is(const uint8_t *bytes, uint32_t len, const char *name)
{
    return len == strlen(name) && memcmp(bytes, name, len) == 0;
}

/* The newest data record of exactly (ns, key), or NULL. */
static const ref_rec_t *ref_latest(const char *ns, const char *key)
{
    const ref_rec_t *best = NULL;
    for (int i = 0; i < s_nrecs; i++) {
        const ref_rec_t *r = &s_recs[i];
        if (r->type != 0xA0 && name_is(r->ns, r->ns_len, ns) && name_is(r->key, r->key_len, key) &&
            (best == NULL || r->seq > best->seq)) {
            best = r;
        }
    }
    return best;
}

static bool ref_namespace_exists(const char *ns)
{
    for (int i = 0; i < s_nrecs; i++) {
        if (s_recs[i].type == 0xA0 && s_recs[i].ns_len == 0 && name_is(s_recs[i].key, s_recs[i].key_len, ns)) {
            return true;
        }
    }
    return false;
}

/* What nvs_* must answer for (ns, key) according to the reference. */
static void check_against_reference(const char *ns, const char *key)
{
    nvs_handle_t h;
    esp_err_t err = nvs_open(ns, NVS_READONLY, &h);
    if (!ref_namespace_exists(ns)) {
        FZ_CHECK(err == ESP_ERR_NVS_NOT_FOUND, "open(\"%s\") of a missing namespace: 0x%x", ns, err);
        return;
    }
    FZ_CHECK(err == ESP_OK, "open(\"%s\"): 0x%x", ns, err);
    const ref_rec_t *r = ref_latest(ns, key);
    nvs_type_t type;
    err = nvs_find_key(h, key, &type);
    if (r == NULL || r->type == 0xEE) {
        FZ_CHECK(err == ESP_ERR_NVS_NOT_FOUND, "\"%s\"/\"%s\": the reference has no value, find_key says 0x%x", ns, key, err);
    } else {
        FZ_CHECK(err == ESP_OK && type == r->type, "\"%s\"/\"%s\": the reference has type 0x%x, find_key 0x%x type 0x%x",
                 ns, key, r->type, err, err == ESP_OK ? type : 0);
        if (r->type == NVS_TYPE_BLOB || r->type == NVS_TYPE_STR) {
            uint8_t buf[4000];
            size_t len = sizeof(buf);
            err = r->type == NVS_TYPE_BLOB ? nvs_get_blob(h, key, buf, &len) : nvs_get_str(h, key, (char *)buf, &len);
            FZ_CHECK(err == ESP_OK && len == r->vlen && memcmp(buf, r->value, len) == 0,
                     "\"%s\"/\"%s\": value differs from the reference (0x%x, %zu bytes, reference %u)", ns, key, err, len,
                     (unsigned)r->vlen);
        } else if (r->type == NVS_TYPE_U32 && r->vlen == 4) {
            uint32_t v = 0;
            FZ_CHECK(nvs_get_u32(h, key, &v) == ESP_OK && v == rd32(r->value), "\"%s\"/\"%s\": u32 differs", ns, key);
        }
    }
    nvs_close(h);
}

/* ---- the model of what the operations did ------------------------------------------------------ */

enum { UNKNOWN, ABSENT, PRESENT };
typedef struct {
    int state;
    uint8_t type;
    uint32_t len;
    uint8_t value[4000];
} model_t;
static model_t s_model[NNS][NKEYS];

static void value_of(uint8_t *out, uint32_t len, uint8_t seed)
{
    for (uint32_t i = 0; i < len; i++) {
        out[i] = (uint8_t)(seed + i * 31 + (i >> 8));
    }
}

static void check_model(int n, int k)
{
    model_t *m = &s_model[n][k];
    if (m->state == UNKNOWN || strlen(s_keys[k]) > 15) {
        return;
    }
    nvs_handle_t h;
    esp_err_t err = nvs_open(s_ns[n], NVS_READONLY, &h);
    if (err == ESP_ERR_NVS_NOT_FOUND) {
        FZ_CHECK(m->state == ABSENT, "namespace \"%s\" vanished, but \"%s\" was set", s_ns[n], s_keys[k]);
        return;
    }
    FZ_CHECK(err == ESP_OK, "open(\"%s\") read-only: 0x%x", s_ns[n], err);
    if (m->state == ABSENT) {
        err = nvs_find_key(h, s_keys[k], NULL);
        FZ_CHECK(err == ESP_ERR_NVS_NOT_FOUND, "\"%s\"/\"%s\" was erased, find_key says 0x%x", s_ns[n], s_keys[k], err);
    } else {
        uint8_t buf[4000];
        size_t len = sizeof(buf);
        if (m->type == NVS_TYPE_U32) {
            uint32_t v = 0;
            err = nvs_get_u32(h, s_keys[k], &v);
            memcpy(buf, &v, 4);
            len = 4;
        } else if (m->type == NVS_TYPE_STR) {
            err = nvs_get_str(h, s_keys[k], (char *)buf, &len);
        } else {
            err = nvs_get_blob(h, s_keys[k], buf, &len);
        }
        FZ_CHECK(err == ESP_OK && len == m->len && memcmp(buf, m->value, len) == 0,
                 "\"%s\"/\"%s\" reads back 0x%x (%zu bytes), the last write was %u bytes of type 0x%x", s_ns[n],
                 s_keys[k], err, len, (unsigned)m->len, m->type);
    }
    nvs_close(h);
}

static void check_all(void)
{
    for (int n = 0; n < NNS; n++) {
        for (int k = 0; k < NKEYS; k++) {
            check_model(n, k);
        }
    }
}

/* After a write that failed: refused for size or space changes nothing; anything else may have. */
static void after_failed_write(model_t *m, esp_err_t err)
{
    if (err != ESP_ERR_NVS_NOT_ENOUGH_SPACE && err != ESP_ERR_NVS_VALUE_TOO_LONG && err != ESP_ERR_NVS_KEY_TOO_LONG) {
        m->state = UNKNOWN;
    }
}

static void run_op(const uint8_t op[4])
{
    int n = (op[1] >> 4) % NNS, k = (op[1] & 0xF) % NKEYS;
    const char *key = s_keys[k];
    model_t *m = &s_model[n][k];
    nvs_handle_t h;
    esp_err_t err;
    switch (op[0] % 8) {
    case 0: /* set_blob */
    case 1: /* set_str */
    case 2: /* set_u32 */ {
        uint8_t type = op[0] % 8 == 0 ? NVS_TYPE_BLOB : op[0] % 8 == 1 ? NVS_TYPE_STR : NVS_TYPE_U32;
        uint32_t len = type == NVS_TYPE_U32 ? 4 : (uint32_t)op[2] * 16 + (op[3] & 15);
        uint8_t value[4096];
        value_of(value, len, op[3]);
        if (type == NVS_TYPE_STR) {
            for (uint32_t i = 0; i < len; i++) {
                value[i] = (uint8_t)('a' + value[i] % 26);
            }
            value[len] = 0;
            len++;   /* what nvs_get_str gives back: with its terminator */
        }
        if ((err = nvs_open(s_ns[n], NVS_READWRITE, &h)) != ESP_OK) {
            return;
        }
        uint32_t u32;
        memcpy(&u32, value, 4);
        err = type == NVS_TYPE_BLOB  ? nvs_set_blob(h, key, value, len)
              : type == NVS_TYPE_STR ? nvs_set_str(h, key, (const char *)value)
                                     : nvs_set_u32(h, key, u32);
        if (err == ESP_OK) {
            FZ_CHECK(strlen(key) <= 15 && len <= 4000, "set of \"%s\" (%u bytes) accepted", key, (unsigned)len);
            FZ_CHECK(nvs_commit(h) == ESP_OK, "commit");
            m->state = PRESENT;
            m->type = type;
            m->len = len;
            memcpy(m->value, value, len);
        } else {
            after_failed_write(m, err);
        }
        nvs_close(h);
        check_model(n, k);
        break;
    }
    case 3: /* erase_key */
        if (nvs_open(s_ns[n], NVS_READWRITE, &h) != ESP_OK) {
            return;
        }
        err = nvs_erase_key(h, key);
        if (err == ESP_OK) {
            FZ_CHECK(m->state != ABSENT, "erased \"%s\", which was already erased", key);
            m->state = ABSENT;
        } else if (err == ESP_ERR_NVS_NOT_FOUND) {
            FZ_CHECK(m->state != PRESENT, "erase of \"%s\": not found, but it was set", key);
            m->state = m->state == UNKNOWN ? UNKNOWN : ABSENT;
        } else {
            after_failed_write(m, err);
        }
        nvs_close(h);
        check_model(n, k);
        break;
    case 4: /* erase_all */
        if (nvs_open(s_ns[n], NVS_READWRITE, &h) != ESP_OK) {
            return;
        }
        err = nvs_erase_all(h);
        for (int i = 0; i < NKEYS; i++) {
            if (err == ESP_OK) {
                s_model[n][i].state = ABSENT;
            } else {
                s_model[n][i].state = UNKNOWN;   /* some erased, some not */
            }
        }
        nvs_close(h);
        check_all();
        break;
    case 5: /* remount */
        FZ_CHECK(nvs_flash_deinit() == ESP_OK, "deinit");
        FZ_CHECK(nvs_flash_init() == ESP_OK, "NVS does not mount again after deinit");
        check_all();
        break;
    case 6: /* reset */
        fz_flash_reboot();
        FZ_CHECK(nvs_flash_init() == ESP_OK, "NVS does not mount after a reset");
        check_all();
        break;
    default: /* reads */
        check_model(n, k);
        break;
    }
}

/* Seeds: partitions written by vb_nvs itself (so their pages and records are right), each
   followed by the same kind of operations the firmware performs. */
static void seed_from(const char *dir, const char *name, const uint8_t (*ops)[4], int nops)
{
    static uint8_t buf[1 + MAX_OPS * 4 + FZ_NVS_SIZE];
    uint8_t *p = buf;
    *p++ = (uint8_t)nops;
    for (int i = 0; i < nops; i++) {
        memcpy(p, ops[i], 4);
        p += 4;
    }
    fz_flash_snapshot(s_flash, FZ_FLASH_SIZE);
    /* Trailing erased pages are left out: the harness fills them in. */
    size_t len = FZ_NVS_SIZE;
    while (len > 0 && s_flash[FZ_NVS_OFF + len - 1] == 0xFF) {
        len--;
    }
    memcpy(p, s_flash + FZ_NVS_OFF, len);
    fz_seed(dir, name, buf, (size_t)(p - buf) + len);
    /* The same with the crc fix-up on, so that one mutation of a field gets past the crc. */
    char fixed[64];
    snprintf(fixed, sizeof(fixed), "%s-fixup", name);
    buf[0] |= 0x80;
    fz_seed(dir, fixed, buf, (size_t)(p - buf) + len);
}

void fz_write_seeds(const char *dir)
{
    static const uint8_t ops[][4] = {
        {0, 0x00, 4, 7}, {7, 0x00, 0, 0}, {1, 0x01, 2, 9}, {2, 0x12, 0, 3}, {5, 0, 0, 0},
        {3, 0x01, 0, 0}, {0, 0x03, 200, 1}, {0, 0x02, 240, 2}, {6, 0, 0, 0}, {4, 0x10, 0, 0},
    };
    const int nops = (int)(sizeof(ops) / sizeof(ops[0]));
    uint8_t value[4000];
    nvs_handle_t h;

    fz_flash_template(s_flash);
    fz_flash_load(s_flash, FZ_FLASH_SIZE);
    seed_from(dir, "erased", ops, nops);

    FZ_CHECK(nvs_flash_init() == ESP_OK && nvs_open("xsota", NVS_READWRITE, &h) == ESP_OK, "seed mount");
    value_of(value, 64, 1);
    FZ_CHECK(nvs_set_blob(h, "boot", value, 64) == ESP_OK, "seed set");
    FZ_CHECK(nvs_set_str(h, "k1", "{\"v\":1,\"timeout\":30}") == ESP_OK, "seed set");
    FZ_CHECK(nvs_set_u32(h, "k2", 0xC0FFEE) == ESP_OK, "seed set");
    nvs_close(h);
    FZ_CHECK(nvs_open("other", NVS_READWRITE, &h) == ESP_OK && nvs_set_blob(h, "x", value, 3) == ESP_OK, "seed set");
    FZ_CHECK(nvs_erase_key(h, "x") == ESP_OK, "seed erase");
    nvs_close(h);
    seed_from(dir, "few-keys", ops, nops);

    /* Enough rewrites of big values for compactions: several VALID pages, one kept EMPTY. */
    FZ_CHECK(nvs_open("xsota", NVS_READWRITE, &h) == ESP_OK, "seed open");
    for (int i = 0; i < 12; i++) {
        value_of(value, 1500 + 100 * (uint32_t)i, (uint8_t)i);
        FZ_CHECK(nvs_set_blob(h, i % 2 ? "boot" : "k1", value, 1500 + 100 * (size_t)i) == ESP_OK, "seed big set %d", i);
    }
    nvs_close(h);
    seed_from(dir, "compacted", ops, nops);
    seed_from(dir, "compacted-noops", ops, 0);
    FZ_CHECK(nvs_flash_deinit() == ESP_OK, "seed deinit");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_reader_t r = {data, size};
    uint8_t first = fz_u8(&r);
    int nops = (first & 0x7F) % (MAX_OPS + 1);
    uint8_t ops[MAX_OPS][4];
    memset(ops, 0, sizeof(ops));
    for (int i = 0; i < nops; i++) {
        fz_bytes(&r, ops[i], 4);
    }
    fz_flash_template(s_flash);
    fz_bytes(&r, s_flash + FZ_NVS_OFF, FZ_NVS_SIZE);
    if (first & 0x80) {
        fix_crcs(s_flash + FZ_NVS_OFF);
    }
    fz_flash_load(s_flash, FZ_FLASH_SIZE);
    memset(s_model, 0, sizeof(s_model));   /* all UNKNOWN */

    int spare = ref_parse(s_flash + FZ_NVS_OFF);
    esp_err_t err = nvs_flash_init();
    if (err != ESP_OK) {
        /* Only a partition with no spare page may fail to mount (nothing to compact into). */
        FZ_CHECK(spare == 0, "mount failed (0x%x) with %d spare pages", err, spare);
        return 0;
    }
    if (spare > 0) {
        for (int n = 0; n < NNS; n++) {
            for (int k = 0; k < NKEYS; k++) {
                if (strlen(s_keys[k]) <= 15) {
                    check_against_reference(s_ns[n], s_keys[k]);
                }
            }
        }
        /* Every key in the partition, by the names its records carry (up to a NUL). */
        for (int i = 0; i < s_nnames; i++) {
            if (s_names[i].ns[0] && s_names[i].key[0]) {
                check_against_reference(s_names[i].ns, s_names[i].key);
            }
        }
    }
    for (int i = 0; i < nops; i++) {
        run_op(ops[i]);
    }
    check_all();
    return 0;
}
