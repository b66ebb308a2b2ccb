"""HMMClassifier: one GaussianHMM (or GMMHMM) per class over labelled
sequences; every class scores every sequence in one emission kernel call
and one forward-pass kernel call."""
from contextlib import ExitStack

import numpy as np

from ._base import ParamsMixin
from ._core.covariance import COV_TYPES, COVARIANCE
from ._labels import check_labels, check_priors, label_repr, log_posteriors, weighted_accuracy
from ._missing import NAN_POLICIES
from ._threads import effective_n_threads, fit_n_threads, single_threaded_blas
from ._validation import (
    check_array,
    check_is_fitted,
    check_sample_weight,
    interval,
    options,
    random_state_like,
    real_number,
    validate_params,
)
from .classifier import class_seeds

LOG_2PI = np.log(2.0 * np.pi)
# the methods whose ``lengths`` scikit-learn's metadata routing can route
_LENGTHS_METHODS = ("fit", "predict", "predict_proba", "predict_log_proba", "score")
_UNCHANGED = "$UNCHANGED$"   # scikit-learn's marker: leave this request as it is


def _optional(check_desc):
    check, desc = check_desc
    return (lambda v: v is None or check(v)), desc + " or None"


def as_sequences(X, lengths, allow_nan=False):
    """(frames (N, D), offsets (n_seq + 1,)) from a list of sequences
    (each (T_i, D); then ``lengths`` must be None) or from frames plus
    ``lengths`` (None: one sequence). ``allow_nan``: NaN entries pass
    (nan_policy='marginalize')."""
    from ._core.lengths import lengths_to_offsets

    if isinstance(X, (list, tuple)):
        if lengths is not None:
            raise ValueError("X is a list of sequences; do not also give lengths (each "
                             "sequence's length is its number of rows)")
        if len(X) == 0:
            raise ValueError("X is an empty list; pass at least one sequence")
        seqs = [check_array(s, name=f"X[{i}]", allow_nan=allow_nan) for i, s in enumerate(X)]
        d = {s.shape[1] for s in seqs}
        if len(d) != 1:
            raise ValueError(f"the sequences of X have different feature counts {sorted(d)}")
        dtype = np.result_type(*seqs)
        frames = np.concatenate(seqs).astype(dtype, copy=False)
        offsets = np.zeros(len(seqs) + 1, dtype=np.int64)
        np.cumsum([s.shape[0] for s in seqs], out=offsets[1:])
        return np.ascontiguousarray(frames), offsets
    frames = check_array(X, allow_nan=allow_nan)
    return frames, lengths_to_offsets(lengths, frames.shape[0])


def _gather(frames, offsets, order):
    """The frames of the sequences in ``order`` (one copy, no loop over
    sequences) and their offsets."""
    lens = np.diff(offsets)[order]
    new = np.zeros(len(order) + 1, dtype=np.int64)
    np.cumsum(lens, out=new[1:])
    rows = np.repeat(offsets[:-1][order] - new[:-1], lens) + np.arange(new[-1])
    return np.ascontiguousarray(frames[rows]), new


def _emission_parts(model, d):
    """(kernel covariance type, component means, precision factors, log
    normalisers incl. mixture weights) of one fitted HMM's emissions;
    tied covariances become per-state full factors so that all classes
    share one kernel call."""
    from . import _emissions
    from .hmm import GMMHMM

    if isinstance(model, GMMHMM):
        code_type, prec, log_det = model._component_factors()
        k, m, _ = model.means_.shape
        with np.errstate(divide="ignore"):
            log_w = np.log(model.weights_).ravel()
        return code_type, model.means_.reshape(k * m, d), prec, log_w + log_det - 0.5 * d * LOG_2PI
    ct, cov, k = model.covariance_type, model._covars_, model.n_components
    if ct == "tied":
        ct, cov = "full", np.repeat(np.asarray(cov)[None], k, axis=0)
    prec = _emissions._precision_factors(cov, ct)
    log_det = COVARIANCE[ct].log_det_cholesky(prec, d)
    return ct, model.means_, prec, np.broadcast_to(log_det - 0.5 * d * LOG_2PI, (k,))


