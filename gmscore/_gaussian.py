"""Gaussian pieces per covariance type: M-step closed forms from the
kernels' sufficient statistics, precision Cholesky factors, log-determinants,
parameter counts and sampling.

Shapes (K components, D features), as in scikit-learn:

=========  ===============  ==============================================
type       covariances      precisions_cholesky (upper triangular U,
                            precision = U U^T)
=========  ===============  ==============================================
full       (K, D, D)        (K, D, D)
tied       (D, D)           (D, D)
diag       (K, D)           (K, D)
spherical  (K,)             (K,)
=========  ===============  ==============================================

All of this runs on K x D x D sized arrays, never on the samples.
"""
import numpy as np
from scipy import linalg

COV_TYPES = ("full", "tied", "diag", "spherical")
# The kernels' enum gms_cov_type uses these codes.
COV_CODE = {name: code for code, name in enumerate(COV_TYPES)}

# sklearn adds 10 * eps to every component's mass so that empty components
# do not divide by zero; we keep the same convention so fits agree.
NK_EPS = 10 * np.finfo(np.float64).eps

PRECISION_ERROR = (
    "Fitting the mixture model failed because some components have "
    "ill-defined empirical covariance (for instance caused by singleton "
    "or collapsed samples). Try to decrease the number of components, "
    "increase reg_covar, or scale the input data."
)


# ------------------------------------------------------------- M-step forms
# Statistics from the kernels, per component k with centre c_k:
#   n_k = sum_i r_ik,  s1_k = sum_i r_ik (x_i - c_k),
#   s2_k = sum_i r_ik (x_i - c_k)(x_i - c_k)^T (full, upper triangle) or its
#   diagonal (diag, spherical). Tied uses the pooled scatter of the data.
# The scatter about any other point m_k follows exactly (no cancellation
# against a large mean): with d = m_k - c_k,
#   sum r (x - m)(x - m)^T = s2 - d s1^T - s1 d^T + n_k d d^T.

def symmetric_from_upper(s2, k, d):
    """(K, D, D) symmetric matrices from the kernels' upper-triangle s2."""
    s2 = s2.reshape(k, d, d)
    return np.triu(s2) + np.transpose(np.triu(s2, 1), (0, 2, 1))


def full_scatter_about(means, nk, s1, s2, centres):
    """sum_i r_ik (x_i - m_k)(x_i - m_k)^T, shape (K, D, D)."""
    k, d = s1.shape
    dm = means - centres
    cross = dm[:, :, None] * s1[:, None, :]
    return (symmetric_from_upper(s2, k, d) - cross - np.transpose(cross, (0, 2, 1))
            + nk[:, None, None] * dm[:, :, None] * dm[:, None, :])


def diag_scatter_about(means, nk, s1, s2, centres):
    """sum_i r_ik (x_i - m_k)^2 per feature, shape (K, D)."""
    k, d = s1.shape
    dm = means - centres
    return s2.reshape(k, d) - 2.0 * dm * s1 + nk[:, None] * dm * dm


def pooled_scatter_about(means, nk, s1, centres, pooled):
    """sum_k sum_i r_ik (x_i - m_k)(x_i - m_k)^T, shape (D, D), from the
    data's scatter about its mean g (``pooled = (scatter, g)``); valid when
    every sample's responsibilities sum to its weight:
    = scatter - sum_k (e_k a_k^T + a_k e_k^T) + sum_k n_k e_k e_k^T with
    a_k = sum_i r_ik (x_i - g) and e_k = m_k - g."""
    scatter, g = pooled
    a = s1 + nk[:, None] * (centres - g)
    e = means - g
    cross = e.T @ a
    return scatter - cross - cross.T + (e * nk[:, None]).T @ e


def means_from_stats(nk_raw, s1, centres):
    """(n_k with the 10*eps guard, means) from the kernels' statistics."""
    nk = nk_raw + NK_EPS
    return nk, centres + s1 / nk[:, None]


