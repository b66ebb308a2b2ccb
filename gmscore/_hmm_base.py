"""The hidden Markov chain machinery shared by every HMM: the Baum-Welch
fit (``n_init`` restarts on the EM driver, its convergence monitor), the
E-step over sequences, the statistics seam (accumulate / partial_fit /
maximize) and the start/transition M-step. Scoring, decoding and sampling
are in _hmm_inference.py. Emission models plug in through the methods
listed on BaseHMM (see _emissions.py)."""
import copy
import logging
from collections import deque
from contextlib import contextmanager

import numpy as np

from . import _hmmc
from ._base import ParamsMixin
from ._core.em import RestoresOnFailure, fit_em
from ._core.lengths import lengths_to_offsets  # noqa: F401  (re-exported)
from ._core.sources import as_source
from ._core.stats import ChainStats, GaussianStats
from ._hmm_inference import DECODER_ALGORITHMS, ChainInference
from ._monitor import (  # noqa: F401  (re-exported: gmscore.ConvergenceMonitor, pickles)
    ConvergenceMonitor,
    LikelihoodDecreaseWarning,
    _ChainRun,
    _MonitorOnFirstUse,
)
from ._threads import (
    effective_n_threads,
    fit_n_threads,
    reserve_fit_memory,
    single_threaded_blas,
)
from ._validation import (
    aligned,
    boolean,
    check_feature_names,
    check_is_fitted,
    check_random_state,
    interval,
    options,
    real_number,
    random_state_like,
    set_feature_names,
    validate_params,
)


_log = logging.getLogger(__name__)

# Relative jitter of the total log-likelihood that is rounding: float32
# input has its quadratic forms rounded to ~1e-7 before the float64 sums.
_ROUNDING = {np.float64: np.finfo(np.float64).eps ** 0.5, np.float32: 1e-6}


