/*
 * The Norwegian grid capacity tariff ("kapasitetsledd"): the month's three
 * highest hourly imports, each on a different day, their mean (kW, as an
 * hour's kWh), the price step that mean falls in, and how much more the
 * current hour can import before the mean would reach the next step.
 *
 * Pure arithmetic on a table of the best hour of each day of the month.
 */
#ifndef KM_DERIVED_CAPACITY_H
#define KM_DERIVED_CAPACITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KM_CAP_MAX_STEPS 16
#define KM_CAP_DAYS 31
#define KM_CAP_STEPS_DEFAULT "0-2, 2-5, 5-10, 10-15, 15-20, 20-25, 25-50, 50-75, 75-100"

typedef struct km_cap_steps {
        size_t n;
        double lo[KM_CAP_MAX_STEPS], hi[KM_CAP_MAX_STEPS]; /* kW, lo[i+1] == hi[i] */
} km_cap_steps;

/* The best (highest import) finished hour of one day of the month. */
typedef struct km_cap_day {
        bool has;
        double wh;
        int64_t hour_start;
} km_cap_day;

typedef struct km_cap_month {
        km_cap_day day[KM_CAP_DAYS]; /* index: day of month - 1 */
} km_cap_month;

typedef struct km_cap_top {
        size_t n;         /* 0 to 3 */
        int mday[3];      /* day of month, best first */
        double wh[3];
        int64_t hour_start[3];
} km_cap_top;

/* "0-2, 2-5, 5-10" (kW): ascending, contiguous, each lo < hi. Returns 0 or
 * -EINVAL with *ret_bad the 1-based position of the offending step. */
int km_cap_parse_steps(const char *text, km_cap_steps *ret_steps, int *ret_bad);

/* Books a finished hour of day mday (1-31): kept when it beats the day's best. */
void km_cap_book(km_cap_month *m, int mday, double wh, int64_t hour_start);

/* The three best days' hours, best first; `extra` (when extra_mday > 0)
 * counts as one more hour of that day (the open hour's estimate). */
void km_cap_top3(const km_cap_month *m, int extra_mday, double extra_wh, km_cap_top *ret_top);

/* Mean of the top hours in kW (0 when none). */
double km_cap_average(const km_cap_top *top);

/* The step the average falls in (lo <= avg < hi), or -1 above the last. */
int km_cap_step(const km_cap_steps *s, double avg_kw);

/* "5-10" for step i, "above 100" past the last. */
const char *km_cap_step_text(const km_cap_steps *s, int i, char *buf, size_t size);

/* How many more Wh the open hour (of day mday, with hour_wh so far) can
 * import before the mean of the top three would reach the upper bound of
 * the step it is in now. -1 when above the last step (no next step). */
double km_cap_headroom(const km_cap_month *m, const km_cap_steps *s, int mday, double hour_wh);

#endif
