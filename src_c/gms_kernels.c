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

/*
 * Hot per-block functions are compiled for several x86-64 levels and
 * picked at load time (GCC/Clang target_clones + ifunc), so one portable
 * wheel uses AVX2/AVX-512 where the CPU has them. Floating-point
 * contraction stays off (C11 mode), and no loop relies on reassociation,
 * so every clone computes the same bits.
 */
#if defined(__x86_64__) && defined(__linux__) && defined(__has_attribute)
#if __has_attribute(target_clones) && !defined(GMS_NO_TARGET_CLONES)
#define GMS_HOT __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#endif
#endif
#ifndef GMS_HOT
#define GMS_HOT
#endif

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
 * exp(v[i]) in place for v[i] <= 0, vectorisable (no table, no branch):
 * range reduction x = k ln2 + r with |r| <= ln2/2 (ln2 split in two
 * parts), a degree-13 Taylor polynomial for e^r (truncation below 1e-17
 * relative) and 2^k built in the exponent bits; within 2 ulp of the
 * correctly rounded value. Arguments below -708, where the result would be
 * subnormal (< 3.3e-308), give exactly 0, as do -inf and NaN.
 */
GMS_HOT static void gms_exp_nonpositive(double *v, ptrdiff_t n)
{
    const double log2e = 1.4426950408889634074;
    const double ln2_hi = 6.93147180369123816490e-01;
    const double ln2_lo = 1.90821492927058770002e-10;
    const double shift = 6755399441055744.0; /* 1.5 * 2^52: rounds to an integer */
    const int64_t shift_bits = INT64_C(0x4338000000000000);
    for (ptrdiff_t i = 0; i < n; ++i) {
        const double x0 = v[i];
        const int ok = x0 >= -708.0;
        const double x = ok ? (x0 <= 0.0 ? x0 : 0.0) : 0.0;
        const double t = x * log2e + shift;
        const double kf = t - shift;
        const double r = (x - kf * ln2_hi) - kf * ln2_lo;
        double p = 1.0 / 6227020800.0;            /* 1/13! */
        p = p * r + 1.0 / 479001600.0;            /* 1/12! */
        p = p * r + 1.0 / 39916800.0;
        p = p * r + 1.0 / 3628800.0;
        p = p * r + 1.0 / 362880.0;
        p = p * r + 1.0 / 40320.0;
        p = p * r + 1.0 / 5040.0;
        p = p * r + 1.0 / 720.0;
        p = p * r + 1.0 / 120.0;
        p = p * r + 1.0 / 24.0;
        p = p * r + 1.0 / 6.0;
        p = p * r + 0.5;
        p = p * r + 1.0;
        p = p * r + 1.0;
        int64_t tb;
        memcpy(&tb, &t, sizeof tb);
        const int64_t sb = (tb - shift_bits + 1023) * (INT64_C(1) << 52);
        double scale;
        memcpy(&scale, &sb, sizeof scale);
        v[i] = ok ? p * scale : 0.0;
    }
}

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

/* BLAS entry points (Fortran calling convention), registered by the
 * Python bindings from scipy.linalg.cython_blas; NULL means plain loops. */
typedef void (*gms_dgemm_fn)(char *, char *, int *, int *, int *, double *, double *,
                             int *, double *, int *, double *, double *, int *);
typedef void (*gms_sgemm_fn)(char *, char *, int *, int *, int *, float *, float *,
                             int *, float *, int *, float *, float *, int *);
typedef void (*gms_dsyrk_fn)(char *, char *, int *, int *, double *, double *, int *,
                             double *, double *, int *);
static gms_dgemm_fn gms_blas_dgemm = NULL;
static gms_sgemm_fn gms_blas_sgemm = NULL;
static gms_dsyrk_fn gms_blas_dsyrk = NULL;

void gms_set_blas(void *dgemm, void *sgemm, void *dsyrk)
{
    gms_blas_dgemm = (gms_dgemm_fn)dgemm;
    gms_blas_sgemm = (gms_sgemm_fn)sgemm;
    gms_blas_dsyrk = (gms_dsyrk_fn)dsyrk;
}

#define REAL double
#define SFX d
#define GMS_GEMM gms_blas_dgemm
#include "gms_kernels_impl.h"
#undef REAL
#undef SFX
#undef GMS_GEMM

#define REAL float
#define SFX f
#define GMS_GEMM gms_blas_sgemm
#include "gms_kernels_impl.h"
#undef REAL
#undef SFX
#undef GMS_GEMM