def _covariances_full(nk_raw, s1, s2, centres, reg_covar, pooled=None):
    nk, means = means_from_stats(nk_raw, s1, centres)
    cov = full_scatter_about(means, nk_raw, s1, s2, centres) / nk[:, None, None]
    d = s1.shape[1]
    cov[:, np.arange(d), np.arange(d)] += reg_covar
    return nk, means, cov


def _covariances_tied(nk_raw, s1, s2, centres, reg_covar, pooled=None):
    nk, means = means_from_stats(nk_raw, s1, centres)
    cov = pooled_scatter_about(means, nk_raw, s1, centres, pooled) / nk.sum()
    cov.flat[:: s1.shape[1] + 1] += reg_covar
    return nk, means, cov


def _covariances_diag(nk_raw, s1, s2, centres, reg_covar, pooled=None):
    nk, means = means_from_stats(nk_raw, s1, centres)
    cov = diag_scatter_about(means, nk_raw, s1, s2, centres) / nk[:, None] + reg_covar
    return nk, means, cov


def _covariances_spherical(nk_raw, s1, s2, centres, reg_covar, pooled=None):
    nk, means, cov = _covariances_diag(nk_raw, s1, s2, centres, reg_covar)
    return nk, means, cov.mean(axis=1)


PARAMETERS_FROM_STATS = {
    "full": _covariances_full,
    "tied": _covariances_tied,
    "diag": _covariances_diag,
    "spherical": _covariances_spherical,
}


# ---------------------------------------------------- precision factors
def _upper_factor_of_covariance(cov):
    """U upper triangular with U U^T = inv(cov), from the Cholesky of cov."""
    try:
        cov_chol = linalg.cholesky(cov, lower=True, check_finite=False)
    except linalg.LinAlgError:
        raise ValueError(PRECISION_ERROR) from None
    d = cov.shape[0]
    return linalg.solve_triangular(cov_chol, np.eye(d), lower=True, check_finite=False).T


def _prec_chol_full(cov):
    if not np.isfinite(cov).all():
        raise ValueError(PRECISION_ERROR)
    return np.stack([_upper_factor_of_covariance(c) for c in cov])


def _prec_chol_tied(cov):
    if not np.isfinite(cov).all():
        raise ValueError(PRECISION_ERROR)
    return _upper_factor_of_covariance(cov)


def _prec_chol_vector(cov):
    if not (np.isfinite(cov).all() and (cov > 0).all()):
        raise ValueError(PRECISION_ERROR)
    return 1.0 / np.sqrt(cov)


PRECISION_CHOLESKY = {
    "full": _prec_chol_full,
    "tied": _prec_chol_tied,
    "diag": _prec_chol_vector,
    "spherical": _prec_chol_vector,
}


def _flip(a):
    return a[..., ::-1, ::-1]


def _upper_factor_of_precision(prec):
    """U upper triangular with U U^T = prec: Cholesky of the reversed matrix,
    reversed back (J prec J = L L^T  =>  prec = (J L J)(J L J)^T)."""
    return _flip(linalg.cholesky(_flip(prec), lower=True, check_finite=False)).copy()


def precision_cholesky_from_precisions(precisions, covariance_type):
    if covariance_type == "full":
        return np.stack([_upper_factor_of_precision(p) for p in precisions])
    if covariance_type == "tied":
        return _upper_factor_of_precision(precisions)
    return np.sqrt(precisions)


def precisions_from_cholesky(prec_chol, covariance_type):
    if covariance_type == "full":
        return np.einsum("kij,klj->kil", prec_chol, prec_chol)
    if covariance_type == "tied":
        return prec_chol @ prec_chol.T
    return prec_chol**2


