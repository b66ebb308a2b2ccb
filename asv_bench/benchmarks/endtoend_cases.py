"""End-to-end default fits: gmscore vs scikit-learn / hmmlearn, each with
its own defaults, initialisation included, run to convergence.

    E1  G1 data (full, N=200_000, D=16, K=16), GaussianMixture defaults
    E2  G2 data (N=1_000_000, D=8, K=8), GaussianMixture covariance_type='diag'
    E3  H1 data (100 x 1000 frames, D=10, K=8), GaussianHMM n_iter=50
    N5  G1 data, GaussianMixture n_init=5

Every estimator gets ``random_state=0`` and otherwise its library's
defaults (max_iter=100 / tol=1e-3 for the mixtures, tol=1e-2 for the HMM),
so the fit time includes each library's own k-means initialisation, every
EM iteration it takes to converge and (scikit-learn) the final E-step.  Each
library initialises itself from the same seed: gmscore's k-means follows
scikit-learn's random stream, so the GMM starts can coincide (the agreement
columns show it), while hmmlearn's HMM initialisation differs from gmscore's,
so those runs may converge in different numbers of iterations to different
optima.  Both the total time and the time
per iteration are reported; the agreement columns compare the final lower
bound / log-likelihood, and the means after matching the components (the
Hungarian assignment on the distance between means).

Used by ``compare.py --endtoend`` (the report: ``asv_bench/endtoend.py``)
and ``bench_endtoend.py``.
"""
import time
from dataclasses import dataclass, field

import numpy as np
from threadpoolctl import threadpool_limits

from . import common


@dataclass(frozen=True)
class Case:
    name: str
    workload: str  # the design workload whose data is fitted
    kwargs: dict = field(default_factory=dict)  # beyond n_components, random_state
    target: float = None  # speed-up target of the issue (total fit time), if any

    def description(self, profile=None):
        w = common.get_workload(self.workload, profile)
        extra = ", ".join(f"{k}={v!r}" for k, v in self.kwargs.items()) or "defaults"
        return f"{self.workload} data ({w.description}); {extra}"


CASES = {
    "E1": Case("E1", "G1", {}, target=25.0),
    "E2": Case("E2", "G2", {"covariance_type": "diag"}, target=25.0),
    "E3": Case("E3", "H1", {"n_iter": 50}, target=50.0),
    "N5": Case("N5", "G1", {"n_init": 5}),
}


def reference(case):
    return "hmmlearn" if common.is_hmm(CASES[case].workload) else "sklearn"


def make_estimator(library, case, n_threads=None, profile=None):
    """An unfitted default estimator of ``library`` for ``case``."""
    c = CASES[case]
    w = common.get_workload(c.workload, profile)
    kwargs = dict(random_state=0, **c.kwargs)
    if library == "gmscore":
        import gmscore

        cls = gmscore.GaussianHMM if common.is_hmm(c.workload) else gmscore.GaussianMixture
        return cls(w.n_components, n_threads=n_threads, **kwargs)
    if library == "sklearn":
        from sklearn.mixture import GaussianMixture

        return GaussianMixture(w.n_components, **kwargs)
    if library == "hmmlearn":
        from hmmlearn.hmm import GaussianHMM

        return GaussianHMM(w.n_components, **kwargs)
    raise ValueError(f"unknown library {library!r}")


def fit(library, case, n_threads, blas_threads, profile=None):
    """(seconds, fitted estimator) of one default fit of ``case``."""
    c = CASES[case]
    X = common.get_data(c.workload, "float64", profile)
    lengths = common.get_lengths(c.workload, profile) if common.is_hmm(c.workload) else None
    est = make_estimator(library, case, n_threads, profile)
    with threadpool_limits(limits=blas_threads, user_api="blas"):
        t0 = time.perf_counter()
        # Convergence warnings are part of the outcome: reported as 'converged'.
        common.fit_quietly(est, X, lengths)
        return time.perf_counter() - t0, est


def outcome(est):
    """(iterations, converged, final lower bound or log-likelihood)."""
    if hasattr(est, "monitor_"):  # HMM: hmmlearn's monitor, and ours
        # monitor_.converged is also True when n_iter is reached: report
        # whether the last gain fell below tol instead.
        m = est.monitor_
        h = list(m.history)
        by_tol = len(h) >= 2 and h[-1] - h[-2] < m.tol
        return m.iter, bool(by_tol), float(h[-1])
    return int(est.n_iter_), bool(est.converged_), float(est.lower_bound_)


def matched_means_diff(a, b):
    """Max |a - b| over the means after matching the components, relative
    to max |b|."""
    from scipy.optimize import linear_sum_assignment

    cost = ((a[:, None, :] - b[None, :, :]) ** 2).sum(axis=2)
    rows, cols = linear_sum_assignment(cost)
    return float(np.max(np.abs(a[rows] - b[cols])) / np.max(np.abs(b)))
