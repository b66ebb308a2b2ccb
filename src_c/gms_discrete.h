/*
 * Discrete emissions of the hidden Markov models (CategoricalHMM,
 * PoissonHMM, MultinomialHMM): per-frame emission log-likelihoods and the
 * posterior-weighted emission statistics.
 *
 * Layout: X is n x d row-major float64 holding whole numbers (symbols for
 * the categorical model, d == 1; counts otherwise); post is n x k
 * row-major state posteriors; out is n x k. Every kernel checks every
 * value it reads and never indexes with a value it has not checked; a bad
 * value is reported with the first bad row (thread-count independent).
 * Rows are independent in the log-likelihood kernels (threads split them);
 * the statistics kernels split the states between threads and sum each
 * output over the rows in row order, so results do not depend on the
 * thread count. Plain C11, no Python.h.
 */
#ifndef GMS_DISCRETE_H
#define GMS_DISCRETE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Return codes besides GMS_OK / GMS_ERR_ARG (gms_kernels.h). */
#define GMS_DISCRETE_BAD_VALUE 1   /* not a whole number >= 0 (or a symbol >= f) */
#define GMS_DISCRETE_BAD_TOTAL 2   /* a row's counts do not sum to its n_trials */

/* out[t, j] = log_bt[x_t * k + j]; log_bt is f x k (log emissionprob_
 * transposed). */
int gms_categorical_loglik(ptrdiff_t n, ptrdiff_t k, ptrdiff_t f, const double *X,
                           const double *log_bt, double *out, int n_threads,
                           int64_t *bad_row);

/* nk[j] += sum_t post[t, j] (nk may be NULL), counts[j * f + x_t] +=
 * post[t, j] (counts: k x f), block-ordered sums over the rows. */
int gms_categorical_counts(ptrdiff_t n, ptrdiff_t k, ptrdiff_t f, const double *X,
                           const double *post, double *nk, double *counts, int n_threads,
                           int64_t *bad_row);

/* Poisson (n_trials NULL):
 *   out[t, j] = sum_i xlogy(x_ti, lam_ji) - sum_i lam_ji - sum_i lgamma(x_ti + 1)
 * with log_p = log lambdas_ (k x d) and offset[j] = sum_i lam_ji.
 * Multinomial (n_trials given, n entries, the expected row totals; or
 * check_totals == 0 to use each row's own total):
 *   out[t, j] = lgamma(N_t + 1) - sum_i lgamma(x_ti + 1) + sum_i xlogy(x_ti, p_ji)
 * with log_p = log emissionprob_ and offset ignored. xlogy(0, .) = 0. */
int gms_count_loglik(ptrdiff_t n, ptrdiff_t d, ptrdiff_t k, const double *X,
                     const double *log_p, const double *offset, int multinomial,
                     const double *n_trials, double *out, int n_threads, int64_t *bad_row);

/* nk[j] += sum_t post[t, j], s1[j * d + i] += sum_t post[t, j] x_ti, in row
 * order (nk may be NULL). */
int gms_weighted_sums(ptrdiff_t n, ptrdiff_t d, ptrdiff_t k, const double *X,
                      const double *post, double *nk, double *s1, int n_threads);

#ifdef __cplusplus
}
#endif

#endif