def covariances_from_cholesky(prec_chol, covariance_type):
    """Covariances implied by precision factors (inverse of U U^T)."""
    if covariance_type in ("diag", "spherical"):
        return 1.0 / prec_chol**2

    def inv(u):
        u_inv = linalg.solve_triangular(u, np.eye(u.shape[0]), lower=False, check_finite=False)
        return u_inv.T @ u_inv

    if covariance_type == "tied":
        return inv(prec_chol)
    return np.stack([inv(u) for u in prec_chol])


def log_det_cholesky(prec_chol, covariance_type, n_features):
    """log det(U) per component (a scalar for tied)."""
    if covariance_type == "full":
        return np.log(np.diagonal(prec_chol, axis1=1, axis2=2)).sum(axis=1)
    if covariance_type == "tied":
        return float(np.log(np.diag(prec_chol)).sum())
    if covariance_type == "diag":
        return np.log(prec_chol).sum(axis=1)
    return n_features * np.log(prec_chol)


def n_covariance_parameters(covariance_type, n_components, n_features):
    return {
        "full": n_components * n_features * (n_features + 1) / 2.0,
        "tied": n_features * (n_features + 1) / 2.0,
        "diag": n_components * n_features,
        "spherical": n_components,
    }[covariance_type]


# ----------------------------------------------------------------- checks
def _as_float_array(value, name):
    try:
        return np.array(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"The parameter {name!r} must contain only numbers ({exc})") from None


def check_weights(weights, n_components):
    w = _as_float_array(weights, "weights")
    if w.shape != (n_components,):
        raise ValueError(
            f"The parameter 'weights' should have the shape of ({n_components},), "
            f"but got {w.shape}"
        )
    if not np.isfinite(w).all():
        raise ValueError("The parameter 'weights' contains NaN or infinity")
    if (w < 0).any() or (w > 1).any():
        raise ValueError(
            "The parameter 'weights' should be in the range [0, 1], but got "
            f"max value {np.nanmax(w):.5f}, min value {np.nanmin(w):.5f}"
        )
    if not abs(1.0 - w.sum()) <= 1e-8:
        raise ValueError(
            f"The parameter 'weights' should be normalized, but got sum(weights) = {w.sum():.5f}"
        )
    return w


def check_means(means, n_components, n_features):
    m = _as_float_array(means, "means")
    if m.shape != (n_components, n_features):
        raise ValueError(
            f"The parameter 'means' should have the shape of ({n_components}, "
            f"{n_features}), but got {m.shape}"
        )
    if not np.isfinite(m).all():
        raise ValueError("The parameter 'means' contains NaN or infinity")
    return m


def check_precisions(precisions, covariance_type, n_components, n_features):
    shape = {
        "full": (n_components, n_features, n_features),
        "tied": (n_features, n_features),
        "diag": (n_components, n_features),
        "spherical": (n_components,),
    }[covariance_type]
    p = _as_float_array(precisions, f"{covariance_type} precision")
    if p.shape != shape:
        raise ValueError(
            f"The parameter '{covariance_type} precision' should have the shape of "
            f"{shape}, but got {p.shape}"
        )
    if not np.isfinite(p).all():
        raise ValueError(f"The parameter '{covariance_type} precision' contains NaN or infinity")
    if covariance_type in ("diag", "spherical"):
        if (p <= 0).any():
            raise ValueError(f"'{covariance_type} precision' should be positive")
        return p
    mats = p if covariance_type == "full" else p[None]
    for m in mats:
        if not (np.allclose(m, m.T) and (np.linalg.eigvalsh(m) > 0).all()):
            raise ValueError(
                f"'{covariance_type} precision' should be symmetric, positive-definite"
            )
    return p


# ---------------------------------------------------------------- sampling
def sample_component(rng, mean, covariances, covariance_type, k, n):
    """n draws from component k."""
    d = mean.shape[0]
    if covariance_type == "full":
        return rng.multivariate_normal(mean, covariances[k], n)
    if covariance_type == "tied":
        return rng.multivariate_normal(mean, covariances, n)
    return mean + rng.standard_normal(size=(n, d)) * np.sqrt(covariances[k])
