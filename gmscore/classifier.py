"""GaussianMixtureClassifier: one Gaussian mixture per class, all classes
fitted together (one pass over X per EM iteration), scikit-learn's
classifier API."""
import warnings

import numpy as np

from . import _kernels
from ._base import ParamsMixin
from ._core.covariance import COV_TYPES
from ._missing import NAN_POLICIES, fit_source, has_nan
from ._labels import (
    check_labels,
    check_priors,
    label_repr,
    log_posteriors,
    weighted_accuracy,
)
from ._threads import (
    effective_n_threads,
    fit_n_threads,
    reserve_fit_memory,
    single_threaded_blas,
)
from ._validation import (
    also_sklearn,
    array_like_or_none,
    check_array,
    check_feature_names,
    check_is_fitted,
    check_n_features,
    check_random_state,
    check_sample_weight,
    feature_names,
    interval,
    options,
    random_state_like,
    set_feature_names,
    validate_params,
)


def _priors_like():
    def check(v):
        return isinstance(v, str) and v in ("frequency", "uniform") or (
            not isinstance(v, str) and (hasattr(v, "__len__") or hasattr(v, "__array__")))

    return check, "'frequency', 'uniform' or an array-like of class probabilities"


def class_seeds(random_state, n_classes):
    """The per-class random states: ``n_classes`` ints drawn once from
    ``check_random_state(random_state)`` (``randint(2**31 - 1)``); class
    c, in the order of ``classes_``, is fitted as
    ``GaussianMixture(random_state=seeds[c])`` would be."""
    return check_random_state(random_state).randint(np.iinfo(np.int32).max, size=n_classes)


