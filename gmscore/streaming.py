"""Streaming inference for GaussianHMM and GMMHMM: a filter that takes one
frame (or a block of frames) at a time, and the causal (forward-only)
posteriors of whole arrays.

``f = model.filter()`` prepares the model once (precision factors,
log-determinants, log-transition matrix) and holds the stream's state in
preallocated buffers, so an update is one call into C. The filtered
probabilities are the forward variables of the batch pass, normalised at
every frame: they equal ``predict_proba(X[:t], causal=True)[-1]`` to
rounding, and no stream length underflows.

Examples
--------
>>> import numpy as np
>>> from gmscore import GaussianHMM
>>> X = np.random.RandomState(0).randn(300, 2)
>>> model = GaussianHMM(2, random_state=0).fit(X)
>>> f = model.filter(max_lag=20)
>>> p = f.update(X[0])                     # p(z_1 | x_1)
>>> P = f.update_many(X[1:100])            # (99, 2), one kernel call
>>> bool(np.allclose(P, model.predict_proba(X[:100], causal=True)[1:]))
True
>>> f.smoothed(10).shape                   # p(z_{t-10} | x_1..t)
(2,)
"""
import copy
import io
import os

import numpy as np

from . import _filterc
from ._core.covariance import COVARIANCE
from ._emissions import LOG_2PI

__all__ = ["HMMFilter", "ImpossibleObservationError", "causal_posteriors"]

ImpossibleObservationError = _filterc.ImpossibleObservationError

_FORMAT = "gmscore-filter"
_FORMAT_VERSION = 1


def _as_diag_or_full(code_type, prec, n_comp, d):
    """Kernel form of precision factors: (full?, (n_comp, D) or (n_comp, D, D))."""
    if code_type == "full":
        return True, np.asarray(prec, dtype=np.float64).reshape(n_comp, d, d)
    if code_type == "tied":
        return True, np.broadcast_to(prec, (n_comp, d, d))
    if code_type == "spherical":
        return False, np.repeat(np.asarray(prec, dtype=np.float64).reshape(n_comp, 1), d, axis=1)
    return False, np.asarray(prec, dtype=np.float64).reshape(n_comp, d)


def _prepared_emissions(model):
    """(means (KM, D), full?, factors, log_norm (KM), M) of a checked model."""
    k = model.n_components
    if hasattr(model, "n_mix"):           # GMMHMM
        _, m, d = model.means_.shape
        code_type, prec, log_det = model._component_factors()
        with np.errstate(divide="ignore"):
            log_w = np.log(model.weights_).ravel()
        means = model.means_.reshape(k * m, d)
    else:
        m, d = 1, model.means_.shape[1]
        code_type = model.covariance_type
        prec = COVARIANCE[code_type].precision_cholesky(model._covars_)
        log_det = COVARIANCE[code_type].log_det_cholesky(prec, d)
        log_w = np.zeros(k)
        means = model.means_
    full, factors = _as_diag_or_full(code_type, prec, k * m, d)
    log_norm = log_w + np.broadcast_to(log_det, (k * m,)) - 0.5 * d * LOG_2PI
    return means, full, factors, log_norm, m


def _check_model(model):
    from .hmm import GMMHMM, GaussianHMM

    if not isinstance(model, (GaussianHMM, GMMHMM)):
        raise TypeError(f"filter() supports GaussianHMM and GMMHMM, got {type(model).__name__}")
    if not (hasattr(model, "startprob_") and hasattr(model, "transmat_")):
        raise ValueError(f"this {type(model).__name__} is not fitted yet: call fit, or set "
                         "startprob_, transmat_ and the emission parameters, before filter()")


