"""GaussianHMM and GMMHMM: drop-ins for hmmlearn.hmm.GaussianHMM and
hmmlearn.hmm.GMMHMM on gmscore's compiled kernels."""
import numpy as np

from ._core.covariance import COVARIANCE
from ._emissions import GaussianEmissions, GMMEmissions, _as_float
from ._hmm_base import BaseHMM
from ._hmm_params import store_init_args

_COMMON_DOC = """
    algorithm : {'viterbi', 'map'}, default='viterbi'
        Decoder used by ``predict``/``decode``.
    random_state : int, RandomState or None
    n_iter : int, default=10
        Maximum Baum-Welch iterations.
    tol : float, default=1e-2
        Stop when the log-likelihood gain is below ``tol`` (a drop is not
        convergence; it is reported with a LikelihoodDecreaseWarning).
    verbose : bool, default=False
        Print a per-iteration table (iteration, log-likelihood, gain) to stderr.
    implementation : {'log', 'scaling'}, default='log'
        Both run a scaled forward-backward in float64 (frame-maximum
        shift, power-of-two rescaling), which is as exact as log space
        while every one-step probability mass stays above 2^-200 and no
        scaled backward value exceeds 2^400. A sequence outside that range
        is redone in log space with 'log'; with 'scaling' it raises a
        ValueError that points to 'log'.
    n_init : int, default=1
        Restarts (initialising what ``init_params`` names each time); the
        one with the highest final log-likelihood is kept. gmscore extra.
    n_threads : int or None, default=None
        Kernel threads (None: OMP_NUM_THREADS / threadpoolctl limits, capped
        at the available CPUs). Results do not depend on it. gmscore extra.
    nan_policy : {'raise', 'marginalize'}, default='raise'
        NaN entries of X: 'raise' refuses them; 'marginalize' treats them as
        missing at random (X in memory, with ``lengths``): emission
        log-likelihoods are the marginals over each frame's observed
        features (a frame of NaN only emits log 1 = 0), and the M-step uses
        the conditional expectations of the missing entries weighted by
        the state (and mixture) posteriors. score, score_samples,
        predict_proba, predict and decode then take NaN frames too; a
        feature NaN in every frame is an error. gmscore extra; see the
        README's "Missing values".
"""


class GaussianHMM(GaussianEmissions, BaseHMM):
    # built from the shared part: an explicit __doc__ (a concatenation is
    # no docstring, and help() would show nothing)
    __doc__ = """Hidden Markov model with Gaussian emissions (hmmlearn's API).

    Parameters
    ----------
    n_components : int, default=1
        Number of states.
    covariance_type : {'spherical', 'diag', 'full', 'tied'}, default='diag'
    min_covar : float, default=1e-3
        Added to the data covariance at initialisation and, unlike hmmlearn,
        used as a floor at every M-step (see gmscore._emissions).
    startprob_prior, transmat_prior : float or array, default=1.0
        Dirichlet priors of ``startprob_`` and the rows of ``transmat_``.
    means_prior, means_weight : float or array, default=0
        Normal prior of the means.
    covars_prior, covars_weight : float or array, default=1e-2, 1
        Inverse-gamma (diag, spherical) / inverse-Wishart (full, tied) prior.
    params, init_params : str, default='stmc'
        Letters of what is updated in training / initialised before it
        (s: ``startprob_``, t: ``transmat_``, m: ``means_``, c: ``covars_``).
    """ + _COMMON_DOC + """
    Attributes
    ----------
    startprob_ : ndarray (n_components,)
    transmat_ : ndarray (n_components, n_components)
    means_ : ndarray (n_components, n_features)
    covars_ : ndarray (n_components, n_features, n_features)
        As in hmmlearn, always returned as full matrices; assign in the
        covariance type's own shape ((K,), (K, D), (K, D, D) or (D, D)).
    monitor_ : ConvergenceMonitor
    restart_histories_ : list of list of float
        (gmscore) The log-likelihood at every iteration of each of the
        ``n_init`` restarts, in order (``monitor_.history`` is the best's).
    n_features : int

    Notes
    -----
    Means are initialised with gmscore's k-means (one k-means++ start, not
    scikit-learn's KMeans with 10), so random initialisations differ from
    hmmlearn's; from identical starting parameters the iterations agree.

    Examples
    --------
    >>> import numpy as np
    >>> from gmscore import GaussianHMM
    >>> rng = np.random.RandomState(0)
    >>> X = np.concatenate([rng.randn(100, 1), rng.randn(100, 1) + 5])
    >>> model = GaussianHMM(n_components=2, random_state=0).fit(X)
    >>> np.sort(np.round(model.means_.ravel()))
    array([0., 5.])
    """

    def __init__(self, n_components=1, covariance_type="diag", min_covar=1e-3,
                 startprob_prior=1.0, transmat_prior=1.0, means_prior=0, means_weight=0,
                 covars_prior=1e-2, covars_weight=1, algorithm="viterbi",
                 random_state=None, n_iter=10, tol=1e-2, verbose=False, params="stmc",
                 init_params="stmc", implementation="log", n_init=1, n_threads=None,
                 nan_policy="raise"):
        store_init_args(self, locals())

    @property
    def covars_(self):
        """Covariances as full matrices, shape (n_components, D, D)."""
        cov = np.asarray(self._covars_)
        d = np.shape(self.means_)[1] if hasattr(self, "means_") else cov.shape[-1]
        return COVARIANCE[self.covariance_type].as_full(cov, self.n_components, d)

    @covars_.setter
    def covars_(self, covars):
        cov = _as_float(covars, "covars_")
        if self.covariance_type == "spherical" and cov.ndim == 2:
            # hmmlearn also accepts (K, D) with one value per row
            if not np.allclose(cov, cov[:, :1]):
                raise ValueError("spherical covars_ of shape (K, D) must be constant per row")
            cov = cov[:, 0]
        self._covars_ = np.array(cov, copy=True)


