/* gmscore kernels: shared helpers, then the body for double and float. */
#include "gms_kernels.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

int gms_has_openmp(void)
{
#ifdef _OPENMP
    return 1;
#else
    return 0;
#endif
}

int gms_omp_max_threads(void)
{
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

ptrdiff_t gms_s2_size(int cov_type, ptrdiff_t k, ptrdiff_t d)
{
    switch (cov_type) {
    case GMS_FULL: return k * d * d;
    case GMS_DIAG:
    case GMS_SPHERICAL: return k * d;
    default: return 0;
    }
}

static inline ptrdiff_t gms_s2_offset(int cov_type, ptrdiff_t c, ptrdiff_t d)
{
    switch (cov_type) {
    case GMS_FULL: return c * d * d;
    case GMS_DIAG:
    case GMS_SPHERICAL: return c * d;
    default: return 0;
    }
}

static inline ptrdiff_t gms_min(ptrdiff_t a, ptrdiff_t b) { return a < b ? a : b; }

static inline ptrdiff_t gms_n_blocks(ptrdiff_t n)
{
    return (n + GMS_BLOCK_ROWS - 1) / GMS_BLOCK_ROWS;
}

/* The slot count depends on the data size only, never on the thread count. */
static inline int gms_n_slots(ptrdiff_t n_blocks)
{
    return n_blocks < GMS_MAX_SLOTS ? (int)n_blocks : GMS_MAX_SLOTS;
}

/* First block of slot s: slots own contiguous, nearly equal runs of blocks. */
static inline ptrdiff_t gms_slot_begin(int s, ptrdiff_t n_blocks, int n_slots)
{
    return n_slots ? (ptrdiff_t)s * n_blocks / n_slots : 0;
}

#ifdef _OPENMP
static inline int gms_clamp_threads(int n_threads, ptrdiff_t n_tasks)
{
    if (n_threads < 1) n_threads = 1;
    if (n_tasks < 1) n_tasks = 1;
    return n_threads < n_tasks ? n_threads : (int)n_tasks;
}
#endif

/*
 * Sum per-slot accumulators into the outputs in slot order. Each slot holds
 * [a (na) | b (nb) | c (nc) | scalar?] back to back; `scalar` may be NULL.
 */
static void gms_reduce_slots(const double *acc, int n_slots, ptrdiff_t stride,
                             double *a, ptrdiff_t na, double *b, ptrdiff_t nb,
                             double *c, ptrdiff_t nc, double *scalar)
{
    if (na) memset(a, 0, (size_t)na * sizeof(double));
    if (nb) memset(b, 0, (size_t)nb * sizeof(double));
    if (nc) memset(c, 0, (size_t)nc * sizeof(double));
    if (scalar) *scalar = 0.0;
    for (int s = 0; s < n_slots; ++s) {
        const double *p = acc + s * stride;
        for (ptrdiff_t i = 0; i < na; ++i) a[i] += p[i];
        p += na;
        for (ptrdiff_t i = 0; i < nb; ++i) b[i] += p[i];
        p += nb;
        for (ptrdiff_t i = 0; i < nc; ++i) c[i] += p[i];
        p += nc;
        if (scalar) *scalar += *p;
    }
}

#define REAL double
#define SFX d
#include "gms_kernels_impl.h"
#undef REAL
#undef SFX

#define REAL float
#define SFX f
#include "gms_kernels_impl.h"
#undef REAL
#undef SFX
