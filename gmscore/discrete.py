"""Hidden Markov models with discrete emissions, drop-ins for hmmlearn's
CategoricalHMM, PoissonHMM and MultinomialHMM (hmmlearn 0.3.x semantics)
on gmscore's compiled chain (forward-backward, Viterbi, the EM driver and
its monitor live in _hmm_base.py).

Per-frame emission log-likelihoods and the emission statistics are C
kernels (src_c/gms_discrete.c, bound by _discretec.pyx):

    categorical  log p(x_t | i) = log B[i, x_t]                (a gather)
    Poisson      sum_d x_td log lam_id - lam_id - lgamma(x_td + 1)
    multinomial  lgamma(N_t + 1) - sum_d lgamma(x_td + 1) + sum_d x_td log p_id

    statistics   nk_i = sum_t gamma_ti,  counts_i = sum_t gamma_ti x_t
                 (one-hot x_t for the categorical model)

The statistics sum the rows in fixed blocks (their number depends on the
data size only) and add the blocks in order, so results do not depend on
the thread count. The kernels check every value: a symbol outside
[0, n_features), a count that is not a whole number >= 0, or a multinomial
row whose total differs from ``n_trials`` raises a ValueError naming the row
and its sequence.
"""
import numpy as np

from . import _discretec, _hmmc
from ._core.stats import CountStats
from ._emissions import _as_float, _broadcast, _work_array
from ._hmm_base import BaseHMM, _check_distribution
from ._hmm_params import require_attributes, store_init_args
from ._validation import interval

_HMM_DOC = """
    algorithm : {'viterbi', 'map'}, default='viterbi'
        Decoder used by ``predict``/``decode``.
    random_state : int, RandomState or None
    n_iter : int, default=10
        Maximum Baum-Welch iterations.
    tol : float, default=1e-2
        Stop when the log-likelihood gain is below ``tol`` (a drop is not
        convergence; it is reported with a LikelihoodDecreaseWarning).
    verbose : bool, default=False
        Print a per-iteration table to stderr.
    implementation : {'log', 'scaling'}, default='log'
        Forward-backward variant (see GaussianHMM).
    n_init : int, default=1
        Restarts; the best final log-likelihood is kept. gmscore extra.
    n_threads : int or None, default=None
        Kernel threads; results do not depend on it. gmscore extra.
"""


def _normalized_rows(a, previous):
    """Rows of ``a`` divided by their sums; a row with no mass keeps the
    previous parameters (instead of 0/0)."""
    sums = a.sum(axis=1, keepdims=True)
    ok = sums[:, 0] > 0
    out = np.array(previous, dtype=np.float64, copy=True)
    out[ok] = a[ok] / sums[ok]
    return out


def _row_text(values):
    return "[" + ", ".join(f"{v:g}" for v in np.asarray(values, dtype=np.float64)) + "]"


def _as_kernel_input(X):
    return X if X.dtype == np.float64 else np.ascontiguousarray(X, dtype=np.float64)


