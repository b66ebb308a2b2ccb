"""Missing values (NaN) marginalised exactly: ``nan_policy='marginalize'``.

A NaN entry is treated as missing at random. For a row with observed
features o and missing features m, component k contributes

    log p_k(x) = log w_k + log N(x_o; mu_o, S_oo)          (E-step, scores)
    xhat_m     = mu_m + S_mo S_oo^{-1} (x_o - mu_o)         (conditional mean)
    C          = S_mm - S_mo S_oo^{-1} S_om                 (conditional cov.)

and the M-step takes the expected sufficient statistics: x with xhat in
the missing slots, and C added to the missing block of the second
moments (Ghahramani & Jordan 1994). These are ordinary GaussianStats, so
the M-step is the complete-data one. The kernel (src_c/gms_missing.c)
groups rows by missingness pattern and factors each pattern's observed
sub-covariances once per block.

This module finds the patterns (vectorised numpy), keeps the data source
of a fit with missing values, and runs the kernel for the E-step, the
predictions and ``impute``. Rows without any observed feature carry no
information: a fit ignores them (with a warning), a prediction gives them
log-likelihood 0 (the log of the marginal over no features) and the
mixture weights as posteriors.
"""
import warnings

import numpy as np

from ._core.covariance import COVARIANCE
from ._core.sources import ArraySource
from ._core.stats import GaussianStats
from ._validation import aligned, check_array, check_sample_weight, feature_names

NAN_POLICIES = ("raise", "marginalize")


class Patterns:
    """The missingness patterns of X (N x D, NaN = missing).

    ``order`` lists the rows pattern by pattern (stable: rows of a pattern
    keep their order), pattern p owning ``order[start[p]:start[p + 1]]``;
    ``observed`` (P x D, uint8) marks each pattern's observed features.
    """

    def __init__(self, X):
        n, d = X.shape
        # one byte string per row (its mask packed to bits), so that np.unique
        # groups rows by pattern without an N x D comparison
        packed = np.packbits(~np.isnan(X), axis=1)
        keys = np.ascontiguousarray(packed).view(np.dtype((np.void, packed.shape[1])))[:, 0]
        uniq, inverse = np.unique(keys, return_inverse=True)
        inverse = inverse.reshape(-1)
        self.order = np.argsort(inverse, kind="stable").astype(np.int64)
        counts = np.bincount(inverse, minlength=len(uniq))
        self.start = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        bits = np.frombuffer(uniq.tobytes(), dtype=np.uint8).reshape(len(uniq), -1)
        self.observed = np.ascontiguousarray(np.unpackbits(bits, axis=1)[:, :d])
        self.n_samples, self.n_features = n, d
        self.n_observed = self.observed.sum(axis=1)
        self._counts = counts

    @property
    def n_patterns(self):
        return len(self.start) - 1

    def empty_rows(self):
        """Rows with no observed feature (sorted)."""
        empty = np.flatnonzero(self.n_observed == 0)
        if not len(empty):
            return np.empty(0, dtype=np.int64)
        p = int(empty[0])
        return np.sort(self.order[self.start[p]:self.start[p + 1]])

    def without_empty(self):
        """(order, start, observed) without the rows that observe nothing
        (at most one pattern: the one with no observed feature)."""
        if getattr(self, "_kept", None) is None:
            empty = np.flatnonzero(self.n_observed == 0)
            if not len(empty):
                self._kept = self.order, self.start, self.observed
            else:
                p = int(empty[0])
                lo, hi = self.start[p], self.start[p + 1]
                order = np.concatenate([self.order[:lo], self.order[hi:]])
                start = np.concatenate([self.start[:p], self.start[p + 1:] - (hi - lo)])
                observed = np.ascontiguousarray(np.delete(self.observed, p, axis=0))
                self._kept = order.astype(np.int64), start.astype(np.int64), observed
        return self._kept

    def check_features(self, weights=None):
        """ValueError when a feature is observed in no row (of positive weight)."""
        mass = self._counts.astype(np.float64)
        if weights is not None:      # the weight each pattern's rows hold
            pat_of = np.repeat(np.arange(self.n_patterns), self._counts)
            mass = np.bincount(pat_of, weights=weights[self.order], minlength=self.n_patterns)
        seen = (self.observed * (mass > 0)[:, None]).sum(axis=0) > 0
        if not seen.all():
            bad = np.flatnonzero(~seen).tolist()
            raise ValueError(
                f"feature(s) {bad} of X are missing (NaN) in every sample: nothing can be "
                "learnt about them; drop those columns before fitting")


def has_nan(X):
    """True when the float array X holds a NaN (a finite sum proves not)."""
    if not isinstance(X, np.ndarray) or X.dtype.kind != "f" or X.size == 0:
        return False
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(X.sum(dtype=np.float64)):
            return False
    return bool(np.isnan(X).any())


