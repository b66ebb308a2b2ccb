"""The hidden Markov chain machinery shared by GaussianHMM and GMMHMM:
lengths handling, the Baum-Welch loop with ``n_init`` restarts and its
convergence monitor, start/transition M-step, scoring, decoding and
sampling. Emission models plug in through the methods listed on BaseHMM
(see _emissions.py)."""
import sys
import warnings
from collections import deque

import numpy as np
from scipy import linalg

from . import _hmmc
from ._base import ParamsMixin
from ._threads import effective_n_threads, single_threaded_blas
from ._validation import (
    boolean,
    check_array,
    check_is_fitted,
    check_random_state,
    interval,
    options,
    random_state_like,
    validate_params,
)

DECODER_ALGORITHMS = ("viterbi", "map")

# Relative jitter of the total log-likelihood that is rounding: float32
# input has its quadratic forms rounded to ~1e-7 before the float64 sums.
_ROUNDING = {np.float64: np.finfo(np.float64).eps ** 0.5, np.float32: 1e-6}


class LikelihoodDecreaseWarning(UserWarning):
    """A Baum-Welch iteration lowered the log-likelihood beyond rounding."""


class ConvergenceMonitor:
    """Tracks the log-likelihood per Baum-Welch iteration.

    Attributes
    ----------
    history : deque of float
        Log-likelihood (of the parameters before each update) per iteration.
    iter : int
        Iterations performed.
    converged : bool
        True when the last gain is below ``tol`` and not a drop. Unlike
        hmmlearn, reaching ``n_iter`` is not convergence, and a drop in
        log-likelihood is reported (a LikelihoodDecreaseWarning) rather than
        counted as convergence.
    """

    _header = "{:>10s} {:>16s} {:>16s}".format("iteration", "log-likelihood", "gain")
    _template = "{iter:>10d} {log_prob:>16.8f} {delta:>+16.8f}"

    def __init__(self, tol, n_iter, verbose, precision=np.finfo(float).eps ** 0.5):
        self.tol = tol
        self.n_iter = n_iter
        self.verbose = verbose
        # Relative changes below this are rounding, not a decrease.
        self._precision = precision
        self.history = deque()
        self.iter = 0

    def __repr__(self):
        return (f"ConvergenceMonitor(tol={self.tol!r}, n_iter={self.n_iter!r}, "
                f"verbose={self.verbose!r}, iter={self.iter}, "
                f"history={list(self.history)!r})")

    def _reset(self):
        self.iter = 0
        self.history.clear()

    def report(self, log_prob):
        """Record one iteration's log-likelihood (and print it if verbose)."""
        delta = log_prob - self.history[-1] if self.history else np.nan
        if self.verbose:
            if not self.history:
                print(self._header, file=sys.stderr)
            print(self._template.format(iter=self.iter + 1, log_prob=log_prob, delta=delta),
                  file=sys.stderr)
        if self.history and delta < -self._precision * max(1.0, abs(log_prob)):
            warnings.warn(
                f"Baum-Welch lowered the log-likelihood at iteration {self.iter + 1}: "
                f"{log_prob:.10g} < {self.history[-1]:.10g} (change {delta:.3g}). "
                "With priors this can be legitimate; otherwise check the data "
                "scale, min_covar and the priors.",
                LikelihoodDecreaseWarning,
                stacklevel=3,
            )
        self.history.append(log_prob)
        self.iter += 1

    @property
    def converged(self):
        if len(self.history) < 2:
            return False
        delta = self.history[-1] - self.history[-2]
        # tol=0 means "run n_iter iterations"; a drop beyond rounding is
        # never convergence.
        return self.tol > 0 and -self._precision * max(1.0, abs(self.history[-1])) <= delta < self.tol


def lengths_to_offsets(lengths, n_samples):
    """Validate ``lengths`` and return the int64 row offsets (n_seq + 1)."""
    if lengths is None:
        return np.array([0, n_samples], dtype=np.int64)
    arr = np.asarray(lengths)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(
            "lengths must be a 1-D sequence of positive integers, one per "
            f"sequence, got shape {arr.shape}"
        )
    if arr.dtype.kind == "b" or arr.dtype.kind not in "iuf":
        raise ValueError(f"lengths must be integers, got dtype {arr.dtype}")
    if arr.dtype.kind == "f":
        if not (np.isfinite(arr).all() and (arr == np.round(arr)).all()):
            raise ValueError(f"lengths must be integers, got non-integer values {arr[arr != np.round(arr)][:5]}")
    arr = arr.astype(np.int64)
    if (arr <= 0).any():
        bad = np.flatnonzero(arr <= 0)[:5].tolist()
        raise ValueError(
            f"lengths must be positive; sequences at positions {bad} have "
            f"length {arr[bad].tolist()}"
        )
    total = int(arr.sum())
    if total != n_samples:
        raise ValueError(
            f"lengths sum to {total} but X has {n_samples} samples; they must "
            "describe how the rows of X split into sequences"
        )
    return np.concatenate([[0], np.cumsum(arr)]).astype(np.int64)


