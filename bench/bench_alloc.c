/*
 * Heap allocation counter: the benchmark binary defines malloc, calloc,
 * realloc and the aligned allocators itself and forwards them to glibc's
 * __libc_* entry points, so every allocation in the process (including those
 * libc makes internally) passes through here and is counted. ELF symbol
 * interposition needs no LD_PRELOAD and no link flags.
 *
 * Under AddressSanitizer the sanitizer owns malloc, so interposing it would
 * mix two allocators; there the sanitizer's allocation hook counts instead.
 */
#include "bench_alloc.h"

#include <errno.h>
#include <stddef.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define BENCH_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define BENCH_ASAN 1
#endif

static volatile uint64_t alloc_calls;

uint64_t bench_alloc_count(void)
{
        return alloc_calls;
}

#if defined(BENCH_ASAN)

int __sanitizer_install_malloc_and_free_hooks(void (*malloc_hook)(const volatile void *, size_t),
                                              void (*free_hook)(const volatile void *));

static void count_malloc(const volatile void *p, size_t size)
{
        (void)p;
        (void)size;
        alloc_calls++;
}

static void ignore_free(const volatile void *p)
{
        (void)p;
}

/* Both hooks must be given: the sanitizer refuses a NULL one. */
bool bench_alloc_start(void)
{
        return __sanitizer_install_malloc_and_free_hooks(count_malloc, ignore_free) != 0;
}

const char *bench_alloc_method(void)
{
        return "AddressSanitizer malloc hook";
}

#elif defined(__GLIBC__)

void *__libc_malloc(size_t size);
void *__libc_calloc(size_t nmemb, size_t size);
void *__libc_realloc(void *p, size_t size);
void *__libc_memalign(size_t alignment, size_t size);

void *malloc(size_t size)
{
        alloc_calls++;
        return __libc_malloc(size);
}

void *calloc(size_t nmemb, size_t size)
{
        alloc_calls++;
        return __libc_calloc(nmemb, size);
}

void *realloc(void *p, size_t size)
{
        alloc_calls++;
        return __libc_realloc(p, size);
}

void *aligned_alloc(size_t alignment, size_t size)
{
        alloc_calls++;
        return __libc_memalign(alignment, size);
}

void *memalign(size_t alignment, size_t size);
void *memalign(size_t alignment, size_t size)
{
        alloc_calls++;
        return __libc_memalign(alignment, size);
}

int posix_memalign(void **ret, size_t alignment, size_t size)
{
        if (alignment % sizeof(void *) != 0 || (alignment & (alignment - 1)) != 0)
                return EINVAL;
        alloc_calls++;
        void *p = __libc_memalign(alignment, size);
        if (!p)
                return ENOMEM;
        *ret = p;
        return 0;
}

bool bench_alloc_start(void)
{
        return true;
}

const char *bench_alloc_method(void)
{
        return "malloc/calloc/realloc/memalign interposed in the binary";
}

#else

bool bench_alloc_start(void)
{
        return false;
}

const char *bench_alloc_method(void)
{
        return "none (not glibc, no AddressSanitizer)";
}

#endif
