"""Model selection over a grid of n_components x covariance_type:
``select_mixture(X, ...)`` fits every cell and returns a MixtureSelection
(a table of BIC, AIC, ICL, held-out log-likelihood, iterations and time
per cell, and the best model).

Work reused across the grid: the k-means initialisation depends on
n_components, not on the covariance type, so it runs once per
n_components and every covariance type starts from its labels (the start
GaussianMixture(init_params='kmeans') would compute from the same
random_state, up to rounding).
"""
import sys
import time

import numpy as np

from ._core.covariance import COV_TYPES, COVARIANCE
from ._core.gaussian_mstep import parameters_from_stats
from ._core.sources import ArraySource
from ._core.stats import GaussianStats
from ._missing import NAN_POLICIES, has_nan
from ._threads import effective_n_threads
from ._validation import check_array, check_random_state

CRITERIA = ("bic", "aic", "icl", "held_out")
COLUMNS = ("n_components", "covariance_type", "bic", "aic", "icl",
           "held_out_log_likelihood", "n_iter", "converged", "fit_time_s", "kmeans_time_s")


class MixtureSelection:
    """The result of select_mixture.

    Attributes
    ----------
    rows : list of dict
        One per grid cell, with the keys of ``COLUMNS``
        (held_out_log_likelihood is None without a validation split;
        kmeans_time_s is the one k-means shared by the cells of an
        n_components, None when each fit ran its own initialisation).
    best_ : GaussianMixture
        The model chosen by ``criterion`` (refitted on all of X when
        ``refit=True``).
    best_params_ : dict
        Its n_components and covariance_type.
    criterion : str
        What chose it (lower BIC / AIC / ICL, or higher held-out mean
        log-likelihood).
    """

    def __init__(self, rows, best, best_params, criterion):
        self.rows = rows
        self.best_ = best
        self.best_params_ = best_params
        self.criterion = criterion

    def to_pandas(self):
        """The table as a pandas DataFrame (needs pandas)."""
        import pandas as pd

        return pd.DataFrame(self.rows, columns=list(COLUMNS))

    def _cells(self):
        def fmt(v):
            if v is None:
                return "-"
            if isinstance(v, (bool, np.bool_)):
                return "yes" if v else "no"
            if isinstance(v, float):
                return f"{v:.6g}"
            return str(v)
        return [[fmt(r[c]) for c in COLUMNS] for r in self.rows]

    def __repr__(self):
        cells = self._cells()
        widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(COLUMNS)]
        lines = ["  ".join(c.rjust(w) for c, w in zip(COLUMNS, widths))]
        for r, row in zip(self.rows, cells):
            mark = " *" if (r["n_components"], r["covariance_type"]) == \
                (self.best_params_["n_components"], self.best_params_["covariance_type"]) \
                else ""
            lines.append("  ".join(v.rjust(w) for v, w in zip(row, widths)) + mark)
        lines.append(f"* best by {self.criterion}: {self.best_params_}")
        return "\n".join(lines)

    def _repr_html_(self):
        head = "".join(f"<th>{c}</th>" for c in COLUMNS)
        body = []
        for r, row in zip(self.rows, self._cells()):
            best = (r["n_components"], r["covariance_type"]) == (
                self.best_params_["n_components"], self.best_params_["covariance_type"])
            style = ' style="font-weight:bold"' if best else ""
            body.append(f"<tr{style}>" + "".join(f"<td>{v}</td>" for v in row) + "</tr>")
        return (f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
                f"<p>best by {self.criterion}: {self.best_params_}</p>")


def _check_grid(n_components, covariance_types, criterion):
    ks = [n_components] if np.isscalar(n_components) else list(n_components)
    if not ks or any(isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1
                     for k in ks):
        raise ValueError(f"n_components must be a positive integer or a non-empty sequence "
                         f"of them, got {n_components!r}")
    cts = [covariance_types] if isinstance(covariance_types, str) else list(covariance_types)
    bad = [c for c in cts if c not in COVARIANCE]
    if not cts or bad:
        raise ValueError(f"covariance_types must name some of {list(COV_TYPES)}, got "
                         f"{covariance_types!r}")
    if criterion not in CRITERIA:
        raise ValueError(f"criterion must be one of {list(CRITERIA)}, got {criterion!r}")
    return [int(k) for k in ks], cts


def _split(X, validation_fraction, rng):
    if validation_fraction is None or validation_fraction == 0:
        return X, None
    if not 0 < validation_fraction < 1:
        raise ValueError(f"validation_fraction must be in (0, 1) or None, got "
                         f"{validation_fraction!r}")
    n_val = int(round(validation_fraction * len(X)))
    if n_val < 1 or len(X) - n_val < 2:
        raise ValueError(f"validation_fraction={validation_fraction} leaves "
                         f"{len(X) - n_val} training and {n_val} validation rows of "
                         f"{len(X)}; give more data or another fraction")
    order = rng.permutation(len(X))
    return X[np.sort(order[n_val:])], X[np.sort(order[:n_val])]


def _kmeans_starts(X, k, random_state, cts, reg_covar, n_threads):
    """For each covariance type, the (weights, means, precisions) that
    init_params='kmeans' starts from: one k-means for all of them."""
    from . import _init, _kernels

    source = ArraySource(X, None, None, n_threads)
    labels, centres = _init.kmeans(X, k, check_random_state(random_state), None, n_threads,
                                   feature_variance=source.mean_variance)
    starts = {}
    for ct in cts:
        entry = COVARIANCE[ct]
        nk, s1 = np.empty(k), np.empty((k, X.shape[1]))
        s2 = np.empty(_kernels.s2_size(entry.code, k, X.shape[1]))
        _kernels.accumulate(entry.code, X, None, labels, None, centres, nk, s1, s2, n_threads)
        leaf = np.concatenate([nk, s1.ravel(), s2.ravel(), [0.0, 0.0]])
        stats = GaussianStats.from_leaf(ct, centres, leaf, 0)
        nk, means, covariances = parameters_from_stats(stats, ct, reg_covar, floor=True)
        precisions = entry.precisions_from_cholesky(entry.precision_cholesky(covariances))
        starts[ct] = (nk / nk.sum(), means, precisions)
    return starts


