"""VariationalGaussianHMM and VariationalCategoricalHMM: drop-ins for
hmmlearn 0.3's variational (Bayesian) HMMs, on gmscore's compiled chain.

Variational Bayes EM keeps conjugate posteriors instead of point
estimates: Dirichlet rows for startprob, transmat (and emissionprob), a
Normal-Wishart per Gaussian state (see gmscore._core.variational). One iteration:

1. E-step: forward-backward (the C kernels of every HMM) with the
   subnormalised "probabilities" exp(E[log pi]), exp(E[log A]) (rows sum
   to less than one; the recursions never assume they sum to one) and the
   expected emission log-likelihoods. Under the Normal-Wishart that is a
   Gaussian log-density with covariance S / dof plus a per-state constant,
   0.5 E[log det Lambda] - 0.5 D / beta, so the Gaussian emission kernel
   computes it with adjusted constants; the categorical kernel gathers
   E[log B]. Statistics: ChainStats around GaussianStats / CountStats.
2. The lower bound of the parameters the E-step used: the forward
   log-normaliser minus the KL divergences of the posteriors from the
   priors. hmmlearn leaves the constant -N D / 2 log(2 pi) out; so do we,
   so that ``monitor_.history`` agrees. The monitor records this bound.
3. M-step: posterior = prior + expected counts, and the point estimates
   ``startprob_``, ``transmat_``, ``means_``, ``covars_`` (or
   ``emissionprob_``) that score,
   decode and sample use.

``fit`` runs on the shared EM driver (restarts, restore on failure, the
convergence monitor) through the BaseHMM hooks ``_estep_chain``,
``_estep_log_likelihood`` and ``_em_objective``.
"""
import numpy as np

from . import _discretec, _kernels
from ._core.covariance import COV_TYPES, COVARIANCE
from ._core.variational import (
    EXPECTED_COVARIANCE,
    dirichlet_expected_log,
    expected_log_norm,
    kl_dirichlet,
    normal_wishart_kl,
)
from ._emissions import (
    GaussianEmissions,
    _as_float,
    _data_covariance,
    _precision_factors,
    _validate_covariances,
    _work_array,
)
from ._hmm_base import BaseHMM
from ._hmm_params import (
    broadcast_prior,
    positive_array,
    require_attributes,
    store_init_args,
)
from ._init import kmeans
from ._validation import options
from .discrete import CategoricalEmissions, _as_kernel_input
from .hmm import GaussianHMM

# hmmlearn's data-covariance regulariser at initialisation and its default
# scale prior (a fixed 1e-3: the variational models have no min_covar)
_INIT_COVAR = 1e-3


def _kl_dirichlet_rows(q, p):
    """The KL of a Dirichlet posterior from its prior, summed over rows."""
    return float(np.sum(kl_dirichlet(q, p)))


def _dirichlet_draws(rs, alpha, size=None):
    """hmmlearn's random posterior start, rs.dirichlet(alpha, size), with
    entries below 1e-300 (numpy draws exact zeros for alpha ~ 1e-2 and
    below) raised to 1e-300: a Dirichlet parameter must be positive, and
    the first lower bound, whose KL terms grow as 1 / entry, stays finite
    (hmmlearn's is NaN then)."""
    return np.maximum(rs.dirichlet(alpha, size), 1e-300)


