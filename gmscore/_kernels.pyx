# cython: language_level=3
"""Thin bindings to the C kernels in src_c/.

Each function takes whole arrays as typed memoryviews (inputs const, so
read-only arrays work), checks shapes, releases the GIL and calls the C
kernel for the input's precision. Outputs are caller-allocated float64
arrays that the kernel overwrites.
"""
import numpy as np

from cython cimport floating
from libc.stdint cimport int64_t
from scipy.linalg.cython_blas cimport dgemm, dsyrk, sgemm

include "_reducer.pxi"
include "_prec_size.pxi"

cdef extern from "gms_kernels.h" nogil:
    int GMS_OK
    int GMS_ERR_NOMEM
    int GMS_ERR_ARG
    int GMS_ERR_NONFINITE
    int GMS_BLOCK_ROWS
    int GMS_MAX_SLOTS
    Py_ssize_t gms_s2_size(int cov_type, Py_ssize_t k, Py_ssize_t d)
    void gms_set_blas(void *dgemm, void *sgemm, void *dsyrk)
    int gms_group_logsumexp(double *, Py_ssize_t, Py_ssize_t, Py_ssize_t, double *, int)
    int gms_mixture_responsibilities(double *, const double *, Py_ssize_t, Py_ssize_t,
                                     Py_ssize_t, int)
    void gms_fast_exp_log(const double *x, Py_ssize_t n, double *out_exp, double *out_log)
    int gms_omp_max_threads()
    int gms_take_rows(const unsigned char *, Py_ssize_t, Py_ssize_t, const int64_t *,
                      Py_ssize_t, unsigned char *, int)
    int gms_has_openmp()
    int GMS_SCRATCH_DOUBLES
    size_t GMS_BLAS_HEADROOM
    int gms_fit_work_bytes(int cov_type, Py_ssize_t k, Py_ssize_t d, int64_t n,
                           size_t *shared, size_t *per_thread)
    size_t gms_thread_headroom()
    int gms_reserve_trial(size_t shared, size_t per_thread, int n_threads)
    int gms_warm_threads(int n_threads)
    int gms_blas_threads_bound()
    const char *gms_blas_threads_library()
    void gms_blas_pin()
    void gms_blas_unpin()
    int gms_blas_pin_depth()

    int gms_weighted_log_prob_d(int, const double *, Py_ssize_t, Py_ssize_t,
                                Py_ssize_t, const double *, const double *,
                                const double *, double *, int)
    int gms_weighted_log_prob_f(int, const float *, Py_ssize_t, Py_ssize_t,
                                Py_ssize_t, const float *, const float *,
                                const double *, double *, int)
    int gms_log_prob_rows_d(int, const double *, Py_ssize_t, Py_ssize_t, Py_ssize_t,
                            const double *, const double *, const double *, double *,
                            double *, int64_t *, int)
    int gms_log_prob_rows_f(int, const float *, Py_ssize_t, Py_ssize_t, Py_ssize_t,
                            const float *, const float *, const double *, double *,
                            double *, int64_t *, int)
    int gms_log_prob_labels_d(int, const double *, Py_ssize_t, Py_ssize_t, Py_ssize_t,
                              const double *, const double *, const double *, double *,
                              int64_t *, int)
    int gms_log_prob_labels_f(int, const float *, Py_ssize_t, Py_ssize_t, Py_ssize_t,
                              const float *, const float *, const double *, double *,
                              int64_t *, int)
    int gms_estep_d(int, const double *, Py_ssize_t, Py_ssize_t, Py_ssize_t,
                    const double *, const double *, const double *,
                    const double *, const double *, double *, double *,
                    double *, double *, int)
    int gms_estep_f(int, const float *, Py_ssize_t, Py_ssize_t, Py_ssize_t,
                    const float *, const float *, const double *,
                    const double *, const double *, double *, double *,
                    double *, double *, int)
    int gms_estep_into_d(gms_reducer *, int, const double *, Py_ssize_t, Py_ssize_t,
                         Py_ssize_t, const double *, const double *, const double *,
                         const double *, const double *, int)
    int gms_estep_into_f(gms_reducer *, int, const float *, Py_ssize_t, Py_ssize_t,
                         Py_ssize_t, const float *, const float *, const double *,
                         const double *, const double *, int)
    int gms_accumulate_into_d(gms_reducer *, int, const double *, Py_ssize_t, Py_ssize_t,
                              Py_ssize_t, const double *, const int64_t *, const double *,
                              const double *, int)
    int gms_accumulate_into_f(gms_reducer *, int, const float *, Py_ssize_t, Py_ssize_t,
                              Py_ssize_t, const double *, const int64_t *, const double *,
                              const double *, int)
    int gms_accumulate_d(int, const double *, Py_ssize_t, Py_ssize_t,
                         Py_ssize_t, const double *, const int64_t *, const double *,
                         const double *, double *, double *, double *, int)
    int gms_accumulate_f(int, const float *, Py_ssize_t, Py_ssize_t,
                         Py_ssize_t, const double *, const int64_t *, const double *,
                         const double *, double *, double *, double *, int)
    int gms_kmeans_step_d(const double *, Py_ssize_t, Py_ssize_t, Py_ssize_t,
                          const double *, const double *, int64_t *,
                          double *, double *, double *, int)
    int gms_kmeans_step_f(const float *, Py_ssize_t, Py_ssize_t, Py_ssize_t,
                          const double *, const double *, int64_t *,
                          double *, double *, double *, int)
    int gms_sqdist_potential_d(const double *, Py_ssize_t, Py_ssize_t,
                               const double *, const double *, const double *,
                               double *, double *, int)
    int gms_sqdist_potential_f(const float *, Py_ssize_t, Py_ssize_t,
                               const double *, const double *, const double *,
                               double *, double *, int)
    Py_ssize_t gms_kmeans_choice(const double *, Py_ssize_t, double, double)
    int gms_kmeanspp_d(const double *, Py_ssize_t, Py_ssize_t, Py_ssize_t, Py_ssize_t,
                       const double *, Py_ssize_t, const double *, int64_t *, int)
    int gms_kmeanspp_f(const float *, Py_ssize_t, Py_ssize_t, Py_ssize_t, Py_ssize_t,
                       const double *, Py_ssize_t, const double *, int64_t *, int)
    int gms_kmeans_lloyd_d(const double *, Py_ssize_t, Py_ssize_t, Py_ssize_t,
                           const double *, const double *, const double *, int64_t *,
                           double *, double *, int64_t *, int)
    int gms_kmeans_lloyd_f(const float *, Py_ssize_t, Py_ssize_t, Py_ssize_t,
                           const double *, const double *, const double *, int64_t *,
                           double *, double *, int64_t *, int)
    int gms_kmeans_label_dist_d(const double *, Py_ssize_t, Py_ssize_t, Py_ssize_t,
                                const double *, const int64_t *, double *, int)
    int gms_kmeans_label_dist_f(const float *, Py_ssize_t, Py_ssize_t, Py_ssize_t,
                                const double *, const int64_t *, double *, int)
    int gms_kmeans_bounded_run_d(const double *, Py_ssize_t, Py_ssize_t, Py_ssize_t,
                                 double *, const double *, const double *, int64_t *,
                                 float *, double *, double *, Py_ssize_t, double, int,
                                 int64_t *, int)
    int gms_kmeans_bounded_run_f(const float *, Py_ssize_t, Py_ssize_t, Py_ssize_t,
                                 double *, const double *, const double *, int64_t *,
                                 float *, double *, double *, Py_ssize_t, double, int,
                                 int64_t *, int)
    int GMS_KMPP_MAX_POINTS