class MissingArraySource(ArraySource):
    """An in-memory X with missing values. ``X_nan`` holds the data with
    its NaNs (float64), read only by the missing-value kernel (the E-step
    and the predictions). Initialisation reads ``init_sample``: the
    complete rows when there are at least n_features + 1 per component
    (``min_complete``), else ``X``, the rows with each NaN replaced by a
    value drawn at random (``random_state``) from its feature's observed
    values (filling with the feature's mean would stack the filled rows on
    one coordinate, and k-means would make clusters of them with no
    variance there). Either is a start, not the fit: EM then
    marginalises. Component repairs read ``X`` too."""

    def __init__(self, X, sample_weight, n_threads, patterns, random_state, offsets=None):
        self.X_nan = aligned(np.asarray(X, dtype=np.float64), np.float64)
        self.patterns = patterns
        filled = np.array(X, copy=True, order="C")
        for j in range(X.shape[1]):     # features, not samples
            col = filled[:, j]
            miss = np.isnan(col)
            if miss.any():
                seen = col[~miss]
                col[miss] = seen[random_state.randint(seen.shape[0], size=int(miss.sum()))]
        super().__init__(aligned(filled, X.dtype), sample_weight, offsets, n_threads)
        self.missing = patterns
        self.min_complete = 0

    def init_sample(self, random_state, max_rows=None):
        full = patterns_complete_rows(self.patterns)
        if self.min_complete and len(full) >= self.min_complete:
            w = None if self.sample_weight is None else self.sample_weight[full]
            if w is None or w.sum() > 0:   # (rows only: initialisation ignores sequences)
                return ArraySource(np.ascontiguousarray(self.X[full]), w, None, self.n_threads)
        return self


def patterns_complete_rows(patterns):
    """The rows (sorted) that observe every feature."""
    p = np.flatnonzero(patterns.n_observed == patterns.n_features)
    if not len(p):
        return np.empty(0, dtype=np.int64)
    return np.sort(patterns.order[patterns.start[p[0]]:patterns.start[p[0] + 1]])


def fit_source(model, X, sample_weight, n_threads, min_samples=2, y=None, lengths=None,
               sequences=False, fitting=True):
    """The data source of a model with nan_policy='marginalize': for an
    in-memory array or data frame (with ``lengths`` for the sequence
    models), an ArraySource (a MissingArraySource when X has NaN); None
    for any other X (the data layer then refuses NaN as it always does:
    chunked, streamed, per-sequence-list and distributed sources do not
    marginalise). ``fitting``: check what a fit needs (every feature
    observed somewhere; a mixture's fit ignores rows entirely NaN, with a
    warning; an HMM keeps them as frames whose emissions are uninformative)."""
    from ._core.sources import Source, _is_array_like, _is_one_shot

    if isinstance(X, Source) or callable(X) or _is_one_shot(X) or _is_array_like(X) \
            or type(X).__module__.split(".")[0] == "dask":
        return None
    if isinstance(X, list) and X and all(isinstance(x, (np.ndarray, tuple)) for x in X) \
            and all(np.ndim(x[0] if isinstance(x, tuple) else x) == 2 for x in X):
        return None   # a list of chunks or of sequences
    names = feature_names(X)
    arr = check_array(X, min_samples=min_samples, allow_nan=True)
    offsets = None
    if sequences:
        from ._hmm_base import lengths_to_offsets

        offsets = lengths_to_offsets(lengths, arr.shape[0])
    sw = None if sample_weight is None else check_sample_weight(sample_weight, arr.shape[0])
    if not has_nan(arr):
        source = ArraySource(arr, sw, offsets, n_threads)
    else:
        patterns = Patterns(arr)
        if fitting:
            _check_fit_patterns(model, patterns, sw, y, sequences)
        from ._validation import check_random_state

        seed = check_random_state(model.random_state).randint(np.iinfo(np.int32).max)
        source = MissingArraySource(arr, sw, n_threads, patterns, np.random.RandomState(seed),
                                    offsets)
        k = model.n_components * getattr(model, "n_mix", 1)
        source.min_complete = k * (arr.shape[1] + 1)
    source.feature_names = names
    return source


def _check_fit_patterns(model, patterns, sw, y, sequences):
    empty = patterns.empty_rows()
    if len(empty) == patterns.n_samples:
        raise ValueError("every sample of X is entirely NaN; nothing to fit")
    patterns.check_features(sw)
    if len(empty) and not sequences:
        warnings.warn(
            f"{len(empty)} sample(s) of X have no observed feature (every entry NaN), "
            f"e.g. rows {empty[:5].tolist()}; they carry no information and are "
            "ignored by the fit", UserWarning, stacklevel=5)
    if y is not None and (getattr(model, "partial_labels", False) or sequences):
        raise ValueError("partial labels (partial_labels=True with y, or an HMM's states) "
                         "and missing values cannot be combined; impute X or fit without "
                         "the labels")


def _model_arguments(model):
    """(code, means, covariances, log weights) of a fitted mixture, float64."""
    ct = model.covariance_type
    means = aligned(np.asarray(model.means_, dtype=np.float64), np.float64)
    covs = aligned(np.asarray(model.covariances_, dtype=np.float64), np.float64)
    with np.errstate(divide="ignore"):
        log_w = aligned(np.log(np.asarray(model.weights_, dtype=np.float64)), np.float64)
    return COVARIANCE[ct].code, means, covs, log_w