class _VariationalChain:
    """Dirichlet posteriors of the start and transition probabilities
    (hmmlearn's VariationalBaseHMM); the emission mixin after it supplies
    ``_emission_kl`` and the emission parts of the hooks."""

    _collapse_hint = ("use fewer states, stronger priors (scale_prior, dof_prior), or check "
                      "the data")
    _chain_param_names = ("startprob_prior_", "startprob_posterior_", "transmat_prior_",
                          "transmat_posterior_", "startprob_", "transmat_")

    def _fitted_param_names(self):
        return self._chain_param_names + self._emission_param_names

    def partial_fit(self, X, lengths=None, **kwargs):
        """Not available for the variational models (online EM blends
        point-estimate statistics): raises TypeError."""
        raise TypeError(f"partial_fit is not available for {type(self).__name__}; use fit, "
                        "or accumulate over the batches and maximize")

    # ---------------------------------------------------- initialisation
    def _init_parameters(self, data, rs, warn=False):
        k = self.n_components
        self._warn_overwrite = warn
        try:
            if self._needs_init("s", "startprob_posterior_") or \
                    self._needs_init("s", "startprob_prior_"):
                prior = 1.0 / k if self.startprob_prior is None else self.startprob_prior
                self.startprob_prior_ = broadcast_prior(prior, (k,), "startprob_prior")
                self.startprob_posterior_ = (_dirichlet_draws(rs, np.full(k, 1.0 / k))
                                             * data.n_sequences)
                self.startprob_ = self.startprob_posterior_ / self.startprob_posterior_.sum()
            if self._needs_init("t", "transmat_posterior_") or \
                    self._needs_init("t", "transmat_prior_"):
                prior = 1.0 / k if self.transmat_prior is None else self.transmat_prior
                self.transmat_prior_ = broadcast_prior(prior, (k, k), "transmat_prior")
                post = _dirichlet_draws(rs, np.full(k, 1.0 / k), k) * (data.n_samples / k)
                self.transmat_posterior_ = post
                self.transmat_ = post / post.sum(axis=1, keepdims=True)
            self._init_emissions(data, rs)
        finally:
            del self._warn_overwrite

    def _check(self, n_features=None):
        k = self.n_components
        for name, shape in (("startprob_prior_", (k,)), ("startprob_posterior_", (k,)),
                            ("transmat_prior_", (k, k)), ("transmat_posterior_", (k, k))):
            require_attributes(self, (name,))
            setattr(self, name, positive_array(getattr(self, name), name, shape))
        for name in ("startprob", "transmat"):   # assigned posteriors, no estimate yet
            if not hasattr(self, name + "_"):
                post = getattr(self, name + "_posterior_")
                setattr(self, name + "_", post / post.sum(axis=-1, keepdims=True))
        super()._check(n_features)

    # ---------------------------------------------------------- E-step
    def _estep_chain(self):
        start = np.exp(dirichlet_expected_log(self.startprob_posterior_))
        trans = np.exp(dirichlet_expected_log(self.transmat_posterior_))
        return np.ascontiguousarray(start), np.ascontiguousarray(trans)

    def _em_objective(self, stats):
        """The variational lower bound of the E-step's parameters."""
        kl = (_kl_dirichlet_rows(self.startprob_posterior_, self.startprob_prior_)
              + _kl_dirichlet_rows(self.transmat_posterior_, self.transmat_prior_))
        return stats.loglik - kl - self._emission_kl()

    # ---------------------------------------------------------- M-step
    def _do_mstep(self, stats):
        if "s" in self.params:
            self.startprob_posterior_ = self.startprob_prior_ + stats.start
            self.startprob_ = self.startprob_posterior_ / self.startprob_posterior_.sum()
        if "t" in self.params:
            self.transmat_posterior_ = self.transmat_prior_ + stats.trans
            self.transmat_ = (self.transmat_posterior_
                              / self.transmat_posterior_.sum(axis=1, keepdims=True))
        self._do_emission_mstep(stats.emissions)


# ------------------------------------------------ Gaussian scale updates
# The M-step of S, per covariance type, from statistics about the new
# posterior means m. With m = (beta0 m0 + sum_t g_t x_t) / beta (the same
# M-step updated it), hmmlearn's
#     S = S0 + sum_t g_t x_t x_t^T + beta0 m0 m0^T - beta m m^T
# is exactly S0 + sum_t g_t (x_t - m)(x_t - m)^T + beta0 (m - m0)(m - m0)^T,
# which keeps its digits far from the origin. When 'm' is not being updated
# (m, beta stale) the general form about m is used:
#     S0 + s2(m) + s1(m) m^T + m s1(m)^T + (N - beta) m m^T + beta0 m0 m0^T.
def _pair_full(a, b, w):
    return w[:, None, None] * a[:, :, None] * b[:, None, :]


