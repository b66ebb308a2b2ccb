"""Missing values (NaN) in the variational models: BayesianGaussianMixture
and VariationalGaussianHMM with ``nan_policy='marginalize'``.

Mean-field VB with q(z, x_m) q(theta). For every covariance type the
complete-data VB log-responsibility (or subnormalised emission) of
component k is a Gaussian log-density plus a constant in x,

    log rho_k(x) = log N(x; m_k, S_k) + a_k,   S_k = E[Lambda_k]^{-1},

so integrating the missing features out of exp E_theta[log p] gives

    log rho_k(x_o) = log N(x_o; m_ko, S_koo) + a_k          (same a_k)

and q(x_m | z=k) is the Gaussian conditional of N(m_k, S_k): exactly the
point-estimate formulas of gmscore._missing with means m_k, covariances
S_k and log weights a_k. The missing-value kernel (missing_pass) with
those arguments returns the VB responsibilities, their log-sum-exp and the
expected sufficient statistics the variational M-step takes.

Lower bounds. BayesianGaussianMixture reconstructs sum r log r from the
statistics (r log r = r (l - log Z), the quadratic term from the second
moments); from the expected statistics that gives sum r log r - sum r H_k
(H_k the entropy of q(x_m | z=k)), which is what the ELBO needs once the
entropies of q(x_m | z) are counted: the existing bound is the true ELBO.
For the HMM the forward log-normaliser of the marginal emissions is the
bound's data term as it is.

Here: the constants a_k (a_k = the complete-data constant minus the
Gaussian normaliser of S_k, read off the model's own complete-data
E-step constants), the E-steps and the predictions.
"""
import numpy as np

from . import _hmmc
from ._core.covariance import COVARIANCE
from ._core.stats import ChainStats, GaussianStats
from ._core.variational import EXPECTED_COVARIANCE, expected_log_norm
from ._missing import Patterns, _prediction_rows
from ._threads import effective_n_threads, single_threaded_blas
from ._validation import aligned, check_array, check_feature_names, check_is_fitted, \
    feature_names

LOG_2PI = np.log(2.0 * np.pi)


def _f64(a):
    return aligned(np.asarray(a, dtype=np.float64), np.float64)


def _gaussian_log_norm(ct, covariances, k, d):
    """log N(m; m, S_k) = -(D log 2 pi + log det S_k) / 2 per component,
    from the precision factor of S_k (the one the complete-data kernels
    use)."""
    entry = COVARIANCE[ct]
    log_det_u = entry.log_det_cholesky(entry.precision_cholesky(covariances), d)
    return np.broadcast_to(log_det_u - 0.5 * d * LOG_2PI, (k,))


# ------------------------------------------------- BayesianGaussianMixture
def mixture_arguments(model):
    """(code, m, S, a) of a BayesianGaussianMixture for missing_pass:
    a_k = log_norm_k - log det U_k + D/2 log 2 pi, with log_norm the
    complete-data kernel constant (``_kernel_parameters``) and U_k the
    factor of E[Lambda_k] = S_k^{-1} (``precisions_cholesky_``)."""
    ct = model.covariance_type
    k, d = np.shape(model.means_)
    _, _, log_norm = model._kernel_parameters(np.dtype(np.float64))
    log_det_u = COVARIANCE[ct].log_det_cholesky(
        np.asarray(model.precisions_cholesky_, dtype=np.float64), d)
    a = log_norm - np.broadcast_to(log_det_u, (k,)) + 0.5 * d * LOG_2PI
    covs = COVARIANCE[ct].covariances_from_cholesky(
        np.asarray(model.precisions_cholesky_, dtype=np.float64))
    return COVARIANCE[ct].code, _f64(model.means_), _f64(covs), _f64(a)


def mixture_estep(model, source, centres):
    """GaussianStats of a MissingArraySource's rows (those with an
    observed feature) about ``centres``: the variational E-step."""
    from ._missingc import leaf_size, missing_pass

    code, means, covs, a = mixture_arguments(model)
    k, d = means.shape
    order, start, observed = source.patterns.without_empty()
    leaf = np.zeros(leaf_size(code, k, d))
    try:
        missing_pass(code, source.X_nan, means, covs, a, order, start, observed,
                     sample_weight=source.sample_weight, centres=_f64(centres), stats=leaf,
                     n_threads=source.n_threads)
    except ValueError as exc:
        raise ValueError(f"variational EM failed: {exc}") from None
    return GaussianStats.from_leaf(model.covariance_type, centres, leaf, len(order))


