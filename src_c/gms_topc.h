/*
 * Utterance scoring for GMM-UBM speaker verification: per-utterance sums
 * of frame log-likelihoods under a universal background model (UBM) and
 * under adapted models of the same form, optionally with Reynolds' top-C
 * fast scoring (each adapted model evaluated only on the C components of
 * the UBM that score best on the frame).
 *
 * Plain C11, no Python.h, reentrant, double input.
 *
 * Layout (K components, D features, G adapted models):
 *   X:        n x D rows;
 *   means:    K x D (UBM), G x K x D (models);
 *   prec:     the precision factors as gmscore stores them
 *             (precisions_cholesky_): full K x D x D upper triangular U_k
 *             with precision U_k U_k^T; tied D x D; diag K x D
 *             (1 / std); spherical K; models: G copies;
 *   log_norm: K (UBM), G x K: log w_k + log det U_k - D/2 log(2 pi);
 *   offsets:  n_utt + 1 row offsets, offsets[0] = 0, offsets[n_utt] = n,
 *             non-decreasing.
 * top_c: 0 or >= K scores every component; else the C best per frame
 * (largest UBM weighted log-density, the lower index first on ties).
 *
 * Outputs: ubm_sum (n_utt), model_sum (G x n_utt): the sums over each
 * utterance's frames of log p(x). Work is split into blocks of at most
 * GMS_TOPC_BLOCK frames that never straddle an utterance; the models are
 * taken one at a time (the UBM first), each over all blocks in parallel,
 * so its parameters stay in cache. Every log-density over all K
 * components (the UBM's, and the models' when exact) comes from the
 * E-step's block code (gms_lp_rows in gms_kernels.h: register tiles for
 * diag/spherical, GEMM for full/tied, its fast exp/log); top-C models are
 * evaluated on the C selected components only. Block sums are added per
 * utterance in block order, so the results do not depend on the thread
 * count. Memory: O(threads x 64 x K) plus, for top-C, the n x C selection
 * and O(blocks x G), never n x K.
 *
 * Returns GMS_OK, GMS_ERR_ARG, GMS_ERR_NOMEM, or GMS_ERR_NONFINITE when a
 * frame's log-likelihood is not finite (nothing else is then defined).
 */
#ifndef GMS_TOPC_H
#define GMS_TOPC_H

#include <stddef.h>
#include <stdint.h>

#define GMS_TOPC_BLOCK 256

int gms_topc_utterance_loglik(int cov_type, const double *X, ptrdiff_t n, ptrdiff_t d,
                              ptrdiff_t k, const double *ubm_means, const double *ubm_prec,
                              const double *ubm_log_norm, ptrdiff_t n_models,
                              const double *means, const double *prec,
                              const double *log_norm, const int64_t *offsets,
                              ptrdiff_t n_utt, ptrdiff_t top_c, double *ubm_sum,
                              double *model_sum, int n_threads);

#endif /* GMS_TOPC_H */
