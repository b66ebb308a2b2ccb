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

Everything per component (K matrices of size D) is numpy here. Per row,
the conditional mixture's mean and variance (what prediction needs) come
from one fused compiled pass (gmscore._conditionc, src_c/gms_condition.c:
per block of rows the marginal's log-densities by the E-step's block code,
the responsibilities, the component means and the moments, no n x K
array); the per-component weights and means themselves (condition,
sampling) from the marginal's predict_proba and one BLAS matrix product per
chunk of rows.
"""
from dataclasses import dataclass

import numpy as np
from ._core.covariance import COVARIANCE
from ._validation import check_is_fitted


@dataclass(frozen=True)
class ConditionalMixture:
    """Per-row conditional mixtures p(x_B | x_A = a) for a batch of rows a.

    Attributes
    ----------
    weights : ndarray of shape (n_rows, K)
        Component weights of each row's conditional.
    means : ndarray of shape (n_rows, K, len(B))
        Component means of each row's conditional.
    covariances : ndarray
        The component covariances over B, in the model's covariance type's
        shape ((K, B, B) full, (B, B) tied, (K, B) diag, (K,) spherical): a
        Gaussian's conditional covariance does not depend on the
        conditioning values, so it is the same for every row.
    indices : ndarray
        The features B, in order.
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


def _positive_definite(m):
    try:
        np.linalg.cholesky(m)
    except np.linalg.LinAlgError:
        return False
    return True


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


@dataclass(frozen=True)
class ConditionalParts:
    """Per component, what conditioning on the features ``given`` needs:
    rest (the other features), marginal (the mixture over ``given``), reg
    (K, B, A) = S_BA S_AA^-1, offset (K, B) = mu_B - reg mu_A (so that
    m_j(a) = reg_j a + offset_j), cond_full (K, B, B) the conditional
    covariances and cond_cov the same in the model's type's shape."""

    given: np.ndarray
    rest: np.ndarray
    marginal: object
    reg: np.ndarray
    offset: np.ndarray
    cond_full: np.ndarray
    cond_cov: np.ndarray


def conditional_parts(gm, given):
    """The ConditionalParts of gm for the features ``given``."""
    from ._threads import single_threaded_blas

    # K small factorisations: threaded BLAS only adds its start-up (and,
    # on a busy machine, spinning threads that cost far more than the work)
    with single_threaded_blas():
        return _conditional_parts(gm, given)


def _conditional_parts(gm, given):
    ct = gm.covariance_type
    k, d = gm.means_.shape
    rest = np.setdiff1d(np.arange(d), given)
    if rest.size == 0:
        raise ValueError(f"indices {given.tolist()} name every feature of the model; leave "
                         "at least one feature to predict")
    cov = np.asarray(gm.covariances_, dtype=np.float64)
    full = COVARIANCE[ct].as_full(cov, k, d)
    s_aa = full[:, given][:, :, given]
    s_ba = full[:, rest][:, :, given]
    s_bb = full[:, rest][:, :, rest]
    try:   # one batched factorisation for all components (K small matrices)
        np.linalg.cholesky(s_aa)
    except np.linalg.LinAlgError:
        bad = next(j for j in range(k) if not _positive_definite(s_aa[j]))
        raise ValueError(f"component {bad}'s covariance over the conditioning features "
                         "is not positive definite; refit with a larger reg_covar") from None
    # R = S_BA S_AA^-1, i.e. R^T = S_AA^-1 S_AB
    reg = np.swapaxes(np.linalg.solve(s_aa, np.swapaxes(s_ba, 1, 2)), 1, 2)
    cond_full = s_bb - np.einsum("kbi,kci->kbc", reg, s_ba)
    cond_full = 0.5 * (cond_full + np.swapaxes(cond_full, 1, 2))   # symmetric to rounding
    if ct == "full":
        cond_cov = cond_full
    elif ct == "tied":
        cond_cov = cond_full[0]
    else:   # diag / spherical: the features are independent within a component
        cond_cov = _sub_covariances(ct, cov, rest, rest)
    mu = np.asarray(gm.means_, dtype=np.float64)
    marg = _fitted_from(gm, gm.weights_, mu[:, given],
                        _sub_covariances(ct, cov, given, given), None)
    offset = mu[:, rest] - np.einsum("kba,ka->kb", reg, mu[:, given])
    return ConditionalParts(given, rest, marg, reg, offset, cond_full, cond_cov)


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


# Rows per step of condition_rows: bounds its temporaries (rows x K x B).
CHUNK_ROWS = 65536


def _fused_moments(parts, V, stacked, cond_var, mean, var):
    """The requested (mean, var) of every row's conditional mixture from the
    fused kernel (gmscore._conditionc: per block of rows the marginal's
    responsibilities, the component means and the moments, no n x K
    array); None when some row has no finite marginal likelihood, so that
    the chunked path below reports it."""
    from . import _conditionc
    from ._threads import effective_n_threads, single_threaded_blas
    from ._validation import aligned

    marg = parts.marginal
    k, dr, _ = parts.reg.shape
    means, prec, log_norm = marg._kernel_parameters(np.float64)
    n = V.shape[0]
    mean_out = np.empty((n, dr))
    var_out = np.empty((n, dr)) if var else None
    try:
        with single_threaded_blas():   # the marginal's GEMM runs inside the threads
            _conditionc.conditional_moments(
                COVARIANCE[marg.covariance_type].code, aligned(V, np.float64),
                aligned(means, np.float64), aligned(prec, np.float64),
                aligned(log_norm, np.float64), aligned(stacked, np.float64),
                aligned(parts.offset, np.float64), aligned(cond_var, np.float64),
                mean_out, var_out, effective_n_threads(marg.n_threads))
    except _conditionc.NonFiniteConditioningError:
        return None
    return ((mean_out,) if mean else ()) + ((var_out,) if var else ())


