# cython: language_level=3
"""Binding to src_c/gms_discrete.c: discrete emission log-likelihoods and
statistics (CategoricalHMM, PoissonHMM, MultinomialHMM), one C call each,
GIL released. Shapes are checked here, so the kernels never read or write
out of bounds; the kernels check every value they index with."""
from libc.stdint cimport int64_t

cdef extern from "gms_kernels.h" nogil:
    int GMS_OK
    int GMS_ERR_NOMEM

cdef extern from "gms_discrete.h" nogil:
    int GMS_DISCRETE_BAD_VALUE
    int GMS_DISCRETE_BAD_TOTAL
    int gms_categorical_loglik(Py_ssize_t, Py_ssize_t, Py_ssize_t, const double *,
                               const double *, double *, int, int64_t *)
    int gms_categorical_counts(Py_ssize_t, Py_ssize_t, Py_ssize_t, const double *,
                               const double *, double *, double *, int, int64_t *)
    int gms_count_loglik(Py_ssize_t, Py_ssize_t, Py_ssize_t, const double *, const double *,
                         const double *, int, const double *, double *, int, int64_t *)
    int gms_weighted_sums(Py_ssize_t, Py_ssize_t, Py_ssize_t, const double *, const double *,
                          double *, double *, int)


class BadValueError(ValueError):
    """Row ``row`` holds a value that is not a whole number >= 0 (or, for
    symbols, not below n_features)."""

    def __init__(self, row):
        super().__init__(row)
        self.row = row


class BadTotalError(ValueError):
    """Row ``row``'s counts do not sum to its n_trials."""

    def __init__(self, row):
        super().__init__(row)
        self.row = row


def _expect(ok, what):
    if not ok:
        raise ValueError(what)


cdef _raise(int rc, int64_t bad, str what):
    if rc == GMS_DISCRETE_BAD_VALUE:
        raise BadValueError(int(bad))
    if rc == GMS_DISCRETE_BAD_TOTAL:
        raise BadTotalError(int(bad))
    if rc == GMS_ERR_NOMEM:
        raise MemoryError(f"{what}: the discrete emission kernel could not allocate its buffers")
    if rc != GMS_OK:
        raise ValueError(f"{what}: bad arguments (code {rc})")


def categorical_loglik(const double[:, ::1] X, const double[:, ::1] log_bt,
                       double[:, ::1] out, int n_threads):
    """out (n, k) = log_bt[X[:, 0]] with log_bt (n_features, k)."""
    cdef Py_ssize_t n = X.shape[0], f = log_bt.shape[0], k = log_bt.shape[1]
    cdef int64_t bad = -1
    cdef int rc
    _expect(X.shape[1] == 1, "categorical_loglik: X must have one column")
    _expect(out.shape[0] == n and out.shape[1] == k, "categorical_loglik: out must be (n, k)")
    _expect(f >= 1 and k >= 1, "categorical_loglik: log_bt must be (n_features, k)")
    if n == 0:
        return
    with nogil:
        rc = gms_categorical_loglik(n, k, f, &X[0, 0], &log_bt[0, 0], &out[0, 0], n_threads,
                                    &bad)
    _raise(rc, bad, "categorical_loglik")


def categorical_counts(const double[:, ::1] X, const double[:, ::1] post, double[::1] nk,
                       double[:, ::1] counts, int n_threads):
    """nk (k,) += post.sum(0); counts (k, n_features) += sum_t post[t, :]
    [X[t, 0] == symbol]."""
    cdef Py_ssize_t n = X.shape[0], k = counts.shape[0], f = counts.shape[1]
    cdef int64_t bad = -1
    cdef int rc
    _expect(X.shape[1] == 1, "categorical_counts: X must have one column")
    _expect(post.shape[0] == n and post.shape[1] == k,
            "categorical_counts: post must be (n, k)")
    _expect(f >= 1 and k >= 1, "categorical_counts: counts must be (k, n_features)")
    _expect(nk.shape[0] == k, "categorical_counts: nk must be (k,)")
    if n == 0:
        return
    with nogil:
        rc = gms_categorical_counts(n, k, f, &X[0, 0], &post[0, 0], &nk[0], &counts[0, 0],
                                    n_threads, &bad)
    _raise(rc, bad, "categorical_counts")


def count_loglik(const double[:, ::1] X, const double[:, ::1] log_p, const double[::1] offset,
                 bint multinomial, const double[::1] n_trials, double[:, ::1] out,
                 int n_threads):
    """Poisson (multinomial False; offset[j] = sum lambdas_[j]) or multinomial
    (n_trials: expected row totals, or None for each row's own total)
    log-likelihoods, out (n, k)."""
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], k = log_p.shape[0]
    cdef int64_t bad = -1
    cdef int rc
    _expect(d >= 1 and k >= 1 and log_p.shape[1] == d, "count_loglik: log_p must be (k, d)")
    _expect(out.shape[0] == n and out.shape[1] == k, "count_loglik: out must be (n, k)")
    if not multinomial:
        _expect(offset is not None and offset.shape[0] == k, "count_loglik: offset must be (k,)")
    if n_trials is not None:
        _expect(n_trials.shape[0] == n, "count_loglik: n_trials must be (n,)")
    if n == 0:
        return
    cdef const double *p_off = &offset[0] if offset is not None else NULL
    cdef const double *p_nt = &n_trials[0] if n_trials is not None else NULL
    with nogil:
        rc = gms_count_loglik(n, d, k, &X[0, 0], &log_p[0, 0], p_off, multinomial, p_nt,
                              &out[0, 0], n_threads, &bad)
    _raise(rc, bad, "count_loglik")


def weighted_sums(const double[:, ::1] X, const double[:, ::1] post, double[::1] nk,
                  double[:, ::1] s1, int n_threads):
    """nk (k,) += post.sum(0); s1 (k, d) += post.T @ X (fixed block order)."""
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], k = post.shape[1]
    cdef int rc
    _expect(post.shape[0] == n and k >= 1 and d >= 1, "weighted_sums: post must be (n, k)")
    _expect(nk.shape[0] == k, "weighted_sums: nk must be (k,)")
    _expect(s1.shape[0] == k and s1.shape[1] == d, "weighted_sums: s1 must be (k, d)")
    if n == 0:
        return
    with nogil:
        rc = gms_weighted_sums(n, d, k, &X[0, 0], &post[0, 0], &nk[0], &s1[0, 0], n_threads)
    _raise(rc, -1, "weighted_sums")
