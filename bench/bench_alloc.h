/*
 * Heap allocation counter for the benchmark.
 *
 * Counts every malloc, calloc, realloc and aligned allocation the process
 * makes, from the benchmark, the decoder core and libc alike, so a reading
 * taken before and after the decode loop tells how many allocations the
 * loop made. See bench_alloc.c for how the calls are caught.
 */
#ifndef KM_BENCH_ALLOC_H
#define KM_BENCH_ALLOC_H

#include <stdbool.h>
#include <stdint.h>

/* Starts counting (installs hooks where needed). False when this build has
 * no way to count; the benchmark then says so instead of printing 0. */
bool bench_alloc_start(void);

/* Allocations counted so far. */
uint64_t bench_alloc_count(void);

/* How allocations are caught, for the report: "malloc interposition" ... */
const char *bench_alloc_method(void);

#endif