class _DiscreteEmissions:
    """What the three discrete models share: the kernel calls, the error
    messages, the statistics, the sampling dtype."""

    _stats_kind = None          # the CountStats kind
    _value_rule = "whole numbers >= 0"

    def _emission_kind(self):
        # the thread and memory sizing of a K x D per-row kernel
        return "diag"

    def _better_emission_centres(self, em):
        return None             # the statistics are linear sums: no centres

    # -------------------------------------------------------- validation
    def _check_chunk_features(self, chunk):
        super()._check_chunk_features(chunk)
        # where the rows come from, for the kernels' error messages
        self._chunk_context = (chunk.index, chunk.start, chunk.offsets)

    def _where(self, row):
        index, start, offsets = vars(self).pop("_chunk_context", (0, 0, None))
        where = f"row {start + row}"
        if offsets is not None and len(offsets) > 2:
            seq = int(np.searchsorted(offsets, row, side="right")) - 1
            where += f" (sequence {seq}" + (f" of chunk {index}" if index else "") + \
                f", its row {row - int(offsets[seq])})"
        return where

    def _bad_value(self, X, row):
        return ValueError(
            f"X holds {_row_text(X[row])} at {self._where(row)}; {type(self).__name__} takes "
            f"{self._value_rule}: {self._fix_hint()}")

    def _fix_hint(self):
        return "pass non-negative integer counts"

    def _run_kernel(self, X, call):
        try:
            call()
        except (_discretec.BadValueError, _hmmc.BadSymbolError) as exc:
            raise self._bad_value(X, exc.row) from None
        except _discretec.BadTotalError as exc:
            raise self._bad_total(X, exc.row) from None
        finally:
            vars(self).pop("_chunk_context", None)

    def _check_values(self, data):
        """The rows an initialisation reads (data: see _hmm_base._InitData)
        are whole numbers >= 0; the kernels check again on every pass."""
        X = data.X
        bad = ~((X >= 0) & (X == np.floor(X)))
        if not bad.any():
            return X
        row = int(np.flatnonzero(bad.any(axis=1))[0])
        if not getattr(data, "in_memory", False):   # a sample of a streamed source
            raise ValueError(f"X holds {_row_text(X[row])} (in the rows sampled for the "
                             f"initialisation); {type(self).__name__} takes "
                             f"{self._value_rule}: {self._fix_hint()}")
        self._chunk_context = (0, 0, getattr(data, "offsets", None))
        raise self._bad_value(X, row)

    def partial_fit(self, X, lengths=None, **kwargs):
        """Not available for the discrete HMMs yet (online EM keys its
        running statistics on Gaussian means): raises TypeError. Use
        ``fit``, or ``accumulate`` over the batches and ``maximize``."""
        raise TypeError(f"partial_fit supports GaussianHMM and GMMHMM, not "
                        f"{type(self).__name__}; use fit, or sum accumulate(X_i) over the "
                        "batches and call maximize")

    # -------------------------------------------------------- statistics
    def _emission_accumulator(self, source, centres=None):
        if self._emission_letters not in self.params:
            return None
        k = self.n_components
        return np.zeros(k), np.zeros((k, self._stats_width()))

    def _emission_stats(self, acc, count):
        return None if acc is None else CountStats(self._stats_kind, *acc)

    def _check_emission_stats(self, em):
        if self._emission_letters not in self.params:
            return
        shape = (self.n_components, self._stats_width())
        if not isinstance(em, CountStats) or em.kind != self._stats_kind or \
                em.counts.shape != shape:
            raise ValueError(f"the statistics' emission part must be {self._stats_kind} "
                             f"CountStats of shape {shape} (from this model's accumulate)")

    def _accumulate_emissions(self, acc, chunk, posteriors, extra, n_threads):
        if acc is None:
            return
        X = _as_kernel_input(chunk.X)
        _discretec.weighted_sums(X, posteriors, acc[0], acc[1], n_threads)

    def _sample(self, n_samples, random_state, currstate):
        X, states = super()._sample(n_samples, random_state, currstate)
        return X.astype(np.int64), states   # hmmlearn returns integers


