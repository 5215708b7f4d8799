/*
 * Target "native": modules/esp32/xsota_native.c itself, the one C module the
 * device runs, called as the firmware calls it: host functions on a real XS
 * machine (the virtual board's XS host, host/vboard/xs), with arguments the
 * fuzzer chooses (numbers of every kind: NaN, negatives, fractions, > 2^32;
 * strings; ArrayBuffers and Uint8Array views at an offset), over the
 * emulated ESP-IDF on the fuzz flash (ota_0 booted, ota_1 the update slot,
 * NVS erased).
 *
 * Input: a sequence of operations [op] [operands...] (see run_op). Checks:
 *  - base64: the decoded bytes, or a RangeError, match a reference decoder;
 *  - crc32: zlib's crc32(ToUint32(seed), bytes); image checksum: the low byte
 *    of ToUint32(seed) xor every byte;
 *  - read / digest / digests: the bytes in flash, OpenSSL's SHA-1 / SHA-256 of them;
 *  - image length: the reference image checker;
 *  - begin / write / end: begin accepts only a byte count that fits the slot
 *    (0: unknown), and one write at a time; a write inside what begin erased
 *    never meets programmed flash (writes reach flash in whole 4 KB sectors,
 *    so a failure shows at the write that fills a sector, or at end, which
 *    writes the rest); end accepts exactly the images the reference accepts
 *    in the flash it verified;
 *  - set boot slot accepts only a slot whose image verifies;
 *  - NVS records read back as last written, across resets;
 *  - no sanitizer report, whatever the arguments (UBSan: float to integer
 *    conversions out of range, signed overflow).
 * esp_restart (xs_ota_restart, the rollback path) becomes a JS exception here,
 * and the harness resets the board (bootloader, NVS) as the chip would.
 *
 * Not reached: nothing of xsota_native.c is left out, but its rollback timer
 * callback runs only through the board's timer loop (done here by advancing
 * the virtual clock), and heap figures are those of this machine.
 */
#include <math.h>
#include <setjmp.h>
#include <string.h>

#include "xsAll.h"
#include "xs.h"

#include "app_update/include/esp_ota_ops.h"
#include "esp_partition.h"
#include "fuzz_common.h"
#include "nvs_flash/include/nvs_flash.h"

#define MAX_OPS 48

/* The module's host functions (xsota_native.c). */
#define NATIVES(X)                                                                                             \
    X(restart) X(uptime_us) X(mac) X(app_description) X(heap) X(slot_count) X(running_slot) X(boot_slot)       \
    X(slot_info) X(image_length) X(begin) X(write) X(end) X(abort) X(set_boot_slot) X(mark_valid)               \
    X(mark_invalid_and_reboot) X(read) X(digest) X(digests) X(crc32) X(image_checksum) X(rollback_timer_arm)             \
    X(rollback_timer_disarm) X(nvs_get) X(nvs_set) X(nvs_erase) X(base64_decode)
#define DECLARE(name) void xs_ota_##name(xsMachine *the);
NATIVES(DECLARE)
enum {
#define ENUM(name) N_##name,
    NATIVES(ENUM)
    N_COUNT
};
static const struct {
    const char *name;
    xsCallback fn;
} s_natives[N_COUNT] = {
#define ENTRY(name) {"xs_ota_" #name, xs_ota_##name},
    NATIVES(ENTRY)
};

static xsMachine *s_machine;
static uint8_t s_flash[FZ_FLASH_SIZE], s_snap[FZ_FLASH_SIZE];
static uint8_t s_img[8192], s_stream[8192];
static size_t s_img_len;

/* ---- esp_restart: an exception inside a native call, a jump back to the harness outside --- */
static int s_in_native;
static int s_restarted;
static jmp_buf s_outside;

void __wrap_esp_restart(void) __attribute__((noreturn));
void __wrap_esp_restart(void)
{
    s_restarted = 1;
    if (s_in_native) {
        fxThrowMessage(s_machine, NULL, 0, XS_UNKNOWN_ERROR, "esp_restart");
    }
    longjmp(s_outside, 1);
}

/* ---- arguments ---------------------------------------------------------------------------- */

typedef enum { A_NONE, A_NUMBER, A_STRING, A_BYTES } arg_kind_t;
typedef struct {
    arg_kind_t kind;
    double number;
    char string[128];
    const uint8_t *bytes;
    size_t len;
    int view;      /* 0 ArrayBuffer, else a Uint8Array starting `view - 1` bytes into a larger buffer */
} arg_t;

