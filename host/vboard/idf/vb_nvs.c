/*
 * NVS for the virtual board: ESP-IDF's API, a format of our own.
 *
 * Why not ESP-IDF's format: the device code only needs the API, and a small
 * format whose power-loss argument fits on this page is easier to trust.
 *
 * Layout: the partition is a set of 4 KB pages. A page is EMPTY (all 0xFF),
 * VALID (16-byte header: magic "VBNV", page seq, version, crc) or GARBAGE
 * (anything else: a torn header or a torn erase). After the header come
 * records, appended, never modified:
 *
 *   u16 len | u8 type | u8 ns_len | u8 key_len | 3 x 0 | u32 seq | u32 vlen |
 *   namespace | key | value | zero pad to 4 | u32 crc32(all before)
 *
 * seq grows with every record written. The value of a key is its record with
 * the highest seq; a tombstone record means "erased". A namespace exists when
 * its namespace record (type NS, key = name) exists.
 *
 * Power cut at any operation:
 *   - A record is one write. Cut before it: old value. Cut inside it (torn):
 *     the crc fails, the page is sealed at that point (no more appends
 *     there), the old value stays. So each key is old or new, never garbage.
 *   - Writes only go to bytes known to be 0xFF: the tail of the active page
 *     is checked to be all 0xFF at mount, or else the page is sealed.
 *   - One EMPTY page is always kept in reserve. Compaction copies the live
 *     records of the oldest page, unchanged (same seq, same crc), into the
 *     reserve page opened with a new page seq, then erases the old page.
 *     Duplicates during the copy are harmless (same seq, same bytes). If a
 *     cut leaves no EMPTY page, mount finishes the compaction (copies what is
 *     missing, by seq and name, then erases the old page), or, if the new page
 *     got a torn record, erases the new page instead, whose records are all
 *     still in the old one.
 *   - GARBAGE pages hold nothing that is not also elsewhere (they come from a
 *     torn page header on a fresh page or a torn erase of a copied page), so
 *     mount erases them.
 *
 * Like ESP-IDF, a set writes at once (nvs_commit has nothing left to do) and
 * setting a key to the value it already has writes nothing. Strings and blobs
 * are limited to 4000 bytes (one page; ESP-IDF splits longer blobs).
 */
#include <stdlib.h>
#include <string.h>

#include "esp_partition.h"
#include "nvs_flash/include/nvs_flash.h"
#include "vb_internal.h"

#define PAGE_SIZE VB_FLASH_SECTOR_SIZE
#define PAGE_HEADER_SIZE 16u
#define PAGE_MAGIC 0x564E4256u /* "VBNV" */
#define PAGE_VERSION 1u
#define REC_HEADER_SIZE 16u
#define REC_CRC_SIZE 4u
#define MAX_NAME 15u
#define MAX_VALUE 4000u
#define MAX_HANDLES 32

#define REC_NS 0xA0
#define REC_TOMBSTONE 0xEE

enum { PAGE_EMPTY, PAGE_VALID, PAGE_GARBAGE };

typedef struct {
    int state;
    uint32_t seq;
    uint32_t write_off;    /* next append offset */
    bool sealed;           /* junk after the last good record: never append here */
} page_t;

typedef struct {
    int page;
    uint32_t off;
    uint16_t len;
    uint8_t type;
    uint32_t seq;
    uint32_t vlen;
    char ns[MAX_NAME + 1];
    char key[MAX_NAME + 1];
} rec_t;

typedef struct {
    bool used;
    uint32_t id;
    bool writable;
    char ns[MAX_NAME + 1];
} handle_t;

static const char *TAG = "nvs";

static struct {
    bool inited;
    const esp_partition_t *part;
    char part_label[17];
    int npages;
    page_t *pages;
    rec_t *recs;
    int nrecs;
    int cap;
    uint32_t max_rec_seq;
    uint32_t max_page_seq;
} S;

static handle_t s_handles[MAX_HANDLES];
static uint32_t s_next_handle_id = 1;

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static void wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static uint32_t page_addr(int page)
{
    return (uint32_t)page * PAGE_SIZE;
}

static void forget_state(void)
{
    free(S.pages);
    free(S.recs);
    memset(&S, 0, sizeof(S));
}

