# cython: language_level=3
"""Thin bindings to the HMM kernels in src_c/gms_hmm.c: forward-backward
(log and scaling), Viterbi and state-path sampling over all sequences of X
in one call, GIL released."""
from libc.stdint cimport int64_t

include "_reducer.pxi"

cdef extern from "gms_kernels.h" nogil:
    int GMS_OK
    int GMS_ERR_NOMEM
    int GMS_ERR_ARG
    int GMS_ERR_NONFINITE

cdef extern from "gms_hmm.h" nogil:
    int GMS_HMM_LOG
    int GMS_HMM_SCALING
    int GMS_ERR_UNDERFLOW
    int gms_hmm_forward_backward(int, const double *, Py_ssize_t, const int64_t *,
                                 Py_ssize_t, const double *, const double *,
                                 double *, double *, double *, double *, int)
    int gms_hmm_forward_backward_into(gms_reducer *, int, const double *, Py_ssize_t,
                                      const int64_t *, Py_ssize_t, const double *,
                                      const double *, double *, double *, int)
    int GMS_HMM_BAD_SYMBOL
    int gms_hmm_categorical_fb_into(gms_reducer *, int, const double *, const double *,
                                    Py_ssize_t, Py_ssize_t, const int64_t *, Py_ssize_t,
                                    const double *, const double *, double *, double *, int,
                                    int64_t *)
    int gms_hmm_viterbi(const double *, Py_ssize_t, const int64_t *, Py_ssize_t,
                        const double *, const double *, int64_t *, double *, int)
    int gms_hmm_sample_states(const double *, const double *, Py_ssize_t,
                              const double *, Py_ssize_t, int64_t, int64_t *)

IMPLEMENTATIONS = {"log": GMS_HMM_LOG, "scaling": GMS_HMM_SCALING}


class UnderflowError(FloatingPointError):
    """The scaled forward pass lost all probability mass at some frame."""


class ImpossibleSequenceError(FloatingPointError):
    """A sequence has zero probability under the model."""


class BadSymbolError(ValueError):
    """Row ``row`` of X is not a symbol (a whole number in [0, n_symbols))."""

    def __init__(self, row):
        super().__init__(row)
        self.row = row


cdef int _check(int rc) except -1:
    if rc == GMS_OK:
        return 0
    if rc == GMS_ERR_NOMEM:
        raise MemoryError("gmscore HMM kernel could not allocate its work buffers")
    if rc == GMS_ERR_UNDERFLOW:
        raise UnderflowError(
            "the scaled forward-backward pass underflowed (a frame left too "
            "little probability mass, or a state it flushed to zero may matter "
            "later); use implementation='log', which redoes such sequences in "
            "log space")
    if rc == GMS_ERR_NONFINITE:
        raise ImpossibleSequenceError(
            "a sequence has zero probability under the model (every state path "
            "is ruled out by zeros in startprob_/transmat_ or by the emissions)")
    raise ValueError("gmscore HMM kernel rejected its arguments (code %d)" % rc)


cdef inline void _expect(bint ok, str what) except *:
    if not ok:
        raise ValueError("HMM kernel argument mismatch: " + what)


def forward_backward(str implementation, const double[:, ::1] framelogprob,
                     const int64_t[::1] offsets, const double[::1] startprob,
                     const double[:, ::1] transmat, double[:, ::1] posteriors,
                     double[::1] start_counts, double[:, ::1] trans_counts,
                     double[::1] seq_loglik, int n_threads):
    """Forward-backward over all sequences. posteriors=None scores only."""
    cdef Py_ssize_t n = framelogprob.shape[0], k = framelogprob.shape[1]
    cdef Py_ssize_t n_seq = offsets.shape[0] - 1
    cdef int impl = IMPLEMENTATIONS[implementation]
    cdef double *post = NULL
    cdef double *sc = NULL
    cdef double *tc = NULL
    cdef int rc
    _expect(n_seq >= 1 and offsets[n_seq] == n, "offsets must end at n_samples")
    _expect(startprob.shape[0] == k, "startprob length")
    _expect(transmat.shape[0] == k and transmat.shape[1] == k, "transmat shape")
    _expect(seq_loglik.shape[0] == n_seq, "seq_loglik length")
    if posteriors is not None:
        _expect(posteriors.shape[0] == n and posteriors.shape[1] == k, "posteriors shape")
        post = &posteriors[0, 0]
    if start_counts is not None:
        _expect(start_counts.shape[0] == k, "start_counts length")
        sc = &start_counts[0]
    if trans_counts is not None:
        _expect(trans_counts.shape[0] == k and trans_counts.shape[1] == k, "trans_counts shape")
        tc = &trans_counts[0, 0]
    with nogil:
        rc = gms_hmm_forward_backward(impl, &framelogprob[0, 0], k, &offsets[0], n_seq,
                                      &startprob[0], &transmat[0, 0], post, sc, tc,
                                      &seq_loglik[0], n_threads)
    _check(rc)


