# cython: language_level=3
"""Binding to src_c/gms_condition.c: Gaussian mixture conditionals over the
rows of X (mixture regression), in one call, GIL released."""
from libc.stdint cimport int64_t

cdef extern from "gms_kernels.h" nogil:
    int GMS_OK
    int GMS_ERR_NOMEM
    int GMS_ERR_NONFINITE

cdef extern from "gms_condition.h" nogil:
    int gms_condition_rows(Py_ssize_t, Py_ssize_t, Py_ssize_t, Py_ssize_t, const double *,
                           const double *, const double *, const double *, const double *,
                           const double *, const double *, double *, double *, double *,
                           double *, int, int64_t *)


class NonFiniteRowError(ValueError):
    """A row has no finite log-likelihood under the conditioning marginal."""

    def __init__(self, row):
        super().__init__(row)
        self.row = row


def _expect(ok, what):
    if not ok:
        raise ValueError("condition_rows: " + what)


def condition_rows(const double[:, ::1] X, const double[:, ::1] mu_a,
                   const double[:, :, ::1] prec_u, const double[::1] log_norm,
                   const double[:, :, ::1] reg, const double[:, ::1] mu_b,
                   const double[:, ::1] cond_var, double[:, ::1] resp, double[:, :, ::1] means,
                   double[:, ::1] mean, double[:, ::1] var, int n_threads):
    """Fill whichever of resp (n, k), means (n, k, dr), mean (n, dr), var
    (n, dr) are given (the others None). Shapes are checked here, so the
    kernel never reads or writes out of bounds."""
    cdef Py_ssize_t n = X.shape[0], da = X.shape[1], k = mu_a.shape[0]
    cdef Py_ssize_t dr = mu_b.shape[1] if mu_b is not None else 0
    cdef int64_t bad = -1
    cdef int rc
    _expect(da >= 1 and k >= 1 and mu_a.shape[1] == da, "mu_a must be (k, da)")
    _expect(prec_u.shape[0] == k and prec_u.shape[1] == da and prec_u.shape[2] == da,
            "prec_u must be (k, da, da)")
    _expect(log_norm.shape[0] == k, "log_norm must be (k,)")
    want_mk = means is not None or mean is not None or var is not None
    if want_mk:
        _expect(reg is not None and mu_b is not None and dr >= 1, "reg and mu_b are needed")
        _expect(mu_b.shape[0] == k, "mu_b must be (k, dr)")
        _expect(reg.shape[0] == k and reg.shape[1] == dr and reg.shape[2] == da,
                "reg must be (k, dr, da)")
    if resp is not None:
        _expect(resp.shape[0] == n and resp.shape[1] == k, "resp must be (n, k)")
    if means is not None:
        _expect(means.shape[0] == n and means.shape[1] == k and means.shape[2] == dr,
                "means must be (n, k, dr)")
    if mean is not None:
        _expect(mean.shape[0] == n and mean.shape[1] == dr, "mean must be (n, dr)")
    if var is not None:
        _expect(var.shape[0] == n and var.shape[1] == dr, "var must be (n, dr)")
        _expect(cond_var is not None and cond_var.shape[0] == k and cond_var.shape[1] == dr,
                "cond_var must be (k, dr)")
    if n == 0:
        return
    cdef const double *p_reg = &reg[0, 0, 0] if want_mk else NULL
    cdef const double *p_mu_b = &mu_b[0, 0] if want_mk else NULL
    cdef const double *p_cv = &cond_var[0, 0] if var is not None else NULL
    cdef double *p_resp = &resp[0, 0] if resp is not None else NULL
    cdef double *p_means = &means[0, 0, 0] if means is not None else NULL
    cdef double *p_mean = &mean[0, 0] if mean is not None else NULL
    cdef double *p_var = &var[0, 0] if var is not None else NULL
    with nogil:
        rc = gms_condition_rows(n, da, dr, k, &X[0, 0], &mu_a[0, 0], &prec_u[0, 0, 0],
                                &log_norm[0], p_reg, p_mu_b, p_cv, p_resp, p_means, p_mean,
                                p_var, n_threads, &bad)
    if rc == GMS_ERR_NONFINITE:
        raise NonFiniteRowError(int(bad))
    if rc == GMS_ERR_NOMEM:
        raise MemoryError("gmscore conditional kernel could not allocate its buffers")
    if rc != GMS_OK:
        raise ValueError("gmscore conditional kernel rejected its arguments (code %d)" % rc)