# The kernels call these from their OpenMP threads. Registering them also
# finds their library's thread-count functions; when it does, every kernel
# that calls BLAS holds that library at one thread while it runs (see
# blas_pin and _threads.py), and otherwise the callers limit BLAS.
gms_set_blas(<void *>dgemm, <void *>sgemm, <void *>dsyrk)


def blas_pins_itself():
    """True when the kernels hold their BLAS library at one thread
    themselves, around each call that uses it."""
    return bool(gms_blas_threads_bound())


def blas_library():
    """The file of the BLAS library the kernels call and pin, or None when
    its thread count could not be found (then blas_pins_itself is False)."""
    cdef const char *path = gms_blas_threads_library()
    return None if path == NULL else path.decode("utf-8", "surrogateescape")


def blas_pin():
    """Hold the kernels' BLAS library at one thread until the matching
    blas_unpin; nestable and shared by every thread (a reference count
    under a lock: the first holder saves the count, the last restores it).
    Does nothing when blas_pins_itself() is False."""
    with nogil:
        gms_blas_pin()


def blas_unpin():
    """Release one blas_pin."""
    with nogil:
        gms_blas_unpin()


def blas_pin_depth():
    """How many holders the pin has now (tests)."""
    return gms_blas_pin_depth()

BLOCK_ROWS = GMS_BLOCK_ROWS
MAX_SLOTS = GMS_MAX_SLOTS


