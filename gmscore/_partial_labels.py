"""Partial labels (semi-supervised EM).

GaussianMixture(partial_labels=True).fit(X, y): y[i] = k says row i belongs
to component k, y[i] = -1 that it is unknown. A known row's responsibility
is clamped to its component (one-hot), so the E-step is the usual kernel
pass over the unknown rows plus one-hot statistics of the known rows, and
the objective is log p(X_unknown) + log p(X_known, y_known): the EM of the
likelihood of what is observed (Nigam et al. 2000).

HMMs: fit(X, lengths, states=...) with states[t] = j (or -1) clamps frame
t's posterior to state j: the frame's emission log-likelihood is -inf for
every other state, so the forward-backward pass sees only paths through
the known states and its log-likelihood is log p(X, known states).
"""
import numpy as np

from ._core.covariance import COVARIANCE
from ._core.sources import ArraySource
from ._core.stats import GaussianStats

_LOG_2PI = np.log(2 * np.pi)


def check_labels(y, n_rows, n_classes, what="y", of="component", name="n_components"):
    """y as int64 in [-1, n_classes), one per row; a clear error otherwise."""
    arr = np.asarray(y)
    if arr.ndim != 1 or arr.shape[0] != n_rows:
        raise ValueError(f"{what} must be a 1-D array with one entry per row of X "
                         f"({n_rows}), got shape {arr.shape}")
    if arr.dtype.kind == "f" and np.isfinite(arr).all() and (arr == np.round(arr)).all():
        arr = arr.astype(np.int64)
    if arr.dtype.kind not in "iub":
        raise TypeError(f"{what} must hold integer {of} indices (-1 for unknown), got dtype "
                        f"{arr.dtype}")
    arr = arr.astype(np.int64)
    bad = (arr < -1) | (arr >= n_classes)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{what}[{i}] = {arr[i]} is outside [-1, {n_classes}): give a "
                         f"{of} index below {name}={n_classes}, or -1 for unknown")
    return arr


class ClampedRows:
    """An in-memory source split once into its unknown rows (an ArraySource
    for the kernels' E-step) and its known rows with their components."""

    def __init__(self, source, labels):
        known = labels >= 0
        X, w = source.X, source.sample_weight
        self.unknown = None
        if not known.all():
            self.unknown = ArraySource(np.ascontiguousarray(X[~known]),
                                       None if w is None else np.ascontiguousarray(w[~known]),
                                       None, source.n_threads)
        self.X = np.ascontiguousarray(X[known])
        self.labels = np.ascontiguousarray(labels[known])
        self.weights = None if w is None else np.ascontiguousarray(w[known], dtype=np.float64)
        self.n_threads = source.n_threads

    def statistics(self, model, centres):
        """One-hot statistics of the known rows about ``centres``, with
        their complete-data log-likelihood sum_i w_i log(pi_y N(x_i | y))."""
        from . import _kernels

        ct = model.covariance_type
        code = COVARIANCE[ct].code
        k, d = centres.shape
        red = _kernels.stats_reducer(code, k, d)
        if len(self.X):
            _kernels.accumulate_into(red, code, self.X, None, self.labels, self.weights,
                                     centres, self.n_threads)
        stats = GaussianStats.from_leaf(ct, centres, red.total(), len(self.X))
        loglik = self.log_likelihood(model)
        return GaussianStats(ct, centres, stats.nk, stats.s1, stats.s2, loglik,
                             stats.weight_sum, stats.count)

    def log_likelihood(self, model):
        """sum_i w_i [log pi_{y_i} + log N(x_i | mu_{y_i}, S_{y_i})], one
        numpy pass per component (never per row)."""
        ct = model.covariance_type
        entry = COVARIANCE[ct]
        k, d = model.means_.shape
        u = np.asarray(model.precisions_cholesky_, dtype=np.float64)
        log_det = np.broadcast_to(entry.log_det_cholesky(u, d), (k,))
        with np.errstate(divide="ignore"):
            log_w = np.log(model.weights_)
        total = 0.0
        for j in range(k):
            rows = self.X[self.labels == j].astype(np.float64)
            if not len(rows):
                continue
            diff = rows - model.means_[j]
            if ct == "full":
                z = diff @ u[j]
            elif ct == "tied":
                z = diff @ u
            else:
                z = diff * u[j]
            quad = np.einsum("ij,ij->i", z, z)
            per_row = log_w[j] + log_det[j] - 0.5 * (d * _LOG_2PI + quad)
            w = None if self.weights is None else self.weights[self.labels == j]
            total += float(per_row.sum() if w is None else per_row @ w)
        return total


def clamp_frames(framelogprob, states):
    """Frames with a known state: -inf for every other state (in place)."""
    known = np.flatnonzero(states >= 0)
    if known.size:
        keep = framelogprob[known, states[known]].copy()
        framelogprob[known] = -np.inf
        framelogprob[known, states[known]] = keep
    return framelogprob
