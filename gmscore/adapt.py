"""MAP adaptation of Gaussian mixtures (GMM-UBM) and utterance scoring.

Adaptation (Reynolds, Quatieri & Dunn 2000) takes a fitted mixture, the
universal background model (UBM), and the statistics of new data under it
(one E-step, ``accumulate``), and moves each component towards the data in
proportion to the data it explains::

    alpha_k  = n_k / (n_k + r)                       (r: relevance_factor)
    w_k'     = gamma (alpha_k n_k / N + (1 - alpha_k) w_k)   (gamma: sum to 1)
    mu_k'    = alpha_k xbar_k + (1 - alpha_k) mu_k
    Sigma_k' = alpha_k (E_k[(x - mu_k')(x - mu_k')^T] + reg I)
               + (1 - alpha_k) (Sigma_k + (mu_k - mu_k')(mu_k - mu_k')^T)

The covariance line is Reynolds' alpha E[x x^T] + (1 - alpha)(Sigma + mu
mu^T) - mu' mu'^T written about the new means (the cross terms cancel), so
no uncentred second moment is ever formed. When the means are not adapted
(no 'm' in ``update``) mu_k' = mu_k and the covariances are second moments
about the UBM's means. diag: the same per feature; spherical: its mean over
features; tied: the shared covariance is one parameter, adapted with
alpha = N / (N + r) from the pooled scatter about the adapted means. The
data term carries the UBM's ``reg_covar`` (``min_covar`` floors a GMMHMM's
covariances, as in its fit), so r = 0 gives one EM M-step and r -> inf the
UBM. A component with no data (n_k = 0) keeps its UBM parameters.

Scoring: ``score_utterances`` gives, for each utterance (``lengths`` group
the frames), the mean over its frames of log p(x | adapted) - log p(x |
UBM), for one or many adapted models at once, exactly or with Reynolds'
top-C approximation, in one compiled pass (gmscore._topcc).
"""
import numbers

import numpy as np

from ._core.covariance import COVARIANCE

_UPDATE_LETTERS = "wmc"


def check_relevance_factor(relevance_factor):
    """A relevance factor r >= 0 (0: maximum likelihood; inf: no change)."""
    if isinstance(relevance_factor, bool) or not isinstance(relevance_factor, numbers.Real):
        raise TypeError(f"relevance_factor must be a non-negative number, got "
                        f"{relevance_factor!r}")
    r = float(relevance_factor)
    if not r >= 0:
        raise ValueError(f"relevance_factor must be >= 0 (0: maximum likelihood, larger: "
                         f"closer to the UBM; Reynolds uses 16), got {relevance_factor!r}")
    return r


def check_update(update):
    """The letters of what to adapt: any non-empty combination of 'w', 'm', 'c'."""
    if not isinstance(update, str):
        raise TypeError(f"update must be a string of the letters 'w', 'm', 'c', got "
                        f"{type(update).__name__}")
    bad = sorted(set(update) - set(_UPDATE_LETTERS))
    if bad or not update:
        raise ValueError(f"update must be a non-empty combination of 'w' (weights), 'm' "
                         f"(means) and 'c' (covariances), e.g. 'm' or 'wmc'; got {update!r}")
    return update


def _alpha(nk, r):
    """n / (n + r), 0 where n = 0 (also for r = 0), 0 for r = inf."""
    if np.isinf(r):
        return np.zeros_like(nk)
    den = nk + r
    return np.where(den > 0, nk / np.where(den > 0, den, 1.0), 0.0)


def _per(nk, values):
    """values / n_k per component (broadcast over trailing axes), 0 where n_k = 0."""
    shape = (-1,) + (1,) * (values.ndim - 1)
    safe = np.where(nk > 0, nk, 1.0).reshape(shape)
    return np.where((nk > 0).reshape(shape), values / safe, 0.0)


def _weights(nk, alpha, weights):
    """Adapted weights per group (rows of ``weights``), renormalised."""
    g, m = weights.shape
    nk = nk.reshape(g, m)
    alpha = alpha.reshape(g, m)
    n = nk.sum(axis=1, keepdims=True)
    raw = alpha * np.where(n > 0, nk / np.where(n > 0, n, 1.0), 0.0) + (1 - alpha) * weights
    return raw / raw.sum(axis=1, keepdims=True)


def _cov_full(rec, nk, alpha, cov, shift, reg):
    d = cov.shape[-1]
    data = _per(nk, rec.s2) + reg * np.eye(d)
    prior = cov + shift[:, :, None] * shift[:, None, :]
    return alpha[:, None, None] * data + (1 - alpha)[:, None, None] * prior