class NonFiniteLogLikelihoodError(FloatingPointError):
    """A sample's log-likelihood overflowed under the current parameters."""


def has_openmp():
    """True when the kernels were compiled with OpenMP."""
    return bool(gms_has_openmp())


def omp_max_threads():
    """OpenMP's default thread count (honours OMP_NUM_THREADS/threadpoolctl)."""
    return gms_omp_max_threads()


def group_logsumexp(double[:, :, ::1] comp, double[:, ::1] out, int n_threads):
    """out[i, s] = log sum_j exp(comp[i, s, j]) (mixture states); comp
    becomes the within-state weights exp(comp - out) in place."""
    cdef Py_ssize_t n = comp.shape[0], k = comp.shape[1], m = comp.shape[2]
    cdef int rc
    _expect(out.shape[0] == n and out.shape[1] == k, "output shape")
    if n == 0:
        return
    with nogil:
        rc = gms_group_logsumexp(&comp[0, 0, 0], n, k, m, &out[0, 0], n_threads)
    _check(rc)


def mixture_responsibilities(double[:, :, ::1] weights, const double[:, ::1] gamma,
                             int n_threads):
    """In place: weights[i, s, j] *= gamma[i, s] (within-state weights from
    group_logsumexp become each (state, mixture) pair's share of frame i)."""
    cdef Py_ssize_t n = weights.shape[0], k = weights.shape[1], m = weights.shape[2]
    cdef int rc
    _expect(gamma.shape[0] == n and gamma.shape[1] == k, "gamma shape")
    if n == 0:
        return
    with nogil:
        rc = gms_mixture_responsibilities(&weights[0, 0, 0], &gamma[0, 0], n, k, m, n_threads)
    _check(rc)


def fast_exp_log(const double[::1] x, double[::1] out_exp, double[::1] out_log):
    """exp(-|x|) and log(|x|) with the kernels' own vectorisable routines
    (log needs |x| >= DBL_MIN); for the accuracy tests."""
    _expect(out_exp.shape[0] == x.shape[0] and out_log.shape[0] == x.shape[0], "lengths")
    if x.shape[0]:
        gms_fast_exp_log(&x[0], x.shape[0], &out_exp[0], &out_log[0])


SCRATCH_DOUBLES = GMS_SCRATCH_DOUBLES
# bytes of BLAS buffers counted for the thread that starts a fit
BLAS_HEADROOM = GMS_BLAS_HEADROOM


def fit_work_bytes(int cov_type, Py_ssize_t n_components, Py_ssize_t n_features,
                   int64_t n_samples):
    """(shared, per_thread): bytes of work memory the kernels' passes over
    n_samples rows allocate, once and for each thread."""
    cdef size_t shared = 0, per_thread = 0
    _check(gms_fit_work_bytes(cov_type, n_components, n_features, n_samples, &shared,
                              &per_thread))
    return int(shared), int(per_thread)


def thread_headroom():
    """Bytes one thread takes besides the kernels' work memory (stack,
    malloc arena, BLAS buffers)."""
    return int(gms_thread_headroom())


def reserve_trial(size_t shared, size_t per_thread, int n_threads):
    """True when `shared` + n_threads x (per_thread + thread_headroom())
    bytes can be mapped now (they are released before returning)."""
    cdef int rc
    with nogil:
        rc = gms_reserve_trial(shared, per_thread, n_threads)
    if rc == GMS_ERR_ARG:
        raise ValueError("reserve_trial: n_threads out of range")
    return rc == GMS_OK


def warm_threads(int n_threads):
    """Start n_threads OpenMP threads, each making one small allocation and
    one small BLAS call; returns the number started. Call only after
    reserve_trial said there is room: thread creation failure aborts."""
    cdef int started
    if n_threads < 1:
        raise ValueError("warm_threads needs n_threads >= 1")
    with nogil:
        started = gms_warm_threads(n_threads)
    return started


