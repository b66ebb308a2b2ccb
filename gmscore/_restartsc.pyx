# cython: language_level=3
"""Binding of the lockstep E-step of several restarts
(src_c/gms_restarts.h): one pass over a chunk of X folds every model's
statistics into its own reducer, the bits each model's own estep_into
would give."""
from cython cimport floating
from libc.stdint cimport int64_t  # noqa (the reducer struct in _reducer.pxi)
from libc.stdlib cimport free, malloc
from scipy.linalg.cython_blas cimport dgemm, dsyrk, sgemm


include "_reducer.pxi"
include "_prec_size.pxi"

cdef extern from "gms_kernels.h" nogil:
    int GMS_OK
    int GMS_ERR_NOMEM
    int GMS_ERR_NONFINITE
    Py_ssize_t gms_s2_size(int cov_type, Py_ssize_t k, Py_ssize_t d)
    void gms_set_blas(void *dgemm, void *sgemm, void *dsyrk)

cdef extern from "gms_restarts.h" nogil:
    int gms_estep_restarts_into_d(gms_reducer *const *reds, Py_ssize_t n_models, int cov_type,
                                  const double *X, Py_ssize_t n, Py_ssize_t d, Py_ssize_t k,
                                  const double *const *means, const double *const *prec,
                                  const double *const *log_norm, const double *sw,
                                  const double *const *centres, int n_threads)
    int gms_estep_restarts_into_f(gms_reducer *const *reds, Py_ssize_t n_models, int cov_type,
                                  const float *X, Py_ssize_t n, Py_ssize_t d, Py_ssize_t k,
                                  const float *const *means, const float *const *prec,
                                  const double *const *log_norm, const double *sw,
                                  const double *const *centres, int n_threads)

# this extension's copy of the kernels calls scipy's BLAS as _kernels' does
gms_set_blas(<void *>dgemm, <void *>sgemm, <void *>dsyrk)


class NonFiniteRestartError(FloatingPointError):
    """Some sample's log-likelihood overflowed under some model's parameters."""


def stats_reducer(int cov_type, Py_ssize_t n_components, Py_ssize_t n_features):
    """A fresh Reducer for estep_restarts_into (a stats leaf's stride)."""
    return Reducer(n_components + n_components * n_features
                   + gms_s2_size(cov_type, n_components, n_features) + 2, GMS_LEAF_BLOCKS)



def estep_restarts_into(list reds, int cov_type, const floating[:, ::1] X, list models,
                        const double[::1] sample_weight, list centres, int n_threads):
    """Fold the E-step of X's rows under every model into its reducer.

    models[m] = (means (k, d), prec_chol (flat), log_norm (k,)) in X's
    dtype (kernel layout, as _kernels.estep_into takes them); centres[m]
    (k, d) float64; reds[m] from stats_reducer."""
    cdef Py_ssize_t nm = len(models), n = X.shape[0], d = X.shape[1], k, m
    cdef Py_ssize_t stride
    if nm < 1 or len(reds) != nm or len(centres) != nm:
        raise ValueError("one reducer and one set of centres per model")
    if sample_weight is not None and sample_weight.shape[0] != n:
        raise ValueError("sample_weight has the wrong length")
    k = len(models[0][2])
    stride = k + k * d + gms_s2_size(cov_type, k, d) + 2
    # the arrays stay referenced by `keep` while the kernel reads them
    keep = []
    cdef const floating[:, ::1] mu
    cdef const floating[::1] pc
    cdef const double[::1] ln
    cdef const double[:, ::1] ce
    cdef Reducer r
    cdef gms_reducer **rp = <gms_reducer **>malloc(nm * sizeof(gms_reducer *))
    cdef const floating **mp = <const floating **>malloc(nm * sizeof(void *))
    cdef const floating **pp = <const floating **>malloc(nm * sizeof(void *))
    cdef const double **lp = <const double **>malloc(nm * sizeof(void *))
    cdef const double **cp = <const double **>malloc(nm * sizeof(void *))
    cdef const double *w = NULL
    cdef int rc = GMS_OK
    try:
        if rp == NULL or mp == NULL or pp == NULL or lp == NULL or cp == NULL:
            raise MemoryError("gmscore could not allocate the restarts' pointers")
        for m in range(nm):
            mu, pc, ln = models[m]
            ce = centres[m]
            r = reds[m]
            if (mu.shape[0] != k or mu.shape[1] != d or ln.shape[0] != k
                    or pc.shape[0] != _prec_size(cov_type, k, d)
                    or ce.shape[0] != k or ce.shape[1] != d or r.red.stride != stride):
                raise ValueError("restart %d's parameters do not match X" % m)
            keep.append((mu, pc, ln, ce, r))
            rp[m] = &r.red
            mp[m] = &mu[0, 0]
            pp[m] = &pc[0]
            lp[m] = &ln[0]
            cp[m] = &ce[0, 0]
        if n == 0:
            return
        if sample_weight is not None:
            w = &sample_weight[0]
        with nogil:
            if floating is double:
                rc = gms_estep_restarts_into_d(rp, nm, cov_type, &X[0, 0], n, d, k, mp, pp, lp,
                                               w, cp, n_threads)
            else:
                rc = gms_estep_restarts_into_f(rp, nm, cov_type, &X[0, 0], n, d, k, mp, pp, lp,
                                               w, cp, n_threads)
    finally:
        free(rp)
        free(mp)
        free(pp)
        free(lp)
        free(cp)
    if rc == GMS_ERR_NOMEM:
        raise MemoryError("gmscore kernel could not allocate its work buffers")
    if rc == GMS_ERR_NONFINITE:
        raise NonFiniteRestartError(
            "a sample has a non-finite log-likelihood under some restart's parameters")
    if rc != GMS_OK:
        raise ValueError("gmscore kernel rejected its arguments (code %d)" % rc)
