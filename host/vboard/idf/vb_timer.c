/*
 * The board's clock and esp_timer (ESP-IDF v5.5.1 semantics).
 *
 * On the chip, esp_timer callbacks run in the esp_timer task. Here the
 * host's run loop plays that task: it asks vb_timers_next_due_us() when to
 * wake, moves the clock (virtual) or sleeps (real), and calls
 * vb_timers_run_due(). Timers are kept sorted by alarm time; equal alarms fire
 * in the order they were armed, as timer_insert() places a timer after the
 * ones with the same alarm.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "esp_timer.h"
#include "vb_internal.h"

/* esp_timer_impl_get_min_period_us() on ESP32. */
#define MIN_PERIOD_US 50

struct esp_timer {
    esp_timer_cb_t callback;
    void *arg;
    const char *name;
    bool skip_unhandled_events;
    bool armed;
    int64_t alarm;
    uint64_t period;
    struct esp_timer *next;     /* in the armed list */
};

static int s_virtual;
static int64_t s_virtual_now;
static struct timespec s_start;
static bool s_started;
static struct esp_timer *s_armed;   /* sorted by alarm */

void vb_clock_init(int virtual_clock)
{
    s_virtual = virtual_clock ? 1 : 0;
    s_virtual_now = 0;
    clock_gettime(CLOCK_MONOTONIC, &s_start);
    s_started = true;
}

int64_t vb_clock_now_us(void)
{
    if (s_virtual) {
        return s_virtual_now;
    }
    if (!s_started) {
        clock_gettime(CLOCK_MONOTONIC, &s_start);
        s_started = true;
    }
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)(now.tv_sec - s_start.tv_sec) * 1000000 + (now.tv_nsec - s_start.tv_nsec) / 1000;
}

int vb_clock_is_virtual(void)
{
    return s_virtual;
}

void vb_clock_advance_to(int64_t us)
{
    if (s_virtual && us > s_virtual_now) {
        s_virtual_now = us;
    }
}

static void unlink_armed(struct esp_timer *t)
{
    for (struct esp_timer **pp = &s_armed; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == t) {
            *pp = t->next;
            break;
        }
    }
    t->next = NULL;
    t->armed = false;
}

static void insert_armed(struct esp_timer *t)
{
    struct esp_timer **pp = &s_armed;
    while (*pp != NULL && (*pp)->alarm <= t->alarm) {
        pp = &(*pp)->next;
    }
    t->next = *pp;
    *pp = t;
    t->armed = true;
}

void vb_timers_reset(void)
{
    /* Timers belong to the process that created them; forgetting the list is enough. */
    s_armed = NULL;
    s_virtual = 0;
    s_virtual_now = 0;
    s_started = false;
}

int64_t vb_timers_next_due_us(void)
{
    return s_armed != NULL ? s_armed->alarm : INT64_MAX;
}

void vb_timers_run_due(void)
{
    for (;;) {
        struct esp_timer *t = s_armed;
        int64_t now = vb_clock_now_us();
        if (t == NULL || t->alarm > now) {
            return;
        }
        s_armed = t->next;
        t->next = NULL;
        t->armed = false;
        if (t->period > 0) {
            int64_t skipped = (now - t->alarm) / (int64_t)t->period;
            if (t->skip_unhandled_events && skipped > 1) {
                t->alarm = now + (int64_t)t->period;
            } else {
                t->alarm += (int64_t)t->period;
            }
            insert_armed(t);
        }
        /* The callback may stop, restart or delete t: nothing of t is used after it. */
        esp_timer_cb_t callback = t->callback;
        void *arg = t->arg;
        callback(arg);
    }
}

esp_err_t esp_timer_early_init(void)
{
    return ESP_OK;
}

esp_err_t esp_timer_init(void)
{
    return ESP_OK;
}

esp_err_t esp_timer_deinit(void)
{
    return ESP_OK;
}

esp_err_t esp_timer_create(const esp_timer_create_args_t *args, esp_timer_handle_t *out_handle)
{
    if (args == NULL || args->callback == NULL || out_handle == NULL || (int)args->dispatch_method < 0 ||
        (int)args->dispatch_method >= (int)ESP_TIMER_MAX) {
        return ESP_ERR_INVALID_ARG;
    }
    struct esp_timer *t = calloc(1, sizeof(*t));
    if (t == NULL) {
        return ESP_ERR_NO_MEM;
    }
    t->callback = args->callback;
    t->arg = args->arg;
    t->name = args->name;
    t->skip_unhandled_events = args->skip_unhandled_events;
    *out_handle = t;
    return ESP_OK;
}

