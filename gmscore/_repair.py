"""Repair of degenerate mixture components: GaussianMixture's
``on_degenerate='reseed'`` policy.

A component is *degenerate* after an M-step when

- its covariance is not positive definite: a Cholesky factorisation fails
  (full, tied), a variance is <= 0 (diag, spherical), or an entry is not
  finite; or
- its mass ``nk`` collapsed below ``COLLAPSED_MASS`` times the weight of an
  average sample (it explains practically no data), or its mean is not
  finite.

Under 'reseed' such a component is re-initialised instead of stopping the
fit: its mean moves to the sample the current model (the parameters the
E-step just used) explains worst -- lowest per-sample log-likelihood, ties
broken by the lower sample index. Several components degenerating in the
same step are placed one at a time, in index order, each on the sample
worst explained by the current model plus the components already placed
(so they do not all land on one duplicated point). Its covariance becomes
the mean of the healthy components' covariances (or,
when none is healthy, the data's covariance plus ``reg_covar``), and its
weight is reset to ``RESEED_SHARE / n_components`` with the healthy weights
scaled so that all weights sum to one. A degenerate *tied* covariance is
replaced by the data's covariance plus ``reg_covar``. Each repair emits a
DegenerateComponentWarning.

A component may be re-seeded at most ``MAX_RESEEDS`` times per
initialisation. After that a collapsed-mass component is left as it is
(its parameters are finite), and a covariance that is again not positive
definite raises scikit-learn's error (naming reg_covar), as does a repair
whose own covariance is not positive definite (data without variance in
some direction and ``reg_covar=0``): no re-seeding can help there.

The worst-explained samples are found in fixed-size chunks of rows through
the log-density kernel (the chunk size depends only on n_components),
keeping only the candidates for the lowest values (np.partition per chunk,
then a merge ordered by value and index): no n_samples x n_components
array, no Python loop over samples, and a result that depends neither on
the thread count (the kernel is bitwise thread-invariant) nor on how ties
happen to be ordered.
"""
import os
import sys
import warnings

import numpy as np

from . import _kernels
from ._core.covariance import COVARIANCE, PRECISION_ERROR

LOG_2PI = np.log(2.0 * np.pi)

# A component whose mass nk is below this fraction of an average sample's
# weight (total weight / n_samples) has collapsed.
COLLAPSED_MASS = 1e-3
# Re-seeds allowed per component (and for the shared tied covariance) per
# initialisation.
MAX_RESEEDS = 3
# A re-seeded component starts with weight RESEED_SHARE / n_components.
RESEED_SHARE = 0.5
# Elements (rows x n_components) of the per-chunk log-density buffer.
_SCAN_ELEMENTS = 1 << 18
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def _user_stacklevel():
    """stacklevel for a warning raised by the caller of this function that
    points at the first frame outside gmscore (the user's fit() call)."""
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame, level = frame.f_back, level + 1
    return level


class DegenerateComponentWarning(UserWarning):
    """A Gaussian mixture component degenerated (covariance not positive
    definite, or no mass left) and was re-seeded; see
    GaussianMixture(on_degenerate='reseed')."""


class RepairState:
    """Per-initialisation bookkeeping of the repairs."""

    def __init__(self, n_components):
        # One counter per component plus one for the shared tied covariance.
        self.counts = np.zeros(n_components + 1, dtype=np.intp)
        self.reseeded = False  # did the last EM step re-seed anything?
        self.n_steps = 0


# ------------------------------------------------------------- detection
def bad_covariances(covariances, covariance_type):
    """Boolean mask (n_components,) of covariances that are not positive
    definite (for 'tied' a 0-d mask: the shared one)."""
    return ~COVARIANCE[covariance_type].is_positive_definite(covariances)


def collapsed_components(nk_raw, means, min_mass):
    """Components with (almost) no mass or a non-finite mean."""
    return ~(np.isfinite(nk_raw) & (nk_raw >= min_mass)) | ~np.isfinite(means).all(axis=1)


