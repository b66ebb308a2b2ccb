"""The covariance-type table: everything that differs between 'full',
'tied', 'diag' and 'spherical' apart from the M-step closed forms.

One entry per type, ``COVARIANCE[name]``, with the same methods. Shapes
(K components, D features), as in scikit-learn, for the covariances, the
precisions and the precision factors alike:

=========  ===========  ==============================================
type       shape        precision factor U (upper triangular,
                        precision = U U^T)
=========  ===========  ==============================================
full       (K, D, D)    one D x D triangle per component
tied       (D, D)       one triangle shared by all components
diag       (K, D)       1 / sqrt(variance) per feature
spherical  (K,)         1 / sqrt(variance), the same for every feature
=========  ===========  ==============================================

Everything here is numpy/scipy on K x D x D sized arrays, never on the
samples, and each method does the same operations in the same order as the
code it replaced, so the numbers are bitwise unchanged.
"""
import numpy as np
from scipy import linalg


def aligned(arr, dtype=None):
    """C-contiguous and aligned, as the kernels read them (a copy only when
    needed; see gmscore._validation.aligned)."""
    return np.require(arr, dtype=dtype, requirements=["C_CONTIGUOUS", "ALIGNED"])

PRECISION_ERROR = (
    "Fitting the mixture model failed because some components have "
    "ill-defined empirical covariance (for instance caused by singleton "
    "or collapsed samples). Try to decrease the number of components, "
    "increase reg_covar, or scale the input data."
)


# ------------------------------------------------------- matrix helpers
def _cholesky_succeeds(m):
    """Positive definiteness as the precision factors see it: a Cholesky
    factorisation succeeds (it reads the lower triangle only). Not
    eigvalsh: its absolute error, about eps times the largest eigenvalue,
    calls a positive definite matrix indefinite when the feature scales
    span ~1e8, whereas Cholesky's error is relative to each diagonal."""
    if not np.isfinite(m).all():
        return False
    try:
        linalg.cholesky(m, lower=True, check_finite=False)
    except (linalg.LinAlgError, ValueError):
        return False
    return True


def _matrices_positive_definite(arr):
    """Bool array of shape arr.shape[:-2]: one verdict per D x D matrix."""
    arr = np.asarray(arr, dtype=np.float64)
    mats = arr.reshape((-1,) + arr.shape[-2:])
    return np.array([_cholesky_succeeds(m) for m in mats], dtype=bool).reshape(arr.shape[:-2])


def _upper_factor_of_covariance(cov):
    """U upper triangular with U U^T = inv(cov), from the Cholesky of cov:
    cov = L L^T  =>  inv(cov) = L^-T L^-1 = U U^T with U = L^-T."""
    try:
        cov_chol = linalg.cholesky(cov, lower=True, check_finite=False)
    except linalg.LinAlgError:
        raise ValueError(PRECISION_ERROR) from None
    d = cov.shape[0]
    return linalg.solve_triangular(cov_chol, np.eye(d), lower=True, check_finite=False).T


def _flip(a):
    return a[..., ::-1, ::-1]


def _upper_factor_of_precision(prec):
    """U upper triangular with U U^T = prec: Cholesky of the reversed matrix,
    reversed back (J prec J = L L^T  =>  prec = (J L J)(J L J)^T)."""
    return _flip(linalg.cholesky(_flip(prec), lower=True, check_finite=False)).copy()


def _inverse_of_factor(u):
    """inv(U U^T) = U^-T U^-1."""
    u_inv = linalg.solve_triangular(u, np.eye(u.shape[0]), lower=False, check_finite=False)
    return u_inv.T @ u_inv


# ---------------------------------------------------------- the entries
class CovarianceType:
    """One covariance type. Every entry has:

    ``name``, ``code`` (the kernels' type code);
    ``shape(k, d)`` of the covariances, precisions and precision factors;
    ``n_parameters(k, d)``, free covariance parameters only;
    ``is_positive_definite(arr)``, a bool per component (0-d for tied);
    ``precision_cholesky(cov)`` (ValueError(PRECISION_ERROR) when a
    covariance is not positive definite or not finite),
    ``precision_cholesky_from_precisions(prec)``,
    ``precisions_from_cholesky(u)``, ``covariances_from_cholesky(u)``;
    ``log_det_cholesky(u, d)``, log det U per component (a float for tied);
    ``kernel_factor(u, dtype)`` and ``kernel_arguments(means, u, dtype)``,
    the packing the kernels read;
    ``sample(rng, mean, covariances, k, n)``, n draws from component k;
    ``as_full(cov, k, d)``, the covariances as (K, D, D) matrices.

    Subclasses fill in the per-type maths; the packing is the same for all.
    """

    name = None
    code = None  # the kernels' enum gms_cov_type

    def __repr__(self):
        return f"<covariance type {self.name!r} (kernel code {self.code})>"

    def kernel_factor(self, prec_chol, dtype):
        """The precision factors as the kernels read them: flat,
        C-contiguous, in ``dtype`` (the data's)."""
        return aligned(prec_chol, dtype).ravel()

    def kernel_arguments(self, means, prec_chol, dtype):
        """(means (K, D), flat precision factors), C-contiguous in ``dtype``."""
        return aligned(means, dtype), self.kernel_factor(prec_chol, dtype)