esp_err_t esp_timer_start_once(esp_timer_handle_t timer, uint64_t timeout_us)
{
    if (timer == NULL) {
        return ESP_ERR_INVALID_ARG;
    }
    if (timer->armed) {
        return ESP_ERR_INVALID_STATE;
    }
    timer->alarm = vb_clock_now_us() + (int64_t)timeout_us;
    timer->period = 0;
    insert_armed(timer);
    return ESP_OK;
}

esp_err_t esp_timer_start_periodic(esp_timer_handle_t timer, uint64_t period_us)
{
    if (timer == NULL) {
        return ESP_ERR_INVALID_ARG;
    }
    if (timer->armed) {
        return ESP_ERR_INVALID_STATE;
    }
    if (period_us < MIN_PERIOD_US) {
        period_us = MIN_PERIOD_US;
    }
    timer->alarm = vb_clock_now_us() + (int64_t)period_us;
    timer->period = period_us;
    insert_armed(timer);
    return ESP_OK;
}

esp_err_t esp_timer_restart(esp_timer_handle_t timer, uint64_t timeout_us)
{
    if (timer == NULL) {
        return ESP_ERR_INVALID_ARG;
    }
    if (!timer->armed) {
        return ESP_ERR_INVALID_STATE;
    }
    uint64_t period = timer->period;
    unlink_armed(timer);
    if (period != 0) {
        timer->period = timeout_us < MIN_PERIOD_US ? MIN_PERIOD_US : timeout_us;
        timer->alarm = vb_clock_now_us() + (int64_t)timer->period;
    } else {
        timer->period = 0;
        timer->alarm = vb_clock_now_us() + (int64_t)timeout_us;
    }
    insert_armed(timer);
    return ESP_OK;
}

esp_err_t esp_timer_stop(esp_timer_handle_t timer)
{
    if (timer == NULL) {
        return ESP_ERR_INVALID_ARG;
    }
    if (!timer->armed) {
        return ESP_ERR_INVALID_STATE;
    }
    unlink_armed(timer);
    timer->alarm = 0;
    timer->period = 0;
    return ESP_OK;
}

esp_err_t esp_timer_delete(esp_timer_handle_t timer)
{
    if (timer == NULL) {
        return ESP_ERR_INVALID_ARG;
    }
    if (timer->armed) {
        return ESP_ERR_INVALID_STATE;
    }
    free(timer);
    return ESP_OK;
}

int64_t esp_timer_get_time(void)
{
    return vb_clock_now_us();
}

int64_t esp_timer_get_next_alarm(void)
{
    return s_armed != NULL ? s_armed->alarm : INT64_MAX;
}

int64_t esp_timer_get_next_alarm_for_wake_up(void)
{
    return esp_timer_get_next_alarm();
}

esp_err_t esp_timer_get_period(esp_timer_handle_t timer, uint64_t *period)
{
    if (timer == NULL || period == NULL) {
        return ESP_ERR_INVALID_ARG;
    }
    *period = timer->period;
    return ESP_OK;
}

esp_err_t esp_timer_get_expiry_time(esp_timer_handle_t timer, uint64_t *expiry)
{
    if (timer == NULL || expiry == NULL) {
        return ESP_ERR_INVALID_ARG;
    }
    if (timer->period > 0) {
        return ESP_ERR_NOT_SUPPORTED;   /* ESP-IDF: only one-shot timers have an expiry time */
    }
    if (!timer->armed) {
        return ESP_ERR_INVALID_STATE;
    }
    *expiry = (uint64_t)timer->alarm;
    return ESP_OK;
}

esp_err_t esp_timer_dump(FILE *stream)
{
    if (stream == NULL) {
        return ESP_ERR_INVALID_ARG;
    }
    fprintf(stream, "Timer stats:\nName                  Period      Alarm\n");
    for (struct esp_timer *t = s_armed; t != NULL; t = t->next) {
        fprintf(stream, "%-20s  %-10llu  %-12lld\n", t->name ? t->name : "timer", (unsigned long long)t->period,
                (long long)t->alarm);
    }
    return ESP_OK;
}

bool esp_timer_is_active(esp_timer_handle_t timer)
{
    return timer != NULL && timer->armed;
}
