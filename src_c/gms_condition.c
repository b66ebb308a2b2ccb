/* Conditional moments of a Gaussian mixture, fused per block (see
 * gms_condition.h). The marginal log-densities are the prediction pass's
 * (gms_lp_rows); the rest is a few multiply-adds per component. */
#include "gms_condition.h"

#include <math.h>
#include <stdlib.h>

#include "gms_fastmath.h"
#include "gms_kernels.h"

#ifdef _OPENMP
#include <omp.h>
#endif

/* One block of nr rows, every loop running over the rows (component-major
 * lp from gms_lp_rows), so that each vectorises with no reassociation:
 * responsibilities as predict_proba (exp(lp - max) times the inverse of
 * their sum), the component means M[j, b] = (sum_a stacked[a, j, b] x_a) +
 * offset[j, b] (features in order), mean_b = sum_j r_j M[j, b] and var_b =
 * sum_j r_j ((M[j, b] - mean_b)^2 + cv[j, b]) (components in order).
 * Scratch: xT (da x nr), M (k db x nr), t (4 nr). Returns 1 when some row's
 * log-likelihood is not finite (its outputs are NaN). */
GMS_HOT static int block_moments(double *restrict lp, const double *restrict X, ptrdiff_t nr,
                                 ptrdiff_t da, ptrdiff_t k, ptrdiff_t db,
                                 const double *restrict stacked,
                                 const double *restrict offset,
                                 const double *restrict cond_var, double *restrict xT,
                                 double *restrict M, double *restrict t,
                                 double *restrict mean, double *restrict var)
{
    double *restrict mx = t, *restrict s = t + nr, *restrict acc = t + 2 * nr;
    double *restrict lost = t + 3 * nr; /* 1: the row has no finite likelihood */
    for (ptrdiff_t i = 0; i < nr; ++i) mx[i] = lp[i];
    for (ptrdiff_t j = 1; j < k; ++j)
        for (ptrdiff_t i = 0; i < nr; ++i) mx[i] = lp[j * nr + i] > mx[i] ? lp[j * nr + i] : mx[i];
    int bad = 0;
    for (ptrdiff_t i = 0; i < nr; ++i) {
        lost[i] = isfinite(mx[i]) ? 0.0 : 1.0;
        bad |= !isfinite(mx[i]);
    }
    if (bad) /* such a row computes on zeros (exp's argument stays <= 0) */
        for (ptrdiff_t i = 0; i < nr; ++i)
            if (lost[i] != 0.0) {
                mx[i] = 0.0;
                for (ptrdiff_t j = 0; j < k; ++j) lp[j * nr + i] = 0.0;
            }
    for (ptrdiff_t i = 0; i < nr; ++i) s[i] = 0.0;
    for (ptrdiff_t j = 0; j < k; ++j)
        for (ptrdiff_t i = 0; i < nr; ++i) {
            const double e = gms_exp_nonpositive(lp[j * nr + i] - mx[i]);
            lp[j * nr + i] = e;
            s[i] += e;
        }
    for (ptrdiff_t i = 0; i < nr; ++i) s[i] = 1.0 / s[i];
    for (ptrdiff_t j = 0; j < k; ++j)
        for (ptrdiff_t i = 0; i < nr; ++i) lp[j * nr + i] *= s[i];
    for (ptrdiff_t a = 0; a < da; ++a)
        for (ptrdiff_t i = 0; i < nr; ++i) xT[a * nr + i] = X[i * da + a];
    const ptrdiff_t kb = k * db;
    for (ptrdiff_t c = 0; c < kb; ++c) {
        double *restrict mc = M + c * nr;
        for (ptrdiff_t i = 0; i < nr; ++i) mc[i] = 0.0;
        for (ptrdiff_t a = 0; a < da; ++a) {
            const double f = stacked[a * kb + c];
            const double *restrict xa = xT + a * nr;
            for (ptrdiff_t i = 0; i < nr; ++i) mc[i] += f * xa[i];
        }
        const double o = offset[c];
        for (ptrdiff_t i = 0; i < nr; ++i) mc[i] += o;
    }
    for (ptrdiff_t b = 0; b < db; ++b) {
        for (ptrdiff_t i = 0; i < nr; ++i) acc[i] = 0.0;
        for (ptrdiff_t j = 0; j < k; ++j) {
            const double *restrict r = lp + j * nr, *restrict mc = M + (j * db + b) * nr;
            for (ptrdiff_t i = 0; i < nr; ++i) acc[i] += r[i] * mc[i];
        }
        for (ptrdiff_t i = 0; i < nr; ++i) mean[i * db + b] = lost[i] != 0.0 ? NAN : acc[i];
        if (var == NULL) continue;
        /* sum_j r_j (v_j + (m_j - mean)^2): no cancellation */
        for (ptrdiff_t i = 0; i < nr; ++i) s[i] = 0.0;
        for (ptrdiff_t j = 0; j < k; ++j) {
            const double *restrict r = lp + j * nr, *restrict mc = M + (j * db + b) * nr;
            const double v = cond_var[j * db + b];
            for (ptrdiff_t i = 0; i < nr; ++i) {
                const double e = mc[i] - acc[i];
                s[i] += r[i] * (e * e + v);
            }
        }
        for (ptrdiff_t i = 0; i < nr; ++i) var[i * db + b] = lost[i] != 0.0 ? NAN : s[i];
    }
    return bad;
}