def _check_distribution(value, name, shape):
    try:
        # any memory layout: the kernels read C-contiguous rows
        arr = aligned(value, np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an array of probabilities, got {value!r}") from None
    if arr.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {arr.shape}")
    if not np.isfinite(arr).all() or (arr < 0).any():
        raise ValueError(f"{name} must hold finite, non-negative probabilities")
    sums = arr.sum(axis=-1)
    # np.allclose(sums, 1, rtol=0, atol=1e-8) for finite sums, without its
    # broadcasting machinery (this runs after every Baum-Welch iteration)
    if not (np.abs(sums - 1.0) <= 1e-8).all():
        what = "must sum to 1" if arr.ndim == 1 else "rows must sum to 1"
        raise ValueError(
            f"{name} {what} (got {np.round(sums, 6)}); normalise it, e.g. "
            f"{name} / {name}.sum(axis=-1, keepdims=True)"
        )
    return arr


class _InitData:
    """What an initialisation reads, computed on first use: the source's
    init_sample (all rows of an in-memory source)."""

    def __init__(self, source, random_state):
        self._source, self._rs, self._sample = source, random_state, None

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        if name in ("n_features", "n_threads", "dtype", "n_samples", "n_sequences"):
            return getattr(self._source, name)    # the whole source's, known without reading rows
        if self._sample is None:
            self._sample = self._source.init_sample(self._rs)
        return getattr(self._sample, name)


class BaseHMM(ChainInference, RestoresOnFailure, ParamsMixin):
    """Baum-Welch, scoring, decoding and sampling for a hidden Markov chain.

    Emission mixins provide: ``_emission_letters``, ``_emission_param_names``,
    ``_check_emissions(n_features)``, ``_init_emissions(data, rs)`` (data:
    the rows an initialisation reads, see _InitData),
    ``_frame_log_likelihood(X, n_threads, data=None) -> (N x K, extra)``
    (work arrays from ``data.buffer`` when fitting), the statistics hooks
    ``_emission_accumulator(source)``, ``_accumulate_emissions(acc, chunk,
    posteriors, extra, n_threads)``, ``_emission_stats(acc, count) ->
    GaussianStats`` and ``_check_emission_stats(stats)``, the M-step
    ``_do_emission_mstep(stats)``, ``_sample_emissions(state, n, rs)``,
    ``_emission_n_parameters()`` and ``_n_features_of_emissions()``.
    """

    monitor_ = _MonitorOnFirstUse()
    _collapse_hint = "increase min_covar, use fewer states, or check the data"

    _base_constraints = {
        "n_components": interval(int, 1),
        "algorithm": options(*DECODER_ALGORITHMS),
        "random_state": random_state_like(),
        "n_iter": interval(int, 0),
        "tol": real_number(),
        "verbose": boolean(),
        "implementation": options("log", "scaling"),
        "n_init": interval(int, 1),
        "n_threads": interval(int, 1, none_ok=True),
    }

    _prior_names = ("startprob_prior", "transmat_prior", "weights_prior", "means_prior",
                    "means_weight", "covars_prior", "covars_weight")

    def _validate_hyperparameters(self):
        validate_params(self, {**self._base_constraints, **self._emission_constraints()})
        for name in self._prior_names:
            value = getattr(self, name, None)
            if value is None:   # GMMHMM: hmmlearn's defaults per covariance type
                continue
            try:
                arr = np.asarray(value, dtype=np.float64)
            except (TypeError, ValueError):
                raise ValueError(f"{name} must be a number or an array of numbers, got "
                                 f"{value!r}") from None
            if not np.isfinite(arr).all():
                raise ValueError(f"{name} must be finite, got {value!r}")
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
    def fit(self, X, lengths=None, states=None):
        """Estimate the parameters with Baum-Welch.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or a data source
            All sequences, concatenated; or an np.memmap / h5py / zarr
            array, a list of per-sequence arrays, or a callable returning a
            fresh iterator of sequences (arrays) or of (X, lengths) chunks
            on every call: read chunk by chunk, never split inside a
            sequence (see ``gmscore._core.sources``).
        lengths : array-like of int, shape (n_sequences,), optional
            Lengths of the sequences in X (default: one sequence).
        states : array-like of int, shape (n_samples,), optional
            Partial labels: states[t] = j says frame t is in state j, -1
            that it is unknown. Known frames' posteriors are clamped (every
            other state is ruled out for them), and the monitored
            log-likelihood is log p(X, known states). In-memory X only.

        Returns
        -------
        self
        """
        self._validate_hyperparameters()
        from . import _missing_hmm   # nan_policy='marginalize' (None: not in use)

        source = _missing_hmm.source(self, X, lengths, True, states) or as_source(
            X, lengths=lengths, sequences=True, n_threads=effective_n_threads(self.n_threads))
        if not source.in_memory:
            source.ensure_scanned()
        if source.n_samples < self.n_components and self._needs_init("m", "means_"):
            raise ValueError(
                f"X has {source.n_samples} samples but n_components={self.n_components}; "
                "initialising the means needs at least one sample per state"
            )
        self._warn_degenerate(source)
        # the fit's work memory and threads, claimed before any kernel or
        # BLAS call; the chain's per-frame arrays (about 4 x rows x states
        # doubles) come on top of the emission kernels'
        k = self.n_components * getattr(self, "n_mix", 1)
        kind = self._emission_kind() if hasattr(self, "_emission_kind") else self.covariance_type
        rows = source.largest_chunk_rows()
        # one thread for a small problem unless n_threads says otherwise
        source.n_threads = fit_n_threads(self.n_threads, rows, k, source.n_features, kind)
        source.n_threads = reserve_fit_memory(kind, k, source.n_features, source.n_threads,
                                              n_samples=rows,
                                              extra_bytes=32 * rows * self.n_components)
        self._states = self._known_states(source, states)
        try:
            fit_em(self, source, self.n_init, self.n_iter,
                   check_random_state(self.random_state))
        finally:
            vars(self).pop("_states", None)
        set_feature_names(self, source.feature_names)
        return self

    # EM driver hooks (gmscore._core.em; _em_state / _em_restore from
    # RestoresOnFailure)
    def _em_start(self, source, random_state, index):
        if index == 0:
            self._start_params = self._snapshot()
        self._restore(self._start_params)
        self._init_parameters(_InitData(source, random_state), random_state, warn=index == 0)
        self._check(source.n_features)
        return _ChainRun(self._fresh_monitor(source.dtype), source.n_features)

    def _fresh_monitor(self, dtype):
        """A reset copy of ``monitor_`` for one restart, as hmmlearn runs
        its monitor: its class, ``tol`` and ``verbose`` are the monitor's
        (``set_params`` keeps them in step with the model's), its
        ``n_iter`` the model's."""
        monitor = copy.copy(self.monitor_)
        monitor.history = deque()
        monitor.n_iter = self.n_iter
        if isinstance(monitor, ConvergenceMonitor):
            monitor._precision = _ROUNDING[dtype.type]
        monitor._reset()
        return monitor

    def __sklearn_is_fitted__(self):
        # monitor_ exists from construction: fitted means the chain is set
        return hasattr(self, "startprob_") and hasattr(self, "transmat_")

    def set_params(self, **params):
        """Set hyper-parameters (unknown names raise ValueError); ``tol``,
        ``n_iter`` and ``verbose`` also update ``monitor_``."""
        super().set_params(**params)
        monitor = vars(self).get("monitor_")
        if monitor is not None:
            for name in ("tol", "n_iter", "verbose"):
                if name in params:
                    setattr(monitor, name, params[name])
        return self

    def _em_iterate(self, source, run):
        stats = self._estep(source)
        objective = self._em_objective(stats)   # of the parameters the E-step used
        self._do_mstep(stats)
        try:   # a fit returns parameters its own methods accept, or raises
            self._check()
        except ValueError as exc:
            raise ValueError(
                f"Baum-Welch iteration {run.monitor.iter + 1} produced parameters the model "
                f"cannot use ({exc}): a state collapsed onto too few distinct points; "
                f"{self._collapse_hint}") from None
        return objective

    # Hooks of the variational models (gmscore.variational_hmm): what the
    # E-step runs the chain with, its emission log-likelihoods, and the
    # objective the monitor records (the lower bound instead of log p(X)).
    def _em_objective(self, stats):
        return stats.loglik

    def _estep_chain(self):
        return self.startprob_, self.transmat_

    def _estep_log_likelihood(self, X, n_threads, data):
        return self._frame_log_likelihood(X, n_threads, data)

    def _fused_forward_backward(self, chunk, posteriors, reducer, first_sequence, n_threads):
        """An E-step's forward-backward of a chunk with the emissions looked
        up inside the kernel (seq_ll), or None: compute framelogprob."""
        return None

    def _em_end(self, run):
        pass

    def _em_params(self):
        return self._snapshot()

    def _em_adopt(self, params, run):
        self._restore(params)
        self.monitor_ = run.monitor
        self.restart_histories_ = run.histories
        self.n_features_in_ = run.n_features
        del self._start_params

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
        if code in self.init_params:
            if getattr(self, "_warn_overwrite", False) and hasattr(self, name):
                _log.warning(   # hmmlearn's notice, through logging as there
                    "Even though the %r attribute is set, it will be overwritten during "
                    "initialization because 'init_params' contains %r", name, code)
            return True
        return not hasattr(self, name)

    def _init(self, X, lengths=None):
        """hmmlearn's hook: initialise what ``init_params`` names from X
        (with ``random_state``), as fit does before Baum-Welch."""
        self._validate_hyperparameters()
        source = as_source(X, lengths=lengths, sequences=True,
                           n_threads=effective_n_threads(self.n_threads))
        rs = check_random_state(self.random_state)
        with single_threaded_blas():
            self._init_parameters(_InitData(source, rs), rs, warn=True)
        self.n_features = source.n_features

    def _get_n_fit_scalars_per_param(self, n_features=None):
        """hmmlearn's hook: free scalars per parameter letter."""
        k = self.n_components
        return {"s": k - 1, "t": k * (k - 1), **self._emission_fit_scalars(n_features)}

    def _init_parameters(self, data, rs, warn=False):
        k = self.n_components
        self._warn_overwrite = warn
        try:
            if self._needs_init("s", "startprob_"):
                self.startprob_ = rs.dirichlet(np.full(k, 1.0 / k))
            if self._needs_init("t", "transmat_"):
                self.transmat_ = rs.dirichlet(np.full(k, 1.0 / k), size=k)
            self._init_emissions(data, rs)
        finally:
            del self._warn_overwrite

    def _check(self, n_features=None):
        k = self.n_components
        self.startprob_ = _check_distribution(self.startprob_, "startprob_", (k,))
        self.transmat_ = _check_distribution(self.transmat_, "transmat_", (k, k))
        self._check_emissions(n_features)

    def _check_chunk_features(self, chunk):
        n_features = self._n_features_of_emissions()
        if chunk.X.shape[1] != n_features:
            raise ValueError(
                f"X has {chunk.X.shape[1]} features, but {type(self).__name__} is "
                f"expecting {n_features} features as input.")

    def _forward_backward(self, framelogprob, offsets, posteriors, start, trans, n_threads,
                          reducer=None, first_sequence=0, symbols=None):
        # symbols: (X, log_bt) of a categorical model, looked up in the
        # kernel instead of a framelogprob (an E-step only)
        seq_ll = np.empty(len(offsets) - 1)
        try:
            if symbols is not None:
                startprob, transmat = self._estep_chain()
                _hmmc.categorical_fb_into(reducer, self.implementation, symbols[0],
                                          symbols[1], offsets, startprob, transmat,
                                          posteriors, seq_ll, n_threads)
            elif reducer is not None:
                startprob, transmat = self._estep_chain()   # an E-step's
                _hmmc.forward_backward_into(reducer, self.implementation, framelogprob,
                                            offsets, startprob, transmat,
                                            posteriors, seq_ll, n_threads)
            else:
                _hmmc.forward_backward(self.implementation, framelogprob, offsets,
                                       self.startprob_, self.transmat_, posteriors, start,
                                       trans, seq_ll, n_threads)
        except _hmmc.UnderflowError as exc:
            bad = (np.flatnonzero(np.isnan(seq_ll))[:5] + first_sequence).tolist()
            if framelogprob is not None and np.isnan(framelogprob).any():
                raise ValueError(f"the frame log-likelihoods hold NaN (sequences {bad}): "
                                 "check X and the model's parameters") from None
            raise ValueError(f"{exc} (sequences {bad})") from None
        except _hmmc.ImpossibleSequenceError as exc:
            nan = np.isnan(seq_ll)
            if nan.any():    # a NaN frame log-likelihood, never an answer
                bad = (np.flatnonzero(nan)[:5] + first_sequence).tolist()
                raise ValueError(f"the frame log-likelihoods hold NaN (sequences {bad}): "
                                 "check X and the model's parameters") from None
            if posteriors is None:  # scoring: zero probability is an answer
                return seq_ll
            bad = (np.flatnonzero(~np.isfinite(seq_ll))[:5] + first_sequence).tolist()
            raise ValueError(f"{exc} (sequences {bad})") from None
        return seq_ll

    def _estep(self, source):
        """Chain and emission statistics of every sequence of the source
        under the current parameters: per chunk, emission log-likelihoods,
        forward-backward (each sequence's counts folded into one reducer in
        sequence order) and the emission statistics (one reducer over the
        rows). Emission statistics that would lose digits when the M-step
        re-centres them (means far from the data) are formed again about
        better centres (see GaussianStats.better_centres)."""
        stats = self._estep_about(source, None)
        for _ in range(GaussianStats.MAX_CENTRING_PASSES - 1):
            centres = self._better_emission_centres(stats.emissions)
            if centres is None:
                break
            stats = self._estep_about(source, centres)
        return stats

    def _known_states(self, source, states):
        if states is None:
            return None
        from ._partial_labels import check_labels

        if not source.in_memory:
            raise ValueError("states (partial labels) need X in memory; load the data, or "
                             "fit without states")
        return check_labels(states, source.n_samples, self.n_components, what="states",
                            of="state")

    def _estep_about(self, source, centres):
        if getattr(source, "missing", None) is not None:   # NaN marginalised
            from ._missing_hmm import estep

            return estep(self, source, centres)
        if getattr(source, "distributed", False):   # gmscore.dask: chunks on workers
            return source.reduce_chain_stats((self, "estep", centres))
        k = self.n_components
        chain = _hmmc.chain_reducer(k)
        acc = self._emission_accumulator(source, centres)
        seq_ll, n_seq, count = [], 0, 0
        for chunk in source.chunks():
            self._check_chunk_features(chunk)
            known = vars(self).get("_states")
            posteriors = source.buffer("posteriors", (chunk.X.shape[0], k))
            if known is None:   # emissions the chain kernel looks up itself
                fused = self._fused_forward_backward(chunk, posteriors, chain, n_seq,
                                                     source.n_threads)
                if fused is not None:
                    seq_ll.append(fused)
                    self._accumulate_emissions(acc, chunk, posteriors, None, source.n_threads)
                    n_seq += len(chunk.offsets) - 1
                    count += chunk.X.shape[0]
                    continue
            framelogprob, extra = self._estep_log_likelihood(chunk.X, source.n_threads, source)
            if known is not None:   # partial labels: other states ruled out
                from ._partial_labels import clamp_frames

                clamp_frames(framelogprob, known[chunk.start:chunk.start + chunk.X.shape[0]])
            try:
                seq_ll.append(self._forward_backward(framelogprob, chunk.offsets, posteriors,
                                                     None, None, source.n_threads, chain,
                                                     n_seq))
            except ValueError:
                if not source.in_memory and not np.isfinite(chunk.X).all():
                    raise ValueError(
                        f"chunk {chunk.index} of X contains NaN or infinity (it was finite "
                        "when first read: the source changed between passes)") from None
                raise
            del framelogprob
            self._accumulate_emissions(acc, chunk, posteriors, extra, source.n_threads)
            n_seq += len(chunk.offsets) - 1
            count += chunk.X.shape[0]
        t = chain.total()
        return ChainStats(t[:k], t[k:k + k * k].reshape(k, k), np.concatenate(seq_ll),
                          self._emission_stats(acc, count), loglik=t[-1])

    # ------------------------------------------------ statistics interface
    def accumulate(self, X, lengths=None):
        """Expected sufficient statistics of X under the current parameters
        (the E-step of Baum-Welch).

        Returns
        -------
        stats : gmscore.ChainStats
            Start and transition counts, per-sequence log-likelihoods and
            the emission statistics; merge parts with ``+``, and turn them
            into parameters with ``maximize``.

        Examples
        --------
        >>> import numpy as np
        >>> from gmscore import GaussianHMM
        >>> X = np.random.RandomState(0).randn(400, 2)
        >>> model = GaussianHMM(2, random_state=0).fit(X, [200, 200])
        >>> stats = model.accumulate(X[:200]) + model.accumulate(X[200:])
        >>> model = model.maximize(stats)        # one Baum-Welch M-step
        """
        check_is_fitted(self, ("startprob_", "transmat_"))
        self._validate_hyperparameters()
        from . import _missing_hmm   # nan_policy='marginalize' (None: not in use)

        source = _missing_hmm.source(self, X, lengths, False) or as_source(
            X, lengths=lengths, sequences=True, multi_pass=False,
            n_threads=effective_n_threads(self.n_threads))
        check_feature_names(self, source.feature_names)
        self._size_threads(source)
        with self._checked_parameters(), single_threaded_blas():
            return self._estep(source)

    def partial_fit(self, X, lengths=None, *, alpha=0.7, eta=None, burn_in=0):
        """Online EM: one stepwise EM update from a mini-batch of whole
        sequences (see gmscore._core.online).

        The batch's expected statistics (``accumulate``), per frame, are
        blended into running statistics with weight
        ``eta_k = (k + 2) ** -alpha`` (k = 0 for the first blended batch)
        or the constant ``eta`` (to track drift), and ``maximize`` runs on
        them scaled to the frames seen. The first call on an unfitted model
        initialises it with ``fit`` on that batch; on a fitted model it
        starts from the fitted parameters. M-steps begin once more than
        ``burn_in`` mini-batches have been absorbed. Bad input raises and
        leaves the model as it was.

        Parameters
        ----------
        X : array-like (n_samples, n_features); lengths : optional sequence lengths.
        alpha : float in (0.5, 1], default=0.7
        eta : float in (0, 1] or None, default=None
        burn_in : int >= 0, default=0

        Returns
        -------
        self
        """
        from ._core.online import partial_fit

        if not hasattr(self, "_emission_stats"):   # gmscore.BaseHMM: dict statistics
            raise TypeError(f"partial_fit needs ChainStats statistics (GaussianHMM, GMMHMM); "
                            f"{type(self).__name__} does not produce them")
        self._validate_hyperparameters()
        return partial_fit(self, lambda: self.accumulate(X, lengths),
                           lambda: self.fit(X, lengths), alpha=alpha, eta=eta,
                           burn_in=burn_in)

    def maximize(self, stats):
        """The M-step: update the parameters named in ``params`` from
        ``stats`` (ChainStats, e.g. from ``accumulate``), with the same
        priors and floors as ``fit``. Returns self; on error the model is
        left as it was."""
        check_is_fitted(self, ("startprob_", "transmat_"))
        self._validate_hyperparameters()
        if not isinstance(stats, ChainStats):
            raise TypeError(f"maximize takes ChainStats, got {type(stats).__name__}")
        if stats.n_components != self.n_components:
            raise ValueError(f"the statistics are for {stats.n_components} states, the model "
                             f"has {self.n_components}")
        stats.check_valid()
        saved = self._em_state()
        try:
            self._check()
            self._check_emission_stats(stats.emissions)
            self._do_mstep(stats)
            self._check()   # the new parameters must be usable, or nothing changes
        except BaseException:
            self._em_restore(saved)
            raise
        return self

    def _do_mstep(self, stats):
        # A Dirichlet prior below 1 can push counts negative: clip at zero.
        # Exact zeros in startprob_/transmat_ stay zero; a row with no mass
        # at all keeps its previous values instead of becoming 0/0.
        if "s" in self.params:
            sp = np.maximum(np.asarray(self.startprob_prior, dtype=float) - 1 + stats.start, 0)
            sp = np.where(self.startprob_ == 0, 0, sp)
            if sp.sum() > 0:
                self.startprob_ = sp / sp.sum()
        if "t" in self.params:
            tm = np.maximum(np.asarray(self.transmat_prior, dtype=float) - 1 + stats.trans, 0)
            tm = np.where(self.transmat_ == 0, 0, tm)
            rows = tm.sum(axis=1)
            ok = rows > 0
            new = np.array(self.transmat_, copy=True)
            new[ok] = tm[ok] / rows[ok, None]
            self.transmat_ = new
        self._do_emission_mstep(stats.emissions)

    # ------------------------------------------------------------- inference
    def _warn_degenerate(self, source):
        """hmmlearn's notice (through logging) when there are fewer rows
        than free parameters to fit."""
        try:
            counts = self._get_n_fit_scalars_per_param(source.n_features)
        except (AttributeError, TypeError, ValueError, KeyError):
            return
        n_params = sum(counts.get(letter, 0) for letter in self.params)
        if source.n_samples < n_params:
            _log.warning("Fitting a model with %d free scalar parameters with only %d data "
                         "points will result in a degenerate solution.", n_params,
                         source.n_samples)

    def _check_reads(self):
        """The hyper-parameters _check reads besides the fitted parameters,
        when its result may be reused for unchanged inputs: only where
        ``_check`` and ``_check_emissions`` are the ones ``_CHECK_READS``
        (set by the emission classes) was written for; None otherwise."""
        described = getattr(type(self), "_CHECK_READS", None)
        if described is None or type(self)._check is not BaseHMM._check or \
                type(self)._check_emissions is not described[0]:
            return None
        return ("n_components",) + described[1]

    @contextmanager
    def _checked_parameters(self):
        """Validated, kernel-ready parameters for the duration of a call
        that must not change the model (scoring, decoding, sampling): what
        _check converts is put back as the user left it afterwards."""
        names = self._fitted_param_names() + ("n_features",)
        before = {n: vars(self)[n] for n in names if n in vars(self)}
        reads = self._check_reads()
        try:
            if reads is None:
                self._check()
            else:
                # unchanged parameters need no second validation: the
                # values _check made of them last time are reused
                def check():
                    self._check()
                    return {n: vars(self)[n] for n in names if n in vars(self)}

                vars(self).update(self._derived(
                    "checked", [getattr(self, n) for n in reads] + [before.get(n) for n in names],
                    check))
            yield
        finally:
            for n in names:
                vars(self).pop(n, None)
            vars(self).update(before)