_PAIR = {   # sum_k w_k a_k b_k^T in the type's own form
    "full": _pair_full,
    "tied": lambda a, b, w: np.einsum("k,ki,kj->ij", w, a, b),
    "diag": lambda a, b, w: w[:, None] * a * b,
    "spherical": lambda a, b, w: (w[:, None] * a * b).mean(axis=1),
}
_SECOND = {"full": lambda s2: s2, "tied": lambda s2: s2, "diag": lambda s2: s2,
           "spherical": lambda s2: s2.mean(axis=1)}


def _scale_update(ct, at_m, m, beta, m0, beta0, fresh):
    pair = _PAIR[ct]
    s = _SECOND[ct](at_m.s2)
    if fresh:
        diff = m - m0
        return s + pair(diff, diff, beta0)
    ones = np.ones_like(beta)
    return (s + pair(at_m.s1, m, ones) + pair(m, at_m.s1, ones) + pair(m, m, at_m.nk - beta)
            + pair(m0, m0, beta0))


def _scale_shape(ct, k, d):
    return COVARIANCE[ct].shape(k, d)


def _default_scale_prior(ct, k, d):
    return {"full": lambda: np.broadcast_to(np.eye(d) * _INIT_COVAR, (k, d, d)).copy(),
            "tied": lambda: np.eye(d) * _INIT_COVAR,
            "diag": lambda: np.full((k, d), _INIT_COVAR),
            "spherical": lambda: np.full(k, _INIT_COVAR)}[ct]()


