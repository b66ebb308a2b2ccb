"""``gmscore.BaseHMM``: hmmlearn's documented protocol for custom emission
models, run on gmscore's compiled chain.

A subclass written for ``hmmlearn.base.BaseHMM`` (it overrides ``_init``,
``_check``, ``_compute_log_likelihood``, ``_generate_sample_from_state``,
``_get_n_fit_scalars_per_param``, ``_initialize_sufficient_statistics``,
``_accumulate_sufficient_statistics`` and ``_do_mstep``, calling ``super()``
for the chain) works unchanged on this class. The class is an adapter over
the internal chain machinery (``gmscore._hmm_base.BaseHMM``): its emission
hooks call the hmmlearn-style methods, and the chain itself -- forward-
backward with the start and transition counts, Viterbi, state sampling --
runs in the compiled kernels of ``gmscore._hmmc`` over every sequence at
once. The EM driver (``gmscore._core.em.fit_em``) runs the loop, so a failed
fit leaves the model as it was.

Cost model, per Baum-Welch iteration over N frames in S sequences with K
states: one ``_compute_log_likelihood`` call on all of X; one compiled
forward-backward pass; S calls of ``_accumulate_sufficient_statistics``
(one per sequence, as hmmlearn makes them). hmmlearn also hands that method
the forward and backward lattices; the compiled pass does not keep them, so
they are recomputed here in numpy: a Python loop over frame positions,
each step vectorised over the sequences that long (2 T small numpy calls
per iteration, T the longest sequence; many short sequences cost little,
one long sequence about 10 us per frame). A subclass whose accumulation
does not read them sets ``_needs_lattices = False`` and gets ``None`` for
both, which skips that loop (the lattices, the in-memory sequences and the
checks of what a subclass returns live in gmscore._custom_lattices).
"""
import numbers
import string

import numpy as np

from . import _hmmc
from ._core.em import fit_em
from ._core.lengths import lengths_to_offsets
from ._core.stats import ChainStats
from ._custom_lattices import (
    _check_frame_log_likelihood,
    _check_sequences_X,
    _log_lattices,
    _scaled_lattices,
    _Sequences,
)
from ._hmm_base import BaseHMM as _ChainBase
from ._hmm_base import _log
from ._monitor import _ChainRun
from ._threads import effective_n_threads
from ._validation import check_is_fitted, check_random_state, validate_params



