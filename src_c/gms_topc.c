/* Utterance scoring with top-C selection (see gms_topc.h). */
#include "gms_topc.h"

#include <math.h>
#include <stdlib.h>

#include "gms_kernels.h"

#ifdef _OPENMP
#include <omp.h>
#endif

/* Doubles of precision factor per component (0: shared by all, tied). */
static ptrdiff_t prec_stride(int cov_type, ptrdiff_t d)
{
    switch (cov_type) {
    case GMS_FULL: return d * d;
    case GMS_TIED: return 0;
    case GMS_DIAG: return d;
    default: return 1;
    }
}

static ptrdiff_t prec_size(int cov_type, ptrdiff_t k, ptrdiff_t d)
{
    return cov_type == GMS_TIED ? d * d : k * prec_stride(cov_type, d);
}

/* log w_j N(x; mu_j) = log_norm_j - |(x - mu_j)^T U_j|^2 / 2; diff: D scratch. */
static double component_lp(int cov_type, const double *x, ptrdiff_t d, ptrdiff_t j,
                           const double *means, const double *prec, const double *log_norm,
                           double *diff)
{
    const double *mu = means + j * d;
    const double *u = prec + j * prec_stride(cov_type, d);
    double q = 0.0;
    if (cov_type == GMS_DIAG) {
        for (ptrdiff_t i = 0; i < d; ++i) {
            const double z = (x[i] - mu[i]) * u[i];
            q += z * z;
        }
    } else if (cov_type == GMS_SPHERICAL) {
        for (ptrdiff_t i = 0; i < d; ++i) {
            const double z = x[i] - mu[i];
            q += z * z;
        }
        q *= u[0] * u[0];
    } else { /* full / tied: y_c = sum_{r <= c} diff_r U[r, c] */
        for (ptrdiff_t i = 0; i < d; ++i)
            diff[i] = x[i] - mu[i];
        for (ptrdiff_t c = 0; c < d; ++c) {
            double y = 0.0;
            for (ptrdiff_t r = 0; r <= c; ++r)
                y += diff[r] * u[r * d + c];
            q += y * y;
        }
    }
    return log_norm[j] - 0.5 * q;
}

/* Component-major copies (D x K) of diag/spherical means and factors, so
 * that all K log-densities of a row vectorise over components; each
 * component still sums its features in ascending order, so the values are
 * those of component_lp bit for bit. */
static void transpose_dk(const double *a, ptrdiff_t k, ptrdiff_t d, double *t)
{
    for (ptrdiff_t j = 0; j < k; ++j)
        for (ptrdiff_t i = 0; i < d; ++i)
            t[i * k + j] = a[j * d + i];
}

static void all_lp(int cov_type, const double *x, ptrdiff_t d, ptrdiff_t k,
                   const double *means, const double *prec, const double *log_norm,
                   const double *muT, const double *pT, double *diff, double *lp)
{
    if (cov_type == GMS_DIAG || cov_type == GMS_SPHERICAL) {
        for (ptrdiff_t j = 0; j < k; ++j)
            lp[j] = 0.0;
        for (ptrdiff_t i = 0; i < d; ++i) {
            const double xi = x[i];
            const double *restrict m = muT + i * k;
            double *restrict q = lp;
            if (cov_type == GMS_DIAG) {
                const double *restrict u = pT + i * k;
                for (ptrdiff_t j = 0; j < k; ++j) {
                    const double z = (xi - m[j]) * u[j];
                    q[j] += z * z;
                }
            } else {
                for (ptrdiff_t j = 0; j < k; ++j) {
                    const double z = xi - m[j];
                    q[j] += z * z;
                }
            }
        }
        for (ptrdiff_t j = 0; j < k; ++j) {
            const double q = cov_type == GMS_DIAG ? lp[j] : lp[j] * (prec[j] * prec[j]);
            lp[j] = log_norm[j] - 0.5 * q;
        }
        return;
    }
    for (ptrdiff_t j = 0; j < k; ++j)
        lp[j] = component_lp(cov_type, x, d, j, means, prec, log_norm, diff);
}