def chain_reducer(Py_ssize_t n_components):
    """A fresh Reducer for forward_backward_into: one leaf per sequence of
    start counts (K), transition counts (K x K) and log-likelihood."""
    return Reducer(n_components + n_components * n_components + 1, 1)


cdef void _expect_chain_args(Reducer red, Py_ssize_t n, Py_ssize_t k,
                             const int64_t[::1] offsets, const double[::1] startprob,
                             const double[:, ::1] transmat, double[:, ::1] posteriors,
                             double[::1] seq_loglik) except *:
    """The shapes the forward-backward-into kernels rely on: n frames, k states."""
    cdef Py_ssize_t n_seq = offsets.shape[0] - 1
    _expect(n_seq >= 1 and offsets[n_seq] == n, "offsets must end at n_samples")
    _expect(startprob.shape[0] == k, "startprob length")
    _expect(transmat.shape[0] == k and transmat.shape[1] == k, "transmat shape")
    _expect(seq_loglik.shape[0] == n_seq, "seq_loglik length")
    _expect(posteriors.shape[0] == n and posteriors.shape[1] == k, "posteriors shape")
    _expect(red.red.stride == k + k * k + 1, "reducer stride")


def forward_backward_into(Reducer red, str implementation,
                          const double[:, ::1] framelogprob, const int64_t[::1] offsets,
                          const double[::1] startprob, const double[:, ::1] transmat,
                          double[:, ::1] posteriors, double[::1] seq_loglik, int n_threads):
    """Forward-backward with posteriors; each sequence's chain statistics
    folded into `red` after those of earlier calls."""
    cdef Py_ssize_t n = framelogprob.shape[0], k = framelogprob.shape[1]
    cdef Py_ssize_t n_seq = offsets.shape[0] - 1
    cdef int impl = IMPLEMENTATIONS[implementation]
    cdef int rc
    _expect_chain_args(red, n, k, offsets, startprob, transmat, posteriors, seq_loglik)
    with nogil:
        rc = gms_hmm_forward_backward_into(&red.red, impl, &framelogprob[0, 0], k,
                                           &offsets[0], n_seq, &startprob[0],
                                           &transmat[0, 0], &posteriors[0, 0],
                                           &seq_loglik[0], n_threads)
    _check(rc)


def categorical_fb_into(Reducer red, str implementation, const double[:, ::1] X,
                        const double[:, ::1] log_bt, const int64_t[::1] offsets,
                        const double[::1] startprob, const double[:, ::1] transmat,
                        double[:, ::1] posteriors, double[::1] seq_loglik, int n_threads):
    """forward_backward_into for categorical emissions: frame t's
    log-likelihoods are row X[t, 0] of log_bt (n_symbols x K), looked up in
    the kernel (no N x K framelogprob). Raises BadSymbolError for a row
    that is not a symbol."""
    cdef Py_ssize_t n = X.shape[0], k = log_bt.shape[1]
    cdef Py_ssize_t n_seq = offsets.shape[0] - 1
    cdef int impl = IMPLEMENTATIONS[implementation]
    cdef int rc
    cdef int64_t bad = -1
    _expect(X.shape[1] == 1, "X must have one column of symbols")
    _expect(log_bt.shape[0] >= 1, "log_bt must have a row per symbol")
    _expect_chain_args(red, n, k, offsets, startprob, transmat, posteriors, seq_loglik)
    with nogil:
        rc = gms_hmm_categorical_fb_into(&red.red, impl, &X[0, 0], &log_bt[0, 0],
                                         log_bt.shape[0], k, &offsets[0], n_seq,
                                         &startprob[0], &transmat[0, 0], &posteriors[0, 0],
                                         &seq_loglik[0], n_threads, &bad)
    if rc == GMS_HMM_BAD_SYMBOL:
        raise BadSymbolError(int(bad))
    _check(rc)