void vb_nvs_reset(void)
{
    forget_state();
    memset(s_handles, 0, sizeof(s_handles));
    s_next_handle_id = 1;
}

static bool all_ff(const uint8_t *p, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (p[i] != 0xFF) {
            return false;
        }
    }
    return true;
}

static esp_err_t add_rec(const rec_t *r)
{
    if (S.nrecs == S.cap) {
        int cap = S.cap ? S.cap * 2 : 64;
        rec_t *recs = realloc(S.recs, (size_t)cap * sizeof(rec_t));
        if (recs == NULL) {
            return ESP_ERR_NO_MEM;
        }
        S.recs = recs;
        S.cap = cap;
    }
    S.recs[S.nrecs++] = *r;
    if (r->seq > S.max_rec_seq) {
        S.max_rec_seq = r->seq;
    }
    return ESP_OK;
}

static void drop_page_recs(int page)
{
    int k = 0;
    for (int i = 0; i < S.nrecs; i++) {
        if (S.recs[i].page != page) {
            S.recs[k++] = S.recs[i];
        }
    }
    S.nrecs = k;
}

/* Parses one record at off; false if it is not a whole, crc-correct record. */
static bool parse_rec(const uint8_t *page, int page_index, uint32_t off, rec_t *r)
{
    if (off + REC_HEADER_SIZE + REC_CRC_SIZE > PAGE_SIZE) {
        return false;
    }
    const uint8_t *h = page + off;
    uint32_t len = (uint32_t)h[0] | ((uint32_t)h[1] << 8);
    uint32_t ns_len = h[3], key_len = h[4];
    uint32_t vlen = rd32(h + 12);
    if (len % 4 != 0 || len < REC_HEADER_SIZE + REC_CRC_SIZE || off + len > PAGE_SIZE || ns_len > MAX_NAME ||
        key_len == 0 || key_len > MAX_NAME || vlen > MAX_VALUE ||
        REC_HEADER_SIZE + ns_len + key_len + vlen + REC_CRC_SIZE > len) {
        return false;
    }
    if (esp_rom_crc32_le(0, h, len - REC_CRC_SIZE) != rd32(h + len - REC_CRC_SIZE)) {
        return false;
    }
    memset(r, 0, sizeof(*r));
    r->page = page_index;
    r->off = off;
    r->len = (uint16_t)len;
    r->type = h[2];
    r->seq = rd32(h + 8);
    r->vlen = vlen;
    memcpy(r->ns, h + REC_HEADER_SIZE, ns_len);
    memcpy(r->key, h + REC_HEADER_SIZE + ns_len, key_len);
    return true;
}

/* Names are C strings: a record whose namespace or key holds a NUL (this code never writes one)
   would answer for the shorter name, with its value read at the wrong offset. */
static bool names_are_strings(const uint8_t *page, uint32_t off)
{
    const uint8_t *h = page + off;
    return memchr(h + REC_HEADER_SIZE, 0, (size_t)h[3] + h[4]) == NULL;
}

static esp_err_t scan_page(int index, uint8_t *buf)
{
    page_t *pg = &S.pages[index];
    memset(pg, 0, sizeof(*pg));
    esp_err_t err = esp_partition_read(S.part, page_addr(index), buf, PAGE_SIZE);
    if (err != ESP_OK) {
        return err;
    }
    if (all_ff(buf, PAGE_SIZE)) {
        pg->state = PAGE_EMPTY;
        return ESP_OK;
    }
    if (rd32(buf) != PAGE_MAGIC || rd32(buf + 8) != PAGE_VERSION || esp_rom_crc32_le(0, buf, 12) != rd32(buf + 12)) {
        pg->state = PAGE_GARBAGE;
        return ESP_OK;
    }
    pg->state = PAGE_VALID;
    pg->seq = rd32(buf + 4);
    if (pg->seq > S.max_page_seq) {
        S.max_page_seq = pg->seq;
    }
    uint32_t off = PAGE_HEADER_SIZE;
    for (;;) {
        if (off >= PAGE_SIZE) {
            pg->write_off = PAGE_SIZE;
            break;
        }
        if (all_ff(buf + off, PAGE_SIZE - off)) {
            pg->write_off = off;
            break;
        }
        rec_t r;
        if (!parse_rec(buf, index, off, &r)) {
            pg->write_off = PAGE_SIZE;
            pg->sealed = true;
            break;
        }
        if (!names_are_strings(buf, off)) {
            off += r.len;   /* whole and crc-correct: skipped, not a seal */
            continue;
        }
        err = add_rec(&r);
        if (err != ESP_OK) {
            return err;
        }
        off += r.len;
    }
    return ESP_OK;
}