/* log sum_j exp(lp_j) over the n values (max-shifted). */
static double log_sum_exp(const double *lp, ptrdiff_t n)
{
    double m = -INFINITY;
    for (ptrdiff_t j = 0; j < n; ++j)
        if (lp[j] > m)
            m = lp[j];
    if (!isfinite(m))
        return m;
    double s = 0.0;
    for (ptrdiff_t j = 0; j < n; ++j)
        s += exp(lp[j] - m);
    return m + log(s);
}

/* The c best of lp[0..k) (ties: lower index), returned in ascending index
 * order so that c = k sums in the exact order. top: c indices. */
static void select_top(const double *lp, ptrdiff_t k, ptrdiff_t c, ptrdiff_t *top)
{
    ptrdiff_t have = 0;
    for (ptrdiff_t j = 0; j < k; ++j) {
        /* top[0..have) sorted by score descending (earlier index first) */
        if (have == c && !(lp[j] > lp[top[c - 1]]))
            continue;
        ptrdiff_t pos = have < c ? have++ : c - 1;
        while (pos > 0 && lp[j] > lp[top[pos - 1]]) {
            top[pos] = top[pos - 1];
            --pos;
        }
        top[pos] = j;
    }
    for (ptrdiff_t a = 1; a < c; ++a) { /* insertion sort by index */
        ptrdiff_t v = top[a], b = a;
        while (b > 0 && top[b - 1] > v) {
            top[b] = top[b - 1];
            --b;
        }
        top[b] = v;
    }
}

