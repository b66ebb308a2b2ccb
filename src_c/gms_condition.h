/*
 * Conditional moments of a Gaussian mixture (mixture regression,
 * gmscore/conditional.py), fused per block of rows.
 *
 * Plain C11, no Python.h, reentrant, double input.
 *
 * For a joint mixture split into given features A (da of them) and the
 * rest B (db), row x_A = a has the conditional mixture
 *   sum_j r_j(a) N(m_j(a), C_j),  r_j(a) = w_j N(a; mu_jA, S_jAA) / p(a),
 *   m_j(a) = offset_j + R_j a.
 * Per row this computes r (from the marginal mixture over A: its means,
 * precision factors and log normalisers in the layout of gms_kernels.h),
 * then
 *   mean_b = sum_j r_j m_jb,
 *   var_b  = sum_j r_j (cv_jb + (m_jb - mean_b)^2)   (when var != NULL),
 * with cv_jb the diagonal of C_j. Layout:
 *   X:       n x da rows (the conditioning values);
 *   stacked: da x (K * db), stacked[a, j * db + b] = R_j[b, a];
 *   offset:  K x db; cond_var: K x db (needed only with var);
 *   mean, var: n x db outputs.
 * Blocks of GMS_BLOCK_ROWS rows run in parallel; every output row depends
 * on its own input row only, so the results do not depend on the thread
 * count. Memory: O(threads x block x K), never n x K.
 *
 * Returns GMS_OK, GMS_ERR_ARG, GMS_ERR_NOMEM, or GMS_ERR_NONFINITE when a
 * row's marginal log-likelihood is not finite (its rows are then NaN).
 */
#ifndef GMS_CONDITION_H
#define GMS_CONDITION_H

#include <stddef.h>

int gms_condition_moments(int cov_type, const double *X, ptrdiff_t n, ptrdiff_t da,
                          ptrdiff_t k, const double *means, const double *prec_chol,
                          const double *log_norm, ptrdiff_t db, const double *stacked,
                          const double *offset, const double *cond_var, double *mean,
                          double *var, int n_threads);

#endif /* GMS_CONDITION_H */
