# cython: language_level=3
"""Thin bindings for GMM-UBM (gmscore.adapt): the utterance-scoring kernel
in src_c/gms_topc.c (score_utterances) and the per-group E-step of
src_c/gms_kernels_impl.h (adapt_many): shape checks, the GIL released, one C
call each."""
from cython cimport floating
from libc.stdint cimport int64_t
from scipy.linalg.cython_blas cimport dgemm, dsyrk, sgemm

cdef extern from "gms_kernels.h" nogil:
    int GMS_OK
    int GMS_ERR_NOMEM
    int GMS_ERR_NONFINITE
    Py_ssize_t gms_s2_size(int cov_type, Py_ssize_t k, Py_ssize_t d)
    void gms_set_blas(void *dgemm, void *sgemm, void *dsyrk)
    int gms_estep_groups_d(int cov_type, const double *X, Py_ssize_t n, Py_ssize_t d,
                           Py_ssize_t k, const double *means, const double *prec_chol,
                           const double *log_norm, const double *sample_weight,
                           const double *centres, const int64_t *offsets,
                           Py_ssize_t n_groups, double *out, int n_threads)
    int gms_estep_groups_f(int cov_type, const float *X, Py_ssize_t n, Py_ssize_t d,
                           Py_ssize_t k, const float *means, const float *prec_chol,
                           const double *log_norm, const double *sample_weight,
                           const double *centres, const int64_t *offsets,
                           Py_ssize_t n_groups, double *out, int n_threads)

cdef extern from "gms_topc.h" nogil:
    int gms_topc_utterance_loglik(int cov_type, const double *X, Py_ssize_t n, Py_ssize_t d,
                                  Py_ssize_t k, const double *ubm_means,
                                  const double *ubm_prec, const double *ubm_log_norm,
                                  Py_ssize_t n_models, const double *means,
                                  const double *prec, const double *log_norm,
                                  const int64_t *offsets, Py_ssize_t n_utt,
                                  Py_ssize_t top_c, double *ubm_sum, double *model_sum,
                                  int n_threads)


# Every extension links its own copy of the static kernel library, so this
# one registers scipy's BLAS too (as _kernels does), or its full/tied
# products would run as plain loops with other bits than fit's.
gms_set_blas(<void *>dgemm, <void *>sgemm, <void *>dsyrk)


def _prec_shape(int cov_type, Py_ssize_t k, Py_ssize_t d):
    return ((k, d, d), (d, d), (k, d), (k,))[cov_type]


def utterance_log_likelihoods(int cov_type, const double[:, ::1] X,
                              const double[:, ::1] ubm_means, ubm_prec,
                              const double[::1] ubm_log_norm, const double[:, :, ::1] means,
                              prec, const double[:, ::1] log_norm,
                              const int64_t[::1] offsets, Py_ssize_t top_c,
                              double[::1] ubm_sum, double[:, ::1] model_sum, int n_threads):
    """Per-utterance sums of frame log-likelihoods under the UBM (ubm_sum,
    n_utt) and the G models (model_sum, G x n_utt); top_c = 0: exact.
    prec: the precision factors, C-contiguous float64, (K, D, D) full,
    (D, D) tied, (K, D) diag, (K,) spherical; G copies for the models."""
    if cov_type < 0 or cov_type > 3:
        raise ValueError(f"unknown covariance type code {cov_type}")
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], k = ubm_means.shape[0]
    cdef Py_ssize_t g = means.shape[0], n_utt = offsets.shape[0] - 1
    want = _prec_shape(cov_type, k, d)
    if ubm_means.shape[1] != d or tuple(ubm_prec.shape) != want or ubm_log_norm.shape[0] != k:
        raise ValueError("UBM parameters do not match X and the covariance type")
    if means.shape[1] != k or means.shape[2] != d or tuple(prec.shape) != (g,) + want \
            or log_norm.shape[0] != g or log_norm.shape[1] != k:
        raise ValueError("model parameters do not match the UBM")
    if n_utt < 1 or ubm_sum.shape[0] != n_utt or model_sum.shape[0] != g \
            or model_sum.shape[1] != n_utt:
        raise ValueError("offsets and output shapes do not agree")
    if top_c < 0:
        raise ValueError("top_c must be >= 0")
    cdef const double[::1] up = ubm_prec.reshape(-1)
    cdef const double[::1] mp = prec.reshape(-1)
    if not (ubm_prec.flags.c_contiguous and prec.flags.c_contiguous):
        raise ValueError("precision factors must be C-contiguous")
    cdef const double *xp = &X[0, 0] if n > 0 else NULL
    cdef double dummy = 0.0
    if n == 0:
        xp = &dummy
    cdef int rc
    with nogil:
        rc = gms_topc_utterance_loglik(cov_type, xp, n, d, k, &ubm_means[0, 0], &up[0],
                                       &ubm_log_norm[0], g, &means[0, 0, 0], &mp[0],
                                       &log_norm[0, 0], &offsets[0], n_utt, top_c,
                                       &ubm_sum[0], &model_sum[0, 0], n_threads)
    if rc == GMS_ERR_NOMEM:
        raise MemoryError("utterance scoring could not allocate its work buffers")
    if rc == GMS_ERR_NONFINITE:
        raise ValueError("a frame has no finite log-likelihood under the UBM or an adapted "
                         "model (its squared Mahalanobis distance overflows); scale the "
                         "input data")
    if rc != GMS_OK:
        raise ValueError("utterance scoring: inconsistent arguments (offsets must run "
                         "from 0 to n_frames, non-decreasing)")