int gms_condition_moments(int cov_type, const double *X, ptrdiff_t n, ptrdiff_t da,
                          ptrdiff_t k, const double *means, const double *prec_chol,
                          const double *log_norm, ptrdiff_t db, const double *stacked,
                          const double *offset, const double *cond_var, double *mean,
                          double *var, int n_threads)
{
    if (cov_type < GMS_FULL || cov_type > GMS_SPHERICAL || n < 0 || da < 1 || k < 1 ||
        db < 1 || !X || !means || !prec_chol || !log_norm || !stacked || !offset || !mean ||
        (var && !cond_var))
        return GMS_ERR_ARG;
    if (n == 0)
        return GMS_OK;
    gms_lp_plan *plan = gms_lp_plan_new(cov_type, da, k, means, prec_chol, log_norm);
    if (plan == NULL)
        return GMS_ERR_NOMEM;
    const ptrdiff_t nb = (n + GMS_BLOCK_ROWS - 1) / GMS_BLOCK_ROWS;
    const ptrdiff_t rows = n < GMS_BLOCK_ROWS ? n : GMS_BLOCK_ROWS;
    int failed = 0, nonfinite = 0;
    const int blas = gms_lp_calls_blas(cov_type, da);
    if (blas)
        gms_blas_pin();
#ifndef _OPENMP
    (void)n_threads;
#endif
#ifdef _OPENMP
#pragma omp parallel num_threads(n_threads > 0 ? (nb < n_threads ? (int)nb : n_threads) : 1)
#endif
    {
        gms_lp_work *w = gms_lp_work_new(plan, rows);
        double *lp = malloc((size_t)(rows * k) * sizeof(double));
        double *xT = malloc((size_t)(rows * da) * sizeof(double));
        double *M = malloc((size_t)(rows * k * db) * sizeof(double));
        double *t = malloc((size_t)(4 * rows) * sizeof(double));
        const int ok = w && lp && xT && M && t;
        if (!ok)
            gms_set_failed(&failed);
#ifdef _OPENMP
#pragma omp for schedule(static)
#endif
        for (ptrdiff_t bi = 0; bi < nb; ++bi) {
            if (!ok)
                continue;
            const ptrdiff_t s = bi * GMS_BLOCK_ROWS;
            const ptrdiff_t nr = n - s < GMS_BLOCK_ROWS ? n - s : GMS_BLOCK_ROWS;
            gms_lp_rows(plan, w, X + s * da, nr, lp, 1, NULL);
            if (block_moments(lp, X + s * da, nr, da, k, db, stacked, offset, cond_var, xT, M,
                              t, mean + s * db, var ? var + s * db : NULL))
                gms_set_failed(&nonfinite);
        }
        gms_lp_work_free(w);
        free(lp);
        free(xT);
        free(M);
        free(t);
    }
    if (blas)
        gms_blas_unpin();
    gms_lp_plan_free(plan);
    return failed ? GMS_ERR_NOMEM : nonfinite ? GMS_ERR_NONFINITE : GMS_OK;
}
