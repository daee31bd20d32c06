/*
 * The P1 framer (km_p1_*) and parser (km_p1_parse): every DSMR/P1 telegram
 * in tests/data/captures decodes to every value its text spells, and the
 * framer finds telegrams the same way whatever the chunking.
 *
 * The values of the amshan and amsreader telegrams are stated below, one
 * row per value the text holds (read off the text independently of the
 * parser: kW and kvar in W and var, kWh as sent, texts as sent, times as
 * ISO 8601). The beyond/ telegrams are checked against the expected values
 * in beyond/manifest.json, read at run time, so a new P1 record there is a
 * new test without new code. The framer cases: bad CRC (rejected, counted),
 * a telegram cut in the middle, two telegrams glued, garbage between them,
 * CR-only and LF-only line ends, no CRC (DSMR 2.2/3), an unpadded CRC, a
 * telegram too long for the buffer, and a 7E1 stream read as 8N1; each fed
 * all at once, byte by byte and in random chunks with equal results.
 */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kaifa/p1.h"
#include "unit_util.h"

/* One value a telegram's text spells. kind: 'n' number (in unit), 't' text
 * as sent (km_value_text_raw), 'd' date-time (ISO 8601); captured: the
 * value's own capture time, or NULL. */
typedef struct expect {
        const char *code; /* "A-B:C.D.E" */
        char kind;
        double num;
        km_unit unit;
        const char *text;
        const char *captured;
} expect;

/* ---- stated values of the amshan and amsreader telegrams ---------------- */

static const expect exp_amshan_a[] = {
        {"0-0:96.1.7", 't', 0, KM_UNIT_NONE, "E360", NULL},
        {"0-0:1.0.0", 'd', 0, KM_UNIT_NONE, "2021-02-22T16:19:00", NULL},
        {"1-0:1.8.0", 'n', 896.02, KM_UNIT_KWH, NULL, NULL},
        {"1-0:2.8.0", 'n', 48.792, KM_UNIT_KWH, NULL, NULL},
        {"1-0:3.8.0", 'n', 518.309, KM_UNIT_KVARH, NULL, NULL},
        {"1-0:4.8.0", 'n', 23.732, KM_UNIT_KVARH, NULL, NULL},
        {"1-0:1.7.0", 'n', 0.0, KM_UNIT_W, NULL, NULL},
        {"1-0:2.7.0", 'n', 20.0, KM_UNIT_W, NULL, NULL},
        {"1-0:3.7.0", 'n', 0.0, KM_UNIT_VAR, NULL, NULL},
        {"1-0:4.7.0", 'n', 308.0, KM_UNIT_VAR, NULL, NULL},
        {"1-0:21.7.0", 'n', 0.0, KM_UNIT_W, NULL, NULL},
        {"1-0:22.7.0", 'n', 12.0, KM_UNIT_W, NULL, NULL},
        {"1-0:41.7.0", 'n', 0.0, KM_UNIT_W, NULL, NULL},
        {"1-0:42.7.0", 'n', 71.0, KM_UNIT_W, NULL, NULL},
        {"1-0:61.7.0", 'n', 63.0, KM_UNIT_W, NULL, NULL},
        {"1-0:62.7.0", 'n', 0.0, KM_UNIT_W, NULL, NULL},
        {"1-0:23.7.0", 'n', 0.0, KM_UNIT_VAR, NULL, NULL},
        {"1-0:24.7.0", 'n', 146.0, KM_UNIT_VAR, NULL, NULL},
        {"1-0:43.7.0", 'n', 0.0, KM_UNIT_VAR, NULL, NULL},
        {"1-0:44.7.0", 'n', 135.0, KM_UNIT_VAR, NULL, NULL},
        {"1-0:63.7.0", 'n', 0.0, KM_UNIT_VAR, NULL, NULL},
        {"1-0:64.7.0", 'n', 26.0, KM_UNIT_VAR, NULL, NULL},
        {"1-0:32.7.0", 'n', 230.1, KM_UNIT_V, NULL, NULL},
        {"1-0:52.7.0", 'n', 232.2, KM_UNIT_V, NULL, NULL},
        {"1-0:72.7.0", 'n', 230.4, KM_UNIT_V, NULL, NULL},
        {"1-0:31.7.0", 'n', 0.6, KM_UNIT_A, NULL, NULL},
        {"1-0:51.7.0", 'n', 0.6, KM_UNIT_A, NULL, NULL},
        {"1-0:71.7.0", 'n', 0.3, KM_UNIT_A, NULL, NULL},
};

static const expect exp_amshan_b[] = {
        {"0-0:96.1.7", 't', 0, KM_UNIT_NONE, "LGBBFFB231314239", NULL},
        {"1-3:0.2.8", 't', 0, KM_UNIT_NONE, "42", NULL},
        {"0-0:1.0.0", 'd', 0, KM_UNIT_NONE, "2018-09-24T13:21:32", NULL},
        {"0-0:96.1.1", 't', 0, KM_UNIT_NONE, "4532323036303137363437393334353135", NULL},
        {"1-0:1.8.1", 'n', 11522.839, KM_UNIT_KWH, NULL, NULL},
        {"1-0:1.8.2", 'n', 10310.991, KM_UNIT_KWH, NULL, NULL},
        {"1-0:2.8.1", 'n', 0.0, KM_UNIT_KWH, NULL, NULL},
        {"1-0:2.8.2", 'n', 0.0, KM_UNIT_KWH, NULL, NULL},
        {"0-0:96.14.0", 't', 0, KM_UNIT_NONE, "0002", NULL},
        {"1-0:1.7.0", 'n', 503.0, KM_UNIT_W, NULL, NULL},
        {"1-0:2.7.0", 'n', 0.0, KM_UNIT_W, NULL, NULL},
        {"0-0:96.7.21", 't', 0, KM_UNIT_NONE, "00015", NULL},
        {"0-0:96.7.9", 't', 0, KM_UNIT_NONE, "00005", NULL},
        {"1-0:99.97.0", 'n', 5.0, KM_UNIT_NONE, NULL, NULL},
        {"0-0:96.7.19", 'n', 5627.0, KM_UNIT_SECOND, NULL, "2017-05-20T13:09:38"},
        {"0-0:96.7.19", 'n', 43178677.0, KM_UNIT_SECOND, NULL, "2017-03-25T04:40:14"},
        {"1-0:32.32.0", 't', 0, KM_UNIT_NONE, "00002", NULL},
        {"1-0:52.32.0", 't', 0, KM_UNIT_NONE, "00002", NULL},
        {"1-0:72.32.0", 't', 0, KM_UNIT_NONE, "00002", NULL},
        {"1-0:32.36.0", 't', 0, KM_UNIT_NONE, "00000", NULL},
        {"1-0:52.36.0", 't', 0, KM_UNIT_NONE, "00000", NULL},
        {"1-0:72.36.0", 't', 0, KM_UNIT_NONE, "00000", NULL},
        {"0-0:96.13.1", 't', 0, KM_UNIT_NONE, "", NULL},
        {"0-0:96.13.0", 't', 0, KM_UNIT_NONE, "", NULL},
        {"1-0:31.7.0", 'n', 1.0, KM_UNIT_A, NULL, NULL},
        {"1-0:51.7.0", 'n', 1.0, KM_UNIT_A, NULL, NULL},
        {"1-0:71.7.0", 'n', 1.0, KM_UNIT_A, NULL, NULL},
        {"1-0:21.7.0", 'n', 86.0, KM_UNIT_W, NULL, NULL},
        {"1-0:41.7.0", 'n', 250.0, KM_UNIT_W, NULL, NULL},
        {"1-0:61.7.0", 'n', 166.0, KM_UNIT_W, NULL, NULL},
        {"1-0:22.7.0", 'n', 0.0, KM_UNIT_W, NULL, NULL},
        {"1-0:42.7.0", 'n', 0.0, KM_UNIT_W, NULL, NULL},
        {"1-0:62.7.0", 'n', 0.0, KM_UNIT_W, NULL, NULL},
        {"0-1:24.1.0", 't', 0, KM_UNIT_NONE, "003", NULL},
        {"0-1:96.1.0", 't', 0, KM_UNIT_NONE, "4731303138333430313538383732343334", NULL},
        {"0-1:24.2.1", 'n', 4890.857, KM_UNIT_M3, NULL, "2018-09-24T13:00:00"},
};