static const double s_numbers[] = {
    0, 1, 2, -1, 0.5, 3.99, 16, 4096, 65536, 65537, 1e5, 2147483647.0, 2147483648.0, 4294967295.0,
    4294967296.0, 4294967297.0, -4294967297.0, -2147483649.0, 9007199254740993.0, 1e15, 1e17, 1e20, -1e20,
    1e300, -0.0, 5e-324,
};

static double fz_number(fz_reader_t *r)
{
    uint8_t b = fz_u8(r);
    if (b == 0xFF) {
        uint8_t raw[8] = {0};
        double d;
        fz_bytes(r, raw, 8);
        memcpy(&d, raw, 8);
        return d;
    }
    if (b == 0xFE) {
        return NAN;
    }
    if (b == 0xFD) {
        return INFINITY;
    }
    if (b == 0xFC) {
        return -INFINITY;
    }
    if (b < sizeof(s_numbers) / sizeof(s_numbers[0])) {
        return s_numbers[b];
    }
    return (double)(b - 64);   /* small integers, some negative */
}

static arg_t num(double d)
{
    arg_t a = {.kind = A_NUMBER, .number = d};
    return a;
}

static arg_t str(const char *s)
{
    arg_t a = {.kind = A_STRING};
    snprintf(a.string, sizeof(a.string), "%s", s);
    return a;
}

static arg_t bytes(const uint8_t *p, size_t len, int view)
{
    arg_t a = {.kind = A_BYTES, .bytes = p, .len = len, .view = view};
    return a;
}

static void push_arg(xsMachine *the, xsSlot *slot, const arg_t *a)
{
    switch (a->kind) {
    case A_NUMBER:
        *slot = xsNumber(a->number);
        break;
    case A_STRING:
        *slot = xsString(a->string);
        break;
    case A_BYTES:
        if (a->view == 0) {
            *slot = xsArrayBuffer((void *)a->bytes, (xsIntegerValue)a->len);
        } else {
            /* A view into a larger buffer: the native must use its offset and length. */
            size_t off = (size_t)(a->view - 1);
            uint8_t *whole = malloc(off + a->len + 7);
            memset(whole, 0xA5, off + a->len + 7);
            memcpy(whole + off, a->bytes, a->len);
            xsSlot buffer = xsArrayBuffer(whole, (xsIntegerValue)(off + a->len + 7));
            free(whole);
            *slot = xsNew3(xsGlobal, xsID("Uint8Array"), buffer, xsInteger((xsIntegerValue)off),
                           xsInteger((xsIntegerValue)a->len));
        }
        break;
    default:
        *slot = xsUndefined;
        break;
    }
}

/* ---- one call -------------------------------------------------------------------------------- */

typedef struct {
    bool threw;
    char error[160];
    enum { R_UNDEFINED, R_NUMBER, R_STRING, R_BYTES, R_OBJECT } kind;
    double number;
    char string[160];
    uint8_t *bytes;
    size_t len;
    /* a few members of an object result */
    double size, state;
    int valid;
    char sha1[41], sha256[65];
} result_t;

static void result_free(result_t *r)
{
    free(r->bytes);
    r->bytes = NULL;
}