class CategoricalEmissions(_DiscreteEmissions):
    """State i emits symbol j with probability emissionprob_[i, j]."""

    _emission_letters = "e"
    _emission_param_names = ("emissionprob_",)
    _prior_names = BaseHMM._prior_names + ("emissionprob_prior",)
    _stats_kind = "categorical"
    _value_rule = "symbols, whole numbers in [0, n_features)"

    def _emission_constraints(self):
        return {"n_features": interval(int, 1, none_ok=True)}

    def _fix_hint(self):
        f = self.n_features
        return (f"n_features={f}: set n_features to the number of symbols or map the symbols "
                "to 0 .. n_features - 1" if f is not None else
                "map the symbols to integers 0 .. n_symbols - 1")

    def _stats_width(self):
        return int(np.shape(self.emissionprob_)[1])

    def _n_features_of_emissions(self):
        return 1

    def _check_width(self, n_features):
        if n_features is not None and n_features != 1:
            raise ValueError(
                f"X has {n_features} columns; {type(self).__name__} takes X of shape "
                "(n_samples, 1) holding one symbol per row (use X.reshape(-1, 1))")

    def _init_emissions(self, data, rs):
        self._check_width(data.n_features)
        if self.n_features is None and self._needs_init("e", "emissionprob_"):
            self.n_features = int(self._check_values(data).max()) + 1
        if self._needs_init("e", "emissionprob_"):
            b = rs.random_sample((self.n_components, self.n_features))
            self.emissionprob_ = b / b.sum(axis=1, keepdims=True)

    def _check_emissions(self, n_features=None):
        self._check_width(n_features)
        require_attributes(self, ("emissionprob_",))
        b = np.atleast_2d(_as_float(self.emissionprob_, "emissionprob_"))
        if self.n_features is None:
            self.n_features = int(b.shape[1]) if b.ndim == 2 else None
        self.emissionprob_ = _check_distribution(b, "emissionprob_",
                                                 (self.n_components, self.n_features))

    def _init(self, X, lengths=None):
        super()._init(X, lengths)
        self.n_features = int(np.shape(self.emissionprob_)[1])   # symbols, not columns

    def _frame_log_likelihood(self, X, n_threads, data=None):
        X = _as_kernel_input(X)
        with np.errstate(divide="ignore"):
            log_bt = np.ascontiguousarray(np.log(self.emissionprob_).T)
        out = _work_array(data, "framelogprob", (X.shape[0], self.n_components))
        self._run_kernel(X, lambda: _discretec.categorical_loglik(X, log_bt, out, n_threads))
        return out, None

    def _fused_forward_backward(self, chunk, posteriors, reducer, first_sequence, n_threads):
        # the symbols go to the chain kernel, which tabulates each symbol's
        # emission row once (no N x K framelogprob, no per-frame exps); only
        # for the plain E-step (the variational models change its hooks)
        plain = (type(self)._estep_log_likelihood is BaseHMM._estep_log_likelihood
                 and type(self)._estep_chain is BaseHMM._estep_chain
                 and type(self)._frame_log_likelihood is CategoricalEmissions._frame_log_likelihood)
        if not plain:
            return None
        X = _as_kernel_input(chunk.X)
        if X.ndim != 2 or X.shape[1] != 1:
            return None
        X = np.ascontiguousarray(X)
        with np.errstate(divide="ignore"):
            log_bt = np.ascontiguousarray(np.log(self.emissionprob_).T)
        out = []
        self._run_kernel(X, lambda: out.append(self._forward_backward(
            None, chunk.offsets, posteriors, None, None, n_threads, reducer, first_sequence,
            symbols=(X, log_bt))))
        return out[0]

    def _accumulate_emissions(self, acc, chunk, posteriors, extra, n_threads):
        if acc is None:
            return
        X = _as_kernel_input(chunk.X)
        self._run_kernel(X, lambda: _discretec.categorical_counts(X, posteriors, acc[0],
                                                                  acc[1], n_threads))

    def _do_emission_mstep(self, em):
        if "e" not in self.params:
            return
        k, f = em.counts.shape
        prior = _broadcast(self.emissionprob_prior, (k, f), "emissionprob_prior")
        self.emissionprob_ = _normalized_rows(np.maximum(prior - 1 + em.counts, 0),
                                              self.emissionprob_)

    def _sample_emissions(self, state, n, rs):
        cdf = np.cumsum(self.emissionprob_[state])
        symbols = np.searchsorted(cdf, rs.random_sample(n) * cdf[-1], side="right")
        return np.minimum(symbols, cdf.size - 1)[:, None]

    def _emission_fit_scalars(self, n_features=None):
        if self.n_features is None:
            raise AttributeError("n_features is not known yet")
        return {"e": self.n_components * (self.n_features - 1)}

    def _emission_n_parameters(self):
        return self.n_components * (self._stats_width() - 1)