class VariationalGaussianEmissions(GaussianEmissions):
    """Normal-Wishart posteriors per state (hmmlearn's parametrisation);
    scoring uses the point estimates ``means_ = means_posterior_`` and
    ``covars_ = scale_posterior_ / dof_posterior_`` (GaussianEmissions)."""

    _emission_param_names = ("means_prior_", "means_posterior_", "beta_prior_",
                             "beta_posterior_", "dof_prior_", "dof_posterior_", "scale_prior_",
                             "scale_posterior_", "_covars_")
    _prior_names = ("startprob_prior", "transmat_prior", "means_prior", "beta_prior",
                    "dof_prior", "scale_prior")

    covars_ = GaussianHMM.covars_

    @property
    def means_(self):
        """The posterior means (hmmlearn: ``means_`` is ``means_posterior_``)."""
        return self.means_posterior_

    def _emission_constraints(self):
        return {"covariance_type": options(*COV_TYPES),
                "nan_policy": options("raise", "marginalize")}

    def _estep_about(self, source, centres):
        if getattr(source, "missing", None) is not None:   # NaN marginalised
            from ._missing_hmm import estep
            from ._missing_variational import emission_arguments

            return estep(self, source, centres, emission_arguments)
        return super()._estep_about(source, centres)

    def _dof_shape(self):
        return () if self.covariance_type == "tied" else (self.n_components,)

    def _init_emissions(self, data, rs):
        ct, k, d = self.covariance_type, self.n_components, data.n_features
        need_m = (self._needs_init("m", "means_prior_") or
                  self._needs_init("m", "means_posterior_") or
                  self._needs_init("m", "beta_prior_") or self._needs_init("m", "beta_posterior_"))
        need_c = (self._needs_init("c", "dof_prior_") or self._needs_init("c", "dof_posterior_")
                  or self._needs_init("c", "scale_prior_") or
                  self._needs_init("c", "scale_posterior_"))
        if not (need_m or need_c):
            return
        labels, centres = kmeans(data.X, k, rs, None, data.n_threads,
                                 feature_variance=data.mean_variance)
        counts = np.bincount(labels, minlength=k).astype(np.float64)
        if need_m:
            mp = data.centre if self.means_prior is None else self.means_prior
            self.means_prior_ = broadcast_prior(mp, (k, d), "means_prior")
            self.means_posterior_ = np.array(centres, dtype=np.float64)
            bp = 1.0 if self.beta_prior is None else self.beta_prior
            self.beta_prior_ = broadcast_prior(bp, (k,), "beta_prior")
            # hmmlearn starts beta (and dof) at the cluster counts; the prior
            # plus the counts (the posterior of a hard assignment) stays
            # valid for clusters smaller than the dimension
            self.beta_posterior_ = self.beta_prior_ + counts
        if need_c:
            dp = d if self.dof_prior is None else self.dof_prior
            self.dof_prior_ = broadcast_prior(dp, self._dof_shape(), "dof_prior")
            self.dof_posterior_ = self.dof_prior_ + (counts.sum() if ct == "tied" else counts)
            cv = _data_covariance(data, _INIT_COVAR)
            self._covars_ = {"full": lambda: np.tile(cv, (k, 1, 1)), "tied": lambda: cv,
                             "diag": lambda: np.tile(np.diag(cv), (k, 1)),
                             "spherical": lambda: np.full(k, cv.mean())}[ct]()
            shape = _scale_shape(ct, k, d)
            self.scale_prior_ = (_default_scale_prior(ct, k, d) if self.scale_prior is None
                                 else broadcast_prior(self.scale_prior, shape, "scale_prior"))
            dof = self.dof_posterior_
            self.scale_posterior_ = {"full": lambda: self._covars_ * dof[:, None, None],
                                     "tied": lambda: self._covars_ * dof,
                                     "diag": lambda: self._covars_ * dof[:, None],
                                     "spherical": lambda: self._covars_ * dof}[ct]()

    def _check_emissions(self, n_features=None):
        ct, k = self.covariance_type, self.n_components
        require_attributes(self, self._emission_param_names, shown=lambda n: n.lstrip("_"))
        post = _as_float(self.means_posterior_, "means_posterior_")
        if post.ndim != 2 or post.shape[0] != k:
            raise ValueError(f"means_posterior_ must have shape (n_components, n_features), "
                             f"got {post.shape}")
        d = post.shape[1]
        if n_features is not None and d != n_features:
            raise ValueError(f"means_posterior_ has {d} features but X has {n_features}")
        for name in ("means_prior_", "means_posterior_"):
            arr = _as_float(getattr(self, name), name)
            if arr.shape != (k, d) or not np.isfinite(arr).all():
                raise ValueError(f"{name} must be a finite array of shape {(k, d)}")
            setattr(self, name, arr)
        for name in ("beta_prior_", "beta_posterior_"):
            setattr(self, name, positive_array(getattr(self, name), name, (k,)))
        for name in ("dof_prior_", "dof_posterior_"):
            dof = positive_array(getattr(self, name), name, self._dof_shape())
            if (dof <= d - 1).any():
                raise ValueError(f"{name} must exceed n_features - 1 = {d - 1} (a Wishart's "
                                 f"degrees of freedom), got {dof}")
            setattr(self, name, float(dof) if ct == "tied" else dof)
        shape = _scale_shape(ct, k, d)
        for name in ("scale_prior_", "scale_posterior_"):
            setattr(self, name, _validate_covariances(getattr(self, name), ct, shape, name))
        self.n_features = d
        cov = _as_float(self._covars_, "covars_")
        if ct == "diag" and cov.shape == (k, 1):
            cov = np.repeat(cov, d, axis=1)
        self._covars_ = _validate_covariances(cov, ct, shape)

    def _estep_log_likelihood(self, X, n_threads, data):
        """E[log N(x_t | mu_k, Lambda_k)] + D/2 log(2 pi) under the posterior."""
        ct, k, d = self.covariance_type, self.n_components, X.shape[1]
        prec = _precision_factors(EXPECTED_COVARIANCE[ct](self.scale_posterior_,
                                                          self.dof_posterior_), ct)
        const = np.broadcast_to(expected_log_norm(ct, d, self.beta_posterior_,
                                                  self.dof_posterior_, self.scale_posterior_),
                                (k,))
        out = _work_array(data, "framelogprob", (X.shape[0], k))
        means, flat = COVARIANCE[ct].kernel_arguments(self.means_posterior_, prec, X.dtype)
        _kernels.weighted_log_prob(COVARIANCE[ct].code, X, means, flat,
                                   np.ascontiguousarray(const, dtype=np.float64), out, n_threads)
        return out, None

    def _emission_kl(self):
        return normal_wishart_kl(self.covariance_type, self.n_features, self.means_posterior_,
                                 self.beta_posterior_, self.dof_posterior_,
                                 self.scale_posterior_, self.means_prior_, self.beta_prior_,
                                 self.dof_prior_, self.scale_prior_)

    def _do_emission_mstep(self, em):
        if not ("m" in self.params or "c" in self.params):
            return
        ct = self.covariance_type
        nk = em.nk
        b0, m0 = self.beta_prior_, self.means_prior_
        fresh = "m" in self.params
        if fresh:
            self.beta_posterior_ = b0 + nk
            obs = em.s1 + nk[:, None] * em.centres          # sum_t g_tk x_t
            self.means_posterior_ = (b0[:, None] * m0 + obs) / self.beta_posterior_[:, None]
        if "c" not in self.params:
            return
        m = self.means_posterior_
        at_m = em.recentred(m)
        self.scale_posterior_ = self.scale_prior_ + _scale_update(
            ct, at_m, m, self.beta_posterior_, m0, b0, fresh)
        self.dof_posterior_ = self.dof_prior_ + (nk.sum() if ct == "tied" else nk)
        self._covars_ = EXPECTED_COVARIANCE[ct](self.scale_posterior_, self.dof_posterior_)

    def _emission_fit_scalars(self, d=None):
        # hmmlearn's counts (the beta and dof posteriors included)
        k, d = self.n_components, d or self._n_features_of_emissions()
        tri = d * (d + 1) // 2
        return {"m": k * d + k,
                "c": {"full": k + k * tri, "tied": 1 + tri, "diag": k + k * d,
                      "spherical": 2 * k}[self.covariance_type]}