def _entropy(proba):
    """-sum r log r over rows and components (0 log 0 = 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(proba > 0, proba * np.log(proba), 0.0)
    return float(-terms.sum())


def select_mixture(X, n_components=range(1, 9), covariance_types=COV_TYPES, *,
                   criterion="bic", validation_fraction=0.2, refit=True, random_state=None,
                   progress=False, nan_policy="raise", **params):
    """Fit ``GaussianMixture(n_components=k, covariance_type=ct, **params)`` for
    every k in ``n_components`` and ct in ``covariance_types`` and compare.

    BIC, AIC and ICL (BIC + 2 x the entropy of the responsibilities) are
    computed on the training rows; with ``validation_fraction`` (default
    0.2) that share of the rows, drawn from ``random_state``, is held out
    and its mean log-likelihood reported. ``criterion``: 'bic', 'aic',
    'icl' (lowest wins) or 'held_out' (highest wins). ``refit``: refit the
    winner on all of X. ``progress``: a line per fit on stderr. Other
    keyword arguments go to every GaussianMixture. With the default
    init_params='kmeans' and n_init=1, k-means runs once per n_components
    (see the module docstring); pass an int random_state for results that
    equal independent fits.

    ``nan_policy`` ('raise' or 'marginalize') goes to every
    GaussianMixture: with 'marginalize', NaN entries of X are missing
    values marginalised exactly in each fit, and BIC, AIC, ICL and the
    held-out score use each row's log-likelihood over its observed
    features (as ``GaussianMixture.score`` / ``bic`` give them; the sample
    count n is every row of the split). k-means then runs inside each fit
    (on the complete rows, or on the rows with their NaN filled at random;
    see GaussianMixture) rather than once per n_components.
    """
    from .mixture import GaussianMixture

    ks, cts = _check_grid(n_components, covariance_types, criterion)
    for name in ("n_components", "covariance_type", "weights_init", "means_init",
                 "precisions_init"):
        if name in params:
            raise ValueError(f"{name} is set by the grid; do not pass it to select_mixture")
    if not (isinstance(nan_policy, str) and nan_policy in NAN_POLICIES):
        raise ValueError(f"nan_policy must be one of {list(NAN_POLICIES)}, got {nan_policy!r}")
    X = check_array(X, min_samples=2, allow_nan=nan_policy == "marginalize")
    if criterion == "held_out" and not validation_fraction:
        raise ValueError("criterion='held_out' needs a validation_fraction")
    seed = check_random_state(random_state).randint(np.iinfo(np.int32).max) \
        if not isinstance(random_state, (int, np.integer)) else int(random_state)
    train, valid = _split(X, validation_fraction, np.random.RandomState(seed))
    n = len(train)
    # the shared k-means reads complete rows only
    reuse = params.get("init_params", "kmeans") == "kmeans" and params.get("n_init", 1) == 1 \
        and not has_nan(train)
    params = dict(params, nan_policy=nan_policy)
    threads = effective_n_threads(params.get("n_threads"))
    rows, models = [], {}
    total = len(ks) * len(cts)
    for k in ks:
        t0 = time.perf_counter()
        starts = (_kmeans_starts(train, k, seed, cts, params.get("reg_covar", 1e-6), threads)
                  if reuse and k <= n else None)
        kmeans_time = None if starts is None else time.perf_counter() - t0
        for ct in cts:
            t0 = time.perf_counter()
            kw = dict(params, random_state=seed)
            if starts is not None:
                w, m, p = starts[ct]
                kw.update(weights_init=w, means_init=m, precisions_init=p)
            gm = GaussianMixture(k, covariance_type=ct, **kw).fit(train)
            elapsed = time.perf_counter() - t0
            log_lik = gm.score(train) * n
            p_count = gm._n_parameters()
            bic = -2 * log_lik + p_count * np.log(n)
            row = dict(n_components=k, covariance_type=ct, bic=float(bic),
                       aic=float(-2 * log_lik + 2 * p_count),
                       icl=float(bic + 2 * _entropy(gm.predict_proba(train))),
                       held_out_log_likelihood=None if valid is None else
                       float(gm.score(valid)),
                       n_iter=int(gm.n_iter_), converged=bool(gm.converged_),
                       fit_time_s=elapsed, kmeans_time_s=kmeans_time)
            rows.append(row)
            models[(k, ct)] = gm
            if progress:
                print(f"select_mixture [{len(rows)}/{total}] n_components={k} "
                      f"covariance_type={ct!r}: {criterion}="
                      f"{row['held_out_log_likelihood' if criterion == 'held_out' else criterion]:.6g}"
                      f" ({elapsed:.3g} s)", file=sys.stderr, flush=True)
    key = "held_out_log_likelihood" if criterion == "held_out" else criterion
    sign = -1.0 if criterion == "held_out" else 1.0
    best_row = min(rows, key=lambda r: sign * r[key])
    best_params = dict(n_components=best_row["n_components"],
                       covariance_type=best_row["covariance_type"])
    best = models[(best_params["n_components"], best_params["covariance_type"])]
    if refit:
        best = GaussianMixture(**best_params, **dict(params, random_state=seed)).fit(X)
    return MixtureSelection(rows, best, best_params, criterion)
