/* Discrete emissions; see gms_discrete.h. */
#define _DEFAULT_SOURCE 1   /* lgamma_r: lgamma writes the global signgam */
#include "gms_discrete.h"
#include "gms_kernels.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#define ROWS_PER_TASK 512
/* Statistics: rows are summed in fixed blocks (their number depends on n,
 * k and the width only, never on the thread count), each block into its
 * own partial, and the partials are added in block order. */
#define STAT_BLOCK_ROWS 8192
#define STAT_MAX_BLOCKS 64
#define STAT_MAX_DOUBLES ((ptrdiff_t)1 << 23)   /* 64 MB of partials at most */

static double log_factorial(double x)
{
#if defined(__GLIBC__) || defined(__APPLE__) || defined(__FreeBSD__)
    int sign;
    return lgamma_r(x + 1.0, &sign);
#else
    return lgamma(x + 1.0);
#endif
}

/* A whole number in [0, limit) (limit <= 0: no upper bound). */
static int whole(double x, double limit)
{
    return x >= 0.0 && x == floor(x) && (limit <= 0.0 || x < limit) && x < 9007199254740992.0;
}

static ptrdiff_t n_tasks_of(ptrdiff_t n, ptrdiff_t rows) { return (n + rows - 1) / rows; }

/* Threads worth starting for `work` multiply-adds: a parallel region costs
 * about as much as a few hundred thousand of them. */
#define WORK_PER_THREAD ((double)(1 << 19))
static int work_threads(int n_threads, double work)
{
    const double useful = 1.0 + work / WORK_PER_THREAD;
    return useful < (double)n_threads ? (int)useful : n_threads;
}

static int clamp_threads(int n_threads, ptrdiff_t n_tasks)
{
    if (n_threads < 1) n_threads = 1;
    if (n_threads > n_tasks) n_threads = n_tasks > 0 ? (int)(n_tasks < 1024 ? n_tasks : 1024) : 1;
    return n_threads;
}

int gms_categorical_loglik(ptrdiff_t n, ptrdiff_t k, ptrdiff_t f, const double *X,
                           const double *log_bt, double *out, int n_threads,
                           int64_t *bad_row)
{
    if (n < 0 || k < 1 || f < 1 || !X || !log_bt || !out || !bad_row) return GMS_ERR_ARG;
    const ptrdiff_t n_tasks = n_tasks_of(n, ROWS_PER_TASK);
    int64_t first_bad = INT64_MAX;
    n_threads = clamp_threads(work_threads(n_threads, (double)n * (double)k), n_tasks);
#ifdef _OPENMP
#pragma omp parallel num_threads(n_threads)
#endif
    {
        int64_t my_bad = INT64_MAX;
#ifdef _OPENMP
#pragma omp for schedule(static)
#endif
        for (ptrdiff_t task = 0; task < n_tasks; task++) {
            const ptrdiff_t stop = (task + 1) * ROWS_PER_TASK < n ? (task + 1) * ROWS_PER_TASK : n;
            for (ptrdiff_t t = task * ROWS_PER_TASK; t < stop; t++) {
                const double x = X[t];
                if (!whole(x, (double)f)) {
                    if (t < my_bad) my_bad = t;
                    continue;
                }
                memcpy(out + t * k, log_bt + (ptrdiff_t)x * k, sizeof(double) * (size_t)k);
            }
        }
#ifdef _OPENMP
#pragma omp critical(gms_discrete_bad)
#endif
        if (my_bad < first_bad) first_bad = my_bad;
    }
    if (first_bad != INT64_MAX) {
        *bad_row = first_bad;
        return GMS_DISCRETE_BAD_VALUE;
    }
    return GMS_OK;
}

