/*
 * gmscore streaming HMM kernels: the forward filter one frame (or a block
 * of frames) at a time on a prepared model, fixed-lag smoothing and
 * fixed-lag Viterbi over a ring buffer of the last frames, and the causal
 * (forward-only) posteriors of many sequences at once.
 *
 * Filtered probabilities are the forward variables normalised at every
 * frame, so no sequence length underflows. Each frame is computed into
 * scratch and committed only when it is possible under the model: a frame
 * that every state rules out leaves the state exactly as it was.
 */
#ifndef GMS_FILTER_H
#define GMS_FILTER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A frame had zero probability under every state (or a state path). */
#define GMS_FILTER_IMPOSSIBLE -5
/* A frame held NaN or infinity. */
#define GMS_FILTER_NONFINITE_INPUT -6

/* The prepared model: K states, each a mixture of M Gaussian components
 * (M = 1: GaussianHMM); component c = state * M + m. */
typedef struct {
    ptrdiff_t k, m, d;
    int full;               /* 0: factors are KM x D (diagonal precision
                             * square roots), 1: KM x D x D upper factors U
                             * of the precisions, y = (x - mu) U */
    const double *means;    /* KM x D */
    const double *factors;
    const double *log_norm; /* KM: log weight + log det U - D/2 log 2 pi */
    const double *startprob;     /* K */
    const double *transmat;      /* K x K */
    const double *log_startprob; /* K, -inf for zeros */
    const double *log_transmat;  /* K x K, -inf for zeros */
} gms_filter_model;

/* The stream's state. Frame s (1-based) lives in ring slot s mod ring. */
typedef struct {
    int64_t t;          /* frames seen */
    ptrdiff_t ring;     /* ring slots (max_lag + 1) */
    int decode;         /* run the Viterbi recursion (delta, ring_bp) too */
    double loglik;      /* running log-likelihood */
    double *alpha;      /* K: p(z_t | x_1..t) */
    double *delta;      /* K: Viterbi log scores, max-shifted */
    double *ring_alpha; /* ring x K: filtered probabilities */
    double *ring_emit;  /* ring x K: exp(f - shift) of each frame */
    int32_t *ring_bp;   /* ring x K: Viterbi back-pointers */
} gms_filter_state;

/* Scratch doubles the update needs: K M + 4 K. */
ptrdiff_t gms_filter_work_size(const gms_filter_model *m);

/*
 * Feed n frames X (n x D). probs (n x K) and logpred (n) receive each
 * frame's filtered probabilities and log predictive density
 * log p(x_t | x_1..t-1); either may be NULL. Frames before a failing one
 * are committed (*n_done of them); the failing one changes nothing.
 * Returns GMS_OK, GMS_FILTER_IMPOSSIBLE or GMS_FILTER_NONFINITE_INPUT.
 */
int gms_filter_update(const gms_filter_model *m, gms_filter_state *st, const double *X,
                      ptrdiff_t n, double *probs, double *logpred, double *work,
                      ptrdiff_t *n_done);

/* p(z_{t-lag} | x_1..t) into out (K), exact (backward pass over the last
 * lag frames, rescaled each step). Needs 0 <= lag < min(t, ring). work: 2 K. */
int gms_filter_smoothed(const gms_filter_model *m, const gms_filter_state *st,
                        ptrdiff_t lag, double *out, double *work);

/* The most likely path of frames t-lag..t given x_1..t (backtracking from
 * the best current state), into states (lag + 1); states[0] is the
 * fixed-lag decision for frame t-lag. Needs 0 <= lag < min(t, ring) and
 * decode set. */
int gms_filter_viterbi(const gms_filter_model *m, const gms_filter_state *st,
                       ptrdiff_t lag, int64_t *states);

/*
 * Causal posteriors of whole sequences: for every sequence (rows
 * [offsets[s], offsets[s+1]) of framelogprob, N x K), post (N x K)
 * receives p(z_t | x_1..t) and seq_loglik (n_seq) the log-likelihood
 * (-inf for an impossible sequence, then GMS_FILTER_IMPOSSIBLE). Sequences
 * run in parallel; each is independent, so the result does not depend on
 * the thread count.
 */
int gms_filter_forward(const double *framelogprob, ptrdiff_t k, const int64_t *offsets,
                       ptrdiff_t n_seq, const double *startprob, const double *transmat,
                       double *post, double *seq_loglik, int n_threads);

#ifdef __cplusplus
}
#endif

#endif /* GMS_FILTER_H */