static result_t call(int which, int argc, const arg_t *args)
{
    result_t res;
    memset(&res, 0, sizeof(res));
    xsBeginHost(s_machine);
    {
        xsVars(6);
        xsTry {
            for (int i = 0; i < argc; i++) {
                push_arg(the, &xsVar(1 + i), &args[i]);
            }
            xsVar(0) = xsGet(xsGlobal, xsID((char *)s_natives[which].name));
            s_in_native = 1;
            switch (argc) {
            case 0: xsVar(5) = xsCallFunction0(xsVar(0), xsUndefined); break;
            case 1: xsVar(5) = xsCallFunction1(xsVar(0), xsUndefined, xsVar(1)); break;
            case 2: xsVar(5) = xsCallFunction2(xsVar(0), xsUndefined, xsVar(1), xsVar(2)); break;
            case 3: xsVar(5) = xsCallFunction3(xsVar(0), xsUndefined, xsVar(1), xsVar(2), xsVar(3)); break;
            default: xsVar(5) = xsCallFunction4(xsVar(0), xsUndefined, xsVar(1), xsVar(2), xsVar(3), xsVar(4)); break;
            }
            s_in_native = 0;
            switch (xsTypeOf(xsVar(5))) {
            case xsIntegerType:
            case xsNumberType:
                res.kind = R_NUMBER;
                res.number = xsToNumber(xsVar(5));
                break;
            case xsStringType:
                res.kind = R_STRING;
                xsToStringBuffer(xsVar(5), res.string, sizeof(res.string));
                break;
            case xsReferenceType:
                if (xsIsInstanceOf(xsVar(5), xsArrayBufferPrototype)) {
                    res.kind = R_BYTES;
                    res.len = (size_t)xsGetArrayBufferLength(xsVar(5));
                    res.bytes = malloc(res.len + 1);
                    xsGetArrayBufferData(xsVar(5), 0, res.bytes, (xsIntegerValue)res.len);
                } else {
                    res.kind = R_OBJECT;
                    if (xsHas(xsVar(5), xsID("size"))) {
                        res.size = xsToNumber(xsGet(xsVar(5), xsID("size")));
                    }
                    if (xsHas(xsVar(5), xsID("state"))) {
                        res.state = xsToNumber(xsGet(xsVar(5), xsID("state")));
                    }
                    if (xsHas(xsVar(5), xsID("valid"))) {
                        res.valid = xsTest(xsGet(xsVar(5), xsID("valid")));
                    }
                    if (xsHas(xsVar(5), xsID("sha1"))) {
                        xsToStringBuffer(xsGet(xsVar(5), xsID("sha1")), res.sha1, sizeof(res.sha1));
                    }
                    if (xsHas(xsVar(5), xsID("sha256"))) {
                        xsToStringBuffer(xsGet(xsVar(5), xsID("sha256")), res.sha256, sizeof(res.sha256));
                    }
                }
                break;
            default:
                res.kind = R_UNDEFINED;
                break;
            }
        }
        xsCatch {
            s_in_native = 0;
            res.threw = true;
            xsToStringBuffer(xsException, res.error, sizeof(res.error));
        }
    }
    xsEndHost(s_machine);
    return res;
}

/* ---- references ------------------------------------------------------------------------------ */

static int32_t to_int32(double d)
{
    if (!isfinite(d) || d == 0) {
        return 0;
    }
    double m = fmod(trunc(d), 4294967296.0);
    if (m >= 2147483648.0) {
        m -= 4294967296.0;
    } else if (m < -2147483648.0) {
        m += 4294967296.0;
    }
    return (int32_t)m;
}

static int b64(char c)
{
    static const char *const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    if (c == '-') return 62;
    if (c == '_') return 63;
    const char *p = c ? strchr(alphabet, c) : NULL;
    return p ? (int)(p - alphabet) : -1;
}

/* Standard or URL-safe, padding optional: -1 if invalid, else the decoded length. */
static long ref_base64(const char *text, uint8_t *out)
{
    size_t len = strlen(text);
    while (len > 0 && text[len - 1] == '=') {
        len--;
    }
    if (len % 4 == 1) {
        return -1;
    }
    uint32_t acc = 0;
    int bits = 0;
    long n = 0;
    for (size_t i = 0; i < len; i++) {
        int v = b64(text[i]);
        if (v < 0) {
            return -1;
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (uint8_t)(acc >> bits);
        }
    }
    return n;
}

static uint32_t slot_addr(int slot)
{
    return slot == 0 ? FZ_OTA0_OFF : FZ_OTA1_OFF;
}

/* ---- the board --------------------------------------------------------------------------- */

/* The update in progress as the harness knows it: the module holds one image write at a time. */
typedef struct {
    bool open;
    double handle;
    int slot;
    uint64_t erased;       /* what begin erased, from the start of the slot */
    uint64_t written;
    int first;             /* the stream's first byte, -1 before any: esp_ota_write checks it (0xE9) */
    bool write_failed;
} update_t;
static update_t s_update;

static int32_t to_int32(double d);

/* The native takes a handle as ToUint32 of the number it is given. */
static update_t *find_update(double handle)
{
    return s_update.open && to_int32(s_update.handle) == to_int32(handle) ? &s_update : NULL;
}

enum { NVS_ABSENT, NVS_PRESENT, NVS_UNKNOWN };
static const char *const s_keys[] = {"boot", "rec", "a", "fifteen_chars__", "sixteen_chars___", ""};
#define NKEYS ((int)(sizeof(s_keys) / sizeof(s_keys[0])))
static struct {
    int state;
    uint8_t value[512];
    size_t len;
} s_nvs[NKEYS];

static bool s_dead;   /* nothing bootable: the chip would reset for ever */

/*
 * A chip's reset clears the module's RAM, and with it an image write left
 * open (its 4 KB sector and digests). The XS machine here outlives the
 * emulated reset, so the harness ends such a write through the module: IDF
 * has forgotten the handle by then (abort throws), and the module lets it go.
 */
