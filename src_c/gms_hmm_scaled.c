/*
 * Scaled forward-backward: the fast path of both HMM implementations.
 *
 * Each frame's likelihoods are exponentiated after subtracting the frame's
 * maximum (added back to the log-likelihood), and the forward vector is
 * rescaled by a power of two after every step (exact, and cheap enough to
 * stay off the critical path: the recursion is a latency chain of one
 * K x K matrix-vector product and one multiply per frame). The throughput
 * work (exps, posteriors, expected transitions) sits beside that chain,
 * where the out-of-order core overlaps it.
 *
 * All vectors are zero-padded to a multiple of GMS_HMM_LANES states so the
 * inner loops have a fixed width and vectorise on every x86-64 level.
 *
 * When is this exact? Linear-space values lose digits only below DBL_MIN.
 * An absolute error d in the scaled forward value of state j at frame t
 * changes the likelihood by d * beta_t(j) / Z (beta: the scaled backward
 * values, Z: the scaled likelihood), and d stays below ~K 2^-1074 times the
 * step's scale factor. With every one-step mass >= 2^-200 (scale factors
 * <= 2^201) and every beta_t(j) / Z <= 2^400, the error is below K 2^-473
 * per frame, far under rounding (GMS_HMM_MIN_MASS, GMS_HMM_MAX_BETA). Outside those limits (a lineage that the
 * frame shift flushed to zero may later dominate) implementation='log'
 * redoes the sequence in log space and implementation='scaling' reports an
 * underflow: neither returns a silently wrong answer.
 */
#include "gms_hmm_internal.h"
#include "gms_fastmath.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#define L GMS_HMM_LANES


/* out = v A for padded v (kp) and A (kp x kp): eight columns at a time,
 * the rows split over four partial sums so the chain of dependent adds is
 * a quarter as long (the summation order is fixed, so every SIMD width
 * gives the same bits). */
static inline void vec_mat_padded(const double *restrict v, const double *restrict A,
                                  ptrdiff_t kp, double *restrict out)
{
    for (ptrdiff_t j0 = 0; j0 < kp; j0 += L) {
        double p0[L] = {0}, p1[L] = {0}, p2[L] = {0}, p3[L] = {0};
        for (ptrdiff_t i = 0; i < kp; i += 4) {
            const double *restrict r = A + i * kp + j0;
            const double v0 = v[i], v1 = v[i + 1], v2 = v[i + 2], v3 = v[i + 3];
            for (int l = 0; l < L; ++l) {
                p0[l] += v0 * r[l];
                p1[l] += v1 * r[kp + l];
                p2[l] += v2 * r[2 * kp + l];
                p3[l] += v3 * r[3 * kp + l];
            }
        }
        for (int l = 0; l < L; ++l) out[j0 + l] = (p0[l] + p1[l]) + (p2[l] + p3[l]);
    }
}

static inline double sum_padded(const double *restrict v, ptrdiff_t kp)
{
    double s[L];
    for (int l = 0; l < L; ++l) s[l] = v[l];
    for (ptrdiff_t j0 = L; j0 < kp; j0 += L)
        for (int l = 0; l < L; ++l) s[l] += v[j0 + l];
    return ((s[0] + s[4]) + (s[2] + s[6])) + ((s[1] + s[5]) + (s[3] + s[7]));
}

/* The biased binary exponent of a positive double. */
static inline int64_t biased_exponent(double x)
{
    return (int64_t)(((uint64_t)gms_to_bits(x) >> 52) & 0x7ff);
}

/* 2^-(e - 1023) for a biased exponent e: the power of two that brings a
 * number with that exponent into [1, 2). Garbage (but no UB) outside the
 * normal range, where the caller has already flagged the step. */
static inline double inverse_power(int64_t e)
{
    return gms_from_bits((int64_t)(((uint64_t)(2046 - e) & 0x7ff) << 52));
}

/* xi[i, :] += sum_b xa[b, i] * xv[b, :] for i < k, b < nb: four rows of
 * xi stay in registers over the nb frames (a rank-nb update). */