def _complete_framelogprob(models, frames, n_mix, n_threads):
    """Frame log-likelihoods (N x sum_c K_c) of complete frames under every
    class's HMM, its states' columns side by side: one emission kernel
    call over all classes' components (then, for mixture states, one
    grouped log-sum-exp)."""
    from . import _kernels

    n, d = frames.shape
    parts = [_emission_parts(m, d) for m in models]
    code_type = {p[0] for p in parts}
    if len(code_type) != 1:
        raise ValueError("the classes' HMMs have different covariance types; refit")
    code_type = code_type.pop()
    n_threads = fit_n_threads(n_threads, n, sum(p[1].shape[0] for p in parts), d, code_type)
    means, flat = COVARIANCE[code_type].kernel_arguments(
        np.concatenate([p[1] for p in parts]), np.concatenate([p[2] for p in parts]),
        frames.dtype)
    log_norm = np.ascontiguousarray(np.concatenate([p[3] for p in parts]), dtype=np.float64)
    n_states = sum(m.n_components for m in models)
    comp = np.empty((n, log_norm.shape[0]))
    with single_threaded_blas():
        _kernels.weighted_log_prob(COVARIANCE[code_type].code, frames, means, flat,
                                   log_norm, comp, n_threads)
        if n_mix is None:
            return comp
        framelogprob = np.empty((n, n_states))
        _kernels.group_logsumexp(comp.reshape(n, n_states, -1), framelogprob, n_threads)
    return framelogprob


def _marginal_framelogprob(models, frames, n_threads):
    """As _complete_framelogprob for frames with NaN (nan_policy=
    'marginalize'): each frame's marginals over its observed features,
    from the missing-value kernel (gmscore._missing_hmm)."""
    from ._missing_hmm import frames_log_likelihood

    m = models[0]
    kind = m._emission_kind() if hasattr(m, "_emission_kind") else m.covariance_type
    n, d = frames.shape
    n_threads = fit_n_threads(n_threads, n, sum(x.n_components * getattr(x, "n_mix", 1)
                                                for x in models), d, kind)
    with single_threaded_blas():   # the kernel calls BLAS from its threads
        return frames_log_likelihood(models, frames, n_threads)


