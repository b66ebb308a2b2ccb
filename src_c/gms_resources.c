/*
 * A fit's memory and threads, claimed before the fit starts (see
 * gms_reserve_trial and gms_warm_threads in gms_kernels.h).
 *
 * Two failures cannot be turned into errors once they happen: libgomp
 * aborts the process when it cannot create a thread, and OpenBLAS retries
 * forever when it cannot map the per-thread buffer of its first call on a
 * thread. So a fit first maps, then unmaps, its estimated work memory plus
 * each thread's stack, malloc arena and BLAS buffers; only when that
 * succeeds does it start its threads and let each call BLAS once, after
 * which the threads, arenas and buffers stay for the process's lifetime
 * and the fit's own allocations fail cleanly (GMS_ERR_NOMEM).
 */
#define _DEFAULT_SOURCE 1
#include "gms_kernels.h"

#include <stdlib.h>
#include <string.h>

#if defined(__unix__) || defined(__APPLE__)
#define GMS_HAVE_MMAP 1
#include <pthread.h>
#include <sys/mman.h>
#endif

#ifdef _OPENMP
#include <omp.h>
#endif

void gms_blas_touch(void); /* gms_kernels.c */

/* Bytes of a size with an optional suffix (B, K, M, G; K by default), as
 * OMP_STACKSIZE takes it; 0 when not set or not understood. */
static size_t gms_env_size(const char *name)
{
    const char *s = getenv(name);
    if (s == NULL || *s == '\0') return 0;
    char *end = NULL;
    const unsigned long long v = strtoull(s, &end, 10);
    while (*end == ' ' || *end == '\t') ++end;
    size_t unit = 1024;
    switch (*end) {
    case 'b': case 'B': unit = 1; break;
    case 'k': case 'K': case '\0': unit = 1024; break;
    case 'm': case 'M': unit = (size_t)1 << 20; break;
    case 'g': case 'G': unit = (size_t)1 << 30; break;
    default: return 0;
    }
    return (size_t)v * unit;
}

size_t gms_thread_headroom(void)
{
    size_t stack = (size_t)8 << 20;
#ifdef GMS_HAVE_MMAP
    pthread_attr_t attr;
    if (pthread_attr_init(&attr) == 0) {
        size_t s = 0;
        if (pthread_attr_getstacksize(&attr, &s) == 0 && s > 0) stack = s;
        pthread_attr_destroy(&attr);
    }
#endif
    const size_t omp = gms_env_size("OMP_STACKSIZE");
    const size_t gomp = gms_env_size("GOMP_STACKSIZE");
    if (omp > stack) stack = omp;
    if (gomp > stack) stack = gomp;
    return stack + GMS_ARENA_HEADROOM + GMS_BLAS_HEADROOM;
}

/* Map (and release) `bytes` of private, writable memory: the address space
 * and commit charge a malloc of that size would take, without touching a
 * page and without changing malloc's own state. */
static void *gms_trial_map(size_t bytes)
{
    if (bytes == 0) bytes = 1;
#ifdef GMS_HAVE_MMAP
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
#else
    return malloc(bytes);
#endif
}

static void gms_trial_unmap(void *p, size_t bytes)
{
    if (p == NULL) return;
#ifdef GMS_HAVE_MMAP
    munmap(p, bytes == 0 ? 1 : bytes);
#else
    (void)bytes;
    free(p);
#endif
}

int gms_reserve_trial(size_t shared, size_t per_thread, int n_threads)
{
    if (n_threads < 1 || n_threads > GMS_MAX_TRIAL_THREADS) return GMS_ERR_ARG;
    /* the calling thread has its stack and arena already */
    const size_t first = per_thread + GMS_BLAS_HEADROOM;
    const size_t each = per_thread + gms_thread_headroom();
    if (first < per_thread || each < per_thread) return GMS_ERR_NOMEM; /* wrapped */
    void *maps[GMS_MAX_TRIAL_THREADS + 1] = {NULL};
    size_t sizes[GMS_MAX_TRIAL_THREADS + 1] = {0};
    int rc = GMS_OK;
    for (int t = 0; rc == GMS_OK && t <= n_threads; ++t) {
        sizes[t] = t == 0 ? shared : (t == 1 ? first : each);
        if ((maps[t] = gms_trial_map(sizes[t])) == NULL) rc = GMS_ERR_NOMEM;
    }
    for (int t = 0; t <= n_threads; ++t) gms_trial_unmap(maps[t], sizes[t]);
    return rc;
}

int gms_warm_threads(int n_threads)
{
    if (n_threads < 1) return GMS_ERR_ARG;
    int started = 1;
    gms_blas_pin(); /* the threads' BLAS calls run on their own threads */
    (void)n_threads;
#ifdef _OPENMP
#pragma omp parallel num_threads(n_threads)
#endif
    {
        /* a small allocation gives the thread its malloc arena */
        void *volatile p = malloc(64);
        free(p);
        gms_blas_touch();
#ifdef _OPENMP
#pragma omp single
        started = omp_get_num_threads();
#endif
    }
    gms_blas_unpin();
    return started;
}
