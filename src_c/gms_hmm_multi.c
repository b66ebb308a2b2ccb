/* Per-sequence log-likelihoods of many HMMs in one call (gms_hmm_multi.h). */
#include "gms_hmm_multi.h"
#include "gms_kernels.h"
#include "gms_fastmath.h"

#include <math.h>
#include <stdlib.h>

#ifdef _OPENMP
#include <omp.h>
#endif

/* Linear sums below this are redone exactly in log space (as in
 * gms_hmm.c): the shifted exps flush terms below e^-708. */
#define MULTI_LOG_REDO 0x1p-960

/* log sum_i exp(v_i + log A_ij), exactly (A linear; zeros are -inf). */
static double exact_in(const double *v, const double *A, ptrdiff_t k, ptrdiff_t j)
{
    double m = -INFINITY;
    for (ptrdiff_t i = 0; i < k; ++i)
        if (A[i * k + j] > 0.0) {
            const double t = v[i] + log(A[i * k + j]);
            m = t > m ? t : m;
        }
    if (m == -INFINITY) return m;
    double s = 0.0;
    for (ptrdiff_t i = 0; i < k; ++i)
        if (A[i * k + j] > 0.0) s += exp(v[i] + log(A[i * k + j]) - m);
    return m + log(s);
}

/* The largest of v, or NaN when some v is NaN: the exps that follow
 * would turn a NaN into a number. */
static double max_of(const double *v, ptrdiff_t k)
{
    double m = v[0];
    int nan = isnan(v[0]);
    for (ptrdiff_t i = 1; i < k; ++i) {
        nan |= isnan(v[i]);
        m = v[i] > m ? v[i] : m;
    }
    return nan ? NAN : m;
}

/* log sum_i exp(v_i) */
static double log_sum(const double *v, ptrdiff_t k)
{
    const double m = max_of(v, k);
    if (!(m > -INFINITY) || m == INFINITY) return m;   /* -inf, +inf or NaN */
    double s = 0.0;
    for (ptrdiff_t i = 0; i < k; ++i) s += exp(v[i] - m);
    return m + log(s);
}

/*
 * One chain's forward pass over T frames (f: frame t's row at f + t * ld):
 * a_t = log(exp(a_{t-1}) A) + f_t, as a max-shift, k exps, the k x k
 * linear product and k logs; entries whose product may have lost terms
 * are redone exactly. `w` holds 3 k doubles.
 */
static double forward_one(const double *f, ptrdiff_t ld, ptrdiff_t T, ptrdiff_t k,
                          const double *pi, const double *A, double *w)
{
    double *prev = w, *cur = w + k, *p = w + 2 * k;
    for (ptrdiff_t j = 0; j < k; ++j) prev[j] = (pi[j] > 0.0 ? log(pi[j]) : -INFINITY) + f[j];
    for (ptrdiff_t t = 1; t < T; ++t) {
        const double *ft = f + t * ld;
        const double mx = max_of(prev, k);
        if (!(mx > -INFINITY) || mx == INFINITY) return mx;   /* impossible, or bad input */
        for (ptrdiff_t i = 0; i < k; ++i) p[i] = gms_exp_nonpositive(prev[i] - mx);
        for (ptrdiff_t j = 0; j < k; ++j) cur[j] = 0.0;
        for (ptrdiff_t i = 0; i < k; ++i) {
            const double pii = p[i];
            const double *Ai = A + i * k;
            for (ptrdiff_t j = 0; j < k; ++j) cur[j] += pii * Ai[j];
        }
        for (ptrdiff_t j = 0; j < k; ++j) {
            const double b = cur[j];
            cur[j] = b >= MULTI_LOG_REDO ? mx + gms_log_normal(b) + ft[j]
                                         : exact_in(prev, A, k, j) + ft[j];
        }
        double *tmp = prev;
        prev = cur;
        cur = tmp;
    }
    return log_sum(prev, k);
}

/* One chain's scaled step at one frame (see forward_scaled_all): its
 * log normaliser added to *out, or *out = NaN when the chain leaves the
 * scaled pass's range. Inlined with k a constant for the small state
 * counts, so that its loops unroll (the same operations in the same
 * order: the same bits). */