def min_mass(data):
    """Collapse threshold for nk: COLLAPSED_MASS average samples."""
    return COLLAPSED_MASS * data.total_weight / data.n_samples


# ------------------------------------------------------ worst explained
def _logsumexp_rows_inplace(a):
    """logsumexp over each row of ``a``, overwriting ``a`` (scipy's
    logsumexp holds several temporaries of a's size). NaN becomes -inf."""
    top = a.max(axis=1)
    shift = np.where(np.isfinite(top), top, 0.0)
    with np.errstate(under="ignore", invalid="ignore", over="ignore", divide="ignore"):
        a -= shift[:, None]
        np.exp(a, out=a)
        vals = np.log(a.sum(axis=1)) + shift
    vals[np.isnan(vals)] = -np.inf
    return vals


def worst_explained(source, log_prob_rows, n_components, count):
    """Global row indices (and values) of the ``count`` rows of ``source``
    with the lowest log-likelihood ``logsumexp(log_prob_rows(rows), axis=1)``,
    lowest first, ties broken by index. Rows of zero weight are never
    picked unless nothing else is left; a NaN log-likelihood counts as the
    lowest. ``log_prob_rows(rows, out)`` fills ``out`` of shape
    (len(rows), n_components). Works on fixed-size pieces of each chunk
    (the piece size depends only on n_components)."""
    piece = max(64, _SCAN_ELEMENTS // max(1, n_components))
    buf = None
    best_vals = np.empty(0)
    best_idx = np.empty(0, dtype=np.intp)
    for chunk in source.chunks():
        X, sw = chunk.X, chunk.sample_weight
        n = X.shape[0]
        if buf is None or buf.shape[0] < min(piece, n):
            buf = np.empty((min(piece, n), n_components))
        for start in range(0, n, piece):
            stop = min(start + piece, n)
            out = buf[: stop - start]
            log_prob_rows(X[start:stop], out)
            vals = _logsumexp_rows_inplace(out)
            if sw is not None:
                vals[sw[start:stop] <= 0] = np.inf
            if vals.size > count:
                kth = np.partition(vals, count - 1)[count - 1]
                cand = np.flatnonzero(vals <= kth)
            else:
                cand = np.arange(vals.size)
            all_vals = np.concatenate([best_vals, vals[cand]])
            all_idx = np.concatenate([best_idx, cand + chunk.start + start])
            order = np.lexsort((all_idx, all_vals))[:count]
            best_vals, best_idx = all_vals[order], all_idx[order]
    return best_idx, best_vals


def _new_component_kernel_terms(replacement, covariance_type, weight, kernel_model, d):
    """Flattened precision factor (None for tied: shared) and log normaliser
    of a re-seeded component, in the kernel's layout."""
    code, means, prec, log_norm = kernel_model
    entry = COVARIANCE[covariance_type]
    if covariance_type == "tied":
        factor = np.asarray(prec, dtype=np.float64).reshape(d, d)
        return None, float(np.log(weight) + entry.log_det_cholesky(factor, d) - 0.5 * d * LOG_2PI)
    # one component's covariance as a stack of one
    stacked = np.asarray(replacement, dtype=np.float64)[None]
    factor = entry.precision_cholesky(stacked)
    log_det = float(np.ravel(entry.log_det_cholesky(factor, d))[0])
    return (entry.kernel_factor(factor, means.dtype),
            float(np.log(weight) + log_det - 0.5 * d * LOG_2PI))


def place_reseeds(data, kernel_model, covariance_type, count, replacement, weight):
    """Samples for ``count`` re-seeded components, chosen one at a time: the
    worst-explained sample under the current model (``kernel_model`` =
    (code, means, flattened precision factors, log normalisers) as the
    E-step used them) together with the components already placed (each
    with covariance ``replacement``, for tied the current shared one, and
    weight ``weight``). One at a time keeps several re-seeded components off
    the same (e.g. duplicated) point. Returns (rows, log-likelihoods)."""
    code, means, prec, log_norm = kernel_model
    d = data.n_features
    new_prec, new_log_norm = _new_component_kernel_terms(
        replacement, covariance_type, weight, kernel_model, d)
    rows, lls = [], []
    cur_means, cur_prec, cur_norm = means, prec, log_norm
    for _ in range(count):
        k = cur_means.shape[0]

        def log_prob_rows(block, out, m=cur_means, p=cur_prec, ln=cur_norm):
            _kernels.weighted_log_prob(code, block, m, p, ln, out, data.n_threads)

        idx, val = worst_explained(data, log_prob_rows, k, 1)
        rows.append(int(idx[0]))
        lls.append(float(val[0]))
        row = data.take(idx[:1])[0]
        cur_means = np.ascontiguousarray(np.vstack([cur_means, row.astype(means.dtype)]))
        cur_norm = np.ascontiguousarray(np.append(cur_norm, new_log_norm))
        if new_prec is not None:
            cur_prec = np.ascontiguousarray(np.concatenate([cur_prec, new_prec]))
    return np.array(rows, dtype=np.intp), np.array(lls)


# ------------------------------------------------------- replacements
def data_covariance(data, covariance_type, reg_covar):
    """The data's (weighted) covariance plus reg_covar, in the shape of one
    component's covariance (the whole matrix for tied)."""
    scatter, _ = data.scatter
    cov = scatter / data.total_weight
    cov = cov + reg_covar * np.eye(cov.shape[0])
    if covariance_type in ("full", "tied"):
        return cov
    if covariance_type == "diag":
        return np.diag(cov).copy()
    return float(np.diag(cov).mean())


def replacement_covariance(covariances, healthy, covariance_type, data, reg_covar):
    """Covariance for a re-seeded component: the mean of the healthy
    components' covariances, or the data's when none is healthy."""
    if covariance_type != "tied" and healthy.any():
        return np.asarray(covariances)[healthy].mean(axis=0)
    return data_covariance(data, covariance_type, reg_covar)


def _unrepairable(what, why):
    return ValueError(f"{PRECISION_ERROR} on_degenerate='reseed' could not repair {what}: {why}.")


def _check_replacement(cov, covariance_type, what):
    """``cov`` is one component's covariance (for tied the shared one)."""
    one = cov if covariance_type == "tied" else np.asarray(cov)[None]
    if not COVARIANCE[covariance_type].is_positive_definite(one).all():
        raise _unrepairable(
            what, "the replacement covariance (data covariance plus reg_covar) is not "
            "positive definite either; the data has no variance in some direction")


def _describe(indices):
    return ", ".join(str(int(i)) for i in indices)


def repair_initial_covariances(covariances, covariance_type, data, reg_covar):
    """Initialisation: replace covariances that are not positive definite
    (means and weights kept; a component that also has no mass is re-seeded
    by the first EM step). Returns the covariances (a new array when any
    was replaced)."""
    bad = bad_covariances(covariances, covariance_type)
    if not bad.any():
        return covariances
    if covariance_type == "tied":
        new = data_covariance(data, "tied", reg_covar)
        _check_replacement(new, "tied", "the initial tied covariance")
        warnings.warn(
            "The initial tied covariance is not positive definite; replaced by the "
            "data covariance plus reg_covar (on_degenerate='reseed').",
            DegenerateComponentWarning, stacklevel=_user_stacklevel())
        return new
    idx = np.flatnonzero(bad)
    new = np.array(covariances, dtype=np.float64, copy=True)
    new[bad] = replacement_covariance(covariances, ~bad, covariance_type, data, reg_covar)
    _check_replacement(new[idx[0]], covariance_type,
                       f"the initial covariance of component(s) {_describe(idx)}")
    warnings.warn(
        f"Initial covariance of component(s) {_describe(idx)} is not positive definite "
        "(singleton or collapsed samples); replaced by the mean of the other components' "
        "covariances, or the data covariance plus reg_covar (on_degenerate='reseed').",
        DegenerateComponentWarning, stacklevel=_user_stacklevel())
    return new


def reseed(state, data, nk_raw, weights, means, covariances, covariance_type, reg_covar,
           kernel_model):
    """Re-seed the degenerate components after an M-step (see the module
    docstring). Returns (weights, means, covariances), new arrays when
    anything changed; sets ``state.reseeded``."""
    k = means.shape[0]
    state.n_steps += 1
    state.reseeded = False
    bad_cov = bad_covariances(covariances, covariance_type)
    collapsed = collapsed_components(nk_raw, means, min_mass(data))
    tied_bad = covariance_type == "tied" and bool(bad_cov)
    if covariance_type == "tied":
        reseed_mask = collapsed.copy()
        cov_mask = np.zeros(k, dtype=bool)
    else:
        cov_mask = bad_cov
        reseed_mask = collapsed | bad_cov
    if not (reseed_mask.any() or tied_bad):
        return weights, means, covariances

    # Budget: a covariance that is again not positive definite cannot be
    # left as it is; a collapsed component past its budget stays as it is.
    over = state.counts[:k] >= MAX_RESEEDS
    if (cov_mask & over).any():
        idx = np.flatnonzero(cov_mask & over)
        raise _unrepairable(
            f"component(s) {_describe(idx)}",
            f"re-seeded {MAX_RESEEDS} times, the covariance degenerated again")
    if tied_bad and state.counts[k] >= MAX_RESEEDS:
        raise _unrepairable(
            "the tied covariance",
            f"replaced {MAX_RESEEDS} times, it degenerated again")
    reseed_mask &= ~over
    if not (reseed_mask.any() or tied_bad):
        return weights, means, covariances
    healthy = ~(reseed_mask | cov_mask)

    weights = np.array(weights, dtype=np.float64, copy=True)
    means = np.array(means, dtype=np.float64, copy=True)
    covariances = np.array(covariances, dtype=np.float64, copy=True)
    messages = []

    if tied_bad:
        covariances = data_covariance(data, "tied", reg_covar)
        _check_replacement(covariances, "tied", "the tied covariance")
        state.counts[k] += 1
        messages.append("the tied covariance was not positive definite and was replaced "
                        "by the data covariance plus reg_covar")

    idx = np.flatnonzero(reseed_mask)
    if idx.size:
        w0 = RESEED_SHARE / k
        repl = None
        if covariance_type != "tied":
            repl = replacement_covariance(covariances, healthy, covariance_type, data,
                                          reg_covar)
            _check_replacement(repl, covariance_type, f"component(s) {_describe(idx)}")
            covariances[idx] = repl
        rows, lls = place_reseeds(data, kernel_model, covariance_type, idx.size, repl, w0)
        for c, r in zip(idx, rows):
            means[c] = data.take([r])[0][0]
        keep = ~reseed_mask
        kept = weights[keep].sum() if keep.any() else 0.0
        if keep.any() and np.isfinite(kept) and kept > 0:
            weights[keep] *= (1.0 - w0 * idx.size) / kept
            weights[idx] = w0
        else:
            weights[:] = 1.0 / k
        state.counts[idx] += 1
        reasons = []
        for c in idx:
            if cov_mask[c]:
                reasons.append(f"{c}: covariance not positive definite")
            else:
                reasons.append(f"{c}: mass {nk_raw[c]:.3g} collapsed")
        messages.append(
            f"component(s) {_describe(idx)} degenerated ({'; '.join(reasons)}) and were "
            f"re-seeded at the worst-explained sample(s) {_describe(rows)} "
            f"(log-likelihood {', '.join(f'{v:.4g}' for v in lls)}) with weight {w0:.3g} each")

    state.reseeded = True
    warnings.warn(
        f"EM step {state.n_steps}: " + "; ".join(messages)
        + " (on_degenerate='reseed'). Convergence is tested again after two clean "
        "iterations. Consider fewer components, a larger reg_covar, or scaling the data.",
        DegenerateComponentWarning, stacklevel=_user_stacklevel())
    return weights, means, covariances