static void end_open_update(void)
{
    if (s_update.open) {
        arg_t a = num(s_update.handle);
        (void)call(N_abort, 1, &a);
    }
}

static void boot(void)
{
    const uint8_t *payload;
    size_t len;
    for (int tries = 0; tries < 3; tries++) {
        int rc = vb_bootloader_boot(&payload, &len);
        if (rc == 0) {
            FZ_CHECK(nvs_flash_init() == ESP_OK, "NVS mount at boot");
            end_open_update();
            memset(&s_update, 0, sizeof(s_update));
            return;
        }
        if (rc == 5) {
            break;
        }
        fz_flash_reboot();   /* 6: a panic, the chip resets */
    }
    s_dead = true;
}

static void reset(void)
{
    s_restarted = 0;
    fz_flash_reboot();
    boot();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    s_img_len = fz_build_image(s_img, sizeof(s_img), "9.9.9", 3000, 0x77, true);
    FZ_CHECK(s_img_len > 0, "template image");
    fz_init();
    txCreation creation = {
        .initialChunkSize = 32 * 1024,
        .incrementalChunkSize = 16 * 1024,
        .initialHeapCount = 4096,
        .incrementalHeapCount = 2048,
        .stackCount = 2048,
        .initialKeyCount = 2048,
        .incrementalKeyCount = 512,
        .nameModulo = 1993,
        .symbolModulo = 127,
        .parserBufferSize = 64 * 1024,
        .parserTableModulo = 1993,
        .staticSize = 0,
    };
    s_machine = fxCreateMachine(&creation, "fuzz", NULL, XS_NO_ID);
    FZ_CHECK(s_machine != NULL, "XS machine");
    xsBeginHost(s_machine);
    {
        xsVars(1);
        for (int i = 0; i < N_COUNT; i++) {
            xsVar(0) = xsNewHostFunction(s_natives[i].fn, 0);
            xsSet(xsGlobal, xsID((char *)s_natives[i].name), xsVar(0));
        }
    }
    xsEndHost(s_machine);
    return 0;
}

/* ---- operations ------------------------------------------------------------------------------ */

static int fz_slot(fz_reader_t *r)
{
    static const int slots[] = {0, 1, 1, 0, 2, -1, 16, 15};
    return slots[fz_u8(r) % 8];
}

static void op_base64(fz_reader_t *r)
{
    static const char chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_====! .";
    arg_t a = {.kind = A_STRING};
    size_t n = fz_u8(r) % (sizeof(a.string) - 1);
    for (size_t i = 0; i < n; i++) {
        a.string[i] = chars[fz_u8(r) % (sizeof(chars) - 1)];
    }
    a.string[n] = 0;
    uint8_t want[128];
    long wlen = ref_base64(a.string, want);
    result_t res = call(N_base64_decode, 1, &a);
    if (wlen < 0) {
        FZ_CHECK(res.threw, "base64 \"%s\" is invalid, but decoded", a.string);
    } else {
        FZ_CHECK(!res.threw && res.kind == R_BYTES, "base64 \"%s\": %s", a.string, res.error);
        FZ_CHECK(res.len == (size_t)wlen && memcmp(res.bytes, want, res.len) == 0,
                 "base64 \"%s\" decodes to %zu bytes, the reference %ld", a.string, res.len, wlen);
    }
    result_free(&res);
}

/* CRC-32 and the image checksum: both take any bytes and any seed. */
static void op_checksums(fz_reader_t *r)
{
    uint8_t data[256];
    size_t n = fz_bytes(r, data, fz_u8(r));
    arg_t args[2] = {bytes(data, n, fz_u8(r) % 4), num(fz_number(r))};
    result_t res = call(N_crc32, 2, args);
    FZ_CHECK(!res.threw && res.kind == R_NUMBER, "crc32 threw: %s", res.error);
    uint32_t want = fz_ref_crc32((uint32_t)to_int32(args[1].number), data, n);
    FZ_CHECK(res.number == (double)want, "crc32(%zu bytes, seed %g) = %.0f, zlib's %u", n, args[1].number, res.number,
             (unsigned)want);
    res = call(N_image_checksum, 2, args);
    FZ_CHECK(!res.threw && res.kind == R_NUMBER, "image_checksum threw: %s", res.error);
    uint8_t sum = (uint8_t)to_int32(args[1].number);
    for (size_t i = 0; i < n; i++) {
        sum ^= data[i];
    }
    FZ_CHECK(res.number == (double)sum, "image_checksum(%zu bytes, seed %g) = %.0f, the xor is %u", n, args[1].number,
             res.number, (unsigned)sum);
}