static int count_pages(int state)
{
    int n = 0;
    for (int i = 0; i < S.npages; i++) {
        n += S.pages[i].state == state;
    }
    return n;
}

static int find_page(int state)
{
    for (int i = 0; i < S.npages; i++) {
        if (S.pages[i].state == state) {
            return i;
        }
    }
    return -1;
}

static int oldest_valid(void)
{
    int best = -1;
    for (int i = 0; i < S.npages; i++) {
        if (S.pages[i].state == PAGE_VALID && (best < 0 || S.pages[i].seq < S.pages[best].seq)) {
            best = i;
        }
    }
    return best;
}

static int newest_valid(void)
{
    int best = -1;
    for (int i = 0; i < S.npages; i++) {
        if (S.pages[i].state == PAGE_VALID && (best < 0 || S.pages[i].seq > S.pages[best].seq)) {
            best = i;
        }
    }
    return best;
}

static esp_err_t erase_page(int index)
{
    esp_err_t err = esp_partition_erase_range(S.part, page_addr(index), PAGE_SIZE);
    if (err != ESP_OK) {
        return err;
    }
    drop_page_recs(index);
    memset(&S.pages[index], 0, sizeof(page_t));
    S.pages[index].state = PAGE_EMPTY;
    return ESP_OK;
}

static esp_err_t open_page(int index)
{
    uint8_t header[PAGE_HEADER_SIZE];
    uint32_t seq = S.max_page_seq + 1;
    if (S.max_page_seq == UINT32_MAX) {
        /* seq 0 would make the new page the oldest one, the next to be compacted away. */
        ESP_LOGE(TAG, "page seq %" PRIu32 " reached in partition \"%s\": erase it to write again", S.max_page_seq,
                 S.part_label);
        return ESP_ERR_NVS_NOT_ENOUGH_SPACE;
    }
    wr32(header, PAGE_MAGIC);
    wr32(header + 4, seq);
    wr32(header + 8, PAGE_VERSION);
    wr32(header + 12, esp_rom_crc32_le(0, header, 12));
    esp_err_t err = esp_partition_write(S.part, page_addr(index), header, sizeof(header));
    if (err != ESP_OK) {
        return err;
    }
    S.max_page_seq = seq;
    S.pages[index].state = PAGE_VALID;
    S.pages[index].seq = seq;
    S.pages[index].write_off = PAGE_HEADER_SIZE;
    S.pages[index].sealed = false;
    return ESP_OK;
}

static bool same_identity(const rec_t *a, const rec_t *b)
{
    bool a_ns = a->type == REC_NS, b_ns = b->type == REC_NS;
    return a_ns == b_ns && strcmp(a->ns, b->ns) == 0 && strcmp(a->key, b->key) == 0;
}

/* Index of the newest record of (ns, key), namespace records when is_ns; -1 if none. */
static int latest(const char *ns, const char *key, bool is_ns)
{
    int best = -1;
    for (int i = 0; i < S.nrecs; i++) {
        const rec_t *r = &S.recs[i];
        if ((r->type == REC_NS) != is_ns || strcmp(r->ns, ns) != 0 || strcmp(r->key, key) != 0) {
            continue;
        }
        if (best < 0 || r->seq > S.recs[best].seq) {
            best = i;
        }
    }
    return best;
}

/* Does record i (in the page being compacted) have to survive compaction? */
static bool must_keep(int i, int victim)
{
    const rec_t *r = &S.recs[i];
    for (int k = 0; k < S.nrecs; k++) {
        if (k != i && same_identity(r, &S.recs[k]) && S.recs[k].seq > r->seq) {
            return false;   /* superseded */
        }
    }
    if (r->type != REC_TOMBSTONE) {
        return true;
    }
    /* A tombstone matters only while an older value of its key exists in another page. */
    for (int k = 0; k < S.nrecs; k++) {
        const rec_t *o = &S.recs[k];
        if (k != i && o->page != victim && same_identity(r, o) && o->type != REC_TOMBSTONE) {
            return true;
        }
    }
    return false;
}