class GaussianMixtureClassifier(ParamsMixin):
    """Generative classifier: one Gaussian mixture per class.

    Each class c gets a :class:`~gmscore.GaussianMixture` of
    ``n_components`` components fitted by EM on that class's samples, and
    ``P(c | x) ~ priors[c] * p_c(x)``. All classes are fitted together:
    the rows are sorted by class once (a stable sort, one copy of X), and
    every EM iteration runs one E-step kernel call per class over that
    class's contiguous rows, so each iteration reads every row of X once.
    A class whose EM has converged stops; the others go on.

    Each class's mixture is exactly the ``GaussianMixture`` fitted on that
    class's rows with the same hyper-parameters and
    ``random_state=class_seeds(random_state, n_classes)[c]`` (see
    ``estimators_``); from identical starts it equals scikit-learn's
    ``GaussianMixture`` on those rows to rounding.

    Parameters
    ----------
    n_components : int, default=1
        Mixture components per class.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}, default='full'
    priors : 'frequency', 'uniform' or array-like of shape (n_classes,), default='frequency'
        Class priors: the (sample-weighted) class frequencies of the
        training data, equal priors, or given probabilities (in the order
        of ``classes_``, non-negative, summing to 1).
    tol, reg_covar, max_iter, n_init, init_params :
        As in :class:`~gmscore.GaussianMixture`, for every class.
    weights_init : array-like of shape (n_classes, n_components), optional
    means_init : array-like of shape (n_classes, n_components, n_features), optional
    precisions_init : array-like, optional
        Per-class starting parameters (leading axis in the order of
        ``classes_``; the rest shaped as GaussianMixture's).
    random_state : int, RandomState or None, default=None
        Seeds the per-class random states (see ``class_seeds``).
    n_threads : int or None, default=None
        Threads for the kernels (results do not depend on it).
    nan_policy : {'raise', 'marginalize'}, default='raise'
        NaN entries of X: 'raise' refuses them; 'marginalize' treats them
        as missing at random (in-memory X). Each class's mixture is then
        fitted with its missing values marginalised exactly (as
        ``GaussianMixture(nan_policy='marginalize')`` on that class's
        rows), and a row with NaN is classified by each class's
        log-likelihood of its observed features (the marginal over them)
        with the priors. A row with every entry NaN is ignored by the
        class mixtures' fits (with a warning; its label still counts in
        the 'frequency' priors) and is predicted with the priors as
        posteriors; a feature that is NaN in every row of a class is an
        error naming the class.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The sorted distinct labels (any sortable type, e.g. strings).
    priors_ : ndarray of shape (n_classes,)
    estimators_ : list of GaussianMixture
        The fitted mixture of each class.
    converged_ : ndarray of bool, shape (n_classes,)
    n_iter_ : ndarray of int, shape (n_classes,)
    n_features_in_ : int
    feature_names_in_ : ndarray of str (only when X had column names)

    Examples
    --------
    >>> import numpy as np
    >>> from gmscore import GaussianMixtureClassifier
    >>> rng = np.random.RandomState(0)
    >>> X = np.vstack([rng.randn(100, 2), rng.randn(100, 2) + 5])
    >>> y = np.repeat(["a", "b"], 100)
    >>> clf = GaussianMixtureClassifier(n_components=2, random_state=0).fit(X, y)
    >>> clf.predict([[0.0, 0.0], [5.0, 5.0]]).tolist()
    ['a', 'b']
    """

    _parameter_constraints = {
        "n_components": interval(int, 1),
        "covariance_type": options(*COV_TYPES),
        "priors": _priors_like(),
        "tol": interval(float, 0.0),
        "reg_covar": interval(float, 0.0),
        "max_iter": interval(int, 0),
        "n_init": interval(int, 1),
        "init_params": options("kmeans", "k-means++", "random", "random_from_data"),
        "weights_init": array_like_or_none(),
        "means_init": array_like_or_none(),
        "precisions_init": array_like_or_none(),
        "random_state": random_state_like(),
        "n_threads": interval(int, 1, none_ok=True),
        "nan_policy": options(*NAN_POLICIES),
    }

    def __init__(self, n_components=1, *, covariance_type="full", priors="frequency",
                 tol=1e-3, reg_covar=1e-6, max_iter=100, n_init=1, init_params="kmeans",
                 weights_init=None, means_init=None, precisions_init=None,
                 random_state=None, n_threads=None, nan_policy="raise"):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.priors = priors
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.weights_init = weights_init
        self.means_init = means_init
        self.precisions_init = precisions_init
        self.random_state = random_state
        self.n_threads = n_threads
        self.nan_policy = nan_policy

    def __sklearn_tags__(self):
        # scikit-learn's ClassifierMixin tags (see ParamsMixin.__sklearn_tags__)
        from sklearn.utils import ClassifierTags

        tags = super().__sklearn_tags__()
        tags.estimator_type = "classifier"
        tags.classifier_tags = ClassifierTags()
        tags.target_tags.required = True
        return tags

    # ------------------------------------------------------------------ fit
    def fit(self, X, y, sample_weight=None):
        """Fit one mixture per class.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Class labels (ints, strings, any sortable type); at least two
            classes, each with at least ``n_components`` samples.
        sample_weight : array-like of shape (n_samples,), optional
            Non-negative weights (integer weights = repeated rows); they
            also weight the 'frequency' priors.

        Returns
        -------
        self

        On error the classifier is left exactly as it was.
        """
        validate_params(self, self._parameter_constraints)
        names = feature_names(X)
        X = check_array(X, min_samples=2, allow_nan=self.nan_policy == "marginalize")
        n, d = X.shape
        classes, yi = check_labels(y, n)
        sw = check_sample_weight(sample_weight, n)
        n_classes = classes.shape[0]
        # stable, so each class keeps its rows' order; small unsigned labels
        # take numpy's radix sort (the same permutation, several times faster)
        order = np.argsort(yi.astype(_label_dtype(n_classes), copy=False), kind="stable")
        counts = np.bincount(yi, minlength=n_classes)
        bounds = np.concatenate([[0], np.cumsum(counts)])
        # GaussianMixture needs 2 rows; EM needs n_components rows that weigh
        # something (a class whose rows all weigh nothing cannot be fitted)
        mass = counts.astype(np.float64) if sw is None else np.bincount(
            yi, weights=sw, minlength=n_classes)
        weighing = counts if sw is None else np.bincount(
            yi, weights=(sw > 0).astype(np.float64), minlength=n_classes).astype(np.int64)
        small = np.flatnonzero((weighing < self.n_components) | (counts < 2) | (mass <= 0))
        if small.size:
            c = small[0]
            raise ValueError(
                f"class {label_repr(classes[c])} has {counts[c]} sample(s), {weighing[c]} with positive "
                f"weight; fitting its mixture needs at least 2 samples and "
                f"n_components={self.n_components} with positive weight: lower "
                "n_components or give that class more samples")
        priors = check_priors(self.priors, mass)
        models = self._class_models(n_classes, d)
        if self.nan_policy == "marginalize" and has_nan(X):
            _warn_empty_rows(X)
        # one copy of X, sorted by class (stable: each class keeps its
        # rows' order, so its fit equals a fit on X[y == c]); NaN stay.
        # take_rows copies the rows on all threads (np.take, on one, is
        # still several times faster than fancy indexing).
        if X.flags.c_contiguous and not X.dtype.hasobject:
            Xs = _kernels.take_rows(X, order.astype(np.int64, copy=False),
                                    effective_n_threads(self.n_threads))
        else:
            Xs = np.take(X, order, axis=0)
        sws = None if sw is None else sw[order]
        del X
        sources = [_class_data(classes[c], self._class_source, m, Xs[bounds[c]:bounds[c + 1]],
                               None if sws is None else sws[bounds[c]:bounds[c + 1]])
                   for c, m in enumerate(models)]
        runs = self._fit_all(models, sources, classes)
        # everything computed: only now change the classifier
        self.classes_ = classes
        self.priors_ = priors
        self.estimators_ = models
        self.converged_ = np.array([r.converged for r in runs])
        self.n_iter_ = np.array([r.n_iter for r in runs])
        self.n_features_in_ = d
        set_feature_names(self, names)
        if not self.converged_.all() and self.max_iter > 0:
            warnings.warn(
                "EM did not converge for classes "
                f"{classes[~self.converged_].tolist()!r}. Try different init parameters, "
                "or increase max_iter, tol, or check for degenerate data.",
                also_sklearn(_convergence_warning(), "ConvergenceWarning"))
        return self

    def _class_models(self, n_classes, n_features):
        from .mixture import GaussianMixture

        inits = {}
        for name in ("weights_init", "means_init", "precisions_init"):
            value = getattr(self, name)
            if value is None:
                inits[name] = [None] * n_classes
                continue
            value = np.asarray(value, dtype=np.float64)
            if value.ndim < 1 or value.shape[0] != n_classes:
                raise ValueError(
                    f"{name} must have one entry per class along its first axis "
                    f"({n_classes}, in the order of classes_), got shape {value.shape}")
            inits[name] = list(value)
        seeds = class_seeds(self.random_state, n_classes)
        return [GaussianMixture(
            self.n_components, covariance_type=self.covariance_type, tol=self.tol,
            reg_covar=self.reg_covar, max_iter=self.max_iter, n_init=self.n_init,
            init_params=self.init_params, weights_init=inits["weights_init"][c],
            means_init=inits["means_init"][c], precisions_init=inits["precisions_init"][c],
            random_state=int(seeds[c]), n_threads=self.n_threads, nan_policy=self.nan_policy)
            for c in range(n_classes)]

    @staticmethod
    def _class_source(model, X, sample_weight):
        """The class's rows as GaussianMixture.fit would prepare them
        (threads sized for the class, work memory claimed): with NaN, the
        missing-value source (gmscore._missing)."""
        from ._core.sources import as_source

        n_threads = effective_n_threads(model.n_threads)
        if model.nan_policy == "marginalize" and has_nan(X):
            with warnings.catch_warnings():   # fit warned, numbering the rows of X
                warnings.filterwarnings("ignore", ".*have no observed feature", UserWarning)
                source = fit_source(model, X, sample_weight, n_threads)
        else:
            # fit checked all of X already
            source = as_source(X, sample_weight=sample_weight, min_samples=2,
                               n_threads=n_threads, check_finite=False)
        source.n_threads = fit_n_threads(model.n_threads, source.n_samples,
                                         model.n_components, source.n_features,
                                         model.covariance_type)
        source.n_threads = reserve_fit_memory(model.covariance_type, model.n_components,
                                              source.n_features, source.n_threads,
                                              n_samples=source.n_samples)
        return source

    def _fit_all(self, models, sources, classes):
        """The EM of every class, interleaved: per restart, each iteration
        takes one E-step + M-step of every class that has not converged
        (GaussianMixture's EM-driver hooks, gmscore._core.em), so one
        iteration reads every row once. Per class, the restart with the
        best lower bound is kept, as GaussianMixture.fit does."""
        rngs = [check_random_state(m.random_state) for m in models]
        best = [None] * len(models)
        histories = [[] for _ in models]     # every restart's, as fit_em keeps them
        with single_threaded_blas():
            for index in range(self.n_init):
                runs = [_for_class(classes[c], models[c]._em_start, sources[c], rngs[c], index)
                        for c in range(len(models))]
                active = list(range(len(models)))
                for _ in range(self.max_iter):
                    for c in active:
                        runs[c].record(_for_class(classes[c], models[c]._em_iterate,
                                                  sources[c], runs[c]))
                    active = [c for c in active if not runs[c].converged]
                    if not active:
                        break
                for c, (m, run) in enumerate(zip(models, runs)):
                    m._em_end(run)
                    histories[c].append([float(v) for v in run.lower_bounds])
                    if best[c] is None or run.score > best[c][0].score:
                        best[c] = (run, m._em_params())
            for m, (run, params), hist in zip(models, best, histories):
                run.histories = hist
                m._em_adopt(params, run)
        return [b[0] for b in best]

    # ------------------------------------------------------------- predict
    def _checked_X(self, X):
        check_is_fitted(self, ("estimators_", "classes_"))
        check_feature_names(self, feature_names(X))
        X = check_array(X, allow_nan=self.nan_policy == "marginalize")
        check_n_features(self, X)
        return X

    def _log_likelihoods(self, X):
        """(n_samples, n_classes): each class mixture's log-likelihood of
        every row (one score_samples kernel pass per class)."""
        return np.stack([m.score_samples(X).astype(np.float64, copy=False)
                         for m in self.estimators_], axis=1)

    def predict_log_proba(self, X):
        """Log posterior class probabilities, shape (n_samples, n_classes),
        columns in the order of ``classes_``."""
        X = self._checked_X(X)
        return log_posteriors(self._log_likelihoods(X), self.priors_)

    def predict_proba(self, X):
        """Posterior class probabilities, shape (n_samples, n_classes)."""
        return np.exp(self.predict_log_proba(X))

    def predict(self, X):
        """Most probable class of each sample, shape (n_samples,)."""
        log_proba = self.predict_log_proba(X)
        return self.classes_[np.argmax(log_proba, axis=1)]

    def score(self, X, y, sample_weight=None):
        """Mean accuracy on (X, y) (weighted by ``sample_weight``)."""
        pred = self.predict(X)
        if hasattr(y, "to_numpy"):
            y = y.to_numpy()
        y = np.asarray(y)
        if y.shape != pred.shape:
            raise ValueError(f"y has shape {y.shape}; expected {pred.shape}, one label per "
                             "sample of X")
        sw = check_sample_weight(sample_weight, pred.shape[0])
        return weighted_accuracy(y, pred, sw)