static const expect exp_amshan_c[] = {
        {"0-0:96.1.7", 't', 0, KM_UNIT_NONE, "\\253833635_A", NULL},
        {"0-0:1.0.0", 'd', 0, KM_UNIT_NONE, "2020-10-20T08:52:22", NULL},
        {"1-0:1.8.0", 'n', 1605.055, KM_UNIT_KWH, NULL, NULL},
        {"1-0:2.8.0", 'n', 0.131, KM_UNIT_KWH, NULL, NULL},
        {"1-0:3.8.0", 'n', 3.642, KM_UNIT_KVARH, NULL, NULL},
        {"1-0:4.8.0", 'n', 185.707, KM_UNIT_KVARH, NULL, NULL},
        {"1-0:1.7.0", 'n', 6000.0, KM_UNIT_W, NULL, NULL},
        {"1-0:2.7.0", 'n', 0.0, KM_UNIT_W, NULL, NULL},
        {"1-0:3.7.0", 'n', 200.0, KM_UNIT_VAR, NULL, NULL},
        {"1-0:4.7.0", 'n', 470.0, KM_UNIT_VAR, NULL, NULL},
        {"1-0:21.7.0", 'n', 3172.0, KM_UNIT_W, NULL, NULL},
        {"1-0:41.7.0", 'n', 441.0, KM_UNIT_W, NULL, NULL},
        {"1-0:61.7.0", 'n', 2386.0, KM_UNIT_W, NULL, NULL},
        {"1-0:22.7.0", 'n', 0.0, KM_UNIT_W, NULL, NULL},
        {"1-0:42.7.0", 'n', 0.0, KM_UNIT_W, NULL, NULL},
        {"1-0:62.7.0", 'n', 0.0, KM_UNIT_W, NULL, NULL},
        {"1-0:23.7.0", 'n', 0.0, KM_UNIT_VAR, NULL, NULL},
        {"1-0:43.7.0", 'n', 200.0, KM_UNIT_VAR, NULL, NULL},
        {"1-0:63.7.0", 'n', 0.0, KM_UNIT_VAR, NULL, NULL},
        {"1-0:24.7.0", 'n', 222.0, KM_UNIT_VAR, NULL, NULL},
        {"1-0:44.7.0", 'n', 0.0, KM_UNIT_VAR, NULL, NULL},
        {"1-0:64.7.0", 'n', 247.0, KM_UNIT_VAR, NULL, NULL},
        {"1-0:32.7.0", 'n', 234.4, KM_UNIT_V, NULL, NULL},
        {"1-0:52.7.0", 'n', 233.3, KM_UNIT_V, NULL, NULL},
        {"1-0:72.7.0", 'n', 235.1, KM_UNIT_V, NULL, NULL},
        {"1-0:31.7.0", 'n', 13.6, KM_UNIT_A, NULL, NULL},
        {"1-0:51.7.0", 'n', 2.0, KM_UNIT_A, NULL, NULL},
        {"1-0:71.7.0", 'n', 10.2, KM_UNIT_A, NULL, NULL},
};

static const expect exp_amshan_d[] = {
        {"0-0:96.1.7", 't', 0, KM_UNIT_NONE, "E360", NULL},
        {"0-0:1.0.0", 'd', 0, KM_UNIT_NONE, "2022-02-04T11:06:50", NULL},
        {"1-0:1.8.0", 'n', 10501.076, KM_UNIT_KWH, NULL, NULL},
        {"1-0:2.8.0", 'n', 0.0, KM_UNIT_KWH, NULL, NULL},
        {"1-0:3.8.0", 'n', 1761.087, KM_UNIT_KVARH, NULL, NULL},
        {"1-0:4.8.0", 'n', 8.391, KM_UNIT_KVARH, NULL, NULL},
        {"1-0:1.7.0", 'n', 2301.0, KM_UNIT_W, NULL, NULL},
        {"1-0:2.7.0", 'n', 0.0, KM_UNIT_W, NULL, NULL},
        {"1-0:3.7.0", 'n', 135.0, KM_UNIT_VAR, NULL, NULL},
        {"1-0:4.7.0", 'n', 0.0, KM_UNIT_VAR, NULL, NULL},
        {"1-0:21.7.0", 'n', 622.0, KM_UNIT_W, NULL, NULL},
        {"1-0:22.7.0", 'n', 0.0, KM_UNIT_W, NULL, NULL},
        {"1-0:41.7.0", 'n', 667.0, KM_UNIT_W, NULL, NULL},
        {"1-0:42.7.0", 'n', 0.0, KM_UNIT_W, NULL, NULL},
        {"1-0:61.7.0", 'n', 1011.0, KM_UNIT_W, NULL, NULL},
        {"1-0:62.7.0", 'n', 0.0, KM_UNIT_W, NULL, NULL},
        {"1-0:23.7.0", 'n', 0.0, KM_UNIT_VAR, NULL, NULL},
        {"1-0:24.7.0", 'n', 208.0, KM_UNIT_VAR, NULL, NULL},
        {"1-0:43.7.0", 'n', 0.0, KM_UNIT_VAR, NULL, NULL},
        {"1-0:44.7.0", 'n', 142.0, KM_UNIT_VAR, NULL, NULL},
        {"1-0:63.7.0", 'n', 486.0, KM_UNIT_VAR, NULL, NULL},
        {"1-0:64.7.0", 'n', 0.0, KM_UNIT_VAR, NULL, NULL},
        {"1-0:32.7.0", 'n', 232.1, KM_UNIT_V, NULL, NULL},
        {"1-0:52.7.0", 'n', 233.1, KM_UNIT_V, NULL, NULL},
        {"1-0:72.7.0", 'n', 231.9, KM_UNIT_V, NULL, NULL},
        {"1-0:31.7.0", 'n', 2.8, KM_UNIT_A, NULL, NULL},
        {"1-0:51.7.0", 'n', 2.9, KM_UNIT_A, NULL, NULL},
        {"1-0:71.7.0", 'n', 4.8, KM_UNIT_A, NULL, NULL},
};

static const expect exp_amshan_kamstrup[] = {
        {"0-0:1.0.0", 'd', 0, KM_UNIT_NONE, "2022-04-08T13:50:21", NULL},
        {"1-0:1.8.0", 'n', 60995.424, KM_UNIT_KWH, NULL, NULL},
        {"1-0:2.8.0", 'n', 0.0, KM_UNIT_KWH, NULL, NULL},
        {"1-0:3.8.0", 'n', 12.696, KM_UNIT_KVARH, NULL, NULL},
        {"1-0:4.8.0", 'n', 12541.802, KM_UNIT_KVARH, NULL, NULL},
        {"1-0:1.7.0", 'n', 2202.0, KM_UNIT_W, NULL, NULL},
        {"1-0:2.7.0", 'n', 0.0, KM_UNIT_W, NULL, NULL},
        {"1-0:3.7.0", 'n', 0.0, KM_UNIT_VAR, NULL, NULL},
        {"1-0:4.7.0", 'n', 505.0, KM_UNIT_VAR, NULL, NULL},
        {"1-0:21.7.0", 'n', 1947.0, KM_UNIT_W, NULL, NULL},
        {"1-0:41.7.0", 'n', 63.0, KM_UNIT_W, NULL, NULL},
        {"1-0:61.7.0", 'n', 192.0, KM_UNIT_W, NULL, NULL},
        {"1-0:22.7.0", 'n', 0.0, KM_UNIT_W, NULL, NULL},
        {"1-0:42.7.0", 'n', 0.0, KM_UNIT_W, NULL, NULL},
        {"1-0:62.7.0", 'n', 0.0, KM_UNIT_W, NULL, NULL},
        {"1-0:23.7.0", 'n', 0.0, KM_UNIT_VAR, NULL, NULL},
        {"1-0:43.7.0", 'n', 0.0, KM_UNIT_VAR, NULL, NULL},
        {"1-0:63.7.0", 'n', 0.0, KM_UNIT_VAR, NULL, NULL},
        {"1-0:24.7.0", 'n', 204.0, KM_UNIT_VAR, NULL, NULL},
        {"1-0:44.7.0", 'n', 95.0, KM_UNIT_VAR, NULL, NULL},
        {"1-0:64.7.0", 'n', 206.0, KM_UNIT_VAR, NULL, NULL},
        {"1-0:32.7.0", 'n', 235.5, KM_UNIT_V, NULL, NULL},
        {"1-0:52.7.0", 'n', 239.5, KM_UNIT_V, NULL, NULL},
        {"1-0:72.7.0", 'n', 239.1, KM_UNIT_V, NULL, NULL},
        {"1-0:31.7.0", 'n', 8.3, KM_UNIT_A, NULL, NULL},
        {"1-0:51.7.0", 'n', 0.4, KM_UNIT_A, NULL, NULL},
        {"1-0:71.7.0", 'n', 1.4, KM_UNIT_A, NULL, NULL},
};

static const expect exp_elgama_gh1177[] = {
        {"0-0:96.1.7", 't', 0, KM_UNIT_NONE, "G15", NULL},
        {"0-0:1.0.0", 'd', 0, KM_UNIT_NONE, "2026-04-10T15:05:53", NULL},
        {"1-0:1.8.0", 'n', 12345.035, KM_UNIT_KWH, NULL, NULL},
        {"1-0:1.8.1", 'n', 12345.035, KM_UNIT_KWH, NULL, NULL},
        {"1-0:1.8.2", 'n', 0.0, KM_UNIT_KWH, NULL, NULL},
        {"1-0:1.8.3", 'n', 0.0, KM_UNIT_KWH, NULL, NULL},
        {"1-0:1.8.4", 'n', 0.0, KM_UNIT_KWH, NULL, NULL},
        {"1-0:2.8.0", 'n', 0.0, KM_UNIT_KWH, NULL, NULL},
        {"1-0:2.8.1", 'n', 0.0, KM_UNIT_KWH, NULL, NULL},
        {"1-0:2.8.2", 'n', 0.0, KM_UNIT_KWH, NULL, NULL},
        {"1-0:2.8.3", 'n', 0.0, KM_UNIT_KWH, NULL, NULL},
        {"1-0:2.8.4", 'n', 0.0, KM_UNIT_KWH, NULL, NULL},
        {"1-0:1.7.0", 'n', 278.0, KM_UNIT_W, NULL, NULL},
        {"1-0:2.7.0", 'n', 0.0, KM_UNIT_W, NULL, NULL},
        {"0-0:96.13.0", 't', 0, KM_UNIT_NONE, "", NULL},
        {"0-0:96.1.0", 't', 0, KM_UNIT_NONE, "3134<redacted>", NULL},
        {"0-0:17.0.0", 't', 0, KM_UNIT_NONE, "16500", NULL},
        {"0-0:17.0.0", 't', 0, KM_UNIT_NONE, "16500", NULL},
        {"0-0:17.0.0", 't', 0, KM_UNIT_NONE, "16500", NULL},
        {"0-0:94.98.31", 't', 0, KM_UNIT_NONE, "00000", NULL},
        {"0-0:94.98.32", 't', 0, KM_UNIT_NONE, "00000", NULL},
        {"0-0:94.98.33", 't', 0, KM_UNIT_NONE, "3", NULL},
};