def estep(model, source, centres, arguments=_model_arguments):
    """GaussianStats of a MissingArraySource's rows (those with an observed
    feature) about ``centres``, under the model's current parameters.
    ``arguments(model)``: the kernel's (code, means, covariances, log
    weights); gmscore._missing_variational gives the variational ones."""
    from ._missingc import leaf_size, missing_pass

    code, means, covs, log_w = arguments(model)
    k, d = means.shape
    order, start, observed = source.patterns.without_empty()
    leaf = np.zeros(leaf_size(code, k, d))
    try:
        missing_pass(code, source.X_nan, means, covs, log_w, order, start, observed,
                     sample_weight=source.sample_weight, centres=aligned(centres, np.float64),
                     stats=leaf, n_threads=source.n_threads)
    except ValueError as exc:
        raise ValueError(f"EM failed: {exc}") from None
    return GaussianStats.from_leaf(model.covariance_type, centres, leaf, len(order))


def _prediction_rows(model, X):
    """X as a checked float array, or None when X is not an in-memory float
    array with NaN (then the ordinary paths run)."""
    if getattr(model, "nan_policy", "raise") != "marginalize":
        return None
    from ._frames import frame_kind

    if frame_kind(X) is None and not isinstance(X, (np.ndarray, list)):
        return None
    try:
        arr = check_array(X, allow_nan=True)
    except (TypeError, ValueError):
        return None     # the ordinary path gives its error
    if not has_nan(arr):
        return None
    return arr


def _run_rows(model, X, arguments=_model_arguments, **outputs):
    from ._missingc import missing_pass

    model._prepared()   # validates the fitted parameters
    n, d = X.shape
    if d != model.n_features_in_:
        raise ValueError(f"X has {d} features, but {type(model).__name__} is expecting "
                         f"{model.n_features_in_} features as input.")
    p = Patterns(X)
    code, means, covs, log_w = arguments(model)
    from ._threads import effective_n_threads

    from ._threads import single_threaded_blas

    with single_threaded_blas():   # the kernel calls BLAS from its threads
        missing_pass(code, X, means, covs, log_w, p.order, p.start, p.observed,
                     n_threads=effective_n_threads(model.n_threads), **outputs)


def predictions(model, X, which, arguments=_model_arguments):
    """score_samples ('lse'), predict_proba ('proba') or predict ('labels')
    of rows with NaN, from the marginals over their observed features; None
    when X has no NaN or the model does not marginalise."""
    arr = _prediction_rows(model, X)
    if arr is None:
        return None
    from ._validation import check_feature_names

    check_feature_names(model, feature_names(X))
    n, k = arr.shape[0], model.n_components
    lse = np.empty(n)
    proba = np.empty((n, k)) if which != "lse" else None
    labels = np.empty(n, dtype=np.int64) if which == "labels" else None
    gaps = np.isnan(arr).any(axis=1)
    part = np.flatnonzero(gaps)
    full = np.flatnonzero(~gaps)
    # complete rows take the ordinary kernel: the faster one, and their
    # results are then the bits a call without NaN gives
    direct = None
    if len(full) and hasattr(model, "_direct_rows") \
            and arr.shape[1] == getattr(model, "n_features_in_", None):
        direct = model._direct_rows(np.ascontiguousarray(arr[full]), proba=which != "lse",
                                    labels=which == "labels", check_names=False)
    if direct is None:
        part = np.arange(n)
    else:
        rows = direct[0]
        lse[full] = rows[0]
        if proba is not None:
            proba[full] = rows[1]
        if labels is not None:
            labels[full] = rows[2]
    lse_p, proba_p = np.empty(len(part)), None if proba is None else np.empty((len(part), k))
    _run_rows(model, aligned(np.asarray(arr[part], dtype=np.float64), np.float64),
              arguments, lse=lse_p, resp_out=proba_p)
    lse[part] = lse_p
    if proba is not None:
        proba[part] = proba_p
    if labels is not None:
        labels[part] = np.argmax(proba_p, axis=1)
        return labels
    # scikit-learn's dtype: float32 only when both X and the model are
    dtype = np.result_type(getattr(X, "dtype", np.float64), np.asarray(model.means_).dtype)
    return (lse if which == "lse" else proba).astype(dtype, copy=False)


def impute(model, X, return_std=False, arguments=_model_arguments):
    """Conditional-mean imputation of the NaN entries of X under the fitted
    mixture (see GaussianMixture.impute)."""
    from ._validation import check_feature_names, check_is_fitted

    check_is_fitted(model, ("means_", "covariances_"))
    arr = check_array(X, allow_nan=True)
    check_feature_names(model, feature_names(X))
    arr = aligned(np.asarray(arr, dtype=np.float64), np.float64)
    out = np.empty_like(arr)
    var = np.empty_like(arr) if return_std else None
    _run_rows(model, arr, arguments, impute=out, impute_var=var)
    if return_std:
        return out, np.sqrt(var)
    return out
