"""Marginals and conditionals of a fitted GaussianMixture (mixture
regression): ``GaussianMixture.marginal(indices)`` and
``GaussianMixture.condition(indices, values)``.

For a mixture sum_j w_j N(mu_j, S_j) over features split into the given
block A (``indices``) and the rest B:

- the marginal over A is sum_j w_j N(mu_jA, S_jAA) (same covariance type);
- the conditional given x_A = a is sum_j w_j(a) N(m_j(a), C_j) with
  w_j(a) proportional to w_j N(a; mu_jA, S_jAA),
  m_j(a) = mu_jB + R_j (a - mu_jA), R_j = S_jBA S_jAA^-1, and
  C_j = S_jBB - R_j S_jAB (which does not depend on a).

Everything per component (K matrices of size D) is numpy here; everything
per row runs in the compiled kernel (gmscore/_conditionc.pyx), threads
over rows.
"""
from dataclasses import dataclass

import numpy as np
from scipy import linalg

from ._core.covariance import COVARIANCE
from ._threads import effective_n_threads
from ._validation import check_is_fitted

_LOG_2PI = np.log(2.0 * np.pi)


@dataclass(frozen=True)
class ConditionalMixture:
    """Per-row conditional mixtures p(x_B | x_A = a) for a batch of rows a.

    weights : (n_rows, K) component weights of each row's conditional;
    means : (n_rows, K, len(B)) component means of each row's conditional;
    covariances : the component covariances over B, in the model's
        covariance type's shape ((K, B, B) full, (B, B) tied, (K, B) diag,
        (K,) spherical): a Gaussian's conditional covariance does not depend
        on the conditioning values, so it is the same for every row;
    indices : the features B, in order.
    """

    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray
    indices: np.ndarray

    def mean(self):
        """The mean of each row's conditional mixture, (n_rows, len(B))."""
        return np.einsum("nk,nkd->nd", self.weights, self.means)


def check_indices(indices, n_features, what="indices"):
    """A 1-D array of distinct feature indices in [0, n_features)."""
    idx = np.asarray(indices)
    if idx.ndim == 0:
        idx = idx.reshape(1)
    if idx.ndim != 1 or idx.size == 0:
        raise ValueError(f"{what} must be a non-empty 1-D sequence of feature indices, got "
                         f"shape {np.shape(indices)}")
    if not np.issubdtype(idx.dtype, np.integer) or idx.dtype == np.bool_:
        raise TypeError(f"{what} must hold integers (feature indices), got dtype {idx.dtype}")
    if idx.min() < 0 or idx.max() >= n_features:
        raise ValueError(f"{what} {idx.tolist()} out of range: the model has {n_features} "
                         f"features, so indices go from 0 to {n_features - 1}")
    if np.unique(idx).size != idx.size:
        raise ValueError(f"{what} {idx.tolist()} holds duplicates; give each feature once")
    return idx.astype(np.intp)


def _sub_covariances(ct, cov, rows, cols):
    """The (rows, cols) block of every component's covariance, in the
    type's own shape (diag/spherical: only rows == cols makes sense)."""
    if ct == "full":
        return cov[:, rows][:, :, cols]
    if ct == "tied":
        return cov[rows][:, cols]
    if ct == "diag":
        return cov[:, rows]
    return cov.copy()


def _fitted_from(gm, weights, means, covariances, names):
    """A fitted GaussianMixture with gm's hyper-parameters (initial values
    dropped: their shapes are gm's) and the given parameters."""
    from .mixture import GaussianMixture

    params = gm.get_params()
    params.update(weights_init=None, means_init=None, precisions_init=None)
    out = GaussianMixture(**params)
    entry = COVARIANCE[gm.covariance_type]
    out.weights_ = np.asarray(weights, dtype=np.float64)
    out.means_ = np.ascontiguousarray(means, dtype=np.float64)
    out.covariances_ = np.ascontiguousarray(covariances, dtype=np.float64)
    out.precisions_cholesky_ = entry.precision_cholesky(out.covariances_)
    out.precisions_ = entry.precisions_from_cholesky(out.precisions_cholesky_)
    for name in ("converged_", "n_iter_"):
        if hasattr(gm, name):
            setattr(out, name, getattr(gm, name))
    out.n_features_in_ = out.means_.shape[1]
    if names is not None:
        out.feature_names_in_ = names
    return out


def _names(gm, idx):
    names = getattr(gm, "feature_names_in_", None)
    return None if names is None else np.asarray(names, dtype=object)[idx]


def marginal(gm, indices):
    """The mixture over the features ``indices`` (in that order): a fitted
    GaussianMixture of the same covariance type."""
    check_is_fitted(gm, ("means_", "covariances_"))
    gm._check_parameters()
    idx = check_indices(indices, gm.means_.shape[1])
    cov = _sub_covariances(gm.covariance_type, np.asarray(gm.covariances_), idx, idx)
    return _fitted_from(gm, gm.weights_, gm.means_[:, idx], cov, _names(gm, idx))


