/*
 * Boot interface between the virtual board's entry point (host/vboard/main.c)
 * and the emulated ESP-IDF layer (host/vboard/idf/).
 */
#ifndef VB_BOOT_H
#define VB_BOOT_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
	const char *flash_path;   /* flash image file; NULL when main.c runs a module archive directly (--modules) */
	int power_cut_at;         /* --power-cut-at N; 0 when not given */
	int power_cut_torn;       /* --power-cut-mode torn: that operation is half applied */
	int virtual_clock;        /* 1 for --clock virtual */
	int flash_timing;         /* 1 for --flash-timing typical: flash operations take their modelled time */
	const char *reset_reason; /* "poweron" | "sw" | "panic" | "rtcwdt" */
	uint8_t mac[6];
} vb_config_t;

/* Both return 0 on success, or the process exit code to use (README "Exit codes"). */
int vb_idf_init(const vb_config_t *cfg);
/* On success, *payload and *len give the firmware payload: the module archive ("XSVBMODS"...). */
int vb_bootloader_boot(const uint8_t **payload, size_t *len);

#endif