def take_rows(X, order, int n_threads):
    """X[order] for a C-contiguous 2-D X of any fixed-size dtype and
    int64 row indices, rows copied in parallel (the classifier's sort of X
    by class; np.take copies on one thread). Raises IndexError for an
    index outside [0, len(X))."""
    if X.ndim != 2 or not X.flags.c_contiguous or X.dtype.hasobject:
        raise ValueError("take_rows needs a C-contiguous 2-D array of a fixed-size dtype")
    cdef const int64_t[::1] idx = order
    out = np.empty((idx.shape[0], X.shape[1]), dtype=X.dtype)
    cdef Py_ssize_t row_bytes = X.shape[1] * X.dtype.itemsize
    cdef const unsigned char[::1] src = X.reshape(-1).view(np.uint8) if X.size else \
        np.zeros(1, np.uint8)
    cdef unsigned char[::1] dst = out.reshape(-1).view(np.uint8) if out.size else \
        np.zeros(1, np.uint8)
    cdef Py_ssize_t n_src = X.shape[0], n_out = idx.shape[0]
    cdef int rc
    if row_bytes == 0 or n_out == 0:
        if n_out and (np.min(order) < 0 or np.max(order) >= n_src):
            raise IndexError("row index out of range")
        return out
    with nogil:
        rc = gms_take_rows(&src[0], n_src, row_bytes, &idx[0], n_out, &dst[0], n_threads)
    if rc != GMS_OK:
        raise IndexError(f"row index out of range for {n_src} rows")
    return out


def s2_size(int cov_type, Py_ssize_t n_components, Py_ssize_t n_features):
    """Length of the flat second-moment accumulator for a covariance type."""
    return gms_s2_size(cov_type, n_components, n_features)


cdef int _check(int rc) except -1:
    if rc == GMS_OK:
        return 0
    if rc == GMS_ERR_NOMEM:
        raise MemoryError("gmscore kernel could not allocate its work buffers")
    if rc == GMS_ERR_NONFINITE:
        raise NonFiniteLogLikelihoodError(
            "a sample has a non-finite log-likelihood under the current "
            "parameters (its squared Mahalanobis distance overflows); scale "
            "the input data, or pass float64 data if it is float32")
    raise ValueError("gmscore kernel rejected its arguments (code %d)" % rc)


cdef inline void _expect(bint ok, str what) except *:
    if not ok:
        raise ValueError("kernel argument mismatch: " + what)



cdef inline const double *_opt(const double[::1] a, Py_ssize_t n) except? NULL:
    if a is None:
        return NULL
    _expect(a.shape[0] == n, "optional vector has the wrong length")
    return &a[0] if n > 0 else NULL


def weighted_log_prob(int cov_type, const floating[:, ::1] X,
                      const floating[:, ::1] means,
                      const floating[::1] prec_chol,
                      const double[::1] log_norm, double[:, ::1] out,
                      int n_threads):
    """out[i, k] = log_norm[k] - 0.5 * squared Mahalanobis(X[i], k)."""
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], k = means.shape[0]
    cdef int rc
    _expect(means.shape[1] == d, "means do not match n_features")
    _expect(prec_chol.shape[0] == _prec_size(cov_type, k, d), "precision factor size")
    _expect(log_norm.shape[0] == k, "log_norm length")
    _expect(out.shape[0] == n and out.shape[1] == k, "output shape")
    if n == 0:
        return
    with nogil:
        if floating is double:
            rc = gms_weighted_log_prob_d(cov_type, &X[0, 0], n, d, k, &means[0, 0],
                                         &prec_chol[0], &log_norm[0], &out[0, 0],
                                         n_threads)
        else:
            rc = gms_weighted_log_prob_f(cov_type, &X[0, 0], n, d, k, &means[0, 0],
                                         &prec_chol[0], &log_norm[0], &out[0, 0],
                                         n_threads)
    _check(rc)


def log_prob_rows(int cov_type, const floating[:, ::1] X, const floating[:, ::1] means,
                  const floating[::1] prec_chol, const double[::1] log_norm,
                  double[::1] lse, double[:, ::1] proba, int64_t[::1] labels,
                  int n_threads):
    """Per sample: lse[i] = log sum_k exp(weighted log-density); proba (or
    None) the posterior probabilities; labels (or None) the most probable
    component. No N x K array besides proba."""
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], k = means.shape[0]
    cdef double *out = NULL
    cdef int64_t *lab = NULL
    cdef int rc
    _expect(means.shape[1] == d, "means do not match n_features")
    _expect(prec_chol.shape[0] == _prec_size(cov_type, k, d), "precision factor size")
    _expect(log_norm.shape[0] == k, "log_norm length")
    _expect(lse.shape[0] == n, "lse length")
    if n == 0:
        return
    if proba is not None:
        _expect(proba.shape[0] == n and proba.shape[1] == k, "proba shape")
        out = &proba[0, 0]
    if labels is not None:
        _expect(labels.shape[0] == n, "labels length")
        lab = &labels[0]
    with nogil:
        if floating is double:
            rc = gms_log_prob_rows_d(cov_type, &X[0, 0], n, d, k, &means[0, 0],
                                     &prec_chol[0], &log_norm[0], &lse[0], out, lab,
                                     n_threads)
        else:
            rc = gms_log_prob_rows_f(cov_type, &X[0, 0], n, d, k, &means[0, 0],
                                     &prec_chol[0], &log_norm[0], &lse[0], out, lab,
                                     n_threads)
    _check(rc)