static const expect exp_iskra_gh1037[] = {
        {"0-0:96.1.7", 't', 0, KM_UNIT_NONE, "\\2M551T-200", NULL},
        {"0-0:96.1.0", 't', 0, KM_UNIT_NONE, "96815390", NULL},
        {"0-0:97.97.0", 't', 0, KM_UNIT_NONE, "00000000", NULL},
        {"1-0:0.9.1", 't', 0, KM_UNIT_NONE, "222553", NULL},
        {"1-0:0.9.2", 't', 0, KM_UNIT_NONE, "251002", NULL},
        {"1-0:1.8.0", 'n', 317.695, KM_UNIT_KWH, NULL, NULL},
        {"1-0:1.8.1", 'n', 162.246, KM_UNIT_KWH, NULL, NULL},
        {"1-0:1.8.2", 'n', 155.449, KM_UNIT_KWH, NULL, NULL},
        {"1-0:2.8.0", 'n', 0.0, KM_UNIT_KWH, NULL, NULL},
        {"1-0:2.8.1", 'n', 0.0, KM_UNIT_KWH, NULL, NULL},
        {"1-0:2.8.2", 'n', 0.0, KM_UNIT_KWH, NULL, NULL},
        {"1-0:1.7.0", 'n', 2356.0, KM_UNIT_W, NULL, NULL},
        {"1-0:21.7.0", 'n', 0.0, KM_UNIT_W, NULL, NULL},
        {"1-0:41.7.0", 'n', 2212.0, KM_UNIT_W, NULL, NULL},
        {"1-0:61.7.0", 'n', 143.0, KM_UNIT_W, NULL, NULL},
        {"1-0:2.7.0", 'n', 0.0, KM_UNIT_W, NULL, NULL},
        {"1-0:22.7.0", 'n', 0.0, KM_UNIT_W, NULL, NULL},
        {"1-0:42.7.0", 'n', 0.0, KM_UNIT_W, NULL, NULL},
        {"1-0:62.7.0", 'n', 0.0, KM_UNIT_W, NULL, NULL},
        {"1-0:32.7.0", 'n', 234.6, KM_UNIT_V, NULL, NULL},
        {"1-0:52.7.0", 'n', 234.5, KM_UNIT_V, NULL, NULL},
        {"1-0:72.7.0", 'n', 233.5, KM_UNIT_V, NULL, NULL},
        {"1-0:31.7.0", 'n', 0.0, KM_UNIT_A, NULL, NULL},
        {"1-0:51.7.0", 'n', 9.0, KM_UNIT_A, NULL, NULL},
        {"1-0:71.7.0", 'n', 0.0, KM_UNIT_A, NULL, NULL},
};

static const expect exp_kamstrup_gh578[] = {
        {"0-0:1.0.0", 'd', 0, KM_UNIT_NONE, "2024-04-07T12:28:54", NULL},
        {"1-0:1.8.0", 'n', 9621.983, KM_UNIT_KWH, NULL, NULL},
        {"1-0:2.8.0", 'n', 0.0, KM_UNIT_KWH, NULL, NULL},
        {"1-0:3.8.0", 'n', 0.916, KM_UNIT_KVARH, NULL, NULL},
        {"1-0:4.8.0", 'n', 2496.779, KM_UNIT_KVARH, NULL, NULL},
        {"1-0:1.7.0", 'n', 1453.0, KM_UNIT_W, NULL, NULL},
        {"1-0:2.7.0", 'n', 0.0, KM_UNIT_W, NULL, NULL},
        {"1-0:3.7.0", 'n', 0.0, KM_UNIT_VAR, NULL, NULL},
        {"1-0:4.7.0", 'n', 321.0, KM_UNIT_VAR, NULL, NULL},
        {"1-0:21.7.0", 'n', 1218.0, KM_UNIT_W, NULL, NULL},
        {"1-0:41.7.0", 'n', 213.0, KM_UNIT_W, NULL, NULL},
        {"1-0:61.7.0", 'n', 22.0, KM_UNIT_W, NULL, NULL},
        {"1-0:22.7.0", 'n', 0.0, KM_UNIT_W, NULL, NULL},
        {"1-0:42.7.0", 'n', 0.0, KM_UNIT_W, NULL, NULL},
        {"1-0:62.7.0", 'n', 0.0, KM_UNIT_W, NULL, NULL},
        {"1-0:23.7.0", 'n', 0.0, KM_UNIT_VAR, NULL, NULL},
        {"1-0:43.7.0", 'n', 0.0, KM_UNIT_VAR, NULL, NULL},
        {"1-0:63.7.0", 'n', 0.0, KM_UNIT_VAR, NULL, NULL},
        {"1-0:24.7.0", 'n', 19.0, KM_UNIT_VAR, NULL, NULL},
        {"1-0:44.7.0", 'n', 217.0, KM_UNIT_VAR, NULL, NULL},
        {"1-0:64.7.0", 'n', 85.0, KM_UNIT_VAR, NULL, NULL},
        {"1-0:32.7.0", 'n', 237.4, KM_UNIT_V, NULL, NULL},
        {"1-0:52.7.0", 'n', 241.4, KM_UNIT_V, NULL, NULL},
        {"1-0:72.7.0", 'n', 241.4, KM_UNIT_V, NULL, NULL},
        {"1-0:31.7.0", 'n', 5.1, KM_UNIT_A, NULL, NULL},
        {"1-0:51.7.0", 'n', 1.4, KM_UNIT_A, NULL, NULL},
        {"1-0:71.7.0", 'n', 0.4, KM_UNIT_A, NULL, NULL},
};

static const expect exp_kamstrup_gh699[] = {
        {"0-0:1.0.0", 'd', 0, KM_UNIT_NONE, "2023-12-21T12:42:33", NULL},
        {"1-0:1.8.0", 'n', 9222.471, KM_UNIT_KWH, NULL, NULL},
        {"1-0:2.8.0", 'n', 0.017, KM_UNIT_KWH, NULL, NULL},
        {"1-0:3.8.0", 'n', 369.429, KM_UNIT_KVARH, NULL, NULL},
        {"1-0:4.8.0", 'n', 5686.916, KM_UNIT_KVARH, NULL, NULL},
        {"1-0:1.7.0", 'n', 14.0, KM_UNIT_W, NULL, NULL},
        {"1-0:2.7.0", 'n', 0.0, KM_UNIT_W, NULL, NULL},
        {"1-0:3.7.0", 'n', 22.0, KM_UNIT_VAR, NULL, NULL},
        {"1-0:4.7.0", 'n', 0.0, KM_UNIT_VAR, NULL, NULL},
        {"1-0:21.7.0", 'n', 21.0, KM_UNIT_W, NULL, NULL},
        {"1-0:41.7.0", 'n', 0.0, KM_UNIT_W, NULL, NULL},
        {"1-0:61.7.0", 'n', 0.0, KM_UNIT_W, NULL, NULL},
        {"1-0:22.7.0", 'n', 0.0, KM_UNIT_W, NULL, NULL},
        {"1-0:42.7.0", 'n', 0.0, KM_UNIT_W, NULL, NULL},
        {"1-0:62.7.0", 'n', 7.0, KM_UNIT_W, NULL, NULL},
        {"1-0:23.7.0", 'n', 13.0, KM_UNIT_VAR, NULL, NULL},
        {"1-0:43.7.0", 'n', 0.0, KM_UNIT_VAR, NULL, NULL},
        {"1-0:63.7.0", 'n', 9.0, KM_UNIT_VAR, NULL, NULL},
        {"1-0:24.7.0", 'n', 0.0, KM_UNIT_VAR, NULL, NULL},
        {"1-0:44.7.0", 'n', 0.0, KM_UNIT_VAR, NULL, NULL},
        {"1-0:64.7.0", 'n', 0.0, KM_UNIT_VAR, NULL, NULL},
        {"1-0:32.7.0", 'n', 244.2, KM_UNIT_V, NULL, NULL},
        {"1-0:52.7.0", 'n', 243.6, KM_UNIT_V, NULL, NULL},
        {"1-0:72.7.0", 'n', 244.2, KM_UNIT_V, NULL, NULL},
        {"1-0:31.7.0", 'n', 0.1, KM_UNIT_A, NULL, NULL},
        {"1-0:51.7.0", 'n', 0.0, KM_UNIT_A, NULL, NULL},
        {"1-0:71.7.0", 'n', 0.0, KM_UNIT_A, NULL, NULL},
};

