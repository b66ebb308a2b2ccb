/*
 * gmscore: per-sequence log-likelihoods of many HMMs (one per class of a
 * classifier) in one call.
 *
 * Chain c owns columns [cols[c], cols[c+1]) of one framelogprob array
 * (N x cols[n_chains] emission log-likelihoods, row-major, double), its
 * start probabilities at startprob[cols[c]:cols[c+1]] and its K_c x K_c
 * transition matrix (row-major, linear) at transmat[tofs_c], where tofs_c
 * is the sum of K_c'^2 over the chains before it. Sequences are rows
 * [offsets[s], offsets[s+1]).
 */
#ifndef GMS_HMM_MULTI_H
#define GMS_HMM_MULTI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Forward pass of every (sequence, chain) pair (scaled, redone in log space
 * where the scaled pass leaves its exact range):
 * seq_loglik[s * n_chains + c] = log p(sequence s | chain c), -inf where
 * the sequence is impossible under the chain. Sequences run in parallel
 * (OpenMP; a thread takes all chains of a sequence, reading each frame's
 * row once), each pair in a fixed order, so the results do not depend on
 * n_threads. Returns GMS_OK, GMS_ERR_ARG,
 * GMS_ERR_NOMEM or GMS_ERR_NONFINITE (a result is NaN or +inf: the
 * emission log-likelihoods were not finite).
 */
int gms_hmm_multi_loglik(const double *framelogprob, ptrdiff_t n_rows,
                         const int64_t *cols, ptrdiff_t n_chains,
                         const int64_t *offsets, ptrdiff_t n_seq,
                         const double *startprob, const double *transmat,
                         double *seq_loglik, int n_threads);

#ifdef __cplusplus
}
#endif

#endif /* GMS_HMM_MULTI_H */
