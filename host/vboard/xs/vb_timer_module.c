/*
 * The "timer" module: Moddable's Timer API (modules/base/timer) on the
 * board's clock (esp_timer_get_time, real or virtual).
 *
 * Semantics follow Moddable's mc implementation, device quirks included,
 * so that firmware that works here works on the ESP32:
 * - the callback gets the timer id (a host object) and runs with this = globalThis;
 * - a repeating timer's next due time is its previous one plus the interval (no drift);
 * - after its callback, a timer whose repeat interval is 0 is dead, even if the
 *   callback rescheduled it with Timer.schedule(id, ms) (give a repeat to keep it);
 * - Timer.clear(undefined) does nothing; Timer.clear/schedule on a dead timer
 *   (cleared, or a one-shot that fired) throw "C: xsGetHostData: invalid";
 * - Timer.schedule(id) without a delay unschedules without killing.
 * Timers due at the same time fire in the order they were (re)scheduled.
 */
#include "xsmc.h"
#include "vb_host.h"

#include <time.h>

typedef struct vb_timer vb_timer;
struct vb_timer {
	vb_timer *next;         /* in gTimers while scheduled */
	int64_t due;            /* microseconds on the board clock */
	int32_t repeat;         /* ms; 0 one-shot; -1 unscheduled (as the device marks it) */
	uint64_t order;         /* FIFO among equal due times */
	int scheduled;
	int firing;
	int cleared;
	xsSlot callback;        /* kept alive by vb_timer_mark while the timer lives */
	xsSlot self;            /* the timer id, remembered while the timer lives */
};

static vb_timer *gTimers;   /* scheduled timers, by due time then order */
static uint64_t gOrder;

static void vb_timer_unlink(vb_timer *timer)
{
	vb_timer **link;
	for (link = &gTimers; *link; link = &(*link)->next) {
		if (*link == timer) {
			*link = timer->next;
			break;
		}
	}
	timer->next = NULL;
	timer->scheduled = 0;
}

static void vb_timer_insert(vb_timer *timer, int64_t due)
{
	vb_timer **link = &gTimers;
	if (timer->scheduled)
		vb_timer_unlink(timer);
	timer->due = due;
	timer->order = gOrder++;
	while (*link && (*link)->due <= due)
		link = &(*link)->next;
	timer->next = *link;
	*link = timer;
	timer->scheduled = 1;
}

static void vb_timer_destructor(void *data)
{
	vb_timer *timer = data;
	if (timer) {
		vb_timer_unlink(timer);
		free(timer);
	}
}

static void vb_timer_mark(xsMachine *the, void *data, xsMarkRoot markRoot)
{
	vb_timer *timer = data;
	if (timer && !timer->cleared)
		(*markRoot)(the, &timer->callback);
}

static const xsHostHooks gTimerHooks = { vb_timer_destructor, vb_timer_mark, NULL };

static int32_t vb_ms_argument(xsMachine *the, int index)
{
	int32_t ms = xsmcToInteger(xsArg(index));
	return ms < 0 ? 0 : ms;
}

/* Ends the timer's life: the id stays a host object without data, so
   later clear/schedule calls fail as on the device. */
static void vb_timer_kill(xsMachine *the, vb_timer *timer)
{
	xsForget(timer->self);
	xsmcSetHostData(timer->self, NULL);
	xsmcSetHostDestructor(timer->self, NULL);
	vb_timer_unlink(timer);
	timer->cleared = 1;
	if (!timer->firing)
		free(timer);
}

static void vb_timer_create(xsMachine *the, int32_t delay, int32_t repeat)
{
	vb_timer *timer;
	if (xsmcTypeOf(xsArg(0)) != xsReferenceType)
		xsTypeError("callback is no function");
	timer = calloc(1, sizeof(vb_timer));
	if (!timer)
		xsUnknownError("add failed");
	timer->callback = xsArg(0);
	timer->repeat = repeat;
	timer->self = xsNewHostObject(NULL);
	/* no XS allocation from here to xsRemember: a GC could collect self */
	xsmcSetHostData(timer->self, timer);
	xsSetHostHooks(timer->self, &gTimerHooks);
	xsRemember(timer->self);
	vb_timer_insert(timer, esp_timer_get_time() + (int64_t)delay * 1000);
	xsResult = timer->self;
}

void xs_timer_set(xsMachine *the)
{
	int argc = xsmcArgc;
	int32_t delay = 0, repeat = 0;
	if (argc > 1) {
		delay = vb_ms_argument(the, 1);
		if (argc > 2)
			repeat = vb_ms_argument(the, 2);
	}
	vb_timer_create(the, delay, repeat);
}

void xs_timer_repeat(xsMachine *the)
{
	int32_t interval = vb_ms_argument(the, 1);
	vb_timer_create(the, interval, interval);
}

void xs_timer_schedule(xsMachine *the)
{
	int argc = xsmcArgc;
	vb_timer *timer = xsmcGetHostDataValidate(xsArg(0), (void *)&gTimerHooks);
	if (argc == 1) {
		vb_timer_unlink(timer);
		timer->repeat = -1;
	}
	else {
		int32_t delay = vb_ms_argument(the, 1);
		timer->repeat = (argc > 2) ? vb_ms_argument(the, 2) : 0;
		vb_timer_insert(timer, esp_timer_get_time() + (int64_t)delay * 1000);
	}
}

void xs_timer_clear(xsMachine *the)
{
	vb_timer *timer;
	if (xsmcTypeOf(xsArg(0)) != xsReferenceType)
		return;
	timer = xsmcGetHostDataValidate(xsArg(0), (void *)&gTimerHooks);
	vb_timer_kill(the, timer);
}

/* Busy-waits on the device: the clock moves, nothing else runs. */
void xs_timer_delay(xsMachine *the)
{
	int32_t ms = vb_ms_argument(the, 0);
	if (vb_clock_is_virtual())
		vb_clock_advance_to(esp_timer_get_time() + (int64_t)ms * 1000);
	else {
		struct timespec delay = { ms / 1000, (long)(ms % 1000) * 1000000L };
		while (nanosleep(&delay, &delay) != 0)
			;
	}
}

int64_t vb_js_timers_next_due_us(void)
{
	return gTimers ? gTimers->due : INT64_MAX;
}

int vb_js_timers_fire_due(void *machine, int64_t now_us)
{
	xsMachine *machine_ = machine;
	vb_timer *timer = gTimers;
	if (!timer || timer->due > now_us)
		return 0;
	if (timer->repeat > 0)
		vb_timer_insert(timer, timer->due + (int64_t)timer->repeat * 1000);
	else
		vb_timer_unlink(timer);
	timer->firing = 1;
	xsBeginHost(machine_);   /* an exception thrown by the callback panics (fxAbort) */
	{
		xsCallFunction1(timer->callback, xsGlobal, timer->self);
	}
	xsEndHost(machine_);
	timer->firing = 0;
	if (timer->cleared)
		free(timer);
	else if (timer->repeat == 0) {
		xsBeginHost(machine_);
		vb_timer_kill(the, timer);
		xsEndHost(machine_);
	}
	return 1;
}
