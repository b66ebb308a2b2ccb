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

/* Frames of one gms_lp_rows call: a row-major lp of 64 x K stays in L2. */
#define GMS_TOPC_SUB 64

/* Sum over the frames [r0, r1) of one model's log-likelihood: with a plan,
 * all K components through the E-step's block code (and, for the UBM under
 * top-C, each frame's selection into top); without, the C selected
 * components of each frame. Frames are added in order. */
static double block_sum(const gms_lp_plan *plan, gms_lp_work *w, int cov_type,
                        const double *X, int64_t r0, int64_t r1, ptrdiff_t d, ptrdiff_t k,
                        ptrdiff_t c, const double *means, const double *prec,
                        const double *log_norm, ptrdiff_t *top, int select, double *lp,
                        double *lse, double *diff)
{
    double sum = 0.0;
    for (int64_t s = r0; s < r1; s += GMS_TOPC_SUB) {
        const ptrdiff_t nr = (ptrdiff_t)(r1 - s < GMS_TOPC_SUB ? r1 - s : GMS_TOPC_SUB);
        if (plan != NULL) {
            gms_lp_rows(plan, w, X + s * d, nr, lp, 0, lse);
            for (ptrdiff_t i = 0; i < nr; ++i) {
                sum += lse[i];
                if (select)
                    select_top(lp + i * k, k, c, top + (s + i) * c);
            }
            continue;
        }
        for (ptrdiff_t i = 0; i < nr; ++i) {
            const ptrdiff_t *t = top + (s + i) * c;
            for (ptrdiff_t a = 0; a < c; ++a)
                lp[a] = component_lp(cov_type, X + (s + i) * d, d, t[a], means, prec, log_norm,
                                     diff);
            sum += log_sum_exp(lp, c);
        }
    }
    return sum;
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
    const size_t nb1 = (size_t)(n_blocks > 0 ? n_blocks : 1);
    double *part = malloc(nb1 * (size_t)width * sizeof(double));
    int64_t *start = malloc((nb1 + 1) * sizeof(int64_t));
    ptrdiff_t *owner = malloc(nb1 * sizeof(ptrdiff_t));
    /* top-C: each frame's selection, n x C (never n x K) */
    ptrdiff_t *top = exact ? NULL : malloc((size_t)(n > 0 ? n : 1) * (size_t)c *
                                           sizeof(ptrdiff_t));
    if (!part || !start || !owner || (!exact && !top)) {
        free(part);
        free(start);
        free(owner);
        free(top);
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
    int failed = 0, nonfinite = 0;
    const int blas = gms_lp_calls_blas(cov_type, d);
    if (blas)
        gms_blas_pin();
    /* One model at a time (g = -1: the UBM, first: it makes the top-C
     * selection), so that its parameters stay in cache over the blocks. */
    for (ptrdiff_t g = -1; g < n_models && !failed && !nonfinite; ++g) {
        const double *mg = g < 0 ? ubm_means : means + g * k * d;
        const double *pg = g < 0 ? ubm_prec : prec + g * psize;
        const double *ng = g < 0 ? ubm_log_norm : log_norm + g * k;
        gms_lp_plan *plan = NULL;
        if (g < 0 || exact) {
            plan = gms_lp_plan_new(cov_type, d, k, mg, pg, ng);
            if (plan == NULL) {
                failed = 1;
                break;
            }
        }
#ifdef _OPENMP
#pragma omp parallel num_threads(n_threads > 0 ? n_threads : 1)
#endif
        {
            gms_lp_work *w = plan ? gms_lp_work_new(plan, GMS_TOPC_SUB) : NULL;
            double *lp = malloc((size_t)(plan ? GMS_TOPC_SUB * k : c) * sizeof(double));
            double *lse = malloc(GMS_TOPC_SUB * sizeof(double));
            double *diff = malloc((size_t)d * sizeof(double));
            const int ok = lp && lse && diff && (w || !plan);
            if (!ok)
                gms_set_failed(&failed);
#ifdef _OPENMP
#pragma omp for schedule(dynamic, 1)
#endif
            for (ptrdiff_t bi = 0; bi < n_blocks; ++bi) {
                if (!ok)
                    continue;
                const int64_t utt_end = offsets[owner[bi] + 1];
                const int64_t end = start[bi] + GMS_TOPC_BLOCK < utt_end
                                        ? start[bi] + GMS_TOPC_BLOCK : utt_end;
                const double sum = block_sum(plan, w, cov_type, X, start[bi], end, d, k, c, mg,
                                             pg, ng, top, g < 0 && !exact, lp, lse, diff);
                part[bi * width + 1 + g] = sum;
                if (!isfinite(sum))
                    gms_set_failed(&nonfinite);
            }
            gms_lp_work_free(w);
            free(lp);
            free(lse);
            free(diff);
        }
        gms_lp_plan_free(plan);
    }
    if (blas)
        gms_blas_unpin();
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
    free(part);
    free(start);
    free(owner);
    free(top);
    return failed ? GMS_ERR_NOMEM : nonfinite ? GMS_ERR_NONFINITE : GMS_OK;
}
