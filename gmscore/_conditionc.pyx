# cython: language_level=3
"""Thin binding to the fused conditional-moments kernel in
src_c/gms_condition.c (see gmscore.conditional.condition_rows): shape
checks, the GIL released, one C call."""
from scipy.linalg.cython_blas cimport dgemm, dsyrk, sgemm

cdef extern from "gms_kernels.h" nogil:
    int GMS_OK
    int GMS_ERR_NOMEM
    int GMS_ERR_NONFINITE
    void gms_set_blas(void *dgemm, void *sgemm, void *dsyrk)

cdef extern from "gms_condition.h" nogil:
    int gms_condition_moments(int cov_type, const double *X, Py_ssize_t n, Py_ssize_t da,
                              Py_ssize_t k, const double *means, const double *prec_chol,
                              const double *log_norm, Py_ssize_t db, const double *stacked,
                              const double *offset, const double *cond_var, double *mean,
                              double *var, int n_threads)

# This extension links its own copy of the static kernel library: register
# scipy's BLAS for it too (the marginal's full/tied products above 16
# features), as _kernels does for its copy.
gms_set_blas(<void *>dgemm, <void *>sgemm, <void *>dsyrk)


class NonFiniteConditioningError(ValueError):
    """A row of conditioning values has no finite marginal log-likelihood."""


def conditional_moments(int cov_type, const double[:, ::1] X, const double[:, ::1] means,
                        const double[::1] prec_chol, const double[::1] log_norm,
                        const double[:, ::1] stacked, const double[:, ::1] offset,
                        const double[:, ::1] cond_var, double[:, ::1] mean,
                        double[:, ::1] var, int n_threads):
    """Per row of X (n x da): the conditional mixture's mean (n x db) and,
    when var is not None, its variance per output. The marginal over the
    given features: means (K x da), prec_chol (flattened factors, the
    kernels' layout), log_norm (K, log weights included). stacked (da x
    K*db), offset (K x db), cond_var (K x db, with var)."""
    if cov_type < 0 or cov_type > 3:
        raise ValueError(f"unknown covariance type code {cov_type}")
    cdef Py_ssize_t n = X.shape[0], da = X.shape[1], k = means.shape[0]
    cdef Py_ssize_t db = offset.shape[1]
    cdef Py_ssize_t psize = ((k * da * da, da * da, k * da, k))[cov_type]
    if means.shape[1] != da or prec_chol.shape[0] != psize or log_norm.shape[0] != k:
        raise ValueError("marginal parameters do not match X and the covariance type")
    if stacked.shape[0] != da or stacked.shape[1] != k * db or offset.shape[0] != k:
        raise ValueError("regression coefficients do not match the marginal")
    if mean.shape[0] != n or mean.shape[1] != db:
        raise ValueError("mean output has the wrong shape")
    cdef double *vp = NULL
    cdef const double *cvp = NULL
    if var is not None:
        if var.shape[0] != n or var.shape[1] != db:
            raise ValueError("var output has the wrong shape")
        if cond_var is None or cond_var.shape[0] != k or cond_var.shape[1] != db:
            raise ValueError("var needs cond_var (K x db)")
        if n > 0:
            vp = &var[0, 0]
        cvp = &cond_var[0, 0]
    if n == 0:
        return
    cdef int rc
    with nogil:
        rc = gms_condition_moments(cov_type, &X[0, 0], n, da, k, &means[0, 0], &prec_chol[0],
                                   &log_norm[0], db, &stacked[0, 0], &offset[0, 0], cvp,
                                   &mean[0, 0], vp, n_threads)
    if rc == GMS_ERR_NOMEM:
        raise MemoryError("the conditional kernel could not allocate its work buffers")
    if rc == GMS_ERR_NONFINITE:
        raise NonFiniteConditioningError(
            "a row has a non-finite log-likelihood under the marginal mixture (its squared "
            "Mahalanobis distance overflows); scale the input data")
    if rc != GMS_OK:
        raise ValueError("conditional kernel: inconsistent arguments")