class PoissonEmissions(_DiscreteEmissions):
    """Feature d of state i is Poisson with mean lambdas_[i, d]."""

    _emission_letters = "l"
    _emission_param_names = ("lambdas_",)
    _prior_names = BaseHMM._prior_names + ("lambdas_prior", "lambdas_weight")
    _stats_kind = "poisson"

    def _emission_constraints(self):
        return {}

    def _stats_width(self):
        return int(np.shape(self.lambdas_)[1])

    def _n_features_of_emissions(self):
        return int(np.shape(self.lambdas_)[1])

    def _init_emissions(self, data, rs):
        if self._needs_init("l", "lambdas_"):
            X = self._check_values(data)
            mean, var = X.mean(), X.var()   # hmmlearn's method of moments
            if not var > 0:
                raise ValueError("X has no variance: every count is the same, so the "
                                 "rates cannot be initialised; set lambdas_ and drop 'l' "
                                 "from init_params")
            self.lambdas_ = rs.gamma(shape=mean ** 2 / var, scale=var / mean,
                                     size=(self.n_components, data.n_features))

    def _check_emissions(self, n_features=None):
        require_attributes(self, ("lambdas_",))
        lam = np.atleast_2d(_as_float(self.lambdas_, "lambdas_"))
        d = lam.shape[1] if n_features is None else n_features
        if lam.shape != (self.n_components, d):
            raise ValueError(f"lambdas_ must have shape (n_components, n_features) = "
                             f"({self.n_components}, {d}), got {lam.shape}")
        if not np.isfinite(lam).all() or (lam < 0).any():
            raise ValueError("lambdas_ must hold finite, non-negative rates")
        self.lambdas_ = lam
        self.n_features = d

    def _frame_log_likelihood(self, X, n_threads, data=None):
        X = _as_kernel_input(X)
        with np.errstate(divide="ignore"):
            log_lam = np.log(self.lambdas_)
        offset = np.ascontiguousarray(self.lambdas_.sum(axis=1))
        out = _work_array(data, "framelogprob", (X.shape[0], self.n_components))
        self._run_kernel(X, lambda: _discretec.count_loglik(X, log_lam, offset, False, None,
                                                            out, n_threads))
        return out, None

    def _do_emission_mstep(self, em):
        if "l" not in self.params:
            return
        # hmmlearn's update (Hyvonen & Tolonen 2019, 3.2), n the total mass
        # over all states: (alpha + n y_bar) / (beta + n), y_bar = counts / nk
        k, d = em.counts.shape
        alpha = _broadcast(self.lambdas_prior, (k, d), "lambdas_prior")
        beta = _broadcast(self.lambdas_weight, (k, d), "lambdas_weight")
        n = em.nk.sum()
        seen = em.nk > 0
        y_bar = em.counts / np.where(seen, em.nk, 1.0)[:, None]
        new = (alpha + n * y_bar) / (beta + n)
        self.lambdas_ = np.where(seen[:, None], new, self.lambdas_)

    def _sample_emissions(self, state, n, rs):
        return rs.poisson(self.lambdas_[state], size=(n, self.lambdas_.shape[1]))

    def _emission_fit_scalars(self, n_features=None):
        d = n_features or self._n_features_of_emissions()
        return {"l": self.n_components * d}

    def _emission_n_parameters(self):
        return self.n_components * self._n_features_of_emissions()