int gms_count_loglik(ptrdiff_t n, ptrdiff_t d, ptrdiff_t k, const double *X,
                     const double *log_p, const double *offset, int multinomial,
                     const double *n_trials, double *out, int n_threads, int64_t *bad_row)
{
    if (n < 0 || k < 1 || d < 1 || !X || !log_p || !out || !bad_row) return GMS_ERR_ARG;
    if (!multinomial && !offset) return GMS_ERR_ARG;
    const ptrdiff_t n_tasks = n_tasks_of(n, ROWS_PER_TASK);
    int64_t first_bad = INT64_MAX;
    int bad_code = GMS_OK;
    n_threads = clamp_threads(work_threads(n_threads, (double)n * (double)k * (double)d),
                              n_tasks);
#ifdef _OPENMP
#pragma omp parallel num_threads(n_threads)
#endif
    {
        int64_t my_bad = INT64_MAX;
        int my_code = GMS_OK;
#ifdef _OPENMP
#pragma omp for schedule(static)
#endif
        for (ptrdiff_t task = 0; task < n_tasks; task++) {
            const ptrdiff_t stop = (task + 1) * ROWS_PER_TASK < n ? (task + 1) * ROWS_PER_TASK : n;
            for (ptrdiff_t t = task * ROWS_PER_TASK; t < stop; t++) {
                const double *x = X + t * d;
                double *o = out + t * k;
                double lfact = 0.0, total = 0.0;
                int ok = 1;
                for (ptrdiff_t i = 0; i < d; i++) {
                    if (!whole(x[i], 0.0)) { ok = 0; break; }
                    lfact += log_factorial(x[i]);
                    total += x[i];
                }
                int code = ok ? GMS_OK : GMS_DISCRETE_BAD_VALUE;
                if (ok && multinomial && n_trials && total != n_trials[t])
                    code = GMS_DISCRETE_BAD_TOTAL;
                if (code != GMS_OK) {
                    if (t < my_bad) { my_bad = t; my_code = code; }
                    continue;
                }
                const double base = multinomial ? log_factorial(total) - lfact : -lfact;
                for (ptrdiff_t j = 0; j < k; j++) {
                    const double *lp = log_p + j * d;
                    double s = multinomial ? base : base - offset[j];
                    for (ptrdiff_t i = 0; i < d; i++)
                        if (x[i] != 0.0) s += x[i] * lp[i];   /* xlogy(0, p) = 0 */
                    o[j] = s;
                }
            }
        }
#ifdef _OPENMP
#pragma omp critical(gms_discrete_bad)
#endif
        if (my_bad < first_bad) { first_bad = my_bad; bad_code = my_code; }
    }
    if (first_bad != INT64_MAX) {
        *bad_row = first_bad;
        return bad_code;
    }
    return GMS_OK;
}

/* Blocks for the statistics of n rows into `width` doubles per block. */
static ptrdiff_t stat_blocks(ptrdiff_t n, ptrdiff_t width)
{
    ptrdiff_t blocks = n_tasks_of(n, STAT_BLOCK_ROWS);
    if (blocks > STAT_MAX_BLOCKS) blocks = STAT_MAX_BLOCKS;
    const ptrdiff_t fit = STAT_MAX_DOUBLES / (width > 0 ? width : 1);
    if (blocks > fit) blocks = fit;
    return blocks < 1 ? 1 : blocks;
}

/* Add the partials (blocks x width) into dst in block order. */
static void add_partials(const double *part, ptrdiff_t blocks, ptrdiff_t width, double *dst,
                         int n_threads)
{
    n_threads = clamp_threads(work_threads(n_threads, (double)width * (double)blocks),
                              n_tasks_of(width, 256));
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(n_threads)
#endif
    for (ptrdiff_t e = 0; e < width; e++) {
        double s = 0.0;
        for (ptrdiff_t b = 0; b < blocks; b++) s += part[b * width + e];
        dst[e] += s;
    }
}

/* Partials laid out as nk (k) then sums (width - k): added in block order
 * into nk (may be NULL) and s1. */
static int add_sums(const double *part, ptrdiff_t blocks, ptrdiff_t width, ptrdiff_t k,
                    double *nk, double *s1, int n_threads)
{
    double *sums = calloc((size_t)width, sizeof(double));
    if (!sums) return GMS_ERR_NOMEM;
    add_partials(part, blocks, width, sums, n_threads);
    if (nk)
        for (ptrdiff_t j = 0; j < k; j++) nk[j] += sums[j];
    for (ptrdiff_t e = k; e < width; e++) s1[e - k] += sums[e];
    free(sums);
    return GMS_OK;
}

