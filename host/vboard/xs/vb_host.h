/*
 * The XS host of the virtual board: interface between main.c, the vb_*.c
 * files of this folder and the emulated ESP-IDF layer (idf/).
 *
 * The machine is passed as void* across files because the xsmc files see
 * it as struct xsMachineRecord and the engine-internal files as
 * struct sxMachine (same object, two header views).
 */
#ifndef VB_HOST_H
#define VB_HOST_H

#include <stddef.h>
#include <stdint.h>

#define VB_EXIT_HALT 0
#define VB_EXIT_USAGE 2
#define VB_EXIT_PANIC 6

/* ---- provided by the idf layer (weak stand-ins in vb_idf_defaults.c) ---- */

int64_t esp_timer_get_time(void);     /* microseconds since boot, real or virtual */
int64_t vb_timers_next_due_us(void);  /* earliest native esp_timer due time, INT64_MAX if none */
void vb_timers_run_due(void);         /* runs the native timers due at esp_timer_get_time() */
void vb_clock_advance_to(int64_t us); /* virtual clock only: moves time forward to us */
int vb_clock_is_virtual(void);

/* ---- entry point (vb_machine.c) ---- */

/* Runs module "main" of the archive, then the run loop. Never returns:
   exits 0 when nothing can happen anymore, 6 on a firmware panic.
   mem_limit: bytes the engine may take for slots and chunks, 0 = no cap. */
void vb_xs_run(const uint8_t *archive, size_t size, size_t mem_limit) __attribute__((noreturn));
/* "XS 13.3.0", for --version */
const char *vb_xs_version(void);

/* ---- between the files of this folder ---- */

/* vb_machine.c */
void vb_panic(const char *what, const char *detail) __attribute__((noreturn));
void vb_run_jobs(void *the);   /* promise jobs until none, WeakRef cleanup, unhandled rejections */
typedef struct {
	size_t slotSize, heapSlotBytes, slotsCurrent, slotsPeak, slotsMax;
	size_t chunksCurrent, chunksPeak, chunksMax;
	size_t allocatedBytes, heapLimit, romBytes;
} vb_memstats_t;
void vb_memstats(vb_memstats_t *stats);
void vb_collect_garbage(void *the);

/* vb_modules.c */
int vb_archive_open(const uint8_t *archive, size_t size); /* 0 if valid */
void vb_run_main(void *the);  /* imports "main"; a rejection panics */

/* vb_timer.c: JS timers of the "timer" module */
int64_t vb_js_timers_next_due_us(void);     /* INT64_MAX if none scheduled */
int vb_js_timers_fire_due(void *the, int64_t now_us); /* fires the earliest timer due at now_us; 1 if one fired */

/* vb_io.c: UART (fd 0/1) and supervisor link (fd 3/4) */
void vb_io_init(void);
void vb_uart_write(const void *data, size_t size);
void vb_link_write(const char *json, size_t json_size, const void *bin, size_t bin_size);
int vb_io_watch(void *fds, int *max_fd);    /* fds is an fd_set*; returns the number of watched fds */
void vb_io_dispatch(void *the, void *fds);  /* handles the readable fds of a select() */

/* vb_machine.c: the --mem-limit cap, 0 when none */
size_t vb_heap_ceiling(void);
size_t vb_heap_rom(void);

/* vb_task_wdt.c: a hang (no idle time for VB_TASK_WDT_S, default 5 s) panics the board */
void vb_task_wdt_start(void);
void vb_task_wdt_idle(int idle);

/* vb_json.c: members of the supervisor's flat JSON objects */
const char *vb_json_skip_value(const char *p, const char *end);
const char *vb_json_member(const char *json, const char *end, const char *key);  /* start of the value, or NULL */
int vb_json_member_raw(const char *json, const char *end, const char *key, const char **value); /* the value's JSON text (to echo it back): its length, 0 if absent */
int vb_json_member_is(const char *json, const char *end, const char *key, const char *literal);
int vb_json_member_number(const char *json, const char *end, const char *key, double *number); /* 1 found, 0 absent, -1 not a number */
const char *vb_json_check_flat_object(const char *text); /* NULL when a flat object of strings, numbers, booleans; else the problem */

/* vb_mc_config.c: --config, the firmware's mc/config */
const char *vb_mc_config_set(const char *json); /* NULL, or what is wrong with it */

/* vb_machine.c: Object.is for two slots */
int vb_slots_identical(void *the, void *a, void *b);

/* The board's TCP sockets (vb_tcp.c), real time whatever the board's clock */
int64_t vb_net_now_us(void);                 /* CLOCK_MONOTONIC */
int vb_net_watch(void *read_fds, void *write_fds, int *max_fd); /* adds socket fds; returns how many sockets keep the board alive */
int64_t vb_net_timeout_us(void);             /* real-time wait before the sockets need service, -1 for none */
void vb_net_flush(void);                      /* sends what tasks wrote and the link lets go now, as lwIP's tcp_output does at once */
void vb_net_dispatch(void *the, void *read_fds, void *write_fds); /* I/O, then the socket messages queued so far */
int vb_net_link_message(const char *json, size_t size); /* 1 if it was a "net" message (vb_net_faults.c) */

/* vb_power.c: power cuts armed over the link, and the flash operation count */
void vb_power_init(void);                                 /* reports the count on the link when the boot exits */
int vb_power_link_message(const char *json, size_t size); /* 1 if it was a "power" message */

/* vb_flash_link.c: the board's clock and the flash's statistics and modelled time, over the link */
int vb_flash_link_message(const char *json, size_t size); /* 1 if it was a "flash" message */

/* vb_loop.c */
void vb_loop_run(void *the) __attribute__((noreturn));
void vb_clock_advance_window(void *the, int64_t advance_us); /* a link "clock" message */

#endif