/* Is a copy of r (same seq, same record) already in page? The seq alone does not say: two
   records of one partition may carry the same seq (crafted or corrupt flash), and the second
   one would then be dropped by the compaction. */
static bool page_has_copy(int page, const rec_t *r)
{
    for (int k = 0; k < S.nrecs; k++) {
        if (S.recs[k].page == page && S.recs[k].seq == r->seq && S.recs[k].type == r->type &&
            same_identity(&S.recs[k], r)) {
            return true;
        }
    }
    return false;
}

/* Copies the records of victim that must survive and are not yet in target, unchanged. */
static esp_err_t copy_live(int victim, int target)
{
    uint8_t buf[PAGE_SIZE];
    esp_err_t err = esp_partition_read(S.part, page_addr(victim), buf, PAGE_SIZE);
    if (err != ESP_OK) {
        return err;
    }
    int n = S.nrecs;
    for (int i = 0; i < n; i++) {
        if (S.recs[i].page != victim || !must_keep(i, victim) || page_has_copy(target, &S.recs[i])) {
            continue;
        }
        rec_t copy = S.recs[i];
        page_t *tp = &S.pages[target];
        if (tp->sealed || tp->write_off + copy.len > PAGE_SIZE) {
            return ESP_ERR_NVS_NOT_ENOUGH_SPACE;
        }
        err = esp_partition_write(S.part, page_addr(target) + tp->write_off, buf + copy.off, copy.len);
        if (err != ESP_OK) {
            return err;
        }
        copy.page = target;
        copy.off = tp->write_off;
        tp->write_off += copy.len;
        err = add_rec(&copy);
        if (err != ESP_OK) {
            return err;
        }
    }
    return ESP_OK;
}

static esp_err_t compact_one_page(void)
{
    int victim = oldest_valid();
    int reserve = find_page(PAGE_EMPTY);
    if (victim < 0 || reserve < 0) {
        return ESP_ERR_NVS_NOT_ENOUGH_SPACE;
    }
    esp_err_t err = open_page(reserve);
    if (err == ESP_OK) {
        err = copy_live(victim, reserve);
    }
    if (err == ESP_OK) {
        err = erase_page(victim);
    }
    return err;
}

/* After a power cut: erase what cannot be trusted and finish an interrupted compaction. */
static esp_err_t recover(void)
{
    esp_err_t err;
    for (int i = 0; i < S.npages; i++) {
        if (S.pages[i].state == PAGE_GARBAGE) {
            ESP_LOGW(TAG, "page %d of partition \"%s\" is not an NVS page; erasing it", i, S.part_label);
            if ((err = erase_page(i)) != ESP_OK) {
                return err;
            }
        }
    }
    if (count_pages(PAGE_EMPTY) > 0) {
        return ESP_OK;
    }
    int victim = oldest_valid();
    int target = newest_valid();
    if (victim < 0 || target < 0 || victim == target) {
        return ESP_ERR_NVS_NO_FREE_PAGES;
    }
    if (S.pages[target].sealed) {
        /* The copy into target was torn: everything target holds is still in victim. */
        ESP_LOGW(TAG, "undoing an interrupted compaction of page %d", victim);
        return erase_page(target);
    }
    ESP_LOGW(TAG, "finishing an interrupted compaction of page %d", victim);
    if ((err = copy_live(victim, target)) != ESP_OK) {
        return err;
    }
    return erase_page(victim);
}

static esp_err_t mount(void)
{
    uint8_t *buf = malloc(PAGE_SIZE);
    if (buf == NULL) {
        return ESP_ERR_NO_MEM;
    }
    S.npages = (int)(S.part->size / PAGE_SIZE);
    S.pages = calloc((size_t)S.npages, sizeof(page_t));
    esp_err_t err = S.pages == NULL ? ESP_ERR_NO_MEM : ESP_OK;
    for (int i = 0; err == ESP_OK && i < S.npages; i++) {
        err = scan_page(i, buf);
    }
    free(buf);
    if (err == ESP_OK) {
        err = recover();
    }
    return err;
}