def _cov_diag(rec, nk, alpha, cov, shift, reg):
    data = _per(nk, rec.s2) + reg
    return alpha[:, None] * data + (1 - alpha)[:, None] * (cov + shift * shift)


def _cov_spherical(rec, nk, alpha, cov, shift, reg):
    data = _per(nk, rec.s2).mean(axis=1) + reg
    return alpha * data + (1 - alpha) * (cov + (shift * shift).mean(axis=1))


def _cov_tied(pooled, n, r, cov, reg):
    """pooled (G, D, D) scatter about the adapted means, n (G,) its mass,
    cov (G, D, D) the UBM's shared covariances."""
    a = _alpha(n, r)
    d = cov.shape[-1]
    data = _per(n, pooled) + reg * np.eye(d)
    return a[:, None, None] * data + (1 - a)[:, None, None] * cov


_COVARIANCES = {"full": _cov_full, "diag": _cov_diag, "spherical": _cov_spherical}


def map_parameters(stats, weights, means, covariances, covariance_type, r, update, reg,
                   pool=None):
    """Adapted (weights, means, covariances) from statistics about the old
    means.

    stats : GaussianStats of G x M components (kind 'full' or 'diag' per
        component, or 'tied' pooled over one group), centred anywhere.
    weights : (G, M) old weights, each row summing to one (a plain mixture
        is one group); means (G * M, D); covariances in the type's shape
        (for 'tied', (G, D, D): one shared matrix per group).
    pool : for 'tied' from per-component 'full' statistics, the number M of
        components per group pooled together (GMMHMM); None when the
        statistics are pooled already.
    """
    nk = stats.nk
    alpha = _alpha(nk, r)
    new_w = _weights(nk, alpha, weights) if "w" in update else weights
    xbar_shift = _per(nk, stats.s1 + nk[:, None] * (stats.centres - means))  # xbar - mu
    new_means = means + alpha[:, None] * xbar_shift if "m" in update else means
    if "c" not in update:
        return new_w, new_means, covariances
    rec = stats.recentred(new_means)
    if covariance_type == "tied":
        if pool is None:
            pooled, n = rec.s2[None], np.array([nk.sum()])
        else:
            g = nk.shape[0] // pool
            pooled = rec.s2.reshape((g, pool) + rec.s2.shape[1:]).sum(axis=1)
            n = nk.reshape(g, pool).sum(axis=1)
        new_cov = _cov_tied(pooled, n, r, np.reshape(covariances, pooled.shape), reg)
        return new_w, new_means, new_cov.reshape(np.shape(covariances))
    shift = means - new_means
    new_cov = _COVARIANCES[covariance_type](rec, nk, alpha, covariances, shift, reg)
    return new_w, new_means, new_cov


def _one_pass_statistics(ubm, X, sample_weight):
    """The UBM's E-step statistics of X about its own means, in one pass
    (``accumulate`` may pass again about better centres when components'
    data lie far from their means; the MAP data term is damped by alpha
    and needs no more than the float64 recentring identity gives)."""
    from ._core.sources import as_source
    from ._threads import effective_n_threads, single_threaded_blas
    from ._validation import check_feature_names

    source = as_source(X, sample_weight=sample_weight, multi_pass=False,
                       n_threads=effective_n_threads(ubm.n_threads))
    check_feature_names(ubm, source.feature_names)
    ubm._check_source_features(source)
    ubm._size_threads(source)
    with single_threaded_blas():
        return ubm._estep_about(source, None, ubm.means_)


def _adapted_model(ubm, stats, r, update):
    """The GaussianMixture MAP-adapted from ``ubm`` with the statistics of
    its data (about the UBM's means)."""
    stats.check_valid("statistics of X under the UBM")
    if not stats.weight_sum > 0:
        raise ValueError("X holds no sample weight to adapt from")
    ct = ubm.covariance_type
    k = ubm.n_components
    weights = np.asarray(ubm.weights_, dtype=np.float64).reshape(1, k)
    means = np.asarray(ubm.means_, dtype=np.float64)
    cov = np.asarray(ubm.covariances_, dtype=np.float64)
    w, mu, cov = map_parameters(stats, weights, means, cov, ct, r, update, ubm.reg_covar)
    prec_chol = COVARIANCE[ct].precision_cholesky(cov)   # the PD check
    model = type(ubm)(**ubm.get_params())
    for name, value in vars(ubm).items():          # fitted attributes (n_features_in_, ...)
        if name.endswith("_") and not name.startswith("_"):
            setattr(model, name, value)
    dtype = np.asarray(ubm.means_).dtype
    model.weights_ = w.reshape(k).astype(dtype)
    model.means_ = mu.astype(dtype)
    model.covariances_ = cov.astype(dtype)
    model.precisions_cholesky_ = prec_chol.astype(dtype)
    model.precisions_ = COVARIANCE[ct].precisions_from_cholesky(prec_chol).astype(dtype)
    model.lower_bounds_ = list(ubm.lower_bounds_) if hasattr(ubm, "lower_bounds_") else []
    return model