static const expect exp_kamstrup_gh934[] = {
        {"0-0:1.0.0", 'd', 0, KM_UNIT_NONE, "2025-05-25T18:42:15", NULL},
        {"1-0:1.8.0", 'n', 28073.776, KM_UNIT_KWH, NULL, NULL},
        {"1-0:2.8.0", 'n', 0.0, KM_UNIT_KWH, NULL, NULL},
        {"1-0:3.8.0", 'n', 1724.067, KM_UNIT_KVARH, NULL, NULL},
        {"1-0:4.8.0", 'n', 1932.145, KM_UNIT_KVARH, NULL, NULL},
        {"1-0:1.7.0", 'n', 976.0, KM_UNIT_W, NULL, NULL},
        {"1-0:2.7.0", 'n', 0.0, KM_UNIT_W, NULL, NULL},
        {"1-0:3.7.0", 'n', 0.0, KM_UNIT_VAR, NULL, NULL},
        {"1-0:4.7.0", 'n', 119.0, KM_UNIT_VAR, NULL, NULL},
        {"1-0:21.7.0", 'n', 134.0, KM_UNIT_W, NULL, NULL},
        {"1-0:41.7.0", 'n', 209.0, KM_UNIT_W, NULL, NULL},
        {"1-0:61.7.0", 'n', 633.0, KM_UNIT_W, NULL, NULL},
        {"1-0:22.7.0", 'n', 0.0, KM_UNIT_W, NULL, NULL},
        {"1-0:42.7.0", 'n', 0.0, KM_UNIT_W, NULL, NULL},
        {"1-0:62.7.0", 'n', 0.0, KM_UNIT_W, NULL, NULL},
        {"1-0:23.7.0", 'n', 0.0, KM_UNIT_VAR, NULL, NULL},
        {"1-0:43.7.0", 'n', 0.0, KM_UNIT_VAR, NULL, NULL},
        {"1-0:63.7.0", 'n', 0.0, KM_UNIT_VAR, NULL, NULL},
        {"1-0:24.7.0", 'n', 102.0, KM_UNIT_VAR, NULL, NULL},
        {"1-0:44.7.0", 'n', 10.0, KM_UNIT_VAR, NULL, NULL},
        {"1-0:64.7.0", 'n', 7.0, KM_UNIT_VAR, NULL, NULL},
        {"1-0:32.7.0", 'n', 233.9, KM_UNIT_V, NULL, NULL},
        {"1-0:52.7.0", 'n', 234.4, KM_UNIT_V, NULL, NULL},
        {"1-0:72.7.0", 'n', 233.8, KM_UNIT_V, NULL, NULL},
        {"1-0:31.7.0", 'n', 0.9, KM_UNIT_A, NULL, NULL},
        {"1-0:51.7.0", 'n', 1.2, KM_UNIT_A, NULL, NULL},
        {"1-0:71.7.0", 'n', 2.8, KM_UNIT_A, NULL, NULL},
};

static const expect exp_lg_gh382[] = {
        {"0-0:96.1.7", 't', 0, KM_UNIT_NONE, "E360", NULL},
        {"0-0:1.0.0", 'd', 0, KM_UNIT_NONE, "2022-12-15T15:50:50", NULL},
        {"1-0:1.8.0", 'n', 2721.126, KM_UNIT_KWH, NULL, NULL},
        {"1-0:2.8.0", 'n', 0.0, KM_UNIT_KWH, NULL, NULL},
        {"1-0:3.8.0", 'n', 1384.336, KM_UNIT_KVARH, NULL, NULL},
        {"1-0:4.8.0", 'n', 0.09, KM_UNIT_KVARH, NULL, NULL},
        {"1-0:1.7.0", 'n', 4190.0, KM_UNIT_W, NULL, NULL},
        {"1-0:2.7.0", 'n', 0.0, KM_UNIT_W, NULL, NULL},
        {"1-0:3.7.0", 'n', 292.0, KM_UNIT_VAR, NULL, NULL},
        {"1-0:4.7.0", 'n', 0.0, KM_UNIT_VAR, NULL, NULL},
        {"1-0:21.7.0", 'n', 1980.0, KM_UNIT_W, NULL, NULL},
        {"1-0:22.7.0", 'n', 0.0, KM_UNIT_W, NULL, NULL},
        {"1-0:41.7.0", 'n', 354.0, KM_UNIT_W, NULL, NULL},
        {"1-0:42.7.0", 'n', 0.0, KM_UNIT_W, NULL, NULL},
        {"1-0:61.7.0", 'n', 1855.0, KM_UNIT_W, NULL, NULL},
        {"1-0:62.7.0", 'n', 0.0, KM_UNIT_W, NULL, NULL},
        {"1-0:23.7.0", 'n', 1072.0, KM_UNIT_VAR, NULL, NULL},
        {"1-0:24.7.0", 'n', 0.0, KM_UNIT_VAR, NULL, NULL},
        {"1-0:43.7.0", 'n', 265.0, KM_UNIT_VAR, NULL, NULL},
        {"1-0:44.7.0", 'n', 0.0, KM_UNIT_VAR, NULL, NULL},
        {"1-0:63.7.0", 'n', 0.0, KM_UNIT_VAR, NULL, NULL},
        {"1-0:64.7.0", 'n', 1044.0, KM_UNIT_VAR, NULL, NULL},
        {"1-0:32.7.0", 'n', 230.7, KM_UNIT_V, NULL, NULL},
        {"1-0:52.7.0", 'n', 230.1, KM_UNIT_V, NULL, NULL},
        {"1-0:72.7.0", 'n', 231.0, KM_UNIT_V, NULL, NULL},
        {"1-0:31.7.0", 'n', 9.7, KM_UNIT_A, NULL, NULL},
        {"1-0:51.7.0", 'n', 1.9, KM_UNIT_A, NULL, NULL},
        {"1-0:71.7.0", 'n', 9.2, KM_UNIT_A, NULL, NULL},
};

static const expect exp_lg_gh497[] = {
        {"0-0:96.1.7", 't', 0, KM_UNIT_NONE, "E360", NULL},
        {"0-0:1.0.0", 'd', 0, KM_UNIT_NONE, "2023-03-27T06:42:30", NULL},
        {"1-0:1.8.0", 'n', 2564.183, KM_UNIT_KWH, NULL, NULL},
        {"1-0:2.8.0", 'n', 67.342, KM_UNIT_KWH, NULL, NULL},
        {"1-0:3.8.0", 'n', 0.284, KM_UNIT_KVARH, NULL, NULL},
        {"1-0:4.8.0", 'n', 2130.176, KM_UNIT_KVARH, NULL, NULL},
        {"1-0:1.7.0", 'n', 2.0, KM_UNIT_W, NULL, NULL},
        {"1-0:2.7.0", 'n', 7.0, KM_UNIT_W, NULL, NULL},
        {"1-0:3.7.0", 'n', 0.0, KM_UNIT_VAR, NULL, NULL},
        {"1-0:4.7.0", 'n', 244.0, KM_UNIT_VAR, NULL, NULL},
        {"1-0:21.7.0", 'n', 0.0, KM_UNIT_W, NULL, NULL},
        {"1-0:22.7.0", 'n', 14.0, KM_UNIT_W, NULL, NULL},
        {"1-0:41.7.0", 'n', 2.0, KM_UNIT_W, NULL, NULL},
        {"1-0:42.7.0", 'n', 0.0, KM_UNIT_W, NULL, NULL},
        {"1-0:61.7.0", 'n', 8.0, KM_UNIT_W, NULL, NULL},
        {"1-0:62.7.0", 'n', 0.0, KM_UNIT_W, NULL, NULL},
        {"1-0:23.7.0", 'n', 0.0, KM_UNIT_VAR, NULL, NULL},
        {"1-0:24.7.0", 'n', 196.0, KM_UNIT_VAR, NULL, NULL},
        {"1-0:43.7.0", 'n', 0.0, KM_UNIT_VAR, NULL, NULL},
        {"1-0:44.7.0", 'n', 3.0, KM_UNIT_VAR, NULL, NULL},
        {"1-0:63.7.0", 'n', 0.0, KM_UNIT_VAR, NULL, NULL},
        {"1-0:64.7.0", 'n', 43.0, KM_UNIT_VAR, NULL, NULL},
        {"1-0:32.7.0", 'n', 229.4, KM_UNIT_V, NULL, NULL},
        {"1-0:52.7.0", 'n', 230.7, KM_UNIT_V, NULL, NULL},
        {"1-0:72.7.0", 'n', 230.1, KM_UNIT_V, NULL, NULL},
        {"1-0:31.7.0", 'n', 0.9, KM_UNIT_A, NULL, NULL},
        {"1-0:51.7.0", 'n', 0.0, KM_UNIT_A, NULL, NULL},
        {"1-0:71.7.0", 'n', 0.1, KM_UNIT_A, NULL, NULL},
};

static const expect exp_sagemcom_gh264[] = {
        {"0-0:96.1.7", 't', 0, KM_UNIT_NONE, "\\253740976_A", NULL},
        {"1-3:0.2.8", 't', 0, KM_UNIT_NONE, "50", NULL},
        {"0-0:1.0.0", 'd', 0, KM_UNIT_NONE, "2022-03-29T21:58:55", NULL},
        {"1-0:1.8.0", 'n', 9699947.0, KM_UNIT_WH, NULL, NULL},
        {"1-0:1.8.1", 'n', 6702031.0, KM_UNIT_WH, NULL, NULL},
        {"1-0:1.8.2", 'n', 2997916.0, KM_UNIT_WH, NULL, NULL},
        {"1-0:1.7.0", 'n', 274.0, KM_UNIT_W, NULL, NULL},
        {"1-0:2.8.0", 'n', 27.0, KM_UNIT_WH, NULL, NULL},
        {"1-0:2.8.1", 'n', 0.0, KM_UNIT_WH, NULL, NULL},
        {"1-0:2.8.2", 'n', 27.0, KM_UNIT_WH, NULL, NULL},
        {"1-0:2.7.0", 'n', 0.0, KM_UNIT_W, NULL, NULL},
        {"1-0:3.8.0", 'n', 4026308.0, KM_UNIT_VARH, NULL, NULL},
        {"1-0:3.8.1", 'n', 2459288.0, KM_UNIT_VARH, NULL, NULL},
        {"1-0:3.8.2", 'n', 1567020.0, KM_UNIT_VARH, NULL, NULL},
        {"1-0:3.7.0", 'n', 0.0, KM_UNIT_VAR, NULL, NULL},
        {"1-0:4.8.0", 'n', 2181439.0, KM_UNIT_VARH, NULL, NULL},
        {"1-0:4.8.1", 'n', 1487283.0, KM_UNIT_VARH, NULL, NULL},
        {"1-0:4.8.2", 'n', 694156.0, KM_UNIT_VARH, NULL, NULL},
        {"1-0:4.7.0", 'n', 216.0, KM_UNIT_VAR, NULL, NULL},
};