class HMMFilter:
    """Streaming forward filter over a fixed copy of a fitted GaussianHMM or
    GMMHMM (made by ``model.filter(max_lag=...)``).

    Parameters
    ----------
    model : GaussianHMM or GMMHMM
        Fitted. The filter keeps its own copy: later changes to ``model``
        do not reach it (make a new filter after refitting).
    max_lag : int, default=64
        The most frames back ``smoothed`` and ``viterbi_path`` can reach
        (the ring buffer holds ``max_lag + 1`` frames).
    decode : bool, default=True
        Also run the Viterbi recursion for online decoding
        (``viterbi_path``, ``viterbi_decision``); False skips it, roughly
        halving the work per frame at large K.

    Attributes
    ----------
    model : the model copy the filter runs.
    n_frames : int, frames seen since creation or ``reset``.
    log_likelihood : float, log p(x_1..t) (running total).
    log_predictive : float, log p(x_t | x_1..t-1) of the last frame (NaN
        before the first): a per-frame anomaly score.
    probabilities : ndarray (K,), p(z_t | x_1..t) (the start distribution
        before the first frame).
    """

    def __init__(self, model, max_lag=64, decode=True):
        _check_model(model)
        if isinstance(max_lag, bool) or not isinstance(max_lag, (int, np.integer)) \
                or max_lag < 0:
            raise ValueError(f"max_lag must be a non-negative integer, got {max_lag!r}")
        model = copy.deepcopy(model)
        with model._checked_parameters():
            means, full, factors, log_norm, m = _prepared_emissions(model)
            self._core = _filterc.FilterCore(means, factors, full, m, log_norm,
                                             model.startprob_, model.transmat_,
                                             int(max_lag) + 1, bool(decode))
        self.model = model
        self.max_lag = int(max_lag)
        self.decode = bool(decode)
        # the bound method itself: one attribute look-up per update
        self.update = self._core.update

    # ------------------------------------------------------------ updates
    def update(self, x):  # replaced per instance by the core's method
        """Feed one frame x (n_features,) and return p(z_t | x_1..t), (K,).

        An observation with NaN/infinity, or impossible under every state
        reachable now, raises ValueError (ImpossibleObservationError) and
        leaves the filter state unchanged.
        """
        return self._core.update(x)

    def update_many(self, X, return_log_predictive=False):
        """Feed a block of frames X (T, n_features) in one kernel call.

        Returns
        -------
        probs : ndarray (T, K), p(z_t | x_1..t) for each frame of the block.
        log_predictive : ndarray (T,), log p(x_t | x_1..t-1), only with
            ``return_log_predictive=True``.

        If some frame is impossible or not finite, a ValueError names it
        and the filter is left as before the call (no frame of the block
        is kept).
        """
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self._core.n_features:
            raise ValueError(f"X must have shape (n_frames, {self._core.n_features}), got "
                             f"{X.shape}")
        X = np.ascontiguousarray(X)
        if not X.flags.aligned:
            X = X.copy()
        n = X.shape[0]
        probs = np.empty((n, self._core.n_components))
        logpred = np.empty(n)
        saved = self._core.get_state()
        try:
            self._core.update_many(X, probs, logpred)
        except BaseException:
            self._core.set_state(saved)
            raise
        return (probs, logpred) if return_log_predictive else probs

    # ------------------------------------------------------------ queries
    @property
    def n_frames(self):
        return int(self._core.t)

    @property
    def log_likelihood(self):
        return float(self._core.loglik)

    @property
    def log_predictive(self):
        return float(self._core.last_logpred)

    @property
    def probabilities(self):
        if self._core.t == 0:
            return np.array(self.model.startprob_, dtype=np.float64)
        return self._core.alpha.copy()

    def _check_horizon(self, h, minimum):
        if isinstance(h, bool) or not isinstance(h, (int, np.integer)) or h < minimum:
            raise ValueError(f"h must be an integer >= {minimum}, got {h!r}")
        return int(h)

    def predict_states(self, h=1):
        """p(z_{t+h} | x_1..t) = alpha_t A^h, shape (K,). Before the first
        frame (t = 0) this is the distribution of z_h, h >= 1."""
        h = self._check_horizon(h, 1 if self._core.t == 0 else 0)
        A = self._core.transmat
        if self._core.t == 0:
            return self._core.startprob @ np.linalg.matrix_power(A, h - 1)
        return self._core.alpha @ np.linalg.matrix_power(A, h)

    def forecast(self, h=1):
        """The predictive distribution of x_{t+h} given x_1..t, as a fitted
        ``GaussianMixture`` (weights alpha_t A^h over the state emissions;
        for GMMHMM, over every state's mixture components): use its
        ``sample``, ``score_samples``, ``predict_proba``."""
        from .mixture import GaussianMixture

        h = self._check_horizon(h, 1)
        w = np.clip(self.predict_states(h), 0.0, None)
        model = self.model
        k = model.n_components
        if hasattr(model, "n_mix"):
            _, m, d = model.means_.shape
            weights = (w[:, None] * model.weights_).ravel()
            means = model.means_.reshape(k * m, d)
            ct = model.covariance_type
            if ct == "tied":   # one matrix per state, shared by its mixtures
                cov, ct = np.repeat(np.asarray(model.covars_), m, axis=0), "full"
            else:
                cov = np.asarray(model.covars_).reshape((k * m,) + model.covars_.shape[2:])
        else:
            weights, means, ct = w, model.means_, model.covariance_type
            cov = np.asarray(model._covars_)
        gm = GaussianMixture(len(weights), covariance_type=ct)
        table = COVARIANCE[ct]
        prec = table.precision_cholesky(cov)
        gm.weights_ = weights / weights.sum()
        gm.means_ = np.array(means, dtype=np.float64)
        gm.covariances_ = np.array(cov, dtype=np.float64)
        gm.precisions_cholesky_ = prec
        gm.precisions_ = table.precisions_from_cholesky(prec)
        gm.converged_, gm.n_iter_, gm.lower_bound_ = True, 0, -np.inf
        gm.n_features_in_ = gm.means_.shape[1]
        return gm

    def _check_lag(self, lag):
        if isinstance(lag, bool) or not isinstance(lag, (int, np.integer)) or lag < 0:
            raise ValueError(f"lag must be a non-negative integer, got {lag!r}")
        if lag > self.max_lag:
            raise ValueError(f"lag={lag} exceeds the filter's max_lag={self.max_lag}; make "
                             f"the filter with model.filter(max_lag={lag}) or more")
        if lag >= self._core.t:
            raise ValueError(f"lag={lag} reaches before the first frame (the filter has "
                             f"seen {self._core.t} frames)")
        return int(lag)

    def smoothed(self, lag):
        """Fixed-lag smoothing: p(z_{t-lag} | x_1..t), exact, shape (K,)."""
        return self._core.smoothed(self._check_lag(lag))

    def viterbi_path(self, lag):
        """The most likely states of frames t-lag..t given x_1..t (length
        lag + 1). With lag = n_frames - 1 this is the batch Viterbi path
        of the stream so far."""
        if not self.decode:
            raise ValueError("this filter was made with decode=False; use "
                             "model.filter(decode=True) for online decoding")
        return self._core.viterbi(self._check_lag(lag))

    def viterbi_decision(self, lag):
        """Online decoding: the fixed-lag Viterbi decision for frame t-lag
        (the first state of ``viterbi_path(lag)``)."""
        return int(self.viterbi_path(lag)[0])

    # ------------------------------------------------------ state handling
    def reset(self):
        """Forget the stream (back to the start distribution)."""
        self._core.reset()
        return self

    def get_state(self):
        """The stream state as a dict of plain values (copies)."""
        return self._core.get_state()

    def set_state(self, state):
        """Restore a state from ``get_state`` (validated first; on error
        the filter is unchanged)."""
        self._core.set_state(self._validated_state(state))
        return self

    def _validated_state(self, state):
        k, ring = self._core.n_components, self._core.ring
        try:
            out = {
                "t": int(state["t"]),
                "loglik": float(state["loglik"]),
                "last_logpred": float(state["last_logpred"]),
                "alpha": np.array(state["alpha"], dtype=np.float64),
                "delta": np.array(state["delta"], dtype=np.float64),
                "ring_alpha": np.array(state["ring_alpha"], dtype=np.float64),
                "ring_emit": np.array(state["ring_emit"], dtype=np.float64),
                "ring_bp": np.array(state["ring_bp"], dtype=np.int32),
            }
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a filter state ({type(exc).__name__}: {exc})") from None
        shapes = {"alpha": (k,), "delta": (k,), "ring_alpha": (ring, k),
                  "ring_emit": (ring, k), "ring_bp": (ring, k)}
        for name, shape in shapes.items():
            if out[name].shape != shape:
                raise ValueError(f"filter state {name} must have shape {shape}, got "
                                 f"{out[name].shape} (a state of another model or max_lag?)")
        bad = (out["t"] < 0 or not np.isfinite(out["loglik"])
               or not np.isfinite(out["alpha"]).all() or (out["alpha"] < 0).any()
               or not np.isfinite(out["ring_alpha"]).all() or (out["ring_alpha"] < 0).any()
               or not np.isfinite(out["ring_emit"]).all() or (out["ring_emit"] < 0).any()
               or np.isnan(out["delta"]).any() or (out["delta"] > 0).any()
               or (out["ring_bp"] < 0).any() or (out["ring_bp"] >= k).any())
        if not bad and out["t"] > 0:
            bad = not (abs(out["alpha"].sum() - 1.0) < 1e-9 and out["delta"].max() == 0.0)
        if bad:
            raise ValueError("filter state holds invalid values (negative, non-finite or "
                             "out-of-range entries, or probabilities not summing to 1)")
        return out

    def copy(self):
        """An independent filter at the same point of the stream."""
        new = HMMFilter(self.model, self.max_lag, self.decode)
        new._core.set_state(self._core.get_state())
        return new

    __copy__ = copy

    def __deepcopy__(self, memo):
        return self.copy()

    def __getstate__(self):
        return {"model": self.model, "max_lag": self.max_lag, "decode": self.decode,
                "state": self.get_state()}

    def __setstate__(self, d):
        self.__init__(d["model"], d["max_lag"], d.get("decode", True))
        self.set_state(d["state"])

    def __repr__(self):
        return (f"HMMFilter({type(self.model).__name__}(n_components="
                f"{self.model.n_components}), max_lag={self.max_lag}, decode={self.decode}, "
                f"n_frames={self.n_frames})")

    # ------------------------------------------------------- persistence
    def save(self, path):
        """Checkpoint the filter (model and stream state) to ``path``: an
        .npz of numeric arrays (no pickle) whose model entry is the model's
        own ``save`` file. Read back with ``HMMFilter.load(path)``."""
        buf = io.BytesIO()
        self.model.save(buf)
        state = self.get_state()
        arrays = {
            "format": np.array(_FORMAT), "format_version": np.array(_FORMAT_VERSION),
            "model": np.frombuffer(buf.getvalue(), dtype=np.uint8),
            "max_lag": np.array(self.max_lag, dtype=np.int64),
            "decode": np.array(self.decode),
            "t": np.array(state["t"], dtype=np.int64),
            "loglik": np.array(state["loglik"]),
            "last_logpred": np.array(state["last_logpred"]),
        }
        for name in ("alpha", "delta", "ring_alpha", "ring_emit", "ring_bp"):
            arrays[name] = state[name]
        tmp = None
        if hasattr(path, "write"):
            np.savez(path, **arrays)
            return
        path = os.fspath(path)
        tmp = path + ".tmp"
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path):
        """A filter saved with ``save``; the file is read without pickle and
        every value is checked (ValueError if anything is malformed)."""
        from ._persistence import load as load_model

        try:
            with np.load(path, allow_pickle=False) as z:
                data = {name: z[name] for name in z.files}
        except (OSError, ValueError, EOFError) as exc:
            if isinstance(exc, FileNotFoundError):
                raise
            raise ValueError(f"not a gmscore filter file: {exc}") from None
        if (str(data.get("format", "")) != _FORMAT
                or int(data.get("format_version", -1)) != _FORMAT_VERSION):
            raise ValueError("not a gmscore filter file (format tag or version mismatch)")
        try:
            model_bytes = data["model"]
            max_lag = int(data["max_lag"])
            decode = bool(data["decode"]) if "decode" in data else True
        except KeyError as exc:
            raise ValueError(f"filter file lacks {exc}") from None
        if model_bytes.dtype != np.uint8 or model_bytes.ndim != 1:
            raise ValueError("filter file's model entry is malformed")
        model = load_model(io.BytesIO(model_bytes.tobytes()))
        f = cls(model, max_lag, decode)
        f.set_state({name: data[name] for name in ("t", "loglik", "last_logpred", "alpha",
                                                    "delta", "ring_alpha", "ring_emit",
                                                    "ring_bp") if name in data})
        return f


