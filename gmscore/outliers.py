"""GaussianMixtureOutlierDetector: a density-based anomaly detector with
scikit-learn's outlier-detector conventions (as EllipticEnvelope /
IsolationForest): ``score_samples`` is the log-density under a fitted
GaussianMixture (higher means more normal), ``offset_`` the
``contamination`` quantile of the training scores, ``decision_function`` =
score_samples - offset_ (negative for outliers), ``predict`` +1 / -1.
"""
import numbers

import numpy as np

from ._base import ParamsMixin, inner_mixture
from ._validation import check_is_fitted, check_sample_weight


class GaussianMixtureOutlierDetector(ParamsMixin):
    """Outlier detection by a Gaussian mixture's density.

    Parameters
    ----------
    n_components, covariance_type, tol, reg_covar, max_iter, n_init,
    init_params, random_state, n_threads, verbose :
        as GaussianMixture's.
    contamination : float in (0, 0.5], default=0.1
        The expected fraction of outliers in the training data: the
        threshold ``offset_`` is that quantile of the training samples'
        log-densities (weighted by sample_weight when given).
    nan_policy : {'raise', 'marginalize'}, default='raise'
        As GaussianMixture's: with 'marginalize', NaN entries are missing
        values, marginalised exactly in the fit, and a row's score is its
        log-density over its observed features (so rows with different
        missing features are scored on different marginals).

    Attributes
    ----------
    mixture_ : the fitted GaussianMixture
    offset_ : float, the log-density below which a sample is an outlier
    n_iter_, converged_ : the mixture's EM iterations and convergence
    n_features_in_, feature_names_in_ : as scikit-learn's
    """

    def __init__(self, n_components=1, *, covariance_type="full", contamination=0.1,
                 tol=1e-3, reg_covar=1e-6, max_iter=100, n_init=1, init_params="kmeans",
                 random_state=None, n_threads=None, verbose=0, nan_policy="raise"):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.contamination = contamination
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.random_state = random_state
        self.n_threads = n_threads
        self.verbose = verbose
        self.nan_policy = nan_policy

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.estimator_type = "outlier_detector"
        return tags

    def _check_contamination(self):
        c = self.contamination
        if isinstance(c, bool) or not isinstance(c, numbers.Real) or not 0.0 < c <= 0.5:
            raise ValueError(f"The 'contamination' parameter of "
                             f"GaussianMixtureOutlierDetector must be a float in the range "
                             f"(0.0, 0.5]. Got {c!r} instead.")

    def fit(self, X, y=None, sample_weight=None):
        """Fit the mixture on X and set the threshold ``offset_``."""
        self._check_contamination()
        mixture = inner_mixture(self)
        mixture.fit(X, sample_weight=sample_weight)
        scores = mixture.score_samples(X)
        offset = weighted_quantile(
            scores, self.contamination,
            None if sample_weight is None else check_sample_weight(sample_weight, len(scores)))
        # assigned only once everything succeeded: a failure leaves the model as it was
        self.mixture_ = mixture
        self.offset_ = float(offset)
        self.n_iter_ = mixture.n_iter_
        self.converged_ = mixture.converged_
        self.n_features_in_ = mixture.n_features_in_
        if hasattr(mixture, "feature_names_in_"):
            self.feature_names_in_ = mixture.feature_names_in_
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        return self

    def score_samples(self, X):
        """Log-density of each sample under the mixture (higher: more normal)."""
        check_is_fitted(self, ("mixture_", "offset_"))
        return self.mixture_.score_samples(X)

    def decision_function(self, X):
        """score_samples(X) - ``offset_``: negative for outliers."""
        return self.score_samples(X) - self.offset_

    def predict(self, X):
        """+1 for inliers, -1 for outliers."""
        return np.where(self.decision_function(X) >= 0, 1, -1)

    def fit_predict(self, X, y=None, sample_weight=None):
        """fit(X), then predict(X)."""
        return self.fit(X, sample_weight=sample_weight).predict(X)

    def score(self, X, y=None):
        """Mean log-likelihood per sample (as GaussianMixture.score)."""
        check_is_fitted(self, ("mixture_", "offset_"))
        return self.mixture_.score(X)


def weighted_quantile(values, q, weights=None):
    """The q-quantile of values with numpy's default (linear) rule; with
    weights, the same rule on the values repeated by their weights (exact
    for integer weights, so a weight of 2 is a repeated sample)."""
    if weights is None:
        return np.quantile(values, q)
    order = np.argsort(values, kind="stable")
    v, w = values[order][weights[order] > 0], weights[order][weights[order] > 0]
    cum = np.cumsum(w)
    h = (cum[-1] - 1.0) * q if cum[-1] >= 1 else 0.0
    lo, hi = np.floor(h), np.ceil(h)
    # the value at position j of the repeated array: the first with cum > j
    at = np.minimum(np.searchsorted(cum, [lo, hi], side="right"), len(v) - 1)
    return v[at[0]] + (h - lo) * (v[at[1]] - v[at[0]])