_COMMON_DOC = """
    algorithm : {'viterbi', 'map'}, default='viterbi'
        Decoder used by ``predict``/``decode``.
    random_state : int, RandomState or None
    n_iter : int, default=100
        Maximum variational EM iterations.
    tol : float, default=1e-6
        Stop when the lower bound gains less than ``tol`` (a drop is not
        convergence; it is reported with a LikelihoodDecreaseWarning).
    verbose : bool, default=False
        Print a per-iteration table (iteration, lower bound, gain) to stderr.
    implementation : {'log', 'scaling'}, default='log'
        Forward-backward variant (see GaussianHMM).
    n_init : int, default=1
        Restarts; the one with the highest final lower bound is kept.
        gmscore extra.
    n_threads : int or None, default=None
        Kernel threads; results do not depend on it. gmscore extra.
"""


class VariationalGaussianHMM(_VariationalChain, VariationalGaussianEmissions, BaseHMM):
    __doc__ = """Hidden Markov model with Gaussian emissions trained by
    variational inference (hmmlearn's API).

    Parameters
    ----------
    n_components : int, default=1
    covariance_type : {'full', 'tied', 'diag', 'spherical'}, default='full'
    startprob_prior, transmat_prior : float, array or None
        Dirichlet priors (None: 1 / n_components).
    means_prior, beta_prior : array or None
        Normal prior of the means: centres (K, D), broadcast; None: the
        data mean) and precision scales (K,) (None: 1).
    dof_prior, scale_prior : array or None
        Wishart prior of the precisions: degrees of freedom ((K,), a
        number for 'tied'; None: n_features) and scale S ((K, D, D) full,
        (D, D) tied, (K, D) diag, (K,) spherical; None: 1e-3 I).
    params, init_params : str, default='stmc'
        s: startprob, t: transmat, m: means (and beta), c: covariances
        (dof and scale).
    """ + _COMMON_DOC + """    nan_policy : {'raise', 'marginalize'}, default='raise'
        NaN entries of X: 'raise' refuses them; 'marginalize' treats them
        as missing at random (X in memory, with ``lengths``). The
        variational E-step's emission of state k is then the expected
        log-density marginalised over each frame's missing features (a
        frame of NaN only emits the state's constant), and the M-step
        takes the expected statistics: conditional means and covariances
        of the missing entries weighted by the state posteriors (see
        gmscore._missing_variational); ``monitor_.history`` stays the
        variational lower bound. score, score_samples, predict_proba,
        predict and decode (with the point estimates, as without NaN)
        take NaN frames too, marginalising them. A feature NaN in every
        frame is an error. gmscore extra.

    Attributes
    ----------
    startprob_prior_, startprob_posterior_ : ndarray of shape (K,)
        Dirichlet prior and posterior of the start probabilities.
    transmat_prior_, transmat_posterior_ : ndarray of shape (K, K)
        Dirichlet priors and posteriors of the transition rows.
    means_prior_, means_posterior_ : ndarray of shape (K, D)
    beta_prior_, beta_posterior_ : ndarray of shape (K,)
    dof_prior_, dof_posterior_ : ndarray of shape (K,)
        A float for 'tied'.
    scale_prior_, scale_posterior_ : ndarray
        In the covariance type's shape.
    startprob_, transmat_, means_, covars_ : ndarray
        The point estimates: the posterior means
        (``covars_ = scale_posterior_ / dof_posterior_``, as full matrices).
    monitor_ : ConvergenceMonitor
        Its ``history`` holds the lower bound per iteration.

    Notes
    -----
    From identical starting posteriors the iterations, lower bounds and
    paths agree with hmmlearn's. Initialisation differs: the means come
    from gmscore's k-means, and ``beta_posterior_`` / ``dof_posterior_`` start at
    the prior plus the cluster counts (hmmlearn: the counts alone, which
    breaks a Wishart for a cluster smaller than the dimension). Scalar or
    broadcastable priors are accepted where hmmlearn wants full arrays.

    Examples
    --------
    >>> import numpy as np
    >>> from gmscore import VariationalGaussianHMM
    >>> rng = np.random.RandomState(0)
    >>> X = np.concatenate([rng.randn(200, 2), rng.randn(200, 2) + 6])
    >>> model = VariationalGaussianHMM(2, covariance_type="diag", random_state=0).fit(X)
    >>> np.sort(np.round(model.means_[:, 0])) + 0.0
    array([0., 6.])
    """

    def __init__(self, n_components=1, covariance_type="full", startprob_prior=None,
                 transmat_prior=None, means_prior=None, beta_prior=None, dof_prior=None,
                 scale_prior=None, algorithm="viterbi", random_state=None, n_iter=100,
                 tol=1e-6, verbose=False, params="stmc", init_params="stmc",
                 implementation="log", n_init=1, n_threads=None, nan_policy="raise"):
        store_init_args(self, locals())


