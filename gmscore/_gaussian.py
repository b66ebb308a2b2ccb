"""Checks of a GaussianMixture's user-given initial parameters
(weights_init, means_init, precisions_init), with scikit-learn's messages.

Everything that differs between covariance types lives in the table,
``gmscore._core.covariance``; the M-step is ``gmscore._core.gaussian_mstep``.
"""
import numpy as np

from ._core.covariance import COV_TYPES, COVARIANCE  # noqa: F401 (COV_TYPES re-exported)

# The kernels' enum gms_cov_type uses these codes.
COV_CODE = {name: entry.code for name, entry in COVARIANCE.items()}

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
    # normalised as scikit-learn checks it: the sum in the input's own
    # precision (float32 weights that sum to one in float32 are accepted)
    own = np.asarray(weights)
    total = (own.astype(np.float32).sum() if own.dtype == np.float32 else w.sum())
    if not abs(1.0 - float(total)) <= 1e-8:
        raise ValueError(
            f"The parameter 'weights' should be normalized, but got sum(weights) = {total:.5f}"
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
