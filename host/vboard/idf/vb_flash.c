/*
 * The SPI NOR flash of the virtual board: a file, read with pread and written
 * with pwrite so that whatever a killed process wrote stays in the file, as on
 * a chip that loses power.
 *
 * NOR rules (the model of ESP-IDF's partition_linux.c): erase sets 4 KB
 * sectors (or 64 KB blocks) to 0xFF; a write can only clear bits. A write that
 * would need a 0 to become a 1 is refused whole, logged on stderr and reported
 * as ESP_ERR_FLASH_OP_FAIL, so firmware that forgets an erase fails in CI
 * instead of silently corrupting (partition_linux.c would also have applied the
 * bytes before the offending one; refusing the whole write keeps the file
 * exactly as it was).
 *
 * Fault injection: every write and every erase command is one counted
 * operation. A power cut armed for operation N (counted from vb_idf_init;
 * vb_flash_arm_power_cut arms it relative to the count so far) ends the
 * process with _exit(4) before N is applied, so exactly N-1 operations are
 * in the file; a torn cut applies half of operation N first.
 *
 * Timing (opt-in, --flash-timing typical): each operation costs what the
 * table in vb_idf.h says a W25Q32JV takes, and the board's clock pays it:
 * the virtual clock moves on, the real clock waits. So an update's board
 * time includes the flash's own time, the floor no firmware can go below.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "vb_internal.h"

static int s_fd = -1;
static uint32_t s_size;
static uint64_t s_power_cut_at;   /* absolute operation number; 0: not armed */
static int s_torn;
static vb_flash_stats_t s_stats;
static bool s_stats_at_exit_registered;
static int s_timing;
static void (*s_wait_hook)(int waiting);
/* Modelled time not yet on the clock: below a microsecond (virtual), or below
   REAL_WAIT_MIN_NS or slept too long (real: negative), carried to the next operation. */
static int64_t s_owed_ns;

/* A sleep costs tens of microseconds of its own: shorter debts wait for the next operation. */
#define REAL_WAIT_MIN_NS 1000000