static void op_begin(fz_reader_t *r)
{
    int slot = fz_slot(r);
    double size = fz_number(r);
    if (fz_u8(r) & 1) {
        size = (double)s_img_len;
    }
    arg_t args[2] = {num(slot), num(size)};
    result_t res = call(N_begin, 2, args);
    if (res.threw) {
        return;
    }
    FZ_CHECK(!s_update.open, "begin succeeded while the write of handle %g was open", s_update.handle);
    const esp_partition_t *running = esp_ota_get_running_partition();
    int running_slot = running == NULL ? -1 : running->address == FZ_OTA0_OFF ? 0 : 1;
    FZ_CHECK((slot == 0 || slot == 1) && slot != running_slot, "begin(%d) succeeded, slot %d running", slot,
             running_slot);
    /* The size is a byte count: 0 (unknown) up to the slot's size. Anything else must be refused,
       or begin erases too little (or nothing) and the writes meet the old image. */
    FZ_CHECK(size >= 0 && size <= FZ_SLOT_SIZE, "begin accepted image size %.17g for a %u-byte slot", size,
             (unsigned)FZ_SLOT_SIZE);
    uint64_t bytes_ = (uint64_t)size;
    update_t *u = &s_update;
    u->open = true;
    u->handle = res.number;
    u->slot = slot;
    u->erased = bytes_ == 0 ? FZ_SLOT_SIZE : (bytes_ + 0xFFF) & ~(uint64_t)0xFFF;
    u->written = 0;
    u->first = -1;
    u->write_failed = false;
    memcpy(s_stream, s_img, s_img_len);
}

static double handle_arg(fz_reader_t *r)
{
    uint8_t b = fz_u8(r);
    if (b < 0xC0 && s_update.open) {
        return s_update.handle;
    }
    return fz_number(r);
}

/*
 * Whether writing `n` more bytes of the update (0: end's write of the rest)
 * may fail: the stream does not start with the image magic, it runs past what
 * begin erased, or an earlier write failed (its sector is not in flash).
 */
static bool write_may_fail(const update_t *u, size_t n)
{
    return (u->first >= 0 && u->first != 0xE9) || u->written + n > u->erased || u->write_failed;
}

static void op_write(fz_reader_t *r)
{
    double handle = handle_arg(r);
    size_t n = fz_u16(r) % 4096;
    int view = fz_u8(r) % 4;
    uint8_t flip = fz_u8(r);
    update_t *u = find_update(handle);
    size_t at = u ? (size_t)(u->written % s_img_len) : 0;
    if (n > s_img_len - at) {
        n = s_img_len - at;
    }
    if (flip & 0x80) {
        s_stream[(at + flip) % s_img_len] ^= (uint8_t)(flip | 1);   /* a damaged byte in transit */
    }
    arg_t args[2] = {num(handle), bytes(s_stream + at, n, view)};
    result_t res = call(N_write, 2, args);
    if (u == NULL) {
        FZ_CHECK(res.threw || n == 0, "a write with handle %g (not open) succeeded", handle);
        return;
    }
    if (u->first < 0 && n > 0) {
        u->first = s_stream[at];
    }
    if (res.threw) {
        FZ_CHECK(write_may_fail(u, n),
                 "write of %zu bytes at %llu (erased: %llu) failed: %s", n, (unsigned long long)u->written,
                 (unsigned long long)u->erased, res.error);
        u->write_failed = true;
        return;
    }
    u->written += n;
}

static void op_end(fz_reader_t *r, bool abort_it)
{
    double handle = handle_arg(r);
    update_t *u = find_update(handle);
    arg_t args[1] = {num(handle)};
    result_t res = call(abort_it ? N_abort : N_end, 1, args);
    if (u == NULL) {
        FZ_CHECK(res.threw, "%s of handle %g (not open) succeeded", abort_it ? "abort" : "end", handle);
        return;
    }
    u->open = false;
    if (abort_it) {
        FZ_CHECK(!res.threw, "abort of an open update: %s", res.error);
        return;
    }
    if (u->written == 0) {
        FZ_CHECK(res.threw, "end with nothing written succeeded");
        return;
    }
    if (res.threw && strstr(res.error, "esp_ota_write") != NULL) {
        /* end writes the last, partial sector first */
        FZ_CHECK(write_may_fail(u, 0), "end's write of the last %llu bytes failed: %s",
                 (unsigned long long)(u->written % 4096), res.error);
        return;
    }
    /* The flash esp_ota_end verified: all that was written is in it now (end writes nothing else). */
    fz_flash_snapshot(s_snap, FZ_FLASH_SIZE);
    fz_ref_image_t ref = fz_ref_image_verify(s_snap, FZ_FLASH_SIZE, slot_addr(u->slot), FZ_SLOT_SIZE);
    FZ_CHECK(res.threw == !ref.ok, "end %s; the reference: %s", res.threw ? res.error : "succeeded",
             ref.ok ? "valid" : ref.why);
}

