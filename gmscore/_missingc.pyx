# cython: language_level=3
"""Thin binding to the missing-value E-step in src_c/gms_missing.c (see
gmscore._missing): shape checks, the GIL released, one C call."""
from libc.stdint cimport int64_t, uint8_t
from scipy.linalg.cython_blas cimport dgemm, dsyrk

cdef extern from "gms_kernels.h" nogil:
    int GMS_OK
    int GMS_ERR_NOMEM
    int GMS_ERR_NONFINITE
    Py_ssize_t gms_s2_size(int cov_type, Py_ssize_t n_components, Py_ssize_t n_features)

cdef extern from "gms_missing.h" nogil:
    int gms_missing_pass(int cov_type, const double *X, Py_ssize_t n, Py_ssize_t d,
                         Py_ssize_t k, const double *means, const double *covs,
                         const double *log_w, const int64_t *order, Py_ssize_t n_order,
                         const int64_t *pat_start, Py_ssize_t n_pat, const uint8_t *observed,
                         const double *sample_weight, const double *resp_in,
                         const double *centres, double *stats, double *lse, double *logp,
                         double *resp_out, double *impute, double *impute_var,
                         void *dgemm, void *dsyrk, int n_threads)


class NonFiniteMissingError(ValueError):
    """A row had no finite log-likelihood, or an observed sub-covariance
    was not positive definite."""


def leaf_size(int cov_type, Py_ssize_t k, Py_ssize_t d):
    """Doubles of the statistics leaf (nk, s1, s2, log-likelihood, weight)."""
    return k + k * d + gms_s2_size(cov_type, k, d) + 2


cdef const double *_ptr1(const double[::1] a):
    return NULL if a is None or a.shape[0] == 0 else &a[0]


cdef double *_out1(double[::1] a):
    return NULL if a is None or a.shape[0] == 0 else &a[0]


def missing_pass(int cov_type, const double[:, ::1] X, const double[:, ::1] means, covs,
                 const double[::1] log_w, const int64_t[::1] order,
                 const int64_t[::1] pat_start, const uint8_t[:, ::1] observed,
                 sample_weight=None, resp_in=None, centres=None, stats=None, lse=None,
                 logp=None, resp_out=None, impute=None, impute_var=None, int n_threads=1,
                 bint use_blas=True):
    """One pass of the missing-value kernel over the rows ``order`` (grouped
    by pattern, see gms_missing.h). Outputs are filled in place; None
    skips them. covs: C-contiguous float64 covariances ((K, D, D) full,
    (D, D) tied, (K, D) diag, (K,) spherical). ``use_blas``: the full /
    tied products through scipy's BLAS (keep it single-threaded around
    the call), else plain loops."""
    if cov_type < 0 or cov_type > 3:
        raise ValueError(f"unknown covariance type code {cov_type}")
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], k = means.shape[0]
    cdef Py_ssize_t n_pat = pat_start.shape[0] - 1
    want = ((k, d, d), (d, d), (k, d), (k,))[cov_type]
    if means.shape[1] != d or tuple(covs.shape) != want or log_w.shape[0] != k:
        raise ValueError("model parameters do not match X and the covariance type")
    if n_pat < 0 or (n_pat > 0 and (observed.shape[0] != n_pat or observed.shape[1] != d)):
        raise ValueError("pattern arrays do not agree")
    if not covs.flags.c_contiguous or covs.dtype.char != 'd':
        raise ValueError("covs must be C-contiguous float64")
    cdef const double[::1] cv = covs.reshape(-1)
    cdef const double[::1] sw = sample_weight
    cdef const double[:, ::1] rin = resp_in
    cdef const double[:, ::1] cen = centres
    cdef double[::1] st = stats
    cdef double[::1] ls = lse
    cdef double[:, ::1] lp = logp
    cdef double[:, ::1] ro = resp_out
    cdef double[:, ::1] im = impute
    cdef double[:, ::1] iv = impute_var
    if sw is not None and sw.shape[0] != n:
        raise ValueError("sample_weight must have one entry per row of X")
    for a, name in ((rin, "resp_in"), (lp, "logp"), (ro, "resp_out")):
        if a is not None and (a.shape[0] != n or a.shape[1] != k):
            raise ValueError(f"{name} must have shape (n_samples, n_components)")
    for a, name in ((im, "impute"), (iv, "impute_var")):
        if a is not None and (a.shape[0] != n or a.shape[1] != d):
            raise ValueError(f"{name} must have shape (n_samples, n_features)")
    if ls is not None and ls.shape[0] != n:
        raise ValueError("lse must have one entry per row of X")
    if st is not None:
        if st.shape[0] != leaf_size(cov_type, k, d):
            raise ValueError("stats has the wrong size")
        if cen is None or cen.shape[0] != k or cen.shape[1] != d:
            raise ValueError("stats need centres of shape (n_components, n_features)")
    cdef const double *xp = &X[0, 0] if n > 0 else NULL
    cdef const int64_t *op = &order[0] if order.shape[0] > 0 else NULL
    cdef const uint8_t *obp = &observed[0, 0] if n_pat > 0 else NULL
    cdef const double *swp = &sw[0] if sw is not None and n > 0 else NULL
    cdef const double *rinp = &rin[0, 0] if rin is not None and n > 0 else NULL
    cdef const double *cenp = &cen[0, 0] if cen is not None else NULL
    cdef double *stp = &st[0] if st is not None else NULL
    cdef double *lsp = &ls[0] if ls is not None and n > 0 else NULL
    cdef double *lpp = &lp[0, 0] if lp is not None and n > 0 else NULL
    cdef double *rop = &ro[0, 0] if ro is not None and n > 0 else NULL
    cdef double *imp = &im[0, 0] if im is not None and n > 0 else NULL
    cdef double *ivp = &iv[0, 0] if iv is not None and n > 0 else NULL
    cdef void *gemm = <void *>dgemm if use_blas else NULL
    cdef void *syrk = <void *>dsyrk if use_blas else NULL
    cdef int rc
    with nogil:
        rc = gms_missing_pass(cov_type, xp, n, d, k, &means[0, 0], &cv[0], &log_w[0], op,
                              order.shape[0], &pat_start[0], n_pat, obp, swp, rinp, cenp,
                              stp, lsp, lpp, rop, imp, ivp, gemm, syrk, n_threads)
    if rc == GMS_ERR_NOMEM:
        raise MemoryError("the missing-value kernel could not allocate its work buffers")
    if rc == GMS_ERR_NONFINITE:
        raise NonFiniteMissingError(
            "a sample has no finite log-likelihood under the model on its observed "
            "features, or a covariance is not positive definite on them; scale the "
            "input data or increase reg_covar")
    if rc != GMS_OK:
        raise ValueError("missing-value kernel: inconsistent arguments")