def log_prob_labels(int cov_type, const floating[:, ::1] X, const floating[:, ::1] means,
                    const floating[::1] prec_chol, const double[::1] log_norm,
                    double[::1] rowmax, int64_t[::1] labels, int n_threads):
    """Per sample: labels[i] the most probable component and rowmax[i] its
    weighted log-density (finite exactly when the log-likelihood is; NaN
    when any log-density is NaN): predict without the log-sum-exp."""
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], k = means.shape[0]
    cdef int rc
    _expect(means.shape[1] == d, "means do not match n_features")
    _expect(prec_chol.shape[0] == _prec_size(cov_type, k, d), "precision factor size")
    _expect(log_norm.shape[0] == k, "log_norm length")
    _expect(rowmax.shape[0] == n and labels.shape[0] == n, "rowmax / labels length")
    if n == 0:
        return
    with nogil:
        if floating is double:
            rc = gms_log_prob_labels_d(cov_type, &X[0, 0], n, d, k, &means[0, 0],
                                       &prec_chol[0], &log_norm[0], &rowmax[0], &labels[0],
                                       n_threads)
        else:
            rc = gms_log_prob_labels_f(cov_type, &X[0, 0], n, d, k, &means[0, 0],
                                       &prec_chol[0], &log_norm[0], &rowmax[0], &labels[0],
                                       n_threads)
    _check(rc)


def estep(int cov_type, const floating[:, ::1] X, const floating[:, ::1] means,
          const floating[::1] prec_chol, const double[::1] log_norm,
          const double[::1] sample_weight, const double[:, ::1] centres,
          double[::1] nk, double[:, ::1] s1, double[::1] s2, int n_threads):
    """Fused E-step: responsibilities of every sample (never stored) folded
    into nk, s1 and s2 (centred at `centres`). Returns the (weighted) total
    log-likelihood."""
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], k = means.shape[0]
    cdef double loglik = 0.0
    cdef const double *w
    cdef double *s2p
    cdef int rc
    _expect(means.shape[1] == d, "means do not match n_features")
    _expect(prec_chol.shape[0] == _prec_size(cov_type, k, d), "precision factor size")
    _expect(log_norm.shape[0] == k, "log_norm length")
    _expect(centres.shape[0] == k and centres.shape[1] == d, "centres shape")
    _expect(nk.shape[0] == k and s1.shape[0] == k and s1.shape[1] == d, "nk/s1 shape")
    _expect(s2.shape[0] == gms_s2_size(cov_type, k, d), "s2 length")
    _expect(n > 0, "no samples")
    w = _opt(sample_weight, n)
    s2p = &s2[0] if s2.shape[0] > 0 else NULL
    with nogil:
        if floating is double:
            rc = gms_estep_d(cov_type, &X[0, 0], n, d, k, &means[0, 0], &prec_chol[0],
                             &log_norm[0], w, &centres[0, 0], &nk[0], &s1[0, 0],
                             s2p, &loglik, n_threads)
        else:
            rc = gms_estep_f(cov_type, &X[0, 0], n, d, k, &means[0, 0], &prec_chol[0],
                             &log_norm[0], w, &centres[0, 0], &nk[0], &s1[0, 0],
                             s2p, &loglik, n_threads)
    _check(rc)
    return loglik