def estep_groups(int cov_type, const floating[:, ::1] X, const floating[:, ::1] means,
                 const floating[::1] prec_chol, const double[::1] log_norm,
                 const double[::1] sample_weight, const double[:, ::1] centres,
                 const int64_t[::1] offsets, double[:, ::1] out, int n_threads):
    """Per-group E-step statistics: row g of out (n_groups x leaf stride)
    gets the statistics of the rows offsets[g]:offsets[g + 1] about
    centres, as one E-step of those rows alone gives them (nk, s1, s2,
    log-likelihood, total weight). prec_chol: the flattened factors of the
    kernels' layout; sample_weight: None or one per row."""
    if cov_type < 0 or cov_type > 3:
        raise ValueError(f"unknown covariance type code {cov_type}")
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], k = means.shape[0]
    cdef Py_ssize_t g = offsets.shape[0] - 1
    cdef Py_ssize_t psize = ((k * d * d, d * d, k * d, k))[cov_type]
    if means.shape[1] != d or prec_chol.shape[0] != psize or log_norm.shape[0] != k:
        raise ValueError("UBM parameters do not match X and the covariance type")
    if centres.shape[0] != k or centres.shape[1] != d:
        raise ValueError("centres do not match the UBM")
    if g < 0 or out.shape[0] != g or \
            out.shape[1] != k + k * d + gms_s2_size(cov_type, k, d) + 2:
        raise ValueError("offsets and the output shape do not agree")
    cdef const double *w = NULL
    if sample_weight is not None:
        if sample_weight.shape[0] != n:
            raise ValueError("sample_weight must have one weight per row")
        if n > 0:
            w = &sample_weight[0]
    if g == 0:
        return
    cdef int rc
    cdef floating dummy = 0
    cdef const floating *xp = &X[0, 0] if n > 0 else &dummy
    with nogil:
        if floating is double:
            rc = gms_estep_groups_d(cov_type, xp, n, d, k, &means[0, 0], &prec_chol[0],
                                    &log_norm[0], w, &centres[0, 0], &offsets[0], g,
                                    &out[0, 0], n_threads)
        else:
            rc = gms_estep_groups_f(cov_type, xp, n, d, k, &means[0, 0], &prec_chol[0],
                                    &log_norm[0], w, &centres[0, 0], &offsets[0], g,
                                    &out[0, 0], n_threads)
    if rc == GMS_ERR_NOMEM:
        raise MemoryError("the per-group E-step could not allocate its work buffers")
    if rc == GMS_ERR_NONFINITE:
        raise ValueError("a frame has a non-finite log-likelihood under the UBM (its "
                         "squared Mahalanobis distance overflows); scale the input data, "
                         "or pass float64 data if it is float32")
    if rc != GMS_OK:
        raise ValueError("per-group E-step: inconsistent arguments (offsets must run from "
                         "0 to n_frames, non-decreasing)")