static inline __attribute__((always_inline)) void
chain_step(ptrdiff_t k, int first, double mf, const double *restrict A,
           const double *restrict pi, double *restrict ac, double *restrict bc,
           const double *restrict ec, double *out)
{
    if (first) {
        for (ptrdiff_t j = 0; j < k; ++j) bc[j] = pi[j] * ec[j];
    } else {
        for (ptrdiff_t j = 0; j < k; ++j) bc[j] = 0.0;
        for (ptrdiff_t i = 0; i < k; ++i) {
            const double ai = ac[i];
            const double *Ai = A + i * k;
            for (ptrdiff_t j = 0; j < k; ++j) bc[j] += ai * Ai[j];
        }
        for (ptrdiff_t j = 0; j < k; ++j) bc[j] *= ec[j];
    }
    double sum = 0.0;
    for (ptrdiff_t j = 0; j < k; ++j) sum += bc[j];
    if (!(sum >= MULTI_LOG_REDO) || !(sum < INFINITY)) {
        *out = NAN;
        return;
    }
    const double inv = 1.0 / sum;
    for (ptrdiff_t j = 0; j < k; ++j) ac[j] = bc[j] * inv;
    *out += mf + gms_log_normal(sum);
}

/*
 * The same pass in scaled linear space (K exps and one log per frame, not
 * K of each) for every chain at once, frame by frame, so each frame's row
 * of f is read once for all chains: a_t = normalised (a_{t-1} A) *
 * exp(f_t - max f_t), the log-likelihood the sum of the frames' log
 * normalisers. A chain whose mass at some frame falls below
 * MULTI_LOG_REDO (terms may have been flushed) gets NaN: the caller redoes
 * it in log space. The exps of a frame run over its whole row in one
 * vectorised loop. `w` holds 4 ld doubles.
 */
GMS_HOT static void forward_scaled_all(const double *f, ptrdiff_t ld, ptrdiff_t T,
                                       const int64_t *cols, ptrdiff_t n_chains,
                                       const double *startprob, const double *transmat,
                                       const ptrdiff_t *tofs, double *w, double *out)
{
    double *a = w, *b = w + ld, *e = w + 2 * ld, *shift = w + 3 * ld;
    for (ptrdiff_t c = 0; c < n_chains; ++c) out[c] = 0.0;
    for (ptrdiff_t t = 0; t < T; ++t) {
        const double *ft = f + t * ld;
        /* each chain's maximum over its states, on all its columns (0 for
         * a chain given up, or now without a finite maximum: its exps are
         * computed and never read) */
        for (ptrdiff_t c = 0; c < n_chains; ++c) {
            const ptrdiff_t c0 = (ptrdiff_t)cols[c], k = (ptrdiff_t)(cols[c + 1] - cols[c]);
            double mf = max_of(ft + c0, k);
            if (isnan(out[c])) {
                mf = 0.0;
            } else if (!(mf > -INFINITY) || mf == INFINITY) {
                out[c] = NAN;
                mf = 0.0;
            }
            for (ptrdiff_t j = 0; j < k; ++j) shift[c0 + j] = mf;
        }
        /* the frame's exps in one vectorised loop over its whole row;
         * clamped to the exp's domain (<= 0) for the chains given up, a
         * NaN staying NaN (it gives its chain up below) */
        for (ptrdiff_t j = 0; j < ld; ++j) {
            const double v = ft[j] - shift[j];
            e[j] = gms_exp_nonpositive(v > 0.0 ? 0.0 : v);
        }
        for (ptrdiff_t c = 0; c < n_chains; ++c) {
            if (isnan(out[c])) continue;
            const ptrdiff_t c0 = (ptrdiff_t)cols[c], k = (ptrdiff_t)(cols[c + 1] - cols[c]);
            const double *A = transmat + tofs[c], *pi = startprob + c0, *ec = e + c0;
            const double mf = shift[c0];
            double *ac = a + c0, *bc = b + c0, *oc = out + c;
            const int first = t == 0;
            switch (k) {
            case 2: chain_step(2, first, mf, A, pi, ac, bc, ec, oc); break;
            case 3: chain_step(3, first, mf, A, pi, ac, bc, ec, oc); break;
            case 4: chain_step(4, first, mf, A, pi, ac, bc, ec, oc); break;
            case 5: chain_step(5, first, mf, A, pi, ac, bc, ec, oc); break;
            case 6: chain_step(6, first, mf, A, pi, ac, bc, ec, oc); break;
            case 8: chain_step(8, first, mf, A, pi, ac, bc, ec, oc); break;
            default: chain_step(k, first, mf, A, pi, ac, bc, ec, oc); break;
            }
        }
    }
}

