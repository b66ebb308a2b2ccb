"""GaussianMixture: a drop-in for sklearn.mixture.GaussianMixture whose
E-step and sufficient statistics run in one fused, blocked, multi-threaded
C kernel. The estimator and its public methods; the fit and the EM hooks
are in _mixture_em, the lockstep restarts in _mixture_lockstep."""
import time

import numpy as np

from . import _missing
from ._base import ParamsMixin
from ._core.covariance import COV_TYPES, COVARIANCE
from ._core.em import RestoresOnFailure, model_state, restore_model_state
from ._core.sources import as_source
from ._core.stats import GaussianStats
from ._mixture_em import LOG_2PI, ConvergenceWarning, GaussianMixtureEM, _MixtureRun
from ._mixture_lockstep import LockstepRestarts
from ._mixture_predictions import MixturePredictions
from ._threads import effective_n_threads, single_threaded_blas
from ._validation import (
    array_like_or_none,
    boolean,
    check_feature_names,
    check_is_fitted,
    check_random_state,
    interval,
    options,
    random_state_like,
    validate_params,
)

# names other modules import from here
__all__ = ["GaussianMixture", "ConvergenceWarning", "LOG_2PI", "_MixtureRun"]


class GaussianMixture(MixturePredictions, LockstepRestarts, GaussianMixtureEM,
                      RestoresOnFailure, ParamsMixin):
    """Gaussian mixture model fitted by EM.

    Same parameters, attributes and methods as
    :class:`sklearn.mixture.GaussianMixture`; the E-step and the sufficient
    statistics run in a fused, multi-threaded C kernel that never allocates an
    n_samples x n_components array.

    Parameters
    ----------
    n_components : int, default=1
        Number of mixture components.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}, default='full'
        Form of the component covariances.
    tol : float, default=1e-3
        EM stops when the mean log-likelihood per sample changes by less.
    reg_covar : float, default=1e-6
        Added to the diagonal of every covariance at each M-step.
    max_iter : int, default=100
        EM iterations per initialisation.
    n_init : int, default=1
        Initialisations; the one with the highest lower bound is kept.
        Where it pays, the restarts run side by side, one pass over the data
        computing every running restart's E-step (see
        gmscore._mixture_lockstep); the results are exactly those of
        running them one after another.
    init_params : {'kmeans', 'k-means++', 'random', 'random_from_data'}, default='kmeans'
        How the initial responsibilities are chosen.
    weights_init, means_init, precisions_init : array-like, optional
        User-supplied starting parameters (shapes as the fitted attributes).
    random_state : int, RandomState or None, default=None
    warm_start : bool, default=False
        Start from the previous fit's parameters (then ``n_init`` is ignored).
    verbose : int, default=0
        1 prints each ``verbose_interval``-th iteration, 2 adds timings.
    verbose_interval : int, default=10
    n_threads : int or None, default=None
        Threads for the kernels. None follows OpenMP's default
        (``OMP_NUM_THREADS``, threadpoolctl limits), capped at the available
        CPUs. Results are bitwise identical for any thread count.
    on_degenerate : {'raise', 'reseed'}, default='raise'
        What to do when a component degenerates during EM: its covariance
        is not positive definite (a Cholesky factorisation fails, a
        diag/spherical variance is <= 0, or a value is not finite), or its
        mass collapses (below 1e-3 of an average sample's weight).

        - 'raise' (scikit-learn's behaviour): a non positive definite
          covariance raises scikit-learn's ValueError ("... ill-defined
          empirical covariance ... increase reg_covar, or scale the input
          data"); a collapsed mass is left alone.
        - 'reseed': the component is re-initialised and EM continues, with a
          :class:`~gmscore.DegenerateComponentWarning`. Its mean moves to
          one of the samples worst explained by the current model (lowest
          per-sample log-likelihood, ties broken by sample index, so the
          choice is deterministic and independent of ``n_threads``), its
          covariance becomes the mean of the healthy components'
          covariances (or the data covariance plus ``reg_covar`` when none
          is healthy), and its weight ``0.5 / n_components`` (the other
          weights are rescaled to sum to one). A degenerate tied covariance
          is replaced by the data covariance plus ``reg_covar``;
          degenerate initial covariances are replaced the same way. An
          iteration that re-seeds can lower the lower bound, so convergence
          is only tested again after two clean iterations. A component is
          re-seeded at most 3 times per initialisation; when its covariance
          degenerates again, or when the replacement covariance is itself
          not positive definite (no variance in some direction and
          ``reg_covar=0``), the 'raise' error is raised after all.
    partial_labels : bool, default=False
        True: ``fit(X, y)`` reads y as known components (-1 for unknown)
        and clamps those samples' responsibilities (semi-supervised EM).
        False: y is ignored, as by scikit-learn (which passes y around in
        pipelines and checks), with a warning when it looks like partial
        labels.
    nan_policy : {'raise', 'marginalize'}, default='raise'
        NaN entries of X: 'raise' refuses them (scikit-learn's error);
        'marginalize' treats them as missing at random and marginalises
        them exactly (in-memory X only; see gmscore._missing and the
        README's "Missing values"): the E-step uses each row's marginal over
        its observed features, the M-step the conditional expectations of
        the missing entries and their second moments. Rows with every entry
        NaN are ignored by ``fit`` (with a warning); a feature that is NaN
        in every row is an error. The predictions then also take rows with
        NaN (marginals); ``impute`` fills NaN with conditional means.

    Attributes
    ----------
    weights_ : ndarray of shape (n_components,)
    means_ : ndarray of shape (n_components, n_features)
    covariances_, precisions_, precisions_cholesky_ : ndarray
        Shapes depend on ``covariance_type`` (see scikit-learn).
    converged_ : bool
    n_iter_ : int
    lower_bound_ : float
        Mean (weighted) log-likelihood per sample of the best initialisation.
    lower_bounds_ : list of float
        Lower bound at every iteration of the best initialisation.
    restart_histories_ : list of list of float
        (gmscore) The lower bound at every iteration of each of the
        ``n_init`` initialisations, in order (``gmscore.plot.plot_convergence``
        overlays them).
    n_features_in_ : int

    Notes
    -----
    Differences from scikit-learn, all deliberate: fitted parameters are
    always float64 (float32 input is computed in float32 with float64
    accumulation); ``fit`` accepts ``sample_weight``; ``n_threads`` chooses
    the kernel threads; 'kmeans' initialisation uses gmscore's own k-means
    (same algorithm, its own random draws); with ``covariance_type='tied'``
    and 'k-means++' or 'random_from_data' the initial covariance is the
    data's covariance plus ``reg_covar`` (scikit-learn pools the uncentred
    second moment of all rows there).
    From identical starting parameters the EM iterations agree with
    scikit-learn to rounding.

    Examples
    --------
    >>> import numpy as np
    >>> from gmscore import GaussianMixture
    >>> rng = np.random.RandomState(0)
    >>> X = np.vstack([rng.randn(200, 2), rng.randn(200, 2) + 8])
    >>> gm = GaussianMixture(n_components=2, random_state=0).fit(X)
    >>> np.round(np.sort(gm.means_[:, 0]))
    array([0., 8.])
    """

    _parameter_constraints = {
        "n_components": interval(int, 1),
        "covariance_type": options(*COV_TYPES),
        "tol": interval(float, 0.0),
        "reg_covar": interval(float, 0.0),
        "max_iter": interval(int, 0),
        "n_init": interval(int, 1),
        "init_params": options("kmeans", "k-means++", "random", "random_from_data"),
        "weights_init": array_like_or_none(),
        "means_init": array_like_or_none(),
        "precisions_init": array_like_or_none(),
        "random_state": random_state_like(),
        "warm_start": boolean(),
        "verbose": interval(int, 0),
        "verbose_interval": interval(int, 1),
        "n_threads": interval(int, 1, none_ok=True),
        "on_degenerate": options("raise", "reseed"),
        "partial_labels": boolean(),
        "nan_policy": options(*_missing.NAN_POLICIES),
    }

    def __init__(self, n_components=1, *, covariance_type="full", tol=1e-3,
                 reg_covar=1e-6, max_iter=100, n_init=1, init_params="kmeans",
                 weights_init=None, means_init=None, precisions_init=None,
                 random_state=None, warm_start=False, verbose=0,
                 verbose_interval=10, n_threads=None, on_degenerate="raise",
                 partial_labels=False, nan_policy="raise"):
        self.n_components = n_components
        self.nan_policy = nan_policy
        self.partial_labels = partial_labels
        self.covariance_type = covariance_type
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.weights_init = weights_init
        self.means_init = means_init
        self.precisions_init = precisions_init
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.verbose_interval = verbose_interval
        self.n_threads = n_threads
        self.on_degenerate = on_degenerate

    def __sklearn_tags__(self):
        # scikit-learn's DensityMixin tags (see ParamsMixin.__sklearn_tags__).
        tags = super().__sklearn_tags__()
        tags.estimator_type = "density_estimator"
        return tags

    # ------------------------------------------------------------------ fit
    def fit(self, X, y=None, sample_weight=None):
        """Fit by EM (``n_init`` initialisations, best lower bound kept).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or a data source
            An in-memory array; an np.memmap, h5py.Dataset or zarr.Array
            (read in chunks, never copied whole); or a callable returning a
            fresh iterator of 2-D chunks or (X, sample_weight) tuples on
            every call. Chunks of whole 256-row blocks give the in-memory
            result bit for bit; a streamed source is initialised on a
            uniform sample of at most 131,072 rows (see README).
        y : array-like of shape (n_samples,), optional
            Ignored (as by scikit-learn) unless ``partial_labels=True``: then
            y[i] = k says sample i belongs to component k and -1 that it is
            unknown; known samples' responsibilities are clamped (semi-
            supervised EM, see gmscore._partial_labels). In-memory X only.
        sample_weight : array-like of shape (n_samples,), optional
            Non-negative weights; integer weights give the same fit as
            repeating rows.

        Returns
        -------
        self
        """
        self._fit(X, sample_weight, y)
        return self

    def fit_predict(self, X, y=None, sample_weight=None):
        """Fit, then return the most probable component of each sample.

        Equal to ``fit(X).predict(X)``.
        """
        source = self._fit(X, sample_weight, y)
        if getattr(source, "missing", None) is not None:
            return _missing.predictions(self, source.X_nan, "labels")
        return self._predict_source(source)

    # ------------------------------------------------ statistics interface
    def accumulate(self, X, sample_weight=None):
        """Sufficient statistics of X under the current parameters (the
        E-step), centred at the current means.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or a data source
            (np.memmap, h5py/zarr array, a callable returning chunks).
        sample_weight : array-like of shape (n_samples,), optional

        Returns
        -------
        stats : gmscore.GaussianStats
            Merge statistics of several parts with ``+``; ``maximize``
            turns them into parameters.

        Examples
        --------
        >>> import numpy as np
        >>> from gmscore import GaussianMixture
        >>> X = np.random.RandomState(0).randn(600, 2)
        >>> gm = GaussianMixture(2, random_state=0).fit(X)
        >>> stats = gm.accumulate(X[:300]) + gm.accumulate(X[300:])
        >>> gm.maximize(stats).means_.shape
        (2, 2)
        """
        check_is_fitted(self, ("means_", "precisions_cholesky_"))
        source = None
        if self.nan_policy == "marginalize":   # None: X is not in memory
            source = _missing.fit_source(self, X, sample_weight,
                                         effective_n_threads(self.n_threads), min_samples=1,
                                         fitting=False)
        if source is None:
            source = as_source(X, sample_weight=sample_weight, multi_pass=False,
                               n_threads=effective_n_threads(self.n_threads))
        check_feature_names(self, source.feature_names)
        self._check_source_features(source)
        self._size_threads(source)
        with single_threaded_blas():
            return self._estep(source)

    def partial_fit(self, X, y=None, sample_weight=None, *, alpha=0.7, eta=None, burn_in=0):
        """Online EM: one stepwise EM update from a mini-batch (see
        gmscore._core.online).

        The batch's statistics (``accumulate``), per unit of sample weight,
        are blended into running statistics with weight
        ``eta_k = (k + 2) ** -alpha`` (k = 0 for the first blended batch)
        or the constant ``eta`` (to track drift), and ``maximize`` runs on
        them scaled to the weight seen. The first call on an unfitted model
        initialises it with ``fit`` on that batch; on a fitted model it
        starts from the fitted parameters. M-steps begin once more than
        ``burn_in`` mini-batches have been absorbed. Bad input raises and
        leaves the model as it was.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : ignored
        sample_weight : array-like of shape (n_samples,), optional
        alpha : float in (0.5, 1], default=0.7
        eta : float in (0, 1] or None, default=None
        burn_in : int >= 0, default=0

        Returns
        -------
        self
        """
        from ._core.online import partial_fit

        validate_params(self, self._parameter_constraints)
        return partial_fit(self, lambda: self.accumulate(X, sample_weight),
                           lambda: self.fit(X, sample_weight=sample_weight), alpha=alpha,
                           eta=eta, burn_in=burn_in)

    def maximize(self, stats):
        """The M-step: set the parameters from ``stats`` (GaussianStats of
        this model's covariance type and size, e.g. from ``accumulate``),
        with ``reg_covar`` added as in ``fit``. Returns self.

        Statistics about other centres are used as they are (the M-step is
        exact for any centres). On error the model is left as it was.
        """
        validate_params(self, self._parameter_constraints)
        if not isinstance(stats, GaussianStats):
            raise TypeError(f"maximize takes GaussianStats, got {type(stats).__name__}")
        if stats.kind != self.covariance_type or stats.n_components != self.n_components:
            raise ValueError(
                f"these are {stats.kind} statistics of {stats.n_components} components; "
                f"this model is {self.covariance_type} with {self.n_components}")
        if hasattr(self, "n_features_in_") and stats.n_features != self.n_features_in_:
            raise ValueError(f"the statistics have {stats.n_features} features, the model "
                             f"{self.n_features_in_}")
        stats.check_valid()
        if not stats.weight_sum > 0:
            raise ValueError("the statistics hold no sample weight")
        saved = model_state(self)
        try:
            self._mstep(stats, None)
            self._set_parameters(self._em_params())
            self.n_features_in_ = stats.n_features
        except BaseException:
            restore_model_state(self, saved)
            raise
        return self

    def sample(self, n_samples=1):
        """Draw samples; returns (X (n_samples, n_features), labels (n_samples,))."""
        check_is_fitted(self, ("means_", "covariances_"))
        if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) or n_samples < 1:
            raise ValueError(
                f"Invalid value for 'n_samples': {n_samples!r}. The sampling requires "
                "at least one sample."
            )
        rng = check_random_state(self.random_state)
        counts = rng.multinomial(n_samples, self.weights_)
        X = np.vstack([
            COVARIANCE[self.covariance_type].sample(rng, self.means_[k], self.covariances_, k,
                                                    int(c))
            for k, c in enumerate(counts)
        ])
        y = np.concatenate([np.full(int(c), k, dtype=np.int64) for k, c in enumerate(counts)])
        return X, y

    def impute(self, X, return_std=False):
        """X with every NaN replaced by its conditional mean given the
        row's observed features under the fitted mixture (the posterior-
        weighted mean of the components' conditional means; a row of NaN
        gets the mixture mean). Observed entries are returned unchanged.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), NaN = missing
        return_std : bool, default=False
            Also return the conditional standard deviations (0 for
            observed entries; over the mixture, by the law of total
            variance).

        Returns
        -------
        X_imputed : ndarray of shape (n_samples, n_features), float64
        std : ndarray of shape (n_samples, n_features), only with return_std
        """
        return _missing.impute(self, X, return_std)

    def marginal(self, indices):
        """The mixture over the features ``indices`` (in that order), a
        fitted GaussianMixture of the same covariance type (see
        :mod:`gmscore.conditional`)."""
        from .conditional import marginal

        return marginal(self, indices)

    def condition(self, indices, values):
        """The mixture of the other features given ``x[indices] = values``:
        for one row of values a fitted GaussianMixture over the remaining
        features; for a 2-D batch of rows a
        :class:`~gmscore.conditional.ConditionalMixture` with per-row
        weights and means (rows run in the compiled kernel)."""
        from .conditional import condition

        return condition(self, indices, values)

    def _n_parameters(self):
        k, d = self.means_.shape
        cov = COVARIANCE[self.covariance_type].n_parameters(k, d)
        return int(cov + k * d + k - 1)

    # ------------------------------------------------------------- verbose
    def _verbose_init_begin(self, n_init):
        if self.verbose >= 1:
            print(f"Initialization {n_init}")
            self._init_prev_time = self._iter_prev_time = time.time()

    def _verbose_iter_end(self, n_iter, change):
        if self.verbose >= 1 and n_iter % self.verbose_interval == 0:
            if self.verbose == 1:
                print(f"  Iteration {n_iter}")
            else:
                now = time.time()
                print(f"  Iteration {n_iter}\t time lapse {now - self._iter_prev_time:.5f}s"
                      f"\t ll change {change:.5f}")
                self._iter_prev_time = now

    def _verbose_init_end(self, lower_bound, converged):
        if self.verbose >= 1:
            msg = "converged" if converged else "did not converge"
            if self.verbose == 1:
                print(f"Initialization {msg}.")
            else:
                print(f"Initialization {msg}. time lapse "
                      f"{time.time() - self._init_prev_time:.5f}s\t lower bound {lower_bound:.5f}.")

    # ---------------------------------------------------- MAP adaptation
    def adapt(self, X, relevance_factor=16.0, update="m", sample_weight=None):
        """A new fitted GaussianMixture MAP-adapted from this one (the
        universal background model) to X, in one pass over X (Reynolds et
        al. 2000; formulas in :mod:`gmscore.adapt`). This model is not
        changed.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or a data source
            (see ``fit``).
        relevance_factor : float >= 0, default=16.0
            r in alpha_k = n_k / (n_k + r): 0 gives one EM M-step from this
            model, larger values stay closer to it.
        update : str, default='m'
            Any combination of 'w' (weights), 'm' (means), 'c' (covariances).
        sample_weight : array-like of shape (n_samples,), optional

        Returns
        -------
        GaussianMixture
            Score it against this model with
            :func:`gmscore.adapt.score_utterances`.
        """
        from .adapt import adapt_mixture

        return adapt_mixture(self, X, relevance_factor, update, sample_weight)
