"""Missing values (NaN) in the Gaussian HMMs: ``nan_policy='marginalize'``.

A frame's emission log-likelihood under state k is the marginal over its
observed features, log N(x_o; mu_ko, S_koo) (GMMHMM: the log-sum-exp of
the state's weighted component marginals); a frame with every feature
missing emits log 1 = 0 under every state, so the chain alone carries it.
The M-step takes the conditional expectations of the missing entries and
their second moments, weighted by the state posteriors (GMMHMM: by the
state posteriors times the within-state mixture posteriors): the
missing-value kernel (src_c/gms_missing.c) with the posteriors given,
producing the same GaussianStats the complete-data E-step makes, so the
M-step (priors included) is unchanged.
"""
import numpy as np

from . import _kernels
from ._core.covariance import COVARIANCE
from ._core.stats import ChainStats, GaussianStats
from ._validation import aligned


def _f64(a):
    return aligned(np.asarray(a, dtype=np.float64), np.float64)


def _emission_arguments(model):
    """(code, stats kind, means, covariances, log weights) of the
    emission components in the kernel's layout: the K states of a
    GaussianHMM, the K x M (state, mixture) pairs of a GMMHMM (tied states
    as full covariances repeated over their mixtures, spherical as diag)."""
    ct = model.covariance_type
    if not hasattr(model, "n_mix"):
        k = model.n_components
        return (COVARIANCE[ct].code, ct, _f64(model.means_), _f64(model._covars_),
                np.zeros(k))
    k, m, d = np.shape(model.means_)
    cov = np.asarray(model.covars_, dtype=np.float64)
    if ct == "full":
        cov = cov.reshape(k * m, d, d)
    elif ct == "tied":
        cov = np.repeat(cov, m, axis=0)
    elif ct == "diag":
        cov = cov.reshape(k * m, d)
    else:
        cov = np.repeat(cov.reshape(k * m, 1), d, axis=1)
    kind = model._emission_kind()
    with np.errstate(divide="ignore"):
        log_w = _f64(np.log(np.asarray(model.weights_, dtype=np.float64)).ravel())
    return (COVARIANCE[kind].code, kind, _f64(np.asarray(model.means_).reshape(k * m, d)),
            _f64(cov), log_w)


def frame_log_likelihood(model, source, arguments=_emission_arguments):
    """(framelogprob (N x K), within-state mixture weights (N x K x M) for a
    GMMHMM, else None) of a MissingArraySource's frames. ``arguments``:
    as _emission_arguments (gmscore._missing_variational gives the
    variational HMM's)."""
    from ._missingc import missing_pass

    code, _, means, covs, log_w = arguments(model)
    X, p = source.X_nan, source.patterns
    n = X.shape[0]
    logp = np.empty((n, means.shape[0]))
    missing_pass(code, X, means, covs, log_w, p.order, p.start, p.observed, logp=logp,
                 n_threads=source.n_threads)
    if not hasattr(model, "n_mix"):
        return logp, None
    comp = logp.reshape(n, model.n_components, model.n_mix)
    framelogprob = np.empty((n, model.n_components))
    _kernels.group_logsumexp(comp, framelogprob, source.n_threads)
    return framelogprob, comp


def estep(model, source, centres, arguments=_emission_arguments):
    """ChainStats of a MissingArraySource (every frame, those entirely NaN
    included) under the model's current parameters (``arguments``: as for
    frame_log_likelihood)."""
    from . import _hmmc
    from ._missingc import leaf_size, missing_pass

    k = model.n_components
    X, p = source.X_nan, source.patterns
    n = X.shape[0]
    framelogprob, comp = frame_log_likelihood(model, source, arguments)
    chain = _hmmc.chain_reducer(k)
    posteriors = np.empty((n, k))
    seq_ll = model._forward_backward(framelogprob, source.offsets, posteriors, None, None,
                                     source.n_threads, chain, 0)
    em = None
    acc = model._emission_accumulator(source, centres)   # None: no emission update
    if acc is not None:
        centres = _f64(acc[1])
        code, kind, means, covs, log_w = arguments(model)
        if comp is None:
            resp = posteriors
        else:   # gamma_tk times the mixture posterior within state k
            _kernels.mixture_responsibilities(comp, posteriors, source.n_threads)
            resp = comp.reshape(n, -1)
        leaf = np.zeros(leaf_size(code, means.shape[0], means.shape[1]))
        missing_pass(code, X, means, covs, log_w, p.order, p.start, p.observed,
                     resp_in=resp, centres=centres, stats=leaf, n_threads=source.n_threads)
        em = GaussianStats.from_leaf(kind, centres, leaf, n)
    t = chain.total()
    return ChainStats(t[:k], t[k:k + k * k].reshape(k, k), seq_ll, em, loglik=t[-1])


def source(model, X, lengths, fitting, states=None):
    """The model's data source when nan_policy='marginalize' (see
    gmscore._missing.fit_source), else None."""
    if getattr(model, "nan_policy", "raise") != "marginalize":
        return None
    from ._missing import fit_source
    from ._threads import effective_n_threads

    return fit_source(model, X, None, effective_n_threads(model.n_threads), min_samples=1,
                      y=states, lengths=lengths, sequences=True, fitting=fitting)


def frames_log_likelihood(models, X, n_threads):
    """Frame log-likelihoods (N x sum_c K_c) of frames X (NaN = missing)
    under several fitted Gaussian HMMs (HMMClassifier's classes), their
    state columns side by side in the order of ``models``: each the
    marginal over the frame's observed features, as in
    :func:`frame_log_likelihood`. The missingness patterns are found once
    for all models."""
    from types import SimpleNamespace

    from ._missing import Patterns

    X = _f64(X)
    data = SimpleNamespace(X_nan=X, patterns=Patterns(X), n_threads=n_threads)
    return np.concatenate([frame_log_likelihood(m, data)[0] for m in models], axis=1)
