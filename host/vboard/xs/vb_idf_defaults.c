/*
 * Weak stand-ins for what the emulated ESP-IDF layer (host/vboard/idf/)
 * provides, so that the XS host builds and runs on its own (vboard --modules).
 * Any definition in idf/ replaces these at link time.
 */
#include "vb_host.h"
#include "vb_idf.h"

#include <stdio.h>
#include <time.h>

#define VB_WEAK __attribute__((weak))

static int gVirtual;
static int64_t gVirtualNow;   /* microseconds since boot */
static int64_t gBoot = -1;

static int64_t vb_monotonic_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

VB_WEAK int vb_idf_init(const vb_config_t *cfg)
{
	gVirtual = cfg->virtual_clock;
	gBoot = vb_monotonic_us();
	return 0;
}

VB_WEAK int vb_bootloader_boot(const uint8_t **payload, size_t *len)
{
	(void)payload, (void)len;
	fprintf(stderr, "vboard: built without the idf layer: no bootloader (use --modules)\n");
	return 5;
}

VB_WEAK int64_t esp_timer_get_time(void)
{
	if (gVirtual)
		return gVirtualNow;
	if (gBoot < 0)
		gBoot = vb_monotonic_us();
	return vb_monotonic_us() - gBoot;
}

VB_WEAK int vb_clock_is_virtual(void)
{
	return gVirtual;
}

VB_WEAK void vb_clock_advance_to(int64_t us)
{
	if (gVirtual && us > gVirtualNow)
		gVirtualNow = us;
}

VB_WEAK int64_t vb_timers_next_due_us(void)
{
	return INT64_MAX;
}

VB_WEAK void vb_timers_run_due(void)
{
}

/* No flash: nothing is counted, nothing can be cut. */
VB_WEAK const vb_flash_stats_t *vb_flash_stats(void)
{
	static const vb_flash_stats_t none;
	return &none;
}

VB_WEAK uint64_t vb_flash_arm_power_cut(long after, int torn)
{
	(void)after, (void)torn;
	return 0;
}

VB_WEAK void vb_flash_on_wait(void (*hook)(int waiting))
{
	(void)hook;
}
