"""Baum-Welch's convergence monitor (hmmlearn's ``ConvergenceMonitor``, with
a stricter stopping rule), the descriptor that gives every HMM its
``monitor_`` from construction, and one restart's run as the EM driver
(``_core.em.fit_em``) sees it."""
import sys
import warnings
from collections import deque

import numpy as np


class LikelihoodDecreaseWarning(UserWarning):
    """A Baum-Welch iteration lowered the log-likelihood beyond rounding."""


class ConvergenceMonitor:
    """Tracks the log-likelihood per Baum-Welch iteration.

    A model creates its ``monitor_`` at construction, as hmmlearn does; fit
    runs a copy of it (reset), so a subclass or a hand-set ``tol`` on
    ``monitor_`` is honoured, and ``tol``/``n_iter``/``verbose`` changed
    with ``set_params`` are too (unless the monitor's own were set).

    Attributes
    ----------
    history : deque of float
        Log-likelihood (of the parameters before each update) per iteration.
    iter : int
        Iterations performed.
    converged : bool
        hmmlearn's meaning: ``n_iter`` iterations were run, or the last gain
        was below ``tol`` (a drop included).
    converged_by_tol : bool
        The stricter meaning: the last gain was below ``tol`` and was not a
        drop beyond rounding (never with ``tol <= 0``: then ``n_iter``
        iterations run). Baum-Welch stops on this (a drop is reported
        with a LikelihoodDecreaseWarning, never taken as convergence); a
        monitor subclass that overrides ``converged`` (hmmlearn's documented
        extension) is stopped by its own ``converged``.
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
        """hmmlearn's: n_iter reached, or the last gain below tol."""
        return (self.iter == self.n_iter or
                (len(self.history) >= 2 and self.history[-1] - self.history[-2] < self.tol))

    @property
    def converged_by_tol(self):
        """The last gain below tol and not a drop beyond rounding (never
        with tol <= 0: that runs n_iter iterations)."""
        if len(self.history) < 2:
            return False
        delta = self.history[-1] - self.history[-2]
        return self.tol > 0 and -self._precision * max(1.0, abs(self.history[-1])) <= delta < self.tol


class _MonitorOnFirstUse:
    """``monitor_`` as hmmlearn has it, from construction: made on first
    access from the model's tol / n_iter / verbose and kept in the instance
    (a non-data descriptor, so assigning a monitor of one's own works), yet
    ``__init__`` sets no attribute besides the parameters (scikit-learn's
    rule)."""

    instance_value = True   # persistence: the instance's monitor_ is data

    def __get__(self, model, owner=None):
        if model is None:
            return self
        monitor = ConvergenceMonitor(model.tol, model.n_iter, model.verbose)
        vars(model)["monitor_"] = monitor
        return monitor


class _ChainRun:
    """One restart's Baum-Welch run, judged by its ConvergenceMonitor."""

    def __init__(self, monitor, n_features):
        self.monitor = monitor
        self.n_features = n_features

    def record(self, log_prob):
        self.monitor.report(log_prob)

    @property
    def converged(self):
        m = self.monitor
        if type(m).converged is ConvergenceMonitor.converged:
            return m.converged_by_tol      # ours: a drop is no convergence
        return m.converged                 # a user's monitor decides itself

    @property
    def score(self):
        return self.monitor.history[-1] if self.monitor.history else -np.inf