/* ---- helpers ------------------------------------------------------------- */

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* One framer result, as compared between chunkings. */
typedef struct p1_rec {
        km_p1_result result;
        km_p1_verdict verdict;
        size_t len;
        uint16_t text_crc;
        bool has_crc;
        uint16_t crc;
} p1_rec;

typedef struct p1_log {
        p1_rec rec[64];
        size_t n;
        size_t skipped;
        size_t good;
        size_t rejected[4]; /* by verdict */
        char first_good[KM_P1_MAX]; /* the first good telegram's text */
        size_t first_good_len;
} p1_log;

static void take(p1_log *log, km_p1_result r, const km_p1_out *o)
{
        log->skipped += o->skipped;
        if (r == KM_P1_NEED_MORE)
                return;
        assert_true(log->n < N(log->rec));
        assert_true(o->len <= KM_P1_MAX);
        assert_true(o->crc_len <= o->len);
        p1_rec *e = &log->rec[log->n++];
        e->result = r;
        e->verdict = o->verdict;
        e->len = o->len;
        e->text_crc = km_crc16_arc((const uint8_t *)o->text, o->len);
        e->has_crc = o->has_crc;
        e->crc = o->crc;
        assert_int_equal(r == KM_P1_TELEGRAM, o->verdict == KM_P1_GOOD);
        assert_int_equal(o->status, km_p1_verdict_status(o->verdict));
        if (r == KM_P1_TELEGRAM) {
                if (log->good++ == 0) {
                        memcpy(log->first_good, o->text, o->len);
                        log->first_good_len = o->len;
                }
        } else {
                log->rejected[o->verdict]++;
        }
}

/* Feeds data to a fresh framer: chunk 0 = all at once, 1 = byte by byte,
 * CHUNK_RANDOM = random sizes; pulls results after every push. */
static void p1_feed(const void *data, size_t n, size_t chunk, uint64_t seed, bool ignore_crc, p1_log *log)
{
        static km_p1 p;
        const uint8_t *b = data;
        memset(log, 0, sizeof(*log));
        km_p1_init(&p);
        p.ignore_crc = ignore_crc;
        prng rng;
        prng_seed(&rng, seed);
        km_p1_out o;
        for (size_t off = 0; off < n;) {
                size_t want = chunk == 0 ? n - off : chunk == CHUNK_RANDOM ? prng_range(&rng, 1, 600) : chunk;
                if (want > n - off)
                        want = n - off;
                size_t end = off + want;
                while (off < end) {
                        off += km_p1_push(&p, b + off, end - off);
                        km_p1_result r;
                        while ((r = km_p1_next(&p, &o)) != KM_P1_NEED_MORE)
                                take(log, r, &o);
                        take(log, r, &o);
                }
        }
        km_p1_finish(&p);
        km_p1_result r;
        while ((r = km_p1_next(&p, &o)) != KM_P1_NEED_MORE)
                take(log, r, &o);
        take(log, r, &o);
}

static void assert_p1_logs_equal(const p1_log *a, const p1_log *b)
{
        assert_int_equal(a->n, b->n);
        for (size_t i = 0; i < a->n; i++) {
                assert_int_equal(a->rec[i].result, b->rec[i].result);
                assert_int_equal(a->rec[i].verdict, b->rec[i].verdict);
                assert_int_equal(a->rec[i].len, b->rec[i].len);
                assert_int_equal(a->rec[i].text_crc, b->rec[i].text_crc);
                assert_int_equal(a->rec[i].has_crc, b->rec[i].has_crc);
                assert_int_equal(a->rec[i].crc, b->rec[i].crc);
        }
        assert_int_equal(a->skipped, b->skipped);
}

/* All at once, byte by byte, in random chunks and in 7-byte chunks: the
 * same results. Returns the all-at-once log in ret. */
static void p1_feed_all_ways(const void *data, size_t n, bool ignore_crc, p1_log *ret)
{
        static p1_log other;
        p1_feed(data, n, 0, 0, ignore_crc, ret);
        static const size_t chunks[] = {1, CHUNK_RANDOM, 7};
        for (size_t i = 0; i < N(chunks); i++) {
                p1_feed(data, n, chunks[i], 77 + i, ignore_crc, &other);
                assert_p1_logs_equal(ret, &other);
        }
}

static km_reading *new_reading(void)
{
        km_reading *r = malloc(sizeof(*r));
        assert_non_null(r);
        memset(r, 0xA5, sizeof(*r)); /* the parser must set what it uses */
        return r;
}

static bool code_is(const km_value *v, const char *code)
{
        char s[KM_OBIS_STR_MAX];
        km_obis_format(v->obis, s, sizeof(s));
        size_t n = strlen(code);
        return strncmp(s, code, n) == 0 && strcmp(s + n, ".255") == 0;
}

static void assert_value(const km_value *v, const expect *e)
{
        char buf[KM_TEXT_RAW_MAX];
        switch (e->kind) {
        case 'n':
                assert_int_equal(v->kind, KM_VALUE_NUMBER);
                assert_double_near(km_value_number(v), e->num);
                assert_int_equal(v->unit, e->unit);
                break;
        case 't':
                assert_int_equal(v->kind, KM_VALUE_TEXT);
                assert_string_equal(km_value_text_raw(v, buf, sizeof(buf)), e->text);
                break;
        case 'd':
                assert_int_equal(v->kind, KM_VALUE_DATETIME);
                assert_string_equal(km_datetime_iso8601(&v->datetime, buf, sizeof(buf)), e->text);
                break;
        default:
                fail_msg("bad expectation kind");
        }
        assert_int_equal(v->has_captured, e->captured != NULL);
        if (e->captured)
                assert_string_equal(km_datetime_iso8601(&v->captured, buf, sizeof(buf)), e->captured);
}

/* Every stated value is in the reading (repeated codes in order), and
 * nothing else is. */
static void assert_expected(const km_reading *r, const expect *e, size_t n)
{
        bool used[KM_READING_MAX_VALUES] = {false};
        for (size_t i = 0; i < n; i++) {
                size_t k = 0;
                while (k < r->n_values && (used[k] || !code_is(&r->values[k], e[i].code)))
                        k++;
                if (k == r->n_values)
                        fail_msg("value %zu (%s) missing", i, e[i].code);
                used[k] = true;
                assert_value(&r->values[k], &e[i]);
        }
        assert_int_equal(r->n_values, n);
        assert_int_equal(r->n_dropped, 0);
        assert_int_equal(r->n_unparsed, 0);
}

/* Frames a capture all ways, expects exactly one telegram with this
 * verdict, parses it and checks it against the stated values. */
static void check_capture(const char *rel, km_p1_verdict verdict, bool has_crc, const expect *e, size_t n,
                          const char *maker, const char *list_name)
{
        size_t len;
        uint8_t *data = load_data_file(rel, &len);
        static p1_log log;
        p1_feed_all_ways(data, len, false, &log);
        assert_int_equal(log.n, 1);
        assert_int_equal(log.rec[0].verdict, verdict);
        assert_int_equal(log.rec[0].has_crc, has_crc);
        /* the reading: from the framer, or (for a rejected one) with the CRC
         * check off, which must not change what is found */
        if (verdict != KM_P1_GOOD) {
                static p1_log forced;
                p1_feed_all_ways(data, len, true, &forced);
                if (verdict == KM_P1_BAD_CRC) {
                        assert_int_equal(forced.good, 1);
                        memcpy(log.first_good, forced.first_good, forced.first_good_len);
                        log.first_good_len = forced.first_good_len;
                } else {
                        /* no '!' at all: the parser takes the text as it is */
                        size_t at = 0;
                        while (data[at] != '/')
                                at++;
                        memcpy(log.first_good, data + at, len - at);
                        log.first_good_len = len - at;
                }
        }
        km_reading *r = new_reading();
        assert_int_equal(km_p1_parse(log.first_good, log.first_good_len, r), KM_OK);
        assert_expected(r, e, n);
        if (maker)
                assert_string_equal(r->maker, maker);
        else
                assert_null(r->maker);
        assert_string_equal(r->list_name, list_name);
        free(r);
        free(data);
}

#define CHECK_CAPTURE(rel, verdict, has_crc, table, maker, list)                                  \
        check_capture("captures/" rel, verdict, has_crc, table, N(table), maker, list)

/* ---- the captures -------------------------------------------------------- */

