/*
 * The benchmark's input: the real captures concatenated and repeated in
 * memory to the requested size, so the decoder sees real frames, real
 * garbage between them and real damaged frames, at a realistic mix.
 */
#ifndef KM_BENCH_STREAM_H
#define KM_BENCH_STREAM_H

#include <stddef.h>
#include <stdint.h>

typedef struct bench_stream {
        uint8_t *bytes;       /* size bytes */
        size_t size;
        size_t n_files;       /* captures read */
        size_t base_size;     /* their total size: one copy */
} bench_stream;

/* Reads captures_dir/smidsrod/<folder>/<file>.bin and captures_dir/nordbo/<file>.bin
 * (sorted by name), then repeats them to exactly size bytes. Returns 0 or a
 * negative errno (-ENOENT when no capture was found); prints nothing. */
int bench_stream_build(const char *captures_dir, size_t size, bench_stream *ret);

/* The same from the files named (in that order), e.g. an M-Bus or P1
 * capture for one transport. */
int bench_stream_from_files(char *const *paths, size_t n_paths, size_t size, bench_stream *ret);

void bench_stream_free(bench_stream *s);

#endif