class _Full(CovarianceType):
    name, code = "full", 0

    def shape(self, k, d):
        return (k, d, d)

    def n_parameters(self, k, d):
        return k * d * (d + 1) // 2

    def is_positive_definite(self, arr):
        return _matrices_positive_definite(arr)

    def precision_cholesky(self, cov):
        if not np.isfinite(cov).all():
            raise ValueError(PRECISION_ERROR)
        return np.stack([_upper_factor_of_covariance(c) for c in cov])

    def precision_cholesky_from_precisions(self, precisions):
        return np.stack([_upper_factor_of_precision(p) for p in precisions])

    def precisions_from_cholesky(self, prec_chol):
        return np.einsum("kij,klj->kil", prec_chol, prec_chol)

    def covariances_from_cholesky(self, prec_chol):
        return np.stack([_inverse_of_factor(u) for u in prec_chol])

    def log_det_cholesky(self, prec_chol, d):
        """log det(U) per component, shape (K,)."""
        return np.log(np.diagonal(prec_chol, axis1=1, axis2=2)).sum(axis=1)

    def sample(self, rng, mean, covariances, k, n):
        return rng.multivariate_normal(mean, covariances[k], n)

    def as_full(self, cov, k, d):
        return np.asarray(cov)


class _Tied(CovarianceType):
    name, code = "tied", 1

    def shape(self, k, d):
        return (d, d)

    def n_parameters(self, k, d):
        return d * (d + 1) // 2

    def is_positive_definite(self, arr):
        """A 0-d bool array: the verdict on the shared matrix."""
        return _matrices_positive_definite(arr)

    def precision_cholesky(self, cov):
        if not np.isfinite(cov).all():
            raise ValueError(PRECISION_ERROR)
        return _upper_factor_of_covariance(cov)

    def precision_cholesky_from_precisions(self, precisions):
        return _upper_factor_of_precision(precisions)

    def precisions_from_cholesky(self, prec_chol):
        return prec_chol @ prec_chol.T

    def covariances_from_cholesky(self, prec_chol):
        return _inverse_of_factor(prec_chol)

    def log_det_cholesky(self, prec_chol, d):
        """log det(U) of the shared factor, a Python float."""
        return float(np.log(np.diag(prec_chol)).sum())

    def sample(self, rng, mean, covariances, k, n):
        return rng.multivariate_normal(mean, covariances, n)

    def as_full(self, cov, k, d):
        return np.tile(cov, (k, 1, 1))


class _Vector(CovarianceType):
    """diag and spherical: variances, factors 1 / sqrt(variance)."""

    def _positive_entries(self, arr):
        arr = np.asarray(arr, dtype=np.float64)
        return np.isfinite(arr) & (arr > 0)

    def precision_cholesky(self, cov):
        if not (np.isfinite(cov).all() and (cov > 0).all()):
            raise ValueError(PRECISION_ERROR)
        return 1.0 / np.sqrt(cov)

    def precision_cholesky_from_precisions(self, precisions):
        return np.sqrt(precisions)

    def precisions_from_cholesky(self, prec_chol):
        return prec_chol**2

    def covariances_from_cholesky(self, prec_chol):
        return 1.0 / prec_chol**2

    def sample(self, rng, mean, covariances, k, n):
        d = mean.shape[0]
        return mean + rng.standard_normal(size=(n, d)) * np.sqrt(covariances[k])


class _Diag(_Vector):
    name, code = "diag", 2

    def shape(self, k, d):
        return (k, d)

    def n_parameters(self, k, d):
        return k * d

    def is_positive_definite(self, arr):
        """Per component: every variance finite and > 0."""
        return self._positive_entries(arr).all(axis=-1)

    def log_det_cholesky(self, prec_chol, d):
        return np.log(prec_chol).sum(axis=1)

    def as_full(self, cov, k, d):
        return np.stack([np.diag(c) for c in cov])


class _Spherical(_Vector):
    name, code = "spherical", 3

    def shape(self, k, d):
        return (k,)

    def n_parameters(self, k, d):
        return k

    def is_positive_definite(self, arr):
        return self._positive_entries(arr)

    def log_det_cholesky(self, prec_chol, d):
        # U = u I in D dimensions: log det U = D log u
        return d * np.log(prec_chol)

    def as_full(self, cov, k, d):
        return np.ravel(cov)[:, None, None] * np.eye(d)[None]


COVARIANCE = {entry.name: entry for entry in (_Full(), _Tied(), _Diag(), _Spherical())}
# In the kernels' code order (full 0, tied 1, diag 2, spherical 3).
COV_TYPES = tuple(sorted(COVARIANCE, key=lambda name: COVARIANCE[name].code))
