# cython: language_level=3
"""Thin bindings to the streaming kernels in src_c/gms_filter.c: a filter
core holding the prepared model and the stream's state in preallocated
buffers (one C call per update, GIL released for blocks), and the causal
posteriors of many sequences."""
from libc.stdint cimport int64_t, int32_t
from libc.string cimport memcpy

import numpy as np

cdef extern from "gms_kernels.h" nogil:
    int GMS_OK
    int GMS_ERR_NOMEM
    int GMS_ERR_ARG

cdef extern from "gms_filter.h" nogil:
    int GMS_FILTER_IMPOSSIBLE
    int GMS_FILTER_NONFINITE_INPUT
    ctypedef struct gms_filter_model:
        Py_ssize_t k, m, d
        int full
        const double *means
        const double *factors
        const double *log_norm
        const double *startprob
        const double *transmat
        const double *log_startprob
        const double *log_transmat
    ctypedef struct gms_filter_state:
        int64_t t
        Py_ssize_t ring
        int decode
        double loglik
        double *alpha
        double *delta
        double *ring_alpha
        double *ring_emit
        int32_t *ring_bp
    Py_ssize_t gms_filter_work_size(const gms_filter_model *m)
    int gms_filter_update(const gms_filter_model *m, gms_filter_state *st, const double *X,
                          Py_ssize_t n, double *probs, double *logpred, double *work,
                          Py_ssize_t *n_done)
    int gms_filter_smoothed(const gms_filter_model *m, const gms_filter_state *st,
                            Py_ssize_t lag, double *out, double *work)
    int gms_filter_viterbi(const gms_filter_model *m, const gms_filter_state *st,
                           Py_ssize_t lag, int64_t *states)
    int gms_filter_forward(const double *framelogprob, Py_ssize_t k, const int64_t *offsets,
                           Py_ssize_t n_seq, const double *startprob, const double *transmat,
                           double *post, double *seq_loglik, int n_threads)


class ImpossibleObservationError(ValueError):
    """A frame has zero probability under every state of the model."""


cdef int _check(int rc, Py_ssize_t frame) except -1:
    if rc == GMS_OK:
        return 0
    if rc == GMS_ERR_NOMEM:
        raise MemoryError("gmscore filter kernel could not allocate its work buffers")
    where = "" if frame < 0 else " (frame %d of the block)" % frame
    if rc == GMS_FILTER_NONFINITE_INPUT:
        raise ValueError("the observation contains NaN or infinity" + where +
                         "; the filter state is unchanged")
    if rc == GMS_FILTER_IMPOSSIBLE:
        raise ImpossibleObservationError(
            "the observation is impossible under every state reachable from the filter's "
            "current state (zero probability: structural zeros in startprob_/transmat_ "
            "or an emission density of 0)" + where + "; the filter state is unchanged")
    raise ValueError("gmscore filter kernel rejected its arguments (code %d)" % rc)