static esp_err_t remount(void)
{
    const esp_partition_t *part = S.part;
    char label[17];
    memcpy(label, S.part_label, sizeof(label));
    forget_state();
    S.part = part;
    memcpy(S.part_label, label, sizeof(label));
    esp_err_t err = mount();
    S.inited = err == ESP_OK;
    return err;
}

static uint32_t live_bytes(void)
{
    uint32_t total = 0;
    for (int i = 0; i < S.nrecs; i++) {
        const rec_t *r = &S.recs[i];
        int l = latest(r->ns, r->key, r->type == REC_NS);
        if (l == i && r->type != REC_TOMBSTONE) {
            total += r->len;
        }
    }
    return total;
}

static esp_err_t append(const uint8_t *rec, uint32_t len)
{
    uint32_t capacity = (uint32_t)(S.npages - 1) * (PAGE_SIZE - PAGE_HEADER_SIZE);
    if (live_bytes() + len > capacity) {
        return ESP_ERR_NVS_NOT_ENOUGH_SPACE;
    }
    for (int attempt = 0; attempt < 2 * S.npages + 2; attempt++) {
        esp_err_t err;
        int active = newest_valid();
        if (active >= 0 && !S.pages[active].sealed && S.pages[active].write_off + len <= PAGE_SIZE) {
            page_t *pg = &S.pages[active];
            err = esp_partition_write(S.part, page_addr(active) + pg->write_off, rec, len);
            if (err != ESP_OK) {
                return err;
            }
            rec_t r;
            uint8_t page_copy[PAGE_SIZE];
            memcpy(page_copy + pg->write_off, rec, len);
            parse_rec(page_copy, active, pg->write_off, &r);
            pg->write_off += len;
            return add_rec(&r);
        }
        int empty = count_pages(PAGE_EMPTY);
        if (empty >= 2 || (empty >= 1 && active < 0)) {
            err = open_page(find_page(PAGE_EMPTY));
        } else if (empty == 1) {
            err = compact_one_page();
        } else {
            return ESP_ERR_NVS_NOT_ENOUGH_SPACE;
        }
        if (err != ESP_OK) {
            return err;
        }
    }
    return ESP_ERR_NVS_NOT_ENOUGH_SPACE;
}

static esp_err_t write_record(uint8_t type, const char *ns, const char *key, const void *value, uint32_t vlen)
{
    if (S.max_rec_seq == UINT32_MAX) {
        /* seq 0 would lose to every record already there: the write would read back as the old value. */
        ESP_LOGE(TAG, "record seq %" PRIu32 " reached in partition \"%s\": erase it to write again", S.max_rec_seq,
                 S.part_label);
        return ESP_ERR_NVS_NOT_ENOUGH_SPACE;
    }
    uint32_t ns_len = (uint32_t)strlen(ns), key_len = (uint32_t)strlen(key);
    uint32_t body = REC_HEADER_SIZE + ns_len + key_len + vlen;
    uint32_t len = ((body + 3) & ~3u) + REC_CRC_SIZE;
    uint8_t rec[PAGE_SIZE];
    memset(rec, 0, len);
    rec[0] = (uint8_t)len;
    rec[1] = (uint8_t)(len >> 8);
    rec[2] = type;
    rec[3] = (uint8_t)ns_len;
    rec[4] = (uint8_t)key_len;
    wr32(rec + 8, S.max_rec_seq + 1);
    wr32(rec + 12, vlen);
    memcpy(rec + REC_HEADER_SIZE, ns, ns_len);
    memcpy(rec + REC_HEADER_SIZE + ns_len, key, key_len);
    if (vlen > 0) {
        memcpy(rec + REC_HEADER_SIZE + ns_len + key_len, value, vlen);
    }
    wr32(rec + len - REC_CRC_SIZE, esp_rom_crc32_le(0, rec, len - REC_CRC_SIZE));
    esp_err_t err = append(rec, len);
    if (err != ESP_OK && err != ESP_ERR_NVS_NOT_ENOUGH_SPACE) {
        /* A flash error leaves the in-memory view unsure; flash is the truth. */
        ESP_LOGE(TAG, "write failed (0x%x); reloading NVS state from flash", err);
        remount();
    }
    return err;
}

static esp_err_t read_value(const rec_t *r, void *out, uint32_t len)
{
    uint32_t off = r->off + REC_HEADER_SIZE + (uint32_t)strlen(r->ns) + (uint32_t)strlen(r->key);
    return esp_partition_read(S.part, page_addr(r->page) + off, out, len);
}