def viterbi(const double[:, ::1] framelogprob, const int64_t[::1] offsets,
            const double[::1] startprob, const double[:, ::1] transmat,
            int64_t[::1] states, double[::1] seq_logprob, int n_threads):
    """Viterbi path of every sequence: states (ties go to the lowest state,
    as an argmax) and each sequence's path log-probability (-inf when no path
    is possible). FloatingPointError when a frame log-likelihood is NaN or
    +inf."""
    cdef Py_ssize_t n = framelogprob.shape[0], k = framelogprob.shape[1]
    cdef Py_ssize_t n_seq = offsets.shape[0] - 1
    cdef int rc
    _expect(n_seq >= 1 and offsets[n_seq] == n, "offsets must end at n_samples")
    _expect(startprob.shape[0] == k, "startprob length")
    _expect(transmat.shape[0] == k and transmat.shape[1] == k, "transmat shape")
    _expect(states.shape[0] == n and seq_logprob.shape[0] == n_seq, "output shapes")
    with nogil:
        rc = gms_hmm_viterbi(&framelogprob[0, 0], k, &offsets[0], n_seq, &startprob[0],
                             &transmat[0, 0], &states[0], &seq_logprob[0], n_threads)
    if rc == GMS_ERR_NONFINITE:
        raise FloatingPointError(
            "Viterbi met a NaN or +inf frame log-likelihood (or +inf in startprob/"
            "transmat); check the emission parameters and the data")
    _check(rc)


def sample_states(const double[::1] start_cdf, const double[:, ::1] trans_cdf,
                  const double[::1] uniforms, int64_t first, int64_t[::1] states):
    """A Markov chain path driven by the given uniforms (first < 0: draw the
    first state from start_cdf)."""
    cdef Py_ssize_t k = start_cdf.shape[0], n = uniforms.shape[0]
    cdef int rc
    _expect(trans_cdf.shape[0] == k and trans_cdf.shape[1] == k, "trans_cdf shape")
    _expect(states.shape[0] == n and n >= 1, "states length")
    with nogil:
        rc = gms_hmm_sample_states(&start_cdf[0], &trans_cdf[0, 0], k, &uniforms[0], n,
                                   first, &states[0])
    _check(rc)


# =====================================================================
# Many HMMs at once (src_c/gms_hmm_multi.c): the per-sequence
# log-likelihoods of every class of an HMMClassifier in one call.
# =====================================================================
cdef extern from "gms_hmm_multi.h" nogil:
    int gms_hmm_multi_loglik(const double *, Py_ssize_t, const int64_t *, Py_ssize_t,
                             const int64_t *, Py_ssize_t, const double *, const double *,
                             double *, int)


def multi_chain_loglik(const double[:, ::1] framelogprob, const int64_t[::1] cols,
                       const int64_t[::1] offsets, const double[::1] startprob,
                       const double[::1] transmat, double[:, ::1] seq_loglik,
                       int n_threads):
    """seq_loglik[s, c] = log p(sequence s | chain c) for every chain c,
    whose states are columns cols[c]:cols[c+1] of framelogprob, whose start
    probabilities are startprob[cols[c]:cols[c+1]] and whose transition
    matrices are packed one after another (row-major) in transmat."""
    cdef Py_ssize_t n = framelogprob.shape[0]
    cdef Py_ssize_t n_chains = cols.shape[0] - 1
    cdef Py_ssize_t n_seq = offsets.shape[0] - 1
    cdef Py_ssize_t c, size = 0
    cdef int rc
    _expect(n_chains >= 1 and cols[0] == 0 and cols[n_chains] == framelogprob.shape[1],
            "cols must run from 0 to framelogprob's column count")
    for c in range(n_chains):
        _expect(cols[c + 1] > cols[c], "every chain needs at least one state")
        size += (cols[c + 1] - cols[c]) * (cols[c + 1] - cols[c])
    _expect(n_seq >= 1 and offsets[0] == 0 and offsets[n_seq] == n,
            "offsets must run from 0 to n_samples")
    _expect(startprob.shape[0] == cols[n_chains], "startprob length")
    _expect(transmat.shape[0] == size, "transmat length (sum of K_c^2)")
    _expect(seq_loglik.shape[0] == n_seq and seq_loglik.shape[1] == n_chains,
            "seq_loglik shape (n_sequences, n_chains)")
    with nogil:
        rc = gms_hmm_multi_loglik(&framelogprob[0, 0], n, &cols[0], n_chains, &offsets[0],
                                  n_seq, &startprob[0], &transmat[0], &seq_loglik[0, 0],
                                  n_threads)
    if rc == GMS_ERR_NONFINITE:
        raise ValueError("the emission log-likelihoods hold NaN or +inf; check X and the "
                         "models' parameters")
    _check(rc)
