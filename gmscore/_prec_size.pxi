# Length of a flattened precision factor per covariance code (0 full,
# 1 tied, 2 diag, 3 spherical); included by _kernels.pyx and _restartsc.pyx
# for their shape checks.
cdef Py_ssize_t _prec_size(int cov_type, Py_ssize_t k, Py_ssize_t d):
    if cov_type == 0:
        return k * d * d
    if cov_type == 1:
        return d * d
    if cov_type == 2:
        return k * d
    return k
