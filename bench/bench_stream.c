/*
 * Builds the benchmark stream: glob(3) the capture files, read them into one
 * buffer (one copy), then fill the stream cyclically from that copy. Runs
 * before any timing, so it may allocate freely.
 */
#include "bench_stream.h"

#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const patterns[] = {
        "smidsrod/*/*.bin",
        "nordbo/*.bin",
};

/* Appends the whole file at path to *buf (size *len, capacity *cap). */
static int append_file(const char *path, uint8_t **buf, size_t *len, size_t *cap)
{
        FILE *f = fopen(path, "rb");
        if (!f)
                return -errno;
        int r = 0;
        for (;;) {
                if (*cap - *len < 65536) {
                        size_t ncap = *cap ? *cap * 2 : 1 << 20;
                        uint8_t *nb = realloc(*buf, ncap);
                        if (!nb) {
                                r = -ENOMEM;
                                break;
                        }
                        *buf = nb;
                        *cap = ncap;
                }
                size_t n = fread(*buf + *len, 1, *cap - *len, f);
                *len += n;
                if (n == 0) {
                        if (ferror(f))
                                r = -EIO;
                        break;
                }
        }
        fclose(f);
        return r;
}

static int read_captures(const char *dir, uint8_t **ret_buf, size_t *ret_len, size_t *ret_files)
{
        uint8_t *buf = NULL;
        size_t len = 0, cap = 0, files = 0;
        int r = 0;
        for (size_t i = 0; i < sizeof(patterns) / sizeof(patterns[0]) && r == 0; i++) {
                char pattern[4096];
                int w = snprintf(pattern, sizeof(pattern), "%s/%s", dir, patterns[i]);
                if (w < 0 || (size_t)w >= sizeof(pattern)) {
                        r = -ENAMETOOLONG;
                        break;
                }
                glob_t g;
                int gr = glob(pattern, 0, NULL, &g);
                if (gr == GLOB_NOMATCH)
                        continue;
                if (gr != 0) {
                        r = -EIO;
                        break;
                }
                for (size_t k = 0; k < g.gl_pathc && r == 0; k++) {
                        r = append_file(g.gl_pathv[k], &buf, &len, &cap);
                        files++;
                }
                globfree(&g);
        }
        if (r == 0 && len == 0)
                r = -ENOENT;
        if (r < 0) {
                free(buf);
                return r;
        }
        *ret_buf = buf;
        *ret_len = len;
        *ret_files = files;
        return 0;
}

/* Repeats base (which it frees) to exactly size bytes. */
static int repeat_to(uint8_t *base, size_t base_len, size_t files, size_t size, bench_stream *ret)
{
        uint8_t *s = malloc(size ? size : 1);
        if (!s || base_len == 0) {
                free(s);
                free(base);
                return base_len == 0 ? -ENOENT : -ENOMEM;
        }
        for (size_t off = 0; off < size;) {
                size_t n = size - off < base_len ? size - off : base_len;
                memcpy(s + off, base, n);
                off += n;
        }
        free(base);
        ret->bytes = s;
        ret->size = size;
        ret->n_files = files;
        ret->base_size = base_len;
        return 0;
}

int bench_stream_build(const char *captures_dir, size_t size, bench_stream *ret)
{
        uint8_t *base = NULL;
        size_t base_len = 0, files = 0;
        int r = read_captures(captures_dir, &base, &base_len, &files);
        if (r < 0)
                return r;
        return repeat_to(base, base_len, files, size, ret);
}

int bench_stream_from_files(char *const *paths, size_t n_paths, size_t size, bench_stream *ret)
{
        uint8_t *base = NULL;
        size_t len = 0, cap = 0;
        for (size_t i = 0; i < n_paths; i++) {
                int r = append_file(paths[i], &base, &len, &cap);
                if (r < 0) {
                        free(base);
                        return r;
                }
        }
        return repeat_to(base, len, n_paths, size, ret);
}

void bench_stream_free(bench_stream *s)
{
        if (!s)
                return;
        free(s->bytes);
        s->bytes = NULL;
        s->size = 0;
}