class BaseHMM(_ChainBase):
    """Base class for hidden Markov models with custom emissions, following
    hmmlearn's ``hmmlearn.base.BaseHMM`` subclassing protocol on gmscore's
    compiled chain.

    Subclass it exactly as hmmlearn documents: override the emission
    methods below and call ``super()`` for the chain parts (start and
    transition probabilities, their counts ``'start'`` / ``'trans'`` and
    ``'nobs'`` in the statistics dict).

    ``_init(X, lengths)``
        Initialise the emission parameters (``super()._init`` sets
        ``n_features`` and initialises ``startprob_`` / ``transmat_`` when
        ``init_params`` holds 's' / 't', with ``random_state``, as hmmlearn).
    ``_check()``
        Validate the emission parameters (``super()._check`` validates the
        chain's).
    ``_compute_log_likelihood(X)``
        Emission log-likelihoods, shape (n_samples, n_components), -inf
        allowed. Alternatively override ``_compute_likelihood(X)`` (the
        probabilities); either is derived from the other.
    ``_generate_sample_from_state(state, random_state)``
        One sample of shape (n_features,).
    ``_get_n_fit_scalars_per_param()``
        Free scalars per parameter letter, chain letters included (AIC, BIC
        and the 'degenerate solution' notice).
    ``_initialize_sufficient_statistics()``
        The statistics dict (``super()`` gives 'nobs', 'start', 'trans').
    ``_accumulate_sufficient_statistics(stats, X, lattice, posteriors, fwdlattice, bwdlattice)``
        The E-step statistics, accumulated once per sequence: ``X`` and
        ``posteriors`` are that sequence's; ``lattice`` its
        log-likelihoods (implementation='log') or likelihoods ('scaling');
        ``fwdlattice`` / ``bwdlattice`` hmmlearn's log (or scaled) forward
        and backward lattices (see ``_needs_lattices``).
    ``_do_mstep(stats)``
        The emission M-step (``super()._do_mstep`` updates the chain by
        ``params``, with the Dirichlet priors).

    hmmlearn's ``_estep_begin()``, ``_compute_lower_bound(log_prob)``,
    ``_do_estep(X, lengths)``, ``_needs_init(code, name)``,
    ``_check_and_set_n_features(X)`` and ``_check_sum_1(name)`` are there
    too.

    Parameters
    ----------
    n_components : int, default=1
        Number of states.
    startprob_prior, transmat_prior : float or array, default=1.0
        Dirichlet priors of ``startprob_`` and of the rows of ``transmat_``.
    algorithm : {'viterbi', 'map'}, default='viterbi'
        Decoder used by ``predict`` / ``decode``.
    random_state : int, RandomState or None
    n_iter : int, default=10
        Maximum Baum-Welch iterations.
    tol : float, default=1e-2
        Stop when the log-likelihood gain is below ``tol`` (a drop beyond
        rounding is not convergence: it is reported with a
        LikelihoodDecreaseWarning and the iterations go on).
    verbose : bool, default=False
        Print a per-iteration table to stderr.
    params, init_params : str, default=string.ascii_letters
        Letters of what is updated in training / initialised before it:
        's' ``startprob_``, 't' ``transmat_``, the emission letters the subclass
        reads.
    implementation : {'log', 'scaling'}, default='log'
        The compiled forward-backward as for GaussianHMM; also what
        ``lattice`` and the lattices handed to
        ``_accumulate_sufficient_statistics`` are (log or scaled).
    n_threads : int or None, default=None
        Threads of the chain kernels (over sequences). gmscore extra.

    Attributes
    ----------
    startprob_ : ndarray of shape (n_components,)
    transmat_ : ndarray of shape (n_components, n_components)
    monitor_ : ConvergenceMonitor
    n_features : int
        Set by ``super()._init`` (``_check_and_set_n_features``).

    Notes
    -----
    Differences from hmmlearn, all deliberate: the start and transition
    counts come from the compiled pass, so ``stats['start']`` and
    ``stats['trans']`` are filled after the last
    ``_accumulate_sufficient_statistics`` call of an E-step (they are zeros
    while it runs); ``_compute_log_likelihood`` is called once on all
    sequences, not once per sequence; ``sample`` draws the state path first
    (compiled) and then one ``_generate_sample_from_state`` per frame, so
    its random stream differs from hmmlearn's; a state row with no expected
    transitions keeps its previous values (hmmlearn leaves zeros); a fit
    that fails, or a ``_check`` that rejects the parameters after an
    M-step, leaves the model exactly as it was; scoring, decoding and
    sampling leave the model's attributes as they were set. ``save`` is
    for gmscore's own models: pickle a subclass.

    Examples
    --------
    A Poisson-emission HMM (state k emits independent Poisson counts with
    rates ``lambdas_[k]``); the same class body works on
    ``hmmlearn.base.BaseHMM``:

    >>> import numpy as np
    >>> from scipy.stats import poisson
    >>> import gmscore
    >>> class PoissonHMM(gmscore.BaseHMM):
    ...     def __init__(self, n_components=1, n_iter=10, tol=1e-2,
    ...                  random_state=None, params="stl", init_params="stl"):
    ...         super().__init__(n_components, n_iter=n_iter, tol=tol,
    ...                          random_state=random_state, params=params,
    ...                          init_params=init_params)
    ...     _needs_lattices = False   # the accumulation below reads no lattice
    ...     def _init(self, X, lengths=None):
    ...         super()._init(X, lengths)
    ...         if self._needs_init("l", "lambdas_"):   # spread over the data
    ...             q = np.linspace(0.1, 0.9, self.n_components)
    ...             self.lambdas_ = np.quantile(X, q, axis=0) + 0.5
    ...     def _check(self):
    ...         super()._check()
    ...         self.lambdas_ = np.asarray(self.lambdas_, dtype=float)
    ...         if self.lambdas_.shape != (self.n_components, self.n_features):
    ...             raise ValueError("lambdas_ must have shape (n_components, n_features)")
    ...     def _get_n_fit_scalars_per_param(self):
    ...         k, d = self.n_components, self.n_features
    ...         return {"s": k - 1, "t": k * (k - 1), "l": k * d}
    ...     def _compute_log_likelihood(self, X):
    ...         return np.stack([poisson.logpmf(X, lam).sum(axis=1)
    ...                          for lam in self.lambdas_], axis=1)
    ...     def _generate_sample_from_state(self, state, random_state):
    ...         return random_state.poisson(self.lambdas_[state])
    ...     def _initialize_sufficient_statistics(self):
    ...         stats = super()._initialize_sufficient_statistics()
    ...         stats["post"] = np.zeros(self.n_components)
    ...         stats["obs"] = np.zeros((self.n_components, self.n_features))
    ...         return stats
    ...     def _accumulate_sufficient_statistics(self, stats, X, lattice,
    ...                                           posteriors, fwdlattice, bwdlattice):
    ...         super()._accumulate_sufficient_statistics(
    ...             stats, X, lattice, posteriors, fwdlattice, bwdlattice)
    ...         if "l" in self.params:
    ...             stats["post"] += posteriors.sum(axis=0)
    ...             stats["obs"] += posteriors.T @ X
    ...     def _do_mstep(self, stats):
    ...         super()._do_mstep(stats)
    ...         if "l" in self.params:
    ...             self.lambdas_ = stats["obs"] / stats["post"][:, None]
    >>> rng = np.random.RandomState(1)
    >>> X = np.concatenate([rng.poisson(2, (300, 1)), rng.poisson(12, (300, 1))])
    >>> model = PoissonHMM(2, n_iter=50, random_state=0).fit(X, [150, 150, 150, 150])
    >>> np.round(np.sort(model.lambdas_.ravel()))
    array([ 2., 12.])
    >>> states = model.predict(X)
    >>> bool(states[0] != states[-1])
    True
    """

    #: Whether ``_accumulate_sufficient_statistics`` receives hmmlearn's
    #: fwdlattice / bwdlattice (computed in numpy, see the module
    #: docstring); False passes None for both and skips that cost.
    _needs_lattices = True

    _emission_letters = ""
    _emission_param_names = ()
    n_threads = None        # for subclasses whose __init__ does not pass it on

    def __init__(self, n_components=1, startprob_prior=1.0, transmat_prior=1.0,
                 algorithm="viterbi", random_state=None, n_iter=10, tol=1e-2,
                 verbose=False, params=string.ascii_letters,
                 init_params=string.ascii_letters, implementation="log", n_threads=None):
        self.n_components = n_components
        self.startprob_prior = startprob_prior
        self.transmat_prior = transmat_prior
        self.algorithm = algorithm
        self.random_state = random_state
        self.n_iter = n_iter
        self.tol = tol
        self.verbose = verbose
        self.params = params
        self.init_params = init_params
        self.implementation = implementation
        self.n_threads = n_threads

    # ------------------------------------------------------- validation
    def _validate_hyperparameters(self):
        validate_params(self, {name: check for name, check in self._base_constraints.items()
                               if name != "n_init"})
        k = self.n_components
        for name, shape in (("startprob_prior", (k,)), ("transmat_prior", (k, k))):
            value = getattr(self, name)
            try:
                arr = np.asarray(value, dtype=np.float64)
            except (TypeError, ValueError):
                raise ValueError(f"{name} must be a number or an array of numbers, got "
                                 f"{value!r}") from None
            if not np.isfinite(arr).all():
                raise ValueError(f"{name} must be finite, got {value!r}")
            try:
                np.broadcast_to(arr, shape)
            except ValueError:
                raise ValueError(f"{name} has shape {arr.shape}, which does not broadcast "
                                 f"to {shape}") from None
        for name in ("params", "init_params"):
            value = getattr(self, name)
            if not isinstance(value, str):
                raise ValueError(f"{name} must be a string of parameter letters ('s' "
                                 f"startprob_, 't' transmat_, and the emission letters of "
                                 f"{type(self).__name__}), got {value!r}")

    def _sequences(self, X, lengths):
        X = _check_sequences_X(X)
        return _Sequences(X, lengths_to_offsets(lengths, X.shape[0]),
                          effective_n_threads(self.n_threads))

    # --------------------------------------- hmmlearn's protocol: the chain
    def _check_and_set_n_features(self, X):
        """hmmlearn's: set ``n_features`` from X, or check X against it."""
        n_features = X.shape[1]
        if hasattr(self, "n_features"):
            if self.n_features != n_features:
                raise ValueError(f"Unexpected number of dimensions, got {n_features} but "
                                 f"expected {self.n_features}")
        else:
            self.n_features = n_features

    def _needs_init(self, code, name):
        """hmmlearn's: initialise ``name`` when ``init_params`` holds
        ``code`` (noticing through logging that a set value is overwritten)
        or when it is not set."""
        if code in self.init_params:
            if hasattr(self, name):
                _log.warning(
                    "Even though the %r attribute is set, it will be overwritten during "
                    "initialization because 'init_params' contains %r", name, code)
            return True
        return not hasattr(self, name)

    def _check_sum_1(self, name):
        """hmmlearn's: raise ValueError unless ``name`` sums to 1 along its
        last axis."""
        s = np.asarray(getattr(self, name)).sum(axis=-1)
        if not np.allclose(s, 1):
            raise ValueError(f"{name} must sum to 1 (got {s})" if s.ndim == 0
                             else f"{name} rows must sum to 1 (got row sums of {s})")

    def _init(self, X, lengths=None):
        """Chain part of hmmlearn's initialisation: ``n_features`` from X,
        ``startprob_`` / ``transmat_`` drawn from a flat Dirichlet with
        ``random_state`` where ``init_params`` asks for them, and the
        'degenerate solution' notice."""
        self._check_and_set_n_features(X)
        k = self.n_components
        rs = check_random_state(self.random_state)
        if self._needs_init("s", "startprob_"):
            self.startprob_ = rs.dirichlet(np.full(k, 1.0 / k))
        if self._needs_init("t", "transmat_"):
            self.transmat_ = rs.dirichlet(np.full(k, 1.0 / k), size=k)
        counts = self._get_n_fit_scalars_per_param()
        if counts is not None:
            n_scalars = sum(counts.get(letter, 0) for letter in self.params)
            if np.size(X) < n_scalars:
                _log.warning("Fitting a model with %d free scalar parameters with only %d "
                             "data points will result in a degenerate solution.",
                             n_scalars, np.size(X))

    def _check(self, n_features=None):
        """Chain part of hmmlearn's ``_check``: ``startprob_`` and
        ``transmat_`` are probability vectors of the right shapes."""
        if not hasattr(self, "startprob_") or not hasattr(self, "transmat_"):
            raise ValueError("startprob_ and transmat_ must be set (fit the model or "
                             "assign them)")
        # the base also checks the emissions: here the subclass's _check does
        _ChainBase._check(self, n_features)

    def _check_emissions(self, n_features=None):
        pass

    def _get_n_fit_scalars_per_param(self):
        """Free scalars of the chain; a subclass returns its emission
        letters too (with 's' and 't', as hmmlearn's do)."""
        k = self.n_components
        return {"s": k - 1, "t": k * (k - 1)}

    def _compute_log_likelihood(self, X):
        """Emission log-likelihoods, shape (n_samples, n_components): the
        subclass's, or the log of its ``_compute_likelihood``."""
        if type(self)._compute_likelihood is BaseHMM._compute_likelihood:
            raise NotImplementedError(f"{type(self).__name__} must override "
                                      "_compute_log_likelihood (or _compute_likelihood)")
        with np.errstate(divide="ignore"):
            return np.log(self._compute_likelihood(X))

    def _compute_likelihood(self, X):
        """Emission likelihoods: the exp of ``_compute_log_likelihood``."""
        if type(self)._compute_log_likelihood is BaseHMM._compute_log_likelihood:
            raise NotImplementedError(f"{type(self).__name__} must override "
                                      "_compute_log_likelihood (or _compute_likelihood)")
        with np.errstate(under="ignore"):
            return np.exp(self._compute_log_likelihood(X))

    def _generate_sample_from_state(self, state, random_state):
        return ()

    def _initialize_sufficient_statistics(self):
        """hmmlearn's chain entries: 'nobs' (sequences), 'start' (K,) and
        'trans' (K, K) expected counts."""
        k = self.n_components
        return {"nobs": 0, "start": np.zeros(k), "trans": np.zeros((k, k))}

    def _accumulate_sufficient_statistics(self, stats, X, lattice, posteriors, fwdlattice,
                                          bwdlattice):
        """Counts one sequence in ``stats['nobs']``; its start and
        transition counts are added by the compiled pass (see Notes)."""
        stats["nobs"] += 1

    def _estep_begin(self):
        pass

    def _compute_lower_bound(self, curr_logprob):
        return curr_logprob

    def _do_mstep(self, stats):
        """Chain M-step from ``stats['start']`` / ``stats['trans']``, by
        ``params``, with the Dirichlet priors (hmmlearn's update; a row
        without mass keeps its values)."""
        chain = ChainStats(stats["start"], stats["trans"], [0.0])
        _ChainBase._do_mstep(self, chain)

    def _do_emission_mstep(self, em):
        pass

    # ------------------------------------------------------ the E-step
    def _do_estep(self, X, lengths):
        """hmmlearn's: (statistics dict, log-likelihood) of X under the
        current parameters."""
        return self._estep_sequences(self._sequences(X, lengths))

    def _frame_log_likelihood(self, X, n_threads=1, data=None):
        return _check_frame_log_likelihood(self._compute_log_likelihood(X), X.shape[0],
                                           self.n_components), None

    def _lattices(self, lattice, offsets):
        if not self._needs_lattices:
            return None, None
        make = _log_lattices if self.implementation == "log" else _scaled_lattices
        return make(lattice, offsets, self.startprob_, self.transmat_)

    def _estep_sequences(self, data):
        k = self.n_components
        X, offsets = data.X, data.offsets
        flp, _ = self._frame_log_likelihood(X, data.n_threads)
        posteriors = np.empty((X.shape[0], k))
        start, trans = np.zeros(k), np.zeros((k, k))
        seq_ll = self._forward_backward(flp, offsets, posteriors, start, trans,
                                        data.n_threads)
        if self.implementation == "log":
            lattice = flp
        else:
            with np.errstate(under="ignore"):
                lattice = np.exp(flp)
        stats = self._initialize_sufficient_statistics()
        self._estep_begin()
        fwd, bwd = self._lattices(lattice, offsets)
        for a, b in zip(offsets[:-1].tolist(), offsets[1:].tolist()):
            self._accumulate_sufficient_statistics(
                stats, X[a:b], lattice[a:b], posteriors[a:b],
                None if fwd is None else fwd[a:b], None if bwd is None else bwd[a:b])
        # hmmlearn counts starts and transitions of the parameters it updates
        if "s" in self.params:
            stats["start"] = stats["start"] + start
        if "t" in self.params:
            stats["trans"] = stats["trans"] + trans
        return stats, float(seq_ll.sum())

    # ------------------------------------------------------------ fitting
    def fit(self, X, lengths=None):
        """Estimate the parameters with Baum-Welch: ``_init(X, lengths)``,
        ``_check()``, then up to ``n_iter`` iterations of E-step
        (``_accumulate_sufficient_statistics`` per sequence) and
        ``_do_mstep``. On any error the model is left as it was.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            All sequences, concatenated (integer dtypes are kept).
        lengths : array-like of int, shape (n_sequences,), optional
            Lengths of the sequences in X (default: one sequence).

        Returns
        -------
        self
        """
        self._validate_hyperparameters()
        data = self._sequences(X, lengths)
        fit_em(self, data, 1, self.n_iter, None)
        return self

    def _em_state(self):
        # everything, and the contents of every array (a subclass's M-step
        # may write into its arrays) and of a RandomState random_state
        state = dict(vars(self))
        arrays = {name: (value, value.copy()) for name, value in state.items()
                  if isinstance(value, np.ndarray)}
        rs = self.random_state
        rs_state = rs.get_state() if isinstance(rs, np.random.RandomState) else None
        return state, arrays, rs, rs_state

    def _em_restore(self, saved):
        state, arrays, rs, rs_state = saved
        vars(self).clear()
        vars(self).update(state)
        for original, copy in arrays.values():
            if original.flags.writeable:   # put back what was written into it
                np.copyto(original, copy)
        if rs_state is not None:
            rs.set_state(rs_state)

    def _em_start(self, data, random_state, index):
        self._init(data.X, data.lengths)
        self._check()
        return _ChainRun(self._fresh_monitor(np.dtype(np.float64)), data.X.shape[1])

    def _em_iterate(self, data, run):
        stats, log_prob = self._estep_sequences(data)
        lower_bound = self._compute_lower_bound(log_prob)
        self._do_mstep(stats)
        try:   # a fit returns parameters its own methods accept, or raises
            self._check()
        except ValueError as exc:
            raise ValueError(
                f"Baum-Welch iteration {run.monitor.iter + 1} produced parameters that "
                f"{type(self).__name__}._check rejects ({exc})") from None
        return lower_bound

    def _em_params(self):
        return None   # one run: the fitted parameters are the model's own

    def _em_adopt(self, params, run):
        self.monitor_ = run.monitor
        self.n_features_in_ = run.n_features

    # ------------------------------------------------ statistics interface
    def accumulate(self, X, lengths=None):
        """The E-step as a value: hmmlearn's statistics dict of X under the
        current parameters (``_initialize_sufficient_statistics`` filled by
        ``_accumulate_sufficient_statistics``, with the chain counts).
        ``maximize`` turns it into parameters."""
        check_is_fitted(self, ("startprob_", "transmat_"))
        self._validate_hyperparameters()
        data = self._sequences(X, lengths)
        with self._checked_parameters():
            return self._estep_sequences(data)[0]

    def maximize(self, stats):
        """The M-step ``_do_mstep(stats)`` on a statistics dict (e.g. from
        ``accumulate``). Returns self; on error the model is left as it was."""
        check_is_fitted(self, ("startprob_", "transmat_"))
        self._validate_hyperparameters()
        if not isinstance(stats, dict):
            raise TypeError(f"maximize takes the statistics dict of accumulate, got "
                            f"{type(stats).__name__}")
        k = self.n_components
        for name, shape in (("start", (k,)), ("trans", (k, k))):
            arr = np.asarray(stats.get(name, np.zeros(shape)), dtype=np.float64)
            if arr.shape != shape or not np.isfinite(arr).all() or (arr < 0).any():
                raise ValueError(f"stats[{name!r}] must hold finite, non-negative counts of "
                                 f"shape {shape}")
        saved = self._em_state()
        try:
            self._check()
            self._do_mstep(stats)
            self._check()
        except BaseException:
            self._em_restore(saved)
            raise
        return self

    # ------------------------------------------------------------- inference
    def _checked_parameters(self):
        return _Untouched(self)

    def _validated_source(self, X, lengths, check_finite=True):
        # (a subclass's emissions do not promise to reveal NaN: X is always
        # checked, whatever check_finite says)
        check_is_fitted(self, ("startprob_", "transmat_"))
        return self._sequences(X, lengths)

    def _check_chunk_features(self, chunk):
        pass   # what X must look like is the subclass's business, as in hmmlearn

    def _n_parameters(self):
        return sum(self._get_n_fit_scalars_per_param().values())

    def aic(self, X, lengths=None):
        """Akaike information criterion: -2 log L + 2 n, with n the sum of
        ``_get_n_fit_scalars_per_param()``."""
        return super().aic(X, lengths)

    def bic(self, X, lengths=None):
        """Bayesian information criterion: -2 log L + n log(n_samples), with
        n the sum of ``_get_n_fit_scalars_per_param()``."""
        return super().bic(X, lengths)

    def _sample(self, n_samples, random_state, currstate):
        if isinstance(n_samples, bool) or not isinstance(n_samples, numbers.Integral) \
                or n_samples < 1:
            raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}")
        k = self.n_components
        if currstate is not None and not (isinstance(currstate, numbers.Integral)
                                          and not isinstance(currstate, bool)
                                          and 0 <= currstate < k):
            raise ValueError(f"currstate must be a state index in [0, {k}), got {currstate!r}")
        rs = check_random_state(self.random_state if random_state is None else random_state)
        uniforms = rs.random_sample(int(n_samples))
        states = np.empty(int(n_samples), dtype=np.int64)
        _hmmc.sample_states(np.cumsum(self.startprob_), np.cumsum(self.transmat_, axis=1),
                            uniforms, -1 if currstate is None else int(currstate), states)
        X = [self._generate_sample_from_state(int(s), random_state=rs) for s in states]
        return np.atleast_2d(X), states.astype(int)


class _Untouched:
    """Scoring, decoding and sampling run the subclass's ``_check`` (which
    may convert or set attributes) and leave every attribute as it was."""

    def __init__(self, model):
        self.model = model

    def __enter__(self):
        self.before = dict(vars(self.model))
        self.model._check()
        return self

    def __exit__(self, *exc):
        vars(self.model).clear()
        vars(self.model).update(self.before)
        return False