/* ---- nvs_flash.h ---- */

esp_err_t nvs_flash_init_partition(const char *label)
{
    if (label == NULL) {
        return ESP_ERR_INVALID_ARG;
    }
    if (S.inited) {
        return ESP_OK;
    }
    const esp_partition_t *part = esp_partition_find_first(ESP_PARTITION_TYPE_DATA, ESP_PARTITION_SUBTYPE_DATA_NVS, label);
    if (part == NULL) {
        return ESP_ERR_NOT_FOUND;
    }
    if (part->size < 2 * PAGE_SIZE) {
        return ESP_ERR_NVS_NO_FREE_PAGES;
    }
    forget_state();
    S.part = part;
    snprintf(S.part_label, sizeof(S.part_label), "%s", label);
    esp_err_t err = mount();
    if (err != ESP_OK) {
        forget_state();
        return err;
    }
    S.inited = true;
    return ESP_OK;
}

esp_err_t nvs_flash_init(void)
{
    return nvs_flash_init_partition(NVS_DEFAULT_PART_NAME);
}

esp_err_t nvs_flash_deinit_partition(const char *label)
{
    if (!S.inited || label == NULL || strcmp(label, S.part_label) != 0) {
        return ESP_ERR_NVS_NOT_INITIALIZED;
    }
    vb_nvs_reset();
    return ESP_OK;
}

esp_err_t nvs_flash_deinit(void)
{
    return nvs_flash_deinit_partition(NVS_DEFAULT_PART_NAME);
}

esp_err_t nvs_flash_erase_partition(const char *label)
{
    if (label == NULL) {
        return ESP_ERR_INVALID_ARG;
    }
    if (S.inited && strcmp(label, S.part_label) == 0) {
        vb_nvs_reset();
    }
    const esp_partition_t *part = esp_partition_find_first(ESP_PARTITION_TYPE_DATA, ESP_PARTITION_SUBTYPE_DATA_NVS, label);
    if (part == NULL) {
        return ESP_ERR_NOT_FOUND;
    }
    return esp_partition_erase_range(part, 0, part->size);
}

esp_err_t nvs_flash_erase(void)
{
    return nvs_flash_erase_partition(NVS_DEFAULT_PART_NAME);
}

/* ---- nvs.h ---- */

static esp_err_t check_name(const char *name)
{
    if (name == NULL || name[0] == '\0') {
        return ESP_ERR_NVS_INVALID_NAME;
    }
    if (strlen(name) > MAX_NAME) {
        return ESP_ERR_NVS_KEY_TOO_LONG;
    }
    return ESP_OK;
}

static handle_t *find_handle(nvs_handle_t h)
{
    for (int i = 0; i < MAX_HANDLES; i++) {
        if (s_handles[i].used && s_handles[i].id == h) {
            return &s_handles[i];
        }
    }
    return NULL;
}

esp_err_t nvs_open_from_partition(const char *part_name, const char *name, nvs_open_mode_t open_mode, nvs_handle_t *out_handle)
{
    if (out_handle == NULL) {
        return ESP_ERR_INVALID_ARG;
    }
    if (!S.inited) {
        return ESP_ERR_NVS_NOT_INITIALIZED;
    }
    if (part_name == NULL || strcmp(part_name, S.part_label) != 0) {
        return ESP_ERR_NVS_PART_NOT_FOUND;
    }
    esp_err_t err = check_name(name);
    if (err != ESP_OK) {
        return err;
    }
    if (open_mode == NVS_READWRITE && S.part->readonly) {
        return ESP_ERR_NOT_ALLOWED;
    }
    if (latest("", name, true) < 0) {
        if (open_mode == NVS_READONLY) {
            return ESP_ERR_NVS_NOT_FOUND;
        }
        err = write_record(REC_NS, "", name, NULL, 0);
        if (err != ESP_OK) {
            return err;
        }
    }
    for (int i = 0; i < MAX_HANDLES; i++) {
        if (!s_handles[i].used) {
            s_handles[i].used = true;
            s_handles[i].id = s_next_handle_id++;
            s_handles[i].writable = open_mode == NVS_READWRITE;
            snprintf(s_handles[i].ns, sizeof(s_handles[i].ns), "%s", name);
            *out_handle = s_handles[i].id;
            return ESP_OK;
        }
    }
    return ESP_ERR_NO_MEM;
}