static void op_set_boot(fz_reader_t *r)
{
    int slot = fz_slot(r);
    fz_flash_snapshot(s_snap, FZ_FLASH_SIZE);
    bool valid = (slot == 0 || slot == 1) && fz_ref_image_verify(s_snap, FZ_FLASH_SIZE, slot_addr(slot), FZ_SLOT_SIZE).ok;
    arg_t a = num(slot);
    result_t res = call(N_set_boot_slot, 1, &a);
    FZ_CHECK(res.threw == !valid, "set_boot_slot(%d): %s, image %s", slot, res.threw ? res.error : "ok",
             valid ? "valid" : "invalid");
    if (!res.threw) {
        result_t b = call(N_boot_slot, 0, NULL);
        FZ_CHECK(!b.threw && b.number == slot, "boot_slot after set_boot_slot(%d) is %g", slot, b.number);
    }
}

/* Hex of OpenSSL's SHA-1 (sha256 false) or SHA-256 of n bytes. */
static void ref_hex(const uint8_t *p, uint32_t n, bool sha256, char hex[65])
{
    uint8_t d[32];
    size_t dl = sha256 ? 32 : 20;
    if (sha256) {
        fz_ref_sha256(p, n, d);
    } else {
        fz_ref_sha1(p, n, d);
    }
    for (size_t i = 0; i < dl; i++) {
        snprintf(hex + 2 * i, 3, "%02x", d[i]);
    }
}

typedef enum { READ_BYTES, READ_DIGEST, READ_DIGESTS } read_kind_t;

static void op_read(fz_reader_t *r, read_kind_t kind)
{
    static const char *const names[] = {"read", "digest", "digests"};
    int slot = fz_slot(r);
    double off = fz_number(r), len = fz_number(r);
    if (fz_u8(r) & 1) {
        len = (double)(fz_u16(r) % 6000);
    }
    static const char *const algs[] = {"sha256", "sha1", "md5", "", "SHA256", "sha256 "};
    const char *alg = algs[fz_u8(r) % 6];
    arg_t args[4] = {num(slot), num(off), num(len), str(alg)};
    result_t res = kind == READ_BYTES    ? call(N_read, 3, args)
                   : kind == READ_DIGEST ? call(N_digest, 4, args)
                                         : call(N_digests, 3, args);
    uint32_t o = (uint32_t)to_int32(off), n = (uint32_t)to_int32(len);
    bool in_range = (slot == 0 || slot == 1) && o <= FZ_SLOT_SIZE && n <= FZ_SLOT_SIZE - o;
    bool alg_ok = kind != READ_DIGEST || strcmp(alg, "sha256") == 0 || strcmp(alg, "sha1") == 0;
    FZ_CHECK(res.threw == !(in_range && alg_ok), "%s(%d, %g, %g, %s): %s", names[kind], slot, off, len, alg,
             res.threw ? res.error : "ok");
    if (res.threw) {
        return;
    }
    fz_flash_snapshot(s_snap, FZ_FLASH_SIZE);
    const uint8_t *want = s_snap + slot_addr(slot) + o;
    char hex[65];
    if (kind == READ_BYTES) {
        FZ_CHECK(res.kind == R_BYTES && res.len == n && memcmp(res.bytes, want, n) == 0, "read returns other bytes");
    } else if (kind == READ_DIGEST) {
        ref_hex(want, n, strcmp(alg, "sha256") == 0, hex);
        FZ_CHECK(res.kind == R_STRING && strcmp(res.string, hex) == 0, "digest %s of %u bytes: %s, OpenSSL %s", alg,
                 (unsigned)n, res.string, hex);
    } else {
        ref_hex(want, n, false, hex);
        FZ_CHECK(res.kind == R_OBJECT && strcmp(res.sha1, hex) == 0, "digests' sha1 of %u bytes: %s, OpenSSL %s",
                 (unsigned)n, res.sha1, hex);
        ref_hex(want, n, true, hex);
        FZ_CHECK(strcmp(res.sha256, hex) == 0, "digests' sha256 of %u bytes: %s, OpenSSL %s", (unsigned)n,
                 res.sha256, hex);
    }
    result_free(&res);
}

