"""GaussianMixtureRegressor: Gaussian mixture regression (GMR).

A GaussianMixture is fitted on the joint data [X, y] (kept as ``mixture_``);
a prediction is the conditional distribution of y given x, a mixture whose
weights and means depend on x (gmscore.conditional). ``predict`` returns
its mean (and, with ``return_std=True``, its standard deviation per
output); ``sample_conditional`` draws from it. The per-row work runs in the
compiled conditional kernel.
"""
import numpy as np
from scipy import linalg

from ._base import ParamsMixin, inner_mixture
from ._missing import NAN_POLICIES, has_nan
from ._validation import (
    check_array,
    check_feature_names,
    check_is_fitted,
    check_random_state,
    check_sample_weight,
    feature_names,
    options,
    set_feature_names,
    validate_params,
)
from .conditional import condition_observed, condition_rows, conditional_parts


def check_targets(y, n_samples):
    """y as a float64 (n, t) array, and whether it was 1-D."""
    if y is None:
        raise ValueError("GaussianMixtureRegressor requires y to be passed, but the target y "
                         "is None")
    arr = np.asarray(y)
    if arr.dtype == object:
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError):
            arr = None
    if arr is None or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
        raise ValueError(f"Unknown label type: y must be numeric (a regression target), got "
                         f"dtype {np.asarray(y).dtype}; encode or drop non-numeric targets")
    one_d = arr.ndim == 1
    if arr.ndim not in (1, 2):
        raise ValueError(f"y must be 1-D or 2-D (n_samples, n_targets), got shape {arr.shape}")
    arr = arr.reshape(len(arr), -1).astype(np.float64)
    if arr.shape[0] != n_samples:
        raise ValueError(f"Found input variables with inconsistent numbers of samples: "
                         f"[{n_samples}, {arr.shape[0]}] (X and y)")
    if arr.shape[1] == 0:
        raise ValueError("y has no target column")
    if not np.isfinite(arr).all():
        raise ValueError("Input y contains NaN or infinity; remove or impute those rows "
                         "(nan_policy='marginalize' takes missing values in X only: a "
                         "target must be observed to be learnt from)")
    return arr, one_d


def r2(y_true, y_pred, sample_weight=None):
    """Coefficient of determination, averaged uniformly over outputs
    (scikit-learn's r2_score with force_finite=True)."""
    y_true = y_true.reshape(len(y_true), -1)
    y_pred = y_pred.reshape(len(y_pred), -1)
    w = np.ones(len(y_true)) if sample_weight is None else np.asarray(sample_weight, float)
    num = (w[:, None] * (y_true - y_pred) ** 2).sum(axis=0)
    centre = (w[:, None] * y_true).sum(axis=0) / w.sum()
    den = (w[:, None] * (y_true - centre) ** 2).sum(axis=0)
    scores = np.ones(y_true.shape[1])
    ok = den != 0
    scores[ok] = 1.0 - num[ok] / den[ok]
    scores[~ok & (num != 0)] = 0.0
    return float(scores.mean())