def accumulate(int cov_type, const floating[:, ::1] X, const double[:, ::1] resp,
               const int64_t[::1] labels, const double[::1] sample_weight,
               const double[:, ::1] centres, double[::1] nk, double[:, ::1] s1,
               double[::1] s2, int n_threads):
    """Sufficient statistics from given responsibilities: dense `resp`, hard
    `labels`, or neither (one component, weight 1 per sample)."""
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], k = centres.shape[0]
    cdef const double *w
    cdef const double *r = NULL
    cdef const int64_t *lab = NULL
    cdef double *s2p
    cdef int rc
    _expect(centres.shape[1] == d, "centres do not match n_features")
    _expect(nk.shape[0] == k and s1.shape[0] == k and s1.shape[1] == d, "nk/s1 shape")
    _expect(s2.shape[0] == gms_s2_size(cov_type, k, d), "s2 length")
    if labels is not None:
        _expect(resp is None, "give resp or labels, not both")
        _expect(labels.shape[0] == n, "labels length")
        if n > 0:
            lab = &labels[0]
    elif resp is None:
        _expect(k == 1, "resp=None needs exactly one centre")
    else:
        _expect(resp.shape[0] == n and resp.shape[1] == k, "resp shape")
        if n > 0:
            r = &resp[0, 0]
    w = _opt(sample_weight, n)
    s2p = &s2[0] if s2.shape[0] > 0 else NULL
    if n == 0:
        nk[:] = 0.0
        s1[:, :] = 0.0
        s2[:] = 0.0
        return
    with nogil:
        if floating is double:
            rc = gms_accumulate_d(cov_type, &X[0, 0], n, d, k, r, lab, w, &centres[0, 0],
                                  &nk[0], &s1[0, 0], s2p, n_threads)
        else:
            rc = gms_accumulate_f(cov_type, &X[0, 0], n, d, k, r, lab, w, &centres[0, 0],
                                  &nk[0], &s1[0, 0], s2p, n_threads)
    _check(rc)


def stats_stride(int cov_type, Py_ssize_t n_components, Py_ssize_t n_features):
    """Doubles of one statistics leaf: nk, s1, s2, log-likelihood, total
    sample weight."""
    return (n_components + n_components * n_features
            + gms_s2_size(cov_type, n_components, n_features) + 2)


def stats_reducer(int cov_type, Py_ssize_t n_components, Py_ssize_t n_features):
    """A fresh Reducer for the statistics of estep_into / accumulate_into."""
    return Reducer(stats_stride(cov_type, n_components, n_features), GMS_LEAF_BLOCKS)


def estep_into(Reducer red, int cov_type, const floating[:, ::1] X,
               const floating[:, ::1] means, const floating[::1] prec_chol,
               const double[::1] log_norm, const double[::1] sample_weight,
               const double[:, ::1] centres, int n_threads):
    """Fused E-step of X's rows folded into `red` (which continues its block
    numbering from earlier calls)."""
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], k = means.shape[0]
    cdef const double *w
    cdef int rc
    _expect(means.shape[1] == d, "means do not match n_features")
    _expect(prec_chol.shape[0] == _prec_size(cov_type, k, d), "precision factor size")
    _expect(log_norm.shape[0] == k, "log_norm length")
    _expect(centres.shape[0] == k and centres.shape[1] == d, "centres shape")
    _expect(red.red.stride == stats_stride(cov_type, k, d), "reducer stride")
    if n == 0:
        return
    w = _opt(sample_weight, n)
    with nogil:
        if floating is double:
            rc = gms_estep_into_d(&red.red, cov_type, &X[0, 0], n, d, k, &means[0, 0],
                                  &prec_chol[0], &log_norm[0], w, &centres[0, 0], n_threads)
        else:
            rc = gms_estep_into_f(&red.red, cov_type, &X[0, 0], n, d, k, &means[0, 0],
                                  &prec_chol[0], &log_norm[0], w, &centres[0, 0], n_threads)
    _check(rc)


def accumulate_into(Reducer red, int cov_type, const floating[:, ::1] X,
                    const double[:, ::1] resp, const int64_t[::1] labels,
                    const double[::1] sample_weight, const double[:, ::1] centres,
                    int n_threads):
    """Statistics of X's rows from given responsibilities (as accumulate),
    folded into `red`."""
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], k = centres.shape[0]
    cdef const double *w
    cdef const double *r = NULL
    cdef const int64_t *lab = NULL
    cdef int rc
    _expect(centres.shape[1] == d, "centres do not match n_features")
    _expect(red.red.stride == stats_stride(cov_type, k, d), "reducer stride")
    if labels is not None:
        _expect(resp is None, "give resp or labels, not both")
        _expect(labels.shape[0] == n, "labels length")
        if n > 0:
            lab = &labels[0]
    elif resp is None:
        _expect(k == 1, "resp=None needs exactly one centre")
    else:
        _expect(resp.shape[0] == n and resp.shape[1] == k, "resp shape")
        if n > 0:
            r = &resp[0, 0]
    if n == 0:
        return
    w = _opt(sample_weight, n)
    with nogil:
        if floating is double:
            rc = gms_accumulate_into_d(&red.red, cov_type, &X[0, 0], n, d, k, r, lab, w,
                                       &centres[0, 0], n_threads)
        else:
            rc = gms_accumulate_into_f(&red.red, cov_type, &X[0, 0], n, d, k, r, lab, w,
                                       &centres[0, 0], n_threads)
    _check(rc)


