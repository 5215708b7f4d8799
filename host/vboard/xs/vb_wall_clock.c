/*
 * The board's system time, what gettimeofday() gives the firmware on an
 * ESP32: a wall-clock time set once (here the host's clock when the board
 * starts, as SNTP would set it) that then advances with the board's own
 * clock (esp_timer). On the virtual clock it therefore moves only when a test
 * moves it, so an hour-old nonce is an hour old to the firmware. XS reads it
 * for Date.now() (vb_platform.h maps c_gettimeofday here).
 */
#include "vb_host.h"

#include <sys/time.h>
#include <time.h>

int vb_gettimeofday(struct timeval *tv, void *tz)
{
	static int64_t wall_at_boot_us = -1;
	(void)tz;
	if (wall_at_boot_us < 0) {
		struct timespec now;
		clock_gettime(CLOCK_REALTIME, &now);
		wall_at_boot_us = (int64_t)now.tv_sec * 1000000 + now.tv_nsec / 1000 - esp_timer_get_time();
	}
	int64_t us = wall_at_boot_us + esp_timer_get_time();
	tv->tv_sec = (time_t)(us / 1000000);
	tv->tv_usec = (suseconds_t)(us % 1000000);
	return 0;
}
