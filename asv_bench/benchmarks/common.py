"""Shared workloads for the gmscore benchmarks (asv suite and compare.py).

Workloads of the design:

    G1  full covariances,  N=200_000,   D=16, K=16
    G2  diag covariances,  N=1_000_000, D=8,  K=8
    G3  full covariances,  N=100_000,   D=64, K=32

The data is a fixed-seed draw from a random mixture of K correlated Gaussian
clusters.  Both libraries start from the same parameters (gmscore's k-means
initialisation, computed once) and run a fixed number of EM iterations with
``tol=0``, so a fit times exactly ``n_iter`` iterations and nothing else.

The environment variable ``GMSCORE_BENCH_PROFILE`` picks the sizes:
"regular" (default) uses the sizes above, "fast" divides N by 10.
Data and starting parameters are cached per process.
"""
import os
import sys
import warnings
from dataclasses import dataclass, replace

import numpy as np

#: EM iterations per timed fit.
N_ITER = 5

PROFILE_ENV = "GMSCORE_BENCH_PROFILE"
PROFILES = {"regular": 1, "fast": 10}  # profile -> divisor of n_samples

LIBRARIES = ("gmscore", "sklearn")
DTYPES = ("float64", "float32")


@dataclass(frozen=True)
class Workload:
    name: str
    covariance_type: str
    n_samples: int
    n_features: int
    n_components: int
    seed: int

    @property
    def description(self):
        return (f"{self.covariance_type}, N={self.n_samples:_}, "
                f"D={self.n_features}, K={self.n_components}")


WORKLOADS = {
    "G1": Workload("G1", "full", 200_000, 16, 16, seed=1001),
    "G2": Workload("G2", "diag", 1_000_000, 8, 8, seed=1002),
    "G3": Workload("G3", "full", 100_000, 64, 32, seed=1003),
}

#: Speed-up targets of the design (sklearn time / gmscore float64 time).
TARGETS = {"G1": 15.0, "G2": 15.0, "G3": 8.0}


def current_profile():
    profile = os.environ.get(PROFILE_ENV, "regular").strip().lower() or "regular"
    if profile not in PROFILES:
        raise ValueError(f"{PROFILE_ENV}={profile!r}: expected one of {sorted(PROFILES)}")
    return profile


def get_workload(name, profile=None):
    """The workload ``name`` ("G1".."G3") at the sizes of ``profile``."""
    w = WORKLOADS[name]
    divisor = PROFILES[profile or current_profile()]
    return replace(w, n_samples=w.n_samples // divisor)


def make_data(w):
    """Draw ``w.n_samples`` float64 points from a fixed random mixture.

    Means are spread uniformly in a cube wide enough that the clusters are
    fairly (not perfectly) separated; each cluster has its own random
    correlated covariance.  Sampling is done cluster by cluster, so the only
    temporaries are one cluster's worth of draws.
    """
    rng = np.random.default_rng(w.seed)
    k, d, n = w.n_components, w.n_features, w.n_samples
    weights = rng.dirichlet(np.full(k, 5.0))
    means = rng.uniform(-4.0, 4.0, size=(k, d))
    labels = rng.choice(k, size=n, p=weights)
    X = np.empty((n, d))
    for j in range(k):
        a = rng.normal(size=(d, d))
        chol = np.linalg.cholesky(a @ a.T / d + 0.1 * np.eye(d))
        rows = np.flatnonzero(labels == j)
        X[rows] = rng.standard_normal((rows.size, d)) @ chol.T + means[j]
    return X


_data_cache = {}
_start_cache = {}


def get_data(name, dtype="float64", profile=None):
    """Cached data of workload ``name`` as a C-contiguous ``dtype`` array."""
    key = (name, profile or current_profile(), np.dtype(dtype).name)
    if key not in _data_cache:
        if key[2] == "float64":
            _data_cache[key] = make_data(get_workload(name, key[1]))
        else:
            _data_cache[key] = get_data(name, "float64", key[1]).astype(key[2])
    return _data_cache[key]


def get_start(name, profile=None):
    """Cached starting parameters of workload ``name`` (the same for every
    library and dtype): gmscore's default k-means initialisation, seed 0,
    computed on the float64 data."""
    profile = profile or current_profile()
    key = (name, profile)
    if key not in _start_cache:
        import gmscore

        w = get_workload(name, profile)
        init = gmscore.GaussianMixture(w.n_components, covariance_type=w.covariance_type,
                                       random_state=0, max_iter=0)
        init.fit(get_data(name, "float64", profile))
        _start_cache[key] = {"weights_init": init.weights_, "means_init": init.means_,
                             "precisions_init": init.precisions_}
    return _start_cache[key]


def make_estimator(library, name, n_threads=None, n_iter=N_ITER, profile=None, start=None):
    """An unfitted GaussianMixture of ``library`` that runs exactly ``n_iter``
    EM iterations of workload ``name`` from the shared start (or from
    ``start``, a dict like :func:`get_start` returns)."""
    w = get_workload(name, profile)
    if start is None:
        start = get_start(name, profile)
    kwargs = dict(covariance_type=w.covariance_type, max_iter=n_iter, tol=0, **start)
    if library == "gmscore":
        import gmscore

        return gmscore.GaussianMixture(w.n_components, n_threads=n_threads, **kwargs)
    if library == "sklearn":
        from sklearn.mixture import GaussianMixture

        return GaussianMixture(w.n_components, **kwargs)
    raise ValueError(f"unknown library {library!r}")


def _convergence_warnings():
    # Only from modules already loaded: silencing a warning must not import
    # a library (that would distort memory measurements).
    classes = []
    for module in ("sklearn.exceptions", "gmscore"):
        cls = getattr(sys.modules.get(module), "ConvergenceWarning", None)
        if cls is not None:
            classes.append(cls)
    return tuple(classes)


def fit_quietly(estimator, X):
    """``estimator.fit(X)`` without the expected ConvergenceWarning
    (``tol=0`` never converges)."""
    with warnings.catch_warnings():
        for cls in _convergence_warnings():
            warnings.simplefilter("ignore", cls)
        return estimator.fit(X)