int gms_hmm_multi_loglik(const double *framelogprob, ptrdiff_t n_rows,
                         const int64_t *cols, ptrdiff_t n_chains,
                         const int64_t *offsets, ptrdiff_t n_seq,
                         const double *startprob, const double *transmat,
                         double *seq_loglik, int n_threads)
{
    if (framelogprob == NULL || cols == NULL || offsets == NULL || startprob == NULL ||
        transmat == NULL || seq_loglik == NULL || n_chains < 1 || n_seq < 1 || n_rows < 1)
        return GMS_ERR_ARG;
    if (cols[0] != 0 || offsets[0] != 0 || offsets[n_seq] != n_rows) return GMS_ERR_ARG;
    ptrdiff_t kmax = 0;
    for (ptrdiff_t c = 0; c < n_chains; ++c) {
        const ptrdiff_t k = (ptrdiff_t)(cols[c + 1] - cols[c]);
        if (k < 1) return GMS_ERR_ARG;
        kmax = k > kmax ? k : kmax;
    }
    for (ptrdiff_t s = 0; s < n_seq; ++s)
        if (offsets[s + 1] <= offsets[s]) return GMS_ERR_ARG;
    const ptrdiff_t ld = (ptrdiff_t)cols[n_chains];
    ptrdiff_t *tofs = malloc((size_t)n_chains * sizeof(ptrdiff_t));
    if (tofs == NULL) return GMS_ERR_NOMEM;
    ptrdiff_t acc = 0;
    for (ptrdiff_t c = 0; c < n_chains; ++c) {
        const ptrdiff_t k = (ptrdiff_t)(cols[c + 1] - cols[c]);
        tofs[c] = acc;
        acc += k * k;
    }
    const ptrdiff_t n_pairs = n_seq * n_chains;
    int failed = 0;
    if (n_threads < 1) n_threads = 1;
    if ((ptrdiff_t)n_threads > n_seq) n_threads = (int)n_seq;
    const ptrdiff_t wsize = 4 * (ld > kmax ? ld : kmax);
#ifdef _OPENMP
#pragma omp parallel num_threads(n_threads) reduction(| : failed)
#endif
    {
        double *w = malloc((size_t)wsize * sizeof(double));
        if (w == NULL) failed = 1;
#ifdef _OPENMP
#pragma omp for schedule(dynamic, 1)
#endif
        for (ptrdiff_t s = 0; s < n_seq; ++s) {
            double *out = seq_loglik + s * n_chains;
            if (w == NULL) {
                for (ptrdiff_t c = 0; c < n_chains; ++c) out[c] = NAN;
                continue;
            }
            const ptrdiff_t t0 = (ptrdiff_t)offsets[s], T = (ptrdiff_t)(offsets[s + 1] - t0);
            const double *f = framelogprob + t0 * ld;
            forward_scaled_all(f, ld, T, cols, n_chains, startprob, transmat, tofs, w, out);
            for (ptrdiff_t c = 0; c < n_chains; ++c)
                if (isnan(out[c]))   /* outside the scaled pass's exact range */
                    out[c] = forward_one(f + cols[c], ld, T, (ptrdiff_t)(cols[c + 1] - cols[c]),
                                         startprob + cols[c], transmat + tofs[c], w);
        }
        free(w);
    }
    free(tofs);
    if (failed) return GMS_ERR_NOMEM;
    for (ptrdiff_t q = 0; q < n_pairs; ++q)
        if (isnan(seq_loglik[q]) || seq_loglik[q] == INFINITY) return GMS_ERR_NONFINITE;
    return GMS_OK;
}