static void print_stats(void)
{
    char line[320];
    int n = snprintf(line, sizeof(line),
                     "vb_flash: ops=%llu writes=%llu (%llu bytes) erases=%llu (%llu bytes) reads=%llu (%llu bytes) nor_violations=%llu"
                     " modelled_ms: erase=%.1f program=%.1f read=%.1f\n",
                     (unsigned long long)s_stats.ops, (unsigned long long)s_stats.writes,
                     (unsigned long long)s_stats.write_bytes, (unsigned long long)s_stats.erases,
                     (unsigned long long)s_stats.erased_bytes, (unsigned long long)s_stats.reads,
                     (unsigned long long)s_stats.read_bytes, (unsigned long long)s_stats.nor_violations,
                     s_stats.erase_ns / 1e6, s_stats.program_ns / 1e6, s_stats.read_ns / 1e6);
    if (n > 0) {
        /* write(2), not stdio: this also runs on the power-cut path just before _exit. */
        ssize_t ignored = write(2, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
        (void)ignored;
    }
}

static bool stats_wanted(void)
{
    const char *env = getenv("VB_FLASH_STATS");
    return env != NULL && strcmp(env, "1") == 0;
}

static void stats_at_exit(void)
{
    if (stats_wanted()) {
        print_stats();
    }
}

static int adopt_fd(int fd, const char *what)
{
    struct stat st;
    if (fstat(fd, &st) != 0) {
        fprintf(stderr, "vb_flash: cannot stat %s: %s\n", what, strerror(errno));
        close(fd);
        return -1;
    }
    if (st.st_size == 0) {
        /* A new file is a new chip: fully erased. */
        static uint8_t ff[VB_FLASH_BLOCK_SIZE];
        memset(ff, 0xFF, sizeof(ff));
        for (uint32_t off = 0; off < VB_FLASH_DEFAULT_SIZE; off += sizeof(ff)) {
            if (pwrite(fd, ff, sizeof(ff), off) != (ssize_t)sizeof(ff)) {
                fprintf(stderr, "vb_flash: cannot initialise %s: %s\n", what, strerror(errno));
                close(fd);
                return -1;
            }
        }
        st.st_size = VB_FLASH_DEFAULT_SIZE;
    }
    if (st.st_size % VB_FLASH_SECTOR_SIZE != 0 || st.st_size > 0x1000000) {
        fprintf(stderr, "vb_flash: %s is %lld bytes; a flash image must be a multiple of 4096 bytes, at most 16 MB\n",
                what, (long long)st.st_size);
        close(fd);
        return -1;
    }
    s_fd = fd;
    s_size = (uint32_t)st.st_size;
    if (!s_stats_at_exit_registered) {
        atexit(stats_at_exit);
        s_stats_at_exit_registered = true;
    }
    return 0;
}

int vb_flash_open(const char *path)
{
    vb_flash_close();
    int fd = open(path, O_RDWR | O_CREAT, 0644);
    if (fd < 0) {
        fprintf(stderr, "vb_flash: cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    return adopt_fd(fd, path);
}

int vb_flash_open_anonymous(void)
{
    vb_flash_close();
    char path[] = "/tmp/vboard-flash-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) {
        fprintf(stderr, "vb_flash: cannot create a temporary flash: %s\n", strerror(errno));
        return -1;
    }
    unlink(path);
    return adopt_fd(fd, "temporary flash");
}

void vb_flash_close(void)
{
    if (s_fd >= 0) {
        close(s_fd);
    }
    s_fd = -1;
    s_size = 0;
}

bool vb_flash_is_open(void)
{
    return s_fd >= 0;
}

void vb_flash_set_timing(int on)
{
    s_timing = on;
    s_owed_ns = 0;
}

void vb_flash_on_wait(void (*hook)(int waiting))
{
    s_wait_hook = hook;
}

uint64_t vb_flash_erase_time_ns(uint32_t addr, uint32_t len)
{
    uint64_t ns = 0;
    /* The units vb_flash_erase_range erases: blocks where aligned, sectors elsewhere. */
    while (len >= VB_FLASH_SECTOR_SIZE) {
        bool block = addr % VB_FLASH_BLOCK_SIZE == 0 && len >= VB_FLASH_BLOCK_SIZE;
        uint32_t unit = block ? VB_FLASH_BLOCK_SIZE : VB_FLASH_SECTOR_SIZE;
        ns += block ? VB_FLASH_BLOCK_ERASE_NS : VB_FLASH_SECTOR_ERASE_NS;
        addr += unit;
        len -= unit;
    }
    return ns;
}

uint64_t vb_flash_write_time_ns(uint32_t addr, size_t len)
{
    if (len == 0) {
        return 0;
    }
    /* A page program never crosses a page boundary: a write is one per page it touches. */
    uint64_t pages = (addr + len - 1) / VB_FLASH_PAGE_SIZE - addr / VB_FLASH_PAGE_SIZE + 1;
    return pages * VB_FLASH_PAGE_PROGRAM_NS + len * VB_FLASH_BUS_NS_PER_BYTE;
}

uint64_t vb_flash_read_time_ns(size_t len)
{
    return len * VB_FLASH_BUS_NS_PER_BYTE;
}

static int64_t monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Real clock: sleep off the debt, and carry what the sleep over- or undershot. */
static void wait_real(void)
{
    if (s_owed_ns < REAL_WAIT_MIN_NS) {
        return;
    }
    if (s_wait_hook != NULL) {
        s_wait_hook(1);
    }
    int64_t start = monotonic_ns();
    struct timespec left = {.tv_sec = s_owed_ns / 1000000000, .tv_nsec = s_owed_ns % 1000000000};
    while (nanosleep(&left, &left) != 0 && errno == EINTR) {
    }
    s_owed_ns -= monotonic_ns() - start;
    if (s_wait_hook != NULL) {
        s_wait_hook(0);
    }
}

/* The board's clock pays an operation's modelled time (when timing is on). */
static void take_time(uint64_t ns, uint64_t *total)
{
    *total += ns;
    if (!s_timing) {
        return;
    }
    s_owed_ns += (int64_t)ns;
    if (vb_clock_is_virtual()) {
        vb_clock_advance_to(vb_clock_now_us() + s_owed_ns / 1000);
        s_owed_ns %= 1000;
    } else {
        wait_real();
    }
}

void vb_flash_reset_counters(void)
{
    memset(&s_stats, 0, sizeof(s_stats));
    s_power_cut_at = 0;
    s_torn = 0;
}

const vb_flash_stats_t *vb_flash_stats(void)
{
    return &s_stats;
}

uint64_t vb_flash_arm_power_cut(long after, int torn)
{
    s_power_cut_at = after > 0 ? s_stats.ops + (uint64_t)after : 0;
    s_torn = after > 0 && torn;
    return s_power_cut_at;
}

uint32_t vb_flash_size(void)
{
    return s_size;
}

static bool in_bounds(uint32_t addr, size_t len)
{
    return s_fd >= 0 && addr <= s_size && len <= (size_t)(s_size - addr);
}

static esp_err_t raw_read(uint32_t addr, void *buf, size_t len)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = pread(s_fd, (uint8_t *)buf + done, len - done, (off_t)addr + (off_t)done);
        if (n <= 0) {
            fprintf(stderr, "vb_flash: read at 0x%08x failed: %s\n", (unsigned)(addr + done),
                    n == 0 ? "end of file" : strerror(errno));
            return ESP_ERR_FLASH_OP_FAIL;
        }
        done += (size_t)n;
    }
    return ESP_OK;
}

