/*
 * gmscore HMM kernels: forward-backward, posteriors, expected transition
 * counts and Viterbi, over many sequences at once. Both implementations run
 * the scaled pass of gms_hmm_scaled.c; a sequence outside its exact range is
 * redone in log space (GMS_HMM_LOG) or reported (GMS_HMM_SCALING).
 *
 * Sequences are rows [offsets[s], offsets[s+1]) of one framelogprob array
 * (N x K emission log-likelihoods, double). Sequences are parallelised with
 * OpenMP; each sequence's counts are a leaf of a fixed reduction tree
 * over the sequence index (gms_reduce.h), so the counts are bitwise
 * independent of the thread count and of how sequences are split into
 * calls.
 */
#ifndef GMS_HMM_H
#define GMS_HMM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GMS_HMM_LOG 0
#define GMS_HMM_SCALING 1

/* GMS_HMM_SCALING met a sequence outside the scaled pass's exact range. */
#define GMS_ERR_UNDERFLOW -4

/*
 * Forward-backward. `posteriors` (N x K) may be NULL to score only; then
 * the counts must be NULL too. `start_counts` (K)
 * receives the sum of first-frame posteriors, `trans_counts` (K x K) the
 * expected transitions; either may be NULL. `seq_loglik` (n_seq) receives
 * each sequence's log-likelihood (-inf where the sequence is impossible,
 * NaN where GMS_HMM_SCALING left the scaled pass's exact range). Returns
 * GMS_OK, GMS_ERR_NOMEM, GMS_ERR_ARG, GMS_ERR_UNDERFLOW (scaling) or GMS_ERR_NONFINITE (some
 * sequence has zero probability under the model).
 */
int gms_hmm_forward_backward(int implementation, const double *framelogprob,
                             ptrdiff_t k, const int64_t *offsets,
                             ptrdiff_t n_seq, const double *startprob,
                             const double *transmat, double *posteriors,
                             double *start_counts, double *trans_counts,
                             double *seq_loglik, int n_threads);

/*
 * The same pass, folding each sequence's chain statistics into `red` (a
 * reducer of stride k + k*k + 1, one unit per leaf: start counts,
 * transition counts, log-likelihood), which may hold earlier chunks'
 * sequences; `red` NULL scores only (posteriors may be NULL then).
 */
struct gms_reducer;
int gms_hmm_forward_backward_into(struct gms_reducer *red, int implementation,
                                  const double *framelogprob, ptrdiff_t k,
                                  const int64_t *offsets, ptrdiff_t n_seq,
                                  const double *startprob, const double *transmat,
                                  double *posteriors, double *seq_loglik, int n_threads);

/*
 * gms_hmm_forward_backward_into for categorical emissions, without the
 * N x K framelogprob: frame t's log-likelihoods are row X[t] of log_b
 * (n_symbols x k, log emissionprob_ transposed), each row's scaled form
 * tabulated once per call. Same results, bit for bit, as the framelogprob
 * call on those rows. X (n = offsets[n_seq] entries) must hold whole
 * numbers in [0, n_symbols): otherwise GMS_HMM_BAD_SYMBOL, with the first
 * bad entry in *bad_row, before any work.
 */
#define GMS_HMM_BAD_SYMBOL 1
int gms_hmm_categorical_fb_into(struct gms_reducer *red, int implementation, const double *X,
                                const double *log_b, ptrdiff_t n_symbols, ptrdiff_t k,
                                const int64_t *offsets, ptrdiff_t n_seq,
                                const double *startprob, const double *transmat,
                                double *posteriors, double *seq_loglik, int n_threads,
                                int64_t *bad_row);

/* Most likely state path of every sequence (log space; zero transition
 * probabilities are -inf; ties go to the lowest state). `states` (N),
 * `seq_logprob` (n_seq; -inf where no path is possible). Returns GMS_OK,
 * GMS_ERR_ARG, GMS_ERR_NOMEM or GMS_ERR_NONFINITE (a NaN or +inf frame
 * log-likelihood or log probability; the outputs are then garbage, but the
 * states are in [0, k)). */
int gms_hmm_viterbi(const double *framelogprob, ptrdiff_t k,
                    const int64_t *offsets, ptrdiff_t n_seq,
                    const double *startprob, const double *transmat,
                    int64_t *states, double *seq_logprob, int n_threads);

/* Sample a state path: state[0] = first (or drawn from startprob's cdf
 * with uniforms[0] when first < 0), then state[t] from the transition cdf
 * row of state[t-1] with uniforms[t]. */
int gms_hmm_sample_states(const double *start_cdf, const double *trans_cdf,
                          ptrdiff_t k, const double *uniforms, ptrdiff_t n,
                          int64_t first, int64_t *states);

#ifdef __cplusplus
}
#endif

#endif /* GMS_HMM_H */
