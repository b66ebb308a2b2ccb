/*
 * Exact E-step of Gaussian mixtures on rows with missing entries (NaN),
 * marginalised as missing at random (Ghahramani & Jordan 1994).
 *
 * Rows are grouped by missingness pattern: `order` lists the rows taken
 * (indices into X), pattern by pattern, pattern p owning
 * order[pat_start[p] .. pat_start[p + 1]); `observed` (n_pat x d, 1 =
 * observed) gives each pattern's observed features. Per block of at most
 * GMS_BLOCK_ROWS rows of one pattern, the factors of the observed
 * sub-covariances are formed once per component and reused for every row;
 * full / tied with BLAS, the rows of patterns with a missing feature (or
 * of few rows) share mixed-pattern blocks instead, whose per-pattern work
 * is a Cholesky factor of the missing block of each precision.
 *
 * For a row with observed set o and missing set m, component k:
 *   log p_k  = log w_k + log N(x_o; mu_o, S_oo)
 *   xhat_m   = mu_m + S_mo S_oo^{-1} (x_o - mu_o)
 *   C        = S_mm - S_mo S_oo^{-1} S_om      (the same for the pattern)
 * and, with r = sample weight x responsibility and xfill = x with xhat in
 * the missing slots, about the centres c_k:
 *   nk += r;  s1 += r (xfill - c);  s2 += r ((xfill - c)(...)^T + C on m x m)
 * (tied: s2 pooled over components; diag / spherical: per-feature squares
 * plus the missing variances). Statistics come out in the reducer's leaf
 * layout (nk, s1, s2 upper triangles, log-likelihood, total weight).
 *
 * Parameters: means K x D; covs: full K x D x D, tied D x D, diag K x D,
 * spherical K (covariances, not precisions); log_w: K log weights (-inf
 * allowed). Every output may be NULL (not computed): stats (leaf layout),
 * lse (N, per-row log-likelihood), logp (N x K, log p_k), resp_out
 * (N x K), impute / impute_var (N x D, the conditional mean and variance
 * of every entry under the mixture; observed entries: x and 0). Per-row
 * outputs are indexed by the row's index in X. resp_in (N x K, indexed
 * like X) replaces the responsibilities computed from the model (an HMM's
 * state posteriors).
 *
 * dgemm / dsyrk: Fortran BLAS routines (called from the threads: keep
 * BLAS single-threaded) for the full / tied products; NULL selects plain
 * loops (also used for the imputation outputs).
 *
 * Blocks are summed into GMS_MAX_SLOTS slots of consecutive blocks and the
 * slots in order, so the results do not depend on the thread count.
 * Returns GMS_OK, GMS_ERR_NOMEM, GMS_ERR_ARG, or GMS_ERR_NONFINITE (a row
 * without a finite log-likelihood, or an observed sub-covariance that is
 * not positive definite).
 */
#ifndef GMS_MISSING_H
#define GMS_MISSING_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

int gms_missing_pass(int cov_type, const double *X, ptrdiff_t n, ptrdiff_t d, ptrdiff_t k,
                     const double *means, const double *covs, const double *log_w,
                     const int64_t *order, ptrdiff_t n_order, const int64_t *pat_start,
                     ptrdiff_t n_pat, const uint8_t *observed, const double *sample_weight,
                     const double *resp_in, const double *centres, double *stats,
                     double *lse, double *logp, double *resp_out, double *impute,
                     double *impute_var, void *dgemm, void *dsyrk, int n_threads);

#ifdef __cplusplus
}
#endif

#endif /* GMS_MISSING_H */