static void op_info(fz_reader_t *r)
{
    int slot = fz_slot(r);
    arg_t a = num(slot);
    result_t info = call(N_slot_info, 1, &a);
    result_t len = call(N_image_length, 1, &a);
    FZ_CHECK(info.threw == !(slot == 0 || slot == 1) && len.threw == info.threw, "slot_info / image_length(%d)", slot);
    if (info.threw) {
        return;
    }
    fz_flash_snapshot(s_snap, FZ_FLASH_SIZE);
    fz_ref_image_t ref = fz_ref_image_verify(s_snap, FZ_FLASH_SIZE, slot_addr(slot), FZ_SLOT_SIZE);
    FZ_CHECK(len.number == (ref.ok ? (double)ref.image_len : -1), "image_length(%d) = %g, the reference %s %u", slot,
             len.number, ref.ok ? "valid" : ref.why, (unsigned)ref.image_len);
    FZ_CHECK(info.kind == R_OBJECT && info.size == FZ_SLOT_SIZE, "slot_info size");
}

static void op_nvs(fz_reader_t *r, int which)
{
    int k = fz_u8(r) % NKEYS;
    const char *key = s_keys[k];
    bool key_ok = strlen(key) >= 1 && strlen(key) <= 15;
    if (which == N_nvs_set) {
        uint8_t value[512];
        size_t n = fz_bytes(r, value, fz_u8(r) * 2u);
        arg_t args[2] = {str(key), bytes(value, n, fz_u8(r) % 3)};
        result_t res = call(N_nvs_set, 2, args);
        FZ_CHECK(res.threw == !key_ok, "nvs_set(\"%s\", %zu bytes): %s", key, n, res.threw ? res.error : "ok");
        if (!res.threw) {
            s_nvs[k].state = NVS_PRESENT;
            memcpy(s_nvs[k].value, value, n);
            s_nvs[k].len = n;
        }
    } else if (which == N_nvs_erase) {
        arg_t a = str(key);
        result_t res = call(N_nvs_erase, 1, &a);
        FZ_CHECK(res.threw == !key_ok, "nvs_erase(\"%s\"): %s", key, res.threw ? res.error : "ok");
        if (!res.threw) {
            s_nvs[k].state = NVS_ABSENT;
        }
    } else {
        arg_t a = str(key);
        result_t res = call(N_nvs_get, 1, &a);
        FZ_CHECK(res.threw == !key_ok, "nvs_get(\"%s\"): %s", key, res.threw ? res.error : "ok");
        if (!res.threw && s_nvs[k].state == NVS_PRESENT) {
            FZ_CHECK(res.kind == R_BYTES && res.len == s_nvs[k].len && memcmp(res.bytes, s_nvs[k].value, res.len) == 0,
                     "nvs_get(\"%s\") differs from the last nvs_set", key);
        } else if (!res.threw && s_nvs[k].state == NVS_ABSENT) {
            FZ_CHECK(res.kind == R_UNDEFINED, "nvs_get(\"%s\") of an erased key is not undefined", key);
        }
        result_free(&res);
    }
}

static void op_timer(fz_reader_t *r)
{
    uint8_t how = fz_u8(r);
    if (how & 1) {
        (void)call(N_rollback_timer_disarm, 0, NULL);
        return;
    }
    arg_t a = num(fz_number(r));
    result_t res = call(N_rollback_timer_arm, 1, &a);
    if (!res.threw && (how & 2)) {
        /* Let the time pass: the callback marks the image invalid and restarts (never XS). */
        int64_t due = vb_timers_next_due_us();
        if (due != INT64_MAX) {
            vb_clock_advance_to(due);
            if (setjmp(s_outside) == 0) {
                vb_timers_run_due();
            }
        }
    }
}