def _label_dtype(n_classes):
    """The smallest unsigned integer type that holds class indices."""
    for dtype in (np.uint8, np.uint16, np.uint32):
        if n_classes <= np.iinfo(dtype).max + 1:
            return dtype
    return np.int64


def _warn_empty_rows(X):
    """Warn once about rows of X with every entry NaN (the class fits
    ignore them, as GaussianMixture's fit does)."""
    empty = np.flatnonzero(np.isnan(X).all(axis=1))
    if empty.size:
        warnings.warn(
            f"{empty.size} sample(s) of X have no observed feature (every entry NaN), e.g. "
            f"rows {empty[:5].tolist()}; they carry no information and are ignored by the "
            "fit of their class", UserWarning, stacklevel=3)


def _class_data(label, step, *args):
    """One class's data source; its errors (e.g. a feature NaN in every
    row of the class) name the class."""
    try:
        return step(*args)
    except ValueError as exc:
        raise ValueError(f"the rows of class {label_repr(label)}: {exc}") from exc


def _for_class(label, step, *args):
    """One class's EM step; its errors name the class."""
    try:
        return step(*args)
    except ValueError as exc:
        raise ValueError(f"EM of class {label_repr(label)}: {exc}") from exc


def _convergence_warning():
    from .mixture import ConvergenceWarning

    return ConvergenceWarning