static esp_err_t raw_write(uint32_t addr, const void *buf, size_t len)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = pwrite(s_fd, (const uint8_t *)buf + done, len - done, (off_t)addr + (off_t)done);
        if (n <= 0) {
            fprintf(stderr, "vb_flash: write at 0x%08x failed: %s\n", (unsigned)(addr + done), strerror(errno));
            return ESP_ERR_FLASH_OP_FAIL;
        }
        done += (size_t)n;
    }
    return ESP_OK;
}

static void program(uint32_t addr, const uint8_t *data, size_t len)
{
    uint8_t old[1024];
    for (size_t done = 0; done < len;) {
        size_t chunk = len - done < sizeof(old) ? len - done : sizeof(old);
        if (raw_read(addr + (uint32_t)done, old, chunk) != ESP_OK) {
            return;
        }
        for (size_t i = 0; i < chunk; i++) {
            old[i] &= data[done + i];
        }
        raw_write(addr + (uint32_t)done, old, chunk);
        done += chunk;
    }
}

static void fill_ff(uint32_t addr, uint32_t len)
{
    static uint8_t ff[VB_FLASH_SECTOR_SIZE];
    if (ff[0] != 0xFF) {
        memset(ff, 0xFF, sizeof(ff));
    }
    for (uint32_t done = 0; done < len;) {
        uint32_t chunk = len - done < sizeof(ff) ? len - done : (uint32_t)sizeof(ff);
        raw_write(addr + done, ff, chunk);
        done += chunk;
    }
}

