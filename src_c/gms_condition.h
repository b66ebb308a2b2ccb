/*
 * Gaussian mixture conditionals over rows (mixture regression): for each
 * row a of X, the mixture p(x_B | x_A = a) -- its component weights,
 * component means, and the mean and per-output variance of the mixture.
 *
 * Every component is given in full form over the conditioning block A:
 * mu_a (k x da), an upper-triangular factor U_j (da x da, precision =
 * U U^T), log_norm_j = log w_j + log det U_j - da/2 log(2 pi); the
 * regression matrix reg_j = S_BA S_AA^-1 (dr x da) and mu_b (k x dr); the
 * conditional variances cond_var (k x dr, the diagonal of S_BB - reg S_AB).
 * Rows are independent: threads split them, results do not depend on the
 * thread count. Plain C11, no Python.h.
 */
#ifndef GMS_CONDITION_H
#define GMS_CONDITION_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Any of resp (n x k), means (n x k x dr), mean (n x dr), var (n x dr) may
 * be NULL (var needs cond_var). Returns GMS_OK, GMS_ERR_ARG, GMS_ERR_NOMEM,
 * or GMS_ERR_NONFINITE with *bad_row the first row whose marginal
 * log-likelihood is not finite (nothing is then to be trusted).
 */
int gms_condition_rows(ptrdiff_t n, ptrdiff_t da, ptrdiff_t dr, ptrdiff_t k,
                       const double *X, const double *mu_a, const double *prec_u,
                       const double *log_norm, const double *reg, const double *mu_b,
                       const double *cond_var, double *resp, double *means,
                       double *mean, double *var, int n_threads, int64_t *bad_row);

#ifdef __cplusplus
}
#endif

#endif
