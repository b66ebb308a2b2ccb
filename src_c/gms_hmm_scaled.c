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
 * per frame, far under rounding (GMS_HMM_MIN_MASS, GMS_HMM_MAX_BETA).
 * The check must see the true backward values, so neither pass flushes a
 * possible emission to zero: exp(f - max) below GMS_HMM_MIN_EMISSION
 * (2^-1000) is raised to it. That overstates such a state's mass by at most
 * 2^-999 of the frame's (at most 2^-599 of the likelihood per state and
 * frame while the check holds), and keeps a lineage the shift would have flushed
 * visible to the check when its future makes it matter: then beta / Z
 * exceeds 2^400. Outside those limits implementation='log' redoes the
 * sequence in log space and implementation='scaling' reports an underflow:
 * neither returns a silently wrong answer.
 */
#include "gms_hmm_internal.h"
#include "gms_fastmath.h"
#include "gms_hmm_vectors.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#define L GMS_HMM_LANES

static inline v8d splat(double x) { return (v8d){x, x, x, x, x, x, x, x}; }

/* out = v A, for v and out of kp / 8 vectors and A padded kp x kp: the
 * rows go to four partial sums (rows i, i + 4, ... to sum i mod 4), so the
 * chain of dependent adds is a quarter as long. Only the k real rows are
 * visited: a padding row would add 0 * 0 = +0 to a non-negative sum, which
 * changes no bit, so skipping it shortens the chain and the work (K = 10
 * in kp = 16 lanes: 10 rows instead of 16). */
static inline __attribute__((always_inline)) void
vec_mat(const v8du *restrict v, const double *restrict A, ptrdiff_t kp, ptrdiff_t k,
        v8du *restrict out)
{
    const ptrdiff_t full = k / L, rem = k % L;
    const ptrdiff_t s = kp / L; /* one row, in vectors */
    for (ptrdiff_t jc = 0; jc < kp / L; ++jc) {
        v8d p0 = {0}, p1 = {0}, p2 = {0}, p3 = {0};
        for (ptrdiff_t ic = 0; ic < full; ++ic) {
            const v8du *restrict r = (const v8du *)(A + ic * L * kp + jc * L);
            const v8d x = v[ic];
            p0 += LANE(x, 0) * r[0];
            p1 += LANE(x, 1) * r[s];
            p2 += LANE(x, 2) * r[2 * s];
            p3 += LANE(x, 3) * r[3 * s];
            p0 += LANE(x, 4) * r[4 * s];
            p1 += LANE(x, 5) * r[5 * s];
            p2 += LANE(x, 6) * r[6 * s];
            p3 += LANE(x, 7) * r[7 * s];
        }
        if (rem > 0) {
            /* the same accumulators and order as a full block, stopping at
             * row k (predictable branches: k is fixed for the whole pass) */
            const v8du *restrict r = (const v8du *)(A + full * L * kp + jc * L);
            const v8d x = v[full];
            p0 += LANE(x, 0) * r[0];
            if (rem > 1) p1 += LANE(x, 1) * r[s];
            if (rem > 2) p2 += LANE(x, 2) * r[2 * s];
            if (rem > 3) p3 += LANE(x, 3) * r[3 * s];
            if (rem > 4) p0 += LANE(x, 4) * r[4 * s];
            if (rem > 5) p1 += LANE(x, 5) * r[5 * s];
            if (rem > 6) p2 += LANE(x, 6) * r[6 * s];
        }
        out[jc] = (p0 + p1) + (p2 + p3);
    }
}

/* The sum of all lanes of the kp / 8 vectors, in every lane (a fixed tree:
 * the same bits on every SIMD width). */
static inline __attribute__((always_inline)) v8d sum_all(const v8du *restrict v, ptrdiff_t kp)
{
    v8d s = v[0];
    for (ptrdiff_t ic = 1; ic < kp / L; ++ic) s += v[ic];
    s += PERM(s, 4, 5, 6, 7, 0, 1, 2, 3);
    s += PERM(s, 2, 3, 0, 1, 6, 7, 4, 5);
    return s + PERM(s, 1, 0, 3, 2, 5, 4, 7, 6);
}

/* 2^-e for the binary exponent e of (each lane of) a positive normal c:
 * c times it lies in [1, 2). Garbage, but no UB, for other c, which the
 * caller has already flagged. */
static inline v8d inverse_power(v8d c, v8i *biased)
{
    const v8i be = ((v8i)c >> 52) & 0x7ff;
    *biased = be;
    return (v8d)(((2046 - be) & 0x7ff) << 52);
}