esp_err_t nvs_open(const char *name, nvs_open_mode_t open_mode, nvs_handle_t *out_handle)
{
    return nvs_open_from_partition(NVS_DEFAULT_PART_NAME, name, open_mode, out_handle);
}

void nvs_close(nvs_handle_t handle)
{
    handle_t *h = find_handle(handle);
    if (h != NULL) {
        h->used = false;
    }
}

esp_err_t nvs_commit(nvs_handle_t handle)
{
    return find_handle(handle) != NULL ? ESP_OK : ESP_ERR_NVS_INVALID_HANDLE;
}

/* A handle open for writing; `key` (NULL for none) must be a valid name. */
static esp_err_t writable_handle(nvs_handle_t handle, const char *key, handle_t **out)
{
    if (!S.inited) {
        return ESP_ERR_NVS_NOT_INITIALIZED;
    }
    handle_t *h = find_handle(handle);
    if (h == NULL) {
        return ESP_ERR_NVS_INVALID_HANDLE;
    }
    if (!h->writable) {
        return ESP_ERR_NVS_READ_ONLY;
    }
    *out = h;
    return key == NULL ? ESP_OK : check_name(key);
}

static esp_err_t set_value(nvs_handle_t handle, const char *key, uint8_t type, const void *value, uint32_t len)
{
    handle_t *h;
    esp_err_t err = writable_handle(handle, key, &h);
    if (err != ESP_OK) {
        return err;
    }
    if (len > MAX_VALUE) {
        return ESP_ERR_NVS_VALUE_TOO_LONG;
    }
    int cur = latest(h->ns, key, false);
    if (cur >= 0 && S.recs[cur].type == type && S.recs[cur].vlen == len) {
        uint8_t old[MAX_VALUE];
        if (read_value(&S.recs[cur], old, len) == ESP_OK && memcmp(old, value, len) == 0) {
            return ESP_OK;   /* same value: ESP-IDF writes nothing either */
        }
    }
    return write_record(type, h->ns, key, value, len);
}

static esp_err_t get_value(nvs_handle_t handle, const char *key, uint8_t type, const rec_t **out)
{
    if (!S.inited) {
        return ESP_ERR_NVS_NOT_INITIALIZED;
    }
    handle_t *h = find_handle(handle);
    if (h == NULL) {
        return ESP_ERR_NVS_INVALID_HANDLE;
    }
    esp_err_t err = check_name(key);
    if (err != ESP_OK) {
        return err;
    }
    int cur = latest(h->ns, key, false);
    if (cur < 0 || S.recs[cur].type == REC_TOMBSTONE) {
        return ESP_ERR_NVS_NOT_FOUND;
    }
    if (type != NVS_TYPE_ANY && S.recs[cur].type != type) {
        return ESP_ERR_NVS_TYPE_MISMATCH;
    }
    *out = &S.recs[cur];
    return ESP_OK;
}

#define NVS_INT_ACCESSORS(suffix, ctype, tag)                                          \
    esp_err_t nvs_set_##suffix(nvs_handle_t handle, const char *key, ctype value)      \
    {                                                                                  \
        uint8_t bytes[sizeof(ctype)];                                                  \
        memcpy(bytes, &value, sizeof(bytes));                                          \
        return set_value(handle, key, tag, bytes, sizeof(bytes));                      \
    }                                                                                  \
    esp_err_t nvs_get_##suffix(nvs_handle_t handle, const char *key, ctype *out_value) \
    {                                                                                  \
        const rec_t *r;                                                                \
        if (out_value == NULL) {                                                       \
            return ESP_ERR_INVALID_ARG;                                                \
        }                                                                              \
        esp_err_t err = get_value(handle, key, tag, &r);                               \
        if (err != ESP_OK) {                                                           \
            return err;                                                                \
        }                                                                              \
        return read_value(r, out_value, sizeof(ctype));                                \
    }