class VariationalCategoricalEmissions(CategoricalEmissions):
    """Dirichlet posteriors of the rows of ``emissionprob_``."""

    _emission_param_names = ("emissionprob_prior_", "emissionprob_posterior_", "emissionprob_")
    _prior_names = ("startprob_prior", "transmat_prior", "emissionprob_prior")

    def _init_emissions(self, data, rs):
        self._check_width(data.n_features)
        k = self.n_components
        if self.n_features is None and self._needs_init("e", "emissionprob_posterior_"):
            self.n_features = int(self._check_values(data).max()) + 1
        if self._needs_init("e", "emissionprob_posterior_"):
            f = self.n_features
            prior = 1.0 / f if self.emissionprob_prior is None else self.emissionprob_prior
            self.emissionprob_prior_ = broadcast_prior(prior, (k, f), "emissionprob_prior")
            if np.ndim(prior) == 0:     # hmmlearn's draw
                post = _dirichlet_draws(rs, np.full(f, float(prior)), k)
            else:
                post = np.stack([_dirichlet_draws(rs, row) for row in self.emissionprob_prior_])
            self.emissionprob_posterior_ = post * (data.n_samples / k)
            self.emissionprob_ = post

    def _check_emissions(self, n_features=None):
        self._check_width(n_features)
        require_attributes(self, ("emissionprob_prior_", "emissionprob_posterior_"))
        post = np.atleast_2d(_as_float(self.emissionprob_posterior_, "emissionprob_posterior_"))
        if self.n_features is None and post.ndim == 2:
            self.n_features = int(post.shape[1])
        shape = (self.n_components, self.n_features)
        for name in ("emissionprob_prior_", "emissionprob_posterior_"):
            setattr(self, name, positive_array(np.atleast_2d(_as_float(getattr(self, name), name)),
                                          name, shape))
        if not hasattr(self, "emissionprob_"):   # assigned posteriors, no estimate yet
            post = self.emissionprob_posterior_
            self.emissionprob_ = post / post.sum(axis=1, keepdims=True)
        super()._check_emissions(n_features)

    def _estep_log_likelihood(self, X, n_threads, data):
        """E[log B[k, x_t]] under the Dirichlet posteriors: a gather."""
        X = _as_kernel_input(X)
        log_bt = np.ascontiguousarray(dirichlet_expected_log(self.emissionprob_posterior_).T)
        out = _work_array(data, "framelogprob", (X.shape[0], self.n_components))
        self._run_kernel(X, lambda: _discretec.categorical_loglik(X, log_bt, out, n_threads))
        return out, None

    def _emission_kl(self):
        return _kl_dirichlet_rows(self.emissionprob_posterior_, self.emissionprob_prior_)

    def _do_emission_mstep(self, em):
        if "e" not in self.params:
            return
        self.emissionprob_posterior_ = self.emissionprob_prior_ + em.counts
        self.emissionprob_ = (self.emissionprob_posterior_
                              / self.emissionprob_posterior_.sum(axis=1, keepdims=True))


