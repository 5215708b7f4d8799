/*
 * The run loop of the board: promise jobs, then due timers (JS timers of the
 * "timer" module and the idf layer's native esp_timer timers, in due-time
 * order), then waiting for UART, link or socket input, then the socket
 * messages (vb_socket.c).
 *
 * Real clock: select() sleeps until the next due timer.
 * Virtual clock: time moves only when the supervisor sends a link message
 * {"t":"clock","advance_ms":N}; everything due inside the window runs in
 * due-time order with the clock set to each due time, then the clock is
 * set to the end of the window.
 */
#include "vb_host.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/select.h>

/* Fires the earliest timer due at or before now (JS first on a tie). */
static int vb_fire_one_due(void *the, int64_t now)
{
	int64_t js = vb_js_timers_next_due_us();
	int64_t native = vb_timers_next_due_us();
	if (js <= now && js <= native)
		return vb_js_timers_fire_due(the, now);
	if (native <= now) {
		vb_timers_run_due();
		return 1;
	}
	return 0;
}

static int64_t vb_next_due(void)
{
	int64_t js = vb_js_timers_next_due_us();
	int64_t native = vb_timers_next_due_us();
	return js < native ? js : native;
}

void vb_clock_advance_window(void *the, int64_t advance_us)
{
	int64_t end = esp_timer_get_time() + advance_us;
	for (;;) {
		int64_t due;
		vb_run_jobs(the);
		/* the device idles between the timers of the window: each one is a
		   task run of its own for the task watchdog, however long the window */
		vb_task_wdt_idle(0);
		due = vb_next_due();
		if (due > end)
			break;
		if (due > esp_timer_get_time())
			vb_clock_advance_to(due);
		vb_fire_one_due(the, esp_timer_get_time());
	}
	if (end > esp_timer_get_time())
		vb_clock_advance_to(end);
}

void vb_loop_run(void *the)
{
	for (;;) {
		fd_set fds, write_fds;
		int max_fd, watched, ready;
		int64_t due, now, delay = -1, net_delay;
		struct timeval timeout, *wait = NULL;

		vb_run_jobs(the);
		/* what the last task wrote leaves now, before a timer can restart the board */
		vb_net_flush();
		now = esp_timer_get_time();
		if (vb_fire_one_due(the, now))
			continue;   /* jobs queued by the timer run before the next one */

		watched = vb_io_watch(&fds, &max_fd);
		FD_ZERO(&write_fds);
		watched += vb_net_watch(&fds, &write_fds, &max_fd);
		due = vb_next_due();
		if (!vb_clock_is_virtual() && due != INT64_MAX)
			delay = due > now ? due - now : 0;
		/* sockets run in real time on either clock: latency, bandwidth,
		   acknowledgements and queued socket messages have their deadlines */
		net_delay = vb_net_timeout_us();
		if (net_delay >= 0 && (delay < 0 || net_delay < delay))
			delay = net_delay;
		if (delay >= 0) {
			timeout.tv_sec = (time_t)(delay / 1000000);
			timeout.tv_usec = (suseconds_t)(delay % 1000000);
			wait = &timeout;
		}
		/* Nothing can happen anymore: no input to wait for, no socket or
		   listener open, and no timer that can come due (a virtual clock
		   only moves through the link). */
		if (!watched && !wait)
			exit(VB_EXIT_HALT);
		vb_task_wdt_idle(1);
		ready = select(max_fd + 1, &fds, &write_fds, NULL, wait);
		vb_task_wdt_idle(0);
		if (ready < 0) {
			if (errno == EINTR)
				continue;
			perror("vboard: select");
			exit(VB_EXIT_USAGE);
		}
		if (ready > 0)
			vb_io_dispatch(the, &fds);
		/* each socket message is a task of its own, as each UART read is */
		vb_net_dispatch(the, &fds, &write_fds);
	}
}
