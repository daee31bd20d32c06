/*
 * Timers and backoff for the daemon's sd-event loop (see loop.h).
 */
#include "daemon/loop.h"

#include <time.h>

uint64_t kmd_backoff_next(kmd_backoff *b)
{
        uint64_t d = b->cur ? b->cur : b->min;
        b->cur = d * 2 > b->max ? b->max : d * 2;
        return d;
}

void kmd_backoff_reset(kmd_backoff *b)
{
        b->cur = 0;
}

uint64_t kmd_now_usec(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * USEC_PER_SEC + (uint64_t)ts.tv_nsec / 1000;
}

int kmd_timer_arm_at(sd_event *ev, sd_event_source **s, uint64_t usec, sd_event_time_handler_t cb, void *userdata)
{
        if (!*s)
                return sd_event_add_time(ev, s, CLOCK_MONOTONIC, usec, TIMER_ACCURACY, cb, userdata);
        int r = sd_event_source_set_time(*s, usec);
        if (r >= 0)
                r = sd_event_source_set_enabled(*s, SD_EVENT_ONESHOT);
        return r;
}

int kmd_timer_arm(sd_event *ev, sd_event_source **s, uint64_t delay, sd_event_time_handler_t cb, void *userdata)
{
        return kmd_timer_arm_at(ev, s, kmd_now_usec() + delay, cb, userdata);
}

int kmd_timer_arm_lazy(sd_event *ev, sd_event_source **s, uint64_t usec, sd_event_time_handler_t cb, void *userdata)
{
        uint64_t armed;
        if (kmd_timer_pending(*s) && sd_event_source_get_time(*s, &armed) >= 0 && armed <= usec)
                return 0;
        return kmd_timer_arm_at(ev, s, usec, cb, userdata);
}

bool kmd_timer_pending(sd_event_source *s)
{
        int enabled = SD_EVENT_OFF;
        return s && sd_event_source_get_enabled(s, &enabled) >= 0 && enabled != SD_EVENT_OFF;
}

void kmd_timer_off(sd_event_source *s)
{
        if (s)
                sd_event_source_set_enabled(s, SD_EVENT_OFF);
}