class MultinomialEmissions(_DiscreteEmissions):
    """Row x_t of state i is multinomial: n_trials draws over the features
    with probabilities emissionprob_[i]."""

    _emission_letters = "e"
    _emission_param_names = ("emissionprob_",)
    _stats_kind = "multinomial"

    def _emission_constraints(self):
        return {}

    def _stats_width(self):
        return int(np.shape(self.emissionprob_)[1])

    def _n_features_of_emissions(self):
        return int(np.shape(self.emissionprob_)[1])

    def _bad_total(self, X, row):
        total = float(X[row].sum())
        expected = self._expected_totals(X.shape[0])
        return ValueError(
            f"the counts at {self._where(row)} sum to {total:g}, but n_trials is "
            f"{float(expected[row]):g}; every row must sum to its n_trials (set n_trials "
            "to None to take it from the data)")

    def _n_trials_array(self):
        if self.n_trials is None:
            return None
        try:
            nt = np.asarray(self.n_trials, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"n_trials must be an int, an array of ints or None, got "
                             f"{self.n_trials!r}") from None
        if nt.ndim > 1 or not np.isfinite(nt).all() or (nt < 0).any() or \
                (nt != np.floor(nt)).any():
            raise ValueError(f"n_trials must be a non-negative int or a 1-D array of them, "
                             f"got {self.n_trials!r}")
        return nt

    def _expected_totals(self, n_rows):
        nt = self._n_trials_array()
        if nt is None:
            return None
        if nt.ndim == 0:
            return np.full(n_rows, float(nt))
        if nt.shape[0] != n_rows:
            raise ValueError(
                f"n_trials has {nt.shape[0]} entries but X has {n_rows} rows; give one "
                "n_trials per row, a single int, or None (each row's own total)")
        return np.ascontiguousarray(nt)

    def _init_emissions(self, data, rs):
        if self.n_trials is None:   # hmmlearn: taken from the data (one int if constant)
            totals = self._check_values(data).sum(axis=1)
            self.n_trials = int(totals[0]) if (totals == totals[0]).all() else \
                totals.astype(np.int64)
        if self._needs_init("e", "emissionprob_"):
            b = rs.random_sample((self.n_components, data.n_features))
            self.emissionprob_ = b / b.sum(axis=1, keepdims=True)

    def _check_emissions(self, n_features=None):
        require_attributes(self, ("emissionprob_",))
        b = np.atleast_2d(_as_float(self.emissionprob_, "emissionprob_"))
        d = b.shape[1] if n_features is None else n_features
        self.emissionprob_ = _check_distribution(b, "emissionprob_", (self.n_components, d))
        if self.n_trials is None:
            raise ValueError("n_trials must be set (an int, one int per row, or fit the "
                             "model to take it from the data)")
        self._n_trials_array()
        self.n_features = d

    def _frame_log_likelihood(self, X, n_threads, data=None):
        X = _as_kernel_input(X)
        with np.errstate(divide="ignore"):
            log_p = np.log(self.emissionprob_)
        totals = self._expected_totals(X.shape[0])
        out = _work_array(data, "framelogprob", (X.shape[0], self.n_components))
        self._run_kernel(X, lambda: _discretec.count_loglik(X, log_p, None, True, totals, out,
                                                            n_threads))
        return out, None

    def _do_emission_mstep(self, em):
        if "e" in self.params:   # hmmlearn: no prior
            self.emissionprob_ = _normalized_rows(em.counts, self.emissionprob_)

    def _sample_emissions(self, state, n, rs):
        values = np.unique(np.asarray(self.n_trials))
        if values.size != 1:
            raise ValueError("For sampling, a single n_trials must be given")
        return rs.multinomial(int(values[0]), self.emissionprob_[state], size=n)

    def _emission_fit_scalars(self, n_features=None):
        d = n_features or self._n_features_of_emissions()
        return {"e": self.n_components * (d - 1)}

    def _emission_n_parameters(self):
        return self.n_components * (self._n_features_of_emissions() - 1)


