/*
 * The task watchdog, as ESP-IDF configures it by default
 * (CONFIG_ESP_TASK_WDT_TIMEOUT_S=5, checking the idle task, panic on
 * trigger): when the firmware keeps the CPU for longer than that without
 * ever going idle, the board panics and resets. That is what turns a hung
 * firmware into a reset, and a reset of an uncommitted image into a
 * rollback. "Idle" here is the run loop waiting in select(); the watchdog
 * counts real time in both clock modes, since a hang is real.
 *
 * A wait of the flash timing model (idf/vb_flash.c, real clock) is idle
 * time: the chip's task sleeps while the flash erases
 * (CONFIG_SPI_FLASH_YIELD_DURING_ERASE), so a long erase feeds the watchdog.
 *
 * VB_TASK_WDT_S sets the timeout in seconds; 0 turns the watchdog off.
 */
#include "vb_host.h"
#include "vb_idf.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_TIMEOUT_S 5

static atomic_llong busy_since_ms; /* 0 while idle */
static long long timeout_ms;

static long long monotonic_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *watch(void *arg)
{
	(void)arg;
	for (;;) {
		long long since;
		usleep(100 * 1000);
		since = atomic_load(&busy_since_ms);
		if (since && monotonic_ms() - since > timeout_ms) {
			long long uptime = (long long)(esp_timer_get_time() / 1000);
			/* The same lines ESP-IDF prints, so logs read alike on both boards. */
			printf("\nE (%lld) task_wdt: Task watchdog got triggered. The following tasks/users did not reset the watchdog in time:\n"
			       "E (%lld) task_wdt:  - IDLE0 (CPU 0)\n"
			       "E (%lld) task_wdt: Tasks currently running:\n"
			       "E (%lld) task_wdt: CPU 0: main\n"
			       "E (%lld) task_wdt: Aborting.\n\n"
			       "abort() was called at PC 0x400d5c2e on core 0\n\nRebooting...\n",
			       uptime, uptime, uptime, uptime, uptime);
			fflush(stdout);
			fprintf(stderr, "vboard: task watchdog: no idle time for %lld ms\n", timeout_ms);
			_exit(VB_EXIT_PANIC);
		}
	}
	return NULL;
}

void vb_task_wdt_start(void)
{
	const char *env = getenv("VB_TASK_WDT_S");
	pthread_t thread;
	timeout_ms = (env ? atoll(env) : DEFAULT_TIMEOUT_S) * 1000LL;
	if (timeout_ms <= 0)
		return;
	atomic_store(&busy_since_ms, monotonic_ms());
	vb_flash_on_wait(vb_task_wdt_idle);
	if (pthread_create(&thread, NULL, watch, NULL) == 0)
		pthread_detach(thread);
}

void vb_task_wdt_idle(int idle)
{
	atomic_store(&busy_since_ms, idle ? 0 : monotonic_ms());
}