class GaussianMixtureRegressor(ParamsMixin):
    """Gaussian mixture regression.

    Parameters
    ----------
    n_components, covariance_type, tol, reg_covar, max_iter, n_init,
    init_params, random_state, n_threads, verbose :
        As GaussianMixture's, for the joint mixture over [X, y].
    nan_policy : {'raise', 'marginalize'}, default='raise'
        NaN entries of X: 'raise' refuses them; 'marginalize' treats them
        as missing at random. ``fit`` then fits the joint mixture with the
        missing inputs marginalised exactly (as GaussianMixture's
        nan_policy; y must have no NaN), and ``predict``,
        ``sample_conditional`` and ``score`` condition each row on its
        observed inputs only: the conditional of y given x_o, whose
        component weights come from the marginal over the observed
        inputs. A row with every input NaN gets the marginal of y. Rows
        without NaN are predicted exactly as with 'raise'.

    Attributes
    ----------
    mixture_ : GaussianMixture over the ``n_features_in_ + n_targets_`` columns
    n_iter_, converged_ : the joint mixture's EM iterations and convergence
    n_features_in_ : int
    n_targets_ : int
    feature_names_in_ : names of X's columns when X had them
    """

    def __init__(self, n_components=1, *, covariance_type="full", tol=1e-3, reg_covar=1e-6,
                 max_iter=100, n_init=1, init_params="kmeans", random_state=None,
                 n_threads=None, verbose=0, nan_policy="raise"):
        self.n_components = n_components
        self.covariance_type = covariance_type
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
        from sklearn.utils import RegressorTags

        tags = super().__sklearn_tags__()
        tags.estimator_type = "regressor"
        tags.regressor_tags = RegressorTags()
        tags.target_tags.required = True
        tags.target_tags.multi_output = True
        return tags

    def fit(self, X, y, sample_weight=None):
        """Fit the joint mixture on [X, y] (NaN in X: see ``nan_policy``)."""
        validate_params(self, {"nan_policy": options(*NAN_POLICIES)})
        names = feature_names(X)
        X = check_array(X, dtypes=(np.float64,), min_samples=1,
                        allow_nan=self.nan_policy == "marginalize")
        Y, one_d = check_targets(y, X.shape[0])
        if sample_weight is not None:
            sample_weight = check_sample_weight(sample_weight, X.shape[0])
        mixture = inner_mixture(self)
        mixture.fit(np.hstack([X, Y]), sample_weight=sample_weight)
        # assigned only once the fit succeeded: a failure leaves the model as it was
        self.mixture_ = mixture
        self.n_iter_ = mixture.n_iter_
        self.converged_ = mixture.converged_
        self.n_features_in_ = X.shape[1]
        self.n_targets_ = Y.shape[1]
        self._y_one_d = one_d
        set_feature_names(self, names)
        return self

    def _conditionals(self, X):
        check_is_fitted(self, ("mixture_",))
        check_feature_names(self, feature_names(X))
        X = check_array(X, dtypes=(np.float64,), min_samples=1,
                        allow_nan=self.nan_policy == "marginalize")
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {X.shape[1]} features, but GaussianMixtureRegressor is "
                             f"expecting {self.n_features_in_} features as input.")
        self.mixture_._check_parameters()
        return X, conditional_parts(self.mixture_, np.arange(self.n_features_in_))

    def _shaped(self, arr):
        return arr[:, 0] if self._y_one_d else arr

    def _missing_rows(self, X):
        """The rows of X with a NaN (an input to marginalise), or None."""
        if self.nan_policy != "marginalize" or not has_nan(X):
            return None
        return np.flatnonzero(np.isnan(X).any(axis=1))

    def predict(self, X, return_std=False):
        """The conditional mean of y given each row of X; with
        ``return_std=True`` also the conditional standard deviation per
        output (of the whole conditional mixture). Under
        nan_policy='marginalize' a row with NaN is conditioned on its
        observed inputs."""
        X, parts = self._conditionals(X)
        missing = self._missing_rows(X)
        if missing is not None:
            # the rows with NaN take the mixture's mean in the compiled
            # pass, so that every row keeps its place in the kernel's
            # blocks (complete rows get the bits they get without NaN
            # rows), and are then replaced by their conditionals given x_o
            filled = X.copy()
            filled[missing] = self.mixture_.weights_ @ self.mixture_.means_[:, :X.shape[1]]
        out = condition_rows(parts, X if missing is None else filled, mean=True,
                             var=return_std)
        if missing is not None:
            out = self._given_observed(X, missing, out, return_std)
        if not return_std:
            return self._shaped(out[0])
        return self._shaped(out[0]), self._shaped(np.sqrt(out[1]))

    def _given_observed(self, X, missing, out, return_std):
        """``out`` (mean, and var) with the rows ``missing`` replaced by
        the moments of y given their observed inputs: the joint mixture's
        imputation of [x, NaN...] is E[y | x_o] and, by the law of total
        variance, the conditional mixture's variance."""
        d = self.n_features_in_
        rows = np.full((missing.size, d + self.n_targets_), np.nan)
        rows[:, :d] = X[missing]
        imputed = self.mixture_.impute(rows, return_std=return_std)
        if not return_std:
            out[0][missing] = imputed[:, d:]
            return out
        out[0][missing] = imputed[0][:, d:]
        out[1][missing] = imputed[1][:, d:] ** 2
        return out

    def sample_conditional(self, X, n_samples=1, random_state=None):
        """Draws from p(y | x) for each row of X: shape (n_rows, n_samples,
        n_targets), or (n_rows, n_samples) when y was 1-D. Under
        nan_policy='marginalize' a row with NaN draws from p(y | x_o), its
        observed inputs x_o."""
        if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) or \
                n_samples < 1:
            raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}")
        X, parts = self._conditionals(X)
        rng = check_random_state(self.random_state if random_state is None else random_state)
        if self._missing_rows(X) is None:
            resp, means = condition_rows(parts, X, resp=True, means=True)
            pattern, cond_full = np.zeros(X.shape[0], dtype=np.intp), parts.cond_full[None]
        else:   # per missingness pattern: the conditional given the observed inputs
            resp, means, pattern, cond_full = condition_observed(self.mixture_, X)
        n, k = resp.shape
        t = self.n_targets_
        # a component per draw, by inverting each row's cumulative weights
        u = rng.uniform(size=(n, n_samples))
        cum = np.cumsum(resp, axis=1)
        comp = np.minimum((cum[:, None, :] < u[:, :, None]).sum(axis=2), k - 1)
        centre = np.take_along_axis(means, comp[:, :, None], axis=1)     # (n, s, t)
        factors = np.stack([[linalg.cholesky(c, lower=True) for c in per_pattern]
                            for per_pattern in cond_full])               # (P, K, t, t)
        z = rng.standard_normal((n, n_samples, t))
        draws = centre + np.einsum("nsij,nsj->nsi", factors[pattern[:, None], comp], z)
        return draws[:, :, 0] if self._y_one_d else draws

    def score(self, X, y, sample_weight=None):
        """R^2 of the predictions (uniform average over outputs), as
        scikit-learn's regressors."""
        pred = self.predict(X)
        Y, _ = check_targets(y, len(pred))
        if sample_weight is not None:
            sample_weight = check_sample_weight(sample_weight, len(pred), positive_sum=False)
        return r2(Y, pred, sample_weight)