/* Every lane of a comparison result true? */
static inline int all_true(v8i m)
{
    return (m[0] & m[1] & m[2] & m[3] & m[4] & m[5] & m[6] & m[7]) != 0;
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

/* Rows e[r] = exp(f_{t0 + r} - max) of a chunk of nr frames, padding
 * lanes zero; the frame maxima go to mx_out, or come from mx_in. Returns
 * whether a NaN was among the log-likelihoods. */
static inline __attribute__((always_inline)) int
chunk_emissions(const double *restrict f, ptrdiff_t k, ptrdiff_t kp, ptrdiff_t nr,
                const double *restrict mx_in, double *restrict mx_out,
                double *restrict e)
{
    int nan = 0;
    for (ptrdiff_t r = 0; r < nr; ++r) {
        const double *restrict fr = f + r * k;
        const double mx = mx_in ? mx_in[r] : gms_hmm_max_of(fr, k);
        if (mx_out) mx_out[r] = mx;
        double *restrict er = e + r * kp;
        for (ptrdiff_t j = 0; j < k; ++j) {
            /* a possible emission is never flushed to zero (see the header) */
            const double x = gms_exp_nonpositive(fr[j] - mx);
            er[j] = fr[j] > -INFINITY && x < GMS_HMM_MIN_EMISSION ? GMS_HMM_MIN_EMISSION : x;
            nan |= fr[j] != fr[j];
        }
        for (ptrdiff_t j = k; j < kp; ++j) er[j] = 0.0;
    }
    return nan;
}

/* The same rows for a chunk of nr frames given as symbols: copies of the
 * table's rows (a table built by gms_hmm_emission_table holds exactly what
 * chunk_emissions would compute from the frames). */
static inline __attribute__((always_inline)) void
chunk_symbols(const hmm_symbols *sy, ptrdiff_t t0, ptrdiff_t kp, ptrdiff_t nr,
              double *restrict mx_out, double *restrict e)
{
    for (ptrdiff_t r = 0; r < nr; ++r) {
        const ptrdiff_t s = (ptrdiff_t)sy->x[t0 + r];
        if (mx_out) mx_out[r] = sy->mtab[s];
        memcpy(e + r * kp, sy->etab + s * kp, (size_t)kp * sizeof(double));
    }
}

GMS_HOT int gms_hmm_emission_table(const double *f, ptrdiff_t n, ptrdiff_t k, ptrdiff_t kp,
                                   double *etab, double *mtab)
{
    return chunk_emissions(f, k, kp, n, NULL, mtab, etab);
}

/* The pass for a padded width kp; inlined with kp = 8 and 16 as constants
 * so those (the common small models) get loops of fixed trip count. */
static inline __attribute__((always_inline)) double
fb_scaled(const hmm_model *m, const double *f, const hmm_symbols *sy, ptrdiff_t T,
          double *post, double *start_c, double *trans_c, hmm_scaled_work *wk,
          double *scratch, const ptrdiff_t kp)
{
    const ptrdiff_t k = m->k, nv = kp / L, C = GMS_HMM_CHUNK;
    double *restrict scale_of = scratch;    /* T: scale after frame t */
    double *restrict max_of = scratch + T;  /* T: frame maxima */
    v8du *restrict prev = (v8du *)wk->prev;
    /* emission rows of a chunk (nv vectors each): with a cache, the forward
     * pass keeps every frame's row there for the backward pass */
    double *const ecache = !sy && T * kp <= GMS_HMM_ECACHE ? scratch + 2 * T : NULL;
    v8du *restrict AB = (v8du *)wk->ab;            /* forward / backward rows */
    v8du *restrict W = (v8du *)wk->w;
    int bad = 0;
    double exps = 0.0, c = 1.0;
    v8d scale = splat(1.0);

    /* ---- forward: alpha_t = (alpha_{t-1} A) .* exp(f_t - max_t) * scale_{t-1} */
    for (ptrdiff_t t0 = 0; t0 < T; t0 += C) {
        const ptrdiff_t nr = T - t0 < C ? T - t0 : C;
        double *erows = ecache ? ecache + t0 * kp : wk->e;
        if (sy)
            chunk_symbols(sy, t0, kp, nr, max_of + t0, erows);
        else
            bad |= chunk_emissions(f + t0 * k, k, kp, nr, NULL, max_of + t0, erows);
        const v8du *restrict E = (const v8du *)erows;
        for (ptrdiff_t r = 0; r < nr; ++r) {
            v8du *restrict cur = AB + r * nv;
            const v8du *restrict er = E + r * nv;
            if (t0 + r == 0) {
                for (ptrdiff_t ic = 0; ic < nv; ++ic)
                    cur[ic] = *(const v8du *)(m->pi_p + ic * L) * (er[ic] * scale);
            } else {
                vec_mat(r == 0 ? prev : cur - nv, m->A_p, kp, k, cur);
                for (ptrdiff_t ic = 0; ic < nv; ++ic) cur[ic] *= er[ic] * scale;
            }
            const v8d cs = sum_all(cur, kp);
            c = cs[0];
            bad |= !(c >= GMS_HMM_MIN_MASS);
            v8i be;
            scale = inverse_power(cs, &be);
            exps += (double)(be[0] - 1023);
            scale_of[t0 + r] = scale[0];
        }
        for (ptrdiff_t ic = 0; ic < nv; ++ic) prev[ic] = AB[(nr - 1) * nv + ic];
        if (post) {
            for (ptrdiff_t r = 0; r < nr; ++r) {
                const double *restrict ar = wk->ab + r * kp;
                double *restrict row = post + (t0 + r) * k;
                for (ptrdiff_t j = 0; j < k; ++j) row[j] = ar[j];
            }
        }
    }
    double shift = 0.0;
    for (ptrdiff_t t = 0; t < T; ++t) {
        bad |= !(max_of[t] > -INFINITY && max_of[t] < INFINITY);
        shift += max_of[t];
    }
    if (bad) return NAN;
    /* c * scale is in [1, 2): exact, and its log needs no range care */
    const double loglik = shift + exps * 0.69314718055994530942 + log(c * scale[0]);

    /* ---- backward: beta_t = A (exp(f_{t+1} - max_{t+1}) * scale_t .* beta_{t+1});
     * sum_j alpha_t(j) beta_t(j) is the same Z for every t. Chunks run from
     * the end; within one, W[r] = exp(...) * scale_t .* beta_{t+1} for t = t0 + r. */
    const v8d beta_limit = splat(GMS_HMM_MAX_BETA * c);
    v8du *restrict beta = (v8du *)wk->beta;
    for (ptrdiff_t j = 0; j < kp; ++j) wk->beta[j] = j < k ? 1.0 : 0.0;
    v8i in_range = splat(1.0) == splat(1.0);
    double *xi = wk->xi;
    if (trans_c != NULL) memset(xi, 0, (size_t)(kp * kp) * sizeof(double));
    memset(wk->xa, 0, (size_t)(C * kp) * sizeof(double));
    const ptrdiff_t last = (T - 1) / C * C;
    for (ptrdiff_t t0 = last; t0 >= 0; t0 -= C) {
        const ptrdiff_t nr = T - t0 < C ? T - t0 : C;
        /* rows t0 + r < T - 1 need frame t0 + r + 1 */
        const ptrdiff_t ne = t0 + nr == T ? nr - 1 : nr;
        if (sy)
            chunk_symbols(sy, t0 + 1, kp, ne, NULL, wk->e);
        else if (!ecache)
            (void)chunk_emissions(f + (t0 + 1) * k, k, kp, ne, max_of + t0 + 1, NULL, wk->e);
        const v8du *restrict E = (const v8du *)(ecache ? ecache + (t0 + 1) * kp : wk->e);
        for (ptrdiff_t r = nr - 1; r >= 0; --r) {
            if (r < ne) {
                v8du *restrict wr = W + r * nv;
                const v8du *restrict er = E + r * nv;
                const v8d sc = splat(scale_of[t0 + r]);
                for (ptrdiff_t ic = 0; ic < nv; ++ic) wr[ic] = er[ic] * sc * beta[ic];
                vec_mat(wr, m->AT_p, kp, k, beta);
            }
            v8du *restrict br = AB + r * nv;
            for (ptrdiff_t ic = 0; ic < nv; ++ic) {
                br[ic] = beta[ic];
                in_range &= beta[ic] <= beta_limit;
            }
        }
        if (post == NULL) continue; /* scoring: only the range check */
        /* gamma_t = alpha_t .* beta_t / Z_t; xi_t(i, j) = alpha_t(i) A(i, j)
         * W_t(j) / Z_t, A applied at the end */
        v8du *restrict xa = (v8du *)wk->xa;
        for (ptrdiff_t r = 0; r < nr; ++r) {
            double *restrict row = post + (t0 + r) * k;
            double *restrict xar = wk->xa + r * kp;
            for (ptrdiff_t j = 0; j < k; ++j) xar[j] = row[j];
            v8du *restrict br = AB + r * nv;
            for (ptrdiff_t ic = 0; ic < nv; ++ic) br[ic] *= xa[r * nv + ic];
            const double z = sum_all(br, kp)[0];
            bad |= !(z >= DBL_MIN && z <= DBL_MAX);
            const double inv = 1.0 / z;
            const double *restrict gd = wk->ab + r * kp;
            for (ptrdiff_t j = 0; j < k; ++j) row[j] = gd[j] * inv;
            const v8d vi = splat(inv);
            for (ptrdiff_t ic = 0; ic < nv; ++ic) W[r * nv + ic] *= vi;
        }
        if (trans_c != NULL && ne > 0) xi_update(xi, wk->xa, wk->w, ne, k, kp);
    }
    bad |= !all_true(in_range);
    if (post == NULL) return bad ? NAN : loglik;
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

GMS_HOT double gms_hmm_fb_scaled_one(const hmm_model *m, const double *f,
                                     const hmm_symbols *sy, ptrdiff_t T, double *post,
                                     double *start_c, double *trans_c, hmm_scaled_work *wk,
                                     double *scratch)
{
    if (m->kp == L)
        return fb_scaled(m, f, sy, T, post, start_c, trans_c, wk, scratch, L);
    if (m->kp == 2 * L)
        return fb_scaled(m, f, sy, T, post, start_c, trans_c, wk, scratch, 2 * L);
    return fb_scaled(m, f, sy, T, post, start_c, trans_c, wk, scratch, m->kp);
}