static void test_amshan(void **state)
{
        (void)state;
        CHECK_CAPTURE("amshan/p1-a-landisgyr-360.txt", KM_P1_GOOD, true, exp_amshan_a, "Landis+Gyr", "DSMR P1");
        CHECK_CAPTURE("amshan/p1-b.txt", KM_P1_GOOD, false, exp_amshan_b, "Xemex", "DSMR 4.2 P1");
        CHECK_CAPTURE("amshan/p1-c.txt", KM_P1_GOOD, true, exp_amshan_c, "Elgama", "DSMR P1");
        CHECK_CAPTURE("amshan/p1-d-landisgyr-360.txt", KM_P1_GOOD, true, exp_amshan_d, "Landis+Gyr", "DSMR P1");
        /* a CRLF before /KAM5: line ends between telegrams are not garbage */
        CHECK_CAPTURE("amshan/p1-kamstrup.txt", KM_P1_GOOD, true, exp_amshan_kamstrup, "Kamstrup", "DSMR P1");
}

static void test_amsreader(void **state)
{
        (void)state;
        /* the meter id was redacted in the published telegram, so its CRC no
         * longer matches: rejected as it should be; the values with the
         * check off */
        CHECK_CAPTURE("amsreader/elgama/gh1177-1.txt", KM_P1_BAD_CRC, true, exp_elgama_gh1177, "Elgama", "DSMR P1");
        /* Slovenian Iskra: no CRC after '!' */
        CHECK_CAPTURE("amsreader/iskraemeco/gh1037-1.txt", KM_P1_GOOD, false, exp_iskra_gh1037, "Iskraemeco", "DSMR P1");
        CHECK_CAPTURE("amsreader/kamstrup/gh578-1.txt", KM_P1_GOOD, true, exp_kamstrup_gh578, "Kamstrup", "DSMR P1");
        CHECK_CAPTURE("amsreader/kamstrup/gh699-1.txt", KM_P1_GOOD, true, exp_kamstrup_gh699, "Kamstrup", "DSMR P1");
        CHECK_CAPTURE("amsreader/kamstrup/gh934-2.txt", KM_P1_GOOD, true, exp_kamstrup_gh934, "Kamstrup", "DSMR P1");
        CHECK_CAPTURE("amsreader/landis-gyr/gh382-1.txt", KM_P1_GOOD, true, exp_lg_gh382, "Landis+Gyr", "DSMR P1");
        CHECK_CAPTURE("amsreader/landis-gyr/gh497-1.txt", KM_P1_GOOD, true, exp_lg_gh497, "Landis+Gyr", "DSMR P1");
        /* Austrian Sagemcom, decrypted by the reporter: the text stops
         * before '!', so the framer calls it truncated; the parser still
         * reads every line (Wh, W, varh, var as sent) */
        CHECK_CAPTURE("amsreader/sagemcom/gh264-1.txt", KM_P1_TRUNCATED, false, exp_sagemcom_gh264, NULL, "DSMR 5.0 P1");
}

/* gh264-2 is the reporter's annotated hex of an encrypted frame, not a
 * telegram: its "// comment" lines are stray slashes, not maker flags. */
static void test_annotated_hex_is_no_telegram(void **state)
{
        (void)state;
        size_t len;
        uint8_t *data = load_data_file("captures/amsreader/sagemcom/gh264-2.txt", &len);
        static p1_log log;
        p1_feed_all_ways(data, len, false, &log);
        assert_int_equal(log.n, 0);
        assert_true(log.skipped > len / 2);
        free(data);
}

/* Decoded forms of texts sent hex-encoded, and the time flags. */
static void test_decoded_texts_and_times(void **state)
{
        (void)state;
        size_t len;
        uint8_t *data = load_data_file("captures/amshan/p1-b.txt", &len);
        km_reading *r = new_reading();
        assert_int_equal(km_p1_parse((const char *)data, len, r), KM_OK);
        const km_value *id = km_reading_find(r, "meter_id");
        assert_non_null(id);
        assert_true(id->text_hex);
        assert_string_equal(id->text, "E2206017647934515");
        assert_string_equal(km_reading_text(r, "mbus1_id"), "G1018340158872434");
        /* S = summer time: the DST bit; the offset is not in the telegram */
        assert_true(r->has_clock);
        assert_int_equal(r->clock.status, 0x80);
        assert_int_equal(r->clock.deviation, KM_DEVIATION_UNSPECIFIED);
        const km_value *gas = km_reading_find(r, "mbus1_delivered");
        assert_non_null(gas);
        assert_int_equal(gas->obis[1], 1); /* the channel */
        assert_int_equal(gas->captured.status, 0x80);
        assert_string_equal(gas->info->device_class, "gas");
        assert_string_equal(gas->info->state_class, "total_increasing");
        /* the power failure log: the count as sent, the entries given */
        const km_value *log = km_reading_find(r, "power_failure_log");
        assert_non_null(log);
        assert_int_equal(log->raw, 5);
        assert_false(log->log_entry);
        for (int i = 1; i <= 2; i++) { /* its entries follow it, flagged, without table entry */
                assert_true(log[i].log_entry && log[i].has_captured && log[i].info == NULL);
                assert_int_equal(log[i].unit, KM_UNIT_SECOND);
        }
        assert_false(log[3].log_entry);
        /* ids that do not spell printable ASCII stay as sent */
        free(data);
        data = load_data_file("captures/beyond/kaifa/dsmrp_v4_2.txt", &len);
        assert_int_equal(km_p1_parse((const char *)data, len, r), KM_OK);
        id = km_reading_find(r, "meter_id");
        assert_false(id->text_hex);
        assert_string_equal(id->text, "3960221976967177082151037881335713");
        assert_int_equal(r->clock.status, 0x00); /* W */
        free(data);
        free(r);
}

/* ---- beyond/manifest.json ------------------------------------------------ */

/* The value a manifest key names: "C.D.E" (any A-B but an M-Bus channel),
 * or "cN:C.D.E" (channel N). The first one: buffer entries come after the
 * current value of their code. */
static const km_value *manifest_value(const km_reading *r, const char *key)
{
        unsigned ch = 0, c, d, e;
        if (sscanf(key, "c%u:%u.%u.%u", &ch, &c, &d, &e) != 4) {
                ch = 0;
                if (sscanf(key, "%u.%u.%u", &c, &d, &e) != 3)
                        fail_msg("bad manifest key %s", key);
        }
        for (size_t i = 0; i < r->n_values; i++) {
                const km_value *v = &r->values[i];
                bool channel = v->obis[0] == 0 && v->obis[1] > 0;
                if (v->obis[2] != c || v->obis[3] != d || v->obis[4] != e)
                        continue;
                if (ch ? channel && v->obis[1] == ch : !channel)
                        return v;
        }
        return NULL;
}

static void check_manifest_value(const km_reading *r, const char *file, const char *key, json_object *want)
{
        const km_value *v = manifest_value(r, key);
        if (!v)
                fail_msg("%s: %s missing", file, key);
        char raw[KM_TEXT_RAW_MAX];
        if (json_object_is_type(want, json_type_string)) {
                const char *s = json_object_get_string(want);
                if (v->kind != KM_VALUE_TEXT)
                        fail_msg("%s: %s is not a text", file, key);
                km_value_text_raw(v, raw, sizeof(raw));
                if (strlen(s) < sizeof(raw) - 1) {
                        assert_string_equal(raw, s);
                } else {
                        /* longer than a reading holds: the start is kept */
                        assert_true(strlen(raw) >= 2 * (KM_TEXT_MAX - 1));
                        assert_memory_equal(raw, s, strlen(raw));
                }
        } else {
                if (v->kind != KM_VALUE_NUMBER)
                        fail_msg("%s: %s is not a number", file, key);
                assert_double_near(km_value_number(v), json_object_get_double(want));
        }
}

static void test_beyond_manifest(void **state)
{
        (void)state;
        char path[1024];
        snprintf(path, sizeof(path), "%s/captures/beyond/manifest.json", KM_TEST_DATA);
        json_object *m = json_object_from_file(path);
        assert_non_null(m);
        json_object *records;
        assert_true(json_object_object_get_ex(m, "records", &records));
        size_t checked = 0, values = 0;
        km_reading *r = new_reading();
        for (size_t i = 0; i < json_object_array_length(records); i++) {
                json_object *rec = json_object_array_get_idx(records, i), *o, *expected;
                if (!json_object_object_get_ex(rec, "framing", &o) || strcmp(json_object_get_string(o), "p1") != 0)
                        continue;
                assert_true(json_object_object_get_ex(rec, "file", &o));
                const char *file = json_object_get_string(o);
                char rel[512];
                snprintf(rel, sizeof(rel), "captures/beyond/%s", file);
                size_t len;
                uint8_t *data = load_data_file(rel, &len);
                static p1_log log;
                p1_feed_all_ways(data, len, false, &log);
                if (log.good != 1 || log.n != 1)
                        fail_msg("%s: %zu results, %zu good", file, log.n, log.good);
                assert_int_equal(km_p1_parse(log.first_good, log.first_good_len, r), KM_OK);
                assert_int_equal(r->n_unparsed, 0);
                assert_int_equal(r->n_dropped, 0);
                assert_true(json_object_object_get_ex(rec, "expected", &expected));
                json_object_object_foreach(expected, key, want) {
                        check_manifest_value(r, file, key, want);
                        values++;
                }
                checked++;
                free(data);
        }
        /* the manifest as it is now: eight P1 records, 199 values */
        assert_true(checked >= 8);
        assert_true(values >= 199);
        free(r);
        json_object_put(m);
}

/* ---- the framer ---------------------------------------------------------- */

