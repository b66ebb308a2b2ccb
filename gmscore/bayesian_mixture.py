"""BayesianGaussianMixture: a drop-in for
sklearn.mixture.BayesianGaussianMixture whose variational E-step runs in
GaussianMixture's fused, blocked C kernel.

Why no new kernel is needed: under the variational posterior, component k's
expected log-density (Bishop 10.46; scikit-learn's ``_estimate_log_prob``
plus ``_estimate_log_weights``) is

    l_ik = E[log pi_k] + E[log|Lambda_k|] / 2 - D/2 log(2 pi) - D / (2 beta_k)
           - nu_k (x_i - m_k)^T W_k (x_i - m_k) / 2,

a Gaussian log-density with precision nu_k W_k = U_k U_k^T (scikit-learn's
``precisions_cholesky_``) plus a per-component constant: with
E[log|Lambda_k|] = sum_j digamma((nu_k - j) / 2) + D log 2 + log|W_k| and
log|W_k| / 2 = log|U_k| - D/2 log nu_k,

    l_ik = log N(x_i; m_k, U_k) + E[log pi_k] - D/2 log nu_k
           + (sum_j digamma((nu_k - j) / 2) + D log 2 - D / beta_k) / 2,

so the kernel that computes log N(x; m_k, U_k) + log_norm_k, the
responsibilities and their statistics block by block (no N x K array) is
given log_norm_k = the constant above and returns GaussianStats about the
current means, which the variational M-step consumes.

The lower bound needs sum_ik r_ik log r_ik. With log Z_i the rows'
log-sum-exp (the kernel's log-likelihood output) it is
    sum_ik r_ik l_ik - sum_i log Z_i,
and sum_ik r_ik l_ik = sum_k n_k log_norm_k - tr(P_k S_k) / 2 with S_k the
second moments about m_k: statistics only, no N x K array and no extra
kernel accumulator.
"""
import numpy as np

from ._base import ParamsMixin
from ._core import variational as vb
from ._core.covariance import COV_TYPES, COVARIANCE
from ._core.em import RestoresOnFailure
from ._core.gaussian_mstep import parameters_from_stats
from ._init import source_initial_statistics
from ._mixture_predictions import MixturePredictions
from ._validation import (
    array_like_or_none,
    boolean,
    check_is_fitted,
    interval,
    options,
    random_state_like,
)
from .mixture import GaussianMixture, _MixtureRun
from . import _bayesian_priors as priors
from . import _missing, _missing_variational

LOG_2PI = np.log(2.0 * np.pi)

_PARAMS = ("weight_concentration_", "mean_precision_", "means_", "degrees_of_freedom_",
           "covariances_", "precisions_cholesky_")


def _positive_or_array(v):
    if v is None or hasattr(v, "__len__") or hasattr(v, "__array__"):
        return True
    return interval(float, 0.0, low_open=True)[0](v)