int gms_topc_utterance_loglik(int cov_type, const double *X, ptrdiff_t n, ptrdiff_t d,
                              ptrdiff_t k, const double *ubm_means, const double *ubm_prec,
                              const double *ubm_log_norm, ptrdiff_t n_models,
                              const double *means, const double *prec,
                              const double *log_norm, const int64_t *offsets,
                              ptrdiff_t n_utt, ptrdiff_t top_c, double *ubm_sum,
                              double *model_sum, int n_threads)
{
    if (cov_type < GMS_FULL || cov_type > GMS_SPHERICAL || n < 0 || d < 1 || k < 1 ||
        n_models < 1 || n_utt < 1 || top_c < 0 || !X || !ubm_means || !ubm_prec ||
        !ubm_log_norm || !means || !prec || !log_norm || !offsets || !ubm_sum ||
        !model_sum)
        return GMS_ERR_ARG;
    if (offsets[0] != 0 || offsets[n_utt] != n)
        return GMS_ERR_ARG;
    for (ptrdiff_t u = 0; u < n_utt; ++u)
        if (offsets[u + 1] < offsets[u])
            return GMS_ERR_ARG;
    const ptrdiff_t c = (top_c == 0 || top_c >= k) ? k : top_c;
    const int exact = c == k;
    /* Blocks: per utterance ceil(T / B) of them; first block of each. */
    ptrdiff_t n_blocks = 0;
    for (ptrdiff_t u = 0; u < n_utt; ++u)
        n_blocks += (ptrdiff_t)((offsets[u + 1] - offsets[u] + GMS_TOPC_BLOCK - 1) /
                                GMS_TOPC_BLOCK);
    const ptrdiff_t width = 1 + n_models; /* per block: UBM sum, model sums */
    double *part = malloc((size_t)(n_blocks > 0 ? n_blocks : 1) * (size_t)width *
                          sizeof(double));
    int64_t *start = malloc((size_t)(n_blocks + 1) * sizeof(int64_t));
    ptrdiff_t *owner = malloc((size_t)(n_blocks > 0 ? n_blocks : 1) * sizeof(ptrdiff_t));
    if (!part || !start || !owner) {
        free(part);
        free(start);
        free(owner);
        return GMS_ERR_NOMEM;
    }
    ptrdiff_t b = 0;
    for (ptrdiff_t u = 0; u < n_utt; ++u)
        for (int64_t r = offsets[u]; r < offsets[u + 1]; r += GMS_TOPC_BLOCK) {
            start[b] = r;
            owner[b++] = u;
        }
    start[n_blocks] = n;
#ifndef _OPENMP
    (void)n_threads;
#endif
    const ptrdiff_t psize = prec_size(cov_type, k, d);
    const int vec = cov_type == GMS_DIAG || cov_type == GMS_SPHERICAL;
    const ptrdiff_t nt = vec ? (1 + n_models) * k * d : 1;
    double *muT = malloc((size_t)nt * sizeof(double));
    double *pT = malloc((size_t)nt * sizeof(double));
    if (!muT || !pT) {
        free(muT);
        free(pT);
        free(part);
        free(start);
        free(owner);
        return GMS_ERR_NOMEM;
    }
    if (vec) {
        transpose_dk(ubm_means, k, d, muT);
        for (ptrdiff_t g = 0; g < n_models; ++g)
            transpose_dk(means + g * k * d, k, d, muT + (1 + g) * k * d);
        if (cov_type == GMS_DIAG) {
            transpose_dk(ubm_prec, k, d, pT);
            for (ptrdiff_t g = 0; g < n_models; ++g)
                transpose_dk(prec + g * k * d, k, d, pT + (1 + g) * k * d);
        }
    }
    int failed = 0, nonfinite = 0;
#ifdef _OPENMP
#pragma omp parallel num_threads(n_threads > 0 ? n_threads : 1)
#endif
    {
        double *lp = malloc((size_t)k * sizeof(double));
        double *clp = malloc((size_t)c * sizeof(double));
        double *diff = malloc((size_t)d * sizeof(double));
        ptrdiff_t *top = malloc((size_t)c * sizeof(ptrdiff_t));
        if (!lp || !clp || !diff || !top)
            gms_set_failed(&failed);
#ifdef _OPENMP
#pragma omp for schedule(dynamic, 1)
#endif
        for (ptrdiff_t bi = 0; bi < n_blocks; ++bi) {
            double *acc = part + bi * width;
            for (ptrdiff_t g = 0; g < width; ++g)
                acc[g] = 0.0;
            if (!lp || !clp || !diff || !top)
                continue;
            const int64_t utt_end = offsets[owner[bi] + 1];
            const int64_t end = start[bi] + GMS_TOPC_BLOCK < utt_end
                                    ? start[bi] + GMS_TOPC_BLOCK : utt_end;
            int bad = 0;
            for (int64_t r = start[bi]; r < end; ++r) {
                const double *x = X + r * d;
                all_lp(cov_type, x, d, k, ubm_means, ubm_prec, ubm_log_norm, muT, pT, diff, lp);
                const double lu = log_sum_exp(lp, k);
                bad |= !isfinite(lu);
                acc[0] += lu;
                if (!exact)
                    select_top(lp, k, c, top);
                for (ptrdiff_t g = 0; g < n_models; ++g) {
                    const double *mg = means + g * k * d, *pg = prec + g * psize,
                                 *ng = log_norm + g * k;
                    if (exact && vec)
                        all_lp(cov_type, x, d, k, mg, pg, ng, muT + (1 + g) * k * d,
                               pT + (1 + g) * k * d, diff, clp);
                    else
                        for (ptrdiff_t a = 0; a < c; ++a)
                            clp[a] = component_lp(cov_type, x, d, exact ? a : top[a], mg, pg,
                                                  ng, diff);
                    const double lm = log_sum_exp(clp, c);
                    bad |= !isfinite(lm);
                    acc[1 + g] += lm;
                }
            }
            if (bad)
                gms_set_failed(&nonfinite);
        }
        free(lp);
        free(clp);
        free(diff);
        free(top);
    }
    if (!failed && !nonfinite) {
        for (ptrdiff_t u = 0; u < n_utt; ++u) {
            ubm_sum[u] = 0.0;
            for (ptrdiff_t g = 0; g < n_models; ++g)
                model_sum[g * n_utt + u] = 0.0;
        }
        for (ptrdiff_t bi = 0; bi < n_blocks; ++bi) { /* block order: fixed */
            const ptrdiff_t u = owner[bi];
            ubm_sum[u] += part[bi * width];
            for (ptrdiff_t g = 0; g < n_models; ++g)
                model_sum[g * n_utt + u] += part[bi * width + 1 + g];
        }
    }
    free(muT);
    free(pT);
    free(part);
    free(start);
    free(owner);
    return failed ? GMS_ERR_NOMEM : nonfinite ? GMS_ERR_NONFINITE : GMS_OK;
}