def kmeans_step(const floating[:, ::1] X, const double[:, ::1] centers,
                const double[::1] sample_weight, int64_t[::1] labels,
                double[:, ::1] sums, double[::1] counts, int n_threads):
    """One Lloyd step: nearest-centre labels, per-centre weighted sums and
    counts. Returns the weighted inertia."""
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], k = centers.shape[0]
    cdef double inertia = 0.0
    cdef const double *w
    cdef int rc
    _expect(centers.shape[1] == d, "centers do not match n_features")
    _expect(labels.shape[0] == n, "labels length")
    _expect(sums.shape[0] == k and sums.shape[1] == d and counts.shape[0] == k,
            "sums/counts shape")
    _expect(n > 0, "no samples")
    w = _opt(sample_weight, n)
    with nogil:
        if floating is double:
            rc = gms_kmeans_step_d(&X[0, 0], n, d, k, &centers[0, 0], w, &labels[0],
                                   &sums[0, 0], &counts[0], &inertia, n_threads)
        else:
            rc = gms_kmeans_step_f(&X[0, 0], n, d, k, &centers[0, 0], w, &labels[0],
                                   &sums[0, 0], &counts[0], &inertia, n_threads)
    _check(rc)
    return inertia


def sqdist_potential(const floating[:, ::1] X, const double[::1] point,
                     const double[::1] closest, const double[::1] sample_weight,
                     double[::1] out_min, int n_threads):
    """min(closest, ||x - point||^2) per sample (into out_min if given) and
    its weighted sum, for k-means++ seeding."""
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1]
    cdef double potential = 0.0
    cdef const double *c
    cdef const double *w
    cdef double *o = NULL
    cdef int rc
    _expect(point.shape[0] == d, "point does not match n_features")
    _expect(n > 0, "no samples")
    c = _opt(closest, n)
    w = _opt(sample_weight, n)
    if out_min is not None:
        _expect(out_min.shape[0] == n, "out_min length")
        o = &out_min[0]
    with nogil:
        if floating is double:
            rc = gms_sqdist_potential_d(&X[0, 0], n, d, &point[0], c, w, o,
                                        &potential, n_threads)
        else:
            rc = gms_sqdist_potential_f(&X[0, 0], n, d, &point[0], c, w, o,
                                        &potential, n_threads)
    _check(rc)
    return potential


def kmeans_choice(const double[::1] sample_weight, Py_ssize_t n, double total, double u):
    """The index RandomState.choice(n, p=sample_weight / total) returns when
    its uniform draw is u (unit weights when sample_weight is None)."""
    cdef const double *w = _opt(sample_weight, n)
    cdef Py_ssize_t i
    _expect(n > 0, "no samples")
    with nogil:
        i = gms_kmeans_choice(w, n, total, u)
    return i


def kmeanspp(const floating[:, ::1] X, Py_ssize_t n_clusters, Py_ssize_t n_trials,
             const double[::1] sample_weight, Py_ssize_t first,
             const double[::1] uniforms, int64_t[::1] indices, int n_threads):
    """Greedy k-means++ seeding (see gms_kmeanspp): indices gets the rows
    chosen as centres, first the row ``first``."""
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1]
    cdef const double *w
    cdef int rc
    _expect(n > 0 and d > 0, "no samples")
    _expect(1 <= n_clusters <= n, "n_clusters must be in [1, n_samples]")
    _expect(1 <= n_trials < GMS_KMPP_MAX_POINTS, "n_trials out of range")
    _expect(0 <= first < n, "first out of range")
    _expect(uniforms.shape[0] == (n_clusters - 1) * n_trials, "uniforms length")
    _expect(indices.shape[0] == n_clusters, "indices length")
    w = _opt(sample_weight, n)
    cdef const double *u = &uniforms[0] if uniforms.shape[0] > 0 else NULL
    with nogil:
        if floating is double:
            rc = gms_kmeanspp_d(&X[0, 0], n, d, n_clusters, n_trials, w, first, u,
                                &indices[0], n_threads)
        else:
            rc = gms_kmeanspp_f(&X[0, 0], n, d, n_clusters, n_trials, w, first, u,
                                &indices[0], n_threads)
    _check(rc)