class BayesianGaussianMixture(MixturePredictions, RestoresOnFailure, ParamsMixin):
    """Variational Bayesian estimation of a Gaussian mixture.

    Same parameters, defaults, attributes and methods as
    :class:`sklearn.mixture.BayesianGaussianMixture` (plus ``n_threads``
    and ``fit``'s ``sample_weight``); the variational E-step runs in the
    fused multi-threaded C kernel of :class:`~gmscore.GaussianMixture` and
    never allocates an n_samples x n_components array.

    Parameters
    ----------
    n_components : int, default=1
        Upper bound on the number of components; unneeded ones get weights
        close to zero.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}, default='full'
    tol : float, default=1e-3
        EM stops when the lower bound (a total over the samples, as in
        scikit-learn) changes by less.
    reg_covar : float, default=1e-6
        Added to the diagonal of the data's covariances at each M-step.
    max_iter : int, default=100
    n_init : int, default=1
        Initialisations; the one with the highest lower bound is kept.
    init_params : {'kmeans', 'k-means++', 'random', 'random_from_data'}, default='kmeans'
    weight_concentration_prior_type : {'dirichlet_process', 'dirichlet_distribution'}, \
default='dirichlet_process'
        Stick-breaking (truncated Dirichlet process) or finite Dirichlet
        prior on the weights.
    weight_concentration_prior : float > 0 or None, default=None
        gamma; None means 1 / n_components.
    mean_precision_prior : float > 0 or None, default=None
        beta_0; None means 1.
    mean_prior : array-like of shape (n_features,) or None, default=None
        m_0; None means the (weighted) mean of X.
    degrees_of_freedom_prior : float > n_features - 1 or None, default=None
        nu_0; None means n_features.
    covariance_prior : float or array-like or None, default=None
        W_0^-1: (n_features, n_features) symmetric positive definite for
        'full' and 'tied', (n_features,) positive for 'diag', a positive
        float for 'spherical'. None means the (weighted) covariance of X
        (ddof=1).
    random_state : int, RandomState or None, default=None
    warm_start : bool, default=False
    verbose : int, default=0
    verbose_interval : int, default=10
    n_threads : int or None, default=None
        Threads for the kernels (None: OpenMP's default, capped at the
        CPUs). Results are bitwise identical for any thread count.
    nan_policy : {'raise', 'marginalize'}, default='raise'
        NaN entries of X: 'raise' refuses them (scikit-learn's error);
        'marginalize' treats them as missing at random (in-memory X and
        data frames only; other sources still refuse NaN) with q(z, x_m)
        in the mean-field posterior: each row's responsibilities come
        from the expected log-density marginalised over its missing
        features, and the variational M-step takes the expected
        statistics (conditional means in the missing slots, conditional
        covariances added to the second moments; see
        gmscore._missing_variational). ``lower_bound_`` stays the
        variational lower bound. Rows with every entry NaN are ignored by
        ``fit`` (with a warning); a feature that is NaN in every row is an
        error. The default ``mean_prior`` is then each feature's mean over
        the rows observing it, and the default ``covariance_prior`` the
        covariance of the rows with each NaN replaced by a random draw
        from its feature's observed values (the filling the
        initialisation also uses). The predictions then also take rows
        with NaN; ``impute`` fills NaN with conditional means.

    Attributes
    ----------
    weights_, means_, covariances_, precisions_, precisions_cholesky_
    weight_concentration_prior_, weight_concentration_ : float / tuple / ndarray
    mean_precision_prior_, mean_precision_, mean_prior_
    degrees_of_freedom_prior_, degrees_of_freedom_, covariance_prior_
    converged_, n_iter_, lower_bound_, lower_bounds_, n_features_in_
        As scikit-learn's (``lower_bound_`` is the total lower bound of the
        best initialisation, not a mean per sample).
    restart_histories_ : list of list of float
        (gmscore) The lower bound at every iteration of each of the
        ``n_init`` initialisations, in order.

    Notes
    -----
    With ``sample_weight`` every sum over samples is weighted, including
    the default priors' mean and covariance (so integer weights give the
    fit of repeated rows; the default covariance_prior then needs a total
    weight above 1). 'kmeans' initialisation uses gmscore's own k-means;
    with 'tied' and 'k-means++' / 'random_from_data' the initial shared
    covariance is the data's covariance plus ``reg_covar`` (as
    GaussianMixture's). Fitted parameters are float64 for float32 input
    too, as scikit-learn's are. From identical starting parameters the
    iterations agree with scikit-learn's to rounding.

    Examples
    --------
    >>> import numpy as np
    >>> from gmscore import BayesianGaussianMixture
    >>> rng = np.random.RandomState(0)
    >>> X = np.vstack([rng.randn(200, 2), rng.randn(200, 2) + 8])
    >>> bgm = BayesianGaussianMixture(n_components=5, random_state=0).fit(X)
    >>> int((bgm.weights_ > 0.1).sum())
    2
    """

    _parameter_constraints = {
        "n_components": interval(int, 1),
        "covariance_type": options(*COV_TYPES),
        "tol": interval(float, 0.0),
        "reg_covar": interval(float, 0.0),
        "max_iter": interval(int, 0),
        "n_init": interval(int, 1),
        "init_params": options("kmeans", "k-means++", "random", "random_from_data"),
        "weight_concentration_prior_type": options("dirichlet_process",
                                                   "dirichlet_distribution"),
        "weight_concentration_prior": interval(float, 0.0, low_open=True, none_ok=True),
        "mean_precision_prior": interval(float, 0.0, low_open=True, none_ok=True),
        "mean_prior": array_like_or_none(),
        "degrees_of_freedom_prior": interval(float, 0.0, low_open=True, none_ok=True),
        "covariance_prior": (_positive_or_array,
                             "None, an array-like or a float in the range (0.0, inf)"),
        "random_state": random_state_like(),
        "warm_start": boolean(),
        "verbose": interval(int, 0),
        "verbose_interval": interval(int, 1),
        "n_threads": interval(int, 1, none_ok=True),
        "nan_policy": options(*_missing.NAN_POLICIES),
    }

    # what the predictions read (gmscore._core.prepared)
    _PREPARED_FROM = ("weight_concentration_", "mean_precision_", "means_",
                      "degrees_of_freedom_", "precisions_cholesky_")

    def __init__(self, *, n_components=1, covariance_type="full", tol=1e-3, reg_covar=1e-6,
                 max_iter=100, n_init=1, init_params="kmeans",
                 weight_concentration_prior_type="dirichlet_process",
                 weight_concentration_prior=None, mean_precision_prior=None, mean_prior=None,
                 degrees_of_freedom_prior=None, covariance_prior=None, random_state=None,
                 warm_start=False, verbose=0, verbose_interval=10, n_threads=None,
                 nan_policy="raise"):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.weight_concentration_prior_type = weight_concentration_prior_type
        self.weight_concentration_prior = weight_concentration_prior
        self.mean_precision_prior = mean_precision_prior
        self.mean_prior = mean_prior
        self.degrees_of_freedom_prior = degrees_of_freedom_prior
        self.covariance_prior = covariance_prior
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.verbose_interval = verbose_interval
        self.n_threads = n_threads
        self.nan_policy = nan_policy

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.estimator_type = "density_estimator"
        return tags

    # GaussianMixture's model-independent machinery, shared rather than
    # copied: the fit driver (data source, thread sizing, warm-start shape
    # checks, fit_em, the convergence warning), the kernel E-step over any
    # source (in memory, chunked, Dask; re-centring passes), sampling and
    # the verbose messages. They read only what both classes have
    # (n_components, covariance_type, means_, _kernel_parameters, ...).
    # (with nan_policy='marginalize' the fit driver builds the
    # MissingArraySource; _estep_about and the predictions then run the
    # variational missing-value E-step of gmscore._missing_variational)
    _fit = GaussianMixture._fit
    _clamped_rows = GaussianMixture._clamped_rows    # no partial labels: y is None
    _check_warm_start_model = GaussianMixture._check_warm_start_model
    _estep = GaussianMixture._estep

    def _estep_about(self, source, kernel_model, centres):
        if getattr(source, "missing", None) is not None:     # nan_policy='marginalize'
            return _missing.estep(self, source, centres, _missing_variational.mixture_arguments)
        return GaussianMixture._estep_about(self, source, kernel_model, centres)

    _estep_distributed = GaussianMixture._estep_distributed
    sample = GaussianMixture.sample
    _verbose_init_begin = GaussianMixture._verbose_init_begin
    _verbose_iter_end = GaussianMixture._verbose_iter_end
    _verbose_init_end = GaussianMixture._verbose_init_end

    # ------------------------------------------------------------------ fit
    def fit(self, X, y=None, sample_weight=None):
        """Fit by variational EM (``n_init`` initialisations, best lower
        bound kept).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or a data source
            An in-memory array; an np.memmap, h5py.Dataset or zarr.Array
            (read in chunks); a callable returning a fresh iterator of
            chunks (or (X, sample_weight) tuples) on every call; a dask
            array. See GaussianMixture.fit.
        y : ignored
        sample_weight : array-like of shape (n_samples,), optional
            Non-negative weights; integer weights give the fit of repeated
            rows.

        Returns
        -------
        self
        """
        self._fit(X, sample_weight)
        return self

    def fit_predict(self, X, y=None, sample_weight=None):
        """Fit, then return the most probable component of each sample
        (equal to ``fit(X).predict(X)``)."""
        source = self._fit(X, sample_weight)
        if getattr(source, "missing", None) is not None:
            return _missing.predictions(self, source.X_nan, "labels",
                                        _missing_variational.mixture_arguments)
        return self._predict_source(source)

    # EM driver hooks (gmscore._core.em)
    def _em_start(self, source, random_state, index):
        warm = self.warm_start and hasattr(self, "converged_")
        if index == 0:
            if warm:
                self._check_warm_prior_type()
            if getattr(source, "missing", None) is not None:
                # the data mean of the default priors: each feature's
                # mean over the rows observing it
                source._prior_mean = _missing_variational.observed_means(source)
            priors.set_priors(self, source)
        self._verbose_init_begin(index)
        if not warm:
            stats, data, one_row_each = source_initial_statistics(
                source, self.init_params, self.n_components, self.covariance_type,
                random_state)
            self._mstep(stats, data if one_row_each else None)
        self.n_features_in_ = source.n_features
        run = _MixtureRun(self.tol, self.lower_bound_ if warm else -np.inf)
        run.dtype = source.dtype
        return run

    def _em_iterate(self, source, run):
        kernel_model = self._kernel_parameters(source.dtype)
        stats = self._estep(source, kernel_model)
        r_log_r = self._sum_r_log_r(stats, kernel_model[2])
        self._mstep(stats)
        lower_bound = self._lower_bound(r_log_r)
        self._verbose_iter_end(run.n_iter + 1, lower_bound - run.reference)
        return lower_bound

    def _em_end(self, run):
        if self.max_iter > 0:
            self._verbose_init_end(run.score, run.converged)

    def _em_params(self):
        return tuple(getattr(self, name) for name in _PARAMS)

    def _em_adopt(self, params, run):
        self._set_parameters(params)
        self.converged_ = run.converged
        self.n_iter_ = run.n_iter
        self.lower_bound_ = run.score
        self.lower_bounds_ = run.lower_bounds
        self.restart_histories_ = run.histories

    def _check_warm_prior_type(self):
        is_tuple = isinstance(self.weight_concentration_, tuple)
        if is_tuple != (self.weight_concentration_prior_type == "dirichlet_process"):
            raise ValueError(
                "warm_start=True continues the previous fit, but "
                "weight_concentration_prior_type changed to "
                f"{self.weight_concentration_prior_type!r}; set warm_start=False to fit a "
                "new model")

    def _set_parameters(self, params):
        for name, value in zip(_PARAMS, params):
            setattr(self, name, value)
        if self.weight_concentration_prior_type == "dirichlet_process":
            self.weights_ = vb.stick_breaking_mean_weights(*self.weight_concentration_)
        else:
            self.weights_ = self.weight_concentration_ / np.sum(self.weight_concentration_)
        self.precisions_ = COVARIANCE[self.covariance_type].precisions_from_cholesky(
            self.precisions_cholesky_)

    # ---------------------------------------------------- variational steps
    def _expected_log_weights(self):
        if self.weight_concentration_prior_type == "dirichlet_process":
            return vb.stick_breaking_expected_log(*self.weight_concentration_)
        return vb.dirichlet_expected_log(self.weight_concentration_)

    def _kernel_parameters(self, dtype):
        """Means and precision factors in the input dtype, and the
        per-component constant of the expected log-density (see the module
        docstring)."""
        ct = self.covariance_type
        k, d = np.shape(self.means_)
        entry = COVARIANCE[ct]
        log_det = entry.log_det_cholesky(np.asarray(self.precisions_cholesky_,
                                                    dtype=np.float64), d)
        dof = np.asarray(self.degrees_of_freedom_, dtype=np.float64)
        beta = np.asarray(self.mean_precision_, dtype=np.float64)
        # the precision factor is of nu W: its log det holds D/2 log nu
        log_norm = (self._expected_log_weights() + log_det - 0.5 * d * LOG_2PI
                    - 0.5 * d * np.log(dof)
                    + 0.5 * (vb.wishart_expected_log_det(dof, d) - d / beta))
        log_norm = np.ascontiguousarray(np.broadcast_to(log_norm, (k,)), dtype=np.float64)
        means, prec = entry.kernel_arguments(self.means_, self.precisions_cholesky_, dtype)
        return means, prec, log_norm

    def _sum_r_log_r(self, stats, log_norm):
        """sum_i w_i sum_k r_ik log r_ik from the E-step's statistics (see
        the module docstring): r log r = r (l - log Z)."""
        s = stats if np.array_equal(stats.centres, self.means_) else \
            stats.recentred(self.means_)
        u = np.asarray(self.precisions_cholesky_, dtype=np.float64)
        ct = self.covariance_type
        if ct == "full":          # tr(U U^T S) = sum((S U) * U)
            quad = float(np.einsum("kij,kjl,kil->", s.s2, u, u))
        elif ct == "tied":
            quad = float(np.sum((s.s2 @ u) * u))
        elif ct == "diag":
            quad = float(np.sum(u * u * s.s2))
        else:
            quad = float(np.sum(u * u * s.s2.sum(axis=1)))
        return float(s.nk @ log_norm) - 0.5 * quad - stats.loglik

    def _mstep(self, stats, one_row_data=None):
        """The variational M-step from statistics (scikit-learn's
        _estimate_weights / _estimate_means / _estimate_precisions on
        n_k, x_k, S_k); ``one_row_data``: an initialisation of one row per
        component, whose tied covariance starts as the data's. Assigned
        only when every parameter is computed, so a failure leaves the
        model as it was."""
        ct = self.covariance_type
        nk, xk, sk = parameters_from_stats(stats, ct, self.reg_covar, floor=False)
        if one_row_data is not None and ct == "tied":
            d = xk.shape[1]
            sk = one_row_data.scatter[0] / one_row_data.total_weight + self.reg_covar * np.eye(d)
        gamma0 = self.weight_concentration_prior_
        if self.weight_concentration_prior_type == "dirichlet_process":
            # b_k = gamma + sum_{j>k} n_j
            tail = np.concatenate((np.cumsum(nk[::-1])[-2::-1], [0.0]))
            concentration = (1.0 + nk, gamma0 + tail)
        else:
            concentration = gamma0 + nk
        beta0, m0 = self.mean_precision_prior_, self.mean_prior_
        beta = beta0 + nk
        means = (beta0 * m0 + nk[:, None] * xk) / beta[:, None]
        dof, cov = priors.WISHART_UPDATE[ct](self, nk, xk, sk, beta)
        prec_chol = COVARIANCE[ct].precision_cholesky(cov)
        self.weight_concentration_ = concentration
        self.mean_precision_ = beta
        self.means_ = means
        self.degrees_of_freedom_ = dof
        self.covariances_ = cov
        self.precisions_cholesky_ = prec_chol

    def _lower_bound(self, r_log_r):
        """scikit-learn's lower bound (constants dropped) from the new
        parameters and the E-step's sum r log r."""
        ct = self.covariance_type
        d = self.means_.shape[1]
        dof = self.degrees_of_freedom_
        # the factor is of the normalised precision nu W: U_W = U / sqrt(nu)
        log_det_chol = COVARIANCE[ct].log_det_cholesky(self.precisions_cholesky_, d) \
            - 0.5 * d * np.log(dof)
        log_wishart = vb.log_wishart_norm(dof, log_det_chol, d)
        log_wishart = self.n_components * float(log_wishart) if ct == "tied" \
            else float(np.sum(log_wishart))
        if self.weight_concentration_prior_type == "dirichlet_process":
            log_norm_weight = vb.log_beta_norm(*self.weight_concentration_)
        else:
            log_norm_weight = float(vb.log_dirichlet_norm(self.weight_concentration_))
        return (-r_log_r - log_wishart - log_norm_weight
                - 0.5 * d * float(np.sum(np.log(self.mean_precision_))))

    # ------------------------------------------------ statistics interface
    def accumulate(self, X, sample_weight=None):
        """Sufficient statistics of X under the current posterior (the
        variational E-step: responsibilities from the expected
        log-densities), centred at the current means.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or a data source
        sample_weight : array-like of shape (n_samples,), optional

        Returns
        -------
        stats : gmscore.GaussianStats
            Merge the statistics of several parts with ``+``; ``maximize``
            turns them into posterior parameters.
        """
        return GaussianMixture.accumulate(self, X, sample_weight)

    def maximize(self, stats):
        """The variational M-step: set the posterior parameters from
        ``stats`` (GaussianStats of this model's covariance type and size,
        e.g. the sum of ``accumulate`` over parts of the data) with the
        priors of the last fit. One ``accumulate`` over all of X followed by
        ``maximize`` is one iteration of ``fit``. Returns self; on error
        the model is left as it was."""
        check_is_fitted(self, ("means_", "mean_prior_", "covariance_prior_"))
        return GaussianMixture.maximize(self, stats)

    # ------------------------------------------------------------ methods
    def _missing_rows(self, X, which):
        """Rows with NaN under nan_policy='marginalize', else None."""
        if self.nan_policy != "marginalize":
            return None
        return _missing.predictions(self, X, which, _missing_variational.mixture_arguments)

    def impute(self, X, return_std=False):
        """X with every NaN replaced by its conditional mean given the
        row's observed features under the variational posterior: the
        responsibility-weighted mean of the components' Gaussian
        conditionals with means ``means_`` and covariances
        ``covariances_`` (a row of NaN gets the responsibility-weighted
        mean of ``means_``). Observed entries are returned unchanged.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), NaN = missing
        return_std : bool, default=False
            Also return the conditional standard deviations (0 for
            observed entries; over the components, by the law of total
            variance).

        Returns
        -------
        X_imputed : ndarray of shape (n_samples, n_features), float64
        std : ndarray of shape (n_samples, n_features), only with return_std
        """
        return _missing.impute(self, X, return_std, _missing_variational.mixture_arguments)

    @property
    def bic(self):
        raise AttributeError("BayesianGaussianMixture has no bic (nor has scikit-learn's); "
                             "compare lower_bound_, or use GaussianMixture.bic")

    @property
    def aic(self):
        raise AttributeError("BayesianGaussianMixture has no aic (nor has scikit-learn's); "
                             "compare lower_bound_, or use GaussianMixture.aic")