class GMMHMM(GMMEmissions, BaseHMM):
    __doc__ = """Hidden Markov model whose states emit Gaussian mixtures (hmmlearn's API).

    Parameters
    ----------
    n_components : int, default=1
        Number of states.
    n_mix : int, default=1
        Mixture components per state.
    min_covar : float, default=1e-3
    startprob_prior, transmat_prior : float or array, default=1.0
    weights_prior : float or array, default=1.0
        Dirichlet prior of each state's mixture weights.
    means_prior, means_weight : float or array, default=0.0
    covars_prior, covars_weight : float, array or None
        hmmlearn's per-type defaults when None.
    covariance_type : {'spherical', 'diag', 'full', 'tied'}, default='diag'
        'tied': the mixtures of a state share one full covariance.
    params, init_params : str, default='stmcw'
        s: ``startprob_``, t: ``transmat_``, m: ``means_``, c: ``covars_``, w: ``weights_``.
    """ + _COMMON_DOC + """
    Attributes
    ----------
    startprob_, transmat_, monitor_, n_features
    weights_ : ndarray (n_components, n_mix)
    means_ : ndarray (n_components, n_mix, n_features)
    covars_ : ndarray
        (K, M) spherical, (K, M, D) diag, (K, M, D, D) full, (K, D, D) tied.

    Notes
    -----
    The covariance update follows hmmlearn exactly, including its use of
    the previous iteration's means as the centre of the scatter, so that
    fits agree with hmmlearn from identical starting parameters.
    """

    def __init__(self, n_components=1, n_mix=1, min_covar=1e-3, startprob_prior=1.0,
                 transmat_prior=1.0, weights_prior=1.0, means_prior=0.0, means_weight=0.0,
                 covars_prior=None, covars_weight=None, algorithm="viterbi",
                 covariance_type="diag", random_state=None, n_iter=10, tol=1e-2,
                 verbose=False, params="stmcw", init_params="stmcw", implementation="log",
                 n_init=1, n_threads=None, nan_policy="raise"):
        store_init_args(self, locals())

    def adapt(self, X, lengths=None, relevance_factor=16.0, update="m"):
        """A new GMMHMM whose state mixtures are MAP-adapted to X under this
        model's state posteriors (the chain unchanged; this model is not
        changed). ``relevance_factor`` and ``update`` ('w', 'm', 'c') as in
        :meth:`GaussianMixture.adapt`; weights are renormalised per state,
        a 'tied' state's shared covariance is adapted with alpha = N_k /
        (N_k + r), and covariances get the ``min_covar`` floor of fit."""
        from .adapt import adapt_gmmhmm

        return adapt_gmmhmm(self, X, lengths, relevance_factor, update)