NVS_INT_ACCESSORS(i8, int8_t, NVS_TYPE_I8)
NVS_INT_ACCESSORS(u8, uint8_t, NVS_TYPE_U8)
NVS_INT_ACCESSORS(i16, int16_t, NVS_TYPE_I16)
NVS_INT_ACCESSORS(u16, uint16_t, NVS_TYPE_U16)
NVS_INT_ACCESSORS(i32, int32_t, NVS_TYPE_I32)
NVS_INT_ACCESSORS(u32, uint32_t, NVS_TYPE_U32)
NVS_INT_ACCESSORS(i64, int64_t, NVS_TYPE_I64)
NVS_INT_ACCESSORS(u64, uint64_t, NVS_TYPE_U64)

esp_err_t nvs_set_str(nvs_handle_t handle, const char *key, const char *value)
{
    if (value == NULL) {
        return ESP_ERR_INVALID_ARG;
    }
    size_t len = strlen(value) + 1;
    if (len > MAX_VALUE) {
        return ESP_ERR_NVS_VALUE_TOO_LONG;
    }
    return set_value(handle, key, NVS_TYPE_STR, value, (uint32_t)len);
}

esp_err_t nvs_set_blob(nvs_handle_t handle, const char *key, const void *value, size_t length)
{
    if (value == NULL && length > 0) {
        return ESP_ERR_INVALID_ARG;
    }
    if (length > MAX_VALUE) {
        return ESP_ERR_NVS_VALUE_TOO_LONG;
    }
    return set_value(handle, key, NVS_TYPE_BLOB, value, (uint32_t)length);
}

static esp_err_t get_bytes(nvs_handle_t handle, const char *key, uint8_t type, void *out_value, size_t *length)
{
    const rec_t *r;
    esp_err_t err = get_value(handle, key, type, &r);
    if (err != ESP_OK) {
        return err;
    }
    if (length == NULL) {
        return ESP_ERR_NVS_INVALID_LENGTH;
    }
    if (out_value == NULL) {
        *length = r->vlen;
        return ESP_OK;
    }
    if (*length < r->vlen) {
        *length = r->vlen;
        return ESP_ERR_NVS_INVALID_LENGTH;
    }
    *length = r->vlen;
    return r->vlen > 0 ? read_value(r, out_value, r->vlen) : ESP_OK;
}

esp_err_t nvs_get_str(nvs_handle_t handle, const char *key, char *out_value, size_t *length)
{
    return get_bytes(handle, key, NVS_TYPE_STR, out_value, length);
}

esp_err_t nvs_get_blob(nvs_handle_t handle, const char *key, void *out_value, size_t *length)
{
    return get_bytes(handle, key, NVS_TYPE_BLOB, out_value, length);
}

esp_err_t nvs_find_key(nvs_handle_t handle, const char *key, nvs_type_t *out_type)
{
    const rec_t *r;
    esp_err_t err = get_value(handle, key, NVS_TYPE_ANY, &r);
    if (err == ESP_OK && out_type != NULL) {
        *out_type = (nvs_type_t)r->type;
    }
    return err;
}

esp_err_t nvs_erase_key(nvs_handle_t handle, const char *key)
{
    handle_t *h;
    esp_err_t err = writable_handle(handle, key, &h);
    if (err != ESP_OK) {
        return err;
    }
    int cur = latest(h->ns, key, false);
    if (cur < 0 || S.recs[cur].type == REC_TOMBSTONE) {
        return ESP_ERR_NVS_NOT_FOUND;
    }
    return write_record(REC_TOMBSTONE, h->ns, key, NULL, 0);
}

esp_err_t nvs_erase_all(nvs_handle_t handle)
{
    handle_t *h;
    esp_err_t err = writable_handle(handle, NULL, &h);
    if (err != ESP_OK) {
        return err;
    }
    for (int i = 0; i < S.nrecs; i++) {
        const rec_t *r = &S.recs[i];
        if (r->type == REC_NS || r->type == REC_TOMBSTONE || strcmp(r->ns, h->ns) != 0 ||
            latest(r->ns, r->key, false) != i) {
            continue;
        }
        char key[MAX_NAME + 1];
        memcpy(key, r->key, sizeof(key));
        esp_err_t err = write_record(REC_TOMBSTONE, h->ns, key, NULL, 0);
        if (err != ESP_OK) {
            return err;
        }
        i = -1;   /* the record table may have been compacted: start over */
    }
    return ESP_OK;
}