static void op_misc(fz_reader_t *r)
{
    static const int which[] = {N_uptime_us, N_mac, N_app_description, N_heap, N_slot_count, N_running_slot,
                                N_boot_slot, N_mark_valid};
    int w = which[fz_u8(r) % 8];
    result_t res = call(w, 0, NULL);
    if (w == N_slot_count) {
        FZ_CHECK(!res.threw && res.number == 2, "slot_count");
    } else if (w == N_running_slot) {
        FZ_CHECK(!res.threw && (res.number == 0 || res.number == 1), "running_slot");
    } else if (w == N_mac) {
        FZ_CHECK(!res.threw && strlen(res.string) == 12, "mac");
    }
    result_free(&res);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static unsigned runs;
    fz_reader_t r = {data, size};
    fz_flash_template(s_flash);
    memcpy(s_flash + FZ_OTA0_OFF, s_img, s_img_len);
    memset(s_nvs, 0, sizeof(s_nvs));   /* NVS is erased: every key absent */
    s_dead = false;
    s_restarted = 0;
    fz_flash_load(s_flash, FZ_FLASH_SIZE);
    boot();
    FZ_CHECK(!s_dead, "the template boots");

    for (int i = 0; i < MAX_OPS && r.left > 0 && !s_dead; i++) {
        uint8_t op = fz_u8(&r);
        switch (op % 16) {
        case 0: op_base64(&r); break;
        case 1: op_checksums(&r); break;
        case 2: op_begin(&r); break;
        case 3:
        case 4: op_write(&r); break;
        case 5: op_end(&r, false); break;
        case 6: op_end(&r, true); break;
        case 7: op_set_boot(&r); break;
        case 8: op_read(&r, READ_BYTES); break;
        case 9: op_read(&r, op & 0x10 ? READ_DIGESTS : READ_DIGEST); break;
        case 10: op_info(&r); break;
        case 11: op_nvs(&r, (op >> 4) % 3 == 0 ? N_nvs_set : (op >> 4) % 3 == 1 ? N_nvs_get : N_nvs_erase); break;
        case 12: op_timer(&r); break;
        case 13: op_misc(&r); break;
        case 14: (void)call(op & 0x10 ? N_mark_invalid_and_reboot : N_restart, 0, NULL); break;
        default: reset(); break;
        }
        if (s_restarted) {
            reset();
        }
    }
    if (++runs % 16 == 0) {
        xsBeginHost(s_machine);
        xsCollectGarbage();
        xsEndHost(s_machine);
    }
    return 0;
}

void fz_write_seeds(const char *dir)
{
    /* An update as the firmware does it, then reads, NVS, base64 and CRC of every kind. */
    static const uint8_t update[] = {
        2, 1, 3, 1,           /* begin(1, image length) */
        3, 0, 0x00, 0x04, 0, 0,   /* write 1024 bytes, ArrayBuffer */
        4, 0, 0x00, 0x04, 1, 0,   /* write 1024, Uint8Array */
        3, 0, 0x00, 0x10, 2, 0,   /* the rest */
        5, 0,                 /* end */
        7, 1,                 /* set_boot_slot(1) */
        9, 1, 0, 3, 0, 0,     /* digest(1, 0, 2, sha256) */
        25, 1, 0, 0x12, 1, 0x00, 0x10, 0,   /* digests(1, 0, 4096) */
        10, 1, 15,            /* slot info, reset */
        13, 5, 13, 1,
    };
    static const uint8_t records[] = {
        11, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8, 1,    /* nvs_set("boot", 16 bytes) */
        27, 0,                                  /* nvs_get("boot") */
        15,                                     /* reset */
        27, 0, 43, 0, 27, 0,                    /* get, erase, get */
        11, 4, 1, 9, 9, 0,                      /* a key of 16 characters */
        12, 0, 70, 12, 2, 80,                   /* arm (6 ms), let it fire */
    };
    static const uint8_t text[] = {
        0, 8, 0, 1, 2, 3, 4, 5, 6, 7,           /* base64 "ABCDEFGH" */
        0, 6, 26, 27, 62, 63, 64, 65,           /* "ab+/-_" */
        0, 5, 1, 2, 3, 66, 67,                  /* with padding */
        0, 3, 69, 70, 71,                       /* invalid characters */
        1, 5, 'h', 'e', 'l', 'l', 'o', 1, 0,    /* crc32 seed 0, Uint8Array at 1 */
        1, 3, 'a', 'b', 'c', 0, 13,             /* seed 4294967295 */
        1, 0, 0, 0xFE,                          /* seed NaN */
        8, 0, 0, 0, 1, 0x10, 0x00, 0,           /* read(0, 0, 16) */
        9, 0, 3, 0, 0, 1,                       /* digest(0, 1, 2^31-1, sha1): out of range */
        14, 0x10,                               /* mark invalid and reboot */
    };
    fz_seed(dir, "update", update, sizeof(update));
    fz_seed(dir, "records", records, sizeof(records));
    fz_seed(dir, "text", text, sizeof(text));
}