int gms_categorical_counts(ptrdiff_t n, ptrdiff_t k, ptrdiff_t f, const double *X,
                           const double *post, double *nk, double *counts, int n_threads,
                           int64_t *bad_row)
{
    if (n < 0 || k < 1 || f < 1 || !X || !post || !counts || !bad_row) return GMS_ERR_ARG;
    if (n == 0) return GMS_OK;
    /* a block's partial: nk (k) then the counts (k x f) */
    const ptrdiff_t width = k + k * f, blocks = stat_blocks(n, width);
    const ptrdiff_t rows = (n + blocks - 1) / blocks;
    double *part = calloc((size_t)(blocks * width), sizeof(double));
    if (!part) return GMS_ERR_NOMEM;
    int64_t first_bad = INT64_MAX;
    n_threads = clamp_threads(work_threads(n_threads, 2.0 * (double)n * (double)k), blocks);
#ifdef _OPENMP
#pragma omp parallel num_threads(n_threads)
#endif
    {
        int64_t my_bad = INT64_MAX;
#ifdef _OPENMP
#pragma omp for schedule(dynamic, 1)
#endif
        for (ptrdiff_t b = 0; b < blocks; b++) {
            double *acc_n = part + b * width, *acc = acc_n + k;
            const ptrdiff_t stop = (b + 1) * rows < n ? (b + 1) * rows : n;
            for (ptrdiff_t t = b * rows; t < stop; t++) {
                const double x = X[t];
                if (!whole(x, (double)f)) {
                    if (t < my_bad) my_bad = t;
                    continue;
                }
                const ptrdiff_t s = (ptrdiff_t)x;
                const double *p = post + t * k;
                for (ptrdiff_t j = 0; j < k; j++) {
                    acc_n[j] += p[j];
                    acc[j * f + s] += p[j];
                }
            }
        }
#ifdef _OPENMP
#pragma omp critical(gms_discrete_bad)
#endif
        if (my_bad < first_bad) first_bad = my_bad;
    }
    int rc = GMS_OK;
    if (first_bad == INT64_MAX) rc = add_sums(part, blocks, width, k, nk, counts, n_threads);
    free(part);
    if (rc != GMS_OK) return rc;
    if (first_bad != INT64_MAX) {
        *bad_row = first_bad;
        return GMS_DISCRETE_BAD_VALUE;
    }
    return GMS_OK;
}

int gms_weighted_sums(ptrdiff_t n, ptrdiff_t d, ptrdiff_t k, const double *X,
                      const double *post, double *nk, double *s1, int n_threads)
{
    if (n < 0 || k < 1 || d < 1 || !X || !post || !s1) return GMS_ERR_ARG;
    if (n == 0) return GMS_OK;
    const ptrdiff_t width = k + k * d, blocks = stat_blocks(n, width);
    const ptrdiff_t rows = (n + blocks - 1) / blocks;
    double *part = calloc((size_t)(blocks * width), sizeof(double));
    if (!part) return GMS_ERR_NOMEM;
    n_threads = clamp_threads(work_threads(n_threads, (double)n * (double)k * (double)(d + 1)),
                              blocks);
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 1) num_threads(n_threads)
#endif
    for (ptrdiff_t b = 0; b < blocks; b++) {
        double *acc_n = part + b * width, *acc_s = acc_n + k;
        const ptrdiff_t stop = (b + 1) * rows < n ? (b + 1) * rows : n;
        for (ptrdiff_t t = b * rows; t < stop; t++) {
            const double *p = post + t * k, *x = X + t * d;
            for (ptrdiff_t j = 0; j < k; j++) {
                const double w = p[j];
                double *a = acc_s + j * d;
                acc_n[j] += w;
                for (ptrdiff_t i = 0; i < d; i++) a[i] += w * x[i];
            }
        }
    }
    const int rc = add_sums(part, blocks, width, k, nk, s1, n_threads);
    free(part);
    return rc;
}