def _run_rows(model, X, **outputs):
    from ._missingc import missing_pass

    model._prepared()   # validates the fitted parameters
    n, d = X.shape
    if d != model.n_features_in_:
        raise ValueError(f"X has {d} features, but {type(model).__name__} is expecting "
                         f"{model.n_features_in_} features as input.")
    p = Patterns(X)
    code, means, covs, a = mixture_arguments(model)
    with single_threaded_blas():   # the kernel calls BLAS from its threads
        missing_pass(code, X, means, covs, a, p.order, p.start, p.observed,
                     n_threads=effective_n_threads(model.n_threads), **outputs)


def mixture_predictions(model, X, which):
    """score_samples ('lse': log sum_k rho_k(x_o), scikit-learn's
    variational score), predict_proba ('proba') or predict ('labels') of
    rows with NaN; None when X has no NaN or is not an in-memory array."""
    arr = _prediction_rows(model, X)
    if arr is None:
        return None
    check_feature_names(model, feature_names(X))
    n, k = arr.shape[0], model.n_components
    lse = np.empty(n)
    proba = np.empty((n, k)) if which != "lse" else None
    _run_rows(model, arr, lse=lse, resp_out=proba)
    if which == "labels":
        return np.argmax(proba, axis=1).astype(np.int64)
    dtype = np.result_type(getattr(X, "dtype", np.float64), np.asarray(model.means_).dtype)
    return (lse if which == "lse" else proba).astype(dtype, copy=False)


def mixture_impute(model, X, return_std=False):
    """Conditional means (and standard deviations) of the NaN entries of X
    under q: sum_k r_k(x_o) E_q[x_m | z=k, x_o]."""
    check_is_fitted(model, ("means_", "precisions_cholesky_"))
    arr = check_array(X, allow_nan=True)
    check_feature_names(model, feature_names(X))
    arr = _f64(arr)
    out = np.empty_like(arr)
    var = np.empty_like(arr) if return_std else None
    _run_rows(model, arr, impute=out, impute_var=var)
    if return_std:
        return out, np.sqrt(var)
    return out


def observed_means(source):
    """The (weighted) mean of each feature over the rows observing it."""
    X = source.X_nan
    seen = ~np.isnan(X)
    w = np.ones(X.shape[0]) if source.sample_weight is None else source.sample_weight
    mass = w @ seen
    return (w @ np.where(seen, X, 0.0)) / mass


# --------------------------------------------------- VariationalGaussianHMM
def emission_arguments(model):
    """(code, m, S, a) of a VariationalGaussianHMM's states: S_k =
    scale_k / dof_k, a_k = the expected-log-norm constant of its emission
    (hmmlearn's, without 2 pi) minus the Gaussian normaliser of S_k."""
    ct, k = model.covariance_type, model.n_components
    d = np.shape(model.means_posterior_)[1]
    covs = EXPECTED_COVARIANCE[ct](np.asarray(model.scale_posterior_, dtype=np.float64),
                                   model.dof_posterior_)
    const = np.broadcast_to(expected_log_norm(ct, d, model.beta_posterior_,
                                              model.dof_posterior_, model.scale_posterior_),
                            (k,))
    a = const - _gaussian_log_norm(ct, covs, k, d)
    return COVARIANCE[ct].code, _f64(model.means_posterior_), _f64(covs), _f64(a)


def hmm_estep(model, source, centres):
    """ChainStats of a MissingArraySource under the variational posterior:
    marginal VB emissions, forward-backward with exp E[log pi], exp E[log A],
    and the expected emission statistics weighted by the state posteriors."""
    from ._missingc import leaf_size, missing_pass

    k = model.n_components
    X, p = source.X_nan, source.patterns
    n = X.shape[0]
    code, means, covs, a = emission_arguments(model)
    framelogprob = np.empty((n, k))
    missing_pass(code, X, means, covs, a, p.order, p.start, p.observed, logp=framelogprob,
                 n_threads=source.n_threads)
    chain = _hmmc.chain_reducer(k)
    posteriors = np.empty((n, k))
    seq_ll = model._forward_backward(framelogprob, source.offsets, posteriors, None, None,
                                     source.n_threads, chain, 0)
    em = None
    acc = model._emission_accumulator(source, centres)   # None: no emission update
    if acc is not None:
        leaf = np.zeros(leaf_size(code, k, means.shape[1]))
        missing_pass(code, X, means, covs, a, p.order, p.start, p.observed,
                     resp_in=posteriors, centres=_f64(acc[1]), stats=leaf,
                     n_threads=source.n_threads)
        em = GaussianStats.from_leaf(model.covariance_type, _f64(acc[1]), leaf, n)
    t = chain.total()
    return ChainStats(t[:k], t[k:k + k * k].reshape(k, k), seq_ll, em, loglik=t[-1])