cdef class FilterCore:
    """Prepared model + stream state. The arrays are owned here and never
    reallocated, so the C structs' pointers stay valid."""
    cdef gms_filter_model model
    cdef gms_filter_state st
    cdef readonly object means, factors, log_norm, startprob, transmat
    cdef readonly object log_startprob, log_transmat
    cdef readonly object alpha, delta, ring_alpha, ring_emit, ring_bp
    cdef object work, x_buf
    cdef double[::1] work_v
    # views that keep the buffers' pointers for the C structs
    cdef const double[::1] v_means, v_factors, v_log_norm, v_start, v_lstart
    cdef const double[:, ::1] v_trans, v_ltrans
    cdef double[::1] v_alpha, v_delta
    cdef double[:, ::1] v_ring_alpha, v_ring_emit
    cdef int32_t[:, ::1] v_ring_bp
    cdef readonly Py_ssize_t n_features, n_components
    cdef public double last_logpred

    def __init__(self, means, factors, bint full, Py_ssize_t n_mix, log_norm, startprob,
                 transmat, Py_ssize_t ring, bint decode=True):
        k = startprob.shape[0]
        d = means.shape[1]
        if ring < 1:
            raise ValueError("ring must be >= 1")
        self.means = np.array(means, dtype=np.float64, order="C", copy=True)
        self.factors = np.array(factors, dtype=np.float64, order="C", copy=True)
        self.log_norm = np.array(log_norm, dtype=np.float64, order="C", copy=True)
        self.startprob = np.array(startprob, dtype=np.float64, order="C", copy=True)
        self.transmat = np.array(transmat, dtype=np.float64, order="C", copy=True)
        if (self.means.shape != (k * n_mix, d) or self.log_norm.shape != (k * n_mix,)
                or self.transmat.shape != (k, k)
                or self.factors.size != k * n_mix * d * (d if full else 1)):
            raise ValueError("filter model arrays have inconsistent shapes")
        with np.errstate(divide="ignore"):
            self.log_startprob = np.log(self.startprob)
            self.log_transmat = np.log(self.transmat)
        self.n_features = d
        self.n_components = k
        self.model.k = k
        self.model.m = n_mix
        self.model.d = d
        self.model.full = full
        self.v_means = self.means.reshape(-1)
        self.v_factors = self.factors.reshape(-1)
        self.v_log_norm = self.log_norm
        self.v_start = self.startprob
        self.v_lstart = self.log_startprob
        self.v_trans = self.transmat
        self.v_ltrans = self.log_transmat
        self.model.means = &self.v_means[0]
        self.model.factors = &self.v_factors[0]
        self.model.log_norm = &self.v_log_norm[0]
        self.model.startprob = &self.v_start[0]
        self.model.transmat = &self.v_trans[0, 0]
        self.model.log_startprob = &self.v_lstart[0]
        self.model.log_transmat = &self.v_ltrans[0, 0]
        self.alpha = np.zeros(k)
        self.delta = np.zeros(k)
        self.ring_alpha = np.zeros((ring, k))
        self.ring_emit = np.zeros((ring, k))
        self.ring_bp = np.zeros((ring, k), dtype=np.int32)
        self.st.ring = ring
        self.st.decode = decode
        self.st.t = 0
        self.st.loglik = 0.0
        self.v_alpha = self.alpha
        self.v_delta = self.delta
        self.v_ring_alpha = self.ring_alpha
        self.v_ring_emit = self.ring_emit
        self.v_ring_bp = self.ring_bp
        self.st.alpha = &self.v_alpha[0]
        self.st.delta = &self.v_delta[0]
        self.st.ring_alpha = &self.v_ring_alpha[0, 0]
        self.st.ring_emit = &self.v_ring_emit[0, 0]
        self.st.ring_bp = &self.v_ring_bp[0, 0]
        self.work = np.zeros(gms_filter_work_size(&self.model) + 2 * k)
        self.work_v = self.work
        self.x_buf = np.zeros(d)
        self.last_logpred = np.nan

    @property
    def t(self):
        return self.st.t

    @property
    def ring(self):
        return self.st.ring

    @property
    def decode(self):
        return bool(self.st.decode)

    @property
    def loglik(self):
        return self.st.loglik

    def get_state(self):
        """The stream state as plain values (copies)."""
        return {"t": int(self.st.t), "loglik": float(self.st.loglik),
                "last_logpred": float(self.last_logpred),
                "alpha": self.alpha.copy(), "delta": self.delta.copy(),
                "ring_alpha": self.ring_alpha.copy(), "ring_emit": self.ring_emit.copy(),
                "ring_bp": self.ring_bp.copy()}

    def set_state(self, state):
        """Copy a state (from get_state, already validated) into the buffers."""
        self.alpha[...] = state["alpha"]
        self.delta[...] = state["delta"]
        self.ring_alpha[...] = state["ring_alpha"]
        self.ring_emit[...] = state["ring_emit"]
        self.ring_bp[...] = state["ring_bp"]
        self.st.t = state["t"]
        self.st.loglik = state["loglik"]
        self.last_logpred = state["last_logpred"]

    def reset(self):
        self.st.t = 0
        self.st.loglik = 0.0
        self.last_logpred = np.nan

    def update(self, x):
        """One frame (a length-D float64 vector) -> filtered probabilities (copy)."""
        cdef const double[::1] xv
        cdef Py_ssize_t done
        cdef double lp
        cdef int rc
        if type(x) is np.ndarray and x.dtype == np.float64 and x.ndim == 1 \
                and x.shape[0] == self.n_features and x.flags.c_contiguous \
                and x.flags.aligned:
            xv = x
        else:
            arr = np.asarray(x, dtype=np.float64)
            if arr.shape != (self.n_features,) and arr.shape != (1, self.n_features):
                raise ValueError("x must be one frame of %d features, got shape %s"
                                 % (self.n_features, arr.shape))
            self.x_buf[...] = arr.reshape(-1)
            xv = self.x_buf
        rc = gms_filter_update(&self.model, &self.st, &xv[0], 1, NULL, &lp,
                               &self.work_v[0], &done)
        _check(rc, -1)
        self.last_logpred = lp
        return self.alpha.copy()

    def update_many(self, const double[:, ::1] X, double[:, ::1] probs, double[::1] logpred):
        """n frames; returns the number committed (all, or raises after
        committing the frames before the failing one: the caller restores)."""
        cdef Py_ssize_t n = X.shape[0], done = 0
        cdef int rc
        if X.shape[1] != self.n_features:
            raise ValueError("X has %d features, the filter expects %d"
                             % (X.shape[1], self.n_features))
        if probs.shape[0] != n or probs.shape[1] != self.n_components or logpred.shape[0] != n:
            raise ValueError("output buffers have the wrong shapes")
        if n == 0:
            return 0
        with nogil:
            rc = gms_filter_update(&self.model, &self.st, &X[0, 0], n, &probs[0, 0],
                                   &logpred[0], &self.work_v[0], &done)
        if done > 0:
            self.last_logpred = logpred[done - 1]
        _check(rc, done)
        return done

    def smoothed(self, Py_ssize_t lag):
        out = np.empty(self.n_components)
        cdef double[::1] ov = out
        _check(gms_filter_smoothed(&self.model, &self.st, lag, &ov[0], &self.work_v[0]), -1)
        return out

    def viterbi(self, Py_ssize_t lag):
        out = np.empty(lag + 1, dtype=np.int64)
        cdef int64_t[::1] ov = out
        _check(gms_filter_viterbi(&self.model, &self.st, lag, &ov[0]), -1)
        return out