class VariationalCategoricalHMM(_VariationalChain, VariationalCategoricalEmissions, BaseHMM):
    __doc__ = """Hidden Markov model with categorical emissions trained by
    variational inference (hmmlearn's API).

    X has shape (n_samples, 1) and holds integer symbols 0 .. n_features - 1.

    Parameters
    ----------
    n_components : int, default=1
    startprob_prior, transmat_prior : float, array or None
        Dirichlet priors (None: 1 / n_components).
    emissionprob_prior : float, array (n_components, n_features) or None
        Dirichlet prior of the rows of ``emissionprob_`` (None: 1 / n_features).
    n_features : int or None, default=None
        Number of symbols; None: one more than the largest symbol of the
        training data.
    params, init_params : str, default='ste'
        s: startprob, t: transmat, e: emissionprob.
    """ + _COMMON_DOC + """
    Attributes
    ----------
    startprob_prior_, startprob_posterior_ : ndarray of shape (n_components,)
        Dirichlet prior and posterior of the start probabilities.
    transmat_prior_, transmat_posterior_ : ndarray of shape (n_components, n_components)
        Dirichlet priors and posteriors of the transition rows.
    emissionprob_prior_, emissionprob_posterior_ : ndarray of shape (n_components, n_features)
    startprob_, transmat_, emissionprob_ : ndarray
        The posterior means.
    monitor_ : ConvergenceMonitor
        Its ``history`` holds the lower bound per iteration.

    Examples
    --------
    >>> import numpy as np
    >>> from gmscore import VariationalCategoricalHMM
    >>> X = np.array([[0], [0], [1], [2], [2], [2], [0], [1]])
    >>> VariationalCategoricalHMM(2, random_state=0).fit(X).emissionprob_.shape
    (2, 3)
    """

    def __init__(self, n_components=1, startprob_prior=None, transmat_prior=None,
                 emissionprob_prior=None, n_features=None, algorithm="viterbi",
                 random_state=None, n_iter=100, tol=1e-6, verbose=False, params="ste",
                 init_params="ste", implementation="log", n_init=1, n_threads=None):
        store_init_args(self, locals())