static uint8_t *load_text(const char *rel, size_t *len)
{
        char p[512];
        snprintf(p, sizeof(p), "captures/%s", rel);
        return load_data_file(p, len);
}

typedef struct buf {
        uint8_t *p;
        size_t n;
} buf;

static void put(buf *b, const void *p, size_t n)
{
        b->p = realloc(b->p, b->n + n + 1);
        assert_non_null(b->p);
        memcpy(b->p + b->n, p, n);
        b->n += n;
}

static void put_file(buf *b, const char *rel)
{
        size_t n;
        uint8_t *d = load_text(rel, &n);
        put(b, d, n);
        free(d);
}

static void test_crc16_arc(void **state)
{
        (void)state;
        assert_int_equal(km_crc16_arc((const uint8_t *)"123456789", 9), 0xBB3D);
        assert_int_equal(km_crc16_arc(NULL, 0), 0);
}

/* A CRC that does not match: rejected and counted; the good telegram after
 * it is still found. */
static void test_bad_crc(void **state)
{
        (void)state;
        buf b = {0};
        put_file(&b, "amshan/p1-c.txt");
        uint8_t *digit = memchr(b.p, '5', b.n); /* a digit of a value, not of the CRC */
        assert_non_null(digit);
        *digit = '6';
        put_file(&b, "amshan/p1-d-landisgyr-360.txt");
        static p1_log log;
        p1_feed_all_ways(b.p, b.n, false, &log);
        assert_int_equal(log.n, 2);
        assert_int_equal(log.rec[0].result, KM_P1_REJECT);
        assert_int_equal(log.rec[0].verdict, KM_P1_BAD_CRC);
        assert_int_equal(log.rejected[KM_P1_BAD_CRC], 1);
        assert_int_equal(log.rec[1].result, KM_P1_TELEGRAM);
        assert_int_equal(log.rec[1].crc, 0x8012);
        assert_int_equal(log.skipped, 0);
        free(b.p);
}

/* A telegram cut in the middle: rejected as truncated when the next '/'
 * starts; the next telegram is whole. Also at the end of input. */
static void test_cut_in_the_middle(void **state)
{
        (void)state;
        buf b = {0};
        size_t n;
        uint8_t *c = load_text("amshan/p1-c.txt", &n);
        put(&b, c, 300); /* inside a value */
        put_file(&b, "amshan/p1-d-landisgyr-360.txt");
        put(&b, c, 500); /* and cut again at the end */
        static p1_log log;
        p1_feed_all_ways(b.p, b.n, false, &log);
        assert_int_equal(log.n, 3);
        assert_int_equal(log.rec[0].verdict, KM_P1_TRUNCATED);
        assert_int_equal(log.rec[0].len, 300);
        assert_int_equal(log.rec[1].verdict, KM_P1_GOOD);
        assert_int_equal(log.rec[2].verdict, KM_P1_TRUNCATED);
        assert_int_equal(log.rec[2].len, 500);
        assert_int_equal(log.good, 1);
        /* cut after '!' and two CRC digits: taken as an unpadded CRC, wrong */
        const char *bang = memchr(c, '!', n);
        size_t upto = (size_t)(bang - (const char *)c) + 3;
        p1_feed_all_ways(c, upto, false, &log);
        assert_int_equal(log.n, 1);
        assert_int_equal(log.rec[0].verdict, KM_P1_BAD_CRC);
        /* cut right after '!': a telegram without CRC, as DSMR 2.2 sends */
        p1_feed_all_ways(c, upto - 2, false, &log);
        assert_int_equal(log.n, 1);
        assert_int_equal(log.rec[0].verdict, KM_P1_GOOD);
        assert_false(log.rec[0].has_crc);
        free(c);
        free(b.p);
}

/* Two telegrams glued: p1-a ends right after its CRC (no line end). */
static void test_two_glued(void **state)
{
        (void)state;
        buf b = {0};
        put_file(&b, "amshan/p1-a-landisgyr-360.txt");
        assert_int_equal(b.p[b.n - 1], '7'); /* !A077 */
        put_file(&b, "amshan/p1-d-landisgyr-360.txt");
        put_file(&b, "beyond/iskraemeco/dsmrp_v2_2.txt"); /* no CRC */
        put_file(&b, "beyond/nwa/dsmrp_unpadded_crc.txt"); /* !B9F */
        put_file(&b, "beyond/iskraemeco/dsmrp_v3.txt");
        static p1_log log;
        p1_feed_all_ways(b.p, b.n, false, &log);
        assert_int_equal(log.n, 5);
        assert_int_equal(log.good, 5);
        assert_int_equal(log.rec[0].crc, 0xA077);
        assert_int_equal(log.rec[1].crc, 0x8012);
        assert_false(log.rec[2].has_crc);
        assert_true(log.rec[3].has_crc);
        assert_int_equal(log.rec[3].crc, 0x0B9F);
        assert_false(log.rec[4].has_crc);
        assert_int_equal(log.skipped, 0);
        free(b.p);
}

/* Garbage before, between and after telegrams is skipped and counted (line
 * ends are not counted); noise that holds '!' but no '/' opens nothing. */
static void test_garbage_between(void **state)
{
        (void)state;
        static const char noise[] = "\x00\xff\x7e\xa0 noise!1234 \r\n\x80";
        buf b = {0};
        put(&b, noise, sizeof(noise) - 1);
        put_file(&b, "amshan/p1-c.txt");
        put(&b, noise, sizeof(noise) - 1);
        put_file(&b, "beyond/kaifa/dsmrp_v4_2.txt");
        put(&b, noise, sizeof(noise) - 1);
        static p1_log log;
        p1_feed_all_ways(b.p, b.n, false, &log);
        assert_int_equal(log.n, 2);
        assert_int_equal(log.good, 2);
        assert_int_equal(log.skipped, 3 * (sizeof(noise) - 1 - 2));
        free(b.p);
}

/* Rewrites a telegram's line ends as eol and gives it the CRC of the new
 * text (the CRC covers the line ends). */
static size_t relined(const uint8_t *src, size_t n, const char *eol, char *out, size_t cap)
{
        size_t o = 0, eol_n = strlen(eol);
        for (size_t i = 0; i < n; i++) {
                if (src[i] == '\r')
                        continue;
                if (src[i] == '\n') {
                        assert_true(o + eol_n < cap);
                        memcpy(out + o, eol, eol_n);
                        o += eol_n;
                        continue;
                }
                assert_true(o + 1 < cap);
                out[o++] = (char)src[i];
                if (src[i] == '!')
                        break;
        }
        assert_true(o + 4 + eol_n < cap);
        o += (size_t)snprintf(out + o, cap - o, "%04X%s", km_crc16_arc((const uint8_t *)out, o), eol);
        return o;
}

static void test_line_ends(void **state)
{
        (void)state;
        static const char *const eols[] = {"\r", "\n", "\r\n"};
        static const char *const files[] = {"beyond/iskraemeco/dsmrp_v5_two_mbus.txt",
                                            "beyond/iskraemeco/dsmrp_v2_2.txt", /* continued lines */
                                            "beyond/fluvius/dsmrp_fluvius_v171.txt"};
        static char text[4096];
        static p1_log log;
        km_reading *want = new_reading(), *got = new_reading();
        for (size_t f = 0; f < N(files); f++) {
                size_t n;
                uint8_t *orig = load_text(files[f], &n);
                assert_int_equal(km_p1_parse((const char *)orig, n, want), KM_OK);
                assert_int_equal(want->n_unparsed, 0);
                for (size_t e = 0; e < N(eols); e++) {
                        size_t tn = relined(orig, n, eols[e], text, sizeof(text));
                        buf two = {0}; /* twice, so the line end after the CRC is between telegrams */
                        put(&two, text, tn);
                        put(&two, text, tn);
                        p1_feed_all_ways(two.p, two.n, false, &log);
                        assert_int_equal(log.good, 2);
                        assert_int_equal(log.n, 2);
                        assert_int_equal(log.skipped, 0);
                        assert_int_equal(km_p1_parse(log.first_good, log.first_good_len, got), KM_OK);
                        assert_int_equal(got->n_unparsed, 0);
                        assert_int_equal(reading_digest(got), reading_digest(want));
                        free(two.p);
                }
                free(orig);
        }
        free(want);
        free(got);
}

/* DSMR 2.2 at 9600 7E1 read as 8N1: every byte whose 7 bits have an odd
 * number of ones arrives with bit 7 set (the even parity bit). '/' (five
 * ones) becomes 0xAF, so no telegram starts: no values, only skipped bytes. */
static void test_7e1_read_as_8n1(void **state)
{
        (void)state;
        size_t n;
        uint8_t *d = load_text("beyond/iskraemeco/dsmrp_v2_2.txt", &n);
        size_t kept_line_ends = 0;
        for (size_t i = 0; i < n; i++) {
                if (__builtin_parity(d[i]))
                        d[i] |= 0x80;
                kept_line_ends += d[i] == '\r' || d[i] == '\n';
        }
        static p1_log log;
        p1_feed_all_ways(d, n, false, &log);
        assert_int_equal(log.n, 0);
        assert_int_equal(log.skipped, n - kept_line_ends);
        /* the same bytes with bit 7 cleared (read as 7 bits) are a telegram */
        for (size_t i = 0; i < n; i++)
                d[i] &= 0x7F;
        p1_feed_all_ways(d, n, false, &log);
        assert_int_equal(log.good, 1);
        free(d);
}

/* No '!' within KM_P1_MAX bytes: rejected as too long, the rest of it
 * counted as skipped, and the next telegram found. */
