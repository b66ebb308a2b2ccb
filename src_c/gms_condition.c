/* Gaussian mixture conditionals over rows; see gms_condition.h. */
#include "gms_condition.h"
#include "gms_kernels.h"

#include <math.h>
#include <stdlib.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#define ROWS_PER_TASK 256

/* One row: component log-weights p (k), conditional means mk (k x dr). */
static void condition_row(ptrdiff_t da, ptrdiff_t dr, ptrdiff_t k, const double *x,
                          const double *mu_a, const double *prec_u, const double *log_norm,
                          const double *reg, const double *mu_b, double *diff, double *p,
                          double *mk)
{
    for (ptrdiff_t j = 0; j < k; j++) {
        const double *mu = mu_a + j * da;
        const double *u = prec_u + j * da * da;
        for (ptrdiff_t i = 0; i < da; i++) diff[i] = x[i] - mu[i];
        double maha = 0.0;
        for (ptrdiff_t c = 0; c < da; c++) {          /* (x - mu) U, U upper */
            double z = 0.0;
            for (ptrdiff_t i = 0; i <= c; i++) z += diff[i] * u[i * da + c];
            maha += z * z;
        }
        p[j] = log_norm[j] - 0.5 * maha;
        if (mk) {
            const double *r = reg + j * dr * da;
            for (ptrdiff_t o = 0; o < dr; o++) {
                double m = mu_b[j * dr + o];
                for (ptrdiff_t i = 0; i < da; i++) m += r[o * da + i] * diff[i];
                mk[j * dr + o] = m;
            }
        }
    }
}

int gms_condition_rows(ptrdiff_t n, ptrdiff_t da, ptrdiff_t dr, ptrdiff_t k,
                       const double *X, const double *mu_a, const double *prec_u,
                       const double *log_norm, const double *reg, const double *mu_b,
                       const double *cond_var, double *resp, double *means,
                       double *mean, double *var, int n_threads, int64_t *bad_row)
{
    if (n < 0 || da < 1 || dr < 0 || k < 1 || !X || !mu_a || !prec_u || !log_norm || !bad_row)
        return GMS_ERR_ARG;
    const int want_mk = means || mean || var;
    if (want_mk && (dr < 1 || !reg || !mu_b)) return GMS_ERR_ARG;
    if (var && !cond_var) return GMS_ERR_ARG;
    *bad_row = -1;
    const ptrdiff_t n_tasks = (n + ROWS_PER_TASK - 1) / ROWS_PER_TASK;
    int failed_alloc = 0;
    int64_t first_bad = INT64_MAX;
    if (n_threads < 1) n_threads = 1;
    if (n_threads > n_tasks) n_threads = n_tasks > 0 ? (int)n_tasks : 1;

#ifdef _OPENMP
#pragma omp parallel num_threads(n_threads)
#endif
    {
        double *scratch = malloc(sizeof(double) * (size_t)(da + k + (want_mk ? k * dr : 0)));
        int64_t my_bad = INT64_MAX;
        if (!scratch) gms_set_failed(&failed_alloc);
#ifdef _OPENMP
#pragma omp for schedule(static)
#endif
        for (ptrdiff_t t = 0; t < n_tasks; t++) {
            if (!scratch) continue;
            double *diff = scratch, *p = scratch + da;
            const ptrdiff_t stop = (t + 1) * ROWS_PER_TASK < n ? (t + 1) * ROWS_PER_TASK : n;
            for (ptrdiff_t row = t * ROWS_PER_TASK; row < stop; row++) {
                double *mk = !want_mk ? NULL : means ? means + row * k * dr : p + k;
                condition_row(da, dr, k, X + row * da, mu_a, prec_u, log_norm, reg, mu_b,
                              diff, p, mk);
                double top = -INFINITY;
                for (ptrdiff_t j = 0; j < k; j++) top = p[j] > top ? p[j] : top;
                double s = 0.0;
                for (ptrdiff_t j = 0; j < k; j++) s += exp(p[j] - top);
                const double lse = top + log(s);
                if (!isfinite(lse)) {
                    if (row < my_bad) my_bad = row;
                    continue;
                }
                for (ptrdiff_t j = 0; j < k; j++) p[j] = exp(p[j] - lse);
                if (resp)
                    for (ptrdiff_t j = 0; j < k; j++) resp[row * k + j] = p[j];
                if (mean || var) {
                    double *m = mean ? mean + row * dr : NULL;
                    for (ptrdiff_t o = 0; o < dr; o++) {
                        double acc = 0.0;
                        for (ptrdiff_t j = 0; j < k; j++) acc += p[j] * mk[j * dr + o];
                        if (m) m[o] = acc;
                        if (var) {   /* sum_j r_j (v_j + (m_j - m)^2): no cancellation */
                            double v = 0.0;
                            for (ptrdiff_t j = 0; j < k; j++) {
                                const double e = mk[j * dr + o] - acc;
                                v += p[j] * (cond_var[j * dr + o] + e * e);
                            }
                            var[row * dr + o] = v;
                        }
                    }
                }
            }
        }
#ifdef _OPENMP
#pragma omp critical(gms_condition_bad)
#endif
        if (my_bad < first_bad) first_bad = my_bad;
        free(scratch);
    }
    if (failed_alloc) return GMS_ERR_NOMEM;
    if (first_bad != INT64_MAX) {
        *bad_row = first_bad;
        return GMS_ERR_NONFINITE;
    }
    return GMS_OK;
}