class CategoricalHMM(CategoricalEmissions, BaseHMM):
    __doc__ = """Hidden Markov model with categorical emissions (hmmlearn's API).

    X has shape (n_samples, 1) and holds integer symbols 0 .. n_features - 1.

    Parameters
    ----------
    n_components : int, default=1
    startprob_prior, transmat_prior : float or array, default=1.0
    emissionprob_prior : float or array (n_components, n_features), default=1.0
        Dirichlet prior of the rows of ``emissionprob_``.
    n_features : int or None, default=None
        Number of symbols; None: one more than the largest symbol of the
        training data (set by fit, as in hmmlearn).
    params, init_params : str, default='ste'
        s: ``startprob_``, t: ``transmat_``, e: ``emissionprob_``.
    """ + _HMM_DOC + """
    Attributes
    ----------
    startprob_, transmat_, monitor_
    emissionprob_ : ndarray (n_components, n_features)

    Examples
    --------
    >>> import numpy as np
    >>> from gmscore import CategoricalHMM
    >>> X = np.array([[0], [0], [1], [2], [2], [2], [0], [1]])
    >>> model = CategoricalHMM(2, random_state=0).fit(X)
    >>> model.emissionprob_.shape
    (2, 3)
    """

    def __init__(self, n_components=1, startprob_prior=1.0, transmat_prior=1.0, *,
                 emissionprob_prior=1.0, n_features=None, algorithm="viterbi",
                 random_state=None, n_iter=10, tol=1e-2, verbose=False, params="ste",
                 init_params="ste", implementation="log", n_init=1, n_threads=None):
        store_init_args(self, locals())


class PoissonHMM(PoissonEmissions, BaseHMM):
    __doc__ = """Hidden Markov model with Poisson emissions (hmmlearn's API).

    Parameters
    ----------
    n_components : int, default=1
    startprob_prior, transmat_prior : float or array, default=1.0
    lambdas_prior, lambdas_weight : float or array, default=0.0
        Gamma prior of the rates; hmmlearn's update
        (lambdas_prior + n y_bar) / (lambdas_weight + n), with y_bar the
        state's weighted mean count and n the total posterior mass.
    params, init_params : str, default='stl'
        s: ``startprob_``, t: ``transmat_``, l: ``lambdas_``.
    """ + _HMM_DOC + """
    Attributes
    ----------
    startprob_, transmat_, monitor_, n_features
    lambdas_ : ndarray (n_components, n_features)
    """

    def __init__(self, n_components=1, startprob_prior=1.0, transmat_prior=1.0,
                 lambdas_prior=0.0, lambdas_weight=0.0, algorithm="viterbi",
                 random_state=None, n_iter=10, tol=1e-2, verbose=False, params="stl",
                 init_params="stl", implementation="log", n_init=1, n_threads=None):
        store_init_args(self, locals())


class MultinomialHMM(MultinomialEmissions, BaseHMM):
    __doc__ = """Hidden Markov model with multinomial emissions (hmmlearn 0.3's
    MultinomialHMM: each row holds counts over n_features outcomes summing
    to n_trials; for one symbol per row use CategoricalHMM).

    Parameters
    ----------
    n_components : int, default=1
    n_trials : int, array of int (one per row) or None, default=None
        None: set by fit from the row totals of the training data (an int
        when they are all equal), as in hmmlearn.
    startprob_prior, transmat_prior : float or array, default=1.0
    params, init_params : str, default='ste'
        s: ``startprob_``, t: ``transmat_``, e: ``emissionprob_``.
    """ + _HMM_DOC + """
    Attributes
    ----------
    startprob_, transmat_, monitor_, n_features
    emissionprob_ : ndarray (n_components, n_features)

    Notes
    -----
    Unlike hmmlearn, the row totals are checked against ``n_trials`` by every
    method (hmmlearn checks them in fit only), and no warning is logged at
    construction.
    """

    def __init__(self, n_components=1, n_trials=None, startprob_prior=1.0,
                 transmat_prior=1.0, *, algorithm="viterbi", random_state=None, n_iter=10,
                 tol=1e-2, verbose=False, params="ste", init_params="ste",
                 implementation="log", n_init=1, n_threads=None):
        store_init_args(self, locals())