static void test_too_long(void **state)
{
        (void)state;
        buf b = {0};
        put(&b, "/XXX5 endless\r\n", 15);
        for (size_t i = 0; i < KM_P1_MAX; i++)
                put(&b, "0", 1);
        put_file(&b, "amshan/p1-d-landisgyr-360.txt");
        static p1_log log;
        p1_feed_all_ways(b.p, b.n, false, &log);
        assert_int_equal(log.n, 2);
        assert_int_equal(log.rec[0].verdict, KM_P1_TOO_LONG);
        assert_int_equal(log.rec[0].len, KM_P1_MAX);
        assert_int_equal(log.rec[1].verdict, KM_P1_GOOD);
        /* the buffer held the 15-byte first line and KM_P1_MAX - 15 zeros */
        assert_int_equal(log.skipped, 15);
        free(b.p);
}

/* km_p1_check() agrees with the framer on whole texts. */
static void test_check_agrees(void **state)
{
        (void)state;
        static const char *const files[] = {"amshan/p1-a-landisgyr-360.txt", "amshan/p1-b.txt",
                                            "beyond/nwa/dsmrp_unpadded_crc.txt",
                                            "amsreader/elgama/gh1177-1.txt"};
        static p1_log log;
        for (size_t f = 0; f < N(files); f++) {
                size_t n;
                uint8_t *d = load_text(files[f], &n);
                p1_feed(d, n, 0, 0, false, &log);
                assert_int_equal(log.n, 1);
                size_t at = 0;
                while (d[at] != '/')
                        at++;
                km_p1_out o;
                assert_int_equal(km_p1_check((const char *)d + at, n - at, &o), log.rec[0].verdict);
                assert_int_equal(o.len, log.rec[0].len);
                assert_int_equal(o.crc, log.rec[0].crc);
                assert_int_equal(o.has_crc, log.rec[0].has_crc);
                free(d);
        }
        km_p1_out o;
        assert_int_equal(km_p1_check("/ABC5 x\r\n1-0:1.8.0(1*kWh)", 25, &o), KM_P1_TRUNCATED);
        assert_int_equal(km_p1_check("", 0, NULL), KM_P1_TRUNCATED);
}

/* ---- the decoder's pipeline ---------------------------------------------- */

/* The decoder finds the P1 transport by itself (and with it forced) and
 * gives the same events however the bytes are chunked: readings with the
 * parser's content, a bad CRC and a cut telegram rejected and counted. */
static void test_decoder_pipeline(void **state)
{
        (void)state;
        static const char noise[] = "\x00\xff\x7e\xa0 noise\r\n";
        static const char *const good[] = {"amshan/p1-b.txt", "amshan/p1-c.txt", "beyond/iskraemeco/dsmrp_v5.txt",
                                           "beyond/fluvius/dsmrp_fluvius_v171.txt"};
        buf b = {0};
        uint32_t digests[4];
        km_reading *r = new_reading();
        put(&b, noise, sizeof(noise) - 1);
        for (size_t i = 0; i < N(good); i++) {
                size_t n;
                uint8_t *d = load_text(good[i], &n);
                put(&b, d, n);
                size_t at = 0;
                while (d[at] != '/')
                        at++;
                assert_int_equal(km_p1_parse((const char *)d + at, n - at, r), KM_OK);
                digests[i] = reading_digest(r);
                free(d);
                if (i == 1) { /* a telegram with a wrong CRC, and one cut short */
                        size_t m;
                        uint8_t *bad = load_text("amshan/p1-d-landisgyr-360.txt", &m);
                        bad[100] ^= 1;
                        put(&b, bad, m);
                        put(&b, bad, 200);
                        free(bad);
                }
        }
        static const km_transport transports[] = {KM_TRANSPORT_AUTO, KM_TRANSPORT_P1};
        for (size_t t = 0; t < N(transports); t++) {
                km_decoder_options opt = {.transport = transports[t]};
                ev_log all, other;
                feed_opt(&opt, b.p, b.n, 0, 0, true, &all);
                static const size_t chunks[] = {1, CHUNK_RANDOM, 7};
                for (size_t c = 0; c < N(chunks); c++) {
                        feed_opt(&opt, b.p, b.n, chunks[c], 500 + c, true, &other);
                        assert_logs_equal(&all, &other);
                        ev_log_free(&other);
                }
                assert_int_equal(ev_count(&all, KM_EVENT_READING, 0), 4);
                assert_int_equal(ev_count(&all, KM_EVENT_REJECT, KM_ERR_CHECKSUM), 1);
                assert_int_equal(ev_count(&all, KM_EVENT_REJECT, KM_ERR_TRUNCATED), 1);
                assert_int_equal(all.stats.frames_good, 4);
                size_t k = 0;
                for (size_t i = 0; i < all.n; i++)
                        if (all.ev[i].kind == KM_EVENT_READING)
                                assert_int_equal(all.ev[i].digest, digests[k++]);
                ev_log_free(&all);
        }
        free(r);
        free(b.p);
}

/* ---- the parser ---------------------------------------------------------- */

/* Lines that do not parse are counted and skipped, never fatal. */
static void test_bad_lines_counted(void **state)
{
        (void)state;
        static const char t[] = "/ISk5\\2MT382-1000\r\n\r\n"
                                "1-0:1.8.1(000123.456*kWh)\r\n"
                                "garbage line\r\n"
                                "1-0:4:24.7.0(00.123*kW)\r\n"       /* malformed code (amsreader gh712-2) */
                                "1-0:1.8.2(abc*kWh)\r\n"            /* not a number */
                                "1-0:1.7.0(01.5*kW\r\n"             /* no ')' */
                                "1-0:2.7.0(01.5*furlongs)\r\n"      /* unknown unit */
                                "1-0:2.8.1(000001.000*kWh)trailing\r\n"
                                "1-0:99.97.0(x)(0-0:96.7.19)\r\n"   /* bad count */
                                "1-0:256.7.0(1*W)\r\n"              /* field > 255 */
                                "0-0:96.14.0(0002)\r\n"
                                "!\r\n";
        km_reading *r = new_reading();
        assert_int_equal(km_p1_parse(t, sizeof(t) - 1, r), KM_OK);
        assert_int_equal(r->n_unparsed, 8);
        assert_int_equal(r->n_values, 3); /* meter_type, 1.8.1, 96.14.0 */
        assert_string_equal(r->maker, "Iskraemeco");
        assert_double_near(km_value_number(km_reading_find(r, "energy_active_cum_import_t1")), 123.456);
        assert_string_equal(km_reading_text(r, "tariff_indicator"), "0002");
        /* no telegram at all */
        assert_int_equal(km_p1_parse("x", 1, r), KM_ERR_MALFORMED);
        assert_int_equal(km_p1_parse("/ABC5\r\nnot a line\r\n!", 20, r), KM_ERR_MALFORMED);
        free(r);
}

/* More values than a reading holds: the rest counted in n_dropped. */
static void test_too_many_values(void **state)
{
        (void)state;
        static char t[8192];
        size_t n = (size_t)snprintf(t, sizeof(t), "/KFM5\r\n\r\n");
        for (int i = 0; i < KM_READING_MAX_VALUES + 10; i++)
                n += (size_t)snprintf(t + n, sizeof(t) - n, "1-0:1.8.%d(%06d.000*kWh)\r\n", i, i);
        n += (size_t)snprintf(t + n, sizeof(t) - n, "!");
        km_reading *r = new_reading();
        assert_int_equal(km_p1_parse(t, n, r), KM_OK);
        assert_int_equal(r->n_values, KM_READING_MAX_VALUES);
        assert_int_equal(r->n_dropped, 10);
        free(r);
}

static void test_makers(void **state)
{
        (void)state;
        assert_string_equal(km_p1_maker("KFM"), "Kaifa");
        assert_string_equal(km_p1_maker("ISk"), "Iskraemeco");
        assert_string_equal(km_p1_maker("lgf"), "Landis+Gyr");
        assert_null(km_p1_maker("ZZZ"));
}

/* The OBIS table stays sorted (it is searched by halves) with the P1 rows. */
static void test_obis_table_sorted(void **state)
{
        (void)state;
        size_t n;
        const km_obis_info *t = km_obis_table(&n);
        for (size_t i = 1; i < n; i++)
                assert_true(memcmp(t[i - 1].obis, t[i].obis, 6) < 0);
        for (size_t i = 0; i < n; i++)
                assert_ptr_equal(km_obis_lookup(t[i].obis), &t[i]);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_crc16_arc),
                cmocka_unit_test(test_amshan),
                cmocka_unit_test(test_amsreader),
                cmocka_unit_test(test_annotated_hex_is_no_telegram),
                cmocka_unit_test(test_decoded_texts_and_times),
                cmocka_unit_test(test_beyond_manifest),
                cmocka_unit_test(test_bad_crc),
                cmocka_unit_test(test_cut_in_the_middle),
                cmocka_unit_test(test_two_glued),
                cmocka_unit_test(test_garbage_between),
                cmocka_unit_test(test_line_ends),
                cmocka_unit_test(test_7e1_read_as_8n1),
                cmocka_unit_test(test_too_long),
                cmocka_unit_test(test_check_agrees),
                cmocka_unit_test(test_decoder_pipeline),
                cmocka_unit_test(test_bad_lines_counted),
                cmocka_unit_test(test_too_many_values),
                cmocka_unit_test(test_makers),
                cmocka_unit_test(test_obis_table_sorted),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