def _causal_passes(model, X, lengths):
    """Per chunk: (offsets, frame log-likelihoods, causal posteriors)."""
    source = model._validated_source(X, lengths)
    if getattr(source, "distributed", False):
        raise ValueError("causal=True is not available for Dask inputs; compute X first")
    with model._checked_parameters():
        for chunk, framelogprob, first in model._chunk_passes(source):
            post = np.empty_like(framelogprob)
            seq_ll = np.empty(len(chunk.offsets) - 1)
            try:
                _filterc.forward(framelogprob, chunk.offsets, model.startprob_,
                                 model.transmat_, post, seq_ll, source.n_threads)
            except ImpossibleObservationError as exc:
                bad = (np.flatnonzero(~np.isfinite(seq_ll))[:5] + first).tolist()
                raise ImpossibleObservationError(f"{exc} (sequences {bad})") from None
            yield chunk.offsets, framelogprob, post


def causal_posteriors(model, X, lengths=None):
    """p(z_t | x_1..t) for every frame of every sequence (the normalised
    forward variables), shape (n_samples, n_components): one C call per
    chunk, sequences in parallel. Used by ``predict_proba(..., causal=True)``."""
    parts = [post for _, _, post in _causal_passes(model, X, lengths)]
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def log_predictive_densities(model, X, lengths=None):
    """log p(x_t | x_1..t-1) for every frame (log p(x_1) at a sequence's
    first frame): the one-step predicted state distribution (the previous
    frame's causal posterior times transmat_, startprob_ at a start)
    against the frame's emission log-likelihoods. Vectorised over frames."""
    from scipy.special import logsumexp

    parts = []
    for offsets, framelogprob, post in _causal_passes(model, X, lengths):
        pred = np.empty_like(post)
        pred[1:] = post[:-1] @ model.transmat_
        pred[offsets[:-1]] = model.startprob_
        with np.errstate(divide="ignore"):
            parts.append(logsumexp(np.log(pred) + framelogprob, axis=1))
    return parts[0] if len(parts) == 1 else np.concatenate(parts)
