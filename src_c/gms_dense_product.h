/*
 * The dense full-statistics product S = R^T P (accumulate_full_dense)
 * without BLAS, and the choice between it and the BLAS product. Included
 * once by gms_kernels.c, before the type-generic bodies.
 */
#ifndef GMS_DENSE_PRODUCT_H
#define GMS_DENSE_PRODUCT_H

#include <math.h>
#include <stddef.h>

#include "gms_fastmath.h" /* GMS_HOT */

/* Values per row of the dense path's P: y, the upper triangle of y y^T, 1. */
static inline ptrdiff_t gms_dense_q(ptrdiff_t d) { return d + d * (d + 1) / 2 + 1; }

/* Row stride of the dense path's P and S: q rounded up to whole tiles of
 * gms_rtp (the padding columns are zeros). */
#define GMS_RTP_LANES 32
static inline ptrdiff_t gms_dense_ld(ptrdiff_t d)
{
    return (gms_dense_q(d) + GMS_RTP_LANES - 1) / GMS_RTP_LANES * GMS_RTP_LANES;
}

/*
 * S = R^T P for the dense full statistics, without BLAS: S[c * ld + f] =
 * sum_i R[i * k + c] P[i * ld + f] over the m rows in order, by fused
 * multiply-adds (correctly rounded, so every SIMD width gives the same
 * bits), in register tiles of nc components x `lanes` columns (constants
 * after inlining) kept over all the rows. At the small D of the dense path
 * this skinny product (K rows, a long inner dimension) ran at well under
 * the BLAS GEMM rate, plus its packing copies.
 */
static inline __attribute__((always_inline)) void gms_rtp_tile(
    const double *R, ptrdiff_t k, const double *P, ptrdiff_t ld, ptrdiff_t m, ptrdiff_t c0,
    ptrdiff_t f0, double *S, const int nc, const int lanes)
{
    double acc[4][GMS_RTP_LANES] = {{0.0}};
    for (ptrdiff_t i = 0; i < m; ++i) {
        const double *p = P + i * ld + f0;
        const double *r = R + i * k + c0;
        for (int j = 0; j < nc; ++j) {
            const double rj = r[j];
            for (int l = 0; l < lanes; ++l) acc[j][l] = fma(rj, p[l], acc[j][l]);
        }
    }
    for (int j = 0; j < nc; ++j)
        for (int l = 0; l < lanes; ++l) S[(c0 + j) * ld + f0 + l] = acc[j][l];
}

static inline __attribute__((always_inline)) void gms_rtp_cols(
    const double *R, ptrdiff_t k, const double *P, ptrdiff_t ld, ptrdiff_t m, ptrdiff_t c0,
    double *S, const int nc, const int lanes)
{
    for (ptrdiff_t f0 = 0; f0 < ld; f0 += lanes)
        gms_rtp_tile(R, k, P, ld, m, c0, f0, S, nc, lanes);
}

/* All components, four at a time, in tiles `lanes` columns wide. */
static inline __attribute__((always_inline)) void gms_rtp_lanes(
    const double *R, ptrdiff_t m, ptrdiff_t k, const double *P, ptrdiff_t ld, double *S,
    const int lanes)
{
    ptrdiff_t c0 = 0;
    for (; c0 + 4 <= k; c0 += 4) gms_rtp_cols(R, k, P, ld, m, c0, S, 4, lanes);
    if (k - c0 == 3) gms_rtp_cols(R, k, P, ld, m, c0, S, 3, lanes);
    else if (k - c0 == 2) gms_rtp_cols(R, k, P, ld, m, c0, S, 2, lanes);
    else if (k - c0 == 1) gms_rtp_cols(R, k, P, ld, m, c0, S, 1, lanes);
}

/* wide: 4 x 32 tiles (16 AVX-512 registers); otherwise 4 x 8, which fits
 * AVX2's sixteen. */
GMS_HOT static void gms_rtp(const double *R, ptrdiff_t m, ptrdiff_t k, const double *P,
                            ptrdiff_t ld, double *S, int wide)
{
    if (wide)
        gms_rtp_lanes(R, m, k, P, ld, S, 32);
    else
        gms_rtp_lanes(R, m, k, P, ld, S, 8);
}

/* Which product the dense path uses: 2 (gms_rtp, wide tiles: AVX-512), 1
 * (gms_rtp, narrow tiles: AVX2 with FMA), 0 (BLAS: without hardware FMA,
 * fma() is a slow library call). Up to GMS_RTP_MAX_D features only, where
 * it was measured faster than the BLAS product. */
#define GMS_RTP_MAX_D 32
static int gms_rtp_mode(ptrdiff_t d)
{
    static int mode = -1; /* atomics: threads may ask at once */
    if (d > GMS_RTP_MAX_D) return 0;
    int seen = __atomic_load_n(&mode, __ATOMIC_RELAXED);
    if (seen < 0) {
        int m = 0;
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
        __builtin_cpu_init();
        if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
            m = __builtin_cpu_supports("avx512f") ? 2 : 1;
#endif
        __atomic_store_n(&mode, m, __ATOMIC_RELAXED);
        seen = m;
    }
    return seen;
}

#endif
