"""What gmscore.plot computes before it draws, in numpy only (this module
never imports matplotlib): argument checks, a fitted mixture's or HMM's
Gaussians as full covariances, the 2-D projection (chosen features or
PCA), ellipse geometry, axis ranges, and the 2-D mixture log-density.
"""
import numpy as np

from ._core.covariance import COVARIANCE
from ._validation import check_array, check_is_fitted


def _feature_label(model, i):
    names = getattr(model, "feature_names_in_", None)
    return str(names[i]) if names is not None and i < len(names) else f"feature {i}"


def _check_dims(dims, n_features):
    ok = (isinstance(dims, (tuple, list, np.ndarray)) and len(dims) == 2
          and all(isinstance(i, (int, np.integer)) and not isinstance(i, bool) for i in dims))
    if not ok:
        raise ValueError(f"dims must be a pair of feature indices (i, j), got {dims!r}")
    i, j = int(dims[0]), int(dims[1])
    if not (0 <= i < n_features and 0 <= j < n_features) or i == j:
        raise ValueError(f"dims must be two different feature indices in [0, {n_features}), "
                         f"got {dims!r}")
    return i, j


def _check_sigmas(sigmas):
    s = np.atleast_1d(np.asarray(sigmas, dtype=float))
    if s.ndim != 1 or not np.all(np.isfinite(s)) or np.any(s <= 0):
        raise ValueError(f"sigmas must be positive numbers, got {sigmas!r}")
    return s


def _check_data(model, X, n_features):
    X = check_array(X, min_samples=1)
    if X.shape[1] != n_features:
        raise ValueError(f"X has {X.shape[1]} features, but the {type(model).__name__} has "
                         f"{n_features}")
    return X.astype(np.float64, copy=False)


def _subset(n, max_points):
    """Indices of at most max_points rows (all rows when fewer; a fixed
    random subset, in order, otherwise)."""
    if n <= max_points:
        return slice(None)
    return np.sort(np.random.RandomState(0).choice(n, max_points, replace=False))


def _mixture_parameters(model):
    """(weights (K,), means (K, D), full covariances (K, D, D)) of a fitted
    Gaussian mixture (gmscore's or scikit-learn's)."""
    ct = getattr(model, "covariance_type", None)
    if ct not in COVARIANCE or hasattr(model, "transmat_"):
        raise TypeError(f"{type(model).__name__} is not a Gaussian mixture (an HMM's states "
                        "are drawn by plot_emissions and plot_states)")
    check_is_fitted(model, ("weights_", "means_", "covariances_"))
    means = np.asarray(model.means_, dtype=np.float64)
    k, d = means.shape
    covs = COVARIANCE[ct].as_full(np.asarray(model.covariances_, dtype=np.float64), k, d)
    return np.asarray(model.weights_, dtype=np.float64), means, covs


def _projection(model, X, dims, projection, weights, means, covs):
    """(P of shape (2, D), centre (D,), axis labels): the plotted
    coordinates are (x - centre) @ P.T."""
    d = means.shape[1]
    if projection is None:
        i, j = _check_dims(dims, d)
        return np.eye(d)[[i, j]], np.zeros(d), (_feature_label(model, i),
                                                _feature_label(model, j))
    if projection != "pca":
        raise ValueError(f"projection must be None (use dims) or 'pca', got {projection!r}")
    if d < 2:
        raise ValueError("projection='pca' needs at least 2 features")
    if X is not None:
        centre = X.mean(axis=0)
        total = np.cov(X, rowvar=False, bias=True).reshape(d, d)
    else:   # the mixture's own mean and covariance
        centre = weights @ means
        diff = means - centre
        total = np.einsum("k,kij->ij", weights, covs) + (weights[:, None] * diff).T @ diff
    values, vectors = np.linalg.eigh(total)
    order = np.argsort(values)[::-1][:2]
    P = vectors[:, order].T
    # a fixed sign: the largest entry of each axis positive
    P *= np.sign(P[np.arange(2), np.abs(P).argmax(axis=1)])[:, None]
    share = values[order] / max(values.sum(), np.finfo(float).tiny)
    return P, centre, tuple(f"PC{n + 1} ({100 * s:.0f}% of variance)"
                            for n, s in enumerate(share))


def _ellipse_geometry(cov2):
    """Widths, heights (at one sigma) and angles (degrees) of the ellipses
    of 2 x 2 covariances, shape (..., 2, 2)."""
    values, vectors = np.linalg.eigh(cov2)           # ascending
    values = np.clip(values, 0.0, None)
    major = vectors[..., :, 1]
    angle = np.degrees(np.arctan2(major[..., 1], major[..., 0]))
    return 2 * np.sqrt(values[..., 1]), 2 * np.sqrt(values[..., 0]), angle

def _bounds(points, centres, cov2, margin=3.0):
    """Axis ranges that hold the points and every component's 3 sigma box."""
    sd = np.sqrt(np.diagonal(cov2, axis1=-2, axis2=-1))
    lo = (centres - margin * sd).min(axis=0)
    hi = (centres + margin * sd).max(axis=0)
    if points is not None and len(points):
        lo, hi = np.minimum(lo, points.min(axis=0)), np.maximum(hi, points.max(axis=0))
    pad = 0.05 * np.maximum(hi - lo, 1e-12)
    return lo - pad, hi + pad

def _log_density_2d(weights, means2, cov2, points):
    """log sum_k w_k N(p; m_k, C_k) at points (G, 2), for 2-D components."""
    a, b, c = cov2[:, 0, 0], cov2[:, 0, 1], cov2[:, 1, 1]
    det = a * c - b * b
    if np.any(det <= 0):
        raise ValueError("a projected covariance is singular: choose other dims or "
                         "raise reg_covar")
    dx = points[:, None, 0] - means2[None, :, 0]
    dy = points[:, None, 1] - means2[None, :, 1]
    quad = (c * dx * dx - 2 * b * dx * dy + a * dy * dy) / det
    with np.errstate(divide="ignore"):
        log_w = np.log(weights)
    terms = log_w - np.log(2 * np.pi) - 0.5 * np.log(det) - 0.5 * quad
    top = terms.max(axis=1, keepdims=True)
    return (top + np.log(np.exp(terms - top).sum(axis=1, keepdims=True)))[:, 0]

def _check_hmm(model):
    check_is_fitted(model, ("startprob_", "transmat_"))

def _emission_parameters(model):
    """(weights (K, M), means (K, M, D), full covariances (K, M, D, D)) of
    a GaussianHMM (M = 1) or a GMMHMM."""
    _check_hmm(model)
    if not hasattr(model, "means_") or not hasattr(model, "covars_"):
        raise TypeError(f"plot_emissions draws Gaussian emission densities; "
                        f"{type(model).__name__} has no means_ and covars_")
    means = np.asarray(model.means_, dtype=np.float64)
    cov = np.asarray(model.covars_, dtype=np.float64)
    if means.ndim == 2:           # GaussianHMM: covars_ is always (K, D, D)
        return np.ones((len(means), 1)), means[:, None], cov[:, None]
    k, m, d = means.shape
    ct = model.covariance_type
    if ct == "tied":              # one matrix per state, shared by its mixture
        cov = np.repeat(cov[:, None], m, axis=1)
    else:
        cov = COVARIANCE[ct].as_full(cov.reshape((k * m,) + cov.shape[2:]), k * m, d)
        cov = cov.reshape(k, m, d, d)
    return np.asarray(model.weights_, dtype=np.float64), means, cov