static inline __attribute__((always_inline)) void
xi_update(double *restrict xi, const double *restrict xa, const double *restrict xv,
          ptrdiff_t nb, ptrdiff_t k, const ptrdiff_t kp)
{
    for (ptrdiff_t i0 = 0; i0 < k; i0 += 4) {
        for (ptrdiff_t j0 = 0; j0 < kp; j0 += L) {
            double r0[L], r1[L], r2[L], r3[L];
            double *restrict x = xi + i0 * kp + j0;
            for (int l = 0; l < L; ++l) {
                r0[l] = x[l];
                r1[l] = x[kp + l];
                r2[l] = x[2 * kp + l];
                r3[l] = x[3 * kp + l];
            }
            for (ptrdiff_t b = 0; b < nb; ++b) {
                const double *restrict ab = xa + b * kp + i0;
                const double *restrict vb = xv + b * kp + j0;
                const double a0 = ab[0], a1 = ab[1], a2 = ab[2], a3 = ab[3];
                for (int l = 0; l < L; ++l) {
                    r0[l] += a0 * vb[l];
                    r1[l] += a1 * vb[l];
                    r2[l] += a2 * vb[l];
                    r3[l] += a3 * vb[l];
                }
            }
            for (int l = 0; l < L; ++l) {
                x[l] = r0[l];
                x[kp + l] = r1[l];
                x[2 * kp + l] = r2[l];
                x[3 * kp + l] = r3[l];
            }
        }
    }
}

/* The pass for a padded width kp; inlined with kp = 8 and 16 as constants
 * so those (the common small models) get loops of fixed trip count. */