class HMMClassifier(ParamsMixin):
    """Sequence classifier: one hidden Markov model per class.

    Each class c gets a :class:`~gmscore.GaussianHMM` (``n_mix=None``) or
    :class:`~gmscore.GMMHMM` (``n_mix`` mixture components per state)
    fitted by Baum-Welch on that class's sequences, and a sequence is
    assigned ``argmax_c log priors[c] + log p(sequence | HMM_c)``. The
    hyper-parameters are the HMM's own (so ``GridSearchCV`` can tune
    ``n_components``, ``covariance_type``, ...); ``hmm_params`` passes any
    other HMM parameter (e.g. ``{'transmat_prior': 2.0}``). Class c's HMM
    is exactly the HMM fitted on its sequences with
    ``random_state=class_seeds(random_state, n_classes)[c]``.

    Scoring computes the emission log-likelihoods of every class's states
    in one kernel call and the forward passes of every (sequence, class)
    pair in one more (``gmscore._hmmc.multi_chain_loglik``); frames with
    NaN (``nan_policy='marginalize'``) take the missing-value kernel, one
    call per class, before the same forward-pass call.

    Sequences are given either as a list of arrays (each (T_i, n_features);
    the natural form for cross-validation: scikit-learn's splitters index
    the list, so folds hold whole sequences) or as frames X
    (sum T_i, n_features) with ``lengths``, as in hmmlearn. In both forms
    ``y`` has one label per sequence.

    ``lengths`` and scikit-learn's metadata routing: ``fit``, ``predict``,
    ``predict_proba``, ``predict_log_proba`` and ``score`` request
    ``lengths`` by default, so with ``sklearn.set_config(
    enable_metadata_routing=True)`` a router (e.g. a Pipeline) passes it
    on; ``set_fit_request(lengths=False)`` etc. change that. Splitting
    frames into folds would cut sequences, so cross-validate with the
    list form.

    Parameters
    ----------
    n_components : int, default=1
        Hidden states per class.
    n_mix : int or None, default=None
        None: Gaussian states (GaussianHMM); an int: Gaussian-mixture
        states with that many components (GMMHMM).
    covariance_type : {'full', 'tied', 'diag', 'spherical'}, default='diag'
    priors : 'frequency', 'uniform' or array-like of shape (n_classes,), default='frequency'
        Class priors: the classes' shares of the training sequences, equal
        priors, or given probabilities in the order of ``classes_``.
    min_covar, n_iter, tol, implementation :
        As in the HMMs.
    params, init_params : str or None, default=None
        As in the HMMs; None is the HMM's default ('stmc' / 'stmcw').
    hmm_params : dict or None, default=None
        Further keyword arguments of every class's HMM.
    random_state : int, RandomState or None, default=None
        Seeds the per-class random states (``class_seeds``).
    n_threads : int or None, default=None
    nan_policy : {'raise', 'marginalize'}, default='raise'
        NaN entries of X: 'raise' refuses them; 'marginalize' treats them as
        missing at random, in either form of X: every class's HMM is fitted
        with ``nan_policy='marginalize'`` (see :class:`~gmscore.GaussianHMM`;
        a feature NaN in every frame of a class is an error), and in
        scoring a frame with NaN emits, under each state, the marginal over
        its observed features (a frame entirely NaN emits log 1 = 0, so
        the chain alone carries it). Inputs without NaN take the same path
        as with 'raise'.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    priors_ : ndarray of shape (n_classes,)
    estimators_ : list of GaussianHMM or GMMHMM
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> from gmscore import HMMClassifier
    >>> rng = np.random.RandomState(0)
    >>> seqs = [rng.randn(50, 2) + (3 * (i % 2)) for i in range(20)]
    >>> y = np.arange(20) % 2
    >>> clf = HMMClassifier(n_components=2, random_state=0).fit(seqs, y)
    >>> clf.predict([rng.randn(50, 2), rng.randn(50, 2) + 3]).tolist()
    [0, 1]
    """

    _parameter_constraints = {
        "n_components": interval(int, 1),
        "n_mix": interval(int, 1, none_ok=True),
        "covariance_type": options(*COV_TYPES),
        "min_covar": interval(float, 0.0),
        "n_iter": interval(int, 0),
        "tol": real_number(),     # hmmlearn's: -inf never stops
        "implementation": options("log", "scaling"),
        "params": _optional(((lambda v: isinstance(v, str)), "a str")),
        "init_params": _optional(((lambda v: isinstance(v, str)), "a str")),
        "hmm_params": _optional(((lambda v: isinstance(v, dict)), "a dict")),
        "random_state": random_state_like(),
        "n_threads": interval(int, 1, none_ok=True),
        "nan_policy": options(*NAN_POLICIES),
    }

    def __init__(self, n_components=1, *, n_mix=None, covariance_type="diag",
                 priors="frequency", min_covar=1e-3, n_iter=10, tol=1e-2, params=None,
                 init_params=None, implementation="log", hmm_params=None, random_state=None,
                 n_threads=None, nan_policy="raise"):
        self.n_components = n_components
        self.n_mix = n_mix
        self.covariance_type = covariance_type
        self.priors = priors
        self.min_covar = min_covar
        self.n_iter = n_iter
        self.tol = tol
        self.params = params
        self.init_params = init_params
        self.implementation = implementation
        self.hmm_params = hmm_params
        self.random_state = random_state
        self.n_threads = n_threads
        self.nan_policy = nan_policy

    def __sklearn_tags__(self):
        from sklearn.utils import ClassifierTags

        tags = super().__sklearn_tags__()
        tags.estimator_type = "classifier"
        tags.classifier_tags = ClassifierTags()
        tags.target_tags.required = True
        return tags

    # -------------------------------------------------- metadata routing
    # (scikit-learn's request API written out: gmscore does not import
    # scikit-learn; only get_metadata_routing, which only scikit-learn
    # calls, does)
    def _request(self, method, **requests):
        for param, value in requests.items():
            if value is _UNCHANGED:
                continue
            if value is not None and not isinstance(value, (bool, str)):
                raise ValueError(f"set_{method}_request takes {param}=True, False, None or "
                                 f"an alias (str), got {value!r}")
            table = dict(getattr(self, "_metadata_requests", {}))
            table[method, param] = value
            self._metadata_requests = table
        return self

    def set_fit_request(self, *, lengths=_UNCHANGED):
        """Whether scikit-learn's metadata routing passes ``lengths`` to fit
        (default True)."""
        return self._request("fit", lengths=lengths)

    def set_predict_request(self, *, lengths=_UNCHANGED):
        """Whether metadata routing passes ``lengths`` to predict (default True)."""
        return self._request("predict", lengths=lengths)

    def set_predict_proba_request(self, *, lengths=_UNCHANGED):
        """Whether metadata routing passes ``lengths`` to predict_proba
        (default True)."""
        return self._request("predict_proba", lengths=lengths)

    def set_predict_log_proba_request(self, *, lengths=_UNCHANGED):
        """Whether metadata routing passes ``lengths`` to predict_log_proba
        (default True)."""
        return self._request("predict_log_proba", lengths=lengths)

    def set_score_request(self, *, lengths=_UNCHANGED, sample_weight=_UNCHANGED):
        """Whether metadata routing passes ``lengths`` (default True) and
        ``sample_weight`` (default None: an error when one is given) to score."""
        return self._request("score", lengths=lengths, sample_weight=sample_weight)

    def get_metadata_routing(self):
        """scikit-learn's MetadataRequest: ``lengths`` requested by every
        method and score's ``sample_weight`` left unrequested, unless a
        ``set_*_request`` said otherwise."""
        from sklearn.utils.metadata_routing import MetadataRequest

        req = MetadataRequest(owner=type(self).__name__)
        table = getattr(self, "_metadata_requests", {})
        for method in _LENGTHS_METHODS:
            getattr(req, method).add_request(param="lengths",
                                             alias=table.get((method, "lengths"), True))
        req.score.add_request(param="sample_weight",
                              alias=table.get(("score", "sample_weight"), None))
        return req

    # ------------------------------------------------------------------ fit
    def _hmm(self, seed):
        from .hmm import GMMHMM, GaussianHMM

        kw = dict(self.hmm_params or {})
        kw.update(n_components=self.n_components, covariance_type=self.covariance_type,
                  min_covar=self.min_covar, n_iter=self.n_iter, tol=self.tol,
                  implementation=self.implementation, random_state=int(seed),
                  n_threads=self.n_threads, nan_policy=self.nan_policy)
        for name in ("params", "init_params"):
            if getattr(self, name) is not None:
                kw[name] = getattr(self, name)
        if self.n_mix is None:
            return GaussianHMM(**kw)
        return GMMHMM(n_mix=self.n_mix, **kw)

    def fit(self, X, y, lengths=None):
        """Fit one HMM per class.

        Parameters
        ----------
        X : list of array-like (T_i, n_features), or array-like (n_frames, n_features)
        y : array-like of shape (n_sequences,)
            One label per sequence (ints, strings, any sortable type).
        lengths : array-like of int, optional
            Sequence lengths when X is frames (None: one sequence).

        Returns
        -------
        self

        On error the classifier is left exactly as it was.
        """
        validate_params(self, self._parameter_constraints)
        frames, offsets = as_sequences(X, lengths, allow_nan=self.nan_policy == "marginalize")
        n_seq = offsets.shape[0] - 1
        classes, yi = check_labels(y, n_seq, what="sequences")
        n_classes = classes.shape[0]
        lens = np.diff(offsets)
        frames_per_class = np.bincount(yi, weights=lens, minlength=n_classes)
        need = self.n_components * (self.n_mix or 1)
        small = np.flatnonzero(frames_per_class < need)
        if small.size:
            c = small[0]
            raise ValueError(
                f"class {label_repr(classes[c])} has {int(frames_per_class[c])} frames, fewer "
                f"than the {need} states x mixture components of its HMM; lower "
                "n_components / n_mix or give that class more data")
        priors = check_priors(self.priors, np.bincount(yi, minlength=n_classes).astype(float))
        order = np.argsort(yi, kind="stable")
        sorted_frames, sorted_offsets = _gather(frames, offsets, order)
        bounds = np.searchsorted(yi[order], np.arange(n_classes + 1))
        seeds = class_seeds(self.random_state, n_classes)
        models = []
        for c in range(n_classes):   # one Baum-Welch fit per class, over its own rows
            a, b = sorted_offsets[bounds[c]], sorted_offsets[bounds[c + 1]]
            try:
                models.append(self._hmm(seeds[c]).fit(
                    sorted_frames[a:b], np.diff(sorted_offsets[bounds[c]:bounds[c + 1] + 1])))
            except ValueError as exc:
                raise ValueError(f"fitting the HMM of class {label_repr(classes[c])}: "
                                 f"{exc}") from exc
        self.classes_ = classes
        self.priors_ = priors
        self.estimators_ = models
        self.n_features_in_ = frames.shape[1]
        return self

    # ------------------------------------------------------------- predict
    def log_likelihoods(self, X, lengths=None):
        """log p(sequence | class HMM) for every sequence and class, shape
        (n_sequences, n_classes): one emission pass over all classes'
        states and one forward-pass kernel call over all (sequence, class)
        pairs. With ``nan_policy='marginalize'``, frames holding NaN emit
        the marginals over their observed features (a frame of NaN only
        emits log 1 = 0)."""
        from . import _hmmc
        from ._missing import has_nan

        check_is_fitted(self, ("estimators_", "classes_"))
        marginalize = self.nan_policy == "marginalize"
        frames, offsets = as_sequences(X, lengths, allow_nan=marginalize)
        n, d = frames.shape
        if d != self.n_features_in_:
            raise ValueError(f"X has {d} features, but HMMClassifier is expecting "
                             f"{self.n_features_in_} features as input.")
        models = self.estimators_
        with ExitStack() as stack:
            for m in models:      # validated parameters, put back as they were after
                stack.enter_context(m._checked_parameters())
            starts = np.concatenate([np.asarray(m.startprob_, dtype=np.float64)
                                     for m in models])
            trans = np.concatenate([np.asarray(m.transmat_, dtype=np.float64).ravel()
                                    for m in models])
            if marginalize and has_nan(frames):
                framelogprob = _marginal_framelogprob(models, frames, self.n_threads)
            else:
                framelogprob = _complete_framelogprob(models, frames, self.n_mix,
                                                      self.n_threads)
        cols = np.zeros(len(models) + 1, dtype=np.int64)
        np.cumsum([m.n_components for m in models], out=cols[1:])
        out = np.empty((offsets.shape[0] - 1, len(models)))
        _hmmc.multi_chain_loglik(framelogprob, cols, offsets, starts, trans, out,
                                 effective_n_threads(self.n_threads))
        return out

    def predict_log_proba(self, X, lengths=None):
        """Log posterior class probabilities per sequence, shape
        (n_sequences, n_classes)."""
        return log_posteriors(self.log_likelihoods(X, lengths), self.priors_)

    def predict_proba(self, X, lengths=None):
        """Posterior class probabilities per sequence, (n_sequences, n_classes)."""
        return np.exp(self.predict_log_proba(X, lengths))

    def predict(self, X, lengths=None):
        """Most probable class of each sequence, shape (n_sequences,)."""
        log_proba = self.predict_log_proba(X, lengths)
        return self.classes_[np.argmax(log_proba, axis=1)]

    def score(self, X, y, lengths=None, sample_weight=None):
        """Mean accuracy over the sequences (weighted by ``sample_weight``,
        one weight per sequence)."""
        pred = self.predict(X, lengths)
        y = np.asarray(y.to_numpy() if hasattr(y, "to_numpy") else y)
        if y.shape != pred.shape:
            raise ValueError(f"y has shape {y.shape}; expected {pred.shape}, one label per "
                             "sequence")
        return weighted_accuracy(y, pred, check_sample_weight(sample_weight, pred.shape[0]))