def adapt_mixture(ubm, X, relevance_factor=16.0, update="m", sample_weight=None):
    """A new fitted GaussianMixture MAP-adapted from the fitted ``ubm``
    (see the module docstring and ``GaussianMixture.adapt``)."""
    from ._validation import check_is_fitted

    check_is_fitted(ubm, ("means_", "precisions_cholesky_"))
    r = check_relevance_factor(relevance_factor)
    update = check_update(update)
    ubm._check_parameters()
    stats = _one_pass_statistics(ubm, X, sample_weight)
    return _adapted_model(ubm, stats, r, update)


# Statistics of at most this many bytes per kernel call of adapt_many (the
# speakers are taken in batches, so memory does not grow with their number).
_BATCH_BYTES = 32 << 20


def adapt_many(ubm, X, lengths, relevance_factor=16.0, update="m", sample_weight=None):
    """MAP-adapt the fitted ``ubm`` to many speakers at once.

    Equivalent to ``[ubm.adapt(X_s, relevance_factor, update, sample_weight_s)
    for each speaker s]`` (the same bits: each speaker's statistics come
    from the same blocks, leaves and reduction tree as one ``adapt`` call on
    its frames), but the UBM's E-step runs once over all speakers, in one
    compiled call per batch of speakers with the speakers shared among the
    threads, so that many short recordings keep every thread busy.

    Parameters
    ----------
    ubm : GaussianMixture
        A fitted mixture (any covariance type).
    X : array-like of shape (n_frames, n_features)
        The speakers' frames, one speaker after another (in memory).
    lengths : array-like of int
        Frames per speaker (positive, summing to n_frames).
    relevance_factor : float >= 0, default=16.0
    update : str, default='m'
        Any non-empty combination of 'w', 'm', 'c' (see ``GaussianMixture.adapt``).
    sample_weight : array-like of shape (n_frames,), optional

    Returns
    -------
    models : list of GaussianMixture
        One adapted model per speaker, in the order of ``lengths``.

    Examples
    --------
    >>> import numpy as np
    >>> from gmscore import GaussianMixture
    >>> from gmscore.adapt import adapt_many
    >>> rng = np.random.RandomState(0)
    >>> ubm = GaussianMixture(4, covariance_type="diag", random_state=0).fit(
    ...     rng.randn(2000, 3))
    >>> X = np.vstack([rng.randn(300, 3) + 0.5, rng.randn(200, 3) - 0.5])
    >>> a, b = adapt_many(ubm, X, lengths=[300, 200])
    >>> bool(np.array_equal(a.means_, ubm.adapt(X[:300]).means_))
    True
    """
    from . import _kernels, _topcc
    from ._core.sources import as_source
    from ._core.stats import GaussianStats
    from ._core.lengths import lengths_to_offsets
    from ._threads import effective_n_threads, single_threaded_blas
    from ._validation import aligned, check_feature_names, check_is_fitted

    check_is_fitted(ubm, ("means_", "precisions_cholesky_"))
    r = check_relevance_factor(relevance_factor)
    update = check_update(update)
    ubm._check_parameters()
    if lengths is None:
        raise ValueError("adapt_many needs lengths (frames per speaker); for one speaker "
                         "use ubm.adapt(X)")
    n_threads = effective_n_threads(ubm.n_threads)
    source = as_source(X, sample_weight=sample_weight, multi_pass=False, n_threads=n_threads)
    if not source.in_memory:
        raise ValueError("adapt_many needs X in memory (an array); adapt speakers held "
                         "out of core one at a time with ubm.adapt")
    check_feature_names(ubm, source.feature_names)
    ubm._check_source_features(source)
    Xa = aligned(source.X, source.X.dtype)
    n = Xa.shape[0]
    offsets = aligned(lengths_to_offsets(lengths, n), np.int64)
    if (np.diff(offsets) == 0).any():
        raise ValueError("lengths must be positive: a speaker without frames cannot be "
                         "adapted")
    sw = None if source.sample_weight is None else aligned(source.sample_weight, np.float64)
    ct = ubm.covariance_type
    k, d = np.shape(ubm.means_)
    code = COVARIANCE[ct].code
    means, prec, log_norm = ubm._kernel_parameters(Xa.dtype)
    means, prec = aligned(means, Xa.dtype), aligned(prec, Xa.dtype)
    log_norm = aligned(log_norm, np.float64)
    centres = aligned(ubm.means_, np.float64)
    stride = _kernels.stats_stride(code, k, d)
    n_speakers = offsets.shape[0] - 1
    batch = max(1, min(n_speakers, _BATCH_BYTES // (8 * stride)))
    models = []
    for s0 in range(0, n_speakers, batch):
        s1 = min(s0 + batch, n_speakers)
        cut = offsets[s0:s1 + 1]
        lo, hi = int(cut[0]), int(cut[-1])
        out = np.empty((s1 - s0, stride))
        with single_threaded_blas():
            _topcc.estep_groups(code, Xa[lo:hi], means, prec, log_norm,
                                None if sw is None else sw[lo:hi], centres,
                                aligned(cut - lo, np.int64), out, n_threads)
        for i in range(s1 - s0):     # the M-steps, per speaker
            count = int(cut[i + 1] - cut[i])
            stats = GaussianStats.from_leaf(ct, centres, out[i], count)
            try:
                models.append(_adapted_model(ubm, stats, r, update))
            except ValueError as exc:
                raise ValueError(f"speaker {s0 + i} (lengths[{s0 + i}]): {exc}") from None
    return models


def adapt_gmmhmm(hmm, X, lengths=None, relevance_factor=16.0, update="m"):
    """A copy of the fitted GMMHMM ``hmm`` whose state mixtures are
    MAP-adapted to X under the HMM posteriors (the chain unchanged)."""
    import copy

    from ._emissions import _floor_covariances
    from ._validation import check_is_fitted

    check_is_fitted(hmm, ("startprob_", "transmat_"))
    r = check_relevance_factor(relevance_factor)
    update = check_update(update)
    em = hmm.accumulate(X, lengths).emissions      # per (state, mixture) pair
    em.check_valid("statistics of X under the model")
    if not em.weight_sum > 0:
        raise ValueError("X holds no frames to adapt from")
    ct = hmm.covariance_type
    k, m, d = np.shape(hmm.means_)
    cov = np.asarray(hmm.covars_, dtype=np.float64)
    if ct in ("full", "diag"):
        cov = cov.reshape((k * m,) + cov.shape[2:])
    elif ct == "spherical":
        cov = cov.reshape(k * m)
    w, mu, cov = map_parameters(em, np.asarray(hmm.weights_, dtype=np.float64),
                                np.asarray(hmm.means_, dtype=np.float64).reshape(k * m, d),
                                cov, ct, r, update, 0.0, pool=m if ct == "tied" else None)
    if "c" in update:
        kind = "full" if ct == "tied" else ct
        cov = _floor_covariances(cov, kind, hmm.min_covar)
    model = copy.deepcopy(hmm)
    model.weights_ = w
    model.means_ = mu.reshape(k, m, d)
    model.covars_ = cov.reshape(hmm._covars_shape(d))
    model._check(d)       # usable parameters, or an error (hmm itself is untouched)
    return model


# ------------------------------------------------------------- scoring
def _scoring_arguments(model, ubm, d):
    """Means, precision factors and log normalisers (log weights included)
    of a fitted GaussianMixture in the scoring kernel's layout."""
    model._check_parameters()
    if model.covariance_type != ubm.covariance_type or model.n_components != ubm.n_components:
        raise ValueError(
            f"the adapted model ({model.n_components} {model.covariance_type} components) "
            f"must have the UBM's form ({ubm.n_components} {ubm.covariance_type})")
    if np.shape(model.means_)[1] != d:
        raise ValueError(f"the adapted model has {np.shape(model.means_)[1]} features, the "
                         f"UBM {d}")
    _, _, log_norm = model._kernel_parameters(np.float64)
    prec = np.asarray(model.precisions_cholesky_, dtype=np.float64)
    return np.asarray(model.means_, dtype=np.float64), prec, log_norm


def score_utterances(adapted, ubm, X, lengths=None, top_c=None, n_threads=None):
    """Per-utterance average log-likelihood ratio of adapted models against
    their UBM (the speaker-verification score).

    For utterance u with frames x_1..x_T (``lengths`` groups the rows of X):

        score[u] = 1/T sum_t ( log p(x_t | adapted) - log p(x_t | ubm) )

    With ``top_c = C`` (Reynolds' fast scoring) each frame's C best UBM
    components (largest w_k N(x_t; mu_k, Sigma_k), lower index first on
    ties) are found, and the adapted model is scored on those C components
    only; the UBM's log-likelihood is always exact (all its components are
    evaluated to find the best C). ``top_c=None`` scores every component.
    Several adapted models share one pass: the UBM and its selection are
    computed once per frame. Runs in one compiled call, in parallel over
    blocks of frames, with results independent of the thread count; no
    n_frames x n_components array is formed.

    Parameters
    ----------
    adapted : GaussianMixture or sequence of GaussianMixture
        Fitted models of the UBM's covariance type and size (e.g. from
        ``ubm.adapt``).
    ubm : GaussianMixture
    X : array-like of shape (n_frames, n_features)
    lengths : array-like of int, optional
        Frames per utterance (summing to n_frames); None: one utterance.
    top_c : int >= 1 or None, default=None
    n_threads : int or None
        Kernel threads (None: the OpenMP default).

    Returns
    -------
    scores : ndarray of shape (n_utterances,), or (n_models, n_utterances)
        when ``adapted`` is a sequence.

    Examples
    --------
    >>> import numpy as np
    >>> from gmscore import GaussianMixture
    >>> from gmscore.adapt import score_utterances
    >>> rng = np.random.RandomState(0)
    >>> ubm = GaussianMixture(4, covariance_type="diag", random_state=0).fit(
    ...     rng.randn(2000, 3))
    >>> speaker = ubm.adapt(rng.randn(300, 3) + 0.5)
    >>> test = np.vstack([rng.randn(100, 3) + 0.5, rng.randn(100, 3)])
    >>> s = score_utterances(speaker, ubm, test, lengths=[100, 100], top_c=2)
    >>> bool(s[0] > s[1])
    True
    """
    from . import _topcc
    from ._core.lengths import lengths_to_offsets
    from ._threads import effective_n_threads, single_threaded_blas
    from ._validation import aligned, check_is_fitted

    single = not isinstance(adapted, (list, tuple))
    models = [adapted] if single else list(adapted)
    if not models:
        raise ValueError("adapted must hold at least one fitted model")
    check_is_fitted(ubm, ("means_", "precisions_cholesky_"))
    for model in models:
        check_is_fitted(model, ("means_", "precisions_cholesky_"))
    ubm._check_parameters()
    k, d = np.shape(ubm.means_)
    if top_c is not None:
        if isinstance(top_c, bool) or not isinstance(top_c, numbers.Integral) or top_c < 1:
            raise ValueError(f"top_c must be a positive integer or None (exact), got {top_c!r}")
    c = 0 if top_c is None or top_c >= k else int(top_c)
    source = ubm._fitted_source(X)
    if not source.in_memory:
        raise ValueError("score_utterances needs X in memory (an array)")
    Xa = aligned(source.X, np.float64)
    n = Xa.shape[0]
    offsets = aligned(lengths_to_offsets(lengths, n), np.int64)
    if (np.diff(offsets) == 0).any():
        raise ValueError("lengths must be positive: an utterance without frames has no score")
    u_means, u_prec, u_norm = _scoring_arguments(ubm, ubm, d)
    parts = [_scoring_arguments(mdl, ubm, d) for mdl in models]
    means = aligned(np.stack([p[0] for p in parts]), np.float64)
    prec = aligned(np.stack([p[1] for p in parts]), np.float64)
    norms = aligned(np.stack([p[2] for p in parts]), np.float64)
    n_utt = offsets.shape[0] - 1
    ubm_sum = np.empty(n_utt)
    model_sum = np.empty((len(models), n_utt))
    with single_threaded_blas():        # full/tied call BLAS inside the threads
        _topcc.utterance_log_likelihoods(
            COVARIANCE[ubm.covariance_type].code, Xa, aligned(u_means, np.float64),
            aligned(u_prec, np.float64), aligned(u_norm, np.float64), means, prec, norms,
            offsets, c, ubm_sum, model_sum, effective_n_threads(n_threads))
    scores = (model_sum - ubm_sum[None, :]) / np.diff(offsets)[None, :]
    return scores[0] if single else scores