/* The gate every operation passes: the power cut happens here, before the operation. */
static void count_operation(bool is_write, uint32_t addr, const uint8_t *data, uint32_t len)
{
    if (s_power_cut_at > 0 && s_stats.ops + 1 == s_power_cut_at) {
        if (s_torn) {
            if (is_write) {
                program(addr, data, len / 2);
            } else {
                for (uint32_t off = 0; off < len; off += VB_FLASH_SECTOR_SIZE) {
                    fill_ff(addr + off, VB_FLASH_SECTOR_SIZE / 2);
                }
            }
        }
        char line[160];
        int n = snprintf(line, sizeof(line), "vb_flash: power cut at operation %llu (%s of %u bytes at 0x%08x)%s\n",
                         (unsigned long long)s_power_cut_at, is_write ? "write" : "erase", (unsigned)len, (unsigned)addr,
                         s_torn ? ", torn" : "");
        fflush(stdout);
        if (n > 0) {
            ssize_t ignored = write(2, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
            (void)ignored;
        }
        if (stats_wanted()) {
            print_stats();
        }
        _exit(4);
    }
    s_stats.ops++;
}

esp_err_t vb_flash_read(uint32_t addr, void *buf, size_t len)
{
    if (!in_bounds(addr, len)) {
        return ESP_ERR_INVALID_SIZE;
    }
    s_stats.reads++;
    s_stats.read_bytes += len;
    esp_err_t err = raw_read(addr, buf, len);
    take_time(vb_flash_read_time_ns(len), &s_stats.read_ns);
    return err;
}

esp_err_t vb_flash_write(uint32_t addr, const void *buf, size_t len)
{
    if (!in_bounds(addr, len)) {
        return ESP_ERR_INVALID_SIZE;
    }
    if (len == 0) {
        return ESP_OK;
    }
    const uint8_t *data = buf;
    count_operation(true, addr, data, (uint32_t)len);
    s_stats.writes++;

    uint8_t old[1024];
    for (size_t done = 0; done < len;) {
        size_t chunk = len - done < sizeof(old) ? len - done : sizeof(old);
        esp_err_t err = raw_read(addr + (uint32_t)done, old, chunk);
        if (err != ESP_OK) {
            return err;
        }
        for (size_t i = 0; i < chunk; i++) {
            if ((~old[i] & data[done + i]) != 0) {
                s_stats.nor_violations++;
                fprintf(stderr,
                        "vb_flash: invalid flash operation detected: write of %u bytes at 0x%08x would turn a 0 into a 1 "
                        "at 0x%08x (flash 0x%02x, data 0x%02x); nothing written (erase first)\n",
                        (unsigned)len, (unsigned)addr, (unsigned)(addr + done + i), old[i], data[done + i]);
                return ESP_ERR_FLASH_OP_FAIL;
            }
        }
        done += chunk;
    }
    program(addr, data, len);
    s_stats.write_bytes += len;
    take_time(vb_flash_write_time_ns(addr, len), &s_stats.program_ns);
    return ESP_OK;
}

esp_err_t vb_flash_erase_range(uint32_t addr, uint32_t len)
{
    if (!in_bounds(addr, len)) {
        return ESP_ERR_INVALID_SIZE;
    }
    if (addr % VB_FLASH_SECTOR_SIZE != 0 || len % VB_FLASH_SECTOR_SIZE != 0) {
        s_stats.nor_violations++;
        fprintf(stderr, "vb_flash: invalid flash operation detected: erase of 0x%x bytes at 0x%08x is not 4 KB aligned\n",
                (unsigned)len, (unsigned)addr);
        return ESP_ERR_INVALID_ARG;
    }
    /* Like esp_flash_erase_region: 64 KB block erases where aligned, sector erases elsewhere;
       each command is one operation, so a cut in a long erase leaves the earlier units erased. */
    while (len > 0) {
        uint32_t unit = (addr % VB_FLASH_BLOCK_SIZE == 0 && len >= VB_FLASH_BLOCK_SIZE) ? VB_FLASH_BLOCK_SIZE
                                                                                        : VB_FLASH_SECTOR_SIZE;
        count_operation(false, addr, NULL, unit);
        s_stats.erases++;
        fill_ff(addr, unit);
        s_stats.erased_bytes += unit;
        take_time(vb_flash_erase_time_ns(addr, unit), &s_stats.erase_ns);
        addr += unit;
        len -= unit;
    }
    return ESP_OK;
}
