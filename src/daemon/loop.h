/*
 * Small helpers shared by the daemon's parts on one sd-event loop: the
 * monotonic clock, one-shot timers re-armed in place, and a doubling
 * backoff.
 */
#ifndef KM_DAEMON_LOOP_H
#define KM_DAEMON_LOOP_H

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#define USEC_PER_SEC UINT64_C(1000000)
#define USEC_PER_MSEC UINT64_C(1000)
/* sd-event would otherwise let a timer slip by up to 250 ms */
#define TIMER_ACCURACY (1 * USEC_PER_MSEC)

typedef struct kmd_backoff {
        uint64_t cur, min, max;
} kmd_backoff;

/* The next delay: min, doubling up to max. */
uint64_t kmd_backoff_next(kmd_backoff *b);
void kmd_backoff_reset(kmd_backoff *b);

uint64_t kmd_now_usec(void);

/* One timer source per purpose, re-armed as a one-shot delay from now
 * (created the first time). Returns 0 or a negative errno. */
int kmd_timer_arm(sd_event *ev, sd_event_source **s, uint64_t delay, sd_event_time_handler_t cb, void *userdata);

/* The same at an absolute CLOCK_MONOTONIC time. */
int kmd_timer_arm_at(sd_event *ev, sd_event_source **s, uint64_t usec, sd_event_time_handler_t cb, void *userdata);

/* kmd_timer_arm_at() for a deadline that moves later most of the time (a
 * timer pushed back by every frame): a timer armed at usec or earlier is
 * left where it is, so it may fire early, and its handler must then arm it
 * again for the real deadline. What it saves is sd-event's re-sort of its
 * timer queue on every frame. */
int kmd_timer_arm_lazy(sd_event *ev, sd_event_source **s, uint64_t usec, sd_event_time_handler_t cb, void *userdata);
bool kmd_timer_pending(sd_event_source *s);

/* Turns a timer off without freeing it. */
void kmd_timer_off(sd_event_source *s);

#endif