def condition_rows(parts, V, resp=False, means=False, mean=False, var=False):
    """Per-row conditionals over V (n, len(given)); returns the requested
    arrays in the order resp (n, K), means (n, K, B), mean (n, B), var
    (n, B) (of the whole conditional mixture).

    The weights are the marginal mixture's responsibilities (the compiled
    E-step kernel); every component's conditional mean is affine in the
    row, m_j(a) = R_j a + c_j, so all of them come from one matrix product
    a [R_1^T ... R_K^T] per chunk of rows."""
    k, dr, da = parts.reg.shape
    n = V.shape[0]
    stacked = np.ascontiguousarray(parts.reg.transpose(2, 0, 1).reshape(da, k * dr))
    cond_var = np.diagonal(parts.cond_full, axis1=1, axis2=2)
    if (mean or var) and not (resp or means):
        fused = _fused_moments(parts, V, stacked, cond_var, mean, var)
        if fused is not None:
            return fused
    out = dict(resp=np.empty((n, k)) if resp else None,
               means=np.empty((n, k, dr)) if means else None,
               mean=np.empty((n, dr)) if mean or var else None,
               var=np.empty((n, dr)) if var else None)
    for start in range(0, n, CHUNK_ROWS):      # chunks of rows, never single rows
        rows = V[start:start + CHUNK_ROWS]
        stop = start + len(rows)
        try:
            r = parts.marginal.predict_proba(rows)
        except ValueError as exc:
            raise ValueError(f"conditioning values, rows {start} to {stop - 1} (the sample "
                             f"numbers below count from {start}): {exc}") from None
        m = (rows @ stacked).reshape(len(rows), k, dr)
        m += parts.offset
        if resp:
            out["resp"][start:stop] = r
        if means:
            out["means"][start:stop] = m
        if mean or var:
            centre = (r[:, :, None] * m).sum(axis=1)
            out["mean"][start:stop] = centre
            if var:   # sum_j r_j (v_j + (m_j - mean)^2): no cancellation
                m -= centre[:, None, :]
                m *= m
                m += cond_var
                out["var"][start:stop] = (r[:, :, None] * m).sum(axis=1)
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
    if V.ndim == 1:
        weights, means = condition_rows(parts, V[None], resp=True, means=True)
        return _fitted_from(gm, weights[0], means[0], parts.cond_cov, _names(gm, parts.rest))
    weights, means = condition_rows(parts, V, resp=True, means=True)
    return ConditionalMixture(weights, means, parts.cond_cov, parts.rest)


def condition_observed(gm, V):
    """Per row of V (n, A), NaN = missing, the conditional mixture of gm's
    last D - A features (the targets) given the row's observed features
    among its first A (the inputs).

    Returns (resp (n, K), means (n, K, B), pattern (n,), cond_full (P, K,
    B, B)): each row's component weights and conditional means, the index
    of its missingness pattern and, per pattern, the components'
    conditional covariances. Per pattern (a loop over patterns, never rows)
    the conditioning runs on gm's marginal over the observed inputs and the
    targets (marginalising a Gaussian drops rows and columns); a row that
    observes no input gets the marginal over the targets (the weights, the
    target means and covariances). Complete rows use exactly the parts
    ``conditional_parts(gm, range(A))`` gives.
    """
    from ._missing import Patterns

    k, d = gm.means_.shape
    n, a = V.shape
    targets = np.arange(a, d)
    b = targets.size
    pats = Patterns(V)
    resp, means = np.empty((n, k)), np.empty((n, k, b))
    pattern = np.empty(n, dtype=np.intp)
    cond_full = np.empty((pats.n_patterns, k, b, b))
    full = COVARIANCE[gm.covariance_type].as_full(np.asarray(gm.covariances_, np.float64), k, d)
    for p in range(pats.n_patterns):
        rows = np.sort(pats.order[pats.start[p]:pats.start[p + 1]])
        obs = np.flatnonzero(pats.observed[p])
        pattern[rows] = p
        if obs.size == 0:       # nothing observed: the marginal over the targets
            resp[rows] = gm.weights_
            means[rows] = gm.means_[:, targets]
            cond_full[p] = full[:, targets][:, :, targets]
            continue
        if obs.size == a:
            parts = conditional_parts(gm, obs)
        else:
            parts = conditional_parts(marginal(gm, np.concatenate([obs, targets])),
                                      np.arange(obs.size))
        try:
            resp[rows], means[rows] = condition_rows(parts, V[rows][:, obs], resp=True,
                                                     means=True)
        except ValueError as exc:
            raise ValueError(f"rows of X observing inputs {obs.tolist()} (rows "
                             f"{rows[:5].tolist()}{', ...' if rows.size > 5 else ''}): "
                             f"{exc}") from None
        cond_full[p] = parts.cond_full
    return resp, means, pattern, cond_full
