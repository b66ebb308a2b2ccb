"""Gaussian pieces per covariance type: the M-step closed forms from the
kernels' sufficient statistics, and the checks of user-given initial
parameters.

Shapes, precision factors, log-determinants, parameter counts, the
positive-definiteness test and sampling live in the covariance-type table,
``gmscore._core.covariance``; the names below that wrap it are kept for the
modules that still import them from here.

All of this runs on K x D x D sized arrays, never on the samples.
"""
import numpy as np

from ._core.covariance import COV_TYPES, COVARIANCE, PRECISION_ERROR  # noqa: F401 (re-exported)

# The kernels' enum gms_cov_type uses these codes.
COV_CODE = {name: entry.code for name, entry in COVARIANCE.items()}

# sklearn adds 10 * eps to every component's mass so that empty components
# do not divide by zero; we keep the same convention so fits agree.
NK_EPS = 10 * np.finfo(np.float64).eps


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
# Thin aliases over the covariance-type table, for the modules that still
# call them by these names (mixture.py, _emissions.py). The dict stays a
# plain, patchable dict of the table's methods.
PRECISION_CHOLESKY = {name: entry.precision_cholesky for name, entry in COVARIANCE.items()}


def precision_cholesky_from_precisions(precisions, covariance_type):
    return COVARIANCE[covariance_type].precision_cholesky_from_precisions(precisions)


def precisions_from_cholesky(prec_chol, covariance_type):
    return COVARIANCE[covariance_type].precisions_from_cholesky(prec_chol)


def covariances_from_cholesky(prec_chol, covariance_type):
    """Covariances implied by precision factors (inverse of U U^T)."""
    return COVARIANCE[covariance_type].covariances_from_cholesky(prec_chol)


def log_det_cholesky(prec_chol, covariance_type, n_features):
    """log det(U) per component (a scalar for tied)."""
    return COVARIANCE[covariance_type].log_det_cholesky(prec_chol, n_features)


def n_covariance_parameters(covariance_type, n_components, n_features):
    return COVARIANCE[covariance_type].n_parameters(n_components, n_features)


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
    entry = COVARIANCE[covariance_type]
    shape = entry.shape(n_components, n_features)
    p = _as_float_array(precisions, f"{covariance_type} precision")
    if p.shape != shape:
        raise ValueError(
            f"The parameter '{covariance_type} precision' should have the shape of "
            f"{shape}, but got {p.shape}"
        )
    if not np.isfinite(p).all():
        raise ValueError(f"The parameter '{covariance_type} precision' contains NaN or infinity")
    if covariance_type in ("diag", "spherical"):
        if not entry.is_positive_definite(p).all():
            raise ValueError(f"'{covariance_type} precision' should be positive")
        return p
    # The table's Cholesky test reads one triangle only, so symmetry is
    # checked on its own.
    mats = p.reshape((-1, n_features, n_features))
    if not (all(np.allclose(m, m.T) for m in mats) and entry.is_positive_definite(p).all()):
        raise ValueError(
            f"'{covariance_type} precision' should be symmetric, positive-definite"
        )
    return p


# ---------------------------------------------------------------- sampling
def sample_component(rng, mean, covariances, covariance_type, k, n):
    """n draws from component k."""
    return COVARIANCE[covariance_type].sample(rng, mean, covariances, k, n)