def kmeans_lloyd(const floating[:, ::1] X, const double[:, ::1] centers,
                 const double[::1] shift, const double[::1] sample_weight,
                 int64_t[::1] labels, double[:, ::1] sums, double[::1] counts,
                 int n_threads):
    """One Lloyd pass (see gms_kmeans_lloyd): labels in place, and the
    per-centre weighted sums and counts unless sums is None. Returns the
    number of rows whose label changed."""
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], k = centers.shape[0]
    cdef int64_t changed = 0
    cdef const double *w
    cdef double *ps = NULL
    cdef double *pc = NULL
    cdef int rc
    _expect(n > 0 and k > 0, "no samples or no centres")
    _expect(centers.shape[1] == d and shift.shape[0] == d, "centers/shift do not match n_features")
    _expect(labels.shape[0] == n, "labels length")
    if sums is not None:
        _expect(sums.shape[0] == k and sums.shape[1] == d and counts is not None
                and counts.shape[0] == k, "sums/counts shape")
        ps, pc = &sums[0, 0], &counts[0]
    w = _opt(sample_weight, n)
    with nogil:
        if floating is double:
            rc = gms_kmeans_lloyd_d(&X[0, 0], n, d, k, &centers[0, 0], &shift[0], w,
                                    &labels[0], ps, pc, &changed, n_threads)
        else:
            rc = gms_kmeans_lloyd_f(&X[0, 0], n, d, k, &centers[0, 0], &shift[0], w,
                                    &labels[0], ps, pc, &changed, n_threads)
    _check(rc)
    return changed


def kmeans_bounded_run(const floating[:, ::1] X, double[:, ::1] centers,
                       const double[::1] shift, const double[::1] sample_weight,
                       int64_t[::1] labels, float[:, ::1] bounds, double[:, ::1] sums,
                       double[::1] counts, Py_ssize_t max_iter, double tol_abs,
                       bint bounded, int64_t[::1] info, int n_threads):
    """Lloyd's iterations in one call (see gms_kmeans_bounded_run): centers,
    labels, bounds (n x 2 float32), sums, counts and info (4: passes, changed,
    status, 0; zeros to start) in place. Returns the status: 0 no label
    changed, 1 shift within tol_abs, 2 max_iter, 3 a centre is empty
    (relocate in sums/counts, call again with the same info)."""
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], k = centers.shape[0]
    cdef const double *w
    cdef int rc
    _expect(n > 0 and k > 0, "no samples or no centres")
    _expect(centers.shape[1] == d and shift.shape[0] == d,
            "centers/shift do not match n_features")
    _expect(labels.shape[0] == n and bounds.shape[0] == n and bounds.shape[1] == 2,
            "labels/bounds length")
    _expect(sums.shape[0] == k and sums.shape[1] == d and counts.shape[0] == k,
            "sums/counts shape")
    _expect(info.shape[0] == 4 and 0 <= info[0] <= max_iter and 0 <= info[2] <= 3,
            "info must be 4 int64, zeros to start")
    _expect(max_iter >= 0, "max_iter must be >= 0")
    w = _opt(sample_weight, n)
    with nogil:
        if floating is double:
            rc = gms_kmeans_bounded_run_d(&X[0, 0], n, d, k, &centers[0, 0], &shift[0], w,
                                          &labels[0], &bounds[0, 0], &sums[0, 0],
                                          &counts[0], max_iter, tol_abs, bounded, &info[0],
                                          n_threads)
        else:
            rc = gms_kmeans_bounded_run_f(&X[0, 0], n, d, k, &centers[0, 0], &shift[0], w,
                                          &labels[0], &bounds[0, 0], &sums[0, 0],
                                          &counts[0], max_iter, tol_abs, bounded, &info[0],
                                          n_threads)
    _check(rc)
    return int(info[2])


def kmeans_label_dist(const floating[:, ::1] X, const double[:, ::1] centers,
                      const int64_t[::1] labels, double[::1] o, int n_threads):
    """o[i] = squared distance of row i to centers[labels[i]]."""
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], k = centers.shape[0]
    cdef int rc
    _expect(n > 0 and centers.shape[1] == d and labels.shape[0] == n
            and o.shape[0] == n, "shapes")
    with nogil:
        if floating is double:
            rc = gms_kmeans_label_dist_d(&X[0, 0], n, d, k, &centers[0, 0], &labels[0],
                                         &o[0], n_threads)
        else:
            rc = gms_kmeans_label_dist_f(&X[0, 0], n, d, k, &centers[0, 0], &labels[0],
                                         &o[0], n_threads)
    _check(rc)