def _check_distribution(value, name, shape):
    arr = np.asarray(value, dtype=np.float64)
    if arr.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {arr.shape}")
    if not np.isfinite(arr).all() or (arr < 0).any():
        raise ValueError(f"{name} must hold finite, non-negative probabilities")
    sums = arr.sum(axis=-1)
    if not np.allclose(sums, 1.0, rtol=0, atol=1e-8):
        what = "must sum to 1" if arr.ndim == 1 else "rows must sum to 1"
        raise ValueError(
            f"{name} {what} (got {np.round(sums, 6)}); normalise it, e.g. "
            f"{name} / {name}.sum(axis=-1, keepdims=True)"
        )
    return arr


class BaseHMM(ParamsMixin):
    """Baum-Welch, scoring, decoding and sampling for a hidden Markov chain.

    Emission mixins provide: ``_emission_letters``, ``_emission_param_names``,
    ``_check_emissions(n_features)``, ``_init_emissions(data, rs)``,
    ``_frame_log_likelihood(X, n_threads, data=None) -> (N x K, extra)``
    (work arrays from ``data.buffer`` when fitting),
    ``_accumulate_emissions(stats, data, posteriors, extra)``,
    ``_do_emission_mstep(stats, data)``, ``_sample_emissions(state, n, rs)``,
    ``_emission_n_parameters()`` and ``_n_features_of_emissions()``.
    """

    _base_constraints = {
        "n_components": interval(int, 1),
        "algorithm": options(*DECODER_ALGORITHMS),
        "random_state": random_state_like(),
        "n_iter": interval(int, 0),
        "tol": interval(float, 0.0),
        "verbose": boolean(),
        "implementation": options("log", "scaling"),
        "n_init": interval(int, 1),
        "n_threads": interval(int, 1, none_ok=True),
    }

    def _validate_hyperparameters(self):
        validate_params(self, {**self._base_constraints, **self._emission_constraints()})
        letters = "st" + self._emission_letters
        for name in ("params", "init_params"):
            value = getattr(self, name)
            if not isinstance(value, str):
                raise ValueError(f"{name} must be a string of letters from {letters!r}, got {value!r}")
            unknown = sorted(set(value) - set(letters))
            if unknown:
                raise ValueError(
                    f"{name}={value!r} has unknown letters {unknown}; use letters from "
                    f"{letters!r} (s: startprob, t: transmat, m: means, c: covars"
                    + (", w: weights" if "w" in letters else "") + ")"
                )

    # -------------------------------------------------------------- fitting
    def fit(self, X, lengths=None):
        """Estimate the parameters with Baum-Welch.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            All sequences, concatenated.
        lengths : array-like of int, shape (n_sequences,), optional
            Lengths of the sequences in X (default: one sequence).

        Returns
        -------
        self
        """
        self._validate_hyperparameters()
        X = check_array(X)
        offsets = lengths_to_offsets(lengths, X.shape[0])
        if X.shape[0] < self.n_components and self._needs_init("m", "means_"):
            raise ValueError(
                f"X has {X.shape[0]} samples but n_components={self.n_components}; "
                "initialising the means needs at least one sample per state"
            )
        from ._fitdata import FitData

        data = FitData(X, None, effective_n_threads(self.n_threads))
        data.offsets = offsets
        rs = check_random_state(self.random_state)
        start = self._snapshot()
        best = None
        with single_threaded_blas():
            for _ in range(self.n_init):
                self._restore(start)
                self._init(data, rs)
                self._check(X.shape[1])
                monitor = ConvergenceMonitor(self.tol, self.n_iter, self.verbose,
                                             _ROUNDING[X.dtype.type])
                for _ in range(self.n_iter):
                    stats, log_prob = self._do_estep(data)
                    self._do_mstep(stats, data)
                    monitor.report(log_prob)
                    if monitor.converged:
                        break
                final = monitor.history[-1] if monitor.history else -np.inf
                if best is None or final > best[0]:
                    best = (final, self._snapshot(), monitor)
        self._restore(best[1])
        self.monitor_ = best[2]
        self.n_features_in_ = X.shape[1]
        return self

    def _fitted_param_names(self):
        return ("startprob_", "transmat_") + self._emission_param_names

    def _snapshot(self):
        return {name: np.array(getattr(self, name), copy=True)
                for name in self._fitted_param_names() if hasattr(self, name)}

    def _restore(self, snap):
        for name in self._fitted_param_names():
            if name in snap:
                setattr(self, name, np.array(snap[name], copy=True))
            elif hasattr(self, name):
                delattr(self, name)

    def _needs_init(self, code, name):
        return code in self.init_params or not hasattr(self, name)

    def _init(self, data, rs):
        k = self.n_components
        if self._needs_init("s", "startprob_"):
            self.startprob_ = rs.dirichlet(np.full(k, 1.0 / k))
        if self._needs_init("t", "transmat_"):
            self.transmat_ = rs.dirichlet(np.full(k, 1.0 / k), size=k)
        self._init_emissions(data, rs)

    def _check(self, n_features=None):
        k = self.n_components
        self.startprob_ = _check_distribution(self.startprob_, "startprob_", (k,))
        self.transmat_ = _check_distribution(self.transmat_, "transmat_", (k, k))
        self._check_emissions(n_features)

    def _forward_backward(self, framelogprob, offsets, posteriors, start, trans, n_threads):
        seq_ll = np.empty(len(offsets) - 1)
        try:
            _hmmc.forward_backward(self.implementation, framelogprob, offsets,
                                   self.startprob_, self.transmat_, posteriors, start,
                                   trans, seq_ll, n_threads)
        except _hmmc.UnderflowError as exc:
            bad = np.flatnonzero(np.isnan(seq_ll))[:5].tolist()
            raise ValueError(f"{exc} (sequences {bad})") from None
        except _hmmc.ImpossibleSequenceError as exc:
            if posteriors is None:  # scoring: zero probability is an answer
                return seq_ll
            bad = np.flatnonzero(~np.isfinite(seq_ll))[:5].tolist()
            raise ValueError(f"{exc} (sequences {bad})") from None
        return seq_ll

    def _do_estep(self, data):
        X, offsets = data.X, data.offsets
        k = self.n_components
        framelogprob, extra = self._frame_log_likelihood(X, data.n_threads, data)
        posteriors = data.buffer("posteriors", (X.shape[0], k))
        start, trans = np.empty(k), np.empty((k, k))
        seq_ll = self._forward_backward(framelogprob, offsets, posteriors, start, trans,
                                        data.n_threads)
        del framelogprob
        stats = {"start": start, "trans": trans, "nobs": len(offsets) - 1}
        self._accumulate_emissions(stats, data, posteriors, extra)
        return stats, float(seq_ll.sum())

    def _do_mstep(self, stats, data):
        # A Dirichlet prior below 1 can push counts negative: clip at zero.
        # Exact zeros in startprob_/transmat_ stay zero; a row with no mass
        # at all keeps its previous values instead of becoming 0/0.
        if "s" in self.params:
            sp = np.maximum(np.asarray(self.startprob_prior, dtype=float) - 1 + stats["start"], 0)
            sp = np.where(self.startprob_ == 0, 0, sp)
            if sp.sum() > 0:
                self.startprob_ = sp / sp.sum()
        if "t" in self.params:
            tm = np.maximum(np.asarray(self.transmat_prior, dtype=float) - 1 + stats["trans"], 0)
            tm = np.where(self.transmat_ == 0, 0, tm)
            rows = tm.sum(axis=1)
            ok = rows > 0
            new = np.array(self.transmat_, copy=True)
            new[ok] = tm[ok] / rows[ok, None]
            self.transmat_ = new
        self._do_emission_mstep(stats, data)

    # ------------------------------------------------------------- inference
    def _validated(self, X, lengths):
        check_is_fitted(self, ("startprob_", "transmat_"))
        self._check()
        X = check_array(X)
        n_features = self._n_features_of_emissions()
        if X.shape[1] != n_features:
            raise ValueError(
                f"X has {X.shape[1]} features, but {type(self).__name__} is "
                f"expecting {n_features} features as input."
            )
        return X, lengths_to_offsets(lengths, X.shape[0])

    def _score(self, X, lengths, compute_posteriors):
        X, offsets = self._validated(X, lengths)
        n_threads = effective_n_threads(self.n_threads)
        with single_threaded_blas():  # the kernels call BLAS from their threads
            framelogprob, _ = self._frame_log_likelihood(X, n_threads)
        posteriors = np.empty_like(framelogprob) if compute_posteriors else None
        seq_ll = self._forward_backward(framelogprob, offsets, posteriors, None, None, n_threads)
        return float(seq_ll.sum()), posteriors

    def score(self, X, lengths=None):
        """Log-likelihood of X under the model (sum over sequences)."""
        return self._score(X, lengths, False)[0]

    def score_samples(self, X, lengths=None):
        """(log-likelihood, state posteriors of shape (n_samples, n_components))."""
        return self._score(X, lengths, True)

    def predict_proba(self, X, lengths=None):
        """State posteriors, shape (n_samples, n_components)."""
        return self._score(X, lengths, True)[1]

    def decode(self, X, lengths=None, algorithm=None):
        """Most likely states.

        ``algorithm='viterbi'`` gives the jointly most likely path and its log
        probability; ``'map'`` the per-frame most likely states and, as in
        hmmlearn, the sum over frames of their posterior probabilities.

        Returns
        -------
        log_prob : float
        state_sequence : ndarray of shape (n_samples,)
        """
        algorithm = self.algorithm if algorithm is None else algorithm
        if algorithm not in DECODER_ALGORITHMS:
            raise ValueError(
                f"Unknown decoder {algorithm!r}; use one of {list(DECODER_ALGORITHMS)}"
            )
        if algorithm == "map":
            _, posteriors = self.score_samples(X, lengths)
            return float(posteriors.max(axis=1).sum()), posteriors.argmax(axis=1)
        X, offsets = self._validated(X, lengths)
        n_threads = effective_n_threads(self.n_threads)
        with single_threaded_blas():
            framelogprob, _ = self._frame_log_likelihood(X, n_threads)
        states = np.empty(X.shape[0], dtype=np.int64)
        seq_lp = np.empty(len(offsets) - 1)
        _hmmc.viterbi(framelogprob, offsets, self.startprob_, self.transmat_, states,
                      seq_lp, n_threads)
        return float(seq_lp.sum()), states

    def predict(self, X, lengths=None):
        """Most likely state of each sample (by ``algorithm``)."""
        return self.decode(X, lengths)[1]

    def sample(self, n_samples=1, random_state=None, currstate=None):
        """Generate a sequence.

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
        state_sequence : ndarray of shape (n_samples,)
        """
        check_is_fitted(self, ("startprob_", "transmat_"))
        self._check()
        if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) or n_samples < 1:
            raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}")
        k = self.n_components
        if currstate is not None and not (isinstance(currstate, (int, np.integer))
                                          and 0 <= currstate < k):
            raise ValueError(f"currstate must be a state index in [0, {k}), got {currstate!r}")
        rs = check_random_state(self.random_state if random_state is None else random_state)
        uniforms = rs.random_sample(n_samples)
        states = np.empty(n_samples, dtype=np.int64)
        _hmmc.sample_states(np.cumsum(self.startprob_), np.cumsum(self.transmat_, axis=1),
                            uniforms, -1 if currstate is None else int(currstate), states)
        X = np.empty((n_samples, self._n_features_of_emissions()))
        for state in range(k):
            idx = np.flatnonzero(states == state)
            if idx.size:
                X[idx] = self._sample_emissions(state, idx.size, rs)
        return X, states

    def get_stationary_distribution(self):
        """Stationary distribution of the chain (left eigenvector of
        transmat_ for eigenvalue 1)."""
        check_is_fitted(self, ("transmat_",))
        eigvals, eigvecs = linalg.eig(np.asarray(self.transmat_).T)
        v = np.real_if_close(eigvecs[:, np.argmax(eigvals.real)])
        return np.real(v / v.sum())

    def _n_parameters(self):
        k = self.n_components
        return (k - 1) + k * (k - 1) + self._emission_n_parameters()

    def aic(self, X, lengths=None):
        """Akaike information criterion: -2 log L + 2 n_parameters."""
        return -2 * self.score(X, lengths) + 2 * self._n_parameters()

    def bic(self, X, lengths=None):
        """Bayesian information criterion: -2 log L + n_parameters log(n_samples)."""
        return -2 * self.score(X, lengths) + self._n_parameters() * np.log(len(X))