static inline __attribute__((always_inline)) double
fb_scaled(const hmm_model *m, const double *f, ptrdiff_t T, double *post, double *start_c,
          double *trans_c, hmm_scaled_work *wk, double *scratch, const ptrdiff_t kp)
{
    const ptrdiff_t k = m->k;
    double *restrict e = wk->e;
    double *prev = wk->a, *cur = wk->b;
    double *restrict scale_of = scratch;    /* T: scale after frame t */
    double *restrict max_of = scratch + T;  /* T: frame maxima */
    int bad = 0;
    double shift = 0.0, exps = 0.0, scale = 1.0, c = 1.0;

    /* ---- forward: cur = (prev A) .* exp(f_t - max_t) * scale_{t-1} */
    for (ptrdiff_t j = k; j < kp; ++j) e[j] = 0.0;
    for (ptrdiff_t t = 0; t < T; ++t) {
        const double *restrict ft = f + t * k;
        const double mx = gms_hmm_max_of(ft, k);
        bad |= !(mx > -INFINITY && mx < INFINITY);
        for (ptrdiff_t j = 0; j < k; ++j) e[j] = gms_exp_nonpositive(ft[j] - mx) * scale;
        if (t == 0) {
            for (ptrdiff_t j = 0; j < kp; ++j) cur[j] = m->pi_p[j] * e[j];
        } else {
            vec_mat_padded(prev, m->A_p, kp, cur);
            for (ptrdiff_t j = 0; j < kp; ++j) cur[j] *= e[j];
        }
        c = sum_padded(cur, kp);
        bad |= !(c >= GMS_HMM_MIN_MASS);
        const int64_t be = biased_exponent(c);
        scale = inverse_power(be);
        shift += mx;
        exps += (double)(be - 1023);
        if (post) {
            double *restrict row = post + t * k;
            for (ptrdiff_t j = 0; j < k; ++j) row[j] = cur[j];
        }
        scale_of[t] = scale;
        max_of[t] = mx;
        double *tmp = prev;
        prev = cur;
        cur = tmp;
    }
    if (bad) return NAN;
    /* c * scale is in [1, 2): exact, and its log needs no range care */
    const double loglik = shift + exps * 0.69314718055994530942 + log(c * scale);
    const double beta_limit = GMS_HMM_MAX_BETA * c;
    double *restrict beta = wk->beta;
    double *restrict w = wk->w;
    for (ptrdiff_t j = 0; j < kp; ++j) {
        beta[j] = j < k ? 1.0 : 0.0;
        w[j] = 0.0;
    }
    if (post == NULL) {
        /* scoring: the backward values are still needed, to know whether a
         * state the forward pass flushed to zero could matter */
        int over = 0;
        for (ptrdiff_t t = T - 2; t >= 0; --t) {
            const double *restrict f1 = f + (t + 1) * k;
            const double mx1 = max_of[t + 1], sc = scale_of[t];
            for (ptrdiff_t j = 0; j < k; ++j)
                w[j] = gms_exp_nonpositive(f1[j] - mx1) * sc * beta[j];
            vec_mat_padded(w, m->AT_p, kp, beta);
            for (ptrdiff_t j = 0; j < kp; ++j) over |= !(beta[j] <= beta_limit);
        }
        return over ? NAN : loglik;
    }

    /* ---- backward: beta_t = A (exp(f_{t+1} - max_{t+1}) * scale_t .* beta_{t+1});
     * sum_j alpha_t(j) beta_t(j) is the same Z for every t */
    double *restrict a = prev; /* alpha_t, padded (the forward pass is done with both) */
    double *restrict v = wk->v;
    double *xi = wk->xi;
    for (ptrdiff_t j = 0; j < kp; ++j) a[j] = 0.0;
    if (trans_c != NULL) memset(xi, 0, (size_t)(kp * kp) * sizeof(double));
    ptrdiff_t nb = 0; /* frames collected for the next xi update */
    for (ptrdiff_t t = T - 1; t >= 0; --t) {
        double *restrict row = post + t * k;
        for (ptrdiff_t j = 0; j < k; ++j) a[j] = row[j];
        if (t < T - 1) {
            const double *restrict f1 = f + (t + 1) * k;
            const double mx1 = max_of[t + 1], sc = scale_of[t];
            for (ptrdiff_t j = 0; j < k; ++j)
                w[j] = gms_exp_nonpositive(f1[j] - mx1) * sc * beta[j];
            vec_mat_padded(w, m->AT_p, kp, beta);
        }
        int over = 0;
        for (ptrdiff_t j = 0; j < kp; ++j) {
            over |= !(beta[j] <= beta_limit);
            v[j] = a[j] * beta[j];
        }
        const double z = sum_padded(v, kp);
        bad |= over | !(z >= DBL_MIN && z <= DBL_MAX);
        const double inv = 1.0 / z;
        for (ptrdiff_t j = 0; j < k; ++j) row[j] = v[j] * inv;
        if (trans_c != NULL && t < T - 1) {
            /* xi_t(i, j) = alpha_t(i) A(i, j) w_j / Z, A applied at the end;
             * frames are collected and added GMS_HMM_XI_BLOCK at a time */
            double *restrict xa = wk->xa + nb * kp;
            double *restrict xv = wk->xv + nb * kp;
            for (ptrdiff_t j = 0; j < kp; ++j) {
                xa[j] = a[j];
                xv[j] = w[j] * inv;
            }
            if (++nb == GMS_HMM_XI_BLOCK) {
                xi_update(xi, wk->xa, wk->xv, nb, k, kp);
                nb = 0;
            }
        }
    }
    if (trans_c != NULL && nb > 0) xi_update(xi, wk->xa, wk->xv, nb, k, kp);
    if (trans_c != NULL) {
        for (ptrdiff_t i = 0; i < k; ++i)
            for (ptrdiff_t j = 0; j < k; ++j) bad |= !(fabs(xi[i * kp + j]) <= DBL_MAX);
    }
    if (bad) return NAN;
    if (trans_c != NULL)
        for (ptrdiff_t i = 0; i < k; ++i)
            for (ptrdiff_t j = 0; j < k; ++j) trans_c[i * k + j] += m->A[i * k + j] * xi[i * kp + j];
    if (start_c != NULL)
        for (ptrdiff_t j = 0; j < k; ++j) start_c[j] += post[j];
    return loglik;
}

GMS_HOT double gms_hmm_fb_scaled_one(const hmm_model *m, const double *f, ptrdiff_t T,
                                     double *post, double *start_c, double *trans_c,
                                     hmm_scaled_work *wk, double *scratch)
{
    if (m->kp == L)
        return fb_scaled(m, f, T, post, start_c, trans_c, wk, scratch, L);
    if (m->kp == 2 * L)
        return fb_scaled(m, f, T, post, start_c, trans_c, wk, scratch, 2 * L);
    return fb_scaled(m, f, T, post, start_c, trans_c, wk, scratch, m->kp);
}