def forward(const double[:, ::1] framelogprob, const int64_t[::1] offsets,
            const double[::1] startprob, const double[:, ::1] transmat,
            double[:, ::1] posteriors, double[::1] seq_loglik, int n_threads):
    """Causal posteriors p(z_t | x_1..t) of every sequence. Raises
    ImpossibleObservationError when some sequence is impossible
    (seq_loglik -inf there)."""
    cdef Py_ssize_t n = framelogprob.shape[0], k = framelogprob.shape[1]
    cdef Py_ssize_t n_seq = offsets.shape[0] - 1
    cdef int rc
    if not (n_seq >= 1 and offsets[n_seq] == n and startprob.shape[0] == k
            and transmat.shape[0] == k and transmat.shape[1] == k
            and posteriors.shape[0] == n and posteriors.shape[1] == k
            and seq_loglik.shape[0] == n_seq):
        raise ValueError("causal forward: argument shapes do not match")
    with nogil:
        rc = gms_filter_forward(&framelogprob[0, 0], k, &offsets[0], n_seq, &startprob[0],
                                &transmat[0, 0], &posteriors[0, 0], &seq_loglik[0], n_threads)
    if rc == GMS_FILTER_IMPOSSIBLE:
        raise ImpossibleObservationError(
            "a sequence has zero probability under the model (every state path is ruled "
            "out by zeros in startprob_/transmat_ or by the emissions)")
    _check(rc, -1)