def conditional_parts(gm, given):
    """What the row kernel needs, per component, for conditioning on the
    features ``given``: (rest, mu_a, prec_u, log_norm, reg, mu_b, cond_cov
    as (K, B, B), cond_cov in the type's shape)."""
    ct = gm.covariance_type
    k, d = gm.means_.shape
    rest = np.setdiff1d(np.arange(d), given)
    if rest.size == 0:
        raise ValueError(f"indices {given.tolist()} name every feature of the model; leave "
                         "at least one feature to predict")
    full = COVARIANCE[ct].as_full(np.asarray(gm.covariances_, dtype=np.float64), k, d)
    s_aa = full[:, given][:, :, given]
    s_ba = full[:, rest][:, :, given]
    s_bb = full[:, rest][:, :, rest]
    da = given.size
    prec_u = np.empty((k, da, da))
    reg = np.empty((k, rest.size, da))
    log_det = np.empty(k)
    for j in range(k):   # per component (K small matrices), never per row
        try:
            low = linalg.cholesky(s_aa[j], lower=True, check_finite=False)
        except linalg.LinAlgError:
            raise ValueError(f"component {j}'s covariance over the conditioning features "
                             "is not positive definite; refit with a larger reg_covar") \
                from None
        # U = L^-T: (a - mu) U has the squared norm (a - mu)^T S^-1 (a - mu)
        prec_u[j] = linalg.solve_triangular(low, np.eye(da), lower=True,
                                            check_finite=False).T
        log_det[j] = -np.log(np.diag(low)).sum()
        # R = S_BA S_AA^-1, from the Cholesky factor of S_AA
        reg[j] = linalg.cho_solve((low, True), s_ba[j].T, check_finite=False).T
    cond_full = s_bb - np.einsum("kbi,kci->kbc", reg, s_ba)
    cond_full = 0.5 * (cond_full + np.swapaxes(cond_full, 1, 2))   # symmetric to rounding
    with np.errstate(divide="ignore"):
        log_norm = np.log(np.asarray(gm.weights_, dtype=np.float64)) + log_det \
            - 0.5 * da * _LOG_2PI
    if ct == "full":
        cond_cov = cond_full
    elif ct == "tied":
        cond_cov = cond_full[0]
    elif ct == "diag":
        cond_cov = np.asarray(gm.covariances_, dtype=np.float64)[:, rest]
    else:
        cond_cov = np.asarray(gm.covariances_, dtype=np.float64).copy()
    mu = np.asarray(gm.means_, dtype=np.float64)
    return (rest, np.ascontiguousarray(mu[:, given]), np.ascontiguousarray(prec_u), log_norm,
            np.ascontiguousarray(reg), np.ascontiguousarray(mu[:, rest]), cond_full, cond_cov)


def check_values(values, n_given):
    v = np.asarray(values)
    if v.dtype == object or not (np.issubdtype(v.dtype, np.number) or v.dtype == np.bool_):
        raise TypeError(f"values must be numbers, got dtype {v.dtype}")
    v = v.astype(np.float64)
    if v.ndim not in (1, 2) or v.shape[-1] != n_given:
        raise ValueError(f"values must have shape ({n_given},) for one row or (n_rows, "
                         f"{n_given}) for a batch (one value per index), got {v.shape}")
    if not np.isfinite(v).all():
        raise ValueError("values contain NaN or infinity; condition on finite values only")
    return v


def condition_rows(gm, parts, V, resp=False, means=False, mean=False, var=False):
    """Run the row kernel over V (n, len(given)); returns the requested
    arrays in the order resp, means, mean, var."""
    from . import _conditionc

    rest, mu_a, prec_u, log_norm, reg, mu_b, cond_full, _ = parts
    n, k, dr = V.shape[0], mu_a.shape[0], rest.size
    out = dict(resp=np.empty((n, k)) if resp else None,
               means=np.empty((n, k, dr)) if means else None,
               mean=np.empty((n, dr)) if mean else None,
               var=np.empty((n, dr)) if var else None)
    cond_var = np.ascontiguousarray(np.diagonal(cond_full, axis1=1, axis2=2))
    threads = effective_n_threads(gm.n_threads, n * k * (mu_a.shape[1] + dr) ** 2)
    try:
        _conditionc.condition_rows(np.ascontiguousarray(V), mu_a, prec_u, log_norm, reg,
                                   mu_b, cond_var, out["resp"], out["means"], out["mean"],
                                   out["var"], threads)
    except _conditionc.NonFiniteRowError as exc:
        raise ValueError(f"row {exc.row} of the conditioning values has no finite "
                         "likelihood under the model's marginal (it is too far from every "
                         "component); scale the data or condition on closer values") from None
    return tuple(out[name] for name, wanted in
                 (("resp", resp), ("means", means), ("mean", mean), ("var", var)) if wanted)


def condition(gm, indices, values):
    """The mixture of the other features given x[indices] = values.

    For one row of values (shape (len(indices),)) a fitted GaussianMixture
    over the remaining features (in increasing order), of the same
    covariance type; for a batch (n_rows, len(indices)) a
    ConditionalMixture with per-row weights and means.
    """
    check_is_fitted(gm, ("means_", "covariances_"))
    gm._check_parameters()
    given = check_indices(indices, gm.means_.shape[1])
    V = check_values(values, given.size)
    parts = conditional_parts(gm, given)
    rest, cond_cov = parts[0], parts[7]
    if V.ndim == 1:
        weights, means = condition_rows(gm, parts, V[None], resp=True, means=True)
        return _fitted_from(gm, weights[0], means[0], cond_cov, _names(gm, rest))
    weights, means = condition_rows(gm, parts, V, resp=True, means=True)
    return ConditionalMixture(weights, means, cond_cov, rest)
